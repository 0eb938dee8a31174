import Foundation
import OnyxTensor
import OnyxKernels

// Helpers shared by the NN family: a compute precision per storage dtype (Double for float64,
// Float for float32/float16/bfloat16), zero-copy float32/float64 buffers, and a GEMM hook that
// sends Float to the packed SGEMM kernel and runs a plain loop for Double.

/// A compute precision for NN kernels (Float or Double) with the math functions they need.
protocol NNReal: BinaryFloatingPoint, NumericElement {
    static func nnExp(_ x: Self) -> Self
    static func nnLog(_ x: Self) -> Self
    static func nnPow(_ x: Self, _ y: Self) -> Self
}

extension Float: NNReal {
    @inline(__always) static func nnExp(_ x: Float) -> Float { Foundation.exp(x) }
    @inline(__always) static func nnLog(_ x: Float) -> Float { Foundation.log(x) }
    @inline(__always) static func nnPow(_ x: Float, _ y: Float) -> Float { Foundation.pow(x, y) }
}

extension Double: NNReal {
    @inline(__always) static func nnExp(_ x: Double) -> Double { Foundation.exp(x) }
    @inline(__always) static func nnLog(_ x: Double) -> Double { Foundation.log(x) }
    @inline(__always) static func nnPow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
}

/// Something to run once with the compute type chosen for a float dtype.
protocol NNVisitor {
    associatedtype Result
    func visit<C: NNReal>(_: C.Type) throws -> Result
}

/// Picks the compute type for a float dtype: Double for float64, Float for float32/float16/bfloat16.
func nnDispatch<V: NNVisitor>(_ dt: DType, _ v: V) throws -> V.Result {
    switch dt {
    case .float64: return try v.visit(Double.self)
    case .float32, .float16, .bfloat16: return try v.visit(Float.self)
    default: throw KernelError("type \(dt) is not supported (float, double, float16, bfloat16 expected)")
    }
}

/// Whether tensor elements of `dt` are stored exactly as `C` (so buffers can be used in place).
@inline(__always)
func nnNative<C: NNReal>(_ dt: DType, _: C.Type) -> Bool {
    (C.self == Float.self && dt == .float32) || (C.self == Double.self && dt == .float64)
}

/// Calls `body` with the elements of float tensor `t` as `C`: in place when the dtype matches,
/// otherwise through a converted temporary copy.
func nnRead<C: NNReal, R>(_ t: Tensor, _: C.Type, _ body: (UnsafeBufferPointer<C>) throws -> R) throws -> R {
    if nnNative(t.dtype, C.self) {
        let p = UnsafeRawPointer(t.rawPointer).assumingMemoryBound(to: C.self)
        return try body(UnsafeBufferPointer(start: p, count: t.count))
    }
    let a = try nnArray(t, C.self)
    return try a.withUnsafeBufferPointer { try body($0) }
}

/// The elements of float tensor `t` converted to `C`.
func nnArray<C: NNReal>(_ t: Tensor, _: C.Type) throws -> [C] {
    switch t.dtype {
    case .float32: return try t.withBuffer(of: Float.self) { b in b.map { C($0) } }
    case .float64: return try t.withBuffer(of: Double.self) { b in b.map { C($0) } }
    case .float16: return try t.withBuffer(of: Float16.self) { b in b.map { C(Float($0)) } }
    case .bfloat16: return try t.withBuffer(of: BFloat16.self) { b in b.map { C($0.float) } }
    default: throw KernelError("expected a float tensor, got \(t.dtype)")
    }
}

/// A fresh tensor of `dtype`/`shape` whose elements `body` writes as `C` (the buffer starts zeroed).
func nnWrite<C: NNReal>(_ dtype: DType, _ shape: [Int], _: C.Type,
                        _ body: (UnsafeMutableBufferPointer<C>) throws -> Void) throws -> Tensor {
    let out = Tensor(zeros: dtype, shape: shape)
    let n = out.count
    if nnNative(dtype, C.self) {
        let p = out.rawPointer.assumingMemoryBound(to: C.self)
        try body(UnsafeMutableBufferPointer(start: p, count: n))
        return out
    }
    var tmp = [C](repeating: 0, count: n)
    try tmp.withUnsafeMutableBufferPointer { try body($0) }
    try nnStore(tmp, into: out)
    return out
}

/// Converts `values` into the fresh float tensor `out` (same element count).
func nnStore<C: NNReal>(_ values: [C], into out: Tensor) throws {
    let n = min(values.count, out.count)
    switch out.dtype {
    case .float32: let p = out.mutablePointer(Float.self); for i in 0..<n { p[i] = Float(values[i]) }
    case .float64: let p = out.mutablePointer(Double.self); for i in 0..<n { p[i] = Double(values[i]) }
    case .float16: let p = out.mutablePointer(Float16.self); for i in 0..<n { p[i] = Float16(Float(values[i])) }
    case .bfloat16: let p = out.mutablePointer(BFloat16.self); for i in 0..<n { p[i] = BFloat16(Float(values[i])) }
    default: throw KernelError("expected a float output type, got \(out.dtype)")
    }
}

/// A float tensor from compute values.
func nnTensor<C: NNReal>(_ values: [C], dtype: DType, shape: [Int]) throws -> Tensor {
    let out = Tensor.uninitialized(dtype, shape: shape)
    guard out.count == values.count else { throw KernelError("internal: \(values.count) values for shape \(shape)") }
    try nnStore(values, into: out)
    return out
}

/// Row-major C[m×n] = alpha·op(A)·op(B) + beta·C. Float goes to SGEMM (threaded), Double to a plain loop.
func nnGemm<C: NNReal>(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: C,
                       a: UnsafePointer<C>, lda: Int, b: UnsafePointer<C>, ldb: Int,
                       beta: C, c: UnsafeMutablePointer<C>, ldc: Int, ctx: RunContext) {
    if m <= 0 || n <= 0 { return }
    if C.self == Float.self {
        let fa = UnsafeRawPointer(a).assumingMemoryBound(to: Float.self)
        let fb = UnsafeRawPointer(b).assumingMemoryBound(to: Float.self)
        let fc = UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self)
        SGEMM.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: Float(alpha), a: fa, lda: lda,
                   b: fb, ldb: ldb, beta: Float(beta), c: fc, ldc: ldc, threads: ctx.threads, pool: ctx.pool)
        return
    }
    for i in 0..<m {
        let crow = c + i * ldc
        for j in 0..<n {
            var s: C = 0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                s += av * bv
            }
            crow[j] = beta == 0 ? alpha * s : alpha * s + beta * crow[j]
        }
    }
}

/// An output pointer shared by `parallelFor` chunks.
/// Safety of `@unchecked Sendable`: every chunk writes a disjoint index range of a fresh buffer
/// that nobody reads until `parallelFor` returns.
struct NNSendablePointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}

/// A read-only input pointer shared by `parallelFor` chunks.
/// Safety of `@unchecked Sendable`: the memory is only read while `parallelFor` runs and outlives it.
struct NNSendableReadPointer<T>: @unchecked Sendable {
    let p: UnsafePointer<T>
    init(_ p: UnsafePointer<T>) { self.p = p }
}

/// Reads an optional int-list input (axes, shapes) into Ints.
func nnInts(_ t: Tensor?) -> [Int]? { t.map { $0.intValues() } }

/// Validates and normalises a list of axes (no duplicates).
func nnAxes(_ axes: [Int], rank: Int, name: String = "axes") throws -> [Int] {
    var out: [Int] = []
    for a in axes {
        let n = try normalizeAxis(a, rank: rank, name: name)
        guard !out.contains(n) else { throw KernelError("\(name) contains \(a) twice") }
        out.append(n)
    }
    return out
}
