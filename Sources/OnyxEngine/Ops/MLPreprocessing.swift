import OnyxTensor

/// Scaler (ai.onnx.ml 1): Y = (X - offset) * scale along the last axis; offset/scale hold one value or one per
/// feature. Output float.
struct ScalerOp: TensorKernel {
    let offset: [Float]
    let scale: [Float]

    init(_ c: NodeContext) throws {
        offset = try c.floats("offset") ?? []
        scale = try c.floats("scale") ?? []
        guard !offset.isEmpty, !scale.isEmpty else { throw KernelError("attributes 'offset' and 'scale' are required") }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let stride = x.rank == 0 ? 1 : x.shape[x.rank - 1]
        for (name, v) in [("offset", offset), ("scale", scale)] where v.count != 1 && v.count != stride {
            throw KernelError("'\(name)' has \(v.count) values, expected 1 or \(stride) (the last dimension)")
        }
        let xs = try mlFloats(x)
        let y = Tensor.uninitialized(.float32, shape: x.shape)
        let yp = y.mutablePointer(Float.self)
        let perO = offset.count > 1, perS = scale.count > 1
        for i in 0..<xs.count {
            let j = stride > 0 ? i % stride : 0
            yp[i] = (xs[i] - offset[perO ? j : 0]) * scale[perS ? j : 0]
        }
        return [y]
    }
}

/// Normalizer (ai.onnx.ml 1): MAX / L1 / L2 normalisation along axis 1, as onnxruntime (a zero norm copies the row).
struct NormalizerOp: TensorKernel {
    enum Norm { case max, l1, l2 }
    let norm: Norm

    init(_ c: NodeContext) throws {
        switch try c.string("norm", "MAX") {
        case "MAX": norm = .max
        case "L1": norm = .l1
        case "L2": norm = .l2
        case let s: throw KernelError("norm '\(s)' is not one of MAX, L1, L2")
        }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.rank >= 1 else { throw KernelError("input 'X' must have rank 1 or more") }
        let xs = try mlFloats(x)
        let y = Tensor.uninitialized(.float32, shape: x.shape)
        let out = y.mutablePointer(Float.self)
        let n = xs.count
        let stride = x.rank == 1 ? x.shape[0] : x.shape[1]
        let inc = x.rank > 1 ? Tensor.count(Array(x.shape[2...])) : 1
        guard stride > 0, inc > 0 else { return [y] }
        let loops = n / stride
        for l in 0..<loops {
            let base = (l % inc) + (l / inc) * (stride * inc)
            var d: Float
            switch norm {
            case .max:
                d = -Float.greatestFiniteMagnitude
                for s in 0..<stride { d = Swift.max(d, xs[base + s * inc]) }
            case .l1:
                d = 0
                for s in 0..<stride { d += Swift.abs(xs[base + s * inc]) }
            case .l2:
                var sum: Float = 0
                for s in 0..<stride { let v = xs[base + s * inc]; sum += v * v }
                d = sum == 0 ? 0 : sum
            }
            for s in 0..<stride {
                let i = base + s * inc
                if d == 0 { out[i] = xs[i]; continue }
                if norm == .l2 {
                    let r = (xs[i] * xs[i] / d).squareRoot()
                    out[i] = xs[i] < 0 ? -r : r
                } else {
                    out[i] = xs[i] / d
                }
            }
        }
        return [y]
    }
}

/// Binarizer (ai.onnx.ml 1): Y = X > threshold ? 1 : 0, same type as X.
struct BinarizerOp: TensorKernel {
    let threshold: Double

    init(_ c: NodeContext) throws { threshold = Double(try c.float("threshold", 0)) }

    private struct V: NumericVisitor {
        let x: Tensor; let th: Double
        func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
            let y = Tensor.uninitialized(T.dtype, shape: x.shape)
            let yp = y.mutablePointer(T.self)
            let one = T(fromDouble: 1), zero = T(fromDouble: 0)
            try x.withBuffer(of: T.self) { b in
                for i in 0..<b.count { yp[i] = b[i].asDouble > th ? one : zero }
            }
            return y
        }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        return [try dispatchNumeric(x.dtype, V(x: x, th: threshold))]
    }
}

/// Imputer (ai.onnx.ml 1): replaces `replaced_value_*` (NaN matches NaN) by the per-feature imputed values.
struct ImputerOp: TensorKernel {
    let floatValues: [Float]
    let intValues: [Int64]
    let replacedFloat: Float
    let replacedInt: Int64

    init(_ c: NodeContext) throws {
        floatValues = try c.floats("imputed_value_floats") ?? []
        intValues = (try c.ints("imputed_value_int64s") ?? []).map { Int64($0) }
        guard !floatValues.isEmpty || !intValues.isEmpty else {
            throw KernelError("one of 'imputed_value_floats' or 'imputed_value_int64s' is required")
        }
        replacedFloat = try c.float("replaced_value_float", 0)
        replacedInt = Int64(try c.int("replaced_value_int64", 0))
    }

    private struct V: NumericVisitor {
        let op: ImputerOp; let x: Tensor
        func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
            let isFloat = T.dtype.isFloatingPoint
            let stride = x.rank == 0 ? 1 : x.shape[x.rank - 1]
            let vals: [Double] = isFloat ? op.floatValues.map { Double($0) } : op.intValues.map { Double($0) }
            guard !vals.isEmpty else {
                throw KernelError("imputed values of the input's kind (\(isFloat ? "floats" : "int64s")) are missing")
            }
            guard vals.count == 1 || vals.count == stride else {
                throw KernelError("\(vals.count) imputed values for \(stride) features")
            }
            let rep = isFloat ? Double(op.replacedFloat) : Double(op.replacedInt)
            let repNaN = rep.isNaN
            let typed = vals.map { T(fromDouble: $0) }
            let y = Tensor.uninitialized(T.dtype, shape: x.shape)
            let yp = y.mutablePointer(T.self)
            try x.withBuffer(of: T.self) { b in
                for i in 0..<b.count {
                    let v = b[i].asDouble
                    let hit = repNaN ? v.isNaN : v == rep
                    yp[i] = hit ? typed[typed.count == 1 ? 0 : i % stride] : b[i]
                }
            }
            return y
        }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        return [try dispatchNumeric(x.dtype, V(op: self, x: x))]
    }
}

/// ArrayFeatureExtractor (ai.onnx.ml 1): selects columns of the last axis; a rank-1 input gives [1, k].
struct ArrayFeatureExtractorOp: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let idx = try inputs.required(1, "Y")
        guard x.rank >= 1 else { throw KernelError("input 'X' must have rank 1 or more") }
        guard idx.dtype == .int64 || idx.dtype == .int32 else { throw KernelError("indices must be int64") }
        let indices = idx.intValues()
        let stride = x.shape[x.rank - 1]
        guard !indices.isEmpty else { throw KernelError("indices are empty") }
        for i in indices where i < 0 || i >= stride {
            throw KernelError("index \(i) is out of range for a last dimension of \(stride)")
        }
        var shape = x.shape
        shape[shape.count - 1] = indices.count
        if x.rank == 1 { shape = [1, indices.count] }
        let y = Tensor.uninitialized(x.dtype, shape: shape)
        let rows = stride == 0 ? 0 : x.count / stride
        for r in 0..<rows {
            for (k, i) in indices.enumerated() {
                copyElements(from: x, at: r * stride + i, to: y, at: r * indices.count + k, count: 1)
            }
        }
        return [y]
    }
}

/// FeatureVectorizer (ai.onnx.ml 1): concatenates inputs column-wise into float, each cut or zero-padded to
/// its `inputdimensions` entry.
struct FeatureVectorizerOp: TensorKernel {
    let dims: [Int]

    init(_ c: NodeContext) throws {
        dims = try c.ints("inputdimensions") ?? []
        guard dims.allSatisfy({ $0 >= 0 }) else { throw KernelError("'inputdimensions' must be non-negative") }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        guard inputs.count == dims.count else {
            throw KernelError("\(inputs.count) inputs for \(dims.count) 'inputdimensions'")
        }
        var rows = -1
        var parts: [(vals: [Float], cols: Int)] = []
        for i in 0..<inputs.count {
            let t = try inputs.required(i)
            let (r, c): (Int, Int) = t.rank == 1 ? (t.shape[0], 1) : try mlRowsCols(t)
            if rows >= 0 && r != rows { throw KernelError("input \(i) has \(r) rows, expected \(rows)") }
            rows = r
            parts.append((try mlFloats(t), c))
        }
        rows = max(rows, 0)
        let total = dims.reduce(0, +)
        let y = Tensor(zeros: .float32, shape: [rows, total])
        let yp = y.mutablePointer(Float.self)
        var col0 = 0
        for (k, p) in parts.enumerated() {
            let n = min(p.cols, dims[k])
            for r in 0..<rows {
                for j in 0..<n { yp[r * total + col0 + j] = p.vals[r * p.cols + j] }
            }
            col0 += dims[k]
        }
        return [y]
    }
}
