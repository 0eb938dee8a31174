#!/usr/bin/env python3
"""Converts every Keras fixture (model.keras and model.h5) with `onyx convert keras` and runs the ONNX files in
ONNX Runtime, comparing with Keras's recorded predictions (atol 1e-4): the same answers in another framework.

    /tmp/venv/bin/python scripts/check_keras_onnx.py [--onyx .build/debug/onyx] [names...]
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "OnyxTests", "Fixtures", "keras")

ap = argparse.ArgumentParser()
ap.add_argument("--onyx", default=".build/debug/onyx")
ap.add_argument("names", nargs="*")
args = ap.parse_args()
failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for name in args.names or sorted(os.listdir(ROOT)):
        d = os.path.join(ROOT, name)
        ins = [np.load(p) for p in sorted(glob.glob(os.path.join(d, "input_*.npy")))]
        outs = [np.load(p) for p in sorted(glob.glob(os.path.join(d, "output_*.npy")))]
        for fmt in ["keras", "h5"]:
            onnx_path = os.path.join(tmp, f"{name}_{fmt}.onnx")
            r = subprocess.run([args.onyx, "convert", "keras", os.path.join(d, f"model.{fmt}"), "-o", onnx_path],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"FAIL {name}.{fmt}: convert: {r.stderr.strip()}"); failed += 1; continue
            try:
                s = ort.InferenceSession(onnx_path)
                feeds = {i.name: x for i, x in zip(s.get_inputs(), ins)}
                got = s.run(None, feeds)
                errs = [float(np.max(np.abs(g - e))) for g, e in zip(got, outs)]
                ok = all(e <= 1e-4 for e in errs) and len(got) == len(outs)
                print(f"{'ok  ' if ok else 'FAIL'} {name}.{fmt}: max abs diff {max(errs):.2e}")
                failed += 0 if ok else 1
            except Exception as e:  # noqa: BLE001
                print(f"FAIL {name}.{fmt}: onnxruntime: {e}"); failed += 1
print("all passed" if failed == 0 else f"{failed} failed")
sys.exit(1 if failed else 0)
