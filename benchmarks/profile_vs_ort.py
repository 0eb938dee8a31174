#!/usr/bin/env python3
"""Per-layer side by side of Onyx and ONNX Runtime on one CNN: each convolution shape group's milliseconds per run.

    python benchmarks/profile_vs_ort.py --onyx .build/release/onyx MODEL.onnx [--threads 2] [--iterations 60]

Onyx: `onyx optimize` (the graph it runs), then `ONYX_PROFILE=node onyx bench` on it (per-node wall time).
ONNX Runtime: `enable_profiling` (per-node kernel time, median of the runs). ORT rewrites the graph (NCHWc), so
convolutions are paired by output (channels, size) in execution order; groups sharing an output shape (a block's
main and downsample convolutions) can be paired across, so compare group sums there. Needs onnx and onnxruntime.
"""
import argparse, collections, json, os, re, subprocess, sys, tempfile
import numpy as np, onnx, onnxruntime as ort
from onnx import helper

p = argparse.ArgumentParser()
p.add_argument("model"); p.add_argument("--onyx", default="onyx")
p.add_argument("--threads", type=int, default=2); p.add_argument("--iterations", type=int, default=60)
a = p.parse_args()
tmp = tempfile.mkdtemp()
opt = os.path.join(tmp, "opt.onnx")
subprocess.run([a.onyx, "optimize", a.model, "-o", opt], check=True, capture_output=True)
r = subprocess.run([a.onyx, "bench", opt, "--threads", str(a.threads), "--iterations", str(a.iterations)],
                   env=dict(os.environ, ONYX_PROFILE="node"), capture_output=True, text=True, check=True)
onyx_ms = {}
for line in r.stderr.splitlines():
    m = re.match(r"\s+(\S+) \((\w+)\)\s+([\d.]+) ms\s+[\d.]+%\s+(\d+) calls", line)
    if m: onyx_ms[m.group(1)] = float(m.group(3)) / int(m.group(4))

so = ort.SessionOptions(); so.intra_op_num_threads = a.threads; so.enable_profiling = True
so.profile_file_prefix = os.path.join(tmp, "ort"); so.log_severity_level = 3
s = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
inp = s.get_inputs()[0]
x = np.random.rand(*[d if isinstance(d, int) else 1 for d in inp.shape]).astype(np.float32)
for _ in range(10 + a.iterations): s.run(None, {inp.name: x})
events = json.load(open(s.end_profiling()))
per_node = collections.OrderedDict()
for e in sorted((e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")), key=lambda e: e["ts"]):
    per_node.setdefault(e["name"][:-12], []).append(e)
ort_convs = collections.defaultdict(list)   # (out channels, out size) -> ms in execution order
ort_total = 0.0
for evs in per_node.values():
    d = sorted(e["dur"] for e in evs[-a.iterations:]); ms = d[len(d) // 2] / 1000; ort_total += ms
    if evs[0]["args"]["op_name"] == "Conv":
        sh = evs[0]["args"]["output_type_shape"][0]["float"]; ort_convs[(sh[1], sh[2])].append(ms)

m = onnx.load(opt)
shapes = {i.name: list(i.dims) for i in m.graph.initializer}
shapes[m.graph.input[0].name] = [d.dim_value or 1 for d in m.graph.input[0].type.tensor_type.shape.dim]
groups = collections.OrderedDict(); used = collections.defaultdict(int)
for n in m.graph.node:
    at = {t.name: helper.get_attribute_value(t) for t in n.attribute}
    xs = shapes.get(n.input[0]) if n.input else None
    if n.op_type in ("FusedConv", "Conv") and xs:
        w = shapes[n.input[1]]; st = at.get("strides", [1, 1]); pd = at.get("pads", [0] * 4); g = at.get("group", 1)
        oh = (xs[2] + pd[0] + pd[2] - w[2]) // st[0] + 1; ow = (xs[3] + pd[1] + pd[3] - w[3]) // st[1] + 1
        shapes[n.output[0]] = [xs[0], w[0], oh, ow]
        key = (w[0], oh); i = used[key]; used[key] += 1
        o = ort_convs[key][i] if i < len(ort_convs[key]) else float("nan")
        gr = groups.setdefault(f"{xs[1]}->{w[0]} k{w[2]} s{st[0]}{' g%d' % g if g > 1 else ''} out{oh}", [0, 0.0, 0.0, 0])
        gr[0] += 1; gr[1] += onyx_ms.get(n.name or n.output[0], 0.0); gr[2] += o
        gr[3] += 2 * w[0] * w[1] * w[2] * w[3] * oh * ow
    elif xs and n.op_type in ("MaxPool", "AveragePool"):
        k = at["kernel_shape"]; st = at.get("strides", [1, 1]); pd = at.get("pads", [0] * 4)
        shapes[n.output[0]] = [xs[0], xs[1], (xs[2] + pd[0] + pd[2] - k[0]) // st[0] + 1, (xs[3] + pd[1] + pd[3] - k[1]) // st[1] + 1]
    elif xs and n.op_type == "Concat":
        shapes[n.output[0]] = xs[:1] + [sum(shapes[i][1] for i in n.input)] + xs[2:]
    elif xs and n.output:
        shapes[n.output[0]] = xs

print(f"total ms per run: Onyx {sum(onyx_ms.values()):.3f}, ORT {ort_total:.3f} (profiling on)")
print("| convolution | count | Onyx ms | ORT ms | Onyx/ORT | GFLOP/s Onyx / ORT |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for k, (c, t, o, fl) in sorted(groups.items(), key=lambda kv: -(kv[1][1] - kv[1][2])):
    print(f"| {k} | {c} | {t:.3f} | {o:.3f} | {t / o if o else float('nan'):.2f} | {fl / t / 1e6 if t else 0:.0f} / {fl / o / 1e6 if o else 0:.0f} |")
print(f"| all convolutions | {sum(g[0] for g in groups.values())} | {sum(g[1] for g in groups.values()):.3f} | "
      f"{sum(g[2] for g in groups.values()):.3f} | | |")
