import Foundation
import OnyxTensor
import OnyxKernels

/// RNN, GRU and LSTM (opset 7, 14, 22): forward/reverse/bidirectional, activations with alpha/beta,
/// clip, input_forget, linear_before_reset, layout 0/1, sequence_lens, initial_h/initial_c, peepholes.
/// Steps past a batch entry's sequence length give zero Y and leave its state unchanged.
/// Computes in Float (float64 inputs lose precision).
struct RecurrentOp: TensorKernel {
    enum Kind: Sendable { case rnn, gru, lstm }
    let kind: Kind
    let gates: Int
    let hiddenSize: Int?
    let directions: [Bool]   // per direction: reversed?
    let activations: [[RecurrentActivation]]  // per direction: f (, g (, h))
    let clip: Float?
    let inputForget: Bool
    let linearBeforeReset: Bool
    let layout: Int
    let outputCount: Int

    init(_ c: NodeContext, kind: Kind) throws {
        self.kind = kind
        gates = kind == .rnn ? 1 : kind == .gru ? 3 : 4
        hiddenSize = c.has("hidden_size") ? try c.int("hidden_size") : nil
        if let h = hiddenSize, h <= 0 { throw KernelError("hidden_size must be positive") }
        switch try c.string("direction", "forward") {
        case "forward": directions = [false]
        case "reverse": directions = [true]
        case "bidirectional": directions = [false, true]
        case let d: throw KernelError("direction '\(d)' must be forward, reverse or bidirectional")
        }
        let perDir = kind == .rnn ? 1 : kind == .gru ? 2 : 3
        let defaults = kind == .rnn ? ["Tanh"] : kind == .gru ? ["Sigmoid", "Tanh"] : ["Sigmoid", "Tanh", "Tanh"]
        var names = try c.strings("activations") ?? []
        if names.isEmpty { names = Array(repeating: defaults, count: directions.count).flatMap { $0 } }
        if names.count == perDir && directions.count == 2 { names += names }
        guard names.count == perDir * directions.count else {
            throw KernelError("activations has \(names.count) entries, expected \(perDir * directions.count)")
        }
        let alphas = try c.floats("activation_alpha") ?? [], betas = try c.floats("activation_beta") ?? []
        var ai = 0, bi = 0
        var acts: [RecurrentActivation] = []
        for n in names {
            var a: Float? = nil, b: Float? = nil
            if RecurrentActivation.usesAlpha(n), ai < alphas.count { a = alphas[ai]; ai += 1 }
            if RecurrentActivation.usesBeta(n), bi < betas.count { b = betas[bi]; bi += 1 }
            acts.append(try RecurrentActivation(name: n, alpha: a, beta: b))
        }
        activations = (0..<directions.count).map { Array(acts[($0 * perDir)..<(($0 + 1) * perDir)]) }
        clip = c.has("clip") ? try c.float("clip", 0) : nil
        if let cl = clip, cl <= 0 { throw KernelError("clip must be positive") }
        inputForget = try c.int("input_forget", 0) != 0
        linearBeforeReset = try c.int("linear_before_reset", 0) != 0
        layout = try c.int("layout", 0)
        guard layout == 0 || layout == 1 else { throw KernelError("layout must be 0 or 1") }
        outputCount = c.outputCount
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), w = try inputs.required(1, "W"), r = try inputs.required(2, "R")
        guard FloatIO.supports(x.dtype) else { throw KernelError("X has type \(x.dtype), expected a float type") }
        guard x.rank == 3, w.rank == 3, r.rank == 3 else { throw KernelError("X, W and R must have rank 3") }
        let dirs = directions.count, G = gates
        let T = layout == 0 ? x.shape[0] : x.shape[1]
        let Bt = layout == 0 ? x.shape[1] : x.shape[0]
        let I = x.shape[2]
        let H = hiddenSize ?? r.shape[2]
        guard w.shape == [dirs, G * H, I] else { throw KernelError("W has shape \(w.shape), expected \([dirs, G * H, I])") }
        guard r.shape == [dirs, G * H, H] else { throw KernelError("R has shape \(r.shape), expected \([dirs, G * H, H])") }

        // X as [T, Bt, I].
        var xf = try FloatIO.load(x, "X")
        if layout == 1 { xf = RecurrentOp.swap01(xf, Bt, T, I) }
        let wf = try FloatIO.load(w, "W"), rf = try FloatIO.load(r, "R")
        var bias = [Float](repeating: 0, count: dirs * 2 * G * H)
        if let b = inputs.optional(3) {
            guard b.shape == [dirs, 2 * G * H] else { throw KernelError("B has shape \(b.shape), expected \([dirs, 2 * G * H])") }
            bias = try FloatIO.load(b, "B")
        }
        var lens = Array(repeating: T, count: Bt)
        if let sl = inputs.optional(4) {
            let v = sl.intValues()
            guard v.count == Bt, v.allSatisfy({ $0 >= 0 && $0 <= T }) else {
                throw KernelError("sequence_lens \(v) must have \(Bt) values in 0...\(T)")
            }
            lens = v
        }
        func state(_ i: Int, _ name: String) throws -> [Float] {
            guard let t = inputs.optional(i) else { return [Float](repeating: 0, count: dirs * Bt * H) }
            let expected = layout == 0 ? [dirs, Bt, H] : [Bt, dirs, H]
            guard t.shape == expected else { throw KernelError("\(name) has shape \(t.shape), expected \(expected)") }
            let v = try FloatIO.load(t, name)
            return layout == 0 ? v : RecurrentOp.swap01(v, Bt, dirs, H)
        }
        let h0 = try state(5, "initial_h")
        let c0 = kind == .lstm ? try state(6, "initial_c") : []
        var peep = [Float](repeating: 0, count: dirs * 3 * H)
        if kind == .lstm, let p = inputs.optional(7) {
            guard p.shape == [dirs, 3 * H] else { throw KernelError("P has shape \(p.shape), expected \([dirs, 3 * H])") }
            peep = try FloatIO.load(p, "P")
        }

        var y = [Float](repeating: 0, count: T * dirs * Bt * H)   // [T, dirs, Bt, H]
        var yh = [Float](repeating: 0, count: dirs * Bt * H)
        var yc = [Float](repeating: 0, count: dirs * Bt * H)
        for d in 0..<dirs {
            let res = try direction(d, xf: xf, w: Array(wf[(d * G * H * I)..<((d + 1) * G * H * I)]),
                                    r: Array(rf[(d * G * H * H)..<((d + 1) * G * H * H)]),
                                    b: Array(bias[(d * 2 * G * H)..<((d + 1) * 2 * G * H)]),
                                    p: Array(peep[(d * 3 * H)..<((d + 1) * 3 * H)]),
                                    h0: Array(h0[(d * Bt * H)..<((d + 1) * Bt * H)]),
                                    c0: kind == .lstm ? Array(c0[(d * Bt * H)..<((d + 1) * Bt * H)]) : [],
                                    lens: lens, T: T, Bt: Bt, I: I, H: H, ctx: ctx)
            for t in 0..<T { for k in 0..<(Bt * H) { y[(t * dirs + d) * Bt * H + k] = res.y[t * Bt * H + k] } }
            for k in 0..<(Bt * H) { yh[d * Bt * H + k] = res.h[k] }
            if kind == .lstm { for k in 0..<(Bt * H) { yc[d * Bt * H + k] = res.c[k] } }
        }
        let dt = x.dtype
        var outs: [Tensor] = []
        if layout == 0 {
            outs.append(try FloatIO.make(y, dt, [T, dirs, Bt, H]))
            if outputCount > 1 { outs.append(try FloatIO.make(yh, dt, [dirs, Bt, H])) }
            if outputCount > 2 { outs.append(try FloatIO.make(yc, dt, [dirs, Bt, H])) }
        } else {
            // [T, dirs, Bt, H] → [Bt, T, dirs, H]; [dirs, Bt, H] → [Bt, dirs, H].
            var yt = [Float](repeating: 0, count: y.count)
            for t in 0..<T { for d in 0..<dirs { for b in 0..<Bt { for k in 0..<H {
                yt[((b * T + t) * dirs + d) * H + k] = y[((t * dirs + d) * Bt + b) * H + k]
            } } } }
            outs.append(try FloatIO.make(yt, dt, [Bt, T, dirs, H]))
            if outputCount > 1 { outs.append(try FloatIO.make(RecurrentOp.swap01(yh, dirs, Bt, H), dt, [Bt, dirs, H])) }
            if outputCount > 2 { outs.append(try FloatIO.make(RecurrentOp.swap01(yc, dirs, Bt, H), dt, [Bt, dirs, H])) }
        }
        return outs
    }

    /// One direction over the whole sequence. Returns Y [T, Bt, H], final H and C [Bt, H].
    private func direction(_ d: Int, xf: [Float], w: [Float], r: [Float], b: [Float], p: [Float],
                           h0: [Float], c0: [Float], lens: [Int], T: Int, Bt: Int, I: Int, H: Int,
                           ctx: RunContext) throws -> (y: [Float], h: [Float], c: [Float]) {
        let G = gates, GH = G * H
        let reversed = directions[d]
        let acts = activations[d]
        // XW[t*Bt + b] = x · Wᵀ + Wb (all time steps at once).
        var xw = [Float](repeating: 0, count: T * Bt * GH)
        xf.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in xw.withUnsafeMutableBufferPointer { ob in
            guard let xa = xb.baseAddress, let wa = wb.baseAddress, let oa = ob.baseAddress else { return }
            SGEMM.gemm(transA: false, transB: true, m: T * Bt, n: GH, k: I, a: xa, lda: I, b: wa, ldb: I,
                       c: oa, ldc: GH, threads: ctx.threads, pool: ctx.pool)
        } } }
        for row in 0..<(T * Bt) { for g in 0..<GH { xw[row * GH + g] += b[g] } }
        let rb = Array(b[GH...])

        var hPrev = h0, cPrev = c0
        var y = [Float](repeating: 0, count: T * Bt * H)
        var hr = [Float](repeating: 0, count: Bt * GH)
        var rh = [Float](repeating: 0, count: Bt * H)     // GRU: (r ⊙ H) and its product with Rh
        var rhr = [Float](repeating: 0, count: Bt * H)
        var gate = [Float](repeating: 0, count: GH)
        let gruSplit = kind == .gru && !linearBeforeReset
        let rHidden = kind == .gru ? Array(r[(2 * H * H)...]) : []
        for s in 0..<T {
            // hr = H_prev · Rᵀ (for GRU without linear_before_reset, only the z and r gates).
            let n = gruSplit ? 2 * H : GH
            RecurrentOp.gemmT(hPrev, r, rows: Bt, n: n, k: H, ldc: GH, into: &hr)
            for bIdx in 0..<Bt where s < lens[bIdx] {
                let t = reversed ? lens[bIdx] - 1 - s : s
                let xrow = (t * Bt + bIdx) * GH
                for g in 0..<GH { gate[g] = xw[xrow + g] + (g < n ? hr[bIdx * GH + g] + rb[g] : 0) }
                switch kind {
                case .rnn:
                    clamp(&gate, 0, H)
                    RecurrentOp.apply(acts[0], &gate, 0, H)
                    for k in 0..<H { hPrev[bIdx * H + k] = gate[k] }
                case .lstm:
                    clamp(&gate, 0, GH)
                    let hb = bIdx * H
                    for k in 0..<H {
                        let cp = cPrev[hb + k]
                        var gi = gate[k] + p[k] * cp
                        var gf = gate[2 * H + k] + p[2 * H + k] * cp
                        var gc = gate[3 * H + k]
                        RecurrentOp.activate(acts[0], &gi); RecurrentOp.activate(acts[0], &gf)
                        if inputForget { gf = 1 - gi }
                        RecurrentOp.activate(acts[1], &gc)
                        let cNew = gf * cp + gi * gc
                        var go = gate[H + k] + p[H + k] * cNew
                        RecurrentOp.activate(acts[0], &go)
                        var hc = cNew
                        RecurrentOp.activate(acts[2], &hc)
                        cPrev[hb + k] = cNew
                        gate[k] = go * hc   // stash the new H
                    }
                    for k in 0..<H { hPrev[hb + k] = gate[k] }
                case .gru:
                    clamp(&gate, 0, 2 * H)
                    RecurrentOp.apply(acts[0], &gate, 0, 2 * H)
                    let hb = bIdx * H
                    if linearBeforeReset {
                        for k in 0..<H { gate[2 * H + k] = xw[xrow + 2 * H + k] + gate[H + k] * (hr[bIdx * GH + 2 * H + k] + rb[2 * H + k]) }
                    } else {
                        for k in 0..<H { rh[k] = gate[H + k] * hPrev[hb + k] }
                        RecurrentOp.gemmT(rh, rHidden, rows: 1, n: H, k: H, ldc: H, into: &rhr)
                        for k in 0..<H { gate[2 * H + k] = xw[xrow + 2 * H + k] + rhr[k] + rb[2 * H + k] }
                    }
                    clamp(&gate, 2 * H, GH)
                    RecurrentOp.apply(acts[1], &gate, 2 * H, H)
                    for k in 0..<H {
                        let z = gate[k]
                        hPrev[hb + k] = (1 - z) * gate[2 * H + k] + z * hPrev[hb + k]
                    }
                }
                for k in 0..<H { y[(t * Bt + bIdx) * H + k] = hPrev[bIdx * H + k] }
            }
        }
        return (y, hPrev, cPrev)
    }

    @inline(__always) private func clamp(_ g: inout [Float], _ lo: Int, _ hi: Int) {
        guard let c = clip else { return }
        for i in lo..<hi { g[i] = min(max(g[i], -c), c) }
    }

    @inline(__always) static func apply(_ a: RecurrentActivation, _ g: inout [Float], _ start: Int, _ n: Int) {
        g.withUnsafeMutableBufferPointer { if let p = $0.baseAddress { a.apply(p + start, n) } }
    }

    @inline(__always) static func activate(_ a: RecurrentActivation, _ v: inout Float) {
        withUnsafeMutablePointer(to: &v) { a.apply($0, 1) }
    }

    /// out[rows × n] (row stride ldc) = a[rows × k] · b[n × k]ᵀ.
    static func gemmT(_ a: [Float], _ b: [Float], rows: Int, n: Int, k: Int, ldc: Int, into out: inout [Float]) {
        a.withUnsafeBufferPointer { ab in b.withUnsafeBufferPointer { bb in out.withUnsafeMutableBufferPointer { ob in
            guard let aa = ab.baseAddress, let ba = bb.baseAddress, let oa = ob.baseAddress else { return }
            SGEMM.gemm(transA: false, transB: true, m: rows, n: n, k: k, a: aa, lda: k, b: ba, ldb: k, c: oa, ldc: ldc)
        } } }
    }

    /// Swaps the first two axes of an [a, b, c] buffer.
    static func swap01(_ v: [Float], _ a: Int, _ b: Int, _ c: Int) -> [Float] {
        var out = [Float](repeating: 0, count: v.count)
        for i in 0..<a { for j in 0..<b { for k in 0..<c { out[(j * a + i) * c + k] = v[(i * b + j) * c + k] } } }
        return out
    }
}
