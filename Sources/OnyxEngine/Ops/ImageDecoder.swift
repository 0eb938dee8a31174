import Foundation
import OnyxTensor

/// ImageDecoder (opset 20): encoded bytes → HWC uint8 in RGB, BGR or Grayscale.
/// Formats: PNG (8-bit and lower depths, not interlaced), baseline JPEG (ImageJPEG.swift), BMP (24/32-bit),
/// binary PNM (P5/P6) and uncompressed baseline TIFF.
enum ImageDecoderOps {
    static func register(_ t: inout OperatorTable) {
        t.add("ImageDecoder", since: 20) { try ImageDecoderOp($0) }
    }
}

/// Largest image accepted (pixels), so corrupt headers cannot request huge allocations.
let imageMaxPixels = 1 << 26

func imageCheckSize(_ w: Int, _ h: Int) throws {
    guard w > 0, h > 0, w <= imageMaxPixels, h <= imageMaxPixels, w * h <= imageMaxPixels else {
        throw KernelError("image size \(w)x\(h) is invalid or too large")
    }
}

struct ImageDecoderOp: TensorKernel {
    enum Format { case rgb, bgr, gray }
    let format: Format

    init(_ c: NodeContext) throws {
        switch try c.string("pixel_format", "RGB") {
        case "RGB": format = .rgb
        case "BGR": format = .bgr
        case "Grayscale": format = .gray
        case let f: throw KernelError("pixel_format '\(f)' is not one of RGB, BGR, Grayscale")
        }
    }

    static func decode(_ b: [UInt8]) throws -> DecodedImage {
        if b.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return try PNGDecoder.decode(b) }
        if b.starts(with: [0xFF, 0xD8]) { return try JPEGDecoder.decode(b) }
        if b.starts(with: [0x42, 0x4D]) { return try decodeBMP(b) }
        if b.count > 2, b[0] == 0x50, b[1] == 0x35 || b[1] == 0x36 { return try decodePNM(b) }
        if b.starts(with: [0x49, 0x49, 0x2A, 0x00]) || b.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { return try decodeTIFF(b) }
        throw KernelError("unsupported or unrecognised image format")
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "encoded_stream")
        guard x.dtype == .uint8, x.rank == 1 else { throw KernelError("encoded_stream must be a 1-D uint8 tensor") }
        let img = try ImageDecoderOp.decode(try x.toArray(UInt8.self))
        let n = img.width * img.height
        guard img.pixels.count == n * img.channels else { throw KernelError("decoded image has the wrong size") }
        let p = img.pixels
        switch format {
        case .gray:
            var out = [UInt8](repeating: 0, count: n)
            if img.channels == 1 { out = p } else {
                // ITU-R 601-2 luma with 16-bit fixed-point weights (as PIL's convert("L")).
                for i in 0..<n {
                    let v = (Int(p[3 * i]) * 19595 + Int(p[3 * i + 1]) * 38470 + Int(p[3 * i + 2]) * 7471 + 0x8000) >> 16
                    out[i] = UInt8(min(v, 255))
                }
            }
            return [qmTensor([img.height, img.width, 1], out)]
        case .rgb, .bgr:
            var out = [UInt8](repeating: 0, count: n * 3)
            for i in 0..<n {
                let (r, g, b) = img.channels == 1 ? (p[i], p[i], p[i]) : (p[3 * i], p[3 * i + 1], p[3 * i + 2])
                if format == .rgb { out[3 * i] = r; out[3 * i + 2] = b } else { out[3 * i] = b; out[3 * i + 2] = r }
                out[3 * i + 1] = g
            }
            return [qmTensor([img.height, img.width, 3], out)]
        }
    }

    // MARK: BMP

    static func decodeBMP(_ b: [UInt8]) throws -> DecodedImage {
        let r = ImageByteReader(b, bigEndian: false)
        let dataOffset = try r.u32(at: 10), headerSize = try r.u32(at: 14)
        guard headerSize >= 40 else { throw KernelError("BMP core headers are not supported") }
        let w = try Int(Int32(truncatingIfNeeded: r.u32(at: 18))), hRaw = try Int(Int32(truncatingIfNeeded: r.u32(at: 22)))
        let bpp = try r.u16(at: 28), compression = try r.u32(at: 30)
        guard compression == 0 || (compression == 3 && bpp == 32) else { throw KernelError("compressed BMP images are not supported") }
        guard bpp == 24 || bpp == 32 else { throw KernelError("BMP with \(bpp) bits per pixel is not supported") }
        let h = abs(hRaw)
        try imageCheckSize(w, h)
        let bytesPP = bpp / 8, stride = (w * bytesPP + 3) & ~3
        guard dataOffset >= 0, dataOffset + stride * h <= b.count else { throw KernelError("BMP pixel data is truncated") }
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let src = dataOffset + (hRaw > 0 ? h - 1 - y : y) * stride
            for x in 0..<w {
                let s = src + x * bytesPP, d = (y * w + x) * 3
                px[d] = b[s + 2]; px[d + 1] = b[s + 1]; px[d + 2] = b[s]
            }
        }
        return DecodedImage(width: w, height: h, channels: 3, pixels: px)
    }

    // MARK: PNM (binary P5 / P6, maxval <= 255)

    static func decodePNM(_ b: [UInt8]) throws -> DecodedImage {
        var pos = 2
        func field() throws -> Int {
            while pos < b.count {
                if b[pos] == 0x23 { while pos < b.count, b[pos] != 0x0A { pos += 1 } }  // comment
                else if b[pos] == 0x20 || (b[pos] >= 0x09 && b[pos] <= 0x0D) { pos += 1 } else { break }
            }
            var v = 0, digits = 0
            while pos < b.count, b[pos] >= 0x30, b[pos] <= 0x39, digits < 9 { v = v * 10 + Int(b[pos] - 0x30); pos += 1; digits += 1 }
            guard digits > 0 else { throw KernelError("malformed PNM header") }
            return v
        }
        let channels = b[1] == 0x36 ? 3 : 1
        let w = try field(), h = try field(), maxval = try field()
        pos += 1  // single whitespace before the raster
        try imageCheckSize(w, h)
        guard maxval >= 1, maxval <= 255 else { throw KernelError("PNM maxval \(maxval) is not supported") }
        let n = w * h * channels
        guard pos + n <= b.count else { throw KernelError("PNM pixel data is truncated") }
        var px = Array(b[pos..<(pos + n)])
        if maxval != 255 { for i in 0..<n { px[i] = UInt8(min(255, (Int(px[i]) * 255 + maxval / 2) / maxval)) } }
        return DecodedImage(width: w, height: h, channels: channels, pixels: px)
    }

    // MARK: TIFF (uncompressed, 8-bit RGB or gray, chunky)

    static func decodeTIFF(_ b: [UInt8]) throws -> DecodedImage {
        let r = ImageByteReader(b, bigEndian: b[0] == 0x4D)
        let ifd = try r.u32(at: 4)
        let n = try r.u16(at: ifd)
        var tags: [Int: [Int]] = [:]
        for k in 0..<n {
            let e = ifd + 2 + 12 * k
            let tag = try r.u16(at: e), type = try r.u16(at: e + 2), count = try r.u32(at: e + 4)
            guard count >= 0, count <= 1 << 20 else { throw KernelError("TIFF tag \(tag) has too many values") }
            let size = type == 3 ? 2 : (type == 4 ? 4 : 1)
            let base = size * count <= 4 ? e + 8 : try r.u32(at: e + 8)
            var vals: [Int] = []
            for i in 0..<count {
                switch type {
                case 3: vals.append(try r.u16(at: base + 2 * i))
                case 4: vals.append(try r.u32(at: base + 4 * i))
                case 1: vals.append(Int(try r.u8(at: base + i)))
                default: break
                }
            }
            tags[tag] = vals
        }
        guard let w = tags[256]?.first, let h = tags[257]?.first else { throw KernelError("TIFF is missing its size") }
        try imageCheckSize(w, h)
        guard (tags[259]?.first ?? 1) == 1 else { throw KernelError("compressed TIFF images are not supported") }
        guard (tags[284]?.first ?? 1) == 1 else { throw KernelError("planar TIFF images are not supported") }
        let spp = tags[277]?.first ?? 1, photometric = tags[262]?.first ?? 1
        guard (tags[258] ?? [8]).allSatisfy({ $0 == 8 }) else { throw KernelError("TIFF bit depth must be 8") }
        guard (spp == 3 || spp == 4) && photometric == 2 || spp == 1 && photometric <= 1 else {
            throw KernelError("TIFF with \(spp) samples and photometric \(photometric) is not supported")
        }
        let offsets = tags[273] ?? [], counts = tags[279] ?? []
        guard !offsets.isEmpty, offsets.count == counts.count else { throw KernelError("TIFF strips are missing") }
        var raw: [UInt8] = []
        for (o, c) in zip(offsets, counts) {
            guard o >= 0, c >= 0, o + c <= b.count else { throw KernelError("TIFF strip is truncated") }
            raw.append(contentsOf: b[o..<(o + c)])
        }
        guard raw.count >= w * h * spp else { throw KernelError("TIFF pixel data is truncated") }
        let channels = spp == 1 ? 1 : 3
        var px = [UInt8](repeating: 0, count: w * h * channels)
        for i in 0..<(w * h) {
            for ch in 0..<channels { px[i * channels + ch] = raw[i * spp + ch] }
            if photometric == 0 && spp == 1 { px[i] = 255 - px[i] }
        }
        return DecodedImage(width: w, height: h, channels: channels, pixels: px)
    }
}

/// Bounds-checked little/big-endian reads of image headers (TIFF/EXIF is either byte order; OnyxTensor's
/// `ByteReader` is little-endian only).
struct ImageByteReader {
    let b: [UInt8]
    let bigEndian: Bool
    init(_ b: [UInt8], bigEndian: Bool) { self.b = b; self.bigEndian = bigEndian }
    func u8(at i: Int) throws -> UInt8 {
        guard i >= 0, i < b.count else { throw KernelError("image data is truncated") }
        return b[i]
    }
    func u16(at i: Int) throws -> Int {
        let a = Int(try u8(at: i)), c = Int(try u8(at: i + 1))
        return bigEndian ? a << 8 | c : c << 8 | a
    }
    func u32(at i: Int) throws -> Int {
        let a = try u16(at: i), c = try u16(at: i + 2)
        return bigEndian ? a << 16 | c : c << 16 | a
    }
}

// MARK: - PNG

enum PNGDecoder {
    static func decode(_ b: [UInt8]) throws -> DecodedImage {
        let r = ImageByteReader(b, bigEndian: true)
        var pos = 8
        var w = 0, h = 0, depth = 0, colorType = 0
        var idat: [UInt8] = []
        var palette: [UInt8] = []
        while pos + 8 <= b.count {
            let len = try r.u32(at: pos)
            guard len >= 0, pos + 12 + len <= b.count else { throw KernelError("PNG chunk is truncated") }
            let type = String(decoding: b[(pos + 4)..<(pos + 8)], as: UTF8.self)
            let body = pos + 8
            switch type {
            case "IHDR":
                guard len >= 13 else { throw KernelError("PNG IHDR is truncated") }
                w = try r.u32(at: body); h = try r.u32(at: body + 4)
                depth = Int(b[body + 8]); colorType = Int(b[body + 9])
                guard b[body + 12] == 0 else { throw KernelError("interlaced PNG images are not supported") }
            case "PLTE": palette = Array(b[body..<(body + len)])
            case "IDAT": idat.append(contentsOf: b[body..<(body + len)])
            default: break
            }
            if type == "IEND" { break }
            pos += 12 + len
        }
        try imageCheckSize(w, h)
        let samples: Int
        switch colorType {
        case 0, 3: samples = 1
        case 2: samples = 3
        case 4: samples = 2
        case 6: samples = 4
        default: throw KernelError("PNG color type \(colorType) is not supported")
        }
        guard [1, 2, 4, 8, 16].contains(depth), depth == 8 || depth == 16 || samples == 1, !(colorType == 3 && depth == 16) else {
            throw KernelError("PNG bit depth \(depth) is not supported for color type \(colorType)")
        }
        let bitsPP = samples * depth, bpp = max(1, bitsPP / 8), stride = (w * bitsPP + 7) / 8
        let raw: [UInt8]
        do { raw = try Inflate.zlib(idat[...], limit: (stride + 1) * h) } catch let e as InflateError {
            throw KernelError(e.isOverLimit ? "decompressed PNG image data is larger than expected" : "PNG image data: \(e.description)")
        }
        guard raw.count >= (stride + 1) * h else { throw KernelError("PNG image data is truncated") }
        var prev = [UInt8](repeating: 0, count: stride), cur = prev
        let outCh = (colorType == 0 || colorType == 4) ? 1 : 3
        var px = [UInt8](repeating: 0, count: w * h * outCh)
        for y in 0..<h {
            let base = y * (stride + 1), filter = raw[base]
            for i in 0..<stride {
                let x = raw[base + 1 + i]
                let a = i >= bpp ? Int(cur[i - bpp]) : 0, up = Int(prev[i]), c = i >= bpp ? Int(prev[i - bpp]) : 0
                var v: Int
                switch filter {
                case 0: v = 0
                case 1: v = a
                case 2: v = up
                case 3: v = (a + up) >> 1
                case 4:
                    let p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                    v = (pa <= pb && pa <= pc) ? a : (pb <= pc ? up : c)
                default: throw KernelError("invalid PNG filter type \(filter)")
                }
                cur[i] = x &+ UInt8(truncatingIfNeeded: v)
            }
            for x in 0..<w {
                // Sample s of pixel x, scaled to 8 bits (16-bit keeps the high byte).
                func sample(_ s: Int) -> Int {
                    if depth == 8 { return Int(cur[x * samples + s]) }
                    if depth == 16 { return Int(cur[(x * samples + s) * 2]) }
                    let bit = x * depth, v = (Int(cur[bit / 8]) >> (8 - depth - bit % 8)) & ((1 << depth) - 1)
                    return colorType == 3 ? v : v * 255 / ((1 << depth) - 1)
                }
                let d = (y * w + x) * outCh
                switch colorType {
                case 0, 4: px[d] = UInt8(sample(0))
                case 3:
                    let i = sample(0) * 3
                    guard i + 2 < palette.count else { throw KernelError("PNG palette index out of range") }
                    px[d] = palette[i]; px[d + 1] = palette[i + 1]; px[d + 2] = palette[i + 2]
                default: px[d] = UInt8(sample(0)); px[d + 1] = UInt8(sample(1)); px[d + 2] = UInt8(sample(2))
                }
            }
            swap(&prev, &cur)
        }
        return DecodedImage(width: w, height: h, channels: outCh, pixels: px)
    }
}
