// Measures the error of the vectorised float32 math in Sources/COnyxKernels/vmath.c against double-precision libm
// evaluated on the same float inputs, over every float bit pattern (or every `stride`-th one).
// Build and run (x86-64, AVX2 path; ONYX_ISA=scalar measures the libm fallback instead):
//   clang -O2 -ISources/COnyxKernels/include scripts/vmath-error-sweep.c Sources/COnyxKernels/vmath.c \
//         Sources/COnyxKernels/gemm.c -lm -o /tmp/vmath-sweep && /tmp/vmath-sweep [stride]
// For each function it prints: max relative error over results with |ref| >= FLT_MIN (and the input where it
// occurs), the same in units in the last place of the float result, the max absolute error (also divided by
// max(1, |x|)), the max absolute error where the exact result is below FLT_MIN, and wrong inf / NaN results.
#include "onyx_vmath.h"
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// References in forms without cancellation: 0.5 (1 + erf(x/sqrt2)) = 0.5 erfc(-x/sqrt2), 0.5 (1 + tanh u) = sigmoid(2u).
static double gelu_erf_d(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double gelu_tanh_d(double x) { return x / (1.0 + exp(-2.0 * sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); }
static double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }
static double silu_d(double x) { return x * sigmoid_d(x); }
static void silu_f(const float *x, float *y, size_t n) { onyx_vswish(x, y, n, 1.0f); }

typedef struct {
    const char *name;
    void (*f)(const float *, float *, size_t);
    double (*ref)(double);
    double relFrom;   // relative error counted for inputs x >= relFrom only (GELU: the cancelling tail excluded)
} fn_t;

int main(int argc, char **argv) {
    uint64_t stride = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    if (stride == 0) stride = 1;
    fn_t fns[] = {
        {"exp", onyx_vexp, exp, -INFINITY}, {"tanh", onyx_vtanh, tanh, -INFINITY}, {"erf", onyx_verf, erf, -INFINITY},
        {"sigmoid", onyx_vsigmoid, sigmoid_d, -INFINITY}, {"silu", silu_f, silu_d, -80.0},
        {"gelu_erf", onyx_vgelu_erf, gelu_erf_d, -1.0}, {"gelu_tanh", onyx_vgelu_tanh, gelu_tanh_d, -1.0},
    };
    enum { B = 4096 };
    static float xs[B], ys[B];
    printf("path: %s, stride %llu\n", onyx_vmath_isa(), (unsigned long long)stride);
    for (size_t fi = 0; fi < sizeof fns / sizeof fns[0]; fi++) {
        fn_t *F = &fns[fi];
        double maxRel = 0, maxUlp = 0, maxAbs = 0, maxAbsScaled = 0, maxAbsTiny = 0;
        float relAt = 0, absAt = 0;
        long bad = 0;
        uint64_t b = 0;
        while (b <= 0xffffffffull) {
            size_t n = 0;
            for (; n < B && b <= 0xffffffffull; b += stride) { uint32_t u = (uint32_t)b; memcpy(&xs[n++], &u, 4); }
            F->f(xs, ys, n);
            for (size_t i = 0; i < n; i++) {
                float x = xs[i], y = ys[i];
                double r = F->ref((double)x);
                if (isnan(r)) { if (!isnan(y)) bad++; continue; }
                float rf = (float)r;
                if (isinf(rf)) { if (y != rf) bad++; continue; }
                if (isnan(y) || isinf(y)) { bad++; continue; }
                double e = fabs((double)y - r);
                if (e > maxAbs) { maxAbs = e; absAt = x; }
                double s = e / fmax(1.0, fabs((double)x));
                if (s > maxAbsScaled) maxAbsScaled = s;
                if (fabs(r) < FLT_MIN && e > maxAbsTiny) maxAbsTiny = e;
                if (fabs(r) >= FLT_MIN && (double)x >= F->relFrom) {
                    double rel = e / fabs(r);
                    if (rel > maxRel) { maxRel = rel; relAt = x; }
                    int ex; frexp(r, &ex);
                    double ulp = ldexp(1.0, ex - 24);
                    if (e / ulp > maxUlp) maxUlp = e / ulp;
                }
            }
        }
        printf("%-10s max rel %.3g (%.2f ulp) at x=%.9g%s; max abs %.3g at x=%.9g; max abs/max(1,|x|) %.3g; "
               "max abs where |ref| < FLT_MIN %.3g; wrong inf/nan: %ld\n", F->name, maxRel, maxUlp, relAt,
               F->relFrom > -INFINITY ? (F->relFrom < -2 ? " (x >= -80)" : " (x >= -1)") : "", maxAbs, absAt, maxAbsScaled, maxAbsTiny, bad);
        fflush(stdout);
    }
    return 0;
}
