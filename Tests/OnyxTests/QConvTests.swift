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

    @Test(arguments: ["k3s1p1_relu", "k3s2p1", "k1_relu", "k1s2", "k7s2p3", "dil2_nobias", "k3s2p1_s8act", "k3s1p1_wide"])
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
    @Test(arguments: [("k3s1p1_relu", false), ("k3s1p1_relu", true), ("k1_relu", true), ("k7s2p3", false), ("k3s1p1_wide", true)])
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

    /// A ResNet basic block quantized by onnxruntime: both Convs become QConv and absorb their QuantizeLinear
    /// (uint8 output); the quantized Add stays as written.
    @Test func onnxRuntimeBlockIsFusedAndMatches() throws {
        let model = try ONNXModel.load(path: Self.fixture("qconv_block.onnx"))
        let optimized = try GraphOptimizer(level: .all, opsets: model.opsets).optimize(model.graph)
        #expect(optimized.nodes.filter { $0.opType == "QConv" }.count == 2)
        #expect(optimized.nodes.filter { $0.opType == "QConv" }.allSatisfy { $0.inputs.count == 9 })
        let x = try Self.npy("qconv_block_x.npy")
        let yscale = try Self.npy("qconv_block_yscale.npy").toArray(Float.self)[0]
        let ref = try Self.npy("qconv_block_ref.npy")
        for threads in [1, 2] {
            #expect(Self.withinOneQuantum(try Self.run(model, x, level: .all, threads: threads), ref, yscale))
        }
    }

    /// The same block quantized by Onyx's own static quantizer: the first QConv absorbs its Relu and the
    /// QuantizeLinear of the second Conv's input (uint8 output), the second the residual Add and the final Relu.
    @Test(arguments: [false, true])
    func onyxBlockAbsorbsResidualReluAndQuantize(_ perChannel: Bool) throws {
        let fp32 = try ONNXModel.load(path: Self.fixture("qconv_block_float.onnx"))
        let x = try Self.npy("qconv_block_x.npy")
        var o = QuantizeOptions()
        o.perChannel = perChannel
        let (q, _) = try StaticQuantizer.quantize(fp32, calibration: try CalibrationSet(feeds: [["x": x]], model: fp32),
                                                  method: .minmax, format: .qdq, options: o)
        let optimized = try GraphOptimizer(level: .all, opsets: q.opsets).optimize(q.graph)
        let fused = optimized.nodes.filter { $0.opType == "QConv" }
        #expect(fused.count == 2)
        #expect(!optimized.nodes.contains { ["Relu", "Add", "Conv"].contains($0.opType) })
        #expect(optimized.nodes.filter { $0.opType == "QuantizeLinear" }.count == 1)  // the block input's
        #expect(fused.contains { $0.inputs.count == 9 && $0.inputs[6].isEmpty })       // uint8 output
        #expect(fused.contains { $0.inputs.count == 7 && !$0.inputs[6].isEmpty })      // residual
        let unfused = try Self.run(q, x, level: .none, threads: 1)
        let u = try unfused.toArray(Float.self)
        let peak = u.map { abs($0) }.max() ?? 1
        for threads in [1, 2] {
            let y = try Self.run(q, x, level: .all, threads: threads).toArray(Float.self)
            // Equal up to float rounding, except where the first Conv's value lands on a QuantizeLinear rounding
            // tie (then that uint8 differs by one and the difference propagates through the second Conv).
            let off = zip(y, u).filter { abs($0 - $1) > 1e-5 * peak }.count
            #expect(off <= u.count / 50, "\(off) of \(u.count) values differ, perChannel \(perChannel), \(threads) threads")
            #expect(zip(y, u).allSatisfy { abs($0 - $1) <= 0.05 * peak })
            #expect(y.allSatisfy { $0 >= 0 })
        }
    }
}
