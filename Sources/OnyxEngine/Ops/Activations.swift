import OnyxTensor
import OnyxKernels

// Activation functions (float types; Relu also takes signed integers) and Clip.

struct ReluFn: UnaryFn {
    var name: String { "Relu" }
    var allowsInt: Bool { true }
    var cost: Int { 1 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x > 0 ? x : 0 }
    @inline(__always) func int<I: EWInteger>(_ x: I) -> I { x > 0 ? x : 0 }
}
struct LeakyReluFn: UnaryFn {
    let alpha: Float
    var name: String { "LeakyRelu" }
    var cost: Int { 1 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x >= 0 ? x : C(alpha) * x }
}
struct EluFn: UnaryFn {
    let alpha: Float
    var name: String { "Elu" }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x >= 0 ? x : C(alpha) * (C.mExp(x) - 1) }
}
struct SeluFn: UnaryFn {
    let alpha: Float, gamma: Float
    var name: String { "Selu" }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C {
        x > 0 ? C(gamma) * x : C(gamma) * (C(alpha) * C.mExp(x) - C(alpha))
    }
}
struct CeluFn: UnaryFn {
    let alpha: Float
    var name: String { "Celu" }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C {
        let a = C(alpha)
        return max(0, x) + min(0, a * (C.mExp(x / a) - 1))
    }
}
@inline(__always) func ewSigmoid<C: EWReal>(_ x: C) -> C {
    if x >= 0 { return 1 / (1 + C.mExp(-x)) }
    let e = C.mExp(x)
    return e / (1 + e)
}
@inline(__always) func ewSoftplus<C: EWReal>(_ x: C) -> C {
    x > 0 ? x + C.mLog1p(C.mExp(-x)) : C.mLog1p(C.mExp(x))
}
struct SigmoidFn: UnaryFn {
    var name: String { "Sigmoid" }
    var vector: VMath.Unary? { .sigmoid }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { ewSigmoid(x) }
}
struct HardSigmoidFn: UnaryFn {
    let alpha: Float, beta: Float
    var name: String { "HardSigmoid" }
    var cost: Int { 2 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { max(0, min(1, C(alpha) * x + C(beta))) }
}
struct HardSwishFn: UnaryFn {
    var name: String { "HardSwish" }
    var cost: Int { 2 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x * max(0, min(1, x / 6 + C(0.5))) }
}
struct SoftplusFn: UnaryFn {
    var name: String { "Softplus" }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { ewSoftplus(x) }
}
struct SoftsignFn: UnaryFn {
    var name: String { "Softsign" }
    var cost: Int { 4 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x / (1 + x.magnitude) }
}
struct ThresholdedReluFn: UnaryFn {
    let alpha: Float
    var name: String { "ThresholdedRelu" }
    var cost: Int { 1 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x > C(alpha) ? x : 0 }
}
struct GeluFn: UnaryFn {
    let tanhApprox: Bool
    var name: String { "Gelu" }
    var vector: VMath.Unary? { tanhApprox ? .geluTanh : .geluErf }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C {
        if tanhApprox {
            let k = C(0.7978845608028654)  // sqrt(2/pi)
            return C(0.5) * x * (1 + C.mTanh(k * (x + C(0.044715) * x * x * x)))
        }
        return C(0.5) * x * (1 + C.mErf(x * C(0.7071067811865476)))
    }
}
struct MishFn: UnaryFn {
    var name: String { "Mish" }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x * C.mTanh(ewSoftplus(x)) }
}
struct SwishFn: UnaryFn {
    let alpha: Float
    var name: String { "Swish" }
    var vector: VMath.Unary? { .swish(alpha: alpha) }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C { x * ewSigmoid(C(alpha) * x) }
}
struct ShrinkFn: UnaryFn {
    let bias: Float, lambd: Float
    var name: String { "Shrink" }
    var allowsInt: Bool { true }
    var cost: Int { 2 }
    @inline(__always) func real<C: EWReal>(_ x: C) -> C {
        x < -C(lambd) ? x + C(bias) : (x > C(lambd) ? x - C(bias) : 0)
    }
    @inline(__always) func int<I: EWInteger>(_ x: I) -> I {
        let d = x.asDouble, l = Double(lambd), b = Double(bias)
        return I(fromDouble: d < -l ? d + b : (d > l ? d - b : 0))
    }
}

// MARK: - Clip

/// Clip: bounds from attributes before opset 11, from optional scalar inputs from 11 on.
/// Computes min(max(x, lo), hi) like numpy (so lo > hi gives hi everywhere).
struct ClipKernel: TensorKernel {
    /// Attribute bounds (opset < 11).
    let attrMin: Float?, attrMax: Float?
    let boundsFromInputs: Bool

    init(_ c: NodeContext) throws {
        if c.opset < 11 {
            boundsFromInputs = false
            attrMin = c.has("min") ? try c.float("min", 0) : nil
            attrMax = c.has("max") ? try c.float("max", 0) : nil
        } else {
            boundsFromInputs = true
            attrMin = nil
            attrMax = nil
        }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        var lo: Tensor?, hi: Tensor?
        if boundsFromInputs {
            lo = inputs.optional(1)
            hi = inputs.optional(2)
            for (name, t) in [("min", lo), ("max", hi)] {
                guard let t else { continue }
                guard t.dtype == x.dtype else { throw KernelError("\(name) has type \(t.dtype), expected \(x.dtype)") }
                guard t.count == 1 else { throw KernelError("\(name) must be a scalar, got shape \(t.shape)") }
            }
        } else {
            if let m = attrMin { lo = try castTensor(Tensor(scalar: m), to: x.dtype) }
            if let m = attrMax { hi = try castTensor(Tensor(scalar: m), to: x.dtype) }
        }
        return [try ewDispatch(x.dtype, Visitor(x: x, lo: lo, hi: hi, ctx: ctx))]
    }

    struct Visitor: EWNumericVisitor {
        let x: Tensor, lo: Tensor?, hi: Tensor?, ctx: RunContext
        func real<T: EWFloatStorage>(_: T.Type) throws -> Tensor {
            let l: T.C = try lo?.withBuffer(of: T.self) { $0[0].c } ?? -T.C.infinity
            let h: T.C = try hi?.withBuffer(of: T.self) { $0[0].c } ?? T.C.infinity
            return try ewUnary(x, ClipRealOp<T>(lo: l, hi: h), ctx)
        }
        func int<T: EWInteger>(_: T.Type) throws -> Tensor {
            let l: T = try lo?.withBuffer(of: T.self) { $0[0] } ?? T.min
            let h: T = try hi?.withBuffer(of: T.self) { $0[0] } ?? T.max
            return try ewUnary(x, ClipIntOp<T>(lo: l, hi: h), ctx)
        }
    }
}

/// min(max(x, lo), hi); NaN passes through.
struct ClipRealOp<T: EWFloatStorage>: EWOp1 {
    let lo: T.C, hi: T.C
    @inline(__always) func apply(_ a: T) -> T {
        var y = a.c
        if y < lo { y = lo }
        if y > hi { y = hi }
        return T(c: y)
    }
}
struct ClipIntOp<T: EWInteger>: EWOp1 {
    let lo: T, hi: T
    @inline(__always) func apply(_ a: T) -> T {
        var y = a
        if y < lo { y = lo }
        if y > hi { y = hi }
        return y
    }
}
