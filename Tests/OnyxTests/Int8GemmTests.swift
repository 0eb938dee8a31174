import Foundation
import Testing
import Onyx

/// The packed int8 GEMM (COnyxKernels/qgemm.c) behind MatMulInteger and the fused ai.onyx.DynamicQuantMatMul.
/// References from scripts/make_int8_fixtures.py: exact int32 products by numpy (onnxruntime agrees), and
/// onnxruntime's output for a model quantized by its own `quantize_dynamic`.
@Suite struct Int8GemmTests {
    static func fixture(_ name: String) -> String { Fixtures.path("int8/" + name) }
    static func npy(_ name: String) throws -> Tensor { try NPY.read(URL(fileURLWithPath: fixture(name))) }

    @Test(arguments: ["tiny", "odd", "wide", "batched", "u8u8", "s8s8", "runtimeB"])
    func matMulIntegerIsExact(_ name: String) throws {
        let model = try ONNXModel.load(path: Self.fixture("mmi_\(name).onnx"))
        var feeds = ["A": try Self.npy("mmi_\(name)_a.npy")]
        if name == "runtimeB" { feeds["B"] = try Self.npy("mmi_\(name)_b.npy") }
        let expect = try Self.npy("mmi_\(name)_y.npy")
        for threads in [1, 2] {
            let s = try InferenceSession(model: model, options: SessionOptions(threads: threads))
            let y = try #require(try s.run(feeds)["Y"])
            #expect(y.dtype == .int32)
            #expect(y.shape == expect.shape)
            #expect(try y.toArray(Int32.self) == (try expect.toArray(Int32.self)), "\(name), \(threads) threads")
        }
    }

    @Test func fusedDynamicQuantMatMulEqualsTheChainAndOnnxRuntime() throws {
        let model = try ONNXModel.load(path: Self.fixture("dyn_mlp.onnx"))
        let optimized = try GraphOptimizer(level: .all, opsets: model.opsets).optimize(model.graph)
        #expect(optimized.nodes.filter { $0.opType == "DynamicQuantMatMul" }.count == 2)
        #expect(!optimized.nodes.contains { ["MatMulInteger", "DynamicQuantizeLinear", "Cast"].contains($0.opType) })
        let x = try Self.npy("dyn_mlp_x.npy")
        let fused = try #require(try InferenceSession(model: model, options: SessionOptions(optimizationLevel: .all)).run(["x": x])["y"])
        let chain = try #require(try InferenceSession(model: model, options: SessionOptions(optimizationLevel: .none)).run(["x": x])["y"])
        #expect(maxAbsDiff(fused, chain) == 0)
        #expect(maxAbsDiff(fused, try Self.npy("dyn_mlp_ort.npy")) < 1e-4)
    }

    @Test func chainWithAnExtraReaderIsNotFused() throws {
        var model = try ONNXModel.load(path: Self.fixture("dyn_mlp.onnx"))
        // The first layer's Cast output is also a graph output: that layer keeps its chain.
        let cast = try #require(model.graph.nodes.first { $0.opType == "Cast" })
        model.graph.outputs.append(ValueInfo(name: cast.outputs[0], type: .tensor(.float32, shape: nil)))
        let optimized = try GraphOptimizer(level: .all, opsets: model.opsets).optimize(model.graph)
        #expect(optimized.nodes.filter { $0.opType == "DynamicQuantMatMul" }.count == 1)
        #expect(optimized.nodes.filter { $0.opType == "MatMulInteger" }.count == 1)
        let x = try Self.npy("dyn_mlp_x.npy")
        let out = try InferenceSession(model: model).run(["x": x])
        #expect(maxAbsDiff(try #require(out["y"]), try Self.npy("dyn_mlp_ort.npy")) < 1e-4)
    }
}
