import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import Onyx
@testable import OnyxServer

/// The bundled CNN, pipeline (Triton ensemble) and combining ensemble, served over HTTP like ServerTests.
/// References: onnxruntime's outputs of the members (scripts/make_cnn_example.py, Examples/inputs) and numpy's
/// majority vote (scripts/make_serve_fixtures.py, Fixtures/serve/vote_*.npy).
@Suite(.serialized) struct ServerEnsembleTests {
    typealias Client = ServerTests.Client
    static let bundled = ["digits_mlp", "digits_cnn", "digits_image", "digits_cnn_pipeline", "digits_ensemble"]

    static func npy(_ name: String) throws -> Tensor {
        try NPY.read(ServerTests.examples.appendingPathComponent("inputs/\(name)"))
    }

    /// Sends `x` as input `input` and returns the outputs by name.
    static func infer(_ c: Client, _ model: String, _ input: String, _ x: Tensor) async throws -> (Int, [String: [JSON]], JSON?) {
        let data: String
        if x.dtype == .int64 {
            data = x.int64Values().map { String($0) }.joined(separator: ",")
        } else {
            data = try x.toArray(Float.self).map { $0.description }.joined(separator: ",")
        }
        let dt = x.dtype == .int64 ? "INT64" : "FP32"
        let (s, r) = try await c.post("/v2/models/\(model)/infer",
                                      "{\"inputs\":[{\"name\":\"\(input)\",\"datatype\":\"\(dt)\",\"shape\":\(x.shape),\"data\":[\(data)]}]}")
        var outs: [String: [JSON]] = [:]
        for o in r?["outputs"]?.arrayValue ?? [] {
            if let n = o["name"]?.stringValue { outs[n] = o["data"]?.arrayValue ?? [] }
        }
        return (s, outs, r)
    }

    static func expectClose(_ got: [JSON], _ expected: Tensor, _ what: String) {
        let g = got.compactMap(\.doubleValue)
        #expect(g.count == expected.count, "\(what): \(g.count) values")
        for i in 0..<min(g.count, expected.count) {
            let e = expected.doubleValue(at: i)
            #expect(abs(g[i] - e) <= 1e-5 + 1e-3 * abs(e), "\(what)[\(i)]: \(g[i]) vs \(e)")
        }
    }

    @Test func bundledCNNPipelineAndEnsembleMatchOnnxruntime() async throws {
        try await ServerTests.withServer(examples: Self.bundled) { c, _ in
            let x = try Self.npy("digits.npy"), img = try Self.npy("digits_image.npy")
            let cnnP = try Self.npy("digits_cnn_expected_probabilities.npy"), cnnL = try Self.npy("digits_cnn_expected_label.npy")
            // The CNN itself (NCHW input, dynamic batching from its config.pbtxt).
            let (_, cfg) = try await c.get("/v2/models/digits_cnn/config")
            #expect(cfg?["dynamic_batching"]?["preferred_batch_size"] == .array([.int(16), .int(32)]))
            #expect(cfg?["max_batch_size"] == .int(64))
            let (s1, o1, r1) = try await Self.infer(c, "digits_cnn", "image", img)
            #expect(s1 == 200, "\(ServerTests.str(r1))")
            Self.expectClose(o1["probabilities"] ?? [], cnnP, "cnn probabilities")
            #expect((o1["label"] ?? []).compactMap(\.int64Value) == cnnL.int64Values())
            // The pipeline digits_image -> digits_cnn on 64-float rows gives the CNN's outputs.
            let (s2, o2, r2) = try await Self.infer(c, "digits_cnn_pipeline", "X", x)
            #expect(s2 == 200, "\(ServerTests.str(r2))")
            Self.expectClose(o2["probabilities"] ?? [], cnnP, "pipeline probabilities")
            #expect((o2["label"] ?? []).compactMap(\.int64Value) == cnnL.int64Values())
            #expect(r2?["model_name"]?.stringValue == "digits_cnn_pipeline")
            // The ensemble: mean of the MLP's and the CNN pipeline's probabilities.
            let (s3, o3, r3) = try await Self.infer(c, "digits_ensemble", "X", x)
            #expect(s3 == 200, "\(ServerTests.str(r3))")
            Self.expectClose(o3["probabilities"] ?? [], try Self.npy("digits_ensemble_expected_probabilities.npy"), "ensemble probabilities")
            // Described like any model: metadata, config, ready, stats, index.
            let (sm, meta) = try await c.get("/v2/models/digits_ensemble")
            #expect(sm == 200)
            #expect(meta?["platform"]?.stringValue == "ensemble")
            #expect(meta?["inputs"]?.arrayValue?.first?["shape"] == .array([.int(-1), .int(64)]))
            let (_, ecfg) = try await c.get("/v2/models/digits_ensemble/config")
            #expect(ecfg?["ensemble_scheduling"]?["step"]?.arrayValue?.compactMap { $0["model_name"]?.stringValue } == ["digits_mlp", "digits_cnn_pipeline"])
            #expect(ecfg?["parameters"]?["combine"]?["string_value"]?.stringValue == "mean")
            #expect(try await c.get("/v2/models/digits_ensemble/ready").0 == 200)
            let (_, st) = try await c.get("/v2/models/digits_ensemble/stats")
            let es = st?["model_stats"]?.arrayValue?.first
            #expect(es?["inference_count"] == .uint64(8) || es?["inference_count"] == .int(8))
            #expect(es?["inference_stats"]?["success"]?["count"] == .uint64(1) || es?["inference_stats"]?["success"]?["count"] == .int(1))
            let (_, idx) = try await c.post("/v2/repository/index", "{}")
            let e = idx?.arrayValue?.first { $0["name"]?.stringValue == "digits_ensemble" }
            #expect(e?["state"]?.stringValue == "READY")
            // Errors name the input as for any model.
            let (s4, r4) = try await c.post("/v2/models/digits_ensemble/infer", "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}]}")
            #expect(s4 == 400)
            #expect(r4?["error"]?.stringValue?.contains("expected shape [-1, 64], got [1, 3]") == true, "\(ServerTests.str(r4))")
        }
    }

    @Test func voteAndMissingMember() async throws {
        try await ServerTests.withServer(examples: []) { c, _ in
            let rows = try NPY.read(Fixtures.url("serve/vote_input.npy"))
            let expected = try NPY.read(Fixtures.url("serve/vote_expected.npy"))
            let (s, o, r) = try await Self.infer(c, "vote3", "X", rows)
            #expect(s == 200, "\(ServerTests.str(r))")
            #expect((o["label"] ?? []).compactMap(\.int64Value) == expected.int64Values())
            // A member that does not exist: the ensemble is UNAVAILABLE with the reason, everything else serves.
            #expect(try await c.get("/v2/models/ens_missing/ready").0 == 503)
            let (s2, r2) = try await c.post("/v2/models/ens_missing/infer", "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}]}")
            #expect(s2 == 503)
            #expect(r2?["error"]?.stringValue?.contains("no_such_model") == true, "\(ServerTests.str(r2))")
            let (_, idx) = try await c.post("/v2/repository/index", "{}")
            let e = idx?.arrayValue?.first { $0["name"]?.stringValue == "ens_missing" }
            #expect(e?["state"]?.stringValue == "UNAVAILABLE")
            #expect(e?["reason"]?.stringValue?.contains("member 'no_such_model'") == true, "\(ServerTests.str(e))")
            #expect(try await c.get("/v2/models/vote3/ready").0 == 200)
        }
    }

    @Test func memberUnloadAndLoadKeepTheEnsembleConsistent() async throws {
        try await ServerTests.withServer(mode: .explicit, examples: Self.bundled) { c, _ in
            // Loading the ensemble loads its members (and theirs) too, as Triton does in explicit mode.
            #expect(try await c.get("/v2/models/digits_cnn/ready").0 == 404)
            let (s0, r0) = try await c.post("/v2/repository/models/digits_ensemble/load", "")
            #expect(s0 == 200, "load: \(ServerTests.str(r0))")
            for m in ["digits_mlp", "digits_image", "digits_cnn", "digits_cnn_pipeline", "digits_ensemble"] {
                #expect(try await c.get("/v2/models/\(m)/ready").0 == 200, "\(m) not ready")
            }
            let x = try Self.npy("digits.npy")
            #expect(try await c.get("/v2/models/digits_cnn_pipeline/ready").0 == 200)
            #expect(try await Self.infer(c, "digits_cnn_pipeline", "X", x).0 == 200)
            // Unloading a member makes the pipeline unavailable, naming the member.
            #expect(try await c.post("/v2/repository/models/digits_cnn/unload", "").0 == 200)
            #expect(try await c.get("/v2/models/digits_cnn_pipeline/ready").0 == 503)
            #expect(try await c.get("/v2/models/digits_ensemble/ready").0 == 503)
            let (s, _, r) = try await Self.infer(c, "digits_cnn_pipeline", "X", x)
            #expect(s == 503)
            #expect(r?["error"]?.stringValue?.contains("member 'digits_cnn'") == true, "\(ServerTests.str(r))")
            // Loading it again brings the pipeline back with the same results.
            #expect(try await c.post("/v2/repository/models/digits_cnn/load", "").0 == 200)
            #expect(try await c.get("/v2/models/digits_cnn_pipeline/ready").0 == 200)
            let (s2, o2, _) = try await Self.infer(c, "digits_cnn_pipeline", "X", x)
            #expect(s2 == 200)
            Self.expectClose(o2["probabilities"] ?? [], try Self.npy("digits_cnn_expected_probabilities.npy"), "pipeline after reload")
        }
    }

    @Test func pollModeNewMemberVersionServesTheEnsemble() async throws {
        try await ServerTests.withServer(mode: .poll, examples: Self.bundled) { c, repo in
            let x = try Self.npy("digits.npy")
            #expect(try await Self.infer(c, "digits_cnn_pipeline", "X", x).0 == 200)
            // A new version of a member: the pipeline's next requests run on it, none fails meanwhile.
            let v2 = repo.appendingPathComponent("digits_cnn/2")
            let tmp = repo.appendingPathComponent("digits_cnn/.incoming")
            try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: repo.appendingPathComponent("digits_cnn/1/model.onnx"), to: tmp.appendingPathComponent("model.onnx"))
            try FileManager.default.moveItem(at: tmp, to: v2)
            var served = false
            for _ in 0..<40 {
                let (s, o, _) = try await Self.infer(c, "digits_cnn_pipeline", "X", x)
                #expect(s == 200)
                Self.expectClose(o["probabilities"] ?? [], try Self.npy("digits_cnn_expected_probabilities.npy"), "pipeline during reload")
                let (_, st) = try await c.get("/v2/models/digits_cnn/versions/2/stats")
                if let n = st?["model_stats"]?.arrayValue?.first?["inference_count"]?.int64Value, n > 0 { served = true; break }
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(served, "the pipeline never ran on digits_cnn version 2")
        }
    }

    static let badConfigs: [(String, String)] = [
        ("platform: \"ensemble\" input [ { name: \"X\" data_type: TYPE_FP32 dims: [ 4 ] } ] output [ { name: \"Y\" data_type: TYPE_FP32 dims: [ 4 ] } ]",
         "ensemble_scheduling"),
        ("platform: \"ensemble\" input [ { name: \"X\" data_type: TYPE_FP32 dims: [ 4 ] } ] output [ { name: \"Y\" data_type: TYPE_FP32 dims: [ 4 ] } ] "
            + "ensemble_scheduling { step [ { model_name: \"a\" input_map { key: \"x\" value: \"T2\" } output_map { key: \"y\" value: \"T1\" } }, "
            + "{ model_name: \"b\" input_map { key: \"x\" value: \"T1\" } output_map { key: \"y\" value: \"T2\" } }, "
            + "{ model_name: \"c\" input_map { key: \"x\" value: \"X\" } output_map { key: \"y\" value: \"Y\" } } ] }",
         "cycle"),
        ("platform: \"ensemble\" input [ { name: \"X\" data_type: TYPE_FP32 dims: [ 4 ] } ] output [ { name: \"Y\" data_type: TYPE_FP32 dims: [ 4 ] } ] "
            + "ensemble_scheduling { step [ { model_name: \"a\" input_map { key: \"x\" value: \"X\" } output_map { key: \"y\" value: \"Y\" } }, "
            + "{ model_name: \"b\" input_map { key: \"x\" value: \"X\" } output_map { key: \"y\" value: \"Y\" } } ] }",
         "produced twice"),
        ("platform: \"ensemble\" input [ { name: \"X\" data_type: TYPE_FP32 dims: [ 4 ] } ] output [ { name: \"Y\" data_type: TYPE_INT64 dims: [ ] } ] "
            + "parameters { key: \"combine\" value { string_value: \"mean\" } } "
            + "ensemble_scheduling { step [ { model_name: \"a\" input_map { key: \"x\" value: \"X\" } output_map { key: \"y\" value: \"Y\" } }, "
            + "{ model_name: \"b\" input_map { key: \"x\" value: \"X\" } output_map { key: \"y\" value: \"Y\" } } ] }",
         "needs floating-point outputs"),
        ("platform: \"ensemble\" input [ { name: \"X\" data_type: TYPE_FP32 dims: [ 4 ] } ] output [ { name: \"Y\" data_type: TYPE_FP32 dims: [ 4 ] } ] "
            + "parameters { key: \"combine\" value { string_value: \"median\" } } "
            + "ensemble_scheduling { step [ { model_name: \"a\" input_map { key: \"x\" value: \"X\" } output_map { key: \"y\" value: \"Y\" } } ] }",
         "must be none, mean or vote"),
        ("platform: \"ensemble\" input [ { name: \"X\" data_type: TYPE_FP32 dims: [ 4 ] } ] output [ { name: \"Y\" data_type: TYPE_FP32 dims: [ 4 ] } ] "
            + "ensemble_scheduling { step [ { model_name: \"a\" input_map { key: \"x\" value: \"X\" } output_map { key: \"y\" value: \"Z\" } } ] }",
         "not produced by any step"),
        ("platform: \"ensemble\" ensemble_scheduling { step [ { model_name: \"a\" input_map { key: \"x\" value: \"X\" } output_map { key: \"y\" value: \"Y\" } } ] }",
         "must list its inputs and outputs"),
    ]

    @Test(arguments: badConfigs) func badEnsembleConfigsAreRejected(_ text: String, _ message: String) {
        do {
            _ = try ModelConfig.parse(text, json: false, defaultName: "e").completedEnsemble()
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test func jsonEnsembleConfig() throws {
        let text = """
        {"platform": "ensemble", "max_batch_size": 4,
         "input": [{"name": "X", "data_type": "TYPE_FP32", "dims": [4]}],
         "output": [{"name": "Y", "data_type": "TYPE_FP32", "dims": [4]}],
         "parameters": {"combine": {"string_value": "mean"}},
         "ensemble_scheduling": {"step": [
           {"model_name": "a", "model_version": -1, "input_map": {"x": "X"}, "output_map": {"y": "Y"}},
           {"model_name": "b", "model_version": 2, "input_map": {"x": "X"}, "output_map": {"y": "Y"}}]}}
        """
        let c = try ModelConfig.parse(text, json: true, defaultName: "e").completedEnsemble()
        #expect(c.ensemble?.combine == .mean)
        #expect(c.ensemble?.steps.map(\.modelName) == ["a", "b"])
        #expect(c.ensemble?.steps.last?.modelVersion == 2)
        #expect(c.ensemble?.steps.first?.inputMap.first?.0 == "x")
    }
}
