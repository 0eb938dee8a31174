// JSON Lines: one JSON object per line. Columns are the keys in order of first appearance; numbers and
// null make numeric columns, anything else string columns (nested arrays / objects keep their JSON text).
import Foundation

public enum JSONLines {
    enum Value { case number(Double), string(String), null, bool(Bool), raw(String) }

    public static func read(_ path: String, options: CSVOptions = CSVOptions()) throws -> Table {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError(file: path, "cannot read file") }
        var names = [String]()
        var index = [String: Int]()
        var rows = [[Int: Value]]()
        var lines = [Int32]()
        var lineNo = 0
        for lineBytes in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNo += 1
            let bytes = Array(lineBytes)
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            var p = Parser(bytes: bytes)
            let object: [(String, Value)]
            do { object = try p.object() } catch let e as Parser.Failure {
                throw DataError(file: path, line: lineNo, column: e.offset + 1, e.message)
            }
            var row = [Int: Value]()
            for (k, v) in object {
                if index[k] == nil { index[k] = names.count; names.append(k) }
                if let i = index[k] { row[i] = v }
            }
            rows.append(row)
            lines.append(Int32(truncatingIfNeeded: lineNo))
        }
        if rows.isEmpty { throw DataError(file: path, "empty file (no JSON objects)") }
        var columns = [Column]()
        for (c, name) in names.enumerated() {
            let forced = options.types[name]
            let numeric = forced.map { $0 == .numeric } ?? rows.allSatisfy {
                switch $0[c] { case .number?, .null?, nil: return true; default: return false }
            }
            if numeric {
                var v = [Double]()
                for (r, row) in rows.enumerated() {
                    switch row[c] {
                    case .number(let x)?: v.append(x)
                    case .null?, nil: v.append(.nan)
                    case .string(let s)?:
                        if options.missing.isMissing(s) { v.append(.nan) } else if let x = FastFloat.parse(s) { v.append(x) } else {
                            throw DataError(file: path, line: Int(lines[r]), column: c + 1, "column '\(name)': '\(s)' is not a number")
                        }
                    default:
                        throw DataError(file: path, line: Int(lines[r]), column: c + 1, "column '\(name)': value is not a number")
                    }
                }
                columns.append(Column(name: name, numeric: v))
            } else {
                let v = rows.map { row -> String in
                    switch row[c] {
                    case .number(let x)?: return formatNumber(x, integral: true)
                    case .string(let s)?, .raw(let s)?: return s
                    case .bool(let b)?: return b ? "true" : "false"
                    case .null?, nil: return ""
                    }
                }
                columns.append(Column(name: name, kind: forced ?? .categorical, data: .strings(v)))
            }
        }
        var t = Table(file: path, columns: columns, lines: lines)
        t.classifyStringColumns()
        return t
    }

    /// Appends `s` as a quoted JSON string literal (control characters escaped).
    public static func escape(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        out += "\""
    }

    public static func encode(_ table: Table) -> [UInt8] {
        var out = ""
        for r in 0..<table.rowCount {
            out += "{"
            for (c, column) in table.columns.enumerated() {
                if c > 0 { out += ", " }
                escape(column.name, into: &out)
                out += ": "
                switch column.data {
                case .numeric(let v): out += v[r].isFinite ? v[r].description : "null"
                case .strings(let v): escape(v[r], into: &out)
                }
            }
            out += "}\n"
        }
        return Array(out.utf8)
    }

    struct Parser {
        struct Failure: Error { let offset: Int; let message: String }
        let bytes: [UInt8]
        var i = 0
        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func ws() { while i < bytes.count, [0x20, 0x09, 0x0D].contains(bytes[i]) { i += 1 } }
        func fail(_ m: String) -> Failure { Failure(offset: i, message: m) }
        mutating func expect(_ b: UInt8) throws {
            ws()
            guard i < bytes.count, bytes[i] == b else { throw fail("expected '\(Character(Unicode.Scalar(b)))'") }
            i += 1
        }

        mutating func object() throws -> [(String, Value)] {
            try expect(UInt8(ascii: "{"))
            var out = [(String, Value)]()
            ws()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return try end(out) }
            while true {
                ws()
                let key = try string()
                try expect(UInt8(ascii: ":"))
                out.append((key, try value()))
                ws()
                guard i < bytes.count else { throw fail("unterminated object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return try end(out) }
                throw fail("expected ',' or '}'")
            }
        }

        mutating func end(_ out: [(String, Value)]) throws -> [(String, Value)] {
            ws()
            if i != bytes.count { throw fail("unexpected text after the object") }
            return out
        }

        mutating func value() throws -> Value {
            ws()
            guard i < bytes.count else { throw fail("missing value") }
            switch bytes[i] {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let s = i
                try skipNested()
                return .raw(String(decoding: bytes[s..<i], as: UTF8.self))
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default:
                let s = i
                while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
                let v = bytes[s..<i].withUnsafeBufferPointer { b in b.baseAddress.flatMap { FastFloat.parse($0, b.count) } }
                guard let v, i > s else { i = s; throw fail("invalid value") }
                return .number(v)
            }
        }

        mutating func literal(_ word: String) throws {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw fail("invalid value") }
            i += w.count
        }

        mutating func skipNested() throws {
            var depth = 0
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { _ = try string(); continue }
                if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
                if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") { depth -= 1; if depth == 0 { i += 1; return } }
                i += 1
            }
            throw fail("unterminated array or object")
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
                throw fail("invalid \\u escape")
            }
            i += 4
            return v
        }

        mutating func string() throws -> String {
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string") }
            i += 1
            var out = [UInt8]()
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
                if c == UInt8(ascii: "\\") {
                    i += 1
                    guard i < bytes.count else { break }
                    let e = bytes[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "u"):
                        var v = try hex4()
                        if v >= 0xD800 && v < 0xDC00, i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"),
                           bytes[i + 1] == UInt8(ascii: "u") {
                            i += 2
                            let lo = try hex4()
                            v = 0x10000 + ((v - 0xD800) << 10) + (lo &- 0xDC00)
                        }
                        out.append(contentsOf: String(Unicode.Scalar(v).map(Character.init) ?? "\u{FFFD}").utf8)
                    default: out.append(e)
                    }
                    continue
                }
                out.append(c)
                i += 1
            }
            throw fail("unterminated string")
        }
    }
}
