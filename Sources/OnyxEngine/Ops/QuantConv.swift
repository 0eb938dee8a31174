import OnyxTensor
import OnyxKernels
import COnyxKernels

/// ai.onyx.QConv(Xq, x_scale, x_zero_point, Wq, w_scale, B?, Z?, y_scale?, y_zero_point?): the static-quantization
/// (QDQ) pattern `DequantizeLinear(Xq)` + `DequantizeLinear(Wq int8, w_scale, 0)` → `Conv` [→ `Add(Z)`] [→ `Relu`]
/// [→ `QuantizeLinear(y_scale, y_zero_point)`] as one int8 convolution (made by `GraphOptimizer.fuseQDQConv`).
/// Xq uint8/int8 NCHW with a per-tensor scale and zero point; Wq int8 [M, C, KH, KW] with a per-tensor or
/// per-output-channel scale and zero point 0; output float `(activation)(Σ (Xq − zp)·Wq · x_scale·w_scale[m] + B[m]
/// + Z)`, or with y_scale that value quantized to uint8 exactly as QuantizeLinear does. The weight is packed once at
/// load (the A side of the int8 GEMM, one row per output channel); the uint8 patch matrix is built per column chunk
/// (im2col with the zero point as padding; a 1x1 stride-1 convolution packs the image directly). The int32 sums are exact, so the result
/// equals the unfused graph up to float rounding of the scale products. 2-D, group 1.
struct QConvOp: TensorKernel, PrepackingKernel {
    let window: WindowAttributes
    let relu: Bool
    let packedW: QPackedA?
    let absorbedWeightShape: [Int]?

    init(_ c: NodeContext) throws {
        window = try WindowAttributes(c)
        guard try c.int("group", 1) == 1 else { throw KernelError("QConv supports group 1 only") }
        let act = try c.string("activation", "")
        guard act == "" || act == "Relu" else { throw KernelError("QConv activation must be '' or 'Relu', got '\(act)'") }
        relu = act == "Relu"
        if let w = c.constantInputs[3], w.dtype == .int8, w.rank == 4, w.count > 0 {
            packedW = QPackedA(w)
            absorbedWeightShape = w.shape
        } else {
            packedW = nil
            absorbedWeightShape = nil
        }
    }

    var absorbedInputs: [Int] { absorbedWeightShape != nil ? [3] : [] }
    var packedBytes: Int { packedW?.byteCount ?? 0 }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "Xq")
        guard x.dtype == .uint8 || x.dtype == .int8, x.rank == 4 else {
            throw KernelError("QConv input 'Xq' must be uint8 or int8 NCHW, got \(x.dtype) \(x.shape)")
        }
        let xsv = try quantFloatValues(try inputs.required(1, "x_scale"))
        guard xsv.count == 1 else { throw KernelError("QConv 'x_scale' must be one value, has \(xsv.count)") }
        var xzp: Int32 = 0
        if let z = inputs.optional(2) {
            guard z.dtype == x.dtype, z.count == 1 else { throw KernelError("QConv 'x_zero_point' must be one \(x.dtype) value") }
            xzp = try quantWidened(z, "x_zero_point")[0]
        }
        let a: QPackedA
        if let packedW { a = packedW } else {
            let w = try inputs.required(3, "Wq")
            guard w.dtype == .int8, w.rank == 4, let p = QPackedA(w) else { throw KernelError("QConv 'Wq' must be int8 [M, C, KH, KW], got \(w.dtype) \(w.shape)") }
            a = p
        }
        let wShape = absorbedWeightShape ?? inputs.optional(3)?.shape ?? []
        guard wShape.count == 4 else { throw KernelError("QConv weights missing") }
        let n = x.shape[0], cIn = x.shape[1], m = wShape[0]
        guard wShape[1] == cIn else { throw KernelError("QConv channels: X is \(x.shape), W is \(wShape)") }
        let kernel = Array(wShape.dropFirst(2))
        if let ks = window.kernelShape, ks != kernel { throw KernelError("kernel_shape \(ks) does not match W \(wShape)") }
        let ws = try quantVector(quantFloatValues(try inputs.required(4, "w_scale")), m, "w_scale")
        var bias: [Float]? = nil
        if let b = inputs.optional(5) {
            guard b.dtype == .float32, b.count == m else { throw KernelError("QConv bias must have \(m) float values, got \(b.dtype) \(b.shape)") }
            bias = try b.toArray(Float.self)
        }
        let g = try window.geometry(input: Array(x.shape.dropFirst(2)), kernel: kernel)
        let outShape = [n, m] + g.output
        // Optional residual Z (added before the ReLU) and output quantization (y_scale, y_zero_point).
        let z = inputs.optional(6)
        if let z, z.dtype != .float32 { throw KernelError("QConv residual must be float, got \(z.dtype)") }
        var quantOut: (scale: Float, zp: Float)? = nil
        if let ysT = inputs.optional(7) {
            let ys = try quantFloatValues(ysT)
            guard ys.count == 1 else { throw KernelError("QConv 'y_scale' must be one value, has \(ys.count)") }
            var yzp: Float = 0
            if let zt = inputs.optional(8) {
                guard zt.dtype == .uint8, zt.count == 1 else { throw KernelError("QConv 'y_zero_point' must be one uint8 value") }
                yzp = Float(try quantWidened(zt, "y_zero_point")[0])
            }
            quantOut = (ys[0], yzp)
        }
        let zInEpilogue = z.map { $0.shape == outShape } ?? true
        let yf = Tensor.uninitialized(quantOut != nil && zInEpilogue ? .uint8 : .float32, shape: outShape)
        if yf.count == 0 {
            return [quantOut != nil ? Tensor.uninitialized(.uint8, shape: outShape) : yf]
        }
        let scales = ws.map { xsv[0] * $0 }
        let kdim = a.k, os = g.outputSize, isz = g.inputSize
        guard kdim == cIn * g.kernelSize else { throw KernelError("QConv: packed weight has K \(kdim), expected \(cIn * g.kernelSize)") }
        let flip: Int32 = x.dtype == .uint8 ? 1 : 0
        let bzp = flip == 1 ? xzp - 128 : xzp
        let pad = UInt8(truncatingIfNeeded: xzp)
        let direct = g.kernelSize == 1 && g.strides.allSatisfy { $0 == 1 } && g.padBegin.allSatisfy { $0 == 0 } && os == isz
        let geo = [g.input[0], g.input[1], g.output[0], g.output[1], g.kernel[0], g.kernel[1],
                   g.strides[0], g.strides[1], g.padBegin[0], g.padBegin[1], g.dilations[0], g.dilations[1]]
        let nr = Int(onyx_qgemm_nr())
        let chunk = 192
        let nChunks = (os + chunk - 1) / chunk
        let xraw = UInt(bitPattern: x.rawPointer), praw = UInt(bitPattern: a.bytes)
        let quantized = yf.dtype == .uint8
        let esz = quantized ? 1 : 4
        // The residual tensor (float32, checked above) stays alive for the whole call.
        let zraw: UInt = zInEpilogue ? (z.map { UInt(bitPattern: $0.rawPointer) } ?? 0) : 0
        let reluInEpilogue = relu && zInEpilogue
        try scales.withUnsafeBufferPointer { sp in
            try withOptionalBuffer(bias) { bp in
                try a.rowsum.withUnsafeBufferPointer { rs in
                    var o = onyx_qgemm_out()
                    o.a_zp = 128  // int8 weights, zero point 0, shifted by +128
                    o.rowsum_a = rs.baseAddress; o.scale = sp.baseAddress; o.bias = bp
                    o.per_row = 1; o.relu = reluInEpilogue ? 1 : 0; o.ldc = os; o.ldr = os
                    if let q = quantOut, quantized { o.q_scale = q.scale; o.q_zp = q.zp }
                    let box = QOutBox(o: o)
                    /// Points the output (and residual) of `o` at element offset `e` of the output tensor.
                    @Sendable func place(_ o: inout onyx_qgemm_out, _ yAddr: UInt, _ zAddr: UInt, _ e: Int) {
                        if quantized { o.cq = UnsafeMutablePointer<UInt8>(bitPattern: yAddr).map { $0 + e } }
                        else { o.cf = UnsafeMutablePointer<Float>(bitPattern: yAddr).map { $0 + e } }
                        o.residual = UnsafePointer<Float>(bitPattern: zAddr).map { $0 + e }
                    }
                    // Packs columns [j0, j1) of one image's patch matrix into dst, with column sums.
                    @Sendable func packB(_ img: Int, _ j0: Int, _ j1: Int, _ tmp: UnsafeMutablePointer<UInt8>?,
                                         _ dst: UnsafeMutableRawPointer, _ colsum: UnsafeMutablePointer<Int32>) {
                        guard let xb = UnsafePointer<UInt8>(bitPattern: xraw) else { return }
                        let xi = xb + img * cIn * isz
                        if direct || tmp == nil {
                            onyx_qgemm_pack_b_rows(kdim, j1 - j0, xi + j0, os, flip, dst, colsum)
                        } else if let tmp {
                            onyx_qim2col_u8(xi, cIn, geo[0], geo[1], geo[2], geo[3], geo[4], geo[5], geo[6], geo[7], geo[8],
                                            geo[9], geo[10], geo[11], j0, j1, pad, tmp)
                            onyx_qgemm_pack_b_rows(kdim, j1 - j0, tmp, j1 - j0, flip, dst, colsum)
                        }
                    }
                    // Columns split into `parts` near-equal ranges cut at whole B panels (nr columns).
                    let panels = (os + nr - 1) / nr
                    @Sendable func bound(_ parts: Int, _ p: Int) -> Int { min(os, panels * p / parts * nr) }
                    for img in 0..<n {
                        let yAddr = UInt(bitPattern: yf.rawPointer) + UInt(img * m * os * esz)
                        let zAddr = zraw == 0 ? 0 : zraw + UInt(img * m * os * 4)
                        if ctx.threads <= 1 || nChunks >= 2 * ctx.threads {
                            // Many columns: one equal column range per thread, each packed and multiplied in chunks
                            // of at most `chunk` columns (a packed chunk stays in cache while every row passes).
                            let parts = max(1, min(ctx.threads, panels))
                            ctx.parallelFor(parts, cost: 1 << 20) { r in
                                let bb = UnsafeMutableRawPointer.allocate(byteCount: max(onyx_qgemm_packed_b_bytes(kdim, chunk), 1), alignment: 64)
                                let tmp = direct ? nil : UnsafeMutablePointer<UInt8>.allocate(capacity: kdim * chunk)
                                var colsum = [Int32](repeating: 0, count: chunk)
                                let zps = [Int32](repeating: bzp, count: chunk)
                                defer { bb.deallocate(); tmp?.deallocate() }
                                for part in r {
                                    let c0 = bound(parts, part), c1 = bound(parts, part + 1)
                                    let pPanels = (c1 - c0 + nr - 1) / nr
                                    let steps = max(1, (c1 - c0 + chunk - 1) / chunk)
                                    for st in 0..<steps where c1 > c0 {
                                        let j0 = c0 + pPanels * st / steps * nr, j1 = min(c1, c0 + pPanels * (st + 1) / steps * nr)
                                        let cols = j1 - j0
                                        if cols <= 0 { continue }
                                        colsum.withUnsafeMutableBufferPointer { cs in
                                            if let c = cs.baseAddress { packB(img, j0, j1, tmp, bb, c) }
                                        }
                                        var oo = box.o
                                        place(&oo, yAddr, zAddr, j0)
                                        colsum.withUnsafeBufferPointer { cs in
                                            zps.withUnsafeBufferPointer { zb in
                                                oo.colsum_b = cs.baseAddress
                                                oo.b_zp = bzp == 0 ? nil : zb.baseAddress
                                                onyx_qgemm(m, cols, kdim, UnsafeRawPointer(bitPattern: praw), bb, &oo, 0, (cols + nr - 1) / nr)
                                            }
                                        }
                                    }
                                }
                            }
                        } else {
                            // Few columns (deep layers): the whole patch matrix is packed once, its column ranges by
                            // the threads in parallel; then the threads split the rows.
                            let bb = UnsafeMutableRawPointer.allocate(byteCount: max(onyx_qgemm_packed_b_bytes(kdim, os), 1), alignment: 64)
                            let colsumP = UnsafeMutablePointer<Int32>.allocate(capacity: os)
                            colsumP.initialize(repeating: 0, count: os)
                            defer { bb.deallocate(); colsumP.deallocate() }
                            let bAddr = UInt(bitPattern: bb), csAddr = UInt(bitPattern: colsumP)
                            let packParts = max(1, min(ctx.threads, panels))
                            ctx.parallelFor(packParts, cost: 1 << 20) { r in
                                for part in r {
                                    let j0 = bound(packParts, part), j1 = bound(packParts, part + 1)
                                    guard j1 > j0, let dst = UnsafeMutableRawPointer(bitPattern: bAddr),
                                          let cs = UnsafeMutablePointer<Int32>(bitPattern: csAddr) else { continue }
                                    let tmp = direct ? nil : UnsafeMutablePointer<UInt8>.allocate(capacity: kdim * (j1 - j0))
                                    defer { tmp?.deallocate() }
                                    // j0 is a multiple of nr: its panels start onyx_qgemm_packed_b_bytes(kdim, j0) in.
                                    packB(img, j0, j1, tmp, dst + onyx_qgemm_packed_b_bytes(kdim, j0), cs + j0)
                                }
                            }
                            let zps = [Int32](repeating: bzp, count: os)
                            let mp = (m + 5) / 6
                            zps.withUnsafeBufferPointer { zb in
                                var o2 = box.o
                                o2.colsum_b = UnsafePointer(colsumP)
                                o2.b_zp = bzp == 0 ? nil : zb.baseAddress
                                let box2 = QOutBox(o: o2)
                                ctx.parallelFor(mp, cost: 6 * kdim * os) { r in
                                    let i0 = r.lowerBound * 6, i1 = min(m, r.upperBound * 6)
                                    var oo = box2.o
                                    oo.rowsum_a = oo.rowsum_a.map { $0 + i0 }
                                    oo.scale = oo.scale.map { $0 + i0 }
                                    oo.bias = oo.bias.map { $0 + i0 }
                                    place(&oo, yAddr, zAddr, i0 * os)
                                    let pa = UnsafeRawPointer(bitPattern: praw).map { $0 + onyx_qgemm_packed_a_bytes(i0, kdim) }
                                    onyx_qgemm(i1 - i0, os, kdim, pa, UnsafeRawPointer(bitPattern: bAddr), &oo, 0, (os + nr - 1) / nr)
                                }
                            }
                        }
                    }
                }
            }
        }
        if zInEpilogue { return [yf] }
        // A residual that broadcasts: add it (and the ReLU) after the product, then quantize if asked.
        let y = try fusedResidualFallback(yf, z, FusedActivationSpec(act: relu ? .relu : .none, p0: 0, p1: 0))
        guard let q = quantOut else { return [y] }
        let yq = Tensor.uninitialized(.uint8, shape: y.shape)
        try y.withBuffer(of: Float.self) { yb in
            onyx_quantize_u8(yb.baseAddress, yb.count, q.scale, q.zp, yq.mutablePointer(UInt8.self))
        }
        return [yq]
    }
}

/// A constant int8 matrix A [M, K] (a convolution weight [M, C, KH, KW] read as M rows) packed for `onyx_qgemm`
/// as its uint8 A side (values shifted by +128, zero point 128), with its row sums.
/// Safety of `@unchecked Sendable`: written once in `init`, read-only afterwards; freed in `deinit`.
final class QPackedA: @unchecked Sendable {
    let m: Int, k: Int
    let bytes: UnsafeMutableRawPointer
    let byteCount: Int
    let rowsum: [Int32]

    init?(_ w: Tensor) {
        guard w.dtype == .int8, w.rank >= 1, w.shape[0] > 0 else { return nil }
        m = w.shape[0]; k = w.count / m
        byteCount = max(onyx_qgemm_packed_a_bytes(m, k), 1)
        bytes = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        var rs = [Int32](repeating: 0, count: m)
        let (mm, kk, dst) = (m, k, bytes)
        rs.withUnsafeMutableBufferPointer { r in
            onyx_qgemm_pack_a(mm, kk, w.rawPointer.assumingMemoryBound(to: UInt8.self), kk, 1, dst, r.baseAddress, 0, (mm + 5) / 6)
        }
        rowsum = rs
    }

    deinit { bytes.deallocate() }
}
