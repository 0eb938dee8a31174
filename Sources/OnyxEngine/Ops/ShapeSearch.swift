import OnyxTensor

// TopK, Unique, Compress, ReverseSequence, CumSum, CumProd.

extension ShapeOps {
    static func registerSearch(_ t: inout OperatorTable) {
        t.add("TopK", since: 1) { try TopKOp($0) }
        t.add("Unique") { try UniqueOp($0) }
        t.add("Compress") { try CompressOp($0) }
        t.add("ReverseSequence") { try ReverseSequenceOp($0) }
        t.add("CumSum") { try CumulativeOp($0, product: false) }
        t.add("CumProd") { try CumulativeOp($0, product: true) }
    }
}

struct TopKOp: TensorKernel {
    let axis: Int, largest: Bool, sorted: Bool, attrK: Int?
    init(_ c: NodeContext) throws {
        axis = try c.int("axis", -1)
        largest = try c.int("largest", 1) != 0
        sorted = try c.int("sorted", 1) != 0
        attrK = c.opset < 10 ? try c.int("k") : nil
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.rank > 0 else { throw KernelError("input must have rank >= 1") }
        let a = try normalizeAxis(axis, rank: x.rank)
        var k = attrK ?? 0
        if attrK == nil {
            let kt = try inputs.required(1, "K")
            guard kt.count == 1 else { throw KernelError("K must hold one value") }
            k = try indexValues(kt, "K")[0]
        }
        let d = x.shape[a]
        guard k >= 0, k <= d else { throw KernelError("k \(k) is out of range for axis of size \(d)") }
        var outShape = x.shape; outShape[a] = k
        let outer = dimProduct(x.shape, 0..<a), inner = dimProduct(x.shape, (a + 1)..<x.rank)
        struct V: NumericVisitor {
            let x: Tensor, outShape: [Int], outer: Int, inner: Int, d: Int, k: Int, largest: Bool
            func visit<T: NumericElement>(_: T.Type) throws -> [Tensor] {
                let y = Tensor.uninitialized(T.dtype, shape: outShape)
                let yi = Tensor.uninitialized(.int64, shape: outShape)
                let yp = y.mutablePointer(T.self), ip = yi.mutablePointer(Int64.self)
                try x.withBuffer(of: T.self) { b in
                    var order = [Int](repeating: 0, count: d)
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let base = o * d * inner + i
                            for j in 0..<d { order[j] = j }
                            order.sort { p, q in
                                let u = b[base + p * inner], v = b[base + q * inner]
                                if u == v { return p < q }
                                return largest ? u > v : u < v
                            }
                            for j in 0..<k {
                                let dst = (o * k + j) * inner + i
                                yp[dst] = b[base + order[j] * inner]; ip[dst] = Int64(order[j])
                            }
                        }
                    }
                }
                return [y, yi]
            }
        }
        return try dispatchNumeric(x.dtype, V(x: x, outShape: outShape, outer: outer, inner: inner, d: d, k: k, largest: largest))
    }
}

struct UniqueOp: TensorKernel {
    let sorted: Bool, axis: Int?
    init(_ c: NodeContext) throws {
        sorted = try c.int("sorted", 1) != 0
        axis = c.has("axis") ? try c.int("axis") : nil
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        var x = try inputs.required(0, "X")
        var a = 0
        if let axis { a = try normalizeAxis(axis, rank: x.rank) } else { x = try x.reshaped([x.count]) }
        guard x.rank > 0 else { throw KernelError("input must have rank >= 1") }
        let d = x.shape[a]
        let outer = dimProduct(x.shape, 0..<a), inner = dimProduct(x.shape, (a + 1)..<x.rank)
        // Slices along the axis compared lexicographically in (outer, inner) order.
        struct V: NumericVisitor {
            let x: Tensor, d: Int, outer: Int, inner: Int, sorted: Bool
            func visit<T: NumericElement>(_: T.Type) throws -> (order: [Int], groupOf: [Int]) {
                try x.withBuffer(of: T.self) { b in
                    func cmp(_ p: Int, _ q: Int) -> Int {
                        for o in 0..<outer {
                            for i in 0..<inner {
                                let u = b[(o * d + p) * inner + i], v = b[(o * d + q) * inner + i]
                                if u < v { return -1 }
                                if v < u { return 1 }
                            }
                        }
                        return 0
                    }
                    let idx = (0..<d).sorted { p, q in let c = cmp(p, q); return c != 0 ? c < 0 : p < q }
                    // Group equal slices; first member of each group is its first occurrence.
                    var groupFirst: [Int] = []
                    var groupOf = [Int](repeating: 0, count: d)
                    for (n, j) in idx.enumerated() {
                        if n == 0 || cmp(idx[n - 1], j) != 0 { groupFirst.append(j) }
                        groupOf[j] = groupFirst.count - 1
                    }
                    return (groupFirst, groupOf)
                }
            }
        }
        let (sortedFirst, sortedGroupOf) = try dispatchNumeric(x.dtype, V(x: x, d: d, outer: outer, inner: inner, sorted: sorted))
        // Output order: sorted groups, or by first occurrence.
        let g = sortedFirst.count
        var rank = Array(0..<g)  // output position of each sorted group
        var firsts = sortedFirst
        if !sorted {
            let byFirst = (0..<g).sorted { sortedFirst[$0] < sortedFirst[$1] }
            for (pos, grp) in byFirst.enumerated() { rank[grp] = pos }
            firsts = byFirst.map { sortedFirst[$0] }
        }
        var counts = [Int64](repeating: 0, count: g)
        var inverse = [Int64](repeating: 0, count: d)
        for j in 0..<d { let p = rank[sortedGroupOf[j]]; inverse[j] = Int64(p); counts[p] += 1 }
        var yShape = x.shape; yShape[a] = g
        let y = Tensor.uninitialized(x.dtype, shape: yShape)
        if inner > 0 {
            for o in 0..<outer {
                for (p, j) in firsts.enumerated() {
                    copyElements(from: x, at: (o * d + j) * inner, to: y, at: (o * g + p) * inner, count: inner)
                }
            }
        }
        return [y, int64Tensor(firsts.map { Int64($0) }, shape: [g]),
                int64Tensor(inverse, shape: [d]), int64Tensor(counts, shape: [g])]
    }
}

struct CompressOp: TensorKernel {
    let axis: Int?
    init(_ c: NodeContext) throws { axis = c.has("axis") ? try c.int("axis") : nil }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        var x = try inputs.required(0, "input")
        let ct = try inputs.required(1, "condition")
        guard ct.rank == 1 else { throw KernelError("condition must be 1-D") }
        let cond: [Bool] = ct.dtype == .bool ? try ct.toArray(Bool.self) : (0..<ct.count).map { ct.doubleValue(at: $0) != 0 }
        var a = 0
        if let axis { a = try normalizeAxis(axis, rank: x.rank) } else { x = try x.reshaped([x.count]) }
        guard x.rank > 0 else { throw KernelError("input must have rank >= 1") }
        let d = x.shape[a]
        guard cond.count <= d else { throw KernelError("condition longer than axis (\(cond.count) > \(d))") }
        let keep = cond.indices.filter { cond[$0] }
        var shape = x.shape; shape[a] = keep.count
        let outer = dimProduct(x.shape, 0..<a), inner = dimProduct(x.shape, (a + 1)..<x.rank)
        let y = Tensor.uninitialized(x.dtype, shape: shape)
        if inner > 0 {
            for o in 0..<outer {
                for (p, j) in keep.enumerated() {
                    copyElements(from: x, at: (o * d + j) * inner, to: y, at: (o * keep.count + p) * inner, count: inner)
                }
            }
        }
        return [y]
    }
}

struct ReverseSequenceOp: TensorKernel {
    let batchAxis: Int, timeAxis: Int
    init(_ c: NodeContext) throws {
        batchAxis = try c.int("batch_axis", 1); timeAxis = try c.int("time_axis", 0)
        guard (batchAxis == 0 && timeAxis == 1) || (batchAxis == 1 && timeAxis == 0) else {
            throw KernelError("batch_axis and time_axis must be 0 and 1")
        }
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        let lens = try indexValues(try inputs.required(1, "sequence_lens"), "sequence_lens")
        guard x.rank >= 2 else { throw KernelError("input must have rank >= 2") }
        let batch = x.shape[batchAxis], time = x.shape[timeAxis]
        guard lens.count == batch else { throw KernelError("sequence_lens must have \(batch) entries") }
        let inner = dimProduct(x.shape, 2..<x.rank)
        let st = Broadcast.strides(x.shape)
        let y = Tensor.uninitialized(x.dtype, shape: x.shape)
        for b in 0..<batch {
            let l = lens[b]
            guard l >= 0, l <= time else { throw KernelError("sequence length \(l) out of range 0...\(time)") }
            for t in 0..<time {
                let src = t < l ? l - 1 - t : t
                copyElements(from: x, at: b * st[batchAxis] + src * st[timeAxis], to: y,
                             at: b * st[batchAxis] + t * st[timeAxis], count: inner)
            }
        }
        return [y]
    }
}

struct CumulativeOp: TensorKernel {
    let exclusive: Bool, reverse: Bool, product: Bool
    init(_ c: NodeContext, product: Bool) throws {
        exclusive = try c.int("exclusive", 0) != 0
        reverse = try c.int("reverse", 0) != 0
        self.product = product
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "x"), at = try inputs.required(1, "axis")
        guard at.count == 1 else { throw KernelError("axis must be a scalar") }
        let a = try normalizeAxis(try indexValues(at, "axis")[0], rank: x.rank)
        let d = x.rank == 0 ? 1 : x.shape[a]
        let outer = x.rank == 0 ? 1 : dimProduct(x.shape, 0..<a), inner = x.rank == 0 ? 1 : dimProduct(x.shape, (a + 1)..<x.rank)
        struct V: NumericVisitor {
            let x: Tensor, d: Int, outer: Int, inner: Int, exclusive: Bool, reverse: Bool, product: Bool
            func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
                let y = Tensor.uninitialized(T.dtype, shape: x.shape)
                let p = y.mutablePointer(T.self)
                try x.withBuffer(of: T.self) { b in
                    for o in 0..<outer {
                        for i in 0..<inner {
                            var acc: Double = product ? 1 : 0
                            for s in 0..<d {
                                let j = reverse ? d - 1 - s : s
                                let idx = (o * d + j) * inner + i
                                let v = b[idx].asDouble
                                if exclusive { p[idx] = T(fromDouble: acc) }
                                acc = product ? acc * v : acc + v
                                if !exclusive { p[idx] = T(fromDouble: acc) }
                            }
                        }
                    }
                }
                return y
            }
        }
        return [try dispatchNumeric(x.dtype, V(x: x, d: d, outer: outer, inner: inner, exclusive: exclusive, reverse: reverse, product: product))]
    }
}
