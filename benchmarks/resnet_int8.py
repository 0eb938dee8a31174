#!/usr/bin/env python3
"""ResNet-class static int8 numbers for docs/compression.md (issue 7).

Model and data: scripts/make_resnet_int8_fixture.py (torchvision resnet50, seeded, BatchNorm statistics re-estimated
on structured synthetic images; 32 calibration images; 200 held-out images), made with /tmp/venv-torch unless OUT
already holds them. Quantization: `onyx quantize --mode static --calibration calib.npz --per-channel` (QDQ, uint8
activations, int8 per-channel weights; the engine fuses each QDQ Conv into ai.onyx.QConv).
Accuracy: top-1 agreement with fp32 on the 200 held-out images (Onyx int8 vs Onyx fp32, onnxruntime running the same
int8 file vs onnxruntime fp32). Latency: `onyx bench` / ort_bench.py p50 (batch 1), every engine/file in each
round, alternating; median over rounds; Onyx also with ONYX_ISA=avx2 (fp32 and int8 both capped to AVX2).

Usage: python benchmarks/resnet_int8.py --onyx .build/release/onyx [--arch resnet50|resnet18] [--method minmax|percentile]
       [--threads 2] [--rounds 5] [--out DIR]
       (python with onnxruntime + numpy, e.g. /tmp/venv; --torch-python for the fixture script)
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

import numpy as np
import onnxruntime as ort

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)


def sh(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return r.stdout


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--onyx", default=os.path.join(root, ".build/release/onyx"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--out", default="/tmp/onyx-resnet-int8")
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--torch-python", default="/tmp/venv-torch/bin/python")
    p.add_argument("--method", default="minmax", help="calibration method for onyx quantize (minmax, percentile, entropy)")
    p.add_argument("--skip-accuracy", action="store_true")
    a = p.parse_args()
    fp32 = os.path.join(a.out, f"{a.arch}.onnx")
    if not os.path.exists(fp32):
        sh([a.torch_python, os.path.join(root, "scripts/make_resnet_int8_fixture.py"), a.out], dict(os.environ, ARCH=a.arch))
    int8 = os.path.join(a.out, f"{a.arch}_int8.onnx")
    print(sh([a.onyx, "quantize", fp32, "-o", int8, "--mode", "static", "--calibration", os.path.join(a.out, "calib.npz"),
              "--per-channel", "--method", a.method, "--bench-iterations", "0"]))
    avx2 = dict(os.environ, ONYX_ISA="avx2")
    t = str(a.threads)

    agree = {}
    if not a.skip_accuracy:
        hold = np.load(os.path.join(a.out, "holdout.npy"))
        chunks = [hold[i:i + 50] for i in range(0, len(hold), 50)]
        files = []
        for i, c in enumerate(chunks):
            f = os.path.join(a.out, f"holdout_{i}.npy")
            np.save(f, c)
            files.append(f)

        def onyx_top1(path, env=None):
            tops = []
            for f in files:
                d = os.path.join(a.out, "run")
                os.makedirs(d, exist_ok=True)
                sh([a.onyx, "run", path, "--input", f"input={f}", "--output-dir", d, "--threads", t], env=env)
                tops.append(np.load(os.path.join(d, "output_0.npy")).argmax(1))
            return np.concatenate(tops)

        def ort_top1(path):
            so = ort.SessionOptions()
            so.intra_op_num_threads = a.threads
            s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            return np.concatenate([s.run(None, {"input": c})[0].argmax(1) for c in chunks])

        ref_onyx, ref_ort = onyx_top1(fp32), ort_top1(fp32)
        agree = {
            "onyx fp32": (ref_onyx == ref_ort).mean(),  # vs ORT fp32
            "onyx int8": (onyx_top1(int8) == ref_onyx).mean(),
            "onyx int8, ONYX_ISA=avx2": (onyx_top1(int8, avx2) == ref_onyx).mean(),
            "ORT int8 (Onyx file)": (ort_top1(int8) == ref_ort).mean(),
        }
        print(f"held-out images: {len(ref_onyx)}; distinct fp32 top-1 classes: {len(set(ref_onyx.tolist()))}")

    it = str(a.iterations)
    bench = lambda f: [a.onyx, "bench", f, "--threads", t, "--iterations", it, "--json"]
    ortb = lambda f: [sys.executable, os.path.join(here, "ort_bench.py"), f, "--threads", t, "--iterations", it]
    runs = {
        "onyx fp32": (bench(fp32), None),
        "onyx int8": (bench(int8), None),
        "onyx fp32, ONYX_ISA=avx2": (bench(fp32), avx2),
        "onyx int8, ONYX_ISA=avx2": (bench(int8), avx2),
        "ORT fp32": (ortb(fp32), None),
        "ORT int8 (Onyx file)": (ortb(int8), None),
    }
    lat = {k: [] for k in runs}
    for r in range(a.rounds):
        for k, (cmd, env) in runs.items():
            if sys.stderr.isatty():
                sys.stderr.write(f"\rround {r + 1}/{a.rounds}: {k}\033[K")
            lat[k].append(json.loads(sh(cmd, env).strip().splitlines()[-1])["latency_ms"]["p50"])
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    med = {k: statistics.median(v) for k, v in lat.items()}
    base = {k: "onyx fp32, ONYX_ISA=avx2" if "avx2" in k else ("ORT fp32" if k.startswith("ORT") else "onyx fp32") for k in runs}
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    sha = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"Machine: {cpu}, {os.cpu_count()} vCPUs, {platform.system()}; {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; "
          f"load average {os.getloadavg()[0]:.1f}; Onyx {sha} release; onnxruntime {ort.__version__}; {a.threads} threads, "
          f"batch 1, p50 of {a.iterations} runs, median of {a.rounds} alternating rounds; {a.arch}, calibration {a.method}.\n")
    s32, s8 = os.path.getsize(fp32), os.path.getsize(int8)
    print(f"Files: fp32 {s32 / 2**20:.1f} MiB; int8 {s8 / 2**20:.1f} MiB ({s32 / s8:.2f}x smaller).\n")
    print("| engine / file | p50 ms | vs its fp32 | top-1 agreement with fp32 (same engine) |")
    print("| --- | ---: | ---: | ---: |")
    for k in runs:
        ag = agree.get(k)
        if k == "onyx fp32" and ag is not None:
            ag_s = f"1 (Onyx vs ORT fp32: {ag:.3f})"
        elif ag is not None:
            ag_s = f"{ag:.3f}"
        else:
            ag_s = ""
        print(f"| {k} | {med[k]:.1f} | {med[k] / med[base[k]]:.2f} | {ag_s} |")
    json.dump({"p50": lat, "agree": {k: float(v) for k, v in agree.items()}, "size": [s32, s8]},
              open(os.path.join(a.out, "resnet_int8_results.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
