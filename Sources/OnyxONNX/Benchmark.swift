import Foundation
import OnyxTensor
import OnyxEngine
import OnyxKernels

/// Latency benchmark in the spirit of onnxruntime_perf_test / trtexec (`onyx bench`).
public struct BenchmarkConfig: Sendable {
    public var threads: Int = ThreadPool.availableCores
    public var level: OptimizationLevel = .all
    /// Values for symbolic dimensions (default 1).
    public var dims: [String: Int] = [:]
    /// Explicit inputs; the rest are random.
    public var inputs: [String: Tensor] = [:]
    public var warmup: Int = 5
    public var iterations: Int? = nil
    public var duration: Double? = nil
    /// Range for random integer inputs (token ids, indices).
    public var intRange: ClosedRange<Int64> = 0...9
    public var seed: UInt64 = 1
    /// The session's memory planner (weights held once, intermediate buffers reused).
    public var memoryPlanner = true
    public init() {}
}

public struct BenchmarkResult: Sendable {
    public var loadMs: Double
    public var firstRunMs: Double
    public var latenciesMs: [Double]
    public var peakRSSMB: Double
    public var threads: Int
    /// Constant tensors the compiled graph holds, plus weights held packed by kernels (MiB).
    public var weightsMB: Double = 0
    /// The packed part of `weightsMB` (MiB).
    public var packedWeightsMB: Double = 0
    /// The most memory held by live intermediate tensors at once (buffer pool blocks, MiB); nil without the planner.
    public var peakIntermediateMB: Double? = nil
    /// Buffer pool blocks allocated fresh / reused per timed run; nil without the planner.
    public var freshAllocationsPerRun: Double? = nil
    public var reusedAllocationsPerRun: Double? = nil

    public func percentile(_ p: Double) -> Double {
        let s = latenciesMs.sorted()
        guard !s.isEmpty else { return .nan }
        let idx = Swift.min(s.count - 1, Swift.max(0, Int((p / 100 * Double(s.count - 1)).rounded())))
        return s[idx]
    }
    public var mean: Double { latenciesMs.isEmpty ? .nan : latenciesMs.reduce(0, +) / Double(latenciesMs.count) }
    public var min: Double { latenciesMs.min() ?? .nan }
    public var throughput: Double { mean > 0 ? 1000 / mean : 0 }

    /// The `--json` object: load_ms, first_run_ms, latency_ms{min,mean,p50,p90,p99}, throughput_per_s, peak_rss_mb, threads,
    /// iterations; memory planner: weights_mb, packed_weights_mb, peak_intermediate_mb, fresh_allocs_per_run,
    /// reused_allocs_per_run (null without the planner).
    public var json: String {
        func f(_ v: Double) -> String { v.isFinite ? String(format: "%.4f", v) : "null" }
        func f(_ v: Double?) -> String { v.map { f($0) } ?? "null" }
        return "{\"load_ms\": \(f(loadMs)), \"first_run_ms\": \(f(firstRunMs)), \"latency_ms\": {\"min\": \(f(min)), "
            + "\"mean\": \(f(mean)), \"p50\": \(f(percentile(50))), \"p90\": \(f(percentile(90))), \"p99\": \(f(percentile(99)))}, "
            + "\"throughput_per_s\": \(f(throughput)), \"peak_rss_mb\": \(f(peakRSSMB)), \"threads\": \(threads), "
            + "\"iterations\": \(latenciesMs.count), \"weights_mb\": \(f(weightsMB)), \"packed_weights_mb\": \(f(packedWeightsMB)), "
            + "\"peak_intermediate_mb\": \(f(peakIntermediateMB)), \"fresh_allocs_per_run\": \(f(freshAllocationsPerRun)), "
            + "\"reused_allocs_per_run\": \(f(reusedAllocationsPerRun))}"
    }
}

public enum Benchmark {
    /// Peak resident set size of this process in MiB.
    public static func peakRSSMB() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_maxrss) / 1024
    }

    /// A random tensor for a declared input (symbolic dims from `dims`, default 1).
    public static func randomInput(_ info: ValueInfo, dims: [String: Int], intRange: ClosedRange<Int64>,
                                   rng: inout SeededGenerator) throws -> Tensor {
        guard case .tensor(let dt, let shapeDims) = info.type else {
            throw OnyxError.invalidInput("input '\(info.name)' has type \(info.type); give it with --input")
        }
        let shape = (shapeDims ?? []).map { d -> Int in
            switch d {
            case .fixed(let n): return n
            case .symbolic(let s): return dims[s] ?? 1
            case .unknown: return 1
            }
        }
        let n = Tensor.count(shape)
        switch dt {
        case .float32: return Tensor(shape: shape, checkedValues: (0..<n).map { _ in Float.random(in: -1...1, using: &rng) })
        case .float64: return Tensor(shape: shape, checkedValues: (0..<n).map { _ in Double.random(in: -1...1, using: &rng) })
        case .float16: return Tensor(shape: shape, checkedValues: (0..<n).map { _ in Float16(Float.random(in: -1...1, using: &rng)) })
        case .int64: return Tensor(shape: shape, checkedValues: (0..<n).map { _ in Int64.random(in: intRange, using: &rng) })
        case .int32: return Tensor(shape: shape, checkedValues: (0..<n).map { _ in Int32(truncatingIfNeeded: Int64.random(in: intRange, using: &rng)) })
        case .bool: return Tensor(shape: shape, checkedValues: (0..<n).map { _ in Bool.random(using: &rng) })
        case .uint8: return Tensor(shape: shape, checkedValues: (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) })
        case .int8: return Tensor(shape: shape, checkedValues: (0..<n).map { _ in Int8.random(in: -128...127, using: &rng) })
        default: throw OnyxError.invalidInput("input '\(info.name)': random \(dt) inputs are not supported; give it with --input")
        }
    }

    /// Loads, warms up and times a model. `progress(done, total)` is called during timing.
    public static func run(modelPath: String, config: BenchmarkConfig,
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> BenchmarkResult {
        let t0 = Date()
        // The model goes straight into the session, which frees packed weights' raw tensors while compiling.
        let session = try InferenceSession(model: ONNXModel.load(path: modelPath),
                                           options: SessionOptions(threads: config.threads, optimizationLevel: config.level,
                                                                   memoryPlanner: config.memoryPlanner))
        let loadMs = Date().timeIntervalSince(t0) * 1000
        var rng = SeededGenerator(seed: config.seed)
        var feeds = config.inputs
        for i in session.inputs where feeds[i.name] == nil {
            feeds[i.name] = try randomInput(i, dims: config.dims, intRange: config.intRange, rng: &rng)
        }
        let t1 = Date()
        _ = try session.runOrdered(feeds)
        let firstMs = Date().timeIntervalSince(t1) * 1000
        for _ in 0..<max(0, config.warmup) { _ = try session.runOrdered(feeds) }
        session.buffers?.resetCounters()
        var lat: [Double] = []
        let total = config.iterations ?? (config.duration == nil ? 100 : Int.max)
        let deadline = config.duration.map { Date().addingTimeInterval($0) }
        var i = 0
        while i < total {
            if let d = deadline, Date() >= d { break }
            let s = DispatchTime.now().uptimeNanoseconds
            _ = try session.runOrdered(feeds)
            lat.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6)
            i += 1
            progress(i, config.iterations ?? 0)
        }
        var result = BenchmarkResult(loadMs: loadMs, firstRunMs: firstMs, latenciesMs: lat, peakRSSMB: peakRSSMB(), threads: config.threads)
        let mib = 1024.0 * 1024.0
        result.weightsMB = Double(session.constantBytes + session.packedBytes) / mib
        result.packedWeightsMB = Double(session.packedBytes) / mib
        if let stats = session.buffers?.statistics {
            result.peakIntermediateMB = Double(stats.peakLiveBytes) / mib
            let runs = Double(Swift.max(1, lat.count))
            result.freshAllocationsPerRun = Double(stats.freshAllocations) / runs
            result.reusedAllocationsPerRun = Double(stats.reusedAllocations) / runs
        }
        return result
    }
}

/// Reproducible benchmark inputs.
public typealias SeededGenerator = SplitMix64
