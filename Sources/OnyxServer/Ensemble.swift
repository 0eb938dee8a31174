import Foundation
import Onyx

/// How a combining ensemble merges an output that several steps produce.
public enum EnsembleCombine: String, Sendable, Equatable {
    /// A pipeline (Triton's ensemble): steps form a DAG, each ensemble tensor is produced once.
    case none
    /// Element-wise mean (floating-point outputs, e.g. class probabilities).
    case mean
    /// Element-wise majority vote (integer, BOOL or BYTES outputs, e.g. labels); ties go to the smallest value.
    case vote
}

/// One `ensemble_scheduling.step`: a member model and how its inputs and outputs map to ensemble tensors.
public struct EnsembleStep: Sendable, Equatable {
    public var modelName: String
    /// -1: the member's newest ready version.
    public var modelVersion: Int
    /// Member input name → ensemble tensor name.
    public var inputMap: [(String, String)]
    /// Member output name → ensemble tensor name.
    public var outputMap: [(String, String)]

    public static func == (a: EnsembleStep, b: EnsembleStep) -> Bool {
        a.modelName == b.modelName && a.modelVersion == b.modelVersion
            && a.inputMap.elementsEqual(b.inputMap, by: ==) && a.outputMap.elementsEqual(b.outputMap, by: ==)
    }
}

/// `platform: "ensemble"`: Triton's `ensemble_scheduling` plus Onyx's `combine` parameter.
public struct EnsembleConfig: Sendable, Equatable {
    public var steps: [EnsembleStep]
    public var combine: EnsembleCombine

    /// Reads `ensemble_scheduling { step [...] }` and `parameters { key: "combine" ... }` from a config tree
    /// (text format: repeated `{key, value}` messages; JSON: maps).
    static func parse(_ tree: JSON) throws -> EnsembleConfig {
        func map(_ v: JSON?, _ what: String) throws -> [(String, String)] {
            guard let v else { return [] }
            if let kv = v.objectValue, !kv.contains(where: { $0.0 == "key" }) {
                // JSON form: {"member_name": "ensemble_name"}.
                return try kv.map { k, x in
                    guard let s = x.stringValue else { throw ServeError.bad("ensemble \(what) '\(k)' must map to a string") }
                    return (k, s)
                }
            }
            return try ModelConfig.list(v).map { e in
                guard let k = e["key"]?.stringValue, let x = e["value"]?.stringValue else {
                    throw ServeError.bad("every ensemble \(what) entry needs a string key and value")
                }
                return (k, x)
            }
        }
        guard let sched = ModelConfig.field(tree, "ensemble_scheduling") else {
            throw ServeError.bad("an ensemble needs ensemble_scheduling { step [...] }")
        }
        var steps: [EnsembleStep] = []
        for s in ModelConfig.list(ModelConfig.field(sched, "step")) {
            guard let m = ModelConfig.field(s, "model_name")?.stringValue, !m.isEmpty else {
                throw ServeError.bad("every ensemble step needs a model_name")
            }
            let v = try ModelConfig.int(s, "model_version", "ensemble step '\(m)'") ?? -1
            guard v >= -1 else { throw ServeError.bad("ensemble step '\(m)': model_version must be -1 or a version number") }
            let step = EnsembleStep(modelName: m, modelVersion: v, inputMap: try map(ModelConfig.field(s, "input_map"), "input_map"),
                                    outputMap: try map(ModelConfig.field(s, "output_map"), "output_map"))
            guard !step.inputMap.isEmpty, !step.outputMap.isEmpty else {
                throw ServeError.bad("ensemble step '\(m)' needs an input_map and an output_map")
            }
            steps.append(step)
        }
        guard !steps.isEmpty else { throw ServeError.bad("ensemble_scheduling has no step") }
        var combine = EnsembleCombine.none
        if let c = parameter(tree, "combine") {
            guard let k = EnsembleCombine(rawValue: c) else { throw ServeError.bad("parameter 'combine' must be none, mean or vote, got '\(c)'") }
            combine = k
        }
        return EnsembleConfig(steps: steps, combine: combine)
    }

    /// A string parameter: `parameters { key: K value { string_value: V } }` or JSON `{"K": {"string_value": V}}`.
    static func parameter(_ tree: JSON, _ key: String) -> String? {
        guard let p = ModelConfig.field(tree, "parameters") else { return nil }
        if let kv = p.objectValue, !kv.contains(where: { $0.0 == "key" }) {
            return ModelConfig.field(p[key], "string_value")?.stringValue ?? p[key]?.stringValue
        }
        for e in ModelConfig.list(p) where e["key"]?.stringValue == key {
            return ModelConfig.field(e["value"], "string_value")?.stringValue
        }
        return nil
    }

    /// Checks the steps against the ensemble's inputs and outputs: a pipeline's steps must form a DAG in which
    /// every tensor is produced once and every output is produced; a combining ensemble's steps all read the
    /// ensemble's inputs, and each output is produced by at least one step with a type the combination supports.
    func validate(_ c: ModelConfig) throws {
        guard !c.inputs.isEmpty, !c.outputs.isEmpty else {
            throw ServeError.bad("an ensemble's config must list its inputs and outputs")
        }
        let inputs = Set(c.inputs.map(\.name))
        var produced = inputs
        for s in steps {
            for (_, t) in s.outputMap {
                if combine == .none {
                    guard produced.insert(t).inserted else { throw ServeError.bad("ensemble tensor '\(t)' is produced twice") }
                } else {
                    produced.insert(t)
                }
            }
        }
        for s in steps {
            for (_, t) in s.inputMap where !produced.contains(t) {
                throw ServeError.bad("ensemble step '\(s.modelName)' reads '\(t)', which is neither an ensemble input nor a step output")
            }
            if combine != .none {
                for (_, t) in s.inputMap where !inputs.contains(t) {
                    throw ServeError.bad("combining ensemble step '\(s.modelName)' must read ensemble inputs, not '\(t)'")
                }
            }
        }
        for o in c.outputs {
            let n = steps.reduce(0) { $0 + $1.outputMap.filter { $0.1 == o.name }.count }
            guard n > 0 else { throw ServeError.bad("ensemble output '\(o.name)' is not produced by any step") }
            if n > 1 && combine == .mean && ![.float32, .float64, .float16].contains(o.dataType) {
                throw ServeError.bad("combine 'mean' needs floating-point outputs; '\(o.name)' is \(V2DataType.configName(o.dataType))")
            }
            if n > 1 && combine == .vote && [.float32, .float64, .float16, .bfloat16].contains(o.dataType) {
                throw ServeError.bad("combine 'vote' needs integer, BOOL or BYTES outputs (labels); '\(o.name)' is \(V2DataType.configName(o.dataType))")
            }
        }
        _ = try order(inputs: inputs)
    }

    /// Steps grouped into waves; each wave only reads tensors of earlier waves (throws on a cycle).
    func order(inputs: Set<String>) throws -> [[Int]] {
        var have = inputs
        var left = Array(steps.indices)
        var waves: [[Int]] = []
        while !left.isEmpty {
            let wave = left.filter { i in steps[i].inputMap.allSatisfy { have.contains($0.1) } }
            guard !wave.isEmpty else {
                throw ServeError.bad("ensemble steps \(left.map { steps[$0].modelName }) wait on each other (a cycle)")
            }
            for i in wave { for (_, t) in steps[i].outputMap { have.insert(t) } }
            left.removeAll { wave.contains($0) }
            waves.append(wave)
        }
        return waves
    }

    var json: JSON {
        .object([("step", .array(steps.map { s in
            .object([
                ("model_name", .string(s.modelName)), ("model_version", .int(s.modelVersion)),
                ("input_map", .object(s.inputMap.map { ($0.0, .string($0.1)) })),
                ("output_map", .object(s.outputMap.map { ($0.0, .string($0.1)) })),
            ])
        }))])
    }
}

/// Runs an ensemble request: members are looked up in the repository when they run (so loads, unloads and new
/// versions of members take effect at once), each through its own queue and batcher.
struct EnsembleRunner: Sendable {
    /// Nested ensembles deeper than this are refused (it also stops a cycle of ensembles naming each other).
    static let maxDepth = 8

    let name: String
    let config: EnsembleConfig
    let repository: ModelRepository

    /// The member a step addresses, or why it is not ready.
    func member(_ s: EnsembleStep) throws -> ModelVersion {
        do {
            return try repository.lookup(s.modelName, s.modelVersion < 0 ? nil : String(s.modelVersion))
        } catch let e as ServeError {
            throw ServeError(.unavailable, "ensemble '\(name)' member '\(s.modelName)' is not available: \(e.message)")
        }
    }

    /// Throws `.unavailable` naming the first member (at any depth) that is not ready.
    func checkMembers(depth: Int) throws {
        guard depth < Self.maxDepth else { throw ServeError(.unavailable, "ensemble '\(name)' nests ensembles deeper than \(Self.maxDepth) (a cycle?)") }
        for s in config.steps {
            let m = try member(s)
            if let r = m.ensemble {
                do { try r.checkMembers(depth: depth + 1) } catch let e as ServeError {
                    throw ServeError(.unavailable, "ensemble '\(name)' member '\(s.modelName)' is not available: \(e.message)")
                }
            }
        }
    }

    func run(_ r: InferRequest, outputs: [String], inputNames: [String]) async throws -> [String: Tensor] {
        guard r.depth < Self.maxDepth else { throw ServeError(.unavailable, "ensemble '\(name)' nests ensembles deeper than \(Self.maxDepth) (a cycle?)") }
        var tensors: [String: Tensor] = [:]
        for (n, t) in r.inputs { tensors[n] = t }
        var produced: [String: [Tensor]] = [:]
        for wave in try config.order(inputs: Set(inputNames)) {
            let results = try await withThrowingTaskGroup(of: (Int, [(String, Tensor)]).self) { g in
                for i in wave {
                    let s = config.steps[i]
                    var sub = InferRequest()
                    sub.id = r.id
                    sub.depth = r.depth + 1
                    sub.timeoutMicroseconds = r.timeoutMicroseconds
                    for (memberInput, t) in s.inputMap {
                        guard let v = tensors[t] else { throw ServeError(.internalError, "ensemble tensor '\(t)' was not produced") }
                        sub.inputs.append((memberInput, v))
                    }
                    sub.outputs = s.outputMap.map(\.0)
                    let req = sub
                    g.addTask { (i, try await self.runStep(s, req)) }
                }
                var all: [(Int, [(String, Tensor)])] = []
                for try await x in g { all.append(x) }
                return all.sorted { $0.0 < $1.0 }
            }
            for (i, outs) in results {
                let s = config.steps[i]
                for (memberOutput, t) in s.outputMap {
                    guard let v = outs.first(where: { $0.0 == memberOutput })?.1 else {
                        throw ServeError(.internalError, "ensemble member '\(s.modelName)' returned no output '\(memberOutput)'")
                    }
                    produced[t, default: []].append(v)
                    tensors[t] = v
                }
            }
        }
        var out: [String: Tensor] = [:]
        for o in outputs {
            guard let vs = produced[o], let first = vs.first else { throw ServeError(.internalError, "ensemble output '\(o)' was not produced") }
            out[o] = vs.count == 1 ? first : try Self.combine(vs, config.combine, name: o)
        }
        return out
    }

    /// Runs one member; a member version retired between lookup and queueing (a reload) is looked up again.
    func runStep(_ s: EnsembleStep, _ r: InferRequest) async throws -> [(String, Tensor)] {
        var attempt = 0
        while true {
            let m = try member(s)
            do {
                return try await m.infer(r).map { ($0.name, $0.tensor) }
            } catch let e as ServeError where e.kind == .unavailable && m.isRetired && attempt < 3 {
                attempt += 1
                continue
            } catch let e as ServeError where e.kind == .badRequest {
                throw ServeError.bad("ensemble '\(name)' step '\(s.modelName)': \(e.message)")
            }
        }
    }

    /// Combines the same output of several members (equal shapes and datatypes).
    static func combine(_ vs: [Tensor], _ how: EnsembleCombine, name: String) throws -> Tensor {
        let first = vs[0]
        for v in vs.dropFirst() where v.shape != first.shape || v.dtype != first.dtype {
            throw ServeError(.internalError, "ensemble members disagree on output '\(name)': \(first.dtype) \(first.shape) vs \(v.dtype) \(v.shape)")
        }
        let n = first.count
        switch how {
        case .none:
            throw ServeError(.internalError, "ensemble output '\(name)' is produced by several steps")
        case .mean:
            let out = Tensor.uninitialized(first.dtype, shape: first.shape)
            let k = Double(vs.count)
            for i in 0..<n {
                var s = 0.0
                for v in vs { s += v.doubleValue(at: i) }
                let m = s / k
                switch first.dtype {
                case .float32: out.mutablePointer(Float.self)[i] = Float(m)
                case .float64: out.mutablePointer(Double.self)[i] = m
                case .float16: out.mutablePointer(Float16.self)[i] = Float16(Float(m))
                default: throw ServeError(.internalError, "combine 'mean' cannot average \(first.dtype) output '\(name)'")
                }
            }
            return out
        case .vote:
            if first.dtype == .string {
                let cols = vs.map(\.strings)
                let winners = (0..<n).map { i -> String in
                    var counts: [String: Int] = [:]
                    for c in cols { counts[c[i], default: 0] += 1 }
                    let best = counts.values.max() ?? 0
                    return counts.filter { $0.value == best }.keys.min() ?? cols[0][i]
                }
                return Tensor(dtype: .string, shape: first.shape, storage: TensorStorage(strings: winners))
            }
            // Pick, per element, the member whose value is most common (ties: the smallest value) and copy its bytes.
            let out = first.copy()
            let size = first.dtype.size
            for i in 0..<n {
                var bestIndex = 0, bestCount = 0
                for (j, v) in vs.enumerated() {
                    let x = v.doubleValue(at: i)
                    let c = vs.reduce(0) { $0 + ($1.doubleValue(at: i) == x ? 1 : 0) }
                    if c > bestCount || (c == bestCount && x < vs[bestIndex].doubleValue(at: i)) { bestIndex = j; bestCount = c }
                }
                (out.rawPointer + i * size).copyMemory(from: vs[bestIndex].rawPointer + i * size, byteCount: size)
            }
            return out
        }
    }
}
