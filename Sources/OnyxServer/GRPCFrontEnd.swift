import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Onyx
import ServiceLifecycle
import Synchronization
import SwiftProtobuf

/// Runs `inference.GRPCInferenceService` (Triton's gRPC protocol) on grpc-swift 2 as a ServiceLifecycle service.
final class GRPCFrontEnd: Service, Sendable {
    let core: ServerCore
    let port: Int
    let server: GRPCServer<HTTP2ServerTransport.Posix>

    init(core: ServerCore, port: Int) {
        self.core = core
        self.port = port
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.rpc.maxRequestPayloadSize = core.options.maxRequestBytes
        let host = core.options.host == "localhost" ? "127.0.0.1" : core.options.host
        let address: GRPCNIOTransportCore.SocketAddress = host.contains(":") ? .ipv6(host: host, port: port) : .ipv4(host: host, port: port)
        let transport = HTTP2ServerTransport.Posix(address: address,
                                                   transportSecurity: .plaintext, config: config)
        var interceptors: [any ServerInterceptor] = []
        if let token = core.options.authToken { interceptors.append(BearerAuth(token: token)) }
        server = GRPCServer(transport: transport, services: [InferenceService(core: core)], interceptors: interceptors)
    }

    /// The bound port once listening (nil if the server failed to start).
    func boundPort() async -> Int? {
        guard let addr = try? await server.listeningAddress else { return nil }
        return addr.ipv4?.port ?? addr.ipv6?.port
    }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.serve()
        } onGracefulShutdown: {
            self.server.beginGracefulShutdown()
        }
    }
}

/// Requires `authorization: Bearer <token>` on every RPC but the health ones.
struct BearerAuth: ServerInterceptor {
    let token: String
    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let open = ["ServerLive", "ServerReady", "ModelReady"]
        if !open.contains(context.descriptor.method) {
            let given = request.metadata[stringValues: "authorization"].first(where: { _ in true }) ?? ""
            guard V2Responder.constantTimeEqual(given, "Bearer " + token) else {
                throw RPCError(code: .unauthenticated, message: "missing or wrong bearer token")
            }
        }
        return try await next(request, context)
    }
}

extension ServeError {
    var rpc: RPCError {
        let code: RPCError.Code
        switch kind {
        case .badRequest: code = .invalidArgument
        case .notFound: code = .notFound
        case .tooLarge: code = .resourceExhausted
        case .unavailable: code = .unavailable
        case .unauthorized: code = .unauthenticated
        case .internalError: code = .internalError
        }
        return RPCError(code: code, message: message)
    }
}

/// Maps engine/server errors to gRPC status errors.
func grpcGuard<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let e as ServeError { throw e.rpc } catch let e as RPCError { throw e } catch {
        throw RPCError(code: .invalidArgument, message: "\(error)")
    }
}

struct InferenceService: Inference_GRPCInferenceService.SimpleServiceProtocol {
    let core: ServerCore

    func serverLive(request: Inference_ServerLiveRequest, context: ServerContext) async throws -> Inference_ServerLiveResponse {
        var r = Inference_ServerLiveResponse(); r.live = true; return r
    }

    func serverReady(request: Inference_ServerReadyRequest, context: ServerContext) async throws -> Inference_ServerReadyResponse {
        var r = Inference_ServerReadyResponse(); r.ready = core.isReady; return r
    }

    func modelReady(request: Inference_ModelReadyRequest, context: ServerContext) async throws -> Inference_ModelReadyResponse {
        try await grpcGuard {
            var r = Inference_ModelReadyResponse()
            // Like Triton: an unknown or unloaded model is simply not ready.
            r.ready = (try? core.repository.isReady(request.name, request.version.isEmpty ? nil : request.version)) ?? false
            return r
        }
    }

    func serverMetadata(request: Inference_ServerMetadataRequest, context: ServerContext) async throws -> Inference_ServerMetadataResponse {
        var r = Inference_ServerMetadataResponse()
        r.name = "onyx"; r.version = InferenceServer.version; r.extensions = ServerCore.extensions
        return r
    }

    func modelMetadata(request: Inference_ModelMetadataRequest, context: ServerContext) async throws -> Inference_ModelMetadataResponse {
        try await grpcGuard {
            let version = request.version.isEmpty ? nil : request.version
            let mv = try core.repository.version(request.name, version)
            var r = Inference_ModelMetadataResponse()
            r.name = mv.name
            r.versions = version != nil ? [String(mv.version)]
                : core.repository.readyVersions.filter { $0.name == mv.name }.map { String($0.version) }
            r.platform = mv.config.platform
            func t(_ c: TensorConfig) -> Inference_ModelMetadataResponse.TensorMetadata {
                var m = Inference_ModelMetadataResponse.TensorMetadata()
                m.name = c.name; m.datatype = V2DataType.name(c.dataType); m.shape = mv.metadataShape(c).map { Int64($0) }
                return m
            }
            r.inputs = mv.config.inputs.map(t)
            r.outputs = mv.config.outputs.map(t)
            return r
        }
    }

    func modelConfig(request: Inference_ModelConfigRequest, context: ServerContext) async throws -> Inference_ModelConfigResponse {
        try await grpcGuard {
            let mv = try core.repository.version(request.name, request.version.isEmpty ? nil : request.version)
            var r = Inference_ModelConfigResponse()
            r.config = GRPCConversions.config(mv.config)
            return r
        }
    }

    func modelStatistics(request: Inference_ModelStatisticsRequest, context: ServerContext) async throws -> Inference_ModelStatisticsResponse {
        try await grpcGuard {
            var versions: [ModelVersion]
            if request.name.isEmpty {
                versions = core.repository.readyVersions
            } else if !request.version.isEmpty {
                versions = [try core.repository.version(request.name, request.version)]
            } else {
                versions = core.repository.readyVersions.filter { $0.name == request.name }
                if versions.isEmpty { _ = try core.repository.version(request.name, nil) }
            }
            var r = Inference_ModelStatisticsResponse()
            r.modelStats = versions.map { GRPCConversions.stats($0.stats) }
            return r
        }
    }

    func repositoryIndex(request: Inference_RepositoryIndexRequest, context: ServerContext) async throws -> Inference_RepositoryIndexResponse {
        var r = Inference_RepositoryIndexResponse()
        r.models = (core.repository.index(readyOnly: request.ready).arrayValue ?? []).map { j in
            var m = Inference_RepositoryIndexResponse.ModelIndex()
            m.name = j["name"]?.stringValue ?? ""
            m.version = j["version"]?.stringValue ?? ""
            m.state = j["state"]?.stringValue ?? ""
            m.reason = j["reason"]?.stringValue ?? ""
            return m
        }
        return r
    }

    func repositoryModelLoad(request: Inference_RepositoryModelLoadRequest, context: ServerContext) async throws -> Inference_RepositoryModelLoadResponse {
        try await grpcGuard {
            try requireExplicit()
            var override: String? = nil
            for (k, v) in request.parameters {
                if k == "config" {
                    guard case .stringParam(let s)? = v.parameterChoice else { throw ServeError.bad("parameter 'config' must be a string") }
                    override = s
                } else if k.hasPrefix("file:") {
                    throw ServeError.bad("file overrides in load requests are not supported; put the model in the repository")
                }
            }
            let name = request.modelName
            let cfg = override
            try await core.runBlocking { try core.repository.load(name, configOverride: cfg) }
            return Inference_RepositoryModelLoadResponse()
        }
    }

    func repositoryModelUnload(request: Inference_RepositoryModelUnloadRequest, context: ServerContext) async throws -> Inference_RepositoryModelUnloadResponse {
        try await grpcGuard {
            try requireExplicit()
            let name = request.modelName
            try await core.runBlocking { try core.repository.unload(name) }
            return Inference_RepositoryModelUnloadResponse()
        }
    }

    func requireExplicit() throws {
        guard core.options.controlMode == .explicit else {
            throw ServeError.bad("model load and unload are only allowed with --model-control-mode explicit (the server runs in '\(core.options.controlMode.rawValue)' mode)")
        }
    }

    func modelInfer(request: Inference_ModelInferRequest, context: ServerContext) async throws -> Inference_ModelInferResponse {
        try await grpcGuard {
            let mv = try core.repository.version(request.modelName, request.modelVersion.isEmpty ? nil : request.modelVersion)
            let req = try GRPCConversions.request(request)
            let outs = try await mv.infer(req)
            var r = Inference_ModelInferResponse()
            r.modelName = mv.name
            r.modelVersion = String(mv.version)
            r.id = request.id
            for (name, t) in outs {
                var o = Inference_ModelInferResponse.InferOutputTensor()
                o.name = name
                o.datatype = V2DataType.name(t.dtype)
                o.shape = t.shape.map { Int64($0) }
                r.outputs.append(o)
                r.rawOutputContents.append(Data(TensorCoding.binary(t)))
            }
            return r
        }
    }

    func modelStreamInfer(request: RPCAsyncSequence<Inference_ModelInferRequest, any Error>,
                          response: RPCWriter<Inference_ModelStreamInferResponse>, context: ServerContext) async throws {
        for try await req in request {
            var msg = Inference_ModelStreamInferResponse()
            do {
                msg.inferResponse = try await modelInfer(request: req, context: context)
            } catch let e as RPCError {
                msg.errorMessage = e.message
            }
            try await response.write(msg)
        }
    }

    static func unimplemented(_ what: String) -> RPCError { RPCError(code: .unimplemented, message: "\(what) is not supported by onyx serve") }

    func systemSharedMemoryStatus(request: Inference_SystemSharedMemoryStatusRequest, context: ServerContext) async throws -> Inference_SystemSharedMemoryStatusResponse { throw Self.unimplemented("system shared memory") }
    func systemSharedMemoryRegister(request: Inference_SystemSharedMemoryRegisterRequest, context: ServerContext) async throws -> Inference_SystemSharedMemoryRegisterResponse { throw Self.unimplemented("system shared memory") }
    func systemSharedMemoryUnregister(request: Inference_SystemSharedMemoryUnregisterRequest, context: ServerContext) async throws -> Inference_SystemSharedMemoryUnregisterResponse { throw Self.unimplemented("system shared memory") }
    func cudaSharedMemoryStatus(request: Inference_CudaSharedMemoryStatusRequest, context: ServerContext) async throws -> Inference_CudaSharedMemoryStatusResponse { throw Self.unimplemented("CUDA shared memory") }
    func cudaSharedMemoryRegister(request: Inference_CudaSharedMemoryRegisterRequest, context: ServerContext) async throws -> Inference_CudaSharedMemoryRegisterResponse { throw Self.unimplemented("CUDA shared memory") }
    func cudaSharedMemoryUnregister(request: Inference_CudaSharedMemoryUnregisterRequest, context: ServerContext) async throws -> Inference_CudaSharedMemoryUnregisterResponse { throw Self.unimplemented("CUDA shared memory") }
    func traceSetting(request: Inference_TraceSettingRequest, context: ServerContext) async throws -> Inference_TraceSettingResponse { throw Self.unimplemented("tracing") }
    func logSettings(request: Inference_LogSettingsRequest, context: ServerContext) async throws -> Inference_LogSettingsResponse { throw Self.unimplemented("log settings") }
}

/// Conversions between the generated messages and the server's types.
enum GRPCConversions {
    static func request(_ m: Inference_ModelInferRequest) throws -> InferRequest {
        var r = InferRequest()
        r.id = m.id
        if let t = m.parameters["timeout"]?.parameterChoice {
            switch t {
            case .int64Param(let v) where v > 0: r.timeoutMicroseconds = Int(min(v, Int64(Int32.max) * 1000))
            case .uint64Param(let v) where v > 0: r.timeoutMicroseconds = Int(min(v, UInt64(Int32.max) * 1000))
            case .int64Param, .uint64Param: break
            default: throw ServeError.bad("parameter 'timeout' must be an integer (microseconds)")
            }
        }
        guard !m.inputs.isEmpty else { throw ServeError.bad("the request has no inputs") }
        let raw = m.rawInputContents
        guard raw.isEmpty || raw.count == m.inputs.count else {
            throw ServeError.bad("raw_input_contents has \(raw.count) entries for \(m.inputs.count) inputs")
        }
        for (i, inp) in m.inputs.enumerated() {
            let name = inp.name
            guard let dt = V2DataType.dtype(inp.datatype) else { throw ServeError.bad("input '\(name)': unknown datatype '\(inp.datatype)'") }
            guard inp.shape.count <= 32, inp.shape.allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }) else {
                throw ServeError.bad("input '\(name)': shape must contain non-negative integers, got \(inp.shape)")
            }
            let shape = inp.shape.map { Int($0) }
            let t: Tensor
            if !raw.isEmpty {
                t = try raw[i].withUnsafeBytes { try TensorCoding.tensor(fromBinary: $0, dtype: dt, shape: shape, name: name) }
            } else {
                guard inp.hasContents else { throw ServeError.bad("input '\(name)': no contents and no raw_input_contents") }
                t = try contents(inp.contents, dtype: dt, shape: shape, name: name)
            }
            r.inputs.append((name, t))
        }
        r.outputs = m.outputs.map(\.name)
        for o in m.outputs {
            guard let c = o.parameters["classification"]?.parameterChoice else { continue }
            switch c {
            case .int64Param(let k) where k > 0 && k <= Int64(Int32.max): r.classification[o.name] = Int(k)
            case .uint64Param(let k) where k > 0 && k <= UInt64(Int32.max): r.classification[o.name] = Int(k)
            default: throw ServeError.bad("output '\(o.name)': 'classification' must be a positive integer")
            }
        }
        return r
    }

    static func contents(_ c: Inference_InferTensorContents, dtype: DType, shape: [Int], name: String) throws -> Tensor {
        let n = try TensorCoding.elementCount(shape, name: name)
        func make<T: TensorElement>(_ vals: [T]) throws -> Tensor {
            guard vals.count == n else { throw ServeError.bad("input '\(name)': shape \(shape) needs \(n) elements, contents have \(vals.count)") }
            return Tensor(shape: shape, checkedValues: vals)
        }
        func narrow<S: BinaryInteger, T: FixedWidthInteger & TensorElement>(_ v: [S], _: T.Type) throws -> [T] {
            try v.map { x in
                guard let y = T(exactly: x) else { throw ServeError.bad("input '\(name)': \(x) is out of range for \(V2DataType.name(dtype))") }
                return y
            }
        }
        switch dtype {
        case .bool: return try make(c.boolContents)
        case .int8: return try make(narrow(c.intContents, Int8.self))
        case .int16: return try make(narrow(c.intContents, Int16.self))
        case .int32: return try make(c.intContents)
        case .int64: return try make(c.int64Contents)
        case .uint8: return try make(narrow(c.uintContents, UInt8.self))
        case .uint16: return try make(narrow(c.uintContents, UInt16.self))
        case .uint32: return try make(c.uintContents)
        case .uint64: return try make(c.uint64Contents)
        case .float32: return try make(c.fp32Contents)
        case .float64: return try make(c.fp64Contents)
        case .string: return try make(c.bytesContents.map { String(decoding: $0, as: UTF8.self) })
        case .float16, .bfloat16: throw ServeError.bad("input '\(name)': \(V2DataType.name(dtype)) must be sent in raw_input_contents")
        }
    }

    static func dataType(_ d: DType) -> Inference_DataType {
        switch d {
        case .bool: return .typeBool
        case .uint8: return .typeUint8
        case .uint16: return .typeUint16
        case .uint32: return .typeUint32
        case .uint64: return .typeUint64
        case .int8: return .typeInt8
        case .int16: return .typeInt16
        case .int32: return .typeInt32
        case .int64: return .typeInt64
        case .float16: return .typeFp16
        case .float32: return .typeFp32
        case .float64: return .typeFp64
        case .bfloat16: return .typeBf16
        case .string: return .typeString
        }
    }

    static func config(_ c: ModelConfig) -> Inference_ModelConfig {
        var m = Inference_ModelConfig()
        m.name = c.name
        m.platform = c.platform
        m.backend = c.backend
        m.maxBatchSize = Int32(clamping: c.maxBatchSize)
        m.input = c.inputs.map { t in
            var i = Inference_ModelInput(); i.name = t.name; i.dataType = dataType(t.dataType); i.dims = t.dims.map { Int64($0) }; return i
        }
        m.output = c.outputs.map { t in
            var o = Inference_ModelOutput(); o.name = t.name; o.dataType = dataType(t.dataType); o.dims = t.dims.map { Int64($0) }
            o.labelFilename = t.labelFilename ?? ""
            return o
        }
        var vp = Inference_ModelVersionPolicy()
        switch c.versionPolicy {
        case .latest(let n): var l = Inference_ModelVersionPolicy.Latest(); l.numVersions = UInt32(clamping: n); vp.latest = l
        case .all: vp.all = Inference_ModelVersionPolicy.All()
        case .specific(let v): var s = Inference_ModelVersionPolicy.Specific(); s.versions = v.map { Int64($0) }; vp.specific = s
        }
        m.versionPolicy = vp
        if let d = c.dynamicBatching {
            var db = Inference_ModelDynamicBatching()
            db.preferredBatchSize = d.preferredBatchSizes.map { Int32(clamping: $0) }
            db.maxQueueDelayMicroseconds = UInt64(d.maxQueueDelayMicroseconds)
            var qp = Inference_ModelQueuePolicy()
            qp.maxQueueSize = UInt32(clamping: d.maxQueueSize)
            qp.defaultTimeoutMicroseconds = UInt64(d.defaultTimeoutMicroseconds)
            qp.allowTimeoutOverride = true
            db.defaultQueuePolicy = qp
            m.dynamicBatching = db
        }
        if let e = c.ensemble {
            var es = Inference_ModelEnsembling()
            es.step = e.steps.map { s in
                var st = Inference_ModelEnsembling.Step()
                st.modelName = s.modelName
                st.modelVersion = Int64(s.modelVersion)
                st.inputMap = Dictionary(s.inputMap, uniquingKeysWith: { a, _ in a })
                st.outputMap = Dictionary(s.outputMap, uniquingKeysWith: { a, _ in a })
                return st
            }
            m.ensembleScheduling = es
            if e.combine != .none {
                var p = Inference_ModelParameter(); p.stringValue = e.combine.rawValue
                m.parameters["combine"] = p
            }
        }
        var g = Inference_ModelInstanceGroup()
        g.name = c.name; g.count = Int32(clamping: c.instanceCount); g.kind = .cpu
        m.instanceGroup = [g]
        return m
    }

    static func duration(_ s: StatDuration) -> Inference_StatisticDuration {
        var d = Inference_StatisticDuration(); d.count = s.count; d.ns = s.ns; return d
    }

    static func stats(_ st: ModelStats) -> Inference_ModelStatistics {
        let d = st.snapshot
        var m = Inference_ModelStatistics()
        m.name = st.name
        m.version = String(st.version)
        m.lastInference = d.lastInferenceMs
        m.inferenceCount = d.inferenceCount
        m.executionCount = d.executionCount
        var i = Inference_InferStatistics()
        i.success = duration(d.success); i.fail = duration(d.fail); i.queue = duration(d.queue)
        i.computeInput = duration(d.computeInput); i.computeInfer = duration(d.computeInfer); i.computeOutput = duration(d.computeOutput)
        i.cacheHit = duration(StatDuration()); i.cacheMiss = duration(StatDuration())
        m.inferenceStats = i
        m.batchStats = d.batches.keys.sorted().map { k in
            var b = Inference_InferBatchStatistics()
            b.batchSize = UInt64(k)
            if let v = d.batches[k] { b.computeInput = duration(v.0); b.computeInfer = duration(v.1); b.computeOutput = duration(v.2) }
            return b
        }
        return m
    }
}
