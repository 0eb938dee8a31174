// Portable check of the C kernels (gemm.c, vmath.c, pool.c) against double-precision references, for architectures the
// Swift tests cannot run on: scripts/test-neon.sh builds it for aarch64 and runs it under qemu-aarch64 (NEON paths,
// then ONYX_ISA=scalar for the portable ones). It also builds and runs natively (AVX2 paths on x86-64).
// Exit status 0 when every check passes; one line per check on stdout.
#include "onyx_kernels.h"
#include "onyx_vmath.h"
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static void report(const char *what, double err, double bound) {
    int ok = err <= bound;
    if (!ok) failures++;
    printf("%-44s max err %.3g (bound %.3g) %s\n", what, err, bound, ok ? "ok" : "FAIL");
}

static uint32_t rng = 12345;
static float frand(void) { rng = rng * 1664525u + 1013904223u; return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f; }

// Naive double GEMM reference.
static void ref_gemm(size_t m, size_t n, size_t k, const float *a, const float *b, double *c) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t p = 0; p < k; p++) s += (double)a[i * k + p] * b[p * n + j];
            c[i * n + j] = s;
        }
}

static void check_gemm(void) {
    size_t sizes[][3] = {{1, 1, 1}, {6, 16, 8}, {7, 17, 9}, {13, 35, 300}, {64, 64, 64}, {150, 70, 520}, {5, 3, 2}, {24, 96, 600}, {25, 49, 300}, {13, 196, 40}, {12, 36, 70}, {30, 20, 17}, {20, 70, 40}, {32, 35, 50}};
    double worst = 0, worstPacked = 0, worstClip = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
        float *a = malloc(m * k * 4), *b = malloc(k * n * 4), *c = malloc(m * n * 4);
        double *r = malloc(m * n * 8);
        for (size_t i = 0; i < m * k; i++) a[i] = frand();
        for (size_t i = 0; i < k * n; i++) b[i] = frand();
        ref_gemm(m, n, k, a, b, r);
        onyx_sgemm(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
        for (size_t i = 0; i < m * n; i++) worst = fmax(worst, fabs(c[i] - r[i]) / sqrt((double)k));
        // Packed path with a per-column bias and a GELU epilogue.
        float *pa = aligned_alloc(64, (onyx_packed_a_size(m, k) * 4 + 63) / 64 * 64);
        float *pb = aligned_alloc(64, (onyx_packed_b_size(k, n) * 4 + 63) / 64 * 64);
        float *bias = malloc(n * 4);
        for (size_t j = 0; j < n; j++) bias[j] = frand();
        onyx_pack_a(0, m, k, 1.0f, a, k, pa, 0, (m + 5) / 6);
        onyx_pack_b(0, k, n, b, n, pb, 0, (n + 15) / 16);
        onyx_epilogue ep = {bias, 0, NULL, 0, 9, 0, 0};
        onyx_gemm_packed(m, n, k, pa, pb, c, n, 0, 0, m, 0, n, &ep);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double v = r[i * n + j] + bias[j];
                double g = 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
                worstPacked = fmax(worstPacked, fabs(c[i * n + j] - g) / sqrt((double)k));
            }
        // Per-column bias, a residual and Clip (the in-register epilogue of full AVX-512 tiles).
        float *res = malloc(m * n * 4);
        for (size_t i = 0; i < m * n; i++) res[i] = frand();
        onyx_epilogue ep2 = {bias, 0, res, n, 2, -0.5f, 0.75f};
        onyx_gemm_packed(m, n, k, pa, pb, c, n, 0, 0, m, 0, n, &ep2);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double v = r[i * n + j] + bias[j] + res[i * n + j];
                v = v < -0.5 ? -0.5 : v > 0.75 ? 0.75 : v;
                worstClip = fmax(worstClip, fabs(c[i * n + j] - v) / sqrt((double)k));
            }
        free(a); free(b); free(c); free(r); free(pa); free(pb); free(bias); free(res);
    }
    report("sgemm vs double (err / sqrt(k))", worst, 1e-6);
    report("packed gemm + bias + GELU vs double", worstPacked, 1e-6);
    report("packed gemm + bias + residual + Clip", worstClip, 1e-6);
}

typedef struct {
    const char *name;
    void (*f)(const float *, float *, size_t);
    double (*ref)(double);
    double rel, abs;   // bounds: |y - ref| <= abs * max(1, |x|) or <= rel * |ref|
} fn_t;
static double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }
static double gelu_erf_d(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double gelu_tanh_d(double x) { return x / (1.0 + exp(-2.0 * sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); }

static void check_vmath(uint32_t stride) {
    // The bounds stated in vmath.c.
    fn_t fns[] = {
        {"exp", onyx_vexp, exp, 1.0e-7, 1.5e-45}, {"tanh", onyx_vtanh, tanh, 1.6e-7, 9.0e-8},
        {"erf", onyx_verf, erf, 4.5e-7, 2.2e-7}, {"sigmoid", onyx_vsigmoid, sigmoid_d, 1.7e-7, 9.0e-8},
        {"gelu_erf", onyx_vgelu_erf, gelu_erf_d, 6.5e-7, 2.2e-7}, {"gelu_tanh", onyx_vgelu_tanh, gelu_tanh_d, 2.8e-7, 1.4e-7},
    };
    enum { B = 4096 };
    static float xs[B], ys[B];
    for (size_t fi = 0; fi < sizeof fns / sizeof fns[0]; fi++) {
        fn_t *F = &fns[fi];
        double worst = 0;   // error / allowed
        uint64_t b = 0;
        while (b <= 0xffffffffull) {
            size_t n = 0;
            for (; n < B && b <= 0xffffffffull; b += stride) { uint32_t u = (uint32_t)b; memcpy(&xs[n++], &u, 4); }
            F->f(xs, ys, n);
            for (size_t i = 0; i < n; i++) {
                double r = F->ref((double)xs[i]);
                if (isnan(r)) { if (!isnan(ys[i])) worst = INFINITY; continue; }
                if (isinf((float)r)) { if (ys[i] != (float)r) worst = INFINITY; continue; }
                double e = fabs((double)ys[i] - r);
                double allowed = fmax(F->rel * fabs(r), F->abs * fmax(1.0, fabs((double)xs[i])));
                if (fabs(r) < FLT_MIN) allowed = fmax(allowed, FLT_MIN);   // results below FLT_MIN: absolute
                worst = fmax(worst, e / allowed);
            }
        }
        char what[64];
        snprintf(what, sizeof what, "%s (%s) vs double, error / bound", F->name, onyx_vmath_isa());
        report(what, worst, 1.0);
    }
}

static void check_rows(void) {
    size_t rows = 5, n = 77;
    float x[5 * 77], y[5 * 77], scale[77], bias[77], mean[5], inv[5];
    for (size_t i = 0; i < rows * n; i++) x[i] = 4 * frand();
    for (size_t j = 0; j < n; j++) { scale[j] = frand(); bias[j] = frand(); }
    double es = 0, el = 0, en = 0, er = 0;
    onyx_softmax_rows(x, y, rows, n, 0);
    for (size_t r = 0; r < rows; r++) {
        double m = -INFINITY, s = 0;
        for (size_t j = 0; j < n; j++) m = fmax(m, x[r * n + j]);
        for (size_t j = 0; j < n; j++) s += exp((double)x[r * n + j] - m);
        for (size_t j = 0; j < n; j++) es = fmax(es, fabs(y[r * n + j] - exp((double)x[r * n + j] - m) / s));
        onyx_softmax_rows(x + r * n, y + r * n, 1, n, 1);
        for (size_t j = 0; j < n; j++) el = fmax(el, fabs(y[r * n + j] - ((double)x[r * n + j] - m - log(s))));
    }
    onyx_layernorm_rows(x, y, rows, n, scale, bias, 1e-5f, 0, mean, inv);
    for (size_t r = 0; r < rows; r++) {
        double mu = 0, var = 0;
        for (size_t j = 0; j < n; j++) mu += x[r * n + j];
        mu /= n;
        for (size_t j = 0; j < n; j++) var += (x[r * n + j] - mu) * (x[r * n + j] - mu);
        double iv = 1.0 / sqrt(var / n + 1e-5);
        for (size_t j = 0; j < n; j++) en = fmax(en, fabs(y[r * n + j] - ((x[r * n + j] - mu) * iv * scale[j] + bias[j])));
    }
    double sum = 0, mx = -INFINITY, mn = INFINITY, sq = 0, ab = 0;
    for (size_t i = 0; i < rows * n; i++) { sum += x[i]; mx = fmax(mx, x[i]); mn = fmin(mn, x[i]); sq += (double)x[i] * x[i]; ab += fabs(x[i]); }
    size_t c = rows * n;
    er = fmax(er, fabs(onyx_vreduce(x, c, 0) - sum) / c);
    er = fmax(er, fabs(onyx_vreduce(x, c, 1) - mx));
    er = fmax(er, fabs(onyx_vreduce(x, c, 2) - mn));
    er = fmax(er, fabs(onyx_vreduce(x, c, 3) - sq) / c);
    er = fmax(er, fabs(onyx_vreduce(x, c, 4) - ab) / c);
    float withNaN[9] = {1, 2, 3, NAN, 5, 6, 7, 8, 9};
    if (!isnan(onyx_vreduce(withNaN, 9, 1)) || !isnan(onyx_vreduce(withNaN, 9, 2))) er = INFINITY;
    report("softmax rows vs double", es, 1e-6);
    report("log-softmax rows vs double", el, 2e-6);
    report("layernorm rows vs double", en, 5e-6);
    report("reductions vs double (sums / count)", er, 1e-5);
}

// im2col packing (onyx_im2col_pack_b: masked-load / gather vector paths and the scalar one) must equal the
// patch matrix read element by element, and the convolution driver (onyx_conv2d_plan_init / pack_part /
// run_part, every part run in turn) must equal a double-precision direct convolution for 1..3 parts.
static const size_t conv_geos[][11] = {   // C H W KH KW sh sw ph pw dh dw
    {3, 23, 21, 7, 7, 2, 2, 3, 3, 1, 1}, {4, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1}, {5, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},
    {2, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1}, {3, 5, 3, 3, 3, 1, 1, 2, 2, 2, 2}, {2, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1},
    {3, 9, 11, 2, 3, 3, 1, 0, 2, 1, 2}, {2, 28, 28, 1, 1, 2, 2, 0, 0, 1, 1}, {1, 3, 20, 3, 3, 1, 1, 1, 1, 1, 1},
    {2, 6, 2, 1, 3, 1, 1, 0, 4, 1, 1}, {8, 30, 30, 1, 1, 1, 1, 0, 0, 1, 1}, {6, 29, 31, 3, 3, 1, 1, 1, 1, 1, 1},
    {2, 10, 17, 3, 3, 1, 3, 1, 1, 1, 1}, {3, 12, 40, 3, 3, 2, 2, 1, 1, 1, 1}, {2, 9, 9, 3, 3, 2, 2, 0, 0, 2, 2},
    {3, 40, 64, 7, 7, 2, 2, 3, 3, 1, 1}, {3, 30, 50, 3, 3, 1, 1, 1, 1, 1, 1},   // padded small-C path, many chunks
    // AVX-512 rows mode (stride 1, K >= 4M, output rows >= 14): B read in place from the padded input
    {8, 20, 40, 3, 3, 1, 1, 1, 1, 1, 1}, {16, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1}, {7, 9, 17, 5, 5, 1, 1, 2, 2, 1, 1},
    {12, 15, 16, 3, 3, 1, 1, 0, 0, 1, 1}, {40, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1},
};

static void check_conv(void) {
    size_t bad = 0;
    double worst = 0;
    for (size_t g = 0; g < sizeof conv_geos / sizeof conv_geos[0]; g++) {
        const size_t *q = conv_geos[g];
        size_t C = q[0], H = q[1], W = q[2], KH = q[3], KW = q[4], sh = q[5], sw = q[6], ph = q[7], pw = q[8], dh = q[9], dw = q[10];
        size_t OH = (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1, OW = (W + 2 * pw - dw * (KW - 1) - 1) / sw + 1;
        size_t K = C * KH * KW, N = OH * OW, M = 13;
        float *x = malloc(C * H * W * 4), *w = malloc(M * K * 4), *bias = malloc(M * 4), *y = malloc(M * N * 4);
        float *res = malloc(M * N * 4);
        int with_res = g % 2;   // every other geometry adds a residual before the ReLU
        for (size_t i = 0; i < M * N; i++) res[i] = frand();
        for (size_t i = 0; i < C * H * W; i++) x[i] = frand();
        for (size_t i = 0; i < M * K; i++) w[i] = frand();
        for (size_t i = 0; i < M; i++) bias[i] = frand();
        float *d = aligned_alloc(64, ((N + 15) / 16) * 16 * K * 4 + 64);
        // Packing, in column windows starting at multiples of 16 with ragged ends.
        for (size_t j0 = 0; j0 < N; j0 += 32) {
            size_t j1 = j0 + 48 < N ? j0 + 48 : N;
            onyx_im2col_pack_b(x, C, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, j0, j1, d);
            for (size_t j = j0; j < (j1 + 15) / 16 * 16; j++)
                for (size_t p = 0; p < K; p++) {
                    size_t c = p / (KH * KW), kh = p / KW % KH, kw = p % KW;
                    float ref = 0;
                    long ih = (long)((j / OW) * sh + kh * dh) - (long)ph, iw = (long)((j % OW) * sw + kw * dw) - (long)pw;
                    if (j < j1 && ih >= 0 && ih < (long)H && iw >= 0 && iw < (long)W) ref = x[c * H * W + ih * W + iw];
                    if (d[((j - j0) / 16) * 16 * K + p * 16 + (j - j0) % 16] != ref) bad++;
                }
        }
        // The driver with a bias + ReLU epilogue.
        float *pa = aligned_alloc(64, (onyx_packed_a_size(M, K) * 4 + 63) / 64 * 64);
        onyx_pack_a(0, M, K, 1.0f, w, K, pa, 0, (M + 5) / 6);
        for (int threads = 1; threads <= 3; threads++) {
            onyx_conv_plan plan;
            onyx_conv2d_plan_init(&plan, M, C, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, threads);
            size_t sf = onyx_conv2d_shared_floats(&plan);
            float *shared = sf ? aligned_alloc(64, (sf * 4 + 63) / 64 * 64) : NULL;
            for (int p = 0; p < plan.parts; p++) onyx_conv2d_pack_part(&plan, p, x, shared);
            onyx_epilogue ep = {bias, 1, with_res ? res : NULL, N, 1, 0, 0};
            for (size_t i = 0; i < M * N; i++) y[i] = NAN;
            for (int p = 0; p < plan.parts; p++) onyx_conv2d_run_part(&plan, p, x, pa, shared, &ep, y);
            free(shared);
            for (size_t o = 0; o < M; o++)
                for (size_t j = 0; j < N; j++) {
                    double s = bias[o];
                    for (size_t p = 0; p < K; p++) {
                        size_t c = p / (KH * KW), kh = p / KW % KH, kw = p % KW;
                        long ih = (long)((j / OW) * sh + kh * dh) - (long)ph, iw = (long)((j % OW) * sw + kw * dw) - (long)pw;
                        if (ih >= 0 && ih < (long)H && iw >= 0 && iw < (long)W) s += (double)w[o * K + p] * x[c * H * W + ih * W + iw];
                    }
                    if (with_res) s += res[o * N + j];
                    s = s > 0 ? s : 0;
                    double e = fabs(y[o * N + j] - s) / sqrt((double)K);
                    worst = isnan(e) ? INFINITY : fmax(worst, e);
                }
        }
        free(x); free(w); free(bias); free(y); free(d); free(pa); free(res);
    }
    report("im2col packing (wrong elements)", (double)bad, 0);
    report("conv driver vs direct conv, 1-3 parts", worst, 2e-6);
}

// Naive pooling reference over one plane (double sums), the ONNX definition: taps outside the input are skipped;
// average divides by the in-bounds count, or by the count within the padded extent when count_include_pad.
static void ref_pool(const float *x, double *y, long H, long W, long OH, long OW, long K, long S, long P, long padEnd,
                     int average, int cip) {
    for (long oh = 0; oh < OH; oh++)
        for (long ow = 0; ow < OW; ow++) {
            double acc = average ? 0 : -INFINITY;
            long n = 0, np = 0;
            for (long kh = 0; kh < K; kh++)
                for (long kw = 0; kw < K; kw++) {
                    long ih = oh * S + kh - P, iw = ow * S + kw - P;
                    if (ih >= -P && ih < H + padEnd && iw >= -P && iw < W + padEnd) np++;
                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                    double v = x[ih * W + iw];
                    acc = average ? acc + v : fmax(acc, v);
                    n++;
                }
            y[oh * OW + ow] = average ? acc / (double)(cip ? np : n) : acc;
        }
}

static void check_pool(void) {
    // (H, W, kernel, stride, pad): SqueezeNet's 3x3 s2, DenseNet's 2x2 s2, ShuffleNet's padded 3x3 s2, stride 1,
    // ResNet's whole-plane 7x7 (one reduction per plane); rows of several 16-column chunks (AVX-512 max pooling).
    long cases[][5] = {{23, 37, 3, 2, 0}, {16, 16, 2, 2, 0}, {15, 29, 3, 2, 1}, {9, 40, 3, 1, 1}, {7, 5, 5, 3, 2}, {57, 57, 3, 2, 1},
                       {7, 7, 7, 1, 0}, {9, 70, 3, 2, 1}, {6, 33, 2, 1, 0}, {4, 50, 3, 1, 1}, {5, 36, 2, 2, 1}};
    double worst = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        long H = cases[c][0], W = cases[c][1], K = cases[c][2], S = cases[c][3], P = cases[c][4];
        long OH = (H + 2 * P - K) / S + 1, OW = (W + 2 * P - K) / S + 1;
        float *x = malloc(2 * H * W * 4), *y = malloc(2 * OH * OW * 4);
        double *r = malloc(OH * OW * 8);
        for (long i = 0; i < 2 * H * W; i++) x[i] = frand();
        for (int mode = 0; mode < 3; mode++) {
            int average = mode > 0, cip = mode == 2;
            onyx_pool2d(x, y, 0, 2, H, W, OH, OW, K, K, S, S, P, P, 1, 1, H + 2 * P, W + 2 * P, average, cip);
            for (int pl = 0; pl < 2; pl++) {
                ref_pool(x + pl * H * W, r, H, W, OH, OW, K, S, P, P, average, cip);
                for (long i = 0; i < OH * OW; i++) worst = fmax(worst, fabs(y[pl * OH * OW + i] - r[i]));
            }
        }
        free(x); free(y); free(r);
    }
    report("max / average pooling vs double", worst, 1e-6);
    // Per-channel affine + activation (none, Relu, Clip), with X's single plane broadcast to 3 channels.
    size_t C = 3, hw = 37;
    float x[3 * 37], y[2 * 3 * 37], scale[3] = {0.5f, -2.0f, 1.25f}, bias[3] = {0.1f, 0.0f, -0.3f};
    for (size_t i = 0; i < C * hw; i++) x[i] = 2 * frand();
    double ea = 0;
    for (int act = 0; act < 3; act++) {
        onyx_channel_affine(x, y, 0, C, C, C, hw, scale, bias, act, -0.5f, 0.75f);
        onyx_channel_affine(x, y + C * hw, 0, C, C, 1, hw, scale, bias, act, -0.5f, 0.75f);
        for (size_t b = 0; b < 2; b++)
            for (size_t c = 0; c < C; c++)
                for (size_t i = 0; i < hw; i++) {
                    double v = (double)x[(b ? 0 : c * hw) + i] * scale[c] + bias[c];
                    if (act == 1) v = fmax(v, 0); else if (act == 2) v = fmin(fmax(v, -0.5), 0.75);
                    ea = fmax(ea, fabs(y[b * C * hw + c * hw + i] - v));
                }
    }
    report("per-channel affine + activation vs double", ea, 1e-6);
}

// 3x3 depthwise convolution, stride 1 and 2 (the padded-plane paths, and on AVX-512 the register-row kernel for
// stride 2 and rows of <= 16) and stride 3 (the general one), vs double; every other case with a residual and Clip.
static void check_dwconv(void) {
    long cases[][5] = {{9, 9, 1, 1, 2}, {8, 10, 1, 1, 2}, {7, 7, 0, 0, 2}, {11, 6, 2, 2, 2}, {5, 13, 1, 0, 2}, {56, 56, 1, 1, 2},
                       {1, 1, 1, 1, 2}, {12, 17, 1, 1, 1}, {10, 10, 1, 1, 3}, {7, 7, 1, 1, 1}, {14, 14, 1, 1, 1},
                       {15, 35, 1, 1, 2}, {9, 40, 1, 1, 1}, {6, 16, 2, 2, 1}, {13, 33, 0, 1, 2}};
    double worst = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        long C = 3, H = cases[c][0], W = cases[c][1], P = cases[c][2], Q = cases[c][3], S = cases[c][4];
        long OH = (H + 2 * P - 3) / S + 1, OW = (W + 2 * Q - 3) / S + 1;
        int fused = c % 2;
        float *x = malloc(C * H * W * 4), *y = malloc(C * OH * OW * 4), *res = malloc(C * OH * OW * 4), w[27], b[3] = {0.1f, -0.2f, 0.3f};
        for (long i = 0; i < C * H * W; i++) x[i] = frand();
        for (long i = 0; i < 27; i++) w[i] = frand();
        for (long i = 0; i < C * OH * OW; i++) res[i] = frand();
        onyx_dwconv2d(x, w, b, fused ? res : NULL, y, 0, C, H, W, OH, OW, 3, 3, S, S, P, Q, 1, 1, fused ? 2 : 0, -0.5f, 0.75f);
        for (long ch = 0; ch < C; ch++)
            for (long oh = 0; oh < OH; oh++)
                for (long ow = 0; ow < OW; ow++) {
                    double s = b[ch];
                    for (long kh = 0; kh < 3; kh++)
                        for (long kw = 0; kw < 3; kw++) {
                            long ih = oh * S + kh - P, iw = ow * S + kw - Q;
                            if (ih >= 0 && ih < H && iw >= 0 && iw < W) s += (double)w[ch * 9 + kh * 3 + kw] * x[(ch * H + ih) * W + iw];
                        }
                    if (fused) s = fmin(fmax(s + res[(ch * OH + oh) * OW + ow], -0.5), 0.75);
                    worst = fmax(worst, fabs(s - y[(ch * OH + oh) * OW + ow]));
                }
        free(x); free(y); free(res);
    }
    report("depthwise 3x3 convolution vs double", worst, 1e-5);
}

int main(int argc, char **argv) {
    uint32_t stride = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 65537;
    printf("vector math path: %s\n", onyx_vmath_isa());
    check_gemm();
    check_vmath(stride ? stride : 1);
    check_rows();
    check_conv();
    check_pool();
    check_dwconv();
    printf("%s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
