// Splitting, sampling and merging rows. Sizes follow scikit-learn: train_test_split takes ceil(ratio * n) rows
// for every part after the first; stratified splits allocate per-class counts with StratifiedShuffleSplit's
// _approximate_mode (largest remainders).
import Foundation

public enum Sampling {
    /// Row indices grouped by the values of the column `name` (classes sorted).
    static func groups(_ table: Table, _ name: String) throws -> (classes: [String], rows: [[Int]]) {
        let column = try table.column(name)
        var map = [String: [Int]]()
        for r in 0..<table.rowCount { map[column.text(r, integral: true), default: []].append(r) }
        let classes = map.keys.sorted()
        return (classes, classes.map { map[$0] ?? [] })
    }

    /// scikit-learn's _approximate_mode: floor of the proportional share, then one more for the largest
    /// remainders (ties go to the earlier class here; scikit-learn breaks them at random).
    public static func approximateMode(_ counts: [Int], _ draws: Int) -> [Int] {
        let total = Double(counts.reduce(0, +))
        guard total > 0 else { return counts.map { _ in 0 } }
        let continuous = counts.map { Double($0) / total * Double(draws) }
        var floored = continuous.map { $0.rounded(.down) }
        var need = draws - Int(floored.reduce(0, +))
        let remainder = zip(continuous, floored).map { $0 - $1 }
        for value in Set(remainder).sorted(by: >) where need > 0 {
            for i in remainder.indices where remainder[i] == value && need > 0 { floored[i] += 1; need -= 1 }
        }
        return floored.map { Int($0) }
    }

    /// Part sizes for ratios summing to 1: every part after the first gets ceil(ratio * n), the first the rest.
    public static func partSizes(_ n: Int, _ ratios: [Double]) throws -> [Int] {
        guard ratios.count >= 2, ratios.allSatisfy({ $0 > 0 }), abs(ratios.reduce(0, +) - 1) < 1e-6 else {
            throw DataError(file: "--ratios", "ratios must be two or more positive numbers summing to 1")
        }
        var sizes = ratios.dropFirst().map { Int((Double(n) * $0).rounded(.up)) }
        let first = n - sizes.reduce(0, +)
        guard first > 0 else { throw DataError(file: "--ratios", "\(n) rows are too few for ratios \(ratios)") }
        sizes.insert(first, at: 0)
        return sizes
    }

    /// Splits rows into parts by ratios (shuffled with `seed`), optionally stratified by a column.
    public static func split(_ table: Table, ratios: [Double], seed: UInt64, stratify: String? = nil) throws -> [Table] {
        let n = table.rowCount
        let sizes = try partSizes(n, ratios)
        var rng = SeededRandom(seed: seed)
        guard let stratify else {
            var order = Array(0..<n)
            order.shuffle(using: &rng)
            var parts = [Table](), at = 0
            for s in sizes { parts.append(table.selecting(Array(order[at..<at + s]))); at += s }
            return parts
        }
        let (_, groups) = try groups(table, stratify)
        var remaining = groups.map { g -> [Int] in var g = g; g.shuffle(using: &rng); return g }
        var partRows = [[Int]](repeating: [], count: sizes.count)
        // Later parts first, as train_test_split allocates the test part from what the train part leaves.
        var counts = [[Int]](repeating: [], count: sizes.count)
        var left = remaining.map(\.count)
        counts[0] = approximateMode(left, sizes[0])
        left = zip(left, counts[0]).map { $0 - $1 }
        for p in 1..<sizes.count {
            counts[p] = approximateMode(left, sizes[p])
            left = zip(left, counts[p]).map { $0 - $1 }
        }
        for p in sizes.indices {
            for g in remaining.indices {
                let k = counts[p][g]
                partRows[p].append(contentsOf: remaining[g].prefix(k))
                remaining[g].removeFirst(min(k, remaining[g].count))
            }
            partRows[p].shuffle(using: &rng)
        }
        return partRows.map { table.selecting($0) }
    }

    public enum Mode: String, Sendable, CaseIterable { case random, stratified, oversample, undersample, bootstrap }

    /// Samples rows: `random` (without replacement), `stratified` (class proportions kept), `oversample`
    /// (every class drawn with replacement up to the largest), `undersample` (down to the smallest),
    /// `bootstrap` (with replacement). `count` or `fraction` sets the size for random / stratified / bootstrap.
    public static func sample(_ table: Table, mode: Mode, count: Int?, fraction: Double?, by column: String?,
                              seed: UInt64) throws -> Table {
        var rng = SeededRandom(seed: seed)
        let n = table.rowCount
        let size = count ?? fraction.map { Int((Double(n) * $0).rounded()) } ?? n
        guard size >= 0 else { throw DataError(file: table.file, "sample size must be non-negative") }
        switch mode {
        case .random:
            guard size <= n else { throw DataError(file: table.file, "cannot draw \(size) of \(n) rows without replacement") }
            var order = Array(0..<n); order.shuffle(using: &rng)
            return table.selecting(Array(order.prefix(size)))
        case .bootstrap:
            return table.selecting((0..<size).map { _ in rng.below(max(n, 1)) }.filter { $0 < n })
        case .stratified, .oversample, .undersample:
            guard let column else { throw DataError(file: table.file, "--by COLUMN is required for \(mode.rawValue) sampling") }
            let groups = try groups(table, column).rows
            var rows = [Int]()
            switch mode {
            case .stratified:
                guard size <= n else { throw DataError(file: table.file, "cannot draw \(size) of \(n) rows without replacement") }
                let counts = approximateMode(groups.map(\.count), size)
                for (g, k) in zip(groups, counts) { var g = g; g.shuffle(using: &rng); rows += g.prefix(k) }
            case .oversample:
                let target = groups.map(\.count).max() ?? 0
                for g in groups { rows += g; rows += (0..<(target - g.count)).map { _ in g[rng.below(g.count)] } }
            default:
                let target = groups.map(\.count).min() ?? 0
                for g in groups { var g = g; g.shuffle(using: &rng); rows += g.prefix(target) }
            }
            rows.shuffle(using: &rng)
            return table.selecting(rows)
        }
    }

    /// Merges tables into one with a class column (`classValues[i]` for rows of table i). Every table must
    /// have the same column names as the first (order may differ); the error names the columns that differ.
    public static func merge(_ tables: [Table], classColumn: String, classValues: [String]) throws -> Table {
        guard let first = tables.first else { throw DataError(file: "merge", "no input files") }
        guard classValues.count == tables.count else {
            throw DataError(file: "merge", "\(tables.count) files but \(classValues.count) class values")
        }
        if first.names.contains(classColumn) {
            throw DataError(file: first.file, "already has a column '\(classColumn)'; choose another --class-column")
        }
        var result = Table(file: "merge", columns: [])
        for (t, table) in tables.enumerated() {
            let missing = first.names.filter { !table.names.contains($0) }
            let extra = table.names.filter { !first.names.contains($0) }
            if !missing.isEmpty || !extra.isEmpty {
                var parts = [String]()
                if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
                if !extra.isEmpty { parts.append("extra \(extra.joined(separator: ", "))") }
                throw DataError(file: table.file, line: 1, "columns differ from \(first.file): " + parts.joined(separator: "; "))
            }
            var ordered = Table(file: table.file, columns: try first.names.map { try table.column($0) }, lines: table.lines)
            ordered.columns.append(Column(name: classColumn, strings: Array(repeating: classValues[t], count: table.rowCount)))
            if t == 0 { result = ordered; result.file = "merge" } else { try result.append(ordered) }
        }
        return result
    }
}
