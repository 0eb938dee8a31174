// Score-based (ranking) metrics, defined as in scikit-learn 1.9 (`sklearn.metrics._ranking`):
// ROC and precision-recall curves, ROC AUC, average precision, and threshold selection helpers.
import Foundation

/// A ROC curve: false and true positive rates at decreasing thresholds; `thresholds[0]` is +∞.
public struct ROCCurve: Sendable, Equatable {
    public let fpr: [Double]
    public let tpr: [Double]
    public let thresholds: [Double]
}

/// A precision-recall curve (`precision_recall_curve`): `precision` and `recall` have one more entry than
/// `thresholds` (the final point precision 1, recall 0); thresholds increase.
public struct PRCurve: Sendable, Equatable {
    public let precision: [Double]
    public let recall: [Double]
    public let thresholds: [Double]
}

/// True/false positive counts at each distinct score, highest first (`confusion_matrix_at_thresholds`).
/// Ties: all samples sharing a score are counted together at that threshold.
func binaryCounts(_ positive: [Bool], _ score: [Double]) throws -> (fps: [Double], tps: [Double], thresholds: [Double]) {
    try checkPair(positive.count, score.count, "y_true and y_score")
    if score.contains(where: { !$0.isFinite }) { throw MetricsError("Input y_score contains NaN or infinity.") }
    // Stable sort by descending score.
    return countsAlong(descendingOrder(score), score) { positive[$0] }
}

/// ROC curve (`roc_curve`) for the samples labelled `posLabel` against all others.
///
/// With `dropIntermediate` (the default), points that are collinear with their neighbours (zero second
/// difference of both counts) are removed. A point (0, 0) with threshold +∞ is prepended. If there are no
/// negative (positive) samples, every fpr (tpr) is NaN, as in scikit-learn (which warns).
/// Throws on unequal lengths, empty input, or non-finite scores.
public func rocCurve<L: Hashable & Comparable>(
    _ yTrue: [L], _ yScore: [Double], posLabel: L, dropIntermediate: Bool = true
) throws -> ROCCurve {
    _ = try uniqueLabels(yTrue)
    let (fps, tps, th) = try binaryCounts(yTrue.map { $0 == posLabel }, yScore)
    return rocFromCounts(fps, tps, th, dropIntermediate: dropIntermediate)
}

func rocFromCounts(_ fps: [Double], _ tps: [Double], _ th: [Double], dropIntermediate: Bool) -> ROCCurve {
    var fps = fps, tps = tps, th = th
    if dropIntermediate && fps.count > 2 {
        var keep = [0]
        for i in 1..<(fps.count - 1) {
            let d2f = (fps[i + 1] - fps[i]) - (fps[i] - fps[i - 1])
            let d2t = (tps[i + 1] - tps[i]) - (tps[i] - tps[i - 1])
            if d2f != 0 || d2t != 0 { keep.append(i) }
        }
        keep.append(fps.count - 1)
        fps = keep.map { fps[$0] }; tps = keep.map { tps[$0] }; th = keep.map { th[$0] }
    }
    fps.insert(0, at: 0); tps.insert(0, at: 0); th.insert(.infinity, at: 0)
    let nf = fps[fps.count - 1], nt = tps[tps.count - 1]
    let fpr = nf <= 0 ? fps.map { _ in Double.nan } : fps.map { $0 / nf }
    let tpr = nt <= 0 ? tps.map { _ in Double.nan } : tps.map { $0 / nt }
    return ROCCurve(fpr: fpr, tpr: tpr, thresholds: th)
}

/// Precision-recall curve (`precision_recall_curve`) for `posLabel`.
///
/// precision = tp / (tp + fp) (0 when no sample is predicted positive); recall = tp / P, or 1 everywhere if
/// there is no positive sample (scikit-learn warns). Points run from the lowest threshold to the highest, then
/// the point (recall 0, precision 1) without threshold. `dropIntermediate` removes points where tp does not change.
public func precisionRecallCurve<L: Hashable & Comparable>(
    _ yTrue: [L], _ yScore: [Double], posLabel: L, dropIntermediate: Bool = false
) throws -> PRCurve {
    _ = try uniqueLabels(yTrue)
    return try prCurve(yTrue.map { $0 == posLabel }, yScore, dropIntermediate: dropIntermediate)
}

func prCurve(_ positive: [Bool], _ yScore: [Double], dropIntermediate: Bool = false) throws -> PRCurve {
    let (fps, tps, th) = try binaryCounts(positive, yScore)
    return prFromCounts(fps, tps, th, dropIntermediate: dropIntermediate)
}

func prFromCounts(_ fps: [Double], _ tps: [Double], _ th: [Double], dropIntermediate: Bool = false) -> PRCurve {
    var fps = fps, tps = tps, th = th
    if dropIntermediate && fps.count > 2 {
        var keep = [0]
        for i in 1..<(fps.count - 1) where tps[i] != tps[i - 1] || tps[i + 1] != tps[i] { keep.append(i) }
        keep.append(fps.count - 1)
        fps = keep.map { fps[$0] }; tps = keep.map { tps[$0] }; th = keep.map { th[$0] }
    }
    let precision = zip(tps, fps).map { $0 + $1 != 0 ? $0 / ($0 + $1) : 0 }
    let p = tps[tps.count - 1]
    let recall = p == 0 ? tps.map { _ in 1.0 } : tps.map { $0 / p }
    return PRCurve(precision: precision.reversed() + [1], recall: recall.reversed() + [0], thresholds: th.reversed())
}

/// Area under a curve by the trapezoidal rule (`auc`); `x` must be monotonic (increasing or decreasing).
public func auc(_ x: [Double], _ y: [Double]) throws -> Double {
    try checkPair(x.count, y.count, "x and y")
    if x.count < 2 { throw MetricsError("At least 2 points are needed to compute area under curve, but x.shape = \(x.count)") }
    let dx = (1..<x.count).map { x[$0] - x[$0 - 1] }
    var direction = 1.0
    if dx.contains(where: { $0 < 0 }) {
        if dx.allSatisfy({ $0 <= 0 }) { direction = -1 } else { throw MetricsError("x is neither increasing nor decreasing") }
    }
    var terms = [Double]()
    terms.reserveCapacity(dx.count)
    for i in dx.indices {
        let s: Double = y[i + 1] + y[i]
        terms.append(dx[i] * s / 2.0)
    }
    return direction * numpySum(terms)
}

func binaryRocAuc(_ positive: [Bool], _ score: [Double]) throws -> Double {
    if !(positive.contains(true) && positive.contains(false)) { return .nan }
    let (fps, tps, th) = try binaryCounts(positive, score)
    return try auc(rocFromCounts(fps, tps, th, dropIntermediate: true))
}

func auc(_ c: ROCCurve) throws -> Double { try auc(c.fpr, c.tpr) }

/// ROC AUC from counts along a shared order; NaN unless both classes occur (as `binaryRocAuc`).
///
/// Exactly `auc(rocFromCounts(fps, tps, th, dropIntermediate: true))` without building the curve: the same points
/// are kept (the first, the last, and those where either count's second difference is non-zero), the rates are the
/// same quotients, each trapezoid term is the same `(x₁ − x₀) · (y₁ + y₀) / 2` from the prepended (0, 0) on, and
/// the terms are summed by the same pairwise sum. (The false positive rate never decreases, so `auc`'s direction
/// is +1 and it cannot throw.)
func rocAucFromCounts(_ fps: [Double], _ tps: [Double]) -> Double {
    guard let nf = fps.last, let nt = tps.last, nf > 0, nt > 0 else { return .nan }
    let n = fps.count
    var terms = [Double]()
    terms.reserveCapacity(n)
    var px = 0.0, py = 0.0
    fps.withUnsafeBufferPointer { f in
        tps.withUnsafeBufferPointer { t in
            @inline(__always) func add(_ i: Int) {
                let x = f[i] / nf, y = t[i] / nt
                let dx: Double = x - px
                let s: Double = y + py
                terms.append(dx * s / 2.0)
                px = x; py = y
            }
            if n > 2 {
                add(0)
                for i in 1..<(n - 1) {
                    let d2f = (f[i + 1] - f[i]) - (f[i] - f[i - 1])
                    let d2t = (t[i + 1] - t[i]) - (t[i] - t[i - 1])
                    if d2f != 0 || d2t != 0 { add(i) }
                }
                add(n - 1)
            } else {
                for i in 0..<n { add(i) }
            }
        }
    }
    return numpySum(terms)
}

/// Average precision from counts along a shared order: exactly `averagePrecision(prFromCounts(fps, tps, th))`
/// (the same precision and recall quotients, the terms in the same order, the same pairwise sum) without building
/// the reversed curve.
func averagePrecisionFromCounts(_ fps: [Double], _ tps: [Double]) -> Double {
    let m = tps.count
    guard m > 0 else { return 0 }
    let p = tps[m - 1]
    var terms = [Double]()
    terms.reserveCapacity(m)
    fps.withUnsafeBufferPointer { f in
        tps.withUnsafeBufferPointer { t in
            @inline(__always) func precision(_ i: Int) -> Double { t[i] + f[i] != 0 ? t[i] / (t[i] + f[i]) : 0 }
            @inline(__always) func recall(_ i: Int) -> Double { p == 0 ? 1 : t[i] / p }
            // Reversed curve: point j is count m − 1 − j, then (recall 0, precision 1).
            for j in 0..<m {
                let i = m - 1 - j
                let next = j + 1 < m ? recall(i - 1) : 0
                let d: Double = next - recall(i)
                terms.append(d * precision(i))
            }
        }
    }
    return max(0, -numpySum(terms))
}

/// One-vs-rest ROC AUC of class `c` along the shared order of its score column.
func ovrRocAuc(_ p: MulticlassScores, _ c: Int) throws -> Double {
    let (fps, tps) = p.ovrCounts[c]
    return rocAucFromCounts(fps, tps)
}

/// One-vs-rest average precision of class `c` along the shared order of its score column.
func ovrAveragePrecision(_ p: MulticlassScores, _ c: Int) throws -> Double {
    let (fps, tps) = p.ovrCounts[c]
    return averagePrecisionFromCounts(fps, tps)
}

/// Binary ROC AUC (`roc_auc_score` with 1-D scores): `yScore` scores the greater of the two labels (as
/// scikit-learn's `label_binarize` does). NaN if `yTrue` holds a single class (scikit-learn warns); throws if it
/// holds more than two.
public func rocAucScore<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: [Double]) throws -> Double {
    let classes = try uniqueLabels(yTrue)
    try checkPair(yTrue.count, yScore.count, "y_true and y_score")
    if classes.count > 2 {
        throw MetricsError("`y_score` needs to be of shape `(n_samples, n_classes)`, since `y_true` contains multiple classes.")
    }
    guard let pos = classes.last, classes.count == 2 else { return .nan }
    return try binaryRocAuc(yTrue.map { $0 == pos }, yScore)
}

/// Multiclass averaging of one-vs-rest scores.
public enum MulticlassAverage: Sendable { case micro, macro, weighted }

/// Validates `yScore` as an n × K matrix whose columns are the sorted classes of `yTrue`.
func multiclassSetup<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: [[Double]]) throws -> (classes: [L], y: [Int]) {
    try checkPair(yTrue.count, yScore.count, "y_true and y_score")
    let classes = try uniqueLabels(yTrue)
    guard let k = yScore.first?.count, yScore.allSatisfy({ $0.count == k }) else {
        throw MetricsError("y_score rows have different lengths")
    }
    if classes.count != k {
        throw MetricsError("Number of classes in y_true (\(classes.count)) not equal to the number of columns in 'y_score' (\(k))")
    }
    if yScore.contains(where: { $0.contains { !$0.isFinite } }) { throw MetricsError("Input y_score contains NaN or infinity.") }
    return (classes, encode(yTrue, classes))
}

/// `multiclassSetup` on a score matrix (same checks in the same order).
func multiclassSetup<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: ScoreMatrix) throws -> (classes: [L], y: [Int]) {
    try checkPair(yTrue.count, yScore.rows, "y_true and y_score")
    let classes = try uniqueLabels(yTrue)
    let k = yScore.columns
    if classes.count != k {
        throw MetricsError("Number of classes in y_true (\(classes.count)) not equal to the number of columns in 'y_score' (\(k))")
    }
    if yScore.values.contains(where: { !$0.isFinite }) { throw MetricsError("Input y_score contains NaN or infinity.") }
    return (classes, encode(yTrue, classes))
}

/// Averages per-class binary scores of the one-vs-rest problems (`_average_binary_score`).
func averageOvR(_ y: [Int], _ yScore: [[Double]], _ k: Int, _ average: MulticlassAverage,
                _ metric: ([Bool], [Double]) throws -> Double) throws -> Double {
    if average == .micro {
        return try metric(y.flatMap { t in (0..<k).map { $0 == t } }, yScore.flatMap { $0 })
    }
    let scores = try (0..<k).map { c in try metric(y.map { $0 == c }, yScore.map { $0[c] }) }
    return averageScores(scores, y, k, average)
}

/// Macro or weighted average of per-class scores (absent classes weigh 0), as `averageOvR`.
func averageScores(_ scores: [Double], _ y: [Int], _ k: Int, _ average: MulticlassAverage) -> Double {
    var scores = scores
    if average == .macro { return numpyMean(scores) }
    let w = (0..<k).map { c in Double(y.count { $0 == c }) }
    for c in 0..<k where w[c] == 0 { scores[c] = 0 }
    return numpyAverage(scores, weights: w)
}

/// Multiclass ROC AUC, one-vs-rest (`roc_auc_score(multi_class="ovr")`): `yScore[i][c]` is the probability of
/// the c-th sorted class; rows must sum to 1 (numpy `allclose`). `.macro` is the plain mean of the per-class
/// AUCs, `.weighted` weights them by prevalence, `.micro` pools all (sample, class) pairs.
/// Throws if the number of columns differs from the number of classes in `yTrue`.
public func rocAucOvR<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: [[Double]], average: MulticlassAverage = .macro) throws -> Double {
    if average == .micro {
        let (classes, y) = try multiclassSetup(yTrue, yScore)
        try checkProbabilities(yScore)
        return try averageOvR(y, yScore, classes.count, average, binaryRocAuc)
    }
    return try rocAucOvR(MulticlassScores(yTrue, yScore), average: average)
}

/// `rocAucOvR` (macro or weighted) on a prepared problem: one sort per column, classes in parallel.
func rocAucOvR(_ p: MulticlassScores, average: MulticlassAverage) throws -> Double {
    averageScores(try ovrRocAucs(p), p.y, p.k, average)
}

/// The one-vs-rest ROC AUC of each class (classes in parallel), after the probability check.
func ovrRocAucs(_ p: MulticlassScores) throws -> [Double] {
    try p.checkProbabilities()
    let per = parallelMap(p.k) { c in Result { try ovrRocAuc(p, c) } }
    return try per.map { try $0.get() }
}

/// Multiclass ROC AUC, one-vs-one, macro average (`roc_auc_score(multi_class="ovo")`): Hand & Till's measure as
/// scikit-learn computes it: for each pair of classes (a, b), restricted to the samples of a or b, the mean of
/// AUC(a vs b, scored by column a) and AUC(b vs a, scored by column b); then the mean over pairs.
public func rocAucOvO<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: [[Double]]) throws -> Double {
    try rocAucOvO(MulticlassScores(yTrue, yScore))
}

/// `rocAucOvO` on a prepared problem. The samples of classes a and b, in the shared descending order of
/// column a, are exactly the order a sort of that subset gives (ties keep sample order). So for each column c
/// (columns in parallel) the positions of each class's samples in c's order are listed once, and the side "c vs b"
/// of every pair merges the lists of c and b (n_c + n_b steps) instead of filtering all n samples; the counts,
/// the curve and the trapezoids are then exactly those of the filtered order.
func rocAucOvO(_ p: MulticlassScores) throws -> Double {
    try p.checkProbabilities()
    let k = p.k
    // side[c][b]: AUC of class c against class b on the samples of c and b, scored by column c.
    let side = parallelMap(k) { c in Result { try ovoSides(p.sorted[c], p.classes[c], k: k, c: c) } }
    let sides = try side.map { try $0.get() }
    var pairs = [Double]()
    for a in 0..<k { for b in (a + 1)..<max(a + 1, k) { pairs.append((sides[a][b] + sides[b][a]) / 2) } }
    return numpyMean(pairs)
}

/// For column c: the one-vs-one AUC of c against each other class b (entry b; entry c unused).
private func ovoSides(_ sorted: [Double], _ cls: [Int32], k: Int, c: Int) throws -> [Double] {
    // Positions (in c's descending order) of each class's samples, grouped by class, ascending within a class.
    var start = [Int](repeating: 0, count: k + 1)
    for t in cls where t >= 0 && Int(t) < k { start[Int(t) + 1] += 1 }
    for t in 0..<k { start[t + 1] += start[t] }
    var fill = start
    var grouped = [Int](repeating: 0, count: start[k])
    for (pos, t) in cls.enumerated() where t >= 0 && Int(t) < k {
        grouped[fill[Int(t)]] = pos; fill[Int(t)] += 1
    }
    var out = [Double](repeating: .nan, count: k)
    var fps = [Double](), tps = [Double]()
    for b in 0..<k where b != c {
        fps.removeAll(keepingCapacity: true); tps.removeAll(keepingCapacity: true)
        grouped.withUnsafeBufferPointer { g in
            sorted.withUnsafeBufferPointer { s in
                // Merge c's positions (positives) with b's (negatives); counts as `countsAlong` on the merged order.
                var i = start[c], j = start[b]
                let iEnd = start[c + 1], jEnd = start[b + 1]
                let total = (iEnd - i) + (jEnd - j)
                var cum = 0.0
                for m in 0..<total {
                    let fromC = j == jEnd || (i < iEnd && g[i] < g[j])
                    let pos = fromC ? g[i] : g[j]
                    if fromC { cum += 1; i += 1 } else { j += 1 }
                    let last = m == total - 1
                    let next = last ? pos : (j == jEnd || (i < iEnd && g[i] < g[j]) ? g[i] : g[j])
                    if last || s[next] != s[pos] {
                        tps.append(cum)
                        fps.append(1 + Double(m) - cum)
                    }
                }
            }
        }
        out[b] = rocAucFromCounts(fps, tps)
    }
    return out
}

func checkProbabilities(_ yScore: [[Double]]) throws {
    for row in yScore {
        let s = numpySum(row)
        if !(abs(1 - s) <= 1e-8 + 1e-5 * abs(s)) {
            throw MetricsError("Target scores need to be probabilities for multiclass roc_auc, i.e. they should sum up to 1.0 over classes")
        }
    }
}

/// `checkProbabilities` on a score matrix (the same row sums).
func checkProbabilities(_ yScore: ScoreMatrix) throws {
    let k = yScore.columns
    let ok = yScore.values.withUnsafeBufferPointer { v in
        (0..<yScore.rows).allSatisfy { r in
            let s = numpyPairwiseSum(v.baseAddress.map { $0 + r * k }, k)
            return abs(1 - s) <= 1e-8 + 1e-5 * abs(s)
        }
    }
    if !ok {
        throw MetricsError("Target scores need to be probabilities for multiclass roc_auc, i.e. they should sum up to 1.0 over classes")
    }
}

func binaryAveragePrecision(_ positive: [Bool], _ score: [Double]) throws -> Double {
    averagePrecision(try prCurve(positive, score))
}

func averagePrecision(_ c: PRCurve) -> Double {
    var terms = [Double]()
    terms.reserveCapacity(c.recall.count)
    for i in 0..<(c.recall.count - 1) {
        let d: Double = c.recall[i + 1] - c.recall[i]
        terms.append(d * c.precision[i])
    }
    return max(0, -numpySum(terms))
}

/// Average precision (`average_precision_score`), scikit-learn's step-wise definition without interpolation:
/// AP = Σₙ (Rₙ − Rₙ₋₁) Pₙ over the precision-recall curve, clipped below at 0. With no positive sample the recall
/// is 1 everywhere and AP is 0. Throws if `yTrue` has two classes and neither is `posLabel`, or more than two.
public func averagePrecisionScore<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: [Double], posLabel: L) throws -> Double {
    let present = try uniqueLabels(yTrue)
    if present.count > 2 {
        throw MetricsError("`y_score` needs to be of shape `(n_samples, n_classes)`, since `y_true` contains multiple classes.")
    }
    if present.count == 2 && !present.contains(posLabel) {
        throw MetricsError("pos_label=\(posLabel) is not a valid label. It should be one of \(present)")
    }
    return try binaryAveragePrecision(yTrue.map { $0 == posLabel }, yScore)
}

/// Multiclass average precision (`average_precision_score` with an n × K score matrix): the one-vs-rest APs of
/// the sorted classes, averaged (`.macro` mean, `.weighted` by support, `.micro` pooled).
public func averagePrecisionScore<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: [[Double]], average: MulticlassAverage = .macro) throws -> Double {
    if average == .micro {
        let (classes, y) = try multiclassSetup(yTrue, yScore)
        return try averageOvR(y, yScore, classes.count, average, binaryAveragePrecision)
    }
    return try averagePrecisionScore(MulticlassScores(yTrue, yScore), average: average)
}

/// Multiclass average precision (macro or weighted) on a prepared problem, classes in parallel.
func averagePrecisionScore(_ p: MulticlassScores, average: MulticlassAverage) throws -> Double {
    let k = p.k
    let per = parallelMap(k) { c in Result { try ovrAveragePrecision(p, c) } }
    return averageScores(try per.map { try $0.get() }, p.y, k, average)
}

/// The threshold maximising F1 along the precision-recall curve: F1ᵢ = 2·Pᵢ·Rᵢ / (Pᵢ + Rᵢ) (0 when Pᵢ + Rᵢ = 0)
/// at each threshold of `precisionRecallCurve`; ties go to the first (lowest) threshold, as `np.argmax`.
/// Predict positive when score ≥ threshold.
public func bestF1Threshold<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: [Double], posLabel: L)
    throws -> (threshold: Double, f1: Double, precision: Double, recall: Double) {
    bestF1Threshold(try precisionRecallCurve(yTrue, yScore, posLabel: posLabel))
}

func bestF1Threshold(_ c: PRCurve) -> (threshold: Double, f1: Double, precision: Double, recall: Double) {
    var best = 0
    var bestF = -Double.infinity
    for i in c.thresholds.indices {
        let s = c.precision[i] + c.recall[i]
        let f = s == 0 ? 0 : 2 * c.precision[i] * c.recall[i] / s
        if f > bestF { bestF = f; best = i }
    }
    return (c.thresholds[best], bestF, c.precision[best], c.recall[best])
}

/// The threshold maximising Youden's J = TPR − FPR along `rocCurve` (with intermediate points dropped, which
/// never removes the optimum); ties go to the first (highest) threshold, as `np.argmax`. May be +∞ when no
/// threshold beats chance. NaN rates (a single class) make J NaN: the result is then the first point.
public func youdenThreshold<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: [Double], posLabel: L)
    throws -> (threshold: Double, j: Double, fpr: Double, tpr: Double) {
    youdenThreshold(try rocCurve(yTrue, yScore, posLabel: posLabel))
}

func youdenThreshold(_ c: ROCCurve) -> (threshold: Double, j: Double, fpr: Double, tpr: Double) {
    var best = 0
    for i in c.fpr.indices where c.tpr[i] - c.fpr[i] > c.tpr[best] - c.fpr[best] { best = i }
    return (c.thresholds[best], c.tpr[best] - c.fpr[best], c.fpr[best], c.tpr[best])
}

/// Counts of one binary problem (`binaryCounts`), computed once and shared by the binary report's ROC AUC,
/// average precision, curves and thresholds; each accessor validates as its public counterpart does.
struct BinaryScores<L: Hashable & Comparable> {
    let yTrue: [L]
    let posLabel: L
    let positive: [Bool]
    let counts: Result<(fps: [Double], tps: [Double], thresholds: [Double]), any Error>

    init(_ yTrue: [L], _ yScore: [Double], posLabel: L) {
        self.yTrue = yTrue
        self.posLabel = posLabel
        let positive = yTrue.map { $0 == posLabel }
        self.positive = positive
        counts = Result { try binaryCounts(positive, yScore) }
    }

    /// `binaryRocAuc(positive, yScore)`.
    func rocAuc() throws -> Double {
        if !(positive.contains(true) && positive.contains(false)) { return .nan }
        let c = try counts.get()
        return try auc(rocFromCounts(c.fps, c.tps, c.thresholds, dropIntermediate: true))
    }

    /// `rocCurve(yTrue, yScore, posLabel:)`.
    func rocCurve() throws -> ROCCurve {
        _ = try uniqueLabels(yTrue)
        let c = try counts.get()
        return rocFromCounts(c.fps, c.tps, c.thresholds, dropIntermediate: true)
    }

    /// `precisionRecallCurve(yTrue, yScore, posLabel:)`.
    func prCurve() throws -> PRCurve {
        _ = try uniqueLabels(yTrue)
        let c = try counts.get()
        return prFromCounts(c.fps, c.tps, c.thresholds)
    }

    /// `averagePrecisionScore(yTrue, yScore, posLabel:)`.
    func averagePrecision() throws -> Double {
        let present = try uniqueLabels(yTrue)
        if present.count > 2 {
            throw MetricsError("`y_score` needs to be of shape `(n_samples, n_classes)`, since `y_true` contains multiple classes.")
        }
        if present.count == 2 && !present.contains(posLabel) {
            throw MetricsError("pos_label=\(posLabel) is not a valid label. It should be one of \(present)")
        }
        let c = try counts.get()
        return OnyxMetrics.averagePrecision(prFromCounts(c.fps, c.tps, c.thresholds))
    }
}
