import Foundation
import OnyxTensor

/// String ops: StringNormalizer, StringConcat, StringSplit, RegexFullMatch.
enum StringOps {
    static func register(_ t: inout OperatorTable) {
        t.add("StringNormalizer", since: 10) { try StringNormalizerOp($0) }
        t.add("StringConcat", since: 20) { _ in StringConcatOp() }
        t.add("StringSplit", since: 20) { try StringSplitOp($0) }
        t.add("RegexFullMatch", since: 20) { try RegexFullMatchOp($0) }
    }
}

func stringInput(_ t: Tensor, _ name: String) throws -> [String] {
    guard t.dtype == .string else { throw KernelError("input '\(name)' must be a string tensor, got \(t.dtype)") }
    return t.strings
}

// MARK: - StringNormalizer

struct StringNormalizerOp: TensorKernel {
    enum Case { case none, lower, upper }
    let caseAction: Case
    let caseSensitive: Bool
    /// Stopwords as compared: raw when case-sensitive, lowercased otherwise.
    let stops: Set<String>

    init(_ c: NodeContext) throws {
        switch try c.string("case_change_action", "NONE") {
        case "NONE": caseAction = .none
        case "LOWER": caseAction = .lower
        case "UPPER": caseAction = .upper
        case let s: throw KernelError("case_change_action '\(s)' is not one of NONE, LOWER, UPPER")
        }
        caseSensitive = try c.int("is_case_sensitive", 0) != 0
        let words = try c.strings("stopwords") ?? []
        stops = Set(caseSensitive ? words : words.map { $0.lowercased() })
        // `locale` only affects case mapping of a few scripts; Unicode default case mapping is used.
        _ = try c.string("locale", "")
    }

    /// Drops accents the way sklearn's strip_accents_unicode does (NFKD, then remove combining marks).
    static func stripAccents(_ s: String) -> String {
        if s.unicodeScalars.allSatisfy({ $0.isASCII }) { return s }
        var out = String.UnicodeScalarView()
        for u in s.decomposedStringWithCompatibilityMapping.unicodeScalars
        where u.properties.canonicalCombiningClass == .notReordered {
            out.append(u)
        }
        return String(out)
    }

    func removeStops(_ s: String) -> String {
        if stops.isEmpty { return s }
        let words = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        return words.filter { !stops.contains(caseSensitive ? $0 : $0.lowercased()) }.joined(separator: " ")
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.rank == 1 || (x.rank == 2 && x.shape[0] == 1) else {
            throw KernelError("input 'X' must have shape [C] or [1, C], got \(x.shape)")
        }
        var out: [String] = []
        for var s in try stringInput(x, "X") {
            s = StringNormalizerOp.stripAccents(s)
            s = removeStops(s)
            switch caseAction {
            case .none: break
            case .lower: s = s.lowercased()
            case .upper: s = s.uppercased()
            }
            if !s.isEmpty { out.append(s) }
        }
        if out.isEmpty { out = [""] }
        let shape = x.rank == 1 ? [out.count] : [1, out.count]
        return [qmTensor(shape, out)]
    }
}

// MARK: - StringConcat

struct StringConcatOp: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), y = try inputs.required(1, "Y")
        let xs = try stringInput(x, "X"), ys = try stringInput(y, "Y")
        guard let shape = Broadcast.shape([x.shape, y.shape]) else {
            throw KernelError("shapes \(x.shape) and \(y.shape) do not broadcast")
        }
        let n = Tensor.count(shape)
        let xst = Broadcast.broadcastStrides(x.shape, to: shape), yst = Broadcast.broadcastStrides(y.shape, to: shape)
        var out = [String](repeating: "", count: n)
        var idx = [Int](repeating: 0, count: shape.count)
        for i in 0..<n {
            var xo = 0, yo = 0
            for d in 0..<shape.count { xo += idx[d] * xst[d]; yo += idx[d] * yst[d] }
            out[i] = xs[xo] + ys[yo]
            var d = shape.count - 1
            while d >= 0 { idx[d] += 1; if idx[d] < shape[d] { break }; idx[d] = 0; d -= 1 }
        }
        return [qmTensor(shape, out)]
    }
}

// MARK: - StringSplit

struct StringSplitOp: TensorKernel {
    let delimiter: String?
    let maxsplit: Int?

    init(_ c: NodeContext) throws {
        let d = try c.string("delimiter", "")
        delimiter = d.isEmpty ? nil : d
        maxsplit = c.has("maxsplit") ? try c.int("maxsplit") : nil
        if let maxsplit, maxsplit < 0 { throw KernelError("maxsplit must be non-negative, got \(maxsplit)") }
    }

    /// Python `str.split(None, maxsplit)`: runs of whitespace separate, leading/trailing whitespace dropped.
    static func splitWhitespace(_ s: String, _ maxsplit: Int?) -> [String] {
        let u = Array(s.unicodeScalars)
        func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || (c.value >= 0x1C && c.value <= 0x1F) }
        var parts: [String] = []
        var i = 0
        while true {
            while i < u.count, isSpace(u[i]) { i += 1 }
            if i >= u.count { break }
            if let m = maxsplit, parts.count == m {
                var v = String.UnicodeScalarView(); v.append(contentsOf: u[i...]); parts.append(String(v)); break
            }
            let start = i
            while i < u.count, !isSpace(u[i]) { i += 1 }
            var v = String.UnicodeScalarView(); v.append(contentsOf: u[start..<i]); parts.append(String(v))
        }
        return parts
    }

    /// Python `str.split(sep, maxsplit)` on unicode scalars.
    static func split(_ s: String, by sep: String, _ maxsplit: Int?) -> [String] {
        let u = Array(s.unicodeScalars), d = Array(sep.unicodeScalars)
        var parts: [String] = []
        var start = 0, i = 0
        func piece(_ a: Int, _ b: Int) -> String { var v = String.UnicodeScalarView(); v.append(contentsOf: u[a..<b]); return String(v) }
        while i + d.count <= u.count {
            if let m = maxsplit, parts.count == m { break }
            if Array(u[i..<(i + d.count)]) == d {
                parts.append(piece(start, i)); i += d.count; start = i
            } else { i += 1 }
        }
        parts.append(piece(start, u.count))
        return parts
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let xs = try stringInput(x, "X")
        let parts = xs.map { s in
            delimiter.map { StringSplitOp.split(s, by: $0, maxsplit) } ?? StringSplitOp.splitWhitespace(s, maxsplit)
        }
        let width = parts.map(\.count).max() ?? 0
        var out = [String](repeating: "", count: xs.count * width)
        for (i, p) in parts.enumerated() { for (j, s) in p.enumerated() { out[i * width + j] = s } }
        return [qmTensor(x.shape + [width], out),
                qmTensor(x.shape, parts.map { Int64($0.count) })]
    }
}

// MARK: - RegexFullMatch

/// NSRegularExpression is immutable and documented as thread-safe for matching; it is only read here.
struct RegexFullMatchOp: TensorKernel, @unchecked Sendable {
    let regex: NSRegularExpression

    init(_ c: NodeContext) throws {
        let pattern = try c.string("pattern", "")
        do {
            // \A and \z anchor the whole string (ICU's $ would also match before a final newline).
            regex = try NSRegularExpression(pattern: "\\A(?:" + pattern + ")\\z")
        } catch {
            throw KernelError("invalid regular expression '\(pattern)': \(error)")
        }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let out = try stringInput(x, "X").map { s -> Bool in
            let ns = s as NSString
            return regex.firstMatch(in: s, options: [], range: NSRange(location: 0, length: ns.length)) != nil
        }
        return [qmTensor(x.shape, out)]
    }
}
