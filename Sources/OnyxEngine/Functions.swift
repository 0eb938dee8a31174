import OnyxTensor

/// Expands calls to model-local functions (ONNX FunctionProto) into their bodies.
public enum FunctionInliner {
    public static func inline(_ g: Graph, functions: [FunctionDef], depth: Int = 0) throws -> Graph {
        if functions.isEmpty { return g }
        if depth > 32 { throw OnyxError.invalidGraph("function calls nested deeper than 32 (recursive functions?)") }
        var byKey: [String: FunctionDef] = [:]
        for f in functions { byKey["\(f.domain)|\(f.name)"] = f }
        var out = g
        var nodes: [Node] = []
        var counter = 0
        var changed = false
        for n in g.nodes {
            var n = n
            // Recurse into subgraphs.
            for (k, a) in n.attributes {
                switch a {
                case .graph(let sg): n.attributes[k] = .graph(try inline(sg, functions: functions, depth: depth + 1))
                case .graphs(let gs): n.attributes[k] = .graphs(try gs.map { try inline($0, functions: functions, depth: depth + 1) })
                default: break
                }
            }
            guard let f = byKey["\(n.domain)|\(n.opType)"] else { nodes.append(n); continue }
            changed = true
            counter += 1
            let prefix = "\(n.name.isEmpty ? f.name : n.name)__\(counter)__"
            var map: [String: String] = [:]
            for (i, name) in f.inputs.enumerated() { map[name] = i < n.inputs.count ? n.inputs[i] : "" }
            for (i, name) in f.outputs.enumerated() { map[name] = i < n.outputs.count ? n.outputs[i] : "" }
            func rename(_ s: String) -> String {
                if s.isEmpty { return s }
                if let m = map[s] { return m }
                return prefix + s
            }
            for b in f.nodes {
                var c = b
                c.name = prefix + b.name
                c.inputs = b.inputs.map(rename)
                c.outputs = b.outputs.map(rename)
                var attrs: [String: Attribute] = [:]
                for (k, a) in b.attributes {
                    if case .ref(let r) = a {
                        if let v = n.attributes[r] ?? f.attributeDefaults[r] { attrs[k] = v }
                    } else {
                        attrs[k] = a
                    }
                }
                c.attributes = attrs
                nodes.append(c)
            }
        }
        out.nodes = nodes
        return changed ? try inline(out, functions: functions, depth: depth + 1) : out
    }
}
