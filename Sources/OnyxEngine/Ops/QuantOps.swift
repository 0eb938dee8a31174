import Foundation
import OnyxTensor
import COnyxKernels

/// Quantization and miscellaneous ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear here;
/// integer matmul/conv (QuantMatMul.swift), strings (Strings.swift, TfIdf.swift), signal (Signal.swift),
/// NonMaxSuppression, ImageDecoder and training ops register from here too.
enum QuantOps {
    static func register(_ t: inout OperatorTable) {
        t.add("QuantizeLinear", since: 10) { try QuantizeLinearOp($0) }
        t.add("DequantizeLinear", since: 10) { try DequantizeLinearOp($0) }
        t.add("DynamicQuantizeLinear", since: 11) { _ in DynamicQuantizeLinearOp() }
        QuantMatMulOps.register(&t)
        StringOps.register(&t)
        TfIdfOps.register(&t)
        SignalOps.register(&t)
        NonMaxSuppressionOps.register(&t)
        ImageDecoderOps.register(&t)
        TrainingOps.register(&t)
        RandomOps.register(&t)
    }
}

// MARK: - Shared helpers

/// How a scale / zero-point tensor maps onto the elements of `x`: per tensor, per axis or blocked.
/// Elements of `x` are walked as `[outer, axisDim, inner]`.
struct QuantParamLayout {
    enum Mode { case perTensor, perAxis, blocked }
    let mode: Mode
    let outer: Int, axisDim: Int, inner: Int
    let blockSize: Int, blocks: Int

    init(x: [Int], param: [Int], axis: Int, blockSize: Int, name: String) throws {
        let count = Tensor.count(param)
        if x.isEmpty || (count == 1 && blockSize <= 0) {
            mode = .perTensor; outer = 1; axisDim = Tensor.count(x); inner = 1; self.blockSize = 0; blocks = 1
            guard count == 1 else { throw KernelError("'\(name)' must have one element for a scalar input") }
            return
        }
        let a = try normalizeAxis(axis, rank: x.count)
        outer = x[..<a].reduce(1, *); axisDim = x[a]; inner = x[(a + 1)...].reduce(1, *)
        if blockSize > 0 {
            mode = .blocked; self.blockSize = blockSize
            blocks = (axisDim + blockSize - 1) / blockSize
            var expect = x; expect[a] = blocks
            guard param == expect else {
                throw KernelError("'\(name)' has shape \(param), expected \(expect) for block_size \(blockSize) on axis \(a)")
            }
        } else {
            guard param.count == 1, param[0] == axisDim else {
                throw KernelError("'\(name)' has shape \(param), expected [\(axisDim)] (per-axis on axis \(a)) or a scalar")
            }
            mode = .perAxis; self.blockSize = 0; blocks = axisDim
        }
    }

    /// Index into the parameter tensor for element (o, a, i).
    @inline(__always) func index(_ o: Int, _ a: Int, _ i: Int) -> Int {
        switch mode {
        case .perTensor: return 0
        case .perAxis: return a
        case .blocked: return (o * blocks + a / blockSize) * inner + i
        }
    }
}

/// Values of a small numeric tensor as Float (scales).
func quantFloatValues(_ t: Tensor) throws -> [Float] {
    switch t.dtype {
    case .float32: return try t.toArray(Float.self)
    case .float16: return try t.toArray(Float16.self).map { Float($0) }
    case .bfloat16: return try t.toArray(BFloat16.self).map { $0.float }
    case .float64: return try t.toArray(Double.self).map { Float($0) }
    case .int32: return try t.toArray(Int32.self).map { Float($0) }
    default: throw KernelError("scale of type \(t.dtype) is not supported")
    }
}

/// Values of an integer tensor as Int32 (zero points).
func quantIntValues(_ t: Tensor) throws -> [Int32] {
    switch t.dtype {
    case .uint8: return try t.toArray(UInt8.self).map { Int32($0) }
    case .int8: return try t.toArray(Int8.self).map { Int32($0) }
    case .uint16: return try t.toArray(UInt16.self).map { Int32($0) }
    case .int16: return try t.toArray(Int16.self).map { Int32($0) }
    case .int32: return try t.toArray(Int32.self)
    default: throw KernelError("zero point of type \(t.dtype) is not supported")
    }
}

/// Rounds half to even and saturates into `lo...hi` (NaN maps to `lo`, like a C cast then clip).
@inline(__always) func quantRoundClamp(_ v: Double, _ zp: Int32, _ lo: Int32, _ hi: Int32) -> Int32 {
    if v.isNaN { return lo }
    let r = v.rounded(.toNearestOrEven) + Double(zp)
    if r <= Double(lo) { return lo }
    if r >= Double(hi) { return hi }
    return Int32(r)
}

/// The integer range of a quantized dtype.
func quantRange(_ dt: DType) throws -> (Int32, Int32) {
    switch dt {
    case .uint8: return (0, 255)
    case .int8: return (-128, 127)
    case .uint16: return (0, 65535)
    case .int16: return (-32768, 32767)
    default: throw KernelError("quantized type \(dt) is not supported (uint8, int8, uint16, int16 expected)")
    }
}

/// Writes Int32 values (already in range) into a fresh tensor of integer dtype `dt`.
func quantStore(_ values: UnsafeBufferPointer<Int32>, into out: Tensor) throws {
    func store<Q: FixedWidthInteger & TensorElement>(_: Q.Type) {
        let p = out.mutablePointer(Q.self)
        for i in 0..<values.count { p[i] = Q(truncatingIfNeeded: values[i]) }
    }
    switch out.dtype {
    case .uint8: store(UInt8.self)
    case .int8: store(Int8.self)
    case .uint16: store(UInt16.self)
    case .int16: store(Int16.self)
    case .int32: store(Int32.self)
    default: throw KernelError("output type \(out.dtype) is not supported")
    }
}

// MARK: - QuantizeLinear

struct QuantizeLinearOp: TensorKernel {
    /// Fast path for the common static-quantization case — float32 x, one scale, uint8 output — on the vectorized
    /// `onyx_quantize_u8` (the same division, round-half-even and clamping, NaN → 0), threads over chunks.
    /// nil when the case does not apply.
    func perTensorUInt8(_ x: Tensor, _ scaleT: Tensor, _ zpT: Tensor?, _ outType: DType, _ ctx: RunContext) throws -> Tensor? {
        guard x.dtype == .float32, outType == .uint8, scaleT.dtype == .float32, scaleT.count == 1, blockSize == 0,
              zpT.map({ $0.count == 1 }) ?? true else { return nil }
        let scale = try scaleT.toArray(Float.self)[0]
        let zp = Float(try zpT.map { try quantIntValues($0)[0] } ?? 0)
        let y = Tensor.uninitialized(.uint8, shape: x.shape)
        let n = x.count
        if n == 0 { return y }
        let xa = UInt(bitPattern: x.rawPointer), ya = UInt(bitPattern: y.rawPointer)
        let chunk = 1 << 15
        ctx.parallelFor((n + chunk - 1) / chunk, cost: chunk) { r in
            let i0 = r.lowerBound * chunk, i1 = min(n, r.upperBound * chunk)
            guard let xp = UnsafePointer<Float>(bitPattern: xa), let yp = UnsafeMutablePointer<UInt8>(bitPattern: ya) else { return }
            onyx_quantize_u8(xp + i0, i1 - i0, scale, zp, yp + i0)
        }
        return y
    }

    let axis: Int
    let blockSize: Int
    let outputDType: DType?

    init(_ c: NodeContext) throws {
        axis = try c.int("axis", 1)
        blockSize = try c.int("block_size", 0)
        guard blockSize >= 0 else { throw KernelError("block_size must be >= 0, got \(blockSize)") }
        let od = try c.int("output_dtype", 0)
        if od == 0 { outputDType = nil } else {
            guard let dt = DType(rawValue: od) else { throw KernelError("output_dtype \(od) is not supported") }
            _ = try quantRange(dt)
            outputDType = dt
        }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "x"), scaleT = try inputs.required(1, "y_scale")
        let zpT = inputs.optional(2)
        var outType = outputDType ?? .uint8
        if let zpT {
            if let od = outputDType, od != zpT.dtype {
                throw KernelError("output_dtype \(od) does not match y_zero_point type \(zpT.dtype)")
            }
            outType = zpT.dtype
        }
        let (lo, hi) = try quantRange(outType)
        if let y = try perTensorUInt8(x, scaleT, zpT, outType, ctx) { return [y] }
        let layout = try QuantParamLayout(x: x.shape, param: scaleT.shape, axis: axis, blockSize: blockSize, name: "y_scale")
        let scales = try quantFloatValues(scaleT)
        var zps = [Int32](repeating: 0, count: scales.count)
        if let zpT {
            guard zpT.shape == scaleT.shape || (zpT.count == 1 && scaleT.count == 1) else {
                throw KernelError("y_zero_point shape \(zpT.shape) differs from y_scale shape \(scaleT.shape)")
            }
            zps = try quantIntValues(zpT)
        }
        var q = [Int32](repeating: 0, count: x.count)
        // float16 / bfloat16 inputs divide in their own precision in the reference: round the quotient back.
        let half = x.dtype == .float16, bf = x.dtype == .bfloat16
        func run<X: NumericElement>(_: X.Type) throws {
            try x.withBuffer(of: X.self) { xb in
                q.withUnsafeMutableBufferPointer { qb in
                    var n = 0
                    for o in 0..<layout.outer {
                        for a in 0..<layout.axisDim {
                            for i in 0..<layout.inner {
                                let p = layout.index(o, a, i)
                                // Divide in single precision like the reference (x / y_scale in float32).
                                var v = Float(xb[n].asDouble) / scales[p]
                                if half { v = Float(Float16(v)) } else if bf { v = BFloat16(v).float }
                                qb[n] = quantRoundClamp(Double(v), zps[p], lo, hi)
                                n += 1
                            }
                        }
                    }
                }
            }
        }
        switch x.dtype {
        case .float32: try run(Float.self)
        case .float16: try run(Float16.self)
        case .bfloat16: try run(BFloat16.self)
        case .float64: try run(Double.self)
        case .int32: try run(Int32.self)
        default: throw KernelError("input 'x' of type \(x.dtype) is not supported")
        }
        let out = Tensor.uninitialized(outType, shape: x.shape)
        try q.withUnsafeBufferPointer { try quantStore($0, into: out) }
        return [out]
    }
}

// MARK: - DequantizeLinear

struct DequantizeLinearOp: TensorKernel {
    let axis: Int
    let blockSize: Int
    let outputDType: DType?

    init(_ c: NodeContext) throws {
        axis = try c.int("axis", 1)
        blockSize = try c.int("block_size", 0)
        guard blockSize >= 0 else { throw KernelError("block_size must be >= 0, got \(blockSize)") }
        let od = try c.int("output_dtype", 0)
        if od == 0 { outputDType = nil } else {
            guard let dt = DType(rawValue: od), dt.isFloatingPoint else { throw KernelError("output_dtype \(od) is not supported") }
            outputDType = dt
        }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "x"), scaleT = try inputs.required(1, "x_scale")
        let layout = try QuantParamLayout(x: x.shape, param: scaleT.shape, axis: axis, blockSize: blockSize, name: "x_scale")
        let scales = try quantFloatValues(scaleT)
        var zps = [Int32](repeating: 0, count: scales.count)
        if let zpT = inputs.optional(2) {
            guard zpT.dtype == x.dtype else { throw KernelError("x_zero_point type \(zpT.dtype) differs from x type \(x.dtype)") }
            guard zpT.shape == scaleT.shape || (zpT.count == 1 && scaleT.count == 1) else {
                throw KernelError("x_zero_point shape \(zpT.shape) differs from x_scale shape \(scaleT.shape)")
            }
            zps = try quantIntValues(zpT)
        }
        let outType = outputDType ?? scaleT.dtype
        guard outType.isFloatingPoint else { throw KernelError("x_scale must be a float tensor, got \(scaleT.dtype)") }
        var y = [Float](repeating: 0, count: x.count)
        func run<X: NumericElement>(_: X.Type) throws {
            try x.withBuffer(of: X.self) { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    var n = 0
                    for o in 0..<layout.outer {
                        for a in 0..<layout.axisDim {
                            for i in 0..<layout.inner {
                                let p = layout.index(o, a, i)
                                yb[n] = (Float(xb[n].asDouble) - Float(zps[p])) * scales[p]
                                n += 1
                            }
                        }
                    }
                }
            }
        }
        switch x.dtype {
        case .uint8: try run(UInt8.self)
        case .int8: try run(Int8.self)
        case .uint16: try run(UInt16.self)
        case .int16: try run(Int16.self)
        case .int32: try run(Int32.self)
        default: throw KernelError("input 'x' of type \(x.dtype) is not supported")
        }
        return [try quantFloatTensor(y, shape: x.shape, dtype: outType)]
    }
}

/// A float tensor of `dtype` (float32/64/16, bfloat16) from Float values.
func quantFloatTensor(_ v: [Float], shape: [Int], dtype: DType) throws -> Tensor {
    let out = Tensor.uninitialized(dtype, shape: shape)
    switch dtype {
    case .float32: let p = out.mutablePointer(Float.self); for i in 0..<v.count { p[i] = v[i] }
    case .float64: let p = out.mutablePointer(Double.self); for i in 0..<v.count { p[i] = Double(v[i]) }
    case .float16: let p = out.mutablePointer(Float16.self); for i in 0..<v.count { p[i] = Float16(v[i]) }
    case .bfloat16: let p = out.mutablePointer(BFloat16.self); for i in 0..<v.count { p[i] = BFloat16(v[i]) }
    default: throw KernelError("output type \(dtype) is not a float type")
    }
    return out
}

// MARK: - DynamicQuantizeLinear

struct DynamicQuantizeLinearOp: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "x")
        guard x.dtype == .float32 else { throw KernelError("input 'x' must be float, got \(x.dtype)") }
        let out = Tensor.uninitialized(.uint8, shape: x.shape)
        let (scale, zp): (Float, UInt8) = try x.withBuffer(of: Float.self) { xb in
            var mx: Float = 0, mn: Float = 0
            for v in xb { mx = max(mx, v); mn = min(mn, v) }
            let scale: Float = (mx == mn ? 1 : (mx - mn)) / 255
            let initial = 0 - mn / scale
            let zpf = Swift.max(0, Swift.min(255, initial)).rounded(.toNearestOrEven)
            let p = out.mutablePointer(UInt8.self)
            for i in 0..<xb.count {
                let q = (xb[i] / scale).rounded(.toNearestOrEven) + zpf
                p[i] = q.isNaN ? 0 : UInt8(Swift.max(0, Swift.min(255, q)))
            }
            return (scale, UInt8(zpf))
        }
        return [out, Tensor(scalar: scale), Tensor(scalar: zp)]
    }
}

/// A tensor from values whose count matches `shape`. Unlike `Tensor(shape:checkedValues:)`, keeps the
/// element dtype for empty arrays (an empty `[T]` also casts to `[String]` there).
func qmTensor<T: TensorElement>(_ shape: [Int], _ values: [T]) -> Tensor {
    if T.dtype == .string { return Tensor(shape: shape, checkedValues: values) }
    let t = Tensor.uninitialized(T.dtype, shape: shape)
    let p = t.mutablePointer(T.self)
    for i in 0..<min(values.count, t.count) { p[i] = values[i] }
    return t
}
