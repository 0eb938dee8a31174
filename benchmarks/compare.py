#!/usr/bin/env python3
"""Runs Onyx (`onyx bench --json`) and ONNX Runtime (ort_bench.py) on the same models with the same thread
count, alternating Onyx / ORT for several rounds, and prints a Markdown table of median p50 latencies and the
Onyx/ORT ratio, plus load time and peak RSS, with machine, date and versions.

Usage: python benchmarks/compare.py --onyx .build/release/onyx [--threads 2] [--rounds 3] [--models a,b,...]
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys

import onnxruntime

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
MODELS = {
    "resnet50": (os.path.join(root, ".onnx-tests/light/test_resnet50/model.onnx"), 20),
    "squeezenet": (os.path.join(root, ".onnx-tests/light/test_squeezenet/model.onnx"), 50),
    "densenet121": (os.path.join(root, ".onnx-tests/light/test_densenet121/model.onnx"), 20),
    "inception_v1": (os.path.join(root, ".onnx-tests/light/test_inception_v1/model.onnx"), 20),
    "shufflenet": (os.path.join(root, ".onnx-tests/light/test_shufflenet/model.onnx"), 50),
    "vgg19": (os.path.join(root, ".onnx-tests/light/test_vgg19/model.onnx"), 5),
    "mobilenetv2": (os.path.join(here, "models/mobilenetv2.onnx"), 50),
    "bert_base_seq128": (os.path.join(here, "models/bert_base_seq128.onnx"), 10),
    "mlp_64_128_10": (os.path.join(here, "models/mlp_64_128_10.onnx"), 2000),
}
CNNS = ["resnet50", "squeezenet", "densenet121", "inception_v1", "shufflenet", "vgg19", "mobilenetv2"]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, (r.stderr.strip().splitlines() or ["failed"])[-1]
    try:
        return json.loads(r.stdout.strip().splitlines()[-1]), None
    except Exception as e:  # noqa: BLE001
        return None, f"unreadable output: {e}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--onyx", default=os.path.join(root, ".build/release/onyx"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--json-out")
    a = p.parse_args()
    rows, results = [], {}
    names = a.models.split(",")
    for idx, name in enumerate(names):
        path, iters = MODELS[name]
        if not os.path.exists(path):
            rows.append(f"| {name} | missing model | | | | | |")
            continue
        onyx, ort, err = [], [], None
        for r in range(a.rounds):
            if sys.stderr.isatty():
                sys.stderr.write(f"\r[{idx + 1}/{len(names)}] {name} round {r + 1}/{a.rounds}\033[K")
            o, e1 = run([a.onyx, "bench", path, "--threads", str(a.threads), "--iterations", str(iters), "--warmup", "3", "--json"])
            x, e2 = run([sys.executable, os.path.join(here, "ort_bench.py"), path, "--threads", str(a.threads),
                         "--iterations", str(iters), "--warmup", "3"])
            if o: onyx.append(o)
            if x: ort.append(x)
            err = err or e1 or e2
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K")
        if not onyx or not ort:
            rows.append(f"| {name} | {'—' if not onyx else ''} | | | | | error: {err} |")
            continue
        med = lambda xs, k: statistics.median(v[k] if k in v else v["latency_ms"]["p50"] for v in xs)
        o50 = statistics.median(v["latency_ms"]["p50"] for v in onyx)
        x50 = statistics.median(v["latency_ms"]["p50"] for v in ort)
        results[name] = {"onyx_p50_ms": o50, "ort_p50_ms": x50, "ratio": o50 / x50,
                         "onyx_load_ms": med(onyx, "load_ms"), "ort_load_ms": med(ort, "load_ms"),
                         "onyx_rss_mb": med(onyx, "peak_rss_mb"), "ort_rss_mb": med(ort, "peak_rss_mb")}
        r = results[name]
        rows.append(f"| {name} | {o50:.3f} | {x50:.3f} | {r['ratio']:.2f} | {r['onyx_load_ms']:.0f} / {r['ort_load_ms']:.0f} "
                    f"| {r['onyx_rss_mb']:.0f} / {r['ort_rss_mb']:.0f} | |")
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except Exception:  # noqa: BLE001
        pass
    sha = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}; "
          f"date {datetime.date.today()}; Onyx {sha} (release build); onnxruntime {onnxruntime.__version__}; "
          f"{a.threads} threads, batch 1, median of {a.rounds} alternating rounds.\n")
    print("| model | Onyx p50 ms | ORT p50 ms | Onyx/ORT | load ms Onyx / ORT | peak RSS MiB Onyx / ORT | note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(r)
    cnn = [results[n]["ratio"] for n in CNNS if n in results]
    if cnn:
        print(f"\nGeometric mean Onyx/ORT over {len(cnn)} CNNs: {math.exp(sum(map(math.log, cnn)) / len(cnn)):.2f}")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
