import Foundation
import OnyxTensor

/// Random generators: RandomUniform(Like), RandomNormal(Like), Bernoulli, Multinomial.
/// With a `seed` attribute each run restarts the same deterministic sequence; without one each run draws a fresh seed.
/// (Values cannot match other runtimes' generators; shapes and dtypes follow the spec.)
enum RandomOps {
    static func register(_ t: inout OperatorTable) {
        t.add("RandomUniform", since: 1) { try RandomOp($0, kind: .uniform, like: false) }
        t.add("RandomNormal", since: 1) { try RandomOp($0, kind: .normal, like: false) }
        t.add("RandomUniformLike", since: 1) { try RandomOp($0, kind: .uniform, like: true) }
        t.add("RandomNormalLike", since: 1) { try RandomOp($0, kind: .normal, like: true) }
        t.add("Bernoulli", since: 15) { try BernoulliOp($0) }
        t.add("Multinomial", since: 7) { try MultinomialOp($0) }
    }
}

/// Samples for the random operators: SplitMix64 seeded from the `seed` attribute, or from the system when absent.
struct RandomSource {
    var generator: SplitMix64
    init(seed: Float?) {
        if let seed { generator = SplitMix64(seed: UInt64(truncatingIfNeeded: Int64(seed.isFinite ? seed : 0)) &+ 0x9E37_79B9_7F4A_7C15) }
        else { var g = SystemRandomNumberGenerator(); generator = SplitMix64(seed: g.next()) }
    }
    mutating func next() -> UInt64 { generator.next() }
    /// Uniform in [0, 1).
    mutating func uniform() -> Double { generator.unitDouble() }
    /// Standard normal (Box–Muller).
    mutating func normal() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

func randomSeed(_ c: NodeContext) throws -> Float? { c.has("seed") ? try c.float("seed", 0) : nil }

func randomDType(_ c: NodeContext, default def: DType?) throws -> DType? {
    guard c.has("dtype") else { return def }
    let v = try c.int("dtype")
    guard let dt = DType(rawValue: v), dt != .string else { throw KernelError("dtype \(v) is not supported") }
    return dt
}

struct RandomOp: TensorKernel {
    enum Kind { case uniform, normal }
    let kind: Kind, like: Bool
    let a: Double, b: Double
    let seed: Float?
    let dtype: DType?
    let shape: [Int]

    init(_ c: NodeContext, kind: Kind, like: Bool) throws {
        self.kind = kind; self.like = like
        if kind == .uniform { a = Double(try c.float("low", 0)); b = Double(try c.float("high", 1)) }
        else { a = Double(try c.float("mean", 0)); b = Double(try c.float("scale", 1)) }
        seed = try randomSeed(c)
        dtype = try randomDType(c, default: like ? nil : .float32)
        if like { shape = [] } else {
            guard let s = try c.ints("shape"), s.allSatisfy({ $0 >= 0 }) else { throw KernelError("attribute 'shape' is required and must be non-negative") }
            shape = s
        }
        if let dtype, !dtype.isFloatingPoint { throw KernelError("dtype \(dtype) must be a float type") }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        var outShape = shape, dt = dtype ?? .float32
        if like {
            let x = try inputs.required(0, "input")
            outShape = x.shape
            if dtype == nil { dt = x.dtype }
            guard dt.isFloatingPoint else { throw KernelError("output dtype \(dt) must be a float type") }
        }
        var rng = RandomSource(seed: seed)
        let n = Tensor.count(outShape)
        var v = [Double](repeating: 0, count: n)
        for i in 0..<n { v[i] = kind == .uniform ? a + (b - a) * rng.uniform() : a + b * rng.normal() }
        return [try signalTensor(v, shape: outShape, dtype: dt)]
    }
}

struct BernoulliOp: TensorKernel {
    let seed: Float?
    let dtype: DType?
    init(_ c: NodeContext) throws { seed = try randomSeed(c); dtype = try randomDType(c, default: nil) }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        let p = try signalDoubles(x, "input")
        var rng = RandomSource(seed: seed)
        let v = p.map { rng.uniform() < $0 ? 1.0 : 0.0 }
        let dt = dtype ?? x.dtype
        if dt == .bool { return [qmTensor(x.shape, v.map { $0 != 0 })] }
        return [try signalTensor(v, shape: x.shape, dtype: dt)]
    }
}

struct MultinomialOp: TensorKernel {
    let seed: Float?
    let dtype: DType
    let samples: Int
    init(_ c: NodeContext) throws {
        seed = try randomSeed(c)
        dtype = try randomDType(c, default: .int32) ?? .int32
        guard dtype == .int32 || dtype == .int64 else { throw KernelError("dtype must be int32 or int64") }
        samples = try c.int("sample_size", 1)
        guard samples >= 0 else { throw KernelError("sample_size must be non-negative") }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        guard x.rank == 2 else { throw KernelError("input must have shape [batch, classes], got \(x.shape)") }
        let logits = try signalDoubles(x, "input")
        let batch = x.shape[0], k = x.shape[1]
        var rng = RandomSource(seed: seed)
        var out = [Double](repeating: 0, count: batch * samples)
        for b in 0..<batch where k > 0 {
            let row = Array(logits[(b * k)..<((b + 1) * k)])
            let mx = row.max() ?? 0
            var cdf = [Double](repeating: 0, count: k), acc = 0.0
            for j in 0..<k { acc += exp(row[j] - mx); cdf[j] = acc }
            for s in 0..<samples {
                let u = rng.uniform() * acc
                out[b * samples + s] = Double(cdf.firstIndex(where: { u < $0 }) ?? (k - 1))
            }
        }
        return [try signalTensor(out, shape: [batch, samples], dtype: dtype)]
    }
}
