import OnyxData
import Foundation
import OnyxTensor
import OnyxEngine
import OnyxONNX
import OnyxMetrics

/// Size, parameter count, sparsity, latency and accuracy of one model: a row of the table every command ends with.
public struct ModelStats: Sendable {
    public var label: String
    public var fileBytes: Int
    /// Elements of all numeric initializers.
    public var parameters: Int
    /// Fraction of zero elements among the weight initializers (rank ≥ 2).
    public var sparsity: Double
    /// Mean latency in ms (as `onyx bench`: batch 1, random inputs), nil when not measured.
    public var latencyMs: Double?
    /// Accuracy in [0, 1] when data was given.
    public var accuracy: Double?

    /// Measures a model already saved at `path`.
    public static func measure(label: String, path: String, model: Model, benchmark: BenchmarkConfig?,
                               data: LabeledData?) throws -> ModelStats {
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        let size = (attrs[.size] as? NSNumber)?.intValue ?? 0
        var params = 0, weights = 0, zeros = 0
        for (_, t) in model.graph.initializers where t.dtype != .string && t.dtype != .bool {
            params += t.count
            if t.rank >= 2 && t.count > 0 {
                weights += t.count
                zeros += countZeros(t)
            }
        }
        var lat: Double? = nil
        if let cfg = benchmark {
            lat = try Benchmark.run(modelPath: path, config: cfg).mean
        }
        let acc = try data.map { try Accuracy.evaluate(model: model, data: $0) }
        return ModelStats(label: label, fileBytes: size, parameters: params,
                          sparsity: weights > 0 ? Double(zeros) / Double(weights) : 0, latencyMs: lat, accuracy: acc)
    }

    static func countZeros(_ t: Tensor) -> Int {
        var z = 0
        let p = t.rawPointer
        switch t.dtype {
        case .float32: let b = p.assumingMemoryBound(to: Float.self); for i in 0..<t.count where b[i] == 0 { z += 1 }
        case .float16: let b = p.assumingMemoryBound(to: Float16.self); for i in 0..<t.count where b[i] == 0 { z += 1 }
        case .float64: let b = p.assumingMemoryBound(to: Double.self); for i in 0..<t.count where b[i] == 0 { z += 1 }
        case .int8: let b = p.assumingMemoryBound(to: Int8.self); for i in 0..<t.count where b[i] == 0 { z += 1 }
        default: for i in 0..<t.count where t.doubleValue(at: i) == 0 { z += 1 }
        }
        return z
    }

    /// The one table: a header and one row per model, with the ratio of the last row to the first.
    public static func table(_ rows: [ModelStats]) -> String {
        func bytes(_ n: Int) -> String {
            let d = Double(n)
            if d >= 1_048_576 { return String(format: "%.2f MiB", d / 1_048_576) }
            if d >= 1024 { return String(format: "%.1f KiB", d / 1024) }
            return "\(n) B"
        }
        var lines: [[String]] = [["model", "size", "parameters", "sparsity", "latency", "accuracy"]]
        for r in rows {
            lines.append([r.label, bytes(r.fileBytes), String(r.parameters), String(format: "%.1f%%", r.sparsity * 100),
                          r.latencyMs.map { String(format: "%.3f ms", $0) } ?? "-",
                          r.accuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "-"])
        }
        if rows.count >= 2, let a = rows.first, let b = rows.last {
            let size = a.fileBytes > 0 ? String(format: "%.2fx", Double(b.fileBytes) / Double(a.fileBytes)) : "-"
            let params = a.parameters > 0 ? String(format: "%.2fx", Double(b.parameters) / Double(a.parameters)) : "-"
            var lat = "-"
            if let x = a.latencyMs, let y = b.latencyMs, x > 0 { lat = String(format: "%.2fx", y / x) }
            var acc = "-"
            if let x = a.accuracy, let y = b.accuracy { acc = String(format: "%+.2f pt", (y - x) * 100) }
            lines.append(["ratio", size, params, String(format: "%+.1f pt", (b.sparsity - a.sparsity) * 100), lat, acc])
        }
        let widths = (0..<6).map { c in lines.map { $0[c].count }.max() ?? 0 }
        return lines.enumerated().map { k, row in
            let s = row.enumerated().map { c, v in
                c == 0 ? v.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - v.count) + v
            }.joined(separator: "  ")
            return k == 0 ? s + "\n" + String(repeating: "-", count: s.count) : s
        }.joined(separator: "\n")
    }
}

/// A labeled tabular data set: float features and one label column (from a CSV).
public struct LabeledData: Sendable {
    public var featureNames: [String]
    /// Row-major [rows, features].
    public var features: [Float]
    public var labels: [String]
    public var rows: Int { labels.count }
    public var width: Int { featureNames.count }

    /// Every column but `label` is a feature and must be numeric.
    /// With `labelOptional`, a CSV without the label column gives only features (labels empty strings).
    public static func csv(path: String, label: String = "label", labelOptional: Bool = false) throws -> LabeledData {
        let table = try CSVReader.read(path: path)
        let li = labelOptional ? (table.header.firstIndex(of: label) ?? -1) : try table.column(named: label)
        var names: [String] = []
        var cols: [[Double]] = []
        for (k, h) in table.header.enumerated() where k != li {
            names.append(h)
            cols.append(try table.doubles(h))
        }
        guard !table.rows.isEmpty else { throw CompressError("\(path): no data rows") }
        var feats = [Float](repeating: 0, count: table.rows.count * names.count)
        for c in 0..<cols.count { for r in 0..<table.rows.count { feats[r * names.count + c] = Float(cols[c][r]) } }
        let labels = li < 0 ? [String](repeating: "", count: table.rows.count)
            : try table.values(label).map { $0.trimmingCharacters(in: .whitespaces) }
        return LabeledData(featureNames: names, features: feats, labels: labels)
    }

    /// Rows `r` as a tensor [r.count, width].
    public func batch(_ r: Range<Int>) -> Tensor {
        Tensor(shape: [r.count, width], checkedValues: Array(features[(r.lowerBound * width)..<(r.upperBound * width)]))
    }
}

/// Simple classification accuracy of a model over labeled rows.
public enum Accuracy {
    /// Feeds the features to the model's single input (cast to its dtype) in batches. Uses an integer/string
    /// label output when the model has one, else the arg-max of the first float output (label = class index).
    public static func evaluate(model: Model, data: LabeledData, batchSize: Int = 256) throws -> Double {
        let preds = try predict(model: model, data: data, batchSize: batchSize)
        var hits = 0
        for (p, l) in zip(preds, data.labels) where p == l || (Double(p) != nil && Double(p) == Double(l)) { hits += 1 }
        return Double(hits) / Double(max(1, data.rows))
    }

    /// Predicted labels as strings.
    public static func predict(model: Model, data: LabeledData, batchSize: Int = 256) throws -> [String] {
        let inputs = model.graph.feedableInputs
        guard inputs.count == 1, let input = inputs.first, let dt = input.type.tensorDType else {
            throw CompressError("accuracy needs a model with one tensor input; this one has \(inputs.map(\.name))")
        }
        if let shape = input.type.tensorShape, shape.count == 2, let w = shape[1].value, w != data.width {
            throw CompressError("input '\(input.name)' has \(w) features but the data has \(data.width) feature columns")
        }
        let session = try InferenceSession(model: model)
        var out: [String] = []
        var start = 0
        while start < data.rows {
            let r = start..<min(data.rows, start + batchSize)
            let x = try castFloat(data.batch(r), to: dt)
            let res = try session.run([input.name: x])
            out += try labels(res, outputs: model.graph.outputs, rows: r.count)
            start = r.upperBound
        }
        return out
    }

    static func labels(_ res: [String: Tensor], outputs: [ValueInfo], rows: Int) throws -> [String] {
        for o in outputs {
            guard let t = res[o.name] else { continue }
            if (t.dtype.isInteger || t.dtype == .string) && t.count == rows {
                return t.dtype == .string ? t.strings : t.int64Values().map { String($0) }
            }
        }
        for o in outputs {
            guard let t = res[o.name], t.dtype.isFloatingPoint, t.rank == 2, t.shape[0] == rows, t.shape[1] > 0 else { continue }
            let c = t.shape[1]
            return (0..<rows).map { r in
                var best = 0
                for j in 1..<c where t.doubleValue(at: r * c + j) > t.doubleValue(at: r * c + best) { best = j }
                return String(best)
            }
        }
        throw CompressError("no label output and no [N, classes] float output to score")
    }
}

/// Casts a float32 tensor to another float dtype (identity for float32).
func castFloat(_ t: Tensor, to dt: DType) throws -> Tensor {
    let v = try t.toArray(Float.self)
    switch dt {
    case .float32: return t
    case .float16: return Tensor(shape: t.shape, checkedValues: v.map { Float16($0) })
    case .float64: return Tensor(shape: t.shape, checkedValues: v.map { Double($0) })
    default: throw CompressError("cannot feed float features to an input of type \(dt)")
    }
}
