import Foundation
import OnyxTensor

/// Kernel function of SVMClassifier / SVMRegressor (`kernel_type`, `kernel_params` = [gamma, coef0, degree]).
struct SVMKernel: Sendable {
    enum Kind: Sendable { case linear, poly, rbf, sigmoid }
    var kind: Kind
    var gamma: Float = 0
    var coef0: Float = 0
    var degree: Float = 0

    init(_ c: NodeContext) throws {
        switch try c.string("kernel_type", "LINEAR") {
        case "LINEAR": kind = .linear
        case "POLY": kind = .poly
        case "RBF": kind = .rbf
        case "SIGMOID": kind = .sigmoid
        case let s: throw KernelError("kernel_type '\(s)' is not one of LINEAR, POLY, RBF, SIGMOID")
        }
        let p = try c.floats("kernel_params") ?? []
        if !p.isEmpty {
            guard p.count >= 3 else { throw KernelError("'kernel_params' needs [gamma, coef0, degree]") }
            gamma = p[0]; coef0 = p[1]; degree = p[2]
        }
    }

    /// k(x, v) for `n` vectors of `k` features, as onnxruntime's batched_kernel_dot (`c` is added for LINEAR).
    func apply(_ x: UnsafePointer<Float>, _ vectors: [Float], n: Int, k: Int, c: Float, into out: inout [Float]) {
        for v in 0..<n {
            let o = v * k
            if kind == .rbf {
                var sum: Float = 0
                for f in 0..<k { let d = x[f] - vectors[o + f]; sum += d * d }
                out[v] = Foundation.exp(-gamma * sum)
                continue
            }
            var dot: Float = 0
            for f in 0..<k { dot += x[f] * vectors[o + f] }
            switch kind {
            case .linear: out[v] = dot + c
            case .poly:
                let b = gamma * dot + coef0
                out[v] = degree == 2 ? b * b : degree == 3 ? b * b * b : Foundation.pow(b, degree)
            case .sigmoid: out[v] = Foundation.tanh(gamma * dot + coef0)
            case .rbf: break
            }
        }
    }
}

/// libsvm's pairwise-coupling probability estimate (onnxruntime's multiclass_probability), in float.
func svmMulticlassProbability(_ k: Int, _ r: [Float]) -> [Float] {
    var q = [Float](repeating: 0, count: k * k)
    var qp = [Float](repeating: 0, count: k)
    var p = [Float](repeating: 1 / Float(k), count: k)
    let eps = 0.005 / Float(k)
    for i in 0..<k {
        for j in 0..<i {
            q[i * k + i] += r[j * k + i] * r[j * k + i]
            q[i * k + j] = q[j * k + i]
        }
        for j in (i + 1)..<max(k, i + 1) {
            q[i * k + i] += r[j * k + i] * r[j * k + i]
            q[i * k + j] = -r[j * k + i] * r[i * k + j]
        }
    }
    for _ in 0..<100 {
        var pqp: Float = 0
        for i in 0..<k {
            qp[i] = 0
            for j in 0..<k { qp[i] += q[i * k + j] * p[j] }
            pqp += p[i] * qp[i]
        }
        var maxError: Float = 0
        for i in 0..<k { let e = Swift.abs(qp[i] - pqp); if e > maxError { maxError = e } }
        if maxError < eps { break }
        for i in 0..<k {
            let diff = (-qp[i] + pqp) / q[i * k + i]
            p[i] += diff
            pqp = (pqp + diff * (diff * q[i * k + i] + 2 * qp[i])) / (1 + diff) / (1 + diff)
            for j in 0..<k {
                qp[j] = (qp[j] + diff * q[i * k + j]) / (1 + diff)
                p[j] /= (1 + diff)
            }
        }
    }
    return p
}

/// SVMClassifier (ai.onnx.ml 1): libsvm one-vs-one voting (SVC) or liblinear scores, optional Platt scaling
/// (prob_a/prob_b), with onnxruntime's label choice and score layouts.
struct SVMClassifierOp: Kernel {
    let kernel: SVMKernel
    let linear: Bool
    let labels: MLLabels
    let classes: Int
    let features: Int
    let vectorCount: Int
    let vectorsPerClass: [Int]
    let starts: [Int]
    let supportVectors: [Float]
    let coefficients: [Float]
    let rho: [Float]
    let probA: [Float]
    let probB: [Float]
    let post: MLPostTransform
    let allPositive: Bool

    init(_ c: NodeContext) throws {
        var k = try SVMKernel(c)
        guard let labels = try MLLabels(c, strings: "classlabels_strings", ints: "classlabels_ints") else {
            throw KernelError("one of 'classlabels_strings' or 'classlabels_ints' is required")
        }
        self.labels = labels
        classes = labels.count
        vectorsPerClass = try c.ints("vectors_per_class") ?? []
        guard vectorsPerClass.allSatisfy({ $0 >= 0 }) else { throw KernelError("'vectors_per_class' must be non-negative") }
        var s: [Int] = []
        var total = 0
        for v in vectorsPerClass { s.append(total); total += v }
        starts = s
        vectorCount = total
        supportVectors = try c.floats("support_vectors") ?? []
        coefficients = try c.floats("coefficients") ?? []
        rho = try c.floats("rho") ?? []
        probA = try c.floats("prob_a") ?? []
        probB = try c.floats("prob_b") ?? []
        post = try MLPostTransform(try c.string("post_transform", "NONE"))
        guard !coefficients.isEmpty else { throw KernelError("attribute 'coefficients' is required") }
        guard probA.count == probB.count else { throw KernelError("'prob_a' and 'prob_b' differ in length") }
        guard !rho.isEmpty else { throw KernelError("attribute 'rho' is required") }
        let pairs = classes * (classes - 1) / 2
        if total > 0 {
            linear = false
            guard supportVectors.count % total == 0 else {
                throw KernelError("\(supportVectors.count) support vector values for \(total) vectors")
            }
            features = supportVectors.count / total
            guard vectorsPerClass.count == classes else {
                throw KernelError("'vectors_per_class' has \(vectorsPerClass.count) entries for \(classes) classes")
            }
            guard coefficients.count >= max(classes - 1, 0) * total else {
                throw KernelError("\(coefficients.count) coefficients, expected \((classes - 1) * total)")
            }
            guard rho.count >= pairs else { throw KernelError("'rho' has \(rho.count) values for \(pairs) class pairs") }
            guard probA.isEmpty || probA.count >= pairs else { throw KernelError("'prob_a' has \(probA.count) values for \(pairs) class pairs") }
        } else {
            linear = true
            k.kind = .linear
            guard coefficients.count % classes == 0 else {
                throw KernelError("\(coefficients.count) coefficients do not split into \(classes) classes")
            }
            features = coefficients.count / classes
        }
        kernel = k
        allPositive = coefficients.allSatisfy { $0 >= 0 }
    }

    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        guard let xv = inputs.first ?? nil, let x = xv.tensor else { throw KernelError("missing input 'X'") }
        let (rows, cols) = try mlRowsCols(x)
        guard cols == features else { throw KernelError("input has \(cols) features, the model expects \(features)") }
        let xs = try mlFloats(x)
        let haveProba = !probA.isEmpty
        let pairs = classes * (classes - 1) / 2
        let zCols = linear || haveProba ? classes : (classes > 2 ? pairs : 2)
        var z = [Float](repeating: 0, count: rows * zCols)
        var choice = [MLLabelValue](repeating: .index(0), count: rows)
        var kern = [Float](repeating: 0, count: linear ? classes : vectorCount)
        xs.withUnsafeBufferPointer { xb in
            guard let xbase = xb.baseAddress else { return }
            for r in 0..<rows {
                let row = xbase + r * cols
                if linear {
                    kernel.apply(row, coefficients, n: classes, k: features, c: rho[0], into: &kern)
                    var best = 0
                    for k in 1..<max(classes, 1) where kern[k] > kern[best] { best = k }
                    let maxWeight = kern[best]
                    if classes == 2 && !haveProba {
                        if allPositive && maxWeight >= 0.5 { choice[r] = .index(1) }
                        else if maxWeight > 0 && !allPositive { choice[r] = .index(1) }
                        else { choice[r] = .index(best) }
                    } else {
                        choice[r] = .index(best)
                    }
                    let res = mlWriteScores(kern, post, -1)
                    for k in 0..<min(res.count, zCols) { z[r * zCols + k] = res[k] }
                    continue
                }
                kernel.apply(row, supportVectors, n: vectorCount, k: features, c: 0, into: &kern)
                var scores = [Float](repeating: 0, count: pairs)
                var votes = [Int](repeating: 0, count: classes)
                var idx = 0
                for i in 0..<max(classes - 1, 0) {
                    for j in (i + 1)..<classes {
                        var sum: Double = 0
                        let rowJ = vectorCount * (j - 1), rowI = vectorCount * i
                        for m in 0..<vectorsPerClass[i] {
                            sum += Double(coefficients[rowJ + starts[i] + m] * kern[starts[i] + m])
                        }
                        for m in 0..<vectorsPerClass[j] {
                            sum += Double(coefficients[rowI + starts[j] + m] * kern[starts[j] + m])
                        }
                        sum += Double(rho[idx])
                        scores[idx] = Float(sum)
                        votes[sum > 0 ? i : j] += 1
                        idx += 1
                    }
                }
                var best = 0
                for k in 1..<max(classes, 1) where votes[k] > votes[best] { best = k }
                choice[r] = .index(best)
                var res: [Float]
                if haveProba {
                    var p2 = [Float](repeating: 0, count: classes * classes)
                    var index = 0
                    for i in 0..<max(classes - 1, 0) {
                        for j in (i + 1)..<classes {
                            let v1 = 1 - mlLogistic(scores[index] * probA[index] + probB[index])
                            let v2 = Swift.min(Swift.max(v1, 1.0e-7), 1 - 1.0e-7)
                            p2[i * classes + j] = v2
                            p2[j * classes + i] = 1 - v2
                            index += 1
                        }
                    }
                    res = mlWriteScores(svmMulticlassProbability(classes, p2), post, -1)
                } else {
                    let was = classes <= 2 ? (post == .none ? 2 : 0) : -1
                    res = mlWriteScores(scores, post, was)
                }
                for k in 0..<min(res.count, zCols) { z[r * zCols + k] = res[k] }
            }
        }
        return [.tensor(mlLabelTensor(choice, labels: labels)),
                .tensor(Tensor(shape: [rows, zCols], checkedValues: z))]
    }
}

/// SVMRegressor (ai.onnx.ml 1): Σ coefᵥ·k(x, svᵥ) + rho (or a linear model when n_supports = 0); one_class
/// maps the score to ±1. Output float [N, 1].
struct SVMRegressorOp: TensorKernel {
    let kernel: SVMKernel
    let linear: Bool
    let vectorCount: Int
    let features: Int
    let supportVectors: [Float]
    let coefficients: [Float]
    let rho: Float
    let oneClass: Bool

    init(_ c: NodeContext) throws {
        var k = try SVMKernel(c)
        vectorCount = try c.int("n_supports", 0)
        supportVectors = try c.floats("support_vectors") ?? []
        coefficients = try c.floats("coefficients") ?? []
        guard let r = try c.floats("rho"), let r0 = r.first else { throw KernelError("attribute 'rho' is required") }
        rho = r0
        guard !coefficients.isEmpty else { throw KernelError("attribute 'coefficients' is required") }
        oneClass = try c.int("one_class", 0) != 0
        guard vectorCount >= 0 else { throw KernelError("n_supports must be non-negative") }
        if vectorCount > 0 {
            linear = false
            guard supportVectors.count % vectorCount == 0, coefficients.count >= vectorCount else {
                throw KernelError("support vectors/coefficients do not match n_supports=\(vectorCount)")
            }
            features = supportVectors.count / vectorCount
        } else {
            linear = true
            k.kind = .linear
            features = coefficients.count
        }
        kernel = k
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let (rows, cols) = try mlRowsCols(x)
        guard cols == features else { throw KernelError("input has \(cols) features, the model expects \(features)") }
        let xs = try mlFloats(x)
        var y = [Float](repeating: 0, count: rows)
        var kern = [Float](repeating: 0, count: linear ? 1 : vectorCount)
        xs.withUnsafeBufferPointer { xb in
            guard let xbase = xb.baseAddress else { return }
            for r in 0..<rows {
                let row = xbase + r * cols
                var v: Float
                if linear {
                    kernel.apply(row, coefficients, n: 1, k: features, c: rho, into: &kern)
                    v = kern[0]
                } else {
                    kernel.apply(row, supportVectors, n: vectorCount, k: features, c: 0, into: &kern)
                    var s: Float = 0
                    for i in 0..<vectorCount { s += kern[i] * coefficients[i] }
                    v = s + rho
                }
                y[r] = oneClass ? (v > 0 ? 1 : -1) : v
            }
        }
        return [Tensor(shape: [rows, 1], checkedValues: y)]
    }
}
