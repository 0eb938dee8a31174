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
        if m <= 0 || n <= 0 { return }
        if beta != 1 {
            for i in 0..<m {
                let row = c + i * ldc
                if beta == 0 { row.update(repeating: 0, count: n) } else { for j in 0..<n { row[j] *= beta } }
            }
        }
        if k == 0 || alpha == 0 { return }
        run(m: m, n: n, k: k, alpha: alpha, a: .raw(a, ld: lda, transposed: transA), b: .raw(b, ld: ldb, transposed: transB),
            c: c, ldc: ldc, accumulate: beta != 0, threads: threads, pool: pool)
    }
}
