// Evaluation data: a numeric feature matrix and a label column read from a CSV file.
// This file is the only place OnyxEval touches the CSV reader.
import Foundation
import OnyxMetrics

/// An error in evaluation input (data, model outputs, options), with a message meant for the user.
public struct EvalError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Rows of float features plus the raw text of the label column.
public struct EvalData: Sendable {
    /// Where the data came from (file path).
    public let source: String
    public let featureNames: [String]
    public let labelName: String
    /// Row-major `rows × featureNames.count` features (parsed as Double, then rounded to Float like numpy's
    /// `astype(np.float32)`).
    public let features: [Float]
    /// The label column's text, one entry per row (whitespace-trimmed).
    public let rawLabels: [String]
    public var rows: Int { rawLabels.count }
    public var width: Int { featureNames.count }

    public init(source: String, featureNames: [String], labelName: String, features: [Float], rawLabels: [String]) throws {
        guard features.count == rawLabels.count * featureNames.count else {
            throw EvalError("features hold \(features.count) values, expected \(rawLabels.count) rows × \(featureNames.count) columns")
        }
        self.source = source; self.featureNames = featureNames; self.labelName = labelName
        self.features = features; self.rawLabels = rawLabels
    }

    /// Reads a CSV file with a header row. Features are the columns in `features`, or every column except
    /// `label`. Every feature value must be a finite number; errors name the line and the column.
    public static func csv(path: String, label: String, features: [String]? = nil) throws -> EvalData {
        guard let data = FileManager.default.contents(atPath: path) else { throw EvalError("\(path): cannot read file") }
        // Fast path for plain numeric CSV (no quotes): a byte scanner with strtod. Anything else goes through the
        // RFC 4180 reader.
        if !data.contains(UInt8(ascii: "\"")) {
            return try fastCSV(data, path: path, label: label, features: features)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw EvalError("\(path): not UTF-8 text") }
        let table = try CSVReader.parse(text, file: path)
        let (labelIndex, featureIndex) = try columns(table.header, path: path, label: label, features: features)
        var out = [Float]()
        out.reserveCapacity(table.rows.count * featureIndex.count)
        for (r, row) in table.rows.enumerated() {
            for j in featureIndex {
                let text = (j < row.count ? row[j] : "").trimmingCharacters(in: .whitespaces)
                guard let v = Double(text), v.isFinite else {
                    throw EvalError("\(path):\(table.lines[r]): column '\(table.header[j])': '\(text)' is not a finite number")
                }
                out.append(Float(v))
            }
        }
        let labels = table.rows.map { (labelIndex < $0.count ? $0[labelIndex] : "").trimmingCharacters(in: .whitespaces) }
        if labels.isEmpty { throw EvalError("\(path): no data rows") }
        return try EvalData(source: path, featureNames: featureIndex.map { table.header[$0] }, labelName: label,
                            features: out, rawLabels: labels)
    }

    static func columns(_ header: [String], path: String, label: String, features: [String]?) throws -> (Int, [Int]) {
        guard let labelIndex = header.firstIndex(of: label) else {
            throw EvalError("\(path): no label column '\(label)' (columns: \(header.joined(separator: ", "))); choose one with --label")
        }
        let featureIndex: [Int]
        if let features {
            featureIndex = try features.map { f in
                guard let i = header.firstIndex(of: f) else {
                    throw EvalError("\(path): no feature column '\(f)' (columns: \(header.joined(separator: ", ")))")
                }
                if i == labelIndex { throw EvalError("the label column '\(label)' cannot also be a feature") }
                return i
            }
        } else {
            featureIndex = header.indices.filter { $0 != labelIndex }
        }
        if featureIndex.isEmpty { throw EvalError("\(path): no feature columns") }
        return (labelIndex, featureIndex)
    }

    /// Splits `data` into lines and comma-separated fields without quote handling; parses features with strtod.
    static func fastCSV(_ data: Data, path: String, label: String, features: [String]?) throws -> EvalData {
        var bytes = [UInt8](data)
        bytes.append(0)  // strtod stops at the terminator
        return try bytes.withUnsafeMutableBufferPointer { buf -> EvalData in
            guard let base = buf.baseAddress else { throw EvalError("\(path): empty file (no header)") }
            let n = buf.count - 1
            var pos = 0
            if n >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF { pos = 3 }  // byte-order mark
            // Line ranges, skipping blank lines.
            var lineStarts = [(start: Int, end: Int, line: Int)]()
            var lineNo = 1
            var s = pos
            while s < n {
                var e = s
                while e < n && base[e] != 0x0A { e += 1 }
                var end = e
                if end > s && base[end - 1] == 0x0D { end -= 1 }
                if end > s { lineStarts.append((s, end, lineNo)) }
                lineNo += 1
                s = e + 1
            }
            guard let headerLine = lineStarts.first else { throw EvalError("\(path): empty file (no header)") }
            let headerText = String(decoding: UnsafeBufferPointer(start: base + headerLine.start, count: headerLine.end - headerLine.start), as: UTF8.self)
            let header = headerText.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let (labelIndex, featureIndex) = try columns(header, path: path, label: label, features: features)
            // Feature slot for each column (-1: not a feature).
            var slot = [Int](repeating: -1, count: header.count)
            for (k, j) in featureIndex.enumerated() { slot[j] = k }
            let width = featureIndex.count
            let rowCount = lineStarts.count - 1
            if rowCount == 0 { throw EvalError("\(path): no data rows") }
            var out = [Float](repeating: 0, count: rowCount * width)
            var labels = [String]()
            labels.reserveCapacity(rowCount)
            try out.withUnsafeMutableBufferPointer { dst in
                for r in 0..<rowCount {
                    let (start, end, line) = lineStarts[r + 1]
                    var col = 0
                    var f = start
                    while true {
                        var g = f
                        while g < end && base[g] != 0x2C { g += 1 }
                        if col >= header.count {
                            throw EvalError("\(path):\(line): row has more fields than the header (\(header.count))")
                        }
                        if col == labelIndex {
                            let t = String(decoding: UnsafeBufferPointer(start: base + f, count: g - f), as: UTF8.self)
                            labels.append(t.trimmingCharacters(in: .whitespaces))
                        } else if slot[col] >= 0 {
                            // Parse in place: temporarily terminate the field.
                            let saved = base[g]
                            base[g] = 0
                            var a = f
                            while a < g && (base[a] == 0x20 || base[a] == 0x09) { a += 1 }
                            var endPtr: UnsafeMutablePointer<CChar>? = nil
                            let start = UnsafeMutableRawPointer(base + a).assumingMemoryBound(to: CChar.self)
                            let v = strtod(start, &endPtr)
                            var consumed = endPtr.map { UnsafeMutableRawPointer($0) - UnsafeMutableRawPointer(base) } ?? a
                            while consumed < g && (base[consumed] == 0x20 || base[consumed] == 0x09) { consumed += 1 }
                            base[g] = saved
                            if a == g || consumed != g || !v.isFinite {
                                let t = String(decoding: UnsafeBufferPointer(start: base + f, count: g - f), as: UTF8.self)
                                throw EvalError("\(path):\(line): column '\(header[col])': '\(t.trimmingCharacters(in: .whitespaces))' is not a finite number")
                            }
                            dst[r * width + slot[col]] = Float(v)
                        }
                        col += 1
                        if g >= end { break }
                        f = g + 1
                    }
                    if col != header.count {
                        throw EvalError("\(path):\(line): row has \(col) fields, header has \(header.count)")
                    }
                }
            }
            return try EvalData(source: path, featureNames: featureIndex.map { header[$0] }, labelName: label,
                                features: out, rawLabels: labels)
        }
    }
}
