import Foundation

/// Baseline (sequential Huffman, 8-bit) JPEG decoder. Reproduces libjpeg's default pipeline bit for bit:
/// integer "islow" IDCT, fancy (triangle) chroma upsampling and fixed-point YCbCr → RGB.
enum JPEGDecoder {
    struct Component {
        var id: Int, h: Int, v: Int, tq: Int
        var td = 0, ta = 0
        var plane: [UInt8] = []
        var planeW = 0, planeH = 0
        var pred = 0
    }

    struct Huffman {
        var maxcode = [Int](repeating: -1, count: 18)
        var valptr = [Int](repeating: 0, count: 17)
        var mincode = [Int](repeating: 0, count: 17)
        var values: [UInt8] = []
        var defined = false
        init() {}
        init(counts: [Int], values: [UInt8]) {
            self.values = values; defined = true
            var code = 0, k = 0
            for l in 1...16 {
                valptr[l] = k; mincode[l] = code
                code += counts[l - 1]; k += counts[l - 1]
                maxcode[l] = counts[l - 1] > 0 ? code - 1 : -1
                code <<= 1
            }
            maxcode[17] = Int.max
        }
    }

    struct BitReader {
        let b: [UInt8]
        var pos: Int
        var acc: UInt32 = 0, n = 0
        var hitMarker = false
        mutating func fill() {
            while n <= 24 {
                var byte: UInt8 = 0
                if !hitMarker, pos < b.count {
                    byte = b[pos]
                    if byte == 0xFF {
                        let next = pos + 1 < b.count ? b[pos + 1] : 0xD9
                        if next == 0 { pos += 2 } else { hitMarker = true; byte = 0 }
                    } else { pos += 1 }
                }
                acc |= UInt32(byte) << UInt32(24 - n); n += 8
            }
        }
        mutating func bits(_ k: Int) -> Int {
            if k == 0 { return 0 }
            fill()
            let v = Int(acc >> UInt32(32 - k))
            acc <<= UInt32(k); n -= k
            return v
        }
        mutating func decode(_ h: Huffman) throws -> Int {
            var code = bits(1), l = 1
            while code > h.maxcode[l] {
                code = (code << 1) | bits(1); l += 1
                guard l <= 16 else { throw KernelError("corrupt JPEG Huffman data") }
            }
            let i = h.valptr[l] + code - h.mincode[l]
            guard i >= 0, i < h.values.count else { throw KernelError("corrupt JPEG Huffman data") }
            return Int(h.values[i])
        }
        mutating func receiveExtend(_ s: Int) -> Int {
            if s == 0 { return 0 }
            let v = bits(s)
            return v < (1 << (s - 1)) ? v - (1 << s) + 1 : v
        }
        /// Skips to just after the next RSTn marker and resets the bit buffer.
        mutating func restart() throws {
            acc = 0; n = 0; hitMarker = false
            while pos + 1 < b.count, !(b[pos] == 0xFF && b[pos + 1] >= 0xD0 && b[pos + 1] <= 0xD7) { pos += 1 }
            guard pos + 1 < b.count else { throw KernelError("JPEG restart marker is missing") }
            pos += 2
        }
    }

    static let zigzag: [Int] = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
                                28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60,
                                61, 54, 47, 55, 62, 63]

    static func decode(_ b: [UInt8]) throws -> DecodedImage {
        let r = ImageByteReader(b, bigEndian: true)
        var qt = [[Int]](repeating: [Int](repeating: 1, count: 64), count: 4)
        var dc = [Huffman](repeating: Huffman(), count: 4), ac = dc
        var comps: [Component] = []
        var width = 0, height = 0, restartInterval = 0
        var maxH = 1, maxV = 1, mcusX = 0, mcusY = 0
        var pos = 2, frameSeen = false
        loop: while pos + 4 <= b.count {
            guard b[pos] == 0xFF else { pos += 1; continue }
            let marker = b[pos + 1]
            if marker == 0xFF { pos += 1; continue }
            if marker == 0xD9 { break }
            if marker >= 0xD0 && marker <= 0xD7 || marker == 0x01 { pos += 2; continue }
            let len = try r.u16(at: pos + 2)
            let body = pos + 4, end = pos + 2 + len
            guard len >= 2, end <= b.count else { throw KernelError("JPEG segment is truncated") }
            switch marker {
            case 0xDB:
                var p = body
                while p < end {
                    let pq = Int(b[p] >> 4), tq = Int(b[p] & 15); p += 1
                    guard tq < 4, p + 64 * (pq + 1) <= end else { throw KernelError("bad JPEG quantization table") }
                    for k in 0..<64 {
                        qt[tq][zigzag[k]] = pq == 0 ? Int(b[p + k]) : (Int(b[p + 2 * k]) << 8 | Int(b[p + 2 * k + 1]))
                    }
                    p += 64 * (pq + 1)
                }
            case 0xC4:
                var p = body
                while p + 17 <= end {
                    let tc = Int(b[p] >> 4), th = Int(b[p] & 15)
                    let counts = (0..<16).map { Int(b[p + 1 + $0]) }
                    let total = counts.reduce(0, +)
                    p += 17
                    guard th < 4, tc < 2, p + total <= end else { throw KernelError("bad JPEG Huffman table") }
                    let h = Huffman(counts: counts, values: Array(b[p..<(p + total)]))
                    if tc == 0 { dc[th] = h } else { ac[th] = h }
                    p += total
                }
            case 0xDD:
                restartInterval = try r.u16(at: body)
            case 0xC0, 0xC1:
                guard b[body] == 8 else { throw KernelError("only 8-bit JPEG images are supported") }
                height = try r.u16(at: body + 1); width = try r.u16(at: body + 3)
                let nc = Int(b[body + 5])
                guard nc == 1 || nc == 3, body + 6 + 3 * nc <= end else { throw KernelError("JPEG with \(nc) components is not supported") }
                try imageCheckSize(width, height)
                for i in 0..<nc {
                    let o = body + 6 + 3 * i
                    let c = Component(id: Int(b[o]), h: Int(b[o + 1] >> 4), v: Int(b[o + 1] & 15), tq: Int(b[o + 2]))
                    guard (1...4).contains(c.h), (1...4).contains(c.v), c.tq < 4 else { throw KernelError("bad JPEG sampling factors") }
                    comps.append(c)
                }
                maxH = comps.map(\.h).max() ?? 1; maxV = comps.map(\.v).max() ?? 1
                mcusX = (width + 8 * maxH - 1) / (8 * maxH); mcusY = (height + 8 * maxV - 1) / (8 * maxV)
                for i in comps.indices {
                    comps[i].planeW = mcusX * comps[i].h * 8; comps[i].planeH = mcusY * comps[i].v * 8
                    comps[i].plane = [UInt8](repeating: 0, count: comps[i].planeW * comps[i].planeH)
                }
                frameSeen = true
            case 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF:
                throw KernelError("progressive, lossless and arithmetic-coded JPEG images are not supported")
            case 0xDA:
                guard frameSeen else { throw KernelError("JPEG scan before frame header") }
                let ns = Int(b[body])
                guard ns >= 1, body + 1 + 2 * ns <= end else { throw KernelError("bad JPEG scan header") }
                var scomps: [Int] = []
                for i in 0..<ns {
                    let cid = Int(b[body + 1 + 2 * i]), t = b[body + 2 + 2 * i]
                    guard let ci = comps.firstIndex(where: { $0.id == cid }) else { throw KernelError("JPEG scan names an unknown component") }
                    comps[ci].td = Int(t >> 4); comps[ci].ta = Int(t & 15)
                    guard comps[ci].td < 4, comps[ci].ta < 4, dc[comps[ci].td].defined, ac[comps[ci].ta].defined else {
                        throw KernelError("JPEG scan uses an undefined Huffman table")
                    }
                    scomps.append(ci)
                }
                pos = try decodeScan(b, end, &comps, scomps, qt, dc, ac, restartInterval, width, height, maxH, maxV, mcusX, mcusY)
                continue loop
            default: break
            }
            pos = end
        }
        guard frameSeen else { throw KernelError("JPEG has no frame header") }
        return try finish(comps, width, height, maxH, maxV)
    }

    static func decodeScan(_ b: [UInt8], _ start: Int, _ comps: inout [Component], _ scomps: [Int], _ qt: [[Int]],
                           _ dc: [Huffman], _ ac: [Huffman], _ ri: Int, _ width: Int, _ height: Int,
                           _ maxH: Int, _ maxV: Int, _ mcusX: Int, _ mcusY: Int) throws -> Int {
        var br = BitReader(b: b, pos: start)
        for i in scomps { comps[i].pred = 0 }
        var coef = [Int](repeating: 0, count: 64)
        func block(_ ci: Int, _ bx: Int, _ by: Int) throws {
            for k in 0..<64 { coef[k] = 0 }
            let t = try br.decode(dc[comps[ci].td])
            guard t <= 11 else { throw KernelError("corrupt JPEG DC coefficient") }
            comps[ci].pred += br.receiveExtend(t)
            coef[0] = comps[ci].pred
            var k = 1
            while k < 64 {
                let rs = try br.decode(ac[comps[ci].ta])
                let run = rs >> 4, s = rs & 15
                if s == 0 { if run == 15 { k += 16; continue }; break }
                k += run
                guard k < 64 else { throw KernelError("corrupt JPEG AC coefficients") }
                coef[zigzag[k]] = br.receiveExtend(s)
                k += 1
            }
            let c = comps[ci]
            guard (bx + 1) * 8 <= c.planeW, (by + 1) * 8 <= c.planeH else { return }
            comps[ci].plane.withUnsafeMutableBufferPointer { p in
                idctIslow(coef, qt[c.tq], p, (by * 8) * c.planeW + bx * 8, c.planeW)
            }
        }
        var count = 0
        func restartCheck() throws {
            if ri > 0 && count > 0 && count % ri == 0 {
                try br.restart()
                for i in scomps { comps[i].pred = 0 }
            }
            count += 1
        }
        if scomps.count == 1 {
            let ci = scomps[0], c = comps[ci]
            let cw = (width * c.h + maxH - 1) / maxH, ch = (height * c.v + maxV - 1) / maxV
            for by in 0..<((ch + 7) / 8) { for bx in 0..<((cw + 7) / 8) { try restartCheck(); try block(ci, bx, by) } }
        } else {
            for my in 0..<mcusY {
                for mx in 0..<mcusX {
                    try restartCheck()
                    for ci in scomps {
                        let c = comps[ci]
                        for v in 0..<c.v { for h in 0..<c.h { try block(ci, mx * c.h + h, my * c.v + v) } }
                    }
                }
            }
        }
        // Continue after the entropy-coded data: the next marker that is not RSTn.
        var p = br.pos
        while p + 1 < b.count, !(b[p] == 0xFF && b[p + 1] != 0 && !(b[p + 1] >= 0xD0 && b[p + 1] <= 0xD7)) { p += 1 }
        return p
    }

    /// libjpeg's post-IDCT range limit: clamp(v + 128) with its 10-bit wraparound.
    @inline(__always) static func rangeLimit(_ v: Int) -> UInt8 {
        let m = v & 1023
        if m < 128 { return UInt8(m + 128) }
        if m < 512 { return 255 }
        if m < 896 { return 0 }
        return UInt8(m - 896)
    }

    /// jpeg_idct_islow: separable integer IDCT (CONST_BITS 13, PASS1_BITS 2) with dequantization.
    static func idctIslow(_ coef: [Int], _ q: [Int], _ out: UnsafeMutableBufferPointer<UInt8>, _ base: Int, _ stride: Int) {
        let c0298 = 2446, c0390 = 3196, c0541 = 4433, c0765 = 6270, c0899 = 7373, c1175 = 9633, c1501 = 12299
        let c1847 = 15137, c1961 = 16069, c2053 = 16819, c2562 = 20995, c3072 = 25172
        var ws = [Int](repeating: 0, count: 64)
        @inline(__always) func descale(_ x: Int, _ n: Int) -> Int { (x + (1 << (n - 1))) >> n }
        // Returns the 8 outputs of a 1-D pass given inputs in0...in7 (already dequantized / from pass 1).
        @inline(__always) func pass(_ i0: Int, _ i1: Int, _ i2: Int, _ i3: Int, _ i4: Int, _ i5: Int, _ i6: Int, _ i7: Int)
            -> (Int, Int, Int, Int, Int, Int, Int, Int) {
            var z1 = (i2 + i6) * c0541
            let t2e = z1 + i6 * -c1847, t3e = z1 + i2 * c0765
            let t0e = (i0 + i4) << 13, t1e = (i0 - i4) << 13
            let t10 = t0e + t3e, t13 = t0e - t3e, t11 = t1e + t2e, t12 = t1e - t2e
            var t0 = i7, t1 = i5, t2 = i3, t3 = i1
            z1 = t0 + t3
            var z2 = t1 + t2, z3 = t0 + t2, z4 = t1 + t3
            let z5 = (z3 + z4) * c1175
            t0 *= c0298; t1 *= c2053; t2 *= c3072; t3 *= c1501
            z1 *= -c0899; z2 *= -c2562; z3 *= -c1961; z4 *= -c0390
            z3 += z5; z4 += z5
            t0 += z1 + z3; t1 += z2 + z4; t2 += z2 + z3; t3 += z1 + z4
            return (t10 + t3, t11 + t2, t12 + t1, t13 + t0, t13 - t0, t12 - t1, t11 - t2, t10 - t3)
        }
        for c in 0..<8 {
            var d = [Int](repeating: 0, count: 8)
            for r in 0..<8 { d[r] = coef[r * 8 + c] * q[r * 8 + c] }
            if d[1] == 0 && d[2] == 0 && d[3] == 0 && d[4] == 0 && d[5] == 0 && d[6] == 0 && d[7] == 0 {
                for r in 0..<8 { ws[r * 8 + c] = d[0] << 2 }
                continue
            }
            let o = pass(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7])
            let vals = [o.0, o.1, o.2, o.3, o.4, o.5, o.6, o.7]
            for r in 0..<8 { ws[r * 8 + c] = descale(vals[r], 11) }
        }
        for r in 0..<8 {
            let w = r * 8
            let o = pass(ws[w], ws[w + 1], ws[w + 2], ws[w + 3], ws[w + 4], ws[w + 5], ws[w + 6], ws[w + 7])
            let vals = [o.0, o.1, o.2, o.3, o.4, o.5, o.6, o.7]
            for k in 0..<8 { out[base + r * stride + k] = rangeLimit(descale(vals[k], 18)) }
        }
    }

    /// Upsamples each component to full resolution (libjpeg's fancy filters) and converts to RGB or gray.
    static func finish(_ comps: [Component], _ width: Int, _ height: Int, _ maxH: Int, _ maxV: Int) throws -> DecodedImage {
        var full: [[UInt8]] = []
        let outW = ((width + maxH * 8 - 1) / (maxH * 8)) * maxH * 8
        for c in comps {
            let dw = (width * c.h + maxH - 1) / maxH, dh = (height * c.v + maxV - 1) / maxV
            let fx = maxH / c.h, fy = maxV / c.v
            guard maxH % c.h == 0, maxV % c.v == 0 else { throw KernelError("fractional JPEG sampling factors are not supported") }
            var o = [UInt8](repeating: 0, count: outW * dh * fy)
            func at(_ x: Int, _ y: Int) -> Int { Int(c.plane[min(max(y, 0), dh - 1) * c.planeW + x]) }
            for y in 0..<dh {
                if fx == 1 && fy == 1 {
                    for x in 0..<dw { o[y * outW + x] = UInt8(at(x, y)) }
                } else if fx == 2 && fy == 1 && dw > 2 {
                    let row = y * outW
                    for x in 0..<dw {
                        let v = at(x, y) * 3
                        o[row + 2 * x] = UInt8(x == 0 ? at(x, y) : (v + at(x - 1, y) + 1) >> 2)
                        o[row + 2 * x + 1] = UInt8(x == dw - 1 ? at(x, y) : (v + at(x + 1, y) + 2) >> 2)
                    }
                } else if fx == 1 && fy == 2 {
                    for v in 0..<2 {
                        let row = (2 * y + v) * outW, other = v == 0 ? y - 1 : y + 1, bias = v == 0 ? 1 : 2
                        for x in 0..<dw { o[row + x] = UInt8((at(x, y) * 3 + at(x, other) + bias) >> 2) }
                    }
                } else if fx == 2 && fy == 2 && dw > 2 {
                    for v in 0..<2 {
                        let row = (2 * y + v) * outW, other = v == 0 ? y - 1 : y + 1
                        func colsum(_ x: Int) -> Int { at(x, y) * 3 + at(x, other) }
                        for x in 0..<dw {
                            let t = colsum(x)
                            o[row + 2 * x] = UInt8(x == 0 ? (t * 4 + 8) >> 4 : (t * 3 + colsum(x - 1) + 8) >> 4)
                            o[row + 2 * x + 1] = UInt8(x == dw - 1 ? (t * 4 + 7) >> 4 : (t * 3 + colsum(x + 1) + 7) >> 4)
                        }
                    }
                } else {
                    for v in 0..<fy { for x in 0..<dw { for h in 0..<fx where x * fx + h < outW { o[(y * fy + v) * outW + x * fx + h] = UInt8(at(x, y)) } } }
                }
            }
            full.append(o)
        }
        let n = width * height
        if comps.count == 1 {
            var px = [UInt8](repeating: 0, count: n)
            for y in 0..<height { for x in 0..<width { px[y * width + x] = full[0][y * outW + x] } }
            return DecodedImage(width: width, height: height, channels: 1, pixels: px)
        }
        // jdcolor.c ycc_rgb_convert with 16-bit fixed-point tables.
        func fix(_ v: Double) -> Int { Int(v * 65536 + 0.5) }
        let half = 1 << 15
        var px = [UInt8](repeating: 0, count: n * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = y * outW + x
                let yy = Int(full[0][i]), cb = Int(full[1][i]) - 128, cr = Int(full[2][i]) - 128
                let rr = yy + ((fix(1.40200) * cr + half) >> 16)
                let gg = yy + ((-fix(0.34414) * cb + half - fix(0.71414) * cr) >> 16)
                let bb = yy + ((fix(1.77200) * cb + half) >> 16)
                let d = (y * width + x) * 3
                px[d] = UInt8(min(max(rr, 0), 255)); px[d + 1] = UInt8(min(max(gg, 0), 255)); px[d + 2] = UInt8(min(max(bb, 0), 255))
            }
        }
        return DecodedImage(width: width, height: height, channels: 3, pixels: px)
    }
}
