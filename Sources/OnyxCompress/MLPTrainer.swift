import Foundation
import OnyxTensor
import OnyxKernels

/// A fully connected network: Dense → ReLU → … → Dense → Softmax. Weights are row-major [in, out].
public struct DenseNetwork: Sendable {
    public var sizes: [Int]
    public var weights: [[Float]]
    public var biases: [[Float]]

    /// He-initialised weights from a fixed seed.
    public init(sizes: [Int], seed: UInt64 = 42) {
        self.sizes = sizes
        var rng = SeededRandom(seed: seed)
        weights = []; biases = []
        for l in 0..<(sizes.count - 1) {
            let std = Float((2.0 / Double(sizes[l])).squareRoot())
            weights.append((0..<(sizes[l] * sizes[l + 1])).map { _ in rng.normal() * std })
            biases.append([Float](repeating: 0, count: sizes[l + 1]))
        }
    }

    public var parameterCount: Int { weights.reduce(0) { $0 + $1.count } + biases.reduce(0) { $0 + $1.count } }
}

/// Gaussian samples from SplitMix64 (reproducible training).
struct SeededRandom {
    var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { generator.next() }
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Float.pi * u2)
    }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Knowledge-distillation training settings.
public struct DistillOptions: Sendable {
    public var temperature: Float = 4
    /// Weight of the soft (teacher) loss; `1 - alpha` goes to the hard-label cross-entropy.
    public var alpha: Float = 0.7
    public var epochs = 60
    public var batchSize = 32
    public var learningRate: Float = 0.003
    public var threads = ThreadPool.availableCores
    public var seed: UInt64 = 42
    public init() {}
}

/// Mini-batch Adam training of a `DenseNetwork` on soft targets plus hard labels, with backprop through
/// Dense / ReLU / Softmax / cross-entropy. Matrix products go through the multi-threaded SGEMM.
public enum MLPTrainer {
    /// `x` [n, in] row-major; `soft` [n, classes] teacher probabilities; `hard` class indices.
    /// `progress(epoch, loss)` after each epoch.
    public static func train(_ net: inout DenseNetwork, x: [Float], soft: [Float], hard: [Int], options: DistillOptions,
                             progress: (Int, Double) -> Void = { _, _ in }) throws {
        let n = hard.count
        let din = net.sizes[0], classes = net.sizes[net.sizes.count - 1]
        guard n > 0, x.count == n * din, soft.count == n * classes else {
            throw CompressError("training data shapes do not match the network (\(n) rows, \(din) inputs, \(classes) classes)")
        }
        guard hard.allSatisfy({ $0 >= 0 && $0 < classes }) else { throw CompressError("a label index is out of range") }
        guard options.temperature > 0 else { throw CompressError("--temperature must be > 0") }
        guard options.alpha >= 0 && options.alpha <= 1 else { throw CompressError("--alpha must be in [0, 1]") }
        let T = options.temperature, alpha = options.alpha
        // Teacher targets softened at temperature T: p^(1/T), renormalised (softmax(log p / T)).
        var softT = [Float](repeating: 0, count: soft.count)
        for r in 0..<n {
            var s: Float = 0
            for c in 0..<classes { let v = pow(max(soft[r * classes + c], 1e-12), 1 / T); softT[r * classes + c] = v; s += v }
            for c in 0..<classes { softT[r * classes + c] /= s }
        }
        let L = net.weights.count
        var mW = net.weights.map { [Float](repeating: 0, count: $0.count) }, vW = mW
        var mB = net.biases.map { [Float](repeating: 0, count: $0.count) }, vB = mB
        let beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8
        var step = 0
        var rng = SeededRandom(seed: options.seed)
        var order = Array(0..<n)
        let bs = max(1, options.batchSize)
        for epoch in 0..<max(0, options.epochs) {
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, rng.int(i + 1)) }
            var epochLoss = 0.0
            var start = 0
            while start < n {
                let idx = Array(order[start..<min(n, start + bs)])
                start += bs
                let b = idx.count
                // Forward: acts[l] is the input of layer l; acts[L] the logits.
                var acts: [[Float]] = [[Float](repeating: 0, count: b * din)]
                for (r, i) in idx.enumerated() { for j in 0..<din { acts[0][r * din + j] = x[i * din + j] } }
                for l in 0..<L {
                    let (fi, fo) = (net.sizes[l], net.sizes[l + 1])
                    var z = [Float](repeating: 0, count: b * fo)
                    for r in 0..<b { for j in 0..<fo { z[r * fo + j] = net.biases[l][j] } }
                    gemm(false, false, b, fo, fi, acts[l], net.weights[l], &z, beta: 1, threads: options.threads)
                    if l < L - 1 { for k in 0..<z.count where z[k] < 0 { z[k] = 0 } }
                    acts.append(z)
                }
                // Loss gradient at the logits.
                let logits = acts[L]
                var dz = [Float](repeating: 0, count: b * classes)
                for r in 0..<b {
                    let row = Array(logits[(r * classes)..<((r + 1) * classes)])
                    let p = softmax(row, 1), pT = softmax(row, T)
                    let y = hard[idx[r]]
                    epochLoss -= Double((1 - alpha) * log(max(p[y], 1e-12)))
                    for c in 0..<classes {
                        let q = softT[idx[r] * classes + c]
                        epochLoss -= Double(alpha * T * T * q * (log(max(pT[c], 1e-12)) - log(max(q, 1e-12))))
                        let hardG = p[c] - (c == y ? 1 : 0)
                        dz[r * classes + c] = ((1 - alpha) * hardG + alpha * T * (pT[c] - q)) / Float(b)
                    }
                }
                // Backward and Adam.
                step += 1
                let lr = options.learningRate * (1 - pow(beta2, Float(step))).squareRoot() / (1 - pow(beta1, Float(step)))
                var grad = dz
                for l in stride(from: L - 1, through: 0, by: -1) {
                    let (fi, fo) = (net.sizes[l], net.sizes[l + 1])
                    var dW = [Float](repeating: 0, count: fi * fo)
                    gemm(true, false, fi, fo, b, acts[l], grad, &dW, beta: 0, threads: options.threads)
                    var dB = [Float](repeating: 0, count: fo)
                    for r in 0..<b { for j in 0..<fo { dB[j] += grad[r * fo + j] } }
                    if l > 0 {
                        var dA = [Float](repeating: 0, count: b * fi)
                        gemm(false, true, b, fi, fo, grad, net.weights[l], &dA, beta: 0, threads: options.threads)
                        let a = acts[l]
                        for k in 0..<dA.count where a[k] <= 0 { dA[k] = 0 }
                        grad = dA
                    }
                    adam(&net.weights[l], dW, &mW[l], &vW[l], lr, beta1, beta2, eps)
                    adam(&net.biases[l], dB, &mB[l], &vB[l], lr, beta1, beta2, eps)
                }
            }
            progress(epoch + 1, epochLoss / Double(n))
        }
    }

    /// Class probabilities for rows of `x`.
    public static func predict(_ net: DenseNetwork, x: [Float], threads: Int = 1) -> [Float] {
        let din = net.sizes[0]
        let b = x.count / max(din, 1)
        var a = x
        for l in 0..<net.weights.count {
            let (fi, fo) = (net.sizes[l], net.sizes[l + 1])
            var z = [Float](repeating: 0, count: b * fo)
            for r in 0..<b { for j in 0..<fo { z[r * fo + j] = net.biases[l][j] } }
            gemm(false, false, b, fo, fi, a, net.weights[l], &z, beta: 1, threads: threads)
            if l < net.weights.count - 1 { for k in 0..<z.count where z[k] < 0 { z[k] = 0 } }
            a = z
        }
        let c = net.sizes[net.sizes.count - 1]
        var out = [Float]()
        for r in 0..<b { out += softmax(Array(a[(r * c)..<((r + 1) * c)]), 1) }
        return out
    }

    static func softmax(_ z: [Float], _ t: Float) -> [Float] {
        let m = z.max() ?? 0
        let e = z.map { exp(($0 - m) / t) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    static func adam(_ w: inout [Float], _ g: [Float], _ m: inout [Float], _ v: inout [Float],
                     _ lr: Float, _ b1: Float, _ b2: Float, _ eps: Float) {
        for i in 0..<w.count {
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
            w[i] -= lr * m[i] / (v[i].squareRoot() + eps)
        }
    }

    /// C[m×n] = op(A)·op(B) + beta·C on row-major arrays (op = transpose when the flag is set).
    static func gemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ b: [Float],
                     _ c: inout [Float], beta: Float, threads: Int) {
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    guard let A = ap.baseAddress, let B = bp.baseAddress, let C = cp.baseAddress else { return }
                    SGEMM.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: A, lda: ta ? m : k, b: B, ldb: tb ? k : n,
                               beta: beta, c: C, ldc: n, threads: threads)
                }
            }
        }
    }
}
