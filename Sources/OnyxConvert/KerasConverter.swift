import Foundation
import OnyxTensor
import OnyxEngine

/// Options of `onyx convert keras`.
public struct KerasConvertOptions: Sendable {
    /// ONNX opset of the default domain (13...21).
    public var opset: Int
    /// A fixed batch size, or nil for a symbolic `batch` dimension.
    public var batchSize: Int?
    /// Rank-3+ float inputs are taken channels-first (NCW / NCHW / NCDHW) instead of Keras's channels-last.
    public var nchwInputs: Bool
    public init(opset: Int = 17, batchSize: Int? = nil, nchwInputs: Bool = false) {
        self.opset = opset; self.batchSize = batchSize; self.nchwInputs = nchwInputs
    }
}

/// Converts Keras 3 `.keras` archives and legacy `.h5` full-model files to ONNX models.
///
/// Tensors keep Keras's channels-last layout except around operators that need channels-first (Conv, pooling,
/// ConvTranspose): each converted tensor records its physical layout, and a Transpose is only inserted when a
/// consumer needs the other one, so chains of convolutions, normalizations and activations stay channels-first.
public enum KerasConverter {
    public static func convert(path: String, options: KerasConvertOptions = KerasConvertOptions()) throws -> Model {
        try convert(try KerasFile.load(path: path), options: options)
    }

    public static func convert(_ file: KerasFile, options: KerasConvertOptions = KerasConvertOptions()) throws -> Model {
        guard (13...21).contains(options.opset) else { throw ConvertError("opset \(options.opset) is not supported (13...21)") }
        if let b = options.batchSize, b < 1 { throw ConvertError("batch size must be positive, got \(b)") }
        let b = KerasGraphBuilder(opset: options.opset, options: options, file: file)
        try b.convertModel(file.config)
        let graph = Graph(name: b.modelName, nodes: b.nodes, inputs: b.graphInputs, outputs: b.graphOutputs,
                          initializers: b.initializers)
        return Model(irVersion: 8, opsets: ["": options.opset], producerName: "onyx convert keras",
                     producerVersion: "1", docString: "Converted from a Keras model (\(file.format))", graph: graph)
    }
}

/// A converted Keras tensor: its ONNX value name, rank, and whether it is physically channels-first.
struct KT {
    var name: String
    var rank: Int
    var cf: Bool = false
    var isInt: Bool = false
}

/// Layer config accessors over JSON values.
struct LayerConfig {
    let d: [String: Any]
    init(_ d: [String: Any]) { self.d = d }
    func has(_ k: String) -> Bool { if let v = d[k], !(v is NSNull) { return true }; return false }
    func double(_ k: String) -> Double? { (d[k] as? NSNumber)?.doubleValue }
    func float(_ k: String, _ def: Float) -> Float { double(k).map { Float($0) } ?? def }
    func int(_ k: String) -> Int? { (d[k] as? NSNumber).flatMap { Int(exactly: $0.doubleValue) } }
    func bool(_ k: String, _ def: Bool) -> Bool { (d[k] as? Bool) ?? (d[k] as? NSNumber)?.boolValue ?? def }
    func string(_ k: String) -> String? { d[k] as? String }
    /// An int or a list of ints, expanded to `n` values.
    func ints(_ k: String, _ n: Int) throws -> [Int]? {
        guard has(k) else { return nil }
        if let i = int(k) { return [Int](repeating: i, count: n) }
        guard let a = d[k] as? [Any] else { throw ConvertError("config '\(k)' is not an int or a list of ints") }
        let v = try a.map { x -> Int in
            guard let i = (x as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }) else {
                throw ConvertError("config '\(k)' has a non-integer entry")
            }
            return i
        }
        guard v.count == n else { throw ConvertError("config '\(k)' has \(v.count) values, expected \(n)") }
        return v
    }
}

final class KerasGraphBuilder {
    let opset: Int
    let options: KerasConvertOptions
    let file: KerasFile
    var nodes: [Node] = []
    var initializers: [(name: String, tensor: Tensor)] = []
    var graphInputs: [ValueInfo] = []
    var graphOutputs: [ValueInfo] = []
    var modelName = "keras_model"
    /// The batch size of the model's inputs when it is fixed (the option, or the Keras InputLayer's batch_shape).
    var staticBatch: Int?
    /// State outputs of stateful RNNs, added after the model's own outputs.
    var stateOutputs: [(name: String, value: String)] = []
    /// Weights of the nested model being converted (innermost last); inner layers are looked up in it by name.
    var weightScope: [KerasWeights] = []
    /// The layer being converted is called with `use_causal_mask=True` (MultiHeadAttention).
    var useCausalMask = false
    /// The InputLayer each graph input comes from.
    var inputLayerOf: [String: String] = [:]
    private var usedNames = Set<String>()

    init(opset: Int, options: KerasConvertOptions, file: KerasFile) {
        self.opset = opset; self.options = options; self.file = file
    }

    // MARK: Graph emission helpers

    func fresh(_ base: String) -> String {
        var n = base, i = 1
        while usedNames.contains(n) { n = "\(base)_\(i)"; i += 1 }
        usedNames.insert(n)
        return n
    }

    @discardableResult
    func op(_ type: String, _ inputs: [String], _ attrs: [String: Attribute] = [:], name: String, outputs: Int = 1) -> [String] {
        let outs = (0..<outputs).map { fresh(outputs == 1 ? "\(name)/\(type)" : "\(name)/\(type):\($0)") }
        nodes.append(Node(name: fresh("\(name)/\(type)#node"), opType: type, inputs: inputs, outputs: outs, attributes: attrs))
        return outs
    }

    func op1(_ type: String, _ inputs: [String], _ attrs: [String: Attribute] = [:], name: String) -> String {
        op(type, inputs, attrs, name: name)[0]
    }

    func const(_ t: Tensor, _ base: String) -> String {
        let n = fresh(base)
        initializers.append((n, t))
        return n
    }

    func ints(_ v: [Int], _ base: String) -> String {
        const(Tensor(shape: [v.count], checkedValues: v.map { Int64($0) }), base)
    }

    func floats(_ v: [Float], shape: [Int], _ base: String) throws -> String {
        const(try Tensor(shape: shape, values: v), base)
    }

    /// Permutation taking a channels-last tensor of rank r to channels-first: [0, r-1, 1, ..., r-2].
    static func toCFPerm(_ r: Int) -> [Int] { [0, r - 1] + Array(1..<(r - 1)) }
    static func fromCFPerm(_ r: Int) -> [Int] { [0] + Array(2..<r) + [1] }

    func keras(_ t: KT, _ name: String) -> KT {
        guard t.cf, t.rank >= 3 else { var u = t; u.cf = false; return u }
        let out = op1("Transpose", [t.name], ["perm": .ints(Self.fromCFPerm(t.rank))], name: name)
        return KT(name: out, rank: t.rank, cf: false, isInt: t.isInt)
    }

    func channelsFirst(_ t: KT, _ name: String) -> KT {
        guard !t.cf, t.rank >= 3 else { var u = t; u.cf = t.rank >= 3; return u }
        let out = op1("Transpose", [t.name], ["perm": .ints(Self.toCFPerm(t.rank))], name: name)
        return KT(name: out, rank: t.rank, cf: true, isInt: t.isInt)
    }

    /// Physical axis of Keras axis `a` (may be negative) in tensor `t`.
    func physAxis(_ t: KT, _ a: Int) throws -> Int {
        let k = a < 0 ? a + t.rank : a
        guard k >= 0, k < t.rank else { throw ConvertError("axis \(a) is out of range for rank \(t.rank)") }
        guard t.cf, t.rank >= 3 else { return k }
        if k == 0 { return 0 }
        if k == t.rank - 1 { return 1 }
        return k + 1
    }

    /// A ReduceMean / ReduceMax / ... over `axes`, in the form the opset wants.
    func reduce(_ type: String, _ x: String, axes: [Int], keepdims: Bool, name: String) -> String {
        if opset >= 18 || type == "ReduceSum" && opset >= 13 {
            return op1(type, [x, ints(axes, "\(name)/axes")], ["keepdims": .int(keepdims ? 1 : 0)], name: name)
        }
        return op1(type, [x], ["axes": .ints(axes), "keepdims": .int(keepdims ? 1 : 0)], name: name)
    }

    func squeeze(_ x: String, axes: [Int], name: String) -> String {
        op1("Squeeze", [x, ints(axes, "\(name)/axes")], name: name)
    }
    func unsqueeze(_ x: String, axes: [Int], name: String) -> String {
        op1("Unsqueeze", [x, ints(axes, "\(name)/axes")], name: name)
    }

    // MARK: Model topology

    func convertModel(_ top: [String: Any]) throws {
        guard let cls = top["class_name"] as? String, let cfg = top["config"] as? [String: Any] else {
            throw ConvertError("model config has no class_name/config")
        }
        modelName = (cfg["name"] as? String) ?? modelName
        let layers = (cfg["layers"] as? [[String: Any]]) ?? []
        var bad: [String] = []
        checkSupported(layers, depth: 0, into: &bad)
        if !bad.isEmpty {
            throw ConvertError("unsupported Keras layer\(bad.count == 1 ? "" : "s"): \(bad.joined(separator: ", "))")
        }
        let outs: [(String, KT)]
        switch cls {
        case "Sequential": outs = try convertSequential(cfg, layers, inputs: nil)
        case "Functional", "Model": outs = try convertFunctional(cfg, layers, inputs: nil)
        default: throw ConvertError("model class '\(cls)' is not supported (Sequential or Functional models only)")
        }
        for (name, t) in outs { addOutput(t, name: name) }
        if !stateOutputs.isEmpty, let n = staticBatch {
            // A stateful model's states have the fixed batch size, so its inputs have it too.
            graphInputs = graphInputs.map { v in
                guard inputLayerOf[v.name] != nil, case .tensor(let dt, let shape?) = v.type, !shape.isEmpty else { return v }
                return ValueInfo(name: v.name, type: .tensor(dt, shape: [.fixed(n)] + shape.dropFirst()))
            }
        }
        for (name, v) in stateOutputs {
            let oname = fresh(name)
            nodes.append(Node(name: fresh("\(oname)/output"), opType: "Identity", inputs: [v], outputs: [oname]))
            graphOutputs.append(ValueInfo(name: oname, type: .tensor(.float32, shape: nil)))
        }
    }

    static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

    /// Collects every unsupported layer (class and name), nested models and wrapped layers included, so that one
    /// error can list them all before anything is converted.
    func checkSupported(_ layers: [[String: Any]], depth: Int, into bad: inout [String]) {
        guard depth < 16 else { bad.append("models nested more than 16 deep"); return }
        for l in layers {
            let cls = (l["class_name"] as? String) ?? "?"
            let cfg = (l["config"] as? [String: Any]) ?? [:]
            let name = (cfg["name"] as? String) ?? (l["name"] as? String) ?? "?"
            if Self.modelClasses.contains(cls) {
                checkSupported((cfg["layers"] as? [[String: Any]]) ?? [], depth: depth + 1, into: &bad)
                continue
            }
            if !KerasLayers.supported.contains(cls) { bad.append("\(cls) '\(name)'") }
            if cls == "Bidirectional", let inner = cfg["layer"] as? [String: Any],
               let ic = inner["class_name"] as? String, !["LSTM", "GRU", "SimpleRNN"].contains(ic) {
                bad.append("Bidirectional(\(ic)) '\(name)'")
            }
            if cls == "TimeDistributed", let inner = cfg["layer"] as? [String: Any] {
                let ic = (inner["class_name"] as? String) ?? "?"
                if !KerasLayers.supported.contains(ic) || ["InputLayer", "TimeDistributed"].contains(ic) {
                    bad.append("TimeDistributed(\(ic)) '\(name)'")
                }
            }
        }
    }

    func addInput(name: String, cfg: [String: Any]) throws -> KT {
        let c = LayerConfig(cfg)
        guard let shape = (cfg["batch_shape"] ?? cfg["batch_input_shape"]) as? [Any] else {
            throw ConvertError("InputLayer '\(name)' has no batch_shape")
        }
        var dims: [Dim] = shape.enumerated().map { i, v in
            if let n = (v as? NSNumber)?.intValue { return .fixed(n) }
            return i == 0 ? .symbolic("batch") : .symbolic("\(name)_d\(i)")
        }
        guard !dims.isEmpty else { throw ConvertError("InputLayer '\(name)' has an empty shape") }
        dims[0] = options.batchSize.map { .fixed($0) } ?? .symbolic("batch")
        let dtName = c.string("dtype") ?? "float32"
        let dt: DType
        switch dtName {
        case "float32", "float16", "bfloat16", "float64": dt = .float32
        case "int32": dt = .int32
        case "int64": dt = .int64
        case "int8", "uint8", "int16": dt = .int32
        case "bool": dt = .bool
        default: dt = .float32
        }
        if case .fixed(let n) = dims[0] { staticBatch = n } else if let n = (shape[0] as? NSNumber)?.intValue { staticBatch = n }
        let cf = options.nchwInputs && dims.count >= 3 && dt == .float32
        if cf { dims = Self.toCFPerm(dims.count).map { dims[$0] } }
        let iname = fresh(name)
        inputLayerOf[iname] = name
        graphInputs.append(ValueInfo(name: iname, type: .tensor(dt, shape: dims)))
        return KT(name: iname, rank: dims.count, cf: cf, isInt: dt != .float32)
    }

    func addOutput(_ t: KT, name: String) {
        let k = keras(t, "\(name)/to_channels_last")
        let oname = fresh(name)
        nodes.append(Node(name: fresh("\(oname)/output"), opType: "Identity", inputs: [k.name], outputs: [oname]))
        graphOutputs.append(ValueInfo(name: oname, type: .tensor(.float32, shape: nil)))
    }

    /// The weights of layer `name`: inside a nested model from that model's weights, else from the file.
    func layerWeights(_ name: String) -> KerasWeights? {
        if let scope = weightScope.last, let w = scope.sub(name) { return w }
        return file.weights[name]
    }

    /// A Sequential model: the top-level one (`inputs` nil: its input becomes a graph input) or a nested one
    /// called on `inputs`. Returns the (name, tensor) of its output.
    func convertSequential(_ cfg: [String: Any], _ layers: [[String: Any]], inputs: [KT]?) throws -> [(String, KT)] {
        var x: KT?
        var rest = layers
        if let given = inputs {
            guard given.count == 1 else { throw ConvertError("a Sequential model called on \(given.count) tensors") }
            x = given[0]
            if layers.first?["class_name"] as? String == "InputLayer" { rest.removeFirst() }
        } else if let first = layers.first, first["class_name"] as? String == "InputLayer",
           let c = first["config"] as? [String: Any] {
            x = try addInput(name: (c["name"] as? String) ?? "input", cfg: c)
            rest.removeFirst()
        } else if let c = layers.first?["config"] as? [String: Any], c["batch_input_shape"] != nil {
            x = try addInput(name: "input", cfg: c)
        } else if let s = cfg["build_input_shape"] {
            x = try addInput(name: "input", cfg: ["batch_shape": s])
        }
        guard var cur = x else { throw ConvertError("the Sequential model has no input shape (it was never built)") }
        for l in rest {
            let outs = try callLayer(l, inputs: [cur])
            guard outs.count == 1 else { throw ConvertError("a layer in a Sequential model returned \(outs.count) tensors") }
            cur = outs[0]
        }
        return [((layers.last?["config"] as? [String: Any])?["name"] as? String ?? "output", cur)]
    }

    /// (layer, node index, tensor index) references in Keras 3 and Keras 2 formats.
    func historyRefs(_ v: Any) -> [(String, Int, Int)] {
        if let d = v as? [String: Any] {
            if d["class_name"] as? String == "__keras_tensor__", let c = d["config"] as? [String: Any],
               let h = c["keras_history"] as? [Any], h.count >= 3, let n = h[0] as? String {
                return [(n, (h[1] as? NSNumber)?.intValue ?? 0, (h[2] as? NSNumber)?.intValue ?? 0)]
            }
            return d.keys.sorted().flatMap { historyRefs(d[$0] as Any) }
        }
        if let a = v as? [Any] {
            if a.count >= 3, let n = a[0] as? String, let ni = a[1] as? NSNumber, let ti = a[2] as? NSNumber {
                return [(n, ni.intValue, ti.intValue)]
            }
            return a.flatMap { historyRefs($0) }
        }
        return []
    }

    /// A Functional model: the top-level one (`inputs` nil: its InputLayers become graph inputs) or a nested one
    /// called on `inputs` (bound to its `input_layers` in order). Returns the (name, tensor) of each output.
    func convertFunctional(_ cfg: [String: Any], _ layers: [[String: Any]], inputs: [KT]?) throws -> [(String, KT)] {
        var tensors: [String: KT] = [:]
        func key(_ l: String, _ n: Int, _ t: Int) -> String { "\(l)#\(n)#\(t)" }
        // Keras counts a nested Functional model's own construction as its node 0, so references to its calls
        // are one higher than the index of the call in `inbound_nodes`.
        let functionalLayers = Set(layers.compactMap { l -> String? in
            guard let c = l["class_name"] as? String, c == "Functional" || c == "Model" else { return nil }
            return (l["name"] as? String) ?? ((l["config"] as? [String: Any])?["name"] as? String)
        })
        func ref(_ r: (String, Int, Int)) -> String { key(r.0, functionalLayers.contains(r.0) ? r.1 - 1 : r.1, r.2) }
        if let given = inputs {
            let inRefs = historyRefs(cfg["input_layers"] as Any)
            guard inRefs.count == given.count else {
                throw ConvertError("nested model '\((cfg["name"] as? String) ?? "?")' takes \(inRefs.count) inputs, called with \(given.count)")
            }
            for (r, t) in zip(inRefs, given) { tensors[key(r.0, r.1, r.2)] = t }
        }
        var pending = Array(layers.enumerated())
        var progress = true
        while !pending.isEmpty && progress {
            progress = false
            var still: [(Int, [String: Any])] = []
            for (i, l) in pending {
                let cls = (l["class_name"] as? String) ?? ""
                let c = (l["config"] as? [String: Any]) ?? [:]
                let name = (l["name"] as? String) ?? (c["name"] as? String) ?? "layer\(i)"
                if cls == "InputLayer" {
                    if inputs == nil { tensors[key(name, 0, 0)] = try addInput(name: name, cfg: c) }
                    progress = true
                    continue
                }
                let calls = (l["inbound_nodes"] as? [Any]) ?? []
                // Each inbound node is one call of the layer (shared layers have several).
                var callRefs: [[(String, Int, Int)]] = []
                var causal: [Bool] = []
                for call in calls {
                    if let d = call as? [String: Any] {
                        var refs = historyRefs(d["args"] as Any)
                        if let kw = d["kwargs"] as? [String: Any] {
                            for k in ["key", "value"] where kw[k] != nil { refs += historyRefs(kw[k] as Any) }
                            for k in ["attention_mask", "initial_state", "mask", "constants"] where kw[k] != nil && !(kw[k] is NSNull) {
                                throw ConvertError("layer '\(name)' (\(cls)) is called with '\(k)', which is not supported")
                            }
                            causal.append((kw["use_causal_mask"] as? Bool) == true)
                            if causal.last == true && cls != "MultiHeadAttention" {
                                throw ConvertError("layer '\(name)' (\(cls)) is called with use_causal_mask=True, which is not supported")
                            }
                            for k in ["return_attention_scores"] where (kw[k] as? Bool) == true {
                                throw ConvertError("layer '\(name)' (\(cls)) is called with \(k)=True, which is not supported")
                            }
                        }
                        callRefs.append(refs)
                        if causal.count < callRefs.count { causal.append(false) }
                    } else {
                        callRefs.append(historyRefs(call))
                        causal.append(false)
                    }
                }
                let ready = callRefs.allSatisfy { $0.allSatisfy { tensors[ref($0)] != nil } }
                if !ready { still.append((i, l)); continue }
                for (ci, refs) in callRefs.enumerated() {
                    useCausalMask = ci < causal.count && causal[ci]
                    defer { useCausalMask = false }
                    let ins = refs.compactMap { tensors[ref($0)] }
                    let outs = try callLayer(l, inputs: ins)
                    for (ti, t) in outs.enumerated() { tensors[key(name, ci, ti)] = t }
                }
                progress = true
            }
            pending = still
        }
        if let (_, l) = pending.first {
            throw ConvertError("layer '\((l["name"] as? String) ?? "?")' has inputs that no layer produces (cyclic or broken config)")
        }
        let outRefs = historyRefs(cfg["output_layers"] as Any)
        guard !outRefs.isEmpty else { throw ConvertError("the Functional model lists no output_layers") }
        if inputs == nil {
            // Graph inputs in the model's input order (Keras's `model.inputs`), not the order layers are listed.
            let order = historyRefs(cfg["input_layers"] as Any).map(\.0)
            let rank = { (v: ValueInfo) in order.firstIndex(of: self.inputLayerOf[v.name] ?? "") ?? Int.max }
            graphInputs = graphInputs.enumerated().sorted { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }.map(\.element)
        }
        return try outRefs.map { r in
            guard let kt = tensors[ref(r)] else { throw ConvertError("model output '\(r.0)' was not produced") }
            return (r.0, kt)
        }
    }

    func callLayer(_ l: [String: Any], inputs: [KT]) throws -> [KT] {
        let cls = (l["class_name"] as? String) ?? ""
        let c = (l["config"] as? [String: Any]) ?? [:]
        let name = (c["name"] as? String) ?? (l["name"] as? String) ?? cls
        let w = layerWeights(name)
        if Self.modelClasses.contains(cls) {
            // A model used as a layer: its layers are converted inline, their weights looked up inside its own.
            guard weightScope.count < 16 else { throw ConvertError("models nested more than 16 deep") }
            weightScope.append(w ?? KerasWeights())
            defer { weightScope.removeLast() }
            let layers = (c["layers"] as? [[String: Any]]) ?? []
            do {
                let outs = cls == "Sequential" ? try convertSequential(c, layers, inputs: inputs)
                    : try convertFunctional(c, layers, inputs: inputs)
                return outs.map(\.1)
            } catch let e as ConvertError {
                throw ConvertError("nested model '\(name)': \(e.description)")
            }
        }
        do {
            return try KerasLayers.convert(self, cls: cls, name: name, cfg: LayerConfig(c), inputs: inputs, weights: w)
        } catch let e as ConvertError {
            throw ConvertError("layer '\(name)' (\(cls)): \(e.description)")
        }
    }
}
