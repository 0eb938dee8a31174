import COnyxKernels

/// Single-precision matrix multiply on raw row-major buffers.
public enum SGEMM {
    /// Whether the AVX2+FMA micro-kernels are in use on this CPU.
    public static let usesAVX2: Bool = onyx_cpu_has_avx2_fma() != 0

    /// C[m×n] = alpha·op(A)·op(B) + beta·C, split by rows of C across `threads` threads.
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
                            threads: Int = 1, pool: ThreadPool = .shared) {
        if m == 0 || n == 0 { return }
        let work = m * n * max(k, 1)
        let parts = (threads > 1 && work >= 1 << 16) ? min(threads, (m + 5) / 6) : 1
        if parts <= 1 {
            onyx_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        // Split rows of C in multiples of 6 (the micro-kernel height).
        let rowsPer = ((m + parts - 1) / parts + 5) / 6 * 6
        let aAddr = UInt(bitPattern: a), bAddr = UInt(bitPattern: b), cAddr = UInt(bitPattern: c)
        pool.parallelFor(parts, threads: parts, cost: 1 << 20) { range in
            for part in range {
                let r0 = part * rowsPer
                let r1 = min(m, r0 + rowsPer)
                if r0 >= r1 { continue }
                let ap = UnsafePointer<Float>(bitPattern: aAddr)!
                let aOff = transA ? r0 : r0 * lda
                onyx_sgemm(transA ? 1 : 0, transB ? 1 : 0, r1 - r0, n, k, alpha, ap + aOff, lda,
                           UnsafePointer<Float>(bitPattern: bAddr)!, ldb, beta,
                           UnsafeMutablePointer<Float>(bitPattern: cAddr)! + r0 * ldc, ldc)
            }
        }
    }
}
