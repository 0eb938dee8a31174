// The word2vec file formats (as written by the original C tool and gensim's save_word2vec_format):
//   text:   "COUNT DIM\n" then per word "WORD v1 v2 … vDIM\n"
//   binary: "COUNT DIM\n" then per word "WORD " + DIM little-endian float32 + "\n"
// Loading checks every count and length against the header and throws a DataError naming the file and line/entry.
import Foundation

extension WordVectors {
    public func textFormat() -> Data {
        var s = "\(count) \(dim)\n"
        for r in 0 ..< count {
            s += words[r]
            for j in 0 ..< dim { s += " "; s += "\(vectors[r * dim + j])" }
            s += "\n"
        }
        return Data(s.utf8)
    }

    public func binaryFormat() -> Data {
        var d = Data("\(count) \(dim)\n".utf8)
        d.reserveCapacity(d.count + count * (dim * 4 + 16))
        for r in 0 ..< count {
            d.append(contentsOf: Array(words[r].utf8)); d.append(0x20)
            vectors.withUnsafeBufferPointer { p in
                for j in 0 ..< dim { withUnsafeBytes(of: p[r * dim + j].bitPattern.littleEndian) { d.append(contentsOf: $0) } }
            }
            d.append(0x0A)
        }
        return d
    }

    /// Writes the text format for a `.txt`/`.vec` path, the binary one otherwise (or as `binary` says); temp + rename.
    public func save(to path: String, binary: Bool? = nil) throws {
        let bin = binary ?? !(path.hasSuffix(".txt") || path.hasSuffix(".vec"))
        let tmp = path + ".tmp-\(getpid())"
        do {
            try (bin ? binaryFormat() : textFormat()).write(to: URL(fileURLWithPath: tmp))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: tmp, toPath: path)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw DataError(file: path, "cannot write: \(error.localizedDescription)")
        }
    }

    /// Loads either format; binary is detected from the bytes after the header unless `binary` says.
    public static func load(path: String, binary: Bool? = nil) throws -> WordVectors {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError(file: path, "cannot read file") }
        return try parse(data, name: path, binary: binary)
    }

    public static func parse(_ data: Data, name: String = "vectors", binary: Bool? = nil) throws -> WordVectors {
        let bytes = [UInt8](data)
        guard let nl = bytes.firstIndex(of: 0x0A) else { throw DataError(file: name, line: 1, "missing header 'COUNT DIM'") }
        let header = String(decoding: bytes[..<nl], as: UTF8.self).split(separator: " ")
        guard header.count == 2, let n = Int(header[0]), let dim = Int(header[1]), n >= 0, dim > 0, dim <= 1 << 20 else {
            throw DataError(file: name, line: 1, "bad header, expected 'COUNT DIM'")
        }
        let isBinary = binary ?? looksBinary(bytes, from: nl + 1, dim: dim)
        return isBinary ? try parseBinary(bytes, from: nl + 1, n: n, dim: dim, name: name)
                        : try parseText(bytes, from: nl + 1, n: n, dim: dim, name: name)
    }

    /// Text files have no control bytes other than newline/tab/CR in their first vector rows.
    static func looksBinary(_ b: [UInt8], from: Int, dim: Int) -> Bool {
        let end = min(b.count, from + 4 * dim + 256)
        for i in from ..< end where b[i] < 0x20 && b[i] != 0x0A && b[i] != 0x09 && b[i] != 0x0D { return true }
        return false
    }

    static func parseText(_ b: [UInt8], from: Int, n: Int, dim: Int, name: String) throws -> WordVectors {
        var words: [String] = []; words.reserveCapacity(n)
        var vecs: [Float] = []; vecs.reserveCapacity(min(n * dim, 1 << 26))
        var line = 1
        for raw in b[from...].split(separator: 0x0A, omittingEmptySubsequences: false) {
            line += 1
            let fields = raw.split(whereSeparator: { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 })
            if fields.isEmpty { continue }
            guard words.count < n else { throw DataError(file: name, line: line, "more rows than the header's \(n)") }
            guard fields.count == dim + 1 else {
                throw DataError(file: name, line: line, "expected a word and \(dim) values, got \(fields.count) fields")
            }
            words.append(String(decoding: fields[0], as: UTF8.self))
            for (k, f) in fields.dropFirst().enumerated() {
                guard let v = Float(String(decoding: f, as: UTF8.self)) else {
                    throw DataError(file: name, line: line, column: k + 2, "not a number")
                }
                vecs.append(v)
            }
        }
        guard words.count == n else { throw DataError(file: name, "header says \(n) words, found \(words.count)") }
        return try WordVectors(words: words, dim: dim, vectors: vecs)
    }

    static func parseBinary(_ b: [UInt8], from: Int, n: Int, dim: Int, name: String) throws -> WordVectors {
        var words: [String] = []; words.reserveCapacity(n)
        var vecs = [Float](repeating: 0, count: 0); vecs.reserveCapacity(min(n * dim, 1 << 26))
        var p = from
        for e in 0 ..< n {
            while p < b.count && (b[p] == 0x0A || b[p] == 0x0D) { p += 1 }
            let start = p
            while p < b.count && b[p] != 0x20 { p += 1 }
            guard p < b.count, p > start else { throw DataError(file: name, "entry \(e + 1): truncated word") }
            words.append(String(decoding: b[start ..< p], as: UTF8.self))
            p += 1
            guard b.count - p >= 4 * dim else { throw DataError(file: name, "entry \(e + 1): truncated vector") }
            for j in 0 ..< dim {
                let q = p + 4 * j
                let bits = UInt32(b[q]) | UInt32(b[q + 1]) << 8 | UInt32(b[q + 2]) << 16 | UInt32(b[q + 3]) << 24
                vecs.append(Float(bitPattern: bits))
            }
            p += 4 * dim
        }
        return try WordVectors(words: words, dim: dim, vectors: vecs)
    }
}
