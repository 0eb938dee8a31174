import OnyxTensor

/// Facts about a model for `onyx info`.
public struct ModelSummary: Sendable {
    public var parameterCount: Int
    public var parameterBytes: Int
    /// (domain.op, count), most frequent first.
    public var operatorHistogram: [(op: String, count: Int)]
    public var nodeCount: Int

    public init(_ m: Model) {
        var params = 0, bytes = 0
        var hist: [String: Int] = [:]
        var nodes = 0
        func visit(_ g: Graph) {
            for (_, t) in g.initializers { params += t.count; bytes += t.dtype == .string ? t.strings.reduce(0) { $0 + $1.utf8.count } : t.byteCount }
            for n in g.nodes {
                nodes += 1
                let key = (n.domain.isEmpty ? "" : n.domain + ".") + n.opType
                hist[key, default: 0] += 1
                if n.opType == "Constant", case .tensor(let t)? = n.attributes["value"] { params += t.count; bytes += t.byteCount }
                for a in n.attributes.values {
                    switch a {
                    case .graph(let sg): visit(sg)
                    case .graphs(let gs): gs.forEach(visit)
                    default: break
                    }
                }
            }
        }
        visit(m.graph)
        parameterCount = params
        parameterBytes = bytes
        nodeCount = nodes
        operatorHistogram = hist.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
