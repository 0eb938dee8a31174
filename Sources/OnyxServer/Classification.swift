import Foundation
import Onyx

/// Triton's classification extension: an output requested with `"parameters": {"classification": K}` (HTTP) or
/// the `classification` int64 parameter (gRPC) comes back as a BYTES tensor of the K highest-valued entries,
/// `[batch, K]` for a batching model (per row) and `[K]` otherwise, each `"<value>:<index>"` or
/// `"<value>:<index>:<label>"` with the label from the output's `label_filename` (line `index` of the file).
/// Entries are compared as the output's datatype; equal values keep index order. Floating-point values print
/// like C's `%f` (as Triton's `std::to_string`), integers in full.
enum Classification {
    static func topK(_ t: Tensor, count: Int, batched: Bool, labels: [String], output: String) throws -> Tensor {
        guard count > 0 else { throw ServeError.bad("output '\(output)': classification count must be positive, got \(count)") }
        let isFloat: Bool
        switch t.dtype {
        case .float16, .bfloat16, .float32, .float64: isFloat = true
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64: isFloat = false
        default: throw ServeError.bad("output '\(output)': classification needs a numeric output, it is \(V2DataType.name(t.dtype))")
        }
        let rows = batched && t.rank >= 1 ? t.shape[0] : 1
        let n = rows == 0 ? 0 : t.count / rows
        let k = Swift.min(count, n)
        var out: [String] = []
        out.reserveCapacity(rows * k)
        var idx = [Int](repeating: 0, count: n)
        for r in 0..<rows {
            let base = r * n
            if isFloat {
                let v = (0..<n).map { t.doubleValue(at: base + $0) }
                for i in 0..<n { idx[i] = i }
                // Descending; NaN last; ties keep index order.
                idx.sort { a, b in
                    let x = v[a], y = v[b]
                    if x.isNaN || y.isNaN { return !x.isNaN && y.isNaN || (x.isNaN == y.isNaN && a < b) }
                    return x > y || (x == y && a < b)
                }
                for j in idx.prefix(k) { out.append(entry(String(format: "%f", v[j]), j, labels)) }
            } else {
                let v = (0..<n).map { integer(t, base + $0) }
                for i in 0..<n { idx[i] = i }
                idx.sort { a, b in v[a] > v[b] || (v[a] == v[b] && a < b) }
                for j in idx.prefix(k) {
                    let text = t.dtype == .uint64 ? UInt64(bitPattern: v[j] ^ Int64.min).description : v[j].description
                    out.append(entry(text, j, labels))
                }
            }
        }
        return try Tensor(shape: batched ? [rows, k] : [k], values: out)
    }

    static func entry(_ value: String, _ index: Int, _ labels: [String]) -> String {
        index < labels.count && !labels[index].isEmpty ? "\(value):\(index):\(labels[index])" : "\(value):\(index)"
    }

    /// An integer element as an order-preserving Int64 (UInt64 is offset by 2^63, undone when printed).
    static func integer(_ t: Tensor, _ i: Int) -> Int64 {
        let p = t.storage.pointer + (t.offset + i) * t.dtype.size
        switch t.dtype {
        case .int8: return Int64(p.load(as: Int8.self))
        case .int16: return Int64(p.load(as: Int16.self))
        case .int32: return Int64(p.load(as: Int32.self))
        case .int64: return p.load(as: Int64.self)
        case .uint8: return Int64(p.load(as: UInt8.self))
        case .uint16: return Int64(p.load(as: UInt16.self))
        case .uint32: return Int64(p.load(as: UInt32.self))
        case .uint64: return Int64(bitPattern: p.load(as: UInt64.self)) ^ Int64.min
        default: return 0
        }
    }
}
