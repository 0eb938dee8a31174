import OnyxTensor

/// Redundant layout ops: Transpose∘Transpose composed (dropped when the result is the identity), identity
/// Transposes dropped, a Reshape of a Reshape / Flatten / Squeeze / Unsqueeze reading the original tensor, and
/// Reshape / Flatten / Squeeze / Unsqueeze whose declared input and output shapes are the same static shape dropped.
extension GraphOptimizer {
    func eliminateLayout(_ g: Graph) -> Graph {
        var g = g
        // Rounds until nothing changes (a chain of three Transposes needs two); each round removes nodes.
        for _ in 0..<8 {
            let (next, changed) = layoutRound(g)
            g = next
            if !changed { break }
        }
        // Layout ops left without readers by the rewiring above.
        let uses = useCounts(g)
        let layoutOps: Set<String> = ["Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze"]
        g.nodes.removeAll { n in
            Self.isStandard(n) && layoutOps.contains(n.opType) && n.outputs.allSatisfy { (uses[$0] ?? 0) == 0 }
        }
        return g
    }

    static func isIdentity(_ p: [Int]) -> Bool { p.enumerated().allSatisfy { $0.offset == $0.element } }

    private func layoutRound(_ g: Graph) -> (Graph, Bool) {
        let ix = GraphIndex(self, g)
        var nodes: [Node?] = g.nodes
        var rename: [String: String] = [:]
        var changed = false
        let shapeOps: Set<String> = ["Reshape", "Flatten", "Squeeze", "Unsqueeze"]
        func staticShape(_ name: String) -> [Int]? {
            guard let dims = ix.types[name]?.tensorShape else { return nil }
            let v = dims.compactMap(\.value)
            return v.count == dims.count ? v : nil
        }
        for (i, n0) in g.nodes.enumerated() {
            guard var n = nodes[i], Self.isStandard(n), n.outputs.count == 1, let x = n.inputs.first, !x.isEmpty else { continue }
            let out = n.outputs[0]
            switch n.opType {
            case "Transpose":
                guard case .ints(var p)? = n.attributes["perm"] else { continue }
                if let pi = ix.producer[x], let inner = nodes[pi], Self.isStandard(inner), inner.opType == "Transpose",
                   inner.outputs.count == 1, case .ints(let p1)? = inner.attributes["perm"], p1.count == p.count,
                   p.allSatisfy({ $0 >= 0 && $0 < p1.count }) {
                    p = p.map { p1[$0] }
                    n.inputs[0] = inner.inputs[0]
                    n.attributes["perm"] = .ints(p)
                    if ix.single(x) { nodes[pi] = nil }
                    nodes[i] = n
                    changed = true
                }
                if Self.isIdentity(p), !ix.protected.contains(out) {
                    rename[out] = n.inputs[0]; nodes[i] = nil; changed = true
                }
            case "Reshape":
                guard n.inputs.count == 2, let st = ix.consts[n.inputs[1]], let target = try? st.toArray(Int64.self) else { continue }
                let allowZero = ((try? NodeContext.intAttr(n, "allowzero")) ?? nil) ?? 0
                // The result depends only on the element count when no 0 copies a dimension of the input.
                if !target.contains(0) || allowZero != 0,
                   let pi = ix.producer[x], let inner = nodes[pi], Self.isStandard(inner), shapeOps.contains(inner.opType),
                   inner.outputs.count == 1, let src = inner.inputs.first, !src.isEmpty {
                    n.inputs[0] = src
                    if ix.single(x) { nodes[pi] = nil }
                    nodes[i] = n
                    changed = true
                }
                if let inShape = staticShape(n.inputs[0]), !ix.protected.contains(out) {
                    var resolved = target.map { Int($0) }
                    for (k, v) in resolved.enumerated() where v == 0 && allowZero == 0 { resolved[k] = k < inShape.count ? inShape[k] : -2 }
                    // Products of file data: overflow means "don't know", never a trap.
                    func product(_ v: [Int]) -> Int? {
                        var p = 1
                        for d in v { let r = p.multipliedReportingOverflow(by: d); if r.overflow { return nil }; p = r.partialValue }
                        return p
                    }
                    if resolved.filter({ $0 == -1 }).count == 1, let known = product(resolved.filter { $0 >= 0 }), known > 0,
                       let total = product(inShape), let k = resolved.firstIndex(of: -1), total % known == 0 {
                        resolved[k] = total / known
                    }
                    if resolved == inShape { rename[out] = n.inputs[0]; nodes[i] = nil; changed = true }
                }
            case "Flatten", "Squeeze", "Unsqueeze":
                if let a = staticShape(x), let b = staticShape(out), a == b, !ix.protected.contains(out) {
                    rename[out] = x; nodes[i] = nil; changed = true
                }
            default:
                _ = n0
            }
        }
        guard changed else { return (g, false) }
        func resolve(_ s: String) -> String {
            var s = s
            while let r = rename[s] { s = r }
            return s
        }
        var out = g
        out.nodes = nodes.compactMap { $0 }.map { n in
            var n = n
            n.inputs = n.inputs.map { $0.isEmpty ? $0 : resolve($0) }
            return n
        }
        return (out, true)
    }
}
