import Foundation

/// Loads a model file without holding its weights twice.
///
/// SwiftProtobuf copies every `bytes` field while parsing, so parsing a whole model file keeps the file's pages
/// and a second copy of every initializer's `raw_data` alive at once (for VGG-19, 2 × 548 MiB before any tensor
/// exists). This splitter walks the protobuf wire format of the memory-mapped file once and writes a small copy of
/// the ModelProto in which the large `raw_data` fields of the main graph's initializers are left out, remembering
/// where they are in the file. The importer then copies each one straight from the mapping into its tensor and
/// lets the kernel drop the file pages it no longer needs (`madvise(MADV_DONTNEED)` on a read-only private file
/// mapping only discards the cached copy; reading again reloads it from the file).
///
/// Anything unexpected (a group wire type, a length past the end, the graph field twice) makes `split` return nil
/// and the caller parses the whole file as before.
struct RawDataSplitter {
    /// A `raw_data` byte range in the file.
    struct Range: Sendable { let offset: Int; let count: Int }

    /// `raw_data` fields smaller than this stay in the parsed message.
    static let threshold = 64 * 1024

    let bytes: UnsafeRawBufferPointer

    /// The ModelProto without the large initializer `raw_data` fields, and per initializer (in order) the
    /// file range of the field that was left out, if any.
    func split() -> (message: Data, raw: [Range?])? {
        var raw: [Range?] = []
        var sawGraph = false
        var out = Data()
        var pos = 0
        while pos < bytes.count {
            guard let f = field(at: pos) else { return nil }
            if f.number == 7 && f.wireType == 2 {
                guard !sawGraph else { return nil }
                sawGraph = true
                guard let g = splitGraph(f.bodyStart, f.end, &raw) else { return nil }
                Self.appendVarint(&out, UInt64(7 << 3 | 2))
                Self.appendVarint(&out, UInt64(g.count))
                out.append(g)
            } else {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[pos..<f.end]))
            }
            pos = f.end
        }
        return (out, raw)
    }

    private func splitGraph(_ start: Int, _ end: Int, _ raw: inout [Range?]) -> Data? {
        var out = Data()
        var pos = start
        while pos < end {
            guard let f = field(at: pos), f.end <= end else { return nil }
            if f.number == 5 && f.wireType == 2 {
                var range: Range? = nil
                guard let t = splitTensor(f.bodyStart, f.end, &range) else { return nil }
                raw.append(range)
                Self.appendVarint(&out, UInt64(5 << 3 | 2))
                Self.appendVarint(&out, UInt64(t.count))
                out.append(t)
            } else {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[pos..<f.end]))
            }
            pos = f.end
        }
        return out
    }

    private func splitTensor(_ start: Int, _ end: Int, _ range: inout Range?) -> Data? {
        var out = Data()
        var pos = start
        while pos < end {
            guard let f = field(at: pos), f.end <= end else { return nil }
            if f.number == 9 && f.wireType == 2 && f.end - f.bodyStart >= Self.threshold {
                range = Range(offset: f.bodyStart, count: f.end - f.bodyStart)  // the last occurrence wins
            } else {
                if f.number == 9 && f.wireType == 2 { range = nil }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[pos..<f.end]))
            }
            pos = f.end
        }
        return out
    }

    /// The field starting at `pos`: number, wire type, where its body starts and where it ends.
    private func field(at pos: Int) -> (number: UInt64, wireType: UInt64, bodyStart: Int, end: Int)? {
        guard let (tag, p) = varint(at: pos) else { return nil }
        let number = tag >> 3, wireType = tag & 7
        guard number > 0 else { return nil }
        switch wireType {
        case 0:
            guard let (_, e) = varint(at: p) else { return nil }
            return (number, wireType, p, e)
        case 1:
            guard p + 8 <= bytes.count else { return nil }
            return (number, wireType, p, p + 8)
        case 5:
            guard p + 4 <= bytes.count else { return nil }
            return (number, wireType, p, p + 4)
        case 2:
            guard let (n, b) = varint(at: p), n <= UInt64(bytes.count - b) else { return nil }
            return (number, wireType, b, b + Int(n))
        default:
            return nil  // groups (3, 4) and invalid wire types: let SwiftProtobuf handle the file
        }
    }

    private func varint(at start: Int) -> (UInt64, Int)? {
        var v: UInt64 = 0, shift: UInt64 = 0, p = start
        while p < bytes.count && shift < 64 {
            let b = bytes[p]
            v |= UInt64(b & 0x7f) << shift
            p += 1
            if b & 0x80 == 0 { return (v, p) }
            shift += 7
        }
        return nil
    }

    static func appendVarint(_ d: inout Data, _ value: UInt64) {
        var v = value
        while v >= 0x80 { d.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        d.append(UInt8(v))
    }
}
