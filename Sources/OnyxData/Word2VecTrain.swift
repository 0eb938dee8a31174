// word2vec skip-gram with negative sampling (Mikolov et al. 2013, following the reference C tool): unigram^0.75
// negative table, subsampling of frequent words, learning rate decaying linearly to alpha·1e-4, Hogwild-style
// lock-free threads over disjoint ranges of the corpus.
import Foundation
import OnyxTensor

public struct Word2VecOptions: Sendable {
    public var dim = 100
    public var window = 5
    public var negative = 5
    public var minCount = 5
    public var maxVocabulary: Int? = nil
    public var epochs = 5
    public var alpha: Float = 0.025
    /// Subsampling threshold (0 disables): a word of frequency f is kept with probability (√(f/t) + 1)·t/f.
    public var sample: Double = 1e-3
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var seed: UInt64 = 1
    public init() {}
}

/// Shared weight matrices written by all training threads without locks (Hogwild!, Recht et al. 2011).
/// @unchecked Sendable: the race is deliberate and benign. Threads work on disjoint corpus ranges but may update the
/// same rows of `syn0`/`syn1` concurrently; a lost or torn Float update only perturbs one SGD step (as in the
/// reference word2vec C tool). The buffers are allocated before the threads start, never resized, and freed only
/// after every thread has joined, so no access is out of bounds or after free.
struct SharedWeights: @unchecked Sendable {
    let syn0: UnsafeMutablePointer<Float>
    let syn1: UnsafeMutablePointer<Float>
}

/// Progress while training: words processed so far (summed over epochs and threads), the total, words/s.
public typealias Word2VecProgress = @Sendable (_ done: Int, _ total: Int, _ wordsPerSecond: Double) -> Void

public enum Word2Vec {
    /// Trains on a token stream (e.g. `Tokenizer().tokens(text)`). Returns vectors for the vocabulary, most frequent
    /// word first, and the measured training speed in words/s.
    public static func train(tokens: [String], options o: Word2VecOptions = .init(),
                             progress: Word2VecProgress? = nil) throws -> (vectors: WordVectors, wordsPerSecond: Double) {
        guard o.dim > 0, o.window > 0, o.negative >= 0, o.epochs > 0, o.threads > 0 else {
            throw DataError(file: "word2vec", "dim, window, epochs and threads must be positive, negative ≥ 0")
        }
        let vocab = Vocabulary(counting: tokens, minCount: o.minCount, maxSize: o.maxVocabulary)
        guard vocab.count > 1 else { throw DataError(file: "word2vec", "vocabulary has \(vocab.count) words after min count \(o.minCount)") }
        let ids = vocab.encode(tokens)
        let v = vocab.count, dim = o.dim

        // Negative-sampling table: word i fills a share of slots proportional to count^0.75.
        let tableSize = max(1_000_000, min(10_000_000, v * 100))
        var table = [Int32](repeating: 0, count: tableSize)
        let pows = vocab.counts.map { Foundation.pow(Double($0), 0.75) }
        let powSum = pows.reduce(0, +)
        var w = 0, acc = pows[0] / powSum
        for a in 0 ..< tableSize {
            table[a] = Int32(w)
            if Double(a) / Double(tableSize) > acc && w < v - 1 { w += 1; acc += pows[w] / powSum }
        }
        // Subsampling keep probabilities.
        let total = Double(vocab.totalCount)
        let keep: [Float] = vocab.counts.map { c in
            guard o.sample > 0 else { return 1 }
            let f = Double(c), t = o.sample * total
            return Float(min(1, ((f / t).squareRoot() + 1) * t / f))
        }

        let syn0 = UnsafeMutablePointer<Float>.allocate(capacity: v * dim)
        let syn1 = UnsafeMutablePointer<Float>.allocate(capacity: v * dim)
        defer { syn0.deallocate(); syn1.deallocate() }
        var rng = SplitMix64(seed: o.seed)
        for i in 0 ..< v * dim { syn0[i] = (rng.unitFloat() - 0.5) / Float(dim) }
        syn1.initialize(repeating: 0, count: v * dim)
        let shared = SharedWeights(syn0: syn0, syn1: syn1)

        let n = ids.count
        let threads = max(1, min(o.threads, n / 1000))
        let totalWork = n * o.epochs
        let start = Date()
        ids.withUnsafeBufferPointer { idp in
            table.withUnsafeBufferPointer { tp in
                keep.withUnsafeBufferPointer { kp in
                    let job = TrainJob(ids: UInt(bitPattern: idp.baseAddress), n: n, table: UInt(bitPattern: tp.baseAddress),
                                       tableSize: tableSize, keep: UInt(bitPattern: kp.baseAddress), dim: dim, opt: o,
                                       threads: threads, totalWork: totalWork)
                    DispatchQueue.concurrentPerform(iterations: threads) { t in
                        job.run(thread: t, weights: shared, start: start, progress: t == 0 ? progress : nil)
                    }
                }
            }
        }
        let secs = max(Date().timeIntervalSince(start), 1e-9)
        let vectors = try WordVectors(words: vocab.words, dim: dim, vectors: Array(UnsafeBufferPointer(start: syn0, count: v * dim)))
        return (vectors, Double(totalWork) / secs)
    }
}

/// The read-only inputs of training, shared by the threads as addresses (the arrays outlive `concurrentPerform`).
struct TrainJob: Sendable {
    let ids: UInt, n: Int, table: UInt, tableSize: Int, keep: UInt, dim: Int
    let opt: Word2VecOptions
    let threads: Int, totalWork: Int

    func run(thread t: Int, weights: SharedWeights, start: Date, progress: Word2VecProgress?) {
        guard let idp = UnsafePointer<Int32>(bitPattern: ids), let tp = UnsafePointer<Int32>(bitPattern: table),
              let kp = UnsafePointer<Float>(bitPattern: keep) else { return }
        let syn0 = weights.syn0, syn1 = weights.syn1
        let lo = n * t / threads, hi = n * (t + 1) / threads
        let myWork = max(1, (hi - lo) * opt.epochs)
        var rng = SplitMix64(seed: opt.seed &+ UInt64(t + 1) &* 0x51_7CC1_B727_220A)
        let neu1e = UnsafeMutablePointer<Float>.allocate(capacity: dim)
        defer { neu1e.deallocate() }
        var sentence = [Int32](); sentence.reserveCapacity(1000)
        let minAlpha = opt.alpha * 1e-4
        var done = 0, lastReport = 0
        for _ in 0 ..< opt.epochs {
            var pos = lo
            while pos < hi {
                // A "sentence" of up to 1000 corpus words (the kept ones), as the C tool reads them.
                sentence.removeAll(keepingCapacity: true)
                let sStart = pos, sEnd = min(hi, pos + 1000)
                while pos < sEnd {
                    let w = idp[pos]; pos += 1
                    if kp[Int(w)] >= 1 || kp[Int(w)] > rng.unitFloat() { sentence.append(w) }
                }
                // Linear decay over this thread's share of the work (the shares are equal, so all threads agree).
                let alpha = max(minAlpha, opt.alpha * (1 - Float(done) / Float(myWork)))
                trainSentence(sentence, alpha: alpha, syn0: syn0, syn1: syn1, neu1e: neu1e, table: tp, rng: &rng)
                done += sEnd - sStart
                if let progress, done - lastReport >= 100_000 {
                    lastReport = done
                    let est = min(totalWork, done * threads)
                    progress(est, totalWork, Double(est) / max(Date().timeIntervalSince(start), 1e-9))
                }
            }
        }
    }

    @inline(__always)
    func trainSentence(_ s: [Int32], alpha: Float, syn0: UnsafeMutablePointer<Float>, syn1: UnsafeMutablePointer<Float>,
                       neu1e: UnsafeMutablePointer<Float>, table: UnsafePointer<Int32>, rng: inout SplitMix64) {
        let len = s.count, dim = dim, window = opt.window, negative = opt.negative
        s.withUnsafeBufferPointer { sp in
            for i in 0 ..< len {
                let word = Int(sp[i])
                let b = Int(rng.next() % UInt64(window))
                let from = max(0, i - window + b), to = min(len - 1, i + window - b)
                if from > to { continue }
                for c in from ... to where c != i {
                    let l1 = syn0 + Int(sp[c]) * dim
                    for j in 0 ..< dim { neu1e[j] = 0 }
                    for d in 0 ... negative {
                        let target: Int, label: Float
                        if d == 0 { target = word; label = 1 } else {
                            target = Int(table[Int(rng.next() % UInt64(tableSize))])
                            if target == word { continue }
                            label = 0
                        }
                        let l2 = syn1 + target * dim
                        var f: Float = 0
                        for j in 0 ..< dim { f += l1[j] * l2[j] }
                        let g: Float
                        if f > 6 { g = (label - 1) * alpha } else if f < -6 { g = label * alpha } else {
                            g = (label - 1 / (1 + Foundation.exp(-f))) * alpha
                        }
                        for j in 0 ..< dim { neu1e[j] += g * l2[j] }
                        for j in 0 ..< dim { l2[j] += g * l1[j] }
                    }
                    for j in 0 ..< dim { l1[j] += neu1e[j] }
                }
            }
        }
    }
}
