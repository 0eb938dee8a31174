import OnyxTensor

// Gather, GatherElements, GatherND, Scatter, ScatterElements, ScatterND, TensorScatter.
// Indices come from tensors and are untrusted: negative ones wrap once, out-of-range ones throw.

extension ShapeOps {
    static func registerGatherScatter(_ t: inout OperatorTable) {
        t.add("Gather") { try GatherOp($0) }
        t.add("GatherElements") { try GatherElementsOp($0) }
        t.add("GatherND") { try GatherNDOp($0) }
        t.add("Scatter") { try ScatterElementsOp($0) }
        t.add("ScatterElements") { try ScatterElementsOp($0) }
        t.add("ScatterND") { try ScatterNDOp($0) }
        t.add("TensorScatter") { try TensorScatterOp($0) }
    }
}

/// Calls `body(flatIndex, coordinates)` for every position of `shape` in row-major order.
@inline(__always)
func forEachCoordinate(_ shape: [Int], _ body: (Int, [Int]) throws -> Void) rethrows {
    let n = Tensor.count(shape)
    if n == 0 { return }
    var idx = [Int](repeating: 0, count: shape.count)
    for f in 0..<n {
        try body(f, idx)
        var a = shape.count - 1
        while a >= 0 { idx[a] += 1; if idx[a] < shape[a] { break }; idx[a] = 0; a -= 1 }
    }
}

struct GatherOp: TensorKernel {
    let axis: Int
    init(_ c: NodeContext) throws { axis = try c.int("axis", 0) }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "data"), it = try inputs.required(1, "indices")
        guard x.rank > 0 else { throw KernelError("data must have rank >= 1") }
        let a = try normalizeAxis(axis, rank: x.rank)
        let idx = try indexValues(it, "indices")
        let d = x.shape[a]
        let outShape = Array(x.shape[..<a]) + it.shape + Array(x.shape[(a + 1)...])
        let outer = dimProduct(x.shape, 0..<a), inner = dimProduct(x.shape, (a + 1)..<x.rank)
        let y = Tensor.uninitialized(x.dtype, shape: outShape)
        let w = try idx.map { try wrapIndex($0, d) }
        if inner > 0 {
            for o in 0..<outer {
                for (k, j) in w.enumerated() {
                    copyElements(from: x, at: (o * d + j) * inner, to: y, at: (o * w.count + k) * inner, count: inner)
                }
            }
        }
        return [y]
    }
}

struct GatherElementsOp: TensorKernel {
    let axis: Int
    init(_ c: NodeContext) throws { axis = try c.int("axis", 0) }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "data"), it = try inputs.required(1, "indices")
        guard x.rank > 0, it.rank == x.rank else { throw KernelError("data and indices must have the same rank >= 1") }
        let a = try normalizeAxis(axis, rank: x.rank)
        for i in 0..<x.rank where i != a && it.shape[i] > x.shape[i] {
            throw KernelError("indices shape \(it.shape) exceeds data shape \(x.shape) outside axis")
        }
        let idx = try indexValues(it, "indices")
        let st = Broadcast.strides(x.shape)
        var src = [Int](repeating: 0, count: idx.count)
        try forEachCoordinate(it.shape) { f, c in
            var off = 0
            for i in 0..<c.count { off += (i == a ? try wrapIndex(idx[f], x.shape[a]) : c[i]) * st[i] }
            src[f] = off
        }
        let y = Tensor.uninitialized(x.dtype, shape: it.shape)
        try gatherFlat(x, src, into: y)
        return [y]
    }
}

struct GatherNDOp: TensorKernel {
    let batchDims: Int
    init(_ c: NodeContext) throws { batchDims = try c.int("batch_dims", 0) }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "data"), it = try inputs.required(1, "indices")
        let b = batchDims
        guard it.rank >= 1, b >= 0, b < it.rank, b < x.rank else { throw KernelError("invalid batch_dims \(b)") }
        let k = it.shape[it.rank - 1]
        guard b + k <= x.rank else { throw KernelError("index tuples of length \(k) too long for data rank \(x.rank)") }
        for i in 0..<b where x.shape[i] != it.shape[i] { throw KernelError("batch dimensions of data and indices differ") }
        let idx = try indexValues(it, "indices")
        let outShape = Array(it.shape[..<(it.rank - 1)]) + Array(x.shape[(b + k)...])
        let batches = dimProduct(x.shape, 0..<b)
        let chunk = dimProduct(x.shape, (b + k)..<x.rank)
        let perBatch = dimProduct(it.shape, b..<(it.rank - 1))
        let dataBatch = dimProduct(x.shape, b..<x.rank)
        let st = Broadcast.strides(x.shape)
        let y = Tensor.uninitialized(x.dtype, shape: outShape)
        for bi in 0..<batches {
            for t in 0..<perBatch {
                let base = (bi * perBatch + t) * k
                var off = bi * dataBatch
                for j in 0..<k { off += try wrapIndex(idx[base + j], x.shape[b + j]) * st[b + j] }
                copyElements(from: x, at: off, to: y, at: (bi * perBatch + t) * chunk, count: chunk)
            }
        }
        return [y]
    }
}

enum ScatterReduction: String { case none, add, mul, max, min }

/// Applies `out[dst[i] ..< dst[i]+chunk] (op)= updates[i*chunk ..< (i+1)*chunk]` in order.
func scatterApply(_ out: Tensor, _ updates: Tensor, dst: [Int], chunk: Int, _ red: ScatterReduction) throws {
    guard out.dtype == updates.dtype else { throw KernelError("updates type \(updates.dtype) differs from data type \(out.dtype)") }
    if dst.isEmpty || chunk == 0 { return }
    if red == .none {
        for (i, d) in dst.enumerated() { copyElements(from: updates, at: i * chunk, to: out, at: d, count: chunk) }
        return
    }
    struct V: NumericVisitor {
        let out: Tensor, upd: Tensor, dst: [Int], chunk: Int, red: ScatterReduction
        func visit<T: NumericElement>(_: T.Type) throws {
            let o = out.mutablePointer(T.self)
            try upd.withBuffer(of: T.self) { u in
                for (i, d) in dst.enumerated() {
                    for k in 0..<chunk {
                        let a = o[d + k], b = u[i * chunk + k]
                        switch red {
                        case .add: o[d + k] = T(fromDouble: a.asDouble + b.asDouble)
                        case .mul: o[d + k] = T(fromDouble: a.asDouble * b.asDouble)
                        case .max: o[d + k] = Swift.max(a, b)
                        case .min: o[d + k] = Swift.min(a, b)
                        case .none: o[d + k] = b
                        }
                    }
                }
            }
        }
    }
    if out.dtype == .bool {
        // bool: add = or, mul = and (what numpy does); max/min likewise.
        let o = out.mutablePointer(Bool.self)
        try updates.withBuffer(of: Bool.self) { u in
            for (i, d) in dst.enumerated() {
                for k in 0..<chunk {
                    switch red {
                    case .add, .max: o[d + k] = o[d + k] || u[i * chunk + k]
                    case .mul, .min: o[d + k] = o[d + k] && u[i * chunk + k]
                    case .none: o[d + k] = u[i * chunk + k]
                    }
                }
            }
        }
        return
    }
    try dispatchNumeric(out.dtype, V(out: out, upd: updates, dst: dst, chunk: chunk, red: red))
}

func parseReduction(_ c: NodeContext) throws -> ScatterReduction {
    let s = try c.string("reduction", "none")
    guard let r = ScatterReduction(rawValue: s) else { throw KernelError("unknown reduction '\(s)'") }
    return r
}

struct ScatterElementsOp: TensorKernel {
    let axis: Int
    let reduction: ScatterReduction
    init(_ c: NodeContext) throws { axis = try c.int("axis", 0); reduction = try parseReduction(c) }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "data"), it = try inputs.required(1, "indices")
        let u = try inputs.required(2, "updates")
        guard x.rank > 0, it.rank == x.rank, u.shape == it.shape else {
            throw KernelError("data \(x.shape), indices \(it.shape) and updates \(u.shape) are incompatible")
        }
        let a = try normalizeAxis(axis, rank: x.rank)
        for i in 0..<x.rank where i != a && it.shape[i] > x.shape[i] {
            throw KernelError("indices shape \(it.shape) exceeds data shape \(x.shape) outside axis")
        }
        let idx = try indexValues(it, "indices")
        let st = Broadcast.strides(x.shape)
        var dst = [Int](repeating: 0, count: idx.count)
        try forEachCoordinate(it.shape) { f, c in
            var off = 0
            for i in 0..<c.count { off += (i == a ? try wrapIndex(idx[f], x.shape[a]) : c[i]) * st[i] }
            dst[f] = off
        }
        let y = x.copy()
        try scatterApply(y, u, dst: dst, chunk: 1, reduction)
        return [y]
    }
}

struct ScatterNDOp: TensorKernel {
    let reduction: ScatterReduction
    init(_ c: NodeContext) throws { reduction = try parseReduction(c) }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "data"), it = try inputs.required(1, "indices")
        let u = try inputs.required(2, "updates")
        guard it.rank >= 1 else { throw KernelError("indices must have rank >= 1") }
        let k = it.shape[it.rank - 1]
        guard k <= x.rank else { throw KernelError("index tuples of length \(k) too long for data rank \(x.rank)") }
        let expected = Array(it.shape[..<(it.rank - 1)]) + Array(x.shape[k...])
        guard u.shape == expected else { throw KernelError("updates shape \(u.shape) must be \(expected)") }
        let idx = try indexValues(it, "indices")
        let st = Broadcast.strides(x.shape)
        let chunk = dimProduct(x.shape, k..<x.rank)
        let n = dimProduct(it.shape, 0..<(it.rank - 1))
        var dst = [Int](repeating: 0, count: n)
        for t in 0..<n {
            var off = 0
            for j in 0..<k { off += try wrapIndex(idx[t * k + j], x.shape[j]) * st[j] }
            dst[t] = off
        }
        let y = x.copy()
        try scatterApply(y, u, dst: dst, chunk: chunk, reduction)
        return [y]
    }
}

/// TensorScatter (opset 24): writes `update` into a KV-cache along `axis` at per-batch positions.
struct TensorScatterOp: TensorKernel {
    let axis: Int
    let circular: Bool
    init(_ c: NodeContext) throws {
        axis = try c.int("axis", -2)
        let m = try c.string("mode", "linear")
        guard m == "linear" || m == "circular" else { throw KernelError("unknown mode '\(m)'") }
        circular = m == "circular"
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "past_cache"), u = try inputs.required(1, "update")
        guard x.rank >= 2, u.rank == x.rank else { throw KernelError("past_cache and update must have the same rank >= 2") }
        let a = try normalizeAxis(axis, rank: x.rank)
        guard a > 0 else { throw KernelError("axis must not be the batch axis") }
        for i in 0..<x.rank {
            if i == a ? u.shape[i] > x.shape[i] : u.shape[i] != x.shape[i] {
                throw KernelError("update shape \(u.shape) is incompatible with cache shape \(x.shape)")
            }
        }
        let batch = x.shape[0]
        let wi = try inputs.optional(2).map { try indexValues($0, "write_indices") } ?? Array(repeating: 0, count: batch)
        guard wi.count == batch else { throw KernelError("write_indices must have \(batch) entries") }
        let maxLen = x.shape[a], len = u.shape[a]
        let inner = dimProduct(x.shape, (a + 1)..<x.rank)
        let prefix = dimProduct(x.shape, 0..<a), perBatch = prefix / max(batch, 1)
        var dst: [Int] = []
        dst.reserveCapacity(prefix * len)
        for p in 0..<prefix {
            let b = p / max(perBatch, 1)
            for s in 0..<len {
                var pos = wi[b] &+ s
                if circular { pos = ((pos % maxLen) + maxLen) % maxLen }
                guard pos >= 0, pos < maxLen else { throw KernelError("write index \(pos) out of range \(maxLen)") }
                dst.append((p * maxLen + pos) * inner)
            }
        }
        let y = x.copy()
        try scatterApply(y, u, dst: dst, chunk: inner, .none)
        return [y]
    }
}
