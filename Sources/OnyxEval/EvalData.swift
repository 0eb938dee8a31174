// Evaluation data: a numeric feature matrix and a label column read from a CSV file.
// This file is the only place OnyxEval touches the CSV reader.
import Foundation
import OnyxMetrics
import OnyxData
import OnyxKernels

/// An error in evaluation input (data, model outputs, options), with a message meant for the user.
public struct EvalError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Image files read through an image transform when their batch runs (OnyxData's ImageTransform).
public struct ImageSource: Sendable {
    public let files: [String]
    public let transform: ImageTransform
}

/// Rows of float features (or image files) plus the raw text of the label column.
public struct EvalData: Sendable {
    /// Where the data came from (file or folder path).
    public let source: String
    /// CSV: the feature columns (empty for images).
    public let featureNames: [String]
    public let labelName: String
    /// Row-major `rows × width` features (parsed as Double, then rounded to Float like numpy's
    /// `astype(np.float32)`); empty when `images` is set.
    public let features: [Float]
    /// Image folder: the files, decoded and transformed batch by batch while the model runs.
    public let images: ImageSource?
    /// The label column's text, one entry per row (whitespace-trimmed); image folders: the class folder name.
    public var rawLabels: [String] { rawLabelText ?? labels.map(\.description) }
    /// The label text when it is not simply each label's description (nil: `labels.map(\.description)`, made
    /// only when asked for — .npy integer labels need no strings).
    let rawLabelText: [String]?
    /// The labels as `parseLabels` reads them (all integers → `.int`, else `.string`); image folders: `.string`.
    public let labels: [Label]
    /// Shape of one row as fed to the model: [features] for CSV, e.g. [3, H, W] for images.
    public let sampleShape: [Int]
    /// Image folders: the classes (folder names in torchvision ImageFolder order); score column k is class k.
    public let classNames: [String]?
    public var rows: Int { labels.count }
    /// Values per row.
    public let width: Int

    public init(source: String, featureNames: [String], labelName: String, features: [Float], rawLabels: [String]) throws {
        guard features.count == rawLabels.count * featureNames.count else {
            throw EvalError("features hold \(features.count) values, expected \(rawLabels.count) rows × \(featureNames.count) columns")
        }
        self.source = source; self.featureNames = featureNames; self.labelName = labelName
        self.features = features; rawLabelText = rawLabels
        labels = parseLabels(rawLabels)[0]
        images = nil; sampleShape = [featureNames.count]; classNames = nil; width = featureNames.count
    }

    /// CSV fast path and .npy files: labels already parsed; `sampleShape` (default [features]) is one row's shape.
    init(source: String, featureNames: [String], labelName: String, features: [Float], rawLabels: [String]?, labels: [Label],
         sampleShape: [Int]? = nil) {
        self.source = source; self.featureNames = featureNames; self.labelName = labelName
        self.features = features; rawLabelText = rawLabels; self.labels = labels
        images = nil; classNames = nil
        self.sampleShape = sampleShape ?? [featureNames.count]
        width = self.sampleShape.reduce(1, *)
    }

    /// An image folder `DIR/<class>/…/*.png|jpg|…` (torchvision ImageFolder layout and class order), each image
    /// preprocessed by `transform` when its batch runs.
    public static func imageFolder(path: String, transform: ImageTransform) throws -> EvalData {
        try EvalData(folder: try ImageFolder(path), transform: transform)
    }

    init(folder: ImageFolder, transform: ImageTransform) throws {
        try transform.validate()
        source = folder.root; featureNames = []; labelName = "folder"; features = []
        images = ImageSource(files: folder.files.map(\.path), transform: transform)
        let names = folder.files.map { folder.classes[$0.classIndex] }
        rawLabelText = names
        labels = names.map { .string($0) }
        sampleShape = transform.sampleShape; classNames = folder.classes
        width = sampleShape.reduce(1, *)
    }

    /// A short description of a row: "64 features" or "images 3×224×224".
    public var rowDescription: String {
        images == nil ? "\(width) features" : "images " + sampleShape.map(String.init).joined(separator: "×")
    }

    /// Reads a CSV file with a header row. Features are the columns in `features`, or every column except
    /// `label`. Every feature value must be a finite number; errors name the line and the column.
    public static func csv(path: String, label: String, features: [String]? = nil) throws -> EvalData {
        // The file's bytes and a NUL terminator for strtod: mapped (no copy), or read when mapping does not fit.
        let file = try TerminatedFile(path)
        let all = file.buffer
        let n = all.count - 1
        // Fast path for plain numeric CSV (no quotes): a byte scanner with strtod. Anything else goes through the
        // RFC 4180 reader.
        let hasQuote = all.baseAddress.map { memchr($0, 0x22, n) != nil } ?? false
        if !hasQuote {
            return try withExtendedLifetime(file) { try fastCSV(all, path: path, label: label, features: features) }
        }
        guard let text = withExtendedLifetime(file, { String(validating: UnsafeBufferPointer(rebasing: all[0..<n]), as: UTF8.self) }) else {
            throw EvalError("\(path): not UTF-8 text")
        }
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
        let listed = header.count <= 12 ? header.joined(separator: ", ")
            : header.prefix(10).joined(separator: ", ") + ", …, " + (header.last ?? "") + "; \(header.count) columns"
        guard let labelIndex = header.firstIndex(of: label) else {
            throw EvalError("\(path): no label column '\(label)' (columns: \(listed)); choose one with --label")
        }
        let featureIndex: [Int]
        if let features {
            featureIndex = try features.map { f in
                guard let i = header.firstIndex(of: f) else {
                    throw EvalError("\(path): no feature column '\(f)' (columns: \(listed))")
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

    /// Splits `data` into lines and comma-separated fields without quote handling; parses features with a
    /// correctly rounded decimal fast path (strtod otherwise), rows split across the cores.
    /// `bytes`: the file followed by one 0 byte (`TerminatedFile`); the parser may write inside it.
    static func fastCSV(_ bytes: UnsafeMutableBufferPointer<UInt8>, path: String, label: String, features: [String]?) throws -> EvalData {
        let n = bytes.count - 1
        // Line ranges, skipping blank lines.
        var ranges = [LineRange]()
        var pos = 0
        if let base = bytes.baseAddress {
            if n >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF { pos = 3 }  // byte-order mark
            var lineNo = 1
            var s = pos
            while s < n {
                let e = memchr(base + s, 0x0A, n - s).map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? n
                var end = e
                if end > s && base[end - 1] == 0x0D { end -= 1 }
                if end > s { ranges.append(LineRange(start: s, end: end, line: lineNo)) }
                lineNo += 1
                s = e + 1
            }
        }
        guard let headerLine = ranges.first else { throw EvalError("\(path): empty file (no header)") }
        let header = String(decoding: UnsafeBufferPointer(rebasing: bytes[headerLine.start..<headerLine.end]), as: UTF8.self)
            .split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let (labelIndex, featureIndex) = try columns(header, path: path, label: label, features: features)
        var slot = [Int](repeating: -1, count: header.count)  // feature slot of each column (-1: not a feature)
        for (k, j) in featureIndex.enumerated() { slot[j] = k }
        let width = featureIndex.count
        let rowCount = ranges.count - 1
        if rowCount == 0 { throw EvalError("\(path): no data rows") }
        let chunks = max(1, min(ThreadPool.availableCores, rowCount / 2000))
        let results = ChunkResults(chunks)
        let parser = ChunkParser(path: path, header: header, labelIndex: labelIndex, slot: slot, width: width)
        // Not zero-filled first: a row that parses writes all `width` slots (every feature column is read, or the
        // row throws and the matrix is dropped), and the parsing threads touch the fresh pages in parallel.
        let out = [Float](unsafeUninitializedCapacity: rowCount * width) { dst, initialized in
            initialized = rowCount * width
            guard let base = bytes.baseAddress, let o = dst.baseAddress else { return }
            ranges.withUnsafeBufferPointer { rb in
                let io = ParseBuffers(bytes: base, out: o, lines: UnsafeBufferPointer(rebasing: rb[1...]))
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    let lo = rowCount * c / chunks, hi = rowCount * (c + 1) / chunks
                    results.set(c, Result { try parser.parse(io, lo..<hi) })
                }
            }
        }
        var labels = [String]()
        labels.reserveCapacity(rowCount)
        var ints: [Int]? = []
        ints?.reserveCapacity(rowCount)
        for r in results.take() {
            let chunk = try r.get()
            labels += chunk.text
            if let i = chunk.ints { ints?.append(contentsOf: i) } else { ints = nil }
        }
        let parsed = ints.map { $0.map { Label.int($0) } } ?? parseLabels(labels)[0]
        return EvalData(source: path, featureNames: featureIndex.map { header[$0] }, labelName: label,
                        features: out, rawLabels: labels, labels: parsed)
    }
}

struct LineRange: Sendable { var start: Int, end: Int, line: Int }

/// The file bytes (NUL-terminated) and the feature matrix, shared by the parsing threads.
/// `@unchecked Sendable`: each thread writes only its own rows' output slots and only the separator bytes inside
/// nothing else is written while they run.
struct ParseBuffers: @unchecked Sendable {
    let bytes: UnsafeMutablePointer<UInt8>
    let out: UnsafeMutablePointer<Float>
    /// Data rows' line ranges (read only).
    let lines: UnsafeBufferPointer<LineRange>
}

/// One chunk's labels: the text, and the integers when every label of the chunk is one.
struct ChunkLabels: Sendable {
    var text: [String]
    var ints: [Int]?
}

/// Per-chunk results. `@unchecked Sendable`: written under `lock`.
final class ChunkResults: @unchecked Sendable {
    let lock = NSLock()
    var items: [Result<ChunkLabels, Error>?]
    init(_ n: Int) { items = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ r: Result<ChunkLabels, Error>) { lock.lock(); items[i] = r; lock.unlock() }
    func take() -> [Result<ChunkLabels, Error>] {
        lock.lock(); defer { lock.unlock() }
        return items.map { $0 ?? .failure(EvalError("internal: a parsing chunk did not finish")) }
    }
}

/// Parses a range of data rows.
struct ChunkParser: Sendable {
    let path: String
    let header: [String]
    let labelIndex: Int
    let slot: [Int]
    let width: Int

    /// Exact powers of ten (10^0 ... 10^22 are representable exactly in a Double).
    static let pow10: [Double] = (0...22).map { p in (0..<p).reduce(1.0) { a, _ in a * 10 } }

    func parse(_ io: ParseBuffers, _ rows: Range<Int>) throws -> ChunkLabels {
        try slot.withUnsafeBufferPointer { slots in
            try ChunkParser.pow10.withUnsafeBufferPointer { p10 in try parse(io, rows, slots, p10) }
        }
    }

    /// One pass over the bytes of a row: plain decimal fields (optional sign, digits, optional '.' and digits,
    /// ended by ',' or the end of the line) are read as they are scanned, straight into the output row; any other
    /// field is delimited first and read by `number` (blanks, exponents, long mantissas: strtod).
    private func parse(_ io: ParseBuffers, _ rows: Range<Int>, _ slots: UnsafeBufferPointer<Int>,
                       _ p10: UnsafeBufferPointer<Double>) throws -> ChunkLabels {
        let base = io.bytes, lines = io.lines, out = io.out
        let columns = header.count
        var labels = [String]()
        labels.reserveCapacity(rows.count)
        var ints: [Int]? = []
        ints?.reserveCapacity(rows.count)
        for r in rows {
            let (start, end, line) = (lines[r].start, lines[r].end, lines[r].line)
            let row = out + r * width
            var col = 0
            var f = start
            while true {
                if col < columns && col != labelIndex {
                    // Fast path for a plain decimal feature (or skipped) field.
                    var i = f
                    var negative = false
                    if i < end && (base[i] == 0x2D || base[i] == 0x2B) { negative = base[i] == 0x2D; i += 1 }
                    var mantissa: UInt64 = 0
                    let digitsStart = i
                    while i < end, base[i] &- 0x30 < 10, i - digitsStart < 19 {
                        mantissa = mantissa &* 10 &+ UInt64(base[i] &- 0x30); i += 1
                    }
                    var digits = i - digitsStart, decimals = 0
                    if i < end && base[i] == 0x2E {
                        i += 1
                        let fracStart = i
                        while i < end, base[i] &- 0x30 < 10, digits + (i - fracStart) < 19 {
                            mantissa = mantissa &* 10 &+ UInt64(base[i] &- 0x30); i += 1
                        }
                        decimals = i - fracStart
                        digits += decimals
                    }
                    if digits > 0 && (i == end || base[i] == 0x2C) && mantissa < (1 << 53) && decimals <= 22 {
                        let slot = slots[col]
                        if slot >= 0 {
                            let v = Double(mantissa) / p10[decimals]
                            row[slot] = Float(negative ? -v : v)
                        }
                        col += 1
                        if i >= end { break }
                        f = i + 1
                        continue
                    }
                }
                var g = f
                while g < end && base[g] != 0x2C { g += 1 }
                if col >= columns {
                    throw EvalError("\(path):\(line): row has more fields than the header (\(header.count))")
                }
                if col == labelIndex {
                    var a = f, b = g
                    while a < b && (base[a] == 0x20 || base[a] == 0x09) { a += 1 }
                    while b > a && (base[b - 1] == 0x20 || base[b - 1] == 0x09) { b -= 1 }
                    labels.append(String(decoding: UnsafeBufferPointer(start: base + a, count: b - a), as: UTF8.self))
                    // parseLabels' integer reading: an integer, or an integral finite number below 9e15.
                    if ints != nil {
                        if let v = number(base, a, b), v.isFinite, v.rounded() == v, abs(v) < 9.0e15 { ints?.append(Int(v)) } else { ints = nil }
                    }
                } else if slots[col] >= 0 {
                    guard let v = number(base, f, g), v.isFinite else {
                        let t = String(decoding: UnsafeBufferPointer(start: base + f, count: g - f), as: UTF8.self)
                        throw EvalError("\(path):\(line): column '\(header[col])': '\(t.trimmingCharacters(in: .whitespaces))' is not a finite number")
                    }
                    row[slots[col]] = Float(v)
                }
                col += 1
                if g >= end { break }
                f = g + 1
            }
            if col != header.count {
                throw EvalError("\(path):\(line): row has \(col) fields, header has \(header.count)")
            }
        }
        return ChunkLabels(text: labels, ints: ints)
    }

    /// The number in bytes [f, g) (surrounding blanks allowed), or nil. Plain decimals with at most 19 digits
    /// whose digits fit in 2^53 and at most 22 decimals are converted as digits / 10^k, which is correctly rounded
    /// (both operands are exact); anything else goes to strtod.
    func number(_ base: UnsafeMutablePointer<UInt8>, _ f: Int, _ g: Int) -> Double? {
        var a = f, b = g
        while a < b && (base[a] == 0x20 || base[a] == 0x09) { a += 1 }
        while b > a && (base[b - 1] == 0x20 || base[b - 1] == 0x09) { b -= 1 }
        if a == b { return nil }
        var i = a
        var negative = false
        if base[i] == 0x2D || base[i] == 0x2B { negative = base[i] == 0x2D; i += 1 }
        var mantissa: UInt64 = 0
        var digits = 0, decimals = 0
        var seenDot = false, plain = true
        while i < b {
            let c = base[i]
            if c >= 0x30 && c <= 0x39 {
                if digits == 19 { plain = false; break }  // might overflow UInt64
                mantissa = mantissa * 10 + UInt64(c - 0x30)
                digits += 1
                if seenDot { decimals += 1 }
            } else if c == 0x2E && !seenDot {
                seenDot = true
            } else { plain = false; break }
            i += 1
        }
        if plain && digits > 0 && mantissa < (1 << 53) && decimals <= 22 {
            let v = Double(mantissa) / ChunkParser.pow10[decimals]
            return negative ? -v : v
        }
        // strtod on the NUL-terminated copy of the field.
        var tmp = [CChar](repeating: 0, count: b - a + 1)
        for k in 0..<(b - a) { tmp[k] = CChar(bitPattern: base[a + k]) }
        return tmp.withUnsafeMutableBufferPointer { t -> Double? in
            guard let p = t.baseAddress else { return nil }
            var endPtr: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(p, &endPtr)
            guard let e = endPtr, e - p == b - a else { return nil }
            return v
        }
    }
}

/// A whole file followed by one 0 byte (a terminator for strtod), writable in place. Mapped privately when the file
/// does not end on a page boundary (the rest of the last page reads as zeros; writes stay in this process), so a
/// 43 MB CSV costs no copy and no fresh pages; otherwise read(2) into a buffer.
final class TerminatedFile {
    /// The file's bytes and the terminator (count = file size + 1).
    let buffer: UnsafeMutableBufferPointer<UInt8>
    private let mapped: Int  // bytes mapped (0: `buffer` was allocated)

    init(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw EvalError("\(path): cannot read file (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw EvalError("\(path): cannot read file (\(String(cString: strerror(errno))))") }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw EvalError("\(path): is a directory") }
        let size = Int(st.st_size)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        if (st.st_mode & S_IFMT) == S_IFREG && size > 0 && page > 0 && size % page != 0,
           let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), p != MAP_FAILED {
            buffer = UnsafeMutableBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: size + 1)
            mapped = size
            return
        }
        // Regular files on a page boundary, empty files, pipes: read everything.
        var bytes = [UInt8]()
        bytes.reserveCapacity(max(size, 0) + 1)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let r = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if r < 0 {
                if errno == EINTR { continue }
                throw EvalError("\(path): cannot read file (\(String(cString: strerror(errno))))")
            }
            if r == 0 { break }
            bytes += chunk[0..<r]
        }
        bytes.append(0)
        let buf = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
        _ = buf.initialize(from: bytes)
        buffer = buf
        mapped = 0
    }

    deinit {
        if mapped > 0 { munmap(buffer.baseAddress, mapped) } else { buffer.deallocate() }
    }
}
