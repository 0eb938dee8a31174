/// Bounds-checked little-endian reads from a byte array: a read that does not fit throws the error the reader was
/// made with (a truncated or corrupt file), it never traps. The zip reader (`ZipArchive`) and OnyxConvert's HDF5
/// reader both read through it, each with its own error.
public struct ByteReader: Sendable {
    public let b: [UInt8]
    /// The error for a read of `n` bytes at offset `at` from data of `count` bytes.
    let outOfRange: @Sendable (_ at: Int, _ n: Int, _ count: Int) -> any Error

    public init(_ b: [UInt8], outOfRange: @escaping @Sendable (_ at: Int, _ n: Int, _ count: Int) -> any Error) {
        self.b = b
        self.outOfRange = outOfRange
    }

    /// Throws unless bytes [at, at + n) are inside the data.
    public func check(_ at: Int, _ n: Int) throws {
        guard at >= 0, n >= 0, at <= b.count, n <= b.count - at else { throw outOfRange(at, n, b.count) }
    }
    public func u8(_ at: Int) throws -> UInt8 { try check(at, 1); return b[at] }
    public func u16(_ at: Int) throws -> UInt16 { try check(at, 2); return UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
    public func u32(_ at: Int) throws -> UInt32 {
        try check(at, 4)
        return UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }
    public func u64(_ at: Int) throws -> UInt64 { UInt64(try u32(at)) | UInt64(try u32(at + 4)) << 32 }
    public func slice(_ at: Int, _ n: Int) throws -> ArraySlice<UInt8> { try check(at, n); return b[at..<(at + n)] }
}
