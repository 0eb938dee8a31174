#ifndef ONYX_CONV_H
#define ONYX_CONV_H
#include <stddef.h>
#include "onyx_kernels.h"

/// The most parts (threads) one convolution is split into.
#define ONYX_CONV_MAX_PARTS 64

/// How one image's 2-D convolution (NCHW, one group) runs as packed GEMMs: C[m x n] = A[m x k] * B[k x n] with
/// A the weights packed at load (onyx_pack_a), B the patch matrix (k = C*KH*KW rows, n = OH*OW columns) packed
/// from the image, never materialised as a whole im2col matrix unless `shared`.
/// Made by onyx_conv2d_plan_init for a thread count; read-only afterwards (parts may run concurrently).
typedef struct {
    size_t m, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
    size_t k, n;
    /// 1x1, stride 1, no padding: B is the image itself (rows of n contiguous values).
    int direct;
    /// Number of parts (<= threads): part p computes output rows [i0[p], i1[p]) x columns [j0[p], j1[p]).
    int parts;
    /// 1: B is packed whole once (onyx_conv2d_pack_part, every part, before any onyx_conv2d_run_part) and
    /// shared; 0: each part packs its own columns in nchunks[p] near-equal chunks cut at 32-column tiles, of at
    /// most `chunk` columns.
    int shared;
    /// 1: few input channels (the RGB stem), stride <= 2, no dilation, not shared: each part copies its input rows
    /// once into a zero-padded buffer and packs from it without per-tap bounds (see conv.c).
    int padded;
    /// 1 (AVX-512 or AVX2, stride 1, no dilation, m <= 64, k >= 4m): B is not packed at all. The shared buffer
    /// holds the input zero-padded to hp x wp per channel (pack_part p: channels [pan0[p], pan1[p])), and part p
    /// computes the output along the padded width, columns [j0[p], j1[p]) of oh x wp (rounded up to 32), with
    /// onyx_gemm_rows into a scratch matrix, then keeps the ow < OW columns (see conv.c).
    int rows;
    size_t hp, wp;
    size_t chunk;
    size_t nchunks[ONYX_CONV_MAX_PARTS];
    size_t i0[ONYX_CONV_MAX_PARTS], i1[ONYX_CONV_MAX_PARTS], j0[ONYX_CONV_MAX_PARTS], j1[ONYX_CONV_MAX_PARTS];
    /// Shared mode: part p packs B panels [pan0[p], pan1[p]).
    size_t pan0[ONYX_CONV_MAX_PARTS], pan1[ONYX_CONV_MAX_PARTS];
} onyx_conv_plan;

/// Chooses the split of an m-output-channel convolution of a C x H x W image for `threads` threads.
void onyx_conv2d_plan_init(onyx_conv_plan *plan, size_t m, size_t c, size_t h, size_t w, size_t oh, size_t ow,
                           size_t kh, size_t kw, size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw,
                           int threads);
/// Floats of the shared packed B (0 when the plan does not share B).
size_t onyx_conv2d_shared_floats(const onyx_conv_plan *plan);
/// Shared mode: packs part `part`'s panels of B from image x into shared (onyx_conv2d_shared_floats floats,
/// 64-byte aligned).
void onyx_conv2d_pack_part(const onyx_conv_plan *plan, int part, const float *x, float *shared);
/// Computes part `part` of y (m x n, row-major) = epilogue(A * B); pa is A packed by onyx_pack_a (m x k);
/// shared is the buffer filled by onyx_conv2d_pack_part (NULL when !plan->shared). Returns 0, or -1 when a
/// scratch buffer could not be allocated.
int onyx_conv2d_run_part(const onyx_conv_plan *plan, int part, const float *x, const float *pa, const float *shared,
                         const onyx_epilogue *ep, float *y);

#endif
