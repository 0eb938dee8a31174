#ifndef ONYX_QGEMM_H
#define ONYX_QGEMM_H
#include <stddef.h>
#include <stdint.h>

/// Packed int8 GEMM: C = (A - a_zp) * (B - b_zp[j]), A uint8 (m x k), B int8 (k x n), exact int32 sums.
/// Int8 A / uint8 B are shifted into this domain by the packers (x ^ 0x80), the caller shifts the zero points.
/// Kernels, chosen once at run time: 2 = AVX-512 VNNI (vpdpbusd, u8 x s8 in groups of 4), 1 = AVX2 (both sides
/// widened to s16, vpmaddwd: exact, no vpmaddubsw saturation), 0 = portable C. ONYX_ISA=avx2 / scalar caps it.
int onyx_qgemm_isa(void);
/// Width of a packed B column panel (the unit `onyx_qgemm` splits across threads).
size_t onyx_qgemm_nr(void);
/// Bytes of packed B (k x n) and packed A (m x k) for the chosen kernel.
size_t onyx_qgemm_packed_b_bytes(size_t k, size_t n);
size_t onyx_qgemm_packed_a_bytes(size_t m, size_t k);

/// Packs B: element (p, j) is b[p*rs + j*cs] (int8; with flip = 1 the bytes are uint8 and become v - 128).
/// colsum[j] receives the sum over p of the packed (int8-domain) values. dst: onyx_qgemm_packed_b_bytes bytes.
void onyx_qgemm_pack_b(size_t k, size_t n, const int8_t *b, ptrdiff_t rs, ptrdiff_t cs, int flip, void *dst,
                       int32_t *colsum);
/// Packs rows of 6-row panels [panel0, panel1) of A (m x k, row-major, lda; uint8, or int8 with flip = 1 which
/// become v + 128); rowsum[i] receives each row's sum in the uint8 domain.
void onyx_qgemm_pack_a(size_t m, size_t k, const uint8_t *a, size_t lda, int flip, void *dst, int32_t *rowsum,
                       size_t panel0, size_t panel1);

/// What to do with the exact int32 products: zero-point corrections, then int32 output or float output
/// cf = (float)acc * scale[j] (+ bias[j]) (+ residual) [then ReLU] [then uint8 quantization]; with per_row,
/// scale[i] and bias[i].
typedef struct {
    int32_t a_zp;             /// A's zero point in the uint8 domain
    const int32_t *rowsum_a;  /// m values (from onyx_qgemm_pack_a)
    const int32_t *b_zp;      /// n values in the int8 domain, or NULL (all zero)
    const int32_t *colsum_b;  /// n values (from onyx_qgemm_pack_b)
    int32_t *c32;             /// int32 output, or NULL for float output
    float *cf;
    const float *scale;       /// n values (float output)
    const float *bias;        /// n values or NULL
    size_t ldc;
    int per_row;              /// float output: scale and bias have m values, indexed by row (0: by column)
    int relu;                 /// float output: max(0, ·) after the bias and residual
    const float *residual;    /// float output: NULL, or + residual[i * ldr + j] after the bias (before ReLU)
    size_t ldr;
    uint8_t *cq;              /// NULL, or the float value is quantized like QuantizeLinear into cq[i * ldc + j]
    float q_scale, q_zp;      /// (clamp(round_half_even(v / q_scale) + q_zp, 0, 255)) and cf is not written
} onyx_qgemm_out;

/// C rows [0, m) x column panels [jp0, jp1) of the packed operands (each panel onyx_qgemm_nr() columns).
void onyx_qgemm(size_t m, size_t n, size_t k, const void *pa, const void *pb, const onyx_qgemm_out *o,
                size_t jp0, size_t jp1);

/// Min and max of x[0..n) together with 0 (DynamicQuantizeLinear's range); NaN are ignored.
void onyx_minmax0(const float *x, size_t n, float *mn, float *mx);
/// q = clamp(round_half_even(x / scale) + zp, 0, 255), NaN -> 0 (DynamicQuantizeLinear / QuantizeLinear u8).
void onyx_quantize_u8(const float *x, size_t n, float scale, float zp, uint8_t *q);

#endif
