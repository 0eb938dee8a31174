import Foundation
import OnyxTensor
import OnyxKernels

/// RotaryEmbedding (opset 23): rotates the first `rotary_embedding_dim` features of each head by the
/// cached cos/sin of its position; 4-D input [B, H, S, D] or 3-D [B, S, H*D] with `num_heads`.
struct RotaryEmbeddingOp: TensorKernel {
    let interleaved: Bool
    let rotaryDim: Int
    let numHeads: Int

    init(_ c: NodeContext) throws {
        interleaved = try c.int("interleaved", 0) != 0
        rotaryDim = try c.int("rotary_embedding_dim", 0)
        numHeads = try c.int("num_heads", 0)
        guard rotaryDim >= 0, numHeads >= 0 else { throw KernelError("rotary_embedding_dim and num_heads must be >= 0") }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        let cosT = try inputs.required(1, "cos_cache"), sinT = try inputs.required(2, "sin_cache")
        guard x.rank == 3 || x.rank == 4 else { throw KernelError("input has rank \(x.rank), expected 3 or 4") }
        let B = x.shape[0]
        let S: Int, H: Int, D: Int
        if x.rank == 4 {
            H = x.shape[1]; S = x.shape[2]; D = x.shape[3]
        } else {
            guard numHeads > 0, x.shape[2] % numHeads == 0 else {
                throw KernelError("3-D input needs num_heads dividing the hidden size \(x.shape[2])")
            }
            S = x.shape[1]; H = numHeads; D = x.shape[2] / numHeads
        }
        let rd = rotaryDim == 0 ? D : rotaryDim
        guard rd <= D, rd % 2 == 0 else { throw KernelError("rotary_embedding_dim \(rd) must be even and <= head size \(D)") }
        let half = rd / 2
        guard cosT.shape == sinT.shape, cosT.shape.last == half else {
            throw KernelError("cos_cache \(cosT.shape) / sin_cache \(sinT.shape) must end in rotary_embedding_dim/2 = \(half)")
        }
        // Row of the caches for (b, s).
        var rows = [Int](repeating: 0, count: B * S)
        if let pid = inputs.optional(3) {
            guard pid.shape == [B, S], cosT.rank == 2 else {
                throw KernelError("position_ids \(pid.shape) must be [\(B), \(S)] with 2-D caches")
            }
            let p = pid.intValues()
            for i in 0..<(B * S) {
                guard p[i] >= 0, p[i] < cosT.shape[0] else { throw KernelError("position id \(p[i]) is out of range") }
                rows[i] = p[i]
            }
        } else {
            guard cosT.shape == [B, S, half] else { throw KernelError("without position_ids the caches must be [\(B), \(S), \(half)]") }
            for i in 0..<(B * S) { rows[i] = i }
        }
        let xf = try FloatIO.load(x, "input"), cs = try FloatIO.load(cosT, "cos_cache"), sn = try FloatIO.load(sinT, "sin_cache")
        var out = xf
        let rank4 = x.rank == 4
        for b in 0..<B { for s in 0..<S {
            let crow = rows[b * S + s] * half
            for h in 0..<H {
                let base = rank4 ? ((b * H + h) * S + s) * D : ((b * S + s) * H + h) * D
                for i in 0..<half {
                    let i1 = interleaved ? base + 2 * i : base + i
                    let i2 = interleaved ? base + 2 * i + 1 : base + i + half
                    let x1 = xf[i1], x2 = xf[i2], c = cs[crow + i], sv = sn[crow + i]
                    out[i1] = c * x1 - sv * x2
                    out[i2] = sv * x1 + c * x2
                }
            }
        } }
        return [try FloatIO.make(out, x.dtype, x.shape)]
    }
}

/// SwiGLU (opset 28): a · sigmoid(alpha · a) · b, same shapes.
struct SwiGLUOp: TensorKernel {
    let alpha: Float
    init(_ c: NodeContext) throws { alpha = try c.float("alpha", 1) }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let a = try inputs.required(0, "A"), b = try inputs.required(1, "B")
        guard a.shape == b.shape, a.dtype == b.dtype else {
            throw KernelError("A \(a.dtype)\(a.shape) and B \(b.dtype)\(b.shape) must have the same type and shape")
        }
        let af = try FloatIO.load(a, "A"), bf = try FloatIO.load(b, "B")
        let round = AttentionOp.rounding(a.dtype)
        var out = [Float](repeating: 0, count: af.count)
        for i in 0..<af.count {
            let sig = round(1 / (1 + Foundation.exp(-alpha * af[i])))
            out[i] = round(af[i] * sig) * bf[i]
        }
        return [try FloatIO.make(out, a.dtype, a.shape)]
    }
}

/// CausalConvWithState (opset 27): depthwise causal 1-D convolution over [B, C, L] with a carried
/// state of the last k-1 inputs, optional bias and SiLU.
struct CausalConvWithStateOp: TensorKernel {
    let silu: Bool
    init(_ c: NodeContext) throws {
        switch try c.string("activation", "none") {
        case "none": silu = false
        case "silu", "swish": silu = true
        case let a: throw KernelError("activation '\(a)' must be none, silu or swish")
        }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input"), w = try inputs.required(1, "weight")
        guard x.rank == 3, w.rank == 3 else { throw KernelError("input and weight must have rank 3") }
        let B = x.shape[0], C = x.shape[1], L = x.shape[2], K = w.shape[2]
        guard w.shape[0] == C, w.shape[1] == 1, K >= 1 else { throw KernelError("weight has shape \(w.shape), expected [\(C), 1, k]") }
        let xf = try FloatIO.load(x, "input"), wf = try FloatIO.load(w, "weight")
        var bias = [Float](repeating: 0, count: C)
        if let b = inputs.optional(2) {
            guard b.count == C else { throw KernelError("bias has \(b.count) values, expected \(C)") }
            bias = try FloatIO.load(b, "bias")
        }
        var past = [Float](repeating: 0, count: B * C * (K - 1))
        if let p = inputs.optional(3) {
            guard p.shape == [B, C, K - 1] else { throw KernelError("past_state has shape \(p.shape), expected \([B, C, K - 1])") }
            past = try FloatIO.load(p, "past_state")
        }
        let P = L + K - 1
        var out = [Float](repeating: 0, count: B * C * L)
        var state = [Float](repeating: 0, count: B * C * (K - 1))
        var padded = [Float](repeating: 0, count: P)
        let round = AttentionOp.rounding(x.dtype)
        for b in 0..<B { for c in 0..<C {
            let bc = b * C + c
            for j in 0..<(K - 1) { padded[j] = past[bc * (K - 1) + j] }
            for t in 0..<L { padded[K - 1 + t] = xf[bc * L + t] }
            for t in 0..<L {
                var acc = bias[c]
                for j in 0..<K { acc += wf[c * K + j] * padded[t + j] }
                if silu {
                    let v = round(acc)
                    acc = v / (1 + Foundation.exp(-v))
                }
                out[bc * L + t] = acc
            }
            for j in 0..<(K - 1) { state[bc * (K - 1) + j] = padded[P - (K - 1) + j] }
        } }
        return [try FloatIO.make(out, x.dtype, [B, C, L]), try FloatIO.make(state, x.dtype, [B, C, K - 1])]
    }
}

/// FlexAttention (ai.onnx.preview, version 1): 4-D scaled dot-product attention whose scores and
/// probabilities may be rewritten by the `score_mod` / `prob_mod` subgraphs (each maps the whole
/// [B, H, L, S] tensor, in the softmax precision, to a tensor of the same shape).
struct FlexAttentionOp: Kernel {
    let scale: Float?
    let scoreMod: CompiledGraph?
    let probMod: CompiledGraph?
    let softmaxPrecision: DType?
    let explicitCount: Int

    init(_ c: NodeContext) throws {
        scale = c.has("scale") ? try c.float("scale", 1) : nil
        scoreMod = try c.graph("score_mod") != nil ? try c.subgraph("score_mod") : nil
        probMod = try c.graph("prob_mod") != nil ? try c.subgraph("prob_mod") : nil
        if c.has("softmax_precision") {
            let p = try c.int("softmax_precision")
            guard let d = DType(rawValue: p), FloatIO.supports(d) else { throw KernelError("softmax_precision \(p) is not a float type") }
            softmaxPrecision = d
        } else {
            softmaxPrecision = nil
        }
        explicitCount = c.inputCount
    }

    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        func tensor(_ i: Int, _ name: String) throws -> Tensor {
            guard i < inputs.count, let t = inputs[i]?.tensor else { throw KernelError("missing required input '\(name)'") }
            return t
        }
        let q = try tensor(0, "Q"), k = try tensor(1, "K"), v = try tensor(2, "V")
        guard q.rank == 4, k.rank == 4, v.rank == 4 else { throw KernelError("FlexAttention needs 4-D Q, K and V") }
        let B = q.shape[0], Hq = q.shape[1], L = q.shape[2], E = q.shape[3]
        let Hkv = k.shape[1], S = k.shape[2], Ev = v.shape[3]
        guard k.shape[0] == B, v.shape[0] == B, k.shape[3] == E, v.shape[1] == Hkv, v.shape[2] == S else {
            throw KernelError("shapes Q \(q.shape), K \(k.shape), V \(v.shape) do not match")
        }
        guard Hkv > 0, Hq % Hkv == 0 else { throw KernelError("q heads \(Hq) is not a multiple of kv heads \(Hkv)") }
        let outer = try SubgraphSupport.outer(inputs, explicit: explicitCount)
        let round = AttentionOp.rounding(q.dtype)
        let sq = round((scale ?? 1 / Float(E).squareRoot()).squareRoot())
        let qs = try FloatIO.load(q, "Q").map { round($0 * sq) }
        let ks = try FloatIO.load(k, "K").map { round($0 * sq) }
        let vf = try FloatIO.load(v, "V")
        let computeType = softmaxPrecision ?? (q.dtype == .float64 ? .float64 : .float32)
        let cround = AttentionOp.rounding(computeType)
        let group = Hq / Hkv
        var scores = [Float](repeating: 0, count: B * Hq * L * S)
        scores.withUnsafeMutableBufferPointer { sb in
            qs.withUnsafeBufferPointer { qb in ks.withUnsafeBufferPointer { kb in
                guard let sa = sb.baseAddress, let qa = qb.baseAddress, let ka = kb.baseAddress else { return }
                for bh in 0..<(B * Hq) {
                    let b = bh / Hq, kvh = (bh % Hq) / group
                    SGEMM.gemm(transA: false, transB: true, m: L, n: S, k: E, a: qa + bh * L * E, lda: E,
                               b: ka + (b * Hkv + kvh) * S * E, ldb: E, c: sa + bh * L * S, ldc: S)
                }
            } }
        }
        for i in 0..<scores.count { scores[i] = cround(round(scores[i])) }
        let shape = [B, Hq, L, S]
        if let scoreMod { scores = try FlexAttentionOp.apply(scoreMod, scores, shape, computeType, outer, ctx) }
        for r in 0..<(B * Hq * L) {
            let o = r * S
            var m = -Float.infinity
            for j in 0..<S { m = max(m, scores[o + j]) }
            var sum: Float = 0
            for j in 0..<S { let e = cround(Foundation.exp(cround(scores[o + j] - m))); scores[o + j] = e; sum += e }
            sum = cround(sum)
            for j in 0..<S { scores[o + j] = cround(scores[o + j] / sum) }
        }
        if let probMod { scores = try FlexAttentionOp.apply(probMod, scores, shape, computeType, outer, ctx) }
        var y = [Float](repeating: 0, count: B * Hq * L * Ev)
        y.withUnsafeMutableBufferPointer { yb in
            scores.withUnsafeBufferPointer { sb in vf.withUnsafeBufferPointer { vb in
                guard let ya = yb.baseAddress, let sa = sb.baseAddress, let va = vb.baseAddress else { return }
                for bh in 0..<(B * Hq) {
                    let b = bh / Hq, kvh = (bh % Hq) / group
                    SGEMM.gemm(transA: false, transB: false, m: L, n: Ev, k: S, a: sa + bh * L * S, lda: S,
                               b: va + (b * Hkv + kvh) * S * Ev, ldb: Ev, c: ya + bh * L * Ev, ldc: Ev)
                }
            } }
        }
        return [.tensor(try FloatIO.make(y, v.dtype, [B, Hq, L, Ev]))]
    }

    /// Runs a score/prob modifier subgraph on the whole tensor.
    static func apply(_ g: CompiledGraph, _ values: [Float], _ shape: [Int], _ dt: DType, _ outer: [Value],
                      _ ctx: RunContext) throws -> [Float] {
        let outs = try g.run(inputs: [.tensor(try FloatIO.make(values, dt, shape))], outer: outer, context: ctx)
        guard outs.count == 1, let t = outs[0].tensor, t.shape == shape else {
            throw KernelError("modifier subgraph must return one tensor of shape \(shape)")
        }
        return try FloatIO.load(t, "modifier output")
    }
}
