import Foundation
import OnyxTensor

/// TfIdfVectorizer: counts n-grams (with skips) from a pool and weights them (TF, IDF, TFIDF).
enum TfIdfOps {
    static func register(_ t: inout OperatorTable) {
        t.add("TfIdfVectorizer", since: 9) { try TfIdfVectorizerOp($0) }
    }
}

struct TfIdfVectorizerOp: TensorKernel {
    enum Mode { case tf, idf, tfidf }
    let mode: Mode
    let minGram: Int, maxGram: Int, maxSkip: Int
    let ngramIndexes: [Int]
    let outputSize: Int
    let weights: [Float]
    /// Token ids of the pool (ints or strings); input tokens outside the pool never match.
    let intTokens: [Int64: Int]
    let stringTokens: [String: Int]
    /// Trie over token ids: children per node, and the 1-based n-gram id of each node (0 = none).
    let children: [[Int: Int]]
    let nodeID: [Int]

    init(_ c: NodeContext) throws {
        switch try c.string("mode", "") {
        case "TF": mode = .tf
        case "IDF": mode = .idf
        case "TFIDF": mode = .tfidf
        case let s: throw KernelError("mode '\(s)' is not one of TF, IDF, TFIDF")
        }
        minGram = try c.int("min_gram_length"); maxGram = try c.int("max_gram_length"); maxSkip = try c.int("max_skip_count")
        guard minGram >= 1, maxGram >= minGram, maxSkip >= 0 else {
            throw KernelError("need 1 <= min_gram_length <= max_gram_length and max_skip_count >= 0")
        }
        let counts = try c.ints("ngram_counts") ?? []
        ngramIndexes = try c.ints("ngram_indexes") ?? []
        guard let mx = ngramIndexes.max(), ngramIndexes.allSatisfy({ $0 >= 0 }), mx < 1 << 28 else {
            throw KernelError("ngram_indexes must be a non-empty list of non-negative indices")
        }
        outputSize = mx + 1
        weights = try c.floats("weights") ?? []
        guard weights.isEmpty || weights.count >= outputSize else {
            throw KernelError("weights has \(weights.count) values, expected \(outputSize)")
        }
        // Map the pool to token ids (identical values share an id).
        var pool: [Int] = []
        var it: [Int64: Int] = [:], st: [String: Int] = [:]
        if let ints = try c.ints("pool_int64s") {
            for v in ints { let k = Int64(v); if it[k] == nil { it[k] = it.count }; pool.append(it[k] ?? 0) }
        } else if let strs = try c.strings("pool_strings") {
            for v in strs { if st[v] == nil { st[v] = st.count }; pool.append(st[v] ?? 0) }
        } else { throw KernelError("one of pool_int64s, pool_strings is required") }
        intTokens = it; stringTokens = st
        var ch: [[Int: Int]] = [[:]], ids: [Int] = [0]
        var ngramID = 1, size = 1
        for i in 0..<counts.count {
            let start = counts[i], end = i + 1 < counts.count ? counts[i + 1] : pool.count
            guard start >= 0, end <= pool.count, start <= end else { throw KernelError("ngram_counts \(counts) is inconsistent with the pool size \(pool.count)") }
            let items = end - start
            if items > 0 {
                let ngrams = items / size
                if size >= minGram && size <= maxGram {
                    var p = start
                    for _ in 0..<ngrams {
                        var node = 0
                        for n in 1...size {
                            let tok = pool[p]
                            var next = ch[node][tok] ?? -1
                            if next < 0 { next = ch.count; ch.append([:]); ids.append(0); ch[node][tok] = next }
                            p += 1
                            if n == size { ids[next] = ngramID; ngramID += 1 }
                            node = next
                        }
                    }
                } else { ngramID += ngrams }
            }
            size += 1
        }
        guard ngramID - 1 <= ngramIndexes.count else {
            throw KernelError("ngram_indexes has \(ngramIndexes.count) entries for \(ngramID - 1) n-grams")
        }
        children = ch; nodeID = ids
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let tokens: [Int]
        switch x.dtype {
        case .string: tokens = x.strings.map { stringTokens[$0] ?? -1 }
        case .int64, .int32: tokens = x.int64Values().map { intTokens[$0] ?? -1 }
        default: throw KernelError("input 'X' must be string, int32 or int64, got \(x.dtype)")
        }
        let rows: Int, cols: Int, outShape: [Int]
        switch x.rank {
        case 0: rows = 1; cols = 1; outShape = [outputSize]
        case 1: rows = 1; cols = x.shape[0]; outShape = [outputSize]
        case 2:
            rows = x.shape[0]; cols = x.shape[1]; outShape = [rows, outputSize]
            guard rows >= 1 else { throw KernelError("input 'X' with shape [B, C] needs B > 0") }
        default: throw KernelError("input 'X' must have shape [C] or [B, C], got \(x.shape)")
        }
        var freq = [Int](repeating: 0, count: rows * outputSize)
        for r in 0..<rows where cols > 0 {
            let row = r * cols
            var startSize = minGram
            for skip in 1...(maxSkip + 1) {
                var s = 0
                while s < cols {
                    if s + skip * (startSize - 1) >= cols { break }
                    var item = s, node = 0, n = 1
                    while !children[node].isEmpty, n <= maxGram, item < cols {
                        guard let next = children[node][tokens[row + item]] else { break }
                        let id = nodeID[next]
                        if n >= startSize && id != 0 { freq[r * outputSize + ngramIndexes[id - 1]] += 1 }
                        node = next; n += 1; item += skip
                    }
                    s += 1
                }
                if startSize == 1 {
                    startSize += 1
                    if startSize > maxGram { break }
                }
            }
        }
        var y = [Float](repeating: 0, count: freq.count)
        for p in 0..<freq.count {
            let f = freq[p], w = weights.isEmpty ? nil : weights[p % outputSize]
            switch mode {
            case .tf: y[p] = Float(f)
            case .idf: y[p] = f > 0 ? (w ?? 1) : 0
            case .tfidf: y[p] = Float(f) * (w ?? 1)
            }
        }
        return [qmTensor(outShape, y)]
    }
}
