// A columnar table: numeric columns are [Double] with NaN for missing values, other columns keep their text.
import Foundation

/// What a column holds. Numeric columns are stored as doubles; categorical and text columns as strings
/// (categorical: few distinct values, text: many).
public enum ColumnKind: String, Codable, Sendable, CaseIterable {
    case numeric, categorical, text
}

public enum ColumnData: Sendable {
    case numeric([Double])
    case strings([String])

    public var count: Int {
        switch self { case .numeric(let v): return v.count; case .strings(let v): return v.count }
    }
}

public struct Column: Sendable {
    public var name: String
    public var kind: ColumnKind
    public var data: ColumnData
    public init(name: String, kind: ColumnKind, data: ColumnData) { self.name = name; self.kind = kind; self.data = data }
    public init(name: String, numeric: [Double]) { self.init(name: name, kind: .numeric, data: .numeric(numeric)) }
    public init(name: String, strings: [String], kind: ColumnKind = .categorical) {
        self.init(name: name, kind: kind, data: .strings(strings))
    }
    public var doubles: [Double]? { if case .numeric(let v) = data { return v }; return nil }
    public var strings: [String]? { if case .strings(let v) = data { return v }; return nil }

    /// Cell `i` as text: numbers in their shortest round-trip form ("" for NaN, integers without ".0" when
    /// `integral` is set), strings as they are.
    public func text(_ i: Int, integral: Bool = false) -> String {
        switch data {
        case .strings(let v): return v[i]
        case .numeric(let v): return formatNumber(v[i], integral: integral)
        }
    }

    func selecting(_ rows: [Int]) -> Column {
        switch data {
        case .numeric(let v): return Column(name: name, kind: kind, data: .numeric(rows.map { v[$0] }))
        case .strings(let v): return Column(name: name, kind: kind, data: .strings(rows.map { v[$0] }))
        }
    }
}

/// Shortest round-trip text of a number; "" for NaN. With `integral`, whole numbers print without ".0".
public func formatNumber(_ v: Double, integral: Bool = false) -> String {
    if v.isNaN { return "" }
    if integral, v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
    if v.isInfinite { return v < 0 ? "-inf" : "inf" }
    return v.description
}

/// The values the library treats as missing, as pandas does by default; user tokens can be added.
public struct MissingTokens: Sendable, Codable, Equatable {
    public var tokens: Set<String>
    public static let defaultTokens: Set<String> = ["", "NA", "N/A", "n/a", "NaN", "nan", "-nan", "NULL", "null",
                                                     "None", "<NA>", "#N/A", "#NA"]
    public init(extra: [String] = []) { tokens = MissingTokens.defaultTokens.union(extra) }
    public func isMissing(_ s: String) -> Bool { tokens.contains(s) || tokens.contains(s.trimmingCharacters(in: .whitespaces)) }
}

public struct Table: Sendable {
    /// Where the table came from (named in errors).
    public var file: String
    public var columns: [Column]
    /// `lines[i]` is the 1-based source line of row `i` (empty when the table was not read from a file).
    public var lines: [Int32]

    public init(file: String = "<table>", columns: [Column], lines: [Int32] = []) {
        self.file = file; self.columns = columns; self.lines = lines
    }

    public var rowCount: Int { columns.first?.data.count ?? 0 }
    public var names: [String] { columns.map(\.name) }

    public func line(ofRow r: Int) -> Int { r < lines.count ? Int(lines[r]) : 0 }

    /// Index of the column named `name`, or an error naming the available columns.
    public func index(of name: String) throws -> Int {
        guard let i = columns.firstIndex(where: { $0.name == name }) else {
            throw DataError(file: file, line: 1, "unknown column '\(name)' (columns: \(names.joined(separator: ", ")))")
        }
        return i
    }

    public func column(_ name: String) throws -> Column { columns[try index(of: name)] }

    /// The values of a numeric column; for a string column, an error at the first value that is not a number.
    public func doubles(_ name: String, missing: MissingTokens = MissingTokens()) throws -> [Double] {
        let c = try index(of: name)
        switch columns[c].data {
        case .numeric(let v): return v
        case .strings(let v):
            var out = [Double](); out.reserveCapacity(v.count)
            for (r, s) in v.enumerated() {
                if missing.isMissing(s) { out.append(.nan); continue }
                guard let d = FastFloat.parse(s) else {
                    throw DataError(file: file, line: line(ofRow: r), column: c + 1,
                                    "column '\(name)': '\(s)' is not a number")
                }
                out.append(d)
            }
            return out
        }
    }

    /// Converts the named columns to numeric (errors name the offending cell).
    public mutating func makeNumeric(_ names: [String], missing: MissingTokens = MissingTokens()) throws {
        for name in names {
            let c = try index(of: name)
            if case .strings = columns[c].data {
                columns[c] = Column(name: name, numeric: try doubles(name, missing: missing))
            }
        }
    }

    /// The rows at `rows`, in that order (indices may repeat).
    public func selecting(_ rows: [Int]) -> Table {
        Table(file: file, columns: columns.map { $0.selecting(rows) },
              lines: lines.isEmpty ? [] : rows.map { lines[$0] })
    }

    /// Names of the numeric columns, or the given names after checking they exist and are numeric.
    public func numericColumns(_ requested: [String]?) throws -> [String] {
        guard let requested, !requested.isEmpty else { return columns.filter { $0.kind == .numeric }.map(\.name) }
        for name in requested { _ = try index(of: name) }
        return requested
    }

    /// Appends the rows of `other`, which must have the same column names and storage.
    public mutating func append(_ other: Table) throws {
        guard other.names == names else {
            throw DataError(file: other.file, "columns differ from \(file)")
        }
        for c in columns.indices {
            switch (columns[c].data, other.columns[c].data) {
            case (.numeric(var a), .numeric(let b)):
                columns[c].data = .numeric([]); a.append(contentsOf: b); columns[c].data = .numeric(a)
            case (.strings(var a), .strings(let b)):
                columns[c].data = .strings([]); a.append(contentsOf: b); columns[c].data = .strings(a)
            case (.numeric(let a), .strings(let b)):
                columns[c] = Column(name: columns[c].name, strings: a.map { formatNumber($0) } + b)
            case (.strings(let a), .numeric(let b)):
                columns[c].data = .strings(a + b.map { formatNumber($0) })
            }
        }
        lines.append(contentsOf: other.lines)
    }

    /// Marks string columns categorical or text: categorical when distinct values are at most
    /// max(20, 5% of the rows) and no value is longer than 64 characters.
    public mutating func classifyStringColumns() {
        for c in columns.indices {
            guard let v = columns[c].strings, columns[c].kind != .numeric else { continue }
            var distinct = Set<String>()
            let limit = max(20, v.count / 20)
            var text = false
            for s in v {
                distinct.insert(s)
                if distinct.count > limit || s.count > 64 { text = true; break }
            }
            columns[c].kind = text ? .text : .categorical
        }
    }
}
