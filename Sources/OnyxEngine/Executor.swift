import Foundation
import OnyxTensor
import OnyxKernels

/// A graph compiled for execution: values live in numbered slots, nodes run in a fixed
/// topological order, and each slot is released after its last reader.
/// Immutable after compilation, so any number of runs may execute it concurrently.
public final class CompiledGraph: Sendable {
    struct Step: Sendable {
        let kernel: Kernel
        let label: String
        let inputs: [Int]   // -1 = omitted
        let outputs: [Int]
        let release: [Int]  // slots dead after this step
        var opType: String = ""
    }
    let slotCount: Int
    let outerSlots: [Int]
    let inputSlots: [Int]
    let constants: [(slot: Int, value: Value)]
    let steps: [Step]
    let outputSlots: [Int]
    public let inputNames: [String]
    public let outputNames: [String]
    /// Initializer defaults for graph inputs that are also initializers.
    let inputDefaults: [Int: Value]
    /// Bytes of the constant tensors the graph holds (initializers and folded values kept for run time).
    public let constantBytes: Int
    /// Bytes of weights the kernels hold packed (their raw constants are dropped when nothing else reads them).
    public let packedBytes: Int

    init(slotCount: Int, outerSlots: [Int], inputSlots: [Int], constants: [(slot: Int, value: Value)], steps: [Step],
         outputSlots: [Int], inputNames: [String], outputNames: [String], inputDefaults: [Int: Value]) {
        self.slotCount = slotCount; self.outerSlots = outerSlots; self.inputSlots = inputSlots
        self.constants = constants; self.steps = steps; self.outputSlots = outputSlots
        self.inputNames = inputNames; self.outputNames = outputNames; self.inputDefaults = inputDefaults
        var seen = Set<ObjectIdentifier>(), bytes = 0
        for c in constants {
            if let t = c.value.tensor, seen.insert(ObjectIdentifier(t.storage)).inserted { bytes += t.storage.byteCount }
        }
        constantBytes = bytes
        packedBytes = steps.reduce(0) { $0 + (($1.kernel as? PrepackingKernel)?.packedBytes ?? 0) }
    }

    /// Number of nodes executed per run.
    public var nodeCount: Int { steps.count }

    /// Runs the graph. `inputs` follow the graph's input order (nil = not fed, the initializer
    /// default applies); `outer` follows the outer names given at compile time.
    public func run(inputs: [Value?], outer: [Value] = [], context: RunContext) throws -> [Value] {
        if let buffers = context.buffers, BufferPool.current !== buffers {
            return try buffers.withCurrent { try runSteps(inputs: inputs, outer: outer, context: context) }
        }
        return try runSteps(inputs: inputs, outer: outer, context: context)
    }

    func runSteps(inputs: [Value?], outer: [Value], context: RunContext) throws -> [Value] {
        var slots = [Value?](repeating: nil, count: slotCount)
        for c in constants { slots[c.slot] = c.value }
        for (i, s) in outerSlots.enumerated() where i < outer.count { slots[s] = outer[i] }
        for (i, s) in inputSlots.enumerated() {
            if i < inputs.count, let v = inputs[i] { slots[s] = v } else if let d = inputDefaults[i] { slots[s] = d }
        }
        var args: [Value?] = []
        for step in steps {
            args.removeAll(keepingCapacity: true)
            for s in step.inputs { args.append(s >= 0 ? slots[s] : nil) }
            let outs: [Value]
            do {
                if OpProfiler.enabled {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    outs = try step.kernel.run(args, context)
                    OpProfiler.shared.add(step.opType, DispatchTime.now().uptimeNanoseconds &- t0)
                } else {
                    outs = try step.kernel.run(args, context)
                }
            } catch let e as OnyxError {
                if case .node = e { throw e }
                throw OnyxError.node(label: step.label, message: e.description)
            } catch {
                throw OnyxError.node(label: step.label, message: "\(error)")
            }
            guard outs.count >= step.outputs.count || step.outputs.allSatisfy({ $0 < 0 }) else {
                throw OnyxError.node(label: step.label, message: "produced \(outs.count) outputs, expected \(step.outputs.count)")
            }
            for (i, s) in step.outputs.enumerated() where s >= 0 && i < outs.count { slots[s] = outs[i] }
            for s in step.release { slots[s] = nil }
        }
        var result: [Value] = []
        result.reserveCapacity(outputSlots.count)
        for (i, s) in outputSlots.enumerated() {
            guard let v = slots[s] else {
                throw OnyxError.runtime("graph output '\(outputNames[i])' was not produced")
            }
            result.append(v)
        }
        return result
    }
}

/// Turns an IR graph into a `CompiledGraph`, checking its structure.
public struct GraphCompiler: Sendable {
    public let opsets: [String: Int]
    public let table: OperatorTable
    /// Evaluate nodes whose inputs are all constant once, at load (optimization level basic and up).
    public let foldConstants: Bool
    /// Drop a constant from the compiled graph as soon as its last reader is built, when every reader packed it
    /// (`PrepackingKernel`) or was folded: the weight is then held once, and the load peak stays near the
    /// weights' size instead of raw plus packed.
    public var dropAbsorbedConstants: Bool = true

    /// Operators whose outputs differ between runs: never folded.
    static let nondeterministic: Set<String> = ["RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                                                "Bernoulli", "Multinomial", "Dropout"]

    public init(opsets: [String: Int], table: OperatorTable = .standard, foldConstants: Bool = true) {
        self.opsets = opsets
        self.table = table
        self.foldConstants = foldConstants
    }

    /// Names a graph reads but does not define (for subgraphs: values from the enclosing scope).
    public static func freeVariables(of g: Graph) -> [String] {
        var defined = Set(g.inputs.map(\.name))
        defined.formUnion(g.initializers.map(\.name))
        for n in g.nodes { defined.formUnion(n.outputs) }
        var free: [String] = []
        var seen = Set<String>()
        func use(_ name: String) {
            if name.isEmpty || defined.contains(name) || seen.contains(name) { return }
            seen.insert(name); free.append(name)
        }
        for n in g.nodes {
            n.inputs.forEach(use)
            for a in n.attributes.values {
                switch a {
                case .graph(let sg): freeVariables(of: sg).forEach(use)
                case .graphs(let gs): gs.forEach { freeVariables(of: $0).forEach(use) }
                default: break
                }
            }
        }
        g.outputs.map(\.name).forEach(use)
        return free
    }

    /// Compiles `graph`; `outer` lists the enclosing scope's names it may read. Pass the graph with `consume`
    /// (and hold no other copy of its initializers) so that packed weights' raw tensors are freed during compilation.
    public func compile(_ graph: consuming Graph, outer: [String] = []) throws -> CompiledGraph {
        var slotOf: [String: Int] = [:]
        var slotCount = 0
        func newSlot(_ name: String, what: String) throws -> Int {
            if let _ = slotOf[name], !outer.contains(name) {
                throw OnyxError.invalidGraph("duplicate definition of '\(name)' (\(what))")
            }
            let s = slotCount
            slotCount += 1
            slotOf[name] = s
            return s
        }
        var outerSlots: [Int] = []
        for n in outer { let s = slotCount; slotCount += 1; slotOf[n] = s; outerSlots.append(s) }

        // Constants by slot (`constantOrder` keeps the order); removing one from both tables frees it.
        var constantValues: [Int: Value] = [:]
        var constantOrder: [Int] = []
        var constantTensors: [String: Tensor] = [:]
        var initSlot: [String: Int] = [:]
        var initializers = graph.initializers
        graph.initializers = []
        for (name, t) in initializers {
            if initSlot[name] != nil { throw OnyxError.invalidGraph("duplicate initializer '\(name)'") }
            let s = try newSlot(name, what: "initializer")
            initSlot[name] = s
            constantValues[s] = .tensor(t); constantOrder.append(s)
            constantTensors[name] = t
        }
        let initializerNames = initializers.map(\.name)
        initializers = []
        var inputSlots: [Int] = []
        var inputDefaults: [Int: Value] = [:]
        var seenInputs = Set<String>()
        for (i, inp) in graph.inputs.enumerated() {
            if !seenInputs.insert(inp.name).inserted { throw OnyxError.invalidGraph("duplicate graph input '\(inp.name)'") }
            if let s = initSlot[inp.name] {
                // An initializer that is also a graph input may be overridden by a feed: not a constant.
                inputSlots.append(s)
                if let t = constantTensors[inp.name] { inputDefaults[i] = .tensor(t) }
                constantTensors[inp.name] = nil  // may be overridden by a feed: not constant
                constantValues[s] = nil
            } else {
                inputSlots.append(try newSlot(inp.name, what: "graph input"))
            }
        }
        for n in graph.nodes {
            for o in n.outputs where !o.isEmpty {
                _ = try newSlot(o, what: "output of \(n.label)")
            }
        }

        // Topological order (Kahn); anything left over is part of a cycle or reads an undefined value.
        var available = Set(outer)
        available.formUnion(initializerNames)
        available.formUnion(graph.inputs.map(\.name))
        let producedBy: [String: Int] = {
            var m: [String: Int] = [:]
            for (i, n) in graph.nodes.enumerated() { for o in n.outputs where !o.isEmpty { m[o] = i } }
            return m
        }()
        var needs: [[String]] = graph.nodes.map { n in
            var names = n.inputs.filter { !$0.isEmpty }
            for a in n.attributes.values {
                switch a {
                case .graph(let g): names += GraphCompiler.freeVariables(of: g)
                case .graphs(let gs): gs.forEach { names += GraphCompiler.freeVariables(of: $0) }
                default: break
                }
            }
            return names
        }
        for (i, n) in graph.nodes.enumerated() {
            for name in needs[i] where !available.contains(name) && producedBy[name] == nil {
                throw OnyxError.invalidGraph("\(n.label) reads undefined tensor '\(name)'")
            }
        }
        needs = needs.map { Array(Set($0).subtracting(available)) }
        var waiting = needs.map(\.count)
        var readers: [String: [Int]] = [:]
        for (i, ns) in needs.enumerated() { for name in ns { readers[name, default: []].append(i) } }
        var ready = (0..<graph.nodes.count).filter { waiting[$0] == 0 }
        var order: [Int] = []
        var head = 0
        while head < ready.count {
            let i = ready[head]; head += 1
            order.append(i)
            for o in graph.nodes[i].outputs where !o.isEmpty {
                for r in readers[o] ?? [] {
                    waiting[r] -= 1
                    if waiting[r] == 0 { ready.append(r) }
                }
            }
        }
        if order.count < graph.nodes.count {
            let stuck = (0..<graph.nodes.count).filter { waiting[$0] > 0 }.prefix(3).map { graph.nodes[$0].label }
            throw OnyxError.invalidGraph("cycle among nodes \(stuck.joined(separator: ", "))")
        }

        // Constant lifetimes: reads left per name; names subgraphs or graph outputs read are never dropped.
        var readsLeft: [String: Int] = [:]
        for i in order { for name in graph.nodes[i].inputs where !name.isEmpty { readsLeft[name, default: 0] += 1 } }
        var pinned = Set(graph.outputs.map(\.name))
        for n in graph.nodes {
            for a in n.attributes.values {
                switch a {
                case .graph(let g): pinned.formUnion(GraphCompiler.freeVariables(of: g))
                case .graphs(let gs): gs.forEach { pinned.formUnion(GraphCompiler.freeVariables(of: $0)) }
                default: break
                }
            }
        }
        var readAtRunTime = Set<String>()
        /// Counts the reads of `node`; drops constants whose last reader this was and that no step reads.
        func consumeReads(_ node: Node) {
            for name in node.inputs where !name.isEmpty {
                let left = (readsLeft[name] ?? 1) - 1
                readsLeft[name] = left
                if left == 0, dropAbsorbedConstants, constantTensors[name] != nil, !readAtRunTime.contains(name),
                   !pinned.contains(name), let s = slotOf[name] {
                    constantTensors[name] = nil
                    constantValues[s] = nil
                }
            }
        }

        // Kernels.
        var unsupported: [String: (domain: String, opType: String, opset: Int, nodes: [String])] = [:]
        var steps: [CompiledGraph.Step] = []
        let compiler = self
        for i in order {
            let n = graph.nodes[i]
            let domain = OperatorTable.normalize(n.domain)
            let opset = opsets[domain] ?? (domain.isEmpty ? 21 : 1)
            guard let factory = table.resolve(domain: domain, opType: n.opType, opset: opset) else {
                let key = "\(domain)|\(n.opType)|\(opset)"
                unsupported[key, default: (domain, n.opType, opset, [])].nodes.append(n.name.isEmpty ? "#\(i)" : n.name)
                continue
            }
            var implicit: [String] = []
            for a in n.attributes.values {
                switch a {
                case .graph(let g): implicit += GraphCompiler.freeVariables(of: g)
                case .graphs(let gs): gs.forEach { implicit += GraphCompiler.freeVariables(of: $0) }
                default: break
                }
            }
            var seen = Set<String>()
            implicit = implicit.filter { seen.insert($0).inserted }
            var consts: [Int: Tensor] = [:]
            for (k, name) in n.inputs.enumerated() { if let t = constantTensors[name] { consts[k] = t } }
            let ctx = NodeContext(node: n, opset: opset, constantInputs: consts, implicitInputs: implicit) { g, outerNames in
                try compiler.compile(g, outer: outerNames)
            }
            let kernel: Kernel
            do {
                kernel = try factory(ctx)
            } catch let e as OnyxError {
                throw e
            } catch {
                throw OnyxError.node(label: n.label, message: "\(error)")
            }
            var ins = (n.inputs + implicit).map { $0.isEmpty ? -1 : (slotOf[$0] ?? -1) }
            let outs = n.outputs.map { $0.isEmpty ? -1 : (slotOf[$0] ?? -1) }
            // Constant nodes, and with folding any node whose inputs are all constant, are evaluated once, here.
            let allConstant = implicit.isEmpty && n.inputs.enumerated().allSatisfy { k, name in name.isEmpty || consts[k] != nil }
            let foldable = foldConstants && allConstant && !n.inputs.isEmpty && !GraphCompiler.nondeterministic.contains(n.opType)
            if (n.opType == "Constant" && domain.isEmpty) || foldable {
                let args: [Value?] = n.inputs.enumerated().map { k, _ in consts[k].map { .tensor($0) } }
                do {
                    let vals = try kernel.run(args, RunContext(threads: 1, pool: .shared))
                    for (k, s) in outs.enumerated() where s >= 0 && k < vals.count {
                        if constantValues[s] == nil { constantOrder.append(s) }
                        constantValues[s] = vals[k]
                        if let t = vals[k].tensor { constantTensors[n.outputs[k]] = t }
                    }
                    consumeReads(n)
                    continue
                } catch {
                    // A Constant that cannot be built is an error; a folding failure leaves the node to run
                    // (and report) at run time, where it may never execute (e.g. in an untaken branch).
                    if n.opType == "Constant" { throw OnyxError.node(label: n.label, message: "\(error)") }
                }
            }
            // Constant inputs the kernel packed are not passed at run time; the others are read then.
            let absorbed = dropAbsorbedConstants ? Set((kernel as? PrepackingKernel)?.absorbedInputs ?? []) : []
            for (k, name) in n.inputs.enumerated() where !name.isEmpty {
                if consts[k] != nil && absorbed.contains(k) { ins[k] = -1 } else { readAtRunTime.insert(name) }
            }
            consumeReads(n)
            steps.append(.init(kernel: kernel, label: n.label, inputs: ins, outputs: outs, release: [], opType: OpProfiler.enabled ? OpProfiler.key(n) : n.opType))
        }
        if !unsupported.isEmpty {
            throw OnyxError.unsupportedOperators(unsupported.values.sorted { ($0.domain, $0.opType) < ($1.domain, $1.opType) })
        }
        var outputSlots: [Int] = []
        for o in graph.outputs {
            guard let s = slotOf[o.name] else { throw OnyxError.invalidGraph("graph output '\(o.name)' is never produced") }
            outputSlots.append(s)
        }
        // Liveness: release each slot after its last reader, unless it is a graph output.
        var lastUse: [Int: Int] = [:]
        for (k, st) in steps.enumerated() { for s in st.inputs where s >= 0 { lastUse[s] = k } }
        for (k, st) in steps.enumerated() { for s in st.outputs where s >= 0 && lastUse[s] == nil { lastUse[s] = k } }
        let keep = Set(outputSlots)
        var releaseAt = [[Int]](repeating: [], count: steps.count)
        for (s, k) in lastUse where !keep.contains(s) { releaseAt[k].append(s) }
        steps = steps.enumerated().map { k, st in
            .init(kernel: st.kernel, label: st.label, inputs: st.inputs, outputs: st.outputs, release: releaseAt[k], opType: st.opType)
        }
        let constants: [(slot: Int, value: Value)] = constantOrder.compactMap { s in constantValues[s].map { (s, $0) } }
        return CompiledGraph(slotCount: slotCount, outerSlots: outerSlots, inputSlots: inputSlots, constants: constants,
                             steps: steps, outputSlots: outputSlots, inputNames: graph.inputs.map(\.name),
                             outputNames: graph.outputs.map(\.name), inputDefaults: inputDefaults)
    }
}
