import Foundation
import Testing
@testable import Onyx

@Suite struct SessionTests {
    func mlp(_ level: OptimizationLevel = .all) throws -> InferenceSession {
        try InferenceSession(model: try ONNXModel.load(path: Fixtures.path("core/mlp.onnx")),
                             options: SessionOptions(optimizationLevel: level))
    }

    @Test func metadataKeepsSymbolicDims() throws {
        let s = try mlp()
        #expect(s.inputs.map(\.name) == ["x"])
        #expect(s.inputs[0].type.tensorShape == [.symbolic("batch"), .fixed(8)])
        #expect(s.outputs.map(\.name) == ["probs"])
    }

    @Test(arguments: OptimizationLevel.allCases)
    func matchesOnnxRuntime(level: OptimizationLevel) throws {
        let s = try mlp(level)
        let x = try NPY.read(Fixtures.url("core/mlp_input.npy"))
        let expected = try NPY.read(Fixtures.url("core/mlp_output.npy"))
        let out = try s.run(["x": x])
        let got = try #require(out["probs"])
        #expect(maxAbsDiff(got, expected) < 1e-5)
    }

    @Test func externalDataModelRuns() throws {
        let s = try InferenceSession(model: try ONNXModel.load(path: Fixtures.path("core/external/model.onnx")))
        let x = try NPY.read(Fixtures.url("core/mlp_input.npy"))
        let expected = try NPY.read(Fixtures.url("core/mlp_output.npy"))
        let got = try #require(try s.run(["x": x])["probs"])
        #expect(maxAbsDiff(got, expected) < 1e-5)
    }

    @Test func badFeedsAreNamed() throws {
        let s = try mlp()
        let good = try NPY.read(Fixtures.url("core/mlp_input.npy"))
        func message(_ feeds: [String: Tensor]) -> String {
            do { _ = try s.run(feeds); return "no error" } catch { return "\(error)" }
        }
        #expect(message([:]).contains("missing input 'x'"))
        #expect(message(["x": good, "y": good]).contains("unknown input 'y'"))
        #expect(message(["x": Tensor(zeros: .float64, shape: [3, 8])]).contains("input 'x': expected dtype float, got double"))
        #expect(message(["x": Tensor(zeros: .float32, shape: [8])]).contains("input 'x': expected rank 2"))
        #expect(message(["x": Tensor(zeros: .float32, shape: [3, 7])]).contains("input 'x': dimension 1 must be 8"))
        do { _ = try s.run(["x": good], outputNames: ["nope"]); Issue.record("accepted unknown output") } catch {
            #expect("\(error)".contains("unknown output 'nope'"))
        }
    }

    @Test func concurrentRunsShareOneSession() async throws {
        let s = try mlp()
        let x = try NPY.read(Fixtures.url("core/mlp_input.npy"))
        let expected = try NPY.read(Fixtures.url("core/mlp_output.npy"))
        let diffs = try await withThrowingTaskGroup(of: Double.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var worst = 0.0
                    for _ in 0..<20 {
                        guard let got = try s.run(["x": x])["probs"] else { return .infinity }
                        worst = max(worst, maxAbsDiff(got, expected))
                    }
                    return worst
                }
            }
            var all: [Double] = []
            for try await d in group { all.append(d) }
            return all
        }
        #expect(diffs.count == 16)
        #expect(diffs.allSatisfy { $0 < 1e-5 })
    }
}
