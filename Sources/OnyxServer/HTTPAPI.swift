import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Onyx

/// The KServe v2 / Triton HTTP API as one Hummingbird responder. Every failure becomes `{"error": "…"}` with the
/// status the protocol asks for; nothing a client sends can make it trap.
struct V2Responder: HTTPResponder {
    typealias Context = BasicRequestContext
    let core: ServerCore

    static let headerLength = HTTPField.Name("Inference-Header-Content-Length")!

    func respond(to request: Request, context: Context) async throws -> Response {
        do {
            return try await route(request, context: context)
        } catch let e as ServeError {
            if e.kind == .internalError { context.logger.error("request failed", metadata: ["error": "\(e.message)"]) }
            return Self.error(e)
        } catch is NIOTooManyBytesError {
            return Self.error(ServeError(.tooLarge, "request body exceeds --max-request-bytes (\(core.options.maxRequestBytes) bytes)"))
        } catch {
            return Self.error(ServeError.bad("cannot read the request: \(error)"))
        }
    }

    static func error(_ e: ServeError) -> Response {
        json(.object([("error", .string(e.message))]), status: HTTPResponse.Status(code: e.httpStatus))
    }

    static func json(_ j: JSON, status: HTTPResponse.Status = .ok) -> Response {
        let bytes = JSONWriter.encode(j)
        var h = HTTPFields()
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func empty(_ status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentLength: "0"], body: .init())
    }

    func readBody(_ request: Request) async throws -> [UInt8] {
        let max = core.options.maxRequestBytes
        if let cl = request.headers[.contentLength], let n = Int(cl), n > max {
            throw ServeError(.tooLarge, "request body of \(n) bytes exceeds --max-request-bytes (\(max) bytes)")
        }
        let enc = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces).lowercased() ?? "identity"
        guard ["identity", "gzip", "x-gzip", "deflate"].contains(enc) else {
            throw ServeError.bad("Content-Encoding '\(enc)' is not supported; send gzip, deflate or an uncompressed body")
        }
        var buf = try await request.body.collect(upTo: max)
        let body = buf.readBytes(length: buf.readableBytes) ?? []
        return try Self.decode(body, encoding: enc, limit: max)
    }

    /// Inflates a `Content-Encoding: gzip` / `deflate` (zlib, or raw deflate as some clients send) request body;
    /// the inflated body is held to the same `--max-request-bytes` as a plain one.
    static func decode(_ body: [UInt8], encoding: String, limit: Int) throws -> [UInt8] {
        do {
            switch encoding {
            case "gzip", "x-gzip": return try Inflate.gzip(body[...], limit: limit)
            case "deflate":
                if body.count >= 2, body[0] & 0x0F == 8, (UInt16(body[0]) << 8 | UInt16(body[1])) % 31 == 0 {
                    return try Inflate.zlib(body[...], limit: limit)
                }
                return try Inflate.raw(body[...], expectedSize: nil, limit: limit)
            default: return body
            }
        } catch let e as InflateError {
            if e.isOverLimit {
                throw ServeError(.tooLarge, "\(encoding) request body inflates beyond --max-request-bytes (\(limit) bytes)")
            }
            throw ServeError.bad("\(encoding) request body: \(e.description)")
        }
    }

    func route(_ request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map { String($0).removingPercentEncoding ?? String($0) }
        let method = request.method
        // Health endpoints stay open; everything else needs the token when one is configured.
        let isHealth = parts.count == 3 && parts[0] == "v2" && parts[1] == "health"
        if !isHealth, let token = core.options.authToken {
            let given = request.headers[.authorization] ?? ""
            guard Self.constantTimeEqual(given, "Bearer " + token) else {
                // The page itself opens without the token but then shows only a token field.
                if parts.isEmpty && (method == .get || method == .head) { return WebPage.response(core: core, authorized: false) }
                var r = Self.error(ServeError(.unauthorized, "missing or wrong bearer token"))
                r.headers[.wwwAuthenticate] = "Bearer"
                return r
            }
        }
        func requireGET() throws {
            guard method == .get || method == .head else { throw ServeError.bad("\(method) is not allowed on \(path); use GET") }
        }
        func requirePOST() throws {
            guard method == .post else { throw ServeError.bad("\(method) is not allowed on \(path); use POST") }
        }
        switch parts.count {
        case 0:
            try requireGET()
            return WebPage.response(core: core, authorized: true)
        case 1 where parts[0] == "metrics":
            try requireGET()
            var h = HTTPFields()
            h[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: core.registry.emitToBuffer())))
        default: break
        }
        guard parts.first == "v2" else { throw ServeError(.notFound, "no route for \(path)") }
        let rest = Array(parts.dropFirst())
        if rest.isEmpty {
            try requireGET()
            return Self.json(core.serverMetadata)
        }
        switch rest[0] {
        case "health" where rest.count == 2:
            try requireGET()
            switch rest[1] {
            case "live": return Self.empty(.ok)
            case "ready": return Self.empty(core.isReady ? .ok : .serviceUnavailable)
            default: throw ServeError(.notFound, "no route for \(path)")
            }
        case "models":
            return try await models(Array(rest.dropFirst()), request, context: context, requireGET: requireGET, requirePOST: requirePOST)
        case "repository":
            return try await repository(Array(rest.dropFirst()), request, requirePOST: requirePOST)
        default:
            throw ServeError(.notFound, "no route for \(path)")
        }
    }

    func models(_ p: [String], _ request: Request, context: Context, requireGET: () throws -> Void, requirePOST: () throws -> Void) async throws -> Response {
        if p == ["stats"] {
            try requireGET()
            return Self.json(.object([("model_stats", .array(core.repository.readyVersions.map(\.stats.json)))]))
        }
        guard let model = p.first else { throw ServeError(.notFound, "no route for /v2/models") }
        var version: String? = nil
        var action = Array(p.dropFirst())
        if action.first == "versions" {
            guard action.count >= 2 else { throw ServeError(.notFound, "missing version after /versions") }
            version = action[1]
            action = Array(action.dropFirst(2))
        }
        guard action.count <= 1 else { throw ServeError(.notFound, "no route for this path") }
        switch action.first {
        case nil:
            try requireGET()
            return Self.json(try core.metadata(model, version))
        case "ready":
            try requireGET()
            return Self.empty(try core.repository.isReady(model, version) ? .ok : .serviceUnavailable)
        case "config":
            try requireGET()
            return Self.json(try core.repository.version(model, version).config.json())
        case "stats":
            try requireGET()
            return Self.json(.object([("model_stats", .array(try core.stats(model, version)))]))
        case "infer":
            try requirePOST()
            let mv = try core.repository.version(model, version)
            let body = try await readBody(request)
            let headerLen = try request.headers[Self.headerLength].map { s -> Int in
                guard let n = Int(s.trimmingCharacters(in: .whitespaces)), n >= 0, n <= body.count else {
                    throw ServeError.bad("Inference-Header-Content-Length '\(s)' must be an integer between 0 and the body size (\(body.count))")
                }
                return n
            }
            let (req, binaryOut, binaryDefault) = try HTTPInferCoding.decode(body, headerLength: headerLen)
            let outs: [(name: String, tensor: Tensor)]
            do { outs = try await mv.infer(req) } catch let e as ServeError {
                context.logger.info("inference failed", metadata: ["model": "\(model)", "request_id": "\(req.id)", "error": "\(e.message)"])
                throw e
            }
            return HTTPInferCoding.response(model: mv, id: req.id, outputs: outs, binary: binaryOut, binaryDefault: binaryDefault)
        default:
            throw ServeError(.notFound, "no route for '\(action.first ?? "")'")
        }
    }

    func repository(_ p: [String], _ request: Request, requirePOST: () throws -> Void) async throws -> Response {
        try requirePOST()
        let body = try await readBody(request)
        let json: JSON? = body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) ? nil : try {
            do { return try JSONParser.parse(body) } catch { throw ServeError.bad("\(error)") }
        }()
        if p == ["index"] {
            let readyOnly = json?["ready"]?.boolValue ?? false
            return Self.json(core.repository.index(readyOnly: readyOnly))
        }
        guard p.count == 3, p[0] == "models", p[2] == "load" || p[2] == "unload" else {
            throw ServeError(.notFound, "no route for /v2/repository/\(p.joined(separator: "/"))")
        }
        guard core.options.controlMode == .explicit else {
            throw ServeError.bad("model load and unload are only allowed with --model-control-mode explicit (the server runs in '\(core.options.controlMode.rawValue)' mode)")
        }
        let name = p[1]
        if p[2] == "load" {
            var configOverride: String? = nil
            if let params = json?["parameters"]?.objectValue {
                for (k, v) in params {
                    if k == "config" {
                        guard let s = v.stringValue else { throw ServeError.bad("parameter 'config' must be a JSON string") }
                        configOverride = s
                    } else if k.hasPrefix("file:") {
                        throw ServeError.bad("file overrides in load requests are not supported; put the model in the repository")
                    }
                }
            }
            let override = configOverride
            try await core.runBlocking { try core.repository.load(name, configOverride: override) }
        } else {
            try await core.runBlocking { try core.repository.unload(name) }
        }
        return Self.empty(.ok)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}

/// Decoding infer requests and encoding responses in the HTTP JSON + binary-extension form.
enum HTTPInferCoding {
    /// Returns the request, the per-output binary choice, and the request-level `binary_data_output` default.
    static func decode(_ body: [UInt8], headerLength: Int?) throws -> (InferRequest, [String: Bool], Bool) {
        let jsonEnd = headerLength ?? body.count
        let root: JSON
        do { root = try JSONParser.parse(body[0..<jsonEnd]) } catch { throw ServeError.bad("\(error)") }
        guard root.objectValue != nil else { throw ServeError.bad("the request must be a JSON object") }
        var req = InferRequest()
        if let id = root["id"] {
            guard let s = id.stringValue else { throw ServeError.bad("'id' must be a string") }
            req.id = s
        }
        var binaryDefault = false
        if let params = root["parameters"] {
            guard params.objectValue != nil else { throw ServeError.bad("'parameters' must be an object") }
            if let b = params["binary_data_output"] {
                guard let v = b.boolValue else { throw ServeError.bad("parameter 'binary_data_output' must be a boolean") }
                binaryDefault = v
            }
            if let t = params["timeout"] {
                guard let v = t.int64Value, v >= 0, v <= Int64(Int32.max) * 1000 else { throw ServeError.bad("parameter 'timeout' must be a non-negative integer (microseconds)") }
                if v > 0 { req.timeoutMicroseconds = Int(v) }
            }
        }
        guard let inputs = root["inputs"]?.arrayValue else { throw ServeError.bad("'inputs' must be an array of tensors") }
        guard !inputs.isEmpty else { throw ServeError.bad("'inputs' is empty") }
        var offset = jsonEnd
        for inp in inputs {
            guard inp.objectValue != nil, let name = inp["name"]?.stringValue else { throw ServeError.bad("every input needs a 'name' string") }
            guard let dts = inp["datatype"]?.stringValue else { throw ServeError.bad("input '\(name)': missing 'datatype'") }
            guard let dt = V2DataType.dtype(dts) else {
                throw ServeError.bad("input '\(name)': unknown datatype '\(dts)' (expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES)")
            }
            let shape = try TensorCoding.parseShape(inp["shape"], name: name)
            if let bsize = inp["parameters"]?["binary_data_size"] {
                guard let n = bsize.int64Value, n >= 0, n <= Int64(body.count - offset) else {
                    throw ServeError.bad("input '\(name)': binary_data_size \(TensorCoding.describe(bsize)) runs past the end of the body (\(body.count - offset) bytes left)")
                }
                guard inp["data"] == nil else { throw ServeError.bad("input '\(name)': give either 'data' or binary_data_size, not both") }
                let t = try body.withUnsafeBytes { raw in
                    try TensorCoding.tensor(fromBinary: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + Int(n))]), dtype: dt, shape: shape, name: name)
                }
                offset += Int(n)
                req.inputs.append((name, t))
            } else {
                guard let data = inp["data"] else { throw ServeError.bad("input '\(name)': missing 'data'") }
                req.inputs.append((name, try TensorCoding.tensor(fromJSON: data, dtype: dt, shape: shape, name: name)))
            }
        }
        guard offset == body.count else {
            throw ServeError.bad("\(body.count - offset) bytes of binary data after the JSON header are not claimed by any input's binary_data_size")
        }
        var binary: [String: Bool] = [:]
        if let outs = root["outputs"] {
            guard let arr = outs.arrayValue else { throw ServeError.bad("'outputs' must be an array") }
            for o in arr {
                guard o.objectValue != nil, let name = o["name"]?.stringValue else { throw ServeError.bad("every requested output needs a 'name' string") }
                req.outputs.append(name)
                if let p = o["parameters"] {
                    if let b = p["binary_data"] {
                        guard let v = b.boolValue else { throw ServeError.bad("output '\(name)': 'binary_data' must be a boolean") }
                        binary[name] = v
                    }
                    if let c = p["classification"] {
                        guard let k = c.int64Value, k > 0, k <= Int64(Int32.max) else {
                            throw ServeError.bad("output '\(name)': 'classification' must be a positive integer")
                        }
                        req.classification[name] = Int(k)
                    }
                }
            }
        }
        return (req, binary, binaryDefault)
    }

    static func response(model: ModelVersion, id: String, outputs: [(name: String, tensor: Tensor)], binary: [String: Bool], binaryDefault: Bool) -> Response {
        var w = JSONWriter()
        w.raw("{\"model_name\":"); w.string(model.name)
        w.raw(",\"model_version\":"); w.string(String(model.version))
        if !id.isEmpty { w.raw(",\"id\":"); w.string(id) }
        w.raw(",\"outputs\":[")
        var tail: [[UInt8]] = []
        for (k, o) in outputs.enumerated() {
            if k > 0 { w.raw(",") }
            w.raw("{\"name\":"); w.string(o.name)
            w.raw(",\"datatype\":"); w.string(V2DataType.name(o.tensor.dtype))
            w.raw(",\"shape\":[" + o.tensor.shape.map(String.init).joined(separator: ",") + "]")
            if binary[o.name] ?? binaryDefault {
                let b = TensorCoding.binary(o.tensor)
                w.raw(",\"parameters\":{\"binary_data_size\":\(b.count)}")
                tail.append(b)
            } else {
                w.raw(",\"data\":")
                TensorCoding.writeJSONData(o.tensor, into: &w)
            }
            w.raw("}")
        }
        w.raw("]}")
        var h = HTTPFields()
        if tail.isEmpty {
            h[.contentType] = "application/json"
            return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: w.bytes)))
        }
        h[.contentType] = "application/octet-stream"
        h[V2Responder.headerLength] = String(w.bytes.count)
        var buf = ByteBuffer(bytes: w.bytes)
        for t in tail { buf.writeBytes(t) }
        return Response(status: .ok, headers: h, body: .init(byteBuffer: buf))
    }
}
