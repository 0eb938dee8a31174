// Pipelines as YAML and as ONNX preprocessing nodes. Fixtures (Fixtures/data/export) and the onnxruntime reference
// outputs come from scripts/make_pipeline_export_fixtures.py (onnxruntime 1.32 ran the exported graphs on the raw
// rows of raw_new.csv, and checked them against `onyx data apply` + model.onnx).
import Foundation
import Onyx
import Testing

private func exportPath(_ name: String) -> String { Fixtures.path("data/export/\(name)") }

private func ortExpected() throws -> [String: Any] {
    let data = try #require(FileManager.default.contents(atPath: exportPath("ort_expected.json")))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

private func matrix(_ any: Any?) -> [[Double]] {
    ((any as? [Any]) ?? []).map { (($0 as? [Any]) ?? []).compactMap { ($0 as? NSNumber)?.doubleValue } }
}

private func rows(_ t: Tensor) -> [[Double]] {
    guard t.rank == 2 else { return [] }
    return (0..<t.shape[0]).map { r in (0..<t.shape[1]).map { t.doubleValue(at: r * t.shape[1] + $0) } }
}

private func maxDiff(_ a: [[Double]], _ b: [[Double]]) -> Double {
    guard a.count == b.count, zip(a, b).allSatisfy({ $0.count == $1.count }) else { return .infinity }
    return zip(a, b).map { zip($0, $1).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
}

@Suite("pipelines: YAML and ONNX export")
struct PipelineExportTests {
    @Test("a YAML and a JSON config give the same pipeline and identical outputs")
    func yamlEqualsJSON() throws {
        let yaml = try PrepareConfig.load(exportPath("prep.yaml"))
        let json = try PrepareConfig.load(exportPath("prep.json"))
        var results = [(Pipeline, Table)]()
        for cfg in [yaml, json] {
            var options = CSVOptions()
            options.missing = MissingTokens(extra: cfg.missing ?? [])
            let table = try DataIO.read(exportPath("raw_train.csv"), options: options)
            let (p, out, _) = try Pipeline.fit(cfg.steps, on: table, missing: cfg.missing ?? [])
            results.append((p, out))
        }
        #expect(yaml.labels == ["label"] && json.labels == ["label"])
        #expect(try results[0].0.json() == results[1].0.json())
        let (a, b) = (results[0].1, results[1].1)
        #expect(a.names == b.names)
        for (x, y) in zip(a.columns, b.columns) {
            #expect(x.doubles == y.doubles, "\(x.name)")
            #expect((0..<a.rowCount).map { x.text($0) } == (0..<b.rowCount).map { y.text($0) }, "\(x.name)")
        }
    }

    @Test("pipeline files round-trip exactly through YAML and JSON", arguments: ["yaml", "yml", "json"])
    func roundTrip(ext: String) throws {
        // The committed pipeline.yaml was written by `onyx data prepare` from the same config and data.
        let cfg = try PrepareConfig.load(exportPath("prep.yaml"))
        var options = CSVOptions()
        options.missing = MissingTokens(extra: cfg.missing ?? [])
        var (fitted, _, _) = try Pipeline.fit(cfg.steps, on: try DataIO.read(exportPath("raw_train.csv"), options: options),
                                              missing: cfg.missing ?? [])
        fitted.labels = cfg.labels
        let committed = try Pipeline.load(exportPath("pipeline.yaml")).json(), fresh = try fitted.json()
        #expect(committed == fresh, "\(String(decoding: committed, as: UTF8.self))\n\(String(decoding: fresh, as: UTF8.self))")
        let file = NSTemporaryDirectory() + "onyx-pipeline-\(UUID().uuidString).\(ext)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try fitted.save(file)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.hasPrefix("{") == (ext == "json"))
        #expect(try Pipeline.load(file).json() == fitted.json())
    }

    @Test("bad YAML: one line naming file, line and column", arguments: [
        ("steps:\n  - type: impute\n   strategy: mean\n", 3),
        ("missing: [\"?\"\nsteps: []\n", 2),
        ("steps:\n  - {type: scale, method: zscore\n", 3),
    ])
    func badYAML(text: String, line: Int) throws {
        let file = NSTemporaryDirectory() + "onyx-bad-\(UUID().uuidString).yaml"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let e = try #require(throws: DataError.self) { try PrepareConfig.load(file) }
        #expect(e.line == line, "\(e)")
        #expect(e.column > 0, "\(e)")
        #expect(!e.description.contains("\n"))
        #expect(e.description.hasPrefix("\(file):\(e.line):\(e.column): invalid YAML config"), "\(e)")
    }

    @Test("a YAML config with a wrong field names the field")
    func wrongField() throws {
        let file = NSTemporaryDirectory() + "onyx-bad-\(UUID().uuidString).yml"
        try "steps:\n  - type: scale\n    range: low\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let e = try #require(throws: DataError.self) { try PrepareConfig.load(file) }
        #expect(e.description.contains("steps[0].range"), "\(e)")
        #expect(!e.description.contains("\n"))
    }

    @Test("exported preprocessing + model: Onyx on raw rows = apply + model = onnxruntime")
    func exportMatchesApplyAndORT() throws {
        let pipeline = try Pipeline.load(exportPath("pipeline.yaml"))
        let expected = try ortExpected()
        let names = try #require(expected["features_names"] as? [String])
        let raw = try DataIO.read(exportPath("raw_new.csv"), options: pipeline.csvOptions())

        // onyx data apply, then the model alone.
        var applied = raw
        _ = try pipeline.apply(&applied)
        let cols = try names.map { try applied.doubles($0) }
        let features = (0..<applied.rowCount).map { r in cols.map { $0[r] } }
        let model = try ONNXModel.load(path: exportPath("model.onnx"))
        let x = try Tensor(shape: [features.count, names.count], values: features.flatMap { $0.map { Float($0) } })
        let viaApply = rows(try #require(try InferenceSession(model: model).run(["x": x])["probabilities"]))

        // The model with the pipeline in front, fed the raw columns (one through ONNX serialization).
        let combined = try ONNXModel.load(data: try ONNXModel.serialize(try PipelineONNX.prepend(pipeline, to: model, exclude: pipeline.labels ?? [])))
        #expect(combined.metadata.first { $0.key == PipelineONNX.featuresKey }?.value == names.joined(separator: ","))
        let session = try InferenceSession(model: combined)
        let feeds = try PipelineONNX.feeds(raw, for: combined.graph.feedableInputs)
        #expect(feeds["label"] == nil)
        let viaExport = rows(try #require(try session.run(feeds)["probabilities"]))
        #expect(viaExport.count == 25)
        #expect(maxDiff(viaExport, viaApply) < 1e-5)
        #expect(maxDiff(viaExport, matrix(expected["probabilities"])) < 1e-5)

        // The preprocessing alone: the features apply makes, and those onnxruntime made.
        let pre = try PipelineONNX.standalone(pipeline, exclude: ["label"])
        let made = rows(try #require(try InferenceSession(model: pre).run(try PipelineONNX.feeds(raw, for: pre.graph.feedableInputs))["features"]))
        #expect(maxDiff(made, features) < 1e-5 * 10)
        #expect(maxDiff(made, matrix(expected["features"])) < 1e-5)
    }

    @Test("steps without an ONNX form are named in the error", arguments: [
        (StepSpec(type: "dedupe"), "step 1 (dedupe)"),
        (StepSpec(type: "drop_missing", strategy: "rows"), "step 1 (drop_rows)"),
        (StepSpec(type: "outliers", columns: ["age"], method: "iqr", action: "drop"), "step 1 (outliers) with action 'drop'"),
        (StepSpec(type: "multilabel", column: "color"), "step 1 (multilabel)"),
    ])
    func unexportable(spec: StepSpec, message: String) throws {
        var options = CSVOptions()
        options.missing = MissingTokens(extra: ["?"])
        let (p, _, _) = try Pipeline.fit([spec], on: try DataIO.read(exportPath("raw_train.csv"), options: options), missing: ["?"])
        let e = try #require(throws: DataError.self) { try PipelineONNX.standalone(p, exclude: ["label"]) }
        #expect(e.description.contains(message), "\(e)")
        #expect(e.description.contains("cannot be exported to ONNX"), "\(e)")
    }

    @Test("text left at the end, a wrong feature count and an unknown --exclude are errors")
    func exportErrors() throws {
        let pipeline = try Pipeline.load(exportPath("pipeline.yaml"))
        let model = try ONNXModel.load(path: exportPath("model.onnx"))
        let e1 = try #require(throws: DataError.self) { try PipelineONNX.prepend(pipeline, to: model, exclude: []) }
        #expect(e1.description.contains("has 12 features, the pipeline makes 14"), "\(e1)")
        let e2 = try #require(throws: DataError.self) { try PipelineONNX.standalone(pipeline, exclude: ["nope"]) }
        #expect(e2.description.contains("'nope' is not an input column"), "\(e2)")
        var options = CSVOptions()
        options.missing = MissingTokens(extra: ["?"])
        let (p, _, _) = try Pipeline.fit([StepSpec(type: "scale", columns: ["age"], method: "zscore")],
                                         on: try DataIO.read(exportPath("raw_train.csv"), options: options), missing: ["?"])
        let e3 = try #require(throws: DataError.self) { try PipelineONNX.standalone(p, exclude: []) }
        #expect(e3.description.contains("column 'color' is still categorical"), "\(e3)")
    }
}
