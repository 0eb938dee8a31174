import ArgumentParser
import Foundation
import Onyx

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert models from other frameworks to ONNX.",
        subcommands: [ConvertKeras.self])
}

struct ConvertKeras: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keras",
        abstract: "Convert a Keras model (.keras archive or legacy .h5) to ONNX.",
        discussion: "Example: onyx convert keras model.keras -o model.onnx --batch-size dynamic")

    @Argument(help: "The Keras model: a Keras 3 .keras archive or a legacy full-model .h5 file.") var model: String
    @Option(name: .shortAndLong, help: "The ONNX file to write.") var output: String
    @Option(help: "ONNX opset version (13...21).") var opset: Int = 17
    @Option(help: "Batch dimension: a number, or 'dynamic' for a symbolic dimension.") var batchSize: String = "dynamic"
    @Flag(help: "Take rank-3+ inputs channels-first (NCHW) instead of Keras's channels-last (NHWC).")
    var nchwInputs = false

    func run() throws {
        var batch: Int?
        if batchSize != "dynamic" {
            guard let b = Int(batchSize), b > 0 else { fail("--batch-size must be a positive number or 'dynamic'") }
            batch = b
        }
        let options = KerasConvertOptions(opset: opset, batchSize: batch, nchwInputs: nchwInputs)
        let m = guarded { try KerasConverter.convert(path: model, options: options) }
        guarded { try ONNXModel.save(m, to: output) }
        // Check that the result loads in Onyx before reporting success.
        _ = guarded { try InferenceSession(model: m) }
        print("wrote \(output): \(m.graph.nodes.count) nodes, \(m.graph.initializers.count) initializers, opset \(opset)")
        for i in m.graph.inputs { print("  input  \(i.name): \(shapeString(i.type))") }
        for o in m.graph.outputs { print("  output \(o.name)") }
    }
}
