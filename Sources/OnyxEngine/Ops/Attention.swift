import Foundation
import OnyxTensor
import OnyxKernels

/// Attention (opset 23, 24, 25): scaled dot-product attention with 3-D or 4-D Q/K/V, GQA/MQA,
/// bool or additive masks, causal and sliding-window masking, KV cache (past/present),
/// `nonpad_kv_seqlen`, softcap and the optional QK output (modes 0–3).
/// Computes in Float; float16/bfloat16 intermediates are rounded to the input type where the
/// ONNX reference rounds them, so low-precision results match it.
struct AttentionOp: TensorKernel {
    let isCausal: Bool
    let scale: Float?
    let qHeads: Int?
    let kvHeads: Int?
    let softcap: Float
    let qkMode: Int
    let leftWindow: Int
    let rightWindow: Int
    /// softmax_precision given: softmax runs at (at least) float precision, not the input type's.
    let softmaxWide: Bool
    let outputCount: Int

    init(_ c: NodeContext) throws {
        isCausal = try c.int("is_causal", 0) != 0
        scale = c.has("scale") ? try c.float("scale", 1) : nil
        qHeads = c.has("q_num_heads") ? try c.int("q_num_heads") : nil
        kvHeads = c.has("kv_num_heads") ? try c.int("kv_num_heads") : nil
        softcap = try c.float("softcap", 0)
        qkMode = try c.int("qk_matmul_output_mode", 0)
        guard (0...3).contains(qkMode) else { throw KernelError("qk_matmul_output_mode \(qkMode) must be 0, 1, 2 or 3") }
        leftWindow = try c.int("left_window_size", -1)
        rightWindow = try c.int("right_window_size", -1)
        guard leftWindow >= -1, rightWindow >= -1 else {
            throw KernelError("left_window_size and right_window_size must be -1 or nonnegative")
        }
        if let p = c.has("softmax_precision") ? try c.int("softmax_precision") : nil {
            guard [1, 10, 11, 16].contains(p) else { throw KernelError("softmax_precision \(p) is not 1, 10, 11 or 16") }
            softmaxWide = p == 1 || p == 11
        } else {
            softmaxWide = false
        }
        if let h = qHeads, h <= 0 { throw KernelError("q_num_heads must be positive") }
        if let h = kvHeads, h <= 0 { throw KernelError("kv_num_heads must be positive") }
        outputCount = c.outputCount
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let q = try inputs.required(0, "Q"), k = try inputs.required(1, "K"), v = try inputs.required(2, "V")
        let dt = q.dtype
        guard FloatIO.supports(dt) else { throw KernelError("Q has type \(dt), expected a float type") }
        guard k.dtype == dt, v.dtype == dt else { throw KernelError("Q, K and V must have the same type") }
        guard q.rank == k.rank, q.rank == v.rank, q.rank == 3 || q.rank == 4 else {
            throw KernelError("Q, K and V must all be 3-D or all be 4-D (got ranks \(q.rank), \(k.rank), \(v.rank))")
        }
        let rank3 = q.rank == 3
        let B = q.shape[0]
        let Hq: Int, Hkv: Int, S: Int, D: Int, Ln: Int, Dv: Int
        if rank3 {
            guard let hq = qHeads, let hkv = kvHeads else { throw KernelError("3-D inputs need q_num_heads and kv_num_heads") }
            Hq = hq; Hkv = hkv
            S = q.shape[1]; Ln = k.shape[1]
            guard q.shape[2] % Hq == 0, k.shape[2] % Hkv == 0, v.shape[2] % Hkv == 0 else {
                throw KernelError("hidden sizes \(q.shape[2]), \(k.shape[2]), \(v.shape[2]) are not divisible by the head counts")
            }
            D = q.shape[2] / Hq
            guard k.shape[2] / Hkv == D else { throw KernelError("K head size \(k.shape[2] / Hkv) differs from Q head size \(D)") }
            Dv = v.shape[2] / Hkv
            guard v.shape[1] == Ln else { throw KernelError("K and V sequence lengths differ") }
        } else {
            Hq = q.shape[1]; S = q.shape[2]; D = q.shape[3]
            Hkv = k.shape[1]; Ln = k.shape[2]
            guard k.shape[3] == D else { throw KernelError("K head size \(k.shape[3]) differs from Q head size \(D)") }
            guard v.shape[1] == Hkv, v.shape[2] == Ln else { throw KernelError("V shape \(v.shape) does not match K \(k.shape)") }
            Dv = v.shape[3]
        }
        guard k.shape[0] == B, v.shape[0] == B else { throw KernelError("Q, K and V batch sizes differ") }
        guard Hkv > 0, Hq % Hkv == 0 else { throw KernelError("q heads \(Hq) is not a multiple of kv heads \(Hkv)") }

        // KV cache.
        let pk = inputs.optional(4), pv = inputs.optional(5)
        guard (pk == nil) == (pv == nil) else { throw KernelError("past_key and past_value must be given together") }
        if let pk, let pv {
            guard pk.rank == 4, pv.rank == 4, pk.shape[0] == B, pk.shape[1] == Hkv, pk.shape[3] == D,
                  pv.shape[0] == B, pv.shape[1] == Hkv, pv.shape[3] == Dv, pv.shape[2] == pk.shape[2] else {
                throw KernelError("past_key \(pk.shape) / past_value \(pv.shape) do not match K and V")
            }
            guard pk.dtype == dt, pv.dtype == dt else { throw KernelError("past_key/past_value type differs from K") }
        }
        let P = pk?.shape[2] ?? 0
        let L = P + Ln
        let nonpad: [Int]? = try inputs.optional(6).map { np in
            guard pk == nil else { throw KernelError("nonpad_kv_seqlen cannot be combined with past_key/past_value") }
            let vals = np.intValues()
            guard vals.count == B else { throw KernelError("nonpad_kv_seqlen has \(vals.count) values, expected \(B)") }
            return vals
        }

        let round = AttentionOp.rounding(dt)
        // Q as [B, Hq, S, D], K/V with the cache as [B, Hkv, L, D|Dv].
        let qf = AttentionOp.toHeads(try FloatIO.load(q, "Q"), rank3: rank3, B: B, H: Hq, S: S, D: D)
        let kNew = AttentionOp.toHeads(try FloatIO.load(k, "K"), rank3: rank3, B: B, H: Hkv, S: Ln, D: D)
        let vNew = AttentionOp.toHeads(try FloatIO.load(v, "V"), rank3: rank3, B: B, H: Hkv, S: Ln, D: Dv)
        let kAll = try AttentionOp.concat(pk.map { try FloatIO.load($0, "past_key") }, P, kNew, Ln, B * Hkv, D)
        let vAll = try AttentionOp.concat(pv.map { try FloatIO.load($0, "past_value") }, P, vNew, Ln, B * Hkv, Dv)

        let sc = scale ?? (1 / Float(D).squareRoot())
        let sq = round(sc.squareRoot())
        let qs = qf.map { round($0 * sq) }
        let ks = kAll.map { round($0 * sq) }

        let mask = try AttentionMask(inputs.optional(3), B: B, H: Hq, S: S, L: L)

        var y = [Float](repeating: 0, count: B * Hq * S * Dv)
        let wantQK = outputCount > 3
        var qkOut = [Float](repeating: 0, count: wantQK ? B * Hq * S * L : 0)
        let group = Hq / Hkv
        let cfg = self
        y.withUnsafeMutableBufferPointer { yb in
            qkOut.withUnsafeMutableBufferPointer { qb in
                guard let ya = yb.baseAddress else { return }  // empty output: nothing to compute
                let yp = SharedFloatPointer(p: ya)
                let qp = wantQK ? qb.baseAddress.map { SharedFloatPointer(p: $0) } : nil
                ctx.parallelFor(B * Hq, cost: S * L * (D + Dv) * 2) { range in
                    var scores = [Float](repeating: 0, count: S * L)
                    var bias = [Float](repeating: 0, count: S * L)
                    for task in range {
                        let b = task / Hq, h = task % Hq, kvh = h / group
                        let offset = P > 0 ? P : (nonpad.map { $0[b] - S } ?? 0)
                        mask.fill(&bias, b: b, h: h, S: S, L: L, causal: cfg.isCausal, offset: offset,
                                  left: cfg.leftWindow, right: cfg.rightWindow, nonpad: nonpad?[b])
                        cfg.head(q: qs, k: ks, v: vAll, qOff: task * S * D, kOff: (b * Hkv + kvh) * L * D,
                                 vOff: (b * Hkv + kvh) * L * Dv, S: S, L: L, D: D, Dv: Dv,
                                 bias: &bias, scores: &scores, round: round, dtype: dt,
                                 y: yp.p + (rank3 ? b * S * Hq * Dv + h * Dv : task * S * Dv),
                                 ldy: rank3 ? Hq * Dv : Dv,
                                 qk: qp.map { $0.p + task * S * L })
                    }
                }
            }
        }
        let yShape = rank3 ? [B, S, Hq * Dv] : [B, Hq, S, Dv]
        var outs = [try FloatIO.make(y, dt, yShape)]
        if outputCount > 1 {
            outs.append(try FloatIO.make(kAll, dt, [B, Hkv, L, D]))
            outs.append(try FloatIO.make(vAll, dt, [B, Hkv, L, Dv]))
        }
        if wantQK { outs.append(try FloatIO.make(qkOut, dt, [B, Hq, S, L])) }
        return outs
    }

    /// One (batch, head): scores = Qs·Ksᵀ, softcap, + bias, softmax, Y = P·V.
    private func head(q: [Float], k: [Float], v: [Float], qOff: Int, kOff: Int, vOff: Int,
                      S: Int, L: Int, D: Int, Dv: Int, bias: inout [Float], scores: inout [Float],
                      round: @escaping (Float) -> Float, dtype: DType, y: UnsafeMutablePointer<Float>, ldy: Int,
                      qk: UnsafeMutablePointer<Float>?) {
        q.withUnsafeBufferPointer { qb in
            k.withUnsafeBufferPointer { kb in
                scores.withUnsafeMutableBufferPointer { sb in
                    guard let qa = qb.baseAddress, let ka = kb.baseAddress, let sa = sb.baseAddress else { return }
                    SGEMM.gemm(transA: false, transB: true, m: S, n: L, k: D, a: qa + qOff, lda: D,
                               b: ka + kOff, ldb: D, c: sa, ldc: L)
                }
            }
        }
        let n = S * L
        for i in 0..<n { scores[i] = round(scores[i]) }
        if let qk, qkMode == 0 { for i in 0..<n { qk[i] = scores[i] } }
        if softcap > 0 {
            for i in 0..<n { scores[i] = round(softcap * round(Foundation.tanh(round(scores[i] / softcap)))) }
        }
        if let qk, qkMode == 1 { for i in 0..<n { qk[i] = scores[i] } }
        for i in 0..<n { scores[i] = round(scores[i] + bias[i]) }
        if let qk, qkMode == 2 { for i in 0..<n { qk[i] = scores[i] } }
        let sround: (Float) -> Float = softmaxWide ? { $0 } : round
        let roundedSum = dtype == .bfloat16
        for i in 0..<S {
            let row = i * L
            var allMasked = true
            for j in 0..<L where bias[row + j] != -Float.infinity { allMasked = false; break }
            if allMasked {
                for j in 0..<L { scores[row + j] = 0 }
                continue
            }
            var m = -Float.infinity, hasNaN = false
            for j in 0..<L {
                let x = scores[row + j]
                if x.isNaN { hasNaN = true } else if x > m { m = x }
            }
            if hasNaN {
                for j in 0..<L { scores[row + j] = .nan }
                continue
            }
            if m == -Float.infinity { m = 0 }
            var sum: Float = 0
            for j in 0..<L {
                let e = sround(Foundation.exp(sround(scores[row + j] - m)))
                scores[row + j] = e
                // numpy sums float16 in float; ml_dtypes sums bfloat16 in bfloat16.
                sum = roundedSum ? sround(sum + e) : sum + e
            }
            sum = sround(sum)
            if sum == 0 { sum = 1 }
            for j in 0..<L { scores[row + j] = round(sround(scores[row + j] / sum)) }
        }
        if let qk, qkMode == 3 { for i in 0..<n { qk[i] = scores[i] } }
        scores.withUnsafeBufferPointer { sb in
            v.withUnsafeBufferPointer { vb in
                guard let sa = sb.baseAddress, let va = vb.baseAddress else { return }
                SGEMM.gemm(transA: false, transB: false, m: S, n: Dv, k: L, a: sa, lda: L,
                           b: va + vOff, ldb: Dv, c: y, ldc: ldy)
            }
        }
        for i in 0..<S { for j in 0..<Dv { y[i * ldy + j] = round(y[i * ldy + j]) } }
    }

    /// Rounding of intermediates to the input type (identity for float32/float64).
    static func rounding(_ dt: DType) -> @Sendable (Float) -> Float {
        switch dt {
        case .float16: return { Float(Float16($0)) }
        case .bfloat16: return { BFloat16($0).float }
        default: return { $0 }
        }
    }

    /// [B, S, H*D] → [B, H, S, D] for 3-D inputs; 4-D inputs are already in that layout.
    static func toHeads(_ x: [Float], rank3: Bool, B: Int, H: Int, S: Int, D: Int) -> [Float] {
        if !rank3 { return x }
        var out = [Float](repeating: 0, count: x.count)
        for b in 0..<B { for s in 0..<S { for h in 0..<H {
            let src = ((b * S + s) * H + h) * D, dst = ((b * H + h) * S + s) * D
            for d in 0..<D { out[dst + d] = x[src + d] }
        } } }
        return out
    }

    /// Concatenates past [BH, P, D] and new [BH, Ln, D] along the sequence axis.
    static func concat(_ past: [Float]?, _ P: Int, _ new: [Float], _ Ln: Int, _ BH: Int, _ D: Int) throws -> [Float] {
        guard let past else { return new }
        guard past.count == BH * P * D, new.count == BH * Ln * D else { throw KernelError("internal: cache size mismatch") }
        var out = [Float](repeating: 0, count: BH * (P + Ln) * D)
        for i in 0..<BH {
            let dst = i * (P + Ln) * D
            for t in 0..<(P * D) { out[dst + t] = past[i * P * D + t] }
            for t in 0..<(Ln * D) { out[dst + P * D + t] = new[i * Ln * D + t] }
        }
        return out
    }
}

/// The attention mask as an additive Float bias, broadcast to (B, H, S, L) on demand.
struct AttentionMask: Sendable {
    let values: [Float]?
    let shape: [Int]   // rank 4

    init(_ m: Tensor?, B: Int, H: Int, S: Int, L: Int) throws {
        guard let m else { values = nil; shape = [1, 1, 1, 1]; return }
        guard (1...4).contains(m.rank) else { throw KernelError("attn_mask has rank \(m.rank), expected 1 to 4") }
        let s = Array(repeating: 1, count: 4 - m.rank) + m.shape
        guard s[0] == 1 || s[0] == B, s[1] == 1 || s[1] == H, s[2] == 1 || s[2] == S, s[3] <= L else {
            throw KernelError("attn_mask shape \(m.shape) does not broadcast to \([B, H, S, L])")
        }
        if m.dtype == .bool {
            values = try m.withBuffer(of: Bool.self) { $0.map { $0 ? 0 : -Float.infinity } }
        } else {
            values = try FloatIO.load(m, "attn_mask")
        }
        shape = s
    }

    /// Fills `bias` (S×L) for batch `b`, head `h`: mask + causal + window + padding, each masked cell -inf.
    func fill(_ bias: inout [Float], b: Int, h: Int, S: Int, L: Int, causal: Bool, offset: Int,
              left: Int, right: Int, nonpad: Int?) {
        let s0 = shape[0] == 1 ? 0 : b, s1 = shape[1] == 1 ? 0 : h
        let ml = shape[3]
        for i in 0..<S {
            let mrow = ((s0 * shape[1] + s1) * shape[2] + (shape[2] == 1 ? 0 : i)) * ml
            for j in 0..<L {
                var x: Float = 0
                if let values { x = j < ml ? values[mrow + j] : -Float.infinity }
                if causal && j > i + offset { x += -Float.infinity }
                let diff = i + offset - j
                if left >= 0 && diff > left { x += -Float.infinity }
                if right >= 0 && -diff > right { x += -Float.infinity }
                if let nonpad, j >= nonpad { x += -Float.infinity }
                bias[i * L + j] = x
            }
        }
    }
}
