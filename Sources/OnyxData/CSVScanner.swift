// The streaming CSV reader behind `onyx data`: RFC 4180 (quoted fields with "" escapes, embedded delimiters and
// line breaks, CRLF or LF), a custom delimiter, UTF-8. The file is read in large chunks cut at record boundaries,
// so memory stays bounded by the chunk size whatever the file size; each chunk is split in two at a record
// boundary and parsed on two threads. Numbers are parsed from the bytes (FastFloat), never through String.
import Dispatch
import Foundation

public struct CSVOptions: Sendable {
    public var delimiter: UInt8 = UInt8(ascii: ",")
    public var missing = MissingTokens()
    /// Column kinds given by the user; other columns are inferred from the first `inferRows` records.
    public var types: [String: ColumnKind] = [:]
    public var inferRows = 1000
    public var chunkBytes = 16 << 20
    public var threads = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
    public init() {}
}

/// One field of a record: a byte range in the chunk; `escaped` when it was quoted and contains "" pairs.
struct FieldRef {
    var start: Int
    var end: Int
    var escaped: Bool
}

/// The outcome of parsing part of a chunk.
struct PartResult {
    var numeric: [[Double]]
    var strings: [[String]]
    var lines: [Int32]          // line of each row, relative to the part's first line (0-based)
    var lineCount = 0           // lines consumed by the part
    var error: (line: Int, column: Int, message: String)? = nil
    var demote: Int? = nil      // an inferred-numeric column met a non-number: re-read it as strings
}

private struct PartSlot: @unchecked Sendable {
    // Each concurrentPerform iteration writes only its own index of this buffer: disjoint, hence safe.
    let pointer: UnsafeMutablePointer<PartResult?>
}

/// Record splitting shared by the header, the type sample and the chunk parser.
enum RecordParser {
    /// Parses one record starting at `pos` (< end) of `b`; fills `fields`, returns the position after the record
    /// and the number of line breaks it consumed, or an error message with the 1-based field number.
    @inline(__always)
    static func record(_ b: UnsafeBufferPointer<UInt8>, _ pos: inout Int, _ end: Int, delimiter: UInt8,
                       fields: inout [FieldRef], lines: inout Int) -> (column: Int, message: String)? {
        fields.removeAll(keepingCapacity: true)
        let quote = UInt8(ascii: "\""), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        while true {
            if pos < end && b[pos] == quote {
                pos += 1
                let start = pos
                var escaped = false
                var closed = false
                while pos < end {
                    let c = b[pos]
                    if c == quote {
                        if pos + 1 < end && b[pos + 1] == quote { escaped = true; pos += 2; continue }
                        closed = true
                        break
                    }
                    if c == lf { lines += 1 }
                    pos += 1
                }
                if !closed { return (fields.count + 1, "unclosed quoted field") }
                fields.append(FieldRef(start: start, end: pos, escaped: escaped))
                pos += 1
                if pos < end {
                    let c = b[pos]
                    if c != delimiter && c != lf && c != cr {
                        return (fields.count, "unexpected character after a closing quote")
                    }
                }
            } else {
                let start = pos
                while pos < end {
                    let c = b[pos]
                    if c == delimiter || c == lf || c == cr { break }
                    pos += 1
                }
                fields.append(FieldRef(start: start, end: pos, escaped: false))
            }
            if pos >= end { lines += 1; return nil }
            let c = b[pos]
            pos += 1
            if c == delimiter { continue }
            if c == cr && pos < end && b[pos] == lf { pos += 1 }
            lines += 1
            return nil
        }
    }

    static func string(_ b: UnsafeBufferPointer<UInt8>, _ f: FieldRef) -> String {
        let s = String(decoding: UnsafeBufferPointer(rebasing: b[f.start..<f.end]), as: UTF8.self)
        return f.escaped ? s.replacingOccurrences(of: "\"\"", with: "\"") : s
    }

    static func isBlank(_ fields: [FieldRef]) -> Bool { fields.count == 1 && fields[0].start == fields[0].end }
}

public final class CSVStream {
    public let path: String
    public let options: CSVOptions
    public private(set) var header: [String] = []
    /// Kind of each column: `.numeric` columns come back as doubles, the others as strings.
    public private(set) var kinds: [ColumnKind] = []
    private var overridden: [Bool] = []
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0          // first unparsed byte of `buffer`
    private var line = 1           // line number at `start`
    private var eof = false
    public private(set) var bytesRead = 0
    public let totalBytes: Int

    public init(path: String, options: CSVOptions = CSVOptions()) throws {
        self.path = path
        self.options = options
        guard let h = FileHandle(forReadingAtPath: path) else { throw DataError(file: path, "cannot open file") }
        handle = h
        totalBytes = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
        try fill(minimum: 1)
        if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        try readHeaderAndInfer()
    }

    deinit { try? handle.close() }

    /// Reads more bytes until the buffer holds at least one complete record past `start` (or the file ends).
    private func fill(minimum: Int) throws {
        if start > 0 { buffer.removeFirst(start); start = 0 }
        while !eof && buffer.count < minimum {
            let data = try handle.read(upToCount: options.chunkBytes) ?? Data()
            if data.isEmpty { eof = true; break }
            bytesRead += data.count
            buffer.append(contentsOf: data)
        }
    }

    /// End of the last complete record in `buffer[start...]` and a record boundary near its middle.
    private func boundaries() -> (cut: Int, mid: Int) {
        let quote = UInt8(ascii: "\""), lf = UInt8(ascii: "\n")
        return buffer.withUnsafeBufferPointer { b -> (Int, Int) in
            let hasQuote = b[start...].contains(quote)
            if !hasQuote {
                if eof { return (b.count, nextLineStart(b, after: (start + b.count) / 2, limit: b.count)) }
                guard let last = b[start...].lastIndex(of: lf) else { return (start, start) }
                let cut = last + 1
                return (cut, nextLineStart(b, after: (start + cut) / 2, limit: cut))
            }
            var inQuotes = false
            var lastBreak = start
            var mid = -1
            let half = (start + b.count) / 2
            for i in start..<b.count {
                let c = b[i]
                if c == quote { inQuotes.toggle() } else if c == lf && !inQuotes {
                    lastBreak = i + 1
                    if mid < 0 && i >= half { mid = i + 1 }
                }
            }
            if eof { return (b.count, mid < 0 ? b.count : mid) }
            return (lastBreak, mid < 0 || mid > lastBreak ? lastBreak : mid)
        }
    }

    private func nextLineStart(_ b: UnsafeBufferPointer<UInt8>, after i: Int, limit: Int) -> Int {
        var k = max(i, start)
        while k < limit && b[k] != UInt8(ascii: "\n") { k += 1 }
        return min(k + 1, limit)
    }

    /// Reads records until a complete one is buffered; returns the range to parse, empty at the end of the file.
    private func nextRange() throws -> (cut: Int, mid: Int) {
        while true {
            let (cut, mid) = boundaries()
            if cut > start || eof { return (cut, mid) }
            try fill(minimum: buffer.count - start + options.chunkBytes)
        }
    }

    private func readHeaderAndInfer() throws {
        let (cut, _) = try nextRange()
        var fields = [FieldRef]()
        var records = [[String]]()
        var recordLines = [Int]()
        var pos = start
        var lines = 0
        try buffer.withUnsafeBufferPointer { b in
            while pos < cut && records.count <= options.inferRows {
                let first = line + lines
                if let e = RecordParser.record(b, &pos, cut, delimiter: options.delimiter, fields: &fields, lines: &lines) {
                    throw DataError(file: path, line: first, column: e.column, e.message)
                }
                if RecordParser.isBlank(fields) { continue }
                records.append(fields.map { RecordParser.string(b, $0) })
                recordLines.append(first)
                if records.count == 1 { start = pos; line += lines; lines = 0 }  // the header is consumed
            }
        }
        guard let head = records.first else { throw DataError(file: path, "empty file (no header)") }
        header = head.map { $0.trimmingCharacters(in: .whitespaces) }
        var seen = Set<String>()
        for (i, name) in header.enumerated() where !seen.insert(name).inserted {
            throw DataError(file: path, line: recordLines[0], column: i + 1, "duplicate column name '\(name)'")
        }
        for name in options.types.keys where !seen.contains(name) {
            throw DataError(file: path, line: recordLines[0], "unknown column '\(name)' (columns: \(header.joined(separator: ", ")))")
        }
        let sample = records.dropFirst()
        kinds = []
        overridden = []
        for (c, name) in header.enumerated() {
            if let k = options.types[name] { kinds.append(k); overridden.append(true); continue }
            overridden.append(false)
            let numeric = sample.allSatisfy { r in
                c >= r.count || options.missing.isMissing(r[c]) || FastFloat.parse(r[c]) != nil
            }
            if numeric { kinds.append(.numeric); continue }
            let values = sample.map { c < $0.count ? $0[c] : "" }
            let long = values.contains { $0.count > 64 }
            kinds.append(long || Set(values).count > max(20, values.count / 2) ? .text : .categorical)
        }
    }

    /// The next batch of rows (about one chunk), or nil at the end of the file.
    public func next() throws -> Table? {
        let (cut, mid) = try nextRange()
        if cut <= start { return nil }
        var splits = [start, cut]
        if options.threads > 1 && mid > start && mid < cut && cut - start > (1 << 20) { splits = [start, mid, cut] }
        var results: [PartResult]
        while true {
            results = parseParts(splits)
            if let c = results.compactMap(\.demote).first { kinds[c] = .categorical; continue }
            break
        }
        var lineBase = line
        var table = Table(file: path, columns: [])
        var numeric = [[Double]](repeating: [], count: header.count)
        var strings = [[String]](repeating: [], count: header.count)
        var lines = [Int32]()
        for r in results {
            if let e = r.error {
                throw DataError(file: path, line: lineBase + e.line, column: e.column, e.message)
            }
            for c in header.indices {
                if kinds[c] == .numeric {
                    if numeric[c].isEmpty { numeric[c] = r.numeric[c] } else { numeric[c].append(contentsOf: r.numeric[c]) }
                } else {
                    strings[c].append(contentsOf: r.strings[c])
                }
            }
            lines.append(contentsOf: r.lines.map { $0 + Int32(truncatingIfNeeded: lineBase) })
            lineBase += r.lineCount
        }
        line = lineBase
        start = cut
        for c in header.indices {
            table.columns.append(kinds[c] == .numeric
                ? Column(name: header[c], numeric: numeric[c])
                : Column(name: header[c], kind: kinds[c], data: .strings(strings[c])))
        }
        table.lines = lines
        return table
    }

    private func parseParts(_ splits: [Int]) -> [PartResult] {
        let parts = splits.count - 1
        let slots = UnsafeMutablePointer<PartResult?>.allocate(capacity: parts)
        slots.initialize(repeating: nil, count: parts)
        defer { slots.deinitialize(count: parts); slots.deallocate() }
        let slot = PartSlot(pointer: slots)
        let buffer = self.buffer, kinds = self.kinds, overridden = self.overridden, options = self.options
        let header = self.header
        let work: @Sendable (Int) -> Void = { p in
            buffer.withUnsafeBufferPointer { b in
                slot.pointer[p] = CSVStream.parsePart(b, splits[p], splits[p + 1], header: header, kinds: kinds,
                                                      overridden: overridden, options: options)
            }
        }
        if parts == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: work) }
        return (0..<parts).compactMap { slots[$0] }
    }

    static func parsePart(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int, header: [String],
                          kinds: [ColumnKind], overridden: [Bool], options: CSVOptions) -> PartResult {
        let n = header.count
        let estimate = max(16, (to - from) / max(1, n * 8))
        var result = PartResult(numeric: kinds.map { $0 == .numeric ? { var a = [Double](); a.reserveCapacity(estimate); return a }() : [] },
                                strings: [[String]](repeating: [], count: n), lines: [])
        var fields = [FieldRef]()
        fields.reserveCapacity(n)
        var pos = from
        var lines = 0
        let base = b.baseAddress
        guard let base else { return result }
        while pos < to {
            let first = lines
            if let e = RecordParser.record(b, &pos, to, delimiter: options.delimiter, fields: &fields, lines: &lines) {
                result.error = (first, e.column, e.message)
                return result
            }
            if RecordParser.isBlank(fields) { continue }
            if fields.count != n {
                result.error = (first, fields.count < n ? fields.count + 1 : n + 1, "row has \(fields.count) fields, header has \(n)")
                return result
            }
            result.lines.append(Int32(truncatingIfNeeded: first))
            for c in 0..<n {
                let f = fields[c]
                if kinds[c] == .numeric {
                    if f.end == f.start { result.numeric[c].append(.nan); continue }
                    if !f.escaped, let v = FastFloat.parse(base + f.start, f.end - f.start) {
                        result.numeric[c].append(v); continue
                    }
                    let s = RecordParser.string(b, f)
                    if options.missing.isMissing(s) { result.numeric[c].append(.nan); continue }
                    if let v = FastFloat.parse(s) { result.numeric[c].append(v); continue }
                    if !overridden[c] { result.demote = c; return result }
                    result.error = (first, c + 1, "column '\(header[c])': '\(s)' is not a number")
                    return result
                } else {
                    result.strings[c].append(RecordParser.string(b, f))
                }
            }
        }
        result.lineCount = lines
        return result
    }
}

public enum TableReader {
    /// Reads a whole CSV file into a table. `progress(done, total)` is called with bytes read.
    public static func readCSV(_ path: String, options: CSVOptions = CSVOptions(),
                               progress: ((Int, Int) -> Void)? = nil) throws -> Table {
        let stream = try CSVStream(path: path, options: options)
        var table = Table(file: path, columns: zip(stream.header, stream.kinds).map { name, kind in
            kind == .numeric ? Column(name: name, numeric: []) : Column(name: name, kind: kind, data: .strings([]))
        })
        while let batch = try stream.next() {
            try table.append(batch)
            progress?(stream.bytesRead, stream.totalBytes)
        }
        for c in table.columns.indices where stream.kinds[c] != .numeric && options.types[table.columns[c].name] == nil {
            table.columns[c].kind = stream.kinds[c]
        }
        return table
    }
}
