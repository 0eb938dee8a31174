import Foundation
import OnyxTensor
import OnyxKernels

/// Constant folding, BatchNorm folding and operator fusion (Conv / MatMul / Gemm + bias + residual + activation
/// into ai.onyx.FusedConv / ai.onyx.FusedMatMul).
extension GraphOptimizer {
    static let onyxDomain = "ai.onyx"

    /// Names that must keep their producer: graph outputs and values read by subgraphs.
    func protectedNames(_ g: Graph) -> Set<String> {
        var p = Set(g.outputs.map(\.name))
        for n in g.nodes {
            for a in n.attributes.values {
                switch a {
                case .graph(let sg): p.formUnion(GraphCompiler.freeVariables(of: sg))
                case .graphs(let gs): gs.forEach { p.formUnion(GraphCompiler.freeVariables(of: $0)) }
                default: break
                }
            }
        }
        return p
    }

    /// How many times each value is read (protected names count as an extra reader).
    func useCounts(_ g: Graph) -> [String: Int] {
        var c: [String: Int] = [:]
        for n in g.nodes { for i in n.inputs where !i.isEmpty { c[i, default: 0] += 1 } }
        for p in protectedNames(g) { c[p, default: 0] += 1 }
        return c
    }

    /// Initializers that no feed can override.
    func constants(_ g: Graph) -> [String: Tensor] {
        let inputs = Set(g.inputs.map(\.name))
        var m: [String: Tensor] = [:]
        for (name, t) in g.initializers where !inputs.contains(name) { m[name] = t }
        return m
    }

    static func isStandard(_ n: Node) -> Bool { n.domain.isEmpty || n.domain == "ai.onnx" }

    static func hasSubgraph(_ n: Node) -> Bool {
        n.attributes.values.contains { a in
            switch a { case .graph, .graphs: return true; default: return false }
        }
    }

    /// Evaluates nodes whose inputs are all constant and turns their outputs into initializers.
    func foldConstants(_ g: Graph) -> Graph {
        var consts = constants(g)
        let protected = protectedNames(g)
        var out = g
        var kept: [Node] = []
        let table = OperatorTable.standard
        for n in g.nodes {
            let allConst = n.inputs.allSatisfy { $0.isEmpty || consts[$0] != nil }
            guard Self.isStandard(n), !Self.hasSubgraph(n), allConst, !n.inputs.isEmpty || n.opType == "Constant",
                  !GraphCompiler.nondeterministic.contains(n.opType),
                  n.outputs.allSatisfy({ !$0.isEmpty && !protected.contains($0) }),
                  let factory = table.resolve(domain: "", opType: n.opType, opset: opsets[""] ?? 21) else {
                kept.append(n); continue
            }
            var ci: [Int: Tensor] = [:]
            for (k, name) in n.inputs.enumerated() { if let t = consts[name] { ci[k] = t } }
            let ctx = NodeContext(node: n, opset: opsets[""] ?? 21, constantInputs: ci, implicitInputs: []) { _, _ in
                throw KernelError("no subgraphs while folding")
            }
            do {
                let kernel = try factory(ctx)
                let args: [Value?] = n.inputs.enumerated().map { k, _ in ci[k].map { .tensor($0) } }
                let vals = try kernel.run(args, RunContext(threads: 1, pool: .shared))
                var tensors: [Tensor] = []
                for v in vals { if let t = v.tensor { tensors.append(t) } }
                guard tensors.count >= n.outputs.count else { kept.append(n); continue }
                for (k, name) in n.outputs.enumerated() {
                    consts[name] = tensors[k]
                    out.initializers.append((name, tensors[k]))
                }
            } catch {
                kept.append(n)
            }
        }
        out.nodes = kept
        return out
    }

    /// Drops initializers nothing reads (after folding and fusion).
    func removeUnusedInitializers(_ g: Graph) -> Graph {
        var used = Set<String>()
        for n in g.nodes { used.formUnion(n.inputs) }
        used.formUnion(protectedNames(g))
        used.formUnion(g.inputs.map(\.name))
        var out = g
        out.initializers = g.initializers.filter { used.contains($0.name) }
        return out
    }

    /// A fresh initializer name based on `base`.
    func freshName(_ base: String, _ taken: inout Set<String>) -> String {
        var name = base
        var i = 1
        while taken.contains(name) { name = "\(base)_\(i)"; i += 1 }
        taken.insert(name)
        return name
    }

    func allNames(_ g: Graph) -> Set<String> {
        var s = Set(g.initializers.map(\.name))
        s.formUnion(g.inputs.map(\.name))
        for n in g.nodes { s.formUnion(n.outputs) }
        return s
    }

    /// Conv(X, W, B?) → BatchNormalization (constant statistics, inference mode): scales W and shifts B.
    func foldBatchNorm(_ g: Graph) -> Graph {
        let consts = constants(g)
        let uses = useCounts(g)
        var producer: [String: Int] = [:]
        for (i, n) in g.nodes.enumerated() { for o in n.outputs where !o.isEmpty { producer[o] = i } }
        var nodes: [Node?] = g.nodes
        var out = g
        var taken = allNames(g)
        for (bi, bn) in g.nodes.enumerated() {
            guard Self.isStandard(bn), bn.opType == "BatchNormalization", bn.inputs.count == 5,
                  bn.outputs.count == 1 || bn.outputs.dropFirst().allSatisfy({ $0.isEmpty }),
                  (try? NodeContext.intAttr(bn, "training_mode")) ?? 0 == 0,
                  let ci = producer[bn.inputs[0]], let conv = nodes[ci], Self.isStandard(conv), conv.opType == "Conv",
                  conv.outputs.count == 1, uses[conv.outputs[0]] == 1,
                  conv.inputs.count >= 2, let w = consts[conv.inputs[1]], w.dtype == .float32, w.rank >= 3 else { continue }
            let m = w.shape[0]
            guard m > 0, let scale = consts[bn.inputs[1]], let beta = consts[bn.inputs[2]], let mean = consts[bn.inputs[3]],
                  let variance = consts[bn.inputs[4]],
                  [scale, beta, mean, variance].allSatisfy({ $0.dtype == .float32 && $0.count == m }) else { continue }
            var b0 = [Float](repeating: 0, count: m)
            if conv.inputs.count >= 3, !conv.inputs[2].isEmpty {
                guard let bt = consts[conv.inputs[2]], bt.dtype == .float32, bt.count == m, let v = try? bt.toArray(Float.self) else { continue }
                b0 = v
            }
            var eps: Float = 1e-5
            if case .float(let e)? = bn.attributes["epsilon"] { eps = e }
            guard let sc = try? scale.toArray(Float.self), let be = try? beta.toArray(Float.self),
                  let mu = try? mean.toArray(Float.self), let va = try? variance.toArray(Float.self),
                  var wv = try? w.toArray(Float.self) else { continue }
            let per = w.count / m
            var nb = [Float](repeating: 0, count: m)
            for oc in 0..<m {
                let s = Double(sc[oc]) / (Double(va[oc]) + Double(eps)).squareRoot()
                for j in 0..<per { wv[oc * per + j] = Float(Double(wv[oc * per + j]) * s) }
                nb[oc] = Float((Double(b0[oc]) - Double(mu[oc])) * s + Double(be[oc]))
            }
            let wName = freshName(conv.inputs[1] + "_bn", &taken), bName = freshName(conv.outputs[0] + "_bn_bias", &taken)
            out.initializers.append((wName, Tensor(shape: w.shape, checkedValues: wv)))
            out.initializers.append((bName, Tensor(shape: [m], checkedValues: nb)))
            var c = conv
            c.inputs = [conv.inputs[0], wName, bName]
            c.outputs = [bn.outputs[0]]
            nodes[ci] = c
            nodes[bi] = nil
        }
        out.nodes = nodes.compactMap { $0 }
        return out
    }

    /// Conv with a constant float W → FusedConv; MatMul / Gemm with a constant 2-D float B → FusedMatMul.
    func fuseLinear(_ g: Graph) -> Graph {
        let consts = constants(g)
        var out = g
        var taken = allNames(g)
        out.nodes = g.nodes.map { n in
            guard Self.isStandard(n) else { return n }
            switch n.opType {
            case "Conv":
                guard n.inputs.count >= 2, let w = consts[n.inputs[1]], w.dtype == .float32, n.outputs.count == 1 else { return n }
                var f = n
                f.opType = "FusedConv"; f.domain = Self.onyxDomain
                return f
            case "MatMul":
                guard n.inputs.count == 2, let b = consts[n.inputs[1]], b.dtype == .float32, b.rank == 2 else { return n }
                var f = n
                f.opType = "FusedMatMul"; f.domain = Self.onyxDomain; f.attributes = [:]
                return f
            case "Gemm":
                guard n.inputs.count >= 2, let b = consts[n.inputs[1]], b.dtype == .float32, b.rank == 2,
                      (try? NodeContext.intAttr(n, "transA")) ?? 0 == 0 else { return n }
                let transB = ((try? NodeContext.intAttr(n, "transB")) ?? 0) != 0
                let nOut = transB ? b.shape[0] : b.shape[1]
                var alpha: Float = 1, beta: Float = 1
                if case .float(let a)? = n.attributes["alpha"] { alpha = a }
                if case .float(let v)? = n.attributes["beta"] { beta = v }
                var inputs = [n.inputs[0], n.inputs[1]]
                if alpha != 1 {
                    guard let v = try? b.toArray(Float.self) else { return n }
                    let name = freshName(n.inputs[1] + "_alpha", &taken)
                    out.initializers.append((name, Tensor(shape: b.shape, checkedValues: v.map { $0 * alpha })))
                    inputs[1] = name
                }
                if n.inputs.count >= 3, !n.inputs[2].isEmpty {
                    guard let c = consts[n.inputs[2]], c.dtype == .float32, c.count == nOut,
                          c.shape == [nOut] || c.shape == [1, nOut], let v = try? c.toArray(Float.self) else { return n }
                    if beta != 0 {
                        let name = freshName(n.inputs[2] + "_bias", &taken)
                        out.initializers.append((name, Tensor(shape: [nOut], checkedValues: v.map { $0 * beta })))
                        inputs.append(name)
                    }
                }
                var f = n
                f.opType = "FusedMatMul"; f.domain = Self.onyxDomain
                f.inputs = inputs
                f.attributes = ["transB": .int(transB ? 1 : 0)]
                return f
            default: return n
            }
        }
        return out
    }

    /// Runs `rule` on each fused node whose single output has exactly one reader; `rule` gets the reader and
    /// returns the updated fused node (taking over the reader's outputs) or nil to leave both alone.
    func absorbReader(_ g: Graph, _ opType: Set<String>, _ rule: (Node, Node, [String: Tensor]) -> Node?) -> Graph {
        let consts = constants(g)
        let uses = useCounts(g)
        var readerOf: [String: Int] = [:]
        for (i, n) in g.nodes.enumerated() { for inp in n.inputs where !inp.isEmpty { readerOf[inp] = i } }
        var nodes: [Node?] = g.nodes
        for i in nodes.indices {
            guard let f = nodes[i], f.domain == Self.onyxDomain, opType.contains(f.opType), f.outputs.count == 1,
                  uses[f.outputs[0]] == 1, let ri = readerOf[f.outputs[0]], ri != i, let r = nodes[ri], Self.isStandard(r),
                  let nf = rule(f, r, consts) else { continue }
            nodes[i] = nf
            nodes[ri] = nil
        }
        var out = g
        out.nodes = nodes.compactMap { $0 }
        return out
    }

    /// FusedMatMul without bias → Add(·, c) with c a constant vector of N values: bias in the epilogue.
    func fuseMatMulBias(_ g: Graph) -> Graph {
        absorbReader(g, ["FusedMatMul"]) { f, r, consts in
            guard r.opType == "Add", r.inputs.count == 2, r.outputs.count == 1, f.inputs.count == 2 else { return nil }
            let other = r.inputs[0] == f.outputs[0] ? r.inputs[1] : r.inputs[0]
            guard other != f.outputs[0], let b = consts[f.inputs[1]], let c = consts[other], c.dtype == .float32, c.rank == 1 else { return nil }
            let transB = f.attributes["transB"].flatMap { a -> Int? in if case .int(let v) = a { return v }; return nil } ?? 0
            let nOut = transB != 0 ? b.shape[0] : b.shape[1]
            guard c.count == nOut, f.attributes["activation"] == nil else { return nil }
            var nf = f
            nf.inputs.append(other)
            nf.outputs = r.outputs
            return nf
        }
    }

    /// FusedConv → Add / Sum(2) with another value: the residual goes in the epilogue (input Z).
    func fuseResidual(_ g: Graph) -> Graph {
        absorbReader(g, ["FusedConv"]) { f, r, _ in
            guard r.opType == "Add" || r.opType == "Sum", r.inputs.count == 2, r.outputs.count == 1,
                  f.inputs.count <= 3, f.attributes["activation"] == nil else { return nil }
            let other = r.inputs[0] == f.outputs[0] ? r.inputs[1] : r.inputs[0]
            guard !other.isEmpty, other != f.outputs[0] else { return nil }
            var nf = f
            while nf.inputs.count < 3 { nf.inputs.append("") }
            nf.inputs.append(other)
            nf.outputs = r.outputs
            return nf
        }
    }

    /// Fused op → elementwise activation: the activation goes in the epilogue.
    func fuseActivation(_ g: Graph) -> Graph {
        let opset = opsets[""] ?? 21
        return absorbReader(g, ["FusedConv", "FusedMatMul"]) { f, r, consts in
            guard f.attributes["activation"] == nil, r.outputs.count == 1,
                  let a = Self.activationAttributes(r, consts, opset: opset) else { return nil }
            var nf = f
            nf.attributes["activation"] = .string(a.name)
            if !a.params.isEmpty { nf.attributes["activation_params"] = .floats(a.params) }
            nf.outputs = r.outputs
            return nf
        }
    }

    /// The fused-op `activation` / `activation_params` for an elementwise activation node (nil: not one).
    static func activationAttributes(_ r: Node, _ consts: [String: Tensor], opset: Int) -> (name: String, params: [Float])? {
        guard !r.inputs.isEmpty else { return nil }
        var params: [Float] = []
        func floatAttr(_ k: String, _ d: Float) -> Float {
            switch r.attributes[k] { case .float(let v)?: return v; case .int(let v)?: return Float(v); default: return d }
        }
        switch r.opType {
        case "Relu", "Sigmoid", "Tanh", "HardSwish":
            guard r.inputs.count == 1 else { return nil }
        case "LeakyRelu":
            params = [floatAttr("alpha", 0.01)]
        case "HardSigmoid":
            params = [floatAttr("alpha", 0.2), floatAttr("beta", 0.5)]
        case "Clip":
            var lo = -Float.infinity, hi = Float.infinity
            if opset < 11 {
                lo = floatAttr("min", lo); hi = floatAttr("max", hi)
            } else {
                if r.inputs.count > 1, !r.inputs[1].isEmpty {
                    guard let t = consts[r.inputs[1]], t.dtype == .float32, t.count == 1, let v = try? t.toArray(Float.self) else { return nil }
                    lo = v[0]
                }
                if r.inputs.count > 2, !r.inputs[2].isEmpty {
                    guard let t = consts[r.inputs[2]], t.dtype == .float32, t.count == 1, let v = try? t.toArray(Float.self) else { return nil }
                    hi = v[0]
                }
            }
            params = [lo, hi]
        default:
            return nil
        }
        return (r.opType, params)
    }
}

extension NodeContext {
    /// An int attribute of a node (nil when absent).
    static func intAttr(_ n: Node, _ name: String) throws -> Int? {
        switch n.attributes[name] {
        case nil: return nil
        case .int(let v): return v
        default: throw KernelError("attribute '\(name)' must be an int")
        }
    }
}

extension GraphOptimizer {
    /// Metadata key marking a model whose graph `optimizeModel` already optimized.
    public static let optimizedMarker = "onyx.optimized_level"

    /// The model with its functions inlined and its graph optimized at `level`, marked so that sessions
    /// load it without optimizing again; declares the ai.onyx domain for the fused ops.
    public static func optimizeModel(_ m: Model, level: OptimizationLevel) throws -> Model {
        var opsets = m.opsets
        if let v = opsets["ai.onnx"], opsets[""] == nil { opsets[""] = v }
        var inlined = try FunctionInliner.inline(m.graph, functions: m.functions)
        var out = m
        if m.irVersion < 4 {
            // Initializers listed as inputs are constants before IR 4 (as in InferenceSession); IR 4 lets them go.
            let inits = Set(inlined.initializers.map(\.name))
            inlined.inputs.removeAll { inits.contains($0.name) }
            out.irVersion = 4
        }
        out.graph = try GraphOptimizer(level: level, opsets: opsets).optimize(inlined)
        out.functions = []
        if out.graph.nodes.contains(where: { $0.domain == onyxDomain }) { out.opsets[onyxDomain] = 1 }
        out.metadata.removeAll { $0.key == optimizedMarker }
        out.metadata.append((optimizedMarker, level.rawValue))
        return out
    }
}
