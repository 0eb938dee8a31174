import ArgumentParser
import Foundation
import Onyx

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model on .npy or .pb inputs and write one output_<i>.npy per output.",
        discussion: """
        Example: onyx run Examples/models/digits_mlp/1/model.onnx --input input=Examples/inputs/digits_0.npy --output-dir out
        For a single-input model the input file may be given alone: onyx run model.onnx x.npy
        """)

    @Argument(help: "The .onnx model file.") var model: String
    @Argument(help: "Input file for a single-input model.") var file: String?
    @Option(name: .customLong("input"), help: "NAME=FILE (.npy or .pb); repeat for each input.") var inputs: [String] = []
    @Option(name: .customLong("output-dir"), help: "Where to write output_<i>.npy.") var outputDir: String = "."
    @Option(help: "Intra-op threads.") var threads: Int = ThreadPool.availableCores
    @Option(help: "Optimization level: none, basic, extended, all.") var level: String = "all"
    @Flag(help: "Log what the session compiled (to standard error).") var verbose = false

    func run() throws {
        guard let lvl = OptimizationLevel(rawValue: level) else { fail("--level must be none, basic, extended or all") }
        // The model goes straight into the session, which frees packed weights' raw tensors while compiling.
        let session = guarded {
            try InferenceSession(model: ONNXModel.load(path: model), options: SessionOptions(threads: threads, optimizationLevel: lvl, verbose: verbose))
        }
        var feeds: [String: Tensor] = [:]
        var pairs: [(String, String)] = []
        for spec in inputs {
            guard let eq = spec.firstIndex(of: "=") else { fail("--input must be NAME=FILE, got '\(spec)'") }
            pairs.append((String(spec[..<eq]), String(spec[spec.index(after: eq)...])))
        }
        if let file {
            guard session.inputs.count == 1 else {
                fail("the model has \(session.inputs.count) inputs (\(session.inputs.map(\.name).joined(separator: ", "))); use --input NAME=FILE for each")
            }
            pairs.append((session.inputs[0].name, file))
        }
        for (name, path) in pairs {
            feeds[name] = guarded { try readTensor(path) }
        }
        let start = Date()
        let outs = guarded { try session.runOrdered(feeds) }
        let ms = Date().timeIntervalSince(start) * 1000
        let dir = URL(fileURLWithPath: outputDir)
        guarded { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        for (i, v) in outs.enumerated() {
            let name = session.outputs[i].name
            guard let t = v.tensor else { print("\(name): \(v.kindName) (not written)"); continue }
            let url = dir.appendingPathComponent("output_\(i).npy")
            guarded { try NPY.write(t, to: url) }
            print("\(name): \(t.dtype) \(t.shape) \(t.preview()) -> \(url.path)")
        }
        FileHandle.standardError.write(Data(String(format: "ran in %.2f ms\n", ms).utf8))
    }
}

func readTensor(_ path: String) throws -> Tensor {
    let url = URL(fileURLWithPath: path)
    guard FileManager.default.fileExists(atPath: path) else { throw OnyxError.invalidInput("file '\(path)' does not exist") }
    if path.hasSuffix(".pb") { return try TensorProtoCodec.read(url) }
    do { return try NPY.read(url) } catch { throw OnyxError.invalidInput("\(path): \(error)") }
}
