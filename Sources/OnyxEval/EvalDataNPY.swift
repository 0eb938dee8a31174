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
        let x = try readNPY(path)
        guard x.shape.count >= 2 else {
            throw EvalError("\(path): features must be an array [rows, features] or [rows, …]; got shape \(x.shape)")
        }
        guard x.dtype != .string, x.dtype != .bool else {
            throw EvalError("\(path): features must be numbers (float32 or float64), got \(x.dtype)")
        }
        let y = try readNPY(labelsPath)
        let rows = x.shape[0]
        guard y.shape == [rows] || y.shape == [rows, 1] else {
            throw EvalError("\(labelsPath): labels must have shape [\(rows)] (one per row of \(path)), got \(y.shape)")
        }
        if rows == 0 { throw EvalError("\(path): no rows") }
        let sample = Array(x.shape.dropFirst())
        let width = sample.reduce(1, *)
        // Features as Float (float64 rounded like numpy's astype(np.float32)); non-finite values are errors, as in
        // a CSV file.
        let features: [Float]
        if x.dtype == .float32 {
            features = try x.withBuffer(of: Float.self) { Array($0) }
        } else if x.dtype == .float64 {
            features = try x.withBuffer(of: Double.self) { b in b.map { Float($0) } }
        } else {
            features = (0..<x.count).map { Float(x.doubleValue(at: $0)) }
        }
        if let bad = features.firstIndex(where: { !$0.isFinite }) {
            throw EvalError("\(path): row \(bad / max(width, 1)), value \(bad % max(width, 1)) is \(features[bad]), not a finite number")
        }
        let raw: [String]
        let parsed: [Label]
        if y.dtype == .string {
            raw = y.strings.map { $0.trimmingCharacters(in: .whitespaces) }
            parsed = parseLabels(raw)[0]
        } else if y.dtype.isFloatingPoint {
            let v = (0..<rows).map { y.doubleValue(at: $0) }
            if v.allSatisfy({ $0.isFinite && $0.rounded() == $0 && abs($0) < 9.0e15 }) {
                parsed = v.map { .int(Int($0)) }
                raw = parsed.map(\.description)
            } else {
                raw = v.map { "\($0)" }
                parsed = raw.map { .string($0) }
            }
        } else if y.dtype == .bool {
            parsed = (0..<rows).map { .int(y.doubleValue(at: $0) != 0 ? 1 : 0) }
            raw = parsed.map(\.description)
        } else {
            let v = y.int64Values()
            parsed = v.map { .int(Int($0)) }
            raw = v.map { String($0) }
        }
        let names = sample.count == 1 ? (0..<width).map { "x\($0)" } : []
        return EvalData(source: path, featureNames: names, labelName: (labelsPath as NSString).lastPathComponent,
                        features: features, rawLabels: raw, labels: parsed, sampleShape: sample)
    }

    /// Reads a whole .npy file (one read).
    static func readNPY(_ path: String) throws -> Tensor {
        guard let data = FileManager.default.contents(atPath: path) else { throw EvalError("\(path): cannot read file") }
        do { return try NPY.decode(data) } catch { throw EvalError("\(path): \(error)") }
    }
}
