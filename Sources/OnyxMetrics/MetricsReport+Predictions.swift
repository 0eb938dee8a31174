// Builds a `MetricsReport` from in-memory labels and scores (used by `onyx eval`, which gets its predictions from
// a model instead of a CSV file). Same keys and definitions as `MetricsReport.build(table:...)`.
import Foundation

extension MetricsReport {
    /// A classification report.
    /// - `classes`: the classes the score columns belong to, in column order (sorted, as scikit-learn sorts them).
    /// - `scores`: n × K scores (K = `classes.count`), or nil for label-only metrics. For a binary problem the
    ///   column of `posLabel` scores the positive class.
    /// - `posLabel`: positive class of a binary problem (default: the greater label).
    public static func classification(yTrue: [Label], yPred: [Label], scores: [[Double]]?, classes: [Label],
                                      posLabel: Label? = nil) throws -> MetricsReport {
        try checkPair(yTrue.count, yPred.count)
        if let scores {
            try checkPair(yTrue.count, scores.count, "y_true and y_score")
            if scores.contains(where: { $0.count != classes.count }) {
                throw MetricsError("score rows must have \(classes.count) columns (one per class)")
            }
        }
        return try classification(yTrue: yTrue, yPred: yPred, scores: try scores.map { try ScoreMatrix($0) }, classes: classes,
                                  posLabel: posLabel)
    }

    /// A classification report from an n × K score matrix (K = `classes.count`), or nil for label-only metrics;
    /// otherwise as `classification(yTrue:yPred:scores:classes:posLabel:)` with row arrays.
    public static func classification(yTrue: [Label], yPred: [Label], scores: ScoreMatrix?, classes: [Label],
                                      posLabel: Label? = nil) throws -> MetricsReport {
        try checkPair(yTrue.count, yPred.count)
        if let scores {
            try checkPair(yTrue.count, scores.rows, "y_true and y_score")
            if scores.columns != classes.count {
                throw MetricsError("score rows must have \(classes.count) columns (one per class)")
            }
        }
        let union = try uniqueLabels(yTrue, yPred)
        if union.count > 2 || classes.count > 2 { return try multiclass(yTrue, yPred, scores) }
        let cls = classes.count == 2 ? classes : union
        let pos = posLabel ?? cls.last ?? union.last ?? .int(1)
        if !cls.contains(pos) && !union.contains(pos) {
            throw MetricsError("positive label \(pos) is not one of the labels (\(cls.map(\.description).joined(separator: ", ")))")
        }
        return try binary(yTrue, yPred, classes.count == 2 ? scores : nil, classes: cls, pos: pos)
    }

    /// A regression report (mae, mse, rmse, r2, mape, explained_variance).
    public static func regression(yTrue: [Double], yPred: [Double]) throws -> MetricsReport {
        try checkPair(yTrue.count, yPred.count)
        return regression(yTrue, yPred)
    }
}
