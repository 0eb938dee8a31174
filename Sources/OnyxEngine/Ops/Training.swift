import Foundation
import OnyxTensor

/// Optimizer steps of domain ai.onnx.preview.training: Adagrad, Adam, Momentum (standard and Nesterov).
/// Inputs are R (learning rate), T (step count), then groups of per-tensor inputs; computed in double.
enum TrainingOps {
    static let domain = "ai.onnx.preview.training"
    static func register(_ t: inout OperatorTable) {
        t.add("Adagrad", domain: domain, since: 1) { try AdagradOp($0) }
        t.add("Adam", domain: domain, since: 1) { try AdamOp($0) }
        t.add("Momentum", domain: domain, since: 1) { try MomentumOp($0) }
    }

    /// R and T as Double / Int, and the number of optimized tensors given `groups` inputs per tensor.
    static func header(_ inputs: [Tensor?], groups: Int) throws -> (r: Double, t: Int64, n: Int) {
        let r = try inputs.required(0, "R"), t = try inputs.required(1, "T")
        guard r.count == 1, r.dtype.isFloatingPoint else { throw KernelError("input 'R' must be a float scalar") }
        guard t.count == 1, t.dtype == .int64 else { throw KernelError("input 'T' must be an int64 scalar") }
        let rest = inputs.count - 2
        guard rest > 0, rest % groups == 0 else {
            throw KernelError("expected 2 + \(groups)·N inputs, got \(inputs.count)")
        }
        return (r.doubleValue(at: 0), t.int64Values()[0], rest / groups)
    }

    /// Input `2 + g·n + i` as Double values, checked against the shape of X_i.
    static func group(_ inputs: [Tensor?], _ g: Int, _ n: Int, _ i: Int, _ name: String, like x: Tensor? = nil) throws -> (Tensor, [Double]) {
        let t = try inputs.required(2 + g * n + i, "\(name)\(i + 1)")
        if let x, x.shape != t.shape { throw KernelError("input '\(name)\(i + 1)' has shape \(t.shape), expected \(x.shape)") }
        return (t, try signalDoubles(t, name))
    }
}

struct AdagradOp: TensorKernel {
    let decay: Double, epsilon: Double, norm: Double
    init(_ c: NodeContext) throws {
        decay = Double(try c.float("decay_factor", 0)); epsilon = Double(try c.float("epsilon", 0))
        norm = Double(try c.float("norm_coefficient", 0))
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let (r, t, n) = try TrainingOps.header(inputs, groups: 3)
        let rate = r / (1 + Double(t) * decay)
        var xs: [Tensor] = [], hs: [Tensor] = []
        for i in 0..<n {
            let (xT, x) = try TrainingOps.group(inputs, 0, n, i, "X")
            let (_, g) = try TrainingOps.group(inputs, 1, n, i, "G", like: xT)
            let (hT, h) = try TrainingOps.group(inputs, 2, n, i, "H", like: xT)
            var xn = x, hn = h
            for k in 0..<x.count {
                let gr = norm * x[k] + g[k]
                hn[k] = h[k] + gr * gr
                xn[k] = x[k] - rate * gr / (hn[k].squareRoot() + epsilon)
            }
            xs.append(try signalTensor(xn, shape: xT.shape, dtype: xT.dtype))
            hs.append(try signalTensor(hn, shape: hT.shape, dtype: hT.dtype))
        }
        return xs + hs
    }
}

struct AdamOp: TensorKernel {
    let alpha: Double, beta: Double, epsilon: Double, norm: Double, normPost: Double
    init(_ c: NodeContext) throws {
        alpha = Double(try c.float("alpha", 0.9)); beta = Double(try c.float("beta", 0.999))
        epsilon = Double(try c.float("epsilon", 0)); norm = Double(try c.float("norm_coefficient", 0))
        normPost = Double(try c.float("norm_coefficient_post", 0))
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let (r, t, n) = try TrainingOps.header(inputs, groups: 4)
        let rate = t > 0 ? r * (1 - pow(beta, Double(t))).squareRoot() / (1 - pow(alpha, Double(t))) : r
        var xs: [Tensor] = [], vs: [Tensor] = [], hs: [Tensor] = []
        for i in 0..<n {
            let (xT, x) = try TrainingOps.group(inputs, 0, n, i, "X")
            let (_, g) = try TrainingOps.group(inputs, 1, n, i, "G", like: xT)
            let (vT, v) = try TrainingOps.group(inputs, 2, n, i, "V", like: xT)
            let (hT, h) = try TrainingOps.group(inputs, 3, n, i, "H", like: xT)
            var xn = x, vn = v, hn = h
            for k in 0..<x.count {
                let gr = norm * x[k] + g[k]
                vn[k] = alpha * v[k] + (1 - alpha) * gr
                hn[k] = beta * h[k] + (1 - beta) * gr * gr
                xn[k] = (1 - normPost) * (x[k] - rate * (vn[k] / (hn[k].squareRoot() + epsilon)))
            }
            xs.append(try signalTensor(xn, shape: xT.shape, dtype: xT.dtype))
            vs.append(try signalTensor(vn, shape: vT.shape, dtype: vT.dtype))
            hs.append(try signalTensor(hn, shape: hT.shape, dtype: hT.dtype))
        }
        return xs + vs + hs
    }
}

struct MomentumOp: TensorKernel {
    let alpha: Double, beta: Double, norm: Double, nesterov: Bool
    init(_ c: NodeContext) throws {
        alpha = Double(try c.float("alpha", 0)); beta = Double(try c.float("beta", 0))
        norm = Double(try c.float("norm_coefficient", 0))
        switch try c.string("mode", "standard") {
        case "standard": nesterov = false
        case "nesterov": nesterov = true
        case let m: throw KernelError("mode '\(m)' is not one of standard, nesterov")
        }
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let (r, t, n) = try TrainingOps.header(inputs, groups: 3)
        let b = t > 0 ? beta : 1
        var xs: [Tensor] = [], vs: [Tensor] = []
        for i in 0..<n {
            let (xT, x) = try TrainingOps.group(inputs, 0, n, i, "X")
            let (_, g) = try TrainingOps.group(inputs, 1, n, i, "G", like: xT)
            let (vT, v) = try TrainingOps.group(inputs, 2, n, i, "V", like: xT)
            var xn = x, vn = v
            for k in 0..<x.count {
                let gr = norm * x[k] + g[k]
                vn[k] = alpha * v[k] + b * gr
                xn[k] = nesterov ? x[k] - r * (gr + alpha * vn[k]) : x[k] - r * vn[k]
            }
            xs.append(try signalTensor(xn, shape: xT.shape, dtype: xT.dtype))
            vs.append(try signalTensor(vn, shape: vT.shape, dtype: vT.dtype))
        }
        return xs + vs
    }
}
