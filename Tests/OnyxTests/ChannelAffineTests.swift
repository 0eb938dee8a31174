import Foundation
import Testing
@testable import Onyx

/// Per-channel affine chains (BatchNormalization / Mul / Add / Sub / Div by constants, then an activation):
/// folded into the producing or reading Conv, or run as one ai.onyx.ChannelAffine — outputs equal the
/// unoptimized run (`compare`: levels basic / extended / all and the saved-and-reloaded model vs level none).
extension OptimizerTests {
    func bnInits(_ p: String, _ c: Int, _ salt: UInt64) throws -> [(name: String, tensor: Tensor)] {
        let v = try random([c], salt + 3).toArray(Float.self).map { abs($0) + 0.5 }
        return [(p + "_s", random([c], salt)), (p + "_b", random([c], salt + 1)), (p + "_m", random([c], salt + 2)),
                (p + "_v", Tensor(shape: [c], checkedValues: v))]
    }
    func bn(_ p: String, _ x: String, _ y: String) -> Node {
        Node(name: p, opType: "BatchNormalization", inputs: [x, p + "_s", p + "_b", p + "_m", p + "_v"], outputs: [y])
    }

    func activationName(_ n: Node?) -> String? {
        if case .string(let a)? = n?.attributes["activation"] { return a }
        return nil
    }

    @Test func denseNetPreActivation() throws {
        // The light DenseNet's pattern: Conv → BN → Mul → Add → Relu (into the Conv), then Concat → BN → Mul → Add
        // → Relu (one ChannelAffine) → Conv1x1.
        let c = 6, c2 = 2 * c
        var inits: [(name: String, tensor: Tensor)] = [
            ("w1", random([c, 3, 3, 3], 1, scale: 0.3)), ("w2", random([5, c2, 1, 1], 2, scale: 0.3)),
            ("m1", random([c, 1, 1], 3)), ("a1", random([c, 1, 1], 4)),
            ("m2", random([1, c2, 1, 1], 5)), ("a2", random([c2, 1, 1], 6)),
        ]
        inits += try bnInits("bn1", c, 10) + bnInits("bn2", c2, 20)
        let nodes = [
            Node(name: "c1", opType: "Conv", inputs: ["x", "w1"], outputs: ["y1"], attributes: ["pads": .ints([1, 1, 1, 1])]),
            bn("bn1", "y1", "z1"),
            Node(name: "mul1", opType: "Mul", inputs: ["z1", "m1"], outputs: ["q1"]),
            Node(name: "add1", opType: "Add", inputs: ["q1", "a1"], outputs: ["p1"]),
            Node(name: "r1", opType: "Relu", inputs: ["p1"], outputs: ["h1"]),
            Node(name: "cat", opType: "Concat", inputs: ["h1", "h1"], outputs: ["h"], attributes: ["axis": .int(1)]),
            bn("bn2", "h", "z2"),
            Node(name: "mul2", opType: "Mul", inputs: ["m2", "z2"], outputs: ["q2"]),
            Node(name: "add2", opType: "Add", inputs: ["q2", "a2"], outputs: ["p2"]),
            Node(name: "r2", opType: "Relu", inputs: ["p2"], outputs: ["h2"]),
            Node(name: "c2", opType: "Conv", inputs: ["h2", "w2"], outputs: ["out"]),
        ]
        let g = Graph(name: "t", nodes: nodes, inputs: [vi("x", [2, 3, 9, 7])], outputs: [vi("out", [2, 5, 9, 7])], initializers: inits)
        try compare(g, ["x": random([2, 3, 9, 7], 99)], expectOps: ["FusedConv", "ChannelAffine"])
        let opt = try GraphOptimizer(level: .all, opsets: ["": 17]).optimize(g)
        #expect(opt.nodes.map(\.opType) == ["FusedConv", "Concat", "ChannelAffine", "FusedConv"])
        #expect(activationName(opt.nodes.first) == "Relu")
    }

    /// Chains with no activation before a Conv without padding fold into that Conv's weights and bias (a grouped one
    /// too); with padding they stay a ChannelAffine.
    @Test(arguments: [(0, 1), (0, 2), (1, 1)])
    func affineIntoReadingConv(pad: Int, group: Int) throws {
        let c = 8
        var inits: [(name: String, tensor: Tensor)] = [
            ("w", random([6, c / group, 1 + 2 * pad, 1 + 2 * pad], 1, scale: 0.3)), ("b", random([6], 2)),
            ("k", Tensor(shape: [], checkedValues: [Float(1.5)])), ("d", random([1, c, 1, 1], 3)),
        ]
        inits += try bnInits("bn", c, 10)
        let nodes = [
            bn("bn", "x", "z"),
            Node(name: "mul", opType: "Mul", inputs: ["z", "k"], outputs: ["q"]),
            Node(name: "sub", opType: "Sub", inputs: ["q", "d"], outputs: ["p"]),
            Node(name: "conv", opType: "Conv", inputs: ["p", "w", "b"], outputs: ["out"],
                 attributes: ["group": .int(group), "pads": .ints(Array(repeating: pad, count: 4))]),
        ]
        let g = Graph(name: "t", nodes: nodes, inputs: [vi("x", [1, c, 5, 6])], outputs: [vi("out", [1, 6, 5, 6])], initializers: inits)
        try compare(g, ["x": random([1, c, 5, 6], 98)], expectOps: ["FusedConv"])
        let opt = try GraphOptimizer(level: .all, opsets: ["": 17]).optimize(g)
        #expect(opt.nodes.map(\.opType) == (pad == 0 ? ["FusedConv"] : ["ChannelAffine", "FusedConv"]))
    }

    /// Scalar steps, Div / reversed Sub, Clip / LeakyRelu, a chain value that is also a graph output (the chain
    /// stops there), and a one-channel input broadcast to C channels by a per-channel constant.
    @Test func affineChainVariants() throws {
        let c = 4
        let inits: [(name: String, tensor: Tensor)] = [
            ("two", Tensor(shape: [1], checkedValues: [Float(2)])), ("v", random([c, 1, 1], 1)),
            ("dv", Tensor(shape: [c, 1, 1], checkedValues: [Float(0.5), -4, 3, 1.25])),
            ("lo", Tensor(shape: [], checkedValues: [Float(-0.5)])), ("hi", Tensor(shape: [], checkedValues: [Float(0.7)])),
        ]
        let nodes = [
            // x (1 channel) · v (4 channels) → 4 channels; / dv; 2 − ·; Clip(−0.5, 0.7)
            Node(name: "m", opType: "Mul", inputs: ["x", "v"], outputs: ["a"]),
            Node(name: "d", opType: "Div", inputs: ["a", "dv"], outputs: ["b"]),
            Node(name: "s", opType: "Sub", inputs: ["two", "b"], outputs: ["e"]),
            Node(name: "clip", opType: "Clip", inputs: ["e", "lo", "hi"], outputs: ["out1"]),
            // A second chain from x (Add, Mul, then LeakyRelu): its middle value is a graph output, so it ends there.
            Node(name: "a2", opType: "Add", inputs: ["x", "v"], outputs: ["f"]),
            Node(name: "m2", opType: "Mul", inputs: ["f", "two"], outputs: ["out2"]),
            Node(name: "lr", opType: "LeakyRelu", inputs: ["out2"], outputs: ["out3"], attributes: ["alpha": .float(0.2)]),
        ]
        let g = Graph(name: "t", nodes: nodes, inputs: [vi("x", [2, 1, 3, 5])],
                      outputs: [vi("out1", [2, c, 3, 5]), vi("out2", [2, c, 3, 5]), vi("out3", [2, c, 3, 5])], initializers: inits)
        try compare(g, ["x": random([2, 1, 3, 5], 97)], expectOps: ["ChannelAffine"])
        let opt = try GraphOptimizer(level: .all, opsets: ["": 17]).optimize(g)
        #expect(opt.nodes.map(\.opType) == ["ChannelAffine", "ChannelAffine", "LeakyRelu"])
        #expect(activationName(opt.nodes.first) == "Clip")
    }

    /// A 2-D MatMul's bias Add is left to the MatMul fusion.
    @Test func affineLeavesMatMulBias() throws {
        let inits: [(name: String, tensor: Tensor)] = [("w", random([6, 5], 1)), ("b", random([5], 2))]
        let nodes = [
            Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["h"]),
            Node(name: "add", opType: "Add", inputs: ["h", "b"], outputs: ["hb"]),
            Node(name: "r", opType: "Relu", inputs: ["hb"], outputs: ["out"]),
        ]
        let g = Graph(name: "t", nodes: nodes, inputs: [vi("x", [3, 6])], outputs: [vi("out", [3, 5])], initializers: inits)
        try compare(g, ["x": random([3, 6], 96)], expectOps: ["FusedMatMul"])
        let opt = try GraphOptimizer(level: .all, opsets: ["": 17]).optimize(g)
        #expect(opt.nodes.map(\.opType) == ["FusedMatMul"])
    }

    /// Inference Dropout with a named but unread mask output (SqueezeNet's) is removed; a read mask keeps it.
    @Test func dropoutWithUnreadMask() throws {
        let nodes = [
            Node(name: "drop", opType: "Dropout", inputs: ["x"], outputs: ["y", "mask"], attributes: ["ratio": .float(0.5)]),
            Node(name: "r", opType: "Relu", inputs: ["y"], outputs: ["out"]),
        ]
        let g = Graph(name: "t", nodes: nodes, inputs: [vi("x", [2, 3])], outputs: [vi("out", [2, 3])])
        try compare(g, ["x": random([2, 3], 95)], opset: 9, expectOps: ["Relu"])
        #expect(try GraphOptimizer(level: .basic, opsets: ["": 9]).optimize(g).nodes.map(\.opType) == ["Relu"])
        var kept = g
        kept.outputs.append(ValueInfo(name: "mask", type: .tensor(.bool, shape: [.fixed(2), .fixed(3)])))
        #expect(try GraphOptimizer(level: .basic, opsets: ["": 9]).optimize(kept).nodes.map(\.opType) == ["Dropout", "Relu"])
    }
}
