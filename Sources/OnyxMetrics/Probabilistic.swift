// Metrics on predicted probabilities / scores per class, as in scikit-learn 1.9: log loss and top-k accuracy.
import Foundation

/// Machine epsilon of float64 (`np.finfo(np.float64).eps`).
public let float64Epsilon = 2.220446049250313e-16

/// Log loss / cross-entropy (`log_loss`) of an n × K probability matrix whose columns are `labels` (default: the
/// sorted classes of `yTrue`).
///
/// As in scikit-learn 1.9: probabilities are clipped to [ε, 1 − ε] with ε the float64 machine epsilon, and rows
/// are NOT renormalised (1.9 only warns when rows do not sum to 1); the loss is the mean over samples of
/// −log p(true class). Throws if a probability is outside [0, 1], if there is only one class, if `yTrue` has a
/// label not in `labels`, or if the number of columns differs from the number of classes.
public func logLoss<L: Hashable & Comparable>(_ yTrue: [L], _ yProb: [[Double]], labels: [L]? = nil) throws -> Double {
    try checkPair(yTrue.count, yProb.count, "y_true and y_prob")
    guard let k = yProb.first?.count, k > 0, yProb.allSatisfy({ $0.count == k }) else {
        throw MetricsError("y_prob rows have different lengths")
    }
    return try logLoss(yTrue, ScoreMatrix(yProb), labels: labels)
}

/// `logLoss` on an n × K matrix (K = 1: the probability of the greater of two labels).
func logLoss<L: Hashable & Comparable>(_ yTrue: [L], _ yProb: ScoreMatrix, labels: [L]? = nil) throws -> Double {
    try checkPair(yTrue.count, yProb.rows, "y_true and y_prob")
    let k = yProb.columns
    if k == 0 { throw MetricsError("y_prob rows have different lengths") }
    let all = yProb.values
    if all.contains(where: \.isNaN) { throw MetricsError("Input y_prob contains NaN.") }
    if let m = all.max(), m > 1 { throw MetricsError("y_prob contains values greater than 1: \(m)") }
    if let m = all.min(), m < 0 { throw MetricsError("y_prob contains values lower than 0: \(m)") }
    var classes = try uniqueLabels(yTrue)
    if let labels {
        classes = try uniqueLabels(labels)
        let known = Set(classes)
        if let bad = yTrue.first(where: { !known.contains($0) }) {
            throw MetricsError("y_true contains values {\(bad)} not belonging to the passed labels \(labels).")
        }
        if classes.count == 1 { throw MetricsError("The labels array needs to contain at least two labels, got \(classes).") }
    } else if classes.count == 1 {
        throw MetricsError("y_true contains only one label (\(classes[0])). Please provide the list of all expected class labels explicitly through the labels argument.")
    }
    let kk = k == 1 ? 2 : k
    if classes.count != kk {
        throw MetricsError("y_true and y_prob contain different number of classes: \(classes.count) vs \(kk). Please provide the true labels explicitly through the labels argument. Classes found in y_true: \(classes)")
    }
    let y = encode(yTrue, classes)
    let eps = float64Epsilon
    // The loss of a row is −Σ_c [c = t]·log(clip(p_c)): one non-zero term (log of a clipped probability ≤ 1 − ε
    // is negative), so the sum is that term exactly, whatever the summation order. K = 1: columns [1 − p, p].
    var losses = [Double](repeating: 0, count: y.count)
    all.withUnsafeBufferPointer { v in
        for (r, t) in y.enumerated() where t >= 0 && t < kk {
            let p = k == 1 ? (t == 0 ? 1 - v[r] : v[r]) : v[r * k + t]
            losses[r] = -log(min(max(p, eps), 1 - eps))
        }
    }
    return numpyMean(losses)
}

/// Binary log loss with `yProb[i]` the probability of the greater of the two labels (columns [1 − p, p]).
public func logLoss<L: Hashable & Comparable>(_ yTrue: [L], _ yProb: [Double], labels: [L]? = nil) throws -> Double {
    try logLoss(yTrue, yProb.map { [$0] }, labels: labels)
}

/// Top-k accuracy (`top_k_accuracy_score`) for an n × K score matrix whose columns are `labels` (default: the
/// sorted classes of `yTrue`): a hit when the true class is among the k highest scores. Ties are broken as
/// scikit-learn does (reversed stable argsort: among equal scores the later column ranks higher).
/// k ≥ K makes every sample a hit (scikit-learn warns). For two classes use the 1-D form, as scikit-learn
/// raises for a binary `yTrue` with a 2-column score matrix.
public func topKAccuracyScore<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: [[Double]], k: Int = 2, labels: [L]? = nil) throws -> Double {
    if k < 1 { throw MetricsError("k must be >= 1, got \(k)") }
    try checkPair(yTrue.count, yScore.count, "y_true and y_score")
    guard let n = yScore.first?.count, yScore.allSatisfy({ $0.count == n }) else {
        throw MetricsError("y_score rows have different lengths")
    }
    return try topKAccuracyScore(yTrue, ScoreMatrix(yScore), k: k, labels: labels)
}

/// `topKAccuracyScore` on an n × K matrix.
func topKAccuracyScore<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: ScoreMatrix, k: Int = 2, labels: [L]? = nil) throws -> Double {
    if k < 1 { throw MetricsError("k must be >= 1, got \(k)") }
    try checkPair(yTrue.count, yScore.rows, "y_true and y_score")
    let n = yScore.columns
    if yScore.values.contains(where: { !$0.isFinite }) { throw MetricsError("Input y_score contains NaN or infinity.") }
    let present = try uniqueLabels(yTrue)
    let classes: [L]
    if let labels {
        classes = try uniqueLabels(labels)
        if classes.count != labels.count { throw MetricsError("Parameter 'labels' must be unique.") }
        if classes != labels { throw MetricsError("Parameter 'labels' must be ordered.") }
        if classes.count != n { throw MetricsError("Number of given labels (\(classes.count)) not equal to the number of classes in 'y_score' (\(n)).") }
        if !Set(yTrue).isSubset(of: Set(classes)) { throw MetricsError("'y_true' contains labels not in parameter 'labels'.") }
    } else {
        if present.count <= 2 && n != 1 {
            throw MetricsError("`y_true` is binary while y_score is 2d with \(n) classes. If `y_true` does not contain all the labels, `labels` must be provided.")
        }
        classes = present
        if classes.count != n {
            throw MetricsError("Number of classes in 'y_true' (\(classes.count)) not equal to the number of classes in 'y_score' (\(n)).You can provide a list of all known classes by assigning it to the `labels` parameter.")
        }
    }
    let y = encode(yTrue, classes)
    var hits = 0
    yScore.values.withUnsafeBufferPointer { v in
        for (r, t) in y.enumerated() where t >= 0 && t < n {
            // Reversed stable ascending argsort = descending by score, later index first among ties: the true
            // class's position in that order is the number of columns ranked before it (no sort needed).
            let row = r * n
            let s = v[row + t]
            var before = 0
            for j in 0..<n where v[row + j] > s || (v[row + j] == s && j > t) { before += 1 }
            if before < k { hits += 1 }
        }
    }
    return Double(hits) / Double(yTrue.count)
}

/// Binary top-k accuracy (`top_k_accuracy_score` with 1-D scores of the greater label): for k = 1 the prediction
/// is score > 0.5 if all scores lie in [0, 1], else score > 0; for k ≥ 2 every sample is a hit.
/// Throws if `yTrue` does not hold exactly two classes.
public func topKAccuracyScore<L: Hashable & Comparable>(_ yTrue: [L], _ yScore: [Double], k: Int = 2) throws -> Double {
    if k < 1 { throw MetricsError("k must be >= 1, got \(k)") }
    try checkPair(yTrue.count, yScore.count, "y_true and y_score")
    if yScore.contains(where: { !$0.isFinite }) { throw MetricsError("Input y_score contains NaN or infinity.") }
    let classes = try uniqueLabels(yTrue)
    if classes.count != 2 {
        throw MetricsError("Number of classes in 'y_true' (\(classes.count)) not equal to the number of classes in 'y_score' (2).You can provide a list of all known classes by assigning it to the `labels` parameter.")
    }
    if k >= 2 { return 1 }
    let lo = yScore.min() ?? 0, hi = yScore.max() ?? 0
    let threshold = lo >= 0 && hi <= 1 ? 0.5 : 0
    let hits = zip(yTrue, yScore).count { ($0.0 == classes[1]) == ($0.1 > threshold) }
    return Double(hits) / Double(yTrue.count)
}
