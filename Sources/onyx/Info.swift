import ArgumentParser
import Foundation
import Onyx

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model: producer, versions, inputs, outputs, parameters, operators.",
        discussion: "Example: onyx info Examples/models/digits_mlp/1/model.onnx")

    @Argument(help: "The .onnx model file.") var model: String

    func run() throws {
        let m = guarded { try ONNXModel.load(path: model) }
        let s = ModelSummary(m)
        print("model:      \(model)")
        print("producer:   \(m.producerName) \(m.producerVersion)".trimmingCharacters(in: .whitespaces))
        print("ir version: \(m.irVersion)")
        let ops = m.opsets.sorted { $0.key < $1.key }.map { "\($0.key.isEmpty ? "ai.onnx" : $0.key) \($0.value)" }
        print("opsets:     \(ops.joined(separator: ", "))")
        if !m.graph.name.isEmpty { print("graph:      \(m.graph.name)") }
        print("inputs:")
        for i in m.graph.feedableInputs { print("  \(i.name): \(shapeString(i.type))") }
        print("outputs:")
        for o in m.graph.outputs { print("  \(o.name): \(shapeString(o.type))") }
        print("parameters: \(s.parameterCount) (\(byteString(s.parameterBytes)))")
        print("nodes:      \(s.nodeCount)")
        print("operators:")
        for (op, n) in s.operatorHistogram { print("  \(op.padding(toLength: max(24, op.count), withPad: " ", startingAt: 0)) \(n)") }
    }
}
