import OnyxTensor
import OnyxKernels

/// BatchNormalization, InstanceNormalization, LayerNormalization, GroupNormalization, RMSNormalization,
/// LRN, MeanVarianceNormalization, LpNormalization.
enum NormalizationOps {
    static func register(_ t: inout OperatorTable) {
        t.add("BatchNormalization") { try BatchNormOp($0) }
        t.add("InstanceNormalization") { InstanceNormOp(epsilon: Double(try $0.float("epsilon", 1e-5))) }
        t.add("LayerNormalization") { try RowNormOp($0, kind: .layer) }
        t.add("RMSNormalization") { try RowNormOp($0, kind: .rms) }
        t.add("GroupNormalization", since: 18) { try GroupNormOp($0, perChannel: false) }
        t.add("GroupNormalization", since: 21) { try GroupNormOp($0, perChannel: true) }
        t.add("LRN") { try LRNOp($0) }
        t.add("MeanVarianceNormalization") { try MVNOp($0) }
        t.add("LpNormalization") { try LpNormOp($0) }
    }
}

/// BatchNormalization: inference form, plus training_mode outputs (opset 14+).
struct BatchNormOp: TensorKernel {
    let epsilon: Double, momentum: Double
    let training: Bool
    let outputCount: Int

    init(_ c: NodeContext) throws {
        outputCount = c.outputCount
        epsilon = Double(try c.float("epsilon", 1e-5))
        momentum = Double(try c.float("momentum", 0.9))
        let tm = try c.int("training_mode", 0)
        training = c.opset >= 14 && tm != 0
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let ps = try (1...4).map { try inputs.required($0) }
        guard x.rank >= 2 else { throw KernelError("BatchNormalization needs rank >= 2 input, got \(x.shape)") }
        let c = x.shape[1]
        for p in ps { guard p.count == c else { throw KernelError("BatchNormalization parameters must have \(c) values, got \(p.shape)") } }
        var outs = try nnDispatch(x.dtype, Run(op: self, x: x, ps: ps, ctx: ctx))
        // Inference graphs from older opsets sometimes list the (unused) statistics outputs:
        // pass the running mean/variance through for them.
        while outs.count < outputCount { outs.append(ps[2 + (outs.count + 1) % 2]) }
        return outs
    }

    struct Run: NNVisitor {
        let op: BatchNormOp, x: Tensor, ps: [Tensor], ctx: RunContext
        func visit<C: NNReal>(_: C.Type) throws -> [Tensor] {
            let n = x.shape[0], ch = x.shape[1], sz = Tensor.count(Array(x.shape.dropFirst(2)))
            let scale = try nnArray(ps[0], C.self), bias = try nnArray(ps[1], C.self)
            var mean = try nnArray(ps[2], C.self), variance = try nnArray(ps[3], C.self)
            var outs: [Tensor] = []
            try nnRead(x, C.self) { xb in
                if op.training {
                    let runMean = mean, runVar = variance
                    let cnt = C(n * sz)
                    for c in 0..<ch {
                        var s: C = 0
                        for i in 0..<n { for j in 0..<sz { s += xb[(i * ch + c) * sz + j] } }
                        let m = s / cnt
                        var v: C = 0
                        for i in 0..<n { for j in 0..<sz { let d = xb[(i * ch + c) * sz + j] - m; v += d * d } }
                        mean[c] = m; variance[c] = v / cnt
                    }
                    let mo = C(op.momentum)
                    outs.append(try nnTensor((0..<ch).map { runMean[$0] * mo + mean[$0] * (1 - mo) }, dtype: ps[2].dtype, shape: ps[2].shape))
                    outs.append(try nnTensor((0..<ch).map { runVar[$0] * mo + variance[$0] * (1 - mo) }, dtype: ps[3].dtype, shape: ps[3].shape))
                }
                let eps = C(op.epsilon)
                let a = (0..<ch).map { scale[$0] / (variance[$0] + eps).squareRoot() }
                let b = (0..<ch).map { bias[$0] - mean[$0] * a[$0] }
                let y = try nnWrite(x.dtype, x.shape, C.self) { yb in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                    let xs = NNSendableReadPointer(xp), ys = NNSendablePointer(yp)
                    ctx.parallelFor(n * ch, cost: sz) { range in
                        for pl in range {
                            let c = pl % ch, base = pl * sz, av = a[c], bv = b[c]
                            for j in 0..<sz { ys.p[base + j] = xs.p[base + j] * av + bv }
                        }
                    }
                }
                outs.insert(y, at: 0)
            }
            return outs
        }
    }
}

/// Mean and variance of each of `rows` contiguous rows of `cols` elements.
func nnRowMoments<C: NNReal>(_ x: UnsafeBufferPointer<C>, rows: Int, cols: Int) -> (mean: [C], variance: [C]) {
    var mean = [C](repeating: 0, count: rows), variance = [C](repeating: 0, count: rows)
    guard cols > 0 else { return (mean, variance) }
    for r in 0..<rows {
        let base = r * cols
        var s: C = 0
        for j in 0..<cols { s += x[base + j] }
        let m = s / C(cols)
        var v: C = 0
        for j in 0..<cols { let d = x[base + j] - m; v += d * d }
        mean[r] = m; variance[r] = v / C(cols)
    }
    return (mean, variance)
}

struct InstanceNormOp: TensorKernel {
    let epsilon: Double

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input"), s = try inputs.required(1, "scale"), b = try inputs.required(2, "B")
        guard x.rank >= 3, s.count == x.shape[1], b.count == x.shape[1] else {
            throw KernelError("InstanceNormalization: input \(x.shape), scale \(s.shape), B \(b.shape)")
        }
        return [try nnDispatch(x.dtype, Run(eps: epsilon, x: x, s: s, b: b))]
    }

    struct Run: NNVisitor {
        let eps: Double, x: Tensor, s: Tensor, b: Tensor
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let ch = x.shape[1], rows = x.shape[0] * ch, cols = Tensor.count(Array(x.shape.dropFirst(2)))
            let scale = try nnArray(s, C.self), bias = try nnArray(b, C.self)
            return try nnRead(x, C.self) { xb in
                let (mean, variance) = nnRowMoments(xb, rows: rows, cols: cols)
                return try nnWrite(x.dtype, x.shape, C.self) { yb in
                    for r in 0..<rows {
                        let a = scale[r % ch] / (variance[r] + C(eps)).squareRoot()
                        let bb = bias[r % ch] - mean[r] * a
                        for j in 0..<cols { yb[r * cols + j] = xb[r * cols + j] * a + bb }
                    }
                }
            }
        }
    }
}

/// LayerNormalization and RMSNormalization: normalise each row X[i0..i(axis-1), :], then scale (and bias).
struct RowNormOp: TensorKernel {
    enum Kind: Sendable { case layer, rms }
    let kind: Kind
    let axis: Int
    let epsilon: Double
    let stashDouble: Bool

    init(_ c: NodeContext, kind: Kind) throws {
        self.kind = kind
        axis = try c.int("axis", -1)
        epsilon = Double(try c.float("epsilon", 1e-5))
        stashDouble = try c.int("stash_type", 1) == 11
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), s = try inputs.required(1, "Scale")
        let b = kind == .layer ? inputs.optional(2) : nil
        let a = try normalizeAxis(axis, rank: x.rank)
        let normShape = Array(x.shape[a...])
        for p in [s] + (b.map { [$0] } ?? []) {
            guard p.rank <= normShape.count, Broadcast.shape([p.shape, normShape]) == normShape else {
                throw KernelError("parameter shape \(p.shape) does not broadcast to the normalised shape \(normShape)")
            }
        }
        return try nnDispatch(x.dtype, Run(op: self, x: x, s: s, b: b, axis: a, ctx: ctx))
    }

    struct Run: NNVisitor {
        let op: RowNormOp, x: Tensor, s: Tensor, b: Tensor?, axis: Int, ctx: RunContext
        func visit<C: NNReal>(_: C.Type) throws -> [Tensor] {
            let normShape = Array(x.shape[axis...])
            let rows = Tensor.count(Array(x.shape[..<axis])), cols = Tensor.count(normShape)
            // Scale and bias expanded to the full normalised shape.
            func expand(_ t: Tensor) throws -> [C] {
                let v = try nnArray(t, C.self)
                if v.count == cols { return v }
                let st = Broadcast.broadcastStrides(t.shape, to: normShape)
                let ost = Broadcast.strides(normShape)
                return (0..<cols).map { i in
                    var rem = i, o = 0
                    for d in 0..<normShape.count { o += (rem / ost[d]) * st[d]; rem %= ost[d] }
                    return v[o]
                }
            }
            let scale = try expand(s)
            let bias = try b.map { try expand($0) }
            if x.dtype == .float32, let sf = scale as? [Float] {
                let (y, m, iv) = try vectorRows(rows: rows, cols: cols, scale: sf, bias: bias.flatMap { $0 as? [Float] })
                return try outputs(y, m, iv)
            }
            let eps = C(op.epsilon)
            var meanOut = [C](repeating: 0, count: rows), invOut = [C](repeating: 0, count: rows)
            let isLayer = op.kind == .layer
            let y = try nnRead(x, C.self) { xb in
                try nnWrite(x.dtype, x.shape, C.self) { yb in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                    meanOut.withUnsafeMutableBufferPointer { mb in
                        invOut.withUnsafeMutableBufferPointer { ib in
                            guard let mp = mb.baseAddress, let ip = ib.baseAddress else { return }
                            let xs = NNSendableReadPointer(xp), ys = NNSendablePointer(yp)
                            let ms = NNSendablePointer(mp), iv = NNSendablePointer(ip)
                            // Rows are independent: each chunk writes its own rows of Y and the statistics.
                            ctx.parallelFor(rows, cost: cols * 4) { range in
                                let xb = xs.p, yb = ys.p
                                for r in range {
                                    let base = r * cols
                                    var mean: C = 0
                                    var sq: C = 0
                                    if isLayer {
                                        for j in 0..<cols { mean += xb[base + j] }
                                        mean /= C(max(cols, 1))
                                        for j in 0..<cols { let d = xb[base + j] - mean; sq += d * d }
                                    } else {
                                        for j in 0..<cols { sq += xb[base + j] * xb[base + j] }
                                    }
                                    let inv = 1 / (sq / C(max(cols, 1)) + eps).squareRoot()
                                    ms.p[r] = mean; iv.p[r] = inv
                                    if let bias {
                                        for j in 0..<cols { yb[base + j] = (xb[base + j] - mean) * inv * scale[j] + bias[j] }
                                    } else {
                                        for j in 0..<cols { yb[base + j] = (xb[base + j] - mean) * inv * scale[j] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return try outputs(y, meanOut, invOut)
        }

        /// Y, and for LayerNormalization the per-row mean and 1/σ.
        func outputs<D: NNReal>(_ y: Tensor, _ meanOut: [D], _ invOut: [D]) throws -> [Tensor] {
            if op.kind == .rms { return [y] }
            let statShape = Array(x.shape[..<axis]) + Array(repeating: 1, count: x.rank - axis)
            let statType: DType = op.stashDouble ? .float64 : (x.dtype == .float64 ? .float64 : .float32)
            return [y, try nnTensor(meanOut, dtype: statType, shape: statShape),
                    try nnTensor(invOut, dtype: statType, shape: statShape)]
        }

        /// Float32 input: the row kernel of vmath.c (vector sums and scaling), rows split across threads.
        func vectorRows(rows: Int, cols: Int, scale: [Float], bias: [Float]?) throws -> (Tensor, [Float], [Float]) {
            var meanOut = [Float](repeating: 0, count: rows), invOut = [Float](repeating: 0, count: rows)
            let y = Tensor.uninitialized(.float32, shape: x.shape)
            let eps = Float(op.epsilon), rms = op.kind == .rms
            try x.withBuffer(of: Float.self) { xb in
                scale.withUnsafeBufferPointer { sb in
                    (bias ?? []).withUnsafeBufferPointer { bb in
                        meanOut.withUnsafeMutableBufferPointer { mb in
                            invOut.withUnsafeMutableBufferPointer { ib in
                                guard let xp = xb.baseAddress, let sp = sb.baseAddress, let mp = mb.baseAddress,
                                      let ip = ib.baseAddress, cols > 0 else { return }
                                let xs = NNSendableReadPointer(xp), ss = NNSendableReadPointer(sp)
                                let bs = bias == nil ? nil : bb.baseAddress.map { NNSendableReadPointer($0) }
                                let ys = NNSendablePointer(y.mutablePointer(Float.self))
                                let ms = NNSendablePointer(mp), iv = NNSendablePointer(ip)
                                // Rows are independent: each chunk writes its own rows of Y and the statistics.
                                ctx.parallelFor(rows, cost: cols * 4) { range in
                                    let lo = range.lowerBound
                                    VMath.layerNormRows(xs.p + lo * cols, ys.p + lo * cols, rows: range.count, length: cols,
                                                        scale: ss.p, bias: bs?.p, epsilon: eps, rms: rms,
                                                        mean: ms.p + lo, invStdDev: iv.p + lo)
                                }
                            }
                        }
                    }
                }
            }
            return (y, meanOut, invOut)
        }
    }
}

/// GroupNormalization: opset 18 scale/bias per group, opset 21 per channel.
struct GroupNormOp: TensorKernel {
    let numGroups: Int, epsilon: Double, perChannel: Bool

    init(_ c: NodeContext, perChannel: Bool) throws {
        numGroups = try c.int("num_groups")
        epsilon = Double(try c.float("epsilon", 1e-5))
        self.perChannel = perChannel
        guard numGroups >= 1 else { throw KernelError("num_groups must be >= 1") }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), s = try inputs.required(1, "scale"), b = try inputs.required(2, "bias")
        guard x.rank >= 2, x.shape[1] % numGroups == 0 else { throw KernelError("GroupNormalization: X \(x.shape), num_groups \(numGroups)") }
        let pn = perChannel ? x.shape[1] : numGroups
        guard s.count == pn, b.count == pn else { throw KernelError("scale and bias must have \(pn) values") }
        return [try nnDispatch(x.dtype, Run(op: self, x: x, s: s, b: b))]
    }

    struct Run: NNVisitor {
        let op: GroupNormOp, x: Tensor, s: Tensor, b: Tensor
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let ch = x.shape[1], g = op.numGroups, cpg = ch / g
            let sz = Tensor.count(Array(x.shape.dropFirst(2)))
            let rows = x.shape[0] * g, cols = cpg * sz
            let scale = try nnArray(s, C.self), bias = try nnArray(b, C.self)
            return try nnRead(x, C.self) { xb in
                let (mean, variance) = nnRowMoments(xb, rows: rows, cols: cols)
                return try nnWrite(x.dtype, x.shape, C.self) { yb in
                    for r in 0..<rows {
                        let inv = 1 / (variance[r] + C(op.epsilon)).squareRoot()
                        for cc in 0..<cpg {
                            let c = (r % g) * cpg + cc
                            let pi = op.perChannel ? c : r % g
                            let a = scale[pi] * inv, bb = bias[pi] - mean[r] * scale[pi] * inv
                            let base = r * cols + cc * sz
                            for j in 0..<sz { yb[base + j] = xb[base + j] * a + bb }
                        }
                    }
                }
            }
        }
    }
}

struct LRNOp: TensorKernel {
    let alpha: Double, beta: Double, bias: Double, size: Int

    init(_ c: NodeContext) throws {
        alpha = Double(try c.float("alpha", 1e-4)); beta = Double(try c.float("beta", 0.75))
        bias = Double(try c.float("bias", 1)); size = try c.int("size")
        guard size >= 1 else { throw KernelError("size must be >= 1") }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.rank >= 2 else { throw KernelError("LRN needs rank >= 2 input, got \(x.shape)") }
        return [try nnDispatch(x.dtype, Run(op: self, x: x))]
    }

    struct Run: NNVisitor {
        let op: LRNOp, x: Tensor
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let n = x.shape[0], ch = x.shape[1], sz = Tensor.count(Array(x.shape.dropFirst(2)))
            let lo = (op.size - 1) / 2, hi = op.size / 2  // floor and ceil of (size-1)/2
            let k = C(op.alpha) / C(op.size), beta = C(op.beta), bias = C(op.bias)
            return try nnRead(x, C.self) { xb in
                try nnWrite(x.dtype, x.shape, C.self) { yb in
                    var sq = [C](repeating: 0, count: sz)
                    for i in 0..<n {
                        for c in 0..<ch {
                            for j in 0..<sz { sq[j] = 0 }
                            for cc in max(0, c - lo)...min(ch - 1, c + hi) {
                                let base = (i * ch + cc) * sz
                                for j in 0..<sz { sq[j] += xb[base + j] * xb[base + j] }
                            }
                            let base = (i * ch + c) * sz
                            for j in 0..<sz { yb[base + j] = xb[base + j] / C.nnPow(bias + k * sq[j], beta) }
                        }
                    }
                }
            }
        }
    }
}

/// For reductions over arbitrary axes: the reduced (keepdims) flat index of every element.
func nnReducedIndex(_ shape: [Int], axes: [Int]) -> (count: Int, map: [Int]) {
    var outShape = shape
    for a in axes { outShape[a] = 1 }
    let ost = Broadcast.broadcastStrides(outShape, to: shape)
    let n = Tensor.count(shape)
    var map = [Int](repeating: 0, count: n)
    var idx = [Int](repeating: 0, count: shape.count)
    var o = 0
    for i in 0..<n {
        map[i] = o
        var d = shape.count - 1
        while d >= 0 {
            idx[d] += 1; o += ost[d]
            if idx[d] < shape[d] { break }
            o -= ost[d] * idx[d]; idx[d] = 0; d -= 1
        }
    }
    return (Tensor.count(outShape), map)
}

struct MVNOp: TensorKernel {
    let axes: [Int]
    init(_ c: NodeContext) throws { axes = try c.ints("axes") ?? [0, 2, 3] }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let ax = try nnAxes(axes, rank: x.rank)
        return [try nnDispatch(x.dtype, Run(x: x, axes: ax))]
    }

    struct Run: NNVisitor {
        let x: Tensor, axes: [Int]
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let (cnt, map) = nnReducedIndex(x.shape, axes: axes)
            let per = C(max(x.count / max(cnt, 1), 1))
            var s = [C](repeating: 0, count: cnt), s2 = [C](repeating: 0, count: cnt)
            return try nnRead(x, C.self) { xb in
                for i in 0..<xb.count { s[map[i]] += xb[i]; s2[map[i]] += xb[i] * xb[i] }
                let mean = s.map { $0 / per }
                let std = (0..<cnt).map { (s2[$0] / per - mean[$0] * mean[$0]).squareRoot() + C(1e-9) }
                return try nnWrite(x.dtype, x.shape, C.self) { yb in
                    for i in 0..<xb.count { yb[i] = (xb[i] - mean[map[i]]) / std[map[i]] }
                }
            }
        }
    }
}

struct LpNormOp: TensorKernel {
    let axis: Int, p: Int
    init(_ c: NodeContext) throws {
        axis = try c.int("axis", -1); p = try c.int("p", 2)
        guard p == 1 || p == 2 else { throw KernelError("p must be 1 or 2, got \(p)") }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        let a = try normalizeAxis(axis, rank: x.rank)
        return [try nnDispatch(x.dtype, Run(x: x, axis: a, p: p))]
    }

    struct Run: NNVisitor {
        let x: Tensor, axis: Int, p: Int
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let outer = Tensor.count(Array(x.shape[..<axis])), len = x.rank == 0 ? 1 : x.shape[axis]
            let inner = x.rank == 0 ? 1 : Tensor.count(Array(x.shape[(axis + 1)...]))
            return try nnRead(x, C.self) { xb in
                try nnWrite(x.dtype, x.shape, C.self) { yb in
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let base = o * len * inner + i
                            var s: C = 0
                            for k in 0..<len { let v = xb[base + k * inner]; s += p == 1 ? abs(v) : v * v }
                            let norm = p == 1 ? s : s.squareRoot()
                            for k in 0..<len { yb[base + k * inner] = norm == 0 ? 0 : xb[base + k * inner] / norm }
                        }
                    }
                }
            }
        }
    }
}
