import OnyxTensor

/// A dimension of a tensor type: a number, a symbolic name such as `batch`, or unknown.
public enum Dim: Sendable, Hashable, CustomStringConvertible {
    case fixed(Int)
    case symbolic(String)
    case unknown

    public var description: String {
        switch self {
        case .fixed(let n): return String(n)
        case .symbolic(let s): return s
        case .unknown: return "?"
        }
    }
    public var value: Int? { if case .fixed(let n) = self { return n }; return nil }
}

/// The type of a graph value.
public indirect enum ValueType: Sendable, CustomStringConvertible {
    /// A tensor; `shape` nil means the rank is unknown.
    case tensor(DType, shape: [Dim]?)
    case sequence(ValueType)
    case map(key: DType, value: ValueType)
    case optional(ValueType)
    case unknown

    public var description: String {
        switch self {
        case .tensor(let dt, let shape):
            guard let shape else { return "tensor(\(dt))" }
            return "tensor(\(dt))[\(shape.map(\.description).joined(separator: ","))]"
        case .sequence(let t): return "seq(\(t))"
        case .map(let k, let v): return "map(\(k),\(v))"
        case .optional(let t): return "optional(\(t))"
        case .unknown: return "unknown"
        }
    }

    public var tensorDType: DType? { if case .tensor(let d, _) = self { return d }; return nil }
    public var tensorShape: [Dim]? { if case .tensor(_, let s) = self { return s }; return nil }
}

/// Name and type of a graph input, output or intermediate value.
public struct ValueInfo: Sendable {
    public var name: String
    public var type: ValueType
    public var docString: String
    public init(name: String, type: ValueType, docString: String = "") {
        self.name = name; self.type = type; self.docString = docString
    }
}

/// A node attribute value.
public indirect enum Attribute: Sendable {
    case float(Float)
    case int(Int)
    case string(String)
    case tensor(Tensor)
    case graph(Graph)
    case floats([Float])
    case ints([Int])
    case strings([String])
    case tensors([Tensor])
    case graphs([Graph])
    case type(ValueType)
    case types([ValueType])
    /// Inside a function body: the caller's attribute of this name (`ref_attr_name`).
    case ref(String)
}

/// One operator application in a graph. Empty input names stand for omitted optional inputs.
public struct Node: Sendable {
    public var name: String
    public var opType: String
    public var domain: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: Attribute]
    public var docString: String

    public init(name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [String: Attribute] = [:], docString: String = "") {
        self.name = name; self.opType = opType; self.domain = domain
        self.inputs = inputs; self.outputs = outputs; self.attributes = attributes; self.docString = docString
    }

    /// `'name' (OpType)` for messages.
    public var label: String { "node '\(name)' (\(domain.isEmpty || domain == "ai.onnx" ? "" : domain + ".")\(opType))" }
}

/// A computation graph: nodes in any order, typed inputs and outputs, constant initializers.
public struct Graph: Sendable {
    public var name: String
    public var nodes: [Node]
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    /// Initializers in file order.
    public var initializers: [(name: String, tensor: Tensor)]
    public var valueInfo: [ValueInfo]
    public var docString: String

    public init(name: String = "", nodes: [Node] = [], inputs: [ValueInfo] = [], outputs: [ValueInfo] = [],
                initializers: [(name: String, tensor: Tensor)] = [], valueInfo: [ValueInfo] = [], docString: String = "") {
        self.name = name; self.nodes = nodes; self.inputs = inputs; self.outputs = outputs
        self.initializers = initializers; self.valueInfo = valueInfo; self.docString = docString
    }

    /// Inputs that are not also initializers: what a caller must (or may) feed.
    public var feedableInputs: [ValueInfo] {
        let inits = Set(initializers.map(\.name))
        return inputs.filter { !inits.contains($0.name) }
    }
}

/// A model-local function (ONNX FunctionProto), expanded inline at load.
public struct FunctionDef: Sendable {
    public var name: String
    public var domain: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributeNames: [String]
    public var attributeDefaults: [String: Attribute]
    public var nodes: [Node]
    public var opsets: [String: Int]
    public init(name: String, domain: String, inputs: [String], outputs: [String], attributeNames: [String],
                attributeDefaults: [String: Attribute], nodes: [Node], opsets: [String: Int]) {
        self.name = name; self.domain = domain; self.inputs = inputs; self.outputs = outputs
        self.attributeNames = attributeNames; self.attributeDefaults = attributeDefaults
        self.nodes = nodes; self.opsets = opsets
    }
}

/// A whole model: the graph plus the opset versions it was written against.
public struct Model: Sendable {
    public var irVersion: Int
    /// Opset version per domain; the default domain is "".
    public var opsets: [String: Int]
    public var producerName: String
    public var producerVersion: String
    public var domain: String
    public var modelVersion: Int
    public var docString: String
    public var metadata: [(key: String, value: String)]
    public var graph: Graph
    public var functions: [FunctionDef]

    public init(irVersion: Int = 10, opsets: [String: Int] = ["": 21], producerName: String = "onyx",
                producerVersion: String = "", domain: String = "", modelVersion: Int = 0, docString: String = "",
                metadata: [(key: String, value: String)] = [], graph: Graph, functions: [FunctionDef] = []) {
        self.irVersion = irVersion; self.opsets = opsets; self.producerName = producerName
        self.producerVersion = producerVersion; self.domain = domain; self.modelVersion = modelVersion
        self.docString = docString; self.metadata = metadata; self.graph = graph; self.functions = functions
    }

    /// Opset version for a node's domain ("ai.onnx" is the default domain).
    public func opset(for domain: String) -> Int? {
        let d = domain == "ai.onnx" ? "" : domain
        return opsets[d] ?? (d.isEmpty ? opsets["ai.onnx"] : nil)
    }
}
