import OnyxTensor

/// If: runs `then_branch` or `else_branch` (no inputs; outer-scope values only).
struct IfOp: Kernel {
    let thenBranch: CompiledGraph
    let elseBranch: CompiledGraph
    let explicitCount: Int
    let outputCount: Int

    init(_ c: NodeContext) throws {
        thenBranch = try c.subgraph("then_branch")
        elseBranch = try c.subgraph("else_branch")
        explicitCount = c.inputCount
        outputCount = c.outputCount
        guard thenBranch.outputNames.count == elseBranch.outputNames.count else {
            throw KernelError("then_branch has \(thenBranch.outputNames.count) outputs, else_branch \(elseBranch.outputNames.count)")
        }
        guard thenBranch.outputNames.count >= outputCount else {
            throw KernelError("branches have \(thenBranch.outputNames.count) outputs, the node \(outputCount)")
        }
    }

    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        let cond = try SubgraphSupport.bool(inputs.first ?? nil, "cond")
        let outer = try SubgraphSupport.outer(inputs, explicit: explicitCount)
        return try (cond ? thenBranch : elseBranch).run(inputs: [], outer: outer, context: ctx)
    }
}

/// Loop (opset 1–21): optional trip count M and condition, loop-carried values of any kind
/// (tensors, sequences, optionals), scan outputs stacked along a new axis 0.
struct LoopOp: Kernel {
    let body: CompiledGraph
    let explicitCount: Int
    let carried: Int
    let scans: Int
    let scanTypes: [ValueType]

    init(_ c: NodeContext) throws {
        body = try c.subgraph("body")
        guard let g = try c.graph("body") else { throw KernelError("attribute 'body' is required") }
        explicitCount = c.inputCount
        guard c.inputCount >= 2 else { throw KernelError("Loop needs inputs M and cond (possibly empty)") }
        carried = c.inputCount - 2
        guard g.inputs.count == carried + 2 else {
            throw KernelError("body has \(g.inputs.count) inputs, expected \(carried + 2) (iteration, cond, \(carried) carried)")
        }
        guard g.outputs.count >= carried + 1 else {
            throw KernelError("body has \(g.outputs.count) outputs, expected at least \(carried + 1)")
        }
        scans = g.outputs.count - 1 - carried
        scanTypes = g.outputs[(1 + carried)...].map(\.type)
        guard c.outputCount <= carried + scans else {
            throw KernelError("node has \(c.outputCount) outputs, body provides \(carried + scans)")
        }
    }

    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        var maxTrip: Int64? = nil
        if let m = inputs.first ?? nil {
            guard let t = m.tensor, t.count == 1, t.dtype.isInteger else { throw KernelError("M must be an int64 scalar") }
            maxTrip = t.int64Values()[0]
        }
        var cond = true
        if inputs.count > 1, let c = inputs[1] { cond = try SubgraphSupport.bool(c, "cond") }
        var state: [Value] = []
        for i in 0..<carried {
            guard 2 + i < inputs.count, let v = inputs[2 + i] else { throw KernelError("loop-carried input \(i) is missing") }
            state.append(v)
        }
        let outer = try SubgraphSupport.outer(inputs, explicit: explicitCount)
        var scanItems = [[Tensor]](repeating: [], count: scans)
        var it: Int64 = 0
        while cond, maxTrip.map({ it < $0 }) ?? true {
            var args: [Value?] = [.tensor(Tensor(scalar: it)), .tensor(Tensor(scalar: cond))]
            args += state.map { Optional($0) }
            let outs = try body.run(inputs: args, outer: outer, context: ctx)
            guard outs.count == 1 + carried + scans else { throw KernelError("body produced \(outs.count) outputs") }
            cond = try SubgraphSupport.bool(outs[0], "body condition output")
            state = Array(outs[1..<(1 + carried)])
            for k in 0..<scans {
                guard let t = outs[1 + carried + k].tensor else {
                    throw KernelError("scan output \(k) must be a tensor, got \(outs[1 + carried + k].kindName)")
                }
                scanItems[k].append(t)
            }
            it += 1
        }
        var result = state
        for k in 0..<scans {
            if scanItems[k].isEmpty {
                result.append(.tensor(SubgraphSupport.emptyScanOutput(scanTypes[k])))
            } else {
                result.append(.tensor(try AxisOps.stack(scanItems[k], axis: 0)))
            }
        }
        return result
    }
}

/// Scan, opset 9 and later: no batch axis; per-input scan axes and directions, per-output axes and directions.
struct ScanOp: Kernel {
    let body: CompiledGraph
    let explicitCount: Int
    let nScanIn: Int
    let nState: Int
    let nScanOut: Int
    let inputAxes: [Int]
    let inputReverse: [Bool]
    let outputAxes: [Int]
    let outputReverse: [Bool]
    /// Opset 8: first input is sequence_lens, batch axis 0, scan axis 1.
    let batched: Bool

    init(_ c: NodeContext, batched: Bool) throws {
        self.batched = batched
        body = try c.subgraph("body")
        explicitCount = c.inputCount
        nScanIn = try c.int("num_scan_inputs")
        let stateAndScan = c.inputCount - (batched ? 1 : 0)
        guard nScanIn >= 1, nScanIn <= stateAndScan else {
            throw KernelError("num_scan_inputs \(nScanIn) does not fit \(stateAndScan) inputs")
        }
        nState = stateAndScan - nScanIn
        guard body.inputNames.count == nState + nScanIn else {
            throw KernelError("body has \(body.inputNames.count) inputs, expected \(nState + nScanIn)")
        }
        guard body.outputNames.count >= nState else { throw KernelError("body has too few outputs") }
        nScanOut = body.outputNames.count - nState
        if batched {
            let dirs = try c.ints("directions") ?? []
            inputReverse = (0..<nScanIn).map { $0 < dirs.count && dirs[$0] != 0 }
            inputAxes = Array(repeating: 0, count: nScanIn)
            outputAxes = Array(repeating: 0, count: nScanOut)
            outputReverse = Array(repeating: false, count: nScanOut)
        } else {
            let ia = try c.ints("scan_input_axes") ?? [], id = try c.ints("scan_input_directions") ?? []
            let oa = try c.ints("scan_output_axes") ?? [], od = try c.ints("scan_output_directions") ?? []
            for (name, list, n) in [("scan_input_axes", ia, nScanIn), ("scan_input_directions", id, nScanIn),
                                    ("scan_output_axes", oa, nScanOut), ("scan_output_directions", od, nScanOut)]
            where !list.isEmpty && list.count != n {
                throw KernelError("\(name) has \(list.count) values, expected \(n)")
            }
            inputAxes = ia.isEmpty ? Array(repeating: 0, count: nScanIn) : ia
            inputReverse = (0..<nScanIn).map { $0 < id.count && id[$0] != 0 }
            outputAxes = oa.isEmpty ? Array(repeating: 0, count: nScanOut) : oa
            outputReverse = (0..<nScanOut).map { $0 < od.count && od[$0] != 0 }
        }
    }

    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        let outer = try SubgraphSupport.outer(inputs, explicit: explicitCount)
        let first = batched ? 1 : 0
        var values: [Value] = []
        for i in first..<(first + nState + nScanIn) {
            guard i < inputs.count, let v = inputs[i] else { throw KernelError("input \(i) is missing") }
            values.append(v)
        }
        let states = Array(values[..<nState])
        var scanIns: [Tensor] = []
        for v in values[nState...] {
            guard let t = v.tensor else { throw KernelError("scan inputs must be tensors, got \(v.kindName)") }
            scanIns.append(t)
        }
        if !batched { return try scan(states: states, scanIns: scanIns, length: nil, outer: outer, ctx) }

        // Opset 8: loop over the batch, scan axis 1 (axis 0 after taking the batch element).
        var lens: [Int]? = nil
        if let sl = inputs.first ?? nil, let t = sl.tensor { lens = t.intValues() }
        guard let b0 = scanIns.first, b0.rank >= 2 else { throw KernelError("scan inputs need a batch and a sequence axis") }
        let B = b0.shape[0], T = b0.shape[1]
        if let lens, lens.count != B { throw KernelError("sequence_lens has \(lens.count) values, batch is \(B)") }
        var batchStates = [[Tensor]](repeating: [], count: nState)
        var batchScans = [[Tensor]](repeating: [], count: nScanOut)
        for b in 0..<B {
            var st: [Value] = []
            for s in states {
                guard let t = s.tensor, t.rank >= 1, t.shape[0] == B else { throw KernelError("states need batch axis \(B)") }
                st.append(.tensor(try AxisOps.take(t, axis: 0, index: b)))
            }
            let ins = try scanIns.map { t -> Tensor in
                guard t.rank >= 2, t.shape[0] == B, t.shape[1] == T else {
                    throw KernelError("scan input shape \(t.shape) does not match [\(B), \(T), …]")
                }
                return try AxisOps.take(t, axis: 0, index: b)
            }
            let n = lens?[b] ?? T
            guard n >= 0, n <= T else { throw KernelError("sequence_lens[\(b)] = \(n) is outside 0...\(T)") }
            let outs = try scan(states: st, scanIns: ins, length: n, outer: outer, ctx)
            for k in 0..<nState {
                guard let t = outs[k].tensor else { throw KernelError("state outputs must be tensors") }
                batchStates[k].append(t)
            }
            for k in 0..<nScanOut {
                guard var t = outs[nState + k].tensor else { throw KernelError("scan outputs must be tensors") }
                if n < T {
                    var padShape = t.shape
                    padShape[0] = T - n
                    t = try AxisOps.concat([t, Tensor(zeros: t.dtype, shape: padShape)], axis: 0)
                }
                batchScans[k].append(t)
            }
        }
        return try (batchStates + batchScans).map { .tensor(try AxisOps.stack($0, axis: 0)) }
    }

    /// Unbatched scan over `length` (default: the full scan axis) iterations.
    private func scan(states initial: [Value], scanIns: [Tensor], length: Int?, outer: [Value],
                      _ ctx: RunContext) throws -> [Value] {
        var axes: [Int] = []
        var T = -1
        for (i, t) in scanIns.enumerated() {
            let a = try normalizeAxis(inputAxes[i], rank: t.rank, name: "scan_input_axes[\(i)]")
            guard t.rank >= 1 else { throw KernelError("scan input \(i) is a scalar") }
            if T < 0 { T = t.shape[a] } else if t.shape[a] != T {
                throw KernelError("scan inputs have different lengths \(T) and \(t.shape[a])")
            }
            axes.append(a)
        }
        let n = length ?? T
        var states = initial
        var items = [[Tensor]](repeating: [], count: nScanOut)
        for it in 0..<n {
            var args: [Value?] = states.map { Optional($0) }
            for (i, t) in scanIns.enumerated() {
                args.append(.tensor(try AxisOps.take(t, axis: axes[i], index: inputReverse[i] ? n - 1 - it : it)))
            }
            let outs = try body.run(inputs: args, outer: outer, context: ctx)
            guard outs.count == nState + nScanOut else { throw KernelError("body produced \(outs.count) outputs") }
            states = Array(outs[..<nState])
            for k in 0..<nScanOut {
                guard let t = outs[nState + k].tensor else { throw KernelError("scan output \(k) must be a tensor") }
                items[k].append(t)
            }
        }
        var result = states
        for k in 0..<nScanOut {
            guard !items[k].isEmpty else { throw KernelError("Scan with zero iterations cannot shape its scan outputs") }
            let list = outputReverse[k] ? Array(items[k].reversed()) : items[k]
            let axis = try normalizeAxis(outputAxes[k], rank: list[0].rank + 1, name: "scan_output_axes[\(k)]")
            result.append(.tensor(try AxisOps.stack(list, axis: axis)))
        }
        return result
    }
}
