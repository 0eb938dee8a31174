import OnyxTensor

/// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
enum LossOps {
    static func register(_ t: inout OperatorTable) {
        t.add("NegativeLogLikelihoodLoss") { try LossOp($0, softmax: false) }
        t.add("SoftmaxCrossEntropyLoss") { try LossOp($0, softmax: true) }
    }
}

struct LossOp: TensorKernel {
    let softmax: Bool
    let reduction: String
    let ignoreIndex: Int64?

    init(_ c: NodeContext, softmax: Bool) throws {
        self.softmax = softmax
        reduction = try c.string("reduction", "mean")
        guard ["none", "sum", "mean"].contains(reduction) else { throw KernelError("unknown reduction '\(reduction)'") }
        ignoreIndex = c.has("ignore_index") ? Int64(try c.int("ignore_index")) : nil
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input"), target = try inputs.required(1, "target")
        let w = inputs.optional(2)
        guard x.rank >= 2 else { throw KernelError("loss input must have rank >= 2, got \(x.shape)") }
        var expectTarget = x.shape; expectTarget.remove(at: 1)
        guard target.shape == expectTarget else { throw KernelError("target shape \(target.shape), expected \(expectTarget)") }
        guard target.dtype.isInteger else { throw KernelError("target must be an integer tensor") }
        if let w { guard w.rank == 1, w.count == x.shape[1] else { throw KernelError("weight must have \(x.shape[1]) values") } }
        return try nnDispatch(x.dtype, Run(op: self, x: x, target: target, w: w))
    }

    struct Run: NNVisitor {
        let op: LossOp, x: Tensor, target: Tensor, w: Tensor?
        func visit<C: NNReal>(_: C.Type) throws -> [Tensor] {
            let n = x.shape[0], classes = x.shape[1], d = Tensor.count(Array(x.shape.dropFirst(2)))
            var lp = try nnArray(x, C.self)
            if op.softmax {
                for i in 0..<n {
                    for j in 0..<d {
                        var m = -C.infinity
                        for c in 0..<classes { m = Swift.max(m, lp[(i * classes + c) * d + j]) }
                        var s: C = 0
                        for c in 0..<classes { s += C.nnExp(lp[(i * classes + c) * d + j] - m) }
                        let l = C.nnLog(s) + m
                        for c in 0..<classes { lp[(i * classes + c) * d + j] -= l }
                    }
                }
            }
            let weights: [C]? = try w.map { try nnArray($0, C.self) }
            let t = target.int64Values()
            var loss = [C](repeating: 0, count: n * d)
            var wsum: C = 0
            for i in 0..<n {
                for j in 0..<d {
                    let tv = t[i * d + j]
                    if let ig = op.ignoreIndex, tv == ig { continue }
                    guard tv >= 0, tv < Int64(classes) else { throw KernelError("target value \(tv) is out of range [0, \(classes))") }
                    let c = Int(tv)
                    let wv: C = weights?[c] ?? 1
                    loss[i * d + j] = -lp[(i * classes + c) * d + j] * wv
                    wsum += wv
                }
            }
            let out: Tensor
            switch op.reduction {
            case "none": out = try nnTensor(loss, dtype: x.dtype, shape: target.shape)
            case "sum": out = try nnTensor([loss.reduce(0, +)], dtype: x.dtype, shape: [])
            default:
                let total = loss.reduce(0, +)
                let denom: C = (weights != nil || op.ignoreIndex != nil) ? wsum : C(n * d)
                out = try nnTensor([total / denom], dtype: x.dtype, shape: [])
            }
            if op.softmax { return [out, try nnTensor(lp, dtype: x.dtype, shape: x.shape)] }
            return [out]
        }
    }
}
