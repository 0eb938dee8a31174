import Foundation
import OnyxTensor
import OnyxEngine
import OnyxProto
import SwiftProtobuf

/// Reads test values (`input_N.pb` / `output_N.pb`): tensors, sequences and optionals.
public enum ValueFiles {
    /// Reads a value whose expected type is `type` (decides between TensorProto, SequenceProto, OptionalProto).
    public static func read(_ url: URL, type: ValueType) throws -> Value {
        let data = try Data(contentsOf: url)
        switch type {
        case .sequence(let e):
            return try sequence(try Onnx_SequenceProto(serializedBytes: data), elem: e)
        case .optional(let e):
            return try optional(try Onnx_OptionalProto(serializedBytes: data), elem: e)
        case .map:
            throw OnyxError.invalidInput("map values are not supported in test files")
        default:
            return .tensor(try TensorProtoCodec.decode(try Onnx_TensorProto(serializedBytes: data)))
        }
    }

    static func sequence(_ p: Onnx_SequenceProto, elem: ValueType) throws -> Value {
        var vals: [Value] = []
        for t in p.tensorValues { vals.append(.tensor(try TensorProtoCodec.decode(t))) }
        if case .sequence(let inner) = elem { for s in p.sequenceValues { vals.append(try sequence(s, elem: inner)) } }
        return .sequence(vals, elementType: elem)
    }

    static func optional(_ p: Onnx_OptionalProto, elem: ValueType) throws -> Value {
        if p.hasTensorValue { return .some(.tensor(try TensorProtoCodec.decode(p.tensorValue))) }
        if p.hasSequenceValue, case .sequence(let inner) = elem { return .some(try sequence(p.sequenceValue, elem: inner)) }
        return .none(elem)
    }

    /// Whether a value type is one Onyx can read from test files.
    public static func isSupported(_ t: ValueType) -> Bool {
        switch t {
        case .tensor: return true
        case .sequence(let e): if case .tensor = e { return true }; return false
        case .optional(let e):
            if case .tensor = e { return true }
            if case .sequence(let s) = e, case .tensor = s { return true }
            return false
        default: return false
        }
    }
}
