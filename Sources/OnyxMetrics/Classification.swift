// Label-based classification metrics, defined as in scikit-learn 1.9 (`sklearn.metrics._classification`).
import Foundation

/// How per-class scores are combined (scikit-learn's `average`).
public enum Average<L: Hashable & Comparable>: Sendable where L: Sendable {
    /// Score of one class only; the problem must have at most two labels.
    case binary(posLabel: L)
    /// Global counts of true positives, predicted and true samples.
    case micro
    /// Unweighted mean of the per-class scores.
    case macro
    /// Mean of the per-class scores weighted by each class's support (number of true samples).
    case weighted
}

/// Normalisation of a confusion matrix (scikit-learn's `normalize`).
public enum ConfusionNormalization: Sendable {
    /// Each row (true class) sums to 1.
    case truth
    /// Each column (predicted class) sums to 1.
    case pred
    /// The whole matrix sums to 1.
    case all
}

/// Fraction of samples whose prediction equals the truth (`accuracy_score`).
/// Throws on empty or unequal-length inputs.
public func accuracyScore<L: Hashable & Comparable>(_ yTrue: [L], _ yPred: [L]) throws -> Double {
    try checkPair(yTrue.count, yPred.count)
    _ = try uniqueLabels(yTrue, yPred)
    let hits = zip(yTrue, yPred).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
    return Double(hits) / Double(yTrue.count)
}

/// Confusion matrix `C[i][j]` = number of samples of true class `labels[i]` predicted as `labels[j]`
/// (`confusion_matrix`). `labels` defaults to the sorted union of both arrays; samples whose true or predicted
/// label is not in `labels` are ignored. Throws if `labels` is empty or contains no label of `yTrue`.
public func confusionMatrix<L: Hashable & Comparable>(_ yTrue: [L], _ yPred: [L], labels: [L]? = nil) throws -> [[Int]] {
    try checkPair(yTrue.count, yPred.count)
    let present = try uniqueLabels(yTrue, yPred)
    let labels = labels ?? present
    if labels.isEmpty { throw MetricsError("'labels' should contain at least one label.") }
    let t = encode(yTrue, labels), p = encode(yPred, labels)
    // Some true label is one of `labels` exactly when some encoded true label is not -1.
    if !t.contains(where: { $0 >= 0 }) {
        throw MetricsError("At least one label specified must be in y_true")
    }
    var cm = [[Int]](repeating: [Int](repeating: 0, count: labels.count), count: labels.count)
    for (i, j) in zip(t, p) where i >= 0 && j >= 0 { cm[i][j] += 1 }
    return cm
}

/// Normalised confusion matrix (`confusion_matrix(..., normalize=...)`): counts divided by row sums, column sums
/// or the total; 0/0 (an empty row or column) becomes 0, as scikit-learn's `nan_to_num` does.
public func confusionMatrix<L: Hashable & Comparable>(
    _ yTrue: [L], _ yPred: [L], labels: [L]? = nil, normalize: ConfusionNormalization
) throws -> [[Double]] {
    let cm = try confusionMatrix(yTrue, yPred, labels: labels)
    let k = cm.count
    let rows = cm.map { Double($0.reduce(0, +)) }
    let cols = (0..<k).map { j in Double(cm.reduce(0) { $0 + $1[j] }) }
    let total = Double(cm.reduce(0) { $0 + $1.reduce(0, +) })
    return (0..<k).map { i in
        (0..<k).map { j in
            let c = Double(cm[i][j])
            let d: Double
            switch normalize {
            case .truth: d = rows[i]
            case .pred: d = cols[j]
            case .all: d = total
            }
            let v = c / d
            return v.isNaN ? 0 : v
        }
    }
}

/// Mean of the per-class recalls over the classes present in `yTrue` (`balanced_accuracy_score`, not adjusted).
/// Classes that appear only in `yPred` are left out, as scikit-learn does (with a warning).
public func balancedAccuracyScore<L: Hashable & Comparable>(_ yTrue: [L], _ yPred: [L]) throws -> Double {
    balancedAccuracy(try confusionMatrix(yTrue, yPred))
}

/// `balancedAccuracyScore` from the confusion matrix over the sorted union of labels.
func balancedAccuracy(_ cm: [[Int]]) -> Double {
    var perClass = [Double]()
    for i in cm.indices {
        let v = Double(cm[i][i]) / Double(cm[i].reduce(0, +))
        if !v.isNaN { perClass.append(v) }
    }
    return numpyMean(perClass)
}

/// Per-class precision, recall, F-beta and support (`precision_recall_fscore_support(average=None)`).
public struct ClassScores<L: Hashable & Comparable & Sendable>: Sendable {
    public let labels: [L]
    public let precision: [Double]
    public let recall: [Double]
    public let fScore: [Double]
    public let support: [Int]
}

/// Precision, recall and F-beta per class (`precision_recall_fscore_support(average=None)`).
///
/// precision = tp / (tp + fp), recall = tp / (tp + fn), F-beta = (1+β²)·tp / ((1+β²)·tp + β²·fn + fp).
/// A zero denominator gives `zeroDivision`'s value (0 for `.warn`). β = 0 gives precision, β = +∞ recall.
/// `labels` defaults to the sorted union of the labels of both arrays.
public func precisionRecallFScoreSupport<L: Hashable & Comparable & Sendable>(
    _ yTrue: [L], _ yPred: [L], beta: Double = 1, labels: [L]? = nil, zeroDivision: ZeroDivision = .warn
) throws -> ClassScores<L> {
    try checkPair(yTrue.count, yPred.count)
    if beta < 0 || beta.isNaN { throw MetricsError("beta should be >= 0 in the F-beta score") }
    let labels = try labels ?? uniqueLabels(yTrue, yPred)
    let c = classCounts(yTrue, yPred, labels)
    let (p, r, f) = prf(tp: c.tp.map(Double.init), pred: c.pred.map(Double.init), truth: c.truth.map(Double.init),
                        beta: beta, zeroDivision: zeroDivision)
    return ClassScores(labels: labels, precision: p, recall: r, fScore: f, support: c.truth)
}

/// Averaged precision, recall and F-beta (`precision_recall_fscore_support(average=...)`).
///
/// - `.binary(posLabel)`: the scores of `posLabel`; throws if the union of labels has more than two classes, or
///   has two classes and `posLabel` is not one of them (if only one class is present the scores of `posLabel`
///   are still computed, usually hitting the zero-division value).
/// - `.micro`: from global tp / predicted / true counts.
/// - `.macro`: unweighted mean of the per-class scores; `.weighted`: weighted by support. With
///   `zeroDivision: .nan` NaN class scores are left out of the mean (NaN if all are NaN).
public func precisionRecallFScore<L: Hashable & Comparable & Sendable>(
    _ yTrue: [L], _ yPred: [L], beta: Double = 1, average: Average<L>, zeroDivision: ZeroDivision = .warn
) throws -> (precision: Double, recall: Double, fScore: Double) {
    try checkPair(yTrue.count, yPred.count)
    if beta < 0 || beta.isNaN { throw MetricsError("beta should be >= 0 in the F-beta score") }
    let present = try uniqueLabels(yTrue, yPred)
    var labels = present
    if case .binary(let pos) = average {
        if present.count > 2 {
            throw MetricsError("Target is multiclass but average='binary'. Please choose another average setting, one of [None, 'micro', 'macro', 'weighted'].")
        }
        if !present.contains(pos) && present.count >= 2 {
            throw MetricsError("pos_label=\(pos) is not a valid label. It should be one of \(present)")
        }
        labels = [pos]
    }
    return prfAverage(classCounts(yTrue, yPred, labels), beta: beta, average: average, zeroDivision: zeroDivision)
}

/// The averaged scores of `precisionRecallFScore` from the counts of its labels (one label for `.binary`).
func prfAverage<L>(_ c: ClassCounts, beta: Double, average: Average<L>, zeroDivision: ZeroDivision)
    -> (precision: Double, recall: Double, fScore: Double) {
    var tp = c.tp.map(Double.init), pred = c.pred.map(Double.init), truth = c.truth.map(Double.init)
    if case .micro = average {
        tp = [tp.reduce(0, +)]; pred = [pred.reduce(0, +)]; truth = [truth.reduce(0, +)]
    }
    let (p, r, f) = prf(tp: tp, pred: pred, truth: truth, beta: beta, zeroDivision: zeroDivision)
    var weights: [Double]? = nil
    if case .weighted = average { weights = truth }
    return (nanAverage(p, weights), nanAverage(r, weights), nanAverage(f, weights))
}

/// Precision (`precision_score`). See `precisionRecallFScore` for averaging and zero division.
public func precisionScore<L: Hashable & Comparable & Sendable>(
    _ yTrue: [L], _ yPred: [L], average: Average<L>, zeroDivision: ZeroDivision = .warn
) throws -> Double {
    try precisionRecallFScore(yTrue, yPred, average: average, zeroDivision: zeroDivision).precision
}

/// Recall (`recall_score`). See `precisionRecallFScore` for averaging and zero division.
public func recallScore<L: Hashable & Comparable & Sendable>(
    _ yTrue: [L], _ yPred: [L], average: Average<L>, zeroDivision: ZeroDivision = .warn
) throws -> Double {
    try precisionRecallFScore(yTrue, yPred, average: average, zeroDivision: zeroDivision).recall
}

/// F1 (`f1_score`), the F-beta score with β = 1. See `precisionRecallFScore`.
public func f1Score<L: Hashable & Comparable & Sendable>(
    _ yTrue: [L], _ yPred: [L], average: Average<L>, zeroDivision: ZeroDivision = .warn
) throws -> Double {
    try precisionRecallFScore(yTrue, yPred, beta: 1, average: average, zeroDivision: zeroDivision).fScore
}

/// F-beta (`fbeta_score`). See `precisionRecallFScore`.
public func fbetaScore<L: Hashable & Comparable & Sendable>(
    _ yTrue: [L], _ yPred: [L], beta: Double, average: Average<L>, zeroDivision: ZeroDivision = .warn
) throws -> Double {
    try precisionRecallFScore(yTrue, yPred, beta: beta, average: average, zeroDivision: zeroDivision).fScore
}

/// Matthews correlation coefficient (`matthews_corrcoef`), multiclass form (Gorodkin's R_K) computed from the
/// confusion matrix in float64. Returns 0 when the denominator is 0 (e.g. constant truth or constant prediction).
public func matthewsCorrcoef<L: Hashable & Comparable>(_ yTrue: [L], _ yPred: [L]) throws -> Double {
    matthews(try confusionMatrix(yTrue, yPred))
}

/// `matthewsCorrcoef` from the confusion matrix over the sorted union of labels.
func matthews(_ cm: [[Int]]) -> Double {
    let k = cm.count
    let t = cm.map { Double($0.reduce(0, +)) }
    let p = (0..<k).map { j in Double(cm.reduce(0) { $0 + $1[j] }) }
    let correct = Double((0..<k).reduce(0) { $0 + cm[$1][$1] })
    let n = numpySum(p)
    let tp = zip(t, p).reduce(0.0) { $0 + $1.0 * $1.1 }
    let pp = p.reduce(0.0) { $0 + $1 * $1 }, tt = t.reduce(0.0) { $0 + $1 * $1 }
    let covTP = correct * n - tp, covPP = n * n - pp, covTT = n * n - tt
    let d = covPP * covTT
    return d == 0 ? 0 : covTP / d.squareRoot()
}

/// Weighting of disagreements in Cohen's kappa.
public enum KappaWeights: Sendable { case none, linear, quadratic }

/// Cohen's kappa (`cohen_kappa_score`): 1 − Σ w·C / Σ w·E, with C the confusion matrix over the sorted union of
/// labels, E the outer product of its marginals divided by the total, and w 0/1 off-diagonal (`.none`),
/// |i−j| (`.linear`) or (i−j)² (`.quadratic`). Undefined cases (a zero denominator) return NaN, scikit-learn's
/// default `replace_undefined_by`.
public func cohenKappaScore<L: Hashable & Comparable>(_ y1: [L], _ y2: [L], weights: KappaWeights = .none) throws -> Double {
    kappa(try confusionMatrix(y1, y2), weights: weights)
}

/// `cohenKappaScore` from the confusion matrix over the sorted union of labels.
func kappa(_ cm: [[Int]], weights: KappaWeights) -> Double {
    let k = cm.count
    let sum0 = (0..<k).map { j in Double(cm.reduce(0) { $0 + $1[j] }) }
    let sum1 = cm.map { Double($0.reduce(0, +)) }
    let total = numpySum(sum0)
    if total == 0 { return .nan }
    var wc = [Double](), we = [Double]()
    for i in 0..<k {
        for j in 0..<k {
            let w: Double
            switch weights {
            case .none: w = i == j ? 0 : 1
            case .linear: w = Double(abs(i - j))
            case .quadratic: w = Double((i - j) * (i - j))
            }
            wc.append(w * Double(cm[i][j]))
            we.append(w * (sum0[i] * sum1[j] / total))
        }
    }
    let den = numpySum(we)
    if den == 0 { return .nan }
    return 1 - numpySum(wc) / den
}

// MARK: - helpers

struct ClassCounts {
    var tp: [Int]; var pred: [Int]; var truth: [Int]
    init(tp: [Int], pred: [Int], truth: [Int]) { self.tp = tp; self.pred = pred; self.truth = truth }

    /// The counts of the classes at `indices` (nil: a class absent from the matrix, counted 0) read from a
    /// confusion matrix: true positives on the diagonal, predictions in the column, truths in the row.
    init(_ cm: [[Int]], _ indices: [Int?]) {
        tp = indices.map { i in i.map { cm[$0][$0] } ?? 0 }
        pred = indices.map { i in i.map { j in cm.reduce(0) { $0 + $1[j] } } ?? 0 }
        truth = indices.map { i in i.map { cm[$0].reduce(0, +) } ?? 0 }
    }
}

func classCounts<L: Hashable>(_ yTrue: [L], _ yPred: [L], _ labels: [L]) -> ClassCounts {
    var index = [L: Int]()
    for (i, l) in labels.enumerated() where index[l] == nil { index[l] = i }
    var c = ClassCounts(tp: .init(repeating: 0, count: labels.count), pred: .init(repeating: 0, count: labels.count),
                        truth: .init(repeating: 0, count: labels.count))
    for (t, p) in zip(yTrue, yPred) {
        if let i = index[t] { c.truth[i] += 1; if t == p { c.tp[i] += 1 } }
        if let j = index[p] { c.pred[j] += 1 }
    }
    return c
}

func prfDivide(_ num: [Double], _ den: [Double], _ zd: ZeroDivision) -> [Double] {
    zip(num, den).map { $1 == 0 ? zd.value : $0 / $1 }
}

func prf(tp: [Double], pred: [Double], truth: [Double], beta: Double, zeroDivision: ZeroDivision)
    -> ([Double], [Double], [Double]) {
    let p = prfDivide(tp, pred, zeroDivision)
    let r = prfDivide(tp, truth, zeroDivision)
    let f: [Double]
    if beta == .infinity {
        f = r
    } else if beta == 0 {
        f = p
    } else {
        let b2 = beta * beta
        f = prfDivide(tp.map { (1 + b2) * $0 }, zip(truth, pred).map { b2 * $0 + $1 }, zeroDivision)
    }
    return (p, r, f)
}

/// scikit-learn's `_nanaverage`: the (weighted) mean ignoring NaN entries; NaN if empty or all NaN;
/// falls back to the unweighted mean if the remaining weights sum to zero.
func nanAverage(_ a: [Double], _ weights: [Double]?) -> Double {
    if a.isEmpty || a.allSatisfy(\.isNaN) { return .nan }
    guard let weights else {
        return numpySum(a.map { $0.isNaN ? 0 : $0 }) / Double(a.count { !$0.isNaN })
    }
    let keep = a.indices.filter { !a[$0].isNaN }
    let av = keep.map { a[$0] }, wv = keep.map { weights[$0] }
    if numpySum(wv) == 0 { return numpyMean(av) }
    return numpyAverage(av, weights: wv)
}
