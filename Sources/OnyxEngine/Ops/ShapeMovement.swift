import OnyxTensor

// Transpose, Concat, Split, Slice, Tile, Expand: element moves through strided copies.

extension ShapeOps {
    static func registerMovement(_ t: inout OperatorTable) {
        t.add("Transpose") { try TransposeOp($0) }
        t.add("Concat") { try ConcatOp($0) }
        t.add("Split", since: 1) { try SplitOp($0) }
        t.add("Slice", since: 1) { try SliceOp($0, fromAttributes: true) }
        t.add("Slice", since: 10) { try SliceOp($0, fromAttributes: false) }
        t.add("Tile") { _ in TileOp() }
        t.add("Expand") { _ in ExpandOp() }
    }
}

struct TransposeOp: TensorKernel {
    let perm: [Int]?
    init(_ c: NodeContext) throws { perm = try c.ints("perm") }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        let r = x.rank
        let p = perm ?? Array((0..<r).reversed())
        guard p.count == r, Set(p).count == r, p.allSatisfy({ $0 >= 0 && $0 < r }) else {
            throw KernelError("perm \(p) is not a permutation of 0..<\(r)")
        }
        let st = Broadcast.strides(x.shape)
        let outShape = p.map { x.shape[$0] }
        let y = Tensor.uninitialized(x.dtype, shape: outShape)
        try stridedCopy(x, base: 0, strides: p.map { st[$0] }, shape: outShape, into: y)
        return [y]
    }
}

struct ConcatOp: TensorKernel {
    let axis: Int
    init(_ c: NodeContext) throws { axis = try c.int("axis", 1) }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let xs = inputs.compactMap { $0 }
        guard let first = xs.first else { throw KernelError("Concat needs at least one input") }
        let r = first.rank
        guard r > 0 else { throw KernelError("cannot concatenate scalars") }
        let a = try normalizeAxis(axis, rank: r)
        var outShape = first.shape
        var total = 0
        for x in xs {
            guard x.rank == r, x.dtype == first.dtype else {
                throw KernelError("inputs must share rank and type: \(first.dtype)\(first.shape) vs \(x.dtype)\(x.shape)")
            }
            for i in 0..<r where i != a && x.shape[i] != first.shape[i] {
                throw KernelError("input shapes \(first.shape) and \(x.shape) differ outside axis \(a)")
            }
            total += x.shape[a]
        }
        outShape[a] = total
        let y = Tensor.uninitialized(first.dtype, shape: outShape)
        let outer = dimProduct(outShape, 0..<a), inner = dimProduct(outShape, (a + 1)..<r)
        let rowOut = total * inner
        if first.dtype != .string, ctx.threads > 1, outer * xs.count <= 4096,
           y.count * first.dtype.size >= 1 << 18 {
            concatParallel(xs, into: y, axis: a, outer: outer, inner: inner, ctx: ctx)
            return [y]
        }
        var colOff = 0
        for x in xs {
            let chunk = x.shape[a] * inner
            if chunk > 0 {
                for o in 0..<outer {
                    copyElements(from: x, at: o * chunk, to: y, at: o * rowOut + colOff, count: chunk)
                }
            }
            colOff += chunk
        }
        return [y]
    }
}

/// Concat of large fixed-size tensors across the thread budget (SqueezeNet / DenseNet / Inception join channel
/// blocks of megabytes; one thread's copy ran at half of ONNX Runtime's speed): the output is the sequence of
/// (input, outer row) pieces, and threads copy equal byte ranges of that sequence.
private func concatParallel(_ xs: [Tensor], into y: Tensor, axis a: Int, outer: Int, inner: Int, ctx: RunContext) {
    let es = y.dtype.size
    let total = y.shape[a] * inner
    var pieces: [(src: UInt, dst: UInt, bytes: Int)] = []
    pieces.reserveCapacity(outer * xs.count)
    let yBase = UInt(bitPattern: y.rawPointer)
    for o in 0..<outer {
        var colOff = 0
        for x in xs {
            let chunk = x.shape[a] * inner
            if chunk > 0 {
                pieces.append((UInt(bitPattern: x.rawPointer) + UInt(o * chunk * es),
                               yBase + UInt((o * total + colOff) * es), chunk * es))
            }
            colOff += chunk
        }
    }
    let block = 1 << 16
    let bytes = pieces.reduce(0) { $0 + $1.bytes }
    let list = pieces
    ctx.parallelFor((bytes + block - 1) / block, cost: block) { r in
        let b0 = r.lowerBound * block, b1 = min(bytes, r.upperBound * block)
        var start = 0
        for pc in list {
            let lo = max(b0, start), hi = min(b1, start + pc.bytes)
            if lo < hi, let dst = UnsafeMutableRawPointer(bitPattern: pc.dst + UInt(lo - start)),
               let src = UnsafeRawPointer(bitPattern: pc.src + UInt(lo - start)) {
                dst.copyMemory(from: src, byteCount: hi - lo)
            }
            start += pc.bytes
            if start >= b1 { break }
        }
    }
}

struct SplitOp: TensorKernel {
    let axis: Int
    let attrSplit: [Int]?
    let numOutputs: Int?
    let outputs: Int
    let opset: Int
    init(_ c: NodeContext) throws {
        axis = try c.int("axis", 0)
        attrSplit = try c.ints("split")
        numOutputs = c.has("num_outputs") ? try c.int("num_outputs") : nil
        outputs = c.outputCount
        opset = c.opset
        if let n = numOutputs, n < 1 { throw KernelError("num_outputs must be positive") }
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        let a = try normalizeAxis(axis, rank: x.rank)
        guard x.rank > 0 else { throw KernelError("cannot split a scalar") }
        let dim = x.shape[a]
        var sizes: [Int]
        if let t = inputs.optional(1) { sizes = try indexValues(t, "split") }
        else if let s = attrSplit { sizes = s }
        else {
            let n = numOutputs ?? outputs
            guard n > 0 else { throw KernelError("Split has no outputs") }
            if opset >= 18 {
                let chunk = (dim + n - 1) / n
                sizes = (0..<n).map { i in max(0, min(chunk, dim - i * chunk)) }
            } else {
                guard dim % n == 0 else { throw KernelError("dimension \(dim) does not split evenly into \(n) parts") }
                sizes = Array(repeating: dim / n, count: n)
            }
        }
        guard sizes.allSatisfy({ $0 >= 0 && $0 <= dim }), sizes.reduce(0, +) == dim else {
            throw KernelError("split sizes \(sizes) do not add up to dimension \(dim)")
        }
        let outer = dimProduct(x.shape, 0..<a), inner = dimProduct(x.shape, (a + 1)..<x.rank)
        var results: [Tensor] = []
        var off = 0
        for s in sizes {
            var shp = x.shape; shp[a] = s
            let y = Tensor.uninitialized(x.dtype, shape: shp)
            let chunk = s * inner
            if chunk > 0 {
                for o in 0..<outer {
                    copyElements(from: x, at: o * dim * inner + off, to: y, at: o * chunk, count: chunk)
                }
            }
            off += chunk
            results.append(y)
        }
        return results
    }
}

struct SliceOp: TensorKernel {
    let attrStarts: [Int]?, attrEnds: [Int]?, attrAxes: [Int]?
    let fromAttributes: Bool
    init(_ c: NodeContext, fromAttributes: Bool) throws {
        self.fromAttributes = fromAttributes
        if fromAttributes {
            guard let s = try c.ints("starts"), let e = try c.ints("ends") else {
                throw KernelError("attributes 'starts' and 'ends' are required")
            }
            attrStarts = s; attrEnds = e; attrAxes = try c.ints("axes")
        } else { attrStarts = nil; attrEnds = nil; attrAxes = nil }
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        let starts: [Int], ends: [Int]
        var axes: [Int]?, steps: [Int]?
        if fromAttributes {
            starts = attrStarts ?? []; ends = attrEnds ?? []; axes = attrAxes
        } else {
            starts = try indexValues(try inputs.required(1, "starts"), "starts")
            ends = try indexValues(try inputs.required(2, "ends"), "ends")
            if let t = inputs.optional(3) { axes = try indexValues(t, "axes") }
            if let t = inputs.optional(4) { steps = try indexValues(t, "steps") }
        }
        let r = x.rank
        let ax = axes ?? Array(0..<starts.count)
        let st = steps ?? Array(repeating: 1, count: starts.count)
        guard ends.count == starts.count, ax.count == starts.count, st.count == starts.count else {
            throw KernelError("starts, ends, axes and steps must have the same length")
        }
        var outShape = x.shape
        let inStrides = Broadcast.strides(x.shape)
        var strides = inStrides
        var base = 0
        var seen = Set<Int>()
        for i in 0..<ax.count {
            let a = try normalizeAxis(ax[i], rank: r, name: "axes")
            guard seen.insert(a).inserted else { throw KernelError("axes \(ax) has duplicates") }
            let d = x.shape[a], step = st[i]
            guard step != 0 else { throw KernelError("steps must not be 0") }
            var s = starts[i], e = ends[i]
            if s < 0 { s += d }
            if e < 0 { e += d }
            let n: Int
            if step > 0 {
                s = min(max(s, 0), d); e = min(max(e, 0), d)
                n = e > s ? (e - s - 1) / step + 1 : 0
            } else {
                s = min(max(s, 0), d - 1); e = min(max(e, -1), d - 1)
                let mag = step == Int.min ? Int.max : -step
                n = s > e ? (s - e - 1) / mag + 1 : 0
            }
            outShape[a] = n
            strides[a] = n > 1 ? inStrides[a] * step : 0  // |step| < d when n > 1: no overflow
            if n > 0 { base += s * inStrides[a] }
        }
        let y = Tensor.uninitialized(x.dtype, shape: outShape)
        try stridedCopy(x, base: base, strides: strides, shape: outShape, into: y)
        return [y]
    }
}

struct TileOp: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        let reps = try indexValues(try inputs.required(1, "repeats"), "repeats")
        guard reps.count == x.rank, reps.allSatisfy({ $0 >= 0 }) else {
            throw KernelError("repeats \(reps) must have one non-negative entry per input dimension \(x.shape)")
        }
        let outShape = try checkedShape(try zip(x.shape, reps).map { d, k in
            let (m, o) = d.multipliedReportingOverflow(by: k)
            guard !o else { throw KernelError("repeats \(reps) overflow") }
            return m
        })
        let st = Broadcast.strides(x.shape)
        var viewShape: [Int] = [], viewStrides: [Int] = []
        for i in 0..<x.rank {
            viewShape += [reps[i], x.shape[i]]; viewStrides += [0, st[i]]
        }
        let y = Tensor.uninitialized(x.dtype, shape: outShape)
        try stridedCopy(x, base: 0, strides: viewStrides, shape: viewShape, into: y)
        return [y]
    }
}

struct ExpandOp: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        let shape = try indexValues(try inputs.required(1, "shape"), "shape")
        guard let out = Broadcast.shape([x.shape, shape]) else {
            throw KernelError("cannot broadcast \(x.shape) to \(shape)")
        }
        _ = try checkedShape(out)
        let y = Tensor.uninitialized(x.dtype, shape: out)
        try stridedCopy(x, base: 0, strides: Broadcast.broadcastStrides(x.shape, to: out), shape: out, into: y)
        return [y]
    }
}
