#ifndef ONYX_KERNELS_H
#define ONYX_KERNELS_H
#include <stddef.h>
#include <stdint.h>
// The vector-math and int8 GEMM headers are included here, not only picked up from the umbrella directory, so a
// build directory whose module cache predates them rebuilds the module (clang tracks the headers it included).
#include "onyx_vmath.h"
#include "onyx_qgemm.h"
#include "onyx_qconv.h"

/// 1 when the CPU supports AVX2 and FMA (checked once, at run time).
/// A spin-wait hint (x86 `pause`, arm64 `yield`) for the intra-op thread pool's busy waits.
static inline void onyx_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

int onyx_cpu_has_avx2_fma(void);
/// 1 when the CPU (and OS) support AVX-512F; the packed GEMM then uses a 12x32 AVX-512 micro-kernel.
int onyx_cpu_has_avx512(void);

/// C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C, row-major with leading dimensions.
/// transA / transB select op(X) = X^T. Uses AVX2+FMA micro-kernels when the CPU has them.
void onyx_sgemm(int transA, int transB, size_t m, size_t n, size_t k, float alpha,
                const float *a, size_t lda, const float *b, size_t ldb, float beta,
                float *c, size_t ldc);

/// Fused GEMM epilogue: y = act(acc + bias + residual). Activation codes:
/// 0 none, 1 relu, 2 clip(p0, p1), 3 leaky relu(p0), 4 sigmoid, 5 tanh, 6 hard sigmoid(p0 alpha, p1 beta),
/// 7 hard swish, 8 SiLU, 9 GELU (erf).
typedef struct {
    const float *bias;   /// NULL, or per-row (bias_per_row = 1) / per-column values
    int bias_per_row;
    const float *res;    /// NULL, or a residual matrix added before the activation (leading dim ldr)
    size_t ldr;
    int act;
    float p0, p1;
} onyx_epilogue;

/// Size in floats of op(A) (m x k) packed in 6-row panels, and of op(B) (k x n) packed in 16-column panels.
size_t onyx_packed_a_size(size_t m, size_t k);
size_t onyx_packed_b_size(size_t k, size_t n);
/// Packs row panels [panel0, panel1) of alpha*op(A) into dst (a buffer of onyx_packed_a_size floats).
void onyx_pack_a(int transA, size_t m, size_t k, float alpha, const float *a, size_t lda, float *dst,
                 size_t panel0, size_t panel1);
/// Packs column panels [panel0, panel1) of op(B) into dst (onyx_packed_b_size floats, 32-byte aligned).
void onyx_pack_b(int transB, size_t k, size_t n, const float *b, size_t ldb, float *dst,
                 size_t panel0, size_t panel1);
/// C[i0..i1, j0..j1] (= or +=, by `accumulate`) packedA * packedB, then the epilogue.
/// i0 must be a multiple of 6, j0 of 16. `ep` may be NULL.
void onyx_gemm_packed(size_t m, size_t n, size_t k, const float *pa, const float *pb, float *c, size_t ldc,
                      int accumulate, size_t i0, size_t i1, size_t j0, size_t j1, const onyx_epilogue *ep);
/// im2col fused with B packing (2-D convolution, one image): columns [j0, j1) of the (C*KH*KW) x (OH*OW)
/// patch matrix as 16-column panels starting at dst; j0 must be a multiple of 16.
void onyx_im2col_pack_b(const float *x, size_t C, size_t H, size_t W, size_t OH, size_t OW, size_t KH, size_t KW,
                        size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw,
                        size_t j0, size_t j1, float *dst);
/// 2-D max (average = 0) or average pooling of float planes [p0, p1) (NCHW, no indices). padded_h/padded_w are
/// H/W plus both pads (positions counted when count_include_pad).
void onyx_pool2d(const float *x, float *y, size_t p0, size_t p1, size_t H, size_t W, size_t OH, size_t OW,
                 size_t KH, size_t KW, size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw,
                 size_t padded_h, size_t padded_w, int average, int count_include_pad);
/// y = act(x * scale[c] + bias[c]) for the planes pl in [p0, p1) of an NCHW-like tensor with C channels of hw values
/// (plane pl = image pl / C, channel pl % C). xC is X's channel count: C, or 1 to broadcast X's single plane.
void onyx_channel_affine(const float *x, float *y, size_t p0, size_t p1, size_t C, size_t xC, size_t hw,
                         const float *scale, const float *bias, int act, float a0, float a1);
/// Applies an activation in place to n values.
void onyx_activation(float *x, size_t n, int act, float p0, float p1);
/// C[m x n] (row-major, ldc) = A * B with A packed by onyx_pack_a (m x k) and B read in place: B[p][j] =
/// xb[koff[p] + j] (a stride-1 convolution's zero-padded input). n must be a multiple of 32 and every
/// xb[koff[p] + j] for j < n readable. AVX-512 or AVX2+FMA: returns 1 when done, 0 (nothing written) otherwise.
int onyx_gemm_rows(size_t m, size_t n, size_t k, const float *pa, const float *xb, const long *koff, float *c, size_t ldc);
/// Depthwise 2-D convolution (one filter per channel, NCHW) for channels [c0, c1) of one image.
/// x: C planes of H*W; w: C filters of KH*KW; bias, res may be NULL; y: C planes of OH*OW.
void onyx_dwconv2d(const float *x, const float *w, const float *bias, const float *res, float *y,
                   size_t c0, size_t c1, size_t H, size_t W, size_t OH, size_t OW, size_t KH, size_t KW,
                   size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw, int act, float p0, float p1);

// The convolution driver (conv.c) uses onyx_epilogue, so its header comes after the declarations above.
#include "onyx_conv.h"

#endif
