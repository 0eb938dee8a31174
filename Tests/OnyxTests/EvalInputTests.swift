// `onyx eval` on numpy input and on a CNN fed from rows, against onnxruntime + scikit-learn
// (scripts/make_eval_npy_fixtures.py: Fixtures/eval/digits_x.npy, digits_y.npy, digits_cnn.json), and the metric
// fast paths of the report (one confusion matrix, one-vs-one by merging per-class lists, 32-bit radix keys)
// against the straightforward code they replace.
import Foundation
import OnyxTensor
import Testing
@testable import OnyxMetrics
@testable import OnyxEval

private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private let mlp = root.appendingPathComponent("Examples/models/digits_mlp/1/model.onnx").path
private let cnn = root.appendingPathComponent("Examples/models/digits_cnn/1/model.onnx").path
private let csv = root.appendingPathComponent("Examples/data/digits_test.csv").path

private func fixture(_ name: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("eval/" + name))) as? [String: Any] ?? [:]
}

/// Predictions equal onnxruntime's; label metrics to 1e-12, score metrics to 1e-6 (float32 probabilities).
private func expectMatches(_ e: ModelEvaluation, _ fix: [String: Any]) {
    #expect(e.yPred == (fix["predicted"] as? [Int] ?? []).map { Label.int($0) })
    let got = Dictionary(headlineMetrics(e.report), uniquingKeysWith: { a, _ in a })
    let want = fix["metrics"] as? [String: Double] ?? [:]
    #expect(want.count >= 16)
    for (k, v) in want {
        let tol = k.hasPrefix("roc_auc") || k == "log_loss" ? 1e-6 : 1e-12
        #expect(got[k].map { abs($0 - v) <= tol * max(1, abs(v)) } == true, "\(k): \(got[k] ?? .nan) vs scikit-learn \(v)")
    }
}

private func withTempDir<R>(_ body: (URL) throws -> R) throws -> R {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-evalnpy-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

@Suite("EvalInput") struct EvalInputTests {
    @Test func npyFeaturesAndLabelsMatchScikitLearn() throws {
        let data = try EvalData.npy(path: Fixtures.path("eval/digits_x.npy"), labels: Fixtures.path("eval/digits_y.npy"))
        #expect(data.rows == 360 && data.width == 64 && data.sampleShape == [64])
        let fromCSV = try EvalData.csv(path: csv, label: "label")
        #expect(data.features == fromCSV.features)
        #expect(data.labels == fromCSV.labels)
        #expect(data.rawLabels == fromCSV.rawLabels)
        #expect(EvalData.allFinite(data.features))
        #expect(!EvalData.allFinite([1, .infinity]) && !EvalData.allFinite([-.nan, 0]) && !EvalData.allFinite([-.infinity]))
        #expect(EvalData.allFinite([Float.greatestFiniteMagnitude, -Float.leastNonzeroMagnitude, 0]))
        var opts = EvalOptions()
        opts.batch = 50
        let e = try Evaluator.evaluate(modelPath: mlp, data: data, options: opts)
        expectMatches(e, try fixture("digits_mlp.json"))
    }

    @Test func npzArchiveReadsLikeNPYFiles() throws {
        let npz = try EvalData.npz(path: Fixtures.path("eval/digits50.npz"))
        let npy = try EvalData.npy(path: Fixtures.path("eval/digits_x.npy"), labels: Fixtures.path("eval/digits_y.npy"))
        #expect(npz.rows == 50 && npz.sampleShape == [64])
        #expect(npz.features == Array(npy.features.prefix(50 * 64)))
        #expect(npz.labels == Array(npy.labels.prefix(50)))
        // np.savez_compressed: deflate members, inflated by OnyxTensor's decoder, same arrays.
        let compressed = try EvalData.npz(path: Fixtures.path("eval/digits50_compressed.npz"))
        #expect(compressed.features == npz.features && compressed.labels == npz.labels)
        do {
            _ = try EvalData.npz(path: Fixtures.path("eval/digits50.npz"), features: "pixels")
            Issue.record("no error for a missing array")
        } catch { #expect("\(error)".contains("no array 'pixels' (arrays: x, y)")) }
        // Truncated or corrupted archives give errors, never a trap.
        let whole = try Data(contentsOf: Fixtures.url("eval/digits50.npz"))
        try withTempDir { dir in
            let cut = dir.appendingPathComponent("cut.npz")
            for length in stride(from: 0, to: whole.count, by: 397) {
                try whole.prefix(length).write(to: cut)
                #expect(throws: EvalError.self) { _ = try EvalData.npz(path: cut.path) }
            }
            var bytes = [UInt8](whole)
            var g = SplitMix64(seed: 5)
            for _ in 0..<200 {  // one byte of the central directory or a local header set to 0xFF
                let i = whole.count - 1 - Int(g.next() % 200)
                let saved = bytes[i]
                bytes[i] = 0xFF
                try Data(bytes).write(to: cut)
                _ = try? EvalData.npz(path: cut.path)
                bytes[i] = saved
            }
        }
        do {
            _ = try EvalData.npz(path: Fixtures.path("eval/digits_y.npy"))
            Issue.record("no error for a file that is not a zip archive")
        } catch { #expect("\(error)".contains("not an .npz")) }
    }

    @Test func cnnFromCSVRowsAndFromImageShapedNPY() throws {
        let fix = try fixture("digits_cnn.json")
        // CSV rows of 64 values fed as [N, 1, 8, 8] (the model's input shape).
        let rows = try EvalData.csv(path: csv, label: "label")
        let e1 = try Evaluator.evaluate(modelPath: cnn, data: rows)
        expectMatches(e1, fix)
        // The same rows as a float64 [N, 1, 8, 8] array with float labels.
        try withTempDir { dir in
            let x = try Tensor(shape: [360, 1, 8, 8], values: rows.features.map(Double.init))
            let y = try Tensor(shape: [360], values: rows.labels.map { l -> Double in if case .int(let v) = l { return Double(v) } else { return -1 } })
            try NPY.write(x, to: dir.appendingPathComponent("x.npy"))
            try NPY.write(y, to: dir.appendingPathComponent("y.npy"))
            let data = try EvalData.npy(path: dir.appendingPathComponent("x.npy").path, labels: dir.appendingPathComponent("y.npy").path)
            #expect(data.sampleShape == [1, 8, 8] && data.width == 64)
            let e2 = try Evaluator.evaluate(modelPath: cnn, data: data)
            expectMatches(e2, fix)
            #expect(e2.report.json() == e1.report.json())
        }
    }

    @Test func badNPYInputIsAnError() throws {
        try withTempDir { dir in
            let x = dir.appendingPathComponent("x.npy"), y = dir.appendingPathComponent("y.npy")
            func expectError(_ fragment: String, _ body: () throws -> Void) {
                do { try body(); Issue.record("no error, expected '\(fragment)'") } catch {
                    #expect("\(error)".contains(fragment), "\(error)")
                }
            }
            try NPY.write(try Tensor(shape: [3, 2], values: [Float](repeating: 1, count: 6)), to: x)
            try NPY.write(try Tensor(shape: [4], values: [Int64](repeating: 1, count: 4)), to: y)
            expectError("labels must have shape [3]") { _ = try EvalData.npy(path: x.path, labels: y.path) }
            try NPY.write(try Tensor(shape: [3], values: [Float](repeating: 1, count: 3)), to: x)
            expectError("features must be an array [rows, features]") { _ = try EvalData.npy(path: x.path, labels: y.path) }
            try NPY.write(try Tensor(shape: [1, 2], values: [Float.nan, 1]), to: x)
            try NPY.write(try Tensor(shape: [1], values: [Int64(0)]), to: y)
            expectError("not a finite number") { _ = try EvalData.npy(path: x.path, labels: y.path) }
            // A float32 file whose data is cut short (the direct float32 reader).
            let full = NPY.encode(try Tensor(shape: [2, 2], values: [Float](repeating: 1, count: 4)))
            try full.prefix(full.count - 3).write(to: x)
            expectError("data truncated") { _ = try EvalData.npy(path: x.path, labels: y.path) }
            try Data("not numpy".utf8).write(to: x)
            expectError("x.npy: invalid .npy") { _ = try EvalData.npy(path: x.path, labels: y.path) }
            expectError("cannot read file") { _ = try EvalData.npy(path: dir.appendingPathComponent("none.npy").path, labels: y.path) }
            // Rows of 64 values fit the MLP's [N, 64]; rows of 3 fit neither the CNN's [N, 1, 8, 8] nor its size.
            try NPY.write(try Tensor(shape: [2, 3], values: [Float](repeating: 0, count: 6)), to: x)
            try NPY.write(try Tensor(shape: [2], values: [Int64(0), 1]), to: y)
            let small = try EvalData.npy(path: x.path, labels: y.path)
            expectError("fit neither that shape nor its size") { _ = try Evaluator.evaluate(modelPath: cnn, data: small) }
        }
    }

    /// The report's label metrics (one confusion matrix) equal the public functions, bit for bit.
    @Test(arguments: [0, 1, 2])
    func reportLabelMetricsEqualPublicFunctions(_ seed: UInt64) throws {
        var g = SplitMix64(seed: seed)
        let n = 700
        let names = ["ant", "bee", "cat", "dog"]
        // Strings; class "dog" never predicted, seed 2 never true either (a class only in predictions).
        let yt: [Label] = (0..<n).map { _ in .string(names[Int(g.next() % (seed == 2 ? 3 : 4))]) }
        let yp: [Label] = (0..<n).map { i in g.next() % 3 == 0 ? .string(names[Int(g.next() % 3)]) : (seed == 2 && i == 5 ? .string("dog") : yt[i]) }
        let r = try MetricsReport.classification(yTrue: yt, yPred: yp, scores: nil as ScoreMatrix?, classes: [])
        #expect(r.value["accuracy"] == .number(try accuracyScore(yt, yp)))
        #expect(r.value["balanced_accuracy"] == .number(try balancedAccuracyScore(yt, yp)))
        #expect(r.value["matthews_corrcoef"] == .number(try matthewsCorrcoef(yt, yp)))
        #expect(r.value["cohen_kappa"] == .number(try cohenKappaScore(yt, yp)))
        #expect(r.value["confusion_matrix"] == .array(try confusionMatrix(yt, yp).map { .array($0.map { .int($0) }) }))
        let per = try precisionRecallFScoreSupport(yt, yp)
        for (key, pick) in [("precision", 0), ("recall", 1), ("f1", 2)] {
            for (name, avg) in [("micro", Average<Label>.micro), ("macro", .macro), ("weighted", .weighted)] {
                let s = try precisionRecallFScore(yt, yp, average: avg)
                #expect(r.value[key]?[name] == .number([s.precision, s.recall, s.fScore][pick]), "\(key) \(name)")
            }
            #expect(r.value[key]?["per_class"] == .array([per.precision, per.recall, per.fScore][pick].map { .number($0) }))
        }
        // Binary: the positive class's scores.
        let bt = yt.map { $0 == .string("ant") ? Label.int(1) : .int(0) }, bp = yp.map { $0 == .string("ant") ? Label.int(1) : .int(0) }
        let b = try MetricsReport.classification(yTrue: bt, yPred: bp, scores: nil as ScoreMatrix?, classes: [.int(0), .int(1)])
        #expect(b.value["f1"] == .number(try f1Score(bt, bp, average: .binary(posLabel: .int(1)))))
        #expect(b.value["precision"] == .number(try precisionScore(bt, bp, average: .binary(posLabel: .int(1)))))
    }

    /// One-vs-one AUC by merging per-class position lists equals filtering the whole order per pair (the code it
    /// replaced), bit for bit, with heavy ties and with distinct scores.
    @Test(arguments: [(0, 4), (1, 0), (2, 20)])
    func ovoMergeEqualsFilteredOrder(_ seed: UInt64, _ levels: Int) throws {
        var g = SplitMix64(seed: seed)
        let n = 900, k = 5
        var values = [Double]()
        for _ in 0..<n {
            let raw = (0..<k).map { _ in levels == 0 ? Double(g.unitFloat()) + 1e-3 : Double(g.next() % UInt64(levels) + 1) }
            let s = raw.reduce(0, +)
            values += raw.map { $0 / s }
        }
        let m = try ScoreMatrix(rows: n, columns: k, values: values)
        let y: [Int] = (0..<n).map { _ in Int(g.next() % UInt64(k)) }
        let p = try MulticlassScores(y, m)
        var pairs = [Double]()
        for a in 0..<k {
            for b in (a + 1)..<k {
                func side(_ c: Int) throws -> Double {
                    let sub = p.columns.orders[c].filter { y[$0] == a || y[$0] == b }
                    let (fps, tps, th) = countsAlong(sub, p.columns.columns[c]) { y[$0] == c }
                    guard let nf = fps.last, let nt = tps.last, nf > 0, nt > 0 else { return .nan }
                    return try auc(rocFromCounts(fps, tps, th, dropIntermediate: true))
                }
                pairs.append((try side(a) + side(b)) / 2)
            }
        }
        #expect(try rocAucOvO(p) == numpyMean(pairs))
        #expect(try rocAucOvO(y, m.rowArrays) == numpyMean(pairs))
    }

    /// The AUC and average precision computed from counts without building curves equal the curve-based
    /// computation bit for bit (ties, a single point, no positives, no negatives).
    @Test(arguments: [(0, 4), (1, 0), (2, 2), (3, 1)])
    func countsAucAndAPEqualCurves(_ seed: UInt64, _ levels: Int) throws {
        var g = SplitMix64(seed: seed)
        for n in [1, 2, 3, 40, 700] {
            let score: [Double] = (0..<n).map { _ in levels == 0 ? Double(g.unitFloat()) : Double(g.next() % UInt64(levels)) }
            for mode in 0..<3 {  // mixed, all positive, all negative
                let positive: [Bool] = (0..<n).map { _ in mode == 0 ? g.next() % 3 == 0 : mode == 1 }
                let (fps, tps, th) = try binaryCounts(positive, score)
                let wantAP = averagePrecision(prFromCounts(fps, tps, th))
                #expect(averagePrecisionFromCounts(fps, tps).bitPattern == wantAP.bitPattern, "AP n=\(n) mode=\(mode)")
                if let nf = fps.last, let nt = tps.last, nf > 0, nt > 0 {
                    let want = try auc(rocFromCounts(fps, tps, th, dropIntermediate: true))
                    #expect(rocAucFromCounts(fps, tps).bitPattern == want.bitPattern, "AUC n=\(n)")
                } else {
                    #expect(rocAucFromCounts(fps, tps).isNaN)
                }
            }
        }
    }

    /// Scores that are all exactly Floats use 32-bit radix keys: the same permutation as the comparison sort.
    @Test(arguments: [3, 4])
    func radix32EqualsComparisonSort(_ seed: UInt64) {
        var g = SplitMix64(seed: seed)
        let score: [Double] = (0..<2000).map { i in
            switch g.next() % 5 {
            case 0: return Double(Float(g.next() % 7) / 6)
            case 1: return i % 2 == 0 ? 0.0 : -0.0
            case 2: return Double(-Float(g.unitFloat()))
            case 3: return [Double.infinity, -Double.infinity, Double(Float.leastNonzeroMagnitude)][Int(g.next() % 3)]
            default: return Double(g.unitFloat())
            }
        }
        #expect(score.allSatisfy { Double(Float($0)) == $0 })
        #expect(radixDescendingOrder(score) == EvalFastPathTests.reference(score))
    }
}
