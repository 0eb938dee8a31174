// An n × K score matrix in one row-major array: what a model's score output is, and what the multiclass metrics
// work on (one allocation instead of n row arrays; columns read with a stride).
import Foundation

/// Scores of `rows` samples for `columns` classes, row-major: the score of sample r for class c is
/// `values[r * columns + c]`.
public struct ScoreMatrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public let values: [Double]

    /// Throws unless `values` holds exactly `rows × columns` numbers.
    public init(rows: Int, columns: Int, values: [Double]) throws {
        guard rows >= 0, columns >= 0, rows.multipliedReportingOverflow(by: columns) == (values.count, false) else {
            throw MetricsError("a \(rows) × \(columns) score matrix needs \(rows) × \(columns) values, got \(values.count)")
        }
        self.rows = rows; self.columns = columns; self.values = values
    }

    /// From row arrays; throws "y_score rows have different lengths" unless every row has the first row's length.
    public init(_ rowArrays: [[Double]]) throws {
        let k = rowArrays.first?.count ?? 0
        if rowArrays.contains(where: { $0.count != k }) { throw MetricsError("y_score rows have different lengths") }
        var v = [Double]()
        v.reserveCapacity(rowArrays.count * k)
        for r in rowArrays { v.append(contentsOf: r) }
        rows = rowArrays.count; columns = k; values = v
    }

    /// Row r (r < rows).
    public func row(_ r: Int) -> ArraySlice<Double> { values[(r * columns)..<((r + 1) * columns)] }

    /// The rows as separate arrays.
    public var rowArrays: [[Double]] { (0..<rows).map { Array(row($0)) } }

    /// Column c (c < columns) as an array.
    public func column(_ c: Int) -> [Double] {
        let k = columns
        return values.withUnsafeBufferPointer { v in
            [Double](unsafeUninitializedCapacity: rows) { out, count in
                for r in 0..<rows { out[r] = v[r * k + c] }
                count = rows
            }
        }
    }

    /// numpy's sum of row r (pairwise summation, as `np.sum(y, axis=1)` on a contiguous float64 matrix).
    func rowSum(_ r: Int) -> Double {
        values.withUnsafeBufferPointer { v in numpyPairwiseSum(v.baseAddress.map { $0 + r * columns }, columns) }
    }
}
