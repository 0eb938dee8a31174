import OnyxTensor

// ConstantOfShape, Range, OneHot, EyeLike, Trilu, NonZero.

extension ShapeOps {
    static func registerGenerators(_ t: inout OperatorTable) {
        t.add("ConstantOfShape") { try ConstantOfShapeOp($0) }
        t.add("Range") { _ in RangeOp() }
        t.add("OneHot") { try OneHotOp($0) }
        t.add("EyeLike") { try EyeLikeOp($0) }
        t.add("Trilu") { try TriluOp($0) }
        t.add("NonZero") { _ in NonZeroOp() }
    }
}

/// Fills a fresh tensor of `shape` with copies of `value[0]`.
func filledTensor(_ value: Tensor, shape: [Int]) throws -> Tensor {
    let y = Tensor.uninitialized(value.dtype, shape: shape)
    let n = y.count
    if n == 0 { return y }
    try stridedCopy(value, base: 0, strides: Array(repeating: 0, count: shape.count), shape: shape, into: y)
    return y
}

struct ConstantOfShapeOp: TensorKernel {
    let value: Tensor
    init(_ c: NodeContext) throws {
        let v = try c.tensor("value") ?? Tensor(scalar: Float(0))
        guard v.count == 1 else { throw KernelError("attribute 'value' must hold one element") }
        value = v
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let shape = try checkedShape(indexValues(try inputs.required(0, "input"), "input"))
        return [try filledTensor(value, shape: shape)]
    }
}

struct RangeOp: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let s = try inputs.required(0, "start"), l = try inputs.required(1, "limit"), d = try inputs.required(2, "delta")
        guard s.count == 1, l.count == 1, d.count == 1, s.dtype == l.dtype, s.dtype == d.dtype else {
            throw KernelError("start, limit and delta must be scalars of one type")
        }
        if s.dtype.isInteger {
            let a = s.int64Values()[0], b = l.int64Values()[0], st = d.int64Values()[0]
            guard st != 0 else { throw KernelError("delta must not be 0") }
            let span = Double(b) - Double(a)
            let n = Int(max(0, min((span / Double(st)).rounded(.up), Double(1 << 40))))
            guard n < (1 << 32) else { throw KernelError("range too long") }
            struct V: NumericVisitor {
                let a: Int64, st: Int64, n: Int
                func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
                    let y = Tensor.uninitialized(T.dtype, shape: [n])
                    let p = y.mutablePointer(T.self)
                    for i in 0..<n { p[i] = T(fromDouble: Double(a &+ Int64(i) &* st)) }
                    return y
                }
            }
            return [try dispatchNumeric(s.dtype, V(a: a, st: st, n: n))]
        }
        let a = s.doubleValue(at: 0), b = l.doubleValue(at: 0), st = d.doubleValue(at: 0)
        guard st != 0, a.isFinite, b.isFinite, st.isFinite else { throw KernelError("invalid range arguments") }
        let nd = ((b - a) / st).rounded(.up)
        let n = Int(max(0, min(nd, Double(1 << 40))))
        guard n < (1 << 32) else { throw KernelError("range too long") }
        struct V: NumericVisitor {
            let a: Double, st: Double, n: Int
            func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
                let y = Tensor.uninitialized(T.dtype, shape: [n])
                let p = y.mutablePointer(T.self)
                // Accumulate in the element type like numpy's arange for low-precision types.
                for i in 0..<n { p[i] = T(fromDouble: a + Double(i) * st) }
                return y
            }
        }
        return [try dispatchNumeric(s.dtype, V(a: a, st: st, n: n))]
    }
}

struct OneHotOp: TensorKernel {
    let axis: Int
    init(_ c: NodeContext) throws { axis = try c.int("axis", -1) }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let it = try inputs.required(0, "indices"), dt = try inputs.required(1, "depth"), vals = try inputs.required(2, "values")
        guard dt.count == 1 else { throw KernelError("depth must be a scalar") }
        let dd = dt.doubleValue(at: 0)
        guard dd >= 1, dd < Double(1 << 31) else { throw KernelError("depth \(dd) is invalid") }
        let depth = Int(dd)
        guard vals.count == 2 else { throw KernelError("values must hold [off, on]") }
        let r = it.rank + 1
        let a = try normalizeAxis(axis, rank: r)
        let outShape = try checkedShape(Array(it.shape[..<a]) + [depth] + Array(it.shape[a...]))
        let idx: [Int] = it.dtype.isFloatingPoint
            ? (0..<it.count).map { let v = it.doubleValue(at: $0); return v.isFinite && abs(v) < 1e15 ? Int(v) : Int.max }
            : it.intValues()
        let outer = dimProduct(it.shape, 0..<a), inner = dimProduct(it.shape, a..<it.rank)
        let off = try vals.reshaped([2])
        let y = try filledTensor(off, shape: outShape)
        for o in 0..<outer {
            for i in 0..<inner {
                var k = idx[o * inner + i]
                if k < 0 { k += depth }
                if k < 0 || k >= depth { continue } // out-of-range indices give an all-off row (spec)
                copyElements(from: vals, at: 1, to: y, at: (o * depth + k) * inner + i, count: 1)
            }
        }
        return [y]
    }
}

struct EyeLikeOp: TensorKernel {
    let dtype: DType?
    let k: Int
    init(_ c: NodeContext) throws {
        if c.has("dtype") {
            guard let d = DType(rawValue: try c.int("dtype")) else { throw KernelError("unsupported dtype") }
            dtype = d
        } else { dtype = nil }
        k = try c.int("k", 0)
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        guard x.rank == 2 else { throw KernelError("input must be 2-D, got rank \(x.rank)") }
        let dt = dtype ?? x.dtype
        let y = Tensor(zeros: dt, shape: x.shape)
        let one = try scalarOf(1, dt)
        let (rows, cols) = (x.shape[0], x.shape[1])
        for i in 0..<rows {
            let j = i + k
            if j >= 0 && j < cols { copyElements(from: one, at: 0, to: y, at: i * cols + j, count: 1) }
        }
        return [y]
    }
}

struct TriluOp: TensorKernel {
    let upper: Bool
    init(_ c: NodeContext) throws { upper = try c.int("upper", 1) != 0 }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        guard x.rank >= 2 else { throw KernelError("input must have rank >= 2") }
        var k = 0
        if let kt = inputs.optional(1) {
            guard kt.count == 1 else { throw KernelError("k must be a scalar") }
            k = try indexValues(kt, "k")[0]
        }
        let rows = x.shape[x.rank - 2], cols = x.shape[x.rank - 1]
        let y = Tensor(zeros: x.dtype, shape: x.shape)
        let mats = dimProduct(x.shape, 0..<(x.rank - 2))
        for m in 0..<mats {
            for i in 0..<rows {
                // Keep j - i >= k (upper) or j - i <= k (lower).
                let lo = upper ? max(0, min(cols, i + k)) : 0
                let hi = upper ? cols : max(0, min(cols, i + k + 1))
                let base = (m * rows + i) * cols
                if hi > lo { copyElements(from: x, at: base + lo, to: y, at: base + lo, count: hi - lo) }
            }
        }
        return [y]
    }
}

struct NonZeroOp: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        var flat: [Int] = []
        if x.dtype == .bool {
            try x.withBuffer(of: Bool.self) { b in for i in 0..<b.count where b[i] { flat.append(i) } }
        } else {
            struct V: NumericVisitor {
                let x: Tensor
                func visit<T: NumericElement>(_: T.Type) throws -> [Int] {
                    try x.withBuffer(of: T.self) { b in
                        var r: [Int] = []
                        for i in 0..<b.count where b[i] != T.zero { r.append(i) }
                        return r
                    }
                }
            }
            flat = try dispatchNumeric(x.dtype, V(x: x))
        }
        let r = max(x.rank, 1), n = flat.count
        let shape = x.rank == 0 ? [1] : x.shape
        let st = Broadcast.strides(shape)
        var out = [Int64](repeating: 0, count: r * n)
        for (j, f) in flat.enumerated() {
            for a in 0..<r { out[a * n + j] = Int64((f / st[a]) % shape[a]) }
        }
        return [int64Tensor(x.rank == 0 ? [] : out, shape: [x.rank == 0 ? 0 : r, n])]
    }
}
