import Foundation
import Onyx

/// A protocol-neutral inference request (decoded from HTTP JSON/binary or gRPC).
struct InferRequest: Sendable {
    var id: String = ""
    var inputs: [(name: String, tensor: Tensor)] = []
    /// Requested output names; empty means all.
    var outputs: [String] = []
    /// Outputs asked for as top-K classifications (the classification extension): name → K.
    var classification: [String: Int] = [:]
    /// Per-request timeout (`timeout` parameter), microseconds.
    var timeoutMicroseconds: Int?
    /// How many ensembles this request is nested in (0 for a client's request).
    var depth = 0
}

/// A loaded, servable model version: an ONNX model with its scheduler, or an ensemble of other models.
final class ModelVersion: Sendable {
    let name: String
    let version: Int
    let config: ModelConfig
    /// The ONNX session (nil for an ensemble).
    let session: InferenceSession?
    let stats: ModelStats
    /// The model's queue and batcher (nil for an ensemble, whose members have their own).
    let scheduler: Scheduler?
    /// Set for `platform: "ensemble"`.
    let ensemble: EnsembleRunner?
    /// Identity of the files it was loaded from (to notice changes when polling).
    let fingerprint: String

    init(name: String, version: Int, config: ModelConfig, session: InferenceSession, stats: ModelStats, fingerprint: String) {
        self.name = name; self.version = version; self.config = config; self.session = session; self.stats = stats
        self.fingerprint = fingerprint
        self.scheduler = Scheduler(session: session, config: config, stats: stats)
        self.ensemble = nil
    }

    init(name: String, version: Int, config: ModelConfig, ensemble: EnsembleRunner, stats: ModelStats, fingerprint: String) {
        self.name = name; self.version = version; self.config = config; self.session = nil; self.stats = stats
        self.fingerprint = fingerprint
        self.scheduler = nil
        self.ensemble = ensemble
    }

    /// Stops the workers after the queue drains (nothing to stop for an ensemble).
    func retire() { scheduler?.retire() }

    /// Whether this version was replaced or unloaded (its queue accepts nothing new).
    var isRetired: Bool { scheduler?.isRetired ?? false }

    /// Metadata shape of a config tensor: with batching, a leading -1.
    func metadataShape(_ t: TensorConfig) -> [Int] { config.maxBatchSize > 0 ? [-1] + t.dims : t.dims }

    var metadataJSON: JSON {
        func t(_ c: TensorConfig) -> JSON {
            .object([("name", .string(c.name)), ("datatype", .string(V2DataType.name(c.dataType))),
                     ("shape", .array(metadataShape(c).map { .int($0) }))])
        }
        return .object([
            ("name", .string(name)), ("versions", .array([.string(String(version))])),
            ("platform", .string(config.platform)),
            ("inputs", .array(config.inputs.map(t))), ("outputs", .array(config.outputs.map(t))),
        ])
    }

    /// Checks a request against the config: names, datatypes, shapes, batch size.
    func validate(_ r: InferRequest) throws -> Int {
        for (o, k) in r.classification {
            guard k > 0 else { throw ServeError.bad("output '\(o)': classification count must be positive, got \(k)") }
            if let c = config.outputs.first(where: { $0.name == o }), c.dataType == .string || c.dataType == .bool {
                throw ServeError.bad("output '\(o)': classification needs a numeric output, it is \(V2DataType.name(c.dataType))")
            }
        }
        var batch: Int? = nil
        var seen = Set<String>()
        for (name, t) in r.inputs {
            guard let c = config.inputs.first(where: { $0.name == name }) else {
                throw ServeError.bad("unknown input '\(name)' for model '\(self.name)'; its inputs are \(config.inputs.map(\.name).joined(separator: ", "))")
            }
            guard seen.insert(name).inserted else { throw ServeError.bad("input '\(name)' is given twice") }
            guard t.dtype == c.dataType else {
                throw ServeError.bad("input '\(name)': expected datatype \(V2DataType.name(c.dataType)), got \(V2DataType.name(t.dtype))")
            }
            let expected = metadataShape(c)
            let ok = t.rank == expected.count && zip(t.shape, expected).allSatisfy { $1 == -1 || $0 == $1 }
            guard ok else { throw ServeError.bad("input '\(name)': expected shape \(expected), got \(t.shape)") }
            if config.maxBatchSize > 0 {
                let b = t.shape[0]
                guard b >= 1, b <= config.maxBatchSize else {
                    throw ServeError.bad("input '\(name)': batch size \(b) must be between 1 and max_batch_size \(config.maxBatchSize)")
                }
                if let batch, batch != b { throw ServeError.bad("inputs have different batch sizes (\(batch) and \(b))") }
                batch = b
            }
        }
        for c in config.inputs where !seen.contains(c.name) {
            throw ServeError.bad("missing input '\(c.name)' (\(V2DataType.name(c.dataType)) \(metadataShape(c))) for model '\(name)'")
        }
        var outs = Set<String>()
        for o in r.outputs {
            guard config.outputs.contains(where: { $0.name == o }) else {
                throw ServeError.bad("unknown output '\(o)' for model '\(name)'; its outputs are \(config.outputs.map(\.name).joined(separator: ", "))")
            }
            guard outs.insert(o).inserted else { throw ServeError.bad("output '\(o)' is requested twice") }
        }
        return batch ?? 1
    }

    /// Replaces the outputs asked for as classifications by their top-K BYTES tensors.
    func classify(_ out: [(name: String, tensor: Tensor)], _ r: InferRequest) throws -> [(name: String, tensor: Tensor)] {
        guard !r.classification.isEmpty else { return out }
        return try out.map { o in
            guard let k = r.classification[o.name] else { return o }
            let labels = config.outputs.first { $0.name == o.name }?.labels ?? []
            return (o.name, try Classification.topK(o.tensor, count: k, batched: config.maxBatchSize > 0, labels: labels, output: o.name))
        }
    }

    /// Validates, queues and runs a request; returns the outputs in the requested (or model) order.
    func infer(_ r: InferRequest) async throws -> [(name: String, tensor: Tensor)] {
        let start = nowNs()
        stats.mInFlight.increment()
        defer { stats.mInFlight.decrement() }
        do {
            let batch = try validate(r)
            let outNames = r.outputs.isEmpty ? config.outputs.map(\.name) : r.outputs
            guard let scheduler else {
                guard let ensemble else { throw ServeError(.internalError, "model '\(name)' has neither a session nor members") }
                let t0 = nowNs()
                let res = try await ensemble.run(r, outputs: outNames, inputNames: config.inputs.map(\.name))
                stats.executionDone(batchSize: batch, requests: 1, inputNs: 0, inferNs: nowNs() &- t0, outputNs: 0)
                var out: [(String, Tensor)] = []
                for n in outNames {
                    guard let t = res[n] else { throw ServeError(.internalError, "the ensemble produced no output '\(n)'") }
                    out.append((n, t))
                }
                stats.requestDone(success: true, totalNs: nowNs() &- start, queueNs: 0)
                return try classify(out, r)
            }
            // Requests batch together only when every non-batch dimension and the requested outputs agree.
            var key = ""
            if config.maxBatchSize > 0 {
                for (n, t) in r.inputs.sorted(by: { $0.name < $1.name }) { key += "\(n):\(t.shape.dropFirst());" }
                key += outNames.sorted().joined(separator: ",")
            }
            let timeout = r.timeoutMicroseconds ?? (config.dynamicBatching?.defaultTimeoutMicroseconds).flatMap { $0 > 0 ? $0 : nil }
            let deadline = timeout.map { start &+ UInt64(max($0, 0)) &* 1000 }
            let item = PendingInference(inputs: Dictionary(r.inputs.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a }),
                                        outputNames: outNames, batchSize: batch, key: key, deadline: deadline)
            let timer: Task<Void, Never>? = timeout.map { us in
                Task { [scheduler] in
                    try? await Task.sleep(nanoseconds: UInt64(max(us, 0)) &* 1000)
                    scheduler.expire(item)
                }
            }
            defer { timer?.cancel() }
            let outcome = try await scheduler.infer(item)
            var out: [(String, Tensor)] = []
            for n in outNames {
                guard let t = outcome.outputs[n] else { throw ServeError(.internalError, "the model produced no output '\(n)'") }
                out.append((n, t))
            }
            stats.requestDone(success: true, totalNs: nowNs() &- start, queueNs: outcome.queueNs)
            return try classify(out, r)
        } catch {
            stats.requestDone(success: false, totalNs: nowNs() &- start, queueNs: 0)
            throw Scheduler.mapError(error)
        }
    }
}
