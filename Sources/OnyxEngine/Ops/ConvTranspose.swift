import OnyxTensor

/// ConvTranspose: per image and group, cols = Wᵀ·X (GEMM), then col2im scatter-add into Y.
struct ConvTransposeOp: TensorKernel {
    let autoPad: String
    let group: Int
    let kernelShape: [Int]?, strides: [Int]?, dilations: [Int]?, pads: [Int]?
    let outputPadding: [Int]?, outputShape: [Int]?

    init(_ c: NodeContext) throws {
        autoPad = try c.string("auto_pad", "NOTSET")
        group = try c.int("group", 1)
        guard group >= 1 else { throw KernelError("group must be >= 1, got \(group)") }
        kernelShape = try c.ints("kernel_shape")
        strides = try c.ints("strides")
        dilations = try c.ints("dilations")
        pads = try c.ints("pads")
        outputPadding = try c.ints("output_padding")
        outputShape = try c.ints("output_shape")
        if let s = strides, s.contains(where: { $0 <= 0 }) { throw KernelError("strides must be positive, got \(s)") }
        if let d = dilations, d.contains(where: { $0 <= 0 }) { throw KernelError("dilations must be positive, got \(d)") }
        try nnCheckWindowBounds([kernelShape, strides, dilations, pads, outputPadding, outputShape])
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), w = try inputs.required(1, "W")
        let b = inputs.optional(2)
        guard x.rank >= 3, w.rank == x.rank else { throw KernelError("ConvTranspose needs X and W of equal rank >= 3, got \(x.shape) and \(w.shape)") }
        guard x.dtype == w.dtype else { throw KernelError("ConvTranspose input types differ: \(x.dtype) and \(w.dtype)") }
        let n = x.shape[0], cIn = x.shape[1]
        guard cIn % group == 0, w.shape[0] == cIn else { throw KernelError("ConvTranspose: X has \(cIn) channels, W is \(w.shape), group \(group)") }
        let mg = w.shape[1], m = mg * group
        let s = x.rank - 2
        let input = Array(x.shape.dropFirst(2)), kernel = Array(w.shape.dropFirst(2))
        if let ks = kernelShape, ks != kernel { throw KernelError("kernel_shape \(ks) does not match W \(w.shape)") }
        let st = strides ?? Array(repeating: 1, count: s)
        let dl = dilations ?? Array(repeating: 1, count: s)
        let op = outputPadding ?? Array(repeating: 0, count: s)
        guard st.count == s, dl.count == s, op.count >= s else { throw KernelError("strides/dilations/output_padding must have \(s) values") }
        var padBegin = Array(repeating: 0, count: s), output = Array(repeating: 0, count: s)
        var fullOut = Array(repeating: 0, count: s)
        for i in 0..<s {
            let span: Int = (kernel[i] - 1) * dl[i] + 1
            fullOut[i] = st[i] * (input[i] - 1) + op[i] + span
        }
        if outputShape != nil || autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
            var target: [Int] = outputShape ?? []
            if outputShape == nil { for i in 0..<s { target.append(input[i] * st[i]) } }
            if target.count == s + 2 { target = Array(target.dropFirst(2)) }
            guard target.count == s else { throw KernelError("output_shape must have \(s) values") }
            for i in 0..<s {
                let total = fullOut[i] - target[i]
                let half: Int = total >= 0 ? total / 2 : -((-total + 1) / 2)
                padBegin[i] = autoPad == "SAME_UPPER" ? half : total - half
                output[i] = target[i]
            }
        } else {
            let p = pads ?? Array(repeating: 0, count: 2 * s)
            guard p.count == 2 * s else { throw KernelError("pads must have \(2 * s) values") }
            for i in 0..<s {
                padBegin[i] = p[i]
                output[i] = fullOut[i] - p[i] - p[i + s]
            }
        }
        guard output.allSatisfy({ $0 >= 0 }) else { throw KernelError("ConvTranspose output shape \(output) is negative") }
        if let b { guard b.count == m, b.dtype == x.dtype else { throw KernelError("ConvTranspose bias must have \(m) values") } }
        let g = WindowGeometry(input: input, kernel: kernel, strides: st, dilations: dl, padBegin: padBegin,
                               padEnd: Array(repeating: 0, count: s), output: output)
        return [try nnDispatch(x.dtype, Run(group: group, x: x, w: w, b: b, g: g, n: n, cIn: cIn, m: m, ctx: ctx))]
    }

    struct Run: NNVisitor {
        let group: Int, x: Tensor, w: Tensor, b: Tensor?, g: WindowGeometry, n: Int, cIn: Int, m: Int, ctx: RunContext
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let cg = cIn / group, mg = m / group
            let ks = g.kernelSize, isz = g.inputSize, os = g.outputSize
            let rows = mg * ks
            let bias: [C]? = try b.map { try nnArray($0, C.self) }
            let s = g.input.count
            let kSt = Broadcast.strides(g.kernel), outSt = Broadcast.strides(g.output)
            return try nnRead(x, C.self) { xb in
                try nnRead(w, C.self) { wb in
                    try nnWrite(x.dtype, [n, m] + g.output, C.self) { yb in
                        guard let xp = xb.baseAddress, let wp = wb.baseAddress, let yp = yb.baseAddress else { return }
                        var cols = [C](repeating: 0, count: rows * isz)
                        var kidx = Array(repeating: 0, count: s), iidx = Array(repeating: 0, count: s)
                        try cols.withUnsafeMutableBufferPointer { colsBuf in
                            guard let cp = colsBuf.baseAddress else { return }
                            for img in 0..<n {
                                for gi in 0..<group {
                                    // cols[(oc, k), i] = sum_c W[c, oc, k] · X[c, i]
                                    nnGemm(transA: true, transB: false, m: rows, n: isz, k: cg, alpha: 1,
                                           a: wp + gi * cg * rows, lda: rows, b: xp + (img * cIn + gi * cg) * isz, ldb: isz,
                                           beta: 0, c: cp, ldc: isz, ctx: ctx)
                                    for r in 0..<rows {
                                        let oc = gi * mg + r / ks
                                        var rem = r % ks
                                        for d in 0..<s { kidx[d] = rem / kSt[d]; rem %= kSt[d] }
                                        let yplane = yp + (img * m + oc) * os
                                        let src = cp + r * isz
                                        for d in 0..<s { iidx[d] = 0 }
                                        for i in 0..<isz {
                                            var off = 0, valid = true
                                            for d in 0..<s {
                                                let o = iidx[d] * g.strides[d] + kidx[d] * g.dilations[d] - g.padBegin[d]
                                                if o < 0 || o >= g.output[d] { valid = false; break }
                                                off += o * outSt[d]
                                            }
                                            if valid { yplane[off] += src[i] }
                                            var d = s - 1
                                            while d >= 0 { iidx[d] += 1; if iidx[d] < g.input[d] { break }; iidx[d] = 0; d -= 1 }
                                        }
                                    }
                                }
                                if let bias {
                                    for oc in 0..<m {
                                        let row = yp + (img * m + oc) * os
                                        for j in 0..<os { row[j] += bias[oc] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
