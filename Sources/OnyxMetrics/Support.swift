// Shared pieces of the metrics library: the error type, labels, zero-division policy and
// numpy-compatible summation (so results agree with scikit-learn to the last bits).
import Foundation

/// An error raised where scikit-learn raises `ValueError`: empty or inconsistent inputs, labels that
/// do not fit the requested averaging, a metric undefined for the input, malformed probabilities.
public struct MetricsError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A class label as read from a file: an integer or a string.
///
/// Ordering follows `np.unique`: integers numerically, strings by Unicode code points (numpy compares
/// UTF-32 code units, without normalisation). Integers sort before strings, but mixing the two in one
/// problem is an error, as in scikit-learn ("Mix of label input types (string and number)").
public enum Label: Hashable, Comparable, Sendable, CustomStringConvertible {
    case int(Int)
    case string(String)

    public static func < (a: Label, b: Label) -> Bool {
        switch (a, b) {
        case let (.int(x), .int(y)): return x < y
        case let (.string(x), .string(y)): return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
        case (.int, .string): return true
        case (.string, .int): return false
        }
    }

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .string(let s): return s
        }
    }

    var isString: Bool { if case .string = self { return true } else { return false } }
}

/// What precision / recall / F-scores return when their denominator is zero (scikit-learn's `zero_division`).
/// `.warn` behaves as `.zero` (scikit-learn additionally emits a warning).
public enum ZeroDivision: Sendable, Equatable {
    case warn, zero, one, nan
    var value: Double {
        switch self {
        case .warn, .zero: return 0
        case .one: return 1
        case .nan: return .nan
        }
    }
}

/// Sorted distinct labels, as `np.unique` / `sklearn.utils.multiclass.unique_labels` return them.
/// Throws if `Label` values mix integers and strings.
func uniqueLabels<L: Hashable & Comparable>(_ arrays: [L]...) throws -> [L] {
    // Fast path without hashing: integer labels in a small range (same result: sorted distinct integers).
    if L.self == Label.self, let r = uniqueSmallInts(unsafeBitCast(arrays, to: [[Label]].self)) {
        return unsafeBitCast(r, to: [L].self)
    }
    var seen = Set<L>()
    for a in arrays { seen.formUnion(a) }
    let sorted = seen.sorted()
    if let labels = sorted as? [Label], labels.contains(where: \.isString), labels.contains(where: { !$0.isString }) {
        throw MetricsError("Mix of label input types (string and number)")
    }
    return sorted
}

/// Checks the two label arrays have the same, non-zero length.
func checkPair(_ n1: Int, _ n2: Int, _ what: String = "y_true and y_pred") throws {
    if n1 != n2 {
        throw MetricsError("Found input variables with inconsistent numbers of samples: [\(n1), \(n2)] (\(what))")
    }
    if n1 == 0 {
        throw MetricsError("Found empty input array (e.g., `y_true` or `y_pred`) while a minimum of 1 sample is required.")
    }
}

/// Sum with numpy's pairwise algorithm (`pairwise_sum` in numpy's loops): identical rounding to `np.sum`
/// on a contiguous float64 array.
@inlinable
public func numpySum(_ a: [Double]) -> Double {
    a.withUnsafeBufferPointer { numpyPairwiseSum($0.baseAddress, $0.count) }
}

@usableFromInline
func numpyPairwiseSum(_ p: UnsafePointer<Double>?, _ n: Int) -> Double {
    guard let p, n > 0 else { return 0 }
    if n < 8 {
        var r = 0.0
        for i in 0..<n { r += p[i] }
        return r
    }
    if n <= 128 {
        var r0 = p[0], r1 = p[1], r2 = p[2], r3 = p[3], r4 = p[4], r5 = p[5], r6 = p[6], r7 = p[7]
        var i = 8
        let end = n - n % 8
        while i < end {
            r0 += p[i]; r1 += p[i + 1]; r2 += p[i + 2]; r3 += p[i + 3]
            r4 += p[i + 4]; r5 += p[i + 5]; r6 += p[i + 6]; r7 += p[i + 7]
            i += 8
        }
        var res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n { res += p[i]; i += 1 }
        return res
    }
    var n2 = n / 2
    n2 -= n2 % 8
    return numpyPairwiseSum(p, n2) + numpyPairwiseSum(p + n2, n - n2)
}

/// `np.mean` of a float64 array (NaN when empty, as numpy returns with a warning).
public func numpyMean(_ a: [Double]) -> Double {
    a.isEmpty ? .nan : numpySum(a) / Double(a.count)
}

/// `np.average(a, weights=w)`: `sum(a*w) / sum(w)`.
func numpyAverage(_ a: [Double], weights w: [Double]) -> Double {
    numpySum(zip(a, w).map { $0 * $1 }) / numpySum(w)
}

/// Encodes labels as indices into `classes` (which must be sorted and contain every label).
func encode<L: Hashable>(_ y: [L], _ classes: [L]) -> [Int] {
    // Fast path without hashing: integer labels and classes in a small range, through a lookup table.
    if L.self == Label.self, let r = encodeSmallInts(unsafeBitCast(y, to: [Label].self), unsafeBitCast(classes, to: [Label].self)) {
        return r
    }
    var index = [L: Int]()
    for (i, c) in classes.enumerated() { index[c] = i }
    return y.map { index[$0] ?? -1 }
}

/// The range of integer labels if every label is `.int` and the range has at most 2²⁰ values.
private func smallIntRange(_ arrays: [[Label]]) -> (lo: Int, count: Int)? {
    var lo = Int.max, hi = Int.min
    for a in arrays {
        for x in a {
            guard case .int(let v) = x else { return nil }
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
    }
    if lo > hi { return nil }
    let (span, overflow) = hi.subtractingReportingOverflow(lo)
    if overflow || span >= 1 << 20 { return nil }
    return (lo, span + 1)
}

/// `uniqueLabels` for small-range integer labels (nil if not applicable).
private func uniqueSmallInts(_ arrays: [[Label]]) -> [Label]? {
    guard let (lo, count) = smallIntRange(arrays) else { return nil }
    var present = [Bool](repeating: false, count: count)
    for a in arrays { for case .int(let v) in a { present[v &- lo] = true } }
    return present.indices.filter { present[$0] }.map { .int(lo &+ $0) }
}

/// `encode` for small-range integer labels and classes (nil if not applicable).
private func encodeSmallInts(_ y: [Label], _ classes: [Label]) -> [Int]? {
    guard let (lo, count) = smallIntRange([y, classes]) else { return nil }
    var table = [Int](repeating: -1, count: count)
    for (i, c) in classes.enumerated() {
        if case .int(let v) = c { table[v &- lo] = i }  // last wins, as the dictionary did
    }
    var out = [Int]()
    out.reserveCapacity(y.count)
    for case .int(let v) in y { out.append(table[v &- lo]) }
    return out
}
