#!/usr/bin/env python3
"""Writes the evaluation benchmark's CSV rows as numpy arrays, for `onyx eval X.npy --labels Y.npy` (docs/eval.md).

    python scripts/make_eval_bench_npy.py /tmp/digits_100000.csv /tmp/x.npy /tmp/y.npy [SHAPE]
Features: float32 [rows, 64] (or [rows] + SHAPE, e.g. 1,8,8 for the CNN), labels int64 [rows]. Pure Python (no
numpy needed): the .npy version 1.0 header and little-endian data are written directly.
"""
import array
import sys


def write_npy(path, typecode, descr, shape, values):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else ""))
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header += " " * pad + "\n"
    data = array.array(typecode, values)
    if sys.byteorder != "little":
        data.byteswap()
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1"))
        data.tofile(f)


src, xpath, ypath = sys.argv[1], sys.argv[2], sys.argv[3]
sample = [int(d) for d in sys.argv[4].split(",")] if len(sys.argv) > 4 else None
with open(src) as f:
    header = f.readline().strip().split(",")
    li = header.index("label")
    xs, ys = array.array("f"), array.array("q")
    rows = 0
    for line in f:
        if not line.strip():
            continue
        parts = line.strip().split(",")
        ys.append(int(parts[li]))
        xs.extend(float(v) for j, v in enumerate(parts) if j != li)
        rows += 1
width = len(header) - 1
write_npy(xpath, "f", "<f4", [rows] + (sample or [width]), xs)
write_npy(ypath, "q", "<i8", [rows], ys)
print(f"wrote {rows} rows to {xpath} and {ypath}")
