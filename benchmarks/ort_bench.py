#!/usr/bin/env python3
"""ONNX Runtime counterpart of `onyx bench`: same inputs policy, same JSON keys.

Usage: python ort_bench.py MODEL --threads N --iterations N --warmup N [--dim NAME=V ...]
"""
import argparse
import json
import resource
import time

import numpy as np
import onnxruntime as ort

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--iterations", type=int, default=100)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--dim", action="append", default=[])
a = p.parse_args()
dims = dict((d.split("=")[0], int(d.split("=")[1])) for d in a.dim)

t0 = time.perf_counter()
so = ort.SessionOptions()
so.intra_op_num_threads = a.threads
so.inter_op_num_threads = 1
so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
load_ms = (time.perf_counter() - t0) * 1000
rng = np.random.default_rng(1)
types = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
         "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(uint8)": np.uint8}
feeds = {}
for i in sess.get_inputs():
    shape = [d if isinstance(d, int) else dims.get(d, 1) for d in i.shape]
    dt = types[i.type]
    if dt in (np.float32, np.float64):
        feeds[i.name] = rng.uniform(-1, 1, shape).astype(dt)
    else:
        feeds[i.name] = rng.integers(0, 10, shape).astype(dt)
t1 = time.perf_counter()
sess.run(None, feeds)
first_ms = (time.perf_counter() - t1) * 1000
for _ in range(a.warmup):
    sess.run(None, feeds)
lat = []
for _ in range(a.iterations):
    s = time.perf_counter_ns()
    sess.run(None, feeds)
    lat.append((time.perf_counter_ns() - s) / 1e6)
lat = np.array(lat)
print(json.dumps({
    "load_ms": load_ms, "first_run_ms": first_ms,
    "latency_ms": {"min": float(lat.min()), "mean": float(lat.mean()), "p50": float(np.percentile(lat, 50)),
                   "p90": float(np.percentile(lat, 90)), "p99": float(np.percentile(lat, 99))},
    "throughput_per_s": 1000.0 / float(lat.mean()),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    "threads": a.threads, "iterations": a.iterations}))
