// The report behind `onyx metrics`: reads label / prediction / score columns of a CSV table, computes every
// applicable metric, and renders JSON (keys named as in scikit-learn) or a readable table.
import Foundation
import OnyxData

/// A JSON-like value with ordered object keys. Non-finite numbers are written as JSON `null`.
public indirect enum ReportValue: Sendable, Equatable {
    case number(Double)
    case int(Int)
    case string(String)
    case array([ReportValue])
    case object([(String, ReportValue)])
    case null

    public static func == (a: ReportValue, b: ReportValue) -> Bool { a.json() == b.json() }

    public subscript(key: String) -> ReportValue? {
        if case .object(let kv) = self { return kv.first { $0.0 == key }?.1 }
        return nil
    }

    public func json() -> String {
        switch self {
        case .number(let d): return d.isFinite ? "\(d)" : "null"
        case .int(let i): return "\(i)"
        case .string(let s): return jsonString(s)
        case .array(let a): return "[" + a.map { $0.json() }.joined(separator: ", ") + "]"
        case .object(let kv): return "{" + kv.map { jsonString($0.0) + ": " + $0.1.json() }.joined(separator: ", ") + "}"
        case .null: return "null"
        }
    }
}

func jsonString(_ s: String) -> String {
    var out = ""
    JSONLines.escape(s, into: &out)
    return out
}

/// Parses label columns jointly: all integers → `.int` (also "2.0"-style integral numbers), otherwise strings.
public func parseLabels(_ columns: [String]...) -> [[Label]] {
    let trimmed = columns.map { $0.map { $0.trimmingCharacters(in: .whitespaces) } }
    let ints = trimmed.map { $0.map { s -> Int? in
        if let i = Int(s) { return i }
        if let d = Double(s), d.isFinite, d.rounded() == d, abs(d) < 9.0e15 { return Int(d) }
        return nil
    } }
    if ints.allSatisfy({ $0.allSatisfy { $0 != nil } }) { return ints.map { $0.map { .int($0 ?? 0) } } }
    return trimmed.map { $0.map { .string($0) } }
}

public struct MetricsReport: Sendable {
    public enum Kind: String, Sendable { case binary, multiclass, regression }
    public let kind: Kind
    /// The report as an ordered object; keys follow scikit-learn's metric names.
    public let value: ReportValue
    /// Metrics that could not be computed, with scikit-learn's reason (their value is null).
    public let notes: [String]

    /// Builds the report from a CSV table.
    /// - `label`: the true label (or regression target) column.
    /// - `pred`: a predicted label column; if the label column is numeric and it or the prediction column holds
    ///   non-integral numbers, a regression report.
    /// - `scores`: score columns, column i scoring the i-th class in sorted order (one column for a binary
    ///   problem: the positive class's probability); the predicted label is the argmax (first on ties).
    /// - `posLabel`: positive class of a binary problem (default: the greater label).
    public static func build(table: CSVTable, label: String, pred: String?, scores: [String]?, posLabel: String?) throws -> MetricsReport {
        if pred == nil && (scores ?? []).isEmpty { throw MetricsError("give --pred COL or --scores COL1,COL2,...") }
        if table.rows.isEmpty { throw CSVError(file: table.file, line: 0, message: "no data rows") }
        let rawTrue = try table.values(label)
        if let pred, scores == nil, try isRegression(rawTrue, table.values(pred)) {
            let yt = try table.doubles(label), yp = try table.doubles(pred)
            return regression(yt, yp)
        }
        let rawPred = try pred.map { try table.values($0) }
        let parsed = parseLabels(rawTrue, rawPred ?? [])
        let yTrue = parsed[0]
        var classes = try uniqueLabels(yTrue)
        var yPred = rawPred == nil ? nil : parsed[1]
        var matrix: ScoreMatrix? = nil
        if let scores, !scores.isEmpty {
            let cols = try scores.map { try table.doubles($0) }
            if cols.count > 1 && cols.count != classes.count {
                throw MetricsError("\(cols.count) score columns but \(classes.count) classes in '\(label)' (\(classes.map(\.description).joined(separator: ", ")))")
            }
            if cols.count == 1 && classes.count > 2 {
                throw MetricsError("one score column but \(classes.count) classes in '\(label)'; give one column per class")
            }
            let rows = table.rows.count, k = cols.count
            var flat = [Double](repeating: 0, count: rows * k)
            for (j, col) in cols.enumerated() { for r in 0..<rows { flat[r * k + j] = col[r] } }
            let m = try ScoreMatrix(rows: rows, columns: k, values: flat)
            matrix = m
            if yPred == nil {
                if k == 1 {
                    let neg = classes.first, pos = classes.last
                    yPred = cols[0].compactMap { $0 > 0.5 ? pos : neg }
                } else {
                    yPred = (0..<rows).map { r in
                        let row = m.row(r)
                        return classes[row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }.map { $0 - row.startIndex } ?? 0]
                    }
                }
            }
        }
        guard let yp = yPred else { throw MetricsError("no predictions") }
        let union = try uniqueLabels(yTrue, yp)
        if union.count > 2 || (matrix?.columns ?? 0) > 2 {
            return try multiclass(yTrue, yp, matrix)
        }
        if classes.isEmpty { classes = union }
        var pos = union.last ?? .int(1)
        if let p = posLabel {
            let cand = parseLabels([p], union.map(\.description))[0][0]
            guard union.contains(cand) else {
                throw MetricsError("--pos-label \(p) is not one of the labels (\(union.map(\.description).joined(separator: ", ")))")
            }
            pos = cand
        }
        return try binary(yTrue, yp, matrix, classes: classes, pos: pos)
    }

    /// A regression problem: the label column is numeric and the label or prediction column holds a non-integral
    /// number (scikit-learn's "continuous" target type).
    static func isRegression(_ label: [String], _ pred: [String]) -> Bool {
        func numbers(_ raw: [String]) -> [Double]? {
            let v = raw.map { Double($0.trimmingCharacters(in: .whitespaces)) }
            return v.allSatisfy { $0 != nil } ? v.compactMap { $0 } : nil
        }
        guard let t = numbers(label) else { return false }
        let fractional = { (v: [Double]) in v.contains { $0.rounded() != $0 } }
        return fractional(t) || (numbers(pred).map(fractional) ?? false)
    }

    static func regression(_ yt: [Double], _ yp: [Double]) -> MetricsReport {
        var c = Collector()
        c.add("n_samples", .int(yt.count))
        c.add("mae") { .number(try meanAbsoluteError(yt, yp)) }
        c.add("mse") { .number(try meanSquaredError(yt, yp)) }
        c.add("rmse") { .number(try rootMeanSquaredError(yt, yp)) }
        c.add("r2") { .number(try r2Score(yt, yp)) }
        c.add("mape") { .number(try meanAbsolutePercentageError(yt, yp)) }
        c.add("explained_variance") { .number(try explainedVarianceScore(yt, yp)) }
        return MetricsReport(kind: .regression, value: .object(c.entries), notes: c.notes)
    }

    // The label metrics come from one confusion matrix (`LabelConfusion`), each equal to its public function.
    static func common(_ c: inout Collector, _ lc: LabelConfusion) {
        c.add("n_samples", .int(lc.n))
        c.add("classes", .array(lc.labels.map(label)))
        c.add("accuracy", .number(lc.accuracy))
        c.add("balanced_accuracy", .number(balancedAccuracy(lc.cm)))
    }

    static func tail(_ c: inout Collector, _ lc: LabelConfusion) {
        c.add("matthews_corrcoef", .number(matthews(lc.cm)))
        c.add("cohen_kappa", .number(kappa(lc.cm, weights: .none)))
    }

    static func binary(_ yt: [Label], _ yp: [Label], _ m: ScoreMatrix?, classes: [Label], pos: Label) throws -> MetricsReport {
        var c = Collector()
        let lc = try LabelConfusion(yt, yp)
        common(&c, lc)
        c.add("pos_label", label(pos))
        let avg = Average<Label>.binary(posLabel: pos)
        let binaryScores = Result { try lc.prf(avg) }
        c.add("precision") { .number(try binaryScores.get().precision) }
        c.add("recall") { .number(try binaryScores.get().recall) }
        c.add("f1") { .number(try binaryScores.get().fScore) }
        c.add("confusion_matrix", matrixValue(lc.cm))
        if let m {
            // Score of the positive class; a single column scores the greater label.
            let col = m.columns == 1 ? 0 : (classes.firstIndex(of: pos) ?? 0)
            let s = m.column(col)
            let s1 = m.columns == 1 && pos != classes.last ? s.map { 1 - $0 } : s
            // One sort of the score column, shared by ROC AUC, average precision, the curves and thresholds.
            let b = BinaryScores(yt, s1, posLabel: pos)
            c.add("roc_auc") { .number(try b.rocAuc()) }
            c.add("average_precision") { .number(try b.averagePrecision()) }
            c.add("log_loss") { .number(try logLoss(yt, m, labels: classes)) }
            tail(&c, lc)
            c.add("roc_curve") {
                let r = try b.rocCurve()
                return .object([("fpr", numbers(r.fpr)), ("tpr", numbers(r.tpr)), ("thresholds", numbers(r.thresholds))])
            }
            c.add("pr_curve") {
                let r = try b.prCurve()
                return .object([("precision", numbers(r.precision)), ("recall", numbers(r.recall)), ("thresholds", numbers(r.thresholds))])
            }
            c.add("best_f1_threshold") {
                let t = bestF1Threshold(try b.prCurve())
                return .object([("threshold", .number(t.threshold)), ("f1", .number(t.f1)), ("precision", .number(t.precision)), ("recall", .number(t.recall))])
            }
            c.add("youden_threshold") {
                let t = youdenThreshold(try b.rocCurve())
                return .object([("threshold", .number(t.threshold)), ("j", .number(t.j)), ("fpr", .number(t.fpr)), ("tpr", .number(t.tpr))])
            }
        } else {
            tail(&c, lc)
        }
        return MetricsReport(kind: .binary, value: .object(c.entries), notes: c.notes)
    }

    static func multiclass(_ yt: [Label], _ yp: [Label], _ m: ScoreMatrix?) throws -> MetricsReport {
        var c = Collector()
        let lc = try LabelConfusion(yt, yp)
        common(&c, lc)
        let per = lc.perClass()
        let averaged = try [Average<Label>.micro, .macro, .weighted].map { try lc.prf($0) }
        for (name, pick) in [("precision", 0), ("recall", 1), ("f1", 2)] {
            func score(_ r: (precision: Double, recall: Double, fScore: Double)) -> ReportValue {
                .number([r.precision, r.recall, r.fScore][pick])
            }
            c.add(name, .object([("micro", score(averaged[0])), ("macro", score(averaged[1])), ("weighted", score(averaged[2])),
                                 ("per_class", numbers([per.precision, per.recall, per.fScore][pick]))]))
        }
        c.add("support", .array(per.support.map { .int($0) }))
        c.add("confusion_matrix", matrixValue(lc.cm))
        if let m {
            // Validated once; each score column sorted once and shared by every ranking metric below.
            let prepared = Result { try MulticlassScores(yt, m) }
            c.add("roc_auc") {
                let p = try prepared.get()
                let ovr = try ovrRocAucs(p)  // per-class AUCs, averaged two ways (as rocAucOvR averages them)
                return .object([("ovr_macro", .number(averageScores(ovr, p.y, p.k, .macro))),
                                ("ovr_weighted", .number(averageScores(ovr, p.y, p.k, .weighted))),
                                ("ovo_macro", .number(try rocAucOvO(p)))])
            }
            c.add("average_precision") { .number(try averagePrecisionScore(try prepared.get(), average: .macro)) }
            c.add("log_loss") { .number(try logLoss(yt, m)) }
            c.add("top_2_accuracy") { .number(try topKAccuracyScore(yt, m, k: 2)) }
        }
        tail(&c, lc)
        return MetricsReport(kind: .multiclass, value: .object(c.entries), notes: c.notes)
    }

    /// One JSON object.
    public func json() -> String { value.json() }

    /// A readable table: one metric per line; objects indented; curves summarised by their length.
    public func table() -> String {
        guard case .object(let entries) = value else { return value.json() }
        var lines = [String]()
        func fmt(_ v: ReportValue) -> String {
            switch v {
            case .number(let d): return d.isNaN ? "nan" : String(format: "%.6g", d)
            case .int(let i): return "\(i)"
            case .string(let s): return s
            case .null: return "n/a"
            case .array(let a): return a.map(fmt).joined(separator: "  ")
            case .object: return v.json()
            }
        }
        let classes: [String]
        if case .array(let a)? = value["classes"] { classes = a.map(fmt) } else { classes = [] }
        for (k, v) in entries {
            switch v {
            case .object(let sub) where k.hasSuffix("_curve"):
                let n: Int
                if case .array(let a)? = sub.first?.1 { n = a.count } else { n = 0 }
                lines.append(pad(k) + "\(n) points (use --json for the values)")
            case .object(let sub):
                lines.append(k)
                for (sk, sv) in sub { lines.append("  " + pad(sk, 20) + fmt(sv)) }
            case .array(let rows) where k == "confusion_matrix":
                lines.append("confusion_matrix (rows: true, columns: predicted)")
                let w = max(8, (classes.map(\.count).max() ?? 0) + 2)
                lines.append(String(repeating: " ", count: w) + classes.map { pad($0, w) }.joined())
                for (i, r) in rows.enumerated() {
                    lines.append(pad(i < classes.count ? classes[i] : "", w) + (fmtRow(r).map { pad($0, w) }.joined()))
                }
            default:
                lines.append(pad(k) + fmt(v))
            }
        }
        for n in notes { lines.append("note: " + n) }
        return lines.joined(separator: "\n")

        func fmtRow(_ r: ReportValue) -> [String] { if case .array(let a) = r { return a.map(fmt) } else { return [] } }
    }
}

func pad(_ s: String, _ w: Int = 22) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
func label(_ l: Label) -> ReportValue { if case .int(let i) = l { return .int(i) } else { return .string(l.description) } }
func numbers(_ a: [Double]) -> ReportValue { .array(a.map { .number($0) }) }
func matrixValue(_ m: [[Int]]) -> ReportValue { .array(m.map { .array($0.map { .int($0) }) }) }

/// The confusion matrix over the sorted union of the true and predicted labels, computed once (one pass over the
/// samples) and shared by every label metric of a report. Each accessor equals the public function it names on the
/// same two label arrays: those compute exactly these counts (a sample's true and predicted labels are always in
/// the union) and then the same arithmetic.
struct LabelConfusion {
    let labels: [Label]
    let cm: [[Int]]
    let n: Int

    init(_ yTrue: [Label], _ yPred: [Label]) throws {
        try checkPair(yTrue.count, yPred.count)
        labels = try uniqueLabels(yTrue, yPred)
        cm = try confusionMatrix(yTrue, yPred, labels: labels)
        n = yTrue.count
    }

    /// `accuracyScore`: the diagonal holds the samples whose prediction equals the truth.
    var accuracy: Double { Double(cm.indices.reduce(0) { $0 + cm[$1][$1] }) / Double(n) }

    /// `precisionRecallFScore(average:)` with β = 1 and zero division `.warn`.
    func prf(_ average: Average<Label>) throws -> (precision: Double, recall: Double, fScore: Double) {
        var indices: [Int?] = Array(labels.indices)
        if case .binary(let pos) = average {
            if labels.count > 2 {
                throw MetricsError("Target is multiclass but average='binary'. Please choose another average setting, one of [None, 'micro', 'macro', 'weighted'].")
            }
            if !labels.contains(pos) && labels.count >= 2 {
                throw MetricsError("pos_label=\(pos) is not a valid label. It should be one of \(labels)")
            }
            indices = [labels.firstIndex(of: pos)]
        }
        return prfAverage(ClassCounts(cm, indices), beta: 1, average: average, zeroDivision: .warn)
    }

    /// `precisionRecallFScoreSupport` with β = 1 and zero division `.warn`.
    func perClass() -> ClassScores<Label> {
        let c = ClassCounts(cm, Array(labels.indices))
        let (p, r, f) = OnyxMetrics.prf(tp: c.tp.map(Double.init), pred: c.pred.map(Double.init), truth: c.truth.map(Double.init),
                                        beta: 1, zeroDivision: .warn)
        return ClassScores(labels: labels, precision: p, recall: r, fScore: f, support: c.truth)
    }
}

/// Accumulates report entries; a metric that throws becomes null plus a note.
struct Collector {
    var entries = [(String, ReportValue)]()
    var notes = [String]()
    mutating func add(_ key: String, _ v: ReportValue) { entries.append((key, v)) }
    mutating func add(_ key: String, _ f: () throws -> ReportValue) {
        do { entries.append((key, try f())) } catch {
            entries.append((key, .null))
            notes.append("\(key): \(error)")
        }
    }
}
