import OnyxTensor
import OnyxKernels

/// Fused transformer operators produced by the graph optimizer (domain "ai.onyx"): scaled dot-product attention
/// with its head-split transposes folded into strides, Add + LayerNormalization in one pass, and the
/// LayerNormalization / Gelu kernels under ai.onyx for models whose opset predates them.
enum TransformerFusedOps {
    static let domain = "ai.onyx"
    static func register(_ t: inout OperatorTable) {
        t.add("FusedAttention", domain: domain) { try FusedAttentionOp($0) }
        t.add("SkipLayerNormalization", domain: domain) { try SkipLayerNormOp($0) }
        t.add("LayerNormalization", domain: domain) { try RowNormOp($0, kind: .layer) }
        t.add("Gelu", domain: domain) { c in
            let approx = try c.string("approximate", "none")
            guard approx == "none" || approx == "tanh" else { throw KernelError("approximate must be none or tanh, got '\(approx)'") }
            return makeUnaryKernel(GeluFn(tanhApprox: approx == "tanh"))
        }
    }
}

/// ai.onyx.FusedAttention(Q, K, V, mask?) → Y: softmax(scale·Q·Kᵀ + mask)·V per (batch, head), float32.
///
/// Q, K and V are 4-D tensors read through `q_perm` / `k_perm` / `v_perm`: logical axis i of (batch, head,
/// sequence, depth) is physical axis perm[i], so the Transposes that split heads ([B,S,H,D] → [B,H,S,D], or
/// [B,H,D,S] for K) are never materialized. Batch and head dimensions of size 1 broadcast; `mask` broadcasts to
/// [B, H, Sq, Sk]. The output is the logical [B, H, Sq, Dv] transposed by `out_perm` (ONNX Transpose semantics,
/// last axis fixed). Threaded over (batch, head); each unit does its two GEMMs and the row softmax in cache.
struct FusedAttentionOp: TensorKernel {
    let qPerm: [Int], kPerm: [Int], vPerm: [Int], outPerm: [Int]
    let scale: Float

    init(_ c: NodeContext) throws {
        func perm(_ name: String) throws -> [Int] {
            let p = try c.ints(name) ?? [0, 1, 2, 3]
            guard p.count == 4, Set(p) == Set(0..<4) else { throw KernelError("\(name) must be a permutation of 0..<4, got \(p)") }
            return p
        }
        qPerm = try perm("q_perm"); kPerm = try perm("k_perm"); vPerm = try perm("v_perm"); outPerm = try perm("out_perm")
        guard outPerm[3] == 3 else { throw KernelError("out_perm must keep the depth axis last, got \(outPerm)") }
        scale = try c.float("scale", 1)
    }

    /// Logical (b, h, s, d) sizes and element strides of a 4-D tensor read through `perm`.
    static func view(_ t: Tensor, _ perm: [Int], _ name: String) throws -> (shape: [Int], strides: [Int]) {
        guard t.dtype == .float32 else { throw KernelError("FusedAttention \(name) must be float32, got \(t.dtype)") }
        guard t.rank == 4 else { throw KernelError("FusedAttention \(name) must be 4-D, got \(t.shape)") }
        let st = Broadcast.strides(t.shape)
        return (perm.map { t.shape[$0] }, perm.map { st[$0] })
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let q = try inputs.required(0, "Q"), k = try inputs.required(1, "K"), v = try inputs.required(2, "V")
        let mask = inputs.optional(3)
        var (qs, qst) = try Self.view(q, qPerm, "Q")
        var (ks, kst) = try Self.view(k, kPerm, "K")
        var (vs, vst) = try Self.view(v, vPerm, "V")
        let sq = qs[2], d = qs[3], sk = ks[2], dv = vs[3]
        guard ks[3] == d, vs[2] == sk else {
            throw KernelError("FusedAttention shapes disagree: Q \(qs), K \(ks), V \(vs) (logical b, h, s, d)")
        }
        var dims = [1, 1]
        var maskDims: [Int] = []
        if let mask {
            guard mask.dtype == .float32, mask.rank <= 4 else { throw KernelError("FusedAttention mask must be float32 of rank <= 4, got \(mask.dtype) \(mask.shape)") }
            maskDims = Array(repeating: 1, count: 4 - mask.rank) + mask.shape
            guard maskDims[2] == 1 || maskDims[2] == sq, maskDims[3] == 1 || maskDims[3] == sk else {
                throw KernelError("FusedAttention mask \(mask.shape) does not broadcast to scores [\(sq), \(sk)]")
            }
        }
        for i in 0..<2 {
            let all = [qs[i], ks[i], vs[i]] + (maskDims.isEmpty ? [] : [maskDims[i]])
            let m = all.max() ?? 1
            guard all.allSatisfy({ $0 == m || $0 == 1 }) else { throw KernelError("FusedAttention batch/head sizes \(all) do not broadcast") }
            dims[i] = m
        }
        let bN = dims[0], hN = dims[1]
        for i in 0..<2 {
            if qs[i] == 1 { qst[i] = 0 }
            if ks[i] == 1 { kst[i] = 0 }
            if vs[i] == 1 { vst[i] = 0 }
        }
        qs[0] = bN; ks[0] = bN; vs[0] = bN
        var mst = [0, 0, 0, 0]
        if !maskDims.isEmpty {
            let st = Broadcast.strides(maskDims)
            for i in 0..<4 { mst[i] = maskDims[i] == 1 ? 0 : st[i] }
        }
        let logical = [bN, hN, sq, dv]
        let phys = outPerm.map { logical[$0] }
        let pst = Broadcast.strides(phys)
        var ost = [0, 0, 0, 0]
        for (i, a) in outPerm.enumerated() { ost[a] = pst[i] }
        let y = Tensor.uninitialized(.float32, shape: phys)
        if y.count == 0 { return [y] }
        let yp = y.mutablePointer(Float.self)
        if sk == 0 {
            yp.update(repeating: .nan, count: y.count)  // softmax over an empty row, as the unfused graph
            return [y]
        }
        let scale = self.scale
        let maskP = FusedPtr(p: mask.map { UnsafePointer($0.rawPointer.assumingMemoryBound(to: Float.self)) })
        try q.withBuffer(of: Float.self) { qb in
            try k.withBuffer(of: Float.self) { kb in
                try v.withBuffer(of: Float.self) { vb in
                    let qP = FusedPtr(p: qb.baseAddress), kP = FusedPtr(p: kb.baseAddress), vP = FusedPtr(p: vb.baseAddress)
                    let yP = FusedMutPtr(p: yp)
                    let (qst, kst, vst, mst, ost) = (qst, kst, vst, mst, ost)
                    ctx.parallelFor(bN * hN, cost: sq * sk * (d + dv) * 2) { range in
                        let scores = UnsafeMutablePointer<Float>.allocate(capacity: sq * sk)
                        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: max(sq * d, sk * d, sk * dv, 1))
                        defer { scores.deallocate(); tmp.deallocate() }
                        for u in range {
                            let b = u / hN, h = u % hN
                            if d == 0 {
                                scores.update(repeating: 0, count: sq * sk)
                            } else if let qb = qP.p, let kb = kP.p {
                                let a = Self.operand(qb + b * qst[0] + h * qst[1], rows: sq, cols: d, rs: qst[2], cs: qst[3], tmp: tmp)
                                // The K operand is copied (if at all) after A is packed by the GEMM below, so only one
                                // of them may use `tmp`: give K its own buffer when A needed one.
                                let aCopied: Bool
                                if case .raw(let p, _, _) = a { aCopied = p == UnsafePointer(tmp) } else { aCopied = false }
                                let kTmp = aCopied ? UnsafeMutablePointer<Float>.allocate(capacity: max(sk * d, 1)) : tmp
                                defer { if aCopied { kTmp.deallocate() } }
                                let bo = Self.operand(kb + b * kst[0] + h * kst[1], rows: d, cols: sk, rs: kst[3], cs: kst[2], tmp: kTmp)
                                SGEMM.run(m: sq, n: sk, k: d, alpha: scale, a: a, b: bo, c: scores, ldc: sk, threads: 1, pool: ctx.pool)
                            }
                            for i in 0..<sq {
                                let row = scores + i * sk
                                if let mp = maskP.p {
                                    let mr = mp + b * mst[0] + h * mst[1] + i * mst[2]
                                    for j in 0..<sk { row[j] += mr[j * mst[3]] }
                                }
                                var m = row[0]
                                for j in 1..<max(sk, 1) where row[j] > m { m = row[j] }
                                var s: Float = 0
                                for j in 0..<sk { let e = Float.nnExp(row[j] - m); row[j] = e; s += e }
                                let inv = 1 / s
                                for j in 0..<sk { row[j] *= inv }
                            }
                            let out = yP.p + b * ost[0] + h * ost[1]
                            if dv == 0 { continue }
                            guard let vb = vP.p else { continue }
                            let bo = Self.operand(vb + b * vst[0] + h * vst[1], rows: sk, cols: dv, rs: vst[2], cs: vst[3], tmp: tmp)
                            SGEMM.run(m: sq, n: dv, k: sk, a: .raw(UnsafePointer(scores), ld: sk, transposed: false), b: bo,
                                      c: out, ldc: ost[2], threads: 1, pool: ctx.pool)
                        }
                    }
                }
            }
        }
        return [y]
    }

    /// A strided rows × cols matrix as a GEMM operand: read in place when one of its axes is contiguous,
    /// else copied into `tmp` (rows·cols floats).
    static func operand(_ p: UnsafePointer<Float>, rows: Int, cols: Int, rs: Int, cs: Int,
                        tmp: UnsafeMutablePointer<Float>) -> GemmOperand {
        if cs == 1 && (rows == 1 || rs >= cols) { return .raw(p, ld: rows == 1 ? cols : rs, transposed: false) }
        if rs == 1 && (cols == 1 || cs >= rows) { return .raw(p, ld: cols == 1 ? rows : cs, transposed: true) }
        for i in 0..<rows { for j in 0..<cols { tmp[i * cols + j] = p[i * rs + j * cs] } }
        return .raw(UnsafePointer(tmp), ld: cols, transposed: false)
    }
}

/// ai.onyx.SkipLayerNormalization(X, Skip, Scale, B?) → Y: LayerNormalization(X + Skip) over the last axis in one
/// pass per row (the sum never goes to memory as a separate tensor). float32; `epsilon` as LayerNormalization.
/// Skip may broadcast to X (the sum is materialized first in that case).
struct SkipLayerNormOp: TensorKernel {
    let epsilon: Float

    init(_ c: NodeContext) throws { epsilon = try c.float("epsilon", 1e-5) }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        var x = try inputs.required(0, "X"), skip: Tensor? = try inputs.required(1, "Skip")
        let s = try inputs.required(2, "Scale"), b = inputs.optional(3)
        guard x.dtype == .float32, skip?.dtype == .float32, s.dtype == .float32, b?.dtype ?? .float32 == .float32 else {
            throw KernelError("SkipLayerNormalization needs float32 inputs")
        }
        if let sk = skip, sk.shape != x.shape {
            x = try fusedResidualFallback(x, sk, try FusedActivationSpec.none())
            skip = nil
        }
        guard x.rank >= 1 else { throw KernelError("SkipLayerNormalization needs X of rank >= 1") }
        let cols = x.shape[x.rank - 1], rows = cols == 0 ? 0 : x.count / cols
        func param(_ t: Tensor, _ name: String) throws -> [Float] {
            let v = try t.toArray(Float.self)
            if v.count == cols { return v }
            if v.count == 1 { return Array(repeating: v[0], count: cols) }
            throw KernelError("SkipLayerNormalization \(name) \(t.shape) must have \(cols) values")
        }
        let scale = try param(s, "Scale")
        let bias = try b.map { try param($0, "B") } ?? Array(repeating: 0, count: cols)
        let y = Tensor.uninitialized(.float32, shape: x.shape)
        if y.count == 0 { return [y] }
        let eps = epsilon
        let yP = FusedMutPtr(p: y.mutablePointer(Float.self))
        try x.withBuffer(of: Float.self) { xb in
            let xP = FusedPtr(p: xb.baseAddress)
            let sP = FusedPtr(p: skip.map { UnsafePointer($0.rawPointer.assumingMemoryBound(to: Float.self)) })
            ctx.parallelFor(rows, cost: cols * 6) { range in
                guard let xp = xP.p else { return }
                for r in range {
                    let xr = xp + r * cols, yr = yP.p + r * cols
                    var mean: Float = 0
                    if let sp = sP.p {
                        let sr = sp + r * cols
                        for j in 0..<cols { let t = xr[j] + sr[j]; yr[j] = t; mean += t }
                    } else {
                        for j in 0..<cols { yr[j] = xr[j]; mean += xr[j] }
                    }
                    mean /= Float(cols)
                    var sq: Float = 0
                    for j in 0..<cols { let t = yr[j] - mean; sq += t * t }
                    let inv = 1 / (sq / Float(cols) + eps).squareRoot()
                    for j in 0..<cols { yr[j] = (yr[j] - mean) * inv * scale[j] + bias[j] }
                }
            }
        }
        return [y]
    }
}
