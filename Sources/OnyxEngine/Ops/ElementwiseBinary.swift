import OnyxTensor

// Binary elementwise operators with numpy broadcasting: arithmetic, bitwise, comparison, logical, Pow, Where.

/// A same-type binary operation: `real` for floating types (computed in `C`), `int` for integers.
protocol ArithFn: Sendable {
    var name: String { get }
    var allowsFloat: Bool { get }
    var allowsInt: Bool { get }
    func real<C: EWReal>(_ a: C, _ b: C) -> C
    func int<I: EWInteger>(_ a: I, _ b: I) -> I
}

extension ArithFn {
    var allowsFloat: Bool { true }
    var allowsInt: Bool { true }
    func real<C: EWReal>(_ a: C, _ b: C) -> C { a }
    func int<I: EWInteger>(_ a: I, _ b: I) -> I { a }
}

struct AddFn: ArithFn {
    var name: String { "Add" }
    @inline(__always) func real<C: EWReal>(_ a: C, _ b: C) -> C { a + b }
    @inline(__always) func int<I: EWInteger>(_ a: I, _ b: I) -> I { a &+ b }
}
struct SubFn: ArithFn {
    var name: String { "Sub" }
    @inline(__always) func real<C: EWReal>(_ a: C, _ b: C) -> C { a - b }
    @inline(__always) func int<I: EWInteger>(_ a: I, _ b: I) -> I { a &- b }
}
struct MulFn: ArithFn {
    var name: String { "Mul" }
    @inline(__always) func real<C: EWReal>(_ a: C, _ b: C) -> C { a * b }
    @inline(__always) func int<I: EWInteger>(_ a: I, _ b: I) -> I { a &* b }
}
/// Integer division truncates toward zero (C semantics); division by zero gives 0 instead of trapping.
struct DivFn: ArithFn {
    var name: String { "Div" }
    @inline(__always) func real<C: EWReal>(_ a: C, _ b: C) -> C { a / b }
    @inline(__always) func int<I: EWInteger>(_ a: I, _ b: I) -> I {
        b == 0 ? 0 : a.dividedReportingOverflow(by: b).partialValue
    }
}
/// fmod=1: remainder with the dividend's sign (C fmod). fmod=0: sign of the divisor (numpy mod).
struct ModFn: ArithFn {
    let fmod: Bool
    var name: String { "Mod" }
    @inline(__always) func real<C: EWReal>(_ a: C, _ b: C) -> C {
        let r = C.mFmod(a, b)
        if fmod || b == 0 || r.isNaN { return r }
        if r == 0 { return b < 0 ? -C(0) : C(0) }
        return (r < 0) != (b < 0) ? r + b : r
    }
    @inline(__always) func int<I: EWInteger>(_ a: I, _ b: I) -> I {
        if b == 0 { return 0 }
        let r = a.remainderReportingOverflow(dividingBy: b).partialValue
        if fmod || r == 0 { return r }
        return (r < 0) != (b < 0) ? r &+ b : r
    }
}
struct MaxFn: ArithFn {
    var name: String { "Max" }
    @inline(__always) func real<C: EWReal>(_ a: C, _ b: C) -> C { (a >= b || a.isNaN) ? a : b }
    @inline(__always) func int<I: EWInteger>(_ a: I, _ b: I) -> I { a >= b ? a : b }
}
struct MinFn: ArithFn {
    var name: String { "Min" }
    @inline(__always) func real<C: EWReal>(_ a: C, _ b: C) -> C { (a <= b || a.isNaN) ? a : b }
    @inline(__always) func int<I: EWInteger>(_ a: I, _ b: I) -> I { a <= b ? a : b }
}
struct BitAndFn: ArithFn {
    var name: String { "BitwiseAnd" }
    var allowsFloat: Bool { false }
    @inline(__always) func int<I: EWInteger>(_ a: I, _ b: I) -> I { a & b }
}
struct BitOrFn: ArithFn {
    var name: String { "BitwiseOr" }
    var allowsFloat: Bool { false }
    @inline(__always) func int<I: EWInteger>(_ a: I, _ b: I) -> I { a | b }
}
struct BitXorFn: ArithFn {
    var name: String { "BitwiseXor" }
    var allowsFloat: Bool { false }
    @inline(__always) func int<I: EWInteger>(_ a: I, _ b: I) -> I { a ^ b }
}
/// Shifts by amounts outside 0..<bitWidth give 0 (or -1 for right shifts of negative signed values).
struct BitShiftFn: ArithFn {
    let left: Bool
    var name: String { "BitShift" }
    var allowsFloat: Bool { false }
    @inline(__always) func int<I: EWInteger>(_ a: I, _ b: I) -> I {
        if b < 0 || b >= I(truncatingIfNeeded: I.bitWidth) {
            return (!left && a < 0) ? ~I(0) : 0
        }
        return left ? a &<< b : a &>> b
    }
}
/// PRelu: x if x > 0 else x * slope.
struct PReluFn: ArithFn {
    var name: String { "PRelu" }
    @inline(__always) func real<C: EWReal>(_ a: C, _ b: C) -> C { a > 0 ? a : a * b }
    @inline(__always) func int<I: EWInteger>(_ a: I, _ b: I) -> I { a > 0 ? a : a &* b }
}

/// Computes `f` over two tensors of the same dtype with broadcasting.
struct ArithVisitor<F: ArithFn>: EWNumericVisitor {
    let f: F, a: Tensor, b: Tensor, ctx: RunContext
    func real<T: EWFloatStorage>(_: T.Type) throws -> Tensor {
        guard f.allowsFloat else { throw KernelError("\(f.name) does not support type \(T.dtype)") }
        return try ewBinary(a, b, ArithRealOp<F, T>(f: f), ctx)
    }
    func int<T: EWInteger>(_: T.Type) throws -> Tensor {
        guard f.allowsInt else { throw KernelError("\(f.name) does not support type \(T.dtype)") }
        return try ewBinary(a, b, ArithIntOp<F, T>(f: f), ctx)
    }
}

struct ArithRealOp<F: ArithFn, T: EWFloatStorage>: EWOp2 {
    let f: F
    @inline(__always) func apply(_ a: T, _ b: T) -> T { T(c: f.real(a.c, b.c)) }
}
struct ArithIntOp<F: ArithFn, T: EWInteger>: EWOp2 {
    let f: F
    @inline(__always) func apply(_ a: T, _ b: T) -> T { f.int(a, b) }
}

func ewArith<F: ArithFn>(_ f: F, _ a: Tensor, _ b: Tensor, _ ctx: RunContext) throws -> Tensor {
    guard a.dtype == b.dtype else {
        throw KernelError("\(f.name) inputs have different types \(a.dtype) and \(b.dtype)")
    }
    return try ewDispatch(a.dtype, ArithVisitor(f: f, a: a, b: b, ctx: ctx))
}

/// Same-type binary operator (Add, Sub, Mul, Div, Mod, BitShift, Bitwise*, PRelu).
/// Opset < 7 `broadcast`/`axis`: B is aligned to A starting at `axis` (else numpy suffix alignment).
func makeArithKernel<F: ArithFn>(_ f: F, _ c: NodeContext) throws -> EWClosureKernel {
    var legacyAxis: Int? = nil
    if c.opset < 7, try c.int("broadcast", 0) != 0, c.has("axis") { legacyAxis = try c.int("axis") }
    return EWClosureKernel { [legacyAxis] inputs, ctx in
        let a = try inputs.required(0, "A")
        var b = try inputs.required(1, "B")
        if let axis = legacyAxis {
            let ax = try normalizeAxis(axis, rank: a.rank)
            guard ax + b.rank <= a.rank else { throw KernelError("B of rank \(b.rank) does not fit A of rank \(a.rank) at axis \(axis)") }
            b = try b.reshaped(b.shape + Array(repeating: 1, count: a.rank - ax - b.rank))
        }
        return [try ewArith(f, a, b, ctx)]
    }
}

/// PRelu: slope broadcasts to X (numpy rules). Like the ONNX reference, a 1-D slope that does not
/// broadcast is aligned with the single dimension of X having its length (e.g. per-channel slopes).
func makePReluKernel() -> EWClosureKernel {
    EWClosureKernel { inputs, ctx in
        let x = try inputs.required(0, "X")
        var slope = try inputs.required(1, "slope")
        if Broadcast.shape([x.shape, slope.shape]) == nil, slope.rank == 1 {
            let matches = x.shape.indices.filter { x.shape[$0] == slope.shape[0] }
            if matches.count == 1 {
                var s = Array(repeating: 1, count: x.rank)
                s[matches[0]] = slope.shape[0]
                slope = try slope.reshaped(s)
            }
        }
        return [try ewArith(PReluFn(), x, slope, ctx)]
    }
}

/// Max, Min, Sum, Mean over one or more inputs with broadcasting.
func makeVariadicKernel<F: ArithFn>(_ f: F, mean: Bool) -> EWClosureKernel {
    EWClosureKernel { inputs, ctx in
        let ts = inputs.compactMap { $0 }
        guard let first = ts.first else { throw KernelError("\(f.name) needs at least one input") }
        var acc = first.copy()
        for t in ts.dropFirst() { acc = try ewArith(f, acc, t, ctx) }
        if mean && ts.count > 1 {
            guard acc.dtype.isFloatingPoint else { throw KernelError("Mean does not support type \(acc.dtype)") }
            // The input count in the accumulator's dtype (a one-element conversion).
            let n = try castTensor(Tensor(scalar: Double(ts.count)), to: acc.dtype)
            acc = try ewArith(DivFn(), acc, n, ctx)
        }
        return [acc]
    }
}

// MARK: - Pow

/// Pow: same-type fast path; mixed base/exponent types compute in double precision like numpy.
struct PowKernel: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let a = try inputs.required(0, "X"), b = try inputs.required(1, "Y")
        if a.dtype == b.dtype { return [try ewDispatch(a.dtype, SamePow(a: a, b: b, ctx: ctx))] }
        let e = try castTensor(b, to: .float64)
        return [try ewDispatch(a.dtype, MixedPow(a: a, e: e, ctx: ctx))]
    }
    struct SamePow: EWNumericVisitor {
        let a: Tensor, b: Tensor, ctx: RunContext
        func real<T: EWFloatStorage>(_: T.Type) throws -> Tensor {
            try ewBinary(a, b, PowRealOp<T>(), ctx, cost: 8)
        }
        func int<T: EWInteger>(_: T.Type) throws -> Tensor {
            try ewBinary(a, b, PowIntOp<T>(), ctx)
        }
    }
    struct MixedPow: EWNumericVisitor {
        let a: Tensor, e: Tensor, ctx: RunContext
        func real<T: EWFloatStorage>(_: T.Type) throws -> Tensor {
            try ewBinary(a, e, PowMixedOp<T>(), ctx, cost: 8)
        }
        func int<T: EWInteger>(_: T.Type) throws -> Tensor {
            try ewBinary(a, e, PowMixedOp<T>(), ctx, cost: 8)
        }
    }
}

struct PowRealOp<T: EWFloatStorage>: EWOp2 {
    @inline(__always) func apply(_ a: T, _ b: T) -> T { T(c: T.C.mPow(a.c, b.c)) }
}
struct PowIntOp<T: EWInteger>: EWOp2 {
    @inline(__always) func apply(_ a: T, _ b: T) -> T { intPow(a, b) }
}
struct PowMixedOp<T: NumericElement>: EWOp2 {
    @inline(__always) func apply(_ a: T, _ b: Double) -> T { T(fromDouble: Double.mPow(a.asDouble, b)) }
}

/// Integer power with wrapping; negative exponents give 1/x^|y| truncated.
@inline(__always)
func intPow<I: EWInteger>(_ x: I, _ y: I) -> I {
    if y < 0 {
        if x == 1 { return 1 }
        if x == 0 { return 0 }
        if I.isSigned && x == ~I(0) { return (y & 1) == 0 ? 1 : x }
        return 0
    }
    var result: I = 1, base = x, e = y
    while e > 0 {
        if e & 1 == 1 { result = result &* base }
        base = base &* base
        e >>= 1
    }
    return result
}

// MARK: - Comparison and logic

/// A comparison evaluated on values (floating types compare in their compute precision).
protocol CompareFn: Sendable {
    func cmp<T: Comparable>(_ a: T, _ b: T) -> Bool
}
struct EqualFn: CompareFn { @inline(__always) func cmp<T: Comparable>(_ a: T, _ b: T) -> Bool { a == b } }
struct LessFn: CompareFn { @inline(__always) func cmp<T: Comparable>(_ a: T, _ b: T) -> Bool { a < b } }
struct LessEqualFn: CompareFn { @inline(__always) func cmp<T: Comparable>(_ a: T, _ b: T) -> Bool { a <= b } }
struct GreaterFn: CompareFn { @inline(__always) func cmp<T: Comparable>(_ a: T, _ b: T) -> Bool { a > b } }
struct GreaterEqualFn: CompareFn { @inline(__always) func cmp<T: Comparable>(_ a: T, _ b: T) -> Bool { a >= b } }

/// Comparison kernel; Equal (`isEqual`) also accepts bool and string inputs.
func makeCompareKernel<F: CompareFn>(_ f: F, isEqual: Bool) -> EWClosureKernel {
    EWClosureKernel { inputs, ctx in
        let a = try inputs.required(0, "A"), b = try inputs.required(1, "B")
        guard a.dtype == b.dtype else { throw KernelError("inputs have different types \(a.dtype) and \(b.dtype)") }
        switch a.dtype {
        case .bool:
            guard isEqual else { throw KernelError("type bool is not supported") }
            return [try ewBinary(a, b, EqualOp<Bool>(), ctx)]
        case .string:
            guard isEqual else { throw KernelError("type string is not supported") }
            return [try ewBinary(a, b, EqualOp<String>(), ctx)]
        default:
            return [try ewDispatch(a.dtype, CompareVisitor(f: f, a: a, b: b, ctx: ctx))]
        }
    }
}

struct CompareVisitor<F: CompareFn>: EWNumericVisitor {
    let f: F, a: Tensor, b: Tensor, ctx: RunContext
    func real<T: EWFloatStorage>(_: T.Type) throws -> Tensor {
        return try ewBinary(a, b, CmpRealOp<F, T>(f: f), ctx)
    }
    func int<T: EWInteger>(_: T.Type) throws -> Tensor {
        return try ewBinary(a, b, CmpIntOp<F, T>(f: f), ctx)
    }
}

struct CmpRealOp<F: CompareFn, T: EWFloatStorage>: EWOp2 {
    let f: F
    @inline(__always) func apply(_ a: T, _ b: T) -> Bool { f.cmp(a.c, b.c) }
}
struct CmpIntOp<F: CompareFn, T: EWInteger>: EWOp2 {
    let f: F
    @inline(__always) func apply(_ a: T, _ b: T) -> Bool { f.cmp(a, b) }
}
struct EqualOp<T: TensorElement & Equatable>: EWOp2 {
    @inline(__always) func apply(_ a: T, _ b: T) -> Bool { a == b }
}

enum LogicOp: Sendable { case and, or, xor }

/// And, Or, Xor on bool tensors.
struct LogicKernel: TensorKernel {
    let op: LogicOp
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let a = try inputs.required(0, "A"), b = try inputs.required(1, "B")
        guard a.dtype == .bool, b.dtype == .bool else { throw KernelError("inputs must be bool, got \(a.dtype) and \(b.dtype)") }
        switch op {
        case .and: return [try ewBinary(a, b, AndOp(), ctx)]
        case .or: return [try ewBinary(a, b, OrOp(), ctx)]
        case .xor: return [try ewBinary(a, b, XorOp(), ctx)]
        }
    }
}

struct AndOp: EWOp2 { @inline(__always) func apply(_ a: Bool, _ b: Bool) -> Bool { a && b } }
struct OrOp: EWOp2 { @inline(__always) func apply(_ a: Bool, _ b: Bool) -> Bool { a || b } }
struct XorOp: EWOp2 { @inline(__always) func apply(_ a: Bool, _ b: Bool) -> Bool { a != b } }

// MARK: - Where

/// Where(condition, X, Y) with broadcasting, any element type (moved as bit patterns of its size).
struct WhereKernel: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let c = try inputs.required(0, "condition"), x = try inputs.required(1, "X"), y = try inputs.required(2, "Y")
        guard c.dtype == .bool else { throw KernelError("condition must be bool, got \(c.dtype)") }
        guard x.dtype == y.dtype else { throw KernelError("X and Y have different types \(x.dtype) and \(y.dtype)") }
        switch x.dtype {
        case .string: return [try select(c, x, y, String.self, ctx)]
        case .bool: return [try select(c, x, y, Bool.self, ctx)]
        case .uint8: return [try select(c, x, y, UInt8.self, ctx)]
        case .int8: return [try select(c, x, y, Int8.self, ctx)]
        default:
            // Same-size reinterpretation: Where only moves elements.
            let bits: DType
            switch x.dtype.size {
            case 2: bits = .uint16
            case 4: bits = .uint32
            default: bits = .uint64
            }
            let xv = Tensor(dtype: bits, shape: x.shape, storage: x.storage, offset: x.offset)
            let yv = Tensor(dtype: bits, shape: y.shape, storage: y.storage, offset: y.offset)
            let r: Tensor
            switch bits {
            case .uint16: r = try select(c, xv, yv, UInt16.self, ctx)
            case .uint32: r = try select(c, xv, yv, UInt32.self, ctx)
            default: r = try select(c, xv, yv, UInt64.self, ctx)
            }
            return [Tensor(dtype: x.dtype, shape: r.shape, storage: r.storage, offset: r.offset)]
        }
    }
    private func select<T: TensorElement>(_ c: Tensor, _ x: Tensor, _ y: Tensor, _: T.Type, _ ctx: RunContext) throws -> Tensor {
        try ewTernary(c, x, y, SelectOp<T>(), ctx)
    }
}

struct SelectOp<T: TensorElement>: EWOp3 {
    @inline(__always) func apply(_ k: Bool, _ a: T, _ b: T) -> T { k ? a : b }
}
