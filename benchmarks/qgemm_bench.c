// Kernel-level timing of the int8 GEMM against the fp32 packed SGEMM on BERT-base projection shapes (one thread).
// int8 side = what ai.onyx.DynamicQuantMatMul does per call: min/max + quantize the float activation, pack it,
// GEMM with prepacked int8 weights and the dequantize epilogue. fp32 side = pack A + packed SGEMM with prepacked B.
// Build and run (from the repository root):
//   cc -O3 -ISources/COnyxKernels/include benchmarks/qgemm_bench.c Sources/COnyxKernels/*.c -lm -o /tmp/qgemm_bench
//   /tmp/qgemm_bench; ONYX_ISA=avx2 /tmp/qgemm_bench
#include "onyx_kernels.h"
#include "onyx_qgemm.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(void) {
    size_t shapes[][3] = {{128, 768, 768}, {128, 3072, 768}, {128, 768, 3072}};
    printf("qgemm kernel %d (2 = AVX-512 VNNI, 1 = AVX2, 0 = C); median of 31 alternating runs, 1 thread\n", onyx_qgemm_isa());
    printf("| M x N x K | fp32 ms | int8 ms | int8/fp32 |\n| --- | ---: | ---: | ---: |\n");
    for (int s = 0; s < 3; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *x = malloc(4 * m * k), *w = malloc(4 * k * n), *c = malloc(4 * m * n), *scale = malloc(4 * n), *bias = malloc(4 * n);
        int8_t *wq = malloc(k * n); uint8_t *xq = malloc(m * k);
        srand(3);
        for (size_t i = 0; i < m * k; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
        for (size_t i = 0; i < k * n; i++) { w[i] = (float)rand() / RAND_MAX - 0.5f; wq[i] = (int8_t)(w[i] * 254); }
        for (size_t j = 0; j < n; j++) { scale[j] = 1e-4f; bias[j] = 0.1f; }
        float *pa = aligned_alloc(64, (onyx_packed_a_size(m, k) * 4 + 63) / 64 * 64);
        float *pb = aligned_alloc(64, (onyx_packed_b_size(k, n) * 4 + 63) / 64 * 64);
        onyx_pack_b(0, k, n, w, n, pb, 0, (n + 15) / 16);
        void *qa = aligned_alloc(64, (onyx_qgemm_packed_a_bytes(m, k) + 63) / 64 * 64);
        void *qb = aligned_alloc(64, (onyx_qgemm_packed_b_bytes(k, n) + 63) / 64 * 64);
        int32_t *rs = malloc(4 * m), *cs = malloc(4 * n);
        onyx_qgemm_pack_b(k, n, wq, n, 1, 0, qb, cs);
        size_t np = (n + onyx_qgemm_nr() - 1) / onyx_qgemm_nr();
        double tf[31], tq[31];
        for (int r = 0; r < 31; r++) {
            double t = now();
            onyx_pack_a(0, m, k, 1, x, k, pa, 0, (m + 5) / 6);
            onyx_gemm_packed(m, n, k, pa, pb, c, n, 0, 0, m, 0, n, NULL);
            tf[r] = now() - t;
            t = now();
            float mn, mx;
            onyx_minmax0(x, m * k, &mn, &mx);
            float sc = (mx - mn) / 255, zp = __builtin_nearbyintf(-mn / sc);
            onyx_quantize_u8(x, m * k, sc, zp, xq);
            onyx_qgemm_pack_a(m, k, xq, k, 0, qa, rs, 0, (m + 5) / 6);
            onyx_qgemm_out o = {0};
            o.a_zp = (int32_t)zp; o.rowsum_a = rs; o.colsum_b = cs; o.cf = c; o.scale = scale; o.bias = bias; o.ldc = n;
            onyx_qgemm(m, n, k, qa, qb, &o, 0, np);
            tq[r] = now() - t;
        }
        qsort(tf, 31, sizeof(double), cmp); qsort(tq, 31, sizeof(double), cmp);
        printf("| %zu x %zu x %zu | %.2f | %.2f | %.2f |\n", m, n, k, tf[15] * 1e3, tq[15] * 1e3, tq[15] / tf[15]);
    }
    return 0;
}
