// Throughput of the vector math (vmath.c) against plain libm loops on the same inputs, alternating, one thread.
// Build and run:
//   clang -O2 -ISources/COnyxKernels/include scripts/vmath-bench.c Sources/COnyxKernels/vmath.c \
//         Sources/COnyxKernels/gemm.c -lm -o /tmp/vmath-bench && /tmp/vmath-bench
// Prints, per function, the median ns/element of each side over 15 alternating rounds and the libm/vector ratio.
#include "onyx_vmath.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { N = 1 << 16, REPS = 20, ROUNDS = 15 };
static float xs[N], ys[N];

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static void l_exp(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = expf(x[i]); }
static void l_tanh(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]); }
static void l_erf(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = erff(x[i]); }
static void l_sigmoid(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i])); }
static void l_gelu(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678f));
}

static double time_it(void (*f)(const float *, float *, size_t)) {
    double t = now();
    for (int r = 0; r < REPS; r++) f(xs, ys, N);
    return (now() - t) / ((double)REPS * N) * 1e9;
}

int main(void) {
    for (int i = 0; i < N; i++) xs[i] = (float)((i * 2654435761u) % 20000) / 1000.0f - 10.0f;   // [-10, 10)
    struct { const char *name; void (*v)(const float *, float *, size_t); void (*l)(const float *, float *, size_t); } fs[] = {
        {"exp", onyx_vexp, l_exp}, {"tanh", onyx_vtanh, l_tanh}, {"erf", onyx_verf, l_erf},
        {"sigmoid", onyx_vsigmoid, l_sigmoid}, {"gelu_erf", onyx_vgelu_erf, l_gelu},
    };
    printf("vector path: %s; %d floats in [-10, 10), median of %d alternating rounds\n", onyx_vmath_isa(), N, ROUNDS);
    for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++) {
        double tv[ROUNDS], tl[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) { tv[r] = time_it(fs[k].v); tl[r] = time_it(fs[k].l); }
        qsort(tv, ROUNDS, sizeof(double), cmp);
        qsort(tl, ROUNDS, sizeof(double), cmp);
        printf("%-9s vector %.2f ns/elem, libm %.2f ns/elem, libm/vector %.1fx\n", fs[k].name, tv[ROUNDS / 2],
               tl[ROUNDS / 2], tl[ROUNDS / 2] / tv[ROUNDS / 2]);
    }
    return 0;
}
