import Foundation
import OnyxTensor
import OnyxEngine
import OnyxONNX

/// Errors from the compression tools. Each message is one actionable line.
public struct CompressError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A mutable view of a graph for rewriting: initializer lookup, unique names, consumers.
struct GraphEditor {
    var graph: Graph
    private var used: Set<String>
    private var initIndex: [String: Int]

    init(_ graph: Graph) {
        self.graph = graph
        var u = Set<String>()
        for n in graph.nodes { u.formUnion(n.outputs); u.formUnion(n.inputs); u.insert(n.name) }
        for i in graph.inputs { u.insert(i.name) }
        for o in graph.outputs { u.insert(o.name) }
        for i in graph.initializers { u.insert(i.name) }
        used = u
        var idx: [String: Int] = [:]
        for (k, i) in graph.initializers.enumerated() { idx[i.name] = k }
        initIndex = idx
    }

    /// A name not yet used anywhere in the graph, based on `base`.
    mutating func unique(_ base: String) -> String {
        var name = base
        var k = 1
        while used.contains(name) { name = "\(base)_\(k)"; k += 1 }
        used.insert(name)
        return name
    }

    func initializer(_ name: String) -> Tensor? { initIndex[name].map { graph.initializers[$0].tensor } }

    /// The constant value of `name`: an initializer, a `Constant` node's tensor, or either through `Identity`
    /// nodes (exporters such as PyTorch's share weights that way).
    func constant(_ name: String) -> Tensor? {
        if let t = initializer(name) { return t }
        var cur = name
        for _ in 0..<8 {
            guard let n = graph.nodes.first(where: { $0.outputs.first == cur }), n.domain.isEmpty else { return nil }
            switch n.opType {
            case "Identity":
                guard let i = n.inputs.first else { return nil }
                if let t = initializer(i) { return t }
                cur = i
            case "Constant":
                if case .tensor(let t)? = n.attributes["value"] { return t }
                return nil
            default: return nil
            }
        }
        return nil
    }

    mutating func addInitializer(_ base: String, _ t: Tensor) -> String {
        let name = unique(base)
        initIndex[name] = graph.initializers.count
        graph.initializers.append((name, t))
        return name
    }

    mutating func replaceInitializer(_ name: String, _ t: Tensor) {
        if let k = initIndex[name] { graph.initializers[k].tensor = t }
    }

    /// Drops initializers no node or graph output refers to any more (and Identity/Constant nodes left unused).
    mutating func removeUnusedInitializers() {
        var outs = Set(graph.outputs.map(\.name))
        for n in graph.nodes { outs.formUnion(n.inputs) }
        graph.nodes.removeAll { n in
            n.domain.isEmpty && (n.opType == "Identity" || n.opType == "Constant") && n.outputs.allSatisfy { !outs.contains($0) }
        }
        var refs = Set<String>()
        for n in graph.nodes { refs.formUnion(n.inputs) }
        for o in graph.outputs { refs.insert(o.name) }
        graph.initializers.removeAll { !refs.contains($0.name) }
        graph.inputs.removeAll { i in initIndex[i.name] != nil && !refs.contains(i.name) }
        var idx: [String: Int] = [:]
        for (k, i) in graph.initializers.enumerated() { idx[i.name] = k }
        initIndex = idx
    }

    /// Node indices consuming each value.
    func consumers() -> [String: [Int]] {
        var c: [String: [Int]] = [:]
        for (k, n) in graph.nodes.enumerated() { for i in n.inputs where !i.isEmpty { c[i, default: []].append(k) } }
        return c
    }

    /// Node index producing each value.
    func producers() -> [String: Int] {
        var p: [String: Int] = [:]
        for (k, n) in graph.nodes.enumerated() { for o in n.outputs where !o.isEmpty { p[o] = k } }
        return p
    }
}

/// Float32 copy of a float/double/half tensor's elements.
func floatValues(_ t: Tensor) throws -> [Float] {
    switch t.dtype {
    case .float32: return try t.toArray(Float.self)
    case .float64: return try t.toArray(Double.self).map { Float($0) }
    case .float16: return try t.toArray(Float16.self).map { Float($0) }
    default: throw CompressError("expected a float tensor, got \(t.dtype)")
    }
}

/// Topological order of the graph's nodes (the input order when already sorted).
func topologicalOrder(_ g: Graph) -> [Int] {
    var available = Set(g.inputs.map(\.name)).union(g.initializers.map(\.name))
    available.insert("")
    var done = [Bool](repeating: false, count: g.nodes.count)
    var order: [Int] = []
    var progress = true
    while progress {
        progress = false
        for (k, n) in g.nodes.enumerated() where !done[k] {
            if n.inputs.allSatisfy({ available.contains($0) }) || n.opType == "Loop" || n.opType == "If" || n.opType == "Scan" {
                done[k] = true; order.append(k); available.formUnion(n.outputs); progress = true
            }
        }
    }
    for k in 0..<g.nodes.count where !done[k] { order.append(k) }
    return order
}

/// Runs `model` with every intermediate tensor exposed as an extra output and reports each value's element type.
/// Used where the rewrite needs types the file does not declare (fp16 conversion).
func inferValueTypes(_ model: Model, feeds: [String: Tensor]) throws -> [String: DType] {
    var m = model
    let known = Set(m.graph.outputs.map(\.name))
    for n in m.graph.nodes {
        for o in n.outputs where !o.isEmpty && !known.contains(o) {
            m.graph.outputs.append(ValueInfo(name: o, type: .unknown))
        }
    }
    let session = try InferenceSession(model: m, options: SessionOptions(threads: 1, optimizationLevel: .none))
    let vals = try session.runValues(feeds.mapValues { .tensor($0) })
    var types: [String: DType] = [:]
    for (k, v) in vals { if let t = v.tensor { types[k] = t.dtype } }
    for i in model.graph.inputs { if let d = i.type.tensorDType { types[i.name] = d } }
    for i in model.graph.initializers { types[i.name] = i.tensor.dtype }
    return types
}

/// Random feeds for a model's inputs (symbolic dimensions 1), as `onyx bench` makes them.
func randomFeeds(_ model: Model, dims: [String: Int] = [:]) throws -> [String: Tensor] {
    var rng = SeededGenerator(seed: 7)
    var feeds: [String: Tensor] = [:]
    for i in model.graph.feedableInputs {
        feeds[i.name] = try Benchmark.randomInput(i, dims: dims, intRange: 0...1, rng: &rng)
    }
    return feeds
}
