import OnyxTensor
import OnyxKernels

/// Softmax, LogSoftmax, Hardmax. Before opset 13 the input is coerced to 2-D at `axis` (default 1)
/// and the op runs over the flattened trailing block; from 13 it runs along the single `axis` (default -1).
enum SoftmaxOps {
    static func register(_ t: inout OperatorTable) {
        for (name, kind) in [("Softmax", SoftmaxOp.Kind.softmax), ("LogSoftmax", .logSoftmax), ("Hardmax", .hardmax)] {
            t.add(name, since: 1) { try SoftmaxOp($0, kind: kind, coerce2D: true) }
            t.add(name, since: 13) { try SoftmaxOp($0, kind: kind, coerce2D: false) }
        }
    }
}

struct SoftmaxOp: TensorKernel {
    enum Kind: Sendable { case softmax, logSoftmax, hardmax }
    let kind: Kind
    let axis: Int
    let coerce2D: Bool

    init(_ c: NodeContext, kind: Kind, coerce2D: Bool) throws {
        self.kind = kind
        self.coerce2D = coerce2D
        axis = try c.int("axis", coerce2D ? 1 : -1)
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        if x.rank == 0 { return [try nnDispatch(x.dtype, Run(kind: kind, x: x, outer: 1, len: 1, inner: 1, ctx: ctx))] }
        let a = try normalizeAxis(axis, rank: x.rank)
        let outer = Tensor.count(Array(x.shape[..<a]))
        let len: Int, inner: Int
        if coerce2D {
            len = Tensor.count(Array(x.shape[a...])); inner = 1
        } else {
            len = x.shape[a]; inner = Tensor.count(Array(x.shape[(a + 1)...]))
        }
        if x.dtype == .float32 && inner == 1 && kind != .hardmax { return [try vectorRows(x, rows: outer, len: len, ctx)] }
        return [try nnDispatch(x.dtype, Run(kind: kind, x: x, outer: outer, len: len, inner: inner, ctx: ctx))]
    }

    /// Float32 rows that are contiguous (the reduced axis is the last one): the vector kernels of vmath.c.
    private func vectorRows(_ x: Tensor, rows: Int, len: Int, _ ctx: RunContext) throws -> Tensor {
        let log = kind == .logSoftmax
        return try x.withBuffer(of: Float.self) { xb in
            let y = Tensor.uninitialized(.float32, shape: x.shape)
            guard let xp = xb.baseAddress, len > 0 else { return y }
            let xs = NNSendableReadPointer(xp), ys = NNSendablePointer(y.mutablePointer(Float.self))
            ctx.parallelFor(rows, cost: len * 4) { range in
                VMath.softmaxRows(xs.p + range.lowerBound * len, ys.p + range.lowerBound * len,
                                  rows: range.count, length: len, log: log)
            }
            return y
        }
    }

    struct Run: NNVisitor {
        let kind: Kind, x: Tensor, outer: Int, len: Int, inner: Int, ctx: RunContext
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let (outer, len, inner, kind) = (self.outer, self.len, self.inner, self.kind)
            return try nnRead(x, C.self) { xb in
                try nnWrite(x.dtype, x.shape, C.self) { yb in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                    let xs = NNSendableReadPointer(xp), ys = NNSendablePointer(yp)
                    ctx.parallelFor(outer * inner, cost: len * 8) { range in
                        for r in range {
                            let base = (r / inner) * len * inner + r % inner
                            let src = xs.p + base, dst = ys.p + base
                            var m = -C.infinity, arg = 0
                            for k in 0..<len where src[k * inner] > m || k == 0 { m = src[k * inner]; arg = k }
                            switch kind {
                            case .hardmax:
                                for k in 0..<len { dst[k * inner] = k == arg ? 1 : 0 }
                            case .softmax:
                                var s: C = 0
                                for k in 0..<len { let e = C.nnExp(src[k * inner] - m); dst[k * inner] = e; s += e }
                                let inv = 1 / s
                                for k in 0..<len { dst[k * inner] *= inv }
                            case .logSoftmax:
                                var s: C = 0
                                for k in 0..<len { s += C.nnExp(src[k * inner] - m) }
                                let l = C.nnLog(s) + m
                                for k in 0..<len { dst[k * inner] = src[k * inner] - l }
                            }
                        }
                    }
                }
            }
        }
    }
}
