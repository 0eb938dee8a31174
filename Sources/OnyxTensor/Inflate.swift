/// The one DEFLATE decoder of Onyx (RFC 1951) with its zlib (RFC 1950) and gzip (RFC 1952) wrappers, pure Swift: PNG
/// image data (OnyxEngine), zip entries and HDF5 deflate-filtered chunks (OnyxConvert), compressed HTTP request
/// bodies (OnyxServer). Every read is bounds-checked: corrupt or truncated streams throw, never trap.
public enum Inflate {
    /// Decodes a zlib stream (2-byte header, deflate data, Adler-32 trailer; the trailer is checked when present).
    /// `limit` caps the output (default: `expectedSize`, else none).
    public static func zlib(_ data: ArraySlice<UInt8>, expectedSize: Int? = nil, limit: Int? = nil) throws -> [UInt8] {
        guard data.count >= 2 else { throw InflateError("zlib stream is truncated (\(data.count) bytes)") }
        let cmf = data[data.startIndex], flg = data[data.startIndex + 1]
        guard cmf & 0x0F == 8, (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0 else {
            throw InflateError("not a zlib stream (header \(cmf), \(flg))")
        }
        guard flg & 0x20 == 0 else { throw InflateError("zlib stream needs a preset dictionary") }
        var s = Inflater(data[(data.startIndex + 2)...], expectedSize: expectedSize, limit: limit)
        try s.run()
        return s.out
    }

    /// Decodes a raw deflate stream.
    public static func raw(_ data: ArraySlice<UInt8>, expectedSize: Int? = nil, limit: Int? = nil) throws -> [UInt8] {
        var s = Inflater(data, expectedSize: expectedSize, limit: limit)
        try s.run()
        return s.out
    }

    /// Decodes one gzip member (RFC 1952): the header with its optional extra field, file name, comment and header
    /// CRC, the deflate data, then the CRC-32 and length trailer, both checked. Output beyond `limit` bytes throws
    /// (a decompression bomb stops there, it is never inflated whole).
    public static func gzip(_ data: ArraySlice<UInt8>, limit: Int) throws -> [UInt8] {
        var p = data.startIndex
        let end = data.endIndex
        func need(_ n: Int) throws { guard p + n <= end else { throw InflateError("gzip stream is truncated") } }
        try need(10)
        guard data[p] == 0x1F, data[p + 1] == 0x8B else { throw InflateError("not a gzip stream (bad magic bytes)") }
        guard data[p + 2] == 8 else { throw InflateError("gzip compression method \(data[p + 2]) is not deflate") }
        let flags = data[p + 3]
        guard flags & 0xE0 == 0 else { throw InflateError("gzip header has reserved flags set") }
        p += 10
        if flags & 0x04 != 0 {  // FEXTRA
            try need(2)
            let n = Int(data[p]) | Int(data[p + 1]) << 8
            p += 2
            try need(n)
            p += n
        }
        for bit: UInt8 in [0x08, 0x10] where flags & bit != 0 {  // FNAME, FCOMMENT: zero-terminated
            while true {
                try need(1)
                p += 1
                if data[p - 1] == 0 { break }
            }
        }
        if flags & 0x02 != 0 { try need(2); p += 2 }  // FHCRC
        var s = Inflater(data[p...], expectedSize: nil, limit: limit)
        try s.run()
        let q = s.pos
        guard q + 8 <= end else { throw InflateError("gzip trailer is truncated") }
        func u32(_ i: Int) -> UInt32 {
            UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
        }
        guard u32(q) == CRC32.checksum(s.out) else { throw InflateError("gzip data fails its CRC-32 check (corrupt)") }
        guard u32(q + 4) == UInt32(truncatingIfNeeded: s.out.count) else {
            throw InflateError("gzip length trailer does not match the data (corrupt)")
        }
        return s.out
    }
}

/// Canonical Huffman decoding table: counts per length and symbols sorted by code.
private struct Huffman {
    var counts = [Int](repeating: 0, count: 16)
    var symbols: [Int]

    init(lengths: [Int]) throws {
        symbols = [Int](repeating: 0, count: lengths.count)
        for l in lengths { counts[l] += 1 }
        counts[0] = 0
        var left = 1
        for len in 1..<16 {
            left <<= 1
            left -= counts[len]
            guard left >= 0 else { throw InflateError("deflate: over-subscribed Huffman code") }
        }
        var offs = [Int](repeating: 0, count: 16)
        for len in 1..<15 { offs[len + 1] = offs[len] + counts[len] }
        for (sym, l) in lengths.enumerated() where l != 0 {
            symbols[offs[l]] = sym
            offs[l] += 1
        }
    }
}

private struct Inflater {
    let input: ArraySlice<UInt8>
    var pos: Int
    var bitBuf = 0
    var bitCount = 0
    var out: [UInt8] = []
    let limit: Int

    init(_ input: ArraySlice<UInt8>, expectedSize: Int?, limit: Int? = nil) {
        self.input = input
        pos = input.startIndex
        if let e = expectedSize { out.reserveCapacity(e) }
        // Guard against decompression bombs: the declared size, or the caller's cap, bounds the output.
        self.limit = limit ?? expectedSize ?? Int.max
    }

    mutating func bits(_ n: Int) throws -> Int {
        while bitCount < n {
            guard pos < input.endIndex else { throw InflateError("deflate stream is truncated") }
            bitBuf |= Int(input[pos]) << bitCount
            pos += 1
            bitCount += 8
        }
        let v = bitBuf & ((1 << n) - 1)
        bitBuf >>= n
        bitCount -= n
        return v
    }

    mutating func decode(_ h: Huffman) throws -> Int {
        var code = 0, first = 0, index = 0
        for len in 1..<16 {
            code |= try bits(1)
            let count = h.counts[len]
            if code - count < first { return h.symbols[index + (code - first)] }
            index += count
            first += count
            first <<= 1
            code <<= 1
        }
        throw InflateError("deflate: invalid Huffman code")
    }

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
                             131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                           2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
                            13, 13]

    mutating func run() throws {
        var last = 0
        repeat {
            last = try bits(1)
            switch try bits(2) {
            case 0: try stored()
            case 1:
                var l = [Int](repeating: 8, count: 288)
                for i in 144..<256 { l[i] = 9 }
                for i in 256..<280 { l[i] = 7 }
                try codes(try Huffman(lengths: l), try Huffman(lengths: [Int](repeating: 5, count: 30)))
            case 2: try dynamic()
            default: throw InflateError("deflate: invalid block type 3")
            }
        } while last == 0
    }

    mutating func stored() throws {
        bitBuf = 0; bitCount = 0
        guard pos + 4 <= input.endIndex else { throw InflateError("deflate stream is truncated") }
        let len = Int(input[pos]) | Int(input[pos + 1]) << 8
        let nlen = Int(input[pos + 2]) | Int(input[pos + 3]) << 8
        guard len == (~nlen & 0xFFFF) else { throw InflateError("deflate: stored block length check failed") }
        pos += 4
        guard pos + len <= input.endIndex else { throw InflateError("deflate stream is truncated") }
        guard out.count + len <= limit else { throw InflateError("deflate: data larger than declared") }
        out.append(contentsOf: input[pos..<(pos + len)])
        pos += len
    }

    mutating func dynamic() throws {
        let nlen = try bits(5) + 257, ndist = try bits(5) + 1, ncode = try bits(4) + 4
        guard nlen <= 286, ndist <= 30 else { throw InflateError("deflate: bad code counts") }
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        var cl = [Int](repeating: 0, count: 19)
        for i in 0..<ncode { cl[order[i]] = try bits(3) }
        let lencode = try Huffman(lengths: cl)
        var lengths = [Int](repeating: 0, count: nlen + ndist)
        var i = 0
        while i < nlen + ndist {
            let sym = try decode(lencode)
            if sym < 16 { lengths[i] = sym; i += 1; continue }
            var len = 0, rep = 0
            switch sym {
            case 16:
                guard i > 0 else { throw InflateError("deflate: repeat with no previous length") }
                len = lengths[i - 1]; rep = 3 + (try bits(2))
            case 17: rep = 3 + (try bits(3))
            default: rep = 11 + (try bits(7))
            }
            guard i + rep <= nlen + ndist else { throw InflateError("deflate: too many code lengths") }
            for _ in 0..<rep { lengths[i] = len; i += 1 }
        }
        guard lengths[256] != 0 else { throw InflateError("deflate: no end-of-block code") }
        try codes(try Huffman(lengths: Array(lengths[0..<nlen])), try Huffman(lengths: Array(lengths[nlen...])))
    }

    mutating func codes(_ lit: Huffman, _ dist: Huffman) throws {
        while true {
            let sym = try decode(lit)
            if sym < 256 {
                guard out.count < limit else { throw InflateError("deflate: data larger than declared") }
                out.append(UInt8(sym))
            } else if sym == 256 {
                return
            } else {
                let li = sym - 257
                guard li < 29 else { throw InflateError("deflate: invalid length code") }
                let len = Self.lengthBase[li] + (try bits(Self.lengthExtra[li]))
                let di = try decode(dist)
                guard di < 30 else { throw InflateError("deflate: invalid distance code") }
                let d = Self.distBase[di] + (try bits(Self.distExtra[di]))
                guard d <= out.count else { throw InflateError("deflate: distance too far back") }
                guard out.count + len <= limit else { throw InflateError("deflate: data larger than declared") }
                let start = out.count - d
                for k in 0..<len { out.append(out[start + k]) }
            }
        }
    }
}

/// A malformed, truncated or oversized compressed stream.
public struct InflateError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
    /// True when the stream inflates beyond the caller's limit (a decompression bomb or a wrong declared size).
    public var isOverLimit: Bool { description.hasSuffix("larger than declared") }
}

/// CRC-32 (IEEE 802.3, reflected, as zip and gzip use it).
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
    public static func checksum(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
