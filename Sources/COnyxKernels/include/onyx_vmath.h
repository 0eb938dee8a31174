#ifndef ONYX_VMATH_H
#define ONYX_VMATH_H
#include <stddef.h>

// Vectorised float32 math over arrays (y may equal x). AVX2+FMA on x86-64 and NEON on arm64, chosen at run time;
// the portable fallback calls libm. ONYX_ISA=scalar forces the fallback (ONYX_VMATH=scalar: for these functions
// only). The measured maximum errors of the vector paths against double-precision libm are stated next to each
// function in vmath.c.

/// Which path the functions below use: "avx2", "neon" or "scalar".
const char *onyx_vmath_isa(void);

/// y = exp(x)
void onyx_vexp(const float *x, float *y, size_t n);
/// y = tanh(x)
void onyx_vtanh(const float *x, float *y, size_t n);
/// y = erf(x)
void onyx_verf(const float *x, float *y, size_t n);
/// y = 1 / (1 + exp(-x))
void onyx_vsigmoid(const float *x, float *y, size_t n);
/// y = x * sigmoid(alpha * x)  (SiLU for alpha = 1, Swish)
void onyx_vswish(const float *x, float *y, size_t n, float alpha);
/// y = 0.5 x (1 + erf(x / sqrt 2))
void onyx_vgelu_erf(const float *x, float *y, size_t n);
/// y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
void onyx_vgelu_tanh(const float *x, float *y, size_t n);

/// Softmax (log_softmax = 0) or LogSoftmax (log_softmax = 1) of `rows` contiguous rows of length n.
void onyx_softmax_rows(const float *x, float *y, size_t rows, size_t n, int log_softmax);
/// LayerNormalization (rms = 0) or RMSNormalization (rms = 1) of `rows` contiguous rows of length n:
/// y = (x - mean) * inv * scale + bias with inv = 1 / sqrt(var + eps) (mean = 0 for RMS). bias may be NULL;
/// mean_out / inv_out (one value per row) may be NULL.
void onyx_layernorm_rows(const float *x, float *y, size_t rows, size_t n, const float *scale, const float *bias,
                         float eps, int rms, float *mean_out, float *inv_out);

/// Reductions of one contiguous run: 0 sum, 1 max, 2 min, 3 sum of squares, 4 sum of |x|.
float onyx_vreduce(const float *x, size_t n, int kind);
/// acc[i] = acc[i] (op) x[i] for i < n, op as in onyx_vreduce (folds one row into per-column accumulators).
void onyx_vreduce_into(float *acc, const float *x, size_t n, int kind);

#endif
