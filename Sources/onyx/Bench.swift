import ArgumentParser
import Foundation
import Onyx

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure load time, latency percentiles, throughput and peak memory of a model.",
        discussion: """
        Example: onyx bench Examples/models/digits_mlp/1/model.onnx --threads 2 --dim batch=1 --iterations 1000 --json
        Inputs not given with --input are random, of the declared dtype and shape.
        """)

    @Argument(help: "The .onnx model file.") var model: String
    @Option(help: "Intra-op threads.") var threads: Int = ThreadPool.availableCores
    @Option(name: .customLong("dim"), help: "NAME=VALUE for a symbolic dimension (default 1); repeatable.") var dims: [String] = []
    @Option(name: .customLong("input"), help: "NAME=FILE (.npy or .pb); repeatable.") var inputs: [String] = []
    @Option(help: "Untimed runs before measuring.") var warmup: Int = 5
    @Option(help: "Timed runs (default 100 unless --duration).") var iterations: Int?
    @Option(help: "Time budget in seconds instead of a run count.") var duration: Double?
    @Option(help: "Optimization level: none, basic, extended, all.") var level: String = "all"
    @Option(name: .customLong("int-range"), help: "LO:HI for random integer inputs (e.g. token ids).") var intRange: String = "0:9"
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(name: .customLong("no-planner"), help: "Turn the memory planner off (raw weights kept, no buffer reuse).") var noPlanner = false

    func run() throws {
        var cfg = BenchmarkConfig()
        cfg.threads = threads
        guard let lvl = OptimizationLevel(rawValue: level) else { fail("--level must be none, basic, extended or all") }
        cfg.level = lvl
        for d in dims {
            let parts = d.split(separator: "=")
            guard parts.count == 2, let v = Int(parts[1]), v >= 0 else { fail("--dim must be NAME=VALUE, got '\(d)'") }
            cfg.dims[String(parts[0])] = v
        }
        for spec in inputs {
            guard let eq = spec.firstIndex(of: "=") else { fail("--input must be NAME=FILE, got '\(spec)'") }
            cfg.inputs[String(spec[..<eq])] = guarded { try readTensor(String(spec[spec.index(after: eq)...])) }
        }
        let r = intRange.split(separator: ":")
        guard r.count == 2, let lo = Int64(r[0]), let hi = Int64(r[1]), lo <= hi else { fail("--int-range must be LO:HI") }
        cfg.intRange = lo...hi
        cfg.warmup = warmup
        cfg.iterations = iterations
        cfg.duration = duration
        cfg.memoryPlanner = !noPlanner
        let bar = Progress(total: iterations ?? 0, label: "bench")
        let res = guarded {
            try Benchmark.run(modelPath: model, config: cfg) { done, total in if total > 0 && !json { bar.update(done) } }
        }
        bar.finish()
        if json { print(res.json); return }
        print(String(format: "load:        %.2f ms", res.loadMs))
        print(String(format: "first run:   %.3f ms", res.firstRunMs))
        print(String(format: "latency:     min %.3f  mean %.3f  p50 %.3f  p90 %.3f  p99 %.3f ms",
                     res.min, res.mean, res.percentile(50), res.percentile(90), res.percentile(99)))
        print(String(format: "throughput:  %.1f inferences/s (%d runs, %d threads)", res.throughput, res.latenciesMs.count, res.threads))
        print(String(format: "peak RSS:    %.1f MiB", res.peakRSSMB))
        print(String(format: "weights:     %.1f MiB (%.1f MiB packed)", res.weightsMB, res.packedWeightsMB))
        if let peak = res.peakIntermediateMB, let fresh = res.freshAllocationsPerRun, let reused = res.reusedAllocationsPerRun {
            print(String(format: "buffers:     peak live intermediates %.1f MiB; per run %.1f reused, %.1f fresh", peak, reused, fresh))
        }
    }
}
