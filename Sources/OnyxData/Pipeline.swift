// Pipeline steps: each is fitted on the training rows (StepSpec → FittedStep), then applied to any table, and
// saved as JSON so `onyx data apply` (or a server) re-runs exactly the same transformation on new rows.
import Foundation

/// An unfitted step as written in a config file: {"type": "scale", "method": "zscore", "columns": ["a"]}.
public struct StepSpec: Codable, Sendable {
    /// impute | drop_missing | outliers | dedupe | scale | l2 | log1p | onehot | multilabel
    public var type: String
    public var columns: [String]?
    public var exclude: [String]?
    /// impute: mean | median | most_frequent | constant. drop_missing: rows | columns.
    public var strategy: String?
    /// impute constant: the fill value.
    public var fill: String?
    /// scale: zscore | minmax | robust | maxabs. outliers: zscore | iqr.
    public var method: String?
    /// minmax target range (default [0, 1]).
    public var range: [Double]?
    /// outliers: z-score limit (default 3) or IQR factor (default 1.5). drop_missing columns: the largest
    /// fraction of missing values a column may have (default 0: any missing value drops it).
    public var threshold: Double?
    /// outliers: clip | drop.
    public var action: String?
    /// onehot / multilabel: the label column.
    public var column: String?
    /// multilabel separator (default "|").
    public var separator: String?

    public init(type: String, columns: [String]? = nil, exclude: [String]? = nil, strategy: String? = nil,
                fill: String? = nil, method: String? = nil, range: [Double]? = nil, threshold: Double? = nil,
                action: String? = nil, column: String? = nil, separator: String? = nil) {
        self.type = type; self.columns = columns; self.exclude = exclude; self.strategy = strategy; self.fill = fill
        self.method = method; self.range = range; self.threshold = threshold; self.action = action
        self.column = column; self.separator = separator
    }
}

public struct ImputeStep: Codable, Sendable {
    public var strategy: String
    public var numeric: [String: Double]
    public var text: [String: String]
}
public struct ColumnsStep: Codable, Sendable { public var columns: [String] }
public struct OutlierStep: Codable, Sendable {
    public var method: String
    public var action: String
    public var columns: [String]
    public var lower: [Double]
    public var upper: [Double]
}
public struct ScaleStep: Codable, Sendable {
    public var method: String
    public var columns: [String]
    /// zscore: mean; robust: median; maxabs: 0. Unused for minmax.
    public var center: [Double]
    /// zscore: population standard deviation; robust: IQR; maxabs: max |x|; minmax: (hi - lo) / (max - min).
    /// A zero scale is stored as 1, as scikit-learn does.
    public var scale: [Double]
    /// minmax: lo - min * scale (scikit-learn's min_), so y = x * scale + offset.
    public var offset: [Double]?
    public var dataMin: [Double]?
    public var dataMax: [Double]?
}
public struct OneHotStep: Codable, Sendable {
    public var column: String
    public var categories: [String]
}
public struct MultiLabelStep: Codable, Sendable {
    public var column: String
    public var separator: String
    public var classes: [String]
}

public enum FittedStep: Codable, Sendable {
    case impute(ImputeStep)
    case dropRows(ColumnsStep)
    case dropColumns(ColumnsStep)
    case outliers(OutlierStep)
    case dedupe
    case scale(ScaleStep)
    case l2(ColumnsStep)
    case log1p(ColumnsStep)
    case oneHot(OneHotStep)
    case multiLabel(MultiLabelStep)

    enum Key: String, CodingKey { case type }

    public var typeName: String {
        switch self {
        case .impute: return "impute"
        case .dropRows: return "drop_rows"
        case .dropColumns: return "drop_columns"
        case .outliers: return "outliers"
        case .dedupe: return "dedupe"
        case .scale: return "scale"
        case .l2: return "l2"
        case .log1p: return "log1p"
        case .oneHot: return "onehot"
        case .multiLabel: return "multilabel"
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(typeName, forKey: .type)
        switch self {
        case .impute(let s): try s.encode(to: encoder)
        case .dropRows(let s), .dropColumns(let s), .l2(let s), .log1p(let s): try s.encode(to: encoder)
        case .outliers(let s): try s.encode(to: encoder)
        case .dedupe: break
        case .scale(let s): try s.encode(to: encoder)
        case .oneHot(let s): try s.encode(to: encoder)
        case .multiLabel(let s): try s.encode(to: encoder)
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        switch try c.decode(String.self, forKey: .type) {
        case "impute": self = .impute(try ImputeStep(from: decoder))
        case "drop_rows": self = .dropRows(try ColumnsStep(from: decoder))
        case "drop_columns": self = .dropColumns(try ColumnsStep(from: decoder))
        case "outliers": self = .outliers(try OutlierStep(from: decoder))
        case "dedupe": self = .dedupe
        case "scale": self = .scale(try ScaleStep(from: decoder))
        case "l2": self = .l2(try ColumnsStep(from: decoder))
        case "log1p": self = .log1p(try ColumnsStep(from: decoder))
        case "onehot": self = .oneHot(try OneHotStep(from: decoder))
        case "multilabel": self = .multiLabel(try MultiLabelStep(from: decoder))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown step type '\(other)'")
        }
    }
}

public struct ColumnSpec: Codable, Sendable {
    public var name: String
    public var kind: ColumnKind
}

/// Rows dropped, values changed: what a step did to one table (or, merged, to a stream of batches).
public struct StepReport: Sendable {
    public var step: String
    public var rowsBefore = 0
    public var rowsAfter = 0
    /// A note: fixed text, or text around a count that adds up when batch reports are merged.
    struct Entry: Sendable { var head: String; var count: Int?; var tail: String }
    var entries: [Entry] = []

    public init(step: String, rowsBefore: Int = 0, rowsAfter: Int = 0) {
        self.step = step; self.rowsBefore = rowsBefore; self.rowsAfter = rowsAfter
    }

    /// What changed, one line each.
    public var notes: [String] {
        entries.compactMap { e in
            guard let n = e.count else { return e.head }
            return n > 0 ? e.head + String(n) + e.tail : nil
        }
    }

    mutating func note(_ text: String) { entries.append(Entry(head: text, count: nil, tail: "")) }
    /// A note of the form `head + n + tail`, shown only when `n > 0` (kept at zero so merged notes keep their order).
    mutating func note(_ head: String, _ n: Int, _ tail: String) {
        entries.append(Entry(head: head, count: n, tail: tail))
    }

    /// This report and the same step's report on a later batch: rows and counts added, other notes once.
    public mutating func merge(_ other: StepReport) {
        rowsBefore += other.rowsBefore; rowsAfter += other.rowsAfter
        for e in other.entries {
            if let i = entries.firstIndex(where: { $0.head == e.head && $0.tail == e.tail && ($0.count == nil) == (e.count == nil) }) {
                if let n = e.count { entries[i].count = (entries[i].count ?? 0) + n }
            } else {
                entries.append(e)
            }
        }
    }
}

/// Cross-batch state when a pipeline is applied to a stream (duplicate detection).
public final class ApplyState {
    var seen = Set<String>()
    public init() {}
}

public struct Pipeline: Codable, Sendable {
    public var version = 1
    /// The input columns the pipeline was fitted on, with their kinds (used to read new files the same way).
    public var input: [ColumnSpec]
    /// Extra missing-value tokens besides the defaults.
    public var missing: [String]
    public var steps: [FittedStep]
    /// Label columns: transformed by `apply` like any column, but not model inputs — `export-onnx` and the server
    /// leave them (and the columns made from them) out of the features.
    public var labels: [String]?
    /// Image preprocessing (ImageSteps.swift) for pipelines that read image files instead of rows.
    public var image: ImageTransform?

    public init(input: [ColumnSpec], missing: [String], steps: [FittedStep], labels: [String]? = nil) {
        self.input = input; self.missing = missing; self.steps = steps; self.labels = labels
    }

    public var missingTokens: MissingTokens { MissingTokens(extra: missing) }

    /// Fits `specs` one after another on `train` (each step sees the previous ones' output); returns the fitted
    /// pipeline, the transformed training table and a report per step.
    public static func fit(_ specs: [StepSpec], on train: Table, missing: [String] = []) throws -> (Pipeline, Table, [StepReport]) {
        var pipeline = Pipeline(input: train.columns.map { ColumnSpec(name: $0.name, kind: $0.kind) }, missing: missing, steps: [])
        var table = train
        var reports = [StepReport]()
        let state = ApplyState()
        for spec in specs {
            let step = try Fitting.fit(spec, table, pipeline.missingTokens)
            pipeline.steps.append(step)
            reports.append(try Applying.apply(step, &table, pipeline.missingTokens, state))
        }
        return (pipeline, table, reports)
    }

    /// Applies every step to `table`.
    public func apply(_ table: inout Table, state: ApplyState = ApplyState()) throws -> [StepReport] {
        try steps.map { try Applying.apply($0, &table, missingTokens, state) }
    }

    /// Reading options that give new files the kinds the pipeline was fitted on.
    public func csvOptions(delimiter: UInt8 = UInt8(ascii: ",")) -> CSVOptions {
        var o = CSVOptions()
        o.delimiter = delimiter
        o.missing = missingTokens
        for c in input { o.types[c.name] = c.kind }
        return o
    }

    public func json() throws -> Data { try DocumentFormat.json.encode(self) }

    /// The pipeline as YAML (same fields as the JSON form).
    public func yaml() throws -> Data { try DocumentFormat.yaml.encode(self) }

    /// Reads a pipeline file: YAML for `.yaml` / `.yml`, JSON otherwise.
    public static func load(_ path: String) throws -> Pipeline {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError(file: path, "cannot read file") }
        return try DocumentFormat(path: path).decode(Pipeline.self, from: data, file: path, what: "pipeline file")
    }

    /// Writes the pipeline (YAML for `.yaml` / `.yml`, JSON otherwise) to a temporary name, then renames it.
    public func save(_ path: String) throws {
        let data = try DocumentFormat(path: path).encode(self)
        try AtomicFile.write(path) { try $0.write(data) }
    }
}

/// A config file for `onyx data prepare`: an optional split, then steps fitted on the first split part.
public struct PrepareConfig: Codable, Sendable {
    public struct Split: Codable, Sendable {
        public var ratios: [Double]
        public var seed: UInt64?
        public var stratify: String?
    }
    public var split: Split?
    public var missing: [String]?
    public var types: [String: ColumnKind]?
    public var steps: [StepSpec]
    /// Label columns, recorded in the saved pipeline (see `Pipeline.labels`).
    public var labels: [String]?

    /// Reads a config: YAML for `.yaml` / `.yml`, JSON otherwise (same fields).
    public static func load(_ path: String) throws -> PrepareConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError(file: path, "cannot read file") }
        return try DocumentFormat(path: path).decode(PrepareConfig.self, from: data, file: path, what: "config")
    }
}
