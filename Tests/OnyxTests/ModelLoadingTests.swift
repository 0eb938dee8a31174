import Foundation
import Testing
@testable import Onyx

@Suite struct ModelLoadingTests {
    func loadError(_ path: String) -> String {
        do {
            let m = try ONNXModel.load(path: Fixtures.path(path))
            _ = try InferenceSession(model: m)
            return "no error"
        } catch { return "\(error)" }
    }

    @Test(arguments: [
        ("bad/undefined_tensor.onnx", "node 'add1' (Add) reads undefined tensor 'nowhere'"),
        ("bad/cycle.onnx", "cycle among nodes"),
        ("bad/duplicate_output.onnx", "duplicate definition of 'y'"),
        ("bad/initializer_size.onnx", "raw_data has 8 bytes, dims [4] of float need 16"),
        ("bad/missing_external.onnx", "missing.bin' is missing"),
        ("bad/unsupported.onnx", "unsupported operators: com.example FancyOp (opset 1) used by 'f1', 'f2'; com.example OtherOp (opset 1) used by 'o1'"),
    ])
    func structuralErrorsNameTheCulprit(file: String, message: String) {
        let e = loadError("core/" + file)
        #expect(e.contains(message), "got: \(e)")
    }

    @Test func notOnnx() {
        let e1 = (try? ONNXModel.load(data: Data("hello, this is text".utf8))).map { _ in "loaded" }
        #expect(e1 == nil)
        do { _ = try ONNXModel.load(data: Data([0xFF, 0xFF, 0xFF, 0x07])); Issue.record("loaded garbage") } catch {
            #expect("\(error)".hasPrefix("not a valid ONNX model"))
        }
        do { _ = try ONNXModel.load(path: "/nonexistent/model.onnx"); Issue.record("loaded nothing") } catch {
            #expect("\(error)".contains("does not exist"))
        }
    }

    @Test func externalDataMatchesInline() throws {
        let a = try ONNXModel.load(path: Fixtures.path("core/mlp.onnx"))
        let b = try ONNXModel.load(path: Fixtures.path("core/external/model.onnx"))
        #expect(a.graph.initializers.count == b.graph.initializers.count)
        for (x, y) in zip(a.graph.initializers, b.graph.initializers) {
            #expect(x.name == y.name)
            #expect(maxAbsDiff(x.tensor, y.tensor) == 0)
        }
    }

    @Test func saveAndReloadKeepsTheModel() throws {
        let m = try ONNXModel.load(path: Fixtures.path("core/mlp.onnx"))
        let data = try ONNXModel.serialize(m)
        let back = try ONNXModel.load(data: data)
        #expect(back.graph.nodes.map(\.opType) == m.graph.nodes.map(\.opType))
        #expect(back.opsets[""] == m.opsets[""])
        #expect(back.graph.inputs.map(\.type.description) == m.graph.inputs.map(\.type.description))
        for (x, y) in zip(m.graph.initializers, back.graph.initializers) { #expect(maxAbsDiff(x.tensor, y.tensor) == 0) }
    }

    /// Random byte mutations of a valid model must load, or throw — never trap.
    @Test func mutatedModelsNeverTrap() throws {
        let original = [UInt8](try Data(contentsOf: Fixtures.url("core/mlp.onnx")))
        let x = try NPY.read(Fixtures.url("core/mlp_input.npy"))
        var rng = SplitMix64(seed: 20261128)
        var loaded = 0, rejected = 0
        for _ in 0..<400 {
            var bytes = original
            let edits = 1 + Int(rng.next() % 8)
            for _ in 0..<edits {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 4 {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes[i] ^= UInt8(1 << (rng.next() % 8))
                case 2: bytes.removeSubrange(i..<min(bytes.count, i + Int(rng.next() % 16) + 1))
                default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                }
                if bytes.isEmpty { bytes = [0] }
            }
            do {
                let m = try ONNXModel.load(data: Data(bytes))
                let s = try InferenceSession(model: m, options: SessionOptions(threads: 1))
                _ = try? s.run(["x": x])
                loaded += 1
            } catch {
                rejected += 1
            }
        }
        #expect(loaded + rejected == 400)
        #expect(rejected > 0)
    }
}
