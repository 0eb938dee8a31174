import Foundation
import Testing
@testable import Onyx

/// Each optimizer pass keeps outputs equal to the unoptimized run (level none: the reference kernels, no
/// folding or fusion) on small models built here; the fused ops really appear in the optimized graph.
@Suite struct OptimizerTests {
    var seed: UInt64 = 0x9E3779B97F4A7C15
    func random(_ shape: [Int], _ salt: UInt64, scale: Float = 1) -> Tensor {
        var s = seed ^ salt
        let n = shape.reduce(1, *)
        var v = [Float](repeating: 0, count: n)
        for i in 0..<n {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            v[i] = (Float(s >> 40) / Float(1 << 24) - 0.5) * 2 * scale
        }
        return Tensor(shape: shape, checkedValues: v)
    }

    func compare(_ g: Graph, _ feeds: [String: Tensor], opset: Int = 17, expectOps: [String]) throws {
        let model = Model(opsets: ["": opset], graph: g)
        let ref = try InferenceSession(model: model, options: SessionOptions(threads: 2, optimizationLevel: .none)).run(feeds)
        for level in [OptimizationLevel.basic, .extended, .all] {
            let got = try InferenceSession(model: model, options: SessionOptions(threads: 2, optimizationLevel: level)).run(feeds)
            for (k, r) in ref { #expect(maxAbsDiff(try #require(got[k]), r) < 1e-4, "\(k) at \(level)") }
        }
        let opt = try GraphOptimizer(level: .all, opsets: ["": opset]).optimize(g)
        let ops = opt.nodes.map(\.opType)
        for o in expectOps { #expect(ops.contains(o), "\(o) missing from \(ops)") }
        // Saved-and-reloaded optimized model (onyx optimize) gives the same outputs.
        let saved = try ONNXModel.load(data: try ONNXModel.serialize(try GraphOptimizer.optimizeModel(model, level: .all)))
        let again = try InferenceSession(model: saved).run(feeds)
        for (k, r) in ref { #expect(maxAbsDiff(try #require(again[k]), r) < 1e-4, "\(k) reloaded") }
    }

    func vi(_ name: String, _ shape: [Int]) -> ValueInfo { ValueInfo(name: name, type: .tensor(.float32, shape: shape.map { .fixed($0) })) }

    @Test func convBatchNormResidualRelu() throws {
        // x → Conv3x3(+BN) → Relu → Conv1x1(+BN) → Add(x) → Relu; then a depthwise Conv → Clip(0, 6).
        let c = 8
        var inits: [(name: String, tensor: Tensor)] = [
            ("w1", random([c, c, 3, 3], 1, scale: 0.3)), ("w2", random([c, c, 1, 1], 2, scale: 0.3)),
            ("b2", random([c], 3)), ("wd", random([c, 1, 3, 3], 4, scale: 0.5)), ("bd", random([c], 5)),
            ("lo", Tensor(shape: [], checkedValues: [Float(0)])), ("hi", Tensor(shape: [], checkedValues: [Float(0.5)])),
        ]
        for (i, bn) in ["bn1", "bn2"].enumerated() {
            inits.append((bn + "_s", random([c], 10 + UInt64(i))))
            inits.append((bn + "_b", random([c], 20 + UInt64(i))))
            inits.append((bn + "_m", random([c], 30 + UInt64(i))))
            var v = random([c], 40 + UInt64(i)); v = Tensor(shape: [c], checkedValues: try v.toArray(Float.self).map { abs($0) + 0.5 })
            inits.append((bn + "_v", v))
        }
        let nodes = [
            Node(name: "c1", opType: "Conv", inputs: ["x", "w1"], outputs: ["y1"], attributes: ["pads": .ints([1, 1, 1, 1])]),
            Node(name: "n1", opType: "BatchNormalization", inputs: ["y1", "bn1_s", "bn1_b", "bn1_m", "bn1_v"], outputs: ["z1"]),
            Node(name: "r1", opType: "Relu", inputs: ["z1"], outputs: ["a1"]),
            Node(name: "c2", opType: "Conv", inputs: ["a1", "w2", "b2"], outputs: ["y2"]),
            Node(name: "n2", opType: "BatchNormalization", inputs: ["y2", "bn2_s", "bn2_b", "bn2_m", "bn2_v"], outputs: ["z2"],
                 attributes: ["epsilon": .float(1e-3)]),
            Node(name: "add", opType: "Add", inputs: ["z2", "x"], outputs: ["s"]),
            Node(name: "r2", opType: "Relu", inputs: ["s"], outputs: ["a2"]),
            Node(name: "dw", opType: "Conv", inputs: ["a2", "wd", "bd"], outputs: ["d"],
                 attributes: ["group": .int(c), "pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])]),
            Node(name: "clip", opType: "Clip", inputs: ["d", "lo", "hi"], outputs: ["out"]),
        ]
        let g = Graph(name: "t", nodes: nodes, inputs: [vi("x", [1, c, 13, 11])], outputs: [vi("out", [1, c, 7, 6]), vi("a1", [1, c, 13, 11])],
                      initializers: inits)
        try compare(g, ["x": random([1, c, 13, 11], 99)], expectOps: ["FusedConv"])
        let opt = try GraphOptimizer(level: .all, opsets: ["": 17]).optimize(g)
        #expect(opt.nodes.count == 3, "\(opt.nodes.map(\.opType))")
    }

    @Test func matMulBiasActivationAndGemm() throws {
        let inits: [(name: String, tensor: Tensor)] = [
            ("w1", random([20, 33], 1)), ("b1", random([33], 2)), ("w2", random([7, 33], 3)), ("b2", random([1, 7], 4)),
        ]
        let nodes = [
            Node(name: "mm", opType: "MatMul", inputs: ["x", "w1"], outputs: ["h"]),
            Node(name: "add", opType: "Add", inputs: ["b1", "h"], outputs: ["hb"]),
            Node(name: "act", opType: "LeakyRelu", inputs: ["hb"], outputs: ["ha"], attributes: ["alpha": .float(0.1)]),
            Node(name: "flat", opType: "Reshape", inputs: ["ha", "shape"], outputs: ["h2"]),
            Node(name: "gemm", opType: "Gemm", inputs: ["h2", "w2", "b2"], outputs: ["y"],
                 attributes: ["transB": .int(1), "alpha": .float(0.5), "beta": .float(2)]),
            Node(name: "sig", opType: "Sigmoid", inputs: ["y"], outputs: ["out"]),
        ]
        var g = Graph(name: "t", nodes: nodes, inputs: [vi("x", [2, 5, 20])], outputs: [vi("out", [10, 7])], initializers: inits)
        g.initializers.append(("shape", Tensor(shape: [2], checkedValues: [Int64(10), Int64(33)])))
        try compare(g, ["x": random([2, 5, 20], 7)], expectOps: ["FusedMatMul"])
        let opt = try GraphOptimizer(level: .all, opsets: ["": 17]).optimize(g)
        #expect(opt.nodes.map(\.opType) == ["FusedMatMul", "Reshape", "FusedMatMul"])
    }
}
