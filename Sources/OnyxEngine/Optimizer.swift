import OnyxTensor

/// Graph rewrites applied before compilation. Each pass keeps outputs equal to the unoptimized graph.
public struct GraphOptimizer: Sendable {
    public let level: OptimizationLevel
    public let opsets: [String: Int]
    public init(level: OptimizationLevel, opsets: [String: Int]) { self.level = level; self.opsets = opsets }

    public func optimize(_ g: Graph) throws -> Graph {
        if level == .none { return g }
        var g = g
        g = eliminateIdentities(g)
        // Before constant folding, which would turn a weight's DequantizeLinear into a float weight.
        if level == .extended || level == .all { g = fuseQDQConv(g) }
        g = foldConstants(g)
        g = foldBatchNorm(g)
        if level == .extended || level == .all {
            g = eliminateLayout(g)
            g = fuseLayerNorm(g)
            g = fuseGelu(g)
            g = fuseSkipLayerNorm(g)
            g = fuseAttention(g)
            g = fuseDynamicQuantMatMul(g)
            g = fuseChannelAffine(g)
            g = fuseLinear(g)
            g = fuseMatMulBias(g)
            g = fuseResidual(g)
            g = fuseActivation(g)
            g = fuseGeluEpilogue(g)
        }
        g = removeUnusedInitializers(g)
        return g
    }

    /// Removes Identity and inference-mode Dropout nodes whose output is not a graph output,
    /// rewiring readers to the node's input.
    func eliminateIdentities(_ g: Graph) -> Graph {
        var graphOutputs = Set(g.outputs.map(\.name))
        // Values read by subgraphs keep their names.
        for n in g.nodes {
            for a in n.attributes.values {
                switch a {
                case .graph(let sg): graphOutputs.formUnion(GraphCompiler.freeVariables(of: sg))
                case .graphs(let gs): gs.forEach { graphOutputs.formUnion(GraphCompiler.freeVariables(of: $0)) }
                default: break
                }
            }
        }
        var read = Set<String>()
        for n in g.nodes { read.formUnion(n.inputs) }
        var rename: [String: String] = [:]
        var kept: [Node] = []
        for n in g.nodes {
            let removable: Bool
            if n.domain.isEmpty || n.domain == "ai.onnx" {
                switch n.opType {
                case "Identity": removable = n.inputs.count == 1 && n.outputs.count == 1
                case "Dropout":
                    // Inference Dropout (no training_mode input; the ratio input does not matter) is the identity; an
                    // unread mask output (opset 7+ models often name it) does not keep the node.
                    removable = (n.inputs.count <= 2 || n.inputs.count == 3 && n.inputs[2].isEmpty) && n.outputs.count >= 1
                        && n.outputs.dropFirst().allSatisfy { $0.isEmpty || (!read.contains($0) && !graphOutputs.contains($0)) }
                default: removable = false
                }
            } else { removable = false }
            if removable, let o = n.outputs.first, !graphOutputs.contains(o), let i = n.inputs.first, !i.isEmpty {
                rename[o] = i
                continue
            }
            kept.append(n)
        }
        if rename.isEmpty { return g }
        func resolve(_ s: String) -> String {
            var s = s
            while let r = rename[s] { s = r }
            return s
        }
        var out = g
        out.nodes = kept.map { n in
            var n = n
            n.inputs = n.inputs.map { $0.isEmpty ? $0 : resolve($0) }
            return n
        }
        return out
    }
}
