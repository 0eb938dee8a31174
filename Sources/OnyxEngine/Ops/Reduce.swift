import OnyxTensor
import OnyxKernels

/// ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare and ArgMax/ArgMin.
/// `axes` is an attribute before opset 13 (ReduceSum) or 18 (the others), an optional input after.
enum ReduceOps {
    static func register(_ t: inout OperatorTable) {
        let kinds: [(String, ReduceOp.Kind)] = [
            ("ReduceSum", .sum), ("ReduceMean", .mean), ("ReduceMax", .max), ("ReduceMin", .min),
            ("ReduceProd", .prod), ("ReduceL1", .l1), ("ReduceL2", .l2), ("ReduceLogSum", .logSum),
            ("ReduceLogSumExp", .logSumExp), ("ReduceSumSquare", .sumSquare),
        ]
        for (name, kind) in kinds {
            t.add(name, since: 1) { try ReduceOp($0, kind: kind, axesInput: false) }
            t.add(name, since: kind == .sum ? 13 : 18) { try ReduceOp($0, kind: kind, axesInput: true) }
        }
        t.add("ArgMax") { try ArgReduceOp($0, isMax: true) }
        t.add("ArgMin") { try ArgReduceOp($0, isMax: false) }
    }
}

struct ReduceOp: TensorKernel {
    enum Kind: Sendable { case sum, mean, max, min, prod, l1, l2, logSum, logSumExp, sumSquare }
    let kind: Kind
    let keepdims: Bool
    let noopWithEmptyAxes: Bool
    let axesAttr: [Int]?
    let axesInput: Bool

    init(_ c: NodeContext, kind: Kind, axesInput: Bool) throws {
        self.kind = kind
        self.axesInput = axesInput
        keepdims = try c.int("keepdims", 1) != 0
        noopWithEmptyAxes = try c.int("noop_with_empty_axes", 0) != 0
        axesAttr = axesInput ? nil : try c.ints("axes")
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        var axes = axesInput ? (inputs.optional(1).map { $0.intValues() } ?? []) : (axesAttr ?? [])
        if axes.isEmpty {
            if axesInput && noopWithEmptyAxes { return [x] }
            axes = Array(0..<x.rank)
        }
        axes = try nnAxes(axes, rank: x.rank).filter { $0 < x.rank }
        var outShape: [Int] = []
        for d in 0..<x.rank {
            if axes.contains(d) { if keepdims { outShape.append(1) } } else { outShape.append(x.shape[d]) }
        }
        // Contiguous reduced axes (the common case) are walked as outer × reduced × inner without an index map.
        let sorted = axes.sorted()
        var layout: (outer: Int, red: Int, inner: Int)? = nil
        var cnt = 0, map: [Int] = []
        if let lo = sorted.first, let hi = sorted.last, hi - lo + 1 == sorted.count {
            layout = (Tensor.count(Array(x.shape[..<lo])), Tensor.count(Array(x.shape[lo...hi])), Tensor.count(Array(x.shape[(hi + 1)...])))
        } else if sorted.isEmpty {
            layout = (x.count, 1, 1)
        }
        if let l = layout { cnt = l.outer * l.inner } else { (cnt, map) = nnReducedIndex(x.shape, axes: axes) }
        let plan = Plan(kind: kind, x: x, outShape: outShape, count: cnt, map: map, layout: layout, ctx: ctx)
        switch x.dtype {
        case .float32, .float64, .float16, .bfloat16: return [try nnDispatch(x.dtype, plan)]
        case .bool:
            guard kind == .max || kind == .min else { throw KernelError("\(kind) does not support bool") }
            var acc = [Bool](repeating: kind == .min, count: cnt)
            let isMax = kind == .max
            try x.withBuffer(of: Bool.self) { xb in plan.fold(xb) { j, v in acc[j] = isMax ? (acc[j] || v) : (acc[j] && v) } }
            return [Tensor(shape: outShape, checkedValues: acc)]
        case .int32: return [try plan.integer(Int32.self)]
        case .int64: return [try plan.integer(Int64.self)]
        case .uint32: return [try plan.integer(UInt32.self)]
        case .uint64: return [try plan.integer(UInt64.self)]
        case .int8: return [try plan.integer(Int8.self)]
        case .uint8: return [try plan.integer(UInt8.self)]
        case .int16: return [try plan.integer(Int16.self)]
        case .uint16: return [try plan.integer(UInt16.self)]
        case .string: throw KernelError("reductions do not support strings")
        }
    }

    struct Plan: NNVisitor {
        let kind: Kind, x: Tensor, outShape: [Int], count: Int, map: [Int]
        let layout: (outer: Int, red: Int, inner: Int)?
        /// Splits float32 reductions across threads when given.
        var ctx: RunContext? = nil

        /// Calls `body(outputIndex, element)` for every element of `xb`.
        @inline(__always)
        func fold<T>(_ xb: UnsafeBufferPointer<T>, _ body: (Int, T) -> Void) {
            if let l = layout {
                var e = 0
                for o in 0..<l.outer {
                    let ao = o * l.inner
                    for _ in 0..<l.red { for i in 0..<l.inner { body(ao + i, xb[e]); e += 1 } }
                }
            } else {
                for i in 0..<xb.count { body(map[i], xb[i]) }
            }
        }

        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let per = C(x.count / max(count, 1))
            let initial: C
            switch kind {
            case .prod: initial = 1
            case .max, .logSumExp: initial = -C.infinity
            case .min: initial = C.infinity
            default: initial = 0
            }
            var acc = [C](repeating: initial, count: count)
            if x.dtype == .float32, let l = layout, let vk = vectorKind, let v = try vectorFold(l, vk) as? [C] {
                acc = v
            } else {
            try nnRead(x, C.self) { xb in
                switch kind {
                case .sum, .mean, .logSum: fold(xb) { j, v in acc[j] += v }
                case .prod: fold(xb) { j, v in acc[j] *= v }
                case .max: fold(xb) { j, v in if !(v <= acc[j]) { acc[j] = v } }
                case .min: fold(xb) { j, v in if !(v >= acc[j]) { acc[j] = v } }
                case .l1: fold(xb) { j, v in acc[j] += abs(v) }
                case .l2, .sumSquare: fold(xb) { j, v in acc[j] += v * v }
                case .logSumExp:
                    var mx = [C](repeating: -C.infinity, count: count)
                    fold(xb) { j, v in if v > mx[j] { mx[j] = v } }
                    for j in 0..<count where !mx[j].isFinite { mx[j] = 0 }
                    var s = [C](repeating: 0, count: count)
                    fold(xb) { j, v in s[j] += C.nnExp(v - mx[j]) }
                    for j in 0..<count { acc[j] = C.nnLog(s[j]) + mx[j] }
                }
            }
            }
            switch kind {
            case .mean: for j in 0..<count { acc[j] /= per }
            case .l2: for j in 0..<count { acc[j] = acc[j].squareRoot() }
            case .logSum: for j in 0..<count { acc[j] = C.nnLog(acc[j]) }
            default: break
            }
            if x.count == 0 && kind == .mean { for j in 0..<count { acc[j] = .nan } }
            return try nnTensor(acc, dtype: x.dtype, shape: outShape)
        }

        /// The vector reduction that accumulates `kind` (the final step — mean, sqrt, log — follows in `visit`).
        var vectorKind: VMath.Reduction? {
            switch kind {
            case .sum, .mean, .logSum: return .sum
            case .max: return .max
            case .min: return .min
            case .l1: return .sumAbs
            case .l2, .sumSquare: return .sumSquare
            case .prod, .logSumExp: return nil
            }
        }

        /// Float32 input with contiguous reduced axes: each output row is one contiguous run (inner = 1) or the sum
        /// of `red` rows of `inner` columns, through the vector kernels of vmath.c; outer blocks split across threads.
        func vectorFold(_ l: (outer: Int, red: Int, inner: Int), _ vk: VMath.Reduction) throws -> [Float] {
            let initial: Float = vk == .max ? -.infinity : vk == .min ? .infinity : 0
            var acc = [Float](repeating: initial, count: l.outer * l.inner)
            try x.withBuffer(of: Float.self) { xb in
                acc.withUnsafeMutableBufferPointer { ab in
                    guard let xp = xb.baseAddress, let ap = ab.baseAddress, l.red > 0, l.inner > 0 else { return }
                    let xs = NNSendableReadPointer(xp), out = NNSendablePointer(ap)
                    let body: @Sendable (Range<Int>) -> Void = { range in
                        for o in range {
                            let src = xs.p + o * l.red * l.inner
                            if l.inner == 1 {
                                out.p[o] = VMath.reduce(vk, src, count: l.red)
                            } else {
                                for r in 0..<l.red { VMath.reduce(vk, into: out.p + o * l.inner, src + r * l.inner, count: l.inner) }
                            }
                        }
                    }
                    if let ctx { ctx.parallelFor(l.outer, cost: l.red * l.inner, body) } else { body(0..<l.outer) }
                }
            }
            return acc
        }

        func integer<T: FixedWidthInteger & NumericElement>(_: T.Type) throws -> Tensor {
            switch kind {
            case .l2, .logSum, .logSumExp:
                // Through Double, then truncated back.
                let xd = Tensor(shape: x.shape, checkedValues: (0..<x.count).map { x.doubleValue(at: $0) })
                let r = try Plan(kind: kind, x: xd, outShape: outShape, count: count, map: map, layout: layout).visit(Double.self)
                return Tensor(shape: outShape, checkedValues: try r.toArray(Double.self).map { T(fromDouble: $0) })
            default: break
            }
            let initial: T = kind == .prod ? 1 : kind == .max ? T.min : kind == .min ? T.max : 0
            var acc = [T](repeating: initial, count: count)
            try x.withBuffer(of: T.self) { xb in
                switch kind {
                case .sum, .mean: fold(xb) { j, v in acc[j] &+= v }
                case .prod: fold(xb) { j, v in acc[j] &*= v }
                case .max: fold(xb) { j, v in if v > acc[j] { acc[j] = v } }
                case .min: fold(xb) { j, v in if v < acc[j] { acc[j] = v } }
                case .l1: fold(xb) { j, v in acc[j] &+= v < 0 ? 0 &- v : v }
                case .sumSquare: fold(xb) { j, v in acc[j] &+= v &* v }
                default: break
                }
            }
            if kind == .mean {
                let per = x.count / max(count, 1)
                if per > 0, let p = T(exactly: per) { for j in 0..<count { acc[j] /= p } }
            }
            return Tensor(shape: outShape, checkedValues: acc)
        }
    }
}

struct ArgReduceOp: TensorKernel {
    let isMax: Bool, axis: Int, keepdims: Bool, selectLast: Bool

    init(_ c: NodeContext, isMax: Bool) throws {
        self.isMax = isMax
        axis = try c.int("axis", 0)
        keepdims = try c.int("keepdims", 1) != 0
        selectLast = try c.int("select_last_index", 0) != 0
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        let a = try normalizeAxis(axis, rank: x.rank)
        guard x.rank > 0 else { throw KernelError("ArgMax/ArgMin need rank >= 1 input") }
        guard x.shape[a] > 0 else { throw KernelError("cannot take ArgMax/ArgMin over an empty axis") }
        var outShape = x.shape
        if keepdims { outShape[a] = 1 } else { outShape.remove(at: a) }
        return [try dispatchNumeric(x.dtype, Run(op: self, x: x, axis: a, outShape: outShape))]
    }

    struct Run: NumericVisitor {
        let op: ArgReduceOp, x: Tensor, axis: Int, outShape: [Int]
        func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
            let outer = Tensor.count(Array(x.shape[..<axis])), len = x.shape[axis]
            let inner = Tensor.count(Array(x.shape[(axis + 1)...]))
            var out = [Int64](repeating: 0, count: outer * inner)
            try x.withBuffer(of: T.self) { xb in
                for o in 0..<outer {
                    for i in 0..<inner {
                        let base = o * len * inner + i
                        var best = xb[base], bi = 0
                        for k in 1..<max(len, 1) {
                            let v = xb[base + k * inner]
                            let better = op.isMax ? (op.selectLast ? v >= best : v > best) : (op.selectLast ? v <= best : v < best)
                            if better { best = v; bi = k }
                        }
                        out[o * inner + i] = Int64(bi)
                    }
                }
            }
            return Tensor(shape: outShape, checkedValues: out)
        }
    }
}
