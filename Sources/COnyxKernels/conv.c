// 2-D convolution as packed GEMMs: how one image's work is split across threads and chunked through cache.
// The GEMM micro-kernels and the im2col packer are in gemm.c.
#include "onyx_kernels.h"
#include <stdlib.h>
#include <string.h>

#define NRB 16   // B panel width of the packed layout (gemm.c's NR)
#define MRB 6    // A panel height (gemm.c's MR)

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }
static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

// Columns of B packed at a time: a K x 192 chunk stays in L2 while every row of A passes over it.
#define CHUNK 192
// Split granularity: the AVX-512 micro-kernel's tile is 12 rows x 32 columns.
#define COL_UNIT 32
#define ROW_UNIT 12

// Bound p of n items split into `parts` near-equal ranges whose inner bounds are multiples of `unit`.
static size_t bound(size_t n, int parts, int p, size_t unit) {
    if (p <= 0) return 0;
    if (p >= parts) return n;
    size_t b = (n * (size_t)p / (size_t)parts + unit / 2) / unit * unit;
    return b < n ? b : n;
}

void onyx_conv2d_plan_init(onyx_conv_plan *pl, size_t m, size_t c, size_t h, size_t w, size_t oh, size_t ow,
                           size_t kh, size_t kw, size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw,
                           int threads) {
    pl->m = m; pl->c = c; pl->h = h; pl->w = w; pl->oh = oh; pl->ow = ow; pl->kh = kh; pl->kw = kw;
    pl->sh = sh; pl->sw = sw; pl->ph = ph; pl->pw = pw; pl->dh = dh; pl->dw = dw;
    pl->k = c * kh * kw; pl->n = oh * ow;
    pl->direct = kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && oh == h && ow == w;
    if (threads < 1) threads = 1;
    if (threads > ONYX_CONV_MAX_PARTS) threads = ONYX_CONV_MAX_PARTS;
    size_t n = pl->n, k = pl->k ? pl->k : 1;
    // Tiny convolutions stay on one thread (a hand-off costs more than it saves).
    size_t work = m * k * n;
    if ((size_t)threads > work / 32768) threads = work / 32768 > 1 ? (int)(work / 32768) : 1;
    size_t chunks = ceil_div(n, CHUNK);
    pl->chunk = 0;
    pl->rows = 0; pl->padded = 0;
    if ((onyx_cpu_has_avx512() || onyx_cpu_has_avx2_fma()) && !pl->direct && sh == 1 && sw == 1 && dh == 1 && dw == 1 && (kh > 1 || kw > 1) &&
        m <= 64 && pl->k >= 4 * m && oh > 0 && ow > 0 && c * (oh + kh - 1) * (ow + kw - 1) <= ((size_t)1 << 20)) {
        // Few output channels for many patch rows (DenseNet's 128 -> 32 3x3, ResNet's 64 -> 64 3x3): packing the
        // patch matrix is a large share of the time when it feeds only m <= 64 rows, so it is read in place from
        // the padded input instead (benchmarks/conv_shapes.c, 2 threads: 128->32 at 56x56 3.77 -> 3.06 ms, at 14x14
        // 1.43 -> 1.17; 64->64 at 56x56 1.59 -> 1.53). The (kw - 1) junk columns per output row cost more than the
        // packing they save once m >= 128 (128->128 at 28x28 1.53 -> 1.61, 256->256 at 14x14 2.60 -> 3.01). The
        // padded input must stay small (<= 4 MiB): VGG-19's 64 x 226 x 226 (13 MB) copy streamed through memory
        // and its 64->64 layer went from 10.8 to 14.3 ms.
        pl->rows = 1; pl->shared = 1;
        pl->hp = oh + kh - 1; pl->wp = ow + kw - 1;
        size_t np = ceil_div(oh * pl->wp, 32) * 32;
        int t = threads;
        if ((size_t)t > np / 32) t = (int)(np / 32);
        if (t < 1) t = 1;
        pl->parts = t;
        for (int p = 0; p < t; p++) {
            pl->i0[p] = 0; pl->i1[p] = m;
            pl->j0[p] = bound(np, t, p, 32); pl->j1[p] = bound(np, t, p + 1, 32);
            pl->pan0[p] = bound(c, t, p, 1); pl->pan1[p] = bound(c, t, p + 1, 1);
        }
        return;
    }
    if (threads == 1 || chunks >= 2 * (size_t)threads) {
        // Many columns: each part takes an equal run of columns (cut at tile multiples) and packs it chunk by
        // chunk into its own buffer, every row of A passing over each chunk while it is in cache.
        int t = threads;
        if ((size_t)t > ceil_div(n, COL_UNIT)) t = (int)ceil_div(n, COL_UNIT);
        pl->shared = 0;
        pl->padded = !pl->direct && c <= 8 && dh == 1 && dw == 1 && sw <= 2 && sh <= 2;
        pl->parts = t;
        for (int p = 0; p < t; p++) {
            pl->i0[p] = 0; pl->i1[p] = m;
            pl->j0[p] = bound(n, t, p, COL_UNIT); pl->j1[p] = bound(n, t, p + 1, COL_UNIT);
            size_t len = pl->j1[p] > pl->j0[p] ? pl->j1[p] - pl->j0[p] : 0;
            // Near-equal chunks of about CHUNK columns, cut at whole tiles (no thin last chunk).
            size_t steps = ceil_div(len, CHUNK);
            pl->nchunks[p] = steps;
            for (size_t q = 0; q < steps; q++) {
                size_t w = bound(len, (int)steps, (int)q + 1, COL_UNIT) - bound(len, (int)steps, (int)q, COL_UNIT);
                if (w > pl->chunk) pl->chunk = w;
            }
            pl->pan0[p] = pl->pan1[p] = 0;
        }
        return;
    }
    // Few columns (deep layers): B is packed whole once, its panels split across the parts; then the GEMM is
    // split along the rows (output channels), in whole 12-row tiles.
    pl->shared = 1;
    pl->padded = 0;
    size_t panels = ceil_div(n, NRB);
    int t = threads;
    if ((size_t)t > ceil_div(m, ROW_UNIT)) t = (int)ceil_div(m, ROW_UNIT);
    if ((size_t)t > panels) t = (int)panels;
    if (t < 1) t = 1;
    pl->parts = t;
    for (int p = 0; p < t; p++) {
        pl->pan0[p] = bound(panels, t, p, 1); pl->pan1[p] = bound(panels, t, p + 1, 1);
        pl->i0[p] = bound(m, t, p, ROW_UNIT); pl->i1[p] = bound(m, t, p + 1, ROW_UNIT);
        pl->j0[p] = 0; pl->j1[p] = n;
        pl->nchunks[p] = 1;
    }
}

// Rows mode: the padded input, and slack for the lanes read past its end (junk columns, never kept).
static size_t rows_input_floats(const onyx_conv_plan *pl) { return pl->c * pl->hp * pl->wp + pl->kw + 64; }

size_t onyx_conv2d_shared_floats(const onyx_conv_plan *pl) {
    if (pl->rows) return rows_input_floats(pl);
    return pl->shared ? onyx_packed_b_size(pl->k, pl->n) : 0;
}

// Few input channels (the RGB stem: C = 3, 7x7 taps, stride 2): im2col_pack_b's per-tap setup (which lanes of a
// panel fall inside the image) is amortised over only C channels and cost more than the copying (29% of the
// stem's time alone). So a part first copies the input rows its columns read into a zero-padded buffer
// (padded_rows); every tap then reads 16 lanes at a fixed stride from it, with no bounds: a panel inside one
// output row reads one run of input, a panel crossing rows reads per-lane offsets found once per panel.
typedef struct { const float *xp; size_t row0, rows, wp; } padded_input;

static size_t padded_width(const onyx_conv_plan *pl) {
    size_t need = (pl->ow - 1) * pl->sw + pl->kw, w = pl->w + pl->pw;
    return need > w ? need : w;
}

// Padded rows [row0, row0 + rows) (padded coordinates: input row = padded row - ph) of channels [c0, c1).
static void padded_rows(const onyx_conv_plan *pl, const float *x, size_t c0, size_t c1, size_t row0, size_t rows,
                        size_t wp, float *buf) {
    for (size_t c = c0; c < c1; c++)
        for (size_t r = 0; r < rows; r++) {
            float *d = buf + (c * rows + r) * wp;
            long ih = (long)(row0 + r) - (long)pl->ph;
            if (ih < 0 || ih >= (long)pl->h) { memset(d, 0, wp * 4); continue; }
            memset(d, 0, pl->pw * 4);
            memcpy(d + pl->pw, x + (c * pl->h + (size_t)ih) * pl->w, pl->w * 4);
            memset(d + pl->pw + pl->w, 0, (wp - pl->pw - pl->w) * 4);
        }
}

static inline __attribute__((always_inline))
void pack_padded_body(const onyx_conv_plan *pl, const padded_input *in, size_t j0, size_t j1, float *dst) {
    size_t KH = pl->kh, KW = pl->kw, sh = pl->sh, sw = pl->sw, k = pl->k, OW = pl->ow, wp = in->wp;
    size_t plane = in->rows * wp;
    for (size_t jp = j0; jp < j1; jp += NRB) {
        float *d = dst + (jp - j0) / NRB * NRB * k;
        size_t cols = min_sz(j1 - jp, NRB);
        int run = jp % OW + cols <= OW;
        size_t off[NRB];
        for (size_t q = 0; q < NRB; q++) {
            size_t j = jp + (q < cols ? q : cols - 1);   // lanes past the last column repeat it (never stored)
            off[q] = ((j / OW) * sh - in->row0) * wp + (j % OW) * sw;
        }
        for (size_t c = 0; c < pl->c; c++)
            for (size_t kh = 0; kh < KH; kh++)
                for (size_t kw = 0; kw < KW; kw++) {
                    const float *s = in->xp + c * plane + kh * wp + kw;
                    float *o = d + ((c * KH + kh) * KW + kw) * NRB;
                    if (run && sw == 1) { const float *r = s + off[0]; for (size_t q = 0; q < NRB; q++) o[q] = r[q]; }
                    else if (run && sw == 2) { const float *r = s + off[0]; for (size_t q = 0; q < NRB; q++) o[q] = r[2 * q]; }
                    else for (size_t q = 0; q < NRB; q++) o[q] = s[off[q]];
                }
    }
}
#if defined(__x86_64__)
__attribute__((target("avx512f,avx2,fma")))
static void pack_padded_avx512(const onyx_conv_plan *pl, const padded_input *in, size_t j0, size_t j1, float *dst) {
    pack_padded_body(pl, in, j0, j1, dst);
}
__attribute__((target("avx2,fma")))
static void pack_padded_avx2(const onyx_conv_plan *pl, const padded_input *in, size_t j0, size_t j1, float *dst) {
    pack_padded_body(pl, in, j0, j1, dst);
}
#endif
static void pack_padded(const onyx_conv_plan *pl, const padded_input *in, size_t j0, size_t j1, float *dst) {
#if defined(__x86_64__)
    if (onyx_cpu_has_avx512()) { pack_padded_avx512(pl, in, j0, j1, dst); return; }
    if (onyx_cpu_has_avx2_fma()) { pack_padded_avx2(pl, in, j0, j1, dst); return; }
#endif
    pack_padded_body(pl, in, j0, j1, dst);
}

// Asks for the input that columns [j0, j1) will pack, while the GEMM of the current chunk runs: per channel one
// contiguous range (the input rows under those output rows; for a direct 1x1 the columns themselves). Inside a
// whole model the early layers' maps come from memory, and a chunk reads one short run per channel (K streams),
// more than the hardware prefetcher follows.
static void prefetch_cols(const onyx_conv_plan *pl, const float *x, size_t j0, size_t j1) {
    if (j0 >= j1) return;
    size_t a, b, plane = pl->h * pl->w;
    if (pl->direct) { a = j0; b = j1; }
    else {
        long r0 = (long)(j0 / pl->ow * pl->sh) - (long)pl->ph, r1 = (long)((j1 - 1) / pl->ow * pl->sh + (pl->kh - 1) * pl->dh) - (long)pl->ph + 1;
        if (r0 < 0) r0 = 0;
        if (r1 > (long)pl->h) r1 = (long)pl->h;
        if (r0 >= r1) return;
        a = (size_t)r0 * pl->w; b = (size_t)r1 * pl->w;
    }
    for (size_t c = 0; c < pl->c; c++) {
        const char *p = (const char *)(x + c * plane + a), *e = (const char *)(x + c * plane + b);
        for (; p < e; p += 64) __builtin_prefetch(p, 0, 3);
    }
}

static void pack_cols(const onyx_conv_plan *pl, const float *x, size_t j0, size_t j1, float *dst) {
    if (pl->direct) onyx_pack_b(0, pl->k, j1 - j0, x + j0, pl->n, dst, 0, ceil_div(j1 - j0, NRB));
    else onyx_im2col_pack_b(x, pl->c, pl->h, pl->w, pl->oh, pl->ow, pl->kh, pl->kw, pl->sh, pl->sw, pl->ph, pl->pw,
                            pl->dh, pl->dw, j0, j1, dst);
}

void onyx_conv2d_pack_part(const onyx_conv_plan *pl, int part, const float *x, float *shared) {
    if (!pl->shared || part < 0 || part >= pl->parts) return;
    if (pl->rows) {
        padded_rows(pl, x, pl->pan0[part], pl->pan1[part], 0, pl->hp, pl->wp, shared);
        if (part == pl->parts - 1) {
            size_t used = pl->c * pl->hp * pl->wp;
            memset(shared + used, 0, (rows_input_floats(pl) - used) * 4);
        }
        return;
    }
    size_t p0 = pl->pan0[part], p1 = pl->pan1[part];
    if (p0 >= p1) return;
    pack_cols(pl, x, p0 * NRB, min_sz(pl->n, p1 * NRB), shared + p0 * NRB * pl->k);
}

// Rows mode, columns [j0, j1) of the oh x wp output computed along the padded width into cs (m rows, pitch j1 - j0):
// the ow < OW columns go to y with bias, residual and activation.
static inline __attribute__((always_inline))
void rows_keep_body(const onyx_conv_plan *pl, const float *cs, size_t j0, size_t j1, const onyx_epilogue *ep, float *y) {
    size_t wp = pl->wp, OW = pl->ow, n = pl->n, ld = j1 - j0;
    size_t oh1 = (j1 + wp - 1) / wp;
    if (oh1 > pl->oh) oh1 = pl->oh;
    int act = ep ? ep->act : 0;
    float p0 = ep ? ep->p0 : 0, p1 = ep ? ep->p1 : 0;
    for (size_t i = 0; i < pl->m; i++) {
        float b = ep && ep->bias ? ep->bias[i] : 0.0f;
        const float *res = ep && ep->res ? ep->res + i * ep->ldr : NULL;
        for (size_t oh = j0 / wp; oh < oh1; oh++) {
            size_t a = oh * wp < j0 ? j0 - oh * wp : 0, e = j1 - oh * wp < OW ? j1 - oh * wp : OW;
            if (a >= e) continue;
            const float *src = cs + i * ld + (oh * wp + a - j0);
            float *dst = y + i * n + oh * OW + a;
            const float *rr = res ? res + oh * OW + a : NULL;
            size_t len = e - a;
            for (size_t q = 0; q < len; q++) {
                float v = src[q] + b + (rr ? rr[q] : 0.0f);
                if (act == 1) v = v > 0.0f ? v : 0.0f;
                else if (act == 2) v = v < p0 ? p0 : (v > p1 ? p1 : v);
                dst[q] = v;
            }
            if (act > 2) onyx_activation(dst, len, act, p0, p1);
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx2,fma")))
static void rows_keep_avx512(const onyx_conv_plan *pl, const float *cs, size_t j0, size_t j1, const onyx_epilogue *ep, float *y) {
    rows_keep_body(pl, cs, j0, j1, ep, y);
}
__attribute__((target("avx2,fma")))
static void rows_keep_avx2(const onyx_conv_plan *pl, const float *cs, size_t j0, size_t j1, const onyx_epilogue *ep, float *y) {
    rows_keep_body(pl, cs, j0, j1, ep, y);
}
#endif
static void rows_keep(const onyx_conv_plan *pl, const float *cs, size_t j0, size_t j1, const onyx_epilogue *ep, float *y) {
#if defined(__x86_64__)
    if (onyx_cpu_has_avx512()) { rows_keep_avx512(pl, cs, j0, j1, ep, y); return; }
    if (onyx_cpu_has_avx2_fma()) { rows_keep_avx2(pl, cs, j0, j1, ep, y); return; }
#endif
    rows_keep_body(pl, cs, j0, j1, ep, y);
}

int onyx_conv2d_run_part(const onyx_conv_plan *pl, int part, const float *x, const float *pa, const float *shared,
                         const onyx_epilogue *ep, float *y) {
    if (part < 0 || part >= pl->parts) return 0;
    size_t i0 = pl->i0[part], i1 = pl->i1[part], j0 = pl->j0[part], j1 = pl->j1[part];
    if (i0 >= i1 || j0 >= j1) return 0;
    if (pl->rows) {
        // Blocks of 256 columns: each block's m x 256 result stays in L2 from its GEMM to its kept columns.
        size_t k = pl->k, taps = pl->kh * pl->kw, blk = 256;
        long *koff = malloc(k * sizeof(long));
        float *cs = aligned_alloc(64, pl->m * blk * 4);
        if (!koff || !cs || !shared) { free(koff); free(cs); return -1; }
        for (size_t p = 0; p < k; p++) {
            size_t c = p / taps, t = p % taps;
            koff[p] = (long)(c * pl->hp * pl->wp + (t / pl->kw) * pl->wp + t % pl->kw);
        }
        int done = 1;
        for (size_t jb = j0; jb < j1 && done; jb += blk) {
            size_t nb = j1 - jb < blk ? j1 - jb : blk;
            done = onyx_gemm_rows(pl->m, nb, k, pa, shared + jb, koff, cs, nb);
            if (done) rows_keep(pl, cs, jb, jb + nb, ep, y);
        }
        free(koff); free(cs);
        return done ? 0 : -1;
    }
    if (pl->shared) {
        onyx_gemm_packed(pl->m, pl->n, pl->k, pa, shared, y, pl->n, 0, i0, i1, j0, j1, ep);
        return 0;
    }
    size_t steps = pl->nchunks[part], len = j1 - j0;
    if (steps < 1 || steps > len) return -1;
    float *buf = aligned_alloc(64, (onyx_packed_b_size(pl->k, pl->chunk) * 4 + 63) / 64 * 64);
    if (!buf) return -1;
    padded_input in = {0};
    float *pbuf = NULL;
    if (pl->padded) {
        // The padded rows this part's output rows read; slack after them for the lanes of a partial last panel.
        in.wp = padded_width(pl);
        in.row0 = j0 / pl->ow * pl->sh;
        in.rows = (j1 - 1) / pl->ow * pl->sh + pl->kh - in.row0;
        size_t floats = pl->c * in.rows * in.wp + NRB * pl->sw + in.wp;
        pbuf = malloc(floats * 4);
        if (!pbuf) { free(buf); return -1; }
        padded_rows(pl, x, 0, pl->c, in.row0, in.rows, in.wp, pbuf);
        memset(pbuf + pl->c * in.rows * in.wp, 0, (floats - pl->c * in.rows * in.wp) * 4);
        in.xp = pbuf;
    }
    for (size_t q = 0; q < steps; q++) {
        size_t jc = j0 + bound(len, (int)steps, (int)q, COL_UNIT), je = j0 + bound(len, (int)steps, (int)q + 1, COL_UNIT);
        if (je <= jc) continue;
        if (je - jc > pl->chunk) { free(buf); return -1; }
        if (pbuf) pack_padded(pl, &in, jc, je, buf);
        else pack_cols(pl, x, jc, je, buf);
        if (q + 1 < steps && !pbuf) prefetch_cols(pl, x, je, j0 + bound(len, (int)steps, (int)q + 2, COL_UNIT));
        onyx_epilogue e;
        const onyx_epilogue *pe = NULL;
        if (ep) { e = *ep; if (e.res) e.res += jc; pe = &e; }
        onyx_gemm_packed(pl->m, je - jc, pl->k, pa, buf, y + jc, pl->n, 0, i0, i1, 0, je - jc, pe);
    }
    free(buf);
    free(pbuf);
    return 0;
}
