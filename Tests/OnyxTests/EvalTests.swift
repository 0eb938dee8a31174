// OnyxEval against onnxruntime + scikit-learn: expected predictions and metrics come from
// scripts/make_eval_fixtures.py (Fixtures/eval/*.json), computed from onnxruntime's outputs.
import Foundation
import Onyx
import Testing

private let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private let digitsModel = repoRoot.appendingPathComponent("Examples/models/digits_mlp/1/model.onnx").path
private let digitsCSV = repoRoot.appendingPathComponent("Examples/data/digits_test.csv").path

private func fixture(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: Fixtures.url("eval/" + name))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
}

/// Relative closeness (absolute near zero).
private func close(_ a: Double, _ b: Double, _ tol: Double) -> Bool { abs(a - b) <= tol * max(1, abs(b)) }

private func tempDir() throws -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-eval-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}

private func evalDigits(_ opts: EvalOptions = EvalOptions()) throws -> (EvalData, ModelEvaluation) {
    let data = try EvalData.csv(path: digitsCSV, label: "label")
    return (data, try Evaluator.evaluate(modelPath: digitsModel, data: data, options: opts))
}

@Suite("Eval") struct EvalTests {
    @Test func digitsMatchesScikitLearn() throws {
        let fix = try fixture("digits_mlp.json")
        var opts = EvalOptions()
        opts.batch = 50  // several batches, an uneven last one, two workers
        opts.workers = 2
        let (data, e) = try evalDigits(opts)
        #expect(data.rows == 360 && data.width == 64)
        #expect(e.task == .classification)
        #expect(e.classes == (0..<10).map { Label.int($0) })
        #expect(e.scoresAreProbabilities)
        let want = (fix["predicted"] as? [Int] ?? []).map { Label.int($0) }
        #expect(e.yPred == want)
        let got = Dictionary(headlineMetrics(e.report), uniquingKeysWith: { a, _ in a })
        let metrics = fix["metrics"] as? [String: Double] ?? [:]
        #expect(metrics.count == 17)
        for (k, v) in metrics {
            // Label metrics depend only on the (identical) predictions; score metrics on float32 probabilities
            // that may differ from onnxruntime's in the last bits.
            let tol = k.hasPrefix("roc_auc") || k == "log_loss" ? 1e-6 : 1e-12
            #expect(got[k].map { close($0, v, tol) } == true, "\(k): \(got[k] ?? .nan) vs scikit-learn \(v)")
        }
    }

    @Test func calibrationCurveMatchesScikitLearn() throws {
        let fix = try fixture("digits_mlp.json")
        let (_, e) = try evalDigits()
        let r = try #require(reliabilityInputs(e))
        let c = try calibrationCurve(r.positive, r.prob)
        let cal = fix["calibration"] as? [String: [Double]] ?? [:]
        let pt = cal["prob_true"] ?? [], pp = cal["prob_pred"] ?? []
        #expect(c.probTrue.count == pt.count)
        #expect(zip(c.probTrue, pt).allSatisfy { close($0, $1, 1e-12) })
        #expect(zip(c.probPred, pp).allSatisfy { close($0, $1, 1e-6) })
    }

    @Test func zipMapStringClasses() throws {
        let fix = try fixture("zipmap.json")
        let data = try EvalData.csv(path: Fixtures.path("eval/zipmap.csv"), label: "kind")
        let e = try Evaluator.evaluate(modelPath: Fixtures.path("eval/zipmap_logreg.onnx"), data: data)
        #expect(e.classes == [.string("ham"), .string("spam")])
        #expect(e.yPred == (fix["predicted"] as? [String] ?? []).map { Label.string($0) })
        let got = Dictionary(headlineMetrics(e.report), uniquingKeysWith: { a, _ in a })
        for (k, v) in fix["metrics"] as? [String: Double] ?? [:] {
            let tol = ["roc_auc", "average_precision", "log_loss"].contains(k) ? 1e-6 : 1e-12
            #expect(got[k].map { close($0, v, tol) } == true, "\(k): \(got[k] ?? .nan) vs scikit-learn \(v)")
        }
    }

    @Test func regression() throws {
        let fix = try fixture("regression.json")
        let data = try EvalData.csv(path: Fixtures.path("eval/regression.csv"), label: "target")
        let e = try Evaluator.evaluate(modelPath: Fixtures.path("eval/regression.onnx"), data: data)
        #expect(e.task == .regression)
        let want = fix["predicted"] as? [Double] ?? []
        #expect(e.predictions.count == want.count && zip(e.predictions, want).allSatisfy { close($0, $1, 1e-5) })
        let got = Dictionary(headlineMetrics(e.report), uniquingKeysWith: { a, _ in a })
        for (k, v) in fix["metrics"] as? [String: Double] ?? [:] {
            #expect(got[k].map { close($0, v, 1e-5) } == true, "\(k): \(got[k] ?? .nan) vs scikit-learn \(v)")
        }
    }

    @Test func htmlReportAndComparison() throws {
        let (data, a) = try evalDigits()
        let b = try Evaluator.evaluate(modelPath: digitsModel, data: data)
        let summary = EvalSummary(data: data, primary: a, other: b)
        #expect(summary.agreement == 1)
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("report.html").path
        try HTMLReport.write(summary, to: path)
        let html = try String(contentsOfFile: path, encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        for needle in ["<svg", "<polyline", "<rect", "ROC", "Precision-recall", "Reliability", "Confusion", "agreement"] {
            #expect(html.contains(needle), "report lacks \(needle)")
        }
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("href=") && !html.contains("@import"))
        // Atomic write: only the report is left in the directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["report.html"])
        // JSON: one object with both models, deltas of zero.
        let obj = try JSONSerialization.jsonObject(with: Data(summary.json().utf8)) as? [String: Any]
        #expect(obj?["agreement"] as? Double == 1)
        let deltas = obj?["deltas"] as? [String: Double] ?? [:]
        #expect(!deltas.isEmpty && deltas.values.allSatisfy { $0 == 0 })
    }

    @Test func quotedCSVReadsLikePlainCSV() throws {
        let plain = try EvalData.csv(path: digitsCSV, label: "label")
        let text = try String(contentsOfFile: digitsCSV, encoding: .utf8)
        var lines = text.split(separator: "\n").map(String.init)
        lines[0] = lines[0].replacingOccurrences(of: "pixel_0,", with: "\"pixel_0\",")
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("q.csv").path
        try (lines.joined(separator: "\r\n") + "\r\n").write(toFile: path, atomically: true, encoding: .utf8)
        let quoted = try EvalData.csv(path: path, label: "label")
        #expect(quoted.features == plain.features && quoted.rawLabels == plain.rawLabels && quoted.featureNames == plain.featureNames)
    }

    @Test func fastNumberParsingMatchesDoubleParsing() throws {
        let values = ["0.0625", "-0.5", " 2 ", "+3", ".5", "1.", "1e-3", "-2.5E+2", "12345678901234567890.5",
                      "0.1000000000000000055511151231257827", "9007199254740993", "3.4028235e38", "1e-50", "-0"]
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = dir.appendingPathComponent("p.csv").path, quoted = dir.appendingPathComponent("q.csv").path
        try ("x,label\n" + values.map { "\($0),1\n" }.joined()).write(toFile: plain, atomically: true, encoding: .utf8)
        try ("\"x\",label\n" + values.map { "\($0),1\n" }.joined()).write(toFile: quoted, atomically: true, encoding: .utf8)
        let a = try EvalData.csv(path: plain, label: "label"), b = try EvalData.csv(path: quoted, label: "label")
        #expect(a.features.map(\.bitPattern) == b.features.map(\.bitPattern))
        #expect(b.features == values.map { Float(Double($0.trimmingCharacters(in: .whitespaces)) ?? .nan) })
    }

    // MARK: bad input

    private func expectEvalError(_ fragment: String, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected an error containing '\(fragment)'")
        } catch {
            #expect("\(error)".contains(fragment), "error '\(error)' lacks '\(fragment)'")
        }
    }

    @Test func missingLabelColumn() {
        expectEvalError("no label column 'target'") { _ = try EvalData.csv(path: digitsCSV, label: "target") }
    }

    @Test func badFeatureValueAndWidth() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.csv").path
        try "a,b,label\n1,2,0\n3,x,1\n".write(toFile: path, atomically: true, encoding: .utf8)
        expectEvalError("bad.csv:3: column 'b': 'x' is not a finite number") { _ = try EvalData.csv(path: path, label: "label") }
        try "a,b,label\n1,2,0\n3,4,1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let data = try EvalData.csv(path: path, label: "label")
        expectEvalError("the model expects 64 features per row") { _ = try Evaluator.evaluate(modelPath: digitsModel, data: data) }
    }

    @Test func classesTheModelDoesNotKnow() throws {
        let plain = try EvalData.csv(path: digitsCSV, label: "label")
        var labels = plain.rawLabels
        labels[3] = "11"; labels[7] = "cat"
        let data = try EvalData(source: "x", featureNames: plain.featureNames, labelName: "label", features: plain.features, rawLabels: labels)
        expectEvalError("2 classes the model does not know: 11, cat") { _ = try Evaluator.evaluate(modelPath: digitsModel, data: data) }
    }

    /// A 3-class linear model whose output is logits: y = x · W.
    private func logitsModel(_ dir: URL) throws -> String {
        let w = try Tensor(shape: [2, 3], values: [Float(2), -1, -3, -1, 2, -3])
        let graph = Graph(nodes: [Node(name: "mm", opType: "MatMul", inputs: ["x", "W"], outputs: ["logits"])],
                          inputs: [ValueInfo(name: "x", type: .tensor(.float32, shape: [.symbolic("N"), .fixed(2)]))],
                          outputs: [ValueInfo(name: "logits", type: .tensor(.float32, shape: [.symbolic("N"), .fixed(3)]))],
                          initializers: [("W", w)])
        let path = dir.appendingPathComponent("logits.onnx").path
        try ONNXModel.save(Model(opsets: ["": 17], graph: graph), to: path)
        return path
    }

    @Test func logitsAndProbabilityChecks() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try logitsModel(dir)
        let data = try EvalData(source: "mem", featureNames: ["a", "b"], labelName: "y",
                                features: [1, 0, 0, 1, -1, -1, -1, 0], rawLabels: ["0", "1", "2", "2"])
        // Default: rows do not sum to 1, so they are read as logits (softmax, with a warning).
        let e = try Evaluator.evaluate(modelPath: model, data: data)
        #expect(e.scoresAreProbabilities && !e.warnings.isEmpty)
        #expect(e.yPred == [.int(0), .int(1), .int(2), .int(2)])
        let row0 = e.scores?[0] ?? []
        #expect(abs(row0.reduce(0, +) - 1) < 1e-12 && row0[0] > row0[1])
        var opts = EvalOptions()
        opts.scoresKind = .probabilities
        expectEvalError("is not a probability distribution") { _ = try Evaluator.evaluate(modelPath: model, data: data, options: opts) }
        opts.scoresKind = .logits
        #expect(try Evaluator.evaluate(modelPath: model, data: data, options: opts).warnings.isEmpty)
        opts.output = "nope"
        expectEvalError("no output 'nope'") { _ = try Evaluator.evaluate(modelPath: model, data: data, options: opts) }
    }
}
