import Foundation
import OnyxTensor
import OnyxEngine

/// One pruned weight: where it is used and how sparse it became.
public struct LayerSparsity: Sendable {
    public var node: String
    public var opType: String
    public var weight: String
    public var shape: [Int]
    public var before: Double
    public var after: Double
    /// E.g. "64 → 32 channels" for structured pruning.
    public var detail: String = ""
}

/// Magnitude pruning of MatMul / Gemm / Conv weights.
public enum Pruner {
    /// Zeros the `sparsity` fraction of smallest-magnitude elements of each weight, per layer.
    public static func unstructured(_ model: Model, sparsity: Double, exclude: Set<String> = []) throws -> (Model, [LayerSparsity]) {
        guard sparsity >= 0, sparsity < 1 else { throw CompressError("--sparsity must be in [0, 1), got \(sparsity)") }
        var ed = GraphEditor(model.graph)
        var report: [LayerSparsity] = []
        var done = Set<String>()
        for n in model.graph.nodes where n.domain.isEmpty && ["MatMul", "Gemm", "Conv"].contains(n.opType) {
            guard !exclude.contains(n.name), n.inputs.count >= 2 else { continue }
            let wname = n.inputs[1]
            guard !done.contains(wname), let w = ed.initializer(wname), w.dtype == .float32, w.rank >= 2 else { continue }
            done.insert(wname)
            var v = try w.toArray(Float.self)
            let before = Double(v.filter { $0 == 0 }.count) / Double(max(1, v.count))
            let k = Int((Double(v.count) * sparsity).rounded(.down))
            if k > 0 {
                // The k-th smallest magnitude is the threshold; ties at it are cut in index order to hit k exactly.
                let order = v.indices.sorted { abs(v[$0]) < abs(v[$1]) || (abs(v[$0]) == abs(v[$1]) && $0 < $1) }
                for i in order.prefix(k) { v[i] = 0 }
            }
            let after = Double(v.filter { $0 == 0 }.count) / Double(max(1, v.count))
            ed.replaceInitializer(wname, Tensor(shape: w.shape, checkedValues: v))
            report.append(LayerSparsity(node: n.name, opType: n.opType, weight: wname, shape: w.shape, before: before, after: after))
        }
        var out = model
        out.graph = ed.graph
        out.producerName = "onyx prune"
        return (out, report)
    }

    /// The per-layer sparsity report.
    public static func table(_ rows: [LayerSparsity]) -> String {
        var lines = [["layer", "op", "weight", "shape", "before", "after", ""]]
        for r in rows {
            lines.append([r.node, r.opType, r.weight, r.shape.map(String.init).joined(separator: "x"),
                          String(format: "%.1f%%", r.before * 100), String(format: "%.1f%%", r.after * 100), r.detail])
        }
        let widths = (0..<7).map { c in lines.map { $0[c].count }.max() ?? 0 }
        return lines.map { row in
            row.enumerated().map { c, v in v.padding(toLength: widths[c], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
