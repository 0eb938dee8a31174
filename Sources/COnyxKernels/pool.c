// 2-D max / average pooling on NCHW float planes (no indices): the in-bounds window range is computed per
// output row and column, so the inner loops carry no bounds checks.
#include "onyx_kernels.h"
#include "onyx_vmath.h"
#include <math.h>
#include <stdint.h>

// [lo, hi) of kernel taps t with 0 <= start + t*d < limit.
static inline void tap_range(long start, size_t d, size_t K, long limit, size_t *lo, size_t *hi) {
    long l = start >= 0 ? 0 : (-start + (long)d - 1) / (long)d;
    long h = limit - 1 - start < 0 ? 0 : (limit - 1 - start) / (long)d + 1;
    if (h > (long)K) h = (long)K;
    if (l > h) l = h;
    *lo = (size_t)l; *hi = (size_t)h;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ONYX_POOL_X86 1
#endif
#include <stdlib.h>

// Output columns [lo, hi) of a stride-2 window over one combined row acc (every tap in bounds): out[ow] =
// max or sum of acc[2*ow - pw + k], k < KW. Returns the first column not done (the caller finishes the rest).
typedef size_t (*pool_s2_fn)(const float *acc, float *out, size_t lo, size_t hi, size_t pw, size_t KW, int average);

static size_t pool_s2_none(const float *acc, float *out, size_t lo, size_t hi, size_t pw, size_t KW, int average) {
    (void)acc; (void)out; (void)hi; (void)pw; (void)KW; (void)average;
    return lo;
}

// Separable pooling for dilation 1: per output row, the window's rows combined into acc[0..W) (contiguous, so
// vectorised), then per output column the KW neighbours of acc. Average divides by the in-bounds count (or the
// count within the padded extent when count_include_pad).
static inline __attribute__((always_inline))
void pool_separable(const float *x, float *y, size_t p0, size_t p1, size_t H, size_t W, size_t OH, size_t OW,
                    size_t KH, size_t KW, size_t sh, size_t sw, size_t ph, size_t pw, size_t padded_h, size_t padded_w,
                    int average, int count_include_pad, float *acc, pool_s2_fn s2) {
    // Interior columns [clo, chi): the whole window inside the row.
    size_t clo = (pw + sw - 1) / sw, chi = W + pw >= KW ? (W + pw - KW) / sw + 1 : 0;
    if (chi > OW) chi = OW;
    if (clo > chi) clo = chi;
    for (size_t pl = p0; pl < p1; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        for (size_t oh = 0; oh < OH; oh++) {
            long hs = (long)(oh * sh) - (long)ph;
            size_t khl, khh, phl, phh;
            tap_range(hs, 1, KH, (long)H, &khl, &khh);
            tap_range(hs + (long)ph, 1, KH, (long)padded_h, &phl, &phh);
            float *yr = yp + oh * OW;
            if (khl == khh) { for (size_t ow = 0; ow < OW; ow++) yr[ow] = average ? 0.0f : -INFINITY; continue; }
            const float *r0 = xp + (size_t)(hs + (long)khl) * W;
            for (size_t w = 0; w < W; w++) acc[w] = r0[w];
            for (size_t kh = khl + 1; kh < khh; kh++) {
                const float *r = xp + (size_t)(hs + (long)kh) * W;
                if (average) { for (size_t w = 0; w < W; w++) acc[w] += r[w]; }
                else { for (size_t w = 0; w < W; w++) acc[w] = r[w] > acc[w] ? r[w] : acc[w]; }
            }
            size_t rows = count_include_pad ? phh - phl : khh - khl;
            // Interior columns.
            size_t done = clo;
            if (sw == 2 && chi > clo) done = s2(acc, yr, clo, chi, pw, KW, average);
            if (sw == 1 && chi > clo) {
                const float *a0 = acc + clo - pw;
                float *o = yr + clo;
                size_t n = chi - clo;
                for (size_t j = 0; j < n; j++) o[j] = a0[j];
                for (size_t k = 1; k < KW; k++) {
                    const float *ak = a0 + k;
                    if (average) { for (size_t j = 0; j < n; j++) o[j] += ak[j]; }
                    else { for (size_t j = 0; j < n; j++) o[j] = ak[j] > o[j] ? ak[j] : o[j]; }
                }
                done = chi;
            }
            for (size_t ow = done; ow < chi; ow++) {
                const float *a = acc + ow * sw - pw;
                float v = a[0];
                for (size_t k = 1; k < KW; k++) v = average ? v + a[k] : (a[k] > v ? a[k] : v);
                yr[ow] = v;
            }
            if (average && chi > clo) {
                float inv = 1.0f / (float)(rows * KW);
                for (size_t ow = clo; ow < chi; ow++) yr[ow] *= inv;
            }
            // Border columns: taps checked one by one.
            for (size_t ow = 0; ow < OW; ow++) {
                if (ow == clo && chi > clo) { ow = chi - 1; continue; }
                long ws = (long)(ow * sw) - (long)pw;
                size_t kwl, kwh;
                tap_range(ws, 1, KW, (long)W, &kwl, &kwh);
                if (kwl == kwh) { yr[ow] = average ? 0.0f : -INFINITY; continue; }
                float v = acc[ws + (long)kwl];
                for (size_t kw = kwl + 1; kw < kwh; kw++) { float a = acc[ws + (long)kw]; v = average ? v + a : (a > v ? a : v); }
                if (average) {
                    size_t cols = kwh - kwl;
                    if (count_include_pad) {
                        size_t pwl, pwh;
                        tap_range(ws + (long)pw, 1, KW, (long)padded_w, &pwl, &pwh);
                        cols = pwh - pwl;
                    }
                    size_t cnt = rows * cols;
                    v = cnt ? v / (float)cnt : 0.0f;
                }
                yr[ow] = v;
            }
        }
    }
}

#ifdef ONYX_POOL_X86
// acc[2*j + o] for j = 0..7: the even elements of the 16 floats at acc + o.
__attribute__((target("avx2,fma")))
static inline __m256 evens16(const float *p) {
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));   // a0 a2 b0 b2 | a4 a6 b4 b6
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

__attribute__((target("avx2,fma")))
static size_t pool_s2_avx2(const float *acc, float *out, size_t lo, size_t hi, size_t pw, size_t KW, int average) {
    size_t ow = lo;
    // Columns ow..ow+7 are interior, so they read acc up to 2*(ow+7) - pw + KW - 1 <= W - 1; the last evens16 load
    // reads one float further (an odd lane, discarded), within the caller's W + 32 buffer.
    for (; ow + 8 <= hi; ow += 8) {
        const float *a = acc + 2 * ow - pw;
        __m256 v = evens16(a);
        for (size_t k = 1; k < KW; k++) {
            __m256 t = evens16(a + k);
            v = average ? _mm256_add_ps(v, t) : _mm256_max_ps(t, v);
        }
        _mm256_storeu_ps(out + ow, v);
    }
    return ow;
}

__attribute__((target("avx2,fma")))
static void pool_separable_avx2(const float *x, float *y, size_t p0, size_t p1, size_t H, size_t W, size_t OH, size_t OW,
                                size_t KH, size_t KW, size_t sh, size_t sw, size_t ph, size_t pw, size_t padded_h,
                                size_t padded_w, int average, int count_include_pad, float *acc) {
    pool_separable(x, y, p0, p1, H, W, OH, OW, KH, KW, sh, sw, ph, pw, padded_h, padded_w, average, count_include_pad,
                   acc, pool_s2_avx2);
}
#endif

#ifdef ONYX_POOL_X86
// AVX-512 max pooling, windows of at most 3 columns, stride 1 or 2, dilation 1, any padding (ResNet / DenseNet /
// SqueezeNet / Inception: 3x3 s2, 3x3 s1): per output row and 16 output columns, the window's input rows are
// combined first (three 16-float runs each: lane j of run v is input column base + 16v + j; columns outside the
// image load as -inf through masks, so no load leaves the row), then the KW taps of each lane are picked out of the
// combined runs with valignd (stride 1) or even-element permutes (stride 2). The separable path's per-row scalar
// borders and 8-wide AVX2 steps cost 2-5x ONNX Runtime's time on these shapes.
#define POOL_MAX_CHUNKS 256
__attribute__((target("avx512f,avx2,fma")))
static int maxpool_avx512(const float *x, float *y, size_t p0, size_t p1, size_t H, size_t W, size_t OH, size_t OW,
                          size_t KH, size_t KW, size_t s, size_t ph, size_t pw) {
    size_t nchunk = (OW + 15) / 16;
    if (nchunk > POOL_MAX_CHUNKS || KW < 1 || KW > 3 || (s != 1 && s != 2) || W >= ((size_t)1 << 30)) return 0;
    long base[POOL_MAX_CHUNKS];
    __mmask16 vm[POOL_MAX_CHUNKS][3], om[POOL_MAX_CHUNKS];
    for (size_t q = 0; q < nchunk; q++) {
        size_t lanes = OW - q * 16 < 16 ? OW - q * 16 : 16;
        om[q] = (__mmask16)((1u << lanes) - 1);
        base[q] = (long)(q * 16 * s) - (long)pw;
        for (int v = 0; v < 3; v++) {
            uint32_t m = 0;
            for (int e = 0; e < 16; e++) { long col = base[q] + 16 * v + e; if (col >= 0 && col < (long)W) m |= 1u << e; }
            vm[q][v] = (__mmask16)m;
        }
    }
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (size_t pl = p0; pl < p1; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        for (size_t oh = 0; oh < OH; oh++) {
            long h0 = (long)(oh * s) - (long)ph;
            long k0 = h0 < 0 ? -h0 : 0, k1 = (long)H - h0 < (long)KH ? (long)H - h0 : (long)KH;
            for (size_t q = 0; q < nchunk; q++) {
                __m512 v0 = ninf, v1 = ninf, v2 = ninf;
                for (long kh = k0; kh < k1; kh++) {
                    const float *r = xp + (h0 + kh) * (long)W + base[q];
                    v0 = _mm512_max_ps(v0, _mm512_mask_loadu_ps(ninf, vm[q][0], r));
                    v1 = _mm512_max_ps(v1, _mm512_mask_loadu_ps(ninf, vm[q][1], r + 16));
                    if (s == 2 && KW > 2) v2 = _mm512_max_ps(v2, _mm512_mask_loadu_ps(ninf, vm[q][2], r + 32));
                }
                __m512 out;
                if (s == 1) {
                    out = v0;
                    if (KW > 1) out = _mm512_max_ps(out, _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(v1), _mm512_castps_si512(v0), 1)));
                    if (KW > 2) out = _mm512_max_ps(out, _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(v1), _mm512_castps_si512(v0), 2)));
                } else {
                    out = _mm512_permutex2var_ps(v0, ev, v1);
                    if (KW > 1) out = _mm512_max_ps(out, _mm512_permutex2var_ps(v0, od, v1));
                    if (KW > 2) {
                        __m512 a = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(v1), _mm512_castps_si512(v0), 2));
                        __m512 b = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(v2), _mm512_castps_si512(v1), 2));
                        out = _mm512_max_ps(out, _mm512_permutex2var_ps(a, ev, b));
                    }
                }
                _mm512_mask_storeu_ps(yp + oh * OW + q * 16, om[q], out);
            }
        }
    }
    return 1;
}
#endif

void onyx_pool2d(const float *x, float *y, size_t p0, size_t p1, size_t H, size_t W, size_t OH, size_t OW,
                 size_t KH, size_t KW, size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw,
                 size_t padded_h, size_t padded_w, int average, int count_include_pad) {
    if (OH == 1 && OW == 1 && KH == H && KW == W && ph == 0 && pw == 0 && H * W > 0) {
        // The window is the whole plane (ResNet's final 7x7 AveragePool): one vector reduction per plane.
        for (size_t pl = p0; pl < p1; pl++)
            y[pl] = average ? onyx_vreduce(x + pl * H * W, H * W, 0) / (float)(H * W) : onyx_vreduce(x + pl * H * W, H * W, 1);
        return;
    }
#ifdef ONYX_POOL_X86
    if (!average && dh == 1 && dw == 1 && sh == sw && onyx_cpu_has_avx512() &&
        maxpool_avx512(x, y, p0, p1, H, W, OH, OW, KH, KW, sh, ph, pw)) return;
#endif
    if (dh == 1 && dw == 1 && KW <= W + 2 * pw) {
        float stackbuf[4096 + 32];
        float *acc = W <= 4096 ? stackbuf : malloc((W + 32) * sizeof(float));
        if (acc) {
#ifdef ONYX_POOL_X86
            if (onyx_cpu_has_avx2_fma())
                pool_separable_avx2(x, y, p0, p1, H, W, OH, OW, KH, KW, sh, sw, ph, pw, padded_h, padded_w, average,
                                    count_include_pad, acc);
            else
#endif
                pool_separable(x, y, p0, p1, H, W, OH, OW, KH, KW, sh, sw, ph, pw, padded_h, padded_w, average,
                               count_include_pad, acc, pool_s2_none);
            if (acc != stackbuf) free(acc);
            return;
        }
    }
    for (size_t pl = p0; pl < p1; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        for (size_t oh = 0; oh < OH; oh++) {
            long hs = (long)(oh * sh) - (long)ph;
            size_t khl, khh, phl, phh;
            tap_range(hs, dh, KH, (long)H, &khl, &khh);
            tap_range(hs + (long)ph, dh, KH, (long)padded_h, &phl, &phh);
            for (size_t ow = 0; ow < OW; ow++) {
                long ws = (long)(ow * sw) - (long)pw;
                size_t kwl, kwh;
                tap_range(ws, dw, KW, (long)W, &kwl, &kwh);
                float out;
                if (average) {
                    float sum = 0.0f;
                    for (size_t kh = khl; kh < khh; kh++) {
                        const float *row = xp + (size_t)(hs + (long)(kh * dh)) * W;
                        for (size_t kw = kwl; kw < kwh; kw++) sum += row[ws + (long)(kw * dw)];
                    }
                    size_t n = (khh - khl) * (kwh - kwl);
                    if (count_include_pad) {
                        size_t pwl, pwh;
                        tap_range(ws + (long)pw, dw, KW, (long)padded_w, &pwl, &pwh);
                        n = (phh - phl) * (pwh - pwl);
                    }
                    out = n ? sum / (float)n : 0.0f;
                } else {
                    float best = -INFINITY;
                    int first = 1;
                    for (size_t kh = khl; kh < khh; kh++) {
                        const float *row = xp + (size_t)(hs + (long)(kh * dh)) * W;
                        for (size_t kw = kwl; kw < kwh; kw++) {
                            float v = row[ws + (long)(kw * dw)];
                            if (first) { best = v; first = 0; } else best = v > best ? v : best;
                        }
                    }
                    out = best;
                }
                yp[oh * OW + ow] = out;
            }
        }
    }
}

// ---- Per-channel affine + activation (ai.onyx.ChannelAffine: folded BatchNormalization / Mul / Add chains) ----

static void affine_row_scalar(const float *x, float *y, size_t n, float s, float b, int act, float a0, float a1) {
    switch (act) {
    case 0: for (size_t i = 0; i < n; i++) y[i] = x[i] * s + b; return;
    case 1: for (size_t i = 0; i < n; i++) { float v = x[i] * s + b; y[i] = v > 0.0f ? v : 0.0f; } return;
    case 2: for (size_t i = 0; i < n; i++) { float v = x[i] * s + b; y[i] = v < a0 ? a0 : (v > a1 ? a1 : v); } return;
    default:
        for (size_t i = 0; i < n; i++) y[i] = x[i] * s + b;
        onyx_activation(y, n, act, a0, a1);
    }
}

#ifdef ONYX_POOL_X86
__attribute__((target("avx2,fma")))
static void affine_row_avx2(const float *x, float *y, size_t n, float s, float b, int act, float a0, float a1) {
    if (act != 0 && act != 1 && act != 2) { affine_row_scalar(x, y, n, s, b, act, a0, a1); return; }
    __m256 vs = _mm256_set1_ps(s), vb = _mm256_set1_ps(b);
    // Relu is Clip(0, +inf); no activation is Clip(-inf, +inf).
    float lo = act == 0 ? -INFINITY : (act == 1 ? 0.0f : a0), hi = act == 2 ? a1 : INFINITY;
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 v0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), vs, vb);
        __m256 v1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), vs, vb);
        _mm256_storeu_ps(y + i, _mm256_min_ps(_mm256_max_ps(v0, vlo), vhi));
        _mm256_storeu_ps(y + i + 8, _mm256_min_ps(_mm256_max_ps(v1, vlo), vhi));
    }
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), vs, vb);
        _mm256_storeu_ps(y + i, _mm256_min_ps(_mm256_max_ps(v, vlo), vhi));
    }
    if (i < n) {
        __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i)), idx);
        __m256 v = _mm256_fmadd_ps(_mm256_maskload_ps(x + i, mask), vs, vb);
        _mm256_maskstore_ps(y + i, mask, _mm256_min_ps(_mm256_max_ps(v, vlo), vhi));
    }
}
#endif

void onyx_channel_affine(const float *x, float *y, size_t p0, size_t p1, size_t C, size_t xC, size_t hw,
                         const float *scale, const float *bias, int act, float a0, float a1) {
#ifdef ONYX_POOL_X86
    int avx2 = onyx_cpu_has_avx2_fma();
#endif
    for (size_t pl = p0; pl < p1; pl++) {
        size_t n = pl / C, c = pl % C;
        const float *xp = x + (n * xC + (xC == 1 ? 0 : c)) * hw;
        float *yp = y + pl * hw;
#ifdef ONYX_POOL_X86
        if (avx2) { affine_row_avx2(xp, yp, hw, scale[c], bias[c], act, a0, a1); continue; }
#endif
        affine_row_scalar(xp, yp, hw, scale[c], bias[c], act, a0, a1);
    }
}
