import Foundation
import OnyxTensor

// Shared machinery of the elementwise family: element-type protocols, dtype dispatch, and the
// broadcast plan that drives every elementwise loop over contiguous runs.

// MARK: - Element types

/// Float or Double with the math functions the elementwise kernels need (generic over precision).
protocol EWReal: BinaryFloatingPoint, Sendable {
    static func mExp(_ x: Self) -> Self
    static func mLog(_ x: Self) -> Self
    static func mLog1p(_ x: Self) -> Self
    static func mSin(_ x: Self) -> Self
    static func mCos(_ x: Self) -> Self
    static func mTan(_ x: Self) -> Self
    static func mAsin(_ x: Self) -> Self
    static func mAcos(_ x: Self) -> Self
    static func mAtan(_ x: Self) -> Self
    static func mSinh(_ x: Self) -> Self
    static func mCosh(_ x: Self) -> Self
    static func mTanh(_ x: Self) -> Self
    static func mAsinh(_ x: Self) -> Self
    static func mAcosh(_ x: Self) -> Self
    static func mAtanh(_ x: Self) -> Self
    static func mErf(_ x: Self) -> Self
    static func mPow(_ x: Self, _ y: Self) -> Self
    static func mFmod(_ x: Self, _ y: Self) -> Self
}

extension Float: EWReal {
    @inline(__always) static func mExp(_ x: Float) -> Float { exp(x) }
    @inline(__always) static func mLog(_ x: Float) -> Float { log(x) }
    @inline(__always) static func mLog1p(_ x: Float) -> Float { log1p(x) }
    @inline(__always) static func mSin(_ x: Float) -> Float { sin(x) }
    @inline(__always) static func mCos(_ x: Float) -> Float { cos(x) }
    @inline(__always) static func mTan(_ x: Float) -> Float { tan(x) }
    @inline(__always) static func mAsin(_ x: Float) -> Float { asin(x) }
    @inline(__always) static func mAcos(_ x: Float) -> Float { acos(x) }
    @inline(__always) static func mAtan(_ x: Float) -> Float { atan(x) }
    @inline(__always) static func mSinh(_ x: Float) -> Float { sinh(x) }
    @inline(__always) static func mCosh(_ x: Float) -> Float { cosh(x) }
    @inline(__always) static func mTanh(_ x: Float) -> Float { tanh(x) }
    @inline(__always) static func mAsinh(_ x: Float) -> Float { asinh(x) }
    @inline(__always) static func mAcosh(_ x: Float) -> Float { acosh(x) }
    @inline(__always) static func mAtanh(_ x: Float) -> Float { atanh(x) }
    @inline(__always) static func mErf(_ x: Float) -> Float { erf(x) }
    @inline(__always) static func mPow(_ x: Float, _ y: Float) -> Float { pow(x, y) }
    @inline(__always) static func mFmod(_ x: Float, _ y: Float) -> Float { fmod(x, y) }
}

extension Double: EWReal {
    @inline(__always) static func mExp(_ x: Double) -> Double { exp(x) }
    @inline(__always) static func mLog(_ x: Double) -> Double { log(x) }
    @inline(__always) static func mLog1p(_ x: Double) -> Double { log1p(x) }
    @inline(__always) static func mSin(_ x: Double) -> Double { sin(x) }
    @inline(__always) static func mCos(_ x: Double) -> Double { cos(x) }
    @inline(__always) static func mTan(_ x: Double) -> Double { tan(x) }
    @inline(__always) static func mAsin(_ x: Double) -> Double { asin(x) }
    @inline(__always) static func mAcos(_ x: Double) -> Double { acos(x) }
    @inline(__always) static func mAtan(_ x: Double) -> Double { atan(x) }
    @inline(__always) static func mSinh(_ x: Double) -> Double { sinh(x) }
    @inline(__always) static func mCosh(_ x: Double) -> Double { cosh(x) }
    @inline(__always) static func mTanh(_ x: Double) -> Double { tanh(x) }
    @inline(__always) static func mAsinh(_ x: Double) -> Double { asinh(x) }
    @inline(__always) static func mAcosh(_ x: Double) -> Double { acosh(x) }
    @inline(__always) static func mAtanh(_ x: Double) -> Double { atanh(x) }
    @inline(__always) static func mErf(_ x: Double) -> Double { erf(x) }
    @inline(__always) static func mPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
    @inline(__always) static func mFmod(_ x: Double, _ y: Double) -> Double { fmod(x, y) }
}

/// A floating storage type and the precision it is computed in (float16/bfloat16 compute in Float).
protocol EWFloatStorage: NumericElement {
    associatedtype C: EWReal
    var c: C { get }
    init(c: C)
}

extension Float: EWFloatStorage {
    @inline(__always) var c: Float { self }
    @inline(__always) init(c: Float) { self = c }
}
extension Double: EWFloatStorage {
    @inline(__always) var c: Double { self }
    @inline(__always) init(c: Double) { self = c }
}
extension Float16: EWFloatStorage {
    @inline(__always) var c: Float { Float(self) }
    @inline(__always) init(c: Float) { self = Float16(c) }
}
extension BFloat16: EWFloatStorage {
    @inline(__always) var c: Float { float }
    @inline(__always) init(c: Float) { self = BFloat16(c) }
}

/// Integer tensor element types.
protocol EWInteger: FixedWidthInteger, NumericElement {}
extension Int8: EWInteger {}
extension Int16: EWInteger {}
extension Int32: EWInteger {}
extension Int64: EWInteger {}
extension UInt8: EWInteger {}
extension UInt16: EWInteger {}
extension UInt32: EWInteger {}
extension UInt64: EWInteger {}

/// Picks the Swift element type once per call: floating types go to `real`, integers to `int`.
protocol EWNumericVisitor {
    associatedtype Result
    func real<T: EWFloatStorage>(_: T.Type) throws -> Result
    func int<T: EWInteger>(_: T.Type) throws -> Result
}

func ewDispatch<V: EWNumericVisitor>(_ dt: DType, _ v: V) throws -> V.Result {
    switch dt {
    case .float32: return try v.real(Float.self)
    case .float64: return try v.real(Double.self)
    case .float16: return try v.real(Float16.self)
    case .bfloat16: return try v.real(BFloat16.self)
    case .int8: return try v.int(Int8.self)
    case .int16: return try v.int(Int16.self)
    case .int32: return try v.int(Int32.self)
    case .int64: return try v.int(Int64.self)
    case .uint8: return try v.int(UInt8.self)
    case .uint16: return try v.int(UInt16.self)
    case .uint32: return try v.int(UInt32.self)
    case .uint64: return try v.int(UInt64.self)
    case .bool, .string: throw KernelError("type \(dt) is not supported (numeric type expected)")
    }
}

// MARK: - Specialised kernels

/// A kernel whose work is a closure built by a generic initialiser. Generic kernel *types* used through
/// the `Kernel` existential run unspecialised code (one witness call per element); a closure formed in an
/// initialiser that is called with concrete types at registration is specialised, so the per-element
/// operation inlines into the loops.
struct EWClosureKernel: TensorKernel {
    let body: @Sendable ([Tensor?], RunContext) throws -> [Tensor]
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] { try body(inputs, ctx) }
}

// MARK: - Pointers for parallel loops

/// A pointer captured by `parallelFor` bodies.
/// Safety of `@unchecked Sendable`: inputs are only read; outputs are freshly allocated and every
/// parallel chunk writes a disjoint range of output elements.
struct EWPtr<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
    init(_ p: UnsafePointer<T>) { self.p = UnsafeMutablePointer(mutating: p) }
}

// MARK: - Broadcast plan

/// numpy broadcasting of N inputs to one output, with dimensions collapsed so that the innermost
/// dimension is as long as possible. Same-shape inputs become a single contiguous run; a scalar
/// input gets stride 0.
struct BroadcastPlan: Sendable {
    let outShape: [Int]
    let count: Int
    /// Collapsed dimensions (at least one).
    let dims: [Int]
    /// Per input, per collapsed dimension, the element stride (0 where broadcast).
    let strides: [[Int]]

    init(_ shapes: [[Int]]) throws {
        guard let out = Broadcast.shape(shapes) else {
            throw KernelError("input shapes \(shapes.map { "\($0)" }.joined(separator: ", ")) are not broadcast-compatible")
        }
        outShape = out
        count = Tensor.count(out)
        let full = shapes.map { Broadcast.broadcastStrides($0, to: out) }
        var d: [Int] = []
        var st: [[Int]] = Array(repeating: [], count: shapes.count)
        for i in 0..<out.count where out[i] != 1 {
            let n = out[i]
            if let last = d.last, (0..<shapes.count).allSatisfy({ st[$0][st[$0].count - 1] == full[$0][i] * n }) {
                d[d.count - 1] = last * n
                for k in 0..<shapes.count { st[k][st[k].count - 1] = full[k][i] }
            } else {
                d.append(n)
                for k in 0..<shapes.count { st[k].append(full[k][i]) }
            }
        }
        if d.isEmpty {
            d = [1]
            for k in 0..<shapes.count { st[k] = [0] }
        }
        dims = d
        strides = st
    }

    /// Calls `body(outOffset, inputOffsets, length)` for each contiguous inner run covering output
    /// elements `range`. Input k advances by `innerStride(k)` per element within a run.
    @inline(__always)
    func forEachRun(_ range: Range<Int>, _ body: (Int, UnsafeMutableBufferPointer<Int>, Int) -> Void) {
        let r = dims.count, nIn = strides.count
        let inner = dims[r - 1]
        withUnsafeTemporaryAllocation(of: Int.self, capacity: r + nIn) { tmp in
            let idx = UnsafeMutableBufferPointer(rebasing: tmp[0..<r])
            let offs = UnsafeMutableBufferPointer(rebasing: tmp[r..<(r + nIn)])
            var rem = range.lowerBound
            for d in stride(from: r - 1, through: 0, by: -1) {
                idx[d] = rem % dims[d]
                rem /= dims[d]
            }
            for k in 0..<nIn {
                var o = 0
                for d in 0..<r { o += idx[d] * strides[k][d] }
                offs[k] = o
            }
            var pos = range.lowerBound
            let hi = range.upperBound
            while pos < hi {
                let len = min(inner - idx[r - 1], hi - pos)
                body(pos, offs, len)
                pos += len
                if pos >= hi { break }
                // Move to the start of the next inner run, carrying into outer dimensions.
                for k in 0..<nIn { offs[k] -= idx[r - 1] * strides[k][r - 1] }
                idx[r - 1] = 0
                var d = r - 2
                while d >= 0 {
                    idx[d] += 1
                    for k in 0..<nIn { offs[k] += strides[k][d] }
                    if idx[d] < dims[d] { break }
                    for k in 0..<nIn { offs[k] -= dims[d] * strides[k][d] }
                    idx[d] = 0
                    d -= 1
                }
            }
        }
    }

    @inline(__always) func innerStride(_ k: Int) -> Int { strides[k][dims.count - 1] }
}

// MARK: - Output allocation

/// Allocates an output of `dtype`/`shape` and lets `fill` write every element through a typed pointer
/// (strings included: the pointer then addresses an initialised `[String]`).
@inline(__always)
func ewMakeOutput<R: TensorElement>(_: R.Type, _ shape: [Int], _ fill: (UnsafeMutablePointer<R>) throws -> Void) rethrows -> Tensor {
    if R.dtype == .string {
        var arr = [String](repeating: "", count: Tensor.count(shape))
        try arr.withUnsafeMutableBufferPointer { buf in
            try buf.withMemoryRebound(to: R.self) { rb in
                if let base = rb.baseAddress { try fill(base) }
            }
        }
        return Tensor(dtype: .string, shape: shape, storage: TensorStorage(strings: arr))
    }
    let t = Tensor.uninitialized(R.dtype, shape: shape)
    try fill(t.mutablePointer(R.self))
    return t
}

// MARK: - Elementwise loops

// The per-element operation is a value of a generic *type* (not a closure): the loops below run inside
// closures handed to other modules (`withBuffer`, `parallelFor`), and only a statically known operation
// type lets the specialised loop inline it (a captured closure would cost an indirect call per element).

/// A per-element function of one input.
protocol EWOp1: Sendable {
    associatedtype A: TensorElement
    associatedtype R: TensorElement
    func apply(_ a: A) -> R
}
/// A per-element function of two inputs.
protocol EWOp2: Sendable {
    associatedtype A: TensorElement
    associatedtype B: TensorElement
    associatedtype R: TensorElement
    func apply(_ a: A, _ b: B) -> R
}
/// A per-element function of three inputs.
protocol EWOp3: Sendable {
    associatedtype A: TensorElement
    associatedtype B: TensorElement
    associatedtype C: TensorElement
    associatedtype R: TensorElement
    func apply(_ a: A, _ b: B, _ c: C) -> R
}

/// out = op(a) elementwise, in parallel chunks for large tensors.
func ewUnary<Op: EWOp1>(_ a: Tensor, _ op: Op, _ ctx: RunContext, cost: Int = 1) throws -> Tensor {
    try a.withBuffer(of: Op.A.self) { ab in
        ewMakeOutput(Op.R.self, a.shape) { po in
            guard let pa = ab.baseAddress else { return }
            let ia = EWPtr(pa), io = EWPtr(po)
            ctx.parallelFor(ab.count, cost: cost) { range in
                let x = ia.p, o = io.p
                for i in range { o[i] = op.apply(x[i]) }
            }
        }
    }
}

/// out = op(a, b) with numpy broadcasting. Inner runs are specialised for the contiguous/contiguous,
/// scalar/contiguous and contiguous/scalar cases so that the compiler can vectorise them.
func ewBinary<Op: EWOp2>(_ a: Tensor, _ b: Tensor, _ op: Op, _ ctx: RunContext, cost: Int = 1) throws -> Tensor {
    let plan = try BroadcastPlan([a.shape, b.shape])
    return try a.withBuffer(of: Op.A.self) { ab in
        try b.withBuffer(of: Op.B.self) { bb in
            ewMakeOutput(Op.R.self, plan.outShape) { po in
                guard plan.count > 0, let pa = ab.baseAddress, let pb = bb.baseAddress else { return }
                let ia = EWPtr(pa), ib = EWPtr(pb), io = EWPtr(po)
                let sa = plan.innerStride(0), sb = plan.innerStride(1)
                ctx.parallelFor(plan.count, cost: cost) { range in
                    plan.forEachRun(range) { o0, offs, len in
                        let x = ia.p + offs[0], y = ib.p + offs[1], o = io.p + o0
                        if sa == 1 && sb == 1 {
                            for i in 0..<len { o[i] = op.apply(x[i], y[i]) }
                        } else if sa == 0 && sb == 1 {
                            let xv = x[0]
                            for i in 0..<len { o[i] = op.apply(xv, y[i]) }
                        } else if sa == 1 && sb == 0 {
                            let yv = y[0]
                            for i in 0..<len { o[i] = op.apply(x[i], yv) }
                        } else {
                            for i in 0..<len { o[i] = op.apply(x[i &* sa], y[i &* sb]) }
                        }
                    }
                }
            }
        }
    }
}

/// out = op(a, b, c) with numpy broadcasting (Where).
func ewTernary<Op: EWOp3>(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ op: Op, _ ctx: RunContext, cost: Int = 1) throws -> Tensor {
    let plan = try BroadcastPlan([a.shape, b.shape, c.shape])
    return try a.withBuffer(of: Op.A.self) { ab in
        try b.withBuffer(of: Op.B.self) { bb in
            try c.withBuffer(of: Op.C.self) { cb in
                ewMakeOutput(Op.R.self, plan.outShape) { po in
                    guard plan.count > 0, let pa = ab.baseAddress, let pb = bb.baseAddress, let pc = cb.baseAddress
                    else { return }
                    let ia = EWPtr(pa), ib = EWPtr(pb), ic = EWPtr(pc), io = EWPtr(po)
                    let sa = plan.innerStride(0), sb = plan.innerStride(1), sc = plan.innerStride(2)
                    ctx.parallelFor(plan.count, cost: cost) { range in
                        plan.forEachRun(range) { o0, offs, len in
                            let x = ia.p + offs[0], y = ib.p + offs[1], z = ic.p + offs[2], o = io.p + o0
                            if sa == 1 && sb == 1 && sc == 1 {
                                for i in 0..<len { o[i] = op.apply(x[i], y[i], z[i]) }
                            } else {
                                for i in 0..<len { o[i] = op.apply(x[i &* sa], y[i &* sb], z[i &* sc]) }
                            }
                        }
                    }
                }
            }
        }
    }
}
