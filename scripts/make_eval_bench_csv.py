#!/usr/bin/env python3
"""Writes a large evaluation CSV for the `onyx eval` overhead measurement (docs/eval.md); not committed.

    python scripts/make_eval_bench_csv.py /tmp/digits_100k.csv 100000
Rows are the 360 rows of Examples/data/digits_test.csv repeated (same columns: pixel_0..pixel_63,label).
"""
import os
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/digits_100k.csv"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Examples", "data", "digits_test.csv")
with open(src) as f:
    header = f.readline()
    rows = [line for line in f if line.strip()]
with open(path, "w") as f:
    f.write(header)
    for i in range(n):
        f.write(rows[i % len(rows)])
print(f"wrote {n} rows to {path}")
