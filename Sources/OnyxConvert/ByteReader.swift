import OnyxTensor

extension ByteReader {
    /// A reader whose out-of-range reads throw `ConvertError` (truncated model files).
    init(_ b: [UInt8]) {
        self.init(b) { at, n, count in
            ConvertError("read of \(n) bytes at offset \(at) is past the end of the data (\(count) bytes; truncated file?)")
        }
    }

    /// An unsigned integer of `size` bytes (1...8).
    func uN(_ at: Int, _ size: Int) throws -> UInt64 {
        try check(at, size)
        guard size >= 1, size <= 8 else { throw ConvertError("unsupported integer size \(size)") }
        var v: UInt64 = 0
        for k in 0..<size { v |= UInt64(b[at + k]) << (8 * UInt64(k)) }
        return v
    }
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
