#!/usr/bin/env python3
"""Reference values for Tests/OnyxTests/QuantOpsTests.swift (zlib, numpy, re). Run with the project venv."""
import re
import zlib

import numpy as np

text = b"onyx onyx onyx: quantize, dequantize, inflate! " * 5 + bytes(range(40))
z = zlib.compress(text, 9)
print("inflate.compressed =", list(z))
print("inflate.plain =", list(text))

x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 300.0, -300.0], dtype=np.float32)
print("quantize int8 (scale 1, zp 0) =", np.clip(np.rint(x / np.float32(1)), -128, 127).astype(np.int8).tolist())

sig = np.array([1.0, -2.0, 0.5, 3.0, 0.25], dtype=np.float64)
f = np.fft.fft(sig, n=7)
print("dft n=7 re =", f.real.tolist())
print("dft n=7 im =", f.imag.tolist())

print("regex a|ab fullmatch ab, a, abc =", [re.fullmatch("a|ab", s) is not None for s in ["ab", "a", "abc"]])
