/// A parser for the protobuf text format subset Triton's `config.pbtxt` uses: nested messages (`f { … }`, `f: { … }`,
/// `f < … >`), scalar fields (numbers, enum identifiers, `true`/`false`, quoted strings), list syntax `f: [1, 2]`,
/// repeated fields given several times, `#` comments and optional `,`/`;` separators.
///
/// The result is a `JSON` object tree: repeated fields become arrays, so `ModelConfig` reads `config.pbtxt` and
/// `config.json` with the same code.
public enum PBText {
    public struct ParseError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    enum Token: Equatable {
        case ident(String), number(String), string(String), punct(Character)
    }

    static func tokenize(_ text: String) throws -> [(Token, Int)] {
        var out: [(Token, Int)] = []
        let chars = Array(text.unicodeScalars)
        var i = 0
        var line = 1
        while i < chars.count {
            let c = chars[i]
            if c == "\n" { line += 1; i += 1; continue }
            if c == " " || c == "\t" || c == "\r" { i += 1; continue }
            if c == "#" { while i < chars.count, chars[i] != "\n" { i += 1 }; continue }
            if "{}[]<>:,;".unicodeScalars.contains(c) { out.append((.punct(Character(c)), line)); i += 1; continue }
            if c == "\"" || c == "'" {
                let q = c
                i += 1
                var s = String.UnicodeScalarView()
                while true {
                    guard i < chars.count, chars[i] != "\n" else { throw ParseError(message: "line \(line): unterminated string") }
                    let d = chars[i]
                    if d == q { i += 1; break }
                    if d == "\\" {
                        i += 1
                        guard i < chars.count else { throw ParseError(message: "line \(line): unterminated string") }
                        switch chars[i] {
                        case "n": s.append("\n")
                        case "t": s.append("\t")
                        case "r": s.append("\r")
                        default: s.append(chars[i])
                        }
                        i += 1
                        continue
                    }
                    s.append(d)
                    i += 1
                }
                // Adjacent string literals concatenate.
                if case .string(let prev)? = out.last?.0 {
                    out[out.count - 1] = (.string(prev + String(s)), line)
                } else {
                    out.append((.string(String(s)), line))
                }
                continue
            }
            if c.properties.isAlphabetic || c == "_" || c == "-" || c == "+" || c == "." || ("0"..."9").contains(c) {
                var s = ""
                while i < chars.count {
                    let d = chars[i]
                    guard d.properties.isAlphabetic || d == "_" || d == "-" || d == "+" || d == "." || ("0"..."9").contains(d) else { break }
                    s.unicodeScalars.append(d)
                    i += 1
                }
                let first = s.unicodeScalars.first ?? "a"
                if ("0"..."9").contains(first) || first == "-" || first == "+" || first == "." {
                    out.append((.number(s), line))
                } else {
                    out.append((.ident(s), line))
                }
                continue
            }
            throw ParseError(message: "line \(line): unexpected character '\(c)'")
        }
        return out
    }

    /// Parses a text-format message into a JSON object.
    public static func parse(_ text: String) throws -> JSON {
        let toks = try tokenize(text)
        var p = 0
        let obj = try message(toks, &p, end: nil, depth: 0)
        return obj
    }

    static func message(_ t: [(Token, Int)], _ p: inout Int, end: Character?, depth: Int) throws -> JSON {
        guard depth < 32 else { throw ParseError(message: "messages nested too deeply") }
        var fields: [(String, [JSON])] = []
        func add(_ k: String, _ v: JSON) {
            if let idx = fields.firstIndex(where: { $0.0 == k }) { fields[idx].1.append(v) } else { fields.append((k, [v])) }
        }
        func line() -> Int { p < t.count ? t[p].1 : (t.last?.1 ?? 0) }
        while true {
            if p >= t.count {
                if end != nil { throw ParseError(message: "line \(line()): missing '\(end ?? "}")'") }
                break
            }
            if case .punct(let c) = t[p].0 {
                if let end, c == end { p += 1; break }
                if c == "," || c == ";" { p += 1; continue }
                throw ParseError(message: "line \(line()): unexpected '\(c)'")
            }
            guard case .ident(let name) = t[p].0 else { throw ParseError(message: "line \(line()): expected a field name") }
            p += 1
            var colon = false
            if p < t.count, t[p].0 == .punct(":") { colon = true; p += 1 }
            guard p < t.count else { throw ParseError(message: "line \(line()): missing value for '\(name)'") }
            switch t[p].0 {
            case .punct("{"), .punct("<"):
                let close: Character = t[p].0 == .punct("{") ? "}" : ">"
                p += 1
                add(name, try message(t, &p, end: close, depth: depth + 1))
            case .punct("["):
                p += 1
                while true {
                    guard p < t.count else { throw ParseError(message: "line \(line()): missing ']'") }
                    if t[p].0 == .punct("]") { p += 1; break }
                    if t[p].0 == .punct(",") { p += 1; continue }
                    if t[p].0 == .punct("{") || t[p].0 == .punct("<") {
                        let close: Character = t[p].0 == .punct("{") ? "}" : ">"
                        p += 1
                        add(name, try message(t, &p, end: close, depth: depth + 1))
                    } else {
                        add(name, try scalar(t, &p))
                    }
                }
                if fields.firstIndex(where: { $0.0 == name }) == nil { fields.append((name, [])) }
            default:
                guard colon else { throw ParseError(message: "line \(line()): expected ':' after '\(name)'") }
                add(name, try scalar(t, &p))
            }
        }
        return .object(fields.map { k, v in (k, v.count == 1 ? v[0] : .array(v)) })
    }

    static func scalar(_ t: [(Token, Int)], _ p: inout Int) throws -> JSON {
        let (tok, line) = t[p]
        p += 1
        switch tok {
        case .number(let s):
            let n = s.hasPrefix("+") ? String(s.dropFirst()) : s
            guard Double(n) != nil || Int64(n) != nil else { throw ParseError(message: "line \(line): bad number '\(s)'") }
            return .number(n)
        case .string(let s): return .string(s)
        case .ident("true"), .ident("True"): return .bool(true)
        case .ident("false"), .ident("False"): return .bool(false)
        case .ident(let s): return .string(s)
        case .punct(let c): throw ParseError(message: "line \(line): unexpected '\(c)'")
        }
    }
}
