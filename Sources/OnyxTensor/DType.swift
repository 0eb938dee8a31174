/// Element types of tensors. Raw values are ONNX `TensorProto.DataType` codes.
public enum DType: Int, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case string = 8
    case bool = 9
    case float16 = 10
    case float64 = 11
    case uint32 = 12
    case uint64 = 13
    case bfloat16 = 16

    /// Bytes per element; strings are stored out of line and report 0.
    public var size: Int {
        switch self {
        case .bool, .uint8, .int8: return 1
        case .uint16, .int16, .float16, .bfloat16: return 2
        case .float32, .int32, .uint32: return 4
        case .float64, .int64, .uint64: return 8
        case .string: return 0
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float64, .float16, .bfloat16: return true
        default: return false
        }
    }

    public var isInteger: Bool {
        switch self {
        case .uint8, .int8, .uint16, .int16, .int32, .int64, .uint32, .uint64: return true
        default: return false
        }
    }

    public var isSignedInteger: Bool {
        switch self {
        case .int8, .int16, .int32, .int64: return true
        default: return false
        }
    }

    /// The ONNX name, e.g. `float`, `int64`.
    public var onnxName: String {
        switch self {
        case .float32: return "float"
        case .float64: return "double"
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        case .int8: return "int8"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .uint8: return "uint8"
        case .uint16: return "uint16"
        case .uint32: return "uint32"
        case .uint64: return "uint64"
        case .bool: return "bool"
        case .string: return "string"
        }
    }

    public var description: String { onnxName }

    /// Parses names used on the command line and in configs: `float32`, `float`, `fp32`, `int64`, ...
    public init?(name: String) {
        switch name.lowercased() {
        case "float", "float32", "fp32", "f32": self = .float32
        case "double", "float64", "fp64", "f64": self = .float64
        case "float16", "fp16", "half", "f16": self = .float16
        case "bfloat16", "bf16": self = .bfloat16
        case "int8", "i8": self = .int8
        case "int16", "i16": self = .int16
        case "int32", "i32": self = .int32
        case "int64", "i64": self = .int64
        case "uint8", "u8": self = .uint8
        case "uint16", "u16": self = .uint16
        case "uint32", "u32": self = .uint32
        case "uint64", "u64": self = .uint64
        case "bool", "b1": self = .bool
        case "string", "bytes", "str": self = .string
        default: return nil
        }
    }
}

/// A Swift type that can be stored in a tensor.
public protocol TensorElement: Sendable {
    static var dtype: DType { get }
    static var zero: Self { get }
}

/// Numeric element types convertible through `Double` (used by generic reference kernels).
public protocol NumericElement: TensorElement, Comparable {
    init(fromDouble value: Double)
    var asDouble: Double { get }
}

extension Float: NumericElement {
    public static var dtype: DType { .float32 }
    public static var zero: Float { 0 }
    @inline(__always) public init(fromDouble v: Double) { self = Float(v) }
    @inline(__always) public var asDouble: Double { Double(self) }
}
extension Double: NumericElement {
    public static var dtype: DType { .float64 }
    public static var zero: Double { 0 }
    @inline(__always) public init(fromDouble v: Double) { self = v }
    @inline(__always) public var asDouble: Double { self }
}
extension Float16: NumericElement {
    public static var dtype: DType { .float16 }
    public static var zero: Float16 { 0 }
    @inline(__always) public init(fromDouble v: Double) { self = Float16(Float(v)) }
    @inline(__always) public var asDouble: Double { Double(Float(self)) }
}
extension BFloat16: NumericElement {
    public static var dtype: DType { .bfloat16 }
    public static var zero: BFloat16 { BFloat16(bits: 0) }
    @inline(__always) public init(fromDouble v: Double) { self = BFloat16(Float(v)) }
    @inline(__always) public var asDouble: Double { Double(self.float) }
}

/// Saturating-free, wrapping conversion from Double the way C casts do (NaN/inf -> 0 / boundary).
@inline(__always) func integerFromDouble<T: FixedWidthInteger>(_ v: Double) -> T {
    if v.isNaN { return 0 }
    let t = v.rounded(.towardZero)
    if t >= Double(T.max) { return T.max }
    if t <= Double(T.min) { return T.min }
    return T(t)
}

extension Int8: NumericElement {
    public static var dtype: DType { .int8 }
    public static var zero: Int8 { 0 }
    @inline(__always) public init(fromDouble v: Double) { self = integerFromDouble(v) }
    @inline(__always) public var asDouble: Double { Double(self) }
}
extension Int16: NumericElement {
    public static var dtype: DType { .int16 }
    public static var zero: Int16 { 0 }
    @inline(__always) public init(fromDouble v: Double) { self = integerFromDouble(v) }
    @inline(__always) public var asDouble: Double { Double(self) }
}
extension Int32: NumericElement {
    public static var dtype: DType { .int32 }
    public static var zero: Int32 { 0 }
    @inline(__always) public init(fromDouble v: Double) { self = integerFromDouble(v) }
    @inline(__always) public var asDouble: Double { Double(self) }
}
extension Int64: NumericElement {
    public static var dtype: DType { .int64 }
    public static var zero: Int64 { 0 }
    @inline(__always) public init(fromDouble v: Double) { self = integerFromDouble(v) }
    @inline(__always) public var asDouble: Double { Double(self) }
}
extension UInt8: NumericElement {
    public static var dtype: DType { .uint8 }
    public static var zero: UInt8 { 0 }
    @inline(__always) public init(fromDouble v: Double) { self = integerFromDouble(v) }
    @inline(__always) public var asDouble: Double { Double(self) }
}
extension UInt16: NumericElement {
    public static var dtype: DType { .uint16 }
    public static var zero: UInt16 { 0 }
    @inline(__always) public init(fromDouble v: Double) { self = integerFromDouble(v) }
    @inline(__always) public var asDouble: Double { Double(self) }
}
extension UInt32: NumericElement {
    public static var dtype: DType { .uint32 }
    public static var zero: UInt32 { 0 }
    @inline(__always) public init(fromDouble v: Double) { self = integerFromDouble(v) }
    @inline(__always) public var asDouble: Double { Double(self) }
}
extension UInt64: NumericElement {
    public static var dtype: DType { .uint64 }
    public static var zero: UInt64 { 0 }
    @inline(__always) public init(fromDouble v: Double) { self = integerFromDouble(v) }
    @inline(__always) public var asDouble: Double { Double(self) }
}
extension Bool: TensorElement {
    public static var dtype: DType { .bool }
    public static var zero: Bool { false }
}
extension String: TensorElement {
    public static var dtype: DType { .string }
    public static var zero: String { "" }
}

/// bfloat16: the upper 16 bits of an IEEE float32. Conversion from float rounds to nearest even.
public struct BFloat16: Sendable, Comparable, Hashable {
    public var bits: UInt16
    public init(bits: UInt16) { self.bits = bits }
    public init(_ f: Float) {
        if f.isNaN { bits = 0x7FC0; return }
        let b = f.bitPattern
        let rounding = ((b >> 16) & 1) &+ 0x7FFF
        bits = UInt16(truncatingIfNeeded: (b &+ rounding) >> 16)
    }
    public var float: Float { Float(bitPattern: UInt32(bits) << 16) }
    public static func < (a: BFloat16, b: BFloat16) -> Bool { a.float < b.float }
}
