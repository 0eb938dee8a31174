import Foundation
import Testing
import Onyx

/// QDQ Conv fusion into the int8 convolution ai.onyx.QConv (issue 7). References from
/// scripts/make_qconv_fixtures.py: models quantized by onnxruntime's own `quantize_static` (QDQ), onnxruntime's
/// output running the QDQ graph as written (optimizations off) and with its own fusion.
@Suite struct QConvTests {
    static func fixture(_ name: String) -> String { Fixtures.path("qconv/" + name) }
    static func npy(_ name: String) throws -> Tensor { try NPY.read(URL(fileURLWithPath: fixture(name))) }

    static func run(_ model: Model, _ x: Tensor, level: OptimizationLevel, threads: Int) throws -> Tensor {
        let s = try InferenceSession(model: model, options: SessionOptions(threads: threads, optimizationLevel: level))
        return try #require(try s.run(["x": x])["y"])
    }

    /// Fused and unfused results may differ by one output quantum where the float sum lands on a rounding tie.
    static func withinOneQuantum(_ a: Tensor, _ b: Tensor, _ scale: Float) -> Bool {
        maxAbsDiff(a, b) <= Double(scale) * 1.01
    }

    @Test(arguments: ["k3s1p1_relu", "k3s2p1", "k1_relu", "k1s2", "k7s2p3", "dil2_nobias"])
    func onnxRuntimeQDQConvIsFusedAndMatches(_ name: String) throws {
        let model = try ONNXModel.load(path: Self.fixture("qconv_\(name).onnx"))
        let optimized = try GraphOptimizer(level: .all, opsets: model.opsets).optimize(model.graph)
        #expect(optimized.nodes.filter { $0.opType == "QConv" }.count == 1)
        #expect(!optimized.nodes.contains { $0.opType == "Conv" || $0.opType == "FusedConv" })
        let x = try Self.npy("qconv_\(name)_x.npy")
        let yscale = try Self.npy("qconv_\(name)_yscale.npy").toArray(Float.self)[0]
        let ref = try Self.npy("qconv_\(name)_ref.npy"), ortFused = try Self.npy("qconv_\(name)_ort.npy")
        let unfused = try Self.run(model, x, level: .none, threads: 1)
        #expect(Self.withinOneQuantum(unfused, ref, yscale), "\(name): Onyx unfused vs onnxruntime")
        for threads in [1, 2] {
            let fused = try Self.run(model, x, level: .all, threads: threads)
            #expect(Self.withinOneQuantum(fused, unfused, yscale), "\(name), \(threads) threads: fused vs unfused")
            #expect(Self.withinOneQuantum(fused, ref, yscale), "\(name), \(threads) threads: fused vs onnxruntime")
            #expect(Self.withinOneQuantum(fused, ortFused, yscale), "\(name), \(threads) threads: vs onnxruntime's QLinearConv")
        }
    }

    @Test func groupedConvStaysFloat() throws {
        let model = try ONNXModel.load(path: Self.fixture("qconv_group2.onnx"))
        let optimized = try GraphOptimizer(level: .all, opsets: model.opsets).optimize(model.graph)
        #expect(!optimized.nodes.contains { $0.opType == "QConv" })
        let x = try Self.npy("qconv_group2_x.npy")
        let yscale = try Self.npy("qconv_group2_yscale.npy").toArray(Float.self)[0]
        #expect(Self.withinOneQuantum(try Self.run(model, x, level: .all, threads: 2), try Self.npy("qconv_group2_ref.npy"), yscale))
    }

    @Test func basicLevelDoesNotFuse() throws {
        let model = try ONNXModel.load(path: Self.fixture("qconv_k3s2p1.onnx"))
        let optimized = try GraphOptimizer(level: .basic, opsets: model.opsets).optimize(model.graph)
        #expect(!optimized.nodes.contains { $0.opType == "QConv" })
    }

    /// Onyx's own static quantizer keeps the Relu after the Conv: it is fused into QConv's epilogue. Per-tensor and
    /// per-channel weights. The reference is the same QDQ file run unfused (DequantizeLinear → float Conv → Relu);
    /// no QuantizeLinear follows the Relu, so the outputs are compared in float (int32 sums are exact: only the
    /// rounding of the scale products differs).
    @Test(arguments: [("k3s1p1_relu", false), ("k3s1p1_relu", true), ("k1_relu", true), ("k7s2p3", false)])
    func onyxStaticQuantizerConvReluIsFused(_ name: String, _ perChannel: Bool) throws {
        let fp32 = try ONNXModel.load(path: Self.fixture("qconv_\(name)_float.onnx"))
        let x = try Self.npy("qconv_\(name)_x.npy")
        let cal = try CalibrationSet(feeds: [["x": x]], model: fp32)
        var o = QuantizeOptions()
        o.perChannel = perChannel
        let (q, _) = try StaticQuantizer.quantize(fp32, calibration: cal, method: .minmax, format: .qdq, options: o)
        let optimized = try GraphOptimizer(level: .all, opsets: q.opsets).optimize(q.graph)
        let fusedNodes = optimized.nodes.filter { $0.opType == "QConv" }
        #expect(fusedNodes.count == 1)
        #expect(!optimized.nodes.contains { $0.opType == "Relu" })
        let unfused = try Self.run(q, x, level: .none, threads: 1)
        let peak = try unfused.toArray(Float.self).map { abs($0) }.max() ?? 1
        for threads in [1, 2] {
            let fused = try Self.run(q, x, level: .all, threads: threads)
            #expect(maxAbsDiff(fused, unfused) <= Double(peak) * 1e-5, "\(name) perChannel \(perChannel), \(threads) threads")
            #expect(try fused.toArray(Float.self).allSatisfy { $0 >= 0 })
        }
    }
}
