// Word vectors: formats against files written by gensim 4.4 (scripts/make_word2vec_fixtures.py, Fixtures/word2vec),
// and training on the committed public-domain corpus (King James Bible, Fixtures/word2vec/kjv.txt).
import Foundation
import Onyx
import Testing

private func w2vPath(_ name: String) -> String { Fixtures.path("word2vec/" + name) }

private struct GensimReference: Decodable {
    let words: [String]
    let vectors: [[Float]]
    let neighbors_king: [String]
    let analogy_man_king_woman: [String]
}

private func gensimReference() throws -> GensimReference {
    let data = try Data(contentsOf: URL(fileURLWithPath: w2vPath("gensim.json")))
    return try JSONDecoder().decode(GensimReference.self, from: data)
}

@Suite struct Word2VecTests {
    @Test func loadsGensimTextAndBinary() throws {
        let ref = try gensimReference()
        for (file, tol) in [("gensim.txt", Float(1e-6)), ("gensim.bin", Float(0))] {
            let v = try WordVectors.load(path: w2vPath(file))
            #expect(v.words == ref.words, "\(file)")
            #expect(v.dim == 6)
            for (i, row) in ref.vectors.enumerated() {
                for j in 0 ..< 6 {
                    let a = v.vectors[i * 6 + j], b = row[j]
                    #expect(abs(a - b) <= tol * max(1, abs(b)), "\(file) \(ref.words[i])[\(j)]: \(a) vs \(b)")
                }
            }
            #expect(try v.neighbors(of: "king", k: 3).map(\.word) == ref.neighbors_king)
            #expect(try v.analogy("man", "king", "woman", k: 3).map(\.word) == ref.analogy_man_king_woman)
        }
    }

    @Test func saveLoadRoundTrips() throws {
        let v = try WordVectors.load(path: w2vPath("gensim.bin"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("w2v-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["v.bin", "v.txt"] {
            let p = dir.appendingPathComponent(name).path
            try v.save(to: p)
            let back = try WordVectors.load(path: p)
            #expect(back.words == v.words && back.vectors == v.vectors, "\(name)")
        }
        // Our binary file has gensim's layout (gensim omits the newline after each vector; the C tool writes one).
        let ours = [UInt8](v.binaryFormat())
        let header = Array("10 6\nthe ".utf8)
        #expect(Array(ours.prefix(header.count)) == header)
        #expect(ours.count == 5 + v.words.reduce(0) { $0 + $1.utf8.count + 1 + 24 + 1 })
        // Truncated or inconsistent files are errors, not traps.
        #expect(throws: DataError.self) { try WordVectors.parse(Data(ours.prefix(40)), binary: true) }
        #expect(throws: DataError.self) { try WordVectors.parse(Data("2 3\na 1 2 3\nb 1 2\n".utf8)) }
        #expect(throws: DataError.self) { try WordVectors.parse(Data("x\n".utf8)) }
    }

    @Test func tokenizer() {
        let text = "Don’t stop—the Café's NAÏVE über-cool 42 times! Ελληνικά, 東京."
        #expect(Tokenizer().tokens(text) == ["don't", "stop", "the", "café's", "naïve", "über-cool", "42", "times",
                                             "ελληνικά", "東京"])
        #expect(Tokenizer(lowercase: false, keepPunctuation: true).tokens("Hi, you -- there!")
                == ["Hi", ",", "you", "-", "-", "there", "!"])
        let vocab = Vocabulary(counting: ["a", "b", "a", "c", "b", "a", "d"], minCount: 2)
        #expect(vocab.words == ["a", "b"] && vocab.counts == [3, 2])
        #expect(Vocabulary(counting: ["a", "b", "a", "c", "b", "a"], minCount: 1, maxSize: 2).words == ["a", "b"])
    }

    @Test func documentVectors() throws {
        let v = try WordVectors(words: ["a", "b", "c"], dim: 2, vectors: [1, 0, 0, 1, 1, 1])
        #expect(v.documentVector(["a", "b", "zzz"]) == [0.5, 0.5])
        // "a" is in both documents (idf = ln(3/3) + 1 = 1), "b" in one (idf = ln(3/2) + 1).
        let docs = v.documentVectors([["a", "b"], ["a", "c"]])
        let idfB = Float(log(1.5) + 1)
        #expect(abs(docs[0][0] - 1 / (1 + idfB)) < 1e-6 && abs(docs[0][1] - idfB / (1 + idfB)) < 1e-6)
    }

    /// Trains on the first part of the corpus (debug builds are slow) and checks neighbours of frequent words.
    @Test func trainsSensibleNeighbours() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: w2vPath("kjv.txt")))
        let text = String(decoding: data.prefix(1_500_000), as: UTF8.self)
        let tokens = Tokenizer().tokens(text)
        var o = Word2VecOptions()
        o.dim = 50; o.window = 5; o.negative = 5; o.minCount = 5; o.epochs = 5; o.threads = 1; o.seed = 3  // one thread: deterministic
        let (v, wps) = try Word2Vec.train(tokens: tokens, options: o)
        print("word2vec test: \(tokens.count) tokens, \(v.count) words, \(Int(wps)) words/s")
        // Each frequent word must have at least one word of the same kind among its 10 nearest neighbours
        // (a small model trained for seconds does not always rank the exact counterpart, e.g. he~she, first).
        let related: [(String, Set<String>)] = [
            ("he", ["she", "him", "himself", "they"]),
            ("his", ["her", "my", "thy", "their", "our", "your"]),
            ("sons", ["daughters", "children", "brethren", "sons'"]),
        ]
        for (w, expected) in related {
            let near = try v.neighbors(of: w, k: 10).map(\.word)
            #expect(!expected.isDisjoint(with: near), "\(w): \(near)")
        }
    }
}
