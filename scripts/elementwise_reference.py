#!/usr/bin/env python3
"""Prints the numpy reference values used by Tests/OnyxTests/ElementwiseTests.swift."""
import numpy as np

# Mod with fmod=0: the result takes the sign of the divisor (numpy mod).
print("mod int32:", np.mod(np.array([-7, 7, -7, 7, 0], np.int32), np.array([3, -3, -3, 3, -5], np.int32)).tolist())
# Mod with fmod=1: C fmod, sign of the dividend.
print("fmod int32:", np.fmod(np.array([-7, 7, -7, 7], np.int32), np.array([3, -3, -3, 3], np.int32)).tolist())
# Cast float32 -> string.
f = np.array([1.0, 0.1, 1e-5, 1.5e16, -2.5, np.nan, np.inf, 123456.78, 0.0001, 3e-7], np.float32)
print("float32->str:", f.astype(np.str_).tolist())
# Cast string -> float32 / int64.
print("str->float32:", np.array(["1.5", "-inf", "1e3", "  42"]).astype(np.float32).tolist())
print("str->int64:", np.array(["12", "-7", "0"]).astype(np.int64).tolist())
# Pow with an int32 base and a float32 exponent (result cast back to the base type).
print("pow int32^float32:", np.power(np.array([2, 3, 10], np.int32), np.array([0.5, 2.0, -1.0], np.float32)).astype(np.int32).tolist())
# Integer Div truncates toward zero (the ONNX reference implementation's formula); x/0 gives 0.
x = np.array([7, -7, 5, np.iinfo(np.int32).min, 9], np.int32)
y = np.array([0, 2, 0, -1, -4], np.int32)
with np.errstate(all="ignore"):
    q = np.floor_divide(x, y)
    r = np.remainder(x, y)
    print("div int32:", (q + ((r != 0) & ((x < 0) ^ (y < 0))).astype(q.dtype)).tolist())
# PRelu with a per-channel 1-D slope that numpy cannot broadcast (reference implementation fallback).
x = np.array([-1, 2, -3, -4, 5, -6], np.float32).reshape(1, 2, 3)
s = np.array([0.5, 0.25], np.float32)
print("prelu per-channel:", np.where(x > 0, x, x * s.reshape(1, 2, 1)).ravel().tolist())
