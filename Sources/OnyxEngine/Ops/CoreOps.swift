import OnyxTensor

/// Constant and Identity.
enum CoreOps {
    static func register(_ t: inout OperatorTable) {
        t.add("Constant") { try ConstantOp($0) }
        t.add("Identity") { _ in IdentityOp() }
        QuantOps.register(&t)
    }
}

/// Constant: every attribute form (value, sparse_value, value_float(s), value_int(s), value_string(s)).
struct ConstantOp: Kernel {
    let value: Tensor
    init(_ c: NodeContext) throws {
        if let t = try c.tensor("value") { value = t }
        else if let t = try c.tensor("sparse_value") { value = t }
        else if c.has("value_float") { value = Tensor(scalar: try c.float("value_float", 0)) }
        else if let v = try c.floats("value_floats") { value = Tensor(shape: [v.count], checkedValues: v) }
        else if c.has("value_int") { value = Tensor(scalar: Int64(try c.int("value_int"))) }
        else if let v = try c.ints("value_ints") { value = Tensor(shape: [v.count], checkedValues: v.map { Int64($0) }) }
        else if c.has("value_string") { value = Tensor(scalar: try c.string("value_string", "")) }
        else if let v = try c.strings("value_strings") { value = Tensor(shape: [v.count], checkedValues: v) }
        else { throw KernelError("Constant needs one of value, sparse_value, value_float(s), value_int(s), value_string(s)") }
    }
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] { [.tensor(value)] }
}

/// Identity passes any value through (tensors, sequences, optionals).
struct IdentityOp: Kernel {
    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        guard let v = inputs.first ?? nil else { throw KernelError("missing input") }
        return [v]
    }
}
