import OnyxTensor

/// A lookup key of the ML encoders: string, integer or floating (NaN is its own key, matching NaN inputs).
enum MLKey: Hashable, Sendable {
    case s(String)
    case i(Int64)
    case d(Double)
    case nan

    static func double(_ v: Double) -> MLKey { v.isNaN ? .nan : .d(v == 0 ? 0 : v) }

    enum Kind { case string, int, float }

    /// The keys of a tensor, as `kind` (integer inputs may look up float keys and the reverse).
    static func keys(_ t: Tensor, as kind: Kind) throws -> [MLKey] {
        switch (t.dtype, kind) {
        case (.string, .string): return t.strings.map { .s($0) }
        case (.string, _), (_, .string): throw KernelError("input of type \(t.dtype) does not match the encoder's keys")
        case (_, .int) where t.dtype.isFloatingPoint:
            return try mlDoubles(t).map { $0.isNaN ? .nan : .i(Int64(exactly: $0.rounded(.towardZero)) ?? 0) }
        case (_, .int): return t.int64Values().map { .i($0) }
        default: return try mlDoubles(t).map { .double($0) }
        }
    }
}

/// OneHotEncoder (ai.onnx.ml 1): Y[..., k] = 1 where X == cats[k]; numeric inputs are truncated to int64.
struct OneHotEncoderOp: TensorKernel {
    let index: [MLKey: Int]
    let count: Int
    let kind: MLKey.Kind
    let zeros: Bool

    init(_ c: NodeContext) throws {
        var idx: [MLKey: Int] = [:]
        if let s = try c.strings("cats_strings"), !s.isEmpty {
            for (k, v) in s.enumerated() where idx[.s(v)] == nil { idx[.s(v)] = k }
            kind = .string; count = s.count
        } else if let v = try c.ints("cats_int64s"), !v.isEmpty {
            for (k, x) in v.enumerated() where idx[.i(Int64(x))] == nil { idx[.i(Int64(x))] = k }
            kind = .int; count = v.count
        } else {
            throw KernelError("one of 'cats_strings' or 'cats_int64s' is required")
        }
        index = idx
        zeros = try c.int("zeros", 1) != 0
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let keys = try MLKey.keys(x, as: kind)
        let y = Tensor(zeros: .float32, shape: x.shape + [count])
        let yp = y.mutablePointer(Float.self)
        for (i, k) in keys.enumerated() {
            if let j = index[k] { yp[i * count + j] = 1 }
            else if !zeros { throw KernelError("unknown category \(k) and zeros=0") }
        }
        return [y]
    }
}

/// A key → value table whose values and default live in tensors (so the output dtype follows the values).
struct MLLookup: Sendable {
    let index: [MLKey: Int]
    let kind: MLKey.Kind
    let values: Tensor
    let fallback: Tensor

    init(keys: [MLKey], kind: MLKey.Kind, values: Tensor, fallback: Tensor) throws {
        guard keys.count == values.count else {
            throw KernelError("\(keys.count) keys for \(values.count) values")
        }
        var idx: [MLKey: Int] = [:]
        for (k, key) in keys.enumerated() where idx[key] == nil { idx[key] = k }
        index = idx; self.kind = kind; self.values = values; self.fallback = fallback
    }

    func map(_ x: Tensor) throws -> Tensor {
        let keys = try MLKey.keys(x, as: kind)
        let y = Tensor.uninitialized(values.dtype, shape: x.shape)
        for (i, k) in keys.enumerated() {
            if let j = index[k] { copyElements(from: values, at: j, to: y, at: i, count: 1) }
            else { copyElements(from: fallback, at: 0, to: y, at: i, count: 1) }
        }
        return y
    }
}

/// LabelEncoder: opset 1 (classes_strings, string ↔ int64 index), opset 2 (keys_*/values_* lists) and
/// opset 4 (keys_tensor / values_tensor / default_tensor).
struct LabelEncoderOp: TensorKernel {
    /// Opset 2+: one table. Opset 1: string → index and index → string, chosen by the input type.
    let table: MLLookup?
    let toIndex: MLLookup?
    let toString: MLLookup?

    init(_ c: NodeContext) throws {
        if c.opset < 2 {
            let classes = try c.strings("classes_strings") ?? []
            let n = classes.count
            toIndex = try MLLookup(keys: classes.map { .s($0) }, kind: .string,
                                   values: Tensor(shape: [n], checkedValues: (0..<n).map { Int64($0) }),
                                   fallback: Tensor(scalar: Int64(try c.int("default_int64", -1))))
            toString = try MLLookup(keys: (0..<n).map { .i(Int64($0)) }, kind: .int,
                                    values: Tensor(shape: [n], checkedValues: classes),
                                    fallback: Tensor(scalar: try c.string("default_string", "_Unused")))
            table = nil
            return
        }
        toIndex = nil; toString = nil
        // Keys.
        let keys: [MLKey], kind: MLKey.Kind
        if let s = try c.strings("keys_strings") { keys = s.map { .s($0) }; kind = .string }
        else if let v = try c.ints("keys_int64s") { keys = v.map { .i(Int64($0)) }; kind = .int }
        else if let v = try c.floats("keys_floats") {
            // onnxruntime: a NaN in keys_floats never matches (keys_tensor NaN does match NaN inputs).
            keys = v.map { $0.isNaN ? .s("\u{0}nan-key") : .double(Double($0)) }; kind = .float
        }
        else if let t = try c.tensor("keys_tensor") {
            if t.dtype == .string { keys = t.strings.map { .s($0) }; kind = .string }
            else if t.dtype.isFloatingPoint { keys = try mlDoubles(t).map { .double($0) }; kind = .float }
            else { keys = t.int64Values().map { .i($0) }; kind = .int }
        } else { throw KernelError("one of keys_strings, keys_int64s, keys_floats, keys_tensor is required") }
        // Values and the default of the same type.
        let values: Tensor, fallback: Tensor
        if let s = try c.strings("values_strings") {
            values = Tensor(shape: [s.count], checkedValues: s)
            fallback = Tensor(scalar: try c.string("default_string", "_Unused"))
        } else if let v = try c.ints("values_int64s") {
            values = Tensor(shape: [v.count], checkedValues: v.map { Int64($0) })
            fallback = Tensor(scalar: Int64(try c.int("default_int64", -1)))
        } else if let v = try c.floats("values_floats") {
            values = Tensor(shape: [v.count], checkedValues: v)
            fallback = Tensor(scalar: try c.float("default_float", -0.0))
        } else if let t = try c.tensor("values_tensor") {
            values = try t.reshaped([t.count])
            if let d = try c.tensor("default_tensor") {
                guard d.dtype == t.dtype, d.count >= 1 else {
                    throw KernelError("'default_tensor' must hold one \(t.dtype) value")
                }
                fallback = d
            } else {
                switch t.dtype {
                case .string: fallback = Tensor(scalar: "_Unused")
                case .int64, .int32, .int16, .int8, .uint8, .uint16, .uint32, .uint64:
                    fallback = try dispatchNumeric(t.dtype, ScalarVisitor(value: -1))
                default: fallback = try dispatchNumeric(t.dtype, ScalarVisitor(value: -0.0))
                }
            }
        } else { throw KernelError("one of values_strings, values_int64s, values_floats, values_tensor is required") }
        table = try MLLookup(keys: keys, kind: kind, values: values, fallback: fallback)
    }

    private struct ScalarVisitor: NumericVisitor {
        let value: Double
        func visit<T: NumericElement>(_: T.Type) throws -> Tensor { Tensor(scalar: T(fromDouble: value)) }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        if let table { return [try table.map(x)] }
        guard let toIndex, let toString else { throw KernelError("LabelEncoder is not configured") }
        return [try (x.dtype == .string ? toIndex : toString).map(x)]
    }
}

/// CategoryMapper (ai.onnx.ml 1): string → int64 through cats_strings/cats_int64s, or int64 → string.
struct CategoryMapperOp: TensorKernel {
    let toInt: MLLookup
    let toString: MLLookup

    init(_ c: NodeContext) throws {
        let s = try c.strings("cats_strings") ?? []
        let i = (try c.ints("cats_int64s") ?? []).map { Int64($0) }
        guard s.count == i.count else { throw KernelError("cats_strings and cats_int64s differ in length") }
        toInt = try MLLookup(keys: s.map { .s($0) }, kind: .string, values: Tensor(shape: [i.count], checkedValues: i),
                             fallback: Tensor(scalar: Int64(try c.int("default_int64", -1))))
        toString = try MLLookup(keys: i.map { .i($0) }, kind: .int, values: Tensor(shape: [s.count], checkedValues: s),
                                fallback: Tensor(scalar: try c.string("default_string", "_Unused")))
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        return [try (x.dtype == .string ? toInt : toString).map(x)]
    }
}

/// ZipMap (ai.onnx.ml 1): each row of a float [N, C] tensor becomes a map {label: probability}.
struct ZipMapOp: Kernel {
    let keys: Tensor

    init(_ c: NodeContext) throws {
        if let s = try c.strings("classlabels_strings"), !s.isEmpty { keys = Tensor(shape: [s.count], checkedValues: s) }
        else if let v = try c.ints("classlabels_int64s"), !v.isEmpty {
            keys = Tensor(shape: [v.count], checkedValues: v.map { Int64($0) })
        } else { throw KernelError("one of 'classlabels_strings' or 'classlabels_int64s' is required") }
    }

    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        guard let xv = inputs.first ?? nil, let x = xv.tensor else { throw KernelError("missing input 'X'") }
        guard x.dtype == .float32 else { throw KernelError("input must be float, got \(x.dtype)") }
        let (rows, cols) = try mlRowsCols(x)
        guard cols == keys.count else { throw KernelError("input has \(cols) columns for \(keys.count) labels") }
        var maps: [Value] = []
        maps.reserveCapacity(rows)
        for r in 0..<rows {
            let v = Tensor.uninitialized(.float32, shape: [cols])
            copyElements(from: x, at: r * cols, to: v, at: 0, count: cols)
            maps.append(.map(MapValue(keys: keys, values: v)))
        }
        return [.sequence(maps, elementType: .map(key: keys.dtype, value: .tensor(.float32, shape: nil)))]
    }
}

/// DictVectorizer (ai.onnx.ml 1): a map (or a sequence of maps) → a dense [rows, vocabulary] tensor.
struct DictVectorizerOp: Kernel {
    let index: [MLKey: Int]
    let kind: MLKey.Kind
    let size: Int

    init(_ c: NodeContext) throws {
        var idx: [MLKey: Int] = [:]
        if let s = try c.strings("string_vocabulary"), !s.isEmpty {
            for (k, v) in s.enumerated() where idx[.s(v)] == nil { idx[.s(v)] = k }
            kind = .string; size = s.count
        } else if let v = try c.ints("int64_vocabulary"), !v.isEmpty {
            for (k, x) in v.enumerated() where idx[.i(Int64(x))] == nil { idx[.i(Int64(x))] = k }
            kind = .int; size = v.count
        } else { throw KernelError("one of 'string_vocabulary' or 'int64_vocabulary' is required") }
        index = idx
    }

    func run(_ inputs: [Value?], _ ctx: RunContext) throws -> [Value] {
        guard let v = inputs.first ?? nil else { throw KernelError("missing input 'X'") }
        var maps: [MapValue] = []
        switch v {
        case .map(let m): maps = [m]
        case .sequence(let items, _):
            for it in items {
                guard case .map(let m) = it else { throw KernelError("input sequence must hold maps") }
                maps.append(m)
            }
        default: throw KernelError("input must be a map, got \(v.kindName)")
        }
        guard let dt = maps.first?.values.dtype else { return [.tensor(Tensor(zeros: .float32, shape: [0, size]))] }
        let y = Tensor(zeros: dt, shape: [maps.count, size])
        for (r, m) in maps.enumerated() {
            guard m.values.dtype == dt, m.keys.count == m.values.count else { throw KernelError("inconsistent map values") }
            let keys = try MLKey.keys(m.keys, as: kind)
            for (k, key) in keys.enumerated() {
                if let j = index[key] { copyElements(from: m.values, at: k, to: y, at: r * size + j, count: 1) }
            }
        }
        return [.tensor(y)]
    }
}
