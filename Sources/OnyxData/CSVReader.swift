// A small RFC 4180 CSV reader: a header row, comma separators, quoted fields ("" for a quote inside quotes)
// Moved from OnyxMetrics; used by `onyx metrics` (small files, whole-file parse). The streaming byte-level
// reader for `onyx data` is CSVScanner.swift.
import Foundation

/// A CSV reading error with its file and line (1-based, the physical line where the problem is).
public struct CSVError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    public let line: Int
    public let message: String
    public init(file: String, line: Int, message: String) { self.file = file; self.line = line; self.message = message }
    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

/// A parsed CSV table: header names and rows of string fields, each row with the line it starts on.
public struct CSVTable: Sendable {
    public let file: String
    public let header: [String]
    public let rows: [[String]]
    /// `lines[i]` is the 1-based line on which `rows[i]` starts.
    public let lines: [Int]

    /// Index of the column named `name`, or a `CSVError` naming the available columns.
    public func column(named name: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else {
            throw CSVError(file: file, line: 1, message: "no column '\(name)' (columns: \(header.joined(separator: ", ")))")
        }
        return i
    }

    /// All values of the column named `name`.
    public func values(_ name: String) throws -> [String] {
        let i = try column(named: name)
        return rows.map { i < $0.count ? $0[i] : "" }
    }

    /// All values of the column named `name` parsed as finite numbers; an error names the line and column.
    public func doubles(_ name: String) throws -> [Double] {
        let i = try column(named: name)
        var out = [Double]()
        out.reserveCapacity(rows.count)
        for (r, row) in rows.enumerated() {
            let text = (i < row.count ? row[i] : "").trimmingCharacters(in: .whitespaces)
            guard let v = Double(text), v.isFinite else {
                throw CSVError(file: file, line: lines[r], message: "column '\(name)': '\(text)' is not a finite number")
            }
            out.append(v)
        }
        return out
    }
}

public enum CSVReader {
    /// Reads and parses the CSV file at `path`.
    public static func read(path: String) throws -> CSVTable {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CSVError(file: path, line: 0, message: "cannot read file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CSVError(file: path, line: 0, message: "not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    /// Parses CSV `text`; the first record is the header. Every record must have as many fields as the header;
    /// blank lines are skipped. `file` names the source in errors.
    public static func parse(_ text: String, file: String = "<csv>") throws -> CSVTable {
        var records = [[String]]()
        var starts = [Int]()
        var field = ""
        var record = [String]()
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var afterQuote = false  // just closed a quoted field: only a separator or line end may follow
        var fieldStarted = false
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil

        func endRecord() {
            record.append(field)
            // A record holding one empty field is a blank line.
            if !(record.count == 1 && record[0].isEmpty && !fieldStarted) {
                records.append(record)
                starts.append(recordLine)
            }
            record = []; field = ""; afterQuote = false; fieldStarted = false
        }

        if let first = scalars.next(), first != "\u{FEFF}" { pending = first }  // skip a byte-order mark
        while let c = pending ?? scalars.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let n = scalars.next() {
                        if n == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; afterQuote = true; pending = n }
                    } else { inQuotes = false; afterQuote = true }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case ",":
                record.append(field); field = ""; afterQuote = false; fieldStarted = true
            case "\r":
                if let n = scalars.next(), n != "\n" { pending = n }
                endRecord(); line += 1; recordLine = line
            case "\n":
                endRecord(); line += 1; recordLine = line
            case "\"" where field.isEmpty && !afterQuote:
                inQuotes = true; fieldStarted = true
            default:
                if afterQuote {
                    throw CSVError(file: file, line: line, message: "unexpected character after a closing quote")
                }
                field.unicodeScalars.append(c); fieldStarted = true
            }
        }
        if inQuotes { throw CSVError(file: file, line: recordLine, message: "unterminated quoted field") }
        if !field.isEmpty || !record.isEmpty || fieldStarted { endRecord() }

        guard let header = records.first else { throw CSVError(file: file, line: 0, message: "empty file (no header)") }
        let body = Array(records.dropFirst())
        for (i, r) in body.enumerated() where r.count != header.count {
            throw CSVError(file: file, line: starts[i + 1], message: "row has \(r.count) fields, header has \(header.count)")
        }
        return CSVTable(file: file, header: header.map { $0.trimmingCharacters(in: .whitespaces) }, rows: body,
                        lines: Array(starts.dropFirst()))
    }
}
