// 2-D max / average pooling on NCHW float planes (no indices): the in-bounds window range is computed per
// output row and column, so the inner loops carry no bounds checks.
#include "onyx_kernels.h"
#include <math.h>

// [lo, hi) of kernel taps t with 0 <= start + t*d < limit.
static inline void tap_range(long start, size_t d, size_t K, long limit, size_t *lo, size_t *hi) {
    long l = start >= 0 ? 0 : (-start + (long)d - 1) / (long)d;
    long h = limit - 1 - start < 0 ? 0 : (limit - 1 - start) / (long)d + 1;
    if (h > (long)K) h = (long)K;
    if (l > h) l = h;
    *lo = (size_t)l; *hi = (size_t)h;
}

void onyx_pool2d(const float *x, float *y, size_t p0, size_t p1, size_t H, size_t W, size_t OH, size_t OW,
                 size_t KH, size_t KW, size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw,
                 size_t padded_h, size_t padded_w, int average, int count_include_pad) {
    if (!average && dh == 1 && dw == 1 && W <= 4096) {
        // Separable max: per output row, the column-wise max over the window's rows (contiguous, vectorised),
        // then the max over each window's columns.
        float rowmax[4096];
        for (size_t pl = p0; pl < p1; pl++) {
            const float *xp = x + pl * H * W;
            float *yp = y + pl * OH * OW;
            for (size_t oh = 0; oh < OH; oh++) {
                long hs = (long)(oh * sh) - (long)ph;
                size_t khl, khh;
                tap_range(hs, 1, KH, (long)H, &khl, &khh);
                if (khl == khh) { for (size_t ow = 0; ow < OW; ow++) yp[oh * OW + ow] = -INFINITY; continue; }
                const float *r0 = xp + (size_t)(hs + (long)khl) * W;
                for (size_t w = 0; w < W; w++) rowmax[w] = r0[w];
                for (size_t kh = khl + 1; kh < khh; kh++) {
                    const float *r = xp + (size_t)(hs + (long)kh) * W;
                    for (size_t w = 0; w < W; w++) rowmax[w] = r[w] > rowmax[w] ? r[w] : rowmax[w];
                }
                for (size_t ow = 0; ow < OW; ow++) {
                    long ws = (long)(ow * sw) - (long)pw;
                    size_t kwl, kwh;
                    tap_range(ws, 1, KW, (long)W, &kwl, &kwh);
                    float best = -INFINITY;
                    if (kwl < kwh) {
                        best = rowmax[ws + (long)kwl];
                        for (size_t kw = kwl + 1; kw < kwh; kw++) { float v = rowmax[ws + (long)kw]; best = v > best ? v : best; }
                    }
                    yp[oh * OW + ow] = best;
                }
            }
        }
        return;
    }
    for (size_t pl = p0; pl < p1; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        for (size_t oh = 0; oh < OH; oh++) {
            long hs = (long)(oh * sh) - (long)ph;
            size_t khl, khh, phl, phh;
            tap_range(hs, dh, KH, (long)H, &khl, &khh);
            tap_range(hs + (long)ph, dh, KH, (long)padded_h, &phl, &phh);
            for (size_t ow = 0; ow < OW; ow++) {
                long ws = (long)(ow * sw) - (long)pw;
                size_t kwl, kwh;
                tap_range(ws, dw, KW, (long)W, &kwl, &kwh);
                float out;
                if (average) {
                    float sum = 0.0f;
                    for (size_t kh = khl; kh < khh; kh++) {
                        const float *row = xp + (size_t)(hs + (long)(kh * dh)) * W;
                        for (size_t kw = kwl; kw < kwh; kw++) sum += row[ws + (long)(kw * dw)];
                    }
                    size_t n = (khh - khl) * (kwh - kwl);
                    if (count_include_pad) {
                        size_t pwl, pwh;
                        tap_range(ws + (long)pw, dw, KW, (long)padded_w, &pwl, &pwh);
                        n = (phh - phl) * (pwh - pwl);
                    }
                    out = n ? sum / (float)n : 0.0f;
                } else {
                    float best = -INFINITY;
                    int first = 1;
                    for (size_t kh = khl; kh < khh; kh++) {
                        const float *row = xp + (size_t)(hs + (long)(kh * dh)) * W;
                        for (size_t kw = kwl; kw < kwh; kw++) {
                            float v = row[ws + (long)(kw * dw)];
                            if (first) { best = v; first = 0; } else best = v > best ? v : best;
                        }
                    }
                    out = best;
                }
                yp[oh * OW + ow] = out;
            }
        }
    }
}
