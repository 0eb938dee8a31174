import Foundation
import OnyxTensor
import OnyxEngine

/// Options for `convert-precision`.
public struct PrecisionOptions: Sendable {
    /// Keep float32 graph inputs/outputs, with Cast nodes at the boundary.
    public var keepIOFloat32 = false
    /// Op types that stay in float32 (inputs cast up, outputs cast down), on top of `defaultBlocked`.
    public var blockOps: Set<String> = []
    /// Node names that stay in float32.
    public var blockNodes: Set<String> = []
    public init() {}

    /// Ops that must stay in float32: precision-sensitive or without float16 kernels in common runtimes
    /// (after onnxconverter-common's default block list). Non-default domains (ai.onnx.ml, …) are always blocked.
    public static let defaultBlocked: Set<String> = [
        "ArrayFeatureExtractor", "Binarizer", "CastMap", "CategoryMapper", "DictVectorizer", "FeatureVectorizer",
        "Imputer", "LabelEncoder", "LinearClassifier", "LinearRegressor", "Normalizer", "OneHotEncoder",
        "RandomUniformLike", "SVMClassifier", "SVMRegressor", "Scaler", "TreeEnsembleClassifier",
        "TreeEnsembleRegressor", "ZipMap", "NonMaxSuppression", "TopK", "RoiAlign", "Resize", "Range", "CumSum",
        "Min", "Max", "Upsample", "RandomNormal", "RandomUniform", "RandomNormalLike", "EyeLike", "Multinomial",
        "Bernoulli", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Loop", "If", "Scan",
    ]
}

/// Converts a float32 model to float16: initializers and every float32 value become float16, `Cast(to=float)`
/// becomes `Cast(to=float16)`, blocked ops run in float32 between Cast nodes.
public enum PrecisionConverter {
    public static func toFloat16(_ model: Model, options: PrecisionOptions = PrecisionOptions()) throws -> (Model, [String]) {
        // Element types of every value, from one run on random inputs (files rarely declare them).
        let types = try inferValueTypes(model, feeds: try randomFeeds(model))
        var ed = GraphEditor(model.graph)
        let g = model.graph
        let blockedOps = PrecisionOptions.defaultBlocked.union(options.blockOps)
        func blocked(_ n: Node) -> Bool {
            !n.domain.isEmpty || blockedOps.contains(n.opType) || options.blockNodes.contains(n.name)
        }
        func isF32(_ v: String) -> Bool { types[v] == .float32 }
        var notes: [String] = []

        // Initializers used only by blocked nodes stay float32.
        let consumers = ed.consumers()
        var keep32 = Set<String>()
        for (name, t) in g.initializers where t.dtype == .float32 {
            let users = consumers[name] ?? []
            if !users.isEmpty && users.allSatisfy({ blocked(g.nodes[$0]) }) { keep32.insert(name) }
        }
        let graphOutputs = Set(g.outputs.map(\.name))
        let graphInputs = Set(g.feedableInputs.map(\.name))

        var nodes: [Node] = []
        // Graph inputs: either switch to float16, or keep float32 and cast once.
        var renamed: [String: String] = [:]
        var inputs = g.inputs
        for (k, i) in g.inputs.enumerated() where graphInputs.contains(i.name) && isF32(i.name) {
            if options.keepIOFloat32 {
                let h = ed.unique(i.name + "_fp16")
                nodes.append(Node(name: ed.unique(i.name + "_cast_to_fp16"), opType: "Cast", inputs: [i.name], outputs: [h],
                                  attributes: ["to": .int(DType.float16.rawValue)]))
                renamed[i.name] = h
            } else {
                inputs[k].type = .tensor(.float16, shape: i.type.tensorShape)
            }
        }
        // Graph outputs that are float: produce a float16 value and, with keep-io, cast it back under the real name.
        var outputs = g.outputs
        var outputCasts: [Node] = []
        var outRename: [String: String] = [:]
        for (k, o) in g.outputs.enumerated() where isF32(o.name) && !graphInputs.contains(o.name) {
            if options.keepIOFloat32 {
                let h = ed.unique(o.name + "_fp16")
                outRename[o.name] = h
                outputCasts.append(Node(name: ed.unique(o.name + "_cast_to_fp32"), opType: "Cast", inputs: [h], outputs: [o.name],
                                        attributes: ["to": .int(DType.float32.rawValue)]))
            } else {
                outputs[k].type = .tensor(.float16, shape: o.type.tensorShape)
            }
        }
        func inName(_ v: String) -> String { renamed[v] ?? outRename[v] ?? v }

        for k in topologicalOrder(g) {
            var n = g.nodes[k]
            n.inputs = n.inputs.map { $0.isEmpty ? $0 : inName($0) }
            n.outputs = n.outputs.map { outRename[$0] ?? $0 }
            if blocked(n) {
                // Float16 inputs → float32 copies; float32 outputs → float16 under the original name.
                for (j, v) in g.nodes[k].inputs.enumerated() where !v.isEmpty && isF32(v) && !keep32.contains(v) {
                    if options.keepIOFloat32 && graphInputs.contains(v) { n.inputs[j] = v; continue }
                    let up = ed.unique(v + "_fp32_for_" + (n.name.isEmpty ? "node" : n.name))
                    nodes.append(Node(name: ed.unique(up + "_cast"), opType: "Cast", inputs: [n.inputs[j]], outputs: [up],
                                      attributes: ["to": .int(DType.float32.rawValue)]))
                    n.inputs[j] = up
                }
                var after: [Node] = []
                for (j, v) in g.nodes[k].outputs.enumerated() where !v.isEmpty && isF32(v) {
                    let target = n.outputs[j]
                    let tmp = ed.unique(v + "_fp32")
                    n.outputs[j] = tmp
                    after.append(Node(name: ed.unique(v + "_cast_to_fp16"), opType: "Cast", inputs: [tmp], outputs: [target],
                                      attributes: ["to": .int(DType.float16.rawValue)]))
                }
                if n.opType != "Cast" && (after.count > 0 || n.inputs != g.nodes[k].inputs.map(inName)) {
                    notes.append("\(n.label) kept in float32")
                }
                nodes.append(n)
                nodes += after
                continue
            }
            switch n.opType {
            case "Cast":
                if case .int(let to)? = n.attributes["to"], to == DType.float32.rawValue { n.attributes["to"] = .int(DType.float16.rawValue) }
            case "Constant":
                if case .tensor(let t)? = n.attributes["value"], t.dtype == .float32 { n.attributes["value"] = .tensor(try half(t)) }
                if case .float(let f)? = n.attributes["value_float"] {
                    n.attributes.removeValue(forKey: "value_float")
                    n.attributes["value"] = .tensor(Tensor(scalar: Float16(f)))
                }
                if case .floats(let fs)? = n.attributes["value_floats"] {
                    n.attributes.removeValue(forKey: "value_floats")
                    n.attributes["value"] = .tensor(Tensor(shape: [fs.count], checkedValues: fs.map { Float16($0) }))
                }
            case "ConstantOfShape":
                if case .tensor(let t)? = n.attributes["value"], t.dtype == .float32 { n.attributes["value"] = .tensor(try half(t)) }
            default: break
            }
            nodes.append(n)
        }
        nodes += outputCasts
        ed.graph.nodes = nodes
        ed.graph.inputs = inputs
        ed.graph.outputs = outputs
        ed.graph.initializers = try ed.graph.initializers.map { e in
            (e.tensor.dtype == .float32 && !keep32.contains(e.name)) ? (e.name, try half(e.tensor)) : e
        }
        // Declared types of intermediate values are now stale.
        ed.graph.valueInfo = []
        _ = graphOutputs
        var out = model
        out.graph = ed.graph
        out.producerName = "onyx convert-precision"
        return (out, notes)
    }

    static func half(_ t: Tensor) throws -> Tensor {
        Tensor(shape: t.shape, checkedValues: try t.toArray(Float.self).map { Float16($0) })
    }
}
