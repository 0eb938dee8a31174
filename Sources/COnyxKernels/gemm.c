// Single-precision GEMM: packed panels, 6x16 AVX2+FMA micro-kernel, portable fallback.
#include "onyx_kernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <cpuid.h>
#define ONYX_X86 1
#endif

int onyx_cpu_has_avx2_fma(void) {
#ifdef ONYX_X86
    static int cached = -1;
    if (cached >= 0) return cached;
    __builtin_cpu_init();
    cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return cached;
#else
    return 0;
#endif
}

#define MR 6
#define NR 16
#define KC 256
#define MC 120
#define NC 2048

static inline float a_at(int t, const float *a, size_t lda, size_t i, size_t p) {
    return t ? a[p * lda + i] : a[i * lda + p];
}
static inline float b_at(int t, const float *b, size_t ldb, size_t p, size_t j) {
    return t ? b[j * ldb + p] : b[p * ldb + j];
}

// Packs rows [i0, i0+mc) x cols [p0, p0+kc) of alpha*op(A) into MR-row panels.
static void pack_a(int transA, const float *a, size_t lda, size_t i0, size_t mc, size_t p0, size_t kc,
                   float alpha, float *dst) {
    for (size_t i = 0; i < mc; i += MR) {
        size_t rows = mc - i < MR ? mc - i : MR;
        for (size_t p = 0; p < kc; p++) {
            for (size_t r = 0; r < MR; r++)
                dst[p * MR + r] = r < rows ? alpha * a_at(transA, a, lda, i0 + i + r, p0 + p) : 0.0f;
        }
        dst += kc * MR;
    }
}

// Packs rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) into NR-column panels.
static void pack_b(int transB, const float *b, size_t ldb, size_t p0, size_t kc, size_t j0, size_t nc, float *dst) {
    for (size_t j = 0; j < nc; j += NR) {
        size_t cols = nc - j < NR ? nc - j : NR;
        if (!transB && cols == NR) {
            for (size_t p = 0; p < kc; p++) memcpy(dst + p * NR, b + (p0 + p) * ldb + j0 + j, NR * sizeof(float));
        } else {
            for (size_t p = 0; p < kc; p++)
                for (size_t c = 0; c < NR; c++)
                    dst[p * NR + c] = c < cols ? b_at(transB, b, ldb, p0 + p, j0 + j + c) : 0.0f;
        }
        dst += kc * NR;
    }
}

static void kernel_ref(size_t kc, const float *ap, const float *bp, float *acc /* MR*NR */) {
    for (size_t i = 0; i < MR * NR; i++) acc[i] = 0;
    for (size_t p = 0; p < kc; p++)
        for (size_t r = 0; r < MR; r++) {
            float av = ap[p * MR + r];
            for (size_t c = 0; c < NR; c++) acc[r * NR + c] += av * bp[p * NR + c];
        }
}

#ifdef ONYX_X86
__attribute__((target("avx2,fma")))
static void kernel_avx2(size_t kc, const float *ap, const float *bp, float *c, size_t ldc, size_t rows, size_t cols) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(bp);
        __m256 b1 = _mm256_load_ps(bp + 8);
        __m256 a;
        a = _mm256_broadcast_ss(ap + 0); c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(ap + 1); c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(ap + 2); c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(ap + 3); c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(ap + 4); c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(ap + 5); c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
        ap += MR;
        bp += NR;
    }
    if (rows == MR && cols == NR) {
#define ACC(r, x0, x1) \
        _mm256_storeu_ps(c + r * ldc, _mm256_add_ps(_mm256_loadu_ps(c + r * ldc), x0)); \
        _mm256_storeu_ps(c + r * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + r * ldc + 8), x1));
        ACC(0, c00, c01) ACC(1, c10, c11) ACC(2, c20, c21) ACC(3, c30, c31) ACC(4, c40, c41) ACC(5, c50, c51)
#undef ACC
    } else {
        float tmp[MR * NR] __attribute__((aligned(32)));
        _mm256_store_ps(tmp + 0 * NR, c00); _mm256_store_ps(tmp + 0 * NR + 8, c01);
        _mm256_store_ps(tmp + 1 * NR, c10); _mm256_store_ps(tmp + 1 * NR + 8, c11);
        _mm256_store_ps(tmp + 2 * NR, c20); _mm256_store_ps(tmp + 2 * NR + 8, c21);
        _mm256_store_ps(tmp + 3 * NR, c30); _mm256_store_ps(tmp + 3 * NR + 8, c31);
        _mm256_store_ps(tmp + 4 * NR, c40); _mm256_store_ps(tmp + 4 * NR + 8, c41);
        _mm256_store_ps(tmp + 5 * NR, c50); _mm256_store_ps(tmp + 5 * NR + 8, c51);
        for (size_t r = 0; r < rows; r++)
            for (size_t cc = 0; cc < cols; cc++) c[r * ldc + cc] += tmp[r * NR + cc];
    }
}
#endif

void onyx_sgemm(int transA, int transB, size_t m, size_t n, size_t k, float alpha,
                const float *a, size_t lda, const float *b, size_t ldb, float beta,
                float *c, size_t ldc) {
    if (m == 0 || n == 0) return;
    for (size_t i = 0; i < m; i++) {
        float *row = c + i * ldc;
        if (beta == 0.0f) memset(row, 0, n * sizeof(float));
        else if (beta != 1.0f) for (size_t j = 0; j < n; j++) row[j] *= beta;
    }
    if (k == 0 || alpha == 0.0f) return;
    int fast = onyx_cpu_has_avx2_fma();
    size_t ncb = n < NC ? n : NC;
    size_t kcb = k < KC ? k : KC;
    float *bpack = aligned_alloc(64, ((ncb + NR - 1) / NR) * NR * kcb * sizeof(float) + 64);
    float *apack = aligned_alloc(64, ((MC + MR - 1) / MR) * MR * kcb * sizeof(float) + 64);
    if (!bpack || !apack) { free(bpack); free(apack); return; }
    float acc[MR * NR];
    for (size_t j0 = 0; j0 < n; j0 += NC) {
        size_t nc = n - j0 < NC ? n - j0 : NC;
        for (size_t p0 = 0; p0 < k; p0 += KC) {
            size_t kc = k - p0 < KC ? k - p0 : KC;
            pack_b(transB, b, ldb, p0, kc, j0, nc, bpack);
            for (size_t i0 = 0; i0 < m; i0 += MC) {
                size_t mc = m - i0 < MC ? m - i0 : MC;
                pack_a(transA, a, lda, i0, mc, p0, kc, alpha, apack);
                for (size_t jr = 0; jr < nc; jr += NR) {
                    size_t cols = nc - jr < NR ? nc - jr : NR;
                    const float *bp = bpack + (jr / NR) * kc * NR;
                    for (size_t ir = 0; ir < mc; ir += MR) {
                        size_t rows = mc - ir < MR ? mc - ir : MR;
                        const float *ap = apack + (ir / MR) * kc * MR;
                        float *cp = c + (i0 + ir) * ldc + j0 + jr;
#ifdef ONYX_X86
                        if (fast) { kernel_avx2(kc, ap, bp, cp, ldc, rows, cols); continue; }
#endif
                        kernel_ref(kc, ap, bp, acc);
                        for (size_t r = 0; r < rows; r++)
                            for (size_t cc = 0; cc < cols; cc++) cp[r * ldc + cc] += acc[r * NR + cc];
                    }
                }
            }
        }
    }
    free(bpack);
    free(apack);
}
