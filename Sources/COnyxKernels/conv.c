// 2-D convolution as packed GEMMs: how one image's work is split across threads and chunked through cache.
// The GEMM micro-kernels and the im2col packer are in gemm.c.
#include "onyx_kernels.h"
#include <stdlib.h>

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
    if (threads == 1 || chunks >= 2 * (size_t)threads) {
        // Many columns: each part takes an equal run of columns (cut at tile multiples) and packs it chunk by
        // chunk into its own buffer, every row of A passing over each chunk while it is in cache.
        int t = threads;
        if ((size_t)t > ceil_div(n, COL_UNIT)) t = (int)ceil_div(n, COL_UNIT);
        pl->shared = 0;
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

size_t onyx_conv2d_shared_floats(const onyx_conv_plan *pl) {
    return pl->shared ? onyx_packed_b_size(pl->k, pl->n) : 0;
}

static void pack_cols(const onyx_conv_plan *pl, const float *x, size_t j0, size_t j1, float *dst) {
    if (pl->direct) onyx_pack_b(0, pl->k, j1 - j0, x + j0, pl->n, dst, 0, ceil_div(j1 - j0, NRB));
    else onyx_im2col_pack_b(x, pl->c, pl->h, pl->w, pl->oh, pl->ow, pl->kh, pl->kw, pl->sh, pl->sw, pl->ph, pl->pw,
                            pl->dh, pl->dw, j0, j1, dst);
}

void onyx_conv2d_pack_part(const onyx_conv_plan *pl, int part, const float *x, float *shared) {
    if (!pl->shared || part < 0 || part >= pl->parts) return;
    size_t p0 = pl->pan0[part], p1 = pl->pan1[part];
    if (p0 >= p1) return;
    pack_cols(pl, x, p0 * NRB, min_sz(pl->n, p1 * NRB), shared + p0 * NRB * pl->k);
}

int onyx_conv2d_run_part(const onyx_conv_plan *pl, int part, const float *x, const float *pa, const float *shared,
                         const onyx_epilogue *ep, float *y) {
    if (part < 0 || part >= pl->parts) return 0;
    size_t i0 = pl->i0[part], i1 = pl->i1[part], j0 = pl->j0[part], j1 = pl->j1[part];
    if (i0 >= i1 || j0 >= j1) return 0;
    if (pl->shared) {
        onyx_gemm_packed(pl->m, pl->n, pl->k, pa, shared, y, pl->n, 0, i0, i1, j0, j1, ep);
        return 0;
    }
    size_t steps = pl->nchunks[part], len = j1 - j0;
    if (steps < 1 || steps > len) return -1;
    float *buf = aligned_alloc(64, (onyx_packed_b_size(pl->k, pl->chunk) * 4 + 63) / 64 * 64);
    if (!buf) return -1;
    for (size_t q = 0; q < steps; q++) {
        size_t jc = j0 + bound(len, (int)steps, (int)q, COL_UNIT), je = j0 + bound(len, (int)steps, (int)q + 1, COL_UNIT);
        if (je <= jc) continue;
        if (je - jc > pl->chunk) { free(buf); return -1; }
        pack_cols(pl, x, jc, je, buf);
        onyx_epilogue e;
        const onyx_epilogue *pe = NULL;
        if (ep) { e = *ep; if (e.res) e.res += jc; pe = &e; }
        onyx_gemm_packed(pl->m, je - jc, pl->k, pa, buf, y + jc, pl->n, 0, i0, i1, 0, je - jc, pe);
    }
    free(buf);
    return 0;
}
