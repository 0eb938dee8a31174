#!/usr/bin/env python3
"""Per-node timing of a CNN with convolution shapes and GFLOP/s, from Onyx's per-node profile.

    onyx optimize MODEL.onnx -o /tmp/opt.onnx          # the graph Onyx runs (node names n0, n3, ...)
    ONYX_PROFILE=node onyx bench MODEL.onnx --threads 2 --iterations 60 2> /tmp/profile.txt
    python benchmarks/profile_nodes.py /tmp/opt.onnx /tmp/profile.txt

Groups the FusedConv / Conv nodes by shape (Cin->M, kernel, stride, output size) and prints per-run milliseconds
and GFLOP/s (2*M*K*N / time) per group, other ops by type. Needs the onnx package.
"""
import onnx, sys, re
from onnx import shape_inference, helper
m = onnx.load(sys.argv[1])
g = m.graph
# shapes: run through original-model shape inference is hard (fused ops); compute conv output sizes by hand
shapes = {i.name: list(i.dims) for i in g.initializer}
shapes[g.input[0].name] = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
info = {}
for n in g.node:
    a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
    x = shapes.get(n.input[0])
    if n.op_type in ("FusedConv", "Conv") and x:
        w = shapes[n.input[1]]
        st = a.get("strides", [1, 1]); pads = a.get("pads", [0, 0, 0, 0])
        oh = (x[2] + pads[0] + pads[2] - w[2]) // st[0] + 1; ow = (x[3] + pads[1] + pads[3] - w[3]) // st[1] + 1
        shapes[n.output[0]] = [x[0], w[0], oh, ow]
        M, K, N = w[0], w[1] * w[2] * w[3], oh * ow
        info[n.name or n.output[0]] = (M, K, N, 2 * M * K * N, f"{w[1]}->{M} k{w[2]} s{st[0]} out{oh}")
    elif n.op_type == "MaxPool" and x:
        k = a["kernel_shape"]; st = a.get("strides", [1, 1]); pads = a.get("pads", [0, 0, 0, 0])
        shapes[n.output[0]] = [x[0], x[1], (x[2] + pads[0] + pads[2] - k[0]) // st[0] + 1, (x[3] + pads[1] + pads[3] - k[1]) // st[1] + 1]
rows = []
for l in open(sys.argv[2]).read().splitlines():
    mm = re.match(r"\s+(\S+) \((\w+)\)\s+([\d.]+) ms\s+[\d.]+%\s+(\d+) calls", l)
    if mm: rows.append((mm.group(1), mm.group(2), float(mm.group(3)) / int(mm.group(4)), info.get(mm.group(1))))
agg = {}
tot = 0
for name, op, ms, inf in rows:
    tot += ms
    k = inf[4] if inf else op
    a = agg.setdefault(k, [0, 0, 0, inf]); a[0] += ms; a[1] += 1; a[2] += inf[3] if inf else 0
print("total ms/run", round(tot, 2))
for k, (ms, c, fl, inf) in sorted(agg.items(), key=lambda x: -x[1][0]):
    s = f"M{inf[0]:5d} K{inf[1]:5d} N{inf[2]:6d}" if inf else ""
    print(f"{k:26s} {s:26s} x{c:2d} {ms:7.3f} ms  {fl/ms/1e6 if fl else 0:6.1f} GFLOP/s")
