import Foundation

/// Reading and writing numpy `.npy` files (format versions 1.0, 2.0 and 3.0).
public enum NPY {
    public enum Error: Swift.Error, CustomStringConvertible {
        case invalid(String)
        public var description: String { "invalid .npy: \(self.message)" }
        var message: String { if case .invalid(let m) = self { return m }; return "" }
    }

    static func descr(for dtype: DType) -> String? {
        switch dtype {
        case .float32: return "<f4"
        case .float64: return "<f8"
        case .float16: return "<f2"
        case .int8: return "|i1"
        case .int16: return "<i2"
        case .int32: return "<i4"
        case .int64: return "<i8"
        case .uint8: return "|u1"
        case .uint16: return "<u2"
        case .uint32: return "<u4"
        case .uint64: return "<u8"
        case .bool: return "|b1"
        case .bfloat16: return "<u2"  // numpy has no bfloat16; the raw bits are written
        case .string: return nil
        }
    }

    static func dtype(for descr: String) -> DType? {
        var d = descr
        if d.hasPrefix("<") || d.hasPrefix("|") || d.hasPrefix("=") { d.removeFirst() }
        switch d {
        case "f4": return .float32
        case "f8": return .float64
        case "f2": return .float16
        case "i1": return .int8
        case "i2": return .int16
        case "i4": return .int32
        case "i8": return .int64
        case "u1": return .uint8
        case "u2": return .uint16
        case "u4": return .uint32
        case "u8": return .uint64
        case "b1", "?": return .bool
        default: return nil
        }
    }

    /// Serializes a tensor. String tensors are written as numpy fixed-width unicode (`<U n`).
    public static func encode(_ t: Tensor) -> Data {
        var descrText: String
        var body = Data()
        if t.dtype == .string {
            let strs = t.strings
            let width = max(1, strs.map { $0.unicodeScalars.count }.max() ?? 1)
            descrText = "<U\(width)"
            body.reserveCapacity(strs.count * width * 4)
            for s in strs {
                var scalars = s.unicodeScalars.map { $0.value }
                scalars += Array(repeating: 0, count: width - scalars.count)
                for v in scalars { withUnsafeBytes(of: v.littleEndian) { body.append(contentsOf: $0) } }
            }
        } else {
            descrText = NPY.descr(for: t.dtype) ?? "<f4"
            body = Data(bytes: t.rawPointer, count: t.byteCount)
        }
        let shapeStr: String
        switch t.shape.count {
        case 0: shapeStr = "()"
        case 1: shapeStr = "(\(t.shape[0]),)"
        default: shapeStr = "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '\(descrText)', 'fortran_order': False, 'shape': \(shapeStr), }"
        let prefix = 10
        let total = prefix + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0])
        let hl = UInt16(header.utf8.count)
        out.append(UInt8(hl & 0xFF)); out.append(UInt8(hl >> 8))
        out.append(Data(header.utf8))
        out.append(body)
        return out
    }

    /// Parses `.npy` bytes.
    public static func decode(_ data: Data) throws -> Tensor {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw Error.invalid("missing NUMPY magic")
        }
        let major = bytes[6]
        var headerLen: Int
        var start: Int
        if major == 1 {
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        } else if major == 2 || major == 3 {
            guard bytes.count >= 12 else { throw Error.invalid("truncated header") }
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            start = 12
        } else {
            throw Error.invalid("unsupported version \(major)")
        }
        guard start + headerLen <= bytes.count else { throw Error.invalid("truncated header") }
        guard let header = String(bytes: bytes[start..<(start + headerLen)], encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw Error.invalid("unreadable header")
        }
        guard let descr = field(header, "descr"), let shapeText = field(header, "shape") else {
            throw Error.invalid("header lacks descr or shape: \(header.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let fortran = (field(header, "fortran_order") ?? "False") == "True"
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for d in dims {
            guard let v = Int(d), v >= 0 else { throw Error.invalid("bad dimension '\(d)'") }
            shape.append(v)
        }
        let bodyStart = start + headerLen
        let n = Tensor.count(shape)
        if descr.hasPrefix(">") && !descr.hasSuffix("1") { throw Error.invalid("big-endian data ('\(descr)') is not supported") }
        var t: Tensor
        if descr.hasPrefix("<U") || descr.hasPrefix("|U") || descr.hasPrefix("|S") {
            let isBytes = descr.hasPrefix("|S")
            guard let width = Int(descr.dropFirst(2)) else { throw Error.invalid("bad descr \(descr)") }
            let esz = isBytes ? width : width * 4
            guard bytes.count - bodyStart >= n * esz else { throw Error.invalid("data truncated") }
            var strs: [String] = []
            strs.reserveCapacity(n)
            for i in 0..<n {
                let b = bodyStart + i * esz
                if isBytes {
                    let raw = bytes[b..<(b + esz)].prefix { $0 != 0 }
                    strs.append(String(decoding: raw, as: UTF8.self))
                } else {
                    var s = String.UnicodeScalarView()
                    for k in 0..<width {
                        let o = b + 4 * k
                        let v = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
                        if v == 0 { break }
                        if let u = Unicode.Scalar(v) { s.append(u) }
                    }
                    strs.append(String(s))
                }
            }
            t = Tensor(dtype: .string, shape: fortran ? shape.reversed() : shape, storage: TensorStorage(strings: strs))
        } else {
            guard let dt = dtype(for: descr) else { throw Error.invalid("unsupported dtype '\(descr)'") }
            let nbytes = n * dt.size
            guard bytes.count - bodyStart >= nbytes else {
                throw Error.invalid("data truncated: expected \(nbytes) bytes, found \(bytes.count - bodyStart)")
            }
            t = Tensor.uninitialized(dt, shape: fortran ? shape.reversed() : shape)
            bytes.withUnsafeBytes { src in
                if nbytes > 0, let base = src.baseAddress {
                    t.rawPointer.copyMemory(from: base + bodyStart, byteCount: nbytes)
                }
            }
        }
        if fortran && shape.count > 1 {
            t = transposeReversingAxes(t)
        }
        return t
    }

    public static func read(_ url: URL) throws -> Tensor {
        try decode(try Data(contentsOf: url))
    }

    /// Writes atomically (temporary name, then rename).
    public static func write(_ t: Tensor, to url: URL) throws {
        try encode(t).write(to: url, options: .atomic)
    }

    static func field(_ header: String, _ key: String) -> String? {
        guard let r = header.range(of: "'\(key)'") else { return nil }
        var rest = header[r.upperBound...].drop { $0 == " " || $0 == ":" }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        if rest.first == "'" {
            rest = rest.dropFirst()
            return String(rest.prefix { $0 != "'" })
        }
        return String(rest.prefix { $0 != "," && $0 != "}" }).trimmingCharacters(in: .whitespaces)
    }

    /// Fortran-order data read as C order with reversed shape; reverse the axes back.
    static func transposeReversingAxes(_ t: Tensor) -> Tensor {
        let inShape = t.shape
        let outShape = Array(inShape.reversed())
        let inStrides = Broadcast.strides(inShape)
        let r = inShape.count
        let out = Tensor(zeros: t.dtype, shape: outShape)
        let n = t.count
        let outStridesRev = Array(inStrides.reversed())
        var idx = Array(repeating: 0, count: r)
        if t.dtype == .string {
            var strs = Array(repeating: "", count: n)
            let src = t.strings
            for o in 0..<n {
                var s = 0
                for k in 0..<r { s += idx[k] * outStridesRev[k] }
                strs[o] = src[s]
                var k = r - 1
                while k >= 0 { idx[k] += 1; if idx[k] < outShape[k] { break }; idx[k] = 0; k -= 1 }
            }
            return Tensor(dtype: .string, shape: outShape, storage: TensorStorage(strings: strs))
        }
        let es = t.dtype.size
        for o in 0..<n {
            var s = 0
            for k in 0..<r { s += idx[k] * outStridesRev[k] }
            (out.rawPointer + o * es).copyMemory(from: t.rawPointer + s * es, byteCount: es)
            var k = r - 1
            while k >= 0 { idx[k] += 1; if idx[k] < outShape[k] { break }; idx[k] = 0; k -= 1 }
        }
        return out
    }
}
