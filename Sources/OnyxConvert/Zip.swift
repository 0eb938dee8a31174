import OnyxTensor

/// A minimal zip archive reader (stored and deflate entries, CRC-32 checked), enough for `.keras` archives.
public struct ZipArchive: Sendable {
    public struct Entry: Sendable {
        public var name: String
        var method: Int
        var crc: UInt32
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
    }

    let bytes: [UInt8]
    public let entries: [Entry]

    public init(bytes: [UInt8]) throws {
        self.bytes = bytes
        let n = bytes.count
        guard n >= 22 else { throw ConvertError("not a zip archive: \(n) bytes is too short (truncated?)") }
        // End of central directory: scan back over a possible comment (at most 65535 bytes).
        var eocd = -1
        var i = n - 22
        while i >= max(0, n - 22 - 65535) {
            if bytes[i] == 0x50, bytes[i + 1] == 0x4B, bytes[i + 2] == 0x05, bytes[i + 3] == 0x06 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else {
            throw ConvertError("not a zip archive, or a truncated one: no end-of-central-directory record")
        }
        let r = ByteReader(bytes)
        let count = Int(try r.u16(eocd + 10))
        let cdSize = Int(try r.u32(eocd + 12))
        let cdOffset = Int(try r.u32(eocd + 16))
        guard cdOffset != 0xFFFF_FFFF, count != 0xFFFF else { throw ConvertError("zip64 archives are not supported") }
        guard cdOffset + cdSize <= eocd else { throw ConvertError("zip archive is truncated or corrupt (central directory out of range)") }
        var out: [Entry] = []
        var p = cdOffset
        for _ in 0..<count {
            guard try r.u32(p) == 0x0201_4B50 else { throw ConvertError("zip archive is corrupt (bad central directory entry)") }
            let method = Int(try r.u16(p + 10))
            let crc = try r.u32(p + 16)
            let csize = Int(try r.u32(p + 20)), usize = Int(try r.u32(p + 24))
            let nameLen = Int(try r.u16(p + 28)), extraLen = Int(try r.u16(p + 30)), commentLen = Int(try r.u16(p + 32))
            let local = Int(try r.u32(p + 42))
            let name = String(decoding: try r.slice(p + 46, nameLen), as: UTF8.self)
            out.append(Entry(name: name, method: method, crc: crc, compressedSize: csize, size: usize,
                             localHeaderOffset: local))
            p += 46 + nameLen + extraLen + commentLen
        }
        entries = out
    }

    public func contains(_ name: String) -> Bool { entries.contains { $0.name == name } }

    /// The uncompressed bytes of entry `name`.
    public func read(_ name: String) throws -> [UInt8] {
        guard let e = entries.first(where: { $0.name == name }) else {
            throw ConvertError("the archive has no '\(name)' entry")
        }
        let r = ByteReader(bytes)
        guard try r.u32(e.localHeaderOffset) == 0x0403_4B50 else {
            throw ConvertError("zip entry '\(name)' is corrupt (bad local header)")
        }
        let start = e.localHeaderOffset + 30 + Int(try r.u16(e.localHeaderOffset + 26)) + Int(try r.u16(e.localHeaderOffset + 28))
        guard start + e.compressedSize <= bytes.count else {
            throw ConvertError("zip entry '\(name)' is truncated (needs \(e.compressedSize) bytes at \(start), file has \(bytes.count))")
        }
        let raw = bytes[start..<(start + e.compressedSize)]
        let data: [UInt8]
        switch e.method {
        case 0: data = Array(raw)
        case 8:
            do { data = try Inflate.raw(raw, expectedSize: e.size) } catch let err as InflateError {
                throw ConvertError("zip entry '\(name)': \(err.description)")
            }
        default: throw ConvertError("zip entry '\(name)' uses unsupported compression method \(e.method)")
        }
        guard data.count == e.size else { throw ConvertError("zip entry '\(name)' has \(data.count) bytes, expected \(e.size)") }
        guard CRC32.checksum(data) == e.crc else { throw ConvertError("zip entry '\(name)' fails its CRC-32 check (corrupt)") }
        return data
    }
}

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
