#!/usr/bin/env python3
"""Reference values for Tests/OnyxTests/NNOpsTests.swift (numpy, float64 compute).

Inputs are deterministic formulas so the Swift tests can rebuild them exactly:
  conv:   X[i] = sin(0.01*i) over [1, 8, 40, 40]; W[i] = cos(0.1*i) over [16, 4, 3, 3]; B[o] = 0.5*o
          group=2, pads=1, strides=1  -> Y [1, 16, 40, 40] (large enough to run im2col and SGEMM on 2+ threads)
  depthwise: X[i] = sin(0.05*i) over [2, 8, 12, 12]; W[i] = cos(0.3*i) over [8, 1, 3, 3]; B[o] = o - 4
          group=8, pads=1, strides=1 -> Y [2, 8, 12, 12] (parallel over image x group units)
  matmul: A[i] = sin(0.001*i) over [3, 1, 64, 32]; B[i] = cos(0.002*i) over [4, 32, 48] -> [3, 4, 64, 48]
Prints sum, sum of squares and a few sampled flat entries of each output.
"""
import numpy as np

def conv2d(x, w, b, group, pad, stride):
    n, c, h, wd = x.shape  # any batch size
    m, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, m, oh, ow))
    mg = m // group
    for o in range(m):
        g = o // mg
        for i in range(oh):
            for j in range(ow):
                for im in range(n):
                    patch = xp[im, g * cg:(g + 1) * cg, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    y[im, o, i, j] = np.sum(patch * w[o]) + b[o]
    return y

x = np.sin(0.01 * np.arange(1 * 8 * 40 * 40)).reshape(1, 8, 40, 40).astype(np.float32).astype(np.float64)
w = np.cos(0.1 * np.arange(16 * 4 * 3 * 3)).reshape(16, 4, 3, 3).astype(np.float32).astype(np.float64)
b = 0.5 * np.arange(16)
y = conv2d(x, w, b, 2, 1, 1)
print("conv", y.shape, repr(y.sum()), repr((y * y).sum()), [repr(y.flat[k]) for k in (0, 7777, 25599)])

xd = np.sin(0.05 * np.arange(2 * 8 * 12 * 12)).reshape(2, 8, 12, 12).astype(np.float32).astype(np.float64)
wd = np.cos(0.3 * np.arange(8 * 9)).reshape(8, 1, 3, 3).astype(np.float32).astype(np.float64)
yd = conv2d(xd, wd, np.arange(8) - 4.0, 8, 1, 1)
print("depthwise", yd.shape, repr(yd.sum()), repr((yd * yd).sum()), [repr(yd.flat[k]) for k in (0, 1234, 2303)])

a = np.sin(0.001 * np.arange(3 * 64 * 32)).reshape(3, 1, 64, 32).astype(np.float32).astype(np.float64)
bm = np.cos(0.002 * np.arange(4 * 32 * 48)).reshape(4, 32, 48).astype(np.float32).astype(np.float64)
z = np.matmul(a, bm)
print("matmul", z.shape, repr(z.sum()), repr((z * z).sum()), [repr(z.flat[k]) for k in (0, 12345, 36863)])

# einsum: P[i] = sin(0.1*i) over [2, 3, 4]; Q[i] = cos(0.2*i) over [4, 3, 5]; "abc,cbd->dba" -> [5, 3, 2]
p = np.sin(0.1 * np.arange(24)).reshape(2, 3, 4).astype(np.float32).astype(np.float64)
q = np.cos(0.2 * np.arange(60)).reshape(4, 3, 5).astype(np.float32).astype(np.float64)
e = np.einsum("abc,cbd->dba", p, q)
print("einsum", e.shape, [repr(v) for v in e.flatten()])

# layernorm: X[i] = sin(0.37*i) over [256, 64], Scale[j] = 1 + 0.01*j, B[j] = 0.1*j, axis -1, eps 1e-5
xl = np.sin(0.37 * np.arange(256 * 64)).reshape(256, 64).astype(np.float32).astype(np.float64)
mu = xl.mean(axis=1, keepdims=True)
inv = 1 / np.sqrt(((xl - mu) ** 2).mean(axis=1, keepdims=True) + 1e-5)
yl = (xl - mu) * inv * (1 + 0.01 * np.arange(64)) + 0.1 * np.arange(64)
print("layernorm", repr((yl * yl).sum()), [repr(yl.flat[k]) for k in (0, 9999, 16383)], repr(inv.flat[100]))

# maxpool: X[i] = sin(0.77*i) over [1, 4, 64, 64], kernel 3x3, strides 2, pads 1 -> [1, 4, 32, 32]
xm = np.sin(0.77 * np.arange(4 * 64 * 64)).reshape(1, 4, 64, 64).astype(np.float32).astype(np.float64)
xpad = np.pad(xm, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
ym = np.zeros((1, 4, 32, 32)); im = np.zeros((1, 4, 32, 32), dtype=np.int64)
for c in range(4):
    for i in range(32):
        for j in range(32):
            win = xpad[0, c, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
            k = int(np.argmax(win)); di, dj = divmod(k, 3)
            ym[0, c, i, j] = win[di, dj]
            im[0, c, i, j] = c * 4096 + (2 * i + di - 1) * 64 + (2 * j + dj - 1)
print("maxpool", repr(ym.sum()), int(im.sum()), [repr(ym.flat[k]) for k in (0, 2047, 4095)], [int(im.flat[k]) for k in (0, 2047, 4095)])
