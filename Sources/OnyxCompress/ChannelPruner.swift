import Foundation
import OnyxTensor
import OnyxEngine

/// Structured pruning: removes whole output channels of Conv / Gemm / MatMul layers (smallest L1 norm first) and
/// rewires the chain up to the next such layer: per-channel Add / BatchNormalization parameters are sliced,
/// activations and pools pass through, and the next layer loses the matching input channels.
public enum ChannelPruner {
    public struct Result: Sendable {
        public var model: Model
        public var layers: [LayerSparsity]
        public var warnings: [String]
    }

    static let passthrough: Set<String> = ["Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "HardSigmoid",
                                           "HardSwish", "Softplus", "Gelu", "Clip", "Identity", "MaxPool",
                                           "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Dropout"]
    static let layerOps: Set<String> = ["Conv", "MatMul", "Gemm"]

    enum Step {
        case pass
        /// Slice these initializer inputs along the channel axis.
        case params([Int])
    }

    public static func prune(_ model: Model, sparsity: Double, exclude: Set<String> = []) throws -> Result {
        guard sparsity >= 0, sparsity < 1 else { throw CompressError("--sparsity must be in [0, 1), got \(sparsity)") }
        var ed = GraphEditor(model.graph)
        var layers: [LayerSparsity] = []
        var warnings: [String] = []
        let graphOutputs = Set(model.graph.outputs.map(\.name))
        for k in topologicalOrder(model.graph) {
            let p = ed.graph.nodes[k]
            guard p.domain.isEmpty, layerOps.contains(p.opType), !exclude.contains(p.name), p.inputs.count >= 2,
                  p.outputs.count == 1 else { continue }
            let consumers = ed.consumers()
            let wName = p.inputs[1]
            guard let w = ed.initializer(wName), w.dtype == .float32 else { continue }
            if (consumers[wName] ?? []).count != 1 { warnings.append("\(p.label): weight '\(wName)' is shared; not pruned"); continue }
            // Output-channel axis of the weight and the channel axis of the activations.
            let isConv = p.opType == "Conv"
            if isConv, case .int(let gr)? = p.attributes["group"], gr != 1 { warnings.append("\(p.label): grouped convolution; not pruned"); continue }
            var transB = false
            if p.opType == "Gemm", case .int(let t)? = p.attributes["transB"], t != 0 { transB = true }
            if p.opType == "Gemm", case .int(let t)? = p.attributes["transA"], t != 0 { continue }
            guard isConv ? w.rank >= 3 : w.rank == 2 else { continue }
            let outAxis = isConv || transB ? 0 : 1
            let channels = w.shape[outAxis]
            // Follow the single-consumer chain to the next layer.
            var v = p.outputs[0]
            var steps: [(Int, Step, Bool)] = []   // node, action, NCHW layout at that point
            var next: (Int, Int)? = nil   // (node index, weight input axis)
            var ok = true
            var spatialGone = false
            while ok {
                guard !graphOutputs.contains(v), let cs = consumers[v], cs.count == 1, let ci = cs.first else { ok = false; break }
                let c = ed.graph.nodes[ci]
                guard c.domain.isEmpty, c.inputs.first == v else { ok = false; break }
                if layerOps.contains(c.opType) {
                    guard c.inputs.count >= 2, let cw = ed.initializer(c.inputs[1]), cw.dtype == .float32,
                          (consumers[c.inputs[1]] ?? []).count == 1 else { ok = false; break }
                    if c.opType == "Conv" {
                        guard isConv, !spatialGone, cw.rank == w.rank, cw.shape[1] == channels else { ok = false; break }
                        if case .int(let gr)? = c.attributes["group"], gr != 1 { ok = false; break }
                        next = (ci, 1)
                    } else {
                        guard !isConv || spatialGone else { ok = false; break }
                        if c.opType == "Gemm", case .int(let t)? = c.attributes["transA"], t != 0 { ok = false; break }
                        var tb = false
                        if c.opType == "Gemm", case .int(let t)? = c.attributes["transB"], t != 0 { tb = true }
                        guard cw.rank == 2, cw.shape[tb ? 1 : 0] == channels else { ok = false; break }
                        next = (ci, tb ? 1 : 0)
                    }
                    break
                }
                if passthrough.contains(c.opType) {
                    if c.opType.hasPrefix("Global") { spatialGone = true }
                    steps.append((ci, .pass, false))
                } else if c.opType == "Flatten" && spatialGone {
                    steps.append((ci, .pass, false))
                } else if c.opType == "BatchNormalization" && isConv {
                    guard c.inputs.count == 5, c.inputs[1...].allSatisfy({ ed.initializer($0)?.count == channels }) else { ok = false; break }
                    steps.append((ci, .params([1, 2, 3, 4]), true))
                } else if ["Add", "Mul", "Sub", "Div"].contains(c.opType), c.inputs.count == 2, let b = ed.initializer(c.inputs[1]) {
                    // A per-channel (or scalar) constant operand.
                    guard perChannelAxis(b, channels: channels, conv: isConv && !spatialGone) != nil || b.count == 1 else { ok = false; break }
                    steps.append((ci, .params([1]), isConv && !spatialGone))
                } else {
                    ok = false
                }
                if ok { v = c.outputs.first ?? "" }
            }
            guard ok, let (qi, qAxis) = next else { continue }
            // Channels to keep: largest L1 norms, in original order.
            let wv = try w.toArray(Float.self)
            let inner = w.shape[(outAxis + 1)...].reduce(1, *)
            var norms = [Float](repeating: 0, count: channels)
            for i in 0..<wv.count { norms[(i / inner) % channels] += abs(wv[i]) }
            let keepCount = max(1, channels - Int((Double(channels) * sparsity).rounded(.down)))
            guard keepCount < channels else { continue }
            let keep = Array(norms.indices.sorted { norms[$0] > norms[$1] || (norms[$0] == norms[$1] && $0 < $1) }.prefix(keepCount)).sorted()
            try sliceInitializer(&ed, wName, axis: outAxis, keep: keep)
            if p.inputs.count > 2, !p.inputs[2].isEmpty, let b = ed.initializer(p.inputs[2]) {
                if b.count == channels && b.rank == 1 { try sliceInitializer(&ed, p.inputs[2], axis: 0, keep: keep) }
                else if let ax = perChannelAxis(b, channels: channels, conv: false) { try sliceInitializer(&ed, p.inputs[2], axis: ax, keep: keep) }
            }
            for (ci, step, nchw) in steps {
                guard case .params(let idx) = step else { continue }
                let c = ed.graph.nodes[ci]
                for j in idx {
                    guard let t = ed.initializer(c.inputs[j]), t.count > 1 else { continue }
                    let ax = c.opType == "BatchNormalization" ? 0 : (perChannelAxis(t, channels: channels, conv: nchw) ?? 0)
                    let fresh = try uniqueCopy(&ed, c.inputs[j], node: ci, input: j)
                    try sliceInitializer(&ed, fresh, axis: ax, keep: keep)
                }
            }
            try sliceInitializer(&ed, ed.graph.nodes[qi].inputs[1], axis: qAxis, keep: keep)
            var newShape = w.shape
            newShape[outAxis] = keepCount
            layers.append(LayerSparsity(node: p.name, opType: p.opType, weight: wName, shape: newShape,
                                        before: 0, after: Double(channels - keepCount) / Double(channels),
                                        detail: "\(channels) → \(keepCount) channels"))
        }
        ed.removeUnusedInitializers()
        // Declared intermediate shapes are stale.
        ed.graph.valueInfo = []
        var out = model
        out.graph = ed.graph
        out.producerName = "onyx prune"
        return Result(model: out, layers: layers, warnings: warnings)
    }

    /// The axis of a broadcast operand holding `channels` values: the last axis for dense layers, the
    /// axis aligned with NCHW's C for convolutions. nil when it does not line up.
    static func perChannelAxis(_ t: Tensor, channels: Int, conv: Bool) -> Int? {
        guard t.rank >= 1 else { return nil }
        if !conv { return t.shape[t.rank - 1] == channels && t.count == channels ? t.rank - 1 : nil }
        // Aligned right against [N, C, *spatial]: C sits at rank - 1 - spatialRank; accept shapes like [C,1,1], [1,C,1,1].
        for ax in 0..<t.rank where t.shape[ax] == channels && t.count == channels {
            if t.shape[(ax + 1)...].allSatisfy({ $0 == 1 }) && t.rank - ax >= 2 { return ax }
        }
        return nil
    }

    /// Gives input `input` of node `node` its own copy of a shared initializer.
    static func uniqueCopy(_ ed: inout GraphEditor, _ name: String, node: Int, input: Int) throws -> String {
        let users = ed.consumers()[name] ?? []
        if users.count <= 1 { return name }
        guard let t = ed.initializer(name) else { return name }
        let fresh = ed.addInitializer(name + "_pruned", t.copy())
        ed.graph.nodes[node].inputs[input] = fresh
        return fresh
    }

    static func sliceInitializer(_ ed: inout GraphEditor, _ name: String, axis: Int, keep: [Int]) throws {
        guard let t = ed.initializer(name) else { throw CompressError("initializer '\(name)' disappeared") }
        ed.replaceInitializer(name, try slice(t, axis: axis, keep: keep))
    }

    /// Keeps indices `keep` along `axis` of a float tensor.
    static func slice(_ t: Tensor, axis: Int, keep: [Int]) throws -> Tensor {
        guard axis >= 0, axis < t.rank, keep.allSatisfy({ $0 >= 0 && $0 < t.shape[axis] }) else {
            throw CompressError("cannot slice shape \(t.shape) on axis \(axis)")
        }
        let v = try floatValues(t)
        let outer = t.shape[..<axis].reduce(1, *), inner = t.shape[(axis + 1)...].reduce(1, *), n = t.shape[axis]
        var out: [Float] = []
        out.reserveCapacity(outer * keep.count * inner)
        for o in 0..<outer { for c in keep { let base = (o * n + c) * inner; out += v[base..<(base + inner)] } }
        var shape = t.shape
        shape[axis] = keep.count
        return Tensor(shape: shape, checkedValues: out)
    }
}
