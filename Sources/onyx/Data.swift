// `onyx data`: argument parsing and printing only; the work is in OnyxData.
import ArgumentParser
import Foundation
import Onyx

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare data: inspect, split, clean, normalize, labels, sample, merge, prepare, apply, export-onnx, word2vec, image.",
        discussion: """
            Inputs: CSV (RFC 4180, any delimiter, UTF-8), .tsv, JSON Lines (.jsonl), .npy. Steps are fitted on the \
            training data only; --save-pipeline / --save-params write the fitted steps as JSON or YAML, which \
            `onyx data apply` re-runs on new data. Outputs are written to a temporary file and renamed.
            Example: onyx data split iris.csv --ratios 0.8,0.2 --seed 0 --stratify species --out-dir splits
            """,
        subcommands: [DataInspect.self, DataSplit.self, DataClean.self, DataNormalize.self, DataLabels.self,
                      DataSample.self, DataMerge.self, DataPrepare.self, DataApply.self, DataExportONNX.self,
                      DataWord2Vec.self, DataImage.self])
}

/// Reading options shared by the data commands.
struct ReadOptions: ParsableArguments {
    @Option(help: "Field delimiter for CSV (one character, or 'tab').") var delimiter: String = ","
    @Option(name: .customLong("na"), help: "Extra comma-separated tokens that mean a missing value.") var na: String?
    @Option(help: "Column kinds, e.g. 'zip=categorical,age=numeric' (numeric, categorical, text).") var types: String?

    func csv() throws -> CSVOptions {
        var o = CSVOptions()
        let d = delimiter == "tab" || delimiter == "\\t" ? "\t" : delimiter
        guard d.utf8.count == 1, let b = d.utf8.first else { throw ValidationError("--delimiter must be one ASCII character") }
        o.delimiter = b
        o.missing = MissingTokens(extra: extraMissing)
        for item in list(types) {
            let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, let k = ColumnKind(rawValue: kv[1]) else {
                throw ValidationError("--types: '\(item)' is not NAME=numeric|categorical|text")
            }
            o.types[kv[0]] = k
        }
        return o
    }
    var extraMissing: [String] { list(na) }
}

func list(_ s: String?) -> [String] {
    guard let s else { return [] }
    return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

func numbers(_ s: String, _ what: String) -> [Double] {
    let v = list(s).map { FastFloat.parse($0) }
    if v.contains(where: { $0 == nil }) || v.isEmpty { fail("\(what): '\(s)' is not a comma-separated list of numbers") }
    return v.compactMap { $0 }
}

/// Reads a table with a progress line on a terminal.
func readTable(_ path: String, _ options: CSVOptions) throws -> Table {
    let progress = Progress(total: 100, label: "reading")
    defer { progress.finish() }
    return try DataIO.read(path, options: options) { done, total in
        progress.update(total > 0 ? min(100, done * 100 / total) : 100, "%")
    }
}

func writeTable(_ table: Table, _ path: String, _ delimiter: UInt8 = UInt8(ascii: ",")) throws {
    let progress = Progress(total: max(table.rowCount, 1), label: "writing")
    defer { progress.finish() }
    try DataIO.write(table, to: path, delimiter: delimiter) { done, _ in progress.update(done) }
}

func printReports(_ reports: [StepReport], to stderr: Bool = false) {
    for r in reports {
        var line = "\(r.step):"
        if r.rowsBefore != r.rowsAfter { line += " rows \(r.rowsBefore) → \(r.rowsAfter)" }
        if r.notes.isEmpty && r.rowsBefore == r.rowsAfter { line += " done" }
        let text = ([line] + r.notes.map { "  " + $0 }).joined(separator: "\n") + "\n"
        if stderr { FileHandle.standardError.write(Data(text.utf8)) } else { print(text, terminator: "") }
    }
}

/// CSV in and out (and a CSV fit file): fitted and applied chunk by chunk in bounded memory.
func streamable(_ paths: String?...) -> Bool {
    paths.allSatisfy { $0 == nil || TableFormat.of($0 ?? "") == .csv }
}

/// Fits over a CSV file in chunks, one pass per step that needs data, with a progress line on a terminal.
func fitStreaming(_ specs: [StepSpec], path: String, options: CSVOptions, missing: [String]) throws -> Pipeline {
    let progress = Progress(total: 100, label: "fitting")
    defer { progress.finish() }
    return try StreamingPipeline.fit(specs, path: path, options: options, missing: missing) { label, percent in
        progress.update(percent, "% \(label)")
    }
}

/// Applies a pipeline to a CSV file in chunks and writes the CSV output.
func applyStreaming(_ p: Pipeline, input: String, output: String, delimiter: UInt8) throws -> (Int, [StepReport]) {
    let progress = Progress(total: 100, label: "applying")
    defer { progress.finish() }
    return try StreamingPipeline.apply(p, input: input, output: output, delimiter: delimiter) { progress.update($0, "%") }
}

/// Fits `specs` on `fit` (or the input), applies them to the input, writes the result and optionally the pipeline.
func fitApplyWrite(_ specs: [StepSpec], input: String, fit: String?, output: String, save: String?,
                   read: ReadOptions) {
    guarded {
        let options = try read.csv()
        if streamable(input, output, fit) {
            let pipeline = try fitStreaming(specs, path: fit ?? input, options: options, missing: read.extraMissing)
            let (rows, reports) = try applyStreaming(pipeline, input: input, output: output, delimiter: options.delimiter)
            if let save { try pipeline.save(save) }
            printReports(reports)
            print("wrote \(output) (\(rows) rows)")
            return
        }
        let table = try readTable(input, options)
        let (pipeline, out, reports): (Pipeline, Table, [StepReport])
        if let fit {
            let (p, _, _) = try Pipeline.fit(specs, on: try readTable(fit, options), missing: read.extraMissing)
            var t = table
            let r = try p.apply(&t)
            (pipeline, out, reports) = (p, t, r)
        } else {
            (pipeline, out, reports) = try Pipeline.fit(specs, on: table, missing: read.extraMissing)
        }
        try writeTable(out, output, options.delimiter)
        if let save { try pipeline.save(save) }
        printReports(reports)
        print("wrote \(output) (\(out.rowCount) rows, \(out.columns.count) columns)")
    }
}

struct DataInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Per-column kinds, missing values and statistics.",
        discussion: "Example: onyx data inspect data.csv --na '?'")
    @Argument(help: "Input file (.csv, .tsv, .jsonl, .npy).") var input: String
    @OptionGroup var read: ReadOptions
    func run() throws {
        let table = guarded { try readTable(input, try read.csv()) }
        print("\(input): \(table.rowCount) rows, \(table.columns.count) columns")
        print(ColumnSummary.render(ColumnSummary.of(table, missing: MissingTokens(extra: read.extraMissing))))
    }
}

struct DataSplit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split", abstract: "Split rows into train / validation (/ test), shuffled with a seed.",
        discussion: """
            Sizes follow scikit-learn's train_test_split (ceil(ratio × n) rows for every part after the first); \
            --stratify keeps class proportions as StratifiedShuffleSplit does.
            Example: onyx data split iris.csv --ratios 0.7,0.15,0.15 --seed 42 --stratify species --out-dir splits
            """)
    @Argument(help: "Input file.") var input: String
    @Option(help: "Comma-separated ratios summing to 1 (two or three).") var ratios: String = "0.8,0.2"
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Label column whose class proportions each part keeps.") var stratify: String?
    @Option(name: .customLong("out-dir"), help: "Directory for train / validation / test files.") var outDir: String
    @OptionGroup var read: ReadOptions
    func run() throws {
        let r = numbers(ratios, "--ratios")
        if r.count > 3 { fail("--ratios: give two or three ratios") }
        guarded {
            let options = try read.csv()
            let table = try readTable(input, options)
            let parts = try Sampling.split(table, ratios: r, seed: seed, stratify: stratify)
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            let ext = (input as NSString).pathExtension.isEmpty ? "csv" : (input as NSString).pathExtension
            for (part, name) in zip(parts, ["train", "validation", "test"]) {
                let path = (outDir as NSString).appendingPathComponent("\(name).\(ext)")
                try writeTable(part, path, options.delimiter)
                print("\(path): \(part.rowCount) rows")
            }
        }
    }
}

struct DataClean: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean", abstract: "Missing values, outliers and duplicate rows, with a summary of changes.",
        discussion: """
            --missing: drop-rows, drop-columns, mean, median, most_frequent or constant (with --fill). Mean and \
            median apply to numeric columns; most_frequent / constant to all. --outliers zscore|iqr with \
            --outlier-action clip|drop (limits fitted on --fit if given).
            Example: onyx data clean raw.csv --missing median --outliers iqr --outlier-action clip --dedupe \
            --exclude label -o clean.csv --save-pipeline clean.json
            """)
    @Argument(help: "Input file.") var input: String
    @Option(help: "What to do with missing values.") var missing: String?
    @Option(help: "Fill value for --missing constant.") var fill: String?
    @Option(help: "Outlier rule: zscore or iqr.") var outliers: String?
    @Option(name: .customLong("outlier-action"), help: "clip or drop.") var outlierAction: String = "clip"
    @Option(help: "Z-score limit (default 3) or IQR factor (default 1.5); for drop-columns the allowed missing fraction.")
    var threshold: Double?
    @Flag(help: "Remove duplicate rows (first kept).") var dedupe = false
    @Option(help: "Comma-separated columns to clean (default: all applicable).") var columns: String?
    @Option(help: "Comma-separated columns to leave alone.") var exclude: String?
    @Option(help: "Fit on this file (e.g. the training split) instead of the input.") var fit: String?
    @Option(name: .customLong("save-pipeline"), help: "Write the fitted steps as JSON.") var savePipeline: String?
    @Option(name: .shortAndLong, help: "Output file.") var output: String
    @OptionGroup var read: ReadOptions
    func run() throws {
        var specs = [StepSpec]()
        let cols = list(columns), ex = list(exclude)
        let c = cols.isEmpty ? nil : cols, e = ex.isEmpty ? nil : ex
        if dedupe { specs.append(StepSpec(type: "dedupe")) }
        if let m = missing {
            switch m {
            case "drop-rows", "drop_rows": specs.append(StepSpec(type: "drop_missing", columns: c, exclude: e, strategy: "rows"))
            case "drop-columns", "drop_columns":
                specs.append(StepSpec(type: "drop_missing", columns: c, exclude: e, strategy: "columns", threshold: threshold))
            case "mean", "median", "most_frequent", "most-frequent", "constant":
                specs.append(StepSpec(type: "impute", columns: c, exclude: e, strategy: m.replacingOccurrences(of: "-", with: "_"), fill: fill))
            default: fail("--missing: unknown strategy '\(m)'")
            }
        }
        if let o = outliers {
            specs.append(StepSpec(type: "outliers", columns: c, exclude: e, method: o, threshold: threshold, action: outlierAction))
        }
        if specs.isEmpty { fail("nothing to do: give --missing, --outliers or --dedupe") }
        fitApplyWrite(specs, input: input, fit: fit, output: output, save: savePipeline, read: read)
    }
}

struct DataNormalize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalize", abstract: "Scale numeric columns: zscore, minmax, robust, maxabs, l2 (rows), log1p.",
        discussion: """
            zscore uses the population standard deviation (StandardScaler); minmax maps to --range (default 0,1); \
            robust subtracts the median and divides by the 25–75 IQR. Parameters come from --fit (default: the input).
            Example: onyx data normalize test.csv --method zscore --columns a,b --fit train.csv \
            --save-params scale.json -o test_scaled.csv
            """)
    @Argument(help: "Input file.") var input: String
    @Option(help: "zscore, minmax, robust, maxabs, l2 or log1p.") var method: String = "zscore"
    @Option(help: "Comma-separated columns (default: every numeric column).") var columns: String?
    @Option(help: "Comma-separated columns to leave alone.") var exclude: String?
    @Option(help: "Target range for minmax, e.g. -1,1.") var range: String?
    @Option(help: "Fit the parameters on this file instead of the input.") var fit: String?
    @Option(name: .customLong("save-params"), help: "Write the fitted parameters (a pipeline file).") var saveParams: String?
    @Option(name: .shortAndLong, help: "Output file.") var output: String
    @OptionGroup var read: ReadOptions
    func run() throws {
        let cols = list(columns), ex = list(exclude)
        let spec = StepSpec(type: "scale", columns: cols.isEmpty ? nil : cols, exclude: ex.isEmpty ? nil : ex,
                            method: method, range: range.map { numbers($0, "--range") })
        fitApplyWrite([spec], input: input, fit: fit, output: output, save: saveParams, read: read)
    }
}

struct DataLabels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labels", abstract: "A label column → one-hot (or multi-label indicator) columns.",
        discussion: """
            Categories are sorted as scikit-learn's OneHotEncoder / MultiLabelBinarizer sort them; the new columns \
            are named COLUMN_CATEGORY and replace the label column. --mapping writes {label: index}.
            Example: onyx data labels tags.csv --column tags --multi --separator '|' --mapping tags.json -o out.csv
            """)
    @Argument(help: "Input file.") var input: String
    @Option(help: "The label column.") var column: String
    @Flag(help: "Cells hold several labels separated by --separator.") var multi = false
    @Option(help: "Separator of multi-label cells.") var separator: String = "|"
    @Option(help: "Write the label → index mapping as JSON.") var mapping: String?
    @Option(name: .customLong("save-pipeline"), help: "Write the fitted step as a pipeline file.") var savePipeline: String?
    @Option(help: "Fit the categories on this file instead of the input.") var fit: String?
    @Option(name: .shortAndLong, help: "Output file.") var output: String
    @OptionGroup var read: ReadOptions
    func run() throws {
        let spec = StepSpec(type: multi ? "multilabel" : "onehot", column: column, separator: separator)
        var pipelinePath = savePipeline
        let temp = mapping != nil && savePipeline == nil
        if temp { pipelinePath = NSTemporaryDirectory() + "/onyx-labels-\(ProcessInfo.processInfo.processIdentifier).json" }
        fitApplyWrite([spec], input: input, fit: fit, output: output, save: pipelinePath, read: read)
        guard let mapping, let pipelinePath else { return }
        guarded {
            let p = try Pipeline.load(pipelinePath)
            if temp { try? FileManager.default.removeItem(atPath: pipelinePath) }
            var labels = [String]()
            for s in p.steps {
                if case .oneHot(let o) = s { labels = o.categories }
                if case .multiLabel(let m) = s { labels = m.classes }
            }
            var obj = [String: Int]()
            for (i, l) in labels.enumerated() { obj[l] = i }
            let e = JSONEncoder(); e.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try e.encode([column: obj])
            try AtomicFile.write(mapping) { try $0.write(data) }
        }
    }
}

struct DataSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample", abstract: "Random, stratified, over-/under-sampled or bootstrap rows, with a seed.",
        discussion: """
            Modes: random (without replacement), stratified (keeps --by proportions), oversample (every class up to \
            the largest, with replacement), undersample (every class down to the smallest), bootstrap.
            Example: onyx data sample train.csv --mode oversample --by label --seed 1 -o balanced.csv
            """)
    @Argument(help: "Input file.") var input: String
    @Option(help: "random, stratified, oversample, undersample or bootstrap.") var mode: String = "random"
    @Option(help: "Fraction of the rows to draw.") var fraction: Double?
    @Option(help: "Number of rows to draw.") var count: Int?
    @Option(help: "Class column for stratified / over / under sampling.") var by: String?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(name: .shortAndLong, help: "Output file.") var output: String
    @OptionGroup var read: ReadOptions
    func run() throws {
        guard let m = Sampling.Mode(rawValue: mode) else { fail("--mode: unknown mode '\(mode)'") }
        guarded {
            let options = try read.csv()
            let table = try readTable(input, options)
            let out = try Sampling.sample(table, mode: m, count: count, fraction: fraction, by: by, seed: seed)
            try writeTable(out, output, options.delimiter)
            print("wrote \(output) (\(out.rowCount) rows)")
        }
    }
}

struct DataMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge", abstract: "Several files (e.g. one per class) → one dataset with a class column.",
        discussion: """
            The class of each file's rows is its file name without extension unless --class-values is given. \
            All files must have the same columns; otherwise the error names the missing and extra ones.
            Example: onyx data merge cats.csv dogs.csv --class-column animal -o pets.csv
            """)
    @Argument(help: "Input files.") var inputs: [String]
    @Option(name: .customLong("class-column"), help: "Name of the class column.") var classColumn: String = "class"
    @Option(name: .customLong("class-values"), help: "Comma-separated class value per file.") var classValues: String?
    @Option(name: .shortAndLong, help: "Output file.") var output: String
    @OptionGroup var read: ReadOptions
    func run() throws {
        let values = classValues.map { list($0) }
            ?? inputs.map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension }
        guarded {
            let options = try read.csv()
            let tables = try inputs.map { try readTable($0, options) }
            let out = try Sampling.merge(tables, classColumn: classColumn, classValues: values)
            try writeTable(out, output, options.delimiter)
            print("wrote \(output) (\(out.rowCount) rows from \(inputs.count) files)")
        }
    }
}

struct DataPrepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare", abstract: "Run a whole pipeline from a JSON or YAML config: optional split, then steps.",
        discussion: """
            Config: {"split": {"ratios": [0.8, 0.2], "seed": 0, "stratify": "y"}, "missing": ["?"], \
            "steps": [{"type": "impute", "strategy": "mean"}, {"type": "scale", "method": "zscore", \
            "exclude": ["y"]}, {"type": "onehot", "column": "y"}]}. Step types: impute, drop_missing, outliers, \
            dedupe, scale (zscore, minmax, robust, maxabs, l2, log1p), onehot, multilabel. Steps are fitted on the \
            training part and applied to every part. Without a split, give -o; with one, --out-dir. Configs and \
            pipeline files are YAML when named .yaml / .yml, JSON otherwise (same fields).
            Example: onyx data prepare raw.csv --config prep.json --out-dir prepared --save-pipeline prep.pipeline.json
            """)
    @Argument(help: "Input file.") var input: String
    @Option(help: "The config file (.json, or .yaml / .yml).") var config: String
    @Option(name: .shortAndLong, help: "Output file (no split).") var output: String?
    @Option(name: .customLong("out-dir"), help: "Output directory (with a split).") var outDir: String?
    @Option(name: .customLong("save-pipeline"), help: "Write the fitted pipeline (YAML for .yaml / .yml, else JSON).") var savePipeline: String?
    @OptionGroup var read: ReadOptions
    func run() throws {
        guarded {
            let cfg = try PrepareConfig.load(config)
            var options = try read.csv()
            for (k, v) in cfg.types ?? [:] { options.types[k] = v }
            let extra = read.extraMissing + (cfg.missing ?? [])
            options.missing = MissingTokens(extra: extra)
            if cfg.split == nil, let output, streamable(input, output) {
                var pipeline = try fitStreaming(cfg.steps, path: input, options: options, missing: extra)
                pipeline.labels = cfg.labels
                let (rows, reports) = try applyStreaming(pipeline, input: input, output: output, delimiter: options.delimiter)
                if let savePipeline { try pipeline.save(savePipeline) }
                printReports(reports)
                print("wrote \(output) (\(rows) rows)")
                return
            }
            let table = try readTable(input, options)
            let ext = (input as NSString).pathExtension.isEmpty ? "csv" : (input as NSString).pathExtension
            if let split = cfg.split {
                guard let outDir else { throw ValidationError("the config has a split: give --out-dir") }
                let parts = try Sampling.split(table, ratios: split.ratios, seed: split.seed ?? 0, stratify: split.stratify)
                var (pipeline, train, reports) = try Pipeline.fit(cfg.steps, on: parts[0], missing: extra)
                pipeline.labels = cfg.labels
                try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
                for (i, name) in ["train", "validation", "test"].prefix(parts.count).enumerated() {
                    var t = i == 0 ? train : parts[i]
                    if i > 0 { _ = try pipeline.apply(&t) }
                    let path = (outDir as NSString).appendingPathComponent("\(name).\(ext)")
                    try writeTable(t, path, options.delimiter)
                    print("\(path): \(t.rowCount) rows")
                }
                printReports(reports)
                if let savePipeline { try pipeline.save(savePipeline) }
            } else {
                guard let output else { throw ValidationError("give -o OUTPUT") }
                var (pipeline, out, reports) = try Pipeline.fit(cfg.steps, on: table, missing: extra)
                pipeline.labels = cfg.labels
                try writeTable(out, output, options.delimiter)
                if let savePipeline { try pipeline.save(savePipeline) }
                printReports(reports)
                print("wrote \(output) (\(out.rowCount) rows, \(out.columns.count) columns)")
            }
        }
    }
}

struct DataApply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "Re-run a saved pipeline on new data (CSV is streamed in bounded memory).",
        discussion: "Example: onyx data apply prep.pipeline.json new.csv -o new_prepared.csv")
    @Argument(help: "The pipeline file, JSON or YAML (from --save-pipeline / --save-params).") var pipeline: String
    @Argument(help: "Input file.") var input: String
    @Option(name: .shortAndLong, help: "Output file.") var output: String
    @Option(help: "Field delimiter for CSV (one character, or 'tab').") var delimiter: String = ","
    func run() throws {
        guarded {
            let p = try Pipeline.load(pipeline)
            let d = delimiter == "tab" ? "\t" : delimiter
            guard d.utf8.count == 1, let delim = d.utf8.first else { throw ValidationError("--delimiter must be one character") }
            let options = p.csvOptions(delimiter: delim)
            if TableFormat.of(input) != .csv || TableFormat.of(output) != .csv {
                var t = try readTable(input, options)
                printReports(try p.apply(&t), to: true)
                try writeTable(t, output, delim)
                print("wrote \(output) (\(t.rowCount) rows)")
                return
            }
            let (rows, reports) = try applyStreaming(p, input: input, output: output, delimiter: delim)
            printReports(reports, to: true)
            print("wrote \(output) (\(rows) rows)")
        }
    }
}

struct DataExportONNX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-onnx", abstract: "Export a fitted pipeline as ONNX preprocessing nodes, alone or in front of a model.",
        discussion: """
            The graph takes one [N, 1] input per raw column (float for numeric columns, string for categorical / \
            text ones) and makes the [N, F] float feature matrix with ai.onnx.ml Imputer, Scaler, Normalizer, \
            LabelEncoder, OneHotEncoder and standard ops. With --model, it feeds the model's one input, so the model \
            file alone carries its preprocessing. Steps that remove rows (drop_rows, dedupe, outliers with action \
            drop) or split strings (multilabel) cannot be exported: the error names the step. Missing numeric \
            values are fed as NaN.
            Example: onyx data export-onnx prep.pipeline.yaml --model model.onnx --exclude label -o model_with_prep.onnx
            """)
    @Argument(help: "The fitted pipeline file (JSON or YAML).") var pipeline: String
    @Option(help: "The model to put the preprocessing in front of (its one input takes the features).") var model: String?
    @Option(help: "Comma-separated input columns to leave out besides the pipeline's labels.") var exclude: String?
    @Option(name: .shortAndLong, help: "Output .onnx file.") var output: String
    func run() throws {
        guarded {
            let p = try Pipeline.load(pipeline)
            let excluded = Array(Set((p.labels ?? []) + list(exclude)))
            let out: Model
            if let model {
                out = try PipelineONNX.prepend(p, to: try ONNXModel.load(path: model), exclude: excluded)
            } else {
                out = try PipelineONNX.standalone(p, exclude: excluded)
            }
            try ONNXModel.save(out, to: output)
            let inputs = out.graph.feedableInputs.map { "\($0.name): \($0.type)" }
            print("wrote \(output) (\(out.graph.nodes.count) nodes)")
            print("inputs: \(inputs.joined(separator: ", "))")
            if let f = out.metadata.first(where: { $0.key == PipelineONNX.featuresKey }) { print("features: \(f.value)") }
        }
    }
}

/// Image preprocessing options shared by `onyx data image` and `onyx eval` on an image folder.
struct ImageOptions: ParsableArguments {
    @Option(help: "Resize every image to H,W (aspect ratio not kept).") var size: String?
    @Option(name: .customLong("resize-shorter"), help: "Resize so the shorter side is N (aspect ratio kept).") var resizeShorter: Int?
    @Option(help: "Center-crop to H,W after resizing.") var crop: String?
    @Option(help: "Per-channel means (1 or 3 values, output channel order).") var mean: String = "0"
    @Option(help: "Per-channel standard deviations (1 or 3 values).") var std: String = "1"
    @Option(help: "Multiplier of the 0…255 pixel values before normalization.") var scale: Double = 1.0 / 255
    @Option(help: "Channel order: rgb or bgr.") var channels: String = "rgb"
    @Option(help: "Tensor layout: nchw or nhwc.") var layout: String = "nchw"

    var given: Bool { size != nil || resizeShorter != nil || crop != nil }

    /// The transform of the saved pipeline `pipeline` (when given), else of these options.
    func transform(pipeline: String?) throws -> ImageTransform {
        if let pipeline {
            guard let t = try Pipeline.load(pipeline).image else { throw ValidationError("\(pipeline): the pipeline has no image transform") }
            try t.validate()
            return t
        }
        func pair(_ s: String?, _ what: String) throws -> [Int]? {
            guard let s else { return nil }
            let v = list(s).map { Int($0) }
            guard v.count == 2, let h = v[0], let w = v[1] else { throw ValidationError("\(what) must be H,W, got '\(s)'") }
            return [h, w]
        }
        return try ImageTransform(size: try pair(size, "--size"), resizeShorter: resizeShorter, crop: try pair(crop, "--crop"),
                                  scale: scale, mean: numbers(mean, "--mean"), std: numbers(std, "--std"),
                                  channels: channels, layout: layout)
    }
}

struct DataImage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Images (PNG, baseline JPEG, BMP, PNM, TIFF) → one float32 .npy batch for a vision model.",
        discussion: """
            Per image: decode, resize (bilinear, PyTorch's interpolate with align_corners=False and no antialias), \
            center-crop, channel order, value · scale (default 1/255) then (v − mean) / std per channel; output \
            [N, 3, H, W] (nchw) or [N, H, W, 3]. Gray images are replicated to 3 channels, alpha is dropped. A \
            directory is walked recursively (files sorted by name, as torchvision's ImageFolder does). \
            --save-pipeline writes the transform as a pipeline file; --pipeline re-applies a saved one.
            Example: onyx data image photos/ --resize-shorter 256 --crop 224,224 --mean 0.485,0.456,0.406 \
            --std 0.229,0.224,0.225 -o batch.npy --save-pipeline imagenet.pipeline.json
            """)
    @Argument(help: "Image files or directories.") var inputs: [String]
    @OptionGroup var image: ImageOptions
    @Option(help: "Apply the image transform of this pipeline file instead of the options above.") var pipeline: String?
    @Option(name: .customLong("save-pipeline"), help: "Save the transform as a pipeline file (JSON).") var savePipeline: String?
    @Option(name: .shortAndLong, help: "Output .npy file.") var output: String

    func run() throws {
        guarded {
            let transform = try image.transform(pipeline: pipeline)
            var files = [String]()
            for i in inputs {
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: i, isDirectory: &isDir) else { throw ValidationError("\(i): no such file or directory") }
                files += isDir.boolValue ? try ImageTransform.files(in: i) : [i]
            }
            guard !files.isEmpty else { throw ValidationError("no image files in \(inputs.joined(separator: ", "))") }
            let bar = SharedProgress(total: files.count, label: "images", enabled: true)
            let t = try transform.batch(files) { done, _ in bar.update(done) }
            bar.finish()
            try NPY.write(t, to: URL(fileURLWithPath: output))
            if let savePipeline { try Pipeline.image(transform).save(savePipeline) }
            print("wrote \(output) (float32 [\(t.shape.map(String.init).joined(separator: ", "))], \(files.count) images)")
            if let savePipeline { print("wrote \(savePipeline)") }
        }
    }
}
