import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import Onyx
@testable import OnyxServer

/// Integration tests: the real server on a loopback port, driven over HTTP.
/// The repository is Tests/OnyxTests/Fixtures/serve (scripts/make_serve_fixtures.py) plus the bundled digits MLP.
@Suite(.serialized) struct ServerTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Examples")

    /// A fresh copy of the fixture repository (tests may modify it).
    static func makeRepository(examples names: [String] = ["digits_mlp"]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-serve-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Fixtures.url("serve"), to: dir)
        for n in names {
            try FileManager.default.copyItem(at: examples.appendingPathComponent("models/\(n)"), to: dir.appendingPathComponent(n))
        }
        return dir
    }

    struct Client {
        let base: String
        var token: String?

        func request(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [String: String] = [:]) async throws -> (Int, [UInt8], [String: String]) {
            guard let url = URL(string: base + path) else { throw ServeError.bad("bad url \(path)") }
            var r = URLRequest(url: url)
            r.httpMethod = method
            r.timeoutInterval = 30
            if let body { r.httpBody = Data(body) }
            for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
            if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            let (data, resp) = try await URLSession.shared.data(for: r)
            guard let h = resp as? HTTPURLResponse else { throw ServeError.bad("no HTTP response") }
            var hs: [String: String] = [:]
            for (k, v) in h.allHeaderFields { hs[String(describing: k).lowercased()] = String(describing: v) }
            return (h.statusCode, Array(data), hs)
        }

        func get(_ path: String) async throws -> (Int, JSON?) {
            let (s, b, _) = try await request("GET", path)
            return (s, b.isEmpty ? nil : try? JSONParser.parse(b))
        }

        func post(_ path: String, _ json: String) async throws -> (Int, JSON?) {
            let (s, b, _) = try await request("POST", path, body: Array(json.utf8), headers: ["Content-Type": "application/json"])
            return (s, b.isEmpty ? nil : try? JSONParser.parse(b))
        }
    }

    /// Runs `body` against a started server; stops the server afterwards.
    static func withServer(mode: ModelControlMode = .none, maxRequestBytes: Int = 64 << 20, token: String? = nil,
                           examples: [String] = ["digits_mlp"],
                           _ body: @Sendable (Client, URL) async throws -> Void) async throws {
        let repo = try makeRepository(examples: examples)
        defer { try? FileManager.default.removeItem(at: repo) }
        var o = ServeOptions(repository: repo.path)
        o.httpPort = 0
        o.grpcPort = nil
        o.controlMode = mode
        o.pollSeconds = 1
        o.maxRequestBytes = maxRequestBytes
        o.authToken = token
        o.threads = 1
        let server = try InferenceServer(options: o)
        let (ports, cont) = AsyncStream<Int>.makeStream()
        let task = Task { try await server.run(gracefulShutdownSignals: []) { http, _ in cont.yield(http); cont.finish() } }
        var it = ports.makeAsyncIterator()
        guard let port = await it.next() else { task.cancel(); throw ServeError.bad("server did not start") }
        do {
            try await body(Client(base: "http://127.0.0.1:\(port)", token: token), repo)
        } catch {
            task.cancel(); _ = try? await task.value
            throw error
        }
        task.cancel()
        _ = try? await task.value
    }

    static func str(_ j: JSON?) -> String { j.map { String(decoding: JSONWriter.encode($0), as: UTF8.self) } ?? "nil" }

    @Test func healthMetadataConfigAndIndex() async throws {
        try await Self.withServer { c, _ in
            let (s0, v2) = try await c.get("/v2")
            #expect(s0 == 200)
            #expect(v2?["name"]?.stringValue == "onyx")
            #expect(v2?["extensions"]?.arrayValue?.contains(.string("binary_tensor_data")) == true)
            #expect(try await c.get("/v2/health/live").0 == 200)
            #expect(try await c.get("/v2/health/ready").0 == 200)

            let (s1, meta) = try await c.get("/v2/models/identity_fp32")
            #expect(s1 == 200)
            #expect(meta?["versions"] == .array([.string("1"), .string("2")]))
            #expect(meta?["inputs"]?.arrayValue?.first?["shape"] == .array([.int(-1), .int(4)]))
            #expect(meta?["inputs"]?.arrayValue?.first?["datatype"]?.stringValue == "FP32")
            #expect(try await c.get("/v2/models/identity_fp32/versions/1/ready").0 == 200)
            #expect(try await c.get("/v2/models/identity_fp32/versions/2").0 == 200)
            #expect(try await c.get("/v2/models/identity_fp32/versions/9").0 == 404)
            #expect(try await c.get("/v2/models/nope").0 == 404)
            #expect(try await c.get("/v2/models/nope/ready").0 == 404)
            #expect(try await c.get("/v2/models/broken/ready").0 == 503)
            #expect(try await c.get("/v2/models/badconfig/ready").0 == 503)

            // The config as config.pbtxt gives it (the reference is the fixture text).
            let (s2, cfg) = try await c.get("/v2/models/identity_fp32/config")
            #expect(s2 == 200)
            #expect(cfg?["max_batch_size"] == .int(8))
            #expect(cfg?["dynamic_batching"]?["preferred_batch_size"] == .array([.int(4), .int(8)]))
            #expect(cfg?["dynamic_batching"]?["max_queue_delay_microseconds"] == .int(2000))
            #expect(cfg?["dynamic_batching"]?["default_queue_policy"]?["max_queue_size"] == .int(64))
            #expect(cfg?["instance_group"]?.arrayValue?.first?["count"] == .int(2))
            #expect(cfg?["input"]?.arrayValue?.first?["dims"] == .array([.int(4)]))
            // A model without config: completed from the model.
            let (_, cfg2) = try await c.get("/v2/models/identity_types/config")
            #expect(cfg2?["input"]?.arrayValue?.count == 13)

            let (s3, idx) = try await c.post("/v2/repository/index", "{}")
            #expect(s3 == 200)
            let entries = idx?.arrayValue ?? []
            let broken = entries.first { $0["name"]?.stringValue == "broken" }
            #expect(broken?["state"]?.stringValue == "UNAVAILABLE")
            #expect(broken?["reason"]?.stringValue?.contains("not a valid ONNX model") == true)
            let bad = entries.first { $0["name"]?.stringValue == "badconfig" }
            #expect(bad?["reason"]?.stringValue?.contains("config.pbtxt") == true)
            #expect(entries.contains { $0["name"]?.stringValue == "identity_fp32" && $0["state"]?.stringValue == "READY" })

            let (s4, metrics, _) = try await c.request("GET", "/metrics")
            #expect(s4 == 200)
            #expect(String(decoding: metrics, as: UTF8.self).contains("nv_inference_request_success"))
        }
    }

    /// One value list per v2 datatype (all of batch size 2: the model batches, so every input shares dimension 0), sent through Identity: the reference output is the input itself.
    static let typedValues: [(String, String, [Int])] = [
        ("BOOL", "[true,false]", [2]),
        ("UINT8", "[7,255]", [2]),
        ("UINT16", "[0,65535]", [2]),
        ("UINT32", "[4294967295,1]", [2]),
        ("UINT64", "[18446744073709551615,0]", [2]),
        ("INT8", "[-128,127]", [2]),
        ("INT16", "[-32768,32767]", [2]),
        ("INT32", "[-2147483648,2147483647]", [2]),
        ("INT64", "[-9223372036854775808,9223372036854775807]", [2]),
        ("FP16", "[1.5,-2.0]", [2]),
        ("FP32", "[[1.25],[-3.5]]", [2]),
        ("FP64", "[0.1,1e-300]", [2]),
        ("BYTES", "[\"héllo\",\"a\\\"b\"]", [2]),
    ]

    @Test func jsonInferenceEveryDatatype() async throws {
        try await Self.withServer { c, _ in
            let inputs = Self.typedValues.map { dt, data, shape in
                "{\"name\":\"in_\(dt)\",\"datatype\":\"\(dt)\",\"shape\":\(shape),\"data\":\(data)}"
            }.joined(separator: ",")
            let (s, r) = try await c.post("/v2/models/identity_types/infer", "{\"id\":\"req-7\",\"inputs\":[\(inputs)]}")
            #expect(s == 200, "\(Self.str(r))")
            #expect(r?["id"]?.stringValue == "req-7")
            #expect(r?["model_name"]?.stringValue == "identity_types")
            for (dt, data, shape) in Self.typedValues {
                let o = r?["outputs"]?.arrayValue?.first { $0["name"]?.stringValue == "out_\(dt)" }
                #expect(o?["datatype"]?.stringValue == dt)
                #expect(o?["shape"] == .array(shape.map { .int($0) }))
                var flat: [JSON] = []
                try TensorCoding.flatten(try JSONParser.parse(Array(data.utf8)), into: &flat, limit: 100, name: dt)
                let got = o?["data"]?.arrayValue ?? []
                #expect(got.count == flat.count, "\(dt)")
                for (a, b) in zip(got, flat) {
                    if let x = a.doubleValue, let y = b.doubleValue, dt.hasPrefix("FP") {
                        #expect(x == y, "\(dt)")
                    } else {
                        #expect(a == b, "\(dt)")
                    }
                }
            }
            // Requested outputs: only those, in that order.
            let (s2, r2) = try await c.post("/v2/models/identity_types/infer", "{\"inputs\":[\(inputs)],\"outputs\":[{\"name\":\"out_INT8\"},{\"name\":\"out_BOOL\"}]}")
            #expect(s2 == 200)
            #expect(r2?["outputs"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" } == ["out_INT8", "out_BOOL"])
        }
    }

    @Test func binaryInferenceAndMLP() async throws {
        try await Self.withServer { c, _ in
            // Binary in, binary out: 2 rows of 4 floats through identity_fp32.
            let values: [Float] = [1, -2, 3.5, 4, 0.125, 6, -7, 8e9]
            var bin: [UInt8] = []
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bin += $0 } }
            let header = Array("{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[2,4],\"parameters\":{\"binary_data_size\":32}}],\"outputs\":[{\"name\":\"Y\",\"parameters\":{\"binary_data\":true}}]}".utf8)
            let (s, body, h) = try await c.request("POST", "/v2/models/identity_fp32/versions/1/infer", body: header + bin,
                                                   headers: ["Inference-Header-Content-Length": String(header.count)])
            #expect(s == 200, "\(String(decoding: body, as: UTF8.self))")
            let jl = Int(h["inference-header-content-length"] ?? "") ?? -1
            #expect(jl > 0 && jl <= body.count)
            guard jl > 0 && jl <= body.count else { return }
            let j = try JSONParser.parse(body[0..<jl])
            #expect(j["model_version"]?.stringValue == "1")
            #expect(j["outputs"]?.arrayValue?.first?["parameters"]?["binary_data_size"] == .int(32))
            #expect(Array(body[jl...]) == bin)

            // The digits MLP on real data; the reference is onnxruntime's output (Examples/inputs, scripts/make_examples.py).
            let x = try NPY.read(Self.examples.appendingPathComponent("inputs/digits.npy"))
            let expected = try NPY.read(Self.examples.appendingPathComponent("inputs/digits_expected_probabilities.npy"))
            let labels = try NPY.read(Self.examples.appendingPathComponent("inputs/digits_expected_label.npy"))
            let xs = try x.toArray(Float.self).map { $0.description }.joined(separator: ",")
            let (s2, r) = try await c.post("/v2/models/digits_mlp/infer",
                                           "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":\(x.shape),\"data\":[\(xs)]}]}")
            #expect(s2 == 200, "\(Self.str(r))")
            let probs = r?["outputs"]?.arrayValue?.first { $0["name"]?.stringValue == "probabilities" }
            let got = (probs?["data"]?.arrayValue ?? []).compactMap(\.doubleValue)
            #expect(got.count == expected.count)
            for i in 0..<min(got.count, expected.count) { #expect(abs(got[i] - expected.doubleValue(at: i)) <= 1e-5 + 1e-3 * abs(expected.doubleValue(at: i))) }
            let lab = r?["outputs"]?.arrayValue?.first { $0["name"]?.stringValue == "label" }
            #expect((lab?["data"]?.arrayValue ?? []).compactMap(\.int64Value) == labels.int64Values())
        }
    }

    @Test func everyErrorClass() async throws {
        try await Self.withServer(maxRequestBytes: 4096) { c, _ in
            let ok = "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}]}"
            #expect(try await c.post("/v2/models/identity_fp32/infer", ok).0 == 200)
            let cases: [(String, String, Int, String)] = [
                ("/v2/models/identity_fp32/infer", "{\"inputs\":[", 400, "invalid JSON"),
                ("/v2/models/identity_fp32/infer", "{\"inputs\":[{\"name\":\"Z\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}]}", 400, "unknown input 'Z'"),
                ("/v2/models/identity_fp32/infer", "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[1,5],\"data\":[1,2,3,4,5]}]}", 400, "expected shape [-1, 4], got [1, 5]"),
                ("/v2/models/identity_fp32/infer", "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"INT64\",\"shape\":[1,4],\"data\":[1,2,3,4]}]}", 400, "expected datatype FP32, got INT64"),
                ("/v2/models/identity_fp32/infer", "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3]}]}", 400, "needs 4 elements"),
                ("/v2/models/identity_fp32/infer", "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[9,4],\"data\":[\(Array(repeating: "0", count: 36).joined(separator: ","))]}]}", 400, "max_batch_size 8"),
                ("/v2/models/identity_fp32/infer", "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}],\"outputs\":[{\"name\":\"nope\"}]}", 400, "unknown output 'nope'"),
                ("/v2/models/identity_types/infer", "{\"inputs\":[{\"name\":\"in_BYTES\",\"datatype\":\"BYTES\",\"shape\":[2147483647,512],\"data\":[\"a\"]}]}", 400, "needs"),
                ("/v2/models/identity_fp32/infer", "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[2147483647,2147483647],\"data\":[1]}]}", 400, "too large"),
                ("/v2/models/identity_fp32/versions/7/infer", ok, 404, "unknown version"),
                ("/v2/models/missing/infer", ok, 404, "unknown model"),
                ("/v2/models/broken/infer", ok, 503, "not ready"),
                ("/v2/models/identity_fp32/infer", "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[64,4],\"data\":[\(Array(repeating: "0.000001", count: 600).joined(separator: ","))]}]}", 413, "max-request-bytes"),
                ("/v2/repository/models/identity_fp32/unload", "{}", 400, "explicit"),
            ]
            for (path, body, status, text) in cases {
                let (s, r) = try await c.post(path, body)
                #expect(s == status, "\(path) \(body.prefix(80)) -> \(Self.str(r))")
                #expect(r?["error"]?.stringValue?.contains(text) == true, "\(Self.str(r)) should mention \(text)")
            }
        }
    }

    @Test func randomAndTruncatedBodiesAreAnswered4xx() async throws {
        try await Self.withServer { c, _ in
            let valid = Array("{\"id\":\"x\",\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[2,4],\"data\":[[1,2,3,4],[5,6,7,8]]}],\"outputs\":[{\"name\":\"Y\",\"parameters\":{\"binary_data\":true}}]}".utf8)
            var rng = SystemRandomNumberGenerator()
            for i in 0..<300 {
                var body: [UInt8]
                var headers: [String: String] = [:]
                switch i % 4 {
                case 0: body = Array(valid.prefix(Int.random(in: 0..<valid.count, using: &rng)))
                case 1: body = (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                case 2:
                    body = valid
                    for _ in 0..<3 { body[Int.random(in: 0..<body.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                    if (try? JSONParser.parse(body)) != nil { continue }
                default:
                    body = valid + (0..<Int.random(in: 1..<50, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    headers["Inference-Header-Content-Length"] = [String(valid.count), "-1", "99999", "abc"][i / 4 % 4]
                }
                let (s, b, _) = try await c.request("POST", "/v2/models/identity_fp32/infer", body: body, headers: headers)
                #expect((400..<500).contains(s), "body \(i): status \(s) \(String(decoding: b, as: UTF8.self))")
                #expect((try? JSONParser.parse(b))?["error"] != nil)
            }
            #expect(try await c.get("/v2/health/ready").0 == 200)
            let (s, _) = try await c.post("/v2/models/identity_fp32/infer", String(decoding: valid, as: UTF8.self))
            #expect(s == 200)
        }
    }

    @Test func bearerTokenGuardsAllButHealth() async throws {
        try await Self.withServer(token: "s3cret") { (c: Client, _: URL) async throws in
            var anon = c
            anon.token = nil
            #expect(try await anon.get("/v2/health/live").0 == 200)
            #expect(try await anon.get("/v2/health/ready").0 == 200)
            #expect(try await anon.get("/v2").0 == 401)
            #expect(try await anon.get("/metrics").0 == 401)
            #expect(try await c.get("/v2").0 == 200)
            var wrong = c
            wrong.token = "s3cres"
            #expect(try await wrong.get("/v2/models/identity_fp32").0 == 401)
        }
    }

    @Test func explicitLoadUnload() async throws {
        try await Self.withServer(mode: .explicit) { c, _ in
            #expect(try await c.get("/v2/models/identity_fp32/ready").0 == 404)
            let (_, idx) = try await c.post("/v2/repository/index", "")
            #expect(idx?.arrayValue?.contains { $0["name"]?.stringValue == "identity_fp32" && $0["reason"]?.stringValue == "unloaded" } == true)
            #expect(try await c.post("/v2/repository/models/identity_fp32/load", "").0 == 200)
            #expect(try await c.get("/v2/models/identity_fp32/ready").0 == 200)
            #expect(try await c.post("/v2/repository/models/..%2F..%2Fetc/load", "").0 == 400)
            #expect(try await c.post("/v2/repository/models/.hidden/load", "").0 == 400)
            #expect(try await c.post("/v2/repository/models/nothere/load", "").0 == 404)
            let (sb, rb) = try await c.post("/v2/repository/models/broken/load", "")
            #expect(sb == 400 && rb?["error"]?.stringValue?.contains("not a valid ONNX model") == true)
            #expect(try await c.post("/v2/repository/models/identity_fp32/unload", "{}").0 == 200)
            #expect(try await c.get("/v2/models/identity_fp32/ready").0 == 404)
        }
    }

    @Test func dynamicBatchingGathersConcurrentRequests() async throws {
        try await Self.withServer { c, _ in
            let results = try await withThrowingTaskGroup(of: (Int, JSON?).self) { g in
                for i in 0..<24 {
                    g.addTask {
                        try await c.post("/v2/models/identity_fp32/versions/2/infer",
                                         "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[\(i),\(i + 1),\(i + 2),\(i + 3)]}]}")
                    }
                }
                var out: [(Int, JSON?)] = []
                for try await r in g { out.append(r) }
                return out
            }
            #expect(results.allSatisfy { $0.0 == 200 })
            for (_, r) in results {
                let d = r?["outputs"]?.arrayValue?.first?["data"]?.arrayValue?.compactMap(\.doubleValue) ?? []
                #expect(d.count == 4 && d[1] == d[0] + 1 && d[3] == d[0] + 3)
            }
            let (_, st) = try await c.get("/v2/models/identity_fp32/versions/2/stats")
            let s = st?["model_stats"]?.arrayValue?.first
            #expect(s?["inference_count"] == .int(24))
            #expect(s?["inference_stats"]?["success"]?["count"] == .int(24))
            #expect((s?["execution_count"]?.intValue ?? 99) <= 24)
        }
    }

    /// slow_queue waits 1 s for a full batch and queues at most one request: a second request finds the queue full
    /// (503), and a request whose `timeout` parameter is shorter than the wait expires in the queue (503).
    @Test func queueFullAndTimeoutAnswer503() async throws {
        try await Self.withServer { c, _ in
            let body = "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}]}"
            let first = Task { try await c.post("/v2/models/slow_queue/infer", body) }
            try await Task.sleep(for: .milliseconds(300))
            let (s2, r2) = try await c.post("/v2/models/slow_queue/infer", body)
            #expect(s2 == 503)
            #expect(r2?["error"]?.stringValue?.contains("queue of model 'slow_queue' is full") == true, "\(Self.str(r2))")
            let (s1, _) = try await first.value
            #expect(s1 == 200)
            let timed = "{\"parameters\":{\"timeout\":100000},\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}]}"
            let t0 = Date()
            let (s3, r3) = try await c.post("/v2/models/slow_queue/infer", timed)
            #expect(s3 == 503)
            #expect(r3?["error"]?.stringValue?.contains("timed out") == true, "\(Self.str(r3))")
            #expect(Date().timeIntervalSince(t0) < 0.9)
            #expect(try await c.get("/v2/health/ready").0 == 200)
        }
    }

    @Test func pollModeServesNewVersions() async throws {
        try await Self.withServer(mode: .poll) { c, repo in
            let (_, m0) = try await c.get("/v2/models/identity_types")
            #expect(m0?["versions"] == .array([.string("1")]))
            let v2 = repo.appendingPathComponent("identity_types/2")
            try FileManager.default.createDirectory(at: v2, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: repo.appendingPathComponent("identity_types/1/model.onnx"), to: v2.appendingPathComponent("model.onnx"))
            var seen = false
            for _ in 0..<40 {
                try await Task.sleep(for: .milliseconds(250))
                let (s, r) = try await c.post("/v2/models/identity_types/infer", "{\"inputs\":[\(Self.typedValues.map { "{\"name\":\"in_\($0.0)\",\"datatype\":\"\($0.0)\",\"shape\":\($0.2),\"data\":\($0.1)}" }.joined(separator: ","))]}")
                #expect(s == 200)
                if r?["model_version"]?.stringValue == "2" { seen = true; break }
            }
            #expect(seen)
        }
    }

    @Test func pbtxtParser() throws {
        let text = try String(contentsOf: Fixtures.url("serve/identity_fp32/config.pbtxt"), encoding: .utf8)
        let c = try ModelConfig.parse(text, json: false, defaultName: "x")
        #expect(c.name == "identity_fp32")
        #expect(c.maxBatchSize == 8)
        #expect(c.inputs == [TensorConfig(name: "X", dataType: .float32, dims: [4])])
        #expect(c.dynamicBatching?.preferredBatchSizes == [4, 8])
        #expect(c.dynamicBatching?.maxQueueSize == 64)
        #expect(c.instanceCount == 2)
        #expect(c.versionPolicy == .all)
        let j = try ModelConfig.parse("{\"max_batch_size\": 4, \"version_policy\": {\"specific\": {\"versions\": [1, 3]}}, \"input\": [{\"name\": \"X\", \"data_type\": \"TYPE_INT64\", \"dims\": [-1]}]}", json: true, defaultName: "m")
        #expect(j.name == "m" && j.maxBatchSize == 4 && j.versionPolicy == .specific([1, 3]) && j.inputs.first?.dataType == .int64)
        #expect(throws: ServeError.self) { try ModelConfig.parse("input [ { name: ", json: false, defaultName: "x") }
    }

    /// `Content-Encoding: gzip` / `deflate` bodies (scripts/make_gzip_fixtures.py: Python's gzip and zlib) answer
    /// exactly like the plain body; a corrupt stream is a 400, one inflating past --max-request-bytes a 413.
    @Test func compressedRequestBodies() async throws {
        @Sendable func fixture(_ name: String) throws -> [UInt8] {
            Array(try Data(contentsOf: Fixtures.url("compressed").appendingPathComponent(name)))
        }
        let plain = try fixture("request.json")
        try await Self.withServer(maxRequestBytes: 4096) { c, _ in
            let (s0, want, _) = try await c.request("POST", "/v2/models/identity_fp32/infer", body: plain)
            #expect(s0 == 200, "\(String(decoding: want, as: UTF8.self))")
            for (file, enc) in [("request.json.gz", "gzip"), ("request.json.flags.gz", "gzip"), ("request.json.zlib", "deflate"),
                                ("request.json.deflate", "deflate")] {
                let (s, got, _) = try await c.request("POST", "/v2/models/identity_fp32/infer", body: try fixture(file),
                                                      headers: ["Content-Encoding": enc])
                #expect(s == 200 && got == want, "\(file): \(s) \(String(decoding: got, as: UTF8.self))")
            }
            for (file, enc, status, text) in [("corrupt.gz", "gzip", 400, "CRC-32"), ("bomb.gz", "gzip", 413, "max-request-bytes"),
                                              ("request.json.gz", "br", 400, "not supported"),
                                              ("request.json", "gzip", 400, "not a gzip stream")] {
                let (s, got, _) = try await c.request("POST", "/v2/models/identity_fp32/infer", body: try fixture(file),
                                                      headers: ["Content-Encoding": enc])
                let j = try? JSONParser.parse(got)
                #expect(s == status, "\(file) as \(enc): \(s) \(String(decoding: got, as: UTF8.self))")
                #expect(j?["error"]?.stringValue?.contains(text) == true, "\(file) as \(enc): \(String(decoding: got, as: UTF8.self))")
            }
        }
    }

    /// Classification extension (Triton's spec: top-K as "<value>:<index>[:<label>]", BYTES [batch, K]); the
    /// tritonclient test checks the labelled form against numpy's argsort over both protocols.
    @Test func classificationExtension() async throws {
        try await Self.withServer { c, _ in
            let body = "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[2,4],\"data\":[1,-2,3.5,4,0.25,7,7,-1]}],"
                + "\"outputs\":[{\"name\":\"Y\",\"parameters\":{\"classification\":2}}]}"
            let (s, r) = try await c.post("/v2/models/identity_fp32/infer", body)
            #expect(s == 200, "\(Self.str(r))")
            let y = r?["outputs"]?.arrayValue?.first
            #expect(y?["datatype"]?.stringValue == "BYTES")
            #expect(y?["shape"] == .array([.int(2), .int(2)]))
            // Row 2 has a tie (7 at indices 1 and 2): the lower index comes first.
            #expect((y?["data"]?.arrayValue ?? []).compactMap(\.stringValue) == ["4.000000:3", "3.500000:2", "7.000000:1", "7.000000:2"])
            for (out, k, text) in [("Y", 0, "positive integer"), ("Y", -3, "positive integer")] {
                let b = "{\"inputs\":[{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}],"
                    + "\"outputs\":[{\"name\":\"\(out)\",\"parameters\":{\"classification\":\(k)}}]}"
                let (s2, r2) = try await c.post("/v2/models/identity_fp32/infer", b)
                #expect(s2 == 400 && r2?["error"]?.stringValue?.contains(text) == true, "\(Self.str(r2))")
            }
            let b = "{\"inputs\":[{\"name\":\"in_BYTES\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}],"
                + "\"outputs\":[{\"name\":\"out_BYTES\",\"parameters\":{\"classification\":1}}]}"
            let (s3, r3) = try await c.post("/v2/models/identity_types/infer", b)
            #expect(s3 == 400 && r3?["error"]?.stringValue?.contains("numeric") == true, "\(Self.str(r3))")
        }
    }
}
