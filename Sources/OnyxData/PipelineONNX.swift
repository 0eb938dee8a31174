// A fitted pipeline as ONNX preprocessing nodes: raw columns in (one [N, 1] input per column: float for numeric
// columns, string for categorical / text ones), the feature matrix [N, F] out, either as a model of its own or
// placed in front of a model so that the model file alone carries its preprocessing.
//
// Each column is its own [N, 1] value while the steps run; the features are concatenated at the end. Steps map to
// ai.onnx.ml Imputer, Scaler, Normalizer, LabelEncoder and OneHotEncoder, and to the standard Min / Max / Add / Log /
// Gather / Flatten / Concat / Cast, all of which exist unchanged from default-domain opset 8 and ai.onnx.ml opset 2.
// Steps that change the number of rows (drop_rows, outliers with action drop, dedupe) or split strings (multilabel)
// have no ONNX form and are rejected with an error naming the step.
import Foundation
import OnyxEngine
import OnyxONNX
import OnyxTensor

/// Exports fitted pipelines as ONNX graphs.
public enum PipelineONNX {
    /// Metadata key of the exported model: the feature names, comma-separated, in the order of the feature matrix.
    public static let featuresKey = "onyx.pipeline.features"
    /// Metadata key: the raw input columns, comma-separated.
    public static let inputsKey = "onyx.pipeline.inputs"
    /// Prefix of every value and node name the export adds.
    public static let prefix = "onyx_pre/"

    /// The preprocessing graph on its own: raw column inputs → `output` ([N, F] float).
    /// - Parameter exclude: input columns left out (e.g. the label): not graph inputs, and the columns made from
    ///   them (its one-hot columns) are not features.
    public static func standalone(_ p: Pipeline, exclude: [String] = [], output: String = "features") throws -> Model {
        let b = try build(p, exclude: Set(exclude), output: output, cast: nil)
        let graph = Graph(name: "onyx_preprocessing", nodes: b.nodes, inputs: b.inputs,
                          outputs: [ValueInfo(name: output, type: .tensor(.float32, shape: [.symbolic("N"), .fixed(b.features.count)]))],
                          initializers: b.initializers)
        return Model(irVersion: 8, opsets: ["": 13, "ai.onnx.ml": 2], producerName: "onyx", docString: "onyx data pipeline",
                     metadata: b.metadata, graph: graph)
    }

    /// `model` with the pipeline in front of it: the model's one input (a [N, F] float or double tensor) is fed by
    /// the pipeline's features, and the raw columns become the model's inputs.
    public static func prepend(_ p: Pipeline, to model: Model, exclude: [String] = []) throws -> Model {
        let feedable = model.graph.feedableInputs
        guard feedable.count == 1, let target = feedable.first else {
            throw DataError(file: "export-onnx", "the model has \(feedable.count) inputs (\(feedable.map(\.name).joined(separator: ", "))); the pipeline can feed a model with exactly one input")
        }
        guard case .tensor(let dt, let shape) = target.type, dt == .float32 || dt == .float64 else {
            throw DataError(file: "export-onnx", "the model's input '\(target.name)' is \(target.type), not a float or double tensor")
        }
        if let shape, shape.count != 2 {
            throw DataError(file: "export-onnx", "the model's input '\(target.name)' has rank \(shape.count); the pipeline gives [N, features]")
        }
        guard (model.opset(for: "") ?? 0) >= 8 else {
            throw DataError(file: "export-onnx", "the model's opset \(model.opset(for: "") ?? 0) is below 8 (the exported nodes need 8 or later)")
        }
        let b = try build(p, exclude: Set(exclude), output: target.name, cast: dt == .float64 ? .float64 : nil)
        if let f = shape?[1].value, f != b.features.count {
            throw DataError(file: "export-onnx", "the model's input '\(target.name)' has \(f) features, the pipeline makes \(b.features.count) (\(b.features.joined(separator: ", ")))")
        }
        // Raw column names must not clash with names already in the model.
        var names = Set(model.graph.initializers.map(\.name))
        for n in model.graph.nodes { names.formUnion(n.inputs); names.formUnion(n.outputs) }
        names.formUnion(model.graph.inputs.map(\.name)); names.formUnion(model.graph.outputs.map(\.name))
        for i in b.inputs where names.contains(i.name) {
            throw DataError(file: "export-onnx", "the pipeline column '\(i.name)' has the name of a value in the model; rename the column")
        }
        var out = model
        out.graph.nodes = b.nodes + model.graph.nodes
        out.graph.initializers = b.initializers + model.graph.initializers
        out.graph.inputs = b.inputs + model.graph.inputs.filter { $0.name != target.name }
        out.opsets["ai.onnx.ml"] = max(out.opsets["ai.onnx.ml"] ?? 0, 2)
        out.metadata = model.metadata.filter { $0.key != featuresKey && $0.key != inputsKey } + b.metadata
        return out
    }

    /// Feeds for an exported graph from a raw table (read with `Pipeline.csvOptions()`): each graph input is the
    /// table column of that name as [N, 1] float32 (numeric) or string.
    public static func feeds(_ table: Table, for inputs: [ValueInfo]) throws -> [String: Tensor] {
        var out = [String: Tensor]()
        let n = table.rowCount
        for i in inputs {
            let c = try table.column(i.name)
            if i.type.tensorDType == .string {
                out[i.name] = try Tensor(shape: [n, 1], values: (0..<n).map { c.text($0, integral: true) })
            } else {
                guard let v = c.doubles else {
                    throw DataError(file: table.file, "column '\(i.name)' is not numeric, the model input is")
                }
                out[i.name] = try Tensor(shape: [n, 1], values: v.map { Float($0) })
            }
        }
        return out
    }

    // MARK: - Building

    struct Built {
        var nodes: [Node] = []
        var initializers: [(name: String, tensor: Tensor)] = []
        var inputs: [ValueInfo] = []
        var features: [String] = []
        var metadata: [(key: String, value: String)] = []
    }

    /// One column while the steps run: its current value name, whether it holds strings, and string replacements
    /// (missing token → fill) not yet applied.
    struct Col {
        var name: String
        var value: String
        var isString: Bool
        var kind: ColumnKind
        var replace: [String: String] = [:]
    }

    final class Builder {
        var nodes: [Node] = []
        var initializers: [(name: String, tensor: Tensor)] = []
        var counter = 0

        func fresh(_ hint: String) -> String {
            counter += 1
            return "\(PipelineONNX.prefix)\(hint)_\(counter)"
        }

        func constant(_ values: [Float], _ hint: String) throws -> String {
            let n = fresh(hint)
            initializers.append((n, try Tensor(shape: [values.count], values: values)))
            return n
        }

        func indices(_ values: [Int64], _ hint: String) throws -> String {
            let n = fresh(hint)
            initializers.append((n, try Tensor(shape: [values.count], values: values)))
            return n
        }

        @discardableResult
        func node(_ op: String, domain: String = "", _ inputs: [String], _ attributes: [String: Attribute] = [:],
                  output: String? = nil) -> String {
            let out = output ?? fresh(op.lowercased())
            nodes.append(Node(name: fresh("node_" + op), opType: op, domain: domain, inputs: inputs, outputs: [out],
                              attributes: attributes))
            return out
        }
    }

    static func build(_ p: Pipeline, exclude: Set<String>, output: String, cast: DType?) throws -> Built {
        for e in exclude where !p.input.contains(where: { $0.name == e }) {
            throw DataError(file: "export-onnx", "--exclude: '\(e)' is not an input column of the pipeline (\(p.input.map(\.name).joined(separator: ", ")))")
        }
        let b = Builder()
        var cols = p.input.filter { !exclude.contains($0.name) }.map {
            Col(name: $0.name, value: $0.name, isString: $0.kind != .numeric, kind: $0.kind)
        }
        let inputNames = cols.map(\.name)
        var excluded = exclude
        let tokens = p.missingTokens.tokens.sorted()

        func index(_ name: String) -> Int? { cols.firstIndex { $0.name == name } }

        for (k, step) in p.steps.enumerated() {
            let label = "step \(k + 1) (\(step.typeName))"
            func numericColumn(_ name: String) throws -> Int? {
                guard let i = index(name) else {
                    if excluded.contains(name) { return nil }
                    throw DataError(file: "export-onnx", "\(label): column '\(name)' does not exist at this point")
                }
                if cols[i].isString {
                    throw DataError(file: "export-onnx", "\(label) cannot be exported to ONNX: column '\(name)' is \(cols[i].kind.rawValue) in the pipeline's input; declare it numeric (--types \(name)=numeric) when fitting")
                }
                return i
            }
            switch step {
            case .impute(let s):
                for (name, fill) in s.numeric.sorted(by: { $0.key < $1.key }) {
                    guard let i = try numericColumn(name) else { continue }
                    cols[i].value = b.node("Imputer", domain: "ai.onnx.ml", [cols[i].value],
                                           ["imputed_value_floats": .floats([Float(fill)]), "replaced_value_float": .float(.nan)])
                }
                for (name, fill) in s.text {
                    guard let i = index(name), cols[i].isString else { continue }
                    for t in tokens where cols[i].replace[t] == nil { cols[i].replace[t] = fill }
                }
            case .dropColumns(let s):
                cols.removeAll { s.columns.contains($0.name) }
            case .dropRows, .dedupe, .multiLabel:
                let why = step.typeName == "multilabel" ? "ONNX has no operator that splits a string into labels"
                    : "it removes rows, and a model maps each input row to one output row"
                throw DataError(file: "export-onnx", "\(label) cannot be exported to ONNX: \(why)")
            case .outliers(let s):
                guard s.action == "clip" else {
                    throw DataError(file: "export-onnx", "\(label) with action 'drop' cannot be exported to ONNX: it removes rows (use action 'clip')")
                }
                for (j, name) in s.columns.enumerated() {
                    guard let i = try numericColumn(name), j < s.lower.count, j < s.upper.count else { continue }
                    let hi = try b.constant([Float(s.upper[j])], "upper"), lo = try b.constant([Float(s.lower[j])], "lower")
                    cols[i].value = b.node("Max", [b.node("Min", [cols[i].value, hi]), lo])
                }
            case .scale(let s):
                for (j, name) in s.columns.enumerated() {
                    guard let i = try numericColumn(name), j < s.scale.count else { continue }
                    let offset: Double, scale: Double
                    if let o = s.offset, j < o.count {
                        // y = x * a + b = (x - (-b / a)) * a; a > 0 for a valid range.
                        scale = s.scale[j]; offset = scale == 0 ? 0 : -o[j] / scale
                    } else {
                        guard j < s.center.count else { continue }
                        offset = s.center[j]; scale = 1 / s.scale[j]
                    }
                    cols[i].value = b.node("Scaler", domain: "ai.onnx.ml", [cols[i].value],
                                           ["offset": .floats([Float(offset)]), "scale": .floats([Float(scale)])])
                }
            case .l2(let s):
                var idx = [Int]()
                for name in s.columns {
                    if excluded.contains(name) {
                        throw DataError(file: "export-onnx", "\(label): the row norm needs column '\(name)', which is excluded")
                    }
                    if let i = try numericColumn(name) { idx.append(i) }
                }
                guard !idx.isEmpty else { continue }
                let joined = b.node("Concat", idx.map { cols[$0].value }, ["axis": .int(1)])
                let norm = b.node("Normalizer", domain: "ai.onnx.ml", [joined], ["norm": .string("L2")])
                for (j, i) in idx.enumerated() {
                    cols[i].value = b.node("Gather", [norm, try b.indices([Int64(j)], "index")], ["axis": .int(1)])
                }
            case .log1p(let s):
                for name in s.columns {
                    guard let i = try numericColumn(name) else { continue }
                    cols[i].value = b.node("Log", [b.node("Add", [cols[i].value, try b.constant([1], "one")])])
                }
            case .oneHot(let s):
                guard let i = index(s.column) else {
                    if excluded.contains(s.column) {
                        excluded.formUnion(s.categories.map { "\(s.column)_\($0)" })
                        continue
                    }
                    throw DataError(file: "export-onnx", "\(label): column '\(s.column)' does not exist at this point")
                }
                let c = cols[i]
                var x = c.value
                var attrs: [String: Attribute] = ["zeros": .int(1)]
                if c.isString {
                    if !c.replace.isEmpty {
                        // Missing tokens → the imputed category; every category maps to itself; anything else to a
                        // value that is no category (all-zero row, as `apply` gives an unseen category).
                        var keys = s.categories.filter { c.replace[$0] == nil }
                        var values = keys
                        for (t, fill) in c.replace.sorted(by: { $0.key < $1.key }) { keys.append(t); values.append(fill) }
                        x = b.node("LabelEncoder", domain: "ai.onnx.ml", [x],
                                   ["keys_strings": .strings(keys), "values_strings": .strings(values),
                                    "default_string": .string("\u{1}onyx-unseen")])
                    }
                    attrs["cats_strings"] = .strings(s.categories)
                } else {
                    var ints = [Int]()
                    for cat in s.categories {
                        guard let v = Int(cat) else {
                            throw DataError(file: "export-onnx", "\(label) cannot be exported to ONNX: numeric column '\(s.column)' has the non-integer category '\(cat)' (OneHotEncoder compares numbers as int64)")
                        }
                        ints.append(v)
                    }
                    attrs["cats_int64s"] = .ints(ints)
                }
                let encoded = b.node("OneHotEncoder", domain: "ai.onnx.ml", [x], attrs)
                let flat = b.node("Flatten", [encoded], ["axis": .int(1)])
                var made = [Col]()
                for (j, cat) in s.categories.enumerated() {
                    let v = b.node("Gather", [flat, try b.indices([Int64(j)], "index")], ["axis": .int(1)])
                    made.append(Col(name: "\(s.column)_\(cat)", value: v, isString: false, kind: .numeric))
                }
                cols.remove(at: i)
                cols.insert(contentsOf: made, at: i)
            }
        }
        if let text = cols.first(where: { $0.isString }) {
            throw DataError(file: "export-onnx", "column '\(text.name)' is still \(text.kind.rawValue) at the end of the pipeline; a model needs numbers: one-hot it or --exclude it")
        }
        guard !cols.isEmpty else { throw DataError(file: "export-onnx", "the pipeline leaves no feature columns") }
        if let cast {
            let joined = b.node("Concat", cols.map(\.value), ["axis": .int(1)])
            b.node("Cast", [joined], ["to": .int(Int(cast.rawValue))], output: output)
        } else {
            b.node("Concat", cols.map(\.value), ["axis": .int(1)], output: output)
        }
        // Graph inputs: the raw columns some node reads (a column dropped or excluded is not an input).
        var used = Set<String>()
        for n in b.nodes { used.formUnion(n.inputs) }
        var built = Built(nodes: b.nodes, initializers: b.initializers)
        for name in inputNames where used.contains(name) {
            guard let spec = p.input.first(where: { $0.name == name }) else { continue }
            built.inputs.append(ValueInfo(name: name, type: .tensor(spec.kind == .numeric ? .float32 : .string,
                                                                    shape: [.symbolic("N"), .fixed(1)])))
        }
        built.features = cols.map(\.name)
        built.metadata = [(featuresKey, built.features.joined(separator: ",")),
                          (inputsKey, built.inputs.map(\.name).joined(separator: ","))]
        return built
    }
}
