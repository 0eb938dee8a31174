import Foundation
import Onyx

/// Converts tensors to and from the v2 protocol's JSON and binary forms. Every size and value is checked:
/// a malformed request throws a `.badRequest` error naming the tensor.
enum TensorCoding {
    /// The element count of `shape`, rejecting negative dims and overflow.
    static func elementCount(_ shape: [Int], name: String) throws -> Int {
        var n = 1
        for d in shape {
            guard d >= 0 else { throw ServeError.bad("input '\(name)': shape \(shape) has a negative dimension") }
            let (m, o) = n.multipliedReportingOverflow(by: d)
            guard !o, m <= 1 << 40 else { throw ServeError.bad("input '\(name)': shape \(shape) is too large") }
            n = m
        }
        return n
    }

    static func parseShape(_ j: JSON?, name: String) throws -> [Int] {
        guard let arr = j?.arrayValue else { throw ServeError.bad("input '\(name)': 'shape' must be an array of integers") }
        guard arr.count <= 32 else { throw ServeError.bad("input '\(name)': shape has more than 32 dimensions") }
        return try arr.map {
            guard let v = $0.int64Value, v >= 0, v <= Int64(Int32.max) else {
                throw ServeError.bad("input '\(name)': shape must contain non-negative integers, got \(String(decoding: JSONWriter.encode(j ?? .null), as: UTF8.self))")
            }
            return Int(v)
        }
    }

    /// Flattens nested `data` arrays (row-major).
    static func flatten(_ j: JSON, into out: inout [JSON], limit: Int, name: String) throws {
        if case .array(let a) = j {
            for e in a { try flatten(e, into: &out, limit: limit, name: name) }
        } else {
            guard out.count < limit else { throw ServeError.bad("input '\(name)': 'data' has more elements than the shape allows (\(limit))") }
            out.append(j)
        }
    }

    static func ints<T: FixedWidthInteger & TensorElement>(_ vals: [JSON], _: T.Type, name: String, dt: String) throws -> [T] {
        try vals.map { v in
            if let b = v.boolValue { return b ? 1 : 0 }
            if T.isSigned {
                guard let i = v.int64Value, let t = T(exactly: i) else { throw ServeError.bad("input '\(name)': \(describe(v)) is not a valid \(dt) value") }
                return t
            }
            guard let i = v.uint64Value, let t = T(exactly: i) else { throw ServeError.bad("input '\(name)': \(describe(v)) is not a valid \(dt) value") }
            return t
        }
    }

    static func doubles(_ vals: [JSON], name: String, dt: String) throws -> [Double] {
        try vals.map { v in
            if let d = v.doubleValue { return d }
            if let s = v.stringValue, let d = Double(s) { return d }  // "NaN", "inf"
            throw ServeError.bad("input '\(name)': \(describe(v)) is not a valid \(dt) value")
        }
    }

    static func describe(_ v: JSON) -> String {
        let s = String(decoding: JSONWriter.encode(v), as: UTF8.self)
        return s.count > 40 ? String(s.prefix(40)) + "…" : s
    }

    /// A tensor from JSON `data`.
    static func tensor(fromJSON data: JSON, dtype: DType, shape: [Int], name: String) throws -> Tensor {
        let n = try elementCount(shape, name: name)
        var flat: [JSON] = []
        flat.reserveCapacity(min(n, 1 << 20))  // n comes from the request: never reserve more than a body can fill
        try flatten(data, into: &flat, limit: n, name: name)
        guard flat.count == n else {
            throw ServeError.bad("input '\(name)': shape \(shape) needs \(n) elements, 'data' has \(flat.count)")
        }
        let dn = V2DataType.name(dtype)
        switch dtype {
        case .bool:
            return Tensor(shape: shape, checkedValues: try flat.map { v -> Bool in
                if let b = v.boolValue { return b }
                if let i = v.int64Value, i == 0 || i == 1 { return i == 1 }
                throw ServeError.bad("input '\(name)': \(describe(v)) is not a valid BOOL value")
            })
        case .uint8: return Tensor(shape: shape, checkedValues: try ints(flat, UInt8.self, name: name, dt: dn))
        case .uint16: return Tensor(shape: shape, checkedValues: try ints(flat, UInt16.self, name: name, dt: dn))
        case .uint32: return Tensor(shape: shape, checkedValues: try ints(flat, UInt32.self, name: name, dt: dn))
        case .uint64: return Tensor(shape: shape, checkedValues: try ints(flat, UInt64.self, name: name, dt: dn))
        case .int8: return Tensor(shape: shape, checkedValues: try ints(flat, Int8.self, name: name, dt: dn))
        case .int16: return Tensor(shape: shape, checkedValues: try ints(flat, Int16.self, name: name, dt: dn))
        case .int32: return Tensor(shape: shape, checkedValues: try ints(flat, Int32.self, name: name, dt: dn))
        case .int64: return Tensor(shape: shape, checkedValues: try ints(flat, Int64.self, name: name, dt: dn))
        case .float16: return Tensor(shape: shape, checkedValues: try doubles(flat, name: name, dt: dn).map { Float16(Float($0)) })
        case .float32: return Tensor(shape: shape, checkedValues: try doubles(flat, name: name, dt: dn).map { Float($0) })
        case .float64: return Tensor(shape: shape, checkedValues: try doubles(flat, name: name, dt: dn))
        case .bfloat16:
            let t = Tensor.uninitialized(.bfloat16, shape: shape)
            let p = t.mutablePointer(UInt16.self)
            for (i, d) in try doubles(flat, name: name, dt: dn).enumerated() { p[i] = BFloat16(Float(d)).bits }
            return t
        case .string:
            return Tensor(shape: shape, checkedValues: try flat.map { v -> String in
                guard let s = v.stringValue else { throw ServeError.bad("input '\(name)': \(describe(v)) is not a valid BYTES value (expected a string)") }
                return s
            })
        }
    }

    /// A tensor from raw little-endian bytes (BYTES: each element a 4-byte little-endian length then the bytes).
    static func tensor(fromBinary bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], name: String) throws -> Tensor {
        let n = try elementCount(shape, name: name)
        if dtype == .string {
            var out: [String] = []
            out.reserveCapacity(min(n, bytes.count / 4 + 1))  // each element takes at least 4 bytes
            var off = 0
            while off < bytes.count {
                guard off + 4 <= bytes.count else { throw ServeError.bad("input '\(name)': truncated BYTES element length") }
                let len = Int(UInt32(bytes[off]) | UInt32(bytes[off + 1]) << 8 | UInt32(bytes[off + 2]) << 16 | UInt32(bytes[off + 3]) << 24)
                off += 4
                guard len <= bytes.count - off else { throw ServeError.bad("input '\(name)': BYTES element of \(len) bytes runs past the data") }
                out.append(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[off..<(off + len)]), as: UTF8.self))
                off += len
                guard out.count <= n else { break }
            }
            guard out.count == n else { throw ServeError.bad("input '\(name)': shape \(shape) needs \(n) BYTES elements, the binary data has \(out.count)") }
            return Tensor(shape: shape, checkedValues: out)
        }
        let need = n * dtype.size
        guard bytes.count == need else {
            throw ServeError.bad("input '\(name)': shape \(shape) of \(V2DataType.name(dtype)) needs \(need) bytes, binary_data_size is \(bytes.count)")
        }
        let t = Tensor.uninitialized(dtype, shape: shape)
        if dtype == .bool {
            let p = t.rawPointer.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n { p[i] = bytes[i] != 0 ? 1 : 0 }
        } else if need > 0, let base = bytes.baseAddress {
            t.rawPointer.copyMemory(from: base, byteCount: need)
        }
        return t
    }

    /// Appends the tensor's elements as a flat JSON array.
    static func writeJSONData(_ t: Tensor, into w: inout JSONWriter) {
        w.bytes.append(UInt8(ascii: "["))
        let n = t.count
        func each(_ body: (Int, inout JSONWriter) -> Void) {
            for i in 0..<n {
                if i > 0 { w.bytes.append(0x2C) }
                body(i, &w)
            }
        }
        let p = t.rawPointer
        switch t.dtype {
        case .bool: each { i, w in w.raw(p.load(fromByteOffset: i, as: UInt8.self) != 0 ? "true" : "false") }
        case .uint8: each { i, w in w.raw(String(p.load(fromByteOffset: i, as: UInt8.self))) }
        case .uint16: each { i, w in w.raw(String(p.load(fromByteOffset: i * 2, as: UInt16.self))) }
        case .uint32: each { i, w in w.raw(String(p.load(fromByteOffset: i * 4, as: UInt32.self))) }
        case .uint64: each { i, w in w.raw(String(p.load(fromByteOffset: i * 8, as: UInt64.self))) }
        case .int8: each { i, w in w.raw(String(p.load(fromByteOffset: i, as: Int8.self))) }
        case .int16: each { i, w in w.raw(String(p.load(fromByteOffset: i * 2, as: Int16.self))) }
        case .int32: each { i, w in w.raw(String(p.load(fromByteOffset: i * 4, as: Int32.self))) }
        case .int64: each { i, w in w.raw(String(p.load(fromByteOffset: i * 8, as: Int64.self))) }
        case .float16: each { i, w in w.float(Float(p.load(fromByteOffset: i * 2, as: Float16.self))) }
        case .float32: each { i, w in w.float(p.load(fromByteOffset: i * 4, as: Float.self)) }
        case .float64: each { i, w in w.double(p.load(fromByteOffset: i * 8, as: Double.self)) }
        case .bfloat16: each { i, w in w.float(BFloat16(bits: p.load(fromByteOffset: i * 2, as: UInt16.self)).float) }
        case .string:
            let s = t.strings
            each { i, w in w.string(s[i]) }
        }
        w.bytes.append(UInt8(ascii: "]"))
    }

    /// The tensor's binary form.
    static func binary(_ t: Tensor) -> [UInt8] {
        if t.dtype == .string {
            var out: [UInt8] = []
            for s in t.strings {
                let u = Array(s.utf8)
                let n = UInt32(truncatingIfNeeded: u.count)
                out.append(UInt8(n & 0xFF)); out.append(UInt8(n >> 8 & 0xFF)); out.append(UInt8(n >> 16 & 0xFF)); out.append(UInt8(n >> 24))
                out.append(contentsOf: u)
            }
            return out
        }
        return Array(UnsafeRawBufferPointer(start: t.rawPointer, count: t.byteCount))
    }
}
