import Foundation

/// A parsed JSON value. Numbers keep their source text so int64/uint64 values survive exactly.
public indirect enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> JSON? {
        if case .object(let kv) = self { return kv.first(where: { $0.0 == key })?.1 }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a }; return nil }
    public var objectValue: [(String, JSON)]? { if case .object(let o) = self { return o }; return nil }
    public var doubleValue: Double? { if case .number(let s) = self { return Double(s) }; return nil }
    /// An integral number that fits Int64 (`3.0` and `3e2` are accepted when integral).
    public var int64Value: Int64? {
        guard case .number(let s) = self else { return nil }
        if let v = Int64(s) { return v }
        if let d = Double(s), d.rounded() == d, d >= -9.2e18, d <= 9.2e18 { return Int64(d) }
        return nil
    }
    public var uint64Value: UInt64? {
        guard case .number(let s) = self else { return nil }
        if let v = UInt64(s) { return v }
        if let d = Double(s), d.rounded() == d, d >= 0, d <= 1.8e19 { return UInt64(d) }
        return nil
    }
    public var intValue: Int? { int64Value.map { Int(truncatingIfNeeded: $0) } }
}

/// A JSON parse failure with the byte offset.
public struct JSONError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A strict RFC 8259 parser over bytes with a nesting limit (deep bodies cannot exhaust the stack).
public struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0
    let maxDepth: Int

    public static func parse(_ data: some Collection<UInt8>, maxDepth: Int = 64) throws -> JSON {
        let arr = Array(data)
        return try arr.withUnsafeBufferPointer { buf in
            var p = JSONParser(bytes: buf, maxDepth: maxDepth)
            p.skipWS()
            let v = try p.value(depth: 0)
            p.skipWS()
            guard p.i == buf.count else { throw p.err("unexpected data after the JSON value") }
            return v
        }
    }

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) { self.bytes = bytes; self.maxDepth = maxDepth }

    func err(_ m: String) -> JSONError { JSONError(message: "invalid JSON at byte \(i): \(m)") }

    mutating func skipWS() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func literal(_ s: StaticString, _ v: JSON) throws -> JSON {
        let n = s.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw err("truncated literal") }
        for k in 0..<n where bytes[i + k] != s.utf8Start[k] { throw err("unexpected character") }
        i += n
        return v
    }

    mutating func value(depth: Int) throws -> JSON {
        guard depth < maxDepth else { throw err("nesting deeper than \(maxDepth)") }
        guard i < bytes.count else { throw err("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var kv: [(String, JSON)] = []
            skipWS()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(kv) }
            while true {
                skipWS()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw err("expected a string key") }
                let k = try string()
                skipWS()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw err("expected ':'") }
                i += 1
                skipWS()
                kv.append((k, try value(depth: depth + 1)))
                skipWS()
                guard i < bytes.count else { throw err("unexpected end of input") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(kv) }
                throw err("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var arr: [JSON] = []
            skipWS()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(arr) }
            while true {
                skipWS()
                arr.append(try value(depth: depth + 1))
                skipWS()
                guard i < bytes.count else { throw err("unexpected end of input") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(arr) }
                throw err("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "N"): return try literal("NaN", .number("nan"))
        case UInt8(ascii: "I"): return try literal("Infinity", .number("inf"))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw err("unexpected character")
        }
    }

    mutating func number() throws -> JSON {
        let start = i
        if bytes[i] == UInt8(ascii: "-") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "I") { _ = try literal("Infinity", .null); return .number("-inf") }
        }
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.i
            while p.i < p.bytes.count, p.bytes[p.i] >= 0x30, p.bytes[p.i] <= 0x39 { p.i += 1 }
            return p.i - s
        }
        guard digits(&self) > 0 else { throw err("expected digits") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits(&self) > 0 else { throw err("expected digits after '.'") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { throw err("expected exponent digits") }
        }
        return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw err("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw err("bad \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        i += 1
        var out: [UInt8] = []
        let start = i
        // Fast path: no escapes.
        while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\"), bytes[i] >= 0x20 { i += 1 }
        guard i < bytes.count else { throw err("unterminated string") }
        if bytes[i] == UInt8(ascii: "\"") {
            let s = UnsafeBufferPointer(rebasing: bytes[start..<i])
            i += 1
            guard let str = String(validating: s, as: UTF8.self) else { throw err("string is not valid UTF-8") }
            return str
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
        while true {
            guard i < bytes.count else { throw err("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw err("control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < bytes.count else { throw err("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var cp = try hex4()
                if cp >= 0xD800 && cp < 0xDC00 {
                    guard i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw err("unpaired surrogate")
                    }
                    i += 2
                    let lo = try hex4()
                    guard lo >= 0xDC00 && lo < 0xE000 else { throw err("bad low surrogate") }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                } else if cp >= 0xDC00 && cp < 0xE000 {
                    throw err("unpaired surrogate")
                }
                guard let scalar = Unicode.Scalar(cp) else { throw err("bad code point") }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw err("bad escape")
            }
        }
        guard let str = String(validating: out, as: UTF8.self) else { throw err("string is not valid UTF-8") }
        return str
    }
}

/// Builds JSON text into a byte array.
public struct JSONWriter {
    public var bytes: [UInt8] = []
    public init() { bytes.reserveCapacity(256) }

    public mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    public mutating func string(_ s: String) {
        bytes.append(0x22)
        for c in s.utf8 {
            switch c {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hex[Int(c >> 4)]); bytes.append(hex[Int(c & 15)])
            default: bytes.append(c)
            }
        }
        bytes.append(0x22)
    }

    public mutating func double(_ d: Double) {
        if d.isNaN { raw("NaN") } else if d.isInfinite { raw(d < 0 ? "-Infinity" : "Infinity") } else { raw(d.description) }
    }

    public mutating func float(_ f: Float) {
        if f.isNaN { raw("NaN") } else if f.isInfinite { raw(f < 0 ? "-Infinity" : "Infinity") } else { raw(f.description) }
    }

    public mutating func value(_ v: JSON) {
        switch v {
        case .null: raw("null")
        case .bool(let b): raw(b ? "true" : "false")
        case .number(let s):
            if s == "nan" { raw("NaN") } else if s == "inf" { raw("Infinity") } else if s == "-inf" { raw("-Infinity") } else { raw(s) }
        case .string(let s): string(s)
        case .array(let a):
            bytes.append(UInt8(ascii: "["))
            for (k, e) in a.enumerated() { if k > 0 { bytes.append(0x2C) }; value(e) }
            bytes.append(UInt8(ascii: "]"))
        case .object(let kv):
            bytes.append(UInt8(ascii: "{"))
            for (k, e) in kv.enumerated() {
                if k > 0 { bytes.append(0x2C) }
                string(e.0); bytes.append(UInt8(ascii: ":")); value(e.1)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    public static func encode(_ v: JSON) -> [UInt8] { var w = JSONWriter(); w.value(v); return w.bytes }
}

extension JSON {
    public static func int(_ v: Int) -> JSON { .number(String(v)) }
    public static func int64(_ v: Int64) -> JSON { .number(String(v)) }
    public static func uint64(_ v: UInt64) -> JSON { .number(String(v)) }
    public static func double(_ v: Double) -> JSON {
        v.isNaN ? .number("nan") : v.isInfinite ? .number(v < 0 ? "-inf" : "inf") : .number(v.description)
    }
}
