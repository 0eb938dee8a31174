import Foundation
import OnyxTensor
import OnyxEngine
import OnyxONNX

/// How activation ranges are chosen from calibration data.
public enum CalibrationMethod: String, Sendable, CaseIterable {
    /// The observed minimum and maximum.
    case minmax
    /// Clip at the 99.99th percentile of |x|.
    case percentile
    /// The clipping threshold minimising the KL divergence between the 2048-bin |x| histogram and its 128-level
    /// quantized version (TensorRT-style entropy calibration).
    case entropy
}

/// Calibration inputs: one feed dictionary per batch, checked against the model before any work.
public struct CalibrationSet: Sendable {
    public var feeds: [[String: Tensor]]
    public var count: Int { feeds.count }

    public init(feeds: [[String: Tensor]], model: Model) throws {
        self.feeds = feeds
        try validate(model)
    }

    /// A directory of `.npy` files (one batch each for a one-input model; sub-directories with `<input>.npy`
    /// otherwise), an `.npz` (`np.savez` or `np.savez_compressed`) whose arrays are named after the inputs (split into batches of 32 rows),
    /// or a CSV whose columns other than `labelColumn` are the features of a single [batch, F] float input.
    public static func load(path: String, model: Model, labelColumn: String = "label", batchSize: Int = 32) throws -> CalibrationSet {
        let inputs = model.graph.feedableInputs
        guard !inputs.isEmpty else { throw CompressError("the model has no inputs to calibrate") }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CompressError("calibration data '\(path)' does not exist")
        }
        var feeds: [[String: Tensor]] = []
        if isDir.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }.sorted()
            let url = URL(fileURLWithPath: path)
            if inputs.count == 1 {
                for n in names where n.hasSuffix(".npy") {
                    feeds.append([inputs[0].name: try NPY.read(url.appendingPathComponent(n))])
                }
            } else {
                for n in names {
                    let sub = url.appendingPathComponent(n)
                    var d: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: sub.path, isDirectory: &d), d.boolValue else { continue }
                    var f: [String: Tensor] = [:]
                    for i in inputs {
                        let file = sub.appendingPathComponent(i.name + ".npy")
                        guard FileManager.default.fileExists(atPath: file.path) else {
                            throw CompressError("calibration sample '\(n)' has no \(i.name).npy")
                        }
                        f[i.name] = try NPY.read(file)
                    }
                    feeds.append(f)
                }
            }
        } else if path.hasSuffix(".npz") {
            guard let data = FileManager.default.contents(atPath: path) else { throw CompressError("cannot read '\(path)'") }
            let arrays: [String: Tensor]
            do { arrays = try NPZ.read(bytes: [UInt8](data)) } catch { throw CompressError("\(path): \(error)") }
            guard !arrays.isEmpty else { throw CompressError("\(path) is not an .npz archive with arrays") }
            for i in inputs where arrays[i.name] == nil {
                throw CompressError("\(path) has no array '\(i.name)' (arrays: \(arrays.keys.sorted().joined(separator: ", ")))")
            }
            let rows = arrays[inputs[0].name]?.shape.first ?? 0
            for i in inputs {
                let t = arrays[i.name]
                guard let t, t.rank >= 1, t.shape[0] == rows else {
                    throw CompressError("\(path): every array needs the same number of rows (\(rows)); '\(i.name)' has shape \(t?.shape ?? [])")
                }
            }
            var s = 0
            while s < rows {
                let e = min(rows, s + batchSize)
                var f: [String: Tensor] = [:]
                for i in inputs { if let t = arrays[i.name] { f[i.name] = try rowSlice(t, s..<e) } }
                feeds.append(f)
                s = e
            }
        } else if path.hasSuffix(".csv") {
            guard inputs.count == 1, let dt = inputs[0].type.tensorDType else {
                throw CompressError("a CSV calibration set fits a model with one tensor input; this one has \(inputs.map(\.name))")
            }
            let data = try LabeledData.csv(path: path, label: labelColumn, labelOptional: true)
            var s = 0
            while s < data.rows {
                let e = min(data.rows, s + batchSize)
                feeds.append([inputs[0].name: try castFloat(data.batch(s..<e), to: dt)])
                s = e
            }
        } else {
            throw CompressError("calibration data must be a directory of .npy files, an .npz or a .csv; got '\(path)'")
        }
        guard !feeds.isEmpty else { throw CompressError("calibration data '\(path)' holds no samples") }
        return try CalibrationSet(feeds: feeds, model: model)
    }

    /// Every feed must name each input once, with its dtype, rank and fixed dimensions.
    func validate(_ model: Model) throws {
        let inputs = model.graph.feedableInputs
        for (k, f) in feeds.enumerated() {
            for name in f.keys where !inputs.contains(where: { $0.name == name }) {
                throw CompressError("calibration sample \(k + 1): '\(name)' is not a model input (inputs: \(inputs.map(\.name).joined(separator: ", ")))")
            }
            for i in inputs {
                guard let t = f[i.name] else { throw CompressError("calibration sample \(k + 1) has no value for input '\(i.name)'") }
                guard case .tensor(let dt, let shape) = i.type else { continue }
                let want = shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "any shape"
                if t.dtype != dt {
                    throw CompressError("calibration sample \(k + 1): input '\(i.name)' is \(t.dtype) but the model expects \(dt) \(want)")
                }
                if let shape {
                    let fits = shape.count == t.rank && zip(shape, t.shape).allSatisfy { d, n in d.value.map { $0 == n } ?? true }
                    if !fits {
                        throw CompressError("calibration sample \(k + 1): input '\(i.name)' has shape \(t.shape) but the model expects \(want)")
                    }
                }
            }
        }
    }

    static func rowSlice(_ t: Tensor, _ r: Range<Int>) throws -> Tensor {
        guard t.dtype != .string else { throw CompressError("string calibration arrays are not supported") }
        let rowElems = t.shape.dropFirst().reduce(1, *)
        let out = Tensor.uninitialized(t.dtype, shape: [r.count] + t.shape.dropFirst())
        out.rawPointer.copyMemory(from: t.rawPointer + r.lowerBound * rowElems * t.dtype.size, byteCount: out.byteCount)
        return out
    }
}

/// Collects value ranges of chosen tensors over calibration runs.
struct RangeCollector {
    static let bins = 2048
    var minV: [String: Float] = [:]
    var maxV: [String: Float] = [:]
    var hist: [String: [Double]] = [:]

    mutating func observeRange(_ name: String, _ v: [Float]) {
        var lo = minV[name] ?? .infinity, hi = maxV[name] ?? -.infinity
        for x in v where x.isFinite { lo = min(lo, x); hi = max(hi, x) }
        minV[name] = lo; maxV[name] = hi
    }

    /// |x| histogram over [0, absmax] (absmax from the first pass).
    mutating func observeHistogram(_ name: String, _ v: [Float]) {
        let m = max(abs(minV[name] ?? 0), abs(maxV[name] ?? 0))
        var h = hist[name] ?? [Double](repeating: 0, count: Self.bins)
        guard m > 0 else { h[0] += Double(v.count); hist[name] = h; return }
        let scale = Float(Self.bins) / m
        for x in v where x.isFinite { h[min(Self.bins - 1, Int(abs(x) * scale))] += 1 }
        hist[name] = h
    }

    /// The calibrated range for `name` (always containing 0).
    func range(_ name: String, method: CalibrationMethod) -> (Float, Float) {
        var lo = minV[name] ?? 0, hi = maxV[name] ?? 0
        if !lo.isFinite || !hi.isFinite { lo = 0; hi = 0 }
        let m = max(abs(lo), abs(hi))
        if method != .minmax, let h = hist[name], m > 0 {
            let t: Float = method == .percentile ? percentile(h, 0.9999) * m / Float(Self.bins)
                                                 : entropyThreshold(h) * m / Float(Self.bins)
            lo = max(lo, -t); hi = min(hi, t)
        }
        return (min(lo, 0), max(hi, 0))
    }

    /// Upper edge (in bins) below which `q` of the mass lies.
    func percentile(_ h: [Double], _ q: Double) -> Float {
        let total = h.reduce(0, +)
        guard total > 0 else { return Float(h.count) }
        var acc = 0.0
        for (i, c) in h.enumerated() { acc += c; if acc >= q * total { return Float(i + 1) } }
        return Float(h.count)
    }

    /// Threshold (in bins) minimising KL(P‖Q), P the clipped histogram and Q its 128-level requantization.
    func entropyThreshold(_ h: [Double]) -> Float {
        let target = 128
        var best = h.count, bestKL = Double.infinity
        for i in stride(from: target, through: h.count, by: 16) {
            var p = Array(h[0..<i])
            p[i - 1] += h[i...].reduce(0, +)
            let total = p.reduce(0, +)
            guard total > 0 else { continue }
            // Merge into `target` levels, then expand back over the non-empty bins.
            var q = [Double](repeating: 0, count: i)
            let per = Double(i) / Double(target)
            for j in 0..<target {
                let s = Int(Double(j) * per), e = max(s + 1, Int(Double(j + 1) * per))
                let sum = h[s..<min(e, i)].reduce(0, +)
                let nz = p[s..<min(e, i)].filter { $0 > 0 }.count
                guard nz > 0 else { continue }
                for k in s..<min(e, i) where p[k] > 0 { q[k] = sum / Double(nz) }
            }
            let qt = q.reduce(0, +)
            guard qt > 0 else { continue }
            var kl = 0.0
            for k in 0..<i where p[k] > 0 {
                let pk = p[k] / total, qk = max(q[k] / qt, 1e-12)
                kl += pk * log(pk / qk)
            }
            if kl < bestKL { bestKL = kl; best = i }
        }
        return Float(best)
    }
}
