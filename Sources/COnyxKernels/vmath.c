// Vectorised float32 math: exp, tanh, erf, sigmoid, Swish/SiLU, GELU (erf and tanh forms), and the row kernels of
// Softmax, LayerNorm and the reductions. AVX2+FMA (x86-64, under target attributes) and NEON (arm64, baseline there)
// are chosen at run time; the portable fallback calls libm. ONYX_ISA=scalar forces the fallback.
//
// Algorithms (one per function, the same for AVX2 and NEON):
//   exp:  n = round(x log2 e), r = x - n ln2 (two-constant Cody-Waite), exp(r) by the Cephes expf polynomial,
//         scaled by 2^(n/2) * 2^(n - n/2) so that results down to the denormals and up to +inf come out right.
//   tanh: |x| < 0.625: x + x^3 P(x^2) (Cephes tanhf); otherwise sign(x) (1 - 2 / (exp(2|x|) + 1)).
//   erf:  x P(x^2) / Q(x^2) on x clamped to [-4, 4] (the rational approximation used by Eigen / XLA).
//   sigmoid: 1 / (1 + exp(-x)); Swish x * sigmoid(alpha x); GELU(tanh) as x * sigmoid(2u), which equals
//         0.5 x (1 + tanh u) and has no cancellation for negative x.
// The maximum errors quoted next to each function were measured by scripts/vmath-error-sweep.c (stride 61: every
// 61st float bit pattern, 70.4 million inputs of every sign and exponent, 2026-11-28, AVX2 path; the NEON path
// computes the same operations and is checked against the same bounds by scripts/test-neon.sh) against the
// double-precision libm function on the same float input. "rel" is over results of magnitude >= FLT_MIN, "abs" is
// |y - ref| / max(1, |x|). The bounds checked by Tests/OnyxTests/VMathTests.swift and scripts/kernel-check.c are
// the "tested" ones. NaN in gives NaN out; ±inf give the limits (exp: +inf and 0).
#include "onyx_vmath.h"
#include "onyx_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VM_X86 1
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#define VM_NEON 1
#endif

// 0 scalar, 1 AVX2+FMA, 2 NEON. Read once (the answer never changes afterwards). ONYX_VMATH=scalar selects the
// libm fallback for these functions only (the GEMM keeps its kernels), to measure the vector math on its own.
static int vm_level(void) {
    static int cached = -1;
    if (cached >= 0) return cached;
    const char *only = getenv("ONYX_VMATH");
    if (only && strcmp(only, "scalar") == 0) { cached = 0; return cached; }
    int level = 0;
#if defined(VM_X86)
    level = onyx_cpu_has_avx2_fma() ? 1 : 0;   // honours ONYX_ISA=scalar
#elif defined(VM_NEON)
    const char *e = getenv("ONYX_ISA");
    level = (e && strcmp(e, "scalar") == 0) ? 0 : 2;
#endif
    cached = level;
    return cached;
}

const char *onyx_vmath_isa(void) {
    switch (vm_level()) {
    case 1: return "avx2";
    case 2: return "neon";
    default: return "scalar";
    }
}

// Constants shared by the vector paths.
#define VM_EXP_LO (-104.0f)
#define VM_EXP_HI 89.0f
#define VM_LOG2E 1.44269504088896341f
#define VM_LN2_HI 0.693359375f
#define VM_LN2_LO (-2.12194440e-4f)
#define VM_EP0 1.9875691500e-4f
#define VM_EP1 1.3981999507e-3f
#define VM_EP2 8.3334519073e-3f
#define VM_EP3 4.1665795894e-2f
#define VM_EP4 1.6666665459e-1f
#define VM_EP5 5.0000001201e-1f
#define VM_TP0 (-5.70498872745e-3f)
#define VM_TP1 2.06390887954e-2f
#define VM_TP2 (-5.37397155531e-2f)
#define VM_TP3 1.33314422036e-1f
#define VM_TP4 (-3.33332819422e-1f)
#define VM_EA1 (-1.60960333262415e-02f)
#define VM_EA3 (-2.95459980854025e-03f)
#define VM_EA5 (-7.34990630326855e-04f)
#define VM_EA7 (-5.69250639462346e-05f)
#define VM_EA9 (-2.10102402082508e-06f)
#define VM_EA11 2.77068142495902e-08f
#define VM_EA13 (-2.72614225801306e-10f)
#define VM_EB0 (-1.42647390514189e-02f)
#define VM_EB2 (-7.37332916720468e-03f)
#define VM_EB4 (-1.68282697438203e-03f)
#define VM_EB6 (-2.13374055278905e-04f)
#define VM_EB8 (-1.45660718464996e-05f)
#define VM_SQRT1_2 0.70710678118654752f
#define VM_GELU_K 0.79788456080286536f   // sqrt(2/pi)
#define VM_GELU_C 0.044715f

// ---------------------------------------------------------------------------------------------------------
// Scalar fallback (libm).
static float s_sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }
static float s_swish(float v, float a) { return v / (1.0f + expf(-a * v)); }
static float s_gelu_erf(float v) { return 0.5f * v * (1.0f + erff(v * VM_SQRT1_2)); }
static float s_gelu_tanh(float v) { return 0.5f * v * (1.0f + tanhf(VM_GELU_K * (v + VM_GELU_C * v * v * v))); }

// ---------------------------------------------------------------------------------------------------------
// AVX2 + FMA
#ifdef VM_X86
#define AVX2 __attribute__((target("avx2,fma"))) static inline
#define S8(v) _mm256_set1_ps(v)

AVX2 __m256 exp8(__m256 x0) {
    __m256 x = _mm256_max_ps(_mm256_min_ps(x0, S8(VM_EXP_HI)), S8(VM_EXP_LO));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, S8(VM_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, S8(VM_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, S8(VM_LN2_LO), r);
    __m256 p = S8(VM_EP0);
    p = _mm256_fmadd_ps(p, r, S8(VM_EP1));
    p = _mm256_fmadd_ps(p, r, S8(VM_EP2));
    p = _mm256_fmadd_ps(p, r, S8(VM_EP3));
    p = _mm256_fmadd_ps(p, r, S8(VM_EP4));
    p = _mm256_fmadd_ps(p, r, S8(VM_EP5));
    __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), S8(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    y = _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
    return _mm256_blendv_ps(y, x0, _mm256_cmp_ps(x0, x0, _CMP_UNORD_Q));   // NaN in, NaN out
}

AVX2 __m256 sigmoid8(__m256 x) {
    return _mm256_div_ps(S8(1.0f), _mm256_add_ps(S8(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

AVX2 __m256 tanh8(__m256 x) {
    const __m256 sign = S8(-0.0f);
    __m256 a = _mm256_andnot_ps(sign, x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = S8(VM_TP0);
    p = _mm256_fmadd_ps(p, z, S8(VM_TP1));
    p = _mm256_fmadd_ps(p, z, S8(VM_TP2));
    p = _mm256_fmadd_ps(p, z, S8(VM_TP3));
    p = _mm256_fmadd_ps(p, z, S8(VM_TP4));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    __m256 e = exp8(_mm256_add_ps(a, a));
    __m256 big = _mm256_sub_ps(S8(1.0f), _mm256_div_ps(S8(2.0f), _mm256_add_ps(e, S8(1.0f))));
    big = _mm256_or_ps(big, _mm256_and_ps(sign, x));
    return _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, S8(0.625f), _CMP_LT_OQ));
}

AVX2 __m256 erf8(__m256 x0) {
    __m256 x = _mm256_max_ps(_mm256_min_ps(x0, S8(4.0f)), S8(-4.0f));
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = S8(VM_EA13);
    p = _mm256_fmadd_ps(p, z, S8(VM_EA11));
    p = _mm256_fmadd_ps(p, z, S8(VM_EA9));
    p = _mm256_fmadd_ps(p, z, S8(VM_EA7));
    p = _mm256_fmadd_ps(p, z, S8(VM_EA5));
    p = _mm256_fmadd_ps(p, z, S8(VM_EA3));
    p = _mm256_fmadd_ps(p, z, S8(VM_EA1));
    __m256 q = S8(VM_EB8);
    q = _mm256_fmadd_ps(q, z, S8(VM_EB6));
    q = _mm256_fmadd_ps(q, z, S8(VM_EB4));
    q = _mm256_fmadd_ps(q, z, S8(VM_EB2));
    q = _mm256_fmadd_ps(q, z, S8(VM_EB0));
    __m256 y = _mm256_mul_ps(x, _mm256_div_ps(p, q));   // x (P/Q): no denormal intermediate for tiny x
    return _mm256_blendv_ps(y, x0, _mm256_cmp_ps(x0, x0, _CMP_UNORD_Q));
}

// x * sigmoid(t) as x / (1 + exp(-t)): stays accurate where sigmoid(t) would be a denormal.
AVX2 __m256 mul_sigmoid8(__m256 x, __m256 t) {
    return _mm256_div_ps(x, _mm256_add_ps(S8(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), t))));
}

AVX2 __m256 gelu_erf8(__m256 x) {
    __m256 h = _mm256_mul_ps(S8(0.5f), x);
    return _mm256_fmadd_ps(h, erf8(_mm256_mul_ps(x, S8(VM_SQRT1_2))), h);
}

AVX2 __m256 gelu_tanh8(__m256 x) {
    __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    __m256 u = _mm256_mul_ps(S8(2.0f * VM_GELU_K), _mm256_fmadd_ps(S8(VM_GELU_C), x3, x));
    return mul_sigmoid8(x, u);
}

AVX2 __m256i tail_mask8(size_t rem) {
    static const int m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(m + 8 - rem));
}

// Array loops: full vectors, then one masked vector for the tail.
#define VM_ARRAY_AVX2(name, expr)                                                              \
    __attribute__((target("avx2,fma"))) static void name(const float *x, float *y, size_t n, float alpha) { \
        (void)alpha;                                                                           \
        size_t i = 0;                                                                          \
        for (; i + 8 <= n; i += 8) { __m256 v = _mm256_loadu_ps(x + i); _mm256_storeu_ps(y + i, expr); } \
        if (i < n) {                                                                           \
            __m256i m = tail_mask8(n - i);                                                     \
            __m256 v = _mm256_maskload_ps(x + i, m);                                           \
            _mm256_maskstore_ps(y + i, m, expr);                                               \
        }                                                                                      \
    }
VM_ARRAY_AVX2(exp_avx2, exp8(v))
VM_ARRAY_AVX2(tanh_avx2, tanh8(v))
VM_ARRAY_AVX2(erf_avx2, erf8(v))
VM_ARRAY_AVX2(sigmoid_avx2, sigmoid8(v))
VM_ARRAY_AVX2(swish_avx2, mul_sigmoid8(v, _mm256_mul_ps(v, S8(alpha))))
VM_ARRAY_AVX2(gelu_erf_avx2, gelu_erf8(v))
VM_ARRAY_AVX2(gelu_tanh_avx2, gelu_tanh8(v))

AVX2 float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
AVX2 float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
AVX2 float hmin8(__m256 v) {
    __m128 s = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_min_ps(s, _mm_movehl_ps(s, s));
    s = _mm_min_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// kind: 0 sum, 1 max, 2 min, 3 sum of squares, 4 sum of |x|. Max / min return NaN when any input is NaN.
__attribute__((target("avx2,fma"))) static float reduce_avx2(const float *x, size_t n, int kind) {
    const __m256 sign = S8(-0.0f);
    __m256 a0, a1, a2, a3, nan = _mm256_setzero_ps();
    float init = kind == 1 ? -INFINITY : kind == 2 ? INFINITY : 0.0f;
    a0 = a1 = a2 = a3 = S8(init);
    size_t i = 0;
#define VM_STEP(acc, v)                                                                       \
    switch (kind) {                                                                           \
    case 0: acc = _mm256_add_ps(acc, v); break;                                               \
    case 1: acc = _mm256_max_ps(acc, v); nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); break; \
    case 2: acc = _mm256_min_ps(acc, v); nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); break; \
    case 3: acc = _mm256_fmadd_ps(v, v, acc); break;                                          \
    default: acc = _mm256_add_ps(acc, _mm256_andnot_ps(sign, v)); break;                      \
    }
    for (; i + 32 <= n; i += 32) {
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
        VM_STEP(a0, v0) VM_STEP(a1, v1) VM_STEP(a2, v2) VM_STEP(a3, v3)
    }
    for (; i + 8 <= n; i += 8) { __m256 v = _mm256_loadu_ps(x + i); VM_STEP(a0, v) }
    if (i < n) {
        // Tail lanes outside n hold the neutral element.
        __m256i m = tail_mask8(n - i);
        __m256 v = _mm256_blendv_ps(S8(init), _mm256_maskload_ps(x + i, m), _mm256_castsi256_ps(m));
        VM_STEP(a1, v)
    }
#undef VM_STEP
    float r;
    if (kind == 1) r = hmax8(_mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3)));
    else if (kind == 2) r = hmin8(_mm256_min_ps(_mm256_min_ps(a0, a1), _mm256_min_ps(a2, a3)));
    else r = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    if ((kind == 1 || kind == 2) && _mm256_movemask_ps(nan)) r = NAN;
    return r;
}

__attribute__((target("avx2,fma"))) static void reduce_into_avx2(float *acc, const float *x, size_t n, int kind) {
    const __m256 sign = S8(-0.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(acc + i), v = _mm256_loadu_ps(x + i);
        switch (kind) {
        case 0: a = _mm256_add_ps(a, v); break;
        // x wins when it is NaN or beyond a; a stays NaN once NaN (a is the second operand when x is ordered).
        case 1: a = _mm256_blendv_ps(_mm256_max_ps(v, a), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); break;
        case 2: a = _mm256_blendv_ps(_mm256_min_ps(v, a), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); break;
        case 3: a = _mm256_fmadd_ps(v, v, a); break;
        default: a = _mm256_add_ps(a, _mm256_andnot_ps(sign, v)); break;
        }
        _mm256_storeu_ps(acc + i, a);
    }
    for (; i < n; i++) {
        float v = x[i];
        switch (kind) {
        case 0: acc[i] += v; break;
        case 1: if (!(v <= acc[i])) acc[i] = acc[i] != acc[i] ? acc[i] : v; break;
        case 2: if (!(v >= acc[i])) acc[i] = acc[i] != acc[i] ? acc[i] : v; break;
        case 3: acc[i] += v * v; break;
        default: acc[i] += fabsf(v); break;
        }
    }
}

// Softmax of one row: max, exp(x - max) with the running sum, scale (or, for LogSoftmax, x - max - log sum).
__attribute__((target("avx2,fma"))) static void softmax_row_avx2(const float *x, float *y, size_t n, int lg) {
    float mx = reduce_avx2(x, n, 1);
    __m256 m = S8(mx), s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    if (!lg) {
        for (; i + 16 <= n; i += 16) {
            __m256 e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
            __m256 e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m));
            _mm256_storeu_ps(y + i, e0); _mm256_storeu_ps(y + i + 8, e1);
            s0 = _mm256_add_ps(s0, e0); s1 = _mm256_add_ps(s1, e1);
        }
        for (; i + 8 <= n; i += 8) {
            __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
            _mm256_storeu_ps(y + i, e); s0 = _mm256_add_ps(s0, e);
        }
        if (i < n) {
            __m256i mk = tail_mask8(n - i);
            __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, mk), m));
            e = _mm256_and_ps(e, _mm256_castsi256_ps(mk));
            _mm256_maskstore_ps(y + i, mk, e); s0 = _mm256_add_ps(s0, e);
        }
        __m256 inv = S8(1.0f / hsum8(_mm256_add_ps(s0, s1)));
        for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inv));
        for (; i < n; i++) y[i] *= inv[0];
    } else {
        for (; i + 8 <= n; i += 8) s0 = _mm256_add_ps(s0, exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m)));
        if (i < n) {
            __m256i mk = tail_mask8(n - i);
            __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, mk), m));
            s0 = _mm256_add_ps(s0, _mm256_and_ps(e, _mm256_castsi256_ps(mk)));
        }
        __m256 l = S8(logf(hsum8(s0)) + mx);
        for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_loadu_ps(x + i), l));
        for (; i < n; i++) y[i] = x[i] - l[0];
    }
}

__attribute__((target("avx2,fma"))) static void layernorm_row_avx2(const float *x, float *y, size_t n, const float *scale,
                                                               const float *bias, float eps, int rms, float *mo, float *io) {
    float mean = rms ? 0.0f : reduce_avx2(x, n, 0) / (float)(n ? n : 1);
    __m256 m = S8(mean), q0 = _mm256_setzero_ps(), q1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), m), d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m);
        q0 = _mm256_fmadd_ps(d0, d0, q0); q1 = _mm256_fmadd_ps(d1, d1, q1);
    }
    for (; i + 8 <= n; i += 8) { __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), m); q0 = _mm256_fmadd_ps(d, d, q0); }
    float sq = hsum8(_mm256_add_ps(q0, q1));
    for (; i < n; i++) { float d = x[i] - mean; sq += d * d; }
    float inv = 1.0f / sqrtf(sq / (float)(n ? n : 1) + eps);
    if (mo) *mo = mean;
    if (io) *io = inv;
    __m256 iv = S8(inv);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), iv), _mm256_loadu_ps(scale + i));
        if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + i));
        _mm256_storeu_ps(y + i, v);
    }
    for (; i < n; i++) y[i] = (x[i] - mean) * inv * scale[i] + (bias ? bias[i] : 0.0f);
}
#undef S8
#endif // VM_X86

// ---------------------------------------------------------------------------------------------------------
// NEON (arm64; checked under qemu-aarch64 by scripts/test-neon.sh)
#ifdef VM_NEON
#define S4(v) vdupq_n_f32(v)

static inline float32x4_t exp4(float32x4_t x0) {
    float32x4_t x = vminq_f32(vmaxq_f32(x0, S4(VM_EXP_LO)), S4(VM_EXP_HI));
    float32x4_t n = vrndnq_f32(vmulq_f32(x, S4(VM_LOG2E)));
    float32x4_t r = vfmsq_f32(x, n, S4(VM_LN2_HI));
    r = vfmsq_f32(r, n, S4(VM_LN2_LO));
    float32x4_t p = S4(VM_EP0);
    p = vfmaq_f32(S4(VM_EP1), p, r);
    p = vfmaq_f32(S4(VM_EP2), p, r);
    p = vfmaq_f32(S4(VM_EP3), p, r);
    p = vfmaq_f32(S4(VM_EP4), p, r);
    p = vfmaq_f32(S4(VM_EP5), p, r);
    float32x4_t y = vaddq_f32(vfmaq_f32(r, p, vmulq_f32(r, r)), S4(1.0f));
    int32x4_t ni = vcvtq_s32_f32(n);
    int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
    float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, vdupq_n_s32(127)), 23));
    y = vmulq_f32(vmulq_f32(y, s1), s2);
    return vbslq_f32(vceqq_f32(x0, x0), y, x0);   // NaN in, NaN out
}

static inline float32x4_t sigmoid4(float32x4_t x) {
    return vdivq_f32(S4(1.0f), vaddq_f32(S4(1.0f), exp4(vnegq_f32(x))));
}

static inline float32x4_t tanh4(float32x4_t x) {
    float32x4_t a = vabsq_f32(x), z = vmulq_f32(x, x);
    float32x4_t p = S4(VM_TP0);
    p = vfmaq_f32(S4(VM_TP1), p, z);
    p = vfmaq_f32(S4(VM_TP2), p, z);
    p = vfmaq_f32(S4(VM_TP3), p, z);
    p = vfmaq_f32(S4(VM_TP4), p, z);
    float32x4_t small = vfmaq_f32(x, vmulq_f32(p, z), x);
    float32x4_t e = exp4(vaddq_f32(a, a));
    float32x4_t big = vsubq_f32(S4(1.0f), vdivq_f32(S4(2.0f), vaddq_f32(e, S4(1.0f))));
    uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
    big = vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(big), sign));
    return vbslq_f32(vcltq_f32(a, S4(0.625f)), small, big);
}

static inline float32x4_t erf4(float32x4_t x0) {
    float32x4_t x = vminq_f32(vmaxq_f32(x0, S4(-4.0f)), S4(4.0f));
    float32x4_t z = vmulq_f32(x, x);
    float32x4_t p = S4(VM_EA13);
    p = vfmaq_f32(S4(VM_EA11), p, z);
    p = vfmaq_f32(S4(VM_EA9), p, z);
    p = vfmaq_f32(S4(VM_EA7), p, z);
    p = vfmaq_f32(S4(VM_EA5), p, z);
    p = vfmaq_f32(S4(VM_EA3), p, z);
    p = vfmaq_f32(S4(VM_EA1), p, z);
    float32x4_t q = S4(VM_EB8);
    q = vfmaq_f32(S4(VM_EB6), q, z);
    q = vfmaq_f32(S4(VM_EB4), q, z);
    q = vfmaq_f32(S4(VM_EB2), q, z);
    q = vfmaq_f32(S4(VM_EB0), q, z);
    return vbslq_f32(vceqq_f32(x0, x0), vmulq_f32(x, vdivq_f32(p, q)), x0);
}

static inline float32x4_t mul_sigmoid4(float32x4_t x, float32x4_t t) {
    return vdivq_f32(x, vaddq_f32(S4(1.0f), exp4(vnegq_f32(t))));
}

static inline float32x4_t gelu_erf4(float32x4_t x) {
    float32x4_t h = vmulq_f32(S4(0.5f), x);
    return vfmaq_f32(h, h, erf4(vmulq_f32(x, S4(VM_SQRT1_2))));
}

static inline float32x4_t gelu_tanh4(float32x4_t x) {
    float32x4_t x3 = vmulq_f32(vmulq_f32(x, x), x);
    float32x4_t u = vmulq_f32(S4(2.0f * VM_GELU_K), vfmaq_f32(x, S4(VM_GELU_C), x3));
    return mul_sigmoid4(x, u);
}

// Array loops: full vectors, then the tail through a 4-float buffer.
#define VM_ARRAY_NEON(name, expr)                                                              \
    static void name(const float *x, float *y, size_t n, float alpha) {                        \
        (void)alpha;                                                                           \
        size_t i = 0;                                                                          \
        for (; i + 4 <= n; i += 4) { float32x4_t v = vld1q_f32(x + i); vst1q_f32(y + i, expr); } \
        if (i < n) {                                                                           \
            float t[4] = {0, 0, 0, 0};                                                         \
            memcpy(t, x + i, (n - i) * sizeof(float));                                         \
            float32x4_t v = vld1q_f32(t);                                                      \
            vst1q_f32(t, expr);                                                                \
            memcpy(y + i, t, (n - i) * sizeof(float));                                         \
        }                                                                                      \
    }
VM_ARRAY_NEON(exp_neon, exp4(v))
VM_ARRAY_NEON(tanh_neon, tanh4(v))
VM_ARRAY_NEON(erf_neon, erf4(v))
VM_ARRAY_NEON(sigmoid_neon, sigmoid4(v))
VM_ARRAY_NEON(swish_neon, mul_sigmoid4(v, vmulq_f32(v, S4(alpha))))
VM_ARRAY_NEON(gelu_erf_neon, gelu_erf4(v))
VM_ARRAY_NEON(gelu_tanh_neon, gelu_tanh4(v))

static float reduce_neon(const float *x, size_t n, int kind) {
    float init = kind == 1 ? -INFINITY : kind == 2 ? INFINITY : 0.0f;
    float32x4_t a0 = S4(init), a1 = S4(init);
    uint32x4_t nan = vdupq_n_u32(0);
    size_t i = 0;
#define VM_STEP4(acc, v)                                                                      \
    switch (kind) {                                                                           \
    case 0: acc = vaddq_f32(acc, v); break;                                                   \
    case 1: acc = vmaxnmq_f32(acc, v); nan = vorrq_u32(nan, vmvnq_u32(vceqq_f32(v, v))); break; \
    case 2: acc = vminnmq_f32(acc, v); nan = vorrq_u32(nan, vmvnq_u32(vceqq_f32(v, v))); break; \
    case 3: acc = vfmaq_f32(acc, v, v); break;                                                \
    default: acc = vaddq_f32(acc, vabsq_f32(v)); break;                                       \
    }
    for (; i + 8 <= n; i += 8) { float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4); VM_STEP4(a0, v0) VM_STEP4(a1, v1) }
    for (; i + 4 <= n; i += 4) { float32x4_t v = vld1q_f32(x + i); VM_STEP4(a0, v) }
    if (i < n) {
        float t[4] = {init, init, init, init};
        memcpy(t, x + i, (n - i) * sizeof(float));
        float32x4_t v = vld1q_f32(t);
        VM_STEP4(a1, v)
    }
#undef VM_STEP4
    float r;
    if (kind == 1) r = vmaxvq_f32(vmaxq_f32(a0, a1));
    else if (kind == 2) r = vminvq_f32(vminq_f32(a0, a1));
    else r = vaddvq_f32(vaddq_f32(a0, a1));
    if ((kind == 1 || kind == 2) && vmaxvq_u32(nan)) r = NAN;
    return r;
}

static void softmax_row_neon(const float *x, float *y, size_t n, int lg) {
    float mx = reduce_neon(x, n, 1);
    float32x4_t m = S4(mx), s = S4(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), m));
        if (!lg) vst1q_f32(y + i, e);
        s = vaddq_f32(s, e);
    }
    float sum = vaddvq_f32(s);
    for (; i < n; i++) { float e = expf(x[i] - mx); if (!lg) y[i] = e; sum += e; }
    if (!lg) {
        float32x4_t inv = S4(1.0f / sum);
        for (i = 0; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(vld1q_f32(y + i), inv));
        for (; i < n; i++) y[i] *= 1.0f / sum;
    } else {
        float l = logf(sum) + mx;
        for (i = 0; i < n; i++) y[i] = x[i] - l;
    }
}

static void layernorm_row_neon(const float *x, float *y, size_t n, const float *scale, const float *bias, float eps,
                               int rms, float *mo, float *io) {
    float mean = rms ? 0.0f : reduce_neon(x, n, 0) / (float)(n ? n : 1);
    float32x4_t m = S4(mean), q = S4(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) { float32x4_t d = vsubq_f32(vld1q_f32(x + i), m); q = vfmaq_f32(q, d, d); }
    float sq = vaddvq_f32(q);
    for (; i < n; i++) { float d = x[i] - mean; sq += d * d; }
    float inv = 1.0f / sqrtf(sq / (float)(n ? n : 1) + eps);
    if (mo) *mo = mean;
    if (io) *io = inv;
    float32x4_t iv = S4(inv);
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t v = vmulq_f32(vmulq_f32(vsubq_f32(vld1q_f32(x + i), m), iv), vld1q_f32(scale + i));
        if (bias) v = vaddq_f32(v, vld1q_f32(bias + i));
        vst1q_f32(y + i, v);
    }
    for (; i < n; i++) y[i] = (x[i] - mean) * inv * scale[i] + (bias ? bias[i] : 0.0f);
}
#undef S4
#endif // VM_NEON

// ---------------------------------------------------------------------------------------------------------
// Public entry points: pick the path once per call.
typedef void (*vm_array_fn)(const float *, float *, size_t, float);

#if defined(VM_X86)
#define VM_VEC(avx2, neon) (vm_level() == 1 ? (avx2) : NULL)
#elif defined(VM_NEON)
#define VM_VEC(avx2, neon) (vm_level() == 2 ? (neon) : NULL)
#else
#define VM_VEC(avx2, neon) ((vm_array_fn)NULL)
#endif

// exp: measured max rel error 8.2e-8 (1.00 ulp); denormal results within 1.05e-45 (one denormal step); overflow to
// +inf and underflow to 0 where libm's float result does. Tested: rel 1.0e-7.
void onyx_vexp(const float *x, float *y, size_t n) {
    vm_array_fn f = VM_VEC(exp_avx2, exp_neon);
    if (f) { f(x, y, n, 0); return; }
    for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

// tanh: measured max rel error 1.38e-7 (1.30 ulp, just above |x| = 0.625 where the exp form starts), max abs error
// 7.7e-8. Tested: rel 1.6e-7, abs 9e-8.
void onyx_vtanh(const float *x, float *y, size_t n) {
    vm_array_fn f = VM_VEC(tanh_avx2, tanh_neon);
    if (f) { f(x, y, n, 0); return; }
    for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

// erf: measured max rel error 3.8e-7 (6.4 ulp, near |x| = 3.9 where erf rounds towards 1), max abs error
// 1.83e-7 * max(1, |x|). Tested: rel 4.5e-7, abs 2.2e-7.
void onyx_verf(const float *x, float *y, size_t n) {
    vm_array_fn f = VM_VEC(erf_avx2, erf_neon);
    if (f) { f(x, y, n, 0); return; }
    for (size_t i = 0; i < n; i++) y[i] = erff(x[i]);
}

// sigmoid: measured max rel error 1.43e-7 (2.4 ulp) for results >= FLT_MIN, max abs error 8.9e-8; for x < -87.3
// the result (below FLT_MIN) may flush to 0. Tested: rel 1.7e-7, abs 9e-8.
void onyx_vsigmoid(const float *x, float *y, size_t n) {
    vm_array_fn f = VM_VEC(sigmoid_avx2, sigmoid_neon);
    if (f) { f(x, y, n, 0); return; }
    for (size_t i = 0; i < n; i++) y[i] = s_sigmoid(x[i]);
}

// Swish x * sigmoid(alpha x), computed as x / (1 + exp(-alpha x)): SiLU (alpha = 1) measured max rel error 1.73e-7
// (2.3 ulp) for x >= -80, max abs error 1.18e-7 * max(1, |x|); for x < -88.7 the result (|y| < 3e-37) flushes to -0.
// Tested (alpha 1 and 1.702): rel 2.0e-7, abs 1.5e-7.
void onyx_vswish(const float *x, float *y, size_t n, float alpha) {
    vm_array_fn f = VM_VEC(swish_avx2, swish_neon);
    if (f) { f(x, y, n, alpha); return; }
    for (size_t i = 0; i < n; i++) y[i] = s_swish(x[i], alpha);
}

// GELU (erf): measured max rel error 5.8e-7 (6.2 ulp) for x >= -1, max abs error 1.93e-7 * max(1, |x|); for x < -1
// the result is the small difference 1 + erf(x/sqrt 2), so only the absolute bound holds (as for any float erf).
// Tested: rel 6.5e-7, abs 2.2e-7.
void onyx_vgelu_erf(const float *x, float *y, size_t n) {
    vm_array_fn f = VM_VEC(gelu_erf_avx2, gelu_erf_neon);
    if (f) { f(x, y, n, 0); return; }
    for (size_t i = 0; i < n; i++) y[i] = s_gelu_erf(x[i]);
}

// GELU (tanh), computed as x * sigmoid(2u): measured max rel error 2.4e-7 (2.6 ulp) for x >= -1, max abs error
// 1.19e-7 * max(1, |x|). Tested: rel 2.8e-7, abs 1.4e-7.
void onyx_vgelu_tanh(const float *x, float *y, size_t n) {
    vm_array_fn f = VM_VEC(gelu_tanh_avx2, gelu_tanh_neon);
    if (f) { f(x, y, n, 0); return; }
    for (size_t i = 0; i < n; i++) y[i] = s_gelu_tanh(x[i]);
}

static float reduce_scalar(const float *x, size_t n, int kind) {
    float r = kind == 1 ? -INFINITY : kind == 2 ? INFINITY : 0.0f;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        switch (kind) {
        case 0: r += v; break;
        case 1: if (!(v <= r)) r = v; if (v != v) return v; break;
        case 2: if (!(v >= r)) r = v; if (v != v) return v; break;
        case 3: r += v * v; break;
        default: r += fabsf(v); break;
        }
    }
    return r;
}

float onyx_vreduce(const float *x, size_t n, int kind) {
#if defined(VM_X86)
    if (vm_level() == 1) return reduce_avx2(x, n, kind);
#elif defined(VM_NEON)
    if (vm_level() == 2) return reduce_neon(x, n, kind);
#endif
    return reduce_scalar(x, n, kind);
}

void onyx_vreduce_into(float *acc, const float *x, size_t n, int kind) {
#if defined(VM_X86)
    if (vm_level() == 1) { reduce_into_avx2(acc, x, n, kind); return; }
#endif
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        switch (kind) {
        case 0: acc[i] += v; break;
        case 1: if (!(v <= acc[i])) acc[i] = acc[i] != acc[i] ? acc[i] : v; break;
        case 2: if (!(v >= acc[i])) acc[i] = acc[i] != acc[i] ? acc[i] : v; break;
        case 3: acc[i] += v * v; break;
        default: acc[i] += fabsf(v); break;
        }
    }
}

void onyx_softmax_rows(const float *x, float *y, size_t rows, size_t n, int log_softmax) {
    if (n == 0) return;
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
#if defined(VM_X86)
        if (vm_level() == 1) { softmax_row_avx2(xr, yr, n, log_softmax); continue; }
#elif defined(VM_NEON)
        if (vm_level() == 2) { softmax_row_neon(xr, yr, n, log_softmax); continue; }
#endif
        float m = xr[0];
        for (size_t k = 1; k < n; k++) if (xr[k] > m) m = xr[k];
        float s = 0.0f;
        if (!log_softmax) {
            for (size_t k = 0; k < n; k++) { float e = expf(xr[k] - m); yr[k] = e; s += e; }
            float inv = 1.0f / s;
            for (size_t k = 0; k < n; k++) yr[k] *= inv;
        } else {
            for (size_t k = 0; k < n; k++) s += expf(xr[k] - m);
            float l = logf(s) + m;
            for (size_t k = 0; k < n; k++) yr[k] = xr[k] - l;
        }
    }
}

void onyx_layernorm_rows(const float *x, float *y, size_t rows, size_t n, const float *scale, const float *bias,
                         float eps, int rms, float *mean_out, float *inv_out) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float *mo = mean_out ? mean_out + r : NULL, *io = inv_out ? inv_out + r : NULL;
#if defined(VM_X86)
        if (vm_level() == 1) { layernorm_row_avx2(xr, yr, n, scale, bias, eps, rms, mo, io); continue; }
#elif defined(VM_NEON)
        if (vm_level() == 2) { layernorm_row_neon(xr, yr, n, scale, bias, eps, rms, mo, io); continue; }
#endif
        float mean = 0.0f, sq = 0.0f, cnt = (float)(n ? n : 1);
        if (!rms) { for (size_t k = 0; k < n; k++) mean += xr[k]; mean /= cnt; }
        for (size_t k = 0; k < n; k++) { float d = xr[k] - mean; sq += d * d; }
        float inv = 1.0f / sqrtf(sq / cnt + eps);
        if (mo) *mo = mean;
        if (io) *io = inv;
        for (size_t k = 0; k < n; k++) yr[k] = (xr[k] - mean) * inv * scale[k] + (bias ? bias[k] : 0.0f);
    }
}
