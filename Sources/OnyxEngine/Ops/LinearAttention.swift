import Foundation
import OnyxTensor

/// LinearAttention (opset 27): recurrent linear attention over 3-D [B, T, H*D] inputs with a
/// [B, Hkv, Dk, Dv] state; update rules linear, gated (decay), delta (beta), gated_delta.
struct LinearAttentionOp: TensorKernel {
    let qHeads: Int
    let kvHeads: Int
    let scale: Float?
    let gating: Bool
    let delta: Bool

    init(_ c: NodeContext) throws {
        qHeads = try c.int("q_num_heads")
        kvHeads = try c.int("kv_num_heads")
        guard qHeads > 0, kvHeads > 0, qHeads % kvHeads == 0 else {
            throw KernelError("q_num_heads (\(qHeads)) must be a positive multiple of kv_num_heads (\(kvHeads))")
        }
        let s = try c.float("scale", 0)
        scale = s == 0 ? nil : s
        switch try c.string("update_rule", "gated_delta") {
        case "linear": gating = false; delta = false
        case "gated": gating = true; delta = false
        case "delta": gating = false; delta = true
        case "gated_delta": gating = true; delta = true
        case let r: throw KernelError("update_rule '\(r)' must be linear, gated, delta or gated_delta")
        }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let q = try inputs.required(0, "query"), k = try inputs.required(1, "key"), v = try inputs.required(2, "value")
        guard q.rank == 3, k.rank == 3, v.rank == 3 else { throw KernelError("query, key and value must have rank 3") }
        let B = q.shape[0], T = q.shape[1]
        guard k.shape[0] == B, v.shape[0] == B, k.shape[1] == T, v.shape[1] == T else {
            throw KernelError("query \(q.shape), key \(k.shape) and value \(v.shape) disagree on batch or length")
        }
        guard q.shape[2] % qHeads == 0, k.shape[2] % kvHeads == 0, v.shape[2] % kvHeads == 0 else {
            throw KernelError("hidden sizes are not divisible by the head counts")
        }
        let Dk = q.shape[2] / qHeads, Dv = v.shape[2] / kvHeads, Hq = qHeads, Hk = kvHeads
        guard k.shape[2] / Hk == Dk else { throw KernelError("key head size \(k.shape[2] / Hk) differs from query head size \(Dk)") }
        let qf = try FloatIO.load(q, "query"), kf = try FloatIO.load(k, "key"), vf = try FloatIO.load(v, "value")

        var decay: [Float]? = nil, decayPerKey = false
        if let d = inputs.optional(4) {
            guard gating else { throw KernelError("this update_rule takes no decay input") }
            guard d.rank == 3, d.shape[0] == B, d.shape[1] == T, d.shape[2] == Hk || d.shape[2] == Hk * Dk else {
                throw KernelError("decay has shape \(d.shape), expected [\(B), \(T), \(Hk) or \(Hk * Dk)]")
            }
            decayPerKey = d.shape[2] == Hk * Dk && Dk != 1
            decay = try FloatIO.load(d, "decay")
        } else if gating { throw KernelError("this update_rule needs the decay input") }
        var beta: [Float]? = nil, betaWidth = 1
        if let bt = inputs.optional(5) {
            guard delta else { throw KernelError("this update_rule takes no beta input") }
            guard bt.rank == 3, bt.shape[0] == B, bt.shape[1] == T, bt.shape[2] == Hk || bt.shape[2] == 1 else {
                throw KernelError("beta has shape \(bt.shape), expected [\(B), \(T), \(Hk) or 1]")
            }
            betaWidth = bt.shape[2]
            beta = try FloatIO.load(bt, "beta")
        } else if delta { throw KernelError("this update_rule needs the beta input") }

        var state = [Float](repeating: 0, count: B * Hk * Dk * Dv)
        var stateType = q.dtype
        if let p = inputs.optional(3) {
            guard p.shape == [B, Hk, Dk, Dv] else { throw KernelError("past_state has shape \(p.shape), expected \([B, Hk, Dk, Dv])") }
            state = try FloatIO.load(p, "past_state")
            stateType = p.dtype
        }
        let sc = scale ?? 1 / Float(Dk).squareRoot()
        let group = Hq / Hk
        var out = [Float](repeating: 0, count: B * T * Hq * Dv)
        var vt = [Float](repeating: 0, count: Dv)
        for b in 0..<B { for t in 0..<T {
            let row = b * T + t
            for h in 0..<Hk {
                let st = (b * Hk + h) * Dk * Dv
                let kOff = (row * Hk + h) * Dk, vOff = (row * Hk + h) * Dv
                if let decay {
                    for d in 0..<Dk {
                        let g = Foundation.exp(decayPerKey ? decay[row * Hk * Dk + h * Dk + d] : decay[row * (decay.count / (B * T)) + h])
                        for m in 0..<Dv { state[st + d * Dv + m] *= g }
                    }
                }
                for m in 0..<Dv { vt[m] = vf[vOff + m] }
                if let beta {
                    let bv = beta[row * betaWidth + (betaWidth == 1 ? 0 : h)]
                    for m in 0..<Dv {
                        var r: Float = 0
                        for d in 0..<Dk { r += state[st + d * Dv + m] * kf[kOff + d] }
                        vt[m] = bv * (vt[m] - r)
                    }
                }
                for d in 0..<Dk {
                    let kd = kf[kOff + d]
                    for m in 0..<Dv { state[st + d * Dv + m] += kd * vt[m] }
                }
                for g in 0..<group {
                    let hq = h * group + g
                    let qOff = (row * Hq + hq) * Dk, oOff = (row * Hq + hq) * Dv
                    for m in 0..<Dv {
                        var acc: Float = 0
                        for d in 0..<Dk { acc += qf[qOff + d] * state[st + d * Dv + m] }
                        out[oOff + m] = sc * acc
                    }
                }
            }
        } }
        return [try FloatIO.make(out, q.dtype, [B, T, Hq * Dv]), try FloatIO.make(state, stateType, [B, Hk, Dk, Dv])]
    }
}
