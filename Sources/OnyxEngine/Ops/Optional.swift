import OnyxTensor

// Optional values (opset 15+): `.none(type)` is an empty optional, `.some(v)` a full one.

/// Optional: wraps its input, or makes an empty optional of attribute `type` when the input is omitted.
struct OptionalOp: Kernel {
    let type: ValueType?
    init(_ c: NodeContext) throws {
        type = try c.type("type")
        if !c.hasInput(0) && type == nil { throw KernelError("Optional without an input needs attribute 'type'") }
    }
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        if let v = inputs.first ?? nil {
            if case .some = v { return [v] }
            if case .none = v { return [v] }
            return [.some(v)]
        }
        guard let type else { throw KernelError("Optional without an input needs attribute 'type'") }
        return [.none(type)]
    }
}

/// OptionalHasElement: false for an omitted input or an empty optional, true otherwise.
struct OptionalHasElementOp: Kernel {
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        var has = false
        if let v = inputs.first ?? nil {
            if case .none = v { has = false } else { has = true }
        }
        return [.tensor(Tensor(scalar: has))]
    }
}

/// OptionalGetElement: the element of a full optional; a tensor or sequence input passes through.
struct OptionalGetElementOp: Kernel {
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        guard let v = inputs.first ?? nil else { throw KernelError("missing input 'input'") }
        switch v {
        case .some(let inner): return [inner]
        case .none: throw KernelError("cannot get the element of an empty optional")
        default: return [v]
        }
    }
}
