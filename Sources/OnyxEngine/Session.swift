import Foundation
import OnyxTensor
import OnyxKernels

/// How much the graph optimizer may rewrite a model (mirrors ONNX Runtime's levels).
public enum OptimizationLevel: String, Sendable, CaseIterable {
    case none, basic, extended, all
}

/// Options for an `InferenceSession`.
public struct SessionOptions: Sendable {
    /// Intra-op threads (default: all available cores).
    public var threads: Int
    public var optimizationLevel: OptimizationLevel
    /// Log load-time facts (optimizer result, compiled steps, folded constants) to standard error.
    public var verbose: Bool
    /// The memory planner: each weight is held once (a constant a kernel packed at load is dropped, and the
    /// session keeps the model without initializer data), and intermediate tensors reuse the buffers of
    /// tensors that died earlier in the run or in earlier runs (a per-session `BufferPool`).
    public var memoryPlanner: Bool
    public init(threads: Int = ThreadPool.availableCores, optimizationLevel: OptimizationLevel = .all, verbose: Bool = false,
                memoryPlanner: Bool = true) {
        self.threads = threads; self.optimizationLevel = optimizationLevel; self.verbose = verbose
        self.memoryPlanner = memoryPlanner
    }
}

/// Runs a model. Compilation happens once in `init`; `run` may be called from many tasks at once.
public final class InferenceSession: Sendable {
    /// The model. With the memory planner on (the default) `model.graph.initializers` is empty: the weights live
    /// in the compiled graph (some only in packed form), so they are not held twice.
    public let model: Model
    public let options: SessionOptions
    /// What a caller feeds (graph inputs that are not initializers).
    public let inputs: [ValueInfo]
    public let outputs: [ValueInfo]
    let compiled: CompiledGraph
    let pool: ThreadPool
    /// The graph inputs the compiled graph takes, in order.
    let compiledInputs: [ValueInfo]
    /// Names of the model's initializers.
    let initializerNames: Set<String>
    /// Buffers for intermediate tensors, shared by this session's runs (nil with the memory planner off).
    public let buffers: BufferPool?

    /// Compiles `model`. Pass it with `consume` (or straight from the loader) so that, with the memory planner
    /// on, the raw weights are freed as they are packed and the load peak stays near the weights' size.
    public init(model: consuming Model, options: SessionOptions = SessionOptions()) throws {
        self.options = options
        self.inputs = model.graph.feedableInputs
        self.outputs = model.graph.outputs
        self.pool = .shared
        self.buffers = options.memoryPlanner ? BufferPool() : nil
        self.initializerNames = Set(model.graph.initializers.map(\.name))
        var opsets = model.opsets
        if let v = opsets["ai.onnx"], opsets[""] == nil { opsets[""] = v }
        var graph = try FunctionInliner.inline(model.graph, functions: model.functions)
        // A model saved by `onyx optimize` is not optimized again.
        let preOptimized = model.metadata.contains { $0.key == GraphOptimizer.optimizedMarker }
        let irVersion = model.irVersion
        if options.memoryPlanner { model.graph.initializers = [] }
        self.model = model
        if irVersion < 4 {
            // Before IR version 4 every initializer had to be listed as a graph input; like ONNX Runtime,
            // treat them as constants (foldable, packable) rather than as overridable inputs.
            let inits = Set(graph.initializers.map(\.name))
            graph.inputs.removeAll { inits.contains($0.name) }
        }
        self.compiledInputs = graph.inputs
        let nodeCount = graph.nodes.count
        let optimized = preOptimized ? graph : try GraphOptimizer(level: options.optimizationLevel, opsets: opsets).optimize(graph)
        graph = Graph()  // the compiler holds the only reference to the weights and frees packed ones early
        let optimizedCount = optimized.nodes.count
        let start = DispatchTime.now().uptimeNanoseconds
        var compiler = GraphCompiler(opsets: opsets, foldConstants: options.optimizationLevel != .none)
        compiler.dropAbsorbedConstants = options.memoryPlanner
        self.compiled = try compiler.compile(consume optimized)
        if options.verbose {
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            let line = "onyx: graph '\(self.model.graph.name)': \(nodeCount) nodes, \(optimizedCount) after optimization "
                + "(level \(options.optimizationLevel.rawValue)), \(compiled.nodeCount) kernels to run, "
                + "\(compiled.constants.count) constants (\(compiled.constantBytes >> 20) MiB, packed \(compiled.packedBytes >> 20) MiB); compiled in \(String(format: "%.1f", ms)) ms, \(options.threads) threads\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// Runs the model on tensors. Returns the requested outputs (all when `outputNames` is nil).
    public func run(_ feeds: [String: Tensor], outputNames: [String]? = nil) throws -> [String: Tensor] {
        let vals = try runValues(feeds.mapValues { .tensor($0) }, outputNames: outputNames)
        var out: [String: Tensor] = [:]
        for (k, v) in vals {
            guard let t = v.tensor else { throw OnyxError.runtime("output '\(k)' is \(v.kindName), not a tensor") }
            out[k] = t
        }
        return out
    }

    /// Runs the model on tensors and returns outputs in graph order.
    public func runOrdered(_ feeds: [String: Tensor]) throws -> [Value] {
        try compiled.run(inputs: try bind(feeds.mapValues { .tensor($0) }), context: runContext)
    }

    /// Runs the model on any values (tensors, sequences, optionals, maps).
    public func runValues(_ feeds: [String: Value], outputNames: [String]? = nil) throws -> [String: Value] {
        let wanted = outputNames ?? outputs.map(\.name)
        for w in wanted where !outputs.contains(where: { $0.name == w }) {
            throw OnyxError.invalidInput("unknown output '\(w)'; the model's outputs are \(outputs.map(\.name).joined(separator: ", "))")
        }
        let res = try compiled.run(inputs: try bind(feeds), context: runContext)
        var out: [String: Value] = [:]
        for (i, o) in outputs.enumerated() where wanted.contains(o.name) { out[o.name] = res[i] }
        return out
    }

    var runContext: RunContext { RunContext(threads: options.threads, pool: pool, buffers: buffers) }

    /// Bytes of constant tensors the compiled graph holds.
    public var constantBytes: Int { compiled.constantBytes }
    /// Bytes of weights held packed by kernels.
    public var packedBytes: Int { compiled.packedBytes }

    /// Checks feeds against the model's declared inputs and orders them.
    func bind(_ feeds: [String: Value]) throws -> [Value?] {
        for k in feeds.keys where !model.graph.inputs.contains(where: { $0.name == k }) {
            throw OnyxError.invalidInput("unknown input '\(k)'; the model's inputs are \(inputs.map(\.name).joined(separator: ", "))")
        }
        let initNames = initializerNames
        if model.irVersion < 4, let k = feeds.keys.first(where: { initNames.contains($0) }) {
            throw OnyxError.invalidInput("input '\(k)' is a constant initializer in this IR version \(model.irVersion) model")
        }
        var bound: [Value?] = []
        for inp in compiledInputs {
            guard let v = feeds[inp.name] else {
                if initNames.contains(inp.name) { bound.append(nil); continue }
                throw OnyxError.invalidInput("missing input '\(inp.name)' (\(inp.type))")
            }
            if case .tensor(let dt, let shape) = inp.type {
                guard let t = v.tensor else {
                    throw OnyxError.invalidInput("input '\(inp.name)': expected \(inp.type), got \(v.kindName)")
                }
                if t.dtype != dt {
                    throw OnyxError.invalidInput("input '\(inp.name)': expected dtype \(dt), got \(t.dtype)")
                }
                if let shape {
                    if shape.count != t.rank {
                        throw OnyxError.invalidInput("input '\(inp.name)': expected rank \(shape.count) (\(inp.type)), got shape \(t.shape)")
                    }
                    for (k, d) in shape.enumerated() {
                        if case .fixed(let n) = d, n != t.shape[k] {
                            throw OnyxError.invalidInput("input '\(inp.name)': dimension \(k) must be \(n) (\(inp.type)), got shape \(t.shape)")
                        }
                    }
                }
            }
            bound.append(v)
        }
        return bound
    }
}
