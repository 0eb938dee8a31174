import Foundation

/// A small zlib / DEFLATE (RFC 1950/1951) decoder for PNG image data. Every read is bounds-checked;
/// malformed streams throw `KernelError`.
struct Inflater {
    private let data: [UInt8]
    private var pos: Int
    private var bitBuf: UInt32 = 0
    private var bitCount = 0
    private var out: [UInt8] = []
    private let limit: Int

    /// `limit` caps the decompressed size (decompression bombs throw).
    static func zlib(_ data: [UInt8], limit: Int) throws -> [UInt8] {
        guard data.count >= 2 else { throw KernelError("zlib stream is truncated") }
        let cmf = Int(data[0]), flg = Int(data[1])
        guard cmf & 0x0F == 8, (cmf << 8 | flg) % 31 == 0 else { throw KernelError("bad zlib header") }
        guard flg & 0x20 == 0 else { throw KernelError("zlib preset dictionaries are not supported") }
        var s = Inflater(data: data, pos: 2, limit: limit)
        try s.run()
        return s.out
    }

    private init(data: [UInt8], pos: Int, limit: Int) { self.data = data; self.pos = pos; self.limit = limit }

    private mutating func bits(_ n: Int) throws -> Int {
        while bitCount < n {
            guard pos < data.count else { throw KernelError("deflate stream is truncated") }
            bitBuf |= UInt32(data[pos]) << UInt32(bitCount)
            pos += 1; bitCount += 8
        }
        let v = Int(bitBuf & ((1 << UInt32(n)) - 1))
        bitBuf >>= UInt32(n); bitCount -= n
        return v
    }

    /// Canonical Huffman table: counts per length and symbols sorted by code.
    private struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int] = []
        init(lengths: [Int]) throws {
            for l in lengths { counts[l] += 1 }
            counts[0] = 0
            var offs = [Int](repeating: 0, count: 16)
            for i in 1..<16 { offs[i] = offs[i - 1] + counts[i - 1] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (s, l) in lengths.enumerated() where l != 0 { symbols[offs[l]] = s; offs[l] += 1 }
        }
    }

    private mutating func decode(_ h: Huffman) throws -> Int {
        var code = 0, first = 0, index = 0
        for len in 1..<16 {
            code |= try bits(1)
            let count = h.counts[len]
            if code - count < first { return h.symbols[index + (code - first)] }
            index += count; first += count; first <<= 1; code <<= 1
        }
        throw KernelError("invalid Huffman code in deflate stream")
    }

    private static let lenBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lenExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                                   4097, 6145, 8193, 12289, 16385, 24577]
    private static let distExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    private mutating func run() throws {
        var final = 0
        repeat {
            final = try bits(1)
            switch try bits(2) {
            case 0:
                bitBuf = 0; bitCount = 0
                guard pos + 4 <= data.count else { throw KernelError("deflate stored block is truncated") }
                let len = Int(data[pos]) | Int(data[pos + 1]) << 8
                let nlen = Int(data[pos + 2]) | Int(data[pos + 3]) << 8
                guard len == (~nlen & 0xFFFF) else { throw KernelError("deflate stored block length check failed") }
                pos += 4
                guard pos + len <= data.count else { throw KernelError("deflate stored block is truncated") }
                guard out.count + len <= limit else { throw KernelError("decompressed image data is larger than expected") }
                out.append(contentsOf: data[pos..<(pos + len)]); pos += len
            case 1:
                var l = [Int](repeating: 8, count: 288)
                for i in 144..<256 { l[i] = 9 }
                for i in 256..<280 { l[i] = 7 }
                try block(try Huffman(lengths: l), try Huffman(lengths: [Int](repeating: 5, count: 30)))
            case 2:
                let hlit = try bits(5) + 257, hdist = try bits(5) + 1, hclen = try bits(4) + 4
                let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
                var cl = [Int](repeating: 0, count: 19)
                for i in 0..<hclen { cl[order[i]] = try bits(3) }
                let clh = try Huffman(lengths: cl)
                var lengths: [Int] = []
                while lengths.count < hlit + hdist {
                    let sym = try decode(clh)
                    switch sym {
                    case 0..<16: lengths.append(sym)
                    case 16:
                        guard let prev = lengths.last else { throw KernelError("deflate repeat code with no previous length") }
                        lengths += [Int](repeating: prev, count: 3 + (try bits(2)))
                    case 17: lengths += [Int](repeating: 0, count: 3 + (try bits(3)))
                    default: lengths += [Int](repeating: 0, count: 11 + (try bits(7)))
                    }
                }
                guard lengths.count == hlit + hdist else { throw KernelError("deflate code lengths overflow") }
                try block(try Huffman(lengths: Array(lengths[..<hlit])), try Huffman(lengths: Array(lengths[hlit...])))
            default:
                throw KernelError("invalid deflate block type")
            }
        } while final == 0
    }

    private mutating func block(_ lit: Huffman, _ dist: Huffman) throws {
        while true {
            let sym = try decode(lit)
            if sym < 256 {
                guard out.count < limit else { throw KernelError("decompressed image data is larger than expected") }
                out.append(UInt8(sym))
            } else if sym == 256 {
                return
            } else {
                let li = sym - 257
                guard li < Inflater.lenBase.count else { throw KernelError("invalid deflate length code") }
                let len = Inflater.lenBase[li] + (try bits(Inflater.lenExtra[li]))
                let di = try decode(dist)
                guard di < Inflater.distBase.count else { throw KernelError("invalid deflate distance code") }
                let d = Inflater.distBase[di] + (try bits(Inflater.distExtra[di]))
                guard d <= out.count else { throw KernelError("deflate distance reaches before the start of the data") }
                guard out.count + len <= limit else { throw KernelError("decompressed image data is larger than expected") }
                let start = out.count - d
                for k in 0..<len { out.append(out[start + k]) }
            }
        }
    }
}
