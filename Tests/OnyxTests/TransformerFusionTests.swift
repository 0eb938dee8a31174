import Foundation
import Testing
@testable import Onyx

/// The transformer and layout passes (OptimizerTransformer.swift, OptimizerLayout.swift): each fires on the
/// subgraph shapes exporters emit (checked by the op types left after optimizing) and keeps outputs equal to the
/// unoptimized run (level none: every node through its reference kernel) within 1e-5 relative, also after
/// `onyx optimize`'s save and reload. Graphs are built here through the IR.
@Suite struct TransformerFusionTests {
    func random(_ shape: [Int], _ salt: UInt64, scale: Float = 1, offset: Float = 0) -> Tensor {
        var s: UInt64 = 0x9E3779B97F4A7C15 ^ (salt &* 0x100000001B3)
        let n = shape.reduce(1, *)
        var v = [Float](repeating: 0, count: n)
        for i in 0..<n {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            v[i] = (Float(s >> 40) / Float(1 << 24) - 0.5) * 2 * scale + offset
        }
        return Tensor(shape: shape, checkedValues: v)
    }
    func scalar(_ v: Float) -> Tensor { Tensor(shape: [], checkedValues: [v]) }
    func ints(_ v: [Int]) -> Tensor { Tensor(shape: [v.count], checkedValues: v.map { Int64($0) }) }
    func vi(_ name: String, _ shape: [Int]) -> ValueInfo { ValueInfo(name: name, type: .tensor(.float32, shape: shape.map { .fixed($0) })) }
    func node(_ op: String, _ inputs: [String], _ out: String, _ attrs: [String: Attribute] = [:]) -> Node {
        Node(name: out + "_node", opType: op, inputs: inputs, outputs: [out], attributes: attrs)
    }

    /// Runs `g` unoptimized and at extended / all (and saved + reloaded at all); returns the optimized op types.
    @discardableResult
    func check(_ g: Graph, _ feeds: [String: Tensor], opset: Int = 17, tolerance: Double = 1e-5) throws -> [String] {
        let model = Model(opsets: ["": opset], graph: g)
        let ref = try InferenceSession(model: model, options: SessionOptions(threads: 2, optimizationLevel: .none)).run(feeds)
        func compare(_ got: [String: Tensor], _ what: String) throws {
            for (k, r) in ref {
                let t = try #require(got[k])
                var big = 1.0
                for i in 0..<r.count { big = max(big, abs(r.doubleValue(at: i))) }
                #expect(maxAbsDiff(t, r) <= tolerance * big, "\(k) \(what): diff \(maxAbsDiff(t, r))")
            }
        }
        for level in [OptimizationLevel.extended, .all] {
            try compare(try InferenceSession(model: model, options: SessionOptions(threads: 2, optimizationLevel: level)).run(feeds), "\(level)")
        }
        let saved = try ONNXModel.load(data: try ONNXModel.serialize(try GraphOptimizer.optimizeModel(model, level: .all)))
        try compare(try InferenceSession(model: saved).run(feeds), "reloaded")
        return try GraphOptimizer(level: .all, opsets: ["": opset]).optimize(g).nodes.map(\.opType)
    }

    // MARK: LayerNormalization

    /// ReduceMean → Sub → Pow | Mul → ReduceMean → Add ε → Sqrt → Div → Mul γ → Add β (axes as attribute before
    /// opset 18, as input from 18).
    @Test(arguments: [(13, true, true), (17, false, true), (18, true, false), (18, false, true)])
    func layerNorm(opset: Int, pow: Bool, beta: Bool) throws {
        let c = 24
        var inits: [(name: String, tensor: Tensor)] = [("eps", scalar(1e-5)), ("two", scalar(2)), ("gamma", random([c], 1)),
                                                       ("beta", random([c], 2)), ("axes", ints([-1]))]
        inits.append(("w", random([c, c], 3, scale: 0.3)))
        let axes: (inputs: [String], attrs: [String: Attribute]) = opset >= 18 ? (["axes"], [:]) : ([], ["axes": .ints([-1])])
        var nodes = [
            node("MatMul", ["x", "w"], "h"),
            node("ReduceMean", ["h"] + axes.inputs, "mean", axes.attrs),
            node("Sub", ["h", "mean"], "d"),
            pow ? node("Pow", ["d", "two"], "d2") : node("Mul", ["d", "d"], "d2"),
            node("ReduceMean", ["d2"] + axes.inputs, "var", axes.attrs),
            node("Add", ["var", "eps"], "ve"),
            node("Sqrt", ["ve"], "sd"),
            node("Div", ["d", "sd"], "n"),
            node("Mul", ["gamma", "n"], beta ? "ng" : "y"),
        ]
        if beta { nodes.append(node("Add", ["ng", "beta"], "y")) }
        let g = Graph(name: "ln", nodes: nodes, inputs: [vi("x", [2, 5, c])], outputs: [vi("y", [2, 5, c])], initializers: inits)
        let ops = try check(g, ["x": random([2, 5, c], 9, offset: 0.5)], opset: opset)
        #expect(ops == ["FusedMatMul", "LayerNormalization"], "\(ops)")
        let domain = try GraphOptimizer(level: .all, opsets: ["": opset]).optimize(g).nodes.last?.domain
        #expect(domain == (opset >= 17 ? "" : "ai.onyx"))
    }

    /// The intermediate mean is also a graph output: the pattern must stay unfused.
    @Test func layerNormIntermediateUsedElsewhere() throws {
        let c = 8
        let nodes = [
            node("ReduceMean", ["x"], "mean", ["axes": .ints([-1])]), node("Sub", ["x", "mean"], "d"),
            node("Mul", ["d", "d"], "d2"), node("ReduceMean", ["d2"], "var", ["axes": .ints([-1])]),
            node("Add", ["var", "eps"], "ve"), node("Sqrt", ["ve"], "sd"), node("Div", ["d", "sd"], "n"),
            node("Mul", ["n", "gamma"], "y"),
        ]
        let g = Graph(name: "ln", nodes: nodes, inputs: [vi("x", [3, c])], outputs: [vi("y", [3, c]), vi("var", [3, 1])],
                      initializers: [("eps", scalar(1e-5)), ("gamma", random([c], 1))])
        let ops = try check(g, ["x": random([3, c], 4)])
        #expect(!ops.contains("LayerNormalization"), "\(ops)")
    }

    // MARK: GELU

    enum GeluForm: String, CaseIterable, Sendable { case bert, halfFirst, halfLast, div, tanhPow, tanhMul }

    func geluNodes(_ form: GeluForm, _ x: String, _ y: String) -> [Node] {
        switch form {
        case .bert:  // x * (1 + erf(x * 1/√2)) * 0.5
            return [node("Mul", [x, "rsqrt2"], "t"), node("Erf", ["t"], "e"), node("Add", ["e", "one"], "a"),
                    node("Mul", [x, "a"], "p"), node("Mul", ["p", "half"], y)]
        case .halfFirst:  // (x * 0.5) * (1 + erf(x / √2))
            return [node("Div", [x, "sqrt2"], "t"), node("Erf", ["t"], "e"), node("Add", ["one", "e"], "a"),
                    node("Mul", [x, "half"], "h"), node("Mul", ["h", "a"], y)]
        case .halfLast:  // x * ((1 + erf(x / √2)) * 0.5)
            return [node("Div", [x, "sqrt2"], "t"), node("Erf", ["t"], "e"), node("Add", ["e", "one"], "a"),
                    node("Mul", ["a", "half"], "p"), node("Mul", [x, "p"], y)]
        case .div:  // 0.5 * x * (1 + erf(1/√2 * x)), PyTorch's ordering with the scalar first
            return [node("Mul", ["rsqrt2", x], "t"), node("Erf", ["t"], "e"), node("Add", ["e", "one"], "a"),
                    node("Mul", [x, "a"], "p"), node("Mul", ["half", "p"], y)]
        case .tanhPow:  // 0.5 * x * (1 + tanh(√(2/π) * (x + 0.044715 * x^3)))
            return [node("Pow", [x, "three"], "c"), node("Mul", ["c", "k1"], "w"), node("Add", [x, "w"], "in"),
                    node("Mul", ["in", "k0"], "u"), node("Tanh", ["u"], "e"), node("Add", ["e", "one"], "a"),
                    node("Mul", [x, "half"], "h"), node("Mul", ["h", "a"], y)]
        case .tanhMul:  // x^3 as x * (x * x)
            return [node("Mul", [x, x], "sq"), node("Mul", [x, "sq"], "c"), node("Mul", ["k1", "c"], "w"),
                    node("Add", ["w", x], "in"), node("Mul", ["k0", "in"], "u"), node("Tanh", ["u"], "e"),
                    node("Add", ["e", "one"], "a"), node("Mul", [x, "a"], "p"), node("Mul", ["p", "half"], y)]
        }
    }
    var geluConsts: [(name: String, tensor: Tensor)] {
        [("rsqrt2", scalar(Float(0.5.squareRoot()))), ("sqrt2", scalar(Float(2.0.squareRoot()))), ("one", scalar(1)),
         ("half", scalar(0.5)), ("three", scalar(3)), ("k0", scalar(0.7978845608)), ("k1", scalar(0.044715))]
    }

    /// A standalone GELU (on a graph input) becomes one Gelu node (ai.onyx at opset 17, standard at 20).
    @Test(arguments: GeluForm.allCases)
    func gelu(form: GeluForm) throws {
        for opset in [17, 20] {
            let g = Graph(name: "gelu", nodes: geluNodes(form, "x", "y"), inputs: [vi("x", [4, 33])], outputs: [vi("y", [4, 33])],
                          initializers: geluConsts)
            let ops = try check(g, ["x": random([4, 33], 5, scale: 4)], opset: opset)
            #expect(ops == ["Gelu"], "\(form) \(ops)")
            let n = try #require(try GraphOptimizer(level: .all, opsets: ["": opset]).optimize(g).nodes.first)
            #expect(n.domain == (opset >= 20 ? "" : "ai.onyx"))
            if case .string(let a)? = n.attributes["approximate"] { #expect(a == "tanh" && form.rawValue.hasPrefix("tanh")) }
            else { #expect(!form.rawValue.hasPrefix("tanh")) }
        }
    }

    /// MatMul + bias + exact GELU → one FusedMatMul with GELU in the epilogue; the tanh form stays a Gelu node.
    @Test(arguments: [GeluForm.bert, .tanhPow])
    func matMulBiasGelu(form: GeluForm) throws {
        let g = Graph(name: "ffn", nodes: [node("MatMul", ["x", "mw"], "mm"), node("Add", ["mm", "b"], "f")] + geluNodes(form, "f", "y"),
                      inputs: [vi("x", [3, 16])], outputs: [vi("y", [3, 40])],
                      initializers: geluConsts + [("mw", random([16, 40], 1, scale: 0.5)), ("b", random([40], 2))])
        let ops = try check(g, ["x": random([3, 16], 3, scale: 2)])
        #expect(ops == (form == .bert ? ["FusedMatMul"] : ["FusedMatMul", "Gelu"]), "\(ops)")
    }

    // MARK: SkipLayerNormalization

    @Test(arguments: [false, true])
    func skipLayerNorm(broadcastSkip: Bool) throws {
        let c = 48
        let nodes = [
            node("MatMul", ["x", "w"], "h"),
            node("Add", broadcastSkip ? ["h", "bias"] : ["h", "x"], "s"),
            node("LayerNormalization", ["s", "gamma", "beta"], "y", ["epsilon": .float(1e-6)]),
        ]
        let g = Graph(name: "skip", nodes: nodes, inputs: [vi("x", [2, 7, c])], outputs: [vi("y", [2, 7, c])],
                      initializers: [("w", random([c, c], 1, scale: 0.3)), ("bias", random([c], 4)), ("gamma", random([c], 2)),
                                     ("beta", random([c], 3))])
        let ops = try check(g, ["x": random([2, 7, c], 5)])
        #expect(ops == ["FusedMatMul", "SkipLayerNormalization"], "\(ops)")
    }

    // MARK: Attention

    /// A BERT-style self-attention block: Q/K/V projections, Reshape to heads, Transposes, scores, scale, mask,
    /// Softmax, context, Transpose back, Reshape. `divScale` uses Div by √d; `kTransposeSeparate` transposes K to
    /// [B,H,S,D] first and then with perm [0,1,3,2].
    func attentionGraph(batch: Int, seq: Int, heads: Int, depth: Int, mask: [Int]?, divScale: Bool, kTransposeSeparate: Bool) -> Graph {
        let hidden = heads * depth
        var inits: [(name: String, tensor: Tensor)] = [("qkv_shape", ints([batch, seq, heads, depth])), ("out_shape", ints([batch, seq, hidden])),
                                                       ("scale", scalar(divScale ? Float(depth).squareRoot() : 1 / Float(depth).squareRoot()))]
        var nodes: [Node] = []
        for (k, nm) in ["q", "k", "v"].enumerated() {
            inits += [(nm + "_w", random([hidden, hidden], 10 + UInt64(k), scale: 0.4)), (nm + "_b", random([hidden], 20 + UInt64(k)))]
            nodes += [node("MatMul", ["x", nm + "_w"], nm + "_mm"), node("Add", [nm + "_mm", nm + "_b"], nm + "_add"),
                      node("Reshape", [nm + "_add", "qkv_shape"], nm + "_r")]
            if nm == "k" && kTransposeSeparate {
                nodes += [node("Transpose", ["k_r"], "k_bhsd", ["perm": .ints([0, 2, 1, 3])]),
                          node("Transpose", ["k_bhsd"], "k_t", ["perm": .ints([0, 1, 3, 2])])]
            } else {
                nodes.append(node("Transpose", [nm + "_r"], nm + "_t", ["perm": .ints(nm == "k" ? [0, 2, 3, 1] : [0, 2, 1, 3])]))
            }
        }
        nodes += [node("MatMul", ["q_t", "k_t"], "qk"), node(divScale ? "Div" : "Mul", ["qk", "scale"], "qk_s")]
        var probsIn = "qk_s"
        if mask != nil { nodes.append(node("Add", ["mask", "qk_s"], "qk_m")); probsIn = "qk_m" }
        nodes += [node("Softmax", [probsIn], "probs", ["axis": .int(-1)]), node("MatMul", ["probs", "v_t"], "ctx"),
                  node("Transpose", ["ctx"], "ctx_t", ["perm": .ints([0, 2, 1, 3])]), node("Reshape", ["ctx_t", "out_shape"], "y")]
        var inputs = [vi("x", [batch, seq, hidden])]
        if let mask { inputs.append(vi("mask", mask)) }
        return Graph(name: "attn", nodes: nodes, inputs: inputs, outputs: [vi("y", [batch, seq, hidden])], initializers: inits)
    }

    @Test(arguments: [(1, 9, 2, 8, [1, 1, 1, 9] as [Int]?, false, false), (2, 5, 3, 4, [2, 1, 5, 5], true, true),
                      (2, 6, 2, 8, nil, true, false), (1, 4, 4, 6, [4], false, true)])
    func attention(batch: Int, seq: Int, heads: Int, depth: Int, mask: [Int]?, divScale: Bool, kTransposeSeparate: Bool) throws {
        let g = attentionGraph(batch: batch, seq: seq, heads: heads, depth: depth, mask: mask, divScale: divScale,
                               kTransposeSeparate: kTransposeSeparate)
        var feeds = ["x": random([batch, seq, heads * depth], 1)]
        if let mask { feeds["mask"] = random(mask, 2, scale: 3) }
        let ops = try check(g, feeds)
        #expect(ops.filter { $0 == "FusedAttention" }.count == 1, "\(ops)")
        for gone in ["Transpose", "Softmax", "MatMul"] { #expect(!ops.contains(gone), "\(gone) left in \(ops)") }
    }

    /// The attention probabilities are also a graph output: nothing is fused.
    @Test func attentionProbsUsedElsewhere() throws {
        var g = attentionGraph(batch: 1, seq: 4, heads: 2, depth: 4, mask: nil, divScale: false, kTransposeSeparate: false)
        g.outputs.append(vi("probs", [1, 2, 4, 4]))
        let ops = try check(g, ["x": random([1, 4, 8], 1)])
        #expect(!ops.contains("FusedAttention") && ops.contains("Softmax"), "\(ops)")
    }

    // MARK: Layout

    @Test func transposeAndReshapeChains() throws {
        let nodes = [
            node("Reshape", ["x", "sx"], "rx"),                                   // same static shape → gone
            node("Transpose", ["rx"], "t1", ["perm": .ints([0, 2, 1])]),
            node("Transpose", ["t1"], "t2", ["perm": .ints([0, 2, 1])]),          // identity with t1 → gone
            node("Transpose", ["t2"], "t3", ["perm": .ints([2, 0, 1])]),
            node("Transpose", ["t3"], "t4", ["perm": .ints([1, 0, 2])]),          // composed with t3 → one
            node("Reshape", ["t4", "s1"], "r1"),
            node("Reshape", ["r1", "s2"], "r2"),                                   // Reshape∘Reshape → one
            node("Unsqueeze", ["r2", "ax0"], "u"),
            node("Reshape", ["u", "s3"], "r3"),                                    // Unsqueeze bypassed
            node("Reshape", ["r3", "s3"], "r4"),                                   // Reshape∘Reshape again
            node("Transpose", ["r4"], "t5", ["perm": .ints([0, 1])]),              // identity → gone
            node("Relu", ["t5"], "y"),
        ]
        let g = Graph(name: "layout", nodes: nodes, inputs: [vi("x", [2, 3, 4])], outputs: [vi("y", [6, 4])],
                      initializers: [("sx", ints([0, 3, -1])), ("s1", ints([4, 6])), ("s2", ints([-1, 2])), ("ax0", ints([0])),
                                     ("s3", ints([6, 4]))])
        let ops = try check(g, ["x": random([2, 3, 4], 1)])
        #expect(ops == ["Transpose", "Reshape", "Relu"], "\(ops)")
    }

    @Test func layoutKeepsGraphOutputsAndSharedValues() throws {
        let nodes = [
            node("Transpose", ["x"], "t1", ["perm": .ints([1, 0])]),
            node("Transpose", ["t1"], "t2", ["perm": .ints([1, 0])]),
            node("Relu", ["t1"], "y1"),
            node("Reshape", ["t2", "s"], "y2"),
        ]
        let g = Graph(name: "layout", nodes: nodes, inputs: [vi("x", [3, 5])], outputs: [vi("y1", [5, 3]), vi("y2", [3, 5])],
                      initializers: [("s", ints([3, 5]))])
        let ops = try check(g, ["x": random([3, 5], 1)])
        // t1 has another reader and stays; t2 is the identity and goes; y2 is a graph output and stays a node.
        #expect(ops == ["Transpose", "Relu", "Reshape"], "\(ops)")
    }

    // MARK: Real exports

    /// The PyTorch exports of transformers' BERT and GPT-2 (scripts/make_torch_fixtures.py): the passes fire on
    /// them; ExportedModelTests checks the optimized outputs (the default level is all) against onnxruntime.
    @Test(arguments: [("bert", ["FusedAttention": 2, "SkipLayerNormalization": 5]),
                      ("gpt2", ["FusedAttention": 2, "Gelu": 2])])
    func torchExports(name: String, expected: [String: Int]) throws {
        let model = try ONNXModel.load(path: Fixtures.url("torch/\(name)/model.onnx").path)
        let ops = try GraphOptimizer.optimizeModel(model, level: .all).graph.nodes.map(\.opType)
        let counts = Dictionary(grouping: ops, by: { $0 }).mapValues(\.count)
        for (op, n) in expected { #expect(counts[op] == n, "\(name): \(op) in \(counts)") }
        for gone in ["Softmax", "Erf", "Tanh", "Pow", "Transpose"] { #expect(counts[gone] == nil, "\(name): \(gone) in \(counts)") }
    }

    // MARK: BERT-base (benchmarks/make_models.py), when generated

    @Test func bertBase() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("benchmarks/models/bert_base_seq128.onnx").path
        guard FileManager.default.fileExists(atPath: path) else { return }
        let model = try ONNXModel.load(path: path)
        let opt = try GraphOptimizer.optimizeModel(model, level: .all)
        let ops = opt.graph.nodes.map(\.opType)
        #expect(ops.filter { $0 == "FusedAttention" }.count == 12, "\(Dictionary(grouping: ops, by: { $0 }).mapValues(\.count))")
        #expect(ops.filter { $0 == "SkipLayerNormalization" }.count == 24)
        #expect(!ops.contains("Erf") && !ops.contains("Softmax") && !ops.contains("Transpose"))
        let feeds = ["hidden": random([1, 128, 768], 1), "mask": random([1, 1, 1, 128], 2, scale: 2)]
        let ref = try InferenceSession(model: model, options: SessionOptions(threads: 2, optimizationLevel: .none)).run(feeds)
        let got = try InferenceSession(model: opt).run(feeds)
        let r = try #require(ref["output"]), o = try #require(got["output"])
        var big = 1.0
        for i in 0..<r.count { big = max(big, abs(r.doubleValue(at: i))) }
        #expect(maxAbsDiff(o, r) <= 1e-4 * big, "diff \(maxAbsDiff(o, r))")
    }
}
