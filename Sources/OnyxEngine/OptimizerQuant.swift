import OnyxTensor

/// Int8 fusions: ONNX Runtime's dynamic-quantization chain becomes one ai.onyx.DynamicQuantMatMul kernel.
extension GraphOptimizer {
    /// `DynamicQuantizeLinear(X)` → `MatMulInteger(Xq, W, Xzp, Wzp?)` → `Cast(float)` → `Mul(·, Mul(Xscale, Ws))`
    /// [→ `Add(·, bias)`] with constant W (2-D int8/uint8), Ws (1 or N floats), Wzp and bias (N floats)
    /// → `ai.onyx.DynamicQuantMatMul(X, W, Ws, Wzp, bias)`. Intermediate values must have no other reader;
    /// the DynamicQuantizeLinear goes when every reader was fused (Q, K and V projections share one).
    func fuseDynamicQuantMatMul(_ g: Graph) -> Graph {
        let consts = constants(g)
        let uses = useCounts(g)
        var producer: [String: Int] = [:], readers: [String: [Int]] = [:]
        for (i, n) in g.nodes.enumerated() {
            for o in n.outputs where !o.isEmpty { producer[o] = i }
            for x in n.inputs where !x.isEmpty { readers[x, default: []].append(i) }
        }
        func only(_ value: String, _ op: String) -> Int? {
            guard uses[value] == 1, let r = readers[value]?.first else { return nil }
            let n = g.nodes[r]
            return Self.isStandard(n) && n.opType == op ? r : nil
        }
        func floatVector(_ name: String, _ n: Int) -> Bool {
            guard let t = consts[name], t.dtype == .float32, t.rank <= 1 else { return false }
            return t.count == 1 || t.count == n
        }
        var removed = Set<Int>(), fusedAt: [Int: Node] = [:]
        for (i, mm) in g.nodes.enumerated() where Self.isStandard(mm) && mm.opType == "MatMulInteger" {
            guard mm.inputs.count >= 3, mm.outputs.count == 1,
                  let d = producer[mm.inputs[0]], Self.isStandard(g.nodes[d]),
                  g.nodes[d].opType == "DynamicQuantizeLinear", g.nodes[d].outputs.count == 3,
                  g.nodes[d].inputs.count == 1, mm.inputs[2] == g.nodes[d].outputs[2],
                  let w = consts[mm.inputs[1]], w.rank == 2, w.dtype == .int8 || w.dtype == .uint8 else { continue }
            let n = w.shape[1]
            let wzp = mm.inputs.count > 3 ? mm.inputs[3] : ""
            if !wzp.isEmpty {
                guard let z = consts[wzp], z.dtype == w.dtype, z.rank <= 1, z.count == 1 || z.count == n else { continue }
            }
            guard let c = only(mm.outputs[0], "Cast"), Self.castsToFloat(g.nodes[c]),
                  let mul = only(g.nodes[c].outputs[0], "Mul"), g.nodes[mul].inputs.count == 2 else { continue }
            let castOut = g.nodes[c].outputs[0]
            let sName = g.nodes[mul].inputs[0] == castOut ? g.nodes[mul].inputs[1] : g.nodes[mul].inputs[0]
            guard let s = producer[sName], uses[sName] == 1, Self.isStandard(g.nodes[s]), g.nodes[s].opType == "Mul",
                  g.nodes[s].inputs.count == 2 else { continue }
            let xScale = g.nodes[d].outputs[1]
            let sIn = g.nodes[s].inputs
            guard sIn.contains(xScale) else { continue }
            let ws = sIn[0] == xScale ? sIn[1] : sIn[0]
            guard floatVector(ws, n), consts[ws]?.count == 1 || consts[ws]?.rank == 1 else { continue }
            var last = mul, bias = ""
            let mulOut = g.nodes[mul].outputs[0]
            if let add = only(mulOut, "Add"), g.nodes[add].inputs.count == 2 {
                let other = g.nodes[add].inputs[0] == mulOut ? g.nodes[add].inputs[1] : g.nodes[add].inputs[0]
                if let bt = consts[other], bt.dtype == .float32, bt.rank == 1, bt.count == n { last = add; bias = other }
            }
            var inputs = [g.nodes[d].inputs[0], mm.inputs[1], ws, wzp]
            if !bias.isEmpty { inputs.append(bias) }
            let fused = Node(name: mm.name.isEmpty ? "DynamicQuantMatMul_\(i)" : mm.name + "_fused",
                             opType: "DynamicQuantMatMul", domain: Self.onyxDomain, inputs: inputs,
                             outputs: [g.nodes[last].outputs[0]])
            removed.formUnion([i, c, s, mul, last])
            fusedAt[last] = fused
        }
        if fusedAt.isEmpty { return g }
        // Drop DynamicQuantizeLinear nodes whose outputs nothing else reads.
        var stillRead = protectedNames(g)
        for (i, n) in g.nodes.enumerated() where !removed.contains(i) { stillRead.formUnion(n.inputs) }
        for (i, n) in g.nodes.enumerated() where Self.isStandard(n) && n.opType == "DynamicQuantizeLinear" {
            if !n.outputs.contains(where: { stillRead.contains($0) }) { removed.insert(i) }
        }
        var out = g
        out.nodes = []
        for (i, n) in g.nodes.enumerated() {
            if let f = fusedAt[i] { out.nodes.append(f) } else if !removed.contains(i) { out.nodes.append(n) }
        }
        return out
    }

    static func castsToFloat(_ n: Node) -> Bool {
        if case .int(1)? = n.attributes["to"] { return true }
        return false
    }
}
