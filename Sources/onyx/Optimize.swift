import ArgumentParser
import Foundation
import Onyx

struct Optimize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Save a model's optimized graph (fused ops in the ai.onyx domain) as an ONNX file.",
        discussion: """
        Example: onyx optimize model.onnx -o model.opt.onnx --level all
        The saved model is marked as optimized: Onyx loads it without running the optimizer again.
        """)

    @Argument(help: "The .onnx model file.") var model: String
    @Option(name: .shortAndLong, help: "Output .onnx file.") var output: String
    @Option(help: "Optimization level: none, basic, extended, all.") var level: String = "all"

    func run() throws {
        guard let lvl = OptimizationLevel(rawValue: level) else { fail("--level must be none, basic, extended or all") }
        let m = guarded { try ONNXModel.load(path: model) }
        let start = Date()
        let optimized = guarded { try GraphOptimizer.optimizeModel(m, level: lvl) }
        guarded { try ONNXModel.save(optimized, to: output) }
        let before = m.graph.nodes.count, after = optimized.graph.nodes.count
        print("optimized \(model) at level \(level): \(before) → \(after) nodes in "
              + String(format: "%.0f ms", Date().timeIntervalSince(start) * 1000) + "; wrote \(output)")
    }
}
