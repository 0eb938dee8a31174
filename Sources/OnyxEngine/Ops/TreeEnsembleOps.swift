import Foundation
import OnyxTensor

/// onnxruntime's `write_scores`: a row of two or more scores gets the post transform; a single score is expanded
/// to two columns according to `addSecond` (0/1: [1-s, s]; 2/3: [-s, s] or logistic of both; -1: kept alone).
func mlWriteScores(_ v: [Float], _ post: MLPostTransform, _ addSecond: Int) -> [Float] {
    if v.count >= 2 {
        var r = v
        r.withUnsafeMutableBufferPointer { b in if let p = b.baseAddress { mlTransformRow(p, b.count, post) } }
        return r
    }
    guard let s = v.first else { return [] }
    if post == .probit { return [mlProbit(s)] }
    switch addSecond {
    case 0, 1: return [1 - s, s]
    case 2, 3: return post == .logistic ? [mlLogistic(-s), mlLogistic(s)] : [-s, s]
    default: return [s]
    }
}

/// Converts the input to the computation type: Double for double inputs, Float otherwise (onnxruntime's
/// threshold type), and runs `body` with the matching thresholds/members/weights of the forest.
private func withForestInput<R>(_ x: Tensor, _ f: TreeForest,
                                float: ([Float], [Float], [Float], [Float]) throws -> R,
                                double: ([Double], [Double], [Double], [Double]) throws -> R) throws -> R {
    if x.dtype == .float64 { return try double(try x.toArray(Double.self), f.thresholdsD, f.membersD, f.weightD) }
    return try float(try mlFloats(x), f.thresholdsF, f.membersF, f.weightF)
}

/// Final scores of a regression ensemble (onnxruntime's FinalizeScores1 / FinalizeScores per aggregator).
private func regressionFinalize<A: BinaryFloatingPoint & Sendable>(_ s: [A], _ h: [Bool], rows: Int, targets: Int,
                                                         agg: TreeForest.Aggregate, post: MLPostTransform,
                                                         base: [Double], trees: Int) -> [A] {
    var out = [A](repeating: 0, count: rows * targets)
    let nt = A(max(trees, 1))
    if targets == 1 {
        let origin = base.count == 1 ? A(base[0]) : 0
        for r in 0..<rows {
            var v: A
            switch agg {
            case .sum: v = s[r] + origin
            case .average: v = s[r] / nt + origin
            case .min, .max: v = h[r] ? s[r] + origin : origin
            }
            if post == .probit { v = A(mlProbit(Float(v))) }
            out[r] = v
        }
        return out
    }
    let useBase = base.count == targets
    let b = base.map { A($0) }
    var row = [Float](repeating: 0, count: targets)
    for r in 0..<rows {
        for t in 0..<targets {
            let i = r * targets + t
            var v: A
            switch agg {
            case .sum: v = useBase ? s[i] + b[t] : s[i]
            case .average: v = useBase ? s[i] / nt + b[t] : s[i] / nt
            case .min, .max: v = (useBase ? b[t] : 0) + (h[i] ? s[i] : 0)
            }
            out[i] = h[i] ? v : 0
        }
        if post != .none {
            for t in 0..<targets { row[t] = Float(out[r * targets + t]) }
            let res = mlWriteScores(row, post, -1)
            for t in 0..<targets { out[r * targets + t] = A(res[t]) }
        }
    }
    return out
}

/// TreeEnsembleRegressor (ai.onnx.ml 1 and 3, the latter adding the *_as_tensor attributes). Output float.
struct TreeEnsembleRegressorOp: TensorKernel {
    let forest: TreeForest
    let targets: Int
    let agg: TreeForest.Aggregate
    let post: MLPostTransform
    let base: [Double]

    init(_ c: NodeContext) throws {
        targets = try c.int("n_targets", 1)
        guard targets > 0 else { throw KernelError("n_targets must be positive") }
        forest = try TreeForest(legacy: c, weightPrefix: "target")
        try forest.validate(targets: targets)
        agg = try TreeForest.aggregate(try c.string("aggregate_function", "SUM"))
        post = try MLPostTransform(try c.string("post_transform", "NONE"))
        base = try mlBaseValues(c)
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let (rows, cols) = try mlRowsCols(x)
        guard forest.maxFeature < cols else { throw KernelError("the trees read feature \(forest.maxFeature), the input has \(cols)") }
        let values: [Float] = try withForestInput(x, forest, float: { xs, th, mem, w in
            let (s, h) = forest.accumulate(xs, rows: rows, cols: cols, targets: targets, aggregate: agg,
                                           thresholds: th, members: mem, weights: w, ctx: ctx)
            return regressionFinalize(s, h, rows: rows, targets: targets, agg: agg, post: post, base: base, trees: forest.roots.count)
        }, double: { xs, th, mem, w in
            let (s, h) = forest.accumulate(xs, rows: rows, cols: cols, targets: targets, aggregate: agg,
                                           thresholds: th, members: mem, weights: w, ctx: ctx)
            return regressionFinalize(s, h, rows: rows, targets: targets, agg: agg, post: post, base: base, trees: forest.roots.count)
                .map { Float($0) }
        })
        return [Tensor(shape: [rows, targets], checkedValues: values)]
    }
}

/// TreeEnsembleClassifier (ai.onnx.ml 1 and 3): labels and per-class scores with onnxruntime's binary rules.
struct TreeEnsembleClassifierOp: Kernel {
    let forest: TreeForest
    let labels: MLLabels
    let classes: Int
    let post: MLPostTransform
    let base: [Double]
    let binaryCase: Bool
    let allPositive: Bool

    init(_ c: NodeContext) throws {
        guard let labels = try MLLabels(c, strings: "classlabels_strings", ints: "classlabels_int64s") else {
            throw KernelError("one of 'classlabels_strings' or 'classlabels_int64s' is required")
        }
        self.labels = labels
        classes = labels.count
        forest = try TreeForest(legacy: c, weightPrefix: "class")
        try forest.validate(targets: classes)
        post = try MLPostTransform(try c.string("post_transform", "NONE"))
        base = try mlBaseValues(c)
        let ids = Set(try c.ints("class_ids") ?? [])
        binaryCase = classes == 2 && ids.count == 1
        var weights: [Double]
        if let t = try c.tensor("class_weights_as_tensor") { weights = try mlDoubles(t) }
        else { weights = (try c.floats("class_weights") ?? []).map { Double($0) } }
        allPositive = weights.allSatisfy { $0 >= 0 }
    }

    /// Label and score row for one input row (onnxruntime's TreeAggregatorClassifier::FinalizeScores).
    private func finalize<A: BinaryFloatingPoint & Sendable>(_ s: inout [A], _ h: inout [Bool]) -> (MLLabelValue, [Float]) {
        let isStrings: Bool = { if case .strings = labels { return true }; return false }()
        func binaryLabel(_ pos: A, _ was: inout Int) -> MLLabelValue {
            if binaryCase {
                if allPositive {
                    if pos > 0.5 { was = 0; return .index(1) }
                    was = 1; return .index(0)
                }
                if pos > 0 { was = 2; return .index(1) }
                was = 3; return .index(0)
            }
            if isStrings { return .index(pos > 0 ? 1 : 0) }
            return .int(pos > 0 ? 1 : 0)
        }
        if classes == 1 {
            var was = -1
            var v = s[0]
            let label: MLLabelValue
            var row: [Float]
            if base.count == 2 {
                v += A(base[1])
                label = binaryLabel(v, &was)
                row = [Float(-v), Float(v)]
            } else {
                if base.count == 1 { v += A(base[0]) }
                label = binaryLabel(v, &was)
                row = [Float(v)]
            }
            return (label, mlWriteScores(row, post, was))
        }
        if classes > 2 {
            for k in 0..<min(base.count, classes) {
                if !h[k] { h[k] = true; s[k] = A(base[k]) } else { s[k] += A(base[k]) }
            }
            var best = -1
            for k in 0..<classes where h[k] && (best < 0 || s[k] > s[best]) { best = k }
            let row = (0..<classes).map { h[$0] ? Float(s[$0]) : 0 }
            return (.index(max(best, 0)), mlWriteScores(row, post, -1))
        }
        // Two classes.
        var count = 2
        var was = -1
        if base.count == 2 {
            if h[1] {
                s[1] = A(base[1]) + s[0]; s[0] = -s[1]; h[1] = true
            } else {
                s[1] += A(base[1]); s[0] += A(base[0])
            }
        } else if base.count == 1 {
            s[0] += A(base[0])
            if !h[1] { count = 1 }
        } else if base.isEmpty {
            was = 3
            if !h[1] { count = 1 }
        }
        let pos: A = (count == 2 && h[1]) ? s[1] : (h[0] ? s[0] : 0)
        let label = binaryLabel(pos, &was)
        let row = (0..<count).map { h[$0] ? Float(s[$0]) : 0 }
        return (label, mlWriteScores(row, post, was))
    }

    private func classify<A: BinaryFloatingPoint & Sendable>(_ xs: [A], _ th: [A], _ mem: [A], _ w: [A], rows: Int, cols: Int,
                                                  ctx: RunContext) -> ([MLLabelValue], [Float]) {
        let (s, h) = forest.accumulate(xs, rows: rows, cols: cols, targets: classes, aggregate: .sum,
                                       thresholds: th, members: mem, weights: w, ctx: ctx)
        var choice = [MLLabelValue](repeating: .index(0), count: rows)
        var z = [Float](repeating: 0, count: rows * classes)
        for r in 0..<rows {
            var rs = Array(s[(r * classes)..<((r + 1) * classes)])
            var rh = Array(h[(r * classes)..<((r + 1) * classes)])
            let (label, row) = finalize(&rs, &rh)
            choice[r] = label
            for k in 0..<min(row.count, classes) { z[r * classes + k] = row[k] }
        }
        return (choice, z)
    }

    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        guard let xv = inputs.first ?? nil, let x = xv.tensor else { throw KernelError("missing input 'X'") }
        let (rows, cols) = try mlRowsCols(x)
        guard forest.maxFeature < cols else { throw KernelError("the trees read feature \(forest.maxFeature), the input has \(cols)") }
        let (choice, z) = try withForestInput(x, forest, float: { xs, th, mem, w in
            classify(xs, th, mem, w, rows: rows, cols: cols, ctx: ctx)
        }, double: { xs, th, mem, w in
            classify(xs, th, mem, w, rows: rows, cols: cols, ctx: ctx)
        })
        return [.tensor(mlLabelTensor(choice, labels: labels)),
                .tensor(Tensor(shape: [rows, classes], checkedValues: z))]
    }
}

/// TreeEnsemble (ai.onnx.ml 5): nodes and leaves in separate arrays, uint8 modes with set membership,
/// integer aggregate/post-transform codes. Output has the input's type.
struct TreeEnsembleOp: TensorKernel {
    let forest: TreeForest
    let targets: Int
    let agg: TreeForest.Aggregate
    let post: MLPostTransform

    init(_ c: NodeContext) throws {
        let features = try c.ints("nodes_featureids") ?? []
        let n = features.count
        guard let splitsT = try c.tensor("nodes_splits") else { throw KernelError("attribute 'nodes_splits' is required") }
        guard let modesT = try c.tensor("nodes_modes") else { throw KernelError("attribute 'nodes_modes' is required") }
        let splits = try mlDoubles(splitsT)
        let modes = modesT.intValues()
        let trueIds = try c.ints("nodes_truenodeids") ?? []
        let falseIds = try c.ints("nodes_falsenodeids") ?? []
        let trueLeaf = try c.ints("nodes_trueleafs") ?? []
        let falseLeaf = try c.ints("nodes_falseleafs") ?? []
        let missing = try c.ints("nodes_missing_value_tracks_true") ?? []
        let roots = try c.ints("tree_roots") ?? []
        let leafTargets = try c.ints("leaf_targetids") ?? []
        guard let leafT = try c.tensor("leaf_weights") else { throw KernelError("attribute 'leaf_weights' is required") }
        let leafWeights = try mlDoubles(leafT)
        let members = try c.tensor("membership_values").map { try mlDoubles($0) } ?? []
        for (name, count) in [("nodes_splits", splits.count), ("nodes_modes", modes.count),
                              ("nodes_truenodeids", trueIds.count), ("nodes_falsenodeids", falseIds.count),
                              ("nodes_trueleafs", trueLeaf.count), ("nodes_falseleafs", falseLeaf.count)] where count != n {
            throw KernelError("'\(name)' has \(count) entries, expected \(n)")
        }
        guard leafTargets.count == leafWeights.count else {
            throw KernelError("'leaf_targetids' and 'leaf_weights' differ in length")
        }
        var f = TreeForest()
        var memberPos = 0
        for i in 0..<n {
            guard let m = TreeForest.Mode(rawValue: UInt8(clamping: modes[i])), m != .leaf else {
                throw KernelError("node \(i) has unknown mode \(modes[i])")
            }
            f.addNode(feature: features[i], mode: m, threshold: splits[i], missingTrue: i < missing.count && missing[i] == 1)
            if m == .member {
                f.memberStart[i] = f.membersD.count
                while memberPos < members.count, !members[memberPos].isNaN {
                    f.membersD.append(members[memberPos]); f.membersF.append(Float(members[memberPos]))
                    memberPos += 1
                }
                guard memberPos < members.count || f.membersD.count > f.memberStart[i] else {
                    throw KernelError("'membership_values' has no set for node \(i)")
                }
                memberPos += 1  // the NaN delimiter
                f.memberCount[i] = f.membersD.count - f.memberStart[i]
            }
        }
        // Leaves follow the nodes: leaf k is node n + k.
        for _ in 0..<leafWeights.count { f.addNode(feature: 0, mode: .leaf, threshold: 0, missingTrue: false) }
        for i in 0..<n {
            let t = trueIds[i], fl = falseIds[i]
            guard t >= 0, fl >= 0 else { throw KernelError("node \(i) has a negative child index") }
            guard trueLeaf[i] == 0 ? t < n : t < leafWeights.count, falseLeaf[i] == 0 ? fl < n : fl < leafWeights.count else {
                throw KernelError("node \(i) has a child index out of range")
            }
            f.trueNext[i] = trueLeaf[i] != 0 ? n + t : t
            f.falseNext[i] = falseLeaf[i] != 0 ? n + fl : fl
        }
        for r in roots {
            guard r >= 0, r < n else { throw KernelError("tree root \(r) is out of range") }
            // A single-leaf tree: both branches reference the same leaf.
            if trueLeaf[r] != 0, falseLeaf[r] != 0, trueIds[r] == falseIds[r] { f.roots.append(n + trueIds[r]) }
            else { f.roots.append(r) }
        }
        f.setWeights((0..<leafWeights.count).map { (n + $0, leafTargets[$0], leafWeights[$0]) })
        let nt = try c.int("n_targets", (leafTargets.max() ?? 0) + 1)
        guard nt > 0 else { throw KernelError("n_targets must be positive") }
        try f.validate(targets: nt)
        forest = f
        targets = nt
        switch try c.int("aggregate_function", 1) {
        case 0: agg = .average
        case 1: agg = .sum
        case 2: agg = .min
        case 3: agg = .max
        case let v: throw KernelError("aggregate_function \(v) is out of range 0...3")
        }
        post = try MLPostTransform(code: try c.int("post_transform", 0))
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let (rows, cols) = try mlRowsCols(x)
        guard forest.maxFeature < cols else { throw KernelError("the trees read feature \(forest.maxFeature), the input has \(cols)") }
        let shape = [rows, targets]
        let trees = forest.roots.count
        switch x.dtype {
        case .float64:
            let xs = try x.toArray(Double.self)
            let (s, h) = forest.accumulate(xs, rows: rows, cols: cols, targets: targets, aggregate: agg,
                                           thresholds: forest.thresholdsD, members: forest.membersD, weights: forest.weightD, ctx: ctx)
            let v = regressionFinalize(s, h, rows: rows, targets: targets, agg: agg, post: post, base: [], trees: trees)
            return [Tensor(shape: shape, checkedValues: v)]
        case .float32, .float16:
            let xs = try mlFloats(x)
            let (s, h) = forest.accumulate(xs, rows: rows, cols: cols, targets: targets, aggregate: agg,
                                           thresholds: forest.thresholdsF, members: forest.membersF, weights: forest.weightF, ctx: ctx)
            let v = regressionFinalize(s, h, rows: rows, targets: targets, agg: agg, post: post, base: [], trees: trees)
            if x.dtype == .float16 { return [Tensor(shape: shape, checkedValues: v.map { Float16($0) })] }
            return [Tensor(shape: shape, checkedValues: v)]
        default:
            throw KernelError("input type \(x.dtype) is not supported (float, double, float16 expected)")
        }
    }
}
