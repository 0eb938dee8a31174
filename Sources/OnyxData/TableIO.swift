// Reading and writing tables by file extension: .csv (.tsv with tabs), .jsonl / .ndjson, .npy. Outputs go to a
// temporary file in the destination directory that is renamed over the destination: never half-written.
import Dispatch
import Foundation
import OnyxTensor

public enum TableFormat: String, Sendable {
    case csv, jsonl, npy

    public static func of(_ path: String) -> TableFormat {
        switch (path as NSString).pathExtension.lowercased() {
        case "jsonl", "ndjson": return .jsonl
        case "npy": return .npy
        default: return .csv
        }
    }
}

public enum DataIO {
    /// Reads a table in the format given by the file extension.
    public static func read(_ path: String, options: CSVOptions = CSVOptions(),
                            progress: ((Int, Int) -> Void)? = nil) throws -> Table {
        var options = options
        if (path as NSString).pathExtension.lowercased() == "tsv" && options.delimiter == UInt8(ascii: ",") {
            options.delimiter = UInt8(ascii: "\t")
        }
        switch TableFormat.of(path) {
        case .csv: return try TableReader.readCSV(path, options: options, progress: progress)
        case .jsonl: return try JSONLines.read(path, options: options)
        case .npy: return try readNPY(path)
        }
    }

    /// A 1-D or 2-D numeric .npy array as a table with columns "0", "1", ….
    public static func readNPY(_ path: String) throws -> Table {
        let tensor: Tensor
        do { tensor = try NPY.read(URL(fileURLWithPath: path)) } catch { throw DataError(file: path, "\(error)") }
        guard tensor.dtype != .string else { throw DataError(file: path, "string arrays are not supported") }
        guard tensor.rank == 1 || tensor.rank == 2 else {
            throw DataError(file: path, "expected a 1-D or 2-D array, got shape \(tensor.shape)")
        }
        let rows = tensor.shape[0], cols = tensor.rank == 2 ? tensor.shape[1] : 1
        var columns = [Column]()
        for c in 0..<cols {
            var v = [Double](repeating: 0, count: rows)
            for r in 0..<rows { v[r] = tensor.doubleValue(at: r * cols + c) }
            columns.append(Column(name: String(c), numeric: v))
        }
        return Table(file: path, columns: columns)
    }

    /// Writes `table` atomically in the format given by the extension of `path`.
    public static func write(_ table: Table, to path: String, delimiter: UInt8 = UInt8(ascii: ","),
                             progress: ((Int, Int) -> Void)? = nil) throws {
        switch TableFormat.of(path) {
        case .csv:
            let d = (path as NSString).pathExtension.lowercased() == "tsv" ? UInt8(ascii: "\t") : delimiter
            try AtomicFile.write(path) { out in
                try out.write(CSVFormatter.header(table.names, delimiter: d))
                try CSVFormatter.writeRows(table, delimiter: d, to: out, progress: progress)
            }
        case .jsonl:
            try AtomicFile.write(path) { out in try out.write(JSONLines.encode(table)) }
        case .npy:
            var values = [Double](repeating: 0, count: table.rowCount * table.columns.count)
            let cols = table.columns.count
            for (c, column) in table.columns.enumerated() {
                guard let v = column.doubles else {
                    throw DataError(file: path, "column '\(column.name)' is not numeric; .npy output needs numbers only")
                }
                for r in v.indices { values[r * cols + c] = v[r] }
            }
            let t = Tensor(shape: [table.rowCount, cols], checkedValues: values)
            try AtomicFile.write(path) { out in try out.write(NPY.encode(t)) }
        }
    }
}

/// Buffered output to a temporary file that replaces the destination only when everything was written.
public final class AtomicFile {
    let handle: FileHandle
    var pending: [UInt8] = []

    init(handle: FileHandle) { self.handle = handle }

    public func write(_ bytes: [UInt8]) throws {
        pending.append(contentsOf: bytes)
        if pending.count >= 4 << 20 { try flush() }
    }
    public func write(_ data: Data) throws { try flush(); try handle.write(contentsOf: data) }
    public func write(_ text: String) throws { try write(Array(text.utf8)) }
    func flush() throws {
        if !pending.isEmpty { try handle.write(contentsOf: pending); pending.removeAll(keepingCapacity: true) }
    }

    public static func write(_ path: String, _ body: (AtomicFile) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        guard FileManager.default.createFile(atPath: tmp, contents: nil), let h = FileHandle(forWritingAtPath: tmp) else {
            throw DataError(file: path, "cannot create a file in \(dir)")
        }
        let file = AtomicFile(handle: h)
        do {
            try body(file)
            try file.flush()
            try h.close()
        } catch {
            try? h.close()
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
        if rename(tmp, path) != 0 {
            try? FileManager.default.removeItem(atPath: tmp)
            throw DataError(file: path, "cannot rename the temporary output into place")
        }
    }
}

private struct ByteSlots: @unchecked Sendable {
    // Each concurrentPerform iteration writes only its own slot: disjoint, hence safe.
    let pointer: UnsafeMutablePointer<[UInt8]>
}

enum CSVFormatter {
    static func needsQuotes(_ s: String, _ d: UInt8) -> Bool {
        s.utf8.contains { $0 == d || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
    }

    static func appendField(_ s: String, _ d: UInt8, _ out: inout [UInt8]) {
        if needsQuotes(s, d) {
            out.append(0x22)
            for b in s.utf8 { if b == 0x22 { out.append(0x22) }; out.append(b) }
            out.append(0x22)
        } else {
            out.append(contentsOf: s.utf8)
        }
    }

    static func header(_ names: [String], delimiter d: UInt8) -> [UInt8] {
        var out = [UInt8]()
        for (i, n) in names.enumerated() { if i > 0 { out.append(d) }; appendField(n, d, &out) }
        out.append(0x0A)
        return out
    }

    static func formatRows(_ table: Table, _ rows: Range<Int>, _ d: UInt8) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(rows.count * table.columns.count * 12)
        for r in rows {
            for (c, column) in table.columns.enumerated() {
                if c > 0 { out.append(d) }
                switch column.data {
                case .numeric(let v):
                    let x = v[r]
                    if x.isNaN { continue }
                    var s = x.description
                    s.withUTF8 { out.append(contentsOf: $0) }
                case .strings(let v):
                    appendField(v[r], d, &out)
                }
            }
            out.append(0x0A)
        }
        return out
    }

    /// Formats rows in blocks, each block on two threads, and writes them in order.
    static func writeRows(_ table: Table, delimiter d: UInt8, to out: AtomicFile,
                          progress: ((Int, Int) -> Void)?) throws {
        let n = table.rowCount
        let threads = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
        let block = 65_536 * threads
        var r = 0
        while r < n {
            let end = min(n, r + block)
            let per = (end - r + threads - 1) / threads
            let slots = UnsafeMutablePointer<[UInt8]>.allocate(capacity: threads)
            slots.initialize(repeating: [], count: threads)
            let slot = ByteSlots(pointer: slots)
            let lo = r
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let a = min(end, lo + t * per), b = min(end, a + per)
                if a < b { slot.pointer[t] = formatRows(table, a..<b, d) }
            }
            for t in 0..<threads { try out.write(slots[t]) }
            slots.deinitialize(count: threads)
            slots.deallocate()
            r = end
            progress?(r, n)
        }
    }
}

extension DataIO {
    /// Writes batches of rows to one CSV file atomically; the header comes from the first batch.
    public static func streamCSV(to path: String, delimiter: UInt8 = UInt8(ascii: ","),
                                 _ body: (_ emit: (Table) throws -> Void) throws -> Void) throws {
        try AtomicFile.write(path) { out in
            var header: [String]? = nil
            try body { batch in
                if header == nil {
                    header = batch.names
                    try out.write(CSVFormatter.header(batch.names, delimiter: delimiter))
                } else if header != batch.names {
                    throw DataError(file: path, "the columns changed between batches")
                }
                try CSVFormatter.writeRows(batch, delimiter: delimiter, to: out, progress: nil)
            }
            if header == nil { throw DataError(file: path, "no rows to write") }
        }
    }
}
