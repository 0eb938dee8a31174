import Foundation
import Testing
@testable import Onyx

/// Models exported from PyTorch (torchvision, transformers) compared with onnxruntime's outputs
/// (fixtures and references from scripts/make_torch_fixtures.py).
@Suite struct ExportedModelTests {
    static let names = ["mobilenet_v2", "bert", "gpt2", "lstm"]

    @Test(arguments: names)
    func matchesOnnxRuntime(name: String) throws {
        let dir = Fixtures.url("torch/\(name)")
        let model = try ONNXModel.load(path: dir.appendingPathComponent("model.onnx").path)
        let session = try InferenceSession(model: model)
        var feeds: [String: Tensor] = [:]
        for i in session.inputs {
            feeds[i.name] = try NPY.read(dir.appendingPathComponent("input_\(i.name).npy"))
        }
        let outs = try session.runOrdered(feeds)
        #expect(outs.count == session.outputs.count)
        for (k, v) in outs.enumerated() {
            let expected = try NPY.read(dir.appendingPathComponent("output_\(k).npy"))
            let got = try #require(v.tensor)
            #expect(got.shape == expected.shape, "\(name) output \(k) shape")
            // numpy allclose(rtol=1e-3, atol=1e-4): float32 kernels may sum in a different order than ORT.
            var bad = 0
            for j in 0..<min(got.count, expected.count) {
                let e = expected.doubleValue(at: j)
                if abs(got.doubleValue(at: j) - e) > 1e-4 + 1e-3 * abs(e) { bad += 1 }
            }
            #expect(bad == 0, "\(name) output \(k): \(bad) of \(got.count) values differ")
        }
    }
}
