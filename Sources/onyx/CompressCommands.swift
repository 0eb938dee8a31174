import ArgumentParser
import Foundation
import Onyx

/// Options every compression command shares: the before/after table.
struct ReportOptions: ParsableArguments {
    @Option(help: "Labeled CSV for accuracy before and after (every other column is a feature).") var data: String?
    @Option(help: "Label column of --data.") var label: String = "label"
    @Option(help: "Timed runs per model for the latency column (as onyx bench, batch 1); 0 skips it.") var benchIterations: Int = 200
    @Option(help: "Intra-op threads for the latency column.") var threads: Int = ThreadPool.availableCores

    func benchConfig() -> BenchmarkConfig? {
        guard benchIterations > 0 else { return nil }
        var c = BenchmarkConfig()
        c.threads = threads
        c.iterations = benchIterations
        c.warmup = 10
        return c
    }

    func loadData() -> LabeledData? {
        guard let data else { return nil }
        return guarded { try LabeledData.csv(path: data, label: label) }
    }

    /// Saves `after` to `out`, then prints the one table comparing it with the model at `before`.
    /// Latency is the median over interleaved rounds (before, after, before, …) so machine noise hits both alike.
    func finish(beforePath: String, before: Model, after: Model, out: String, beforeLabel: String = "original",
                afterLabel: String, data: LabeledData? = nil) {
        guarded { try ONNXModel.save(after, to: out) }
        let d = data ?? loadData()
        var rows = guarded {
            [try ModelStats.measure(label: beforeLabel, path: beforePath, model: before, benchmark: nil, data: d),
             try ModelStats.measure(label: afterLabel, path: out, model: after, benchmark: nil, data: d)]
        }
        if var cfg = benchConfig() {
            let rounds = 4
            cfg.iterations = max(1, benchIterations / rounds)
            var lat: [[Double]] = [[], []]
            for _ in 0..<rounds {
                for (k, p) in [beforePath, out].enumerated() {
                    lat[k] += guarded { try Benchmark.run(modelPath: p, config: cfg).latenciesMs }
                }
            }
            for k in 0..<2 { rows[k].latencyMs = lat[k].sorted()[lat[k].count / 2] }
        }
        print("wrote \(out)")
        print(ModelStats.table(rows))
    }
}

func warn(_ message: String) {
    FileHandle.standardError.write(Data(("warning: " + message + "\n").utf8))
}

func nameList(_ s: String?) -> [String] {
    (s ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize MatMul / Gemm / Conv to int8 (dynamic, or static with calibration).",
        discussion: """
        Example: onyx quantize Examples/models/digits_mlp/1/model.onnx -o /tmp/mlp_int8.onnx --mode dynamic \\
                   --data Examples/data/digits_test.csv
        dynamic: int8 weight initializers; activations through DynamicQuantizeLinear; MatMulInteger/ConvInteger,
        Cast, Mul by scales, Add bias (the layout of ONNX Runtime's quantize_dynamic).
        static: activation ranges calibrated on --calibration (a .npy directory, an .npz or a CSV), QDQ format.
        """)

    @Argument(help: "The float .onnx model.") var model: String
    @Option(name: .shortAndLong, help: "Output .onnx file.") var output: String
    @Option(help: "dynamic or static.") var mode: String = "dynamic"
    @Option(help: "Node names to leave in float, comma separated.") var exclude: String?
    @Flag(help: "One weight scale per output channel.") var perChannel = false
    @Option(help: "Static mode: calibration data (DIR of .npy, file.npz, or data.csv).") var calibration: String?
    @Option(help: "Static mode: minmax, percentile or entropy.") var method: String = "minmax"
    @Option(help: "Static mode: qdq or qoperator.") var format: String = "qdq"
    @Option(help: "Static mode: label column to drop from a calibration CSV.") var calibrationLabel: String = "label"
    @OptionGroup var report: ReportOptions

    func run() throws {
        let m = guarded { try ONNXModel.load(path: model) }
        var opts = QuantizeOptions()
        opts.exclude = Set(nameList(exclude))
        opts.perChannel = perChannel
        let q: Model, summary: QuantizeSummary
        switch mode {
        case "dynamic":
            (q, summary) = guarded { try DynamicQuantizer.quantize(m, options: opts) }
        case "static":
            guard let calibration else { fail("--mode static needs --calibration DIR|file.npz|data.csv") }
            guard let meth = CalibrationMethod(rawValue: method) else { fail("--method must be minmax, percentile or entropy") }
            guard let fmt = StaticFormat(rawValue: format) else { fail("--format must be qdq or qoperator") }
            let set = guarded { try CalibrationSet.load(path: calibration, model: m, labelColumn: calibrationLabel) }
            let bar = Progress(total: set.count * (meth == .minmax ? 1 : 2), label: "calibrating")
            (q, summary) = guarded {
                try StaticQuantizer.quantize(m, calibration: set, method: meth, format: fmt, options: opts) { done, _ in bar.update(done) }
            }
            bar.finish()
        default:
            fail("--mode must be dynamic or static, got '\(mode)'")
        }
        for w in summary.warnings { warn(w) }
        print("quantized \(summary.quantized.count) node(s)\(summary.quantized.isEmpty ? "" : ": " + summary.quantized.joined(separator: ", "))")
        report.finish(beforePath: model, before: m, after: q, out: output, afterLabel: "int8 \(mode)")
    }
}

struct ConvertPrecision: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert-precision",
        abstract: "Convert a float32 model to float16 (initializers, values; blocked ops stay float32 between Casts).",
        discussion: "Example: onyx convert-precision model.onnx --to fp16 --keep-io-fp32 -o model_fp16.onnx")

    @Argument(help: "The float32 .onnx model.") var model: String
    @Option(help: "Target precision (fp16).") var to: String = "fp16"
    @Flag(help: "Keep float32 graph inputs and outputs (Cast nodes at the boundary).") var keepIoFp32 = false
    @Option(help: "Extra op types to keep in float32, comma separated.") var blockOps: String?
    @Option(help: "Node names to keep in float32, comma separated.") var blockNodes: String?
    @Option(name: .shortAndLong, help: "Output .onnx file.") var output: String
    @Flag(help: "List the nodes kept in float32.") var verbose = false
    @OptionGroup var report: ReportOptions

    func run() throws {
        guard ["fp16", "float16", "half"].contains(to.lowercased()) else { fail("--to must be fp16, got '\(to)'") }
        let m = guarded { try ONNXModel.load(path: model) }
        var opts = PrecisionOptions()
        opts.keepIOFloat32 = keepIoFp32
        opts.blockOps = Set(nameList(blockOps))
        opts.blockNodes = Set(nameList(blockNodes))
        let (h, notes) = guarded { try PrecisionConverter.toFloat16(m, options: opts) }
        if verbose { for n in notes { print(n) } } else if !notes.isEmpty { print("\(notes.count) node(s) kept in float32 (--verbose lists them)") }
        report.finish(beforePath: model, before: m, after: h, out: output, afterLabel: "fp16")
    }
}

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Magnitude-prune MatMul / Gemm / Conv weights, with a per-layer sparsity report.",
        discussion: "Example: onyx prune model.onnx --sparsity 0.5 -o model_pruned.onnx --data Examples/data/digits_test.csv")

    @Argument(help: "The .onnx model.") var model: String
    @Option(help: "Fraction of weights to remove per layer, in [0, 1).") var sparsity: Double
    @Option(help: "unstructured (zero single weights) or channels (remove whole output channels).") var structured: String = "unstructured"
    @Option(help: "Node names to leave alone, comma separated.") var exclude: String?
    @Option(name: .shortAndLong, help: "Output .onnx file.") var output: String
    @OptionGroup var report: ReportOptions

    func run() throws {
        let m = guarded { try ONNXModel.load(path: model) }
        let ex = Set(nameList(exclude))
        let p: Model, layers: [LayerSparsity]
        switch structured {
        case "unstructured": (p, layers) = guarded { try Pruner.unstructured(m, sparsity: sparsity, exclude: ex) }
        case "channels":
            let r = guarded { try ChannelPruner.prune(m, sparsity: sparsity, exclude: ex) }
            (p, layers) = (r.model, r.layers)
            for w in r.warnings { warn(w) }
        default: fail("--structured must be unstructured or channels, got '\(structured)'")
        }
        if layers.isEmpty { warn("no MatMul / Gemm / Conv weight initializers were pruned") }
        print(Pruner.table(layers))
        print("")
        report.finish(beforePath: model, before: m, after: p, out: output, afterLabel: "pruned \(Int((sparsity * 100).rounded()))%")
    }
}

struct Distill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a small MLP student on a teacher's softened outputs plus hard labels; export it to ONNX.",
        discussion: """
        Example: onyx distill --teacher teacher.onnx --data train.csv --label label --student mlp:32 \\
                   --temperature 4 --alpha 0.7 --epochs 60 -o student.onnx --eval-data Examples/data/digits_test.csv
        """)

    @Option(help: "Teacher .onnx classifier (one float input, a [N, classes] probability output).") var teacher: String
    @Option(help: "Training CSV (features + label column).") var data: String
    @Option(help: "Label column.") var label: String = "label"
    @Option(help: "Student architecture, mlp:H1,H2,…") var student: String
    @Option(help: "Softmax temperature of the soft targets.") var temperature: Float = 4
    @Option(help: "Weight of the soft-target loss (the rest is hard-label cross-entropy).") var alpha: Float = 0.7
    @Option(help: "Training epochs.") var epochs: Int = 60
    @Option(help: "Mini-batch size.") var batchSize: Int = 32
    @Option(help: "Adam learning rate.") var learningRate: Float = 0.003
    @Option(help: "Random seed.") var seed: UInt64 = 42
    @Option(help: "Held-out CSV for the accuracy column (default: the training data).") var evalData: String?
    @Option(name: .shortAndLong, help: "Output .onnx file.") var output: String
    @Option(help: "Timed runs per model for the latency column; 0 skips it.") var benchIterations: Int = 200
    @Option(help: "Training and benchmark threads.") var threads: Int = ThreadPool.availableCores

    func run() throws {
        let t = guarded { try ONNXModel.load(path: teacher) }
        let train = guarded { try LabeledData.csv(path: data, label: label) }
        let hidden = guarded { try Distiller.parseStudent(student) }
        var o = DistillOptions()
        o.temperature = temperature; o.alpha = alpha; o.epochs = epochs; o.batchSize = batchSize
        o.learningRate = learningRate; o.seed = seed; o.threads = threads
        let bar = Progress(total: epochs, label: "training")
        let (s, _) = guarded {
            try Distiller.distill(teacher: t, data: train, hidden: hidden, options: o) { e, loss in
                bar.update(e, String(format: "loss %.4f", loss))
            }
        }
        bar.finish()
        var r = ReportOptions()
        r.label = label; r.benchIterations = benchIterations; r.threads = threads
        let evalSet = guarded { try LabeledData.csv(path: evalData ?? data, label: label) }
        r.finish(beforePath: teacher, before: t, after: s, out: output, beforeLabel: "teacher", afterLabel: "student", data: evalSet)
    }
}
