// Evaluation data from numpy files: features in one .npy (float32/float64, [rows, …]) and labels in another
// (integers, strings, or floats for regression targets) — read in one go, no text parsing.
import Foundation
import OnyxTensor
import OnyxMetrics

extension EvalData {
    /// Features from `path` (a .npy array [rows, …] of float32 or float64; other numeric types are converted) and
    /// labels from `labels` (a .npy vector [rows] or [rows, 1] of integers, strings, or numbers). A row is fed to
    /// the model as `shape[1...]` (e.g. [1, 8, 8] for a CNN taking [N, 1, 8, 8]). Labels: integers (also integral
    /// floats, as `parseLabels` reads them) → integer classes; strings → string classes; other floats → regression
    /// targets.
    public static func npy(path: String, labels labelsPath: String) throws -> EvalData {
        if let fast = try float32Features(path) {
            return try build(path: path, shape: fast.shape, features: fast.values, y: try readNPY(labelsPath),
                             labelsPath: labelsPath, labelName: (labelsPath as NSString).lastPathComponent)
        }
        let x = try readNPY(path)
        return try build(path: path, shape: x.shape, features: try featureValues(x, path: path), y: try readNPY(labelsPath),
                         labelsPath: labelsPath, labelName: (labelsPath as NSString).lastPathComponent)
    }

    /// Features and labels already decoded (the members of an .npz archive at `path`).
    static func arrays(_ x: Tensor, _ y: Tensor, path: String, labelName: String) throws -> EvalData {
        try build(path: path, shape: x.shape, features: try featureValues(x, path: path), y: y,
                  labelsPath: "\(path) array '\(labelName)'", labelName: labelName)
    }

    /// A feature array's values as Float (float64 rounded like numpy's astype(np.float32)).
    private static func featureValues(_ x: Tensor, path: String) throws -> [Float] {
        guard x.shape.count >= 2 else {
            throw EvalError("\(path): features must be an array [rows, features] or [rows, …]; got shape \(x.shape)")
        }
        guard x.dtype != .string, x.dtype != .bool else {
            throw EvalError("\(path): features must be numbers (float32 or float64), got \(x.dtype)")
        }
        if x.dtype == .float32 { return try x.withBuffer(of: Float.self) { Array($0) } }
        if x.dtype == .float64 { return try x.withBuffer(of: Double.self) { b in b.map { Float($0) } } }
        return (0..<x.count).map { Float(x.doubleValue(at: $0)) }
    }

    /// The labels and the checks shared by every reader.
    private static func build(path: String, shape: [Int], features: [Float], y: Tensor, labelsPath: String,
                              labelName: String) throws -> EvalData {
        guard shape.count >= 2 else {
            throw EvalError("\(path): features must be an array [rows, features] or [rows, …]; got shape \(shape)")
        }
        let rows = shape[0]
        let sample = Array(shape.dropFirst())
        let width = sample.reduce(1, *)
        guard y.shape == [rows] || y.shape == [rows, 1] else {
            throw EvalError("\(labelsPath): labels must have shape [\(rows)] (one per row of \(path)), got \(y.shape)")
        }
        if rows == 0 { throw EvalError("\(path): no rows") }
        // Non-finite features are errors, as in a CSV file.
        if !allFinite(features), let bad = features.firstIndex(where: { !$0.isFinite }) {
            throw EvalError("\(path): row \(bad / max(width, 1)), value \(bad % max(width, 1)) is \(features[bad]), not a finite number")
        }
        var raw: [String]? = nil  // nil: each label's description
        let parsed: [Label]
        if y.dtype == .string {
            let text = y.strings.map { $0.trimmingCharacters(in: .whitespaces) }
            raw = text
            parsed = parseLabels(text)[0]
        } else if y.dtype.isFloatingPoint {
            let v = (0..<rows).map { y.doubleValue(at: $0) }
            if v.allSatisfy({ $0.isFinite && $0.rounded() == $0 && abs($0) < 9.0e15 }) {
                parsed = v.map { .int(Int($0)) }
            } else {
                parsed = v.map { .string("\($0)") }
            }
        } else if y.dtype == .bool {
            parsed = (0..<rows).map { .int(y.doubleValue(at: $0) != 0 ? 1 : 0) }
        } else {
            parsed = y.int64Values().map { .int(Int($0)) }
        }
        let names = sample.count == 1 ? (0..<width).map { "x\($0)" } : []
        return EvalData(source: path, featureNames: names, labelName: labelName,
                        features: features, rawLabels: raw, labels: parsed, sampleShape: sample)
    }

    /// A little-endian float32 C-order .npy file read straight into a Float array: the header, then one read of
    /// the data into the array's storage (no intermediate copies). Nil for any other kind of file (read by `NPY`).
    static func float32Features(_ path: String) throws -> (shape: [Int], values: [Float])? {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw EvalError("\(path): cannot read file") }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 12)
        guard readFully(fd, &head, 12) == 12, head[0] == 0x93, Array(head[1..<6]) == Array("NUMPY".utf8) else { return nil }
        let major = head[6]
        let (prefix, headerLen): (Int, Int)
        if major == 1 {
            (prefix, headerLen) = (10, Int(head[8]) | Int(head[9]) << 8)
        } else if major == 2 || major == 3 {
            (prefix, headerLen) = (12, Int(head[8]) | Int(head[9]) << 8 | Int(head[10]) << 16 | Int(head[11]) << 24)
        } else { return nil }
        guard headerLen < 1 << 20, lseek(fd, off_t(prefix), SEEK_SET) == off_t(prefix) else { return nil }
        var header = [UInt8](repeating: 0, count: headerLen)
        guard readFully(fd, &header, headerLen) == headerLen else { return nil }
        let text = String(decoding: header, as: UTF8.self).replacingOccurrences(of: " ", with: "")
        guard text.contains("'descr':'<f4'"), text.contains("'fortran_order':False"),
              let open = text.range(of: "'shape':("), let close = text[open.upperBound...].firstIndex(of: ")") else { return nil }
        var shape = [Int]()
        for d in text[open.upperBound..<close].split(separator: ",") {
            guard let v = Int(d), v >= 0 else { return nil }
            shape.append(v)
        }
        var count = 1
        for d in shape {
            let (c, o) = count.multipliedReportingOverflow(by: d)
            if o || c > Int.max / 4 { throw EvalError("\(path): shape \(shape) is too large") }
            count = c
        }
        var shortRead = false
        let values = [Float](unsafeUninitializedCapacity: count) { buf, n in
            let want = count * 4
            let got = buf.baseAddress.map { readFully(fd, UnsafeMutableRawPointer($0), want) } ?? 0
            if got != want { shortRead = true; buf.update(repeating: 0) }
            n = count
        }
        if shortRead { throw EvalError("\(path): invalid .npy: data truncated (shape \(shape) needs \(count * 4) bytes)") }
        return (shape, values)
    }

    /// Reads up to `n` bytes (fewer only at the end of the file or on an error).
    private static func readFully(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int {
        var done = 0
        while done < n {
            let r = read(fd, p + done, n - done)
            if r <= 0 { break }
            done += r
        }
        return done
    }

    /// Whether every value is finite: exponent bits not all ones, tested on the bit patterns in a loop the compiler
    /// vectorises.
    static func allFinite(_ v: [Float]) -> Bool {
        v.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: UInt32.self) { u in
                var bad: UInt32 = 0
                for x in u { bad |= (x & 0x7F80_0000) == 0x7F80_0000 ? 1 : 0 }
                return bad == 0
            }
        }
    }

    /// Reads a whole .npy file (one read).
    static func readNPY(_ path: String) throws -> Tensor {
        guard let data = FileManager.default.contents(atPath: path) else { throw EvalError("\(path): cannot read file") }
        do { return try NPY.decode(data) } catch { throw EvalError("\(path): \(error)") }
    }
}
