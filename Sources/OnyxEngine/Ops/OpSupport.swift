import OnyxTensor

// Shared helpers for kernels: dtype dispatch without per-element dynamic calls, axis handling.

/// Something to run once per numeric element type; `dispatchNumeric` picks `T` from a dtype
/// once per call, so the loop inside `visit` is specialised for `T`.
protocol NumericVisitor {
    associatedtype Result
    func visit<T: NumericElement>(_: T.Type) throws -> Result
}

/// Like `NumericVisitor`, restricted to IEEE binary floating types (Float, Double, Float16).
protocol FloatVisitor {
    associatedtype Result
    func visit<T: BinaryFloatingPoint & NumericElement>(_: T.Type) throws -> Result
}

/// Calls `v.visit(T.self)` for the Swift type of `dt` (any numeric dtype, bfloat16 included).
func dispatchNumeric<V: NumericVisitor>(_ dt: DType, _ v: V) throws -> V.Result {
    switch dt {
    case .float32: return try v.visit(Float.self)
    case .float64: return try v.visit(Double.self)
    case .float16: return try v.visit(Float16.self)
    case .bfloat16: return try v.visit(BFloat16.self)
    case .int8: return try v.visit(Int8.self)
    case .int16: return try v.visit(Int16.self)
    case .int32: return try v.visit(Int32.self)
    case .int64: return try v.visit(Int64.self)
    case .uint8: return try v.visit(UInt8.self)
    case .uint16: return try v.visit(UInt16.self)
    case .uint32: return try v.visit(UInt32.self)
    case .uint64: return try v.visit(UInt64.self)
    case .bool, .string: throw KernelError("type \(dt) is not numeric")
    }
}

/// Calls `v.visit(T.self)` for float32, float64 and float16 (bfloat16 is not BinaryFloatingPoint).
func dispatchFloat<V: FloatVisitor>(_ dt: DType, _ v: V) throws -> V.Result {
    switch dt {
    case .float32: return try v.visit(Float.self)
    case .float64: return try v.visit(Double.self)
    case .float16: return try v.visit(Float16.self)
    default: throw KernelError("type \(dt) is not supported here (float, double, float16 expected)")
    }
}

/// Maps a possibly negative axis into `0..<rank`, or throws naming the attribute.
@inline(__always)
func normalizeAxis(_ axis: Int, rank: Int, name: String = "axis") throws -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0, a < max(rank, 1) else { throw KernelError("\(name) \(axis) is out of range for rank \(rank)") }
    return a
}

/// Copies `count` elements of any dtype (strings included) from `src[srcIndex...]` to `dst[dstIndex...]`.
/// For shape-manipulation kernels that move elements without looking at them. `dst` must be freshly allocated.
@inline(__always)
func copyElements(from src: Tensor, at srcIndex: Int, to dst: Tensor, at dstIndex: Int, count: Int) {
    if count <= 0 { return }
    if src.dtype == .string {
        let o = src.offset + srcIndex
        for k in 0..<count { dst.storage.strings[dst.offset + dstIndex + k] = src.storage.strings[o + k] }
        return
    }
    let es = src.dtype.size
    (dst.rawPointer + dstIndex * es).copyMemory(from: src.rawPointer + srcIndex * es, byteCount: count * es)
}
