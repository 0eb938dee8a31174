// `onyx data word2vec train | neighbors | analogy`: argument parsing and printing; the work is in OnyxData.
import ArgumentParser
import Foundation
import Onyx

struct DataWord2Vec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "word2vec", abstract: "Train word vectors (skip-gram, negative sampling); query neighbours and analogies.",
        discussion: """
            Example: onyx data word2vec train corpus.txt -o vectors.bin --dim 100 --epochs 5
                     onyx data word2vec neighbors vectors.bin king -k 10
                     onyx data word2vec analogy vectors.bin man king woman
            """,
        subcommands: [Word2VecTrainCommand.self, Word2VecNeighbors.self, Word2VecAnalogy.self])
}

struct Word2VecTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train skip-gram word vectors on a UTF-8 text file, on all cores.",
        discussion: """
            Text is tokenized (Unicode letters/digits, lowercased unless --keep-case). The output is the word2vec \
            binary format, or the text format for a .txt/.vec path (or with --text).
            Example: onyx data word2vec train corpus.txt -o vectors.bin --dim 100 --window 5 --min-count 5 --epochs 5
            """)
    @Argument(help: "UTF-8 text file.") var input: String
    @Option(name: .shortAndLong, help: "Output vectors file.") var output: String
    @Option(help: "Vector size.") var dim: Int = 100
    @Option(help: "Maximum context distance.") var window: Int = 5
    @Option(help: "Negative samples per pair.") var negative: Int = 5
    @Option(name: .customLong("min-count"), help: "Ignore words rarer than this.") var minCount: Int = 5
    @Option(name: .customLong("max-vocab"), help: "Keep at most this many words (most frequent).") var maxVocab: Int?
    @Option(help: "Passes over the text.") var epochs: Int = 5
    @Option(help: "Initial learning rate.") var alpha: Float = 0.025
    @Option(help: "Subsampling threshold for frequent words (0 = off).") var sample: Double = 1e-3
    @Option(help: "Training threads (default: all cores).") var threads: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Flag(name: .customLong("keep-case"), help: "Do not lowercase.") var keepCase = false
    @Flag(name: .customLong("punctuation"), help: "Keep punctuation marks as tokens.") var punctuation = false
    @Flag(help: "Write the text format.") var text = false

    func run() throws { guarded { try train() } }

    func train() throws {
        guard let data = FileManager.default.contents(atPath: input) else { throw DataError(file: input, "cannot read file") }
        let tokenizer = Tokenizer(lowercase: !keepCase, keepPunctuation: punctuation)
        let tokens: [String] = tokenizer.tokens(String(decoding: data, as: UTF8.self))
        var o = Word2VecOptions()
        o.dim = dim; o.window = window; o.negative = negative; o.minCount = minCount; o.maxVocabulary = maxVocab
        o.epochs = epochs; o.alpha = alpha; o.sample = sample; o.seed = seed
        if let threads { o.threads = threads }
        let tty = isatty(2) == 1
        let show: Word2VecProgress = { done, total, wps in
            let pct = total > 0 ? 100 * done / total : 100
            FileHandle.standardError.write(Data("\rword2vec \(pct)%  \(Int(wps)) words/s\u{1B}[K".utf8))
        }
        let result = try Word2Vec.train(tokens: tokens, options: o, progress: tty ? show : nil)
        if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let vectors: WordVectors = result.vectors
        try vectors.save(to: output, binary: text ? false : nil)
        print("wrote \(output): \(vectors.count) words × \(vectors.dim) from \(tokens.count) tokens, \(Int(result.wordsPerSecond)) words/s")
    }
}

struct Word2VecNeighbors: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neighbors", abstract: "The words nearest to a word (cosine similarity).",
        discussion: "Example: onyx data word2vec neighbors vectors.bin king -k 10")
    @Argument(help: "Vectors file (word2vec text or binary format).") var vectors: String
    @Argument(help: "The word.") var word: String
    @Option(name: .short, help: "How many neighbours.") var k: Int = 10
    func run() throws {
        guarded {
            let v = try WordVectors.load(path: vectors)
            for (w, s) in try v.neighbors(of: word, k: k) { print("\(w)\t" + String(format: "%.4f", s)) }
        }
    }
}

struct Word2VecAnalogy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analogy", abstract: "A is to B as C is to ?: nearest words to B − A + C.",
        discussion: "Example: onyx data word2vec analogy vectors.bin man king woman")
    @Argument(help: "Vectors file (word2vec text or binary format).") var vectors: String
    @Argument(help: "A.") var a: String
    @Argument(help: "B.") var b: String
    @Argument(help: "C.") var c: String
    @Option(name: .short, help: "How many answers.") var k: Int = 10
    func run() throws {
        guarded {
            let v = try WordVectors.load(path: vectors)
            for (w, s) in try v.analogy(a, b, c, k: k) { print("\(w)\t" + String(format: "%.4f", s)) }
        }
    }
}
