import Foundation
import Onyx

/// A client-visible error: the HTTP status and gRPC code follow from `kind`.
public struct ServeError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case badRequest, notFound, tooLarge, unavailable, unauthorized, internalError }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { message }
    public static func bad(_ m: String) -> ServeError { ServeError(.badRequest, m) }
    public var httpStatus: Int {
        switch kind {
        case .badRequest: return 400
        case .notFound: return 404
        case .tooLarge: return 413
        case .unavailable: return 503
        case .unauthorized: return 401
        case .internalError: return 500
        }
    }
}

/// KServe v2 tensor datatypes and Triton config types.
public enum V2DataType {
    public static func name(_ d: DType) -> String {
        switch d {
        case .bool: return "BOOL"
        case .uint8: return "UINT8"
        case .uint16: return "UINT16"
        case .uint32: return "UINT32"
        case .uint64: return "UINT64"
        case .int8: return "INT8"
        case .int16: return "INT16"
        case .int32: return "INT32"
        case .int64: return "INT64"
        case .float16: return "FP16"
        case .float32: return "FP32"
        case .float64: return "FP64"
        case .bfloat16: return "BF16"
        case .string: return "BYTES"
        }
    }

    public static func dtype(_ name: String) -> DType? {
        switch name {
        case "BOOL": return .bool
        case "UINT8": return .uint8
        case "UINT16": return .uint16
        case "UINT32": return .uint32
        case "UINT64": return .uint64
        case "INT8": return .int8
        case "INT16": return .int16
        case "INT32": return .int32
        case "INT64": return .int64
        case "FP16": return .float16
        case "FP32": return .float32
        case "FP64": return .float64
        case "BF16": return .bfloat16
        case "BYTES": return .string
        default: return nil
        }
    }

    /// Triton model-config type name, e.g. `TYPE_FP32`.
    public static func configName(_ d: DType) -> String { d == .string ? "TYPE_STRING" : "TYPE_" + name(d) }

    public static func fromConfig(_ s: String) -> DType? {
        if s == "TYPE_STRING" { return .string }
        guard s.hasPrefix("TYPE_") else { return dtype(s) }
        return dtype(String(s.dropFirst(5)))
    }
}

/// One input or output as the model config describes it (dims exclude the batch dimension when max_batch_size > 0).
public struct TensorConfig: Sendable, Equatable {
    public var name: String
    public var dataType: DType
    public var dims: [Int]
    /// `label_filename`: a file in the model directory, one class label per line (classification extension).
    public var labelFilename: String? = nil
    /// The labels read from `labelFilename` when the model loads.
    public var labels: [String] = []
}

public enum VersionPolicy: Sendable, Equatable {
    case latest(Int)
    case all
    case specific([Int])
}

public struct DynamicBatchingConfig: Sendable, Equatable {
    public var preferredBatchSizes: [Int] = []
    public var maxQueueDelayMicroseconds: Int = 0
    public var maxQueueSize: Int = 0
    public var defaultTimeoutMicroseconds: Int = 0
}

/// The subset of Triton's `ModelConfig` that Onyx honours.
public struct ModelConfig: Sendable, Equatable {
    public var name: String
    public var platform: String = "onnxruntime_onnx"
    public var backend: String = "onnxruntime"
    public var maxBatchSize: Int = 0
    public var inputs: [TensorConfig] = []
    public var outputs: [TensorConfig] = []
    public var dynamicBatching: DynamicBatchingConfig?
    public var instanceCount: Int = 1
    public var versionPolicy: VersionPolicy = .latest(1)
    /// `platform: "ensemble"`: the steps (members) and how they combine.
    public var ensemble: EnsembleConfig?
    /// Fields given explicitly (so completion from the model knows what to fill in).
    var hasMaxBatchSize = false

    public init(name: String) { self.name = name }

    /// Reads `config.pbtxt` or `config.json` text.
    public static func parse(_ text: String, json: Bool, defaultName: String) throws -> ModelConfig {
        let tree: JSON
        if json {
            do { tree = try JSONParser.parse(Array(text.utf8)) } catch { throw ServeError.bad("config.json: \(error)") }
        } else {
            do { tree = try PBText.parse(text) } catch { throw ServeError.bad("config.pbtxt: \(error)") }
        }
        return try ModelConfig(tree: tree, defaultName: defaultName)
    }

    static func list(_ v: JSON?) -> [JSON] {
        guard let v else { return [] }
        if case .array(let a) = v { return a }
        return [v]
    }

    /// Looks a field up by its proto name or its lowerCamelCase JSON name.
    static func field(_ o: JSON?, _ name: String) -> JSON? {
        guard let o else { return nil }
        if let v = o[name] { return v }
        let parts = name.split(separator: "_")
        let camel = parts.enumerated().map { $0.offset == 0 ? String($0.element) : $0.element.capitalized }.joined()
        return o[camel]
    }

    static func int(_ o: JSON?, _ name: String, _ ctx: String) throws -> Int? {
        guard let v = field(o, name) else { return nil }
        if let i = v.intValue { return i }
        if let s = v.stringValue, let i = Int(s) { return i }  // proto3 JSON writes int64 as strings
        throw ServeError.bad("\(ctx): '\(name)' must be an integer")
    }

    init(tree: JSON, defaultName: String) throws {
        guard tree.objectValue != nil else { throw ServeError.bad("model config must be a message/object") }
        name = Self.field(tree, "name")?.stringValue ?? defaultName
        if let p = Self.field(tree, "platform")?.stringValue, !p.isEmpty { platform = p }
        if let b = Self.field(tree, "backend")?.stringValue, !b.isEmpty { backend = b }
        if let m = try Self.int(tree, "max_batch_size", "config") {
            guard m >= 0, m <= 1 << 20 else { throw ServeError.bad("max_batch_size must be between 0 and 1048576, got \(m)") }
            maxBatchSize = m
            hasMaxBatchSize = true
        }
        func tensors(_ key: String) throws -> [TensorConfig] {
            try Self.list(Self.field(tree, key)).map { t in
                guard let n = Self.field(t, "name")?.stringValue, !n.isEmpty else { throw ServeError.bad("every \(key) needs a name") }
                guard let ts = Self.field(t, "data_type")?.stringValue else { throw ServeError.bad("\(key) '\(n)' needs a data_type") }
                guard let dt = V2DataType.fromConfig(ts) else { throw ServeError.bad("\(key) '\(n)': unknown data_type '\(ts)'") }
                let dims = try Self.list(Self.field(t, "dims")).map { d -> Int in
                    guard let i = d.intValue ?? d.stringValue.flatMap({ Int($0) }), i >= -1 else {
                        throw ServeError.bad("\(key) '\(n)': dims must be integers >= -1")
                    }
                    return i
                }
                var tc = TensorConfig(name: n, dataType: dt, dims: dims)
                if let lf = Self.field(t, "label_filename")?.stringValue, !lf.isEmpty {
                    guard !lf.contains("/"), lf != "..", lf != "." else {
                        throw ServeError.bad("\(key) '\(n)': label_filename must name a file in the model directory, got '\(lf)'")
                    }
                    tc.labelFilename = lf
                }
                return tc
            }
        }
        inputs = try tensors("input")
        outputs = try tensors("output")
        if let db = Self.field(tree, "dynamic_batching") {
            var d = DynamicBatchingConfig()
            d.preferredBatchSizes = try Self.list(Self.field(db, "preferred_batch_size")).map {
                guard let i = $0.intValue ?? $0.stringValue.flatMap({ Int($0) }), i > 0 else {
                    throw ServeError.bad("preferred_batch_size must be positive integers")
                }
                return i
            }
            d.maxQueueDelayMicroseconds = max(0, try Self.int(db, "max_queue_delay_microseconds", "dynamic_batching") ?? 0)
            if let qp = Self.field(db, "default_queue_policy") {
                d.maxQueueSize = max(0, try Self.int(qp, "max_queue_size", "default_queue_policy") ?? 0)
                d.defaultTimeoutMicroseconds = max(0, try Self.int(qp, "default_timeout_microseconds", "default_queue_policy") ?? 0)
            }
            dynamicBatching = d
        }
        let groups = Self.list(Self.field(tree, "instance_group"))
        if !groups.isEmpty {
            var n = 0
            for g in groups { n += try Self.int(g, "count", "instance_group") ?? 1 }
            guard n >= 1, n <= 64 else { throw ServeError.bad("instance_group count must be between 1 and 64, got \(n)") }
            instanceCount = n
        }
        if let vp = Self.field(tree, "version_policy") {
            if let l = Self.field(vp, "latest") {
                let n = try Self.int(l, "num_versions", "version_policy.latest") ?? 1
                guard n >= 1 else { throw ServeError.bad("version_policy.latest.num_versions must be >= 1") }
                versionPolicy = .latest(n)
            } else if Self.field(vp, "all") != nil {
                versionPolicy = .all
            } else if let s = Self.field(vp, "specific") {
                let vs = try Self.list(Self.field(s, "versions")).map { v -> Int in
                    guard let i = v.intValue ?? v.stringValue.flatMap({ Int($0) }), i >= 0 else {
                        throw ServeError.bad("version_policy.specific.versions must be non-negative integers")
                    }
                    return i
                }
                versionPolicy = .specific(vs)
            } else {
                throw ServeError.bad("version_policy must be latest, all or specific")
            }
        }
        if platform == "ensemble" {
            ensemble = try EnsembleConfig.parse(tree)
            backend = ""
        }
    }

    /// An ensemble's config is not completed from a model: it must list its inputs and outputs, and its steps must
    /// fit them (the members themselves are checked when they run).
    public func completedEnsemble() throws -> ModelConfig {
        guard let e = ensemble else { throw ServeError.bad("not an ensemble") }
        try e.validate(self)
        var c = self
        c.dynamicBatching = nil
        return c
    }

    /// Fills what the config leaves out from the model, and checks what it gives against the model.
    public func completed(for session: InferenceSession) throws -> ModelConfig {
        var c = self
        func dims(_ t: ValueType) -> [Int]? {
            guard case .tensor(_, let shape) = t, let shape else { return nil }
            return shape.map { $0.value ?? -1 }
        }
        let all = session.inputs + session.outputs
        let batchable = !all.isEmpty && all.allSatisfy { v in
            guard let d = dims(v.type), let first = d.first else { return false }
            return first == -1
        }
        if !c.hasMaxBatchSize {
            c.maxBatchSize = batchable ? 32 : 0
            if batchable && c.dynamicBatching == nil { c.dynamicBatching = DynamicBatchingConfig() }
        }
        guard c.maxBatchSize == 0 || batchable else {
            throw ServeError.bad("max_batch_size is \(c.maxBatchSize) but the model's inputs and outputs do not all have a variable first (batch) dimension")
        }
        func complete(_ given: [TensorConfig], _ model: [ValueInfo], kind: String) throws -> [TensorConfig] {
            var out: [TensorConfig] = []
            for v in model {
                guard let dt = v.type.tensorDType else { throw ServeError.bad("\(kind) '\(v.name)' is \(v.type), only tensors can be served") }
                var d = dims(v.type) ?? [-1]
                if c.maxBatchSize > 0 { d = Array(d.dropFirst()) }
                if let g = given.first(where: { $0.name == v.name }) {
                    guard g.dataType == dt else {
                        throw ServeError.bad("\(kind) '\(v.name)': config data_type \(V2DataType.configName(g.dataType)) but the model has \(V2DataType.configName(dt))")
                    }
                    if dims(v.type) != nil {
                        guard g.dims.count == d.count, zip(g.dims, d).allSatisfy({ $0 == $1 || $0 == -1 || $1 == -1 }) else {
                            throw ServeError.bad("\(kind) '\(v.name)': config dims \(g.dims) do not match the model's \(d)\(c.maxBatchSize > 0 ? " (without the batch dimension)" : "")")
                        }
                        var t = g
                        t.dims = zip(g.dims, d).map { $0 == -1 ? $1 : $0 }
                        out.append(t)
                    } else {
                        out.append(g)
                    }
                } else {
                    out.append(TensorConfig(name: v.name, dataType: dt, dims: d))
                }
            }
            for g in given where !model.contains(where: { $0.name == g.name }) {
                throw ServeError.bad("config \(kind) '\(g.name)' is not in the model (which has \(model.map(\.name).joined(separator: ", ")))")
            }
            return out
        }
        c.inputs = try complete(c.inputs, session.inputs, kind: "input")
        c.outputs = try complete(c.outputs, session.outputs, kind: "output")
        if let db = c.dynamicBatching, c.maxBatchSize > 0 {
            for p in db.preferredBatchSizes where p > c.maxBatchSize {
                throw ServeError.bad("preferred_batch_size \(p) exceeds max_batch_size \(c.maxBatchSize)")
            }
        }
        if c.maxBatchSize == 0 { c.dynamicBatching = nil }
        return c
    }

    /// Triton's JSON form of the config (what `GET …/config` returns).
    public func json() -> JSON {
        func tensor(_ t: TensorConfig, _ extra: Bool) -> JSON {
            var kv: [(String, JSON)] = [("name", .string(t.name)), ("data_type", .string(V2DataType.configName(t.dataType)))]
            if extra { kv.append(("format", .string("FORMAT_NONE"))) }
            kv.append(("dims", .array(t.dims.map { .int($0) })))
            if let lf = t.labelFilename { kv.append(("label_filename", .string(lf))) }
            kv.append(("is_shape_tensor", .bool(false)))
            return .object(kv)
        }
        let vp: JSON
        switch versionPolicy {
        case .latest(let n): vp = .object([("latest", .object([("num_versions", .int(n))]))])
        case .all: vp = .object([("all", .object([]))])
        case .specific(let v): vp = .object([("specific", .object([("versions", .array(v.map { .int($0) }))]))])
        }
        var kv: [(String, JSON)] = [
            ("name", .string(name)), ("platform", .string(platform)), ("backend", .string(backend)),
            ("version_policy", vp), ("max_batch_size", .int(maxBatchSize)),
            ("input", .array(inputs.map { tensor($0, true) })), ("output", .array(outputs.map { tensor($0, false) })),
        ]
        if let d = dynamicBatching {
            kv.append(("dynamic_batching", .object([
                ("preferred_batch_size", .array(d.preferredBatchSizes.map { .int($0) })),
                ("max_queue_delay_microseconds", .int(d.maxQueueDelayMicroseconds)),
                ("default_queue_policy", .object([
                    ("timeout_action", .string("REJECT")),
                    ("default_timeout_microseconds", .int(d.defaultTimeoutMicroseconds)),
                    ("allow_timeout_override", .bool(true)),
                    ("max_queue_size", .int(d.maxQueueSize)),
                ])),
            ])))
        }
        if let e = ensemble {
            kv.append(("ensemble_scheduling", e.json))
            kv.append(("parameters", .object([("combine", .object([("string_value", .string(e.combine.rawValue))]))])))
            return .object(kv)
        }
        kv.append(("instance_group", .array([.object([
            ("name", .string(name)), ("kind", .string("KIND_CPU")), ("count", .int(instanceCount)),
        ])])))
        return .object(kv)
    }
}
