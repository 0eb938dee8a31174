import OnyxTensor

/// Shape manipulation, indexing, padding, resizing and related operators.
enum ShapeOps {
    static func register(_ t: inout OperatorTable) {
        t.add("Reshape", since: 1) { try ReshapeOp($0, fromAttribute: true) }
        t.add("Reshape", since: 5) { try ReshapeOp($0, fromAttribute: false) }
        t.add("Flatten") { try FlattenOp($0) }
        t.add("Squeeze", since: 1) { try SqueezeOp($0, axesInput: false) }
        t.add("Squeeze", since: 13) { try SqueezeOp($0, axesInput: true) }
        t.add("Unsqueeze", since: 1) { try UnsqueezeOp($0, axesInput: false) }
        t.add("Unsqueeze", since: 13) { try UnsqueezeOp($0, axesInput: true) }
        t.add("Shape") { try ShapeOp($0) }
        t.add("Size") { _ in SizeOp() }
        registerMovement(&t)
        registerGatherScatter(&t)
        registerPad(&t)
        registerGenerators(&t)
        registerSearch(&t)
        registerSpatial(&t)
        registerResize(&t)
    }
}

/// Reshape: target shape from the `shape` attribute (opset 1) or input (5+); 0 copies the input dim
/// unless `allowzero`, -1 is inferred.
struct ReshapeOp: TensorKernel {
    let attrShape: [Int]?
    let allowZero: Bool
    init(_ c: NodeContext, fromAttribute: Bool) throws {
        if fromAttribute {
            guard let s = try c.ints("shape") else { throw KernelError("attribute 'shape' is required") }
            attrShape = s
        } else { attrShape = nil }
        allowZero = try c.int("allowzero", 0) != 0
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        let spec = try attrShape ?? indexValues(try inputs.required(1, "shape"), "shape")
        return [try x.reshaped(ReshapeOp.resolve(spec, input: x.shape, allowZero: allowZero))]
    }
    static func resolve(_ spec: [Int], input: [Int], allowZero: Bool) throws -> [Int] {
        var out = spec
        var infer = -1
        for (i, d) in spec.enumerated() {
            if d == 0 && !allowZero {
                guard i < input.count else { throw KernelError("shape \(spec): 0 at position \(i) beyond input rank") }
                out[i] = input[i]
            } else if d == -1 {
                guard infer < 0 else { throw KernelError("shape \(spec) has more than one -1") }
                infer = i
            } else if d < 0 { throw KernelError("shape \(spec) has an invalid dimension \(d)") }
        }
        let total = Tensor.count(input)
        if infer >= 0 {
            var known = 1
            for (i, d) in out.enumerated() where i != infer { known &*= d }
            guard known > 0, total % known == 0 else {
                throw KernelError("cannot reshape \(input) to \(spec)")
            }
            out[infer] = total / known
        }
        _ = try checkedShape(out)
        guard Tensor.count(out) == total else { throw KernelError("cannot reshape \(input) to \(spec)") }
        return out
    }
}

struct FlattenOp: TensorKernel {
    let axis: Int
    init(_ c: NodeContext) throws { axis = try c.int("axis", 1) }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        let r = x.rank
        let a = axis < 0 ? axis + r : axis
        guard a >= 0, a <= r else { throw KernelError("axis \(axis) is out of range for rank \(r)") }
        return [try x.reshaped([dimProduct(x.shape, 0..<a), dimProduct(x.shape, a..<r)])]
    }
}

struct SqueezeOp: TensorKernel {
    let attrAxes: [Int]?
    let axesInput: Bool
    init(_ c: NodeContext, axesInput: Bool) throws {
        self.axesInput = axesInput
        attrAxes = axesInput ? nil : try c.ints("axes")
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        var axes = attrAxes
        if axesInput, let t = inputs.optional(1) { axes = try indexValues(t, "axes") }
        var out: [Int] = []
        if let axes {
            var drop = Set<Int>()
            for a in axes {
                let n = try normalizeAxis(a, rank: x.rank, name: "axes")
                guard x.shape[n] == 1 else { throw KernelError("cannot squeeze axis \(a) of size \(x.shape[n])") }
                drop.insert(n)
            }
            for (i, d) in x.shape.enumerated() where !drop.contains(i) { out.append(d) }
        } else {
            out = x.shape.filter { $0 != 1 }
        }
        return [try x.reshaped(out)]
    }
}

struct UnsqueezeOp: TensorKernel {
    let attrAxes: [Int]?
    let axesInput: Bool
    init(_ c: NodeContext, axesInput: Bool) throws {
        self.axesInput = axesInput
        if axesInput { attrAxes = nil } else {
            guard let a = try c.ints("axes") else { throw KernelError("attribute 'axes' is required") }
            attrAxes = a
        }
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        let axes = try attrAxes ?? indexValues(try inputs.required(1, "axes"), "axes")
        let r = x.rank + axes.count
        var mark = [Bool](repeating: false, count: r)
        for a in axes {
            let n = try normalizeAxis(a, rank: r, name: "axes")
            guard !mark[n] else { throw KernelError("axes \(axes) has duplicates") }
            mark[n] = true
        }
        var out: [Int] = []
        var k = 0
        for i in 0..<r {
            if mark[i] { out.append(1) } else { out.append(x.shape[k]); k += 1 }
        }
        return [try x.reshaped(out)]
    }
}

struct ShapeOp: TensorKernel {
    let start: Int, end: Int?
    init(_ c: NodeContext) throws {
        start = try c.int("start", 0)
        end = c.has("end") ? try c.int("end") : nil
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        let r = x.rank
        func clamp(_ v: Int) -> Int { let a = v < 0 ? v + r : v; return min(max(a, 0), r) }
        let s = clamp(start), e = clamp(end ?? r)
        let dims = s < e ? Array(x.shape[s..<e]) : []
        return [int64Tensor(dims.map { Int64($0) }, shape: [dims.count])]
    }
}

struct SizeOp: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        [Tensor(scalar: Int64(try inputs.required(0).count))]
    }
}
