import OnyxTensor

/// Transformer fusions: decomposed LayerNormalization and GELU back into single kernels, Add + LayerNormalization
/// into ai.onyx.SkipLayerNormalization, the scaled dot-product attention subgraph (with its head-split
/// Transposes) into ai.onyx.FusedAttention, and GELU into the FusedMatMul epilogue.
extension GraphOptimizer {
    /// Producers, readers, use counts, constants and declared types of a graph, for pattern matching.
    struct GraphIndex {
        let nodes: [Node]
        let consts: [String: Tensor]
        let uses: [String: Int]
        let protected: Set<String>
        var producer: [String: Int] = [:]
        var readers: [String: [Int]] = [:]
        var types: [String: ValueType] = [:]

        init(_ opt: GraphOptimizer, _ g: Graph) {
            nodes = g.nodes
            consts = opt.constants(g)
            uses = opt.useCounts(g)
            protected = opt.protectedNames(g)
            for (i, n) in g.nodes.enumerated() {
                for o in n.outputs where !o.isEmpty { producer[o] = i }
                for inp in Set(n.inputs) where !inp.isEmpty { readers[inp, default: []].append(i) }
            }
            for v in g.inputs + g.valueInfo + g.outputs { types[v.name] = v.type }
            for (name, t) in g.initializers { types[name] = .tensor(t.dtype, shape: t.shape.map { .fixed($0) }) }
        }

        /// The standard-domain node of type `op` producing `name` (as its first output, other outputs unused).
        func producer(_ name: String, _ ops: Set<String>) -> (index: Int, node: Node)? {
            guard let i = producer[name] else { return nil }
            let n = nodes[i]
            guard GraphOptimizer.isStandard(n), ops.contains(n.opType), n.outputs.first == name,
                  n.outputs.dropFirst().allSatisfy({ $0.isEmpty || (uses[$0] ?? 0) == 0 }) else { return nil }
            return (i, n)
        }

        /// The only reader of `name` when it has exactly one use, if it is a standard node of type `op`.
        func soleReader(_ name: String, _ ops: Set<String>) -> (index: Int, node: Node)? {
            guard uses[name] == 1, let rs = readers[name], rs.count == 1 else { return nil }
            let n = nodes[rs[0]]
            guard GraphOptimizer.isStandard(n), ops.contains(n.opType), n.outputs.count == 1 else { return nil }
            return (rs[0], n)
        }

        func single(_ name: String) -> Bool { uses[name] == 1 }

        /// A constant float32 scalar (one element).
        func scalar(_ name: String) -> Float? {
            guard let t = consts[name], t.dtype == .float32, t.count == 1, let v = try? t.toArray(Float.self) else { return nil }
            return v[0]
        }

        /// The input of binary node `n` other than `name` (nil unless `name` is exactly one of its two inputs).
        func other(_ n: Node, _ name: String) -> String? {
            guard n.inputs.count == 2 else { return nil }
            if n.inputs[0] == name && n.inputs[1] != name { return n.inputs[1] }
            if n.inputs[1] == name && n.inputs[0] != name { return n.inputs[0] }
            return nil
        }

        /// Statically known rank of a value (declared type or initializer).
        func rank(_ name: String) -> Int? { types[name]?.tensorShape?.count }
        func dtype(_ name: String) -> DType? { types[name]?.tensorDType }
    }

    /// Rebuilds the node list: `replace` puts a node at an index, `remove` drops indices.
    func rewrite(_ g: Graph, replace: [Int: Node], remove: Set<Int>) -> Graph {
        var out = g
        out.nodes = g.nodes.enumerated().compactMap { i, n in replace[i] ?? (remove.contains(i) ? nil : n) }
        return out
    }

    static func near(_ a: Float, _ b: Float, _ rel: Float = 1e-4) -> Bool { abs(a - b) <= rel * abs(b) }

    /// Axis list of a ReduceMean (attribute before opset 18, constant input after) is the last axis only.
    func reducesLastAxis(_ n: Node, _ ix: GraphIndex, rank: Int?) -> Bool {
        guard (try? NodeContext.intAttr(n, "keepdims")) ?? 1 == 1 else { return false }
        var axes: [Int]?
        if case .ints(let a)? = n.attributes["axes"] { axes = a }
        if n.inputs.count > 1, !n.inputs[1].isEmpty {
            guard let t = ix.consts[n.inputs[1]], let v = try? t.toArray(Int64.self) else { return false }
            axes = v.map { Int($0) }
        }
        guard let axes, axes.count == 1 else { return false }
        return axes[0] == -1 || (rank.map { axes[0] == $0 - 1 } ?? false)
    }

    /// ReduceMean → Sub → Pow 2 | Mul self → ReduceMean → Add ε → Sqrt → Div → Mul γ → Add β?
    /// → LayerNormalization (ai.onyx before opset 17).
    func fuseLayerNorm(_ g: Graph) -> Graph {
        let ix = GraphIndex(self, g)
        var replace: [Int: Node] = [:], remove = Set<Int>()
        let domain = (opsets[""] ?? 21) >= 17 ? "" : Self.onyxDomain
        for (di, div) in g.nodes.enumerated() {
            guard Self.isStandard(div), div.opType == "Div", div.inputs.count == 2, div.outputs.count == 1 else { continue }
            let dName = div.inputs[0], sName = div.inputs[1]
            guard let (subI, sub) = ix.producer(dName, ["Sub"]), sub.inputs.count == 2,
                  let (m1I, m1) = ix.producer(sub.inputs[1], ["ReduceMean"]), ix.single(m1.outputs[0]), m1.inputs.first == sub.inputs[0],
                  let (sqI, sqrt) = ix.producer(sName, ["Sqrt"]), ix.single(sName),
                  let (aeI, addEps) = ix.producer(sqrt.inputs[0], ["Add"]), ix.single(addEps.outputs[0]), addEps.inputs.count == 2
            else { continue }
            let x = sub.inputs[0], rank = ix.rank(x)
            guard let (vI, varNode) = ix.producer(addEps.inputs[0], ["ReduceMean"]).map({ ($0.index, $0.node) })
                    ?? ix.producer(addEps.inputs[1], ["ReduceMean"]).map({ ($0.index, $0.node) }),
                  ix.single(varNode.outputs[0]), let epsName = ix.other(addEps, varNode.outputs[0]), let eps = ix.scalar(epsName),
                  let (pI, pw) = ix.producer(varNode.inputs[0], ["Pow", "Mul"]), ix.single(pw.outputs[0]),
                  reducesLastAxis(m1, ix, rank: rank), reducesLastAxis(varNode, ix, rank: rank) else { continue }
            if pw.opType == "Pow" {
                guard pw.inputs.count == 2, pw.inputs[0] == dName, ix.scalar(pw.inputs[1]) == 2, ix.uses[dName] == 2 else { continue }
            } else {
                guard pw.inputs == [dName, dName], ix.uses[dName] == 3 else { continue }
            }
            guard let (mgI, mulG) = ix.soleReader(div.outputs[0], ["Mul"]), let gamma = ix.other(mulG, div.outputs[0]),
                  let gt = ix.consts[gamma], gt.dtype == .float32, gt.rank == 1 else { continue }
            var inputs = [x, gamma]
            var last = (mgI, mulG)
            if let (abI, addB) = ix.soleReader(mulG.outputs[0], ["Add"]), let beta = ix.other(addB, mulG.outputs[0]),
               let bt = ix.consts[beta], bt.dtype == .float32, bt.rank == 1 {
                inputs.append(beta)
                last = (abI, addB)
            }
            let used: Set<Int> = [di, subI, m1I, sqI, aeI, vI, pI, mgI, last.0]
            guard used.isDisjoint(with: remove), used.allSatisfy({ replace[$0] == nil }) else { continue }
            remove.formUnion(used)
            replace[last.0] = Node(name: last.1.name + "_layernorm", opType: "LayerNormalization", domain: domain, inputs: inputs,
                                   outputs: last.1.outputs, attributes: ["axis": .int(-1), "epsilon": .float(eps)])
        }
        return replace.isEmpty ? g : rewrite(g, replace: replace, remove: remove.subtracting(replace.keys))
    }

    /// x·0.5·(1 + erf(x/√2)) in its exporter orderings, and 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    /// → Gelu (ai.onyx before opset 20; `approximate` = "tanh" for the second).
    func fuseGelu(_ g: Graph) -> Graph {
        let ix = GraphIndex(self, g)
        var replace: [Int: Node] = [:], remove = Set<Int>()
        let domain = (opsets[""] ?? 21) >= 20 ? "" : Self.onyxDomain
        for (ei, e) in g.nodes.enumerated() {
            guard Self.isStandard(e), e.opType == "Erf" || e.opType == "Tanh", e.inputs.count == 1, e.outputs.count == 1,
                  ix.single(e.inputs[0]) else { continue }
            var used: Set<Int> = [ei]
            let x: String
            if e.opType == "Erf" {
                guard let (ti, t) = ix.producer(e.inputs[0], ["Mul", "Div"]), t.inputs.count == 2 else { continue }
                if t.opType == "Div" {
                    guard let c = ix.scalar(t.inputs[1]), Self.near(c, 1.41421356) else { continue }
                    x = t.inputs[0]
                } else if let c = ix.scalar(t.inputs[1]), Self.near(c, 0.70710678) {
                    x = t.inputs[0]
                } else if let c = ix.scalar(t.inputs[0]), Self.near(c, 0.70710678) {
                    x = t.inputs[1]
                } else { continue }
                used.insert(ti)
            } else {
                // u = c·(x + 0.044715·x³), x³ = Pow(x, 3) | x·(x·x) | (x·x)·x
                guard let (ui, u) = ix.producer(e.inputs[0], ["Mul"]), u.inputs.count == 2 else { continue }
                let inner: String
                if let c = ix.scalar(u.inputs[1]), Self.near(c, 0.7978845608) { inner = u.inputs[0] }
                else if let c = ix.scalar(u.inputs[0]), Self.near(c, 0.7978845608) { inner = u.inputs[1] }
                else { continue }
                guard ix.single(inner), let (ai, add) = ix.producer(inner, ["Add"]), add.inputs.count == 2 else { continue }
                var found: (String, Set<Int>)?
                for (xi, wi) in [(0, 1), (1, 0)] {
                    let cx = add.inputs[xi], w = add.inputs[wi]
                    guard ix.single(w), let (mi, m) = ix.producer(w, ["Mul"]), m.inputs.count == 2 else { continue }
                    let cube: String
                    if let c = ix.scalar(m.inputs[1]), Self.near(c, 0.044715) { cube = m.inputs[0] }
                    else if let c = ix.scalar(m.inputs[0]), Self.near(c, 0.044715) { cube = m.inputs[1] }
                    else { continue }
                    guard ix.single(cube), let (ci, cn) = ix.producer(cube, ["Pow", "Mul"]), cn.inputs.count == 2 else { continue }
                    if cn.opType == "Pow" {
                        guard cn.inputs[0] == cx, ix.scalar(cn.inputs[1]) == 3 else { continue }
                        found = (cx, [mi, ci])
                    } else {
                        let sqName = cn.inputs[0] == cx ? cn.inputs[1] : cn.inputs[0]
                        guard cn.inputs.contains(cx), ix.single(sqName), let (si, sq) = ix.producer(sqName, ["Mul"]),
                              sq.inputs == [cx, cx] else { continue }
                        found = (cx, [mi, ci, si])
                    }
                    break
                }
                guard let (cx, more) = found else { continue }
                x = cx
                used.formUnion(more); used.formUnion([ui, ai])
            }
            // (1 + e) then the three-factor product x · (1 + e) · 0.5 in any grouping.
            guard let (oi, one) = ix.soleReader(e.outputs[0], ["Add"]), let oneName = ix.other(one, e.outputs[0]),
                  ix.scalar(oneName) == 1, let (r1i, r1) = ix.soleReader(one.outputs[0], ["Mul"]),
                  let f = ix.other(r1, one.outputs[0]) else { continue }
            used.formUnion([oi, r1i])
            var last = r1i, out = r1.outputs[0]
            if f == x || ix.scalar(f).map({ Self.near($0, 0.5, 1e-6) }) == true {
                guard let (r2i, r2) = ix.soleReader(r1.outputs[0], ["Mul"]), let f2 = ix.other(r2, r1.outputs[0]) else { continue }
                if f == x { guard ix.scalar(f2).map({ Self.near($0, 0.5, 1e-6) }) == true else { continue } }
                else { guard f2 == x else { continue } }
                used.insert(r2i); last = r2i; out = r2.outputs[0]
            } else {
                guard ix.single(f), let (hi, h) = ix.producer(f, ["Mul"]), let hc = ix.other(h, x),
                      ix.scalar(hc).map({ Self.near($0, 0.5, 1e-6) }) == true else { continue }
                used.insert(hi)
            }
            guard used.isDisjoint(with: remove) else { continue }
            remove.formUnion(used)
            var attrs: [String: Attribute] = [:]
            if e.opType == "Tanh" { attrs["approximate"] = .string("tanh") }
            replace[last] = Node(name: g.nodes[last].name + "_gelu", opType: "Gelu", domain: domain, inputs: [x], outputs: [out],
                                 attributes: attrs)
        }
        return replace.isEmpty ? g : rewrite(g, replace: replace, remove: remove.subtracting(replace.keys))
    }

    /// Add(a, b) read only by LayerNormalization over the last axis with constant float Scale (and B)
    /// → ai.onyx.SkipLayerNormalization(a, b, Scale, B).
    func fuseSkipLayerNorm(_ g: Graph) -> Graph {
        let ix = GraphIndex(self, g)
        var replace: [Int: Node] = [:], remove = Set<Int>()
        for (li, ln) in g.nodes.enumerated() {
            guard ln.opType == "LayerNormalization", Self.isStandard(ln) || ln.domain == Self.onyxDomain,
                  ln.inputs.count >= 2, ln.outputs.count >= 1,
                  ln.outputs.dropFirst().allSatisfy({ $0.isEmpty || (ix.uses[$0] ?? 0) == 0 }) else { continue }
            let axisV = (try? NodeContext.intAttr(ln, "axis")) ?? -1
            guard axisV == -1 || ix.rank(ln.inputs[0]).map({ axisV == $0 - 1 }) == true,
                  let s = ix.consts[ln.inputs[1]], s.dtype == .float32,
                  ln.inputs.count < 3 || ln.inputs[2].isEmpty || ix.consts[ln.inputs[2]]?.dtype == .float32,
                  ix.single(ln.inputs[0]), let (ai, add) = ix.producer(ln.inputs[0], ["Add"]), add.inputs.count == 2,
                  !add.inputs.contains(where: \.isEmpty), !remove.contains(ai) else { continue }
            var eps: Float = 1e-5
            if case .float(let v)? = ln.attributes["epsilon"] { eps = v }
            remove.insert(ai)
            var inputs = add.inputs + [ln.inputs[1]]
            if ln.inputs.count >= 3, !ln.inputs[2].isEmpty { inputs.append(ln.inputs[2]) }
            replace[li] = Node(name: ln.name + "_skip", opType: "SkipLayerNormalization", domain: Self.onyxDomain, inputs: inputs,
                               outputs: [ln.outputs[0]], attributes: ["epsilon": .float(eps)])
        }
        return replace.isEmpty ? g : rewrite(g, replace: replace, remove: remove)
    }

    /// MatMul(Q, Kᵀ) → Mul / Div by a constant scale (optional) → Add mask (optional) → Softmax(last axis) → MatMul V,
    /// with the Transposes that feed Q, K, V and the one after the output folded in → ai.onyx.FusedAttention.
    func fuseAttention(_ g: Graph) -> Graph {
        let ix = GraphIndex(self, g)
        var replace: [Int: Node] = [:], remove = Set<Int>()
        let opset = opsets[""] ?? 21
        for (si, sm) in g.nodes.enumerated() {
            guard Self.isStandard(sm), sm.opType == "Softmax", sm.inputs.count == 1, sm.outputs.count == 1 else { continue }
            let axisV = (try? NodeContext.intAttr(sm, "axis")) ?? (opset >= 13 ? -1 : 1)
            guard axisV == -1 || axisV == 3 else { continue }
            var used: Set<Int> = [si]
            var cur = sm.inputs[0]
            var mask: String?
            var scale: Float = 1
            var isFloat = false
            guard ix.single(cur) else { continue }
            // Optional mask Add: the side whose producer chain reaches a MatMul is the scores.
            if let (ai, add) = ix.producer(cur, ["Add"]), add.inputs.count == 2 {
                let chain: Set<String> = ["Mul", "Div", "MatMul"]
                let first = ix.producer(add.inputs[0], chain) != nil && ix.single(add.inputs[0])
                let (sc, mk) = first ? (add.inputs[0], add.inputs[1]) : (add.inputs[1], add.inputs[0])
                guard ix.producer(sc, chain) != nil, ix.single(sc), sc != mk, ix.rank(mk) ?? 0 <= 4 else { continue }
                if let dt = ix.dtype(mk) { guard dt == .float32 else { continue }; isFloat = true }
                mask = mk; cur = sc; used.insert(ai)
            }
            if let (mi, mul) = ix.producer(cur, ["Mul", "Div"]), mul.inputs.count == 2 {
                if mul.opType == "Div" {
                    guard let c = ix.scalar(mul.inputs[1]), c != 0 else { continue }
                    scale = Float(1 / Double(c)); cur = mul.inputs[0]
                } else if let c = ix.scalar(mul.inputs[1]) {
                    scale = c; cur = mul.inputs[0]
                } else if let c = ix.scalar(mul.inputs[0]) {
                    scale = c; cur = mul.inputs[1]
                } else { continue }
                guard ix.single(cur) else { continue }
                isFloat = true
                used.insert(mi)
            }
            guard let (qi, qk) = ix.producer(cur, ["MatMul"]), qk.inputs.count == 2,
                  let (pi, pv) = ix.soleReader(sm.outputs[0], ["MatMul"]), pv.inputs.count == 2, pv.inputs[0] == sm.outputs[0],
                  pv.inputs[1] != sm.outputs[0] else { continue }
            used.formUnion([qi, pi])
            /// The 4-D source of a MatMul operand and its permutation (through a single-use Transpose when present).
            func source(_ name: String) -> (String, [Int], Int?)? {
                if let (ti, t) = ix.producer(name, ["Transpose"]), case .ints(let p)? = t.attributes["perm"], p.count == 4 {
                    return (t.inputs[0], p, ix.single(name) ? ti : nil)
                }
                guard ix.rank(name) == 4 else { return nil }
                return (name, [0, 1, 2, 3], nil)
            }
            guard let (qIn, qPerm, qT) = source(qk.inputs[0]), let (kIn, ktPerm, kT) = source(qk.inputs[1]),
                  let (vIn, vPerm, vT) = source(pv.inputs[1]) else { continue }
            if !isFloat { isFloat = [qk.inputs[0], qk.inputs[1], pv.inputs[1], qIn, kIn, vIn].contains { ix.dtype($0) == .float32 } }
            guard isFloat else { continue }
            let kPerm = [ktPerm[0], ktPerm[1], ktPerm[3], ktPerm[2]]
            for t in [qT, kT, vT] { if let t { used.insert(t) } }
            var outPerm = [0, 1, 2, 3]
            var output = pv.outputs[0], last = pi
            if let (oi, ot) = ix.soleReader(pv.outputs[0], ["Transpose"]), case .ints(let p)? = ot.attributes["perm"], p.count == 4, p[3] == 3 {
                outPerm = p; output = ot.outputs[0]; last = oi
                used.insert(oi)
            }
            // A mask of unknown rank is safe only when a 4-D Transpose reads the result (a rank-5 mask would make
            // the unfused graph fail there).
            if let mask, ix.rank(mask) == nil, outPerm == [0, 1, 2, 3] { continue }
            guard used.isDisjoint(with: remove), used.allSatisfy({ replace[$0] == nil }) else { continue }
            remove.formUnion(used)
            var inputs = [qIn, kIn, vIn]
            if let mask { inputs.append(mask) }
            replace[last] = Node(name: sm.name + "_attention", opType: "FusedAttention", domain: Self.onyxDomain, inputs: inputs,
                                 outputs: [output],
                                 attributes: ["q_perm": .ints(qPerm), "k_perm": .ints(kPerm), "v_perm": .ints(vPerm),
                                              "out_perm": .ints(outPerm), "scale": .float(scale)])
        }
        return replace.isEmpty ? g : rewrite(g, replace: replace, remove: remove.subtracting(replace.keys))
    }

    /// Gelu (exact) read only from a FusedMatMul without activation: GELU goes in the GEMM epilogue.
    func fuseGeluEpilogue(_ g: Graph) -> Graph {
        let ix = GraphIndex(self, g)
        var replace: [Int: Node] = [:], remove = Set<Int>()
        for (i, n) in g.nodes.enumerated() {
            guard n.opType == "Gelu", Self.isStandard(n) || n.domain == Self.onyxDomain, n.inputs.count == 1, n.outputs.count == 1,
                  n.attributes["approximate"].map({ if case .string("none") = $0 { return true }; return false }) ?? true,
                  ix.single(n.inputs[0]), let pi = ix.producer[n.inputs[0]], !remove.contains(pi), replace[pi] == nil else { continue }
            var f = g.nodes[pi]
            guard f.domain == Self.onyxDomain, f.opType == "FusedMatMul", f.outputs.count == 1, f.attributes["activation"] == nil else { continue }
            f.attributes["activation"] = .string("Gelu")
            f.outputs = n.outputs
            replace[pi] = f
            remove.insert(i)
        }
        return replace.isEmpty ? g : rewrite(g, replace: replace, remove: remove)
    }
}
