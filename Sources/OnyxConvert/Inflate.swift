/// A small pure-Swift DEFLATE decoder (RFC 1951) with the zlib wrapper (RFC 1950), for zip entries and HDF5
/// deflate-filtered chunks. Every read is bounds-checked: corrupt or truncated streams throw, never trap.
public enum Inflate {
    /// Decodes a zlib stream (2-byte header, deflate data, Adler-32 trailer; the trailer is checked when present).
    public static func zlib(_ data: ArraySlice<UInt8>, expectedSize: Int? = nil) throws -> [UInt8] {
        guard data.count >= 2 else { throw ConvertError("zlib stream is truncated (\(data.count) bytes)") }
        let cmf = data[data.startIndex], flg = data[data.startIndex + 1]
        guard cmf & 0x0F == 8, (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0 else {
            throw ConvertError("not a zlib stream (header \(cmf), \(flg))")
        }
        guard flg & 0x20 == 0 else { throw ConvertError("zlib stream needs a preset dictionary") }
        var s = Inflater(data[(data.startIndex + 2)...], expectedSize: expectedSize)
        try s.run()
        return s.out
    }

    /// Decodes a raw deflate stream.
    public static func raw(_ data: ArraySlice<UInt8>, expectedSize: Int? = nil) throws -> [UInt8] {
        var s = Inflater(data, expectedSize: expectedSize)
        try s.run()
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
            guard left >= 0 else { throw ConvertError("deflate: over-subscribed Huffman code") }
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

    init(_ input: ArraySlice<UInt8>, expectedSize: Int?) {
        self.input = input
        pos = input.startIndex
        if let e = expectedSize { out.reserveCapacity(e) }
        // Guard against decompression bombs: a generous cap relative to the declared size.
        limit = expectedSize.map { $0 } ?? Int.max
    }

    mutating func bits(_ n: Int) throws -> Int {
        while bitCount < n {
            guard pos < input.endIndex else { throw ConvertError("deflate stream is truncated") }
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
        throw ConvertError("deflate: invalid Huffman code")
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
            default: throw ConvertError("deflate: invalid block type 3")
            }
        } while last == 0
    }

    mutating func stored() throws {
        bitBuf = 0; bitCount = 0
        guard pos + 4 <= input.endIndex else { throw ConvertError("deflate stream is truncated") }
        let len = Int(input[pos]) | Int(input[pos + 1]) << 8
        let nlen = Int(input[pos + 2]) | Int(input[pos + 3]) << 8
        guard len == (~nlen & 0xFFFF) else { throw ConvertError("deflate: stored block length check failed") }
        pos += 4
        guard pos + len <= input.endIndex else { throw ConvertError("deflate stream is truncated") }
        guard out.count + len <= limit else { throw ConvertError("deflate: data larger than declared") }
        out.append(contentsOf: input[pos..<(pos + len)])
        pos += len
    }

    mutating func dynamic() throws {
        let nlen = try bits(5) + 257, ndist = try bits(5) + 1, ncode = try bits(4) + 4
        guard nlen <= 286, ndist <= 30 else { throw ConvertError("deflate: bad code counts") }
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
                guard i > 0 else { throw ConvertError("deflate: repeat with no previous length") }
                len = lengths[i - 1]; rep = 3 + (try bits(2))
            case 17: rep = 3 + (try bits(3))
            default: rep = 11 + (try bits(7))
            }
            guard i + rep <= nlen + ndist else { throw ConvertError("deflate: too many code lengths") }
            for _ in 0..<rep { lengths[i] = len; i += 1 }
        }
        guard lengths[256] != 0 else { throw ConvertError("deflate: no end-of-block code") }
        try codes(try Huffman(lengths: Array(lengths[0..<nlen])), try Huffman(lengths: Array(lengths[nlen...])))
    }

    mutating func codes(_ lit: Huffman, _ dist: Huffman) throws {
        while true {
            let sym = try decode(lit)
            if sym < 256 {
                guard out.count < limit else { throw ConvertError("deflate: data larger than declared") }
                out.append(UInt8(sym))
            } else if sym == 256 {
                return
            } else {
                let li = sym - 257
                guard li < 29 else { throw ConvertError("deflate: invalid length code") }
                let len = Self.lengthBase[li] + (try bits(Self.lengthExtra[li]))
                let di = try decode(dist)
                guard di < 30 else { throw ConvertError("deflate: invalid distance code") }
                let d = Self.distBase[di] + (try bits(Self.distExtra[di]))
                guard d <= out.count else { throw ConvertError("deflate: distance too far back") }
                guard out.count + len <= limit else { throw ConvertError("deflate: data larger than declared") }
                let start = out.count - d
                for k in 0..<len { out.append(out[start + k]) }
            }
        }
    }
}

/// The error type of the converters: one clear message.
public struct ConvertError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
