// Turns a model's outputs into predictions and computes the metrics report of one model on one data set.
import Foundation
import OnyxEngine
import OnyxMetrics

/// The result of evaluating one model on one data set.
public struct ModelEvaluation: Sendable {
    public enum Task: String, Sendable { case classification, regression }
    public let modelPath: String
    public let task: Task
    /// Outputs used, e.g. "label 'label', scores 'probabilities'".
    public let outputs: String
    /// Classification: the model's classes in score-column order.
    public let classes: [Label]
    public let yTrue: [Label]
    public let yPred: [Label]
    /// Classification: n × K scores (probabilities when `scoresAreProbabilities`), or nil without a score output.
    public let scoreMatrix: ScoreMatrix?
    /// `scoreMatrix` as row arrays.
    public var scores: [[Double]]? { scoreMatrix?.rowArrays }
    public let scoresAreProbabilities: Bool
    /// Regression: targets and predictions.
    public let targets: [Double]
    public let predictions: [Double]
    public let report: MetricsReport
    /// Seconds spent running the model (all batches) and computing metrics.
    public let inferenceSeconds: Double
    public let metricsSeconds: Double
    /// Things the user should know (e.g. how ambiguous outputs were read).
    public let warnings: [String]
}

public enum Evaluator {
    /// Loads the model at `modelPath` and evaluates it on `data`.
    public static func evaluate(modelPath: String, data: EvalData, options: EvalOptions = EvalOptions(),
                                progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> ModelEvaluation {
        let t = Date()
        let runner = try ModelRunner(path: modelPath, options: options)
        EvalTiming.report("load model", since: t)
        return try evaluate(runner, data: data, options: options, progress: progress)
    }

    /// Evaluates a loaded model on `data`.
    public static func evaluate(_ runner: ModelRunner, data: EvalData, options: EvalOptions = EvalOptions(),
                                progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> ModelEvaluation {
        let t0 = Date()
        let raw = try runner.run(data, options: options, progress: progress)
        let t1 = Date()
        EvalTiming.report("run batches", since: t0)
        var warnings = [String]()
        let n = data.rows
        let trueLabels = data.labels

        // Regression: no label output and one score column, unless the labels look like a binary problem and the
        // scores like probabilities (or logits are announced).
        if raw.labels == nil, let s = raw.scores, raw.columns == 1 {
            let targets = data.rawLabels.map { Double($0) }
            let integral = trueLabels.allSatisfy { if case .int = $0 { return true } else { return false } }
            let distinct = Set(trueLabels)
            let probLike = s.allSatisfy { $0 >= 0 && $0 <= 1 }
            let binary = integral && distinct.count <= 2 && (options.scoresKind != nil || probLike)
            if binary && options.scoresKind == .probabilities && !probLike {
                throw EvalError("--scores-kind probabilities: output '\(runner.plan.scores ?? "")' has values outside [0, 1] (min \(s.min() ?? 0), max \(s.max() ?? 0)); use --scores-kind logits")
            }
            if !binary {
                guard targets.allSatisfy({ $0 != nil && $0?.isFinite == true }) else {
                    let bad = data.rawLabels.first { Double($0).map { !$0.isFinite } ?? true } ?? ""
                    throw EvalError("the model has one numeric output (regression) but the label column '\(data.labelName)' holds '\(bad)', not a number")
                }
                let yt = targets.compactMap { $0 }
                let t2 = Date()
                let report = try MetricsReport.regression(yTrue: yt, yPred: s)
                return ModelEvaluation(modelPath: runner.path, task: .regression, outputs: runner.outputDescription,
                                       classes: [], yTrue: [], yPred: [], scoreMatrix: nil, scoresAreProbabilities: false,
                                       targets: yt, predictions: s, report: report,
                                       inferenceSeconds: t1.timeIntervalSince(t0), metricsSeconds: Date().timeIntervalSince(t2),
                                       warnings: warnings)
            }
            // One column scoring the greater of two classes.
            var classes = distinct.sorted()
            if classes.count == 1 {
                guard classes[0] == .int(0) || classes[0] == .int(1) else {
                    throw EvalError("one score column and a single class \(classes[0]) in '\(data.labelName)': cannot tell the two classes")
                }
                classes = [.int(0), .int(1)]
            }
            let p = options.scoresKind == .logits ? s.map { 1 / (1 + exp(-$0)) } : s
            var two = [Double](repeating: 0, count: 2 * p.count)
            for (r, v) in p.enumerated() { two[2 * r] = 1 - v; two[2 * r + 1] = v }
            let scores = try ScoreMatrix(rows: p.count, columns: 2, values: two)
            let yPred = p.map { $0 > 0.5 ? classes[1] : classes[0] }
            warnings.append("one score column read as the probability of class \(classes[1])")
            return try finish(runner, data, classes: classes, yTrue: trueLabels, yPred: yPred, scores: scores,
                              probabilities: true, t0: t0, t1: t1, warnings: warnings, options: options)
        }

        var scores: ScoreMatrix? = nil
        var probabilities = false
        var classes: [Label] = []
        if let s = raw.scores {
            let k = raw.columns
            guard k >= 1, s.count == n * k else {
                throw EvalError("score output '\(runner.plan.scores ?? "")' gave \(s.count) values for \(n) rows")
            }
            var m = try ScoreMatrix(rows: n, columns: k, values: s)
            // Classes of the score columns.
            classes = try resolveClasses(raw, m, runner: runner, dataLabels: trueLabels, classNames: data.classNames,
                                         warnings: &warnings)
            // A row is a distribution when every value is in [0, 1] and the sum (left to right) is 1 ± 1e-3.
            func isDistribution(_ row: ArraySlice<Double>) -> Bool {
                row.allSatisfy { $0 >= 0 && $0 <= 1 } && abs(row.reduce(0, +) - 1) <= 1e-3
            }
            let firstNonDistribution = (0..<n).first { !isDistribution(m.row($0)) }
            switch options.scoresKind {
            case .probabilities?:
                if let bad = firstNonDistribution {
                    let row = m.row(bad)
                    throw EvalError("--scores-kind probabilities: row \(bad + 1) of output '\(runner.plan.scores ?? "")' is not a probability distribution (sum \(row.reduce(0, +)), min \(row.min() ?? 0), max \(row.max() ?? 0)); use --scores-kind logits for unnormalised scores")
                }
                probabilities = true
            case .logits?:
                m = try softmaxRows(m)
                probabilities = true
            case nil:
                if firstNonDistribution == nil {
                    probabilities = true
                } else if raw.labels != nil {
                    warnings.append("scores of output '\(runner.plan.scores ?? "")' do not sum to 1; used as raw scores (ROC/PR only; log loss and calibration need probabilities: pass --scores-kind logits to apply softmax)")
                } else {
                    m = try softmaxRows(m)
                    probabilities = true
                    warnings.append("scores of output '\(runner.plan.scores ?? "")' do not sum to 1; read as logits (softmax applied)")
                }
            }
            scores = m
        }

        let yPred: [Label]
        if let l = raw.labels {
            guard l.count == n else { throw EvalError("label output has \(l.count) entries for \(n) rows") }
            yPred = l
            if classes.isEmpty { classes = try uniqueSorted(trueLabels + l) }
        } else if let sc = scores {
            guard classes.count == sc.columns else {
                throw EvalError("\(sc.columns) score columns but \(classes.count) classes")
            }
            yPred = (0..<n).map { classes[argmax(sc.row($0))] }
        } else {
            throw EvalError("the model gave neither labels nor scores")
        }
        return try finish(runner, data, classes: classes, yTrue: trueLabels, yPred: yPred, scores: scores,
                          probabilities: probabilities, t0: t0, t1: t1, warnings: warnings, options: options)
    }

    static func finish(_ runner: ModelRunner, _ data: EvalData, classes: [Label], yTrue rawTrue: [Label], yPred rawPred: [Label],
                       scores: ScoreMatrix?, probabilities: Bool, t0: Date, t1: Date, warnings: [String],
                       options: EvalOptions) throws -> ModelEvaluation {
        // Label types: the data's labels parse as integers when they all can; a model with string classes is
        // compared by text.
        let isString = { (l: Label) -> Bool in if case .string = l { return true } else { return false } }
        let modelStrings = classes.contains(where: isString) || rawTrue.contains(where: isString)
        let yTrue = modelStrings ? rawTrue.map { Label.string($0.description) } : rawTrue
        let yPred = modelStrings ? rawPred.map { Label.string($0.description) } : rawPred
        let classes = modelStrings ? classes.map { Label.string($0.description) } : classes
        let known = Set(classes)
        let unknown = Set(yTrue).subtracting(known).sorted()
        if !unknown.isEmpty {
            throw EvalError("the label column '\(data.labelName)' has \(unknown.count) class\(unknown.count == 1 ? "" : "es") the model does not know: \(unknown.prefix(10).map(\.description).joined(separator: ", "))\(unknown.count > 10 ? ", …" : "") (model classes: \(classes.prefix(20).map(\.description).joined(separator: ", ")))")
        }
        var pos: Label? = nil
        if let p = options.posLabel {
            let cand = parseLabels([p], classes.map(\.description))[0][0]
            let c = modelStrings ? Label.string(p) : cand
            guard known.contains(c) else { throw EvalError("--pos-label \(p) is not one of the model's classes (\(classes.map(\.description).joined(separator: ", ")))") }
            pos = c
        }
        let t2 = Date()
        EvalTiming.report("outputs → predictions", since: t1)
        let report = try MetricsReport.classification(yTrue: yTrue, yPred: yPred, scores: scores, classes: classes, posLabel: pos)
        EvalTiming.report("metrics", since: t2)
        return ModelEvaluation(modelPath: runner.path, task: .classification, outputs: runner.outputDescription,
                               classes: classes, yTrue: yTrue, yPred: yPred, scoreMatrix: scores,
                               scoresAreProbabilities: probabilities, targets: [], predictions: [], report: report,
                               inferenceSeconds: t1.timeIntervalSince(t0), metricsSeconds: Date().timeIntervalSince(t2),
                               warnings: warnings)
    }

    /// Classes of the score columns, in order of preference: ZipMap keys; a classifier node's `classlabels_*`
    /// attribute with one label per column; an image folder's classes (sorted folder names); the label output matched against the argmax column (when that maps
    /// every column); the sorted labels of the data (and the label output) when there is one per column; else
    /// the column indices 0..<K (with a warning).
    static func resolveClasses(_ raw: RawOutputs, _ rows: ScoreMatrix, runner: ModelRunner, dataLabels: [Label],
                               classNames: [String]? = nil, warnings: inout [String]) throws -> [Label] {
        let k = raw.columns
        if let keys = raw.mapKeys, keys.count == k { return keys }
        for node in runner.session.model.graph.nodes where node.domain == "ai.onnx.ml" {
            if case .ints(let v)? = node.attributes["classlabels_int64s"] ?? node.attributes["classlabels_ints"], v.count == k {
                return v.map { .int($0) }
            }
            if case .strings(let v)? = node.attributes["classlabels_strings"], v.count == k { return v.map { .string($0) } }
        }
        // An image folder's classes, in ImageFolder order (score column k is class k).
        if let names = classNames {
            guard names.count == k else {
                throw EvalError("the model gives \(k) scores per image but the folder has \(names.count) classes (\(names.prefix(10).joined(separator: ", "))\(names.count > 10 ? ", …" : "")); score column k must be the k-th class folder in sorted order")
            }
            return names.map { .string($0) }
        }
        var learned = [Label?](repeating: nil, count: k)
        var consistent = true
        if let l = raw.labels, l.count == rows.rows {
            for r in 0..<rows.rows {
                let c = argmax(rows.row(r))
                if let prev = learned[c], prev != l[r] { consistent = false; break }
                learned[c] = l[r]
            }
            if consistent, learned.allSatisfy({ $0 != nil }) { return learned.compactMap { $0 } }
        }
        let candidate = try uniqueSorted(dataLabels + (raw.labels ?? []))
        if candidate.count == k {
            if !consistent || zip(learned, candidate).allSatisfy({ $0.0 == nil || $0.0 == $0.1 }) { return candidate }
        }
        if k == 1 { return [] }
        warnings.append("cannot tell which class each of the \(k) score columns belongs to; assuming classes 0..\(k - 1)")
        return (0..<k).map { .int($0) }
    }

    static func uniqueSorted(_ labels: [Label]) throws -> [Label] {
        let s = Set(labels).sorted()
        if s.contains(where: { if case .string = $0 { return true } else { return false } }),
           s.contains(where: { if case .int = $0 { return true } else { return false } }) {
            return Set(labels.map { Label.string($0.description) }).sorted()
        }
        return s
    }
}

/// Index of the largest value, the first one on ties (numpy's argmax); 0-based for slices too.
func argmax<C: RandomAccessCollection>(_ row: C) -> Int where C.Element == Double, C.Index == Int {
    guard var best = row.indices.first else { return 0 }
    for i in row.indices where row[i] > row[best] { best = i }
    return best - row.startIndex
}

/// Softmax of every row of a score matrix (`softmax` per row).
func softmaxRows(_ m: ScoreMatrix) throws -> ScoreMatrix {
    var v = [Double]()
    v.reserveCapacity(m.values.count)
    for r in 0..<m.rows { v.append(contentsOf: softmax(Array(m.row(r)))) }
    return try ScoreMatrix(rows: m.rows, columns: m.columns, values: v)
}

/// Softmax of one row (max-subtracted, in Double).
func softmax(_ row: [Double]) -> [Double] {
    guard let m = row.max() else { return row }
    let e = row.map { exp($0 - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}
