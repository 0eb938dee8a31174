import OnyxTensor

/// LinearClassifier (ai.onnx.ml 1): scores = X · coefficientsᵀ + intercepts, then label and post transform
/// as onnxruntime 1.32 does (a single score with two labels expands to [1 - p, p], p = logistic(s) for LOGISTIC).
struct LinearClassifierOp: Kernel {
    let coefficients: [Float]
    let intercepts: [Float]
    let classCount: Int
    let features: Int
    let labels: MLLabels
    let post: MLPostTransform

    init(_ c: NodeContext) throws {
        guard let coef = try c.floats("coefficients"), !coef.isEmpty else {
            throw KernelError("attribute 'coefficients' is required")
        }
        guard let labels = try MLLabels(c, strings: "classlabels_strings", ints: "classlabels_ints") else {
            throw KernelError("one of 'classlabels_strings' or 'classlabels_ints' is required")
        }
        let inter = try c.floats("intercepts") ?? []
        let n = inter.isEmpty ? (labels.count == 2 && coef.count % 2 != 0 ? 1 : labels.count) : inter.count
        guard n > 0, coef.count % n == 0 else {
            throw KernelError("\(coef.count) coefficients do not split into \(n) classes")
        }
        if n > 1 && labels.count != n {
            throw KernelError("\(labels.count) class labels for \(n) classes")
        }
        if n == 1 && labels.count != 2 {
            throw KernelError("a single score needs exactly 2 class labels, got \(labels.count)")
        }
        coefficients = coef
        intercepts = inter.isEmpty ? [Float](repeating: 0, count: n) : inter
        classCount = n
        features = coef.count / n
        self.labels = labels
        post = try MLPostTransform(try c.string("post_transform", "NONE"))
    }

    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        guard let xv = inputs.first ?? nil, let x = xv.tensor else { throw KernelError("missing input 'X'") }
        let (rows, cols) = try mlRowsCols(x)
        guard cols == features else { throw KernelError("input has \(cols) features, the model expects \(features)") }
        let xs = try mlFloats(x)
        let outCols = classCount == 1 ? 2 : classCount
        let z = Tensor.uninitialized(.float32, shape: [rows, outCols])
        let zp = z.mutablePointer(Float.self)
        var choice = [MLLabelValue](repeating: .index(0), count: rows)
        var scores = [Float](repeating: 0, count: classCount)
        for r in 0..<rows {
            for k in 0..<classCount {
                var s: Float = 0
                let xo = r * cols, co = k * features
                for f in 0..<features { s += xs[xo + f] * coefficients[co + f] }
                scores[k] = s + intercepts[k]
            }
            if classCount == 1 {
                choice[r] = .index(scores[0] > 0 ? 1 : 0)
                switch post {
                case .probit:
                    // onnxruntime transforms the packed scores in place without expanding them: the first
                    // `rows` slots of Z hold the probits, the rest stay zero.
                    zp[r] = mlProbit(scores[0])
                    if r == 0 { for k in rows..<(rows * 2) { zp[k] = 0 } }
                case .logistic:
                    let p = mlLogistic(scores[0])
                    zp[r * 2] = 1 - p; zp[r * 2 + 1] = p
                default:
                    zp[r * 2] = 1 - scores[0]; zp[r * 2 + 1] = scores[0]
                }
            } else {
                var best = 0
                for k in 1..<classCount where scores[k] > scores[best] { best = k }
                choice[r] = .index(best)
                scores.withUnsafeMutableBufferPointer { b in
                    if let p = b.baseAddress { mlTransformRow(p, classCount, post) }
                }
                for k in 0..<classCount { zp[r * classCount + k] = scores[k] }
            }
        }
        return [.tensor(mlLabelTensor(choice, labels: labels)), .tensor(z)]
    }
}

/// LinearRegressor (ai.onnx.ml 1): Y = X · coefficientsᵀ + intercepts, shape [N, targets].
struct LinearRegressorOp: TensorKernel {
    let coefficients: [Float]
    let intercepts: [Float]
    let targets: Int
    let features: Int
    let post: MLPostTransform

    init(_ c: NodeContext) throws {
        let coef = try c.floats("coefficients") ?? []
        targets = try c.int("targets", 1)
        guard targets > 0, !coef.isEmpty, coef.count % targets == 0 else {
            throw KernelError("\(coef.count) coefficients do not split into \(targets) targets")
        }
        let inter = try c.floats("intercepts") ?? []
        guard inter.isEmpty || inter.count == targets else {
            throw KernelError("\(inter.count) intercepts for \(targets) targets")
        }
        coefficients = coef
        intercepts = inter.isEmpty ? [Float](repeating: 0, count: targets) : inter
        features = coef.count / targets
        post = try MLPostTransform(try c.string("post_transform", "NONE"))
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let (rows, cols) = try mlRowsCols(x)
        guard cols == features else { throw KernelError("input has \(cols) features, the model expects \(features)") }
        let xs = try mlFloats(x)
        let y = Tensor.uninitialized(.float32, shape: [rows, targets])
        let yp = y.mutablePointer(Float.self)
        for r in 0..<rows {
            for k in 0..<targets {
                var s: Float = 0
                let xo = r * cols, co = k * features
                for f in 0..<features { s += xs[xo + f] * coefficients[co + f] }
                yp[r * targets + k] = s + intercepts[k]
            }
            if targets > 1 { mlTransformRow(yp + r * targets, targets, post) }
            else if post == .probit { yp[r] = mlProbit(yp[r]) }
        }
        return [y]
    }
}
