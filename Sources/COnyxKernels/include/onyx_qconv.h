#ifndef ONYX_QCONV_H
#define ONYX_QCONV_H
#include <stddef.h>
#include <stdint.h>

/// uint8 im2col of one image (C x H x W planes): rows (c, kh, kw) of the patch matrix, columns [j0, j1) of the
/// OH*OW output positions, row-major with j1 - j0 bytes per row; positions outside the image get `pad` (the
/// activation's zero point, so padding contributes exactly 0 after the zero-point correction).
void onyx_qim2col_u8(const uint8_t *x, size_t C, size_t H, size_t W, size_t OH, size_t OW, size_t KH, size_t KW,
                     size_t sh, size_t sw, size_t ph, size_t pw, size_t dh, size_t dw, size_t j0, size_t j1,
                     uint8_t pad, uint8_t *dst);

/// Packs B (k x n) from contiguous byte rows: element (p, j) is b[p*ldb + j], int8 (uint8 with flip = 1, which
/// become v - 128) — the same result as onyx_qgemm_pack_b(k, n, b, ldb, 1, flip, dst, colsum), vectorized.
void onyx_qgemm_pack_b_rows(size_t k, size_t n, const uint8_t *b, size_t ldb, int flip, void *dst, int32_t *colsum);

#endif
