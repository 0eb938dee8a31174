// Runs a model over evaluation data in batches, on several worker threads sharing one session, and gathers the
// outputs that predictions are made from.
import Foundation
import OnyxTensor
import OnyxEngine
import OnyxONNX
import OnyxKernels
import OnyxMetrics

/// How a score output is to be read.
public enum ScoresKind: String, Sendable, CaseIterable {
    /// Rows are probabilities (each in [0, 1], summing to 1; one column: the greater class's probability).
    case probabilities
    /// Rows are unnormalised logits: softmax (one column: the logistic sigmoid) gives probabilities.
    case logits
}

/// Options of an evaluation.
public struct EvalOptions: Sendable {
    /// Rows per model run.
    public var batch: Int = 256
    /// The score (or regression) output to use; default: chosen from the output types (see `OutputPlan`).
    public var output: String? = nil
    /// How to read the scores; default: probabilities if every row sums to 1, else logits (classifiers with a label
    /// output: raw scores, used for ranking only).
    public var scoresKind: ScoresKind? = nil
    /// Threads running batches concurrently (each runs whole batches on the one shared session).
    public var workers: Int = ThreadPool.availableCores
    /// Intra-op threads of each run.
    public var threadsPerRun: Int = 1
    /// Positive class of a binary problem (default: the greater class).
    public var posLabel: String? = nil
    public init() {}
}

/// Which model outputs predictions come from, decided from the declared output types before running.
struct OutputPlan: Sendable {
    /// An int64/int32/string tensor output holding the predicted label (classifiers).
    var label: String?
    /// A float tensor [N], [N, K], or a sequence of maps (ZipMap) holding scores or regression values.
    var scores: String?
    var scoresAreMaps = false

    init(session: InferenceSession, output: String?) throws {
        let outs = session.outputs
        func isLabel(_ t: ValueType) -> Bool {
            guard let dt = t.tensorDType else { return false }
            return dt == .int64 || dt == .int32 || dt == .string
        }
        func isMaps(_ t: ValueType) -> Bool {
            if case .sequence(.map) = t { return true }
            return false
        }
        func isScores(_ t: ValueType) -> Bool { t.tensorDType?.isFloatingPoint == true || isMaps(t) }
        if let output {
            guard let o = outs.first(where: { $0.name == output }) else {
                throw EvalError("no output '\(output)'; the model's outputs are \(outs.map { "\($0.name) (\($0.type))" }.joined(separator: ", "))")
            }
            if isLabel(o.type) && !isScores(o.type) {
                label = o.name
            } else if isScores(o.type) {
                scores = o.name
                scoresAreMaps = isMaps(o.type)
                label = outs.first { $0.name != output && isLabel($0.type) }?.name
            } else {
                throw EvalError("output '\(output)' is \(o.type); expected a float tensor, a label tensor or a sequence of maps")
            }
            return
        }
        label = outs.first { isLabel($0.type) }?.name
        if let s = outs.first(where: { isScores($0.type) }) {
            scores = s.name
            scoresAreMaps = isMaps(s.type)
        }
        if label == nil && scores == nil {
            throw EvalError("no usable output: expected a label tensor, a float score tensor or a sequence of maps, got \(outs.map { "\($0.name) (\($0.type))" }.joined(separator: ", "))")
        }
    }
}

/// The gathered outputs of all rows.
struct RawOutputs: Sendable {
    /// Predicted labels from the label output.
    var labels: [Label]?
    /// Row-major scores, `rows × columns` (nil without a score output).
    var scores: [Double]?
    var columns = 0
    /// Class of each score column when the scores were maps (ZipMap keys).
    var mapKeys: [Label]?
}

/// One batch's outputs, already converted.
private struct BatchOutputs: Sendable {
    var labels: [Label]? = nil
    var scores: [Double]? = nil
    var columns = 0
    var mapKeys: [Label]? = nil
}

/// A loaded model ready to evaluate data.
public final class ModelRunner: Sendable {
    public let path: String
    public let session: InferenceSession
    let inputName: String
    let inputType: DType
    let inputShape: [Dim]?
    let plan: OutputPlan

    public init(path: String, options: EvalOptions) throws {
        self.path = path
        let model = try ONNXModel.load(path: path)
        session = try InferenceSession(model: model, options: SessionOptions(threads: max(1, options.threadsPerRun)))
        guard session.inputs.count == 1, let input = session.inputs.first else {
            throw EvalError("the model has \(session.inputs.count) inputs (\(session.inputs.map(\.name).joined(separator: ", "))); evaluation feeds one feature matrix")
        }
        guard case .tensor(let dt, let shape) = input.type, dt == .float32 || dt == .float64 else {
            throw EvalError("the model's input '\(input.name)' is \(input.type); evaluation feeds a float tensor [rows, features]")
        }
        if let shape, shape.count < 2 {
            throw EvalError("the model's input '\(input.name)' has rank \(shape.count) (\(input.type)); evaluation feeds [rows, features] or a batch of images")
        }
        inputName = input.name; inputType = dt; inputShape = shape
        plan = try OutputPlan(session: session, output: options.output)
    }

    /// Describes the outputs used, e.g. "label 'label', scores 'probabilities'".
    var outputDescription: String {
        [plan.label.map { "label '\($0)'" }, plan.scores.map { "scores '\($0)'" }].compactMap { $0 }.joined(separator: ", ")
    }

    /// Runs every row of `data`; `progress(done, total)` is called (from worker threads) after each batch.
    func run(_ data: EvalData, options: EvalOptions, progress: (@Sendable (Int, Int) -> Void)?) throws -> RawOutputs {
        let width = data.width
        // The shape one row is fed as: the data's own (images, .npy arrays), or the model's when its input has
        // more than two dimensions whose product is the row width (e.g. 64 CSV columns fed to a CNN as [1, 8, 8]).
        var sample = data.sampleShape
        if let shape = inputShape {
            let shown = "[\(shape.map(\.description).joined(separator: ", "))]"
            if data.images != nil {
                let fits = shape.count == 1 + data.sampleShape.count
                    && zip(shape.dropFirst(), data.sampleShape).allSatisfy { $0.0.value == nil || $0.0.value == $0.1 }
                if !fits {
                    throw EvalError("the model's input '\(inputName)' is \(shown); the images are preprocessed to [N, \(data.sampleShape.map(String.init).joined(separator: ", "))] (set --size/--crop/--layout to match)")
                }
            } else if shape.count != 2 || sample.count != 1 {
                let fitsData = shape.count == 1 + sample.count
                    && zip(shape.dropFirst(), sample).allSatisfy { $0.0.value == nil || $0.0.value == $0.1 }
                let dims = shape.dropFirst().compactMap(\.value)
                if fitsData {
                    // fed as is
                } else if dims.count == shape.count - 1, dims.allSatisfy({ $0 > 0 }),
                          dims.reduce(Optional(1), { p, d in p.flatMap { let (r, o) = $0.multipliedReportingOverflow(by: d); return o ? nil : r } }) == width {
                    sample = dims
                } else {
                    throw EvalError("the model's input '\(inputName)' is \(shown); the data gives rows of shape [\(sample.map(String.init).joined(separator: ", "))] (\(width) values), which fit neither that shape nor its size")
                }
            } else if let w = shape.last?.value, w != width {
                throw EvalError("the model expects \(w) features per row (input '\(inputName)' \(shown)), the data has \(width) (\(data.featureNames.prefix(5).joined(separator: ", "))\(width > 5 ? ", …" : ""))")
            }
        }
        // A fixed batch dimension sets the batch size; the last batch is padded with zero rows.
        let batch = inputShape?.first?.value.map { max(1, $0) } ?? max(1, options.batch)
        let padTo = inputShape?.first?.value
        let rows = data.rows
        let batches = (rows + batch - 1) / batch
        let state = RunState(batches: batches)
        let workers = max(1, min(options.workers, batches))
        let rowShape = sample
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let b = state.next() {
                let lo = b * batch, hi = min(rows, lo + batch)
                do {
                    let out = try self.runBatch(data, lo: lo, hi: hi, width: width, rowShape: rowShape, padTo: padTo)
                    state.store(b, out, rows: hi - lo, total: rows, progress: progress)
                } catch {
                    state.fail(EvalError("rows \(lo + 1)–\(hi): \(error)"))
                }
            }
        }
        return try state.gather()
    }

    private func runBatch(_ data: EvalData, lo: Int, hi: Int, width: Int, rowShape: [Int], padTo: Int?) throws -> BatchOutputs {
        let n = hi - lo
        let fed = max(n, padTo ?? n)
        let features = data.features
        let x: Tensor
        if let images = data.images {
            // Decode and transform this batch's images (zero rows pad a fixed batch size).
            var v = [Float](repeating: 0, count: fed * width)
            try v.withUnsafeMutableBufferPointer { buf in
                for r in 0..<n {
                    try images.transform.load(images.files[lo + r], into: UnsafeMutableBufferPointer(rebasing: buf[(r * width)..<((r + 1) * width)]))
                }
            }
            if inputType == .float64 {
                x = try Tensor(shape: [fed] + data.sampleShape, values: v.map(Double.init))
            } else {
                x = try Tensor(shape: [fed] + data.sampleShape, values: v)
            }
        } else if inputType == .float64 {
            var v = [Double](repeating: 0, count: fed * width)
            for i in 0..<(n * width) { v[i] = Double(features[lo * width + i]) }
            x = try Tensor(shape: [fed] + rowShape, values: v)
        } else {
            // Copied once, straight into the input tensor's storage (zero rows pad a fixed batch size).
            let t = Tensor.uninitialized(.float32, shape: [fed] + rowShape)
            let dst = t.mutablePointer(Float.self)
            features.withUnsafeBufferPointer { src in
                if let s = src.baseAddress { dst.update(from: s + lo * width, count: n * width) }
            }
            if fed > n { (dst + n * width).update(repeating: 0, count: (fed - n) * width) }
            x = t
        }
        let wanted = [plan.label, plan.scores].compactMap { $0 }
        let res = try session.runValues([inputName: .tensor(x)], outputNames: wanted)
        var out = BatchOutputs()
        if let name = plan.label, let v = res[name] {
            guard let t = v.tensor, t.count >= n, t.rank <= 2, t.rank == 0 || t.shape[0] == fed else {
                throw EvalError("label output '\(name)' is \(v.kindName), expected one label per row")
            }
            let per = t.rank == 2 ? t.shape[1] : 1
            guard per == 1 else { throw EvalError("label output '\(name)' has shape \(t.shape); expected [N] or [N, 1]") }
            if t.dtype == .string {
                out.labels = Array(t.strings.prefix(n)).map { .string($0) }
            } else {
                out.labels = t.int64Values().prefix(n).map { .int(Int($0)) }
            }
        }
        if let name = plan.scores, let v = res[name] {
            if plan.scoresAreMaps {
                guard case .sequence(let maps, _) = v, maps.count >= n else {
                    throw EvalError("score output '\(name)' is \(v.kindName), expected a sequence of one map per row")
                }
                var keys: [Label]? = nil
                var scores = [Double]()
                for m in maps.prefix(n) {
                    guard case .map(let mv) = m, mv.keys.count == mv.values.count else {
                        throw EvalError("score output '\(name)' holds \(m.kindName), expected maps")
                    }
                    let k: [Label] = mv.keys.dtype == .string ? mv.keys.strings.map { .string($0) } : mv.keys.int64Values().map { .int(Int($0)) }
                    if keys == nil { keys = k } else if keys != k {
                        throw EvalError("score output '\(name)': maps have different keys")
                    }
                    for i in 0..<mv.values.count { scores.append(mv.values.doubleValue(at: i)) }
                }
                out.mapKeys = keys ?? []
                out.columns = keys?.count ?? 0
                out.scores = scores
            } else {
                guard let t = v.tensor, t.dtype.isFloatingPoint, t.rank >= 1, t.rank <= 2, t.shape[0] == fed else {
                    throw EvalError("score output '\(name)' is \(v.kindName); expected a float tensor [N] or [N, K] with N = \(fed)")
                }
                let k = t.rank == 2 ? t.shape[1] : 1
                guard k >= 1 else { throw EvalError("score output '\(name)' has shape \(t.shape)") }
                out.columns = k
                if t.dtype == .float32 {
                    out.scores = try t.withBuffer(of: Float.self) { b in (0..<(n * k)).map { Double(b[$0]) } }
                } else {
                    out.scores = (0..<(n * k)).map { t.doubleValue(at: $0) }
                }
            }
        }
        return out
    }
}

/// Shared state of the batch workers: the next batch to run, finished batches, the first error.
/// `@unchecked Sendable`: every field is read and written under `lock`.
private final class RunState: @unchecked Sendable {
    let lock = NSLock()
    var nextBatch = 0
    let batches: Int
    var results: [BatchOutputs?]
    var doneRows = 0
    var error: Error?

    init(batches: Int) { self.batches = batches; results = Array(repeating: nil, count: batches) }

    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard error == nil, nextBatch < batches else { return nil }
        nextBatch += 1
        return nextBatch - 1
    }

    func store(_ b: Int, _ out: BatchOutputs, rows: Int, total: Int, progress: (@Sendable (Int, Int) -> Void)?) {
        lock.lock()
        results[b] = out
        doneRows += rows
        let done = doneRows
        lock.unlock()
        progress?(done, total)
    }

    func fail(_ e: Error) {
        lock.lock(); defer { lock.unlock() }
        if error == nil { error = e }
    }

    func gather() throws -> RawOutputs {
        lock.lock(); defer { lock.unlock() }
        if let error { throw error }
        var raw = RawOutputs()
        for case let r? in results {
            if let l = r.labels {
                if raw.labels == nil { raw.labels = [] }
                raw.labels?.append(contentsOf: l)
            }
            if let s = r.scores {
                if raw.scores == nil { raw.columns = r.columns; raw.mapKeys = r.mapKeys; raw.scores = [] }
                guard r.columns == raw.columns, r.mapKeys == raw.mapKeys else {
                    throw EvalError("batches returned different numbers of score columns (\(raw.columns), \(r.columns))")
                }
                raw.scores?.append(contentsOf: s)
            }
        }
        return raw
    }
}
