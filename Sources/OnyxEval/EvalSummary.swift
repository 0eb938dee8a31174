// The printed forms of an evaluation: a metrics table (one model, or two side by side with deltas and the
// agreement rate of their predictions) and one JSON object.
import Foundation
import OnyxMetrics

/// One model's evaluation, or two on the same data.
public struct EvalSummary: Sendable {
    public let data: EvalData
    public let primary: ModelEvaluation
    public let other: ModelEvaluation?
    /// Seconds spent reading the data.
    public let loadSeconds: Double

    public init(data: EvalData, primary: ModelEvaluation, other: ModelEvaluation? = nil, loadSeconds: Double = 0) {
        self.data = data; self.primary = primary; self.other = other; self.loadSeconds = loadSeconds
    }

    /// Fraction of rows on which the two models predict the same label (classification), or nil.
    public var agreement: Double? {
        guard let o = other, primary.task == .classification, o.task == .classification,
              primary.yPred.count == o.yPred.count, !o.yPred.isEmpty else { return nil }
        let same = zip(primary.yPred, o.yPred).filter { $0.0 == $0.1 }.count
        return Double(same) / Double(o.yPred.count)
    }

    /// Mean absolute difference of two regression models' predictions, or nil.
    public var meanAbsPredictionDifference: Double? {
        guard let o = other, primary.task == .regression, o.task == .regression,
              primary.predictions.count == o.predictions.count, !o.predictions.isEmpty else { return nil }
        return zip(primary.predictions, o.predictions).map { abs($0.0 - $0.1) }.reduce(0, +) / Double(o.predictions.count)
    }

    /// The metrics table.
    public func table() -> String {
        var lines = ["data:    \(data.source) (\(data.rows) rows, \(data.rowDescription), \(data.classNames.map { "\($0.count) classes from folder names" } ?? "label '\(data.labelName)'"))"]
        guard let o = other else {
            lines.append("model:   \(primary.modelPath) (\(primary.task.rawValue); \(primary.outputs))")
            lines.append(primary.report.table())
            for w in primary.warnings { lines.append("warning: \(w)") }
            return lines.joined(separator: "\n")
        }
        lines.append("A:       \(primary.modelPath) (\(primary.task.rawValue); \(primary.outputs))")
        lines.append("B:       \(o.modelPath) (\(o.task.rawValue); \(o.outputs))")
        let a = headlineMetrics(primary.report), b = Dictionary(headlineMetrics(o.report), uniquingKeysWith: { x, _ in x })
        lines.append(pad("metric", 28) + pad("A", 14) + pad("B", 14) + "B − A")
        for (k, va) in a {
            let vb = b[k]
            lines.append(pad(k, 28) + pad(fmt(va), 14) + pad(vb.map(fmt) ?? "n/a", 14) + (vb.map { fmtDelta($0 - va) } ?? ""))
        }
        if let ag = agreement {
            lines.append(pad("agreement", 28) + String(format: "%.4f", ag) + "  (\(Int((ag * Double(data.rows)).rounded())) of \(data.rows) predictions equal)")
        }
        if let d = meanAbsPredictionDifference { lines.append(pad("mean |A − B|", 28) + fmt(d)) }
        for w in primary.warnings { lines.append("warning (A): \(w)") }
        for w in o.warnings { lines.append("warning (B): \(w)") }
        for n in primary.report.notes { lines.append("note (A): \(n)") }
        for n in o.report.notes { lines.append("note (B): \(n)") }
        return lines.joined(separator: "\n")
    }

    /// One JSON object: data, model (its metrics under "metrics", keys as `onyx metrics --json`), and with a
    /// comparison "compare" (the second model), "deltas" (B − A of the headline metrics) and "agreement".
    public func json() -> String {
        func model(_ e: ModelEvaluation) -> ReportValue {
            .object([("path", .string(e.modelPath)), ("task", .string(e.task.rawValue)), ("outputs", .string(e.outputs)),
                     ("metrics", e.report.value),
                     ("timing", .object([("inference_s", .number(e.inferenceSeconds)), ("metrics_s", .number(e.metricsSeconds))])),
                     ("warnings", .array(e.warnings.map { .string($0) })),
                     ("notes", .array(e.report.notes.map { .string($0) }))])
        }
        var entries: [(String, ReportValue)] = [
            ("data", .object([("path", .string(data.source)), ("rows", .int(data.rows)), ("features", .int(data.width)),
                              ("label", .string(data.labelName)), ("load_s", .number(loadSeconds))])),
            ("model", model(primary)),
        ]
        if let o = other {
            entries.append(("compare", model(o)))
            let b = Dictionary(headlineMetrics(o.report), uniquingKeysWith: { x, _ in x })
            entries.append(("deltas", .object(headlineMetrics(primary.report).compactMap { k, v in b[k].map { (k, .number($0 - v)) } })))
            if let ag = agreement { entries.append(("agreement", .number(ag))) }
            if let d = meanAbsPredictionDifference { entries.append(("mean_abs_prediction_difference", .number(d))) }
        }
        return ReportValue.object(entries).json()
    }
}

/// The scalar metrics of a report, flattened: top-level numbers, and the numbers inside objects as
/// "key.sub" (e.g. "f1.macro", "roc_auc.ovr_macro"); curves, matrices and per-class arrays are left out.
public func headlineMetrics(_ report: MetricsReport) -> [(String, Double)] {
    guard case .object(let entries) = report.value else { return [] }
    var out = [(String, Double)]()
    for (k, v) in entries where !k.hasSuffix("_curve") && k != "n_samples" && !k.hasSuffix("_threshold") {
        switch v {
        case .number(let d): out.append((k, d))
        case .object(let sub):
            for (sk, sv) in sub { if case .number(let d) = sv { out.append((k + "." + sk, d)) } }
        default: break
        }
    }
    return out
}

func fmt(_ d: Double) -> String { d.isNaN ? "nan" : String(format: "%.6g", d) }
func fmtDelta(_ d: Double) -> String { d.isNaN ? "nan" : (d >= 0 ? "+" : "") + String(format: "%.4g", d) }
func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
