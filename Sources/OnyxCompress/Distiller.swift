import Foundation
import OnyxTensor
import OnyxEngine

/// Knowledge distillation of a classifier into a small MLP exported as ONNX.
public enum Distiller {
    /// Parses `mlp:H1,H2,…` into hidden layer sizes.
    public static func parseStudent(_ spec: String) throws -> [Int] {
        let parts = spec.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0] == "mlp" else { throw CompressError("--student must look like mlp:64,32, got '\(spec)'") }
        let sizes = try parts[1].split(separator: ",").map { s -> Int in
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)), v > 0, v <= 1 << 16 else {
                throw CompressError("--student: '\(s)' is not a positive layer size")
            }
            return v
        }
        guard !sizes.isEmpty else { throw CompressError("--student needs at least one hidden layer size") }
        return sizes
    }

    /// Teacher class probabilities [rows, classes] for the data (first [N, C] float output).
    public static func teacherProbabilities(_ teacher: Model, data: LabeledData) throws -> (probs: [Float], classes: Int) {
        let inputs = teacher.graph.feedableInputs
        guard inputs.count == 1, let input = inputs.first, let dt = input.type.tensorDType else {
            throw CompressError("the teacher must have one tensor input; it has \(inputs.map(\.name))")
        }
        let session = try InferenceSession(model: teacher)
        var probs: [Float] = []
        var classes = 0
        var start = 0
        while start < data.rows {
            let r = start..<min(data.rows, start + 256)
            let res = try session.run([input.name: try castFloat(data.batch(r), to: dt)])
            guard let o = teacher.graph.outputs.first(where: { o in
                guard let t = res[o.name] else { return false }
                return t.dtype.isFloatingPoint && t.rank == 2 && t.shape[0] == r.count
            }), let t = res[o.name] else {
                throw CompressError("the teacher has no [N, classes] float output (probabilities) to distill from")
            }
            classes = t.shape[1]
            probs += (0..<t.count).map { Float(t.doubleValue(at: $0)) }
            start = r.upperBound
        }
        return (probs, classes)
    }

    /// Distinct labels in class order: numeric order when all are integers, else string order.
    public static func classLabels(_ labels: [String]) -> [String] {
        let uniq = Set(labels)
        if uniq.allSatisfy({ Int64($0) != nil }) { return uniq.sorted { Int64($0) ?? 0 < Int64($1) ?? 0 } }
        return uniq.sorted()
    }

    /// Trains a student on `data` from `teacher` and returns it as an ONNX model.
    public static func distill(teacher: Model, data: LabeledData, hidden: [Int], options: DistillOptions,
                               progress: (Int, Double) -> Void = { _, _ in }) throws -> (Model, DenseNetwork) {
        let (soft, classes) = try teacherProbabilities(teacher, data: data)
        let labels = classLabels(data.labels)
        guard labels.count <= classes else {
            throw CompressError("the data has \(labels.count) distinct labels but the teacher outputs \(classes) classes")
        }
        // Class i of the teacher is the i-th label in sorted order (scikit-learn's convention).
        var classNames = labels
        if classNames.count < classes, classNames.allSatisfy({ Int64($0) != nil }) {
            classNames = (0..<classes).map(String.init)
        }
        guard classNames.count == classes else {
            throw CompressError("the data has \(labels.count) distinct labels but the teacher outputs \(classes) classes")
        }
        let index = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
        let hard = try data.labels.map { l -> Int in
            guard let i = index[l] else { throw CompressError("label '\(l)' is not one of the teacher's classes") }
            return i
        }
        var net = DenseNetwork(sizes: [data.width] + hidden + [classes], seed: options.seed)
        try MLPTrainer.train(&net, x: data.features, soft: soft, hard: hard, options: options, progress: progress)
        let inputName = teacher.graph.feedableInputs.first?.name ?? "X"
        return (try export(net, inputName: inputName, classNames: classNames), net)
    }

    /// ONNX graph: (MatMul → Add → Relu)* → MatMul → Add → Softmax = `probabilities`; ArgMax → Gather(classes) = `label`.
    public static func export(_ net: DenseNetwork, inputName: String = "X", classNames: [String]) throws -> Model {
        var g = Graph(name: "distilled_mlp")
        g.inputs = [ValueInfo(name: inputName, type: .tensor(.float32, shape: [.symbolic("batch"), .fixed(net.sizes[0])]))]
        var cur = inputName
        let L = net.weights.count
        for l in 0..<L {
            let w = "W\(l)", b = "B\(l)"
            g.initializers.append((w, Tensor(shape: [net.sizes[l], net.sizes[l + 1]], checkedValues: net.weights[l])))
            g.initializers.append((b, Tensor(shape: [net.sizes[l + 1]], checkedValues: net.biases[l])))
            g.nodes.append(Node(name: "dense\(l)", opType: "MatMul", inputs: [cur, w], outputs: ["dense\(l)_mm"]))
            g.nodes.append(Node(name: "dense\(l)_bias", opType: "Add", inputs: ["dense\(l)_mm", b], outputs: ["dense\(l)_out"]))
            cur = "dense\(l)_out"
            if l < L - 1 {
                g.nodes.append(Node(name: "relu\(l)", opType: "Relu", inputs: [cur], outputs: ["relu\(l)_out"]))
                cur = "relu\(l)_out"
            }
        }
        let classes = net.sizes[net.sizes.count - 1]
        g.nodes.append(Node(name: "softmax", opType: "Softmax", inputs: [cur], outputs: ["probabilities"], attributes: ["axis": .int(-1)]))
        g.nodes.append(Node(name: "argmax", opType: "ArgMax", inputs: ["probabilities"], outputs: ["class_index"],
                            attributes: ["axis": .int(1), "keepdims": .int(0)]))
        let numeric = classNames.allSatisfy { Int64($0) != nil }
        let classTensor = numeric ? Tensor(shape: [classNames.count], checkedValues: classNames.map { Int64($0) ?? 0 })
                                  : Tensor(shape: [classNames.count], checkedValues: classNames)
        g.initializers.append(("classes", classTensor))
        g.nodes.append(Node(name: "label", opType: "Gather", inputs: ["classes", "class_index"], outputs: ["label"], attributes: ["axis": .int(0)]))
        g.outputs = [ValueInfo(name: "label", type: .tensor(numeric ? .int64 : .string, shape: [.symbolic("batch")])),
                     ValueInfo(name: "probabilities", type: .tensor(.float32, shape: [.symbolic("batch"), .fixed(classes)]))]
        return Model(irVersion: 8, opsets: ["": 17], producerName: "onyx distill", graph: g)
    }
}
