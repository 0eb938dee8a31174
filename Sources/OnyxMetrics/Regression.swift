// Regression metrics for one output, as in scikit-learn 1.9 (`sklearn.metrics._regression`).
// Means are numpy's pairwise sums divided by n, so results match scikit-learn bit for bit on most inputs.
import Foundation

func checkRegression(_ yTrue: [Double], _ yPred: [Double]) throws {
    if yTrue.count != yPred.count {
        throw MetricsError("Found input variables with inconsistent numbers of samples: [\(yTrue.count), \(yPred.count)]")
    }
    if yTrue.isEmpty { throw MetricsError("Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is required.") }
    if yTrue.contains(where: { !$0.isFinite }) { throw MetricsError("Input y_true contains NaN or infinity.") }
    if yPred.contains(where: { !$0.isFinite }) { throw MetricsError("Input y_pred contains NaN or infinity.") }
}

/// Mean absolute error (`mean_absolute_error`): mean of |y − ŷ|. Throws on empty, unequal or non-finite input.
public func meanAbsoluteError(_ yTrue: [Double], _ yPred: [Double]) throws -> Double {
    try checkRegression(yTrue, yPred)
    return numpyMean(zip(yTrue, yPred).map { abs($1 - $0) })
}

/// Mean squared error (`mean_squared_error`): mean of (y − ŷ)².
public func meanSquaredError(_ yTrue: [Double], _ yPred: [Double]) throws -> Double {
    try checkRegression(yTrue, yPred)
    return numpyMean(zip(yTrue, yPred).map { ($0 - $1) * ($0 - $1) })
}

/// Root mean squared error (`root_mean_squared_error`): √MSE.
public func rootMeanSquaredError(_ yTrue: [Double], _ yPred: [Double]) throws -> Double {
    try meanSquaredError(yTrue, yPred).squareRoot()
}

/// Mean absolute percentage error (`mean_absolute_percentage_error`): mean of |ŷ − y| / max(|y|, ε) with ε the
/// float64 machine epsilon, so a zero target gives a huge but finite term. A fraction, not a percentage.
public func meanAbsolutePercentageError(_ yTrue: [Double], _ yPred: [Double]) throws -> Double {
    try checkRegression(yTrue, yPred)
    return numpyMean(zip(yTrue, yPred).map { abs($1 - $0) / max(abs($0), float64Epsilon) })
}

/// scikit-learn's `_assemble_fraction_of_explained_deviance` with `force_finite=True`: 1 − num/den, except
/// num = 0 → 1 (perfect prediction, even of a constant target) and num ≠ 0, den = 0 → 0 (constant target).
func explainedFraction(_ num: Double, _ den: Double) -> Double {
    if num == 0 { return 1 }
    if den == 0 { return 0 }
    return 1 - num / den
}

/// Coefficient of determination (`r2_score`): 1 − Σ(y − ŷ)² / Σ(y − ȳ)². With a constant `yTrue` the result is 1
/// for a perfect prediction and 0 otherwise (scikit-learn's `force_finite=True`); NaN with fewer than two samples
/// (scikit-learn warns).
public func r2Score(_ yTrue: [Double], _ yPred: [Double]) throws -> Double {
    try checkRegression(yTrue, yPred)
    if yTrue.count < 2 { return .nan }
    let num = numpySum(zip(yTrue, yPred).map { 1.0 * (($0 - $1) * ($0 - $1)) })
    let mean = numpyMean(yTrue)
    let den = numpySum(yTrue.map { 1.0 * (($0 - mean) * ($0 - mean)) })
    return explainedFraction(num, den)
}

/// Explained variance (`explained_variance_score`): 1 − Var(y − ŷ) / Var(y), variances as population means.
/// Constant `yTrue` handled as in `r2Score` (1 if Var(y − ŷ) = 0, else 0); one sample gives 1.
public func explainedVarianceScore(_ yTrue: [Double], _ yPred: [Double]) throws -> Double {
    try checkRegression(yTrue, yPred)
    let diff = zip(yTrue, yPred).map { $0 - $1 }
    let diffMean = numpyMean(diff)
    let num = numpyMean(zip(yTrue, yPred).map { let d = $0 - $1 - diffMean; return d * d })
    let mean = numpyMean(yTrue)
    let den = numpyMean(yTrue.map { ($0 - mean) * ($0 - mean) })
    return explainedFraction(num, den)
}
