import Foundation
import OnyxTensor

// Helpers shared by the ControlFlowOps family (recurrent and attention kernels compute in Float).

/// Converts float tensors (float32, float16, bfloat16, float64) to and from contiguous `[Float]` buffers.
enum FloatIO {
    /// The elements of `t` as Float; throws for non-float dtypes.
    static func load(_ t: Tensor, _ name: String = "input") throws -> [Float] {
        switch t.dtype {
        case .float32: return try t.toArray(Float.self)
        case .float16: return try t.withBuffer(of: Float16.self) { $0.map { Float($0) } }
        case .bfloat16: return try t.withBuffer(of: BFloat16.self) { $0.map { $0.float } }
        case .float64: return try t.withBuffer(of: Double.self) { $0.map { Float($0) } }
        default: throw KernelError("\(name) has type \(t.dtype), expected a float type")
        }
    }

    /// Whether `dt` is a float type `load`/`make` handle.
    static func supports(_ dt: DType) -> Bool {
        dt == .float32 || dt == .float16 || dt == .bfloat16 || dt == .float64
    }

    /// A fresh tensor of `dtype` and `shape` from `values` (count must equal the shape's element count).
    static func make(_ values: UnsafeBufferPointer<Float>, _ dtype: DType, _ shape: [Int]) throws -> Tensor {
        let n = Tensor.count(shape)
        guard values.count == n else { throw KernelError("internal: \(values.count) values for shape \(shape)") }
        let out = Tensor.uninitialized(dtype, shape: shape)
        switch dtype {
        case .float32:
            let p = out.mutablePointer(Float.self)
            for i in 0..<n { p[i] = values[i] }
        case .float16:
            let p = out.mutablePointer(Float16.self)
            for i in 0..<n { p[i] = Float16(values[i]) }
        case .bfloat16:
            let p = out.mutablePointer(BFloat16.self)
            for i in 0..<n { p[i] = BFloat16(values[i]) }
        case .float64:
            let p = out.mutablePointer(Double.self)
            for i in 0..<n { p[i] = Double(values[i]) }
        default: throw KernelError("output type \(dtype) is not a float type")
        }
        return out
    }

    static func make(_ values: [Float], _ dtype: DType, _ shape: [Int]) throws -> Tensor {
        try values.withUnsafeBufferPointer { try make($0, dtype, shape) }
    }
}

/// A raw pointer that parallel loops may write through.
/// Safety of `@unchecked Sendable`: every user writes disjoint index ranges of a buffer it owns for the
/// duration of the parallel loop, and the buffer outlives the loop.
struct SharedFloatPointer: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
}

/// Activation functions of RNN/GRU/LSTM (names as in the ONNX spec) and CausalConvWithState.
enum RecurrentActivation: Sendable {
    case relu, tanh, sigmoid, affine(Float, Float), leakyRelu(Float), thresholdedRelu(Float)
    case scaledTanh(Float, Float), hardSigmoid(Float, Float), elu(Float), softsign, softplus, identity

    /// Parses `name` with its optional alpha/beta (defaults per the ONNX RNN spec).
    init(name: String, alpha: Float?, beta: Float?) throws {
        switch name.lowercased() {
        case "relu": self = .relu
        case "tanh": self = .tanh
        case "sigmoid": self = .sigmoid
        case "affine": self = .affine(alpha ?? 1, beta ?? 0)
        case "leakyrelu": self = .leakyRelu(alpha ?? 0.01)
        case "thresholdedrelu": self = .thresholdedRelu(alpha ?? 1)
        case "scaledtanh": self = .scaledTanh(alpha ?? 1, beta ?? 1)
        case "hardsigmoid": self = .hardSigmoid(alpha ?? 0.2, beta ?? 0.5)
        case "elu": self = .elu(alpha ?? 1)
        case "softsign": self = .softsign
        case "softplus": self = .softplus
        case "identity", "": self = .identity
        default: throw KernelError("unsupported activation '\(name)'")
        }
    }

    /// Whether parsing `name` consumes an alpha / beta value from the activation_alpha/beta lists.
    static func usesAlpha(_ name: String) -> Bool {
        ["affine", "leakyrelu", "thresholdedrelu", "scaledtanh", "hardsigmoid", "elu"].contains(name.lowercased())
    }
    static func usesBeta(_ name: String) -> Bool {
        ["affine", "scaledtanh", "hardsigmoid"].contains(name.lowercased())
    }

    /// Applies the activation in place to `n` values.
    func apply(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        switch self {
        case .relu: for i in 0..<n { x[i] = max(x[i], 0) }
        case .tanh: for i in 0..<n { x[i] = Foundation.tanh(x[i]) }
        case .sigmoid: for i in 0..<n { x[i] = RecurrentActivation.sigmoid(x[i]) }
        case .affine(let a, let b): for i in 0..<n { x[i] = a * x[i] + b }
        case .leakyRelu(let a): for i in 0..<n { x[i] = x[i] >= 0 ? x[i] : a * x[i] }
        case .thresholdedRelu(let a): for i in 0..<n { x[i] = x[i] > a ? x[i] : 0 }
        case .scaledTanh(let a, let b): for i in 0..<n { x[i] = a * Foundation.tanh(b * x[i]) }
        case .hardSigmoid(let a, let b): for i in 0..<n { x[i] = min(1, max(0, a * x[i] + b)) }
        case .elu(let a): for i in 0..<n { x[i] = x[i] >= 0 ? x[i] : a * (Foundation.exp(x[i]) - 1) }
        case .softsign: for i in 0..<n { x[i] = x[i] / (1 + abs(x[i])) }
        case .softplus: for i in 0..<n { x[i] = Foundation.log1p(Foundation.exp(x[i])) }
        case .identity: break
        }
    }

    @inline(__always) static func sigmoid(_ v: Float) -> Float {
        v >= 0 ? 1 / (1 + Foundation.exp(-v)) : { let e = Foundation.exp(v); return e / (1 + e) }()
    }
}

/// Axis-wise slicing, concatenation and stacking of tensors of any dtype (Scan, Loop, sequences).
enum AxisOps {
    /// `t[..., start..<start+length, ...]` along `axis` (kept). Bounds must be valid (checked, throws).
    static func slice(_ t: Tensor, axis: Int, start: Int, length: Int) throws -> Tensor {
        guard axis >= 0, axis < t.rank, start >= 0, length >= 0, start + length <= t.shape[axis] else {
            throw KernelError("slice \(start)..<\(start + length) on axis \(axis) is out of range for shape \(t.shape)")
        }
        var shape = t.shape
        shape[axis] = length
        let out = Tensor.uninitialized(t.dtype, shape: shape)
        let outer = Tensor.count(Array(t.shape[..<axis]))
        let inner = Tensor.count(Array(t.shape[(axis + 1)...]))
        let n = t.shape[axis]
        for o in 0..<outer {
            copyElements(from: t, at: (o * n + start) * inner, to: out, at: o * length * inner, count: length * inner)
        }
        return out
    }

    /// `t` indexed at `index` along `axis` (the axis removed).
    static func take(_ t: Tensor, axis: Int, index: Int) throws -> Tensor {
        let s = try slice(t, axis: axis, start: index, length: 1)
        var shape = t.shape
        shape.remove(at: axis)
        return try s.reshaped(shape)
    }

    /// Concatenation along `axis`; all items need the same dtype, rank and other dimensions.
    static func concat(_ items: [Tensor], axis: Int) throws -> Tensor {
        guard let first = items.first else { throw KernelError("cannot concatenate an empty list of tensors") }
        guard axis >= 0, axis < first.rank else { throw KernelError("axis \(axis) is out of range for rank \(first.rank)") }
        var total = 0
        for t in items {
            guard t.dtype == first.dtype else { throw KernelError("cannot concatenate \(t.dtype) with \(first.dtype)") }
            guard t.rank == first.rank else { throw KernelError("cannot concatenate shapes \(t.shape) and \(first.shape)") }
            for d in 0..<t.rank where d != axis && t.shape[d] != first.shape[d] {
                throw KernelError("cannot concatenate shapes \(t.shape) and \(first.shape) on axis \(axis)")
            }
            total += t.shape[axis]
        }
        var shape = first.shape
        shape[axis] = total
        let out = Tensor.uninitialized(first.dtype, shape: shape)
        let outer = Tensor.count(Array(first.shape[..<axis]))
        let inner = Tensor.count(Array(first.shape[(axis + 1)...]))
        var dst = 0
        for o in 0..<outer {
            for t in items {
                let chunk = t.shape[axis] * inner
                copyElements(from: t, at: o * chunk, to: out, at: dst, count: chunk)
                dst += chunk
            }
        }
        return out
    }

    /// Stacks same-shaped tensors along a new axis `axis` (0...rank).
    static func stack(_ items: [Tensor], axis: Int) throws -> Tensor {
        guard let first = items.first else { throw KernelError("cannot stack an empty list of tensors") }
        guard axis >= 0, axis <= first.rank else { throw KernelError("axis \(axis) is out of range for rank \(first.rank + 1)") }
        var expanded: [Tensor] = []
        expanded.reserveCapacity(items.count)
        for t in items {
            guard t.shape == first.shape else { throw KernelError("cannot stack shapes \(t.shape) and \(first.shape)") }
            var s = t.shape
            s.insert(1, at: axis)
            expanded.append(try t.reshaped(s))
        }
        return try concat(expanded, axis: axis)
    }
}

/// Helpers for kernels that run subgraphs.
enum SubgraphSupport {
    /// The implicit (outer-scope) inputs that the executor appends after the node's `explicit` inputs.
    static func outer(_ inputs: [Value?], explicit: Int) throws -> [Value] {
        guard inputs.count > explicit else { return [] }
        var out: [Value] = []
        out.reserveCapacity(inputs.count - explicit)
        for (i, v) in inputs[explicit...].enumerated() {
            guard let v else { throw KernelError("outer-scope value #\(i) read by the subgraph is missing") }
            out.append(v)
        }
        return out
    }

    /// A one-element bool tensor's value (If/Loop conditions).
    static func bool(_ v: Value?, _ what: String) throws -> Bool {
        guard let t = v?.tensor else { throw KernelError("\(what) must be a bool tensor, got \(v?.kindName ?? "nothing")") }
        guard t.count == 1 else { throw KernelError("\(what) must have one element, has shape \(t.shape)") }
        switch t.dtype {
        case .bool: return try t.withBuffer(of: Bool.self) { $0[0] }
        case .string: throw KernelError("\(what) must be a bool tensor, got string")
        default: return t.doubleValue(at: 0) != 0
        }
    }

    /// An empty tensor standing for a scan output that got no elements, from the declared type.
    static func emptyScanOutput(_ type: ValueType, leading: Int = 0, axis: Int = 0) -> Tensor {
        var shape: [Int] = (type.tensorShape ?? []).map { $0.value ?? 0 }
        shape.insert(leading, at: min(max(axis, 0), shape.count))
        return Tensor(zeros: type.tensorDType ?? .float32, shape: shape)
    }
}
