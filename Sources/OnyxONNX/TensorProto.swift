import Foundation
import OnyxTensor
import OnyxEngine
import OnyxProto
import SwiftProtobuf

/// Conversion between `Tensor` and ONNX `TensorProto`, and `.pb` tensor files.
public enum TensorProtoCodec {
    /// Decodes a TensorProto. `baseDirectory` resolves external data locations.
    public static func decode(_ p: Onnx_TensorProto, baseDirectory: URL? = nil) throws -> Tensor {
        try decode(p, baseDirectory: baseDirectory, rawData: nil)
    }

    /// `rawData`: the tensor's raw_data when it was left out of `p` (see `RawDataSplitter`).
    static func decode(_ p: Onnx_TensorProto, baseDirectory: URL?, rawData external: UnsafeRawBufferPointer?) throws -> Tensor {
        let what = p.name.isEmpty ? "tensor" : "tensor '\(p.name)'"
        guard let dtype = DType(rawValue: Int(p.dataType)) else {
            throw OnyxError.invalidModel("\(what) has unsupported data type \(p.dataType)")
        }
        var shape: [Int] = []
        var n = 1
        for d in p.dims {
            guard d >= 0, d < Int64(Int32.max) else { throw OnyxError.invalidModel("\(what) has invalid dimension \(d)") }
            shape.append(Int(d))
            let (m, o) = n.multipliedReportingOverflow(by: Int(d))
            guard !o, m < (1 << 40) else { throw OnyxError.invalidModel("\(what) is too large (dims \(p.dims))") }
            n = m
        }
        if dtype == .string {
            guard p.stringData.count == n else {
                throw OnyxError.invalidModel("\(what): \(p.stringData.count) strings for dims \(shape)")
            }
            return Tensor(dtype: .string, shape: shape,
                          storage: TensorStorage(strings: p.stringData.map { String(decoding: $0, as: UTF8.self) }))
        }
        let nbytes = n * dtype.size
        if p.dataLocation == .external {
            return try loadExternal(p, dtype: dtype, shape: shape, nbytes: nbytes, baseDirectory: baseDirectory, what: what)
        }
        let t = Tensor.uninitialized(dtype, shape: shape)
        if let external {
            guard external.count == nbytes else {
                throw OnyxError.invalidModel("\(what): raw_data has \(external.count) bytes, dims \(shape) of \(dtype) need \(nbytes)")
            }
            if nbytes > 0, let b = external.baseAddress { t.rawPointer.copyMemory(from: b, byteCount: nbytes) }
            return t
        }
        if !p.rawData.isEmpty || p.hasRawDataOnly(dtype) {
            guard p.rawData.count == nbytes else {
                throw OnyxError.invalidModel("\(what): raw_data has \(p.rawData.count) bytes, dims \(shape) of \(dtype) need \(nbytes)")
            }
            p.rawData.withUnsafeBytes { src in
                if nbytes > 0, let b = src.baseAddress { t.rawPointer.copyMemory(from: b, byteCount: nbytes) }
            }
            return t
        }
        func fill<S, D>(_ src: [S], _: D.Type, _ conv: (S) -> D) throws {
            guard src.count == n else {
                throw OnyxError.invalidModel("\(what): \(src.count) values for dims \(shape)")
            }
            let dst = t.rawPointer.bindMemory(to: D.self, capacity: max(n, 1))
            for i in 0..<n { dst[i] = conv(src[i]) }
        }
        switch dtype {
        case .float32: try fill(p.floatData, Float.self) { $0 }
        case .float64: try fill(p.doubleData, Double.self) { $0 }
        case .int64: try fill(p.int64Data, Int64.self) { $0 }
        case .uint64: try fill(p.uint64Data, UInt64.self) { $0 }
        case .uint32: try fill(p.uint64Data, UInt32.self) { UInt32(truncatingIfNeeded: $0) }
        case .int32: try fill(p.int32Data, Int32.self) { $0 }
        case .int16: try fill(p.int32Data, Int16.self) { Int16(truncatingIfNeeded: $0) }
        case .int8: try fill(p.int32Data, Int8.self) { Int8(truncatingIfNeeded: $0) }
        case .uint16, .float16, .bfloat16: try fill(p.int32Data, UInt16.self) { UInt16(truncatingIfNeeded: $0) }
        case .uint8: try fill(p.int32Data, UInt8.self) { UInt8(truncatingIfNeeded: $0) }
        case .bool: try fill(p.int32Data, Bool.self) { $0 != 0 }
        case .string: break
        }
        return t
    }

    static func loadExternal(_ p: Onnx_TensorProto, dtype: DType, shape: [Int], nbytes: Int,
                             baseDirectory: URL?, what: String) throws -> Tensor {
        var location = "", offset = 0, length = -1
        for e in p.externalData {
            switch e.key {
            case "location": location = e.value
            case "offset": offset = Int(e.value) ?? -1
            case "length": length = Int(e.value) ?? -1
            default: break
            }
        }
        guard !location.isEmpty, offset >= 0 else { throw OnyxError.invalidModel("\(what): external data without a valid location/offset") }
        guard let base = baseDirectory else {
            throw OnyxError.invalidModel("\(what) uses external data '\(location)' but the model was not loaded from a file")
        }
        if location.hasPrefix("/") || location.split(separator: "/").contains("..") {
            throw OnyxError.invalidModel("\(what): external data location '\(location)' must stay inside the model's directory")
        }
        let url = base.appendingPathComponent(location)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw OnyxError.invalidModel("\(what): external data file '\(url.path)' is missing")
        }
        let file = try MappedFile(url: url)
        let len = length >= 0 ? length : file.size - offset
        guard len == nbytes else {
            throw OnyxError.invalidModel("\(what): external data length \(len) does not match dims \(shape) of \(dtype) (\(nbytes) bytes)")
        }
        guard offset + len <= file.size else {
            throw OnyxError.invalidModel("\(what): external data [\(offset), \(offset + len)) lies beyond the end of '\(location)' (\(file.size) bytes)")
        }
        // Copy into an aligned buffer (offsets in external files need not be aligned).
        let t = Tensor.uninitialized(dtype, shape: shape)
        if nbytes > 0 { t.rawPointer.copyMemory(from: file.pointer + offset, byteCount: nbytes) }
        return t
    }

    /// Encodes a tensor as a TensorProto with raw_data (strings go to string_data).
    public static func encode(_ t: Tensor, name: String = "") -> Onnx_TensorProto {
        var p = Onnx_TensorProto()
        p.name = name
        p.dataType = Int32(t.dtype.rawValue)
        p.dims = t.shape.map { Int64($0) }
        if t.dtype == .string {
            p.stringData = t.strings.map { Data($0.utf8) }
        } else {
            p.rawData = Data(bytes: t.rawPointer, count: t.byteCount)
        }
        return p
    }

    /// Reads a serialized TensorProto (`input_0.pb`).
    public static func read(_ url: URL) throws -> Tensor {
        let data = try Data(contentsOf: url)
        let p: Onnx_TensorProto
        do { p = try Onnx_TensorProto(serializedBytes: data) } catch {
            throw OnyxError.invalidModel("\(url.lastPathComponent) is not a TensorProto: \(error)")
        }
        return try decode(p, baseDirectory: url.deletingLastPathComponent())
    }

    /// Writes a serialized TensorProto atomically.
    public static func write(_ t: Tensor, to url: URL, name: String = "") throws {
        try encode(t, name: name).serializedData().write(to: url, options: .atomic)
    }
}

extension Onnx_TensorProto {
    /// Empty tensors of numeric types may legitimately have no data at all.
    func hasRawDataOnly(_ d: DType) -> Bool {
        floatData.isEmpty && int32Data.isEmpty && int64Data.isEmpty && doubleData.isEmpty && uint64Data.isEmpty
            && rawData.isEmpty && dims.contains(0)
    }
}

/// A read-only memory-mapped file.
/// Safety of `@unchecked Sendable`: the mapping is read-only and unmapped only in deinit.
final class MappedFile: @unchecked Sendable {
    let pointer: UnsafeRawPointer
    let size: Int
    init(url: URL) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw OnyxError.invalidModel("cannot open '\(url.path)'") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw OnyxError.invalidModel("cannot stat '\(url.path)'") }
        size = Int(st.st_size)
        if size == 0 { pointer = UnsafeRawPointer(bitPattern: 1)!; return }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw OnyxError.invalidModel("cannot map '\(url.path)'")
        }
        pointer = UnsafeRawPointer(p)
    }
    deinit { if size > 0 { munmap(UnsafeMutableRawPointer(mutating: pointer), size) } }

    /// Lets the kernel drop the resident pages wholly inside `[offset, offset + count)`. The mapping is
    /// read-only and private, so this only discards cached file data: a later read loads it again.
    func dropPages(offset: Int, count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0, size > 0 else { return }
        let start = UInt(bitPattern: pointer) + UInt(offset), end = start + UInt(count)
        let a = (start + UInt(page) - 1) / UInt(page) * UInt(page), b = end / UInt(page) * UInt(page)
        if b > a { madvise(UnsafeMutableRawPointer(bitPattern: a), Int(b - a), Int32(MADV_DONTNEED)) }
    }
}
