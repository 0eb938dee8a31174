import OnyxTensor
import OnyxKernels

// Unary elementwise math operators (Abs ... Erf), IsNaN/IsInf, Not, BitwiseNot, and the generic kernel
// the activation functions share.

/// A unary operation: `real` for floating types (computed in `C`), `int` for integers when allowed.
protocol UnaryFn: Sendable {
    var name: String { get }
    var allowsFloat: Bool { get }
    var allowsInt: Bool { get }
    /// Rough per-element cost for the parallel split.
    var cost: Int { get }
    /// The vectorised float32 implementation (vmath.c), when there is one.
    var vector: VMath.Unary? { get }
    func real<C: EWReal>(_ x: C) -> C
    func int<I: EWInteger>(_ x: I) -> I
}

extension UnaryFn {
    var allowsFloat: Bool { true }
    var allowsInt: Bool { false }
    var cost: Int { 16 }
    var vector: VMath.Unary? { nil }
    func real<C: EWReal>(_ x: C) -> C { x }
    func int<I: EWInteger>(_ x: I) -> I { x }
}

/// Builds the kernel for a unary function (call with a concrete `F` so the loops are specialised).
func makeUnaryKernel<F: UnaryFn>(_ f: F) -> EWClosureKernel {
    EWClosureKernel { inputs, ctx in
        let x = try inputs.required(0, "X")
        return [try ewDispatch(x.dtype, UnaryVisitor(f: f, x: x, ctx: ctx))]
    }
}

struct UnaryVisitor<F: UnaryFn>: EWNumericVisitor {
    let f: F, x: Tensor, ctx: RunContext
    func real<T: EWFloatStorage>(_: T.Type) throws -> Tensor {
        guard f.allowsFloat else { throw KernelError("\(f.name) does not support type \(T.dtype)") }
        if T.self == Float.self, let v = f.vector { return try ewUnaryVector(x, v, ctx) }
        return try ewUnary(x, UnaryRealOp<F, T>(f: f), ctx, cost: f.cost)
    }
    func int<T: EWInteger>(_: T.Type) throws -> Tensor {
        guard f.allowsInt else { throw KernelError("\(f.name) does not support type \(T.dtype)") }
        return try ewUnary(x, UnaryIntOp<F, T>(f: f), ctx, cost: f.cost)
    }
}

/// A float32 unary function through the vector math kernels, split across threads in contiguous chunks.
func ewUnaryVector(_ a: Tensor, _ f: VMath.Unary, _ ctx: RunContext) throws -> Tensor {
    try a.withBuffer(of: Float.self) { ab in
        ewMakeOutput(Float.self, a.shape) { po in
            guard let pa = ab.baseAddress else { return }
            let ia = EWPtr(pa), io = EWPtr(po)
            ctx.parallelFor(ab.count, cost: 4) { range in
                VMath.apply(f, ia.p + range.lowerBound, io.p + range.lowerBound, count: range.count)
            }
        }
    }
}

struct UnaryRealOp<F: UnaryFn, T: EWFloatStorage>: EWOp1 {
    let f: F
    @inline(__always) func apply(_ a: T) -> T { T(c: f.real(a.c)) }
}
struct UnaryIntOp<F: UnaryFn, T: EWInteger>: EWOp1 {
    let f: F
    @inline(__always) func apply(_ a: T) -> T { f.int(a) }
}

struct AbsFn: UnaryFn {
    var name: String { "Abs" }
    var allowsInt: Bool { true }
    var cost: Int { 1 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x.magnitude }
    @inline(__always) func int<I: EWInteger>(_ x: I) -> I { x < 0 ? 0 &- x : x }
}
struct NegFn: UnaryFn {
    var name: String { "Neg" }
    var allowsInt: Bool { true }
    var cost: Int { 1 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { -x }
    @inline(__always) func int<I: EWInteger>(_ x: I) -> I { 0 &- x }
}
struct SignFn: UnaryFn {
    var name: String { "Sign" }
    var allowsInt: Bool { true }
    var cost: Int { 1 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x > 0 ? 1 : (x < 0 ? -1 : x) }
    @inline(__always) func int<I: EWInteger>(_ x: I) -> I { x > 0 ? 1 : (x < 0 ? 0 &- 1 : 0) }
}
struct CeilFn: UnaryFn {
    var name: String { "Ceil" }
    var cost: Int { 1 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x.rounded(.up) }
}
struct FloorFn: UnaryFn {
    var name: String { "Floor" }
    var cost: Int { 1 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x.rounded(.down) }
}
/// Round half to even.
struct RoundFn: UnaryFn {
    var name: String { "Round" }
    var cost: Int { 1 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x.rounded(.toNearestOrEven) }
}
struct SqrtFn: UnaryFn {
    var name: String { "Sqrt" }
    var cost: Int { 4 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x.squareRoot() }
}
struct ReciprocalFn: UnaryFn {
    var name: String { "Reciprocal" }
    var cost: Int { 4 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { 1 / x }
}
struct BitwiseNotFn: UnaryFn {
    var name: String { "BitwiseNot" }
    var allowsFloat: Bool { false }
    var allowsInt: Bool { true }
    var cost: Int { 1 }
    @inline(__always) func int<I: EWInteger>(_ x: I) -> I { ~x }
}

/// Transcendental functions: one kernel type per function so that each loop is specialised (no per-element switch).
struct ExpFn: UnaryFn { var name: String { "Exp" }; var vector: VMath.Unary? { .exp }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mExp(x) } }
struct LogFn: UnaryFn { var name: String { "Log" }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mLog(x) } }
struct SinFn: UnaryFn { var name: String { "Sin" }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mSin(x) } }
struct CosFn: UnaryFn { var name: String { "Cos" }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mCos(x) } }
struct TanFn: UnaryFn { var name: String { "Tan" }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mTan(x) } }
struct AsinFn: UnaryFn { var name: String { "Asin" }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mAsin(x) } }
struct AcosFn: UnaryFn { var name: String { "Acos" }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mAcos(x) } }
struct AtanFn: UnaryFn { var name: String { "Atan" }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mAtan(x) } }
struct SinhFn: UnaryFn { var name: String { "Sinh" }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mSinh(x) } }
struct CoshFn: UnaryFn { var name: String { "Cosh" }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mCosh(x) } }
struct TanhFn: UnaryFn { var name: String { "Tanh" }; var vector: VMath.Unary? { .tanh }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mTanh(x) } }
struct AsinhFn: UnaryFn { var name: String { "Asinh" }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mAsinh(x) } }
struct AcoshFn: UnaryFn { var name: String { "Acosh" }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mAcosh(x) } }
struct AtanhFn: UnaryFn { var name: String { "Atanh" }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mAtanh(x) } }
struct ErfFn: UnaryFn { var name: String { "Erf" }; var vector: VMath.Unary? { .erf }; @inline(__always) func real<C: EWReal>(_ x: C) -> C { C.mErf(x) } }

// MARK: - Predicates and boolean

/// IsNaN, and IsInf with detect_positive / detect_negative.
struct FloatPredicateKernel: TensorKernel {
    enum Kind: Sendable { case nan, inf(pos: Bool, neg: Bool) }
    let kind: Kind
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        return [try ewDispatch(x.dtype, Visitor(kind: kind, x: x, ctx: ctx))]
    }
    struct Visitor: EWNumericVisitor {
        let kind: Kind, x: Tensor, ctx: RunContext
        func real<T: EWFloatStorage>(_: T.Type) throws -> Tensor {
            switch kind {
            case .nan:
                return try ewUnary(x, IsNaNOp<T>(), ctx)
            case .inf(let pos, let neg):
                return try ewUnary(x, IsInfOp<T>(pos: pos, neg: neg), ctx)
            }
        }
        func int<T: EWInteger>(_: T.Type) throws -> Tensor {
            throw KernelError("type \(T.dtype) is not supported (floating type expected)")
        }
    }
}

struct NotKernel: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.dtype == .bool else { throw KernelError("input must be bool, got \(x.dtype)") }
        return [try ewUnary(x, NotOp(), ctx)]
    }
}

struct IsNaNOp<T: EWFloatStorage>: EWOp1 {
    @inline(__always) func apply(_ a: T) -> Bool { a.c.isNaN }
}
struct IsInfOp<T: EWFloatStorage>: EWOp1 {
    let pos: Bool, neg: Bool
    @inline(__always) func apply(_ a: T) -> Bool { let c = a.c; return c.isInfinite && (c > 0 ? pos : neg) }
}
struct NotOp: EWOp1 { @inline(__always) func apply(_ a: Bool) -> Bool { !a } }
