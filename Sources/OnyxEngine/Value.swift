import OnyxTensor

/// A map value (ai.onnx.ml ZipMap outputs, DictVectorizer inputs): keys are int64 or string.
public struct MapValue: Sendable {
    public var keys: Tensor    // rank 1, .int64 or .string
    public var values: Tensor  // rank 1, same length
    public init(keys: Tensor, values: Tensor) { self.keys = keys; self.values = values }
}

/// A runtime value flowing through a graph.
public indirect enum Value: Sendable {
    case tensor(Tensor)
    case sequence([Value], elementType: ValueType)
    case map(MapValue)
    /// An optional holding nothing, of the given element type.
    case none(ValueType)
    /// An optional holding a value (kept distinct so OptionalHasElement can tell).
    case some(Value)

    public var tensor: Tensor? {
        switch self {
        case .tensor(let t): return t
        case .some(let v): return v.tensor
        default: return nil
        }
    }

    public var kindName: String {
        switch self {
        case .tensor(let t): return "tensor(\(t.dtype))\(t.shape)"
        case .sequence(let v, _): return "sequence of \(v.count)"
        case .map: return "map"
        case .none: return "empty optional"
        case .some(let v): return "optional(\(v.kindName))"
        }
    }
}
