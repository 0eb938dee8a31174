import Foundation
import OnyxTensor

/// ai.onnx.ml operators (scikit-learn / XGBoost / LightGBM models converted by skl2onnx and onnxmltools).
/// Kernels live in LinearModels.swift, MLPreprocessing.swift, Encoders.swift, TreeEnsemble*.swift and SVM.swift;
/// numerics follow onnxruntime's CPU kernels (float computation, same tie-breaking and score layouts).
enum MLOps {
    static let domain = "ai.onnx.ml"

    static func register(_ t: inout OperatorTable) {
        let d = domain
        t.add("LinearClassifier", domain: d) { try LinearClassifierOp($0) }
        t.add("LinearRegressor", domain: d) { try LinearRegressorOp($0) }
        t.add("Scaler", domain: d) { try ScalerOp($0) }
        t.add("Normalizer", domain: d) { try NormalizerOp($0) }
        t.add("Binarizer", domain: d) { try BinarizerOp($0) }
        t.add("Imputer", domain: d) { try ImputerOp($0) }
        t.add("ArrayFeatureExtractor", domain: d) { _ in ArrayFeatureExtractorOp() }
        t.add("FeatureVectorizer", domain: d) { try FeatureVectorizerOp($0) }
        t.add("OneHotEncoder", domain: d) { try OneHotEncoderOp($0) }
        t.add("LabelEncoder", domain: d) { try LabelEncoderOp($0) }
        t.add("CategoryMapper", domain: d) { try CategoryMapperOp($0) }
        t.add("ZipMap", domain: d) { try ZipMapOp($0) }
        t.add("DictVectorizer", domain: d) { try DictVectorizerOp($0) }
        t.add("TreeEnsembleClassifier", domain: d) { try TreeEnsembleClassifierOp($0) }
        t.add("TreeEnsembleRegressor", domain: d) { try TreeEnsembleRegressorOp($0) }
        t.add("TreeEnsemble", domain: d, since: 5) { try TreeEnsembleOp($0) }
        t.add("SVMClassifier", domain: d) { try SVMClassifierOp($0) }
        t.add("SVMRegressor", domain: d) { try SVMRegressorOp($0) }
    }
}

// MARK: - Shared helpers for the ML kernels

/// The `post_transform` attribute of classifiers and ensembles.
enum MLPostTransform: Sendable {
    case none, logistic, softmax, softmaxZero, probit

    init(_ s: String) throws {
        switch s {
        case "NONE": self = .none
        case "LOGISTIC": self = .logistic
        case "SOFTMAX": self = .softmax
        case "SOFTMAX_ZERO": self = .softmaxZero
        case "PROBIT": self = .probit
        default: throw KernelError("post_transform '\(s)' is not one of NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO, PROBIT")
        }
    }
    /// The integer codes of ai.onnx.ml opset 5 TreeEnsemble.
    init(code: Int) throws {
        switch code {
        case 0: self = .none
        case 1: self = .softmax
        case 2: self = .logistic
        case 3: self = .softmaxZero
        case 4: self = .probit
        default: throw KernelError("post_transform \(code) is out of range 0...4")
        }
    }
}

@inline(__always) func mlLogistic(_ v: Float) -> Float {
    let e = 1 / (1 + Foundation.exp(-Swift.abs(v)))
    return v < 0 ? 1 - e : e
}

/// onnxruntime's approximate inverse error function (Winitzki), used by PROBIT.
@inline(__always) func mlErfInv(_ x0: Float) -> Float {
    let sgn: Float = x0 < 0 ? -1 : 1
    let x = (1 - x0) * (1 + x0)
    let lg = Foundation.log(x)
    let v = 2 / (Float.pi * 0.147) + 0.5 * lg
    let v2 = 1 / Float(0.147) * lg
    let v3 = -v + (v * v - v2).squareRoot()
    return sgn * v3.squareRoot()
}

@inline(__always) func mlProbit(_ v: Float) -> Float { Float(2).squareRoot() * mlErfInv(2 * v - 1) }

/// Applies a post transform to a row of two or more scores in place (onnxruntime's `write_scores`, n >= 2).
func mlTransformRow(_ s: UnsafeMutablePointer<Float>, _ n: Int, _ pt: MLPostTransform) {
    switch pt {
    case .none: break
    case .probit: for i in 0..<n { s[i] = mlProbit(s[i]) }
    case .logistic: for i in 0..<n { s[i] = mlLogistic(s[i]) }
    case .softmax:
        var m = -Float.greatestFiniteMagnitude
        for i in 0..<n where s[i] > m { m = s[i] }
        var sum: Float = 0
        for i in 0..<n { s[i] = Foundation.exp(s[i] - m); sum += s[i] }
        for i in 0..<n { s[i] /= sum }
    case .softmaxZero:
        var m = -Float.greatestFiniteMagnitude
        for i in 0..<n where s[i] > m { m = s[i] }
        let expNegMax = Foundation.exp(-m)
        var sum: Float = 0
        for i in 0..<n {
            if s[i] > 0.0000001 || s[i] < -0.0000001 {
                s[i] = Foundation.exp(s[i] - m); sum += s[i]
            } else {
                s[i] *= expNegMax
            }
        }
        for i in 0..<n { s[i] /= sum }
    }
}

/// Rows and columns of a rank-1 (one row) or rank-2 feature tensor.
func mlRowsCols(_ t: Tensor, _ name: String = "X") throws -> (rows: Int, cols: Int) {
    switch t.rank {
    case 1: return (1, t.shape[0])
    case 2: return (t.shape[0], t.shape[1])
    default: throw KernelError("input '\(name)' has rank \(t.rank), expected 1 or 2")
    }
}

private struct ToFloatVisitor: NumericVisitor {
    let t: Tensor
    func visit<T: NumericElement>(_: T.Type) throws -> [Float] {
        try t.withBuffer(of: T.self) { b in
            var out = [Float](repeating: 0, count: b.count)
            for i in 0..<b.count { out[i] = Float(b[i].asDouble) }
            return out
        }
    }
}

/// The elements of a numeric tensor converted to Float (the ML kernels compute in float like onnxruntime).
func mlFloats(_ t: Tensor) throws -> [Float] {
    if t.dtype == .float32 { return try t.toArray(Float.self) }
    return try dispatchNumeric(t.dtype, ToFloatVisitor(t: t))
}

private struct ToDoubleVisitor: NumericVisitor {
    let t: Tensor
    func visit<T: NumericElement>(_: T.Type) throws -> [Double] {
        try t.withBuffer(of: T.self) { b in
            var out = [Double](repeating: 0, count: b.count)
            for i in 0..<b.count { out[i] = b[i].asDouble }
            return out
        }
    }
}

/// The elements of a numeric tensor converted to Double.
func mlDoubles(_ t: Tensor) throws -> [Double] {
    if t.dtype == .float64 { return try t.toArray(Double.self) }
    return try dispatchNumeric(t.dtype, ToDoubleVisitor(t: t))
}

/// Class labels of a classifier: strings or int64 (the output label tensor type follows).
enum MLLabels: Sendable {
    case ints([Int64])
    case strings([String])

    /// Reads `<prefix>_strings` / `<prefix>_int64s` (or `_ints` for some ops); nil when neither is set.
    init?(_ c: NodeContext, strings: String, ints: String) throws {
        if let s = try c.strings(strings), !s.isEmpty { self = .strings(s) }
        else if let i = try c.ints(ints), !i.isEmpty { self = .ints(i.map { Int64($0) }) }
        else { return nil }
    }

    var count: Int {
        switch self {
        case .ints(let v): return v.count
        case .strings(let v): return v.count
        }
    }
}

/// A label output that is either a class index into `MLLabels` or a raw int64/string value.
enum MLLabelValue {
    case index(Int)
    case int(Int64)
    case string(String)
}

/// Builds a label tensor from per-row choices: label-table indices or literal values.
func mlLabelTensor(_ rows: [MLLabelValue], labels: MLLabels) -> Tensor {
    switch labels {
    case .ints(let v):
        return Tensor(shape: [rows.count], checkedValues: rows.map { r -> Int64 in
            switch r {
            case .index(let i): return v[i]
            case .int(let x): return x
            case .string(let s): return Int64(s) ?? 0
            }
        })
    case .strings(let v):
        return Tensor(shape: [rows.count], checkedValues: rows.map { r -> String in
            switch r {
            case .index(let i): return v[i]
            case .int(let x): return String(x)
            case .string(let s): return s
            }
        })
    }
}
