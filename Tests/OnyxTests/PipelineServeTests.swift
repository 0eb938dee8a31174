// The server applies a pipeline (pipeline.yaml next to model.onnx) to raw columns before the model. Fixtures:
// Fixtures/data/export (scripts/make_pipeline_export_fixtures.py); expected probabilities from onnxruntime.
import Foundation
import Testing
@testable import Onyx
@testable import OnyxServer

extension ServerTests {
    @Test func pipelineInFrontOfModel() async throws {
        try await Self.withServer(mode: .explicit) { c, repo in
            let dir = repo.appendingPathComponent("prep_model/1")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Fixtures.url("data/export/model.onnx"), to: dir.appendingPathComponent("model.onnx"))
            try FileManager.default.copyItem(at: Fixtures.url("data/export/pipeline.yaml"), to: dir.appendingPathComponent("pipeline.yaml"))
            let (ls, lr) = try await c.post("/v2/repository/models/prep_model/load", "")
            #expect(ls == 200, "\(Self.str(lr))")

            // The raw columns are the model's inputs now (the label is not).
            let (_, meta) = try await c.get("/v2/models/prep_model")
            let inputs = meta?["inputs"]?.arrayValue ?? []
            #expect(inputs.map { $0["name"]?.stringValue ?? "" } == ["age", "income", "score", "w", "p", "q", "color", "size"])
            #expect(inputs.first { $0["name"]?.stringValue == "color" }?["datatype"]?.stringValue == "BYTES")

            // Raw rows of raw_new.csv: numeric columns as FP32 ("NaN" for missing), the colour as BYTES.
            let text = try String(contentsOf: Fixtures.url("data/export/raw_new.csv"), encoding: .utf8)
            let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            let header = lines[0], body = Array(lines[1...])
            let missing = MissingTokens(extra: ["?"])
            var parts = [String]()
            for name in header where name != "label" {
                guard let j = header.firstIndex(of: name) else { continue }
                let values = body.map { row -> String in
                    let v = row[j]
                    if name == "color" { return "\"\(v)\"" }
                    return missing.isMissing(v) ? "\"NaN\"" : v
                }
                let dt = name == "color" ? "BYTES" : "FP32"
                parts.append("{\"name\":\"\(name)\",\"datatype\":\"\(dt)\",\"shape\":[\(body.count),1],\"data\":[\(values.joined(separator: ","))]}")
            }
            let (s, r) = try await c.post("/v2/models/prep_model/infer", "{\"inputs\":[\(parts.joined(separator: ","))]}")
            #expect(s == 200, "\(Self.str(r))")
            let out = r?["outputs"]?.arrayValue?.first { $0["name"]?.stringValue == "probabilities" }
            let got = (out?["data"]?.arrayValue ?? []).compactMap(\.doubleValue)
            let data = try #require(FileManager.default.contents(atPath: Fixtures.path("data/export/ort_expected.json")))
            let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let want = ((obj["probabilities"] as? [[Any]]) ?? []).flatMap { $0.compactMap { ($0 as? NSNumber)?.doubleValue } }
            #expect(got.count == want.count && want.count == 75)
            #expect(zip(got, want).allSatisfy { abs($0 - $1) < 1e-5 })

            // A pipeline that does not fit the model is a load error naming the pipeline file.
            let bad = repo.appendingPathComponent("bad_prep/1")
            try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Fixtures.url("data/export/model.onnx"), to: bad.appendingPathComponent("model.onnx"))
            var p = try Pipeline.load(Fixtures.path("data/export/pipeline.yaml"))
            p.labels = nil
            try p.save(repo.appendingPathComponent("bad_prep/pipeline.json").path)
            let (bs, br) = try await c.post("/v2/repository/models/bad_prep/load", "")
            #expect(bs == 400)
            #expect(br?["error"]?.stringValue?.contains("pipeline.json") == true, "\(Self.str(br))")
        }
    }
}
