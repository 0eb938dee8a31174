import OnyxTensor

/// Static-quantization (QDQ) fusions: a float Conv between DequantizeLinear nodes becomes one int8 convolution.
extension GraphOptimizer {
    /// `DequantizeLinear(Xq, xs, xzp)` (uint8/int8 Xq, scalar constant scale and zero point) and
    /// `DequantizeLinear(Wq, ws, wzp)` (constant int8 Wq [M, C, KH, KW], ws one value or M values on axis 0,
    /// wzp absent or all zero) → `Conv` (2-D, group 1, bias optional) [→ `Add(·, Z)`] [→ `Relu`]
    /// [→ `QuantizeLinear(·, ys, yzp)` (scalar constants, uint8)] ⇒ `ai.onyx.QConv(Xq, xs, xzp, Wq, ws, B, Z, ys, yzp)`,
    /// float output, or uint8 when the QuantizeLinear was absorbed (each absorbed value must have no other reader). This is the layout both `onyx quantize --mode
    /// static` and ONNX Runtime's `quantize_static` (QDQ) write. Runs before constant folding (which would turn the
    /// weight's DequantizeLinear into a float weight); the DequantizeLinear nodes go when nothing else reads them.
    /// Anything else stays float.
    func fuseQDQConv(_ g: Graph) -> Graph {
        let consts = constants(g)
        let uses = useCounts(g)
        let protected = protectedNames(g)
        var producer: [String: Int] = [:], readers: [String: [Int]] = [:]
        for (i, n) in g.nodes.enumerated() {
            for o in n.outputs where !o.isEmpty { producer[o] = i }
            for x in n.inputs where !x.isEmpty { readers[x, default: []].append(i) }
        }
        func dq(_ value: String) -> Node? {
            guard let p = producer[value] else { return nil }
            let n = g.nodes[p]
            guard Self.isStandard(n), n.opType == "DequantizeLinear", n.outputs.count == 1,
                  n.inputs.count >= 2, n.attributes["block_size"] == nil else { return nil }
            return n
        }
        func scalar(_ name: String, _ types: [DType]) -> Bool {
            guard let t = consts[name], types.contains(t.dtype) else { return false }
            return t.count == 1
        }
        var removed = Set<Int>(), fusedAt: [Int: Node] = [:]
        for (i, conv) in g.nodes.enumerated() where Self.isStandard(conv) && conv.opType == "Conv" {
            guard conv.inputs.count >= 2, conv.outputs.count == 1,
                  (try? intAttribute(conv, "group", 1)) == 1,
                  let dx = dq(conv.inputs[0]), let dw = dq(conv.inputs[1]) else { continue }
            // Activation: per-tensor scale and zero point (the zero point fixes Xq's type).
            guard dx.inputs.count == 3, scalar(dx.inputs[1], [.float32]), scalar(dx.inputs[2], [.uint8, .int8]),
                  consts[dx.inputs[0]] == nil else { continue }
            // Weight: constant int8, per-tensor or per-output-channel (axis 0), zero point 0.
            guard let w = consts[dw.inputs[0]], w.dtype == .int8, w.rank == 4, w.shape[0] > 0,
                  let ws = consts[dw.inputs[1]], ws.dtype == .float32 else { continue }
            let m = w.shape[0]
            if ws.count != 1 {
                guard ws.rank == 1, ws.count == m, (try? intAttribute(dw, "axis", 1)) == 0 else { continue }
            }
            if dw.inputs.count > 2, !dw.inputs[2].isEmpty {
                guard let z = consts[dw.inputs[2]], z.dtype == .int8, z.count == ws.count,
                      let zv = try? z.toArray(Int8.self), zv.allSatisfy({ $0 == 0 }) else { continue }
            }
            let bias = conv.inputs.count > 2 ? conv.inputs[2] : ""
            if !bias.isEmpty, let b = consts[bias] {
                guard b.dtype == .float32, b.count == m else { continue }
            }
            var attrs = conv.attributes
            attrs["group"] = nil
            var last = i, residual = "", yScale = "", yZero = ""
            /// The single standard reader of `value` with type `op`, unless `value` is a graph output or claimed.
            func next(_ value: String, _ op: String) -> Int? {
                guard uses[value] == 1, !protected.contains(value), let r = readers[value]?.first, !removed.contains(r),
                      Self.isStandard(g.nodes[r]), g.nodes[r].opType == op, g.nodes[r].outputs.count == 1 else { return nil }
                return r
            }
            if let add = next(conv.outputs[0], "Add"), g.nodes[add].inputs.count == 2 {
                let ins = g.nodes[add].inputs
                let other = ins[0] == conv.outputs[0] ? ins[1] : ins[0]
                if other != conv.outputs[0], !other.isEmpty { last = add; residual = other }
            }
            if let r = next(g.nodes[last].outputs[0], "Relu") {
                last = r
                attrs["activation"] = .string("Relu")
            }
            if let q = next(g.nodes[last].outputs[0], "QuantizeLinear"), g.nodes[q].inputs.count == 3,
               scalar(g.nodes[q].inputs[1], [.float32]), scalar(g.nodes[q].inputs[2], [.uint8]),
               g.nodes[q].attributes["output_dtype"] == nil, g.nodes[q].attributes["block_size"] == nil {
                last = q; yScale = g.nodes[q].inputs[1]; yZero = g.nodes[q].inputs[2]
            }
            var inputs = [dx.inputs[0], dx.inputs[1], dx.inputs[2], dw.inputs[0], dw.inputs[1], bias]
            if !residual.isEmpty || !yScale.isEmpty { inputs.append(residual) }
            if !yScale.isEmpty { inputs += [yScale, yZero] }
            while inputs.last == "" { inputs.removeLast() }
            let fused = Node(name: conv.name.isEmpty ? "QConv_\(i)" : conv.name + "_qconv", opType: "QConv",
                             domain: Self.onyxDomain, inputs: inputs, outputs: [g.nodes[last].outputs[0]], attributes: attrs)
            // Everything from the Conv to the last absorbed node (each the single reader of the one before).
            var chain = [i], cur = i
            while cur != last, let r = readers[g.nodes[cur].outputs[0]]?.first { chain.append(r); cur = r }
            removed.formUnion(chain)
            fusedAt[last] = fused
        }
        if fusedAt.isEmpty { return g }
        // Drop DequantizeLinear nodes whose output nothing reads any more.
        var stillRead = protected
        for (i, n) in g.nodes.enumerated() where !removed.contains(i) { stillRead.formUnion(n.inputs) }
        for f in fusedAt.values { stillRead.formUnion(f.inputs) }
        for (i, n) in g.nodes.enumerated() where Self.isStandard(n) && n.opType == "DequantizeLinear" {
            if !n.outputs.contains(where: { stillRead.contains($0) }) { removed.insert(i) }
        }
        var result = g
        result.nodes = []
        for (i, n) in g.nodes.enumerated() {
            if let f = fusedAt[i] { result.nodes.append(f) } else if !removed.contains(i) { result.nodes.append(n) }
        }
        return result
    }

    private func intAttribute(_ n: Node, _ name: String, _ def: Int) throws -> Int {
        guard let a = n.attributes[name] else { return def }
        if case .int(let v) = a { return v }
        throw KernelError("attribute '\(name)' is not an int")
    }
}
