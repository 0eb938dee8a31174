import OnyxTensor
import OnyxKernels
import COnyxKernels

/// Fused operators produced by the graph optimizer (domain "ai.onyx"): convolution and matrix multiply with
/// bias, residual and activation applied in the GEMM epilogue, constant weights packed once at load.
enum FusedOps {
    static let domain = "ai.onyx"
    static func register(_ t: inout OperatorTable) {
        t.add("FusedConv", domain: domain) { try FusedConvOp($0) }
        t.add("FusedMatMul", domain: domain) { try FusedMatMulOp($0) }
    }
}

/// The `activation` / `activation_params` attributes of a fused op.
struct FusedActivationSpec: Sendable {
    var act: FusedActivation
    var p0: Float, p1: Float

    init(_ c: NodeContext) throws {
        let name = try c.string("activation", "")
        guard let a = FusedActivation(name: name) else { throw KernelError("unknown fused activation '\(name)'") }
        act = a
        let ps = try c.floats("activation_params") ?? []
        switch a {
        case .clip: p0 = ps.count > 0 ? ps[0] : -Float.infinity; p1 = ps.count > 1 ? ps[1] : Float.infinity
        case .leakyRelu: p0 = ps.count > 0 ? ps[0] : 0.01; p1 = 0
        case .hardSigmoid: p0 = ps.count > 0 ? ps[0] : 0.2; p1 = ps.count > 1 ? ps[1] : 0.5
        default: p0 = 0; p1 = 0
        }
    }

    func apply(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if act != .none { onyx_activation(p, n, act.rawValue, p0, p1) }
    }
}

/// Adds `z` (broadcast) to `y` and applies the activation, when the residual could not go in the epilogue.
func fusedResidualFallback(_ y: Tensor, _ z: Tensor?, _ spec: FusedActivationSpec) throws -> Tensor {
    guard let z else {
        spec.apply(y.mutablePointer(Float.self), y.count)
        return y
    }
    guard z.dtype == .float32 else { throw KernelError("fused residual must be float, got \(z.dtype)") }
    guard let shape = Broadcast.shape([y.shape, z.shape]) else {
        throw KernelError("residual shape \(z.shape) does not broadcast with \(y.shape)")
    }
    let out = Tensor.uninitialized(.float32, shape: shape)
    let o = out.mutablePointer(Float.self)
    let ys = Broadcast.broadcastStrides(y.shape, to: shape), zs = Broadcast.broadcastStrides(z.shape, to: shape)
    try y.withBuffer(of: Float.self) { yb in
        try z.withBuffer(of: Float.self) { zb in
            var idx = [Int](repeating: 0, count: shape.count)
            for i in 0..<out.count {
                var yi = 0, zi = 0
                for d in 0..<shape.count { yi += idx[d] * ys[d]; zi += idx[d] * zs[d] }
                o[i] = yb[yi] + zb[zi]
                var d = shape.count - 1
                while d >= 0 { idx[d] += 1; if idx[d] < shape[d] { break }; idx[d] = 0; d -= 1 }
            }
        }
    }
    spec.apply(o, out.count)
    return out
}

/// A read-only float pointer shared by `parallelFor` chunks.
/// Safety of `@unchecked Sendable`: only read while the owning tensor is alive (during the call).
struct FusedPtr: @unchecked Sendable { let p: UnsafePointer<Float>? }
/// An output pointer shared by `parallelFor` chunks that write disjoint channel ranges of a fresh tensor.
struct FusedMutPtr: @unchecked Sendable { let p: UnsafeMutablePointer<Float> }

/// ai.onyx.FusedConv(X, W, B?, Z?): activation(conv(X, W) + B + Z), float32. Conv attributes plus
/// `activation` (Relu, Clip, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, SiLU, Gelu) and `activation_params`.
struct FusedConvOp: TensorKernel, PrepackingKernel {
    let window: WindowAttributes
    let group: Int
    let spec: FusedActivationSpec
    /// Per group: the packed weight matrix (mg × cg·kernel), when W is constant.
    let packed: [PackedMatrix]?
    let bias: [Float]?
    /// The shape of a constant W that is packed and not read at run time (nil: W is read from the inputs).
    let absorbedWeightShape: [Int]?

    init(_ c: NodeContext) throws {
        window = try WindowAttributes(c)
        group = try c.int("group", 1)
        guard group >= 1 else { throw KernelError("group must be >= 1, got \(group)") }
        spec = try FusedActivationSpec(c)
        if let b = c.constantInputs[2], b.dtype == .float32 { bias = try b.toArray(Float.self) } else { bias = nil }
        if let w = c.constantInputs[1], w.dtype == .float32, w.rank >= 3, w.shape[0] % group == 0, w.count > 0 {
            let m = w.shape[0], mg = m / group, kdim = w.count / m
            let g = group
            packed = try w.withBuffer(of: Float.self) { wb in
                guard let wp = wb.baseAddress else { return nil }
                return (0..<g).map { gi in PackedMatrix(a: wp + gi * mg * kdim, transposed: false, m: mg, k: kdim, lda: kdim) }
            }
            // The depthwise kernel reads W directly, so a depthwise W stays an input.
            let depthwise = w.rank == 4 && w.shape[1] == 1 && mg == 1
            absorbedWeightShape = packed != nil && !depthwise ? w.shape : nil
        } else {
            packed = nil
            absorbedWeightShape = nil
        }
    }

    var absorbedInputs: [Int] { (absorbedWeightShape != nil ? [1] : []) + (bias != nil ? [2] : []) }
    var packedBytes: Int { packed?.reduce(0) { $0 + $1.byteCount } ?? 0 }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        // W is nil when it was packed at load and dropped from the constants (`absorbedWeightShape`).
        let w: Tensor? = absorbedWeightShape == nil ? try inputs.required(1, "W") : inputs.optional(1)
        let wShape = w?.shape ?? absorbedWeightShape ?? []
        guard x.dtype == .float32, w?.dtype ?? .float32 == .float32 else { throw KernelError("FusedConv needs float inputs, got \(x.dtype), \(w?.dtype ?? .float32)") }
        guard x.rank >= 3, wShape.count == x.rank else { throw KernelError("FusedConv needs X and W of equal rank >= 3, got \(x.shape) and \(wShape)") }
        let n = x.shape[0], cIn = x.shape[1], m = wShape[0]
        guard cIn % group == 0, m % group == 0, wShape[1] == cIn / group else {
            throw KernelError("FusedConv channels: X has \(cIn), W is \(wShape), group \(group)")
        }
        let kernel = Array(wShape.dropFirst(2))
        if let ks = window.kernelShape, ks != kernel { throw KernelError("kernel_shape \(ks) does not match W \(wShape)") }
        let b = inputs.optional(2)
        if let b { guard b.count == m, b.dtype == .float32 else { throw KernelError("FusedConv bias must have \(m) float values") } }
        if let bias, bias.count != m { throw KernelError("FusedConv bias must have \(m) float values, has \(bias.count)") }
        let g = try window.geometry(input: Array(x.shape.dropFirst(2)), kernel: kernel)
        let outShape = [n, m] + g.output
        let y = Tensor.uninitialized(.float32, shape: outShape)
        var z = inputs.optional(3)
        let zInEpilogue = z.map { $0.dtype == .float32 && $0.shape == outShape } ?? false
        let biasVals: [Float]? = try bias ?? b.map { try $0.toArray(Float.self) }
        if y.count == 0 { return [try fusedResidualFallback(y, z, spec)] }
        let spec = zInEpilogue || z == nil ? self.spec : try FusedActivationSpec.none()
        let zTensor = zInEpilogue ? z : nil
        if zInEpilogue { z = nil }

        let groups = group, cg = cIn / groups, mg = m / groups
        let ks = g.kernelSize, os = g.outputSize, isz = g.inputSize, kdim = cg * ks
        let yp = y.mutablePointer(Float.self)
        let direct = ks == 1 && g.strides.allSatisfy { $0 == 1 } && g.padBegin.allSatisfy { $0 == 0 }
            && g.padEnd.allSatisfy { $0 == 0 } && os == isz
        let depthwise = cg == 1 && mg == 1 && kernel.count == 2
        try x.withBuffer(of: Float.self) { xb in
            try withOptionalFloats(w) { wp in
                guard let xp = xb.baseAddress, wp != nil || packed != nil else { return }
                // zTensor (float32, checked above) stays alive for the whole call.
                let zp: UnsafePointer<Float>? = zTensor.map { UnsafePointer($0.rawPointer.assumingMemoryBound(to: Float.self)) }
                try withOptionalBuffer(biasVals) { bp in
                    if depthwise {
                        guard let wp else { throw KernelError("FusedConv: depthwise weights were not kept") }
                        let xs = FusedPtr(p: xp), ws = FusedPtr(p: wp), bs = FusedPtr(p: bp), zs = FusedPtr(p: zp), ys = FusedMutPtr(p: yp)
                        let s = spec
                        ctx.parallelFor(n * m, cost: os * ks * 2) { r in
                            var u = r.lowerBound
                            while u < r.upperBound {
                                let img = u / m, c0 = u % m, c1 = min(m, c0 + (r.upperBound - u))
                                onyx_dwconv2d(xs.p.map { $0 + img * cIn * isz }, ws.p, bs.p, zs.p.map { $0 + img * m * os },
                                              ys.p + img * m * os, c0, c1, g.input[0], g.input[1], g.output[0], g.output[1],
                                              g.kernel[0], g.kernel[1], g.strides[0], g.strides[1], g.padBegin[0], g.padBegin[1],
                                              g.dilations[0], g.dilations[1], s.act.rawValue, s.p0, s.p1)
                                u += c1 - c0
                            }
                        }
                        return
                    }
                    if direct || kernel.count == 2 {
                        try convPacked(xp: xp, wp: wp, bp: bp, zp: zp, yp: yp, n: n, cIn: cIn, m: m, g: g, direct: direct, spec: spec, ctx: ctx)
                        return
                    }
                    let cols = direct ? nil : UnsafeMutablePointer<Float>.allocate(capacity: max(kdim * os, 1))
                    defer { cols?.deallocate() }
                    for img in 0..<n {
                        for gi in 0..<groups {
                            let xg = xp + (img * cIn + gi * cg) * isz
                            let yg = yp + (img * m + gi * mg) * os
                            var bsrc: UnsafePointer<Float> = xg
                            if let cp = cols {
                                nnIm2col(xg, channels: cg, g, cp, ctx: ctx)
                                bsrc = UnsafePointer(cp)
                            }
                            let aOp: GemmOperand
                            if let packed { aOp = .packed(packed[gi]) } else if let wp {
                                aOp = .raw(wp + gi * mg * kdim, ld: kdim, transposed: false)
                            } else { throw KernelError("FusedConv: weights missing") }
                            let ep = GemmEpilogue(bias: bp.map { $0 + gi * mg }, biasPerRow: true,
                                                  residual: zp.map { $0 + (img * m + gi * mg) * os }, ldr: os,
                                                  activation: spec.act, p0: spec.p0, p1: spec.p1)
                            SGEMM.run(m: mg, n: os, k: kdim, a: aOp, b: .raw(bsrc, ld: os, transposed: false),
                                      c: yg, ldc: os, epilogue: ep, threads: ctx.threads, pool: ctx.pool)
                        }
                    }
                }
            }
        }
        if zInEpilogue || z == nil { return [y] }
        return [try fusedResidualFallback(y, z, self.spec)]
    }
}

extension FusedConvOp {
    /// 2-D or 1x1 convolution as packed GEMMs: the patch matrix is packed straight from the image (no im2col
    /// buffer). Many output columns: threads take column chunks and pack only their chunk (it stays in cache);
    /// few columns (deep layers): the whole packed matrix is shared and the GEMM splits rows.
    func convPacked(xp: UnsafePointer<Float>, wp: UnsafePointer<Float>?, bp: UnsafePointer<Float>?, zp: UnsafePointer<Float>?,
                    yp: UnsafeMutablePointer<Float>, n: Int, cIn: Int, m: Int, g: WindowGeometry, direct: Bool,
                    spec: FusedActivationSpec, ctx: RunContext) throws {
        let groups = group, mg = m / groups
        let kdim = cIn / groups * g.kernelSize, os = g.outputSize
        // Grouped convolutions with enough (image, group) units: one unit per thread, single-threaded inside
        // (one hand-off per node instead of several per group).
        if groups > 1 && ctx.threads > 1 && n * groups >= ctx.threads {
            let one = RunContext(threads: 1, pool: ctx.pool)
            let xs = FusedPtr(p: xp), ws = FusedPtr(p: wp), bs = FusedPtr(p: bp), zs = FusedPtr(p: zp), ys = FusedMutPtr(p: yp)
            let me = self
            ctx.parallelFor(n * groups, cost: mg * kdim * os) { r in
                for u in r {
                    guard let x = xs.p else { return }
                    try? me.convPacked(xp: x, wp: ws.p, bp: bs.p, zp: zs.p, yp: ys.p, n: n, cIn: cIn, m: m, g: g, direct: direct,
                                       spec: spec, ctx: one, only: (u / groups, u % groups))
                }
            }
            return
        }
        try convPacked(xp: xp, wp: wp, bp: bp, zp: zp, yp: yp, n: n, cIn: cIn, m: m, g: g, direct: direct, spec: spec,
                       ctx: ctx, only: nil)
    }

    func convPacked(xp: UnsafePointer<Float>, wp: UnsafePointer<Float>?, bp: UnsafePointer<Float>?, zp: UnsafePointer<Float>?,
                    yp: UnsafeMutablePointer<Float>, n: Int, cIn: Int, m: Int, g: WindowGeometry, direct: Bool,
                    spec: FusedActivationSpec, ctx: RunContext, only: (img: Int, group: Int)?) throws {
        let groups = group, cg = cIn / groups, mg = m / groups
        let os = g.outputSize, isz = g.inputSize, kdim = cg * g.kernelSize
        // The split across threads and the chunking through cache are chosen in C (conv.c): one plan per call.
        let plan = ConvPlan()
        if direct && g.kernel.count != 2 {
            // 1x1 of any rank: the image is already the k x n patch matrix.
            onyx_conv2d_plan_init(plan.p, mg, cg, 1, isz, 1, os, 1, 1, 1, 1, 0, 0, 1, 1, Int32(ctx.threads))
        } else {
            onyx_conv2d_plan_init(plan.p, mg, cg, g.input[0], g.input[1], g.output[0], g.output[1], g.kernel[0], g.kernel[1],
                                  g.strides[0], g.strides[1], g.padBegin[0], g.padBegin[1], g.dilations[0], g.dilations[1],
                                  Int32(ctx.threads))
        }
        let parts = Int(plan.p.pointee.parts)
        let sharedFloats = onyx_conv2d_shared_floats(plan.p)
        let shared = sharedFloats > 0 ? UnsafeMutableRawPointer.allocate(byteCount: sharedFloats * 4, alignment: 64) : nil
        defer { shared?.deallocate() }
        let sp = FusedMutPtr(p: shared?.assumingMemoryBound(to: Float.self) ?? yp)
        let hasShared = shared != nil
        // One part per thread (parts <= threads): a large cost keeps parallelFor from merging them.
        let run = RunContext(threads: parts, pool: ctx.pool)
        // Each part records a failed allocation in its own slot.
        let status = FusedStatus(parts)
        for img in only.map({ [$0.img] }) ?? Array(0..<n) {
            for gi in only.map({ [$0.group] }) ?? Array(0..<groups) {
                let xs = FusedPtr(p: xp + (img * cIn + gi * cg) * isz)
                let ys = FusedMutPtr(p: yp + (img * m + gi * mg) * os)
                let zs = FusedPtr(p: zp.map { $0 + (img * m + gi * mg) * os })
                let bs = FusedPtr(p: bp.map { $0 + gi * mg })
                guard let a = packed?[gi] ?? wp.map({ PackedMatrix(a: $0 + gi * mg * kdim, transposed: false, m: mg, k: kdim, lda: kdim) }) else {
                    throw KernelError("FusedConv: weights missing")
                }
                if hasShared {
                    run.parallelFor(parts, cost: 1 << 20) { r in
                        guard let x = xs.p else { return }
                        for part in r { onyx_conv2d_pack_part(plan.p, Int32(part), x, sp.p) }
                    }
                }
                let act = spec
                run.parallelFor(parts, cost: 1 << 20) { r in
                    guard let x = xs.p else { return }
                    var e = onyx_epilogue(bias: bs.p, bias_per_row: 1, res: zs.p, ldr: os, act: act.act.rawValue, p0: act.p0, p1: act.p1)
                    for part in r {
                        status.p[part] |= onyx_conv2d_run_part(plan.p, Int32(part), x, a.pointer, hasShared ? UnsafePointer(sp.p) : nil, &e, ys.p)
                    }
                }
                withExtendedLifetime(a) {}
            }
        }
        withExtendedLifetime(plan) {}
        if status.failed { throw KernelError("FusedConv: out of memory for a packing buffer") }
    }
}

/// A convolution plan (onyx_conv_plan) on the heap, shared read-only by the parts of one call.
/// Safety of `@unchecked Sendable`: written only by onyx_conv2d_plan_init before any part runs, read-only after.
final class ConvPlan: @unchecked Sendable {
    let p: UnsafeMutablePointer<onyx_conv_plan>
    init() { p = .allocate(capacity: 1); p.initialize(to: onyx_conv_plan()) }
    deinit { p.deallocate() }
}

/// One status word per part (0 = ok), read after the parts finished.
/// Safety of `@unchecked Sendable`: part i writes only slot i; the slots are read after parallelFor has joined.
final class FusedStatus: @unchecked Sendable {
    let p: UnsafeMutablePointer<Int32>
    let count: Int
    init(_ n: Int) { count = max(n, 1); p = .allocate(capacity: count); p.initialize(repeating: 0, count: count) }
    deinit { p.deallocate() }
    var failed: Bool { (0..<count).contains { p[$0] != 0 } }
}

extension FusedActivationSpec {
    static func none() throws -> FusedActivationSpec { FusedActivationSpec(act: .none, p0: 0, p1: 0) }
    init(act: FusedActivation, p0: Float, p1: Float) { self.act = act; self.p0 = p0; self.p1 = p1 }
}

/// The float elements of `t` (nil when `t` is nil), alive during `body`.
func withOptionalFloats<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) throws -> R) throws -> R {
    guard let t else { return try body(nil) }
    return try t.withBuffer(of: Float.self) { try body($0.baseAddress) }
}

func withOptionalBuffer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
    guard let a else { return try body(nil) }
    return try a.withUnsafeBufferPointer { try body($0.baseAddress) }
}

/// ai.onyx.FusedMatMul(A, B, bias?): activation(A·op(B) + bias), float32; A of rank >= 1 (leading dimensions
/// flattened into rows), B 2-D (transposed when `transB` = 1), bias of N values. B constant → packed at load.
struct FusedMatMulOp: TensorKernel, PrepackingKernel {
    let transB: Bool
    let spec: FusedActivationSpec
    let packed: PackedMatrix?
    let bias: [Float]?
    /// The shape of a constant B that is packed and not read at run time (nil: B is read from the inputs).
    let absorbedWeightShape: [Int]?

    init(_ c: NodeContext) throws {
        transB = try c.int("transB", 0) != 0
        spec = try FusedActivationSpec(c)
        if let b = c.constantInputs[2], b.dtype == .float32 { bias = try b.toArray(Float.self) } else { bias = nil }
        if let w = c.constantInputs[1], w.dtype == .float32, w.rank == 2 {
            let k = transB ? w.shape[1] : w.shape[0], n = transB ? w.shape[0] : w.shape[1]
            let tb = transB
            packed = try w.withBuffer(of: Float.self) { wb in
                guard let wp = wb.baseAddress else { return nil }
                return PackedMatrix(b: wp, transposed: tb, k: k, n: n, ldb: w.shape[1])
            }
            absorbedWeightShape = packed != nil ? w.shape : nil
        } else {
            packed = nil
            absorbedWeightShape = nil
        }
    }

    var absorbedInputs: [Int] { (absorbedWeightShape != nil ? [1] : []) + (bias != nil ? [2] : []) }
    var packedBytes: Int { packed?.byteCount ?? 0 }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let a = try inputs.required(0, "A")
        // B is nil when it was packed at load and dropped from the constants (`absorbedWeightShape`).
        let b: Tensor? = absorbedWeightShape == nil ? try inputs.required(1, "B") : inputs.optional(1)
        let bShape = b?.shape ?? absorbedWeightShape ?? []
        guard a.dtype == .float32, b?.dtype ?? .float32 == .float32 else { throw KernelError("FusedMatMul needs float inputs, got \(a.dtype), \(b?.dtype ?? .float32)") }
        guard a.rank >= 1, bShape.count == 2 else { throw KernelError("FusedMatMul needs A of rank >= 1 and 2-D B, got \(a.shape), \(bShape)") }
        let k = transB ? bShape[1] : bShape[0], n = transB ? bShape[0] : bShape[1]
        guard a.shape[a.rank - 1] == k else { throw KernelError("FusedMatMul shapes \(a.shape) and \(bShape) do not agree on K") }
        let m = k == 0 ? Tensor.count(Array(a.shape.dropLast())) : a.count / k
        let outShape = a.rank == 1 ? [n] : Array(a.shape.dropLast()) + [n]
        let biasVals: [Float]?
        if let bias { biasVals = bias } else if let t = inputs.optional(2) {
            guard t.dtype == .float32, t.count == n, t.shape.last == n || t.rank == 0 && n == 1 else {
                throw KernelError("FusedMatMul bias \(t.shape) must have \(n) values")
            }
            biasVals = try t.toArray(Float.self)
        } else { biasVals = nil }
        if let biasVals, biasVals.count != n { throw KernelError("FusedMatMul bias must have \(n) values") }
        let y = Tensor.uninitialized(.float32, shape: outShape)
        if y.count == 0 { return [y] }
        let yp = y.mutablePointer(Float.self)
        try a.withBuffer(of: Float.self) { ab in
            try withOptionalFloats(b) { bp in
                guard let ap = ab.baseAddress, bp != nil || packed != nil else {
                    // K == 0: the product is zero.
                    for i in 0..<m { for j in 0..<n { yp[i * n + j] = biasVals?[j] ?? 0 } }
                    spec.apply(yp, y.count)
                    return
                }
                withOptionalBuffer(biasVals) { biasP in
                    let bOp: GemmOperand
                    if let packed { bOp = .packed(packed) } else if let bp { bOp = .raw(bp, ld: bShape[1], transposed: transB) } else { return }
                    SGEMM.run(m: m, n: n, k: k, a: .raw(ap, ld: k, transposed: false), b: bOp, c: yp, ldc: n,
                              epilogue: GemmEpilogue(bias: biasP, activation: spec.act, p0: spec.p0, p1: spec.p1),
                              threads: ctx.threads, pool: ctx.pool)
                }
            }
        }
        return [y]
    }
}
