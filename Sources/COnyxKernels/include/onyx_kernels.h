#ifndef ONYX_KERNELS_H
#define ONYX_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// 1 when the CPU supports AVX2 and FMA (checked once, at run time).
int onyx_cpu_has_avx2_fma(void);

/// C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C, row-major with leading dimensions.
/// transA / transB select op(X) = X^T. Uses AVX2+FMA micro-kernels when the CPU has them.
void onyx_sgemm(int transA, int transB, size_t m, size_t n, size_t k, float alpha,
                const float *a, size_t lda, const float *b, size_t ldb, float beta,
                float *c, size_t ldc);

#endif
