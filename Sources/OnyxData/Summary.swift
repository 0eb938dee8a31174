// Per-column summary for `onyx data inspect`.
import Foundation

public struct ColumnSummary: Sendable {
    public var name: String
    public var kind: ColumnKind
    public var count: Int
    public var missing: Int
    public var distinct: Int?
    public var top: String?
    public var mean = Double.nan, std = Double.nan, min = Double.nan, median = Double.nan, max = Double.nan

    public static func of(_ table: Table, missing tokens: MissingTokens = MissingTokens()) -> [ColumnSummary] {
        table.columns.map { c in
            switch c.data {
            case .numeric(let v):
                let p = Stats.present(v).sorted()
                var s = ColumnSummary(name: c.name, kind: c.kind, count: v.count, missing: v.count - p.count)
                s.mean = Stats.mean(p); s.std = Stats.variance(p).squareRoot()
                s.min = p.first ?? .nan; s.max = p.last ?? .nan; s.median = Stats.percentileSorted(p, 50)
                return s
            case .strings(let v):
                var counts = [String: Int]()
                var m = 0
                for x in v { if tokens.isMissing(x) { m += 1 } else { counts[x, default: 0] += 1 } }
                var s = ColumnSummary(name: c.name, kind: c.kind, count: v.count, missing: m)
                s.distinct = counts.count
                s.top = counts.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }?.key
                return s
            }
        }
    }

    /// A fixed-width text table of the summaries.
    public static func render(_ rows: [ColumnSummary]) -> String {
        func f(_ x: Double) -> String { x.isNaN ? "" : String(format: "%.6g", x) }
        var lines = [["column", "kind", "count", "missing", "distinct/top", "mean", "std", "min", "median", "max"]]
        for s in rows {
            lines.append([s.name, s.kind.rawValue, String(s.count), String(s.missing),
                          s.distinct.map { "\($0) / \((s.top ?? "").replacingOccurrences(of: "\n", with: "\\n"))" } ?? "", f(s.mean), f(s.std), f(s.min), f(s.median), f(s.max)])
        }
        let widths = (0..<lines[0].count).map { i in lines.map { $0[i].count }.max() ?? 0 }
        return lines.map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
