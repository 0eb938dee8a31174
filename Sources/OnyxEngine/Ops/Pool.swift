import OnyxTensor

/// MaxPool, AveragePool, LpPool, their Global forms, and MaxUnpool.
enum PoolOps {
    static func register(_ t: inout OperatorTable) {
        t.add("MaxPool") { try PoolOp($0, kind: .max) }
        t.add("AveragePool") { try PoolOp($0, kind: .average) }
        t.add("LpPool") { try PoolOp($0, kind: .lp) }
        t.add("GlobalMaxPool") { _ in GlobalPoolOp(kind: .max, p: 2) }
        t.add("GlobalAveragePool") { _ in GlobalPoolOp(kind: .average, p: 2) }
        t.add("GlobalLpPool") { GlobalPoolOp(kind: .lp, p: Double(try $0.float("p", 2))) }
        t.add("MaxUnpool") { try MaxUnpoolOp($0) }
    }
}

enum PoolKind: Sendable { case max, average, lp }

struct PoolOp: TensorKernel {
    let kind: PoolKind
    let window: WindowAttributes
    let countIncludePad: Bool
    let storageOrder: Int
    let p: Double
    /// Whether MaxPool's Indices output is requested (the fast 2-D path does not compute it).
    let wantsIndices: Bool
    let outputCount: Int

    init(_ c: NodeContext, kind: PoolKind) throws {
        self.kind = kind
        wantsIndices = c.outputCount > 1 && !c.node.outputs[1].isEmpty
        outputCount = c.outputCount
        window = try WindowAttributes(c)
        guard window.kernelShape != nil else { throw KernelError("kernel_shape is required") }
        countIncludePad = try c.int("count_include_pad", 0) != 0
        storageOrder = try c.int("storage_order", 0)
        // LpPool-1 had a float p, later versions an int: `float` accepts both.
        p = Double(try c.float("p", 2))
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.rank >= 3 else { throw KernelError("pooling needs rank >= 3 input, got \(x.shape)") }
        guard let kernel = window.kernelShape else { throw KernelError("kernel_shape is required") }
        let g = try window.geometry(input: Array(x.shape.dropFirst(2)), kernel: kernel)
        if x.dtype.isInteger && kind == .max { return try intMaxPool(x, g, ctx) }
        if (kind == .max && !wantsIndices) || kind == .average,
           let y = fastPool2d(x, g, average: kind == .average, countIncludePad: countIncludePad, ctx: ctx) {
            // An omitted Indices output still has a (discarded) position.
            return outputCount > 1 ? [y, Tensor(zeros: .int64, shape: [0])] : [y]
        }
        return try nnDispatch(x.dtype, Run(op: self, x: x, g: g, ctx: ctx))
    }

    struct Run: NNVisitor {
        let op: PoolOp, x: Tensor, g: WindowGeometry, ctx: RunContext
        func visit<C: NNReal>(_: C.Type) throws -> [Tensor] {
            let planes = x.shape[0] * x.shape[1]
            let outShape = Array(x.shape.prefix(2)) + g.output
            var indices = [Int64](repeating: 0, count: op.kind == .max ? planes * g.outputSize : 0)
            let y = try nnRead(x, C.self) { xb in
                try nnWrite(x.dtype, outShape, C.self) { yb in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                    indices.withUnsafeMutableBufferPointer { ib in
                        pool(xp, yp, ib.baseAddress, planes: planes, C.self)
                    }
                }
            }
            if op.kind == .max {
                return [y, Tensor(shape: outShape, checkedValues: indices)]
            }
            return [y]
        }

        func pool<T: NNReal>(_ xp: UnsafePointer<T>, _ yp: UnsafeMutablePointer<T>, _ ip: UnsafeMutablePointer<Int64>?,
                             planes: Int, _: T.Type) {
            let s = g.input.count
            let isz = g.inputSize, osz = g.outputSize
            let inSt = Broadcast.strides(g.input)
            // Column-major spatial strides for storage_order = 1 indices.
            var colStrides = Array(repeating: 1, count: s)
            for d in 1..<max(s, 1) where s > 1 { colStrides[d] = colStrides[d - 1] * g.input[d - 1] }
            let colSt = colStrides
            let p = T(op.p)
            let xs = NNSendableReadPointer(xp), ys = NNSendablePointer(yp), isp = ip.map { NNSendablePointer($0) }
            let g = self.g, op = self.op
            // Output positions are independent: split them across threads (each writes its own positions).
            ctx.parallelFor(osz, cost: planes * g.kernelSize) { range in
                let xp = xs.p, yp = ys.p, ip = isp?.p
                var oidx = Array(repeating: 0, count: s), kidx = Array(repeating: 0, count: s)
                for o in range {
                    var rem = o
                    for d in stride(from: s - 1, through: 0, by: -1) { oidx[d] = rem % g.output[d]; rem /= g.output[d] }
                    // Walk the kernel window.
                    for d in 0..<s { kidx[d] = 0 }
                    var offsets: [(Int, Int)] = []  // (row-major offset, storage-order offset)
                    var padCount = 0
                    for _ in 0..<g.kernelSize {
                        var off = 0, colOff = 0, inside = true, inPadded = true
                        for d in 0..<s {
                            let i = oidx[d] * g.strides[d] + kidx[d] * g.dilations[d] - g.padBegin[d]
                            if i < 0 || i >= g.input[d] { inside = false }
                            if i < -g.padBegin[d] || i >= g.input[d] + g.padEnd[d] { inPadded = false }
                            off += i * inSt[d]; colOff += i * colSt[d]
                        }
                        if inside { offsets.append((off, colOff)) }
                        if inPadded { padCount += 1 }
                        var d = s - 1
                        while d >= 0 { kidx[d] += 1; if kidx[d] < g.kernel[d] { break }; kidx[d] = 0; d -= 1 }
                    }
                    for pl in 0..<planes {
                        let xpl = xp + pl * isz
                        switch op.kind {
                        case .max:
                            var best = -T.infinity, bestOff = -1
                            for (off, colOff) in offsets {
                                let v = xpl[off]
                                if v > best || bestOff < 0 { best = v; bestOff = op.storageOrder == 1 ? colOff : off }
                            }
                            yp[pl * osz + o] = best
                            ip?[pl * osz + o] = Int64(pl * isz + max(bestOff, 0))
                        case .average:
                            var sum: T = 0
                            for (off, _) in offsets { sum += xpl[off] }
                            let n = op.countIncludePad ? padCount : offsets.count
                            yp[pl * osz + o] = n > 0 ? sum / T(n) : 0
                        case .lp:
                            var sum: T = 0
                            for (off, _) in offsets { sum += T.nnPow(abs(xpl[off]), p) }
                            yp[pl * osz + o] = T.nnPow(sum, 1 / p)
                        }
                    }
                }
            }
        }
    }

    func intMaxPool(_ x: Tensor, _ g: WindowGeometry, _ ctx: RunContext) throws -> [Tensor] {
        // Integer MaxPool (int8/uint8): compute through Double, which represents them exactly.
        let xd = Tensor(shape: x.shape, checkedValues: (0..<x.count).map { x.doubleValue(at: $0) })
        let r = try Run(op: self, x: xd, g: g, ctx: ctx).visit(Double.self)
        let vals = try r[0].toArray(Double.self)
        let y: Tensor
        switch x.dtype {
        case .int8: y = Tensor(shape: r[0].shape, checkedValues: vals.map { Int8(fromDouble: $0) })
        case .uint8: y = Tensor(shape: r[0].shape, checkedValues: vals.map { UInt8(fromDouble: $0) })
        case .int32: y = Tensor(shape: r[0].shape, checkedValues: vals.map { Int32(fromDouble: $0) })
        case .int64: y = Tensor(shape: r[0].shape, checkedValues: vals.map { Int64(fromDouble: $0) })
        default: throw KernelError("MaxPool does not support \(x.dtype)")
        }
        return [y, r[1]]
    }
}

struct GlobalPoolOp: TensorKernel {
    let kind: PoolKind
    let p: Double

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.rank >= 2 else { throw KernelError("global pooling needs rank >= 2 input, got \(x.shape)") }
        if kind != .lp, let y = fastGlobalPool(x, average: kind == .average, ctx: ctx) { return [y] }
        return [try nnDispatch(x.dtype, Run(op: self, x: x))]
    }

    struct Run: NNVisitor {
        let op: GlobalPoolOp, x: Tensor
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let planes = x.shape[0] * x.shape[1]
            let sz = Tensor.count(Array(x.shape.dropFirst(2)))
            let outShape = Array(x.shape.prefix(2)) + Array(repeating: 1, count: x.rank - 2)
            let p = C(op.p)
            return try nnRead(x, C.self) { xb in
                try nnWrite(x.dtype, outShape, C.self) { yb in
                    for pl in 0..<planes {
                        let base = pl * sz
                        switch op.kind {
                        case .max:
                            var m = -C.infinity
                            for i in 0..<sz { m = Swift.max(m, xb[base + i]) }
                            yb[pl] = m
                        case .average:
                            var s: C = 0
                            for i in 0..<sz { s += xb[base + i] }
                            yb[pl] = sz > 0 ? s / C(sz) : 0
                        case .lp:
                            var s: C = 0
                            for i in 0..<sz { s += C.nnPow(abs(xb[base + i]), p) }
                            yb[pl] = C.nnPow(s, 1 / p)
                        }
                    }
                }
            }
        }
    }
}

struct MaxUnpoolOp: TensorKernel {
    let kernel: [Int], strides: [Int]?, pads: [Int]?

    init(_ c: NodeContext) throws {
        guard let k = try c.ints("kernel_shape") else { throw KernelError("kernel_shape is required") }
        kernel = k
        strides = try c.ints("strides")
        pads = try c.ints("pads")
        try nnCheckWindowBounds([kernel, strides, pads])
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), idx = try inputs.required(1, "I")
        let s = x.rank - 2
        guard s >= 1, kernel.count == s, idx.shape == x.shape else {
            throw KernelError("MaxUnpool: X \(x.shape), I \(idx.shape), kernel_shape \(kernel)")
        }
        let st = strides ?? Array(repeating: 1, count: s)
        let pd = pads ?? Array(repeating: 0, count: 2 * s)
        guard st.count == s, pd.count == 2 * s else { throw KernelError("strides/pads have the wrong length") }
        var inferred = Array(x.shape.prefix(2))
        for d in 0..<s { inferred.append((x.shape[d + 2] - 1) * st[d] - pd[d] - pd[d + s] + kernel[d]) }
        var outShape = inferred
        if let os = inputs.optional(2) {
            outShape = os.intValues()
            guard outShape.count == x.rank else { throw KernelError("output_shape must have \(x.rank) values") }
        }
        guard inferred.allSatisfy({ $0 >= 0 }), outShape.allSatisfy({ $0 >= 0 }) else {
            throw KernelError("MaxUnpool output shape \(outShape) is invalid")
        }
        let ids = idx.int64Values()
        let total = Tensor.count(inferred)
        let xs = try nnArray(x, Double.self)
        var flat = [Double](repeating: 0, count: total)
        for (j, i) in ids.enumerated() {
            guard i >= 0, Int(i) < total else { throw KernelError("MaxUnpool index \(i) is out of range for \(inferred)") }
            flat[Int(i)] = xs[j]
        }
        // Copy the inferred block into the (possibly larger) requested shape.
        var out = [Double](repeating: 0, count: Tensor.count(outShape))
        let inSt = Broadcast.strides(inferred), outSt = Broadcast.strides(outShape)
        for i in 0..<total {
            var rem = i, o = 0, ok = true
            for d in 0..<inferred.count {
                let c = rem / inSt[d]; rem %= inSt[d]
                if c >= outShape[d] { ok = false; break }
                o += c * outSt[d]
            }
            if ok { out[o] = flat[i] }
        }
        return [try nnTensor(out, dtype: x.dtype, shape: outShape)]
    }
}
