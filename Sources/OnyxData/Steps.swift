// Fitting and applying each pipeline step, with scikit-learn's definitions: SimpleImputer, StandardScaler
// (population std), MinMaxScaler (X * scale_ + min_), RobustScaler (median, 25–75 IQR), MaxAbsScaler,
// normalize(norm="l2"), OneHotEncoder / MultiLabelBinarizer (sorted categories).
import Foundation

enum Fitting {
    static func targetColumns(_ spec: StepSpec, _ table: Table, numericOnly: Bool) throws -> [String] {
        var cols: [String]
        if let given = spec.columns, !given.isEmpty {
            for c in given { _ = try table.index(of: c) }
            cols = given
        } else {
            cols = numericOnly ? table.columns.filter { $0.kind == .numeric }.map(\.name) : table.names
        }
        if let ex = spec.exclude {
            for c in ex { _ = try table.index(of: c) }
            cols.removeAll { ex.contains($0) }
        }
        return cols
    }

    static func fit(_ spec: StepSpec, _ input: Table, _ missing: MissingTokens) throws -> FittedStep {
        var table = input
        switch spec.type {
        case "impute":
            let strategy = spec.strategy ?? "mean"
            guard ["mean", "median", "most_frequent", "constant"].contains(strategy) else {
                throw DataError(file: "impute", "unknown strategy '\(strategy)' (mean, median, most_frequent, constant)")
            }
            let numericOnly = strategy == "mean" || strategy == "median"
            let cols = try targetColumns(spec, table, numericOnly: numericOnly)
            if numericOnly { try table.makeNumeric(cols, missing: missing) }
            var step = ImputeStep(strategy: strategy, numeric: [:], text: [:])
            for name in cols {
                let column = try table.column(name)
                switch column.data {
                case .numeric(let v):
                    let value: Double
                    switch strategy {
                    case "mean": value = Stats.mean(v)
                    case "median": value = Stats.median(v)
                    case "most_frequent": value = Stats.mostFrequent(v)
                    default:
                        let text = spec.fill ?? "0"
                        guard let f = FastFloat.parse(text) else {
                            throw DataError(file: "impute", "fill value '\(text)' is not a number (column '\(name)')")
                        }
                        value = f
                    }
                    if !value.isNaN { step.numeric[name] = value }
                case .strings(let v):
                    if strategy == "constant" { step.text[name] = spec.fill ?? "missing_value" }
                    else if let m = Stats.mostFrequent(v, missing: missing) { step.text[name] = m }
                }
            }
            return .impute(step)
        case "drop_missing":
            let cols = try targetColumns(spec, table, numericOnly: false)
            if (spec.strategy ?? "rows") == "rows" { return .dropRows(ColumnsStep(columns: cols)) }
            guard spec.strategy == "columns" else {
                throw DataError(file: "drop_missing", "strategy must be rows or columns")
            }
            let limit = spec.threshold ?? 0
            var drop = [String]()
            for name in cols {
                let c = try table.column(name)
                let m: Int
                switch c.data {
                case .numeric(let v): m = v.reduce(0) { $0 + ($1.isNaN ? 1 : 0) }
                case .strings(let v): m = v.reduce(0) { $0 + (missing.isMissing($1) ? 1 : 0) }
                }
                if table.rowCount > 0 && Double(m) / Double(table.rowCount) > limit { drop.append(name) }
            }
            return .dropColumns(ColumnsStep(columns: drop))
        case "outliers":
            let method = spec.method ?? "zscore", action = spec.action ?? "clip"
            guard method == "zscore" || method == "iqr" else { throw DataError(file: "outliers", "method must be zscore or iqr") }
            guard action == "clip" || action == "drop" else { throw DataError(file: "outliers", "action must be clip or drop") }
            let cols = try targetColumns(spec, table, numericOnly: true)
            try table.makeNumeric(cols, missing: missing)
            var step = OutlierStep(method: method, action: action, columns: cols, lower: [], upper: [])
            for name in cols {
                let v = try table.doubles(name)
                if method == "zscore" {
                    let k = spec.threshold ?? 3, m = Stats.mean(v), s = Stats.variance(v).squareRoot()
                    step.lower.append(m - k * s); step.upper.append(m + k * s)
                } else {
                    let f = spec.threshold ?? 1.5
                    let sorted = Stats.present(v).sorted()
                    let q1 = Stats.percentileSorted(sorted, 25), q3 = Stats.percentileSorted(sorted, 75)
                    step.lower.append(q1 - f * (q3 - q1)); step.upper.append(q3 + f * (q3 - q1))
                }
            }
            return .outliers(step)
        case "dedupe":
            return .dedupe
        case "scale", "normalize":
            let method = spec.method ?? "zscore"
            let cols = try targetColumns(spec, table, numericOnly: true)
            try table.makeNumeric(cols, missing: missing)
            var step = ScaleStep(method: method, columns: cols, center: [], scale: [])
            switch method {
            case "zscore":
                for name in cols {
                    let v = try table.doubles(name)
                    let m = Stats.mean(v), variance = Stats.variance(v)
                    let n = Double(v.reduce(0) { $0 + ($1.isNaN ? 0 : 1) })
                    // scikit-learn's _is_constant_feature: variance within rounding error of zero → scale 1.
                    let eps = Double.ulpOfOne
                    let bound = n * eps * variance + (n * m * eps) * (n * m * eps)
                    step.center.append(m)
                    step.scale.append(variance <= bound || variance.isNaN ? 1 : variance.squareRoot())
                }
            case "minmax":
                let range = spec.range ?? [0, 1]
                guard range.count == 2, range[0] < range[1] else {
                    throw DataError(file: "minmax", "range must be two increasing numbers")
                }
                var offset = [Double](), mins = [Double](), maxs = [Double]()
                for name in cols {
                    let p = Stats.present(try table.doubles(name))
                    let lo = p.min() ?? .nan, hi = p.max() ?? .nan
                    let dataRange = hi - lo
                    // _handle_zeros_in_scale: a range below 10 * eps counts as zero.
                    let s = (range[1] - range[0]) / (abs(dataRange) < 10 * Double.ulpOfOne ? 1 : dataRange)
                    step.center.append(0); step.scale.append(s)
                    offset.append(range[0] - lo * s); mins.append(lo); maxs.append(hi)
                }
                step.offset = offset; step.dataMin = mins; step.dataMax = maxs
            case "robust":
                for name in cols {
                    let sorted = Stats.present(try table.doubles(name)).sorted()
                    let q1 = Stats.percentileSorted(sorted, 25), q3 = Stats.percentileSorted(sorted, 75)
                    let med = Stats.percentileSorted(sorted, 50)
                    let iqr = q3 - q1
                    step.center.append(med)
                    step.scale.append(abs(iqr) < 10 * Double.ulpOfOne ? 1 : iqr)
                }
            case "maxabs":
                for name in cols {
                    let m = Stats.present(try table.doubles(name)).reduce(0) { max($0, abs($1)) }
                    step.center.append(0); step.scale.append(m < 10 * Double.ulpOfOne ? 1 : m)
                }
            case "l2":
                return .l2(ColumnsStep(columns: cols))
            case "log1p":
                return .log1p(ColumnsStep(columns: cols))
            default:
                throw DataError(file: "normalize", "unknown method '\(method)' (zscore, minmax, robust, maxabs, l2, log1p)")
            }
            return .scale(step)
        case "l2", "log1p":
            let cols = try targetColumns(spec, table, numericOnly: true)
            return spec.type == "l2" ? .l2(ColumnsStep(columns: cols)) : .log1p(ColumnsStep(columns: cols))
        case "onehot":
            guard let name = spec.column ?? spec.columns?.first else { throw DataError(file: "onehot", "give the label column") }
            let c = try table.column(name)
            let values = Set((0..<table.rowCount).map { c.text($0, integral: true) })
            let cats: [String]
            if c.kind == .numeric {
                cats = values.sorted { (FastFloat.parse($0) ?? .nan) < (FastFloat.parse($1) ?? .nan) }
            } else {
                cats = values.sorted()
            }
            return .oneHot(OneHotStep(column: name, categories: cats))
        case "multilabel":
            guard let name = spec.column ?? spec.columns?.first else { throw DataError(file: "multilabel", "give the label column") }
            let sep = spec.separator ?? "|"
            let c = try table.column(name)
            var classes = Set<String>()
            for r in 0..<table.rowCount {
                for part in c.text(r, integral: true).components(separatedBy: sep) {
                    let t = part.trimmingCharacters(in: .whitespaces)
                    if !t.isEmpty && !missing.isMissing(t) { classes.insert(t) }
                }
            }
            return .multiLabel(MultiLabelStep(column: name, separator: sep, classes: classes.sorted()))
        default:
            throw DataError(file: "pipeline", "unknown step '\(spec.type)' (impute, drop_missing, outliers, dedupe, scale, l2, log1p, onehot, multilabel)")
        }
    }
}

enum Applying {
    static func rowKey(_ table: Table, _ r: Int) -> String {
        var key = ""
        for c in table.columns {
            switch c.data {
            case .numeric(let v): key += String(v[r].isNaN ? Double.nan.bitPattern : (v[r] == 0 ? 0 : v[r]).bitPattern, radix: 36)
            case .strings(let v): key += v[r]
            }
            key += "\u{1F}"
        }
        return key
    }

    static func apply(_ step: FittedStep, _ table: inout Table, _ missing: MissingTokens, _ state: ApplyState) throws -> StepReport {
        var report = StepReport(step: step.typeName, rowsBefore: table.rowCount)
        switch step {
        case .impute(let s):
            try table.makeNumeric(Array(s.numeric.keys), missing: missing)
            for (c, column) in table.columns.enumerated() {
                if let fill = s.numeric[column.name] {
                    guard case .numeric(var v) = column.data else { continue }
                    var n = 0
                    table.columns[c].data = .numeric([])
                    for i in v.indices where v[i].isNaN { v[i] = fill; n += 1 }
                    table.columns[c].data = .numeric(v)
                    report.note("\(column.name): ", n, " missing → \(formatNumber(fill))")
                } else if let fill = s.text[column.name], case .strings(var v) = column.data {
                    var n = 0
                    table.columns[c].data = .strings([])
                    for i in v.indices where missing.isMissing(v[i]) { v[i] = fill; n += 1 }
                    table.columns[c].data = .strings(v)
                    report.note("\(column.name): ", n, " missing → '\(fill)'")
                }
            }
        case .dropRows(let s):
            let idx = try (s.columns.isEmpty ? table.names : s.columns).map { try table.index(of: $0) }
            var keep = [Int]()
            for r in 0..<table.rowCount {
                let isMissing = idx.contains { c in
                    switch table.columns[c].data {
                    case .numeric(let v): return v[r].isNaN
                    case .strings(let v): return missing.isMissing(v[r])
                    }
                }
                if !isMissing { keep.append(r) }
            }
            if keep.count != table.rowCount { table = table.selecting(keep) }
            report.note("", report.rowsBefore - keep.count, " rows with missing values dropped")
        case .dropColumns(let s):
            table.columns.removeAll { s.columns.contains($0.name) }
            if !s.columns.isEmpty { report.note("dropped columns: \(s.columns.joined(separator: ", "))") }
        case .outliers(let s):
            try table.makeNumeric(s.columns, missing: missing)
            var dropRow = [Bool](repeating: false, count: table.rowCount)
            for (k, name) in s.columns.enumerated() {
                let c = try table.index(of: name)
                guard case .numeric(var v) = table.columns[c].data else { continue }
                let lo = s.lower[k], hi = s.upper[k]
                var n = 0
                for i in v.indices where v[i] < lo || v[i] > hi {
                    n += 1
                    if s.action == "clip" { v[i] = min(max(v[i], lo), hi) } else { dropRow[i] = true }
                }
                table.columns[c].data = .numeric(v)
                report.note("\(name): ", n, " outside [\(formatNumber(lo)), \(formatNumber(hi))] \(s.action == "clip" ? "clipped" : "dropped")")
            }
            if s.action == "drop" { table = table.selecting((0..<table.rowCount).filter { !dropRow[$0] }) }
        case .dedupe:
            var keep = [Int]()
            for r in 0..<table.rowCount where state.seen.insert(rowKey(table, r)).inserted { keep.append(r) }
            if keep.count != table.rowCount { table = table.selecting(keep) }
            report.note("", report.rowsBefore - keep.count, " duplicate rows dropped")
        case .scale(let s):
            try table.makeNumeric(s.columns, missing: missing)
            for (k, name) in s.columns.enumerated() {
                let c = try table.index(of: name)
                guard case .numeric(var v) = table.columns[c].data else { continue }
                table.columns[c].data = .numeric([])
                if let offset = s.offset {
                    let a = s.scale[k], b = offset[k]
                    for i in v.indices { v[i] = v[i] * a + b }
                } else {
                    let m = s.center[k], d = s.scale[k]
                    for i in v.indices { v[i] = (v[i] - m) / d }
                }
                table.columns[c].data = .numeric(v)
            }
        case .l2(let s):
            try table.makeNumeric(s.columns, missing: missing)
            let idx = try s.columns.map { try table.index(of: $0) }
            var cols = idx.map { table.columns[$0].doubles ?? [] }
            for r in 0..<table.rowCount {
                var sum = 0.0
                for c in cols.indices { sum += cols[c][r] * cols[c][r] }
                let norm = sum.squareRoot()
                if norm > 0 { for c in cols.indices { cols[c][r] /= norm } }
            }
            for (k, c) in idx.enumerated() { table.columns[c].data = .numeric(cols[k]) }
        case .log1p(let s):
            try table.makeNumeric(s.columns, missing: missing)
            for name in s.columns {
                let c = try table.index(of: name)
                guard case .numeric(var v) = table.columns[c].data else { continue }
                for i in v.indices {
                    if v[i] <= -1 {
                        throw DataError(file: table.file, line: table.line(ofRow: i), column: c + 1,
                                        "column '\(name)': log1p of \(formatNumber(v[i])) (values must be > -1)")
                    }
                    v[i] = Foundation.log1p(v[i])
                }
                table.columns[c].data = .numeric(v)
            }
        case .oneHot(let s):
            let c = try table.index(of: s.column)
            let column = table.columns[c]
            var index = [String: Int]()
            for (i, cat) in s.categories.enumerated() { index[cat] = i }
            var out = [[Double]](repeating: [Double](repeating: 0, count: table.rowCount), count: s.categories.count)
            var unknown = 0
            for r in 0..<table.rowCount {
                if let i = index[column.text(r, integral: true)] { out[i][r] = 1 } else { unknown += 1 }
            }
            table.columns.remove(at: c)
            table.columns.insert(contentsOf: zip(s.categories, out).map { Column(name: "\(s.column)_\($0)", numeric: $1) }, at: c)
            report.note("\(s.column) → \(s.categories.count) indicator columns")
            report.note("\(s.column): ", unknown, " rows with a category not seen in fitting (all zeros)")
        case .multiLabel(let s):
            let c = try table.index(of: s.column)
            let column = table.columns[c]
            var index = [String: Int]()
            for (i, cat) in s.classes.enumerated() { index[cat] = i }
            var out = [[Double]](repeating: [Double](repeating: 0, count: table.rowCount), count: s.classes.count)
            for r in 0..<table.rowCount {
                for part in column.text(r, integral: true).components(separatedBy: s.separator) {
                    if let i = index[part.trimmingCharacters(in: .whitespaces)] { out[i][r] = 1 }
                }
            }
            table.columns.remove(at: c)
            table.columns.insert(contentsOf: zip(s.classes, out).map { Column(name: "\(s.column)_\($0)", numeric: $1) }, at: c)
            report.note("\(s.column) → \(s.classes.count) indicator columns")
        }
        report.rowsAfter = table.rowCount
        return report
    }
}
