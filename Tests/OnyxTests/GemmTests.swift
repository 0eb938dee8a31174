import Foundation
import Testing
@testable import Onyx

/// SGEMM against a double-precision triple loop over every transpose combination and odd sizes
/// (edges of the 6x16 micro-kernel and of the 256-deep K blocks).
@Suite struct GemmTests {
    @Test(arguments: [(1, 1, 1), (7, 17, 5), (6, 16, 256), (13, 33, 300), (64, 70, 129)], [false, true])
    func matchesNaiveProduct(dims: (Int, Int, Int), transA: Bool) {
        let (m, n, k) = dims
        for transB in [false, true] {
            var rng = SplitMix64(seed: UInt64(m * 1000 + n * 10 + k))
            let a = (0..<(m * k)).map { _ in Float(Int(rng.next() % 200) - 100) / 50 }
            let b = (0..<(k * n)).map { _ in Float(Int(rng.next() % 200) - 100) / 50 }
            var c = [Float](repeating: 1, count: m * n)
            let lda = transA ? m : k, ldb = transB ? k : n
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                SGEMM.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: ap.baseAddress!, lda: lda,
                           b: bp.baseAddress!, ldb: ldb, beta: 2, c: cp.baseAddress!, ldc: n, threads: 2)
            } } }
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k {
                        let av = Double(transA ? a[p * m + i] : a[i * k + p])
                        let bv = Double(transB ? b[j * k + p] : b[p * n + j])
                        s += av * bv
                    }
                    worst = max(worst, abs(0.5 * s + 2 - Double(c[i * n + j])))
                }
            }
            #expect(worst < 1e-3, "m=\(m) n=\(n) k=\(k) tA=\(transA) tB=\(transB)")
        }
    }
}
