import OnyxTensor

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
        let (cnt, map) = nnReducedIndex(x.shape, axes: axes)
        let plan = Plan(kind: kind, x: x, outShape: outShape, count: cnt, map: map)
        switch x.dtype {
        case .float32, .float64, .float16, .bfloat16: return [try nnDispatch(x.dtype, plan)]
        case .bool:
            guard kind == .max || kind == .min else { throw KernelError("\(kind) does not support bool") }
            let v = try x.toArray(Bool.self)
            var acc = [Bool](repeating: kind == .min, count: cnt)
            for i in 0..<v.count { acc[map[i]] = kind == .max ? (acc[map[i]] || v[i]) : (acc[map[i]] && v[i]) }
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
            try nnRead(x, C.self) { xb in
                switch kind {
                case .sum, .mean, .logSum: for i in 0..<xb.count { acc[map[i]] += xb[i] }
                case .prod: for i in 0..<xb.count { acc[map[i]] *= xb[i] }
                case .max: for i in 0..<xb.count where !(xb[i] <= acc[map[i]]) { acc[map[i]] = xb[i] }
                case .min: for i in 0..<xb.count where !(xb[i] >= acc[map[i]]) { acc[map[i]] = xb[i] }
                case .l1: for i in 0..<xb.count { acc[map[i]] += abs(xb[i]) }
                case .l2, .sumSquare: for i in 0..<xb.count { acc[map[i]] += xb[i] * xb[i] }
                case .logSumExp:
                    var mx = [C](repeating: -C.infinity, count: count)
                    for i in 0..<xb.count where xb[i] > mx[map[i]] { mx[map[i]] = xb[i] }
                    for j in 0..<count where !mx[j].isFinite { mx[j] = 0 }
                    var s = [C](repeating: 0, count: count)
                    for i in 0..<xb.count { s[map[i]] += C.nnExp(xb[i] - mx[map[i]]) }
                    for j in 0..<count { acc[j] = C.nnLog(s[j]) + mx[j] }
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

        func integer<T: FixedWidthInteger & NumericElement>(_: T.Type) throws -> Tensor {
            switch kind {
            case .l2, .logSum, .logSumExp:
                // Through Double, then truncated back.
                let xd = Tensor(shape: x.shape, checkedValues: (0..<x.count).map { x.doubleValue(at: $0) })
                let r = try Plan(kind: kind, x: xd, outShape: outShape, count: count, map: map).visit(Double.self)
                return Tensor(shape: outShape, checkedValues: try r.toArray(Double.self).map { T(fromDouble: $0) })
            default: break
            }
            let initial: T = kind == .prod ? 1 : kind == .max ? T.min : kind == .min ? T.max : 0
            var acc = [T](repeating: initial, count: count)
            try x.withBuffer(of: T.self) { xb in
                switch kind {
                case .sum, .mean: for i in 0..<xb.count { acc[map[i]] &+= xb[i] }
                case .prod: for i in 0..<xb.count { acc[map[i]] &*= xb[i] }
                case .max: for i in 0..<xb.count where xb[i] > acc[map[i]] { acc[map[i]] = xb[i] }
                case .min: for i in 0..<xb.count where xb[i] < acc[map[i]] { acc[map[i]] = xb[i] }
                case .l1: for i in 0..<xb.count { acc[map[i]] &+= xb[i] < 0 ? 0 &- xb[i] : xb[i] }
                case .sumSquare: for i in 0..<xb.count { acc[map[i]] &+= xb[i] &* xb[i] }
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
