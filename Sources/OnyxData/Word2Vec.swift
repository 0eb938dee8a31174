// Word vectors: tokenizer, vocabulary, embeddings with the word2vec text/binary formats, neighbours, analogies and
// (TF-IDF-weighted) document vectors. Training (skip-gram with negative sampling) is in Word2VecTrain.swift.
import Foundation

/// A Unicode-aware tokenizer: a token is a run of letters/digits (any script), with inner apostrophes and hyphens
/// kept ("don't", "well-known"); everything else separates tokens. Punctuation can be kept as one-character tokens.
public struct Tokenizer: Sendable {
    public var lowercase = true
    public var keepPunctuation = false
    public init(lowercase: Bool = true, keepPunctuation: Bool = false) {
        self.lowercase = lowercase; self.keepPunctuation = keepPunctuation
    }

    public func tokens(_ text: String) -> [String] {
        var out: [String] = []
        var cur = String.UnicodeScalarView()
        var pendingJoiner: Unicode.Scalar?
        func flush() {
            if !cur.isEmpty { let s = String(cur); out.append(lowercase ? s.lowercased() : s); cur = .init() }
        }
        for u in text.unicodeScalars {
            let p = u.properties
            if p.isAlphabetic || p.numericType != nil || p.generalCategory == .nonspacingMark {
                if let j = pendingJoiner { cur.append(j); pendingJoiner = nil }
                cur.append(u)
            } else if (u == "'" || u == "\u{2019}" || u == "-") && !cur.isEmpty && pendingJoiner == nil {
                pendingJoiner = u == "\u{2019}" ? "'" : u
            } else {
                flush()
                if let j = pendingJoiner, keepPunctuation { out.append(String(j)) }
                pendingJoiner = nil
                if keepPunctuation && (p.generalCategory.isPunctuation || p.generalCategory.isSymbol) {
                    out.append(String(u))
                }
            }
        }
        flush()
        if let j = pendingJoiner, keepPunctuation { out.append(String(j)) }
        return out
    }
}

extension Unicode.GeneralCategory {
    var isPunctuation: Bool {
        switch self {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }
    var isSymbol: Bool {
        switch self {
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol: return true
        default: return false
        }
    }
}

/// Words with their counts, most frequent first (ties by word), after min count and max size.
public struct Vocabulary: Sendable {
    public private(set) var words: [String] = []
    public private(set) var counts: [Int] = []
    public private(set) var index: [String: Int] = [:]

    public init(counting tokens: [String], minCount: Int = 5, maxSize: Int? = nil) {
        var c: [String: Int] = [:]
        for t in tokens { c[t, default: 0] += 1 }
        self.init(counts: c, minCount: minCount, maxSize: maxSize)
    }
    public init(counts c: [String: Int], minCount: Int = 5, maxSize: Int? = nil) {
        var pairs = c.filter { $0.value >= minCount }.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        if let m = maxSize, pairs.count > m { pairs.removeLast(pairs.count - m) }
        words = pairs.map(\.key); counts = pairs.map(\.value)
        for (i, w) in words.enumerated() { index[w] = i }
    }
    public var count: Int { words.count }
    public var totalCount: Int { counts.reduce(0, +) }
    /// Token ids; out-of-vocabulary tokens are dropped.
    public func encode(_ tokens: [String]) -> [Int32] { tokens.compactMap { index[$0].map(Int32.init) } }
}

/// Word embeddings: `vectors` is row-major `count × dim`.
public struct WordVectors: Sendable {
    public let words: [String]
    public let dim: Int
    public var vectors: [Float]
    public let index: [String: Int]

    public init(words: [String], dim: Int, vectors: [Float]) throws {
        guard dim > 0, vectors.count == words.count * dim else {
            throw DataError(file: "word vectors", "expected \(words.count) × \(dim) values, got \(vectors.count)")
        }
        self.words = words; self.dim = dim; self.vectors = vectors
        var ix: [String: Int] = [:]
        for (i, w) in words.enumerated() where ix[w] == nil { ix[w] = i }
        index = ix
    }
    public var count: Int { words.count }
    public func vector(_ word: String) -> [Float]? {
        guard let i = index[word] else { return nil }
        return Array(vectors[i * dim ..< (i + 1) * dim])
    }

    // MARK: queries

    /// Unit-length rows (zero rows stay zero).
    func normalizedRows() -> [Float] {
        var n = vectors
        for r in 0 ..< count {
            var s: Float = 0
            for j in 0 ..< dim { s += n[r * dim + j] * n[r * dim + j] }
            if s > 0 { let inv = 1 / s.squareRoot(); for j in 0 ..< dim { n[r * dim + j] *= inv } }
        }
        return n
    }

    /// The k words whose vectors have the highest cosine similarity to `query`, skipping `exclude`.
    public func nearest(to query: [Float], k: Int = 10, exclude: Set<String> = []) -> [(word: String, score: Float)] {
        guard query.count == dim, k > 0 else { return [] }
        let q = unit(query)
        let n = normalizedRows()
        var best: [(word: String, score: Float)] = []
        for r in 0 ..< count where !exclude.contains(words[r]) {
            var s: Float = 0
            for j in 0 ..< dim { s += n[r * dim + j] * q[j] }
            if best.count < k || s > best[best.count - 1].score {
                let pos = best.firstIndex { s > $0.score } ?? best.count
                best.insert((words[r], s), at: pos)
                if best.count > k { best.removeLast() }
            }
        }
        return best
    }

    public func neighbors(of word: String, k: Int = 10) throws -> [(word: String, score: Float)] {
        guard let v = vector(word) else { throw DataError(file: "word vectors", "'\(word)' is not in the vocabulary") }
        return nearest(to: v, k: k, exclude: [word])
    }

    /// a is to b as c is to ?: nearest to unit(b) − unit(a) + unit(c) (3CosAdd, as word2vec's analogy tool).
    public func analogy(_ a: String, _ b: String, _ c: String, k: Int = 10) throws -> [(word: String, score: Float)] {
        var q = [Float](repeating: 0, count: dim)
        for (w, sign) in [(a, Float(-1)), (b, 1), (c, 1)] {
            guard let v = vector(w) else { throw DataError(file: "word vectors", "'\(w)' is not in the vocabulary") }
            let u = unit(v)
            for j in 0 ..< dim { q[j] += sign * u[j] }
        }
        return nearest(to: q, k: k, exclude: [a, b, c])
    }

    func unit(_ v: [Float]) -> [Float] {
        let s = v.reduce(0) { $0 + $1 * $1 }
        return s > 0 ? v.map { $0 / s.squareRoot() } : v
    }

    /// A document's vector: the average of its in-vocabulary tokens' vectors, weighted by `weights` (e.g. IDF) when
    /// given. Zero vector if no token is known.
    public func documentVector(_ tokens: [String], weights: [String: Float]? = nil) -> [Float] {
        var out = [Float](repeating: 0, count: dim)
        var total: Float = 0
        for t in tokens {
            guard let i = index[t] else { continue }
            let w = weights.map { $0[t] ?? 0 } ?? 1
            if w == 0 { continue }
            total += w
            for j in 0 ..< dim { out[j] += w * vectors[i * dim + j] }
        }
        if total > 0 { for j in 0 ..< dim { out[j] /= total } }
        return out
    }

    /// TF-IDF-weighted averages: each token occurrence weighs idf(t) = ln((1 + N) / (1 + df(t))) + 1 (scikit-learn's
    /// smooth IDF), so the term frequency comes from repeated occurrences. Returns `documents.count × dim` rows.
    public func documentVectors(_ documents: [[String]], tfidf: Bool = true) -> [[Float]] {
        guard tfidf else { return documents.map { documentVector($0) } }
        var df: [String: Int] = [:]
        for d in documents { for t in Set(d) { df[t, default: 0] += 1 } }
        let n = Float(documents.count)
        var idf: [String: Float] = [:]
        for (t, c) in df { idf[t] = Float(Foundation.log(Double((1 + n) / (1 + Float(c))))) + 1 }
        return documents.map { documentVector($0, weights: idf) }
    }
}
