import OnyxTensor
import OnyxKernels

/// MatMul (numpy semantics) and Gemm.
enum MatMulOps {
    static func register(_ t: inout OperatorTable) {
        t.add("MatMul") { _ in MatMulOp() }
        t.add("Gemm") { try GemmOp($0) }
    }
}

/// Shapes of a numpy matmul: batch broadcast plus the per-matrix sizes.
struct MatMulPlan {
    var m = 1, n = 1, k = 1
    var batchShape: [Int] = []
    var outShape: [Int] = []
    /// Matrix index into A and B for each output batch index.
    var aIndex: [Int] = [], bIndex: [Int] = []

    init(_ a: [Int], _ b: [Int]) throws {
        guard !a.isEmpty, !b.isEmpty else { throw KernelError("MatMul inputs must have rank >= 1, got \(a) and \(b)") }
        let aShape = a.count == 1 ? [1, a[0]] : a
        let bShape = b.count == 1 ? [b[0], 1] : b
        m = aShape[aShape.count - 2]; k = aShape[aShape.count - 1]
        n = bShape[bShape.count - 1]
        guard bShape[bShape.count - 2] == k else { throw KernelError("MatMul shapes \(a) and \(b) do not agree on K") }
        let aBatch = Array(aShape.dropLast(2)), bBatch = Array(bShape.dropLast(2))
        guard let bs = Broadcast.shape([aBatch, bBatch]) else {
            throw KernelError("MatMul batch dimensions \(aBatch) and \(bBatch) do not broadcast")
        }
        batchShape = bs
        outShape = bs
        if a.count > 1 { outShape.append(m) }
        if b.count > 1 { outShape.append(n) }
        let total = Tensor.count(bs)
        let aSt = Broadcast.broadcastStrides(aBatch, to: bs), bSt = Broadcast.broadcastStrides(bBatch, to: bs)
        aIndex = Array(repeating: 0, count: total); bIndex = Array(repeating: 0, count: total)
        var idx = Array(repeating: 0, count: bs.count)
        for i in 0..<total {
            var ai = 0, bi = 0
            for d in 0..<bs.count { ai += idx[d] * aSt[d]; bi += idx[d] * bSt[d] }
            aIndex[i] = ai; bIndex[i] = bi
            var d = bs.count - 1
            while d >= 0 { idx[d] += 1; if idx[d] < bs[d] { break }; idx[d] = 0; d -= 1 }
        }
    }
}

struct MatMulOp: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let a = try inputs.required(0, "A"), b = try inputs.required(1, "B")
        guard a.dtype == b.dtype else { throw KernelError("MatMul input types differ: \(a.dtype) and \(b.dtype)") }
        let plan = try MatMulPlan(a.shape, b.shape)
        if a.dtype.isFloatingPoint {
            return [try nnDispatch(a.dtype, FloatMatMul(a: a, b: b, plan: plan, ctx: ctx))]
        }
        return [try intMatMul(a, b, plan)]
    }

    struct FloatMatMul: NNVisitor {
        let a: Tensor, b: Tensor, plan: MatMulPlan, ctx: RunContext
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let p = plan
            return try nnRead(a, C.self) { ab in
                try nnRead(b, C.self) { bb in
                    try nnWrite(a.dtype, p.outShape, C.self) { out in
                        guard let ap = ab.baseAddress, let bp = bb.baseAddress, let op = out.baseAddress else { return }
                        let mk = p.m * p.k, kn = p.k * p.n, mn = p.m * p.n
                        // B shared by every batch and A batches contiguous: one tall GEMM.
                        if p.bIndex.allSatisfy({ $0 == 0 }) && p.aIndex.enumerated().allSatisfy({ $0.offset == $0.element }) {
                            nnGemm(transA: false, transB: false, m: p.m * p.aIndex.count, n: p.n, k: p.k, alpha: 1,
                                   a: ap, lda: p.k, b: bp, ldb: p.n, beta: 0, c: op, ldc: p.n, ctx: ctx)
                            return
                        }
                        for i in 0..<p.aIndex.count {
                            nnGemm(transA: false, transB: false, m: p.m, n: p.n, k: p.k, alpha: 1,
                                   a: ap + p.aIndex[i] * mk, lda: p.k, b: bp + p.bIndex[i] * kn, ldb: p.n,
                                   beta: 0, c: op + i * mn, ldc: p.n, ctx: ctx)
                        }
                    }
                }
            }
        }
    }

    func intMatMul(_ a: Tensor, _ b: Tensor, _ p: MatMulPlan) throws -> Tensor {
        switch a.dtype {
        case .int32: return try intMatMul(a, b, p, Int32.self)
        case .int64: return try intMatMul(a, b, p, Int64.self)
        case .uint32: return try intMatMul(a, b, p, UInt32.self)
        case .uint64: return try intMatMul(a, b, p, UInt64.self)
        case .int8: return try intMatMul(a, b, p, Int8.self)
        case .uint8: return try intMatMul(a, b, p, UInt8.self)
        case .int16: return try intMatMul(a, b, p, Int16.self)
        case .uint16: return try intMatMul(a, b, p, UInt16.self)
        default: throw KernelError("MatMul does not support \(a.dtype)")
        }
    }

    func intMatMul<T: FixedWidthInteger & NumericElement>(_ a: Tensor, _ b: Tensor, _ p: MatMulPlan, _: T.Type) throws -> Tensor {
        let out = Tensor(zeros: T.dtype, shape: p.outShape)
        let o = out.mutablePointer(T.self)
        try a.withBuffer(of: T.self) { ab in
            try b.withBuffer(of: T.self) { bb in
                for bi in 0..<p.aIndex.count {
                    let ao = p.aIndex[bi] * p.m * p.k, bo = p.bIndex[bi] * p.k * p.n, oo = bi * p.m * p.n
                    for i in 0..<p.m {
                        for kk in 0..<p.k {
                            let av = ab[ao + i * p.k + kk]
                            for j in 0..<p.n { o[oo + i * p.n + j] &+= av &* bb[bo + kk * p.n + j] }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Gemm: Y = alpha·op(A)·op(B) + beta·C, C broadcast to (M, N) and optional.
struct GemmOp: TensorKernel {
    let transA: Bool, transB: Bool, alpha: Float, beta: Float

    init(_ c: NodeContext) throws {
        transA = try c.int("transA", 0) != 0
        transB = try c.int("transB", 0) != 0
        alpha = try c.float("alpha", 1)
        beta = try c.float("beta", 1)
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let a = try inputs.required(0, "A"), b = try inputs.required(1, "B")
        guard a.rank == 2, b.rank == 2 else { throw KernelError("Gemm needs 2-D A and B, got \(a.shape) and \(b.shape)") }
        guard a.dtype == b.dtype else { throw KernelError("Gemm input types differ: \(a.dtype) and \(b.dtype)") }
        let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
        let kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1]
        guard k == kb else { throw KernelError("Gemm shapes \(a.shape) and \(b.shape) do not agree on K") }
        let c = inputs.optional(2)
        if let c {
            guard c.dtype == a.dtype else { throw KernelError("Gemm C has type \(c.dtype), expected \(a.dtype)") }
            guard c.rank <= 2, Broadcast.shape([c.shape, [m, n]]) == [m, n] else {
                throw KernelError("Gemm C shape \(c.shape) does not broadcast to [\(m), \(n)]")
            }
        }
        if a.dtype.isFloatingPoint {
            return [try nnDispatch(a.dtype, Run(op: self, a: a, b: b, c: c, m: m, n: n, k: k, ctx: ctx))]
        }
        return [try intGemm(a, b, c, m, n, k)]
    }

    struct Run: NNVisitor {
        let op: GemmOp, a: Tensor, b: Tensor, c: Tensor?, m: Int, n: Int, k: Int, ctx: RunContext
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let cVals: [C]? = try c.map { try nnArray($0, C.self) }
            let cStrides = c.map { Broadcast.broadcastStrides($0.shape, to: [m, n]) } ?? [0, 0]
            return try nnRead(a, C.self) { ab in
                try nnRead(b, C.self) { bb in
                    try nnWrite(a.dtype, [m, n], C.self) { out in
                        guard let ap = ab.baseAddress, let bp = bb.baseAddress, let yp = out.baseAddress else { return }
                        var beta: C = 0
                        if let cVals, op.beta != 0 {
                            beta = C(op.beta)
                            for i in 0..<m { for j in 0..<n { yp[i * n + j] = cVals[i * cStrides[0] + j * cStrides[1]] } }
                        }
                        nnGemm(transA: op.transA, transB: op.transB, m: m, n: n, k: k, alpha: C(op.alpha),
                               a: ap, lda: a.shape[1], b: bp, ldb: b.shape[1], beta: beta, c: yp, ldc: n, ctx: ctx)
                    }
                }
            }
        }
    }

    func intGemm(_ a: Tensor, _ b: Tensor, _ c: Tensor?, _ m: Int, _ n: Int, _ k: Int) throws -> Tensor {
        switch a.dtype {
        case .int32: return try intGemm(a, b, c, m, n, k, Int32.self)
        case .int64: return try intGemm(a, b, c, m, n, k, Int64.self)
        case .uint32: return try intGemm(a, b, c, m, n, k, UInt32.self)
        case .uint64: return try intGemm(a, b, c, m, n, k, UInt64.self)
        default: throw KernelError("Gemm does not support \(a.dtype)")
        }
    }

    func intGemm<T: FixedWidthInteger & NumericElement>(_ a: Tensor, _ b: Tensor, _ c: Tensor?,
                                                        _ m: Int, _ n: Int, _ k: Int, _: T.Type) throws -> Tensor {
        let out = Tensor(zeros: T.dtype, shape: [m, n])
        let y = out.mutablePointer(T.self)
        let al = T(fromDouble: Double(alpha)), be = T(fromDouble: Double(beta))
        let lda = a.shape[1], ldb = b.shape[1]
        try a.withBuffer(of: T.self) { ab in
            try b.withBuffer(of: T.self) { bb in
                for i in 0..<m {
                    for j in 0..<n {
                        var s: T = 0
                        for p in 0..<k {
                            s &+= (transA ? ab[p * lda + i] : ab[i * lda + p]) &* (transB ? bb[j * ldb + p] : bb[p * ldb + j])
                        }
                        y[i * n + j] = al &* s
                    }
                }
            }
        }
        if let c {
            let st = Broadcast.broadcastStrides(c.shape, to: [m, n])
            try c.withBuffer(of: T.self) { cb in
                for i in 0..<m { for j in 0..<n { y[i * n + j] &+= be &* cb[i * st[0] + j * st[1]] } }
            }
        }
        return out
    }
}
