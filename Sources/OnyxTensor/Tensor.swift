import Foundation

/// Errors raised by tensor construction and conversion.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(String)
    case dtypeMismatch(expected: DType, got: DType)
    case invalid(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let s): return "shape mismatch: \(s)"
        case .dtypeMismatch(let e, let g): return "dtype mismatch: expected \(e), got \(g)"
        case .invalid(let s): return s
        }
    }
}

/// Contiguous memory behind a tensor.
///
/// Safety of `@unchecked Sendable`: a storage is written only by the code that allocated it,
/// before the tensor holding it is handed to anyone else (a kernel filling its fresh output,
/// a loader filling a fresh initializer). After that it is only read, so sharing across
/// threads is race-free. `strings` follows the same rule.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let byteCount: Int
    public var strings: [String]
    private let owned: Bool
    private let keepAlive: AnyObject?
    /// The pool the memory came from and goes back to (see `BufferPool`), with the block's capacity.
    private let recycler: BufferPool?
    private let capacity: Int

    /// Allocates `byteCount` bytes, 64-byte aligned, zero-filled when `zeroed`. Inside a run with a memory
    /// planner (`BufferPool.current`), the memory of a dead tensor may be reused.
    public init(byteCount: Int, zeroed: Bool = true) {
        let n = max(byteCount, 1)
        if let pool = BufferPool.current, n >= pool.minimumBytes {
            let block = pool.take(n)
            pointer = block.pointer
            capacity = block.capacity
            recycler = pool
        } else {
            pointer = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 64)
            capacity = n
            recycler = nil
        }
        if zeroed { pointer.initializeMemory(as: UInt8.self, repeating: 0, count: n) }
        self.byteCount = byteCount
        self.strings = []
        self.owned = true
        self.keepAlive = nil
    }

    /// String storage.
    public init(strings: [String]) {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64)
        byteCount = 0
        self.strings = strings
        owned = true
        keepAlive = nil
        recycler = nil
        capacity = 1
    }

    /// Wraps memory owned by `owner` (e.g. a memory-mapped file); the owner is kept alive.
    public init(borrowing pointer: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        self.pointer = pointer
        self.byteCount = byteCount
        self.strings = []
        self.owned = false
        self.keepAlive = owner
        self.recycler = nil
        self.capacity = byteCount
    }

    deinit {
        guard owned else { return }
        if let recycler { recycler.give(pointer, capacity: capacity) } else { pointer.deallocate() }
    }
}

/// An n-dimensional array with a dtype, a shape and contiguous row-major storage.
///
/// Tensors are values: kernels never modify an input, they allocate outputs.
/// `reshaped` shares storage without copying.
public struct Tensor: Sendable, CustomStringConvertible {
    public let dtype: DType
    public let shape: [Int]
    public let storage: TensorStorage
    /// Element offset into storage (non-zero only for views made by `slice0`).
    public let offset: Int

    public var count: Int { Tensor.count(shape) }
    public var rank: Int { shape.count }
    public var byteCount: Int { count * dtype.size }

    @inline(__always) public static func count(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape { n &*= d }
        return n
    }

    public init(dtype: DType, shape: [Int], storage: TensorStorage, offset: Int = 0) {
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
        self.offset = offset
    }

    /// A zero-filled tensor (empty strings for `.string`).
    public init(zeros dtype: DType, shape: [Int]) {
        let n = Tensor.count(shape)
        if dtype == .string {
            self.init(dtype: dtype, shape: shape, storage: TensorStorage(strings: Array(repeating: "", count: n)))
        } else {
            self.init(dtype: dtype, shape: shape, storage: TensorStorage(byteCount: n * dtype.size))
        }
    }

    /// A tensor whose contents the caller must fully write before sharing it.
    public static func uninitialized(_ dtype: DType, shape: [Int]) -> Tensor {
        let n = Tensor.count(shape)
        if dtype == .string { return Tensor(zeros: .string, shape: shape) }
        return Tensor(dtype: dtype, shape: shape, storage: TensorStorage(byteCount: n * dtype.size, zeroed: false))
    }

    /// A tensor from values. Traps only on programmer error (count mismatch is checked and thrown).
    public init<T: TensorElement>(shape: [Int], values: [T]) throws {
        guard Tensor.count(shape) == values.count else {
            throw TensorError.shapeMismatch("\(values.count) values for shape \(shape)")
        }
        self.init(shape: shape, checkedValues: values)
    }

    /// A tensor from values whose count is known to match the shape.
    public init<T: TensorElement>(shape: [Int], checkedValues values: [T]) {
        // Check the element type, not the array: `[] as? [String]` succeeds for an empty array of any type.
        if T.self == String.self {
            self.init(dtype: .string, shape: shape, storage: TensorStorage(strings: values.map { "\($0)" }))
            return
        }
        let t = Tensor.uninitialized(T.dtype, shape: shape)
        values.withUnsafeBufferPointer { src in
            let dst = t.storage.pointer.bindMemory(to: T.self, capacity: max(values.count, 1))
            if _isPOD(T.self), let b = src.baseAddress {
                // One block copy: element by element, unspecialized generic code goes through a value witness per
                // element (tens of ms for a model's folded weights at load).
                UnsafeMutableRawPointer(dst).copyMemory(from: b, byteCount: src.count * MemoryLayout<T>.stride)
            } else {
                for i in 0..<src.count { dst[i] = src[i] }
            }
        }
        self = t
    }

    /// A rank-0 tensor.
    public init<T: TensorElement>(scalar: T) { self.init(shape: [], checkedValues: [scalar]) }

    /// Same storage, new shape (element counts must agree).
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        guard Tensor.count(newShape) == count else {
            throw TensorError.shapeMismatch("cannot reshape \(shape) to \(newShape)")
        }
        return Tensor(dtype: dtype, shape: newShape, storage: storage, offset: offset)
    }

    /// Read-only typed view of the elements. `T` must match `dtype` (checked).
    @inline(__always)
    public func withBuffer<T: TensorElement, R>(of _: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) throws -> R {
        guard T.dtype == dtype else { throw TensorError.dtypeMismatch(expected: dtype, got: T.dtype) }
        if dtype == .string {
            return try storage.strings.withUnsafeBufferPointer { buf in
                try buf.withMemoryRebound(to: T.self) { try body(UnsafeBufferPointer(rebasing: $0[offset..<(offset + count)])) }
            }
        }
        let p = storage.pointer.assumingMemoryBound(to: T.self) + offset
        return try body(UnsafeBufferPointer(start: p, count: count))
    }

    /// Typed mutable pointer for filling a freshly allocated tensor. Not for strings.
    @inline(__always)
    public func mutablePointer<T: TensorElement>(_: T.Type) -> UnsafeMutablePointer<T> {
        storage.pointer.assumingMemoryBound(to: T.self) + offset
    }

    /// Raw bytes of the elements (not for strings).
    public var rawPointer: UnsafeMutableRawPointer { storage.pointer + offset * dtype.size }

    /// Copies the elements into an array.
    public func toArray<T: TensorElement>(_: T.Type) throws -> [T] {
        try withBuffer(of: T.self) { Array($0) }
    }

    /// String elements (for `.string` tensors).
    public var strings: [String] {
        guard dtype == .string else { return [] }
        return Array(storage.strings[offset..<(offset + count)])
    }

    /// Element `i` (flat index) converted to Double; strings give NaN. For tests and printing.
    public func doubleValue(at i: Int) -> Double {
        let p = storage.pointer + (offset + i) * dtype.size
        switch dtype {
        case .float32: return Double(p.load(as: Float.self))
        case .float64: return p.load(as: Double.self)
        case .float16: return Double(Float(p.load(as: Float16.self)))
        case .bfloat16: return Double(BFloat16(bits: p.load(as: UInt16.self)).float)
        case .int8: return Double(p.load(as: Int8.self))
        case .int16: return Double(p.load(as: Int16.self))
        case .int32: return Double(p.load(as: Int32.self))
        case .int64: return Double(p.load(as: Int64.self))
        case .uint8: return Double(p.load(as: UInt8.self))
        case .uint16: return Double(p.load(as: UInt16.self))
        case .uint32: return Double(p.load(as: UInt32.self))
        case .uint64: return Double(p.load(as: UInt64.self))
        case .bool: return p.load(as: Bool.self) ? 1 : 0
        case .string: return .nan
        }
    }

    /// Int64 view of an integer tensor's elements (for shape-like inputs). Floats are truncated.
    public func int64Values() -> [Int64] {
        switch dtype {
        case .int64: return (try? toArray(Int64.self)) ?? []
        case .int32: return ((try? toArray(Int32.self)) ?? []).map { Int64($0) }
        default: return (0..<count).map { Int64(doubleValue(at: $0)) }
        }
    }

    /// Int view of an integer tensor (shape-like inputs).
    public func intValues() -> [Int] { int64Values().map { Int(truncatingIfNeeded: $0) } }

    /// A contiguous copy with its own storage.
    public func copy() -> Tensor {
        if dtype == .string { return Tensor(dtype: .string, shape: shape, storage: TensorStorage(strings: strings)) }
        let t = Tensor.uninitialized(dtype, shape: shape)
        t.rawPointer.copyMemory(from: rawPointer, byteCount: byteCount)
        return t
    }

    public var description: String { "Tensor<\(dtype)>\(shape) \(preview())" }

    /// The first `limit` values, e.g. `[0.1, 0.2, …]`.
    public func preview(_ limit: Int = 8) -> String {
        let n = min(count, limit)
        let vals: [String] = dtype == .string ? strings.prefix(n).map { "\"\($0)\"" }
            : (0..<n).map { i in
                let v = doubleValue(at: i)
                return dtype.isFloatingPoint ? String(format: "%.6g", v) : String(Int64(v))
            }
        return "[\(vals.joined(separator: ", "))\(count > n ? ", …" : "")]"
    }
}
