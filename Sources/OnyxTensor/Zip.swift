import Foundation

/// The one zip archive reader of Onyx: stored and deflate members (CRC-32 checked), zip64 sizes and offsets, every
/// read bounds-checked so a truncated or corrupt archive throws `ZipError`, never traps. Used for `.keras` models
/// (OnyxConvert) and numpy `.npz` files, `np.savez` and `np.savez_compressed` alike (OnyxEval).
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
        guard n >= 22 else { throw ZipError("not a zip archive: \(n) bytes is too short (truncated?)") }
        // End of central directory: scan back over a possible comment (at most 65535 bytes).
        var eocd = -1
        var i = n - 22
        while i >= max(0, n - 22 - 65535) {
            if bytes[i] == 0x50, bytes[i + 1] == 0x4B, bytes[i + 2] == 0x05, bytes[i + 3] == 0x06 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw ZipError("not a zip archive, or a truncated one: no end-of-central-directory record") }
        let r = ByteReader(zip: bytes)
        let count = try r.i16(eocd + 10)
        let cdOffset = try r.i32(eocd + 16)
        guard cdOffset != 0xFFFF_FFFF, count != 0xFFFF else { throw ZipError("zip64 archives with more than 65534 members are not supported") }
        guard cdOffset <= eocd else { throw ZipError("zip archive is truncated or corrupt (central directory out of range)") }
        var out: [Entry] = []
        var p = cdOffset
        for _ in 0..<count {
            guard try r.i32(p) == 0x0201_4B50 else { throw ZipError("zip archive is corrupt (bad central directory entry)") }
            let method = try r.i16(p + 10)
            let crc = try r.u32(p + 16)
            var csize = try r.i32(p + 20), usize = try r.i32(p + 24)
            let nameLen = try r.i16(p + 28), extraLen = try r.i16(p + 30), commentLen = try r.i16(p + 32)
            var local = try r.i32(p + 42)
            let name = String(decoding: try r.slice(p + 46, nameLen), as: UTF8.self)
            // Zip64 extended information (header id 1): 64-bit values for the fields saturated at 0xFFFFFFFF,
            // in the order uncompressed size, compressed size, local header offset.
            var e = p + 46 + nameLen
            let eEnd = e + extraLen
            while e + 4 <= eEnd {
                let id = try r.i16(e), len = try r.i16(e + 2)
                if id == 1 {
                    var q = e + 4
                    if usize == 0xFFFF_FFFF { usize = try r.i64(q); q += 8 }
                    if csize == 0xFFFF_FFFF { csize = try r.i64(q); q += 8 }
                    if local == 0xFFFF_FFFF { local = try r.i64(q) }
                }
                e += 4 + len
            }
            out.append(Entry(name: name, method: method, crc: crc, compressedSize: csize, size: usize, localHeaderOffset: local))
            p = eEnd + commentLen
        }
        entries = out
    }

    public func contains(_ name: String) -> Bool { entries.contains { $0.name == name } }

    /// The uncompressed bytes of entry `name`.
    public func read(_ name: String) throws -> [UInt8] {
        guard let e = entries.first(where: { $0.name == name }) else { throw ZipError("the archive has no '\(name)' entry") }
        let r = ByteReader(zip: bytes)
        guard try r.i32(e.localHeaderOffset) == 0x0403_4B50 else { throw ZipError("zip entry '\(name)' is corrupt (bad local header)") }
        let start = e.localHeaderOffset + 30 + (try r.i16(e.localHeaderOffset + 26)) + (try r.i16(e.localHeaderOffset + 28))
        guard start <= bytes.count, e.compressedSize <= bytes.count - start else {
            throw ZipError("zip entry '\(name)' is truncated (needs \(e.compressedSize) bytes at \(start), file has \(bytes.count))")
        }
        let raw = bytes[start..<(start + e.compressedSize)]
        let data: [UInt8]
        switch e.method {
        case 0: data = Array(raw)
        case 8:
            // The declared size bounds the output, so a lying header cannot inflate without limit.
            do { data = try Inflate.raw(raw, expectedSize: e.size) } catch let err as InflateError {
                throw ZipError("zip entry '\(name)': \(err.description)")
            }
        default: throw ZipError("zip entry '\(name)' uses unsupported compression method \(e.method)")
        }
        guard data.count == e.size else { throw ZipError("zip entry '\(name)' has \(data.count) bytes, expected \(e.size)") }
        guard CRC32.checksum(data) == e.crc else { throw ZipError("zip entry '\(name)' fails its CRC-32 check (corrupt)") }
        return data
    }
}

/// The archive's fields as non-negative Int (64-bit fields above 2^62 throw); reads past the end throw `ZipError`.
private extension ByteReader {
    init(zip b: [UInt8]) {
        self.init(b) { at, n, count in
            ZipError("zip archive is truncated or corrupt (read of \(n) bytes at offset \(at), file has \(count))")
        }
    }
    func i16(_ at: Int) throws -> Int { Int(try u16(at)) }
    func i32(_ at: Int) throws -> Int { Int(try u32(at)) }
    func i64(_ at: Int) throws -> Int {
        let hi = try i32(at + 4)
        guard hi < 1 << 30 else { throw ZipError("zip archive is corrupt (64-bit size or offset out of range)") }
        return try i32(at) | hi << 32
    }
}

/// A truncated, corrupt or unsupported zip archive.
public struct ZipError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// numpy `.npz` archives (`np.savez`, `np.savez_compressed`): each member `NAME.npy` decoded as a tensor.
public enum NPZ {
    /// The arrays by name (member names without `.npy`). Throws `ZipError` for a bad archive, `NPY.Error` for a
    /// bad member.
    public static func read(bytes: [UInt8]) throws -> [String: Tensor] {
        let zip = try ZipArchive(bytes: bytes)
        var out: [String: Tensor] = [:]
        for e in zip.entries where !e.name.hasSuffix("/") {
            let key = e.name.hasSuffix(".npy") ? String(e.name.dropLast(4)) : e.name
            out[key] = try NPY.decode(Data(try zip.read(e.name)))
        }
        return out
    }
}
