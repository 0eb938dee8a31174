// OnyxMetrics against scikit-learn 1.9.1: every expected value comes from scripts/make_metrics_fixtures.py
// (Fixtures/metrics/cases.json and iris_report.json); inputs are the CSV files next to them.
import Foundation
import Onyx
import Testing

private func metricsDir() throws -> URL {
    guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw MetricsError("Fixtures not found in the test bundle")
    }
    return url.appendingPathComponent("metrics")
}

private func loadJSON(_ name: String) throws -> Any {
    let data = try Data(contentsOf: try metricsDir().appendingPathComponent(name))
    return try JSONSerialization.jsonObject(with: data)
}

private func loadCases() -> [[String: Any]] {
    (try? loadJSON("cases.json") as? [String: Any])?["cases"] as? [[String: Any]] ?? []
}

/// Case names for the parameterised test (read from the fixture, so every case generated is tested).
func metricsCaseNames() -> [String] { loadCases().compactMap { $0["name"] as? String } }

/// Compares a computed value with scikit-learn's: numbers to 1e-12 relative, NaN equal to NaN, "inf" strings.
private func matches(_ got: Any, _ want: Any) -> Bool {
    func num(_ x: Any) -> Double? {
        if let s = x as? String { return s == "nan" ? .nan : s == "inf" ? .infinity : s == "-inf" ? -.infinity : nil }
        if let d = x as? Double { return d }
        if let i = x as? Int { return Double(i) }
        if let n = x as? NSNumber { return n.doubleValue }
        return nil
    }
    if let g = got as? [Any], let w = want as? [Any] {
        return g.count == w.count && zip(g, w).allSatisfy { matches($0, $1) }
    }
    if let g = got as? [String: Any], let w = want as? [String: Any] {
        return Set(g.keys) == Set(w.keys) && w.allSatisfy { k, v in g[k].map { matches($0, v) } ?? false }
    }
    if let g = got as? String, let w = want as? String, num(g) == nil { return g == w }
    guard let a = num(got), let b = num(want) else { return false }
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
    return a == b || abs(a - b) <= 1e-12 * max(abs(a), abs(b))
}

private struct Case {
    let name: String, kind: String
    let table: CSVTable
    let yt: [Label], yp: [Label]
    let pos: Label
    init(_ json: [String: Any]) throws {
        name = json["name"] as? String ?? ""
        kind = json["kind"] as? String ?? ""
        table = try CSVReader.read(path: try metricsDir().appendingPathComponent(name + ".csv").path)
        let labels = parseLabels(try table.values("y_true"), try table.values("y_pred"))
        yt = labels[0]; yp = labels[1]
        if let p = json["pos_label"] as? String { pos = .string(p) } else if let p = json["pos_label"] as? Int { pos = .int(p) } else {
            pos = yt.min() ?? .int(0)
        }
    }
    func probMatrix() throws -> [[Double]] {
        let cols = try table.header.filter { $0.hasPrefix("p") && Int($0.dropFirst()) != nil }.map { try table.doubles($0) }
        return (0..<table.rows.count).map { r in cols.map { $0[r] } }
    }
}

private func average(_ s: String, _ pos: Label) -> Average<Label>? {
    switch s {
    case "binary": return .binary(posLabel: pos)
    case "micro": return .micro
    case "macro": return .macro
    case "weighted": return .weighted
    default: return nil
    }
}

private func multiAverage(_ s: String) -> MulticlassAverage {
    s == "micro" ? .micro : s == "weighted" ? .weighted : .macro
}

/// Computes the metric named `key` (the fixture's naming) on the case's inputs.
private func compute(_ key: String, _ c: Case) throws -> Any {
    let yt = c.yt, yp = c.yp, pos = c.pos
    if c.kind == "regression" {
        let t = try c.table.doubles("y_true"), p = try c.table.doubles("y_pred")
        switch key {
        case "mae": return try meanAbsoluteError(t, p)
        case "mse": return try meanSquaredError(t, p)
        case "rmse": return try rootMeanSquaredError(t, p)
        case "r2": return try r2Score(t, p)
        case "mape": return try meanAbsolutePercentageError(t, p)
        case "explained_variance": return try explainedVarianceScore(t, p)
        default: throw MetricsError("unknown key \(key)")
        }
    }
    let parts = key.split(separator: "_").map(String.init)
    switch key {
    case "accuracy": return try accuracyScore(yt, yp)
    case "balanced_accuracy": return try balancedAccuracyScore(yt, yp)
    case "support": return try precisionRecallFScoreSupport(yt, yp).support
    case "confusion_matrix": return try confusionMatrix(yt, yp)
    case "confusion_matrix_true": return try confusionMatrix(yt, yp, normalize: .truth)
    case "confusion_matrix_pred": return try confusionMatrix(yt, yp, normalize: .pred)
    case "confusion_matrix_all": return try confusionMatrix(yt, yp, normalize: .all)
    case "matthews_corrcoef": return try matthewsCorrcoef(yt, yp)
    case "cohen_kappa_none": return try cohenKappaScore(yt, yp)
    case "cohen_kappa_linear": return try cohenKappaScore(yt, yp, weights: .linear)
    case "cohen_kappa_quadratic": return try cohenKappaScore(yt, yp, weights: .quadratic)
    default: break
    }
    if ["precision", "recall", "f1"].contains(parts[0]) || parts[0].hasPrefix("fbeta"), parts.count == 3 {
        let zd: ZeroDivision = ["zdwarn": .warn, "zd0": .zero, "zd1": .one, "zdnan": .nan][parts[2]] ?? .warn
        let beta = parts[0] == "f1" ? 1 : Double(parts[0].dropFirst(5)) ?? 1
        guard let avg = average(parts[1], pos) else {
            let r = try precisionRecallFScoreSupport(yt, yp, beta: beta, zeroDivision: zd)
            return parts[0] == "precision" ? r.precision : parts[0] == "recall" ? r.recall : r.fScore
        }
        let r = try precisionRecallFScore(yt, yp, beta: beta, average: avg, zeroDivision: zd)
        return parts[0] == "precision" ? r.precision : parts[0] == "recall" ? r.recall : r.fScore
    }
    if c.kind == "multiclass" {
        let m = try c.probMatrix()
        if key.hasPrefix("roc_auc_ovr_") { return try rocAucOvR(yt, m, average: multiAverage(parts[3])) }
        if key == "roc_auc_ovo_macro" { return try rocAucOvO(yt, m) }
        if key.hasPrefix("average_precision_") { return try averagePrecisionScore(yt, m, average: multiAverage(parts[2])) }
        if key == "log_loss" { return try logLoss(yt, m) }
        if key.hasPrefix("top_k_"), let k = Int(parts[2]) { return try topKAccuracyScore(yt, m, k: k) }
        throw MetricsError("unknown key \(key)")
    }
    let score = try c.table.doubles("score"), prob = try c.table.doubles("prob")
    switch key {
    case "roc_curve_dropTrue", "roc_curve_dropFalse":
        let r = try rocCurve(yt, score, posLabel: pos, dropIntermediate: key.hasSuffix("True"))
        return ["fpr": r.fpr, "tpr": r.tpr, "thresholds": r.thresholds]
    case "pr_curve_dropTrue", "pr_curve_dropFalse":
        let r = try precisionRecallCurve(yt, score, posLabel: pos, dropIntermediate: key.hasSuffix("True"))
        return ["precision": r.precision, "recall": r.recall, "thresholds": r.thresholds]
    case "roc_auc": return try rocAucScore(yt, score)
    case "average_precision": return try averagePrecisionScore(yt, score, posLabel: pos)
    case "log_loss": return try logLoss(yt, prob)
    case "top_k_1": return try topKAccuracyScore(yt, prob, k: 1)
    case "top_k_2": return try topKAccuracyScore(yt, prob, k: 2)
    case "top_k_1_score": return try topKAccuracyScore(yt, score, k: 1)
    case "best_f1_threshold":
        let b = try bestF1Threshold(yt, score, posLabel: pos)
        return [b.threshold, b.f1, b.precision, b.recall]
    case "youden_threshold":
        let b = try youdenThreshold(yt, score, posLabel: pos)
        return [b.threshold, b.j, b.fpr, b.tpr]
    default: throw MetricsError("unknown key \(key)")
    }
}

@Suite("Metrics vs scikit-learn")
struct MetricsTests {
    @Test("every metric equals scikit-learn's", arguments: metricsCaseNames())
    func sklearnCase(_ name: String) throws {
        let json = try #require(loadCases().first { $0["name"] as? String == name })
        let c = try Case(json)
        let results = try #require(json["results"] as? [String: Any])
        #expect(results.count >= 6)
        for (key, want) in results.sorted(by: { $0.key < $1.key }) {
            let expectsError = (want as? [String: Any])?["error"] != nil
            do {
                let got = try compute(key, c)
                if expectsError {
                    Issue.record("\(name).\(key): scikit-learn raises (\(want)), Onyx returned \(got)")
                } else {
                    #expect(matches(got, want), "\(name).\(key): got \(got), scikit-learn \(want)")
                }
            } catch {
                #expect(expectsError, "\(name).\(key): threw \(error), scikit-learn gives \(want)")
            }
        }
    }

    @Test("fixture cases are present")
    func casesPresent() {
        #expect(metricsCaseNames().count >= 10)
    }

    @Test("MetricsReport on the iris example equals scikit-learn")
    func irisReport() throws {
        let table = try CSVReader.read(path: try metricsDir().appendingPathComponent("iris_logreg.csv").path)
        let report = try MetricsReport.build(table: table, label: "species", pred: nil,
                                             scores: ["p_setosa", "p_versicolor", "p_virginica"], posLabel: nil)
        #expect(report.kind == .multiclass)
        let got = try JSONSerialization.jsonObject(with: Data(report.json().utf8))
        let want = try #require(try loadJSON("iris_report.json") as? [String: Any])
        let gotObject = try #require(got as? [String: Any])
        for (key, value) in want {
            #expect(gotObject[key].map { matches($0, value) } ?? false, "\(key): got \(String(describing: gotObject[key])), scikit-learn \(value)")
        }
        #expect(report.notes.isEmpty)
    }

    @Test("CSV reader: quotes, embedded commas and newlines, CRLF")
    func csvQuoting() throws {
        let t = try CSVReader.parse("a,\"b, c\"\r\n1,\"x\"\"y\"\r\n2,\"line\nbreak\"\n\n3,\n", file: "t.csv")
        #expect(t.header == ["a", "b, c"])
        #expect(t.rows == [["1", "x\"y"], ["2", "line\nbreak"], ["3", ""]])
        #expect(t.lines == [2, 3, 6])
    }

    @Test("bad CSV input gives a one-line error naming file, line and column",
          arguments: [("a,b\n1,2\n3\n", "t.csv:3:"), ("", "empty file"), ("a,b\n1,\"open\n", "unterminated"),
                      ("y,s\n1,0.5\n0,abc\n", "t.csv:3: column 's'"), ("y,s\n1,0.5\n", "no column 'p'")])
    func csvErrors(_ input: String, _ fragment: String) throws {
        do {
            let t = try CSVReader.parse(input, file: "t.csv")
            _ = try MetricsReport.build(table: t, label: "y", pred: nil, scores: ["s", input.contains("abc") ? "s" : "p"], posLabel: nil)
            Issue.record("no error for \(input.debugDescription)")
        } catch {
            let message = "\(error)"
            #expect(message.contains(fragment), "\(message)")
            #expect(!message.contains("\n"))
        }
    }
}
