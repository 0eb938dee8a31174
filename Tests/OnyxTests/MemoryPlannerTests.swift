import Foundation
import Testing
@testable import Onyx
@testable import OnyxEngine

/// The memory planner (weights held once, intermediate buffers reused by liveness): outputs must be identical
/// with it on and off, and equal to the ONNX test data; buffers must actually be reused.
@Suite struct MemoryPlannerTests {
    static let onnxTests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".onnx-tests")
    static var haveLight: Bool { FileManager.default.fileExists(atPath: onnxTests.appendingPathComponent("light/test_squeezenet/model.onnx").path) }
    static var haveNode: Bool { FileManager.default.fileExists(atPath: onnxTests.appendingPathComponent("node").path) }

    /// Feeds and expected outputs of an ONNX test directory's first data set, by graph order.
    func testData(_ dir: URL, _ session: InferenceSession) throws -> (feeds: [String: Value], expected: [Value]) {
        let sd = dir.appendingPathComponent("test_data_set_0")
        let files = try FileManager.default.contentsOfDirectory(atPath: sd.path)
        var feeds: [String: Value] = [:]
        let nIn = files.filter { $0.hasPrefix("input_") }.count
        let declared = nIn > session.inputs.count ? session.model.graph.inputs : session.inputs
        for k in 0..<min(nIn, declared.count) {
            feeds[declared[k].name] = try ValueFiles.read(sd.appendingPathComponent("input_\(k).pb"), type: declared[k].type)
        }
        var expected: [Value] = []
        for k in 0..<files.filter({ $0.hasPrefix("output_") }).count where k < session.outputs.count {
            expected.append(try ValueFiles.read(sd.appendingPathComponent("output_\(k).pb"), type: session.outputs[k].type))
        }
        return (feeds, expected)
    }

    func session(_ dir: URL, planner: Bool, level: OptimizationLevel = .all) throws -> InferenceSession {
        try InferenceSession(model: ONNXModel.load(path: dir.appendingPathComponent("model.onnx").path),
                             options: SessionOptions(threads: 2, optimizationLevel: level, memoryPlanner: planner))
    }

    func bitwiseEqual(_ a: Value, _ b: Value) -> Bool {
        guard let x = a.tensor, let y = b.tensor, x.dtype == y.dtype, x.shape == y.shape else { return false }
        if x.dtype == .string { return x.strings == y.strings }
        return memcmp(x.rawPointer, y.rawPointer, x.byteCount) == 0
    }

    @Test(.enabled(if: haveLight), arguments: ["test_squeezenet", "test_shufflenet"])
    func realModelsIdenticalWithPlannerOnAndOff(name: String) throws {
        let dir = Self.onnxTests.appendingPathComponent("light").appendingPathComponent(name)
        let off = try session(dir, planner: false), on = try session(dir, planner: true)
        let (feeds, expected) = try testData(dir, off)
        let ref = try off.compiled.run(inputs: try off.bind(feeds), context: off.runContext)
        // Several runs: the later ones take their buffers from the pool the earlier ones filled.
        for _ in 0..<3 {
            let got = try on.compiled.run(inputs: try on.bind(feeds), context: on.runContext)
            #expect(got.count == ref.count)
            for (g, r) in zip(got, ref) { #expect(bitwiseEqual(g, r)) }
        }
        let runner = ConformanceRunner()
        for (g, e) in zip(ref, expected) { #expect(runner.compare(g, e) == nil) }
    }

    @Test(.enabled(if: haveLight))
    func packedWeightsAreHeldOnce() throws {
        let dir = Self.onnxTests.appendingPathComponent("light/test_squeezenet")
        let off = try session(dir, planner: false), on = try session(dir, planner: true)
        #expect(on.packedBytes > 0)
        #expect(on.packedBytes == off.packedBytes)
        // Off: every raw weight is kept beside its packed copy. On: only what no kernel packed.
        #expect(on.constantBytes * 10 < off.constantBytes)
        #expect(on.model.graph.initializers.isEmpty)
        #expect(!off.model.graph.initializers.isEmpty)
    }

    @Test(.enabled(if: haveLight))
    func secondRunReusesBuffers() throws {
        let dir = Self.onnxTests.appendingPathComponent("light/test_squeezenet")
        let on = try session(dir, planner: true)
        let (feeds, _) = try testData(dir, on)
        let pool = try #require(on.buffers)
        _ = try on.runValues(feeds)
        let first = pool.statistics
        #expect(first.freshAllocations > 0)
        pool.resetCounters()
        _ = try on.runValues(feeds)
        let second = pool.statistics
        #expect(second.freshAllocations * 10 < on.compiled.nodeCount)
        #expect(second.reusedAllocations > on.compiled.nodeCount / 2)
    }

    /// Node tests (Reshape, Flatten, Squeeze… make views that share storage) run through a pool that takes
    /// every allocation, three times each, must match the ONNX expected outputs every time.
    @Test(.enabled(if: haveNode))
    func nodeTestsWithEveryAllocationPooled() throws {
        let filter = ProcessInfo.processInfo.environment["ONYX_PLANNER_TEST_FILTER"]
            ?? "^test_(reshape|flatten|squeeze|unsqueeze|identity|expand|split|concat|transpose|slice|gather_|matmul|gemm|conv_|add|relu|loop|if|scan)"
        let regex = try Regex(filter)
        let passing = Set(try String(contentsOf: Self.onnxTests.deletingLastPathComponent().appendingPathComponent("conformance/passing.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init))
        let dirs = ConformanceRunner.discover(Self.onnxTests.appendingPathComponent("node"))
            .filter { passing.contains($0.lastPathComponent) && $0.lastPathComponent.contains(regex) }
        #expect(dirs.count > 20)
        let runner = ConformanceRunner()
        for level in [OptimizationLevel.all, .none] {
            for dir in dirs {
                let s = try session(dir, planner: true, level: level)
                guard s.inputs.allSatisfy({ ValueFiles.isSupported($0.type) }) else { continue }
                let (feeds, expected) = try testData(dir, s)
                let pool = BufferPool(minimumBytes: 1)
                let ctx = RunContext(threads: 2, pool: .shared, buffers: pool)
                for _ in 0..<3 {
                    let got = try s.compiled.run(inputs: try s.bind(feeds), context: ctx)
                    for (g, e) in zip(got, expected) {
                        let why = runner.compare(g, e)
                        #expect(why == nil, "\(dir.lastPathComponent) (\(level)): \(why ?? "")")
                    }
                }
            }
        }
    }

    @Test func concurrentRunsShareOnePool() async throws {
        let s = try InferenceSession(model: try ONNXModel.load(path: Fixtures.path("core/mlp.onnx")))
        let x = try NPY.read(Fixtures.url("core/mlp_input.npy"))
        let expected = try NPY.read(Fixtures.url("core/mlp_output.npy"))
        let pool = BufferPool(minimumBytes: 1)
        let ctx = RunContext(threads: 1, pool: .shared, buffers: pool)
        let inputs = try s.bind(["x": .tensor(x)])
        let worst = try await withThrowingTaskGroup(of: Double.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var worst = 0.0
                    for _ in 0..<20 {
                        guard let got = try s.compiled.run(inputs: inputs, context: ctx).first?.tensor else { return .infinity }
                        worst = max(worst, maxAbsDiff(got, expected))
                    }
                    return worst
                }
            }
            var all = 0.0
            for try await d in group { all = max(all, d) }
            return all
        }
        #expect(worst < 1e-5)
        #expect(pool.statistics.reusedAllocations > 0)
        #expect(pool.statistics.liveBytes == 0)
    }

    @Test func zeroedAllocationsFromThePoolAreZero() throws {
        let pool = BufferPool(minimumBytes: 1)
        pool.withCurrent {
            let t = Tensor.uninitialized(.float32, shape: [4096])
            let p = t.mutablePointer(Float.self)
            for i in 0..<4096 { p[i] = 7 }
        }
        #expect(pool.statistics.cachedBytes >= 4096 * 4)
        let z = pool.withCurrent { Tensor(zeros: .float32, shape: [4096]) }
        #expect(pool.statistics.reusedAllocations == 1)
        #expect(try z.toArray(Float.self).allSatisfy { $0 == 0 })
    }
}
