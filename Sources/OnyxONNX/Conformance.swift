import Foundation
import OnyxTensor
import OnyxEngine

/// Runs ONNX backend test directories (model.onnx + test_data_set_*/input_*.pb, output_*.pb).
public struct ConformanceRunner: Sendable {
    public enum Outcome: Sendable, Equatable {
        case passed
        case failed(String)
        case skipped(String)
    }
    public struct Result: Sendable {
        public var name: String
        public var outcome: Outcome
        public var seconds: Double
    }

    public var rtol: Double = 1e-3
    public var atol: Double = 1e-7
    public var options: SessionOptions

    public init(options: SessionOptions = SessionOptions()) { self.options = options }

    /// Test directories under `root` (any directory holding model.onnx), sorted by name.
    public static func discover(_ root: URL) -> [URL] {
        let fm = FileManager.default
        var found: [URL] = []
        if fm.fileExists(atPath: root.appendingPathComponent("model.onnx").path) { return [root] }
        guard let e = fm.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        for case let u as URL in e where u.lastPathComponent == "model.onnx" {
            found.append(u.deletingLastPathComponent())
        }
        return found.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    public func run(_ dir: URL) -> Result {
        let start = Date()
        let outcome: Outcome
        do { outcome = try runChecked(dir) } catch {
            outcome = .failed("\(error)")
        }
        return Result(name: dir.lastPathComponent, outcome: outcome, seconds: Date().timeIntervalSince(start))
    }

    func runChecked(_ dir: URL) throws -> Outcome {
        let model = try ONNXModel.load(path: dir.appendingPathComponent("model.onnx").path)
        let feedable = model.graph.feedableInputs
        for i in feedable where !ValueFiles.isSupported(i.type) {
            // Only container types Onyx does not model (maps, nested sequences…) count as skipped;
            // an element type it lacks (float8, int4, …) is a failure.
            if case .unknown = i.type { return .failed("input '\(i.name)' has an element type Onyx does not support") }
            return .skipped("input '\(i.name)' has type \(i.type)")
        }
        let session = try InferenceSession(model: model, options: options)
        let fm = FileManager.default
        let sets = ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasPrefix("test_data_set_") }.sorted()
        if sets.isEmpty { return .failed("no test_data_set_* directories") }
        for s in sets {
            let sd = dir.appendingPathComponent(s)
            let files = (try? fm.contentsOfDirectory(atPath: sd.path)) ?? []
            let nIn = files.filter { $0.hasPrefix("input_") }.count
            let nOut = files.filter { $0.hasPrefix("output_") }.count
            var feeds: [String: Value] = [:]
            // Input files map to the graph's inputs in order (initializer-backed inputs included when present).
            let declared = nIn > feedable.count ? model.graph.inputs : feedable
            for k in 0..<nIn {
                guard k < declared.count else { return .failed("test feeds \(nIn) inputs, model has \(declared.count)") }
                feeds[declared[k].name] = try ValueFiles.read(sd.appendingPathComponent("input_\(k).pb"), type: declared[k].type)
            }
            let outs = try session.runValues(feeds)
            for k in 0..<nOut {
                guard k < session.outputs.count else { return .failed("test expects \(nOut) outputs, model has \(session.outputs.count)") }
                let o = session.outputs[k]
                let expected = try ValueFiles.read(sd.appendingPathComponent("output_\(k).pb"), type: o.type)
                guard let got = outs[o.name] else { return .failed("output '\(o.name)' missing") }
                if let why = compare(got, expected) { return .failed("\(s) output '\(o.name)': \(why)") }
            }
        }
        return .passed
    }

    /// nil when equal under the suite's rules, else the reason.
    public func compare(_ got: Value, _ exp: Value) -> String? {
        switch (got, exp) {
        case (.tensor(let a), .tensor(let b)): return compare(a, b)
        case (.some(let a), .some(let b)): return compare(a, b)
        case (.some(let a), _): return compare(a, exp)
        case (_, .some(let b)): return compare(got, b)
        case (.none, .none): return nil
        case (.sequence(let a, _), .sequence(let b, _)):
            guard a.count == b.count else { return "sequence length \(a.count), expected \(b.count)" }
            for i in 0..<a.count { if let w = compare(a[i], b[i]) { return "element \(i): \(w)" } }
            return nil
        default: return "got \(got.kindName), expected \(exp.kindName)"
        }
    }

    public func compare(_ a: Tensor, _ b: Tensor) -> String? {
        guard a.dtype == b.dtype else { return "dtype \(a.dtype), expected \(b.dtype)" }
        guard a.shape == b.shape else { return "shape \(a.shape), expected \(b.shape)" }
        if a.dtype == .string {
            return a.strings == b.strings ? nil : "strings differ: \(a.strings.prefix(4)) vs \(b.strings.prefix(4))"
        }
        let n = a.count
        var bad = 0, first = -1
        for i in 0..<n {
            let x = a.doubleValue(at: i), y = b.doubleValue(at: i)
            if a.dtype.isFloatingPoint {
                if x.isNaN && y.isNaN { continue }
                if x == y { continue }
                if abs(x - y) <= atol + rtol * abs(y) { continue }
            } else if x == y { continue }
            bad += 1
            if first < 0 { first = i }
        }
        if bad == 0 { return nil }
        return "\(bad) of \(n) values differ; first at \(first): got \(a.doubleValue(at: first)), expected \(b.doubleValue(at: first))"
    }
}
