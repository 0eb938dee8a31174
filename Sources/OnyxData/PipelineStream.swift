// Fitting and applying a pipeline over a CSV file in chunks, so that a file of any size runs in bounded memory:
// one pass over the file per step that needs data (each pass re-applies the steps fitted so far to every chunk,
// then feeds the step's accumulator), then one pass that applies every step and writes the output.
//
// Accumulators keep per-column sums, counts, extremes or category sets: their size does not grow with the rows.
// Three statistics need every value of a column — median (impute median), percentiles (outliers iqr, scale
// robust) — and keep just that step's columns as doubles (8 bytes per value); dedupe keeps one key per distinct
// row. Means are summed in file order, exactly as the in-memory fit sums them; variances merge per-chunk two-pass
// results (Chan et al.), within a few ulps of the in-memory two-pass value.
import Foundation

public enum StreamingPipeline {
    /// Fits `specs` over the CSV file at `path`, reading it in `options.chunkBytes` chunks.
    /// Column kinds are fixed by the first pass (as `Pipeline.csvOptions()` fixes them for `apply`).
    /// - Parameter progress: called with (pass label, percent of the file read).
    public static func fit(_ specs: [StepSpec], path: String, options: CSVOptions, missing: [String] = [],
                           progress: ((String, Int) -> Void)? = nil) throws -> Pipeline {
        var options = options
        options.missing = MissingTokens(extra: missing).union(options.missing)
        let tokens = options.missing
        var pipeline = Pipeline(input: [], missing: missing, steps: [])
        var schemaFixed = false

        /// Reads the file once, applying the fitted steps to each batch; returns the raw header and kinds.
        func pass(_ label: String, _ consume: (Table) throws -> Void) throws -> (header: [String], kinds: [ColumnKind], changed: Bool) {
            let stream = try CSVStream(path: path, options: options)
            let startKinds = stream.kinds
            let state = ApplyState()
            while var batch = try stream.next() {
                _ = try pipeline.apply(&batch, state: state)
                try consume(batch)
                progress?(label, stream.totalBytes > 0 ? min(100, stream.bytesRead * 100 / stream.totalBytes) : 100)
            }
            return (stream.header, stream.kinds, stream.kinds != startKinds)
        }
        func fixSchema(_ header: [String], _ kinds: [ColumnKind]) {
            for (n, k) in zip(header, kinds) { options.types[n] = k }
            pipeline.input = zip(header, kinds).map { ColumnSpec(name: $0, kind: $1) }
            schemaFixed = true
        }
        /// The columns (with kinds) the step sees: the fitted steps applied to an empty table of the file's schema.
        func schema() throws -> Table {
            let stream = try CSVStream(path: path, options: options)
            var t = Table(file: path, columns: zip(stream.header, stream.kinds).map { name, kind in
                kind == .numeric ? Column(name: name, numeric: []) : Column(name: name, kind: kind, data: .strings([]))
            })
            if !schemaFixed { fixSchema(stream.header, stream.kinds) }
            _ = try pipeline.apply(&t)
            return t
        }

        for (k, spec) in specs.enumerated() {
            let empty = try schema()
            guard let acc = try Accumulator(spec, empty, tokens) else {
                pipeline.steps.append(try Fitting.fit(spec, empty, tokens))
                continue
            }
            let label = "fitting \(k + 1)/\(specs.count) (\(spec.type))"
            var r = try pass(label) { try acc.consume($0) }
            if r.changed {
                // A column inferred numeric held a non-number further down: read it as text from the start.
                fixSchema(r.header, r.kinds)
                let again = try Accumulator(spec, try schema(), tokens)
                guard let again else { continue }
                r = try pass(label) { try again.consume($0) }
                pipeline.steps.append(try again.finish(spec, tokens))
            } else {
                if !schemaFixed { fixSchema(r.header, r.kinds) }
                pipeline.steps.append(try acc.finish(spec, tokens))
            }
        }
        if pipeline.input.isEmpty { _ = try schema() }
        return pipeline
    }

    /// Applies `pipeline` to the CSV file `input` chunk by chunk and writes the CSV `output` (temporary name, then
    /// renamed). Returns the rows written and one report per step, summed over the chunks.
    public static func apply(_ pipeline: Pipeline, input: String, output: String, delimiter: UInt8 = UInt8(ascii: ","),
                             chunkBytes: Int? = nil, progress: ((Int) -> Void)? = nil) throws -> (rows: Int, reports: [StepReport]) {
        var options = pipeline.csvOptions(delimiter: delimiter)
        if let chunkBytes { options.chunkBytes = chunkBytes }
        let stream = try CSVStream(path: input, options: options)
        let state = ApplyState()
        var rows = 0
        var reports = [StepReport]()
        try DataIO.streamCSV(to: output, delimiter: delimiter) { emit in
            while var batch = try stream.next() {
                let r = try pipeline.apply(&batch, state: state)
                if reports.isEmpty { reports = r } else { for i in reports.indices where i < r.count { reports[i].merge(r[i]) } }
                try emit(batch)
                rows += batch.rowCount
                progress?(stream.totalBytes > 0 ? min(100, stream.bytesRead * 100 / stream.totalBytes) : 100)
            }
        }
        return (rows, reports)
    }
}

extension MissingTokens {
    func union(_ other: MissingTokens) -> MissingTokens {
        var m = self
        m.tokens.formUnion(other.tokens)
        return m
    }
}

/// The running state of one step's fit over a stream of batches.
final class Accumulator {
    enum Kind { case mean, mostFrequent, missingCounts, moments, extremes, maxAbs, categories, classes, collect }
    let kind: Kind
    let columns: [String]
    var sum: [Double], count: [Int], mean: [Double], m2: [Double], lo: [Double], hi: [Double]
    var numCounts: [[Double: Int]], textCounts: [[String: Int]], missingCounts: [Int]
    var rows = 0
    var categories = Set<String>()
    var numericColumn = false
    var collected: Table? = nil

    /// nil when the step's fit needs no data (its parameters come from the spec and the columns alone).
    init?(_ spec: StepSpec, _ schema: Table, _ missing: MissingTokens) throws {
        let method = spec.method ?? "zscore"
        switch spec.type {
        case "impute":
            let strategy = spec.strategy ?? "mean"
            switch strategy {
            case "mean": kind = .mean
            case "median": kind = .collect
            case "most_frequent": kind = .mostFrequent
            default: return nil
            }
            columns = try Fitting.targetColumns(spec, schema, numericOnly: strategy != "most_frequent")
        case "drop_missing":
            guard spec.strategy == "columns" else { return nil }
            kind = .missingCounts
            columns = try Fitting.targetColumns(spec, schema, numericOnly: false)
        case "outliers":
            guard method == "zscore" || method == "iqr", ["clip", "drop"].contains(spec.action ?? "clip") else { return nil }
            kind = method == "zscore" ? .moments : .collect
            columns = try Fitting.targetColumns(spec, schema, numericOnly: true)
        case "scale", "normalize":
            switch method {
            case "zscore": kind = .moments
            case "minmax": kind = .extremes
            case "maxabs": kind = .maxAbs
            case "robust": kind = .collect
            default: return nil
            }
            columns = try Fitting.targetColumns(spec, schema, numericOnly: true)
        case "onehot", "multilabel":
            guard let name = spec.column ?? spec.columns?.first else { return nil }
            let c = try schema.column(name)
            kind = spec.type == "onehot" ? .categories : .classes
            numericColumn = c.kind == .numeric
            columns = [name]
        default:
            return nil
        }
        let n = columns.count
        sum = [Double](repeating: 0, count: n); count = [Int](repeating: 0, count: n)
        mean = [Double](repeating: 0, count: n); m2 = [Double](repeating: 0, count: n)
        lo = [Double](repeating: .infinity, count: n); hi = [Double](repeating: -.infinity, count: n)
        numCounts = [[Double: Int]](repeating: [:], count: n); textCounts = [[String: Int]](repeating: [:], count: n)
        missingCounts = [Int](repeating: 0, count: n)
        currentMissing = missing
        separator = spec.separator ?? "|"
    }

    func consume(_ input: Table) throws {
        var t = input
        switch kind {
        case .mean, .moments, .extremes, .maxAbs:
            try t.makeNumeric(columns, missing: currentMissing)
            for (j, name) in columns.enumerated() {
                let v = try t.doubles(name)
                var bs = 0.0, bn = 0
                for x in v where !x.isNaN {
                    bs += x; bn += 1
                    if kind == .extremes { if x < lo[j] { lo[j] = x }; if x > hi[j] { hi[j] = x } }
                    if kind == .maxAbs { hi[j] = max(hi[j], abs(x)) }
                }
                // Sequential sum in file order: the same additions Stats.mean makes on the whole column.
                for x in v where !x.isNaN { sum[j] += x }
                if kind == .moments && bn > 0 {
                    let bm = bs / Double(bn)
                    var b2 = 0.0
                    for x in v where !x.isNaN { b2 += (x - bm) * (x - bm) }
                    let na = Double(count[j]), nb = Double(bn), nt = na + nb
                    let delta = bm - mean[j]
                    mean[j] += delta * nb / nt
                    m2[j] += b2 + delta * delta * na * nb / nt
                }
                count[j] += bn
            }
        case .mostFrequent:
            for (j, name) in columns.enumerated() {
                switch try t.column(name).data {
                case .numeric(let v): for x in v where !x.isNaN { numCounts[j][x == 0 ? 0 : x, default: 0] += 1 }
                case .strings(let v): for x in v where !currentMissing.isMissing(x) { textCounts[j][x, default: 0] += 1 }
                }
            }
        case .missingCounts:
            rows += t.rowCount
            for (j, name) in columns.enumerated() {
                switch try t.column(name).data {
                case .numeric(let v): missingCounts[j] += v.reduce(0) { $0 + ($1.isNaN ? 1 : 0) }
                case .strings(let v): missingCounts[j] += v.reduce(0) { $0 + (currentMissing.isMissing($1) ? 1 : 0) }
                }
            }
        case .categories:
            let c = try t.column(columns[0])
            for r in 0..<t.rowCount { categories.insert(c.text(r, integral: true)) }
        case .classes:
            let c = try t.column(columns[0])
            for r in 0..<t.rowCount {
                for part in c.text(r, integral: true).components(separatedBy: separator) {
                    let s = part.trimmingCharacters(in: .whitespaces)
                    if !s.isEmpty && !currentMissing.isMissing(s) { categories.insert(s) }
                }
            }
        case .collect:
            try t.makeNumeric(columns, missing: currentMissing)
            let part = Table(file: t.file, columns: try columns.map { Column(name: $0, numeric: try t.doubles($0)) })
            if collected == nil { collected = part } else { try collected?.append(part) }
        }
    }

    /// The pipeline's missing-value tokens and the multi-label separator.
    var currentMissing = MissingTokens()
    var separator = "|"

    func finish(_ spec: StepSpec, _ missing: MissingTokens) throws -> FittedStep {
        var fixed = spec
        fixed.columns = columns; fixed.exclude = nil
        switch kind {
        case .collect:
            let t = collected ?? Table(columns: columns.map { Column(name: $0, numeric: []) })
            return try Fitting.fit(fixed, t, missing)
        case .mean:
            var step = ImputeStep(strategy: "mean", numeric: [:], text: [:])
            for (j, name) in columns.enumerated() where count[j] > 0 { step.numeric[name] = sum[j] / Double(count[j]) }
            return .impute(step)
        case .mostFrequent:
            var step = ImputeStep(strategy: "most_frequent", numeric: [:], text: [:])
            for (j, name) in columns.enumerated() {
                if let m = numCounts[j].max(by: { a, b in a.value != b.value ? a.value < b.value : a.key > b.key })?.key {
                    step.numeric[name] = m
                } else if let m = textCounts[j].max(by: { a, b in a.value != b.value ? a.value < b.value : a.key > b.key })?.key {
                    step.text[name] = m
                }
            }
            return .impute(step)
        case .missingCounts:
            let limit = spec.threshold ?? 0
            let drop = columns.enumerated().filter { j, _ in rows > 0 && Double(missingCounts[j]) / Double(rows) > limit }.map(\.1)
            return .dropColumns(ColumnsStep(columns: drop))
        case .moments:
            let means = columns.indices.map { count[$0] == 0 ? Double.nan : sum[$0] / Double(count[$0]) }
            let variances = columns.indices.map { count[$0] == 0 ? Double.nan : m2[$0] / Double(count[$0]) }
            if spec.type == "outliers" {
                let k = spec.threshold ?? 3
                var step = OutlierStep(method: "zscore", action: spec.action ?? "clip", columns: columns, lower: [], upper: [])
                for j in columns.indices {
                    let s = variances[j].squareRoot()
                    step.lower.append(means[j] - k * s); step.upper.append(means[j] + k * s)
                }
                return .outliers(step)
            }
            var step = ScaleStep(method: "zscore", columns: columns, center: [], scale: [])
            for j in columns.indices {
                let n = Double(count[j]), m = means[j], variance = variances[j]
                let eps = Double.ulpOfOne
                let bound = n * eps * variance + (n * m * eps) * (n * m * eps)
                step.center.append(m)
                step.scale.append(variance <= bound || variance.isNaN ? 1 : variance.squareRoot())
            }
            return .scale(step)
        case .extremes:
            let range = spec.range ?? [0, 1]
            guard range.count == 2, range[0] < range[1] else { throw DataError(file: "minmax", "range must be two increasing numbers") }
            var step = ScaleStep(method: "minmax", columns: columns, center: [], scale: [])
            var offset = [Double](), mins = [Double](), maxs = [Double]()
            for j in columns.indices {
                let a = count[j] > 0 ? lo[j] : .nan, b = count[j] > 0 ? hi[j] : .nan
                let dataRange = b - a
                let s = (range[1] - range[0]) / (abs(dataRange) < 10 * Double.ulpOfOne ? 1 : dataRange)
                step.center.append(0); step.scale.append(s)
                offset.append(range[0] - a * s); mins.append(a); maxs.append(b)
            }
            step.offset = offset; step.dataMin = mins; step.dataMax = maxs
            return .scale(step)
        case .maxAbs:
            var step = ScaleStep(method: "maxabs", columns: columns, center: [], scale: [])
            for j in columns.indices {
                let m = count[j] > 0 ? hi[j] : 0
                step.center.append(0); step.scale.append(m < 10 * Double.ulpOfOne ? 1 : m)
            }
            return .scale(step)
        case .categories:
            let cats = numericColumn
                ? categories.sorted { (FastFloat.parse($0) ?? .nan) < (FastFloat.parse($1) ?? .nan) }
                : categories.sorted()
            return .oneHot(OneHotStep(column: columns[0], categories: cats))
        case .classes:
            return .multiLabel(MultiLabelStep(column: columns[0], separator: separator, classes: categories.sorted()))
        }
    }
}
