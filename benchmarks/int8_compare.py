#!/usr/bin/env python3
"""Int8 numbers for docs/compression.md (issue 7): BERT-base-shaped encoder, dynamic int8.

Files: fp32 (benchmarks/make_models.py), Onyx's `onyx quantize --mode dynamic` output, and ONNX Runtime's own
`quantize_dynamic` output of the same model (QInt8 weights, per-tensor). Latency: `onyx bench` / ort_bench.py
p50 (batch 1, --threads), alternating every engine/file in each round; median over rounds. Onyx int8 is also timed
with ONYX_ISA=avx2 (the AVX2 kernel; the default picks AVX-512 VNNI when the CPU has it). Accuracy: cosine of the
output to the fp32 output (same engine) on one deterministic input (hidden ~ N(0,1) seed 7, mask zeros).

Usage: python benchmarks/int8_compare.py --onyx .build/release/onyx [--threads 2] [--rounds 5] [--out DIR]
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
from onnxruntime.quantization import QuantType, quantize_dynamic

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)


def sh(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return r.stdout


def ort_run(path, feeds, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def cos(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--onyx", default=os.path.join(root, ".build/release/onyx"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--out", default="/tmp/onyx-int8")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    fp32 = os.path.join(here, "models/bert_base_seq128.onnx")
    if not os.path.exists(fp32):
        sh([sys.executable, os.path.join(here, "make_models.py")])
    ours = os.path.join(a.out, "bert_int8_onyx.onnx")
    theirs = os.path.join(a.out, "bert_int8_ort.onnx")
    sh([a.onyx, "quantize", fp32, "-o", ours, "--mode", "dynamic", "--bench-iterations", "0"])
    quantize_dynamic(fp32, theirs, weight_type=QuantType.QInt8)

    rng = np.random.default_rng(7)
    hidden = rng.standard_normal((1, 128, 768)).astype(np.float32)
    mask = np.zeros((1, 1, 1, 128), np.float32)
    np.save(os.path.join(a.out, "hidden.npy"), hidden)
    np.save(os.path.join(a.out, "mask.npy"), mask)
    feeds = {"hidden": hidden, "mask": mask}
    inputs = ["--input", f"hidden={a.out}/hidden.npy", "--input", f"mask={a.out}/mask.npy"]

    def onyx_out(path, env=None):
        d = os.path.join(a.out, "run")
        os.makedirs(d, exist_ok=True)
        sh([a.onyx, "run", path, *inputs, "--output-dir", d, "--threads", str(a.threads)], env=env)
        return np.load(os.path.join(d, "output_0.npy"))

    avx2 = dict(os.environ, ONYX_ISA="avx2")
    ref_onyx, ref_ort = onyx_out(fp32), ort_run(fp32, feeds, a.threads)
    acc = {
        "onyx fp32": (1.0, cos(ref_ort, ref_onyx)),
        "onyx int8 (Onyx file)": (cos(ref_onyx, onyx_out(ours)), None),
        "onyx int8 (Onyx file), ONYX_ISA=avx2": (cos(ref_onyx, onyx_out(ours, avx2)), None),
        "onyx int8 (ORT file)": (cos(ref_onyx, onyx_out(theirs)), None),
        "ORT int8 (Onyx file)": (cos(ref_ort, ort_run(ours, feeds, a.threads)), None),
        "ORT int8 (ORT file)": (cos(ref_ort, ort_run(theirs, feeds, a.threads)), None),
    }

    it = str(a.iterations)
    runs = {
        "onyx fp32": ([a.onyx, "bench", fp32, "--threads", str(a.threads), "--iterations", it, "--json"], None),
        "onyx int8 (Onyx file)": ([a.onyx, "bench", ours, "--threads", str(a.threads), "--iterations", it, "--json"], None),
        "onyx fp32, ONYX_ISA=avx2": ([a.onyx, "bench", fp32, "--threads", str(a.threads), "--iterations", it, "--json"], avx2),
        "onyx int8 (Onyx file), ONYX_ISA=avx2": ([a.onyx, "bench", ours, "--threads", str(a.threads), "--iterations", it, "--json"], avx2),
        "onyx int8 (ORT file)": ([a.onyx, "bench", theirs, "--threads", str(a.threads), "--iterations", it, "--json"], None),
        "ORT fp32": ([sys.executable, os.path.join(here, "ort_bench.py"), fp32, "--threads", str(a.threads), "--iterations", it], None),
        "ORT int8 (Onyx file)": ([sys.executable, os.path.join(here, "ort_bench.py"), ours, "--threads", str(a.threads), "--iterations", it], None),
        "ORT int8 (ORT file)": ([sys.executable, os.path.join(here, "ort_bench.py"), theirs, "--threads", str(a.threads), "--iterations", it], None),
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
    size = {fp32: os.path.getsize(fp32), ours: os.path.getsize(ours), theirs: os.path.getsize(theirs)}
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    sha = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"Machine: {cpu}, {os.cpu_count()} vCPUs, {platform.system()}; {datetime.date.today()}; Onyx {sha} release; "
          f"onnxruntime {ort.__version__}; {a.threads} threads, batch 1, p50 of {a.iterations} runs, median of "
          f"{a.rounds} alternating rounds.\n")
    print(f"Files: fp32 {size[fp32] / 2**20:.1f} MiB; Onyx int8 {size[ours] / 2**20:.1f} MiB "
          f"({size[fp32] / size[ours]:.2f}x smaller); ORT quantize_dynamic {size[theirs] / 2**20:.1f} MiB "
          f"({size[fp32] / size[theirs]:.2f}x smaller).\n")
    # "vs Onyx fp32" compares like with like: the ONYX_ISA=avx2 rows against Onyx fp32 also capped to AVX2.
    print("| engine / file | p50 ms | vs Onyx fp32 (same ISA) | vs ORT fp32 | cosine to fp32 (same engine) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for k in runs:
        c = acc.get(k, (None, None))[0]
        if k == "ORT fp32":
            c = 1.0
        base = med["onyx fp32, ONYX_ISA=avx2"] if "ONYX_ISA=avx2" in k else med["onyx fp32"]
        print(f"| {k} | {med[k]:.1f} | {med[k] / base:.2f} | {med[k] / med['ORT fp32']:.2f} | "
              f"{'' if c is None else f'{c:.5f}'} |")
    print(f"\nOnyx fp32 vs ORT fp32 outputs: cosine {acc['onyx fp32'][1]:.6f}")
    json.dump({"p50": lat, "cos": {k: v[0] for k, v in acc.items()}, "size": size},
              open(os.path.join(a.out, "int8_results.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
