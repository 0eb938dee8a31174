import Foundation
import Testing
import OnyxKernels
@testable import Onyx
@testable import OnyxEngine

/// The vectorised float32 math of Sources/COnyxKernels/vmath.c (AVX2+FMA here; NEON is checked under qemu by
/// scripts/test-neon.sh) against double-precision libm (Foundation) evaluated on the same Float inputs, over a
/// dense sweep of float bit patterns plus ±0, ±inf, NaN, denormals, large |x| and the algorithms' branch points.
/// The bounds are the ones stated in vmath.c next to each function.
@Suite struct VMathTests {
    struct Case: Sendable, CustomStringConvertible {
        let f: VMath.Unary
        let ref: @Sendable (Double) -> Double
        /// |y - ref| <= max(rel * |ref|, abs * max(1, |x|)); results below FLT_MIN only need to be within FLT_MIN.
        let rel: Double, abs: Double
        var description: String { "\(f)" }
    }

    static let cases: [Case] = [
        Case(f: .exp, ref: { Foundation.exp($0) }, rel: 1.0e-7, abs: 1.5e-45),
        Case(f: .tanh, ref: { Foundation.tanh($0) }, rel: 1.6e-7, abs: 9.0e-8),
        Case(f: .erf, ref: { Foundation.erf($0) }, rel: 4.5e-7, abs: 2.2e-7),
        Case(f: .sigmoid, ref: { 1 / (1 + Foundation.exp(-$0)) }, rel: 1.7e-7, abs: 9.0e-8),
        Case(f: .swish(alpha: 1), ref: { $0 / (1 + Foundation.exp(-$0)) }, rel: 2.0e-7, abs: 1.5e-7),
        // alpha * x is rounded to float before the sigmoid, as in any float32 implementation.
        Case(f: .swish(alpha: 1.702), ref: { $0 / (1 + Foundation.exp(-Double(Float(1.702) * Float($0)))) },
             rel: 2.0e-7, abs: 1.5e-7),
        // 0.5 (1 + erf(x/√2)) = 0.5 erfc(-x/√2) and 0.5 (1 + tanh u) = sigmoid(2u): references without cancellation.
        Case(f: .geluErf, ref: { 0.5 * $0 * Foundation.erfc(-$0 / 2.0.squareRoot()) }, rel: 6.5e-7, abs: 2.2e-7),
        Case(f: .geluTanh, ref: { x in x / (1 + Foundation.exp(-2 * (2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))) },
             rel: 2.8e-7, abs: 1.4e-7),
    ]

    /// Every 8191st float bit pattern (all signs and exponents), then the special and branch-point values.
    static let inputs: [Float] = {
        var xs: [Float] = []
        var b: UInt64 = 0
        while b <= 0xffff_ffff { xs.append(Float(bitPattern: UInt32(b))); b += 8191 }
        let special: [Float] = [0, -0, .infinity, -.infinity, .nan, -.nan, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                                .leastNormalMagnitude, -.leastNormalMagnitude, 1e-30, -1e-30, .greatestFiniteMagnitude,
                                -.greatestFiniteMagnitude, 88.72, 88.73, 89, -87.3, -103.9, -104, 0.625, -0.625, 4, -4, 9, -9]
        xs += special
        for v in special where v.isFinite { xs += [v.nextUp, v.nextDown] }
        var x: Float = -12   // a dense linear sweep of the range that matters most
        while x <= 12 { xs.append(x); x += 1.0 / 1024 }
        return xs
    }()

    @Test(arguments: cases) func maxErrorWithinStatedBound(_ c: Case) {
        let ys = VMath.apply(c.f, Self.inputs)
        var worst = 0.0, worstAt: Float = 0, wrongSpecial: [Float] = []
        for (x, y) in zip(Self.inputs, ys) {
            let r = c.ref(Double(x))
            if r.isNaN { if !y.isNaN { wrongSpecial.append(x) }; continue }
            if Float(r).isInfinite { if y != Float(r) { wrongSpecial.append(x) }; continue }
            if !y.isFinite { wrongSpecial.append(x); continue }
            var allowed = max(c.rel * Swift.abs(r), c.abs * max(1, Swift.abs(Double(x))))
            if Swift.abs(r) < Double(Float.leastNormalMagnitude) { allowed = max(allowed, Double(Float.leastNormalMagnitude)) }
            let e = Swift.abs(Double(y) - r) / allowed
            if e > worst { worst = e; worstAt = x }
        }
        #expect(worst <= 1, "\(c.f) on \(VMath.isa): error \(worst) x the bound at x = \(worstAt)")
        #expect(wrongSpecial.isEmpty, "\(c.f): wrong inf/NaN for \(wrongSpecial.prefix(5))")
    }

    /// Every length up to 40 (full vectors plus each tail size) gives the same values as one long call.
    @Test func tailsMatchFullVectors() {
        let xs = (0..<40).map { Float($0) * 0.37 - 7 }
        let full = VMath.apply(.geluErf, xs)
        for n in 0...40 { #expect(VMath.apply(.geluErf, Array(xs[..<n])) == Array(full[..<n])) }
    }

    /// Reductions: NaN propagates through max / min wherever it sits (it used to be dropped by a later element).
    @Test func reductionsPropagateNaN() throws {
        for pos in [0, 3, 8, 17, 40] {
            var v = (0..<41).map { Float($0) }
            v[pos] = .nan
            let mx = v.withUnsafeBufferPointer { b in b.baseAddress.map { VMath.reduce(.max, $0, count: b.count) } }
            let mn = v.withUnsafeBufferPointer { b in b.baseAddress.map { VMath.reduce(.min, $0, count: b.count) } }
            #expect(mx?.isNaN == true && mn?.isNaN == true, "NaN at \(pos)")
            let t = Tensor(shape: [1, 41], checkedValues: v)
            let y = try runOp("ReduceMax", [t], attrs: ["axes": .ints([1]), "keepdims": .int(0)], opset: 13)
            #expect(try y.toArray(Float.self).first?.isNaN == true, "ReduceMax, NaN at \(pos)")
        }
    }

    /// Softmax, LayerNormalization and ReduceSum through the operators (vector row kernels, threaded) against
    /// double-precision sums of the same inputs.
    @Test(arguments: [1, 7, 8, 33, 768]) func rowKernelsMatchDouble(_ n: Int) throws {
        let rows = 37
        let v = (0..<(rows * n)).map { Float(sin(Double($0) * 0.731) * 6) }
        let x = Tensor(shape: [rows, n], checkedValues: v)
        let sm = try runOp("Softmax", [x], attrs: ["axis": .int(-1)]).toArray(Float.self)
        let ls = try runOp("LogSoftmax", [x], attrs: ["axis": .int(-1)]).toArray(Float.self)
        let scale = Tensor(shape: [n], checkedValues: (0..<n).map { Float($0 % 5) * 0.25 + 0.5 })
        let bias = Tensor(shape: [n], checkedValues: (0..<n).map { Float($0 % 3) - 1 })
        let ln = try runOp("LayerNormalization", [x, scale, bias], attrs: ["axis": .int(-1)], opset: 17).toArray(Float.self)
        let rs = try runOp("ReduceSum", [x], attrs: ["keepdims": .int(0)], extra: [Tensor(shape: [1], checkedValues: [Int64(1)])])
            .toArray(Float.self)
        let sc = try scale.toArray(Float.self), bi = try bias.toArray(Float.self)
        for r in 0..<rows {
            let row = v[(r * n)..<((r + 1) * n)].map(Double.init)
            let m = row.max() ?? 0, s = row.reduce(0) { $0 + Foundation.exp($1 - m) }
            let mean = row.reduce(0, +) / Double(n)
            let inv = 1 / ((row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)) + 1e-5).squareRoot()
            #expect(Swift.abs(Double(rs[r]) - row.reduce(0, +)) < 1e-5 * Double(n))
            for j in 0..<n {
                #expect(Swift.abs(Double(sm[r * n + j]) - Foundation.exp(row[j] - m) / s) < 1e-6)
                #expect(Swift.abs(Double(ls[r * n + j]) - (row[j] - m - Foundation.log(s))) < 4e-6)
                #expect(Swift.abs(Double(ln[r * n + j]) - ((row[j] - mean) * inv * Double(sc[j]) + Double(bi[j]))) < 1e-5)
            }
        }
    }

    func runOp(_ op: String, _ inputs: [Tensor], attrs: [String: Attribute] = [:], opset: Int = 18,
               extra: [Tensor] = []) throws -> Tensor {
        let all = inputs + extra
        let node = Node(name: "n", opType: op, inputs: all.indices.map { "x\($0)" }, outputs: ["y"], attributes: attrs)
        let factory = try #require(OperatorTable.standard.resolve(domain: "", opType: op, opset: opset))
        let ctx = NodeContext(node: node, opset: opset, constantInputs: [:], implicitInputs: [],
                              subgraphCompiler: { _, _ in throw KernelError("no subgraphs here") })
        let out = try factory(ctx).run(all.map { .tensor($0) }, RunContext(threads: 2, pool: .shared))
        return try #require(out.first?.tensor)
    }
}
