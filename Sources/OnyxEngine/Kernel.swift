import Foundation
import OnyxTensor
import OnyxKernels

/// A compiled operator instance: attributes parsed once at load, `run` called per inference.
/// Kernels are immutable and shared by concurrent runs.
public protocol Kernel: Sendable {
    /// `inputs[i]` is nil for an omitted optional input. Implicit inputs of nodes with subgraphs
    /// (outer-scope values the subgraphs read) follow the explicit ones.
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value]
}

/// A kernel that takes and returns tensors only: the common case.
public protocol TensorKernel: Kernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor]
}

extension TensorKernel {
    public func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        var ts: [Tensor?] = []
        ts.reserveCapacity(inputs.count)
        for (i, v) in inputs.enumerated() {
            guard let v else { ts.append(nil); continue }
            guard let t = v.tensor else { throw KernelError("input \(i) must be a tensor, got \(v.kindName)") }
            ts.append(t)
        }
        return try compute(ts, ctx).map { .tensor($0) }
    }
}

extension Array where Element == Tensor? {
    /// Input `i`, which must be present.
    @inline(__always)
    public func required(_ i: Int, _ name: String = "") throws -> Tensor {
        guard i < count, let t = self[i] else {
            throw KernelError("missing required input \(name.isEmpty ? String(i) : "'\(name)'")")
        }
        return t
    }
    /// Input `i` when given (nil when omitted or beyond the end).
    @inline(__always)
    public func optional(_ i: Int) -> Tensor? { i < count ? self[i] : nil }
}

/// Per-run context: thread budget and helpers for parallel loops.
public struct RunContext: Sendable {
    /// Intra-op threads this run may use.
    public var threads: Int
    public var pool: ThreadPool
    /// The session's buffer pool (memory planner); `CompiledGraph.run` makes it serve the run's allocations.
    public var buffers: BufferPool?
    public init(threads: Int, pool: ThreadPool, buffers: BufferPool? = nil) {
        self.threads = max(1, threads); self.pool = pool; self.buffers = buffers
    }

    /// Runs `body` over `0..<n` split in contiguous chunks across the thread budget.
    /// `cost` is a rough per-item work estimate in elementary operations; small jobs stay on this thread.
    public func parallelFor(_ n: Int, cost: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        pool.parallelFor(n, threads: threads, cost: cost, body)
    }
}

/// What a kernel factory sees at load time.
public struct NodeContext: Sendable {
    public let node: Node
    /// The model's opset version for this node's domain.
    public let opset: Int
    /// Values of inputs that are constant (initializers or Constant nodes), by input index.
    public let constantInputs: [Int: Tensor]
    /// Outer-scope names that the node's subgraphs read, in the order they are appended to the inputs.
    public let implicitInputs: [String]
    let subgraphCompiler: @Sendable (Graph, [String]) throws -> CompiledGraph

    public init(node: Node, opset: Int, constantInputs: [Int: Tensor], implicitInputs: [String],
                subgraphCompiler: @escaping @Sendable (Graph, [String]) throws -> CompiledGraph) {
        self.node = node; self.opset = opset; self.constantInputs = constantInputs
        self.implicitInputs = implicitInputs; self.subgraphCompiler = subgraphCompiler
    }

    public var inputCount: Int { node.inputs.count }
    public var outputCount: Int { node.outputs.count }
    /// Whether optional input `i` is present.
    public func hasInput(_ i: Int) -> Bool { i < node.inputs.count && !node.inputs[i].isEmpty }

    public func has(_ name: String) -> Bool { node.attributes[name] != nil }

    public func int(_ name: String, _ def: Int) throws -> Int {
        switch node.attributes[name] {
        case nil: return def
        case .int(let v): return v
        default: throw KernelError("attribute '\(name)' must be an int")
        }
    }
    public func int(_ name: String) throws -> Int {
        guard case .int(let v) = node.attributes[name] else { throw KernelError("attribute '\(name)' (int) is required") }
        return v
    }
    public func float(_ name: String, _ def: Float) throws -> Float {
        switch node.attributes[name] {
        case nil: return def
        case .float(let v): return v
        case .int(let v): return Float(v)
        default: throw KernelError("attribute '\(name)' must be a float")
        }
    }
    public func string(_ name: String, _ def: String) throws -> String {
        switch node.attributes[name] {
        case nil: return def
        case .string(let v): return v
        default: throw KernelError("attribute '\(name)' must be a string")
        }
    }
    public func ints(_ name: String) throws -> [Int]? {
        switch node.attributes[name] {
        case nil: return nil
        case .ints(let v): return v
        case .int(let v): return [v]
        default: throw KernelError("attribute '\(name)' must be a list of ints")
        }
    }
    public func floats(_ name: String) throws -> [Float]? {
        switch node.attributes[name] {
        case nil: return nil
        case .floats(let v): return v
        case .float(let v): return [v]
        default: throw KernelError("attribute '\(name)' must be a list of floats")
        }
    }
    public func strings(_ name: String) throws -> [String]? {
        switch node.attributes[name] {
        case nil: return nil
        case .strings(let v): return v
        case .string(let v): return [v]
        default: throw KernelError("attribute '\(name)' must be a list of strings")
        }
    }
    public func tensor(_ name: String) throws -> Tensor? {
        switch node.attributes[name] {
        case nil: return nil
        case .tensor(let t): return t
        default: throw KernelError("attribute '\(name)' must be a tensor")
        }
    }
    public func graph(_ name: String) throws -> Graph? {
        switch node.attributes[name] {
        case nil: return nil
        case .graph(let g): return g
        default: throw KernelError("attribute '\(name)' must be a graph")
        }
    }
    public func type(_ name: String) throws -> ValueType? {
        switch node.attributes[name] {
        case nil: return nil
        case .type(let t): return t
        default: throw KernelError("attribute '\(name)' must be a type")
        }
    }

    /// Compiles the subgraph in attribute `name`; it may read any of `implicitInputs` from the outer scope.
    public func subgraph(_ name: String) throws -> CompiledGraph {
        guard let g = try graph(name) else { throw KernelError("attribute '\(name)' (graph) is required") }
        return try subgraphCompiler(g, implicitInputs)
    }
}

/// A kernel that turned some constant inputs into its own form at load (a weight packed for the GEMM
/// micro-kernel, a bias copied to an array) and does not read them at run time. The compiler drops such a
/// constant when no other reader needs it and passes nil in its place, so the weight is held once.
public protocol PrepackingKernel: Kernel {
    /// Input positions the kernel ignores at run time (it copes with nil there).
    var absorbedInputs: [Int] { get }
    /// Bytes the kernel holds in packed form.
    var packedBytes: Int { get }
}
