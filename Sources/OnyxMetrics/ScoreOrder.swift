// Sorting a score column is the expensive step of every ranking metric. These helpers sort each column once
// (descending score, ties in sample order — the order `binaryCounts` always used) and share that order between
// ROC AUC (one-vs-rest macro and weighted, one-vs-one), average precision and the curves. Results are
// bit-identical to sorting per call: the comparator is a strict total order, so the permutation is the same.
import Foundation

/// Sample indices of `score` by descending score; ties keep sample order (a stable descending sort).
/// Columns of 512 or more scores without NaN use a stable LSD radix sort on order-preserving 64-bit keys
/// (−0 and +0 share a key, as they compare equal), which gives exactly the permutation of the comparison sort.
func descendingOrder(_ score: [Double]) -> [Int] {
    if score.count >= 512, !score.contains(where: \.isNaN) { return radixDescendingOrder(score) }
    var pairs = [(Double, Int)]()
    pairs.reserveCapacity(score.count)
    for (i, s) in score.enumerated() { pairs.append((s, i)) }
    pairs.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
    return pairs.map { $0.1 }
}

/// The counts of `countsAlong(order, score) { y[$0] == positive }` (without the thresholds, which the one-vs-rest
/// AUC and average precision do not use) from the scores and classes already in that order.
func sortedCounts(_ sorted: [Double], _ cls: [Int32], _ positive: Int32) -> (fps: [Double], tps: [Double]) {
    var fps = [Double](), tps = [Double]()
    let n = sorted.count
    var cum = 0.0
    sorted.withUnsafeBufferPointer { s in
        cls.withUnsafeBufferPointer { y in
            for k in 0..<n {
                if y[k] == positive { cum += 1 }
                if k == n - 1 || s[k + 1] != s[k] {
                    tps.append(cum)
                    fps.append(1 + Double(k) - cum)
                }
            }
        }
    }
    return (fps, tps)
}

/// Counts along a precomputed descending `order` (possibly a subset of the samples, still in descending
/// order): true/false positive counts and the threshold at the last sample of each run of equal scores.
@inline(__always)
func countsAlong(_ order: [Int], _ score: [Double], _ isPositive: (Int) -> Bool)
    -> (fps: [Double], tps: [Double], thresholds: [Double]) {
    var fps = [Double](), tps = [Double](), th = [Double]()
    let n = order.count
    var cum = 0.0
    order.withUnsafeBufferPointer { o in
        score.withUnsafeBufferPointer { s in
            for k in 0..<n {
                let i = o[k]
                if isPositive(i) { cum += 1 }
                if k == n - 1 || s[o[k + 1]] != s[i] {
                    tps.append(cum)
                    fps.append(1 + Double(k) - cum)
                    th.append(s[i])
                }
            }
        }
    }
    return (fps, tps, th)
}

/// The columns of an n × K score matrix with each column's descending order, sorted once (columns in
/// parallel) and shared by every one-vs-rest / one-vs-one ranking metric.
final class ScoreColumns: Sendable {
    let columns: [[Double]]
    let orders: [[Int]]

    init(_ yScore: ScoreMatrix) {
        let sorted = parallelMap(yScore.columns) { c in
            let col = yScore.column(c)
            return (col, descendingOrder(col))
        }
        columns = sorted.map(\.0)
        orders = sorted.map(\.1)
    }
}

/// `(0..<n).map(f)` with the iterations spread over the cores (each writes its own slot).
func parallelMap<T: Sendable>(_ n: Int, _ f: @Sendable (Int) -> T) -> [T] {
    if n <= 1 { return (0..<n).map(f) }
    let slots = SlotBuffer<T>(n)
    DispatchQueue.concurrentPerform(iterations: n) { i in slots.set(i, f(i)) }
    return slots.values()
}

/// Result slots for `parallelMap`. @unchecked Sendable: every iteration writes a distinct slot, and the slots
/// are read only after `concurrentPerform` has returned (which orders all writes before the read).
private final class SlotBuffer<T>: @unchecked Sendable {
    private let p: UnsafeMutablePointer<T?>
    private let n: Int
    init(_ n: Int) {
        self.n = n
        p = .allocate(capacity: n)
        p.initialize(repeating: nil, count: n)
    }
    func set(_ i: Int, _ v: T) { p[i] = v }
    func values() -> [T] { (0..<n).compactMap { p[$0] } }
    deinit {
        p.deinitialize(count: n)
        p.deallocate()
    }
}

/// One-time preparation of a multiclass problem: validated classes, encoded labels, sorted score columns.
final class MulticlassScores: Sendable {
    let k: Int
    let y: [Int]
    let yScore: ScoreMatrix
    let columns: ScoreColumns
    /// For each column c, in c's descending order: the scores (`sorted[c][pos] = columns[c][orders[c][pos]]`) and
    /// the samples' classes (`classes[c][pos] = y[orders[c][pos]]`) — gathered once (columns in parallel) so the
    /// one-vs-rest and one-vs-one walks read them sequentially.
    let sorted: [[Double]]
    let classes: [[Int32]]
    /// One-vs-rest counts of each class along its column (`countsAlong`), shared by ROC AUC and average precision.
    let ovrCounts: [(fps: [Double], tps: [Double])]
    private let probabilityCheck = ProbabilityCheck()

    init<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: ScoreMatrix) throws {
        let (classes, y) = try multiclassSetup(yTrue, yScore)
        let k = classes.count
        self.k = k
        self.y = y
        self.yScore = yScore
        let columns = ScoreColumns(yScore)
        self.columns = columns
        let gathered = parallelMap(k) { c in
            let o = columns.orders[c], col = columns.columns[c]
            let sorted = o.map { col[$0] }
            let cls = o.map { Int32(truncatingIfNeeded: y[$0]) }  // classes < k ≤ rows
            return (sorted, cls, sortedCounts(sorted, cls, Int32(truncatingIfNeeded: c)))
        }
        sorted = gathered.map(\.0)
        self.classes = gathered.map(\.1)
        ovrCounts = gathered.map(\.2)
    }

    /// From row arrays, validated as `multiclassSetup` validates them (same errors in the same order).
    convenience init<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: [[Double]]) throws {
        _ = try multiclassSetup(yTrue, yScore)
        try self.init(yTrue, ScoreMatrix(yScore))
    }

    /// Checked once, on first use (the same check and message as `checkProbabilities`).
    func checkProbabilities() throws {
        try probabilityCheck.run(yScore)
    }
}

/// Caches the outcome of `checkProbabilities`. @unchecked Sendable: used from one thread at a time (the
/// report computes its metrics sequentially); the lock makes concurrent use safe anyway.
private final class ProbabilityCheck: @unchecked Sendable {
    private let lock = NSLock()
    private var outcome: MetricsError??
    func run(_ yScore: ScoreMatrix) throws {
        lock.lock(); defer { lock.unlock() }
        if outcome == nil {
            do { try OnyxMetrics.checkProbabilities(yScore); outcome = .some(nil) } catch let e as MetricsError { outcome = .some(e) }
        }
        if case .some(.some(let e)) = outcome { throw e }
    }
}

/// Stable LSD radix sort (16-bit digits, passes where every key has the same digit skipped) of the sample
/// indices by descending score. The key of d is the complement of its ascending IEEE order key. When every score
/// is exactly a Float (a float32 model's outputs), the keys are the 32-bit keys of those Floats (two passes
/// instead of four): Double → Float is then exact and order-preserving, so the permutation is the same.
func radixDescendingOrder(_ score: [Double]) -> [Int] {
    if score.allSatisfy({ Double(Float($0)) == $0 }) {
        return radixSort(score.map { d -> UInt32 in
            let b = (d == 0 ? Float(0) : Float(d)).bitPattern
            return ~(b & (1 << 31) != 0 ? ~b : b | (1 << 31))
        })
    }
    return radixSort(score.map { d -> UInt64 in
        let b = (d == 0 ? 0.0 : d).bitPattern
        return ~(b & (1 << 63) != 0 ? ~b : b | (1 << 63))
    })
}

/// Indices of `keys` in ascending key order, ties in index order (stable LSD radix sort, 16-bit digits).
func radixSort<K: FixedWidthInteger & UnsignedInteger>(_ keys: [K]) -> [Int] {
    let n = keys.count
    var keys = keys, keys2 = keys
    var idx = [Int](0..<n), idx2 = idx
    var count = [Int](repeating: 0, count: 1 << 16)
    for pass in 0..<(K.bitWidth / 16) {
        let shift = 16 * pass
        keys.withUnsafeBufferPointer { k in
            count.withUnsafeMutableBufferPointer { c in
                c.update(repeating: 0)
                for i in 0..<n { c[Int(truncatingIfNeeded: k[i] >> shift) & 0xFFFF] += 1 }
            }
        }
        if n == 0 || count[Int(truncatingIfNeeded: keys[0] >> shift) & 0xFFFF] == n { continue }  // all keys share this digit
        keys.withUnsafeBufferPointer { k in
            idx.withUnsafeBufferPointer { ix in
                keys2.withUnsafeMutableBufferPointer { k2 in
                    idx2.withUnsafeMutableBufferPointer { i2 in
                        count.withUnsafeMutableBufferPointer { c in
                            var sum = 0
                            for d in 0..<(1 << 16) { let t = c[d]; c[d] = sum; sum += t }
                            for i in 0..<n {
                                let d = Int(truncatingIfNeeded: k[i] >> shift) & 0xFFFF
                                let p = c[d]
                                c[d] = p + 1
                                k2[p] = k[i]; i2[p] = ix[i]
                            }
                        }
                    }
                }
            }
        }
        swap(&keys, &keys2)
        swap(&idx, &idx2)
    }
    return idx
}
