import Foundation
import OnyxTensor

// Cast, CastLike and BitCast among the dtypes Onyx models. Conversions follow numpy `astype`:
// integers wrap, floats round to nearest, float -> integer truncates toward zero, strings are parsed
// and formatted as numpy does.

enum CastKind { case signed, unsigned, float }

/// A source element type, read through one of three wide forms chosen statically by `castKind`.
protocol CastSource: TensorElement {
    static var castKind: CastKind { get }
    var castI: Int64 { get }
    var castU: UInt64 { get }
    var castD: Double { get }
}
extension CastSource {
    var castI: Int64 { 0 }
    var castU: UInt64 { 0 }
    var castD: Double { 0 }
}
extension Float: CastSource { static var castKind: CastKind { .float }; var castD: Double { Double(self) } }
extension Double: CastSource { static var castKind: CastKind { .float }; var castD: Double { self } }
extension Float16: CastSource { static var castKind: CastKind { .float }; var castD: Double { Double(self) } }
extension BFloat16: CastSource { static var castKind: CastKind { .float }; var castD: Double { Double(float) } }
extension Int8: CastSource { static var castKind: CastKind { .signed }; var castI: Int64 { Int64(self) } }
extension Int16: CastSource { static var castKind: CastKind { .signed }; var castI: Int64 { Int64(self) } }
extension Int32: CastSource { static var castKind: CastKind { .signed }; var castI: Int64 { Int64(self) } }
extension Int64: CastSource { static var castKind: CastKind { .signed }; var castI: Int64 { self } }
extension UInt8: CastSource { static var castKind: CastKind { .unsigned }; var castU: UInt64 { UInt64(self) } }
extension UInt16: CastSource { static var castKind: CastKind { .unsigned }; var castU: UInt64 { UInt64(self) } }
extension UInt32: CastSource { static var castKind: CastKind { .unsigned }; var castU: UInt64 { UInt64(self) } }
extension UInt64: CastSource { static var castKind: CastKind { .unsigned }; var castU: UInt64 { self } }
extension Bool: CastSource { static var castKind: CastKind { .signed }; var castI: Int64 { self ? 1 : 0 } }

/// A destination element type built from any of the three wide forms.
protocol CastDest: TensorElement {
    init(castI: Int64)
    init(castU: UInt64)
    init(castD: Double)
}
extension Float: CastDest {
    init(castI v: Int64) { self = Float(v) }
    init(castU v: UInt64) { self = Float(v) }
    init(castD v: Double) { self = Float(v) }
}
extension Double: CastDest {
    init(castI v: Int64) { self = Double(v) }
    init(castU v: UInt64) { self = Double(v) }
    init(castD v: Double) { self = v }
}
extension Float16: CastDest {
    init(castI v: Int64) { self = Float16(Float(v)) }
    init(castU v: UInt64) { self = Float16(Float(v)) }
    init(castD v: Double) { self = Float16(v) }
}
extension BFloat16: CastDest {
    init(castI v: Int64) { self = BFloat16(Float(v)) }
    init(castU v: UInt64) { self = BFloat16(Float(v)) }
    init(castD v: Double) { self = BFloat16(Float(v)) }
}
extension Bool: CastDest {
    init(castI v: Int64) { self = v != 0 }
    init(castU v: UInt64) { self = v != 0 }
    init(castD v: Double) { self = v != 0 }  // NaN is true, like numpy
}
extension EWInteger {
    init(castI v: Int64) { self.init(truncatingIfNeeded: v) }
    init(castU v: UInt64) { self.init(truncatingIfNeeded: v) }
    /// Truncates toward zero; out-of-range values and NaN give the integer-indefinite value (x86 behaviour).
    init(castD v: Double) {
        if !Self.isSigned && Self.bitWidth == 64 && v >= 9.223372036854775807e18 && v < 1.8446744073709552e19 {
            self.init(truncatingIfNeeded: UInt64(v))
        } else if v.isNaN || v >= 9.223372036854775807e18 || v < -9.223372036854775807e18 {
            self.init(truncatingIfNeeded: Int64.min)
        } else {
            self.init(truncatingIfNeeded: Int64(v))
        }
    }
}
extension Int8: CastDest {}
extension Int16: CastDest {}
extension Int32: CastDest {}
extension Int64: CastDest {}
extension UInt8: CastDest {}
extension UInt16: CastDest {}
extension UInt32: CastDest {}
extension UInt64: CastDest {}

/// A copy of `t` converted to `dtype`.
func castTensor(_ t: Tensor, to dtype: DType) throws -> Tensor {
    if t.dtype == dtype { return t.copy() }
    switch dtype {
    case .float32: return try castTo(t, Float.self)
    case .float64: return try castTo(t, Double.self)
    case .float16: return try castTo(t, Float16.self)
    case .bfloat16: return try castTo(t, BFloat16.self)
    case .int8: return try castTo(t, Int8.self)
    case .int16: return try castTo(t, Int16.self)
    case .int32: return try castTo(t, Int32.self)
    case .int64: return try castTo(t, Int64.self)
    case .uint8: return try castTo(t, UInt8.self)
    case .uint16: return try castTo(t, UInt16.self)
    case .uint32: return try castTo(t, UInt32.self)
    case .uint64: return try castTo(t, UInt64.self)
    case .bool: return try castTo(t, Bool.self)
    case .string: return try castToString(t)
    }
}

private func castTo<D: CastDest>(_ t: Tensor, _: D.Type) throws -> Tensor {
    switch t.dtype {
    case .float32: return try convert(t, Float.self, D.self)
    case .float64: return try convert(t, Double.self, D.self)
    case .float16: return try convert(t, Float16.self, D.self)
    case .bfloat16: return try convert(t, BFloat16.self, D.self)
    case .int8: return try convert(t, Int8.self, D.self)
    case .int16: return try convert(t, Int16.self, D.self)
    case .int32: return try convert(t, Int32.self, D.self)
    case .int64: return try convert(t, Int64.self, D.self)
    case .uint8: return try convert(t, UInt8.self, D.self)
    case .uint16: return try convert(t, UInt16.self, D.self)
    case .uint32: return try convert(t, UInt32.self, D.self)
    case .uint64: return try convert(t, UInt64.self, D.self)
    case .bool: return try convert(t, Bool.self, D.self)
    case .string:
        let strs = t.strings
        return try ewMakeOutput(D.self, t.shape) { o in
            for i in 0..<strs.count { o[i] = try parseNumber(strs[i], D.self) }
        }
    }
}

private func convert<S: CastSource, D: CastDest>(_ t: Tensor, _: S.Type, _: D.Type) throws -> Tensor {
    try t.withBuffer(of: S.self) { src in
        ewMakeOutput(D.self, t.shape) { o in
            switch S.castKind {
            case .signed: for i in 0..<src.count { o[i] = D(castI: src[i].castI) }
            case .unsigned: for i in 0..<src.count { o[i] = D(castU: src[i].castU) }
            case .float: for i in 0..<src.count { o[i] = D(castD: src[i].castD) }
            }
        }
    }
}

/// numpy-style parsing of a string element: integers exactly, otherwise as a double
/// ("inf", "nan", exponents). Bool is true for any non-empty string (numpy `astype(bool)`).
private func parseNumber<D: CastDest>(_ s: String, _: D.Type) throws -> D {
    let trimmed = s.trimmingCharacters(in: .whitespaces)
    if D.self == Bool.self { return D(castI: trimmed.isEmpty ? 0 : 1) }
    if let i = Int64(trimmed) { return D(castI: i) }
    if let u = UInt64(trimmed) { return D(castU: u) }
    if let d = Double(trimmed) { return D(castD: d) }
    switch trimmed.lowercased() {
    case "inf", "+inf", "infinity", "+infinity": return D(castD: .infinity)
    case "-inf", "-infinity": return D(castD: -.infinity)
    case "nan", "+nan", "-nan": return D(castD: .nan)
    default: throw KernelError("cannot parse string '\(s)' as \(D.dtype)")
    }
}

private func castToString(_ t: Tensor) throws -> Tensor {
    func fmt<S: TensorElement>(_: S.Type, _ f: (S) -> String) throws -> [String] {
        try t.withBuffer(of: S.self) { $0.map(f) }
    }
    let out: [String]
    switch t.dtype {
    case .float32: out = try fmt(Float.self) { formatFloat(Double($0), $0.description) }
    case .float64: out = try fmt(Double.self) { formatFloat($0, $0.description) }
    case .float16: out = try fmt(Float16.self) { formatFloat(Double($0), $0.description) }
    case .bfloat16: out = try fmt(BFloat16.self) { formatFloat(Double($0.float), $0.float.description) }
    case .int8: out = try fmt(Int8.self) { String($0) }
    case .int16: out = try fmt(Int16.self) { String($0) }
    case .int32: out = try fmt(Int32.self) { String($0) }
    case .int64: out = try fmt(Int64.self) { String($0) }
    case .uint8: out = try fmt(UInt8.self) { String($0) }
    case .uint16: out = try fmt(UInt16.self) { String($0) }
    case .uint32: out = try fmt(UInt32.self) { String($0) }
    case .uint64: out = try fmt(UInt64.self) { String($0) }
    case .bool: out = try fmt(Bool.self) { $0 ? "True" : "False" }
    case .string: out = t.strings
    }
    return Tensor(dtype: .string, shape: t.shape, storage: TensorStorage(strings: out))
}

/// numpy `str()` of a float: shortest round-trip digits (Swift's `description`), positional for
/// magnitudes in [1e-4, 1e16), scientific otherwise with a two-digit exponent.
private func formatFloat(_ v: Double, _ shortest: String) -> String {
    if v.isNaN { return "nan" }
    if v.isInfinite { return v < 0 ? "-inf" : "inf" }
    let mag = abs(v)
    let wantsSci = mag != 0 && (mag < 1e-4 || mag >= 1e16)
    // Split Swift's shortest digits into sign, digits and decimal exponent.
    var s = shortest
    var neg = false
    if s.hasPrefix("-") { neg = true; s.removeFirst() }
    var exp10 = 0
    if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exp10 = Int(s[s.index(after: e)...]) ?? 0
        s = String(s[..<e])
    }
    let parts = s.split(separator: ".", omittingEmptySubsequences: false)
    let intPart = String(parts.first ?? "0")
    let fracPart = parts.count > 1 ? String(parts[1]) : ""
    var digits = intPart + fracPart
    var point = intPart.count + exp10  // position of the decimal point within `digits`
    while digits.count > 1 && digits.hasPrefix("0") { digits.removeFirst(); point -= 1 }
    while digits.count > 1 && digits.hasSuffix("0") { digits.removeLast() }
    if digits == "0" { return (neg ? "-" : "") + "0.0" }
    var r: String
    if wantsSci {
        let e = point - 1
        r = String(digits.first ?? "0")
        if digits.count > 1 { r += "." + digits.dropFirst() }
        r += "e" + (e < 0 ? "-" : "+") + (abs(e) < 10 ? "0" : "") + String(abs(e))
    } else if point <= 0 {
        r = "0." + String(repeating: "0", count: -point) + digits
    } else if point >= digits.count {
        r = digits + String(repeating: "0", count: point - digits.count) + ".0"
    } else {
        let i = digits.index(digits.startIndex, offsetBy: point)
        r = digits[..<i] + "." + digits[i...]
    }
    return (neg ? "-" : "") + r
}

/// DType from a Cast `to` attribute: an ONNX type code, or a type name before opset 6.
func castTargetType(_ c: NodeContext) throws -> DType {
    switch c.node.attributes["to"] {
    case .int(let code):
        guard let dt = DType(rawValue: code) else { throw KernelError("cast to ONNX type \(code) is not supported") }
        return dt
    case .string(let name):
        guard let dt = DType(name: name) else { throw KernelError("cast to type '\(name)' is not supported") }
        return dt
    case nil: throw KernelError("attribute 'to' is required")
    default: throw KernelError("attribute 'to' must be an int")
    }
}

struct CastKernel: TensorKernel {
    let to: DType
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        [try castTensor(try inputs.required(0, "input"), to: to)]
    }
}

struct CastLikeKernel: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input"), like = try inputs.required(1, "target_type")
        return [try castTensor(x, to: like.dtype)]
    }
}

/// BitCast: reinterprets the bits of each element as a same-size type.
struct BitCastKernel: TensorKernel {
    let to: DType
    init(_ c: NodeContext) throws {
        to = try castTargetType(c)
        guard to != .string else { throw KernelError("BitCast to string is not allowed") }
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        guard x.dtype != .string, x.dtype.size == to.size else {
            throw KernelError("BitCast from \(x.dtype) to \(to) needs types of the same size")
        }
        let out = Tensor.uninitialized(to, shape: x.shape)
        if to == .bool {
            // Bool storage must hold 0 or 1.
            let src = x.rawPointer.assumingMemoryBound(to: UInt8.self)
            let dst = out.mutablePointer(Bool.self)
            for i in 0..<x.count { dst[i] = src[i] != 0 }
        } else {
            out.rawPointer.copyMemory(from: x.rawPointer, byteCount: x.byteCount)
        }
        return [out]
    }
}
