// Int8 convolution helpers for the packed int8 GEMM (qgemm.c): the uint8 patch matrix of one image (im2col with
// the zero point as padding) and a vectorized packer of contiguous byte rows into qgemm's B layout.
#include "onyx_qconv.h"
#include "onyx_qgemm.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ONYX_X86 1
#endif

void onyx_qim2col_u8(const uint8_t *x, size_t C, size_t H, size_t W, size_t OH, size_t OW, size_t KH, size_t KW,
                     size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw, size_t j0, size_t j1,
                     uint8_t pad, uint8_t *dst) {
    size_t cols = j1 - j0;
    (void)OH;
    for (size_t c = 0; c < C; c++) {
        const uint8_t *plane = x + c * H * W;
        for (size_t kh = 0; kh < KH; kh++) {
            for (size_t kw = 0; kw < KW; kw++) {
                uint8_t *row = dst + ((c * KH + kh) * KW + kw) * cols;
                size_t j = j0;
                while (j < j1) {
                    size_t oh = j / OW, ow0 = j % OW;
                    size_t ow1 = OW - ow0 < j1 - j ? OW : ow0 + (j1 - j);
                    uint8_t *d = row + (j - j0);
                    ptrdiff_t ih = (ptrdiff_t)(oh * sh + kh * dh) - (ptrdiff_t)ph;
                    if (ih < 0 || ih >= (ptrdiff_t)H) {
                        memset(d, pad, ow1 - ow0);
                    } else {
                        const uint8_t *src = plane + (size_t)ih * W;
                        ptrdiff_t off = (ptrdiff_t)(kw * dw) - (ptrdiff_t)pw;
                        size_t ow = ow0;
                        // Leading columns that fall left of the image.
                        while (ow < ow1 && (ptrdiff_t)(ow * sw) + off < 0) { *d++ = pad; ow++; }
                        // Last column inside the image: ow * sw + off <= W - 1.
                        size_t inside = ow;
                        if ((ptrdiff_t)W - 1 - off >= 0) {
                            size_t lim = ((size_t)((ptrdiff_t)W - 1 - off)) / sw + 1;
                            inside = lim < ow1 ? lim : ow1;
                            if (inside < ow) inside = ow;
                        }
                        if (sw == 1) {
                            memcpy(d, src + (ptrdiff_t)ow + off, inside - ow);
                            d += inside - ow;
                            ow = inside;
                        } else {
                            for (; ow < inside; ow++) *d++ = src[(ptrdiff_t)(ow * sw) + off];
                        }
                        for (; ow < ow1; ow++) *d++ = pad;
                    }
                    j += ow1 - ow0;
                }
            }
        }
    }
}

#ifdef ONYX_X86
// VNNI layout: 32-column panels, k in groups of 4 bytes. Full panels and full k groups only.
__attribute__((target("avx2")))
static void pack_rows_vnni(size_t kg_full, const uint8_t *b, size_t ldb, uint8_t fx, int8_t *d, int32_t *cs) {
    __m256i fl = _mm256_set1_epi8((char)fx);
    __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t kg = 0; kg < kg_full; kg++) {
        const uint8_t *r = b + kg * 4 * ldb;
        __m256i r0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)r), fl);
        __m256i r1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(r + ldb)), fl);
        __m256i r2 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(r + 2 * ldb)), fl);
        __m256i r3 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(r + 3 * ldb)), fl);
        __m256i t0 = _mm256_unpacklo_epi8(r0, r1), t1 = _mm256_unpackhi_epi8(r0, r1);
        __m256i t2 = _mm256_unpacklo_epi8(r2, r3), t3 = _mm256_unpackhi_epi8(r2, r3);
        __m256i u0 = _mm256_unpacklo_epi16(t0, t2), u1 = _mm256_unpackhi_epi16(t0, t2);
        __m256i u2 = _mm256_unpacklo_epi16(t1, t3), u3 = _mm256_unpackhi_epi16(t1, t3);
        __m256i o0 = _mm256_permute2x128_si256(u0, u1, 0x20), o1 = _mm256_permute2x128_si256(u2, u3, 0x20);
        __m256i o2 = _mm256_permute2x128_si256(u0, u1, 0x31), o3 = _mm256_permute2x128_si256(u2, u3, 0x31);
        __m256i *dv = (__m256i *)(d + kg * 128);
        _mm256_storeu_si256(dv, o0); _mm256_storeu_si256(dv + 1, o1);
        _mm256_storeu_si256(dv + 2, o2); _mm256_storeu_si256(dv + 3, o3);
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, o0), ones16));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, o1), ones16));
        s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, o2), ones16));
        s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, o3), ones16));
    }
    _mm256_storeu_si256((__m256i *)cs, s0); _mm256_storeu_si256((__m256i *)(cs + 8), s1);
    _mm256_storeu_si256((__m256i *)(cs + 16), s2); _mm256_storeu_si256((__m256i *)(cs + 24), s3);
}

// AVX2 layout: 16-column panels, k in pairs of int16. Full panels and full k pairs only.
__attribute__((target("avx2")))
static void pack_rows_avx2(size_t kg_full, const uint8_t *b, size_t ldb, uint8_t fx, int16_t *d, int32_t *cs) {
    __m128i fl = _mm_set1_epi8((char)fx);
    __m256i ones16 = _mm256_set1_epi16(1);
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
    for (size_t kg = 0; kg < kg_full; kg++) {
        const uint8_t *r = b + kg * 2 * ldb;
        __m128i r0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)r), fl);
        __m128i r1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(r + ldb)), fl);
        __m256i w0 = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(r0, r1));
        __m256i w1 = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(r0, r1));
        __m256i *dv = (__m256i *)(d + kg * 32);
        _mm256_storeu_si256(dv, w0); _mm256_storeu_si256(dv + 1, w1);
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(w0, ones16));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(w1, ones16));
    }
    _mm256_storeu_si256((__m256i *)cs, s0); _mm256_storeu_si256((__m256i *)(cs + 8), s1);
}
#endif

void onyx_qgemm_pack_b_rows(size_t k, size_t n, const uint8_t *b, size_t ldb, int flip, void *dst, int32_t *colsum) {
    int isa = onyx_qgemm_isa();
    if (isa == 0 || k == 0 || n == 0) {
        onyx_qgemm_pack_b(k, n, (const int8_t *)b, (ptrdiff_t)ldb, 1, flip, dst, colsum);
        return;
    }
#ifdef ONYX_X86
    size_t nr = onyx_qgemm_nr(), g = isa == 2 ? 4 : 2, el = isa == 2 ? 1 : 2;
    size_t kp = (k + g - 1) / g * g, kgs = kp / g, kg_full = k / g, np = (n + nr - 1) / nr;
    uint8_t fx = flip ? 0x80 : 0;
    for (size_t jp = 0; jp < np; jp++) {
        size_t j0 = jp * nr, cols = n - j0 < nr ? n - j0 : nr;
        uint8_t *pan = (uint8_t *)dst + jp * nr * kp * el;
        int32_t *cs = colsum + j0;
        int32_t tmp[32];
        size_t kg0 = 0;
        if (cols == nr) {
            if (isa == 2) pack_rows_vnni(kg_full, b + j0, ldb, fx, (int8_t *)pan, tmp);
            else pack_rows_avx2(kg_full, b + j0, ldb, fx, (int16_t *)pan, tmp);
            for (size_t c = 0; c < nr; c++) cs[c] = tmp[c];
            kg0 = kg_full;
        } else {
            for (size_t c = 0; c < cols; c++) cs[c] = 0;
        }
        // Remaining k groups (and every group of a partial panel): element by element, zero beyond k and n.
        for (size_t kg = kg0; kg < kgs; kg++) {
            for (size_t c = 0; c < nr; c++) {
                for (size_t e = 0; e < g; e++) {
                    size_t p = kg * g + e;
                    int8_t v = 0;
                    if (c < cols && p < k) v = (int8_t)(b[p * ldb + j0 + c] ^ fx);
                    size_t idx = (kg * nr + c) * g + e;
                    if (isa == 2) ((int8_t *)pan)[idx] = v;
                    else ((int16_t *)pan)[idx] = v;
                    if (c < cols) cs[c] += v;
                }
            }
        }
    }
#endif
}
