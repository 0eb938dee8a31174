import OnyxTensor

/// Bounds-checked little-endian reads from a byte array.
struct ByteReader {
    let b: [UInt8]
    init(_ b: [UInt8]) { self.b = b }

    func check(_ at: Int, _ n: Int) throws {
        guard at >= 0, n >= 0, at <= b.count, n <= b.count - at else {
            throw ConvertError("read of \(n) bytes at offset \(at) is past the end of the data (\(b.count) bytes; truncated file?)")
        }
    }
    func u8(_ at: Int) throws -> UInt8 { try check(at, 1); return b[at] }
    func u16(_ at: Int) throws -> UInt16 { try check(at, 2); return UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
    func u32(_ at: Int) throws -> UInt32 {
        try check(at, 4)
        return UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }
    func u64(_ at: Int) throws -> UInt64 { UInt64(try u32(at)) | UInt64(try u32(at + 4)) << 32 }
    /// An unsigned integer of `size` bytes (1...8).
    func uN(_ at: Int, _ size: Int) throws -> UInt64 {
        try check(at, size)
        guard size >= 1, size <= 8 else { throw ConvertError("unsupported integer size \(size)") }
        var v: UInt64 = 0
        for k in 0..<size { v |= UInt64(b[at + k]) << (8 * UInt64(k)) }
        return v
    }
    func slice(_ at: Int, _ n: Int) throws -> ArraySlice<UInt8> { try check(at, n); return b[at..<(at + n)] }
}

extension ByteReader {
    /// An unsigned integer of `size` bytes as Int; values beyond Int.max (e.g. undefined addresses) throw.
    func int(_ at: Int, _ size: Int) throws -> Int {
        let v = try uN(at, size)
        guard let i = Int(exactly: v) else { throw ConvertError("value \(v) at offset \(at) is out of range (corrupt file)") }
        return i
    }
}

/// Product of dimensions, throwing on overflow instead of trapping.
func product(_ dims: [Int]) throws -> Int {
    var p = 1
    for d in dims {
        guard d >= 0 else { throw ConvertError("negative dimension \(d)") }
        let (m, o) = p.multipliedReportingOverflow(by: d)
        guard !o, m < 1 << 40 else { throw ConvertError("dimensions \(dims) are too large") }
        p = m
    }
    return p
}
