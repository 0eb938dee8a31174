import OnyxTensor
import OnyxKernels
import COnyxKernels

/// ai.onyx.DynamicQuantMatMul(X, W, w_scale, w_zero_point?, bias?): ONNX Runtime's dynamic-quantization chain
/// `DynamicQuantizeLinear(X)` → `MatMulInteger(·, W, x_zp, w_zp)` → `Cast(float)` → `Mul(x_scale · w_scale)`
/// [→ `Add(bias)`] in one kernel (made by `GraphOptimizer.fuseDynamicQuantMatMul`): X float [..., K] is quantized
/// to uint8 exactly as DynamicQuantizeLinear does, multiplied with the int8/uint8 weight W [K, N] (packed once at
/// load when constant) by the int8 GEMM, and dequantized (+ bias) in its epilogue. Same result as the chain.
struct DynamicQuantMatMulOp: TensorKernel {
    let packed: QPackedB?

    init(_ c: NodeContext) throws {
        packed = c.constantInputs[1].flatMap { QPackedB($0) }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), w = try inputs.required(1, "W"), wsT = try inputs.required(2, "w_scale")
        guard x.dtype == .float32, x.rank >= 1 else { throw KernelError("input 'X' must be float of rank >= 1, got \(x.dtype) \(x.shape)") }
        guard let b = packed ?? QPackedB(w) else { throw KernelError("input 'W' must be a 2-D int8 or uint8 matrix, got \(w.dtype) \(w.shape)") }
        let k = b.k, n = b.n
        guard x.shape[x.rank - 1] == k else { throw KernelError("X \(x.shape) and W \(w.shape) do not agree on K") }
        let m = x.count / max(k, 1)
        let outShape = x.rank == 1 ? [n] : Array(x.shape.dropLast()) + [n]
        let ws = try quantVector(quantFloatValues(wsT), n, "w_scale")
        let bzp = try inputs.optional(3).map { try b.kernelZeroPoints(quantWidened($0, "w_zero_point")) } ?? nil
        var bias: [Float]? = nil
        if let bt = inputs.optional(4) {
            guard bt.dtype == .float32, bt.count == n else { throw KernelError("bias must be float with \(n) values, got \(bt.dtype) \(bt.shape)") }
            bias = try bt.toArray(Float.self)
        }
        let y = Tensor.uninitialized(.float32, shape: outShape)
        if y.count == 0 { return [y] }
        let yp = y.mutablePointer(Float.self)
        if k == 0 || x.count == 0 {
            for i in 0..<m { for j in 0..<n { yp[i * n + j] = bias?[j] ?? 0 } }
            return [y]
        }
        // DynamicQuantizeLinear: range including 0, uint8 scale and zero point.
        let q = UnsafeMutablePointer<UInt8>.allocate(capacity: x.count)
        defer { q.deallocate() }
        let (scale, zp): (Float, Float) = try x.withBuffer(of: Float.self) { xb in
            var mn: Float = 0, mx: Float = 0
            onyx_minmax0(xb.baseAddress, xb.count, &mn, &mx)
            let scale: Float = (mx == mn ? 1 : (mx - mn)) / 255
            let zp = Swift.max(0, Swift.min(255, 0 - mn / scale)).rounded(.toNearestOrEven)
            onyx_quantize_u8(xb.baseAddress, xb.count, scale, zp, q)
            return (scale, zp)
        }
        let scales = ws.map { scale * $0 }
        QGemm.run(a: q, flipA: false, m: m, aZp: Int32(zp), b: b, bZp: bzp,
                  output: .float(yp, scale: scales, bias: bias), ctx: ctx)
        return [y]
    }
}
