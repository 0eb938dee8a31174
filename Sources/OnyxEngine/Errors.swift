import OnyxTensor

/// Errors the engine reports. Every case carries enough context to act on it in one line.
public enum OnyxError: Error, CustomStringConvertible, Sendable {
    /// The bytes are not a readable ONNX model.
    case invalidModel(String)
    /// One entry per unsupported (domain, op type, opset) with the nodes using it.
    case unsupportedOperators([(domain: String, opType: String, opset: Int, nodes: [String])])
    /// Structural problems found at load: undefined tensors, cycles, duplicates, bad initializers.
    case invalidGraph(String)
    /// A node rejected its attributes or inputs (at load or run time).
    case node(label: String, message: String)
    /// A caller's feeds did not match the model's inputs.
    case invalidInput(String)
    /// Anything else at run time.
    case runtime(String)

    public var description: String {
        switch self {
        case .invalidModel(let m): return "not a valid ONNX model: \(m)"
        case .unsupportedOperators(let list):
            let items = list.map { e -> String in
                let dom = e.domain.isEmpty ? "ai.onnx" : e.domain
                let names = e.nodes.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
                return "\(dom) \(e.opType) (opset \(e.opset)) used by \(names)\(e.nodes.count > 5 ? " and \(e.nodes.count - 5) more" : "")"
            }
            return "unsupported operators: " + items.joined(separator: "; ")
        case .invalidGraph(let m): return "invalid graph: \(m)"
        case .node(let label, let m): return "\(label): \(m)"
        case .invalidInput(let m): return "invalid input: \(m)"
        case .runtime(let m): return m
        }
    }
}

/// What kernels throw; the executor adds the node's name and type.
public struct KernelError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
