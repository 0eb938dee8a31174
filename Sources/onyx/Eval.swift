import ArgumentParser
import Foundation
import Onyx

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model on a labelled CSV file or image folder: metrics table, JSON, HTML report, comparison of two models.",
        discussion: """
            Features are every column except --label (or the --features list), fed as one float matrix [rows, \
            features] in batches, on all cores. Predictions come from the model's outputs: a label output plus \
            probabilities (scikit-learn converters, also ZipMap sequences of maps), a score matrix (probabilities \
            if every row sums to 1, else logits → softmax), or a single number per row (regression; a binary \
            classifier's probability if the labels are two integers and the values lie in [0, 1]). Override with \
            --output NAME and --scores-kind probabilities|logits.
            Labels the model does not know, a missing label column, or --scores-kind probabilities on rows that \
            are not distributions are errors.
            An image folder DIR/<class>/*.png|jpg|… is read as torchvision's ImageFolder reads it (classes = sorted \
            folder names, score column k = class k); each batch's images are decoded and preprocessed (--size, \
            --resize-shorter, --crop, --mean, --std, --channels, --layout as in `onyx data image`, or --pipeline \
            with a saved image transform) while other batches run.
            Example: onyx eval Examples/models/digits_mlp/1/model.onnx Examples/data/digits_test.csv --report report.html
            Binary input: DATA.npy (float32/float64 [rows, features] or [rows, …], e.g. [rows, 1, 8, 8] for a CNN) \
            with --labels LABELS.npy ([rows] integers or strings; floats for regression) is read in one go, without \
            text parsing; DATA.npz (np.savez or np.savez_compressed with x=X, y=y) holds both. A CSV row whose width equals the size of a \
            model input [N, d1, d2, …] is fed in that shape.
            Example: onyx eval resnet.onnx val/ --resize-shorter 256 --crop 224,224 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225
            Example: onyx eval Examples/models/digits_cnn/1/model.onnx x.npy --labels y.npy
            """)

    @Argument(help: "The .onnx model file.") var model: String
    @Argument(help: "The CSV data file (header row), a .npy feature array (with --labels), an .npz with arrays x and y, or an image folder DIR/<class>/*.") var data: String
    @Option(help: "Column with the true labels (or regression targets).") var label: String = "label"
    @Option(help: "With a .npy feature array: the .npy file of the true labels (one per row).") var labels: String?
    @Option(help: "Comma-separated feature columns (default: all columns except the label).") var features: String?
    @Option(help: "Rows per model run.") var batch: Int = 256
    @Option(help: "Write a self-contained HTML report to this file.") var report: String?
    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: "A second model to evaluate on the same data, side by side.") var compare: String?
    @Option(help: "The output holding scores or regression values (default: chosen from the output types).") var output: String?
    @Option(name: .customLong("scores-kind"), help: "How to read the scores: probabilities or logits.") var scoresKind: String?
    @Option(name: .customLong("pos-label"), help: "Positive class of a binary problem (default: the greater class).") var posLabel: String?
    @Option(help: "Concurrent batch workers (default: the number of cores).") var workers: Int = ThreadPool.availableCores
    @Option(help: "Intra-op threads per model run.") var threads: Int = 1
    @Option(help: "Image folders: a pipeline file with the image transform (from `onyx data image --save-pipeline`).") var pipeline: String?
    @OptionGroup(title: "Image folder preprocessing") var image: ImageOptions

    func run() throws {
        guard batch >= 1 else { fail("--batch must be at least 1") }
        guard workers >= 1, threads >= 1 else { fail("--workers and --threads must be at least 1") }
        var opts = EvalOptions()
        opts.batch = batch
        opts.output = output
        opts.workers = workers
        opts.threadsPerRun = threads
        opts.posLabel = posLabel
        if let k = scoresKind {
            guard let kind = ScoresKind(rawValue: k) else { fail("--scores-kind must be probabilities or logits, got '\(k)'") }
            opts.scoresKind = kind
        }
        let featureList = features.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        let t0 = Date()
        var isDir: ObjCBool = false
        let folder = FileManager.default.fileExists(atPath: data, isDirectory: &isDir) && isDir.boolValue
        if !folder && (pipeline != nil || image.given) { fail("--pipeline and the image options apply to image folders; \(data) is a file") }
        let isNPY = !folder && data.lowercased().hasSuffix(".npy")
        let isNPZ = !folder && data.lowercased().hasSuffix(".npz")
        if isNPZ && (labels != nil || features != nil) { fail("\(data) is an .npz archive: its arrays x (features) and y (labels) are used; --labels and --features do not apply") }
        if isNPY && labels == nil { fail("\(data) is a .npy array: give the labels with --labels LABELS.npy") }
        if !isNPY && !isNPZ && labels != nil { fail("--labels applies to .npy feature arrays; \(data) is \(folder ? "a folder" : "not a .npy file") (use --label COLUMN for a CSV file)") }
        if isNPY && features != nil { fail("--features selects CSV columns; a .npy array is fed whole") }
        if folder && pipeline == nil && !image.given { fail("\(data) is an image folder: give the preprocessing (--size H,W or --resize-shorter N --crop H,W, or --pipeline FILE)") }
        let table = guarded {
            folder ? try EvalData.imageFolder(path: data, transform: try image.transform(pipeline: pipeline))
                : isNPY ? try EvalData.npy(path: data, labels: labels ?? "")
                : isNPZ ? try EvalData.npz(path: data)
                : try EvalData.csv(path: data, label: label, features: featureList)
        }
        let loadSeconds = Date().timeIntervalSince(t0)
        EvalTiming.report("read data", since: t0)
        let primary = evaluate(model, table, opts, tag: compare == nil ? "eval" : "eval A")
        let other = compare.map { evaluate($0, table, opts, tag: "eval B") }
        let summary = EvalSummary(data: table, primary: primary, other: other, loadSeconds: loadSeconds)
        if let report {
            let tr = Date()
            guarded { try HTMLReport.write(summary, to: report) }
            EvalTiming.report("HTML report", since: tr)
        }
        let tp = Date()
        defer { EvalTiming.report("print", since: tp) }
        if json {
            print(summary.json())
        } else {
            print(summary.table())
            if let report { print("report:  \(report)") }
            let t = primary.inferenceSeconds + (other?.inferenceSeconds ?? 0)
            print(String(format: "time:    read %.3f s, inference %.3f s (%.0f rows/s), metrics %.3f s",
                         loadSeconds, t, Double(table.rows * (other == nil ? 1 : 2)) / max(t, 1e-9),
                         primary.metricsSeconds + (other?.metricsSeconds ?? 0)))
        }
    }

    func evaluate(_ path: String, _ table: EvalData, _ opts: EvalOptions, tag: String) -> ModelEvaluation {
        let bar = SharedProgress(total: table.rows, label: tag, enabled: !json)
        let result = guarded {
            try Evaluator.evaluate(modelPath: path, data: table, options: opts) { done, _ in bar.update(done) }
        }
        bar.finish()
        return result
    }
}

/// `Progress` shared by the batch workers. `@unchecked Sendable`: the wrapped bar is only touched under `lock`.
final class SharedProgress: @unchecked Sendable {
    let lock = NSLock()
    let bar: Progress
    let enabled: Bool
    init(total: Int, label: String, enabled: Bool) { bar = Progress(total: total, label: label); self.enabled = enabled }
    func update(_ done: Int) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        bar.update(done)
    }
    func finish() {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        bar.finish()
    }
}
