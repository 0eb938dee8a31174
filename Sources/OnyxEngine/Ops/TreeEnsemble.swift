import Foundation
import OnyxTensor

/// The tree structure shared by TreeEnsembleClassifier, TreeEnsembleRegressor and TreeEnsemble (opset 5):
/// flat node arrays (leaves included) with absolute child indices, and per-leaf (target, weight) lists.
/// Evaluation and aggregation follow onnxruntime's TreeEnsembleCommon and its aggregators.
struct TreeForest: Sendable {
    enum Mode: UInt8 { case leq = 0, lt, gte, gt, eq, neq, member, leaf }
    enum Aggregate: Sendable { case sum, average, min, max }

    var feature: [Int] = []
    var mode: [Mode] = []
    var missingTrue: [Bool] = []
    var trueNext: [Int] = []
    var falseNext: [Int] = []
    var thresholdsD: [Double] = []
    var thresholdsF: [Float] = []
    /// Set-membership nodes: range into `members*`.
    var memberStart: [Int] = []
    var memberCount: [Int] = []
    var membersD: [Double] = []
    var membersF: [Float] = []
    /// Leaves: range into the weight arrays.
    var weightStart: [Int] = []
    var weightCount: [Int] = []
    var weightTarget: [Int] = []
    var weightD: [Double] = []
    var weightF: [Float] = []
    var roots: [Int] = []
    var maxFeature = -1

    mutating func addNode(feature f: Int, mode m: Mode, threshold: Double, missingTrue mt: Bool) {
        feature.append(f); mode.append(m); missingTrue.append(mt)
        trueNext.append(-1); falseNext.append(-1)
        thresholdsD.append(threshold); thresholdsF.append(Float(threshold))
        memberStart.append(0); memberCount.append(0)
        weightStart.append(0); weightCount.append(0)
        if m != .leaf { maxFeature = Swift.max(maxFeature, f) }
    }

    /// Fills the leaf weight ranges from (node index, target, weight) triples, grouped by node in input order.
    mutating func setWeights(_ items: [(node: Int, target: Int, weight: Double)]) {
        var byNode = [[(Int, Double)]](repeating: [], count: mode.count)
        for it in items where mode[it.node] == .leaf { byNode[it.node].append((it.target, it.weight)) }
        for n in 0..<mode.count where mode[n] == .leaf {
            weightStart[n] = weightTarget.count
            weightCount[n] = byNode[n].count
            for (t, w) in byNode[n] { weightTarget.append(t); weightD.append(w); weightF.append(Float(w)) }
        }
    }

    /// Checks children, features, targets and that every tree walk terminates (no cycles).
    func validate(targets: Int) throws {
        let n = mode.count
        for i in 0..<n where mode[i] != .leaf {
            guard trueNext[i] >= 0, trueNext[i] < n, falseNext[i] >= 0, falseNext[i] < n else {
                throw KernelError("node \(i) has a child outside the tree")
            }
            guard feature[i] >= 0 else { throw KernelError("node \(i) has a negative feature id") }
        }
        for t in weightTarget where t < 0 || t >= targets {
            throw KernelError("target/class id \(t) is out of range for \(targets) targets")
        }
        // Depth-first colouring: 0 unvisited, 1 on the stack, 2 done.
        var state = [UInt8](repeating: 0, count: n)
        for r in roots {
            guard r >= 0, r < n else { throw KernelError("tree root \(r) is out of range") }
            var stack: [(Int, Bool)] = [(r, false)]
            while let (node, exiting) = stack.popLast() {
                if exiting { state[node] = 2; continue }
                if state[node] == 2 { continue }
                if state[node] == 1 { throw KernelError("the trees contain a cycle at node \(node)") }
                state[node] = 1
                stack.append((node, true))
                if mode[node] != .leaf {
                    for c in [trueNext[node], falseNext[node]] {
                        if state[c] == 1 { throw KernelError("the trees contain a cycle at node \(c)") }
                        if state[c] == 0 { stack.append((c, false)) }
                    }
                }
            }
        }
    }

    /// The leaf reached from `root` for one row. Thresholds/members are of the computation type `A`.
    @inline(__always)
    func leaf<A: BinaryFloatingPoint>(_ root: Int, _ row: UnsafePointer<A>, _ thr: UnsafePointer<A>, _ mem: UnsafePointer<A>) -> Int {
        var n = root
        while true {
            let m = mode[n]
            if m == .leaf { return n }
            let v = row[feature[n]]
            let th = thr[n]
            let c: Bool
            switch m {
            case .leq: c = v <= th
            case .lt: c = v < th
            case .gte: c = v >= th
            case .gt: c = v > th
            case .eq: c = v == th
            case .neq: c = v != th
            case .member:
                var hit = false
                let s = memberStart[n]
                for k in 0..<memberCount[n] where mem[s + k] == v { hit = true; break }
                c = hit
            case .leaf: c = false
            }
            n = (c || (missingTrue[n] && v.isNaN)) ? trueNext[n] : falseNext[n]
        }
    }

    /// Raw per-target scores for every row (before base values / transforms): `(score, hasScore)` pairs in
    /// `scores[r * targets + t]`. `single` uses only the first weight of each leaf (onnxruntime's 1-target path).
    func accumulate<A: BinaryFloatingPoint & Sendable>(_ x: [A], rows: Int, cols: Int, targets: Int, aggregate: Aggregate,
                                                       thresholds: [A], members: [A], weights: [A], ctx: RunContext) -> ([A], [Bool]) {
        var scores = [A](repeating: 0, count: rows * targets)
        var has = [Bool](repeating: false, count: rows * targets)
        let single = targets == 1
        let work = max(roots.count, 1) * 8
        let mem = members.isEmpty ? [A(0)] : members
        x.withUnsafeBufferPointer { xb in
        thresholds.withUnsafeBufferPointer { tb in
        mem.withUnsafeBufferPointer { mb in
        weights.withUnsafeBufferPointer { wb in
        scores.withUnsafeMutableBufferPointer { sb in
        has.withUnsafeMutableBufferPointer { hb in
            let xp = MLRowWriter(UnsafeMutablePointer(mutating: xb.baseAddress))
            let tp = MLRowWriter(UnsafeMutablePointer(mutating: tb.baseAddress))
            let mp = MLRowWriter(UnsafeMutablePointer(mutating: mb.baseAddress))
            let wp = MLRowWriter(UnsafeMutablePointer(mutating: wb.baseAddress))
            let sp = MLRowWriter(sb.baseAddress), hp = MLRowWriter(hb.baseAddress)
            ctx.parallelFor(rows, cost: work) { range in
                guard let xbase = xp.pointer, let tbase = tp.pointer, let mbase = mp.pointer, let wbase = wp.pointer,
                      let s = sp.pointer, let h = hp.pointer else { return }
                for r in range {
                    let row = xbase + r * cols
                    let o = r * targets
                    for root in roots {
                        let lf = leaf(root, row, tbase, mbase)
                        let ws = weightStart[lf]
                        let wc = single ? Swift.min(weightCount[lf], 1) : weightCount[lf]
                        for k in 0..<wc {
                            let t = single ? 0 : weightTarget[ws + k]
                            let w = wbase[ws + k]
                            switch aggregate {
                            case .sum, .average: s[o + t] += w
                            case .min: if !h[o + t] || w < s[o + t] { s[o + t] = w }
                            case .max: if !h[o + t] || w > s[o + t] { s[o + t] = w }
                            }
                            h[o + t] = true
                        }
                    }
                }
            }
        }}}}}}
        return (scores, has)
    }
}

/// A base pointer shared by `parallelFor` workers. `@unchecked Sendable`: workers only read the shared inputs and
/// write the rows of their own disjoint range; the buffers outlive the (synchronous) parallel loop.
struct MLRowWriter<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>?
    init(_ p: UnsafeMutablePointer<T>?) { pointer = p }
}

extension TreeForest {
    /// Builds the forest from the ai.onnx.ml opset 1/3 attributes (nodes_* and `<prefix>_*` weights).
    init(legacy c: NodeContext, weightPrefix p: String) throws {
        self.init()
        let treeIds = try c.ints("nodes_treeids") ?? []
        let nodeIds = try c.ints("nodes_nodeids") ?? []
        let featureIds = try c.ints("nodes_featureids") ?? []
        let modes = try c.strings("nodes_modes") ?? []
        let trueIds = try c.ints("nodes_truenodeids") ?? []
        let falseIds = try c.ints("nodes_falsenodeids") ?? []
        let missing = try c.ints("nodes_missing_value_tracks_true") ?? []
        var values: [Double]
        if let t = try c.tensor("nodes_values_as_tensor") { values = try mlDoubles(t) }
        else { values = (try c.floats("nodes_values") ?? []).map { Double($0) } }
        let n = treeIds.count
        guard n > 0 else { throw KernelError("the ensemble has no nodes") }
        for (name, count) in [("nodes_nodeids", nodeIds.count), ("nodes_featureids", featureIds.count),
                              ("nodes_modes", modes.count), ("nodes_truenodeids", trueIds.count),
                              ("nodes_falsenodeids", falseIds.count)] where count != n {
            throw KernelError("'\(name)' has \(count) entries, expected \(n)")
        }
        if values.isEmpty { values = [Double](repeating: 0, count: n) }
        guard values.count == n else { throw KernelError("'nodes_values' has \(values.count) entries, expected \(n)") }
        struct Key: Hashable { var tree: Int; var node: Int }
        var index: [Key: Int] = [:]
        for i in 0..<n {
            let m: Mode
            switch modes[i] {
            case "BRANCH_LEQ": m = .leq
            case "BRANCH_LT": m = .lt
            case "BRANCH_GTE": m = .gte
            case "BRANCH_GT": m = .gt
            case "BRANCH_EQ": m = .eq
            case "BRANCH_NEQ": m = .neq
            case "LEAF": m = .leaf
            default: throw KernelError("unknown node mode '\(modes[i])'")
            }
            let key = Key(tree: treeIds[i], node: nodeIds[i])
            guard index[key] == nil else { throw KernelError("node \(nodeIds[i]) in tree \(treeIds[i]) is defined twice") }
            index[key] = i
            addNode(feature: featureIds[i], mode: m, threshold: values[i], missingTrue: i < missing.count && missing[i] == 1)
            if i == 0 || treeIds[i] != treeIds[i - 1] { roots.append(i) }
        }
        for i in 0..<n where mode[i] != .leaf {
            guard let t = index[Key(tree: treeIds[i], node: trueIds[i])],
                  let f = index[Key(tree: treeIds[i], node: falseIds[i])] else {
                throw KernelError("node \(nodeIds[i]) in tree \(treeIds[i]) points to a missing child")
            }
            guard t != i, f != i else { throw KernelError("node \(nodeIds[i]) in tree \(treeIds[i]) points to itself") }
            trueNext[i] = t; falseNext[i] = f
        }
        let wTrees = try c.ints("\(p)_treeids") ?? []
        let wNodes = try c.ints("\(p)_nodeids") ?? []
        let wIds = try c.ints("\(p)_ids") ?? []
        var w: [Double]
        if let t = try c.tensor("\(p)_weights_as_tensor") { w = try mlDoubles(t) }
        else { w = (try c.floats("\(p)_weights") ?? []).map { Double($0) } }
        guard wTrees.count == wNodes.count, wNodes.count == wIds.count, wIds.count == w.count else {
            throw KernelError("'\(p)_treeids', '\(p)_nodeids', '\(p)_ids' and '\(p)_weights' differ in length")
        }
        var items: [(node: Int, target: Int, weight: Double)] = []
        for k in 0..<w.count {
            guard let node = index[Key(tree: wTrees[k], node: wNodes[k])] else {
                throw KernelError("weight \(k) refers to missing node \(wNodes[k]) in tree \(wTrees[k])")
            }
            items.append((node, wIds[k], w[k]))
        }
        setWeights(items)
        for i in 0..<n where mode[i] == .leaf && weightCount[i] == 0 {
            throw KernelError("leaf \(nodeIds[i]) in tree \(treeIds[i]) has no weight")
        }
    }

    static func aggregate(_ s: String) throws -> Aggregate {
        switch s {
        case "SUM": return .sum
        case "AVERAGE": return .average
        case "MIN": return .min
        case "MAX": return .max
        default: throw KernelError("aggregate_function '\(s)' is not one of SUM, AVERAGE, MIN, MAX")
        }
    }
}

/// Reads base_values / base_values_as_tensor.
func mlBaseValues(_ c: NodeContext) throws -> [Double] {
    if let t = try c.tensor("base_values_as_tensor") { return try mlDoubles(t) }
    return (try c.floats("base_values") ?? []).map { Double($0) }
}
