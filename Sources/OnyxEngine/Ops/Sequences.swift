import OnyxTensor

// Sequence operators (opset 11+): values are `.sequence([Value], elementType:)`.

/// The elements of a sequence input (an optional holding a sequence is accepted too).
private func sequenceInput(_ inputs: [Value?], _ i: Int, _ name: String) throws -> (items: [Value], type: ValueType) {
    guard i < inputs.count, let v = inputs[i] else { throw KernelError("missing required input '\(name)'") }
    switch v {
    case .sequence(let items, let t): return (items, t)
    case .some(.sequence(let items, let t)): return (items, t)
    default: throw KernelError("input '\(name)' must be a sequence, got \(v.kindName)")
    }
}

private func tensorInput(_ inputs: [Value?], _ i: Int, _ name: String) throws -> Tensor {
    guard i < inputs.count, let v = inputs[i] else { throw KernelError("missing required input '\(name)'") }
    guard let t = v.tensor else { throw KernelError("input '\(name)' must be a tensor, got \(v.kindName)") }
    return t
}

/// A position input (scalar int32/int64), normalized against `count` (accepting `-count...limit`).
private func position(_ t: Tensor, count: Int, limit: Int) throws -> Int {
    guard t.count == 1, t.dtype == .int64 || t.dtype == .int32 else { throw KernelError("position must be an int scalar") }
    let p = t.intValues()[0]
    guard p >= -count, p <= limit else { throw KernelError("position \(p) is out of range for a sequence of \(count)") }
    return p < 0 ? p + count : p
}

private func elementType(_ t: Tensor) -> ValueType { .tensor(t.dtype, shape: nil) }

struct SequenceEmptyOp: Kernel {
    let dtype: DType
    init(_ c: NodeContext) throws {
        let code = try c.int("dtype", DType.float32.rawValue)
        guard let d = DType(rawValue: code) else { throw KernelError("unsupported dtype \(code)") }
        dtype = d
    }
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] { [.sequence([], elementType: .tensor(dtype, shape: nil))] }
}

struct SequenceConstructOp: Kernel {
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        var items: [Value] = []
        var dt: DType? = nil
        for i in 0..<inputs.count {
            let t = try tensorInput(inputs, i, "inputs[\(i)]")
            if let dt, dt != t.dtype { throw KernelError("sequence elements must share a type: \(dt) and \(t.dtype)") }
            dt = t.dtype
            items.append(.tensor(t))
        }
        guard let dt else { throw KernelError("SequenceConstruct needs at least one input") }
        return [.sequence(items, elementType: .tensor(dt, shape: nil))]
    }
}

struct SequenceAtOp: Kernel {
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        let (items, _) = try sequenceInput(inputs, 0, "input_sequence")
        let p = try position(try tensorInput(inputs, 1, "position"), count: items.count, limit: items.count - 1)
        return [items[p]]
    }
}

struct SequenceInsertOp: Kernel {
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        var (items, type) = try sequenceInput(inputs, 0, "input_sequence")
        let t = try tensorInput(inputs, 1, "tensor")
        if let dt = type.tensorDType, dt != t.dtype, !items.isEmpty {
            throw KernelError("cannot insert a \(t.dtype) tensor into a sequence of \(dt)")
        }
        var p = items.count
        if inputs.count > 2, inputs[2] != nil {
            p = try position(try tensorInput(inputs, 2, "position"), count: items.count, limit: items.count)
        }
        items.insert(.tensor(t), at: p)
        return [.sequence(items, elementType: elementType(t))]
    }
}

struct SequenceEraseOp: Kernel {
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        var (items, type) = try sequenceInput(inputs, 0, "input_sequence")
        guard !items.isEmpty else { throw KernelError("cannot erase from an empty sequence") }
        var p = items.count - 1
        if inputs.count > 1, inputs[1] != nil {
            p = try position(try tensorInput(inputs, 1, "position"), count: items.count, limit: items.count - 1)
        }
        items.remove(at: p)
        return [.sequence(items, elementType: type)]
    }
}

struct SequenceLengthOp: Kernel {
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        let (items, _) = try sequenceInput(inputs, 0, "input_sequence")
        return [.tensor(Tensor(scalar: Int64(items.count)))]
    }
}

struct SplitToSequenceOp: Kernel {
    let axis: Int
    let keepdims: Bool
    init(_ c: NodeContext) throws {
        axis = try c.int("axis", 0)
        keepdims = try c.int("keepdims", 1) != 0
    }
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        let x = try tensorInput(inputs, 0, "input")
        guard x.rank >= 1 else { throw KernelError("input must have rank >= 1") }
        let a = try normalizeAxis(axis, rank: x.rank)
        let dim = x.shape[a]
        var sizes: [Int]
        var squeeze = false
        if inputs.count > 1, let sv = inputs[1] {
            guard let s = sv.tensor, s.dtype == .int64 || s.dtype == .int32 else { throw KernelError("split must be int32/int64") }
            let vals = s.intValues()
            if s.rank == 0 {
                let len = vals[0]
                guard len > 0 else { throw KernelError("split length \(len) must be positive") }
                sizes = Array(repeating: len, count: dim / len)
                if dim % len > 0 { sizes.append(dim % len) }
            } else {
                guard vals.allSatisfy({ $0 >= 0 }), vals.reduce(0, +) == dim else {
                    throw KernelError("split \(vals) does not add up to dimension \(dim)")
                }
                sizes = vals
            }
        } else {
            sizes = Array(repeating: 1, count: dim)
            squeeze = !keepdims
        }
        var items: [Value] = []
        var start = 0
        for s in sizes {
            var part = try AxisOps.slice(x, axis: a, start: start, length: s)
            if squeeze {
                var shape = part.shape
                shape.remove(at: a)
                part = try part.reshaped(shape)
            }
            items.append(.tensor(part))
            start += s
        }
        return [.sequence(items, elementType: elementType(x))]
    }
}

struct ConcatFromSequenceOp: Kernel {
    let axis: Int
    let newAxis: Bool
    init(_ c: NodeContext) throws {
        axis = try c.int("axis")
        newAxis = try c.int("new_axis", 0) != 0
    }
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        let (items, _) = try sequenceInput(inputs, 0, "input_sequence")
        let tensors = try items.map { v -> Tensor in
            guard let t = v.tensor else { throw KernelError("sequence elements must be tensors") }
            return t
        }
        guard let first = tensors.first else { throw KernelError("cannot concatenate an empty sequence") }
        if newAxis {
            return [.tensor(try AxisOps.stack(tensors, axis: try normalizeAxis(axis, rank: first.rank + 1)))]
        }
        return [.tensor(try AxisOps.concat(tensors, axis: try normalizeAxis(axis, rank: first.rank)))]
    }
}

/// SequenceMap: runs `body` once per element of the first (sequence) input; further sequence inputs are
/// indexed alongside, tensor inputs passed whole. Each body output becomes a sequence.
struct SequenceMapOp: Kernel {
    let body: CompiledGraph
    let explicitCount: Int
    let outputTypes: [ValueType]

    init(_ c: NodeContext) throws {
        body = try c.subgraph("body")
        guard let g = try c.graph("body") else { throw KernelError("attribute 'body' is required") }
        explicitCount = c.inputCount
        guard g.inputs.count == c.inputCount else {
            throw KernelError("body has \(g.inputs.count) inputs, the node \(c.inputCount)")
        }
        outputTypes = g.outputs.map(\.type)
    }

    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        let (items, _) = try sequenceInput(inputs, 0, "input_sequence")
        let outer = try SubgraphSupport.outer(inputs, explicit: explicitCount)
        var extra: [Value] = []
        for i in 1..<explicitCount {
            guard i < inputs.count, let v = inputs[i] else { throw KernelError("input \(i) is missing") }
            if case .sequence(let s, _) = v, s.count != items.count {
                throw KernelError("sequence input \(i) has \(s.count) elements, expected \(items.count)")
            }
            extra.append(v)
        }
        var results = [[Value]](repeating: [], count: outputTypes.count)
        for (n, item) in items.enumerated() {
            var args: [Value?] = [item]
            for v in extra {
                if case .sequence(let s, _) = v { args.append(s[n]) } else { args.append(v) }
            }
            let outs = try body.run(inputs: args, outer: outer, context: ctx)
            guard outs.count == results.count else { throw KernelError("body produced \(outs.count) outputs") }
            for k in 0..<outs.count { results[k].append(outs[k]) }
        }
        return results.enumerated().map { k, vals in
            let elem: ValueType = vals.first?.tensor.map { elementType($0) } ?? outputTypes[k]
            return .sequence(vals, elementType: elem)
        }
    }
}
