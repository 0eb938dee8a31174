import OnyxTensor

/// Conv (N-d, groups, dilations, auto_pad) through im2col + GEMM per group.
enum ConvOps {
    static func register(_ t: inout OperatorTable) {
        t.add("Conv") { try ConvOp($0) }
        t.add("ConvTranspose") { try ConvTransposeOp($0) }
        t.add("DeformConv") { try DeformConvOp($0) }
    }
}

/// Sliding-window attributes shared by Conv and the pools, parsed at load.
struct WindowAttributes: Sendable {
    var autoPad: String
    var kernelShape: [Int]?
    var strides: [Int]?
    var dilations: [Int]?
    var pads: [Int]?
    var ceilMode: Bool

    init(_ c: NodeContext) throws {
        autoPad = try c.string("auto_pad", "NOTSET")
        guard ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"].contains(autoPad) else {
            throw KernelError("unknown auto_pad '\(autoPad)'")
        }
        kernelShape = try c.ints("kernel_shape")
        strides = try c.ints("strides")
        dilations = try c.ints("dilations")
        pads = try c.ints("pads")
        ceilMode = try c.int("ceil_mode", 0) != 0
        if let s = strides, s.contains(where: { $0 <= 0 }) { throw KernelError("strides must be positive, got \(s)") }
        if let d = dilations, d.contains(where: { $0 <= 0 }) { throw KernelError("dilations must be positive, got \(d)") }
        if let p = pads, p.contains(where: { $0 < 0 }) { throw KernelError("pads must be non-negative, got \(p)") }
        if let k = kernelShape, k.contains(where: { $0 <= 0 }) { throw KernelError("kernel_shape must be positive, got \(k)") }
        try nnCheckWindowBounds([kernelShape, strides, dilations, pads])
    }

    /// Resolved geometry for an input's spatial shape and a kernel shape.
    func geometry(input: [Int], kernel: [Int]) throws -> WindowGeometry {
        let s = input.count
        guard kernel.count == s else { throw KernelError("kernel has \(kernel.count) spatial dims, input has \(s)") }
        let st = strides ?? Array(repeating: 1, count: s)
        let dl = dilations ?? Array(repeating: 1, count: s)
        guard st.count == s, dl.count == s else { throw KernelError("strides/dilations must have \(s) values") }
        var g = WindowGeometry(input: input, kernel: kernel, strides: st, dilations: dl,
                               padBegin: Array(repeating: 0, count: s), padEnd: Array(repeating: 0, count: s),
                               output: Array(repeating: 0, count: s))
        for i in 0..<s {
            let ek = (kernel[i] - 1) * dl[i] + 1
            switch autoPad {
            case "SAME_UPPER", "SAME_LOWER":
                let o = (input[i] + st[i] - 1) / st[i]
                let total = max(0, (o - 1) * st[i] + ek - input[i])
                g.padBegin[i] = autoPad == "SAME_UPPER" ? total / 2 : (total + 1) / 2
                g.padEnd[i] = total - g.padBegin[i]
                g.output[i] = o
            case "VALID":
                g.output[i] = max(0, (input[i] - ek) / st[i] + 1)
                if input[i] < ek { g.output[i] = 0 }
            default:
                if let p = pads {
                    guard p.count == 2 * s else { throw KernelError("pads must have \(2 * s) values, got \(p.count)") }
                    g.padBegin[i] = p[i]; g.padEnd[i] = p[i + s]
                }
                let span = input[i] + g.padBegin[i] + g.padEnd[i] - ek
                if span < 0 { g.output[i] = 0; continue }
                if ceilMode {
                    var o = (span + st[i] - 1) / st[i] + 1
                    // The last window must start inside the input or the left padding.
                    if (o - 1) * st[i] >= input[i] + g.padBegin[i] { o -= 1 }
                    g.output[i] = o
                } else {
                    g.output[i] = span / st[i] + 1
                }
            }
        }
        return g
    }
}

/// Rejects window attribute values so large that index arithmetic could overflow.
func nnCheckWindowBounds(_ lists: [[Int]?]) throws {
    for l in lists { if let l, l.contains(where: { abs($0) > 1 << 24 }) { throw KernelError("window attribute value out of range: \(l)") } }
}

/// Concrete window geometry for one input shape.
struct WindowGeometry: Sendable {
    var input: [Int], kernel: [Int], strides: [Int], dilations: [Int]
    var padBegin: [Int], padEnd: [Int], output: [Int]
    var inputSize: Int { Tensor.count(input) }
    var outputSize: Int { Tensor.count(output) }
    var kernelSize: Int { Tensor.count(kernel) }
}

/// Writes the im2col matrix of one image's channel block: rows (c, kernel offset), columns output positions.
/// `x` points at `channels` planes of `g.inputSize` elements; `cols` has `channels·kernelSize × outputSize` elements.
func nnIm2col<C: NNReal>(_ x: UnsafePointer<C>, channels: Int, _ g: WindowGeometry,
                         _ cols: UnsafeMutablePointer<C>, ctx: RunContext) {
    let s = g.input.count
    let ks = g.kernelSize, os = g.outputSize, isz = g.inputSize
    let inSt = Broadcast.strides(g.input), kSt = Broadcast.strides(g.kernel)
    let rows = channels * ks
    let xs = NNSendableReadPointer(x), cs = NNSendablePointer(cols)
    ctx.parallelFor(rows, cost: os) { range in
        var kidx = Array(repeating: 0, count: s)
        var oidx = Array(repeating: 0, count: s)
        for r in range {
            let c = r / ks
            var rem = r % ks
            for d in 0..<s { kidx[d] = rem / kSt[d]; rem %= kSt[d] }
            let plane = xs.p + c * isz
            let dst = cs.p + r * os
            if s == 0 { dst[0] = plane[0]; continue }
            let last = s - 1
            let oLast = g.output[last], sLast = g.strides[last], inLast = g.input[last]
            let offLast = kidx[last] * g.dilations[last] - g.padBegin[last]
            let outer = os / max(oLast, 1)
            for d in 0..<s { oidx[d] = 0 }
            var o = 0
            for _ in 0..<outer {
                var base = 0, valid = true
                for d in 0..<last {
                    let i = oidx[d] * g.strides[d] + kidx[d] * g.dilations[d] - g.padBegin[d]
                    if i < 0 || i >= g.input[d] { valid = false; break }
                    base += i * inSt[d]
                }
                if valid {
                    for ol in 0..<oLast {
                        let i = ol * sLast + offLast
                        dst[o + ol] = (i >= 0 && i < inLast) ? plane[base + i] : 0
                    }
                } else {
                    for ol in 0..<oLast { dst[o + ol] = 0 }
                }
                o += oLast
                var d = last - 1
                while d >= 0 { oidx[d] += 1; if oidx[d] < g.output[d] { break }; oidx[d] = 0; d -= 1 }
            }
        }
    }
}

struct ConvOp: TensorKernel {
    let window: WindowAttributes
    let group: Int

    init(_ c: NodeContext) throws {
        window = try WindowAttributes(c)
        group = try c.int("group", 1)
        guard group >= 1 else { throw KernelError("group must be >= 1, got \(group)") }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), w = try inputs.required(1, "W")
        let b = inputs.optional(2)
        guard x.rank >= 3, w.rank == x.rank else { throw KernelError("Conv needs X and W of equal rank >= 3, got \(x.shape) and \(w.shape)") }
        guard x.dtype == w.dtype else { throw KernelError("Conv input types differ: \(x.dtype) and \(w.dtype)") }
        let n = x.shape[0], cIn = x.shape[1], m = w.shape[0]
        guard cIn % group == 0, m % group == 0, w.shape[1] == cIn / group else {
            throw KernelError("Conv channels: X has \(cIn), W is \(w.shape), group \(group)")
        }
        let kernel = Array(w.shape.dropFirst(2))
        if let ks = window.kernelShape, ks != kernel { throw KernelError("kernel_shape \(ks) does not match W \(w.shape)") }
        if let b { guard b.count == m, b.dtype == x.dtype else { throw KernelError("Conv bias must have \(m) values of \(x.dtype)") } }
        let g = try window.geometry(input: Array(x.shape.dropFirst(2)), kernel: kernel)
        return [try nnDispatch(x.dtype, Run(op: self, x: x, w: w, b: b, g: g, n: n, cIn: cIn, m: m, ctx: ctx))]
    }

    struct Run: NNVisitor {
        let op: ConvOp, x: Tensor, w: Tensor, b: Tensor?, g: WindowGeometry, n: Int, cIn: Int, m: Int, ctx: RunContext
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let groups = op.group
            let cg = cIn / groups, mg = m / groups
            let ks = g.kernelSize, os = g.outputSize, isz = g.inputSize
            let kdim = cg * ks
            let direct = ks == 1 && g.strides.allSatisfy { $0 == 1 } && g.padBegin.allSatisfy { $0 == 0 }
                && g.padEnd.allSatisfy { $0 == 0 } && os == isz
            let bias: [C]? = try b.map { try nnArray($0, C.self) }
            return try nnRead(x, C.self) { xb in
                try nnRead(w, C.self) { wb in
                    try nnWrite(x.dtype, [n, m] + g.output, C.self) { yb in
                        guard let xp = xb.baseAddress, let wp = wb.baseAddress, let yp = yb.baseAddress, os > 0 else { return }
                        // Many small groups (depthwise-style): run whole (image, group) units in parallel,
                        // each with its own im2col buffer and a single-threaded GEMM.
                        if groups > 1 && mg <= 16 && ctx.threads > 1 && n * groups >= 2 * ctx.threads {
                            let xs = NNSendableReadPointer(xp), ws = NNSendableReadPointer(wp), ys = NNSendablePointer(yp)
                            let one = RunContext(threads: 1, pool: ctx.pool)
                            ctx.parallelFor(n * groups, cost: mg * kdim * os + kdim * os) { range in
                                let cp = UnsafeMutablePointer<C>.allocate(capacity: max(direct ? 1 : kdim * os, 1))
                                defer { cp.deallocate() }
                                for unit in range {
                                    let img = unit / groups, gi = unit % groups
                                    let xg = xs.p + (img * cIn + gi * cg) * isz
                                    let yg = ys.p + (img * m + gi * mg) * os
                                    var bp: UnsafePointer<C> = xg
                                    if !direct { nnIm2col(xg, channels: cg, g, cp, ctx: one); bp = UnsafePointer(cp) }
                                    nnGemm(transA: false, transB: false, m: mg, n: os, k: kdim, alpha: 1,
                                           a: ws.p + gi * mg * kdim, lda: kdim, b: bp, ldb: os,
                                           beta: 0, c: yg, ldc: os, ctx: one)
                                    if let bias {
                                        for oc in 0..<mg {
                                            let bv = bias[gi * mg + oc]
                                            for j in 0..<os { yg[oc * os + j] += bv }
                                        }
                                    }
                                }
                            }
                            return
                        }
                        var cols = [C](repeating: 0, count: direct ? 0 : kdim * os)
                        try cols.withUnsafeMutableBufferPointer { colsBuf in
                            for img in 0..<n {
                                for gi in 0..<groups {
                                    let xg = xp + (img * cIn + gi * cg) * isz
                                    let yg = yp + (img * m + gi * mg) * os
                                    var bp: UnsafePointer<C> = xg
                                    if !direct {
                                        guard let cp = colsBuf.baseAddress else { throw KernelError("internal: empty im2col buffer") }
                                        nnIm2col(xg, channels: cg, g, cp, ctx: ctx)
                                        bp = UnsafePointer(cp)
                                    }
                                    nnGemm(transA: false, transB: false, m: mg, n: os, k: kdim, alpha: 1,
                                           a: wp + gi * mg * kdim, lda: kdim, b: bp, ldb: os,
                                           beta: 0, c: yg, ldc: os, ctx: ctx)
                                }
                                if let bias {
                                    for oc in 0..<m {
                                        let row = yp + (img * m + oc) * os
                                        let bv = bias[oc]
                                        for j in 0..<os { row[j] += bv }
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
