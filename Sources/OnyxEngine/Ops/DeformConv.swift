import OnyxTensor

/// DeformConv (2-D): deformable im2col (bilinear samples at offset kernel taps, times the mask), then GEMM per group.
struct DeformConvOp: TensorKernel {
    let group: Int, offsetGroup: Int
    let strides: [Int]?, dilations: [Int]?, pads: [Int]?, kernelShape: [Int]?

    init(_ c: NodeContext) throws {
        group = try c.int("group", 1); offsetGroup = try c.int("offset_group", 1)
        guard group >= 1, offsetGroup >= 1 else { throw KernelError("group and offset_group must be >= 1") }
        strides = try c.ints("strides"); dilations = try c.ints("dilations"); pads = try c.ints("pads")
        kernelShape = try c.ints("kernel_shape")
        try nnCheckWindowBounds([kernelShape, strides, dilations, pads])
        if let s = strides, s.contains(where: { $0 <= 0 }) { throw KernelError("strides must be positive, got \(s)") }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), w = try inputs.required(1, "W"), off = try inputs.required(2, "offset")
        let b = inputs.optional(3), mask = inputs.optional(4)
        guard x.rank == 4, w.rank == 4, off.rank == 4 else { throw KernelError("DeformConv supports 2-D inputs only, got X \(x.shape)") }
        let n = x.shape[0], ic = x.shape[1], oc = w.shape[0], kh = w.shape[2], kw = w.shape[3]
        if let ks = kernelShape, ks != [kh, kw] { throw KernelError("kernel_shape \(ks) does not match W \(w.shape)") }
        guard ic == w.shape[1] * group, oc % group == 0, ic % offsetGroup == 0 else {
            throw KernelError("DeformConv channels: X \(x.shape), W \(w.shape), group \(group), offset_group \(offsetGroup)")
        }
        let oh = off.shape[2], ow = off.shape[3]
        guard off.shape[0] == n, off.shape[1] == offsetGroup * kh * kw * 2 else { throw KernelError("offset shape \(off.shape) is inconsistent") }
        if let mask { guard mask.shape == [n, offsetGroup * kh * kw, oh, ow] else { throw KernelError("mask shape \(mask.shape) is inconsistent") } }
        if let b { guard b.count == oc else { throw KernelError("bias must have \(oc) values") } }
        let st = strides ?? [1, 1], dl = dilations ?? [1, 1], pd = pads ?? [0, 0, 0, 0]
        guard st.count == 2, dl.count == 2, pd.count == 4 else { throw KernelError("strides/dilations/pads have the wrong length") }
        return [try nnDispatch(x.dtype, Run(op: self, x: x, w: w, off: off, b: b, mask: mask, st: st, dl: dl, pd: pd, ctx: ctx))]
    }

    struct Run: NNVisitor {
        let op: DeformConvOp, x: Tensor, w: Tensor, off: Tensor, b: Tensor?, mask: Tensor?
        let st: [Int], dl: [Int], pd: [Int], ctx: RunContext
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let n = x.shape[0], ic = x.shape[1], ih = x.shape[2], iw = x.shape[3]
            let oc = w.shape[0], kh = w.shape[2], kw = w.shape[3], oh = off.shape[2], ow = off.shape[3]
            let icg = ic / op.group, ocg = oc / op.group, icpo = ic / op.offsetGroup
            let ks = kh * kw, os = oh * ow
            let xv = try nnArray(x, C.self), wv = try nnArray(w, C.self), ov = try nnArray(off, C.self)
            let mv: [C]? = try mask.map { try nnArray($0, C.self) }
            let bias: [C]? = try b.map { try nnArray($0, C.self) }
            var cols = [C](repeating: 0, count: icg * ks * os)
            return try nnWrite(x.dtype, [n, oc, oh, ow], C.self) { yb in
                guard let yp = yb.baseAddress else { return }
                for img in 0..<n {
                    for g in 0..<op.group {
                        for cl in 0..<icg {
                            let c = g * icg + cl
                            let og = c / icpo
                            let plane = (img * ic + c) * ih * iw
                            for ki in 0..<kh {
                                for kj in 0..<kw {
                                    let k = ki * kw + kj
                                    let offH = ((img * op.offsetGroup + og) * ks + k) * 2 * os
                                    let offW = offH + os
                                    let mBase = ((img * op.offsetGroup + og) * ks + k) * os
                                    let row = (cl * ks + k) * os
                                    for i in 0..<oh {
                                        for j in 0..<ow {
                                            let p = i * ow + j
                                            let y = C(i * st[0] - pd[0] + ki * dl[0]) + ov[offH + p]
                                            let xx = C(j * st[1] - pd[1] + kj * dl[1]) + ov[offW + p]
                                            var v: C = 0
                                            if y > -1 && y < C(ih) && xx > -1 && xx < C(iw) {
                                                let y0 = Int(y.rounded(.down)), x0 = Int(xx.rounded(.down))
                                                let ly = y - C(y0), lx = xx - C(x0)
                                                for (yy, wy) in [(y0, 1 - ly), (y0 + 1, ly)] where yy >= 0 && yy < ih {
                                                    for (xq, wx) in [(x0, 1 - lx), (x0 + 1, lx)] where xq >= 0 && xq < iw {
                                                        v += wy * wx * xv[plane + yy * iw + xq]
                                                    }
                                                }
                                            }
                                            if let mv { v *= mv[mBase + p] }
                                            cols[row + p] = v
                                        }
                                    }
                                }
                            }
                        }
                        wv.withUnsafeBufferPointer { wb in
                            cols.withUnsafeBufferPointer { cb in
                                guard let wp = wb.baseAddress, let cp = cb.baseAddress else { return }
                                nnGemm(transA: false, transB: false, m: ocg, n: os, k: icg * ks, alpha: 1,
                                       a: wp + g * ocg * icg * ks, lda: icg * ks, b: cp, ldb: os,
                                       beta: 0, c: yp + (img * oc + g * ocg) * os, ldc: os, ctx: ctx)
                            }
                        }
                    }
                    if let bias {
                        for o in 0..<oc { for p in 0..<os { yp[(img * oc + o) * os + p] += bias[o] } }
                    }
                }
            }
        }
    }
}
