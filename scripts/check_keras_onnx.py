#!/usr/bin/env python3
"""Converts every Keras fixture (model.keras and model.h5 in Tests/OnyxTests/Fixtures/keras, model.keras in
Fixtures/keras_full) with `onyx convert keras` and runs the ONNX files in ONNX Runtime, comparing with Keras's
recorded predictions (atol 1e-4): the same answers in another framework. Stateful RNN models (a `state_0.npy`
fixture) are also checked on a second call fed with the first call's state outputs.

    python3 -m venv /tmp/venv-ort && /tmp/venv-ort/bin/pip install onnxruntime numpy
    /tmp/venv-ort/bin/python scripts/check_keras_onnx.py [--onyx .build/debug/onyx] [names...]
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "OnyxTests", "Fixtures")
ROOTS = [os.path.join(FIXTURES, "keras"), os.path.join(FIXTURES, "keras_full")]


def npys(d, prefix):
    files = glob.glob(os.path.join(d, f"{prefix}_*.npy"))
    return [np.load(p) for p in sorted(files, key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))]


def check(s, d):
    """Max abs difference over all recorded outputs (and, for stateful models, states and the second call)."""
    ins, outs = npys(d, "input"), npys(d, "output")
    feeds = {i.name: x for i, x in zip(s.get_inputs(), ins)}
    got = s.run(None, feeds)
    if len(got) < len(outs):
        raise RuntimeError(f"{len(got)} outputs, expected {len(outs)}")
    errs = [float(np.max(np.abs(g - e))) for g, e in zip(got, outs)]
    states = npys(d, "state")
    if states:
        # Extra outputs are the next states, in the order of the extra (defaulted) state inputs.
        extra = got[len(outs):]
        errs += [float(np.max(np.abs(g - e))) for g, e in zip(extra, states)]
        state_inputs = [i.name for i in s.get_overridable_initializers()]  # inputs with zero defaults
        feeds = {s.get_inputs()[0].name: npys(d, "second_input")[0]}
        feeds.update(dict(zip(state_inputs, extra)))
        second = s.run(None, feeds)
        errs += [float(np.max(np.abs(g - e))) for g, e in zip(second, npys(d, "second_output"))]
    elif len(got) != len(outs):
        raise RuntimeError(f"{len(got)} outputs, expected {len(outs)}")
    return max(errs)


ap = argparse.ArgumentParser()
ap.add_argument("--onyx", default=".build/debug/onyx")
ap.add_argument("names", nargs="*")
args = ap.parse_args()
failed = checked = 0
with tempfile.TemporaryDirectory() as tmp:
    for root in ROOTS:
        for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            if args.names and name not in args.names:
                continue
            d = os.path.join(root, name)
            for fmt in ["keras", "h5"]:
                model = os.path.join(d, f"model.{fmt}")
                if not os.path.exists(model):
                    continue
                checked += 1
                onnx_path = os.path.join(tmp, f"{name}_{fmt}.onnx")
                r = subprocess.run([args.onyx, "convert", "keras", model, "-o", onnx_path], capture_output=True, text=True)
                if r.returncode != 0:
                    print(f"FAIL {name}.{fmt}: convert: {r.stderr.strip()}"); failed += 1; continue
                try:
                    opts = ort.SessionOptions()
                    opts.log_severity_level = 3  # (state inputs with defaults are meant to be overridable)
                    err = check(ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"]), d)
                    ok = err <= 1e-4
                    print(f"{'ok  ' if ok else 'FAIL'} {name}.{fmt}: max abs diff {err:.2e}")
                    failed += 0 if ok else 1
                except Exception as e:  # noqa: BLE001
                    print(f"FAIL {name}.{fmt}: onnxruntime: {e}"); failed += 1
print(f"{checked} models, all passed" if failed == 0 else f"{failed} of {checked} failed")
sys.exit(1 if failed or not checked else 0)
