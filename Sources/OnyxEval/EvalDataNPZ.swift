// Evaluation data from one numpy .npz archive holding the features and the labels (`np.savez(path, x=X, y=y)`):
// the archive's stored (uncompressed) members are located through the zip central directory and decoded as .npy.
import Foundation
import OnyxTensor

extension EvalData {
    /// Features and labels from the members `features` (default "x") and `labels` (default "y") of an .npz file
    /// written by `np.savez` (stored members; `np.savez_compressed` archives are an error asking for `np.savez`).
    /// Member arrays are read as by `EvalData.npy(path:labels:)`.
    public static func npz(path: String, features: String = "x", labels: String = "y") throws -> EvalData {
        guard let data = FileManager.default.contents(atPath: path) else { throw EvalError("\(path): cannot read file") }
        let members = try zipMembers(data, path: path)
        func member(_ name: String) throws -> Data {
            guard let m = members[name + ".npy"] ?? members[name] else {
                throw EvalError("\(path): no array '\(name)' (arrays: \(members.keys.sorted().map { $0.hasSuffix(".npy") ? String($0.dropLast(4)) : $0 }.joined(separator: ", "))); write it with np.savez(path, x=X, y=y)")
            }
            return m
        }
        let x: Tensor, y: Tensor
        do { x = try NPY.decode(try member(features)) } catch let e as EvalError { throw e } catch { throw EvalError("\(path): array '\(features)': \(error)") }
        do { y = try NPY.decode(try member(labels)) } catch let e as EvalError { throw e } catch { throw EvalError("\(path): array '\(labels)': \(error)") }
        return try EvalData.arrays(x, y, path: path, labelName: labels)
    }

    /// The stored members of a zip archive by name (bytes of each member's data).
    static func zipMembers(_ d: Data, path: String) throws -> [String: Data] {
        let bytes = [UInt8](d)
        let n = bytes.count
        func u16(_ o: Int) -> Int { o + 2 <= n ? Int(bytes[o]) | Int(bytes[o + 1]) << 8 : -1 }
        func u32(_ o: Int) -> Int { o + 4 <= n ? u16(o) | u16(o + 2) << 16 : -1 }
        // Values from the file are bounded before any arithmetic on them (offsets < n), so nothing can overflow.
        func u64(_ o: Int) -> Int { o + 8 <= n && u32(o + 4) < 1 << 30 ? u32(o) | u32(o + 4) << 32 : -1 }
        let bad = EvalError("\(path): not an .npz (zip) archive")
        // End of central directory: signature 0x06054b50 within the last 65,557 bytes.
        var eocd = -1
        var o = n - 22
        while o >= max(0, n - 65_557) {
            if u32(o) == 0x0605_4B50 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw bad }
        let entries = u16(eocd + 10)
        var p = u32(eocd + 16)
        var out = [String: Data]()
        for _ in 0..<max(0, entries) {
            guard p >= 0, u32(p) == 0x0201_4B50 else { throw bad }
            let method = u16(p + 10)
            var size = u32(p + 20), usize = u32(p + 24)
            let nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32)
            var local = u32(p + 42)
            guard nameLen >= 0, extraLen >= 0, commentLen >= 0, p + 46 + nameLen + extraLen <= n else { throw bad }
            let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLen)], as: UTF8.self)
            // Zip64 extra field (id 1): the 64-bit values of the fields that are 0xFFFFFFFF, in this order.
            var e = p + 46 + nameLen
            let eEnd = e + extraLen
            while e + 4 <= eEnd {
                let id = u16(e), len = u16(e + 2)
                if id == 1 {
                    var q = e + 4
                    if usize == 0xFFFF_FFFF { usize = u64(q); q += 8 }
                    if size == 0xFFFF_FFFF { size = u64(q); q += 8 }
                    if local == 0xFFFF_FFFF { local = u64(q) }
                }
                e += 4 + max(0, len)
            }
            p = eEnd + commentLen
            guard method == 0 else {
                throw EvalError("\(path): member '\(name)' is compressed (np.savez_compressed); write the arrays with np.savez")
            }
            guard size >= 0, local >= 0, local < n, u32(local) == 0x0403_4B50 else { throw bad }
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            guard u16(local + 26) >= 0, u16(local + 28) >= 0, start >= 0, start <= n, size <= n - start else { throw bad }
            out[name] = Data(bytes[start..<(start + size)])
        }
        return out
    }
}
