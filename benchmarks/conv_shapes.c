// Per-shape timing of Onyx's convolution path on the ResNet-50 conv layers (batch 1), 1 and 2 threads, against the
// packed GEMM alone on the same sizes (the ceiling the convolution could reach).
// Each shape runs alone: M = output channels, K = Cin*kh*kw, N = OH*OW; GFLOP/s = 2*M*N*K / best time of
// the repetitions (argument 1, default 21; the best, not the median, because the machine is shared — alternate
// binaries and compare ratios when measuring a change). "packing %" = packing the whole patch matrix once / conv 1T.
// "conv" is what ai.onyx.FusedConv runs (conv.c: onyx_conv2d_plan_init, then onyx_conv2d_pack_part when the plan
// shares the packed patch matrix, then onyx_conv2d_run_part: im2col packed per column chunk + packed GEMM with the
// bias+ReLU epilogue); 2 threads run the plan's parts on a spinning/yielding second thread (not Dispatch).
// "gemm" is onyx_gemm_packed on the same M, N, K with A and B packed beforehand (no im2col, no packing).
// Build and run (from the repository root):
//   cc -O3 -pthread -ISources/COnyxKernels/include benchmarks/conv_shapes.c Sources/COnyxKernels/*.c -lm -o /tmp/conv_shapes
//   /tmp/conv_shapes; ONYX_ISA=avx2 /tmp/conv_shapes
// COLD=1 evicts the caches of both cores before every timed run (weights, input and output come from memory);
// COLD=2 then touches the input and output again, so only the weights are cold — what a layer sees inside a whole
// model, whose weights (98 MiB for ResNet-50) do not fit in L3. Without COLD every repetition finds its weights in
// cache, which a whole model never does.
#include "onyx_kernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

typedef struct { size_t m, cin, h, w, kh, kw, s, pad, count; } shape;
// The 23 distinct conv shapes of ResNet-50 v1 (ONNX model zoo / light test data), with their repeat count.
static const shape shapes[] = {
    {64, 3, 224, 224, 7, 7, 2, 3, 1},
    {64, 64, 56, 56, 1, 1, 1, 0, 1}, {64, 64, 56, 56, 3, 3, 1, 1, 3}, {256, 64, 56, 56, 1, 1, 1, 0, 4},
    {64, 256, 56, 56, 1, 1, 1, 0, 2}, {128, 256, 56, 56, 1, 1, 1, 0, 1}, {512, 256, 56, 56, 1, 1, 2, 0, 1},
    {128, 128, 56, 56, 3, 3, 2, 1, 1}, {128, 128, 28, 28, 3, 3, 1, 1, 3}, {512, 128, 28, 28, 1, 1, 1, 0, 4},
    {128, 512, 28, 28, 1, 1, 1, 0, 3}, {256, 512, 28, 28, 1, 1, 1, 0, 1}, {1024, 512, 28, 28, 1, 1, 2, 0, 1},
    {256, 256, 28, 28, 3, 3, 2, 1, 1}, {256, 256, 14, 14, 3, 3, 1, 1, 5}, {1024, 256, 14, 14, 1, 1, 1, 0, 6},
    {256, 1024, 14, 14, 1, 1, 1, 0, 5}, {512, 1024, 14, 14, 1, 1, 1, 0, 1}, {2048, 1024, 14, 14, 1, 1, 2, 0, 1},
    {512, 512, 14, 14, 3, 3, 2, 1, 1}, {512, 512, 7, 7, 3, 3, 1, 1, 2}, {2048, 512, 7, 7, 1, 1, 1, 0, 3},
    {512, 2048, 7, 7, 1, 1, 1, 0, 2},
};

// A persistent second thread that runs job(1) while the caller runs job(0).
static void (*job)(int);
static atomic_int gen = 0, done = 0;
static void *worker(void *arg) {
    (void)arg;
    int seen = 0;
    for (;;) {
        while (atomic_load(&gen) == seen) sched_yield();
        seen = atomic_load(&gen);
        job(1);
        atomic_store(&done, seen);
    }
    return NULL;
}
static void run(int threads, void (*f)(int)) {
    job = f;
    if (threads == 1) { f(0); return; }
    int g = atomic_fetch_add(&gen, 1) + 1;
    f(0);
    while (atomic_load(&done) != g) sched_yield();
}

static const shape *cur;
static size_t OH, OW, K, N;
static float *x, *pa, *bias, *y, *pbfull;
static onyx_conv_plan plan;
static int nthreads;

static float *shared;
static void pack_job(int tid) {
    for (int p = tid; p < plan.parts; p += nthreads) onyx_conv2d_pack_part(&plan, p, x, shared);
}
static void gemm_part_job(int tid) {
    onyx_epilogue ep = {bias, 1, NULL, 0, 1, 0, 0};
    for (int p = tid; p < plan.parts; p += nthreads) onyx_conv2d_run_part(&plan, p, x, pa, shared, &ep, y);
}
// What FusedConv does per image: allocate the shared B when the plan shares it, pack, then the GEMM parts.
static void conv_all(int threads) {
    shared = NULL;
    size_t sf = onyx_conv2d_shared_floats(&plan);
    if (sf) {
        shared = aligned_alloc(64, (sf * 4 + 63) / 64 * 64);
        run(threads, pack_job);
    }
    run(threads, gemm_part_job);
    free(shared);
}
static void gemm_job(int tid) {
    // Rows split in 12-row blocks between the threads (the raw kernel's best case).
    size_t blocks = (cur->m + 11) / 12, per = (blocks + nthreads - 1) / nthreads;
    size_t i0 = tid * per * 12, i1 = (tid + 1) * per * 12;
    onyx_gemm_packed(cur->m, N, K, pa, pbfull, y, N, 0, i0, i1, 0, N, NULL);
}

static float *packbuf;
// Packing the whole patch matrix once (what the chunks add up to), one thread.
static void pack_all_job(int tid) {
    (void)tid;
    if (K == cur->cin) onyx_pack_b(0, K, N, x, N, packbuf, 0, (N + 15) / 16);
    else onyx_im2col_pack_b(x, cur->cin, cur->h, cur->w, OH, OW, cur->kh, cur->kw, cur->s, cur->s, cur->pad, cur->pad,
                            1, 1, 0, N, packbuf);
}

static void evict(void);
static double time_it(int threads, void (*f)(int), int reps) {
    double t[41];
    run(threads, f);
    for (int r = 0; r < reps; r++) { evict(); double s = now(); run(threads, f); t[r] = now() - s; }
    qsort(t, reps, sizeof t[0], cmp);
    return t[0];   /* best of reps: the machine is shared */
}
// COLD=1: before each timed run, 64 MiB are written and read (by both threads), so the weights come from memory as in a whole model
// (ResNet-50 holds 98 MiB of weights, more than the 32 MiB L3: every layer's weights are cold when it runs).
static int cold;
static float *evict_buf;
// Each thread sweeps its own half of the buffer (L2 is per core: the second thread's L2 must be flushed by it).
static void evict_job(int tid) {
    size_t n = (size_t)16 << 20, h = n / 2;
    volatile float sum = 0;
    for (size_t i = tid * h; i < (tid + 1) * h; i += 16) { evict_buf[i] = (float)i; sum += evict_buf[i]; }
}
static void evict(void) {
    if (!cold) return;
    if (!evict_buf) evict_buf = malloc(((size_t)16 << 20) * 4);
    if (!evict_buf) return;
    run(2, evict_job);
    if (cold == 2) {
        // COLD=2: only the weights cold; the input and output are touched again (a previous layer wrote them).
        volatile float sum = 0;
        for (size_t i = 0; i < cur->cin * cur->h * cur->w; i += 16) sum += x[i];
        memset(y, 0, cur->m * N * 4);
    }
}
static double time_conv(int threads, int reps) {
    double t[41];
    conv_all(threads);
    for (int r = 0; r < reps; r++) { evict(); double s = now(); conv_all(threads); t[r] = now() - s; }
    qsort(t, reps, sizeof t[0], cmp);
    return t[0];   /* best of reps: the machine is shared */
}

int main(int argc, char **argv) {
    pthread_t th;
    pthread_create(&th, NULL, worker, NULL);
    int reps = argc > 1 ? atoi(argv[1]) : 21;
    cold = getenv("COLD") ? atoi(getenv("COLD")) : 0;
    if (reps > 41) reps = 41;
    printf("GEMM kernel: %s; best of %d runs per cell; GFLOP/s = 2*M*N*K / time\n",
           onyx_cpu_has_avx512() ? "AVX-512 12x32" : onyx_cpu_has_avx2_fma() ? "AVX2 6x16" : "scalar", reps);
    printf("| conv (Cin->M, k, s, in) | M | K | N | x | conv 1T | conv 2T | gemm 1T | gemm 2T | conv 2T ms x count | packing %% of conv 1T |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    double tot1 = 0, tot2 = 0, totg = 0, flops = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        cur = &shapes[s];
        OH = (cur->h + 2 * cur->pad - cur->kh) / cur->s + 1;
        OW = (cur->w + 2 * cur->pad - cur->kw) / cur->s + 1;
        K = cur->cin * cur->kh * cur->kw; N = OH * OW;
        x = malloc(cur->cin * cur->h * cur->w * 4); y = malloc(cur->m * N * 4); bias = malloc(cur->m * 4);
        float *w = malloc(cur->m * K * 4);
        srand(1);
        for (size_t i = 0; i < cur->cin * cur->h * cur->w; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
        for (size_t i = 0; i < cur->m * K; i++) w[i] = (float)rand() / RAND_MAX - 0.5f;
        for (size_t i = 0; i < cur->m; i++) bias[i] = 0.01f;
        pa = aligned_alloc(64, (onyx_packed_a_size(cur->m, K) * 4 + 63) / 64 * 64);
        onyx_pack_a(0, cur->m, K, 1, w, K, pa, 0, (cur->m + 5) / 6);
        float *bmat = malloc(K * N * 4);
        for (size_t i = 0; i < K * N; i++) bmat[i] = (float)rand() / RAND_MAX - 0.5f;
        pbfull = aligned_alloc(64, (onyx_packed_b_size(K, N) * 4 + 63) / 64 * 64);
        onyx_pack_b(0, K, N, bmat, N, pbfull, 0, (N + 15) / 16);
        double g = 2.0 * cur->m * N * K * 1e-9, r[4];
        packbuf = aligned_alloc(64, (onyx_packed_b_size(K, N) * 4 + 63) / 64 * 64);
        double tpack = time_it(1, pack_all_job, reps);
        free(packbuf);
        for (int t = 1; t <= 2; t++) {
            nthreads = t;
            onyx_conv2d_plan_init(&plan, cur->m, cur->cin, cur->h, cur->w, OH, OW, cur->kh, cur->kw, cur->s, cur->s,
                                  cur->pad, cur->pad, 1, 1, t);
            r[t - 1] = time_conv(t, reps);
            r[t + 1] = time_it(t, gemm_job, reps);
        }
        printf("| %zu->%zu, %zux%zu, s%zu, %zux%zu | %zu | %zu | %zu | %zu | %.0f | %.0f | %.0f | %.0f | %.3f | %.0f |\n",
               cur->cin, cur->m, cur->kh, cur->kw, cur->s, cur->h, cur->w, cur->m, K, N, cur->count,
               g / r[0], g / r[1], g / r[2], g / r[3], r[1] * 1e3 * cur->count, 100 * tpack / r[0]);
        tot1 += r[0] * cur->count; tot2 += r[1] * cur->count; totg += r[2] * cur->count; flops += g * cur->count;
        free(x); free(y); free(bias); free(w); free(pa); free(bmat); free(pbfull);
    }
    printf("\nAll ResNet-50 convolutions (%.2f GFLOP): conv 1T %.2f ms (%.0f GFLOP/s), conv 2T %.2f ms (%.0f GFLOP/s), "
           "gemm 1T %.2f ms (%.0f GFLOP/s)\n", flops, tot1 * 1e3, flops / tot1, tot2 * 1e3, flops / tot2, totg * 1e3, flops / totg);
    return 0;
}
