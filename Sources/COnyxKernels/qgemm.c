// Packed int8 GEMM (uint8 A x int8 B -> exact int32), zero-point corrections by row/column sums, int32 or
// dequantized float epilogue. Kernels: AVX-512 VNNI (vpdpbusd), AVX2 (s16 widening + vpmaddwd, exact: no
// vpmaddubsw saturation), portable C. Run-time detection; ONYX_ISA=avx2 / scalar caps the choice.
#include "onyx_qgemm.h"
#include "onyx_kernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ONYX_X86 1
#endif

#define QMR 6
#define QMC 48 // rows of A per block (8 panels) reused across the column panels of one thread

int onyx_qgemm_isa(void) {
    static int cached = -1;
    if (cached >= 0) return cached;
    int isa = 0;
#ifdef ONYX_X86
    if (onyx_cpu_has_avx2_fma()) {
        isa = 1;
        const char *e = getenv("ONYX_ISA");
        int capped = e && (strcmp(e, "avx2") == 0 || strcmp(e, "scalar") == 0);
        __builtin_cpu_init();
        if (!capped && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vnni"))
            isa = 2;
    }
#endif
    cached = isa;
    return isa;
}

// Layout: VNNI packs k in groups of 4 bytes (A uint8, B int8), 32-column B panels; the others pack k in pairs of
// int16, 16-column B panels. A panels hold QMR rows; padding (rows, columns, k) is zero.
static size_t q_group(void) { return onyx_qgemm_isa() == 2 ? 4 : 2; }
static size_t q_elem(void) { return onyx_qgemm_isa() == 2 ? 1 : 2; }
size_t onyx_qgemm_nr(void) { return onyx_qgemm_isa() == 2 ? 32 : 16; }
static size_t q_kp(size_t k) { size_t g = q_group(); return (k + g - 1) / g * g; }

size_t onyx_qgemm_packed_b_bytes(size_t k, size_t n) {
    size_t nr = onyx_qgemm_nr();
    return ((n + nr - 1) / nr) * nr * q_kp(k) * q_elem();
}
size_t onyx_qgemm_packed_a_bytes(size_t m, size_t k) {
    return ((m + QMR - 1) / QMR) * QMR * q_kp(k) * q_elem();
}

void onyx_qgemm_pack_b(size_t k, size_t n, const int8_t *b, ptrdiff_t rs, ptrdiff_t cs, int flip, void *dst,
                       int32_t *colsum) {
    size_t nr = onyx_qgemm_nr(), g = q_group(), kp = q_kp(k), np = (n + nr - 1) / nr;
    int vnni = onyx_qgemm_isa() == 2;
    for (size_t j = 0; j < n; j++) {
        int32_t s = 0;
        for (size_t p = 0; p < k; p++) {
            int8_t v = b[(ptrdiff_t)p * rs + (ptrdiff_t)j * cs];
            if (flip) v = (int8_t)((uint8_t)v ^ 0x80);
            s += v;
        }
        colsum[j] = s;
    }
    for (size_t jp = 0; jp < np; jp++) {
        for (size_t kg = 0; kg < kp / g; kg++) {
            for (size_t c = 0; c < nr; c++) {
                size_t j = jp * nr + c;
                for (size_t e = 0; e < g; e++) {
                    size_t p = kg * g + e;
                    int8_t v = 0;
                    if (j < n && p < k) {
                        v = b[(ptrdiff_t)p * rs + (ptrdiff_t)j * cs];
                        if (flip) v = (int8_t)((uint8_t)v ^ 0x80);
                    }
                    size_t idx = ((jp * (kp / g) + kg) * nr + c) * g + e;
                    if (vnni) ((int8_t *)dst)[idx] = v;
                    else ((int16_t *)dst)[idx] = v;
                }
            }
        }
    }
}

void onyx_qgemm_pack_a(size_t m, size_t k, const uint8_t *a, size_t lda, int flip, void *dst, int32_t *rowsum,
                       size_t panel0, size_t panel1) {
    size_t g = q_group(), kp = q_kp(k), kgs = kp / g;
    int vnni = onyx_qgemm_isa() == 2;
    uint8_t fl = flip ? 0x80 : 0;
    for (size_t ip = panel0; ip < panel1; ip++) {
        for (size_t r = 0; r < QMR; r++) {
            size_t i = ip * QMR + r;
            const uint8_t *row = i < m ? a + i * lda : NULL;
            int32_t s = 0;
            if (vnni) {
                uint8_t *d = (uint8_t *)dst + ip * kgs * QMR * 4 + r * 4;
                for (size_t kg = 0; kg < kgs; kg++) {
                    for (size_t e = 0; e < 4; e++) {
                        size_t p = kg * 4 + e;
                        uint8_t v = (row && p < k) ? (uint8_t)(row[p] ^ fl) : 0;
                        d[kg * QMR * 4 + e] = v;
                        s += v;
                    }
                }
            } else {
                int16_t *d = (int16_t *)dst + ip * kgs * QMR * 2 + r * 2;
                for (size_t kg = 0; kg < kgs; kg++) {
                    for (size_t e = 0; e < 2; e++) {
                        size_t p = kg * 2 + e;
                        uint8_t v = (row && p < k) ? (uint8_t)(row[p] ^ fl) : 0;
                        d[kg * QMR * 2 + e] = v;
                        s += v;
                    }
                }
            }
            if (i < m) rowsum[i] = s;
        }
    }
}

// acc[QMR][nr] = packed A panel x packed B panel (raw sums, no zero points).
static void kernel_c(size_t kgs, size_t nr, const int16_t *ap, const int16_t *bp, int32_t *acc) {
    for (size_t i = 0; i < QMR * nr; i++) acc[i] = 0;
    for (size_t kg = 0; kg < kgs; kg++) {
        for (size_t r = 0; r < QMR; r++) {
            int32_t a0 = ap[r * 2], a1 = ap[r * 2 + 1];
            if ((a0 | a1) == 0) continue;
            for (size_t c = 0; c < nr; c++) acc[r * nr + c] += a0 * bp[c * 2] + a1 * bp[c * 2 + 1];
        }
        ap += QMR * 2;
        bp += nr * 2;
    }
}

#ifdef ONYX_X86
__attribute__((target("avx2")))
static void kernel_avx2(size_t kgs, const int16_t *ap, const int16_t *bp, int32_t *acc) {
    __m256i c00 = _mm256_setzero_si256(), c01 = _mm256_setzero_si256();
    __m256i c10 = _mm256_setzero_si256(), c11 = _mm256_setzero_si256();
    __m256i c20 = _mm256_setzero_si256(), c21 = _mm256_setzero_si256();
    __m256i c30 = _mm256_setzero_si256(), c31 = _mm256_setzero_si256();
    __m256i c40 = _mm256_setzero_si256(), c41 = _mm256_setzero_si256();
    __m256i c50 = _mm256_setzero_si256(), c51 = _mm256_setzero_si256();
    for (size_t kg = 0; kg < kgs; kg++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)bp);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + 16));
        __m256i a;
        const int32_t *a32 = (const int32_t *)ap;
#define ROW(r, x0, x1) a = _mm256_set1_epi32(a32[r]); \
        x0 = _mm256_add_epi32(x0, _mm256_madd_epi16(a, b0)); x1 = _mm256_add_epi32(x1, _mm256_madd_epi16(a, b1));
        ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31) ROW(4, c40, c41) ROW(5, c50, c51)
#undef ROW
        ap += QMR * 2;
        bp += 32;
    }
    __m256i *o = (__m256i *)acc;
    _mm256_storeu_si256(o + 0, c00); _mm256_storeu_si256(o + 1, c01);
    _mm256_storeu_si256(o + 2, c10); _mm256_storeu_si256(o + 3, c11);
    _mm256_storeu_si256(o + 4, c20); _mm256_storeu_si256(o + 5, c21);
    _mm256_storeu_si256(o + 6, c30); _mm256_storeu_si256(o + 7, c31);
    _mm256_storeu_si256(o + 8, c40); _mm256_storeu_si256(o + 9, c41);
    _mm256_storeu_si256(o + 10, c50); _mm256_storeu_si256(o + 11, c51);
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void kernel_vnni(size_t kgs, const uint8_t *ap, const int8_t *bp, int32_t *acc) {
    __m512i c00 = _mm512_setzero_si512(), c01 = _mm512_setzero_si512();
    __m512i c10 = _mm512_setzero_si512(), c11 = _mm512_setzero_si512();
    __m512i c20 = _mm512_setzero_si512(), c21 = _mm512_setzero_si512();
    __m512i c30 = _mm512_setzero_si512(), c31 = _mm512_setzero_si512();
    __m512i c40 = _mm512_setzero_si512(), c41 = _mm512_setzero_si512();
    __m512i c50 = _mm512_setzero_si512(), c51 = _mm512_setzero_si512();
    for (size_t kg = 0; kg < kgs; kg++) {
        __m512i b0 = _mm512_loadu_si512((const void *)bp);
        __m512i b1 = _mm512_loadu_si512((const void *)(bp + 64));
        __m512i a;
        int32_t a4[QMR];
        memcpy(a4, ap, sizeof(a4));
#define ROW(r, x0, x1) a = _mm512_set1_epi32(a4[r]); \
        x0 = _mm512_dpbusd_epi32(x0, a, b0); x1 = _mm512_dpbusd_epi32(x1, a, b1);
        ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31) ROW(4, c40, c41) ROW(5, c50, c51)
#undef ROW
        ap += QMR * 4;
        bp += 128;
    }
    __m512i *o = (__m512i *)acc;
    _mm512_storeu_si512(o + 0, c00); _mm512_storeu_si512(o + 1, c01);
    _mm512_storeu_si512(o + 2, c10); _mm512_storeu_si512(o + 3, c11);
    _mm512_storeu_si512(o + 4, c20); _mm512_storeu_si512(o + 5, c21);
    _mm512_storeu_si512(o + 6, c30); _mm512_storeu_si512(o + 7, c31);
    _mm512_storeu_si512(o + 8, c40); _mm512_storeu_si512(o + 9, c41);
    _mm512_storeu_si512(o + 10, c50); _mm512_storeu_si512(o + 11, c51);
}

// One row of the epilogue, 8 columns at a time: v = acc + cadj[j] - bzp[j] * rowsum.
__attribute__((target("avx2")))
static size_t epilogue_avx2(const int32_t *acc, size_t cols, int32_t rowsum, const int32_t *cadj,
                            const int32_t *bzp, const onyx_qgemm_out *o, size_t i, size_t j0) {
    size_t c = 0;
    __m256i rs = _mm256_set1_epi32(rowsum);
    for (; c + 8 <= cols; c += 8) {
        __m256i v = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(acc + c)),
                                     _mm256_loadu_si256((const __m256i *)(cadj + c)));
        if (bzp) v = _mm256_sub_epi32(v, _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)(bzp + j0 + c)), rs));
        if (o->c32) {
            _mm256_storeu_si256((__m256i *)(o->c32 + i * o->ldc + j0 + c), v);
        } else {
            __m256 sc = o->per_row ? _mm256_set1_ps(o->scale[i]) : _mm256_loadu_ps(o->scale + j0 + c);
            __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), sc);
            if (o->bias) f = _mm256_add_ps(f, o->per_row ? _mm256_set1_ps(o->bias[i]) : _mm256_loadu_ps(o->bias + j0 + c));
            if (o->residual) f = _mm256_add_ps(f, _mm256_loadu_ps(o->residual + i * o->ldr + j0 + c));
            if (o->relu) f = _mm256_max_ps(_mm256_setzero_ps(), f); // NaN (second operand) propagates
            if (o->cq) {
                __m256 q = _mm256_round_ps(_mm256_div_ps(f, _mm256_set1_ps(o->q_scale)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q = _mm256_add_ps(q, _mm256_set1_ps(o->q_zp));
                q = _mm256_min_ps(_mm256_max_ps(q, _mm256_setzero_ps()), _mm256_set1_ps(255.0f)); // max(NaN, 0) = 0
                __m256i iv = _mm256_cvtps_epi32(q);
                __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(iv), _mm256_extracti128_si256(iv, 1));
                _mm_storel_epi64((__m128i *)(o->cq + i * o->ldc + j0 + c), _mm_packus_epi16(w, w));
            } else {
                _mm256_storeu_ps(o->cf + i * o->ldc + j0 + c, f);
            }
        }
    }
    return c;
}
#endif

static void epilogue(const int32_t *acc, size_t nr, size_t rows, size_t cols, const int32_t *cadj,
                     const onyx_qgemm_out *o, size_t i0, size_t j0, int isa) {
    for (size_t r = 0; r < rows; r++) {
        size_t i = i0 + r, c = 0;
        const int32_t *ar = acc + r * nr;
#ifdef ONYX_X86
        if (isa >= 1) c = epilogue_avx2(ar, cols, o->rowsum_a[i], cadj, o->b_zp, o, i, j0);
#endif
        for (; c < cols; c++) {
            uint32_t v = (uint32_t)ar[c] + (uint32_t)cadj[c];
            if (o->b_zp) v -= (uint32_t)o->b_zp[j0 + c] * (uint32_t)o->rowsum_a[i];
            if (o->c32) {
                o->c32[i * o->ldc + j0 + c] = (int32_t)v;
            } else {
                size_t si = o->per_row ? i : j0 + c;
                float f = (float)(int32_t)v * o->scale[si];
                if (o->bias) f = f + o->bias[si];
                if (o->residual) f = f + o->residual[i * o->ldr + j0 + c];
                if (o->relu && f < 0) f = 0;
                if (o->cq) {
                    float q = __builtin_nearbyintf(f / o->q_scale) + o->q_zp;
                    o->cq[i * o->ldc + j0 + c] = q != q ? 0 : q <= 0 ? 0 : q >= 255 ? 255 : (uint8_t)q;
                } else {
                    o->cf[i * o->ldc + j0 + c] = f;
                }
            }
        }
    }
}

void onyx_qgemm(size_t m, size_t n, size_t k, const void *pa, const void *pb, const onyx_qgemm_out *o,
                size_t jp0, size_t jp1) {
    int isa = onyx_qgemm_isa();
    size_t nr = onyx_qgemm_nr(), g = q_group(), kp = q_kp(k), kgs = kp / g, el = q_elem();
    size_t mp = (m + QMR - 1) / QMR;
    int32_t acc[QMR * 32] __attribute__((aligned(64)));
    int32_t cadj[32];
    for (size_t ib = 0; ib < mp; ib += QMC / QMR) {
        size_t ie = ib + QMC / QMR < mp ? ib + QMC / QMR : mp;
        for (size_t jp = jp0; jp < jp1; jp++) {
            size_t j0 = jp * nr, cols = n - j0 < nr ? n - j0 : nr;
            // cadj[j] = k * a_zp * b_zp[j] - a_zp * colsum[j]
            for (size_t c = 0; c < cols; c++) {
                uint32_t bz = o->b_zp ? (uint32_t)o->b_zp[j0 + c] : 0;
                cadj[c] = (int32_t)((uint32_t)k * (uint32_t)o->a_zp * bz - (uint32_t)o->a_zp * (uint32_t)o->colsum_b[j0 + c]);
            }
            const uint8_t *bpan = (const uint8_t *)pb + jp * nr * kp * el;
            for (size_t ip = ib; ip < ie; ip++) {
                const uint8_t *apan = (const uint8_t *)pa + ip * QMR * kp * el;
#ifdef ONYX_X86
                if (isa == 2) kernel_vnni(kgs, apan, (const int8_t *)bpan, acc);
                else if (isa == 1) kernel_avx2(kgs, (const int16_t *)apan, (const int16_t *)bpan, acc);
                else kernel_c(kgs, nr, (const int16_t *)apan, (const int16_t *)bpan, acc);
#else
                kernel_c(kgs, nr, (const int16_t *)apan, (const int16_t *)bpan, acc);
#endif
                size_t rows = m - ip * QMR < QMR ? m - ip * QMR : QMR;
                epilogue(acc, nr, rows, cols, cadj, o, ip * QMR, j0, isa);
            }
        }
    }
}

#ifdef ONYX_X86
__attribute__((target("avx2")))
static size_t minmax_avx2(const float *x, size_t n, float *mn, float *mx) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        lo = _mm256_min_ps(v, lo); // NaN in v keeps lo
        hi = _mm256_max_ps(v, hi);
    }
    float l[8], h[8];
    _mm256_storeu_ps(l, lo); _mm256_storeu_ps(h, hi);
    for (int t = 0; t < 8; t++) { if (l[t] < *mn) *mn = l[t]; if (h[t] > *mx) *mx = h[t]; }
    return i;
}

__attribute__((target("avx2")))
static size_t quantize_avx2(const float *x, size_t n, float scale, float zp, uint8_t *q) {
    __m256 s = _mm256_set1_ps(scale), z = _mm256_set1_ps(zp), lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x + i), s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm256_add_ps(v, z);
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi); // max(NaN, 0) = 0
        __m256i iv = _mm256_cvtps_epi32(v);
        __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(iv), _mm256_extracti128_si256(iv, 1));
        _mm_storel_epi64((__m128i *)(q + i), _mm_packus_epi16(w, w));
    }
    return i;
}
#endif

void onyx_minmax0(const float *x, size_t n, float *mn, float *mx) {
    float lo = 0, hi = 0;
    size_t i = 0;
#ifdef ONYX_X86
    if (onyx_qgemm_isa() >= 1) i = minmax_avx2(x, n, &lo, &hi);
#endif
    for (; i < n; i++) { if (x[i] < lo) lo = x[i]; if (x[i] > hi) hi = x[i]; }
    *mn = lo; *mx = hi;
}

void onyx_quantize_u8(const float *x, size_t n, float scale, float zp, uint8_t *q) {
    size_t i = 0;
#ifdef ONYX_X86
    if (onyx_qgemm_isa() >= 1) i = quantize_avx2(x, n, scale, zp, q);
#endif
    for (; i < n; i++) {
        float v = __builtin_nearbyintf(x[i] / scale) + zp;
        q[i] = v != v ? 0 : v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
    }
}
