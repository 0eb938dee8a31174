// Single-precision GEMM: packed panels, 6x16 AVX2+FMA micro-kernel, portable fallback.
#include "onyx_kernels.h"
#include "onyx_vmath.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <cpuid.h>
#define ONYX_X86 1
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#define ONYX_NEON 1
#endif

// ONYX_ISA=avx2 or ONYX_ISA=scalar caps the kernels chosen at run time, so every path can be tested on one machine.
// Read once, when a kernel is first chosen (the cached answers below never change afterwards).
static int isa_capped(const char *level) {
    const char *e = getenv("ONYX_ISA");
    if (!e) return 0;
    if (strcmp(level, "avx2") == 0) return strcmp(e, "avx2") == 0 || strcmp(e, "scalar") == 0;
    return strcmp(e, "scalar") == 0;
}

int onyx_cpu_has_avx2_fma(void) {
#ifdef ONYX_X86
    static int cached = -1;
    if (cached >= 0) return cached;
    __builtin_cpu_init();
    cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !isa_capped("scalar");
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
// Packed A is read ahead by this many floats (32 k-steps of a 6-row panel): the weights of deep layers (up to
// 9 MiB in ResNet-50) stream from L3 / memory once per column chunk, faster than the hardware prefetcher fetches
// them (512x4608x49 convolution: 120 -> 170 GFLOP/s AVX-512, 65 -> 80 AVX2, one thread; benchmarks/conv_shapes.c).
#define A_PREFETCH 192
// K block of the packed GEMM drivers (onyx_gemm_packed, onyx_gemm_rows).
#define PKC 256

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

#ifdef ONYX_NEON
// NEON is baseline on arm64; ONYX_ISA=scalar still selects the portable loops.
static int neon_on(void) {
    static int cached = -1;
    if (cached < 0) cached = !isa_capped("scalar");
    return cached;
}

// 6x16 NEON micro-kernel over the same packed panels as the AVX2 one (6-row A panels, 16-column B panels), so
// packing and the packed-weight sizes are shared across architectures: 24 q-register accumulators, 4 B vectors
// and the 6 A values (one q and one d register), each A value applied by lane with vfmaq_laneq_f32.
// Writes the 6x16 product to acc (row-major, like kernel_ref).
static void kernel_neon(size_t kc, const float *ap, const float *bp, float *acc) {
    float32x4_t c00 = vdupq_n_f32(0), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    float32x4_t c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    float32x4_t c40 = c00, c41 = c00, c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00, c53 = c00;
    for (size_t p = 0; p < kc; p++) {
        float32x4_t b0 = vld1q_f32(bp), b1 = vld1q_f32(bp + 4), b2 = vld1q_f32(bp + 8), b3 = vld1q_f32(bp + 12);
        float32x4_t a = vld1q_f32(ap);
        float32x2_t a45 = vld1_f32(ap + 4);
        c00 = vfmaq_laneq_f32(c00, b0, a, 0); c01 = vfmaq_laneq_f32(c01, b1, a, 0);
        c02 = vfmaq_laneq_f32(c02, b2, a, 0); c03 = vfmaq_laneq_f32(c03, b3, a, 0);
        c10 = vfmaq_laneq_f32(c10, b0, a, 1); c11 = vfmaq_laneq_f32(c11, b1, a, 1);
        c12 = vfmaq_laneq_f32(c12, b2, a, 1); c13 = vfmaq_laneq_f32(c13, b3, a, 1);
        c20 = vfmaq_laneq_f32(c20, b0, a, 2); c21 = vfmaq_laneq_f32(c21, b1, a, 2);
        c22 = vfmaq_laneq_f32(c22, b2, a, 2); c23 = vfmaq_laneq_f32(c23, b3, a, 2);
        c30 = vfmaq_laneq_f32(c30, b0, a, 3); c31 = vfmaq_laneq_f32(c31, b1, a, 3);
        c32 = vfmaq_laneq_f32(c32, b2, a, 3); c33 = vfmaq_laneq_f32(c33, b3, a, 3);
        c40 = vfmaq_lane_f32(c40, b0, a45, 0); c41 = vfmaq_lane_f32(c41, b1, a45, 0);
        c42 = vfmaq_lane_f32(c42, b2, a45, 0); c43 = vfmaq_lane_f32(c43, b3, a45, 0);
        c50 = vfmaq_lane_f32(c50, b0, a45, 1); c51 = vfmaq_lane_f32(c51, b1, a45, 1);
        c52 = vfmaq_lane_f32(c52, b2, a45, 1); c53 = vfmaq_lane_f32(c53, b3, a45, 1);
        ap += MR;
        bp += NR;
    }
#define ST(r, x0, x1, x2, x3) \
    vst1q_f32(acc + r * NR, x0); vst1q_f32(acc + r * NR + 4, x1); vst1q_f32(acc + r * NR + 8, x2); vst1q_f32(acc + r * NR + 12, x3);
    ST(0, c00, c01, c02, c03) ST(1, c10, c11, c12, c13) ST(2, c20, c21, c22, c23)
    ST(3, c30, c31, c32, c33) ST(4, c40, c41, c42, c43) ST(5, c50, c51, c52, c53)
#undef ST
}
#endif

static void kernel_ref(size_t kc, const float *ap, const float *bp, float *acc /* MR*NR */) {
#ifdef ONYX_NEON
    if (neon_on()) { kernel_neon(kc, ap, bp, acc); return; }
#endif
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
    (void)fast;   // unused where there is no x86 path
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

// ---------------------------------------------------------------------------------------------------------
// Packed GEMM with whole-K panels (operands packed once, e.g. constant weights at load) and a fused epilogue.
#include <math.h>

size_t onyx_packed_a_size(size_t m, size_t k) { return ((m + MR - 1) / MR) * MR * (k ? k : 1); }
size_t onyx_packed_b_size(size_t k, size_t n) { return ((n + NR - 1) / NR) * NR * (k ? k : 1); }

void onyx_pack_a(int transA, size_t m, size_t k, float alpha, const float *a, size_t lda, float *dst,
                 size_t panel0, size_t panel1) {
    for (size_t ip = panel0; ip < panel1; ip++) {
        size_t i = ip * MR;
        size_t rows = m - i < MR ? m - i : MR;
        float *d = dst + ip * MR * k;
        if (!transA) {
            for (size_t r = 0; r < MR; r++) {
                if (r < rows) {
                    const float *src = a + (i + r) * lda;
                    for (size_t p = 0; p < k; p++) d[p * MR + r] = alpha * src[p];
                } else {
                    for (size_t p = 0; p < k; p++) d[p * MR + r] = 0.0f;
                }
            }
        } else {
            for (size_t p = 0; p < k; p++)
                for (size_t r = 0; r < MR; r++) d[p * MR + r] = r < rows ? alpha * a[p * lda + i + r] : 0.0f;
        }
    }
}

void onyx_pack_b(int transB, size_t k, size_t n, const float *b, size_t ldb, float *dst,
                 size_t panel0, size_t panel1) {
    if (!transB) {
        // Full panels in groups of 8: read 512 contiguous bytes of each row of B, write 8 panel streams.
        while (panel0 + 8 <= panel1 && (panel0 + 8) * NR <= n) {
            const float *src = b + panel0 * NR;
            float *d = dst + panel0 * NR * k;
            for (size_t p = 0; p < k; p++) {
                const float *row = src + p * ldb;
                for (size_t q = 0; q < 8; q++) memcpy(d + q * NR * k + p * NR, row + q * NR, NR * sizeof(float));
            }
            panel0 += 8;
        }
    }
    for (size_t jp = panel0; jp < panel1; jp++) {
        size_t j = jp * NR;
        size_t cols = n - j < NR ? n - j : NR;
        float *d = dst + jp * NR * k;
        if (!transB) {
            if (cols == NR) {
                for (size_t p = 0; p < k; p++) memcpy(d + p * NR, b + p * ldb + j, NR * sizeof(float));
            } else {
                for (size_t p = 0; p < k; p++)
                    for (size_t c = 0; c < NR; c++) d[p * NR + c] = c < cols ? b[p * ldb + j + c] : 0.0f;
            }
        } else {
            for (size_t c = 0; c < NR; c++) {
                if (c < cols) {
                    const float *src = b + (j + c) * ldb;
                    for (size_t p = 0; p < k; p++) d[p * NR + c] = src[p];
                } else {
                    for (size_t p = 0; p < k; p++) d[p * NR + c] = 0.0f;
                }
            }
        }
    }
}

static inline float act_scalar(float v, int act, float p0, float p1) {
    switch (act) {
    case 1: return v > 0.0f ? v : 0.0f;
    case 2: return v < p0 ? p0 : (v > p1 ? p1 : v);
    case 3: return v >= 0.0f ? v : p0 * v;
    case 4: return 1.0f / (1.0f + expf(-v));
    case 5: return tanhf(v);
    case 6: { float h = p0 * v + p1; return h < 0.0f ? 0.0f : (h > 1.0f ? 1.0f : h); }
    case 7: { float h = v / 6.0f + 0.5f; h = h < 0.0f ? 0.0f : (h > 1.0f ? 1.0f : h); return v * h; }
    case 8: return v / (1.0f + expf(-v));
    case 9: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    default: return v;
    }
}

void onyx_activation(float *x, size_t n, int act, float p0, float p1) {
    if (act == 0) return;
    switch (act) {   // the transcendental ones through the vector math of vmath.c
    case 4: onyx_vsigmoid(x, x, n); return;
    case 5: onyx_vtanh(x, x, n); return;
    case 8: onyx_vswish(x, x, n, 1.0f); return;
    case 9: onyx_vgelu_erf(x, x, n); return;
    default: break;
    }
    for (size_t i = 0; i < n; i++) x[i] = act_scalar(x[i], act, p0, p1);
}

// One finished row segment of a tile: v[0..cols) += bias/res, activation, store.
static inline void epilogue_row_scalar(float *dst, const float *v, size_t cols, size_t i, size_t j, const onyx_epilogue *ep) {
    for (size_t cc = 0; cc < cols; cc++) {
        float x = v[cc];
        if (ep) {
            if (ep->bias) x += ep->bias_per_row ? ep->bias[i] : ep->bias[j + cc];
            if (ep->res) x += ep->res[i * ep->ldr + j + cc];
            x = act_scalar(x, ep->act, ep->p0, ep->p1);
        }
        dst[cc] = x;
    }
}

static void tile_store_scalar(const float *tmp, float *c, size_t ldc, size_t rows, size_t cols, int load, int last,
                              size_t i, size_t j, const onyx_epilogue *ep) {
    for (size_t r = 0; r < rows; r++) {
        float v[NR];
        for (size_t cc = 0; cc < cols; cc++) v[cc] = tmp[r * NR + cc] + (load ? c[r * ldc + cc] : 0.0f);
        if (last) epilogue_row_scalar(c + r * ldc, v, cols, i + r, j, ep);
        else for (size_t cc = 0; cc < cols; cc++) c[r * ldc + cc] = v[cc];
    }
}

static void kernel_ref_packed(size_t kc, const float *ap, const float *bp, float *c, size_t ldc, size_t rows,
                              size_t cols, int load, int last, size_t i, size_t j, const onyx_epilogue *ep) {
    float acc[MR * NR];
    kernel_ref(kc, ap, bp, acc);
    tile_store_scalar(acc, c, ldc, rows, cols, load, last, i, j, ep);
}

#ifdef ONYX_X86
__attribute__((target("avx2,fma")))
static void store_tile_avx2(const float *tmp, float *c, size_t ldc, size_t rows, size_t cols, int load, int last,
                            size_t i, size_t j, const onyx_epilogue *ep) {
    // Sigmoid, tanh, SiLU and GELU: bias / residual here, then the row through the vector math (onyx_activation).
    int vm_act = ep && (ep->act == 4 || ep->act == 5 || ep->act == 8 || ep->act == 9);
    int vec_act = !ep || ep->act <= 3 || vm_act;
    if (cols != NR || !vec_act) {
        tile_store_scalar(tmp, c, ldc, rows, cols, load, last, i, j, ep);
        return;
    }
    const __m256 zero = _mm256_setzero_ps();
    for (size_t r = 0; r < rows; r++) {
        float *cr = c + r * ldc;
        __m256 v0 = _mm256_load_ps(tmp + r * NR), v1 = _mm256_load_ps(tmp + r * NR + 8);
        if (load) { v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr)); v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8)); }
        if (last && ep) {
            if (ep->bias) {
                if (ep->bias_per_row) {
                    __m256 bv = _mm256_set1_ps(ep->bias[i + r]);
                    v0 = _mm256_add_ps(v0, bv); v1 = _mm256_add_ps(v1, bv);
                } else {
                    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(ep->bias + j));
                    v1 = _mm256_add_ps(v1, _mm256_loadu_ps(ep->bias + j + 8));
                }
            }
            if (ep->res) {
                const float *rr = ep->res + (i + r) * ep->ldr + j;
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(rr)); v1 = _mm256_add_ps(v1, _mm256_loadu_ps(rr + 8));
            }
            if (ep->act == 1) { v0 = _mm256_max_ps(v0, zero); v1 = _mm256_max_ps(v1, zero); }
            else if (ep->act == 2) {
                __m256 lo = _mm256_set1_ps(ep->p0), hi = _mm256_set1_ps(ep->p1);
                v0 = _mm256_min_ps(_mm256_max_ps(v0, lo), hi); v1 = _mm256_min_ps(_mm256_max_ps(v1, lo), hi);
            } else if (ep->act == 3) {
                __m256 al = _mm256_set1_ps(ep->p0);
                __m256 m0 = _mm256_cmp_ps(v0, zero, _CMP_GE_OQ), m1 = _mm256_cmp_ps(v1, zero, _CMP_GE_OQ);
                v0 = _mm256_blendv_ps(_mm256_mul_ps(v0, al), v0, m0); v1 = _mm256_blendv_ps(_mm256_mul_ps(v1, al), v1, m1);
            }
        }
        _mm256_storeu_ps(cr, v0); _mm256_storeu_ps(cr + 8, v1);
        if (last && vm_act) onyx_activation(cr, NR, ep->act, ep->p0, ep->p1);
    }
}

__attribute__((target("avx2,fma")))
static void kernel_avx2_packed(size_t kc, const float *ap, const float *bp, float *c, size_t ldc, size_t rows,
                               size_t cols, int load, int last, size_t i, size_t j, const onyx_epilogue *ep) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    size_t p = 0;
    for (; p + 2 <= kc; p += 2) {
        _mm_prefetch((const char *)(ap + A_PREFETCH), _MM_HINT_T0);
        __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
        __m256 a;
        a = _mm256_broadcast_ss(ap + 0); c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(ap + 1); c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(ap + 2); c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(ap + 3); c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(ap + 4); c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(ap + 5); c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
        b0 = _mm256_load_ps(bp + 16); b1 = _mm256_load_ps(bp + 24);
        a = _mm256_broadcast_ss(ap + 6); c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(ap + 7); c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(ap + 8); c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(ap + 9); c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(ap + 10); c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(ap + 11); c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
        ap += 2 * MR; bp += 2 * NR;
    }
    for (; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
        __m256 a;
        a = _mm256_broadcast_ss(ap + 0); c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(ap + 1); c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(ap + 2); c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(ap + 3); c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(ap + 4); c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(ap + 5); c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
        ap += MR; bp += NR;
    }
    float tmp[MR * NR] __attribute__((aligned(32)));
    _mm256_store_ps(tmp + 0 * NR, c00); _mm256_store_ps(tmp + 0 * NR + 8, c01);
    _mm256_store_ps(tmp + 1 * NR, c10); _mm256_store_ps(tmp + 1 * NR + 8, c11);
    _mm256_store_ps(tmp + 2 * NR, c20); _mm256_store_ps(tmp + 2 * NR + 8, c21);
    _mm256_store_ps(tmp + 3 * NR, c30); _mm256_store_ps(tmp + 3 * NR + 8, c31);
    _mm256_store_ps(tmp + 4 * NR, c40); _mm256_store_ps(tmp + 4 * NR + 8, c41);
    _mm256_store_ps(tmp + 5 * NR, c50); _mm256_store_ps(tmp + 5 * NR + 8, c51);
    store_tile_avx2(tmp, c, ldc, rows, cols, load, last, i, j, ep);
}

// 6 x (1..4) AVX2 kernel for the last few columns (N = 49 = 3*16 + 1, N = 196 = 12*16 + 4): one 8-wide FMA per
// column and k-step instead of a whole 6x16 tile.
__attribute__((target("avx2,fma")))
static void kernel_avx2_6xn(size_t kc, const float *ap, const float *bp, float *c, size_t ldc, size_t rows,
                            size_t cols, int load, int last, size_t i, size_t j, const onyx_epilogue *ep) {
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    const __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
    for (size_t p = 0; p < kc; p++) {
        __m256 a = _mm256_maskload_ps(ap + p * MR, six);
        const float *bv = bp + p * NR;
        c0 = _mm256_fmadd_ps(a, _mm256_broadcast_ss(bv), c0);
        if (cols > 1) c1 = _mm256_fmadd_ps(a, _mm256_broadcast_ss(bv + 1), c1);
        if (cols > 2) c2 = _mm256_fmadd_ps(a, _mm256_broadcast_ss(bv + 2), c2);
        if (cols > 3) c3 = _mm256_fmadd_ps(a, _mm256_broadcast_ss(bv + 3), c3);
    }
    float col[4][8] __attribute__((aligned(32)));
    _mm256_store_ps(col[0], c0); _mm256_store_ps(col[1], c1); _mm256_store_ps(col[2], c2); _mm256_store_ps(col[3], c3);
    float t[MR * NR] __attribute__((aligned(32)));
    for (size_t r = 0; r < MR; r++)
        for (size_t cc = 0; cc < 4; cc++) t[r * NR + cc] = col[cc][r];
    tile_store_scalar(t, c, ldc, rows, cols, load, last, i, j, ep);
}

int onyx_cpu_has_avx512(void) {
    static int cached = -1;
    if (cached >= 0) return cached;
    __builtin_cpu_init();
    cached = __builtin_cpu_supports("avx512f") && onyx_cpu_has_avx2_fma() && !isa_capped("avx2");
    return cached;
}

// A finished tile of up to 12 x 32 held as four 6x16 quadrants (t[0] t[1] / t[2] t[3]), stored through the AVX2
// store/epilogue.
__attribute__((target("avx2,fma")))
static void store_quadrants(float t[4][MR * NR], float *c, size_t ldc, size_t rows, size_t cols, int load, int last,
                            size_t i, size_t j, const onyx_epilogue *ep) {
    size_t r0 = rows < MR ? rows : MR, r1 = rows > MR ? rows - MR : 0;
    size_t c0 = cols < NR ? cols : NR, c1 = cols > NR ? cols - NR : 0;
    store_tile_avx2(t[0], c, ldc, r0, c0, load, last, i, j, ep);
    if (c1) store_tile_avx2(t[1], c + NR, ldc, r0, c1, load, last, i, j + NR, ep);
    if (r1) {
        store_tile_avx2(t[2], c + MR * ldc, ldc, r1, c0, load, last, i + MR, j, ep);
        if (c1) store_tile_avx2(t[3], c + MR * ldc + NR, ldc, r1, c1, load, last, i + MR, j + NR, ep);
    }
}

// 12x32 AVX-512 micro-kernel over two adjacent A panels (6 rows each) and two adjacent B panels (16 columns
// each): 24 zmm accumulators. Finished sub-tiles go through the AVX2 6x16 store/epilogue.
__attribute__((target("avx512f,avx2,fma")))
static void kernel_avx512_12x32(size_t kc, const float *ap0, const float *ap1, const float *bp0, const float *bp1,
                                float *c, size_t ldc, size_t rows, size_t cols, int load, int last,
                                size_t i, size_t j, const onyx_epilogue *ep) {
    __m512 a00 = _mm512_setzero_ps(), a01 = _mm512_setzero_ps(), a10 = _mm512_setzero_ps(), a11 = _mm512_setzero_ps();
    __m512 a20 = _mm512_setzero_ps(), a21 = _mm512_setzero_ps(), a30 = _mm512_setzero_ps(), a31 = _mm512_setzero_ps();
    __m512 a40 = _mm512_setzero_ps(), a41 = _mm512_setzero_ps(), a50 = _mm512_setzero_ps(), a51 = _mm512_setzero_ps();
    __m512 a60 = _mm512_setzero_ps(), a61 = _mm512_setzero_ps(), a70 = _mm512_setzero_ps(), a71 = _mm512_setzero_ps();
    __m512 a80 = _mm512_setzero_ps(), a81 = _mm512_setzero_ps(), a90 = _mm512_setzero_ps(), a91 = _mm512_setzero_ps();
    __m512 aa0 = _mm512_setzero_ps(), aa1 = _mm512_setzero_ps(), ab0 = _mm512_setzero_ps(), ab1 = _mm512_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(bp0 + p * NR), b1 = _mm512_load_ps(bp1 + p * NR);
        const float *x = ap0 + p * MR, *y = ap1 + p * MR;
        if ((p & 1) == 0) { _mm_prefetch((const char *)(x + A_PREFETCH), _MM_HINT_T0); _mm_prefetch((const char *)(y + A_PREFETCH), _MM_HINT_T0); }
        __m512 a;
        a = _mm512_set1_ps(x[0]); a00 = _mm512_fmadd_ps(a, b0, a00); a01 = _mm512_fmadd_ps(a, b1, a01);
        a = _mm512_set1_ps(x[1]); a10 = _mm512_fmadd_ps(a, b0, a10); a11 = _mm512_fmadd_ps(a, b1, a11);
        a = _mm512_set1_ps(x[2]); a20 = _mm512_fmadd_ps(a, b0, a20); a21 = _mm512_fmadd_ps(a, b1, a21);
        a = _mm512_set1_ps(x[3]); a30 = _mm512_fmadd_ps(a, b0, a30); a31 = _mm512_fmadd_ps(a, b1, a31);
        a = _mm512_set1_ps(x[4]); a40 = _mm512_fmadd_ps(a, b0, a40); a41 = _mm512_fmadd_ps(a, b1, a41);
        a = _mm512_set1_ps(x[5]); a50 = _mm512_fmadd_ps(a, b0, a50); a51 = _mm512_fmadd_ps(a, b1, a51);
        a = _mm512_set1_ps(y[0]); a60 = _mm512_fmadd_ps(a, b0, a60); a61 = _mm512_fmadd_ps(a, b1, a61);
        a = _mm512_set1_ps(y[1]); a70 = _mm512_fmadd_ps(a, b0, a70); a71 = _mm512_fmadd_ps(a, b1, a71);
        a = _mm512_set1_ps(y[2]); a80 = _mm512_fmadd_ps(a, b0, a80); a81 = _mm512_fmadd_ps(a, b1, a81);
        a = _mm512_set1_ps(y[3]); a90 = _mm512_fmadd_ps(a, b0, a90); a91 = _mm512_fmadd_ps(a, b1, a91);
        a = _mm512_set1_ps(y[4]); aa0 = _mm512_fmadd_ps(a, b0, aa0); aa1 = _mm512_fmadd_ps(a, b1, aa1);
        a = _mm512_set1_ps(y[5]); ab0 = _mm512_fmadd_ps(a, b0, ab0); ab1 = _mm512_fmadd_ps(a, b1, ab1);
    }
    // Full tile with no or a simple epilogue (bias, residual, ReLU / Clip): finished in registers.
    if (rows == 2 * MR && cols == 2 * NR && (!last || !ep || ep->act <= 2)) {
        const onyx_epilogue *e = last ? ep : NULL;
        __m512 lo = _mm512_set1_ps(e && e->act == 2 ? e->p0 : 0.0f), hi = _mm512_set1_ps(e && e->act == 2 ? e->p1 : 0.0f);
#define ROW512(r, x0, x1) do { \
            float *cr = c + (r) * ldc; \
            __m512 v0 = x0, v1 = x1; \
            if (load) { v0 = _mm512_add_ps(v0, _mm512_loadu_ps(cr)); v1 = _mm512_add_ps(v1, _mm512_loadu_ps(cr + NR)); } \
            if (e) { \
                if (e->bias) { \
                    if (e->bias_per_row) { __m512 bv = _mm512_set1_ps(e->bias[i + (r)]); v0 = _mm512_add_ps(v0, bv); v1 = _mm512_add_ps(v1, bv); } \
                    else { v0 = _mm512_add_ps(v0, _mm512_loadu_ps(e->bias + j)); v1 = _mm512_add_ps(v1, _mm512_loadu_ps(e->bias + j + NR)); } \
                } \
                if (e->res) { const float *rr = e->res + (i + (r)) * e->ldr + j; \
                    v0 = _mm512_add_ps(v0, _mm512_loadu_ps(rr)); v1 = _mm512_add_ps(v1, _mm512_loadu_ps(rr + NR)); } \
                if (e->act == 1) { v0 = _mm512_max_ps(v0, _mm512_setzero_ps()); v1 = _mm512_max_ps(v1, _mm512_setzero_ps()); } \
                else if (e->act == 2) { v0 = _mm512_min_ps(_mm512_max_ps(v0, lo), hi); v1 = _mm512_min_ps(_mm512_max_ps(v1, lo), hi); } \
            } \
            _mm512_storeu_ps(cr, v0); _mm512_storeu_ps(cr + NR, v1); \
        } while (0)
        ROW512(0, a00, a01); ROW512(1, a10, a11); ROW512(2, a20, a21); ROW512(3, a30, a31);
        ROW512(4, a40, a41); ROW512(5, a50, a51); ROW512(6, a60, a61); ROW512(7, a70, a71);
        ROW512(8, a80, a81); ROW512(9, a90, a91); ROW512(10, aa0, aa1); ROW512(11, ab0, ab1);
#undef ROW512
        return;
    }
    float t[4][MR * NR] __attribute__((aligned(64)));
    _mm512_store_ps(t[0] + 0 * NR, a00); _mm512_store_ps(t[1] + 0 * NR, a01);
    _mm512_store_ps(t[0] + 1 * NR, a10); _mm512_store_ps(t[1] + 1 * NR, a11);
    _mm512_store_ps(t[0] + 2 * NR, a20); _mm512_store_ps(t[1] + 2 * NR, a21);
    _mm512_store_ps(t[0] + 3 * NR, a30); _mm512_store_ps(t[1] + 3 * NR, a31);
    _mm512_store_ps(t[0] + 4 * NR, a40); _mm512_store_ps(t[1] + 4 * NR, a41);
    _mm512_store_ps(t[0] + 5 * NR, a50); _mm512_store_ps(t[1] + 5 * NR, a51);
    _mm512_store_ps(t[2] + 0 * NR, a60); _mm512_store_ps(t[3] + 0 * NR, a61);
    _mm512_store_ps(t[2] + 1 * NR, a70); _mm512_store_ps(t[3] + 1 * NR, a71);
    _mm512_store_ps(t[2] + 2 * NR, a80); _mm512_store_ps(t[3] + 2 * NR, a81);
    _mm512_store_ps(t[2] + 3 * NR, a90); _mm512_store_ps(t[3] + 3 * NR, a91);
    _mm512_store_ps(t[2] + 4 * NR, aa0); _mm512_store_ps(t[3] + 4 * NR, aa1);
    _mm512_store_ps(t[2] + 5 * NR, ab0); _mm512_store_ps(t[3] + 5 * NR, ab1);
    store_quadrants(t, c, ldc, rows, cols, load, last, i, j, ep);
}

// 6x32 and 8x32 variants for a last row block of at most 6 or 8 rows (M = 64 = 5*12 + 4: 66 rows computed instead
// of 72; M = 128 = 10*12 + 8, M = 32 = 2*12 + 8: 8 instead of 12): 12 or 16 zmm accumulators over one A panel, or
// one and the first two rows of the next.
__attribute__((target("avx512f,avx2,fma"))) static inline __attribute__((always_inline))
void kernel_avx512_rx32(const int R, size_t kc, const float *ap0, const float *ap1, const float *bp0, const float *bp1,
                        float *c, size_t ldc, size_t rows, size_t cols, int load, int last,
                        size_t i, size_t j, const onyx_epilogue *ep) {
    __m512 lo[8], hi[8];
    for (int r = 0; r < R; r++) { lo[r] = _mm512_setzero_ps(); hi[r] = _mm512_setzero_ps(); }
    for (size_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(bp0 + p * NR), b1 = _mm512_load_ps(bp1 + p * NR);
        const float *x = ap0 + p * MR, *y = ap1 + p * MR;
        if ((p & 1) == 0) _mm_prefetch((const char *)(x + A_PREFETCH), _MM_HINT_T0);
        for (int r = 0; r < R; r++) {
            __m512 a = _mm512_set1_ps(r < MR ? x[r] : y[r - MR]);
            lo[r] = _mm512_fmadd_ps(a, b0, lo[r]); hi[r] = _mm512_fmadd_ps(a, b1, hi[r]);
        }
    }
    float t[4][MR * NR] __attribute__((aligned(64)));
    for (int r = 0; r < R; r++) {
        _mm512_store_ps(t[r < MR ? 0 : 2] + (r % MR) * NR, lo[r]); _mm512_store_ps(t[r < MR ? 1 : 3] + (r % MR) * NR, hi[r]);
    }
    store_quadrants(t, c, ldc, rows, cols, load, last, i, j, ep);
}
__attribute__((target("avx512f,avx2,fma")))
static void kernel_avx512_6x32(size_t kc, const float *ap0, const float *bp0, const float *bp1, float *c, size_t ldc,
                               size_t rows, size_t cols, int load, int last, size_t i, size_t j, const onyx_epilogue *ep) {
    kernel_avx512_rx32(6, kc, ap0, ap0, bp0, bp1, c, ldc, rows, cols, load, last, i, j, ep);
}
__attribute__((target("avx512f,avx2,fma")))
static void kernel_avx512_8x32(size_t kc, const float *ap0, const float *ap1, const float *bp0, const float *bp1,
                               float *c, size_t ldc, size_t rows, size_t cols, int load, int last, size_t i, size_t j,
                               const onyx_epilogue *ep) {
    kernel_avx512_rx32(8, kc, ap0, ap1, bp0, bp1, c, ldc, rows, cols, load, last, i, j, ep);
}

// 12x16 variant for a last column block of at most 16 columns (e.g. 196 = 6*32 + 4 output positions: 208
// columns computed instead of 224).
__attribute__((target("avx512f,avx2,fma")))
static void kernel_avx512_12x16(size_t kc, const float *ap0, const float *ap1, const float *bp0,
                                float *c, size_t ldc, size_t rows, size_t cols, int load, int last,
                                size_t i, size_t j, const onyx_epilogue *ep) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    __m512 a4 = _mm512_setzero_ps(), a5 = _mm512_setzero_ps(), a6 = _mm512_setzero_ps(), a7 = _mm512_setzero_ps();
    __m512 a8 = _mm512_setzero_ps(), a9 = _mm512_setzero_ps(), aa = _mm512_setzero_ps(), ab = _mm512_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(bp0 + p * NR);
        const float *x = ap0 + p * MR, *y = ap1 + p * MR;
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[0]), b0, a0); a1 = _mm512_fmadd_ps(_mm512_set1_ps(x[1]), b0, a1);
        a2 = _mm512_fmadd_ps(_mm512_set1_ps(x[2]), b0, a2); a3 = _mm512_fmadd_ps(_mm512_set1_ps(x[3]), b0, a3);
        a4 = _mm512_fmadd_ps(_mm512_set1_ps(x[4]), b0, a4); a5 = _mm512_fmadd_ps(_mm512_set1_ps(x[5]), b0, a5);
        a6 = _mm512_fmadd_ps(_mm512_set1_ps(y[0]), b0, a6); a7 = _mm512_fmadd_ps(_mm512_set1_ps(y[1]), b0, a7);
        a8 = _mm512_fmadd_ps(_mm512_set1_ps(y[2]), b0, a8); a9 = _mm512_fmadd_ps(_mm512_set1_ps(y[3]), b0, a9);
        aa = _mm512_fmadd_ps(_mm512_set1_ps(y[4]), b0, aa); ab = _mm512_fmadd_ps(_mm512_set1_ps(y[5]), b0, ab);
    }
    float t[2][MR * NR] __attribute__((aligned(64)));
    _mm512_store_ps(t[0] + 0 * NR, a0); _mm512_store_ps(t[0] + 1 * NR, a1); _mm512_store_ps(t[0] + 2 * NR, a2);
    _mm512_store_ps(t[0] + 3 * NR, a3); _mm512_store_ps(t[0] + 4 * NR, a4); _mm512_store_ps(t[0] + 5 * NR, a5);
    _mm512_store_ps(t[1] + 0 * NR, a6); _mm512_store_ps(t[1] + 1 * NR, a7); _mm512_store_ps(t[1] + 2 * NR, a8);
    _mm512_store_ps(t[1] + 3 * NR, a9); _mm512_store_ps(t[1] + 4 * NR, aa); _mm512_store_ps(t[1] + 5 * NR, ab);
    size_t r0 = rows < MR ? rows : MR, r1 = rows > MR ? rows - MR : 0;
    store_tile_avx2(t[0], c, ldc, r0, cols, load, last, i, j, ep);
    if (r1) store_tile_avx2(t[1], c + MR * ldc, ldc, r1, cols, load, last, i + MR, j, ep);
}

// 12 x (1..4) kernel for the last few columns of a block (N = 49 = 32 + 16 + 1, N = 196 = 6*32 + 4): per k-step
// the 12 A values are two masked 6-float loads and each column costs two 8-wide FMAs, instead of a whole 16-column
// tile (12 16-wide FMAs) for one to four useful columns.
__attribute__((target("avx512f,avx512vl,avx2,fma")))
static void kernel_avx512_12xn(size_t kc, const float *ap0, const float *ap1, const float *bp0,
                               float *c, size_t ldc, size_t rows, size_t cols, int load, int last,
                               size_t i, size_t j, const onyx_epilogue *ep) {
    __m256 l0 = _mm256_setzero_ps(), l1 = l0, l2 = l0, l3 = l0, h0 = l0, h1 = l0, h2 = l0, h3 = l0;
    const __mmask8 six = 0x3f;
    size_t p0 = 0;
    if (cols == 1) {
        // One column (N = 49 = 32 + 16 + 1): two FMAs per k on one accumulator pair would wait on the FMA latency
        // every step; four pairs over consecutive k run back to back, then are summed.
        __m256 l4 = l0, l5 = l0, l6 = l0, h4 = l0, h5 = l0, h6 = l0;
        for (; p0 + 4 <= kc; p0 += 4) {
            const float *x = ap0 + p0 * MR, *y = ap1 + p0 * MR, *bv = bp0 + p0 * NR;
            __m256 b0 = _mm256_broadcast_ss(bv), b1 = _mm256_broadcast_ss(bv + NR);
            __m256 b2 = _mm256_broadcast_ss(bv + 2 * NR), b3 = _mm256_broadcast_ss(bv + 3 * NR);
            l0 = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(six, x), b0, l0);
            h0 = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(six, y), b0, h0);
            l4 = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(six, x + MR), b1, l4);
            h4 = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(six, y + MR), b1, h4);
            l5 = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(six, x + 2 * MR), b2, l5);
            h5 = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(six, y + 2 * MR), b2, h5);
            l6 = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(six, x + 3 * MR), b3, l6);
            h6 = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(six, y + 3 * MR), b3, h6);
        }
        l0 = _mm256_add_ps(_mm256_add_ps(l0, l4), _mm256_add_ps(l5, l6));
        h0 = _mm256_add_ps(_mm256_add_ps(h0, h4), _mm256_add_ps(h5, h6));
    }
    for (size_t p = p0; p < kc; p++) {
        __m256 a = _mm256_maskz_loadu_ps(six, ap0 + p * MR), b = _mm256_maskz_loadu_ps(six, ap1 + p * MR);
        const float *bv = bp0 + p * NR;
        __m256 x = _mm256_broadcast_ss(bv);
        l0 = _mm256_fmadd_ps(a, x, l0); h0 = _mm256_fmadd_ps(b, x, h0);
        if (cols > 1) { x = _mm256_broadcast_ss(bv + 1); l1 = _mm256_fmadd_ps(a, x, l1); h1 = _mm256_fmadd_ps(b, x, h1); }
        if (cols > 2) { x = _mm256_broadcast_ss(bv + 2); l2 = _mm256_fmadd_ps(a, x, l2); h2 = _mm256_fmadd_ps(b, x, h2); }
        if (cols > 3) { x = _mm256_broadcast_ss(bv + 3); l3 = _mm256_fmadd_ps(a, x, l3); h3 = _mm256_fmadd_ps(b, x, h3); }
    }
    float col[8][8] __attribute__((aligned(32)));
    _mm256_store_ps(col[0], l0); _mm256_store_ps(col[1], l1); _mm256_store_ps(col[2], l2); _mm256_store_ps(col[3], l3);
    _mm256_store_ps(col[4], h0); _mm256_store_ps(col[5], h1); _mm256_store_ps(col[6], h2); _mm256_store_ps(col[7], h3);
    float t[2][MR * NR] __attribute__((aligned(64)));
    for (size_t r = 0; r < MR; r++)
        for (size_t cc = 0; cc < 4; cc++) { t[0][r * NR + cc] = col[cc][r]; t[1][r * NR + cc] = col[4 + cc][r]; }
    size_t r0 = rows < MR ? rows : MR, r1 = rows > MR ? rows - MR : 0;
    tile_store_scalar(t[0], c, ldc, r0, cols, load, last, i, j, ep);
    if (r1) tile_store_scalar(t[1], c + MR * ldc, ldc, r1, cols, load, last, i + MR, j, ep);
}

// C[m x n] = A * B for a stride-1 convolution whose B is never packed: B[p][j] = xb[koff[p] + j], rows of a
// zero-padded input read in place (koff[p]: the plane, row and column offset of patch row p), columns the output
// positions along the padded width. R (12, 8 or 6) rows x 32 columns; the A values are broadcast as in the packed
// kernels, the B rows loaded unaligned. Writes (load = 0) or adds to (load = 1) rows x 32 of c.
__attribute__((target("avx512f,avx2,fma"))) static inline __attribute__((always_inline))
void rows_kernel_body(const int R, size_t kc, const float *ap0, const float *ap1, const float *xb, const long *koff,
                      float *c, size_t ldc, size_t rows, int load) {
    __m512 lo[12], hi[12];
    for (int r = 0; r < R; r++) { lo[r] = _mm512_setzero_ps(); hi[r] = _mm512_setzero_ps(); }
    for (size_t p = 0; p < kc; p++) {
        const float *b = xb + koff[p];
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        const float *x = ap0 + p * MR, *y = ap1 + p * MR;
        if ((p & 1) == 0) _mm_prefetch((const char *)(x + A_PREFETCH), _MM_HINT_T0);
        for (int r = 0; r < R; r++) {
            __m512 a = _mm512_set1_ps(r < MR ? x[r] : y[r - MR]);
            lo[r] = _mm512_fmadd_ps(a, b0, lo[r]); hi[r] = _mm512_fmadd_ps(a, b1, hi[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= rows) break;
        float *cr = c + r * ldc;
        __m512 v0 = lo[r], v1 = hi[r];
        if (load) { v0 = _mm512_add_ps(v0, _mm512_loadu_ps(cr)); v1 = _mm512_add_ps(v1, _mm512_loadu_ps(cr + 16)); }
        _mm512_storeu_ps(cr, v0); _mm512_storeu_ps(cr + 16, v1);
    }
}
__attribute__((target("avx512f,avx2,fma")))
static void rows_kernel_12(size_t kc, const float *ap0, const float *ap1, const float *xb, const long *koff,
                           float *c, size_t ldc, size_t rows, int load) {
    rows_kernel_body(12, kc, ap0, ap1, xb, koff, c, ldc, rows, load);
}
__attribute__((target("avx512f,avx2,fma")))
static void rows_kernel_8(size_t kc, const float *ap0, const float *ap1, const float *xb, const long *koff,
                          float *c, size_t ldc, size_t rows, int load) {
    rows_kernel_body(8, kc, ap0, ap1, xb, koff, c, ldc, rows, load);
}
__attribute__((target("avx512f,avx2,fma")))
static void rows_kernel_6(size_t kc, const float *ap0, const float *xb, const long *koff,
                          float *c, size_t ldc, size_t rows, int load) {
    rows_kernel_body(6, kc, ap0, ap0, xb, koff, c, ldc, rows, load);
}

// AVX2+FMA form: 6 rows x 16 columns (12 ymm accumulators), one A panel.
__attribute__((target("avx2,fma")))
static void rows_kernel_avx2(size_t kc, const float *ap, const float *xb, const long *koff, float *c, size_t ldc,
                             size_t rows, int load) {
    __m256 lo[MR], hi[MR];
    for (int r = 0; r < MR; r++) { lo[r] = _mm256_setzero_ps(); hi[r] = _mm256_setzero_ps(); }
    for (size_t p = 0; p < kc; p++) {
        const float *b = xb + koff[p];
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        const float *x = ap + p * MR;
        if ((p & 3) == 0) _mm_prefetch((const char *)(x + A_PREFETCH), _MM_HINT_T0);
        for (int r = 0; r < MR; r++) {
            __m256 a = _mm256_broadcast_ss(x + r);
            lo[r] = _mm256_fmadd_ps(a, b0, lo[r]); hi[r] = _mm256_fmadd_ps(a, b1, hi[r]);
        }
    }
    for (size_t r = 0; r < rows && r < MR; r++) {
        float *cr = c + r * ldc;
        __m256 v0 = lo[r], v1 = hi[r];
        if (load) { v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr)); v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8)); }
        _mm256_storeu_ps(cr, v0); _mm256_storeu_ps(cr + 8, v1);
    }
}

static int gemm_rows_avx2(size_t m, size_t n, size_t k, const float *pa, const float *xb, const long *koff, float *c,
                          size_t ldc) {
    for (size_t pc = 0; pc < k; pc += PKC) {
        size_t kc = k - pc < PKC ? k - pc : PKC;
        for (size_t jr = 0; jr < n; jr += 16)
            for (size_t ir = 0; ir < m; ir += MR)
                rows_kernel_avx2(kc, pa + (ir / MR) * MR * k + pc * MR, xb + jr, koff + pc, c + ir * ldc + jr, ldc,
                                 m - ir < MR ? m - ir : MR, pc > 0);
    }
    return 1;
}

int onyx_gemm_rows(size_t m, size_t n, size_t k, const float *pa, const float *xb, const long *koff, float *c, size_t ldc) {
    if (n % 32 != 0) return 0;
    if (!onyx_cpu_has_avx512()) return onyx_cpu_has_avx2_fma() ? gemm_rows_avx2(m, n, k, pa, xb, koff, c, ldc) : 0;
    size_t mpan = (m + MR - 1) / MR;
    for (size_t pc = 0; pc < k; pc += PKC) {
        size_t kc = k - pc < PKC ? k - pc : PKC;
        for (size_t jr = 0; jr < n; jr += 32)
            for (size_t ir = 0; ir < m; ir += 2 * MR) {
                size_t rows = m - ir < 2 * MR ? m - ir : 2 * MR, ip = ir / MR;
                const float *ap0 = pa + ip * MR * k + pc * MR;
                const float *ap1 = pa + (ip + 1 < mpan ? ip + 1 : ip) * MR * k + pc * MR;
                // Last tiles of 1-6 and 7-8 rows (M = 64 = 5*12 + 4, M = 32 = 2*12 + 8) run shorter kernels.
                if (rows <= MR) rows_kernel_6(kc, ap0, xb + jr, koff + pc, c + ir * ldc + jr, ldc, rows, pc > 0);
                else if (rows <= 8) rows_kernel_8(kc, ap0, ap1, xb + jr, koff + pc, c + ir * ldc + jr, ldc, rows, pc > 0);
                else rows_kernel_12(kc, ap0, ap1, xb + jr, koff + pc, c + ir * ldc + jr, ldc, rows, pc > 0);
            }
    }
    return 1;
}
#endif

#ifndef ONYX_X86
int onyx_cpu_has_avx512(void) { return 0; }
int onyx_gemm_rows(size_t m, size_t n, size_t k, const float *pa, const float *xb, const long *koff, float *c, size_t ldc) {
    (void)m; (void)n; (void)k; (void)pa; (void)xb; (void)koff; (void)c; (void)ldc;
    return 0;
}
#endif

#define PMC 144
#define PNC 1024

void onyx_gemm_packed(size_t m, size_t n, size_t k, const float *pa, const float *pb, float *c, size_t ldc,
                      int accumulate, size_t i0, size_t i1, size_t j0, size_t j1, const onyx_epilogue *ep) {
    if (i1 > m) i1 = m;
    if (j1 > n) j1 = n;
    if (i0 >= i1 || j0 >= j1) return;
    if (k == 0) {
        for (size_t i = i0; i < i1; i++) {
            float *row = c + i * ldc + j0;
            for (size_t jj = 0; jj < j1 - j0; jj++) {
                float v = accumulate ? row[jj] : 0.0f;
                epilogue_row_scalar(row + jj, &v, 1, i, j0 + jj, ep);
            }
        }
        return;
    }
    int fast = onyx_cpu_has_avx2_fma();
    (void)fast;   // unused where there is no x86 path
#ifdef ONYX_X86
    if (onyx_cpu_has_avx512()) {
        // Zero panels beyond m / n are packed as zeros, so a 12x32 block may read one panel past a partial edge
        // only when that panel exists; otherwise it reads the same panel twice and stores nothing from it.
        size_t mpan = (m + MR - 1) / MR, npan = (n + NR - 1) / NR;
        // One row block (a matrix-vector product, M = 1: a classifier head): K is not blocked, so each pair of
        // B panels streams from memory in one sequential run.
        size_t kblock = i1 - i0 <= 2 * MR ? k : PKC;
        for (size_t jc = j0; jc < j1; jc += PNC) {
            size_t jce = jc + PNC < j1 ? jc + PNC : j1;
            for (size_t pc = 0; pc < k; pc += kblock) {
                size_t kc = k - pc < kblock ? k - pc : kblock;
                int load = accumulate || pc > 0, last = pc + kc >= k;
                for (size_t ic = i0; ic < i1; ic += PMC) {
                    size_t ice = ic + PMC < i1 ? ic + PMC : i1;
                    for (size_t jr = jc; jr < jce; jr += 2 * NR) {
                        size_t cols = jce - jr < 2 * NR ? jce - jr : 2 * NR;
                        size_t jp = jr / NR, jp1 = jp + 1 < npan ? jp + 1 : jp;
                        const float *bp0 = pb + jp * NR * k + pc * NR, *bp1 = pb + jp1 * NR * k + pc * NR;
                        for (size_t ir = ic; ir < ice; ir += 2 * MR) {
                            size_t rows = ice - ir < 2 * MR ? ice - ir : 2 * MR;
                            size_t ip = ir / MR, ip1 = ip + 1 < mpan ? ip + 1 : ip;
                            const float *ap0 = pa + ip * MR * k + pc * MR, *ap1 = pa + ip1 * MR * k + pc * MR;
                            float *cp = c + ir * ldc + jr;
                            if (cols <= 4) kernel_avx512_12xn(kc, ap0, ap1, bp0, cp, ldc, rows, cols, load, last, ir, jr, ep);
                            else if (cols <= NR) kernel_avx512_12x16(kc, ap0, ap1, bp0, cp, ldc, rows, cols, load, last, ir, jr, ep);
                            else if (cols <= NR + 4) {
                                // 17..20 columns: a full 16-column tile and 1..4 single columns (N = 49).
                                kernel_avx512_12x16(kc, ap0, ap1, bp0, cp, ldc, rows, NR, load, last, ir, jr, ep);
                                kernel_avx512_12xn(kc, ap0, ap1, bp1, cp + NR, ldc, rows, cols - NR, load, last, ir, jr + NR, ep);
                            } else if (rows <= MR) kernel_avx512_6x32(kc, ap0, bp0, bp1, cp, ldc, rows, cols, load, last, ir, jr, ep);
                            else if (rows <= 8) kernel_avx512_8x32(kc, ap0, ap1, bp0, bp1, cp, ldc, rows, cols, load, last, ir, jr, ep);
                            else kernel_avx512_12x32(kc, ap0, ap1, bp0, bp1, cp, ldc, rows, cols, load, last, ir, jr, ep);
                        }
                    }
                }
            }
        }
        return;
    }
#endif
    for (size_t jc = j0; jc < j1; jc += PNC) {
        size_t jce = jc + PNC < j1 ? jc + PNC : j1;
        for (size_t pc = 0; pc < k; pc += PKC) {
            size_t kc = k - pc < PKC ? k - pc : PKC;
            int load = accumulate || pc > 0, last = pc + kc >= k;
            for (size_t ic = i0; ic < i1; ic += PMC) {
                size_t ice = ic + PMC < i1 ? ic + PMC : i1;
                for (size_t jr = jc; jr < jce; jr += NR) {
                    size_t cols = jce - jr < NR ? jce - jr : NR;
                    const float *bp = pb + (jr / NR) * NR * k + pc * NR;
                    for (size_t ir = ic; ir < ice; ir += MR) {
                        size_t rows = ice - ir < MR ? ice - ir : MR;
                        const float *ap = pa + (ir / MR) * MR * k + pc * MR;
                        float *cp = c + ir * ldc + jr;
#ifdef ONYX_X86
                        if (fast && cols <= 4) { kernel_avx2_6xn(kc, ap, bp, cp, ldc, rows, cols, load, last, ir, jr, ep); continue; }
                        if (fast) { kernel_avx2_packed(kc, ap, bp, cp, ldc, rows, cols, load, last, ir, jr, ep); continue; }
#endif
                        kernel_ref_packed(kc, ap, bp, cp, ldc, rows, cols, load, last, ir, jr, ep);
                    }
                }
            }
        }
    }
}

// Depthwise convolution: per channel, per output row, accumulate the taps over the valid output column range
// (the inner loop is contiguous for stride 1, so it vectorises).
// A row segment update y[0..n) += w * x[0..n) (x, y disjoint).
static inline __attribute__((always_inline)) void dw_axpy(float *restrict y, const float *restrict x, float w, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += w * x[i];
}
// Strided: y[0..n) += w * x[i * s].
static inline __attribute__((always_inline)) void dw_axpy_s(float *restrict y, const float *restrict x, float w, size_t n, size_t s) {
    for (size_t i = 0; i < n; i++) y[i] += w * x[i * s];
}

// Stride-1 3x3 depthwise over a zero-padded copy of the plane: outputs are computed along the flattened padded
// width (two junk columns per row), so one long contiguous loop with 9 taps covers the whole plane.
static inline __attribute__((always_inline))
void dw3x3s1_plane(const float *restrict xp, const float *restrict wp, float b, float *restrict yp,
                   size_t H, size_t W, size_t OH, size_t OW, size_t ph, size_t pw, float *restrict pad, float *restrict ext) {
    size_t Hp = OH + 2, Wp = OW + 2;
    memset(pad, 0, Hp * Wp * sizeof(float));
    for (size_t h = 0; h < H; h++) {
        size_t ph_ = h + ph;
        if (ph_ >= Hp) break;
        size_t n = W; if (pw + n > Wp) n = Wp - pw;
        memcpy(pad + ph_ * Wp + pw, xp + h * W, n * sizeof(float));
    }
    float w0 = wp[0], w1 = wp[1], w2 = wp[2], w3 = wp[3], w4 = wp[4], w5 = wp[5], w6 = wp[6], w7 = wp[7], w8 = wp[8];
    size_t total = (OH - 1) * Wp + OW;
    const float *r0 = pad, *r1 = pad + Wp, *r2 = pad + 2 * Wp;
    for (size_t i = 0; i < total; i++) {
        ext[i] = b + w0 * r0[i] + w1 * r0[i + 1] + w2 * r0[i + 2] + w3 * r1[i] + w4 * r1[i + 1] + w5 * r1[i + 2]
               + w6 * r2[i] + w7 * r2[i + 1] + w8 * r2[i + 2];
    }
    for (size_t oh = 0; oh < OH; oh++) memcpy(yp + oh * OW, ext + oh * Wp, OW * sizeof(float));
}

// Stride-2 3x3 depthwise: the zero-padded plane is split once into its even and odd columns (E, O: rows of OW + 1),
// so every output row is one contiguous loop with 9 taps: y[ow] = Σ_kh w0·E[2oh+kh][ow] + w1·O[2oh+kh][ow]
// + w2·E[2oh+kh][ow+1].
static inline __attribute__((always_inline))
void dw3x3s2_plane(const float *restrict xp, const float *restrict wp, float b, float *restrict yp,
                   size_t H, size_t W, size_t OH, size_t OW, size_t ph, size_t pw, float *restrict ev, float *restrict od) {
    size_t Hp = 2 * OH + 1, Wp = 2 * OW + 1, We = OW + 1;
    memset(ev, 0, Hp * We * sizeof(float));
    memset(od, 0, Hp * We * sizeof(float));
    for (size_t h = 0; h < H && h + ph < Hp; h++) {
        const float *xr = xp + h * W;
        float *er = ev + (h + ph) * We, *orow = od + (h + ph) * We;
        size_t n = W; if (pw + n > Wp) n = Wp - pw;   // padded columns pw .. pw+n-1 hold x[0 .. n-1]
        // Padded column c = 2q (even) or 2q+1 (odd) holds x[c - pw]: two stride-2 gathers (vectorised as shuffles).
        size_t qe0 = (pw + 1) / 2, qe1 = (pw + n + 1) / 2;       // even c in [pw, pw+n)
        size_t qo0 = pw / 2, qo1 = (pw + n) / 2;                 // odd c = 2q+1 in [pw, pw+n)
        const float *xe = xr - pw, *xo = xr + 1 - pw;           // xe[2q] = x[2q - pw], xo[2q] = x[2q + 1 - pw]
        for (size_t q = qe0; q < qe1; q++) er[q] = xe[2 * q];
        for (size_t q = qo0; q < qo1; q++) orow[q] = xo[2 * q];
    }
    float w0 = wp[0], w1 = wp[1], w2 = wp[2], w3 = wp[3], w4 = wp[4], w5 = wp[5], w6 = wp[6], w7 = wp[7], w8 = wp[8];
    for (size_t oh = 0; oh < OH; oh++) {
        const float *e0 = ev + 2 * oh * We, *e1 = e0 + We, *e2 = e1 + We;
        const float *o0 = od + 2 * oh * We, *o1 = o0 + We, *o2 = o1 + We;
        float *restrict yr = yp + oh * OW;
        for (size_t i = 0; i < OW; i++) {
            yr[i] = b + w0 * e0[i] + w1 * o0[i] + w2 * e0[i + 1] + w3 * e1[i] + w4 * o1[i] + w5 * e1[i + 1]
                  + w6 * e2[i] + w7 * o2[i] + w8 * e2[i + 1];
        }
    }
}

static inline __attribute__((always_inline))
void dwconv_body(const float *x, const float *w, const float *bias, const float *res, float *y,
                 size_t c0, size_t c1, size_t H, size_t W, size_t OH, size_t OW, size_t KH, size_t KW,
                 size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw, int act, float p0, float p1) {
    float *scratch = NULL;
    int fast3 = KH == 3 && KW == 3 && sh == 1 && sw == 1 && dh == 1 && dw == 1 && ph <= 2 && pw <= 2 && OH > 0 && OW > 0;
    int fast3s2 = KH == 3 && KW == 3 && sh == 2 && sw == 2 && dh == 1 && dw == 1 && ph <= 2 && pw <= 2 && OH > 0 && OW > 0;
    if (fast3) {
        scratch = malloc(2 * (OH + 2) * (OW + 2) * sizeof(float) + 64);
        if (!scratch) fast3 = 0;
    } else if (fast3s2) {
        scratch = malloc(2 * (2 * OH + 1) * (OW + 1) * sizeof(float) + 64);
        if (!scratch) fast3s2 = 0;
    }
    for (size_t ch = c0; ch < c1; ch++) {
        const float *xp = x + ch * H * W;
        const float *wp = w + ch * KH * KW;
        float *yp = y + ch * OH * OW;
        float b = bias ? bias[ch] : 0.0f;
        if (fast3 || fast3s2) {
            if (fast3) dw3x3s1_plane(xp, wp, b, yp, H, W, OH, OW, ph, pw, scratch, scratch + (OH + 2) * (OW + 2));
            else dw3x3s2_plane(xp, wp, b, yp, H, W, OH, OW, ph, pw, scratch, scratch + (2 * OH + 1) * (OW + 1));
            for (size_t oh = 0; oh < OH; oh++) {
                float *yr = yp + oh * OW;
                if (res) { const float *rr = res + ch * OH * OW + oh * OW; for (size_t ow = 0; ow < OW; ow++) yr[ow] += rr[ow]; }
                if (act == 1) { for (size_t ow = 0; ow < OW; ow++) yr[ow] = yr[ow] > 0.0f ? yr[ow] : 0.0f; }
                else if (act == 2) { for (size_t ow = 0; ow < OW; ow++) { float v = yr[ow]; yr[ow] = v < p0 ? p0 : (v > p1 ? p1 : v); } }
                else if (act) onyx_activation(yr, OW, act, p0, p1);
            }
            continue;
        }
        for (size_t oh = 0; oh < OH; oh++) {
            float *yr = yp + oh * OW;
            for (size_t ow = 0; ow < OW; ow++) yr[ow] = b;
            for (size_t kh = 0; kh < KH; kh++) {
                long ih = (long)(oh * sh + kh * dh) - (long)ph;
                if (ih < 0 || ih >= (long)H) continue;
                const float *xr = xp + (size_t)ih * W;
                if (KW == 3 && dw == 1 && (sw == 1 || sw == 2) && W <= 8192 && OW > 2) {
                    // 3 taps in one pass over the interior; for stride 2 the row is split into even / odd columns
                    // first so every access is contiguous.
                    float ev[4097], od[4097];
                    const float *t0, *t1, *t2;   // t_k[ow] = x[ow*sw + k - pw] for interior ow
                    long base = -(long)pw;
                    // interior: 0 <= ow*sw + base and ow*sw + 2 + base <= W-1
                    long lo = base >= 0 ? 0 : (-base + (long)sw - 1) / (long)sw;
                    long hi = (long)W - 3 - base < 0 ? 0 : ((long)W - 3 - base) / (long)sw + 1;
                    if (hi > (long)OW) hi = (long)OW;
                    if (sw == 1) {
                        t0 = xr + base; t1 = xr + base + 1; t2 = xr + base + 2;
                    } else {
                        size_t ne = (W + 1) / 2, no = W / 2;
                        for (size_t q = 0; q < ne; q++) ev[q] = xr[2 * q];
                        for (size_t q = 0; q < no; q++) od[q] = xr[2 * q + 1];
                        // x[2*ow + k + base]: parity of k + base decides the array.
                        const float *arr[3];
                        for (int kk = 0; kk < 3; kk++) {
                            long o = kk + base;   // x index = 2*ow + o
                            if ((o & 1) == 0) arr[kk] = ev + o / 2; else arr[kk] = od + (o - 1) / 2;
                        }
                        t0 = arr[0]; t1 = arr[1]; t2 = arr[2];
                    }
                    float w0 = wp[kh * 3], w1 = wp[kh * 3 + 1], w2 = wp[kh * 3 + 2];
                    if (lo < hi) {
                        float *restrict yy = yr;
                        for (long ow = lo; ow < hi; ow++) yy[ow] += w0 * t0[ow] + w1 * t1[ow] + w2 * t2[ow];
                    }
                    // Border columns: taps checked one by one.
                    for (long ow = 0; ow < (long)OW; ow++) {
                        if (ow >= lo && ow < hi) { ow = hi - 1; continue; }
                        for (int kk = 0; kk < 3; kk++) {
                            long iw = ow * (long)sw + kk + base;
                            if (iw >= 0 && iw < (long)W) yr[ow] += wp[kh * 3 + kk] * xr[iw];
                        }
                    }
                    continue;
                }
                for (size_t kw = 0; kw < KW; kw++) {
                    float wv = wp[kh * KW + kw];
                    long off = (long)(kw * dw) - (long)pw;   // iw = ow*sw + off
                    long lo = off >= 0 ? 0 : (-off + (long)sw - 1) / (long)sw;
                    long hi = (long)W - 1 - off < 0 ? 0 : ((long)W - 1 - off) / (long)sw + 1;
                    if (hi > (long)OW) hi = (long)OW;
                    if (lo >= hi) continue;
                    const float *xs = xr + lo * (long)sw + off;
                    if (sw == 1) dw_axpy(yr + lo, xs, wv, (size_t)(hi - lo));
                    else dw_axpy_s(yr + lo, xs, wv, (size_t)(hi - lo), sw);
                }
            }
            if (res) { const float *rr = res + ch * OH * OW + oh * OW; for (size_t ow = 0; ow < OW; ow++) yr[ow] += rr[ow]; }
            if (act == 1) { for (size_t ow = 0; ow < OW; ow++) yr[ow] = yr[ow] > 0.0f ? yr[ow] : 0.0f; }
            else if (act == 2) { for (size_t ow = 0; ow < OW; ow++) { float v = yr[ow]; yr[ow] = v < p0 ? p0 : (v > p1 ? p1 : v); } }
            else if (act) onyx_activation(yr, OW, act, p0, p1);
        }
    }
    free(scratch);
}

#ifdef ONYX_X86
__attribute__((target("avx2,fma")))
static void dwconv_avx2(const float *x, const float *w, const float *bias, const float *res, float *y,
                        size_t c0, size_t c1, size_t H, size_t W, size_t OH, size_t OW, size_t KH, size_t KW,
                        size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw, int act, float p0, float p1) {
    dwconv_body(x, w, bias, res, y, c0, c1, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, act, p0, p1);
}
__attribute__((target("avx512f,avx2,fma")))
static void dwconv_avx512(const float *x, const float *w, const float *bias, const float *res, float *y,
                          size_t c0, size_t c1, size_t H, size_t W, size_t OH, size_t OW, size_t KH, size_t KW,
                          size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw, int act, float p0, float p1) {
    dwconv_body(x, w, bias, res, y, c0, c1, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, act, p0, p1);
}
#endif

// AVX-512 3x3 depthwise, stride 1 or 2, any padding <= 2: each output row is computed 16 columns at a time in
// registers, straight from the input rows (no padded copy of the plane, no copy-out): per tap one masked load
// (stride 1; lanes outside the image load zero and never fault) or two masked loads and a permute of the even
// elements (stride 2), one FMA; then residual and ReLU / Clip, one masked store. Small planes (MobileNetV2's
// 7x7 and 14x14) were dominated by the padded-copy path's per-plane overhead (one thread, benchmark of MobileNetV2's
// shapes: 960x7x7 67 -> 52 us, 384x14x14 54 -> 41, stride 2 576x14x14 84 -> 42, 144x56x56 129 -> 84; stride 1 on
// 28x28 and wider was slower than the padded path, 65 -> 73 us, and stays there). Returns 0 when not applicable.
#define DW_MAX_CHUNKS 256
__attribute__((target("avx512f,avx2,fma"))) static inline __attribute__((always_inline))
int dw3x3_avx512_body(const float *x, const float *w, const float *bias, const float *res, float *y,
                      size_t c0, size_t c1, size_t H, size_t W, size_t OH, size_t OW, const size_t s, size_t ph,
                      size_t pw, int act, float p0, float p1) {
    size_t nchunk = (OW + 15) / 16;
    if (nchunk > DW_MAX_CHUNKS || W >= ((size_t)1 << 30)) return 0;
    // Per column chunk q and tap column kw: the input column of lane 0 and the lane masks (stride 2: the masks of
    // the two 16-float loads, whose even elements are the lanes).
    long col[DW_MAX_CHUNKS][3];
    __mmask16 m0[DW_MAX_CHUNKS][3], m1[DW_MAX_CHUNKS][3], om[DW_MAX_CHUNKS];
    for (size_t q = 0; q < nchunk; q++) {
        size_t lanes = OW - q * 16 < 16 ? OW - q * 16 : 16;
        om[q] = (__mmask16)((1u << lanes) - 1);
        for (size_t kw = 0; kw < 3; kw++) {
            long c = (long)(q * 16 * s + kw) - (long)pw;
            col[q][kw] = c;
            uint64_t m = 0;
            for (size_t l = 0; l < lanes; l++) {
                long e = c + (long)(l * s);
                if (e >= 0 && e < (long)W) m |= 1ull << (l * s);
            }
            m0[q][kw] = (__mmask16)(m & 0xffff); m1[q][kw] = (__mmask16)(m >> 16);
        }
    }
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512 zero = _mm512_setzero_ps(), lo = _mm512_set1_ps(p0), hi = _mm512_set1_ps(p1);
    // A zero input row: loads reach from 2 floats before a row to 32 past a chunk's first column.
    float *zbuf = calloc(W + nchunk * 16 * s + 64, sizeof(float));
    if (!zbuf) return 0;
    const float *zrow = zbuf + 8;
    for (size_t ch = c0; ch < c1; ch++) {
        const float *xp = x + ch * H * W, *wp = w + ch * 9;
        float *yp = y + ch * OH * OW;
        const float *rp = res ? res + ch * OH * OW : NULL;
        __m512 wv[9];
        for (int t = 0; t < 9; t++) wv[t] = _mm512_set1_ps(wp[t]);
        __m512 bv = _mm512_set1_ps(bias ? bias[ch] : 0.0f);
        // Four output rows at a time: four independent FMA chains (one chain of 9 dependent FMAs per row waited
        // on the FMA latency). Rows outside the image (and past the last output row) read a zero row.
        // The next channel's plane is prefetched a slice per block of rows: inside a whole model the planes come
        // from memory (MobileNetV2's first depthwise layers ran 2x slower in the model than alone), and the 9 row
        // streams of a block are more than the hardware prefetcher follows.
        const char *next = ch + 1 < c1 ? (const char *)(xp + H * W) : NULL;
        size_t lines = H * W * 4 / 64 + 1, blocks = (OH + 3) / 4, per = (lines + blocks - 1) / blocks;
        for (size_t oh = 0; oh < OH; oh += 4) {
            size_t nr = OH - oh < 4 ? OH - oh : 4;
            if (next) {
                size_t l0 = oh / 4 * per, l1 = l0 + per < lines ? l0 + per : lines;
                for (size_t l = l0; l < l1; l++) _mm_prefetch(next + l * 64, _MM_HINT_T0);
            }
            const float *rows[4][3];
            for (size_t r = 0; r < 4; r++)
                for (size_t kh = 0; kh < 3; kh++) {
                    long ih = (long)((oh + r) * s + kh) - (long)ph;
                    rows[r][kh] = r < nr && ih >= 0 && ih < (long)H ? xp + ih * (long)W : zrow;
                }
            for (size_t q = 0; q < nchunk; q++) {
                __m512 a0 = bv, a1 = bv, a2 = bv, a3 = bv;
                for (size_t kh = 0; kh < 3; kh++)
                    for (size_t kw = 0; kw < 3; kw++) {
                        __m512 wt = wv[kh * 3 + kw];
                        long c = col[q][kw];
                        __mmask16 k0 = m0[q][kw], k1 = m1[q][kw];
#define DW_TAP(acc, r) do { const float *a = rows[r][kh] + c; \
                            __m512 v = s == 1 ? _mm512_maskz_loadu_ps(k0, a) \
                                : _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(k0, a), evens, _mm512_maskz_loadu_ps(k1, a + 16)); \
                            acc = _mm512_fmadd_ps(wt, v, acc); } while (0)
                        DW_TAP(a0, 0); DW_TAP(a1, 1); DW_TAP(a2, 2); DW_TAP(a3, 3);
#undef DW_TAP
                    }
                __m512 acc[4] = {a0, a1, a2, a3};
                for (size_t r = 0; r < nr; r++) {
                    __m512 v = acc[r];
                    if (rp) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(om[q], rp + (oh + r) * OW + q * 16));
                    if (act == 1) v = _mm512_max_ps(v, zero);
                    else if (act == 2) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
                    _mm512_mask_storeu_ps(yp + (oh + r) * OW + q * 16, om[q], v);
                }
            }
            if (act > 2)
                for (size_t r = 0; r < nr; r++) onyx_activation(yp + (oh + r) * OW, OW, act, p0, p1);
        }
    }
    free(zbuf);
    return 1;
}
// Stride as a constant in each copy, so the tap loads are not chosen inside the loop.
__attribute__((target("avx512f,avx2,fma")))
static int dw3x3_avx512(const float *x, const float *w, const float *bias, const float *res, float *y,
                        size_t c0, size_t c1, size_t H, size_t W, size_t OH, size_t OW, size_t s, size_t ph, size_t pw,
                        int act, float p0, float p1) {
    if (s == 1) return dw3x3_avx512_body(x, w, bias, res, y, c0, c1, H, W, OH, OW, 1, ph, pw, act, p0, p1);
    return dw3x3_avx512_body(x, w, bias, res, y, c0, c1, H, W, OH, OW, 2, ph, pw, act, p0, p1);
}

void onyx_dwconv2d(const float *x, const float *w, const float *bias, const float *res, float *y,
                   size_t c0, size_t c1, size_t H, size_t W, size_t OH, size_t OW, size_t KH, size_t KW,
                   size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw, int act, float p0, float p1) {
#ifdef ONYX_X86
    if (onyx_cpu_has_avx512()) {
        // Stride 2 always; stride 1 for rows of at most 16 (wider planes: the padded-plane path measured faster).
        if (KH == 3 && KW == 3 && dh == 1 && dw == 1 && sh == sw && (sh == 2 || (sh == 1 && OW <= 16)) && ph <= 2 && pw <= 2 &&
            dw3x3_avx512(x, w, bias, res, y, c0, c1, H, W, OH, OW, sh, ph, pw, act, p0, p1)) return;
        dwconv_avx512(x, w, bias, res, y, c0, c1, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, act, p0, p1);
        return;
    }
    if (onyx_cpu_has_avx2_fma()) {
        dwconv_avx2(x, w, bias, res, y, c0, c1, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, act, p0, p1);
        return;
    }
#endif
    dwconv_body(x, w, bias, res, y, c0, c1, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, act, p0, p1);
}

// im2col fused with B packing for 2-D convolution: writes output-position columns [j0, j1) (j0 a multiple of 16)
// of one image's (C*KH*KW) x (OH*OW) patch matrix as 16-column panels, first panel at dst.
//
// Vector path (AVX-512 / AVX2): the 16 columns of a panel are output positions in a few output rows. Per
// kernel tap (kh, kw), each row's columns read one input row at a fixed stride, and which of them fall inside
// the image depends only on the tap, not on the channel. So per tap each row becomes a segment (a base offset
// and a lane mask, found arithmetically), and every channel's 16 values are then read with one or two masked
// loads per segment (stride 1; stride 2 adds one permute), or one masked gather (other strides, or more than
// three output rows in a panel), out-of-image lanes loading zero.
#ifdef ONYX_X86
#define IM2COL_SEGS 3
typedef struct {
    int nrow;                        // output rows the panel's columns span (<= NR)
    long oh[NR], ow0[NR];            // row r: output row, output column of its first lane
    int q0[NR], q1[NR];              // row r: lanes [q0, q1)
} im2col_rows;
typedef struct {
    int nseg;                        // segments with at least one valid lane
    long base[NR];                   // segment s: lane q reads plane[base[s] + stride * q]
    uint32_t segmask[NR];
    uint32_t mask;                   // all valid lanes
} im2col_tap;

static void im2col_panel_rows(im2col_rows *r, size_t jp, size_t cols, size_t OW) {
    r->nrow = 0;
    size_t q = 0;
    while (q < cols) {
        size_t j = jp + q, oh = j / OW, ow = j % OW;
        size_t len = OW - ow < cols - q ? OW - ow : cols - q;
        r->oh[r->nrow] = (long)oh; r->ow0[r->nrow] = (long)ow;
        r->q0[r->nrow] = (int)q; r->q1[r->nrow] = (int)(q + len);
        r->nrow++;
        q += len;
    }
}

// Segments of tap (dy, dx) = (kh*dh, kw*dw).
static void im2col_describe(im2col_tap *t, const im2col_rows *r, long H, long W, long sh, long sw, long ph, long pw,
                            long dy, long dx) {
    t->nseg = 0; t->mask = 0;
    for (int i = 0; i < r->nrow; i++) {
        long ih = r->oh[i] * sh - ph + dy;
        if (ih < 0 || ih >= H) continue;
        long len = r->q1[i] - r->q0[i];
        long i0 = r->ow0[i] * sw - pw + dx;            // input column of the row's first lane; lane t: i0 + t*sw
        long lo = i0 >= 0 ? 0 : (-i0 + sw - 1) / sw;
        long hi = i0 > W - 1 ? -1 : (W - 1 - i0) / sw;  // last valid t
        if (hi > len - 1) hi = len - 1;
        if (lo > hi) continue;
        uint32_t m = (uint32_t)(((1ull << (hi + 1)) - 1) & ~((1ull << lo) - 1)) << r->q0[i];
        t->base[t->nseg] = ih * W + i0 - sw * r->q0[i];
        t->segmask[t->nseg] = m;
        t->mask |= m;
        t->nseg++;
    }
}

__attribute__((target("avx512f,avx2,fma")))
static void im2col_pack_avx512(const float *x, size_t C, size_t H, size_t W, size_t OH, size_t OW, size_t KH, size_t KW,
                               size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw,
                               size_t j0, size_t j1, float *dst) {
    (void)OH;
    size_t k = C * KH * KW, taps = KH * KW, plane = H * W;
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (size_t jp = j0; jp < j1; jp += NR) {
        float *d = dst + ((jp - j0) / NR) * NR * k;
        size_t cols = j1 - jp < NR ? j1 - jp : NR;
        im2col_rows rows;
        im2col_panel_rows(&rows, jp, cols, OW);
        for (size_t kh = 0; kh < KH; kh++) {
            for (size_t kw = 0; kw < KW; kw++) {
                im2col_tap t;
                im2col_describe(&t, &rows, (long)H, (long)W, (long)sh, (long)sw, (long)ph, (long)pw,
                                (long)(kh * dh), (long)(kw * dw));
                float *out = d + (kh * KW + kw) * NR;
                const float *xc = x;
                size_t os = taps * NR;
                if (t.nseg == 0) {
                    for (size_t c = 0; c < C; c++) _mm512_store_ps(out + c * os, _mm512_setzero_ps());
                } else if (sw == 1 && t.nseg == 1) {
                    __mmask16 m0 = (__mmask16)t.segmask[0];
                    for (size_t c = 0; c < C; c++, xc += plane)
                        _mm512_store_ps(out + c * os, _mm512_maskz_loadu_ps(m0, xc + t.base[0]));
                } else if (sw == 1 && t.nseg == 2) {
                    __mmask16 m0 = (__mmask16)t.segmask[0], m1 = (__mmask16)t.segmask[1];
                    for (size_t c = 0; c < C; c++, xc += plane) {
                        __m512 v = _mm512_maskz_loadu_ps(m0, xc + t.base[0]);
                        v = _mm512_mask_loadu_ps(v, m1, xc + t.base[1]);
                        _mm512_store_ps(out + c * os, v);
                    }
                } else if (sw == 1 && t.nseg == 3) {
                    __mmask16 m0 = (__mmask16)t.segmask[0], m1 = (__mmask16)t.segmask[1], m2 = (__mmask16)t.segmask[2];
                    for (size_t c = 0; c < C; c++, xc += plane) {
                        __m512 v = _mm512_maskz_loadu_ps(m0, xc + t.base[0]);
                        v = _mm512_mask_loadu_ps(v, m1, xc + t.base[1]);
                        v = _mm512_mask_loadu_ps(v, m2, xc + t.base[2]);
                        _mm512_store_ps(out + c * os, v);
                    }
                } else if (sw == 2 && t.nseg <= 2) {
                    // Lane q of a segment reads element 2q of the 32 floats at base: two masked loads (even
                    // elements of the lanes in the segment) and one permute of the even elements.
                    __mmask16 lo[2], hi[2], sm[2];
                    for (int g = 0; g < 2; g++) {
                        uint32_t m = g < t.nseg ? t.segmask[g] : 0, l = 0, h = 0;
                        for (int q = 0; q < 8; q++) { if (m >> q & 1) l |= 1u << (2 * q); if (m >> (q + 8) & 1) h |= 1u << (2 * q); }
                        lo[g] = (__mmask16)l; hi[g] = (__mmask16)h; sm[g] = (__mmask16)m;
                    }
                    long b0 = t.base[0], b1 = t.nseg > 1 ? t.base[1] : t.base[0];
                    for (size_t c = 0; c < C; c++, xc += plane) {
                        __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lo[0], xc + b0), evens,
                                                          _mm512_maskz_loadu_ps(hi[0], xc + b0 + 16));
                        if (t.nseg > 1)
                            v = _mm512_mask_mov_ps(v, sm[1], _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lo[1], xc + b1), evens,
                                                                                    _mm512_maskz_loadu_ps(hi[1], xc + b1 + 16)));
                        _mm512_store_ps(out + c * os, v);
                    }
                } else {
                    __m512i idx = _mm512_setzero_si512();
                    __m512i step = _mm512_mullo_epi32(iota, _mm512_set1_epi32((int)sw));
                    for (int g = 0; g < t.nseg; g++)
                        idx = _mm512_mask_mov_epi32(idx, (__mmask16)t.segmask[g], _mm512_add_epi32(step, _mm512_set1_epi32((int)t.base[g])));
                    __mmask16 m = (__mmask16)t.mask;
                    for (size_t c = 0; c < C; c++, xc += plane)
                        _mm512_store_ps(out + c * os, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, xc, 4));
                }
            }
        }
    }
}

__attribute__((target("avx2,fma")))
static void im2col_pack_avx2(const float *x, size_t C, size_t H, size_t W, size_t OH, size_t OW, size_t KH, size_t KW,
                             size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw,
                             size_t j0, size_t j1, float *dst) {
    (void)OH;
    size_t k = C * KH * KW, taps = KH * KW, plane = H * W;
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    for (size_t jp = j0; jp < j1; jp += NR) {
        float *d = dst + ((jp - j0) / NR) * NR * k;
        size_t cols = j1 - jp < NR ? j1 - jp : NR;
        im2col_rows rows;
        im2col_panel_rows(&rows, jp, cols, OW);
        for (size_t kh = 0; kh < KH; kh++) {
            for (size_t kw = 0; kw < KW; kw++) {
                im2col_tap t;
                im2col_describe(&t, &rows, (long)H, (long)W, (long)sh, (long)sw, (long)ph, (long)pw,
                                (long)(kh * dh), (long)(kw * dw));
                float *out = d + (kh * KW + kw) * NR;
                const float *xc = x;
                size_t os = taps * NR;
                // Lane masks of 8-lane halves: all-ones where the bit of the 16-lane mask is set.
#define HALF_MASK(m, h) _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)(((m) >> (8 * (h))) & 0xff)), bit), bit)
                if (t.nseg == 0) {
                    for (size_t c = 0; c < C; c++) {
                        _mm256_store_ps(out + c * os, _mm256_setzero_ps());
                        _mm256_store_ps(out + c * os + 8, _mm256_setzero_ps());
                    }
                } else if (sw == 1 && t.nseg <= 2) {
                    uint32_t s1 = t.nseg > 1 ? t.segmask[1] : 0;
                    __m256i a0 = HALF_MASK(t.segmask[0], 0), a1 = HALF_MASK(t.segmask[0], 1);
                    __m256i b0 = HALF_MASK(s1, 0), b1 = HALF_MASK(s1, 1);
                    long o0 = t.base[0], o1 = t.nseg > 1 ? t.base[1] : t.base[0];
                    for (size_t c = 0; c < C; c++, xc += plane) {
                        __m256 lo = _mm256_or_ps(_mm256_maskload_ps(xc + o0, a0), _mm256_maskload_ps(xc + o1, b0));
                        __m256 hi = _mm256_or_ps(_mm256_maskload_ps(xc + o0 + 8, a1), _mm256_maskload_ps(xc + o1 + 8, b1));
                        _mm256_store_ps(out + c * os, lo);
                        _mm256_store_ps(out + c * os + 8, hi);
                    }
                } else if (sw == 2 && t.nseg <= 2) {
                    // Lane q of a segment reads element 2q from base: per 8-lane half, two masked loads of 8
                    // consecutive floats (only the even elements of the segment's lanes), then the even elements
                    // gathered by one shuffle and one cross-lane permute; the segments' lanes are disjoint (OR).
                    __m256i em[2][4];
                    long bs[2] = {t.base[0], t.nseg > 1 ? t.base[1] : t.base[0]};
                    for (int g = 0; g < 2; g++) {
                        uint32_t m = g < t.nseg ? t.segmask[g] : 0, e = 0;
                        for (int q = 0; q < NR; q++) if (m >> q & 1) e |= 1u << (2 * q);
                        for (int h = 0; h < 4; h++) em[g][h] = HALF_MASK(e, h);
                    }
#define EVENS(a, b) _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xd8))
                    for (size_t c = 0; c < C; c++, xc += plane) {
                        __m256 lo = EVENS(_mm256_maskload_ps(xc + bs[0], em[0][0]), _mm256_maskload_ps(xc + bs[0] + 8, em[0][1]));
                        __m256 hi = EVENS(_mm256_maskload_ps(xc + bs[0] + 16, em[0][2]), _mm256_maskload_ps(xc + bs[0] + 24, em[0][3]));
                        if (t.nseg > 1) {
                            lo = _mm256_or_ps(lo, EVENS(_mm256_maskload_ps(xc + bs[1], em[1][0]), _mm256_maskload_ps(xc + bs[1] + 8, em[1][1])));
                            hi = _mm256_or_ps(hi, EVENS(_mm256_maskload_ps(xc + bs[1] + 16, em[1][2]), _mm256_maskload_ps(xc + bs[1] + 24, em[1][3])));
                        }
                        _mm256_store_ps(out + c * os, lo);
                        _mm256_store_ps(out + c * os + 8, hi);
                    }
#undef EVENS
                } else {
                    int32_t idx[NR] __attribute__((aligned(32)));
                    for (int q = 0; q < NR; q++) idx[q] = 0;
                    for (int g = 0; g < t.nseg; g++)
                        for (int q = 0; q < NR; q++)
                            if (t.segmask[g] >> q & 1) idx[q] = (int32_t)(t.base[g] + (long)sw * q);
                    __m256i i0 = _mm256_load_si256((const __m256i *)idx), i1 = _mm256_load_si256((const __m256i *)(idx + 8));
                    __m256 m0 = _mm256_castsi256_ps(HALF_MASK(t.mask, 0)), m1 = _mm256_castsi256_ps(HALF_MASK(t.mask, 1));
                    for (size_t c = 0; c < C; c++, xc += plane) {
                        _mm256_store_ps(out + c * os, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xc, i0, m0, 4));
                        _mm256_store_ps(out + c * os + 8, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xc, i1, m1, 4));
                    }
                }
#undef HALF_MASK
            }
        }
    }
}
#endif

void onyx_im2col_pack_b(const float *x, size_t C, size_t H, size_t W, size_t OH, size_t OW, size_t KH, size_t KW,
                        size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw,
                        size_t j0, size_t j1, float *dst) {
    size_t k = C * KH * KW, n = OH * OW;
    if (j1 > n) j1 = n;
#ifdef ONYX_X86
    // The vector packers index a plane with int32 offsets and write whole aligned 16-float rows.
    if (H * W < ((size_t)1 << 30) && ((uintptr_t)dst & 63) == 0) {
        if (onyx_cpu_has_avx512()) { im2col_pack_avx512(x, C, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, j0, j1, dst); return; }
        if (onyx_cpu_has_avx2_fma()) { im2col_pack_avx2(x, C, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, j0, j1, dst); return; }
    }
#endif
    for (size_t jp = j0; jp < j1; jp += NR) {
        float *d = dst + ((jp - j0) / NR) * NR * k;
        long ih0[NR], iw0[NR];
        int valid[NR];
        size_t cols = j1 - jp < NR ? j1 - jp : NR;
        for (size_t q = 0; q < NR; q++) {
            size_t j = jp + q;
            valid[q] = q < cols;
            size_t oh = valid[q] ? j / OW : 0, ow = valid[q] ? j % OW : 0;
            ih0[q] = (long)(oh * sh) - (long)ph;
            iw0[q] = (long)(ow * sw) - (long)pw;
        }
        int one_row = cols == NR && ih0[0] == ih0[NR - 1] && sw == 1;
        for (size_t c = 0; c < C; c++) {
            const float *xc = x + c * H * W;
            for (size_t kh = 0; kh < KH; kh++) {
                for (size_t kw = 0; kw < KW; kw++) {
                    float *out = d + ((c * KH + kh) * KW + kw) * NR;
                    long dy = (long)(kh * dh), dx = (long)(kw * dw);
                    if (one_row) {
                        long ih = ih0[0] + dy, iw = iw0[0] + dx;
                        if (ih < 0 || ih >= (long)H) { memset(out, 0, NR * sizeof(float)); continue; }
                        if (iw >= 0 && iw + NR <= (long)W) { memcpy(out, xc + ih * (long)W + iw, NR * sizeof(float)); continue; }
                    }
                    for (size_t q = 0; q < NR; q++) {
                        long ih = ih0[q] + dy, iw = iw0[q] + dx;
                        out[q] = (valid[q] && ih >= 0 && ih < (long)H && iw >= 0 && iw < (long)W) ? xc[ih * (long)W + iw] : 0.0f;
                    }
                }
            }
        }
    }
}
