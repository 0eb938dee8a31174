#!/usr/bin/env python3
"""Drives a running `onyx serve --model-control-mode explicit` with the unmodified tritonclient (HTTP and gRPC,
JSON and binary tensors) and compares every inference with `onyx run` on the same inputs.

    python tests/tritonclient_test.py --http 127.0.0.1:8000 --grpc 127.0.0.1:8001 --onyx .build/release/onyx \
        --repository Examples/models

scripts/test-tritonclient.sh starts the server and runs this. Ensembles (pipelines and combining ensembles) are
compared with their members run by `onyx run` and combined here as the config says.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype, triton_to_np_dtype

p = argparse.ArgumentParser()
p.add_argument("--http", required=True)
p.add_argument("--grpc", required=True)
p.add_argument("--onyx", required=True)
p.add_argument("--repository", required=True)
args = p.parse_args()

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def onyx_run(model_path, feeds, output_names):
    """Runs `onyx run` and returns {output name: array} (output_<i>.npy follow the model's output order)."""
    with tempfile.TemporaryDirectory() as d:
        cmd = [args.onyx, "run", model_path, "--output-dir", d]
        for name, arr in feeds.items():
            f = os.path.join(d, f"in_{name}.npy")
            np.save(f, arr)
            cmd += ["--input", f"{name}={f}"]
        subprocess.run(cmd, check=True, capture_output=True)
        return {n: np.load(os.path.join(d, f"output_{i}.npy")) for i, n in enumerate(output_names)}


def reference(n, feeds, out_names, version=None):
    """`onyx run` of model n; an ensemble is evaluated from its config by running its members with `onyx run`:
    steps in order (a pipeline), or every step on the inputs with shared outputs averaged / voted (combine)."""
    cfg = h.get_model_config(n)
    if cfg.get("platform") != "ensemble":
        v = version or max(h.get_model_metadata(n)["versions"], key=int)
        return onyx_run(os.path.join(args.repository, n, v, "model.onnx"), feeds,
                        [o["name"] for o in h.get_model_metadata(n)["outputs"]])
    combine = cfg.get("parameters", {}).get("combine", {}).get("string_value", "none")
    tensors, produced = dict(feeds), {}
    for step in cfg["ensemble_scheduling"]["step"]:
        m = step["model_name"]
        sub = {k: tensors[v] for k, v in step["input_map"].items()}
        mo = [o["name"] for o in h.get_model_metadata(m)["outputs"]]
        res = reference(m, sub, mo)
        for k, v in step["output_map"].items():
            produced.setdefault(v, []).append(res[k])
            tensors[v] = res[k]
    out = {}
    for o in out_names:
        vs = produced[o]
        if len(vs) == 1:
            out[o] = vs[0]
        elif combine == "mean":
            out[o] = (np.sum(vs, axis=0) / len(vs)).astype(vs[0].dtype)
        else:  # vote: most common value, ties to the smallest
            st = np.stack(vs)
            out[o] = np.array([min(set(c), key=lambda x: (-list(c).count(x), x)) for c in st.reshape(len(vs), -1).T],
                              dtype=st.dtype).reshape(vs[0].shape)
    return out


def same(a, b):
    if a.dtype.kind in "fc":
        return a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6)
    return a.shape == b.shape and np.array_equal(a, b)


h = httpclient.InferenceServerClient(args.http)
g = grpcclient.InferenceServerClient(args.grpc)

check(h.is_server_live() and g.is_server_live(), "server live (http, grpc)")
check(h.is_server_ready() and g.is_server_ready(), "server ready (http, grpc)")
meta = h.get_server_metadata()
check(meta["name"] == "onyx" and "binary_tensor_data" in meta["extensions"], "server metadata (http)")
check(g.get_server_metadata().name == "onyx", "server metadata (grpc)")

# Repository: nothing loaded in explicit mode; load everything (HTTP for half, gRPC for the rest).
index = h.get_model_repository_index()
names = sorted({m["name"] for m in index})
check(len(names) > 0, f"repository index lists {names}")
for i, n in enumerate(names):
    (h if i % 2 == 0 else g).load_model(n)
    check(h.is_model_ready(n) and g.is_model_ready(n), f"load {n} ({'http' if i % 2 == 0 else 'grpc'}) -> ready")

rng = np.random.default_rng(0)
digits = np.load(os.path.join(os.path.dirname(args.repository), "inputs", "digits.npy")) \
    if os.path.exists(os.path.join(os.path.dirname(args.repository), "inputs", "digits.npy")) else None

for n in names:
    md = h.get_model_metadata(n)
    gmd = g.get_model_metadata(n)
    check(md["name"] == n and gmd.name == n and len(gmd.inputs) == len(md["inputs"]), f"{n}: model metadata (http, grpc)")
    cfg = h.get_model_config(n)
    gcfg = g.get_model_config(n)
    check(cfg["name"] == n and gcfg.config.name == n and gcfg.config.max_batch_size == cfg["max_batch_size"], f"{n}: model config (http, grpc)")
    if cfg.get("platform") == "ensemble":
        hsteps = [(s["model_name"], s.get("input_map"), s.get("output_map")) for s in cfg["ensemble_scheduling"]["step"]]
        gsteps = [(s.model_name, dict(s.input_map), dict(s.output_map)) for s in gcfg.config.ensemble_scheduling.step]
        check(len(gsteps) == len(hsteps) and [s[0] for s in gsteps] == [s[0] for s in hsteps]
              and all(dict(gs[1]) == dict(hs[1] or {}) and dict(gs[2]) == dict(hs[2] or {}) for gs, hs in zip(gsteps, hsteps)),
              f"{n}: gRPC ModelConfig carries the same ensemble_scheduling as HTTP")
    version = max(md["versions"], key=int)
    feeds = {}
    for inp in md["inputs"]:
        shape = [2 if d == -1 else d for d in inp["shape"]]
        dt = triton_to_np_dtype(inp["datatype"])
        if digits is not None and inp["shape"] == [-1, 64]:
            arr = digits.astype(dt)
        elif digits is not None and inp["shape"] == [-1, 1, 8, 8]:
            arr = digits.reshape(-1, 1, 8, 8).astype(dt)
        elif np.issubdtype(dt, np.floating):
            arr = rng.standard_normal(shape).astype(dt)
        else:
            arr = rng.integers(0, 10, shape).astype(dt)
        feeds[inp["name"]] = arr
    out_names = [o["name"] for o in md["outputs"]]
    ref = reference(n, feeds, out_names, version)

    for binary, comp in ((False, None), (True, None), (True, "gzip"), (False, "deflate")):
        ins = []
        for k, arr in feeds.items():
            x = httpclient.InferInput(k, list(arr.shape), np_to_triton_dtype(arr.dtype))
            x.set_data_from_numpy(arr, binary_data=binary)
            ins.append(x)
        outs = [httpclient.InferRequestedOutput(o, binary_data=binary) for o in out_names]
        r = h.infer(n, ins, outputs=outs, request_id="py-1", request_compression_algorithm=comp,
                    response_compression_algorithm=comp)
        check(all(same(r.as_numpy(o), ref[o]) for o in out_names),
              f"{n}: http {'binary' if binary else 'JSON'}{' ' + comp + ' request' if comp else ''} inference equals onyx run")
    ins = []
    for k, arr in feeds.items():
        x = grpcclient.InferInput(k, list(arr.shape), np_to_triton_dtype(arr.dtype))
        x.set_data_from_numpy(arr)
        ins.append(x)
    r = g.infer(n, ins, outputs=[grpcclient.InferRequestedOutput(o) for o in out_names], request_id="py-2")
    check(all(same(r.as_numpy(o), ref[o]) for o in out_names), f"{n}: grpc inference equals onyx run")
    check(r.get_response().id == "py-2", f"{n}: grpc request id echoed")

    st = h.get_inference_statistics(n)
    gst = g.get_inference_statistics(n)
    s0 = st["model_stats"][0]
    check(s0["inference_stats"]["success"]["count"] >= 3 and s0["inference_count"] >= 6, f"{n}: statistics (http)")
    check(gst.model_stats[0].inference_stats.success.count >= 3, f"{n}: statistics (grpc)")

# Classification extension: top-3 of the CNN's probabilities as "value:index:label", checked against numpy.
if "digits_cnn" in names and digits is not None:
    x = digits[:5].reshape(-1, 1, 8, 8).astype(np.float32)
    probs = onyx_run(os.path.join(args.repository, "digits_cnn", "1", "model.onnx"), {"image": x}, ["label", "probabilities"])["probabilities"]
    labels = open(os.path.join(args.repository, "digits_cnn", "labels.txt")).read().split()
    want = [["%f:%d:%s" % (p[j], j, labels[j]) for j in np.argsort(-p, kind="stable")[:3]] for p in probs]
    hi = httpclient.InferInput("image", list(x.shape), "FP32"); hi.set_data_from_numpy(x, binary_data=True)
    gi = grpcclient.InferInput("image", list(x.shape), "FP32"); gi.set_data_from_numpy(x)
    for binary in (False, True):
        r = h.infer("digits_cnn", [hi], outputs=[httpclient.InferRequestedOutput("probabilities", binary_data=binary, class_count=3)])
        got = [[v.decode() if isinstance(v, bytes) else str(v) for v in row] for row in r.as_numpy("probabilities")]
        check(got == want, f"digits_cnn: http classification top-3 ({'binary' if binary else 'JSON'}) {got[0]}")
    r = g.infer("digits_cnn", [gi], outputs=[grpcclient.InferRequestedOutput("probabilities", class_count=3)])
    got = [[v.decode() if isinstance(v, bytes) else str(v) for v in row] for row in r.as_numpy("probabilities")]
    check(got == want, f"digits_cnn: grpc classification top-3 {got[0]}")
    check(g.get_model_config("digits_cnn").config.output[1].label_filename == "labels.txt", "digits_cnn: grpc config label_filename")

# Errors surface as InferenceServerException on both protocols.
for client, label in ((h, "http"), (g, "grpc")):
    try:
        client.get_model_metadata("no_such_model")
        check(False, f"{label}: unknown model raises")
    except InferenceServerException as e:
        check("unknown model" in str(e), f"{label}: unknown model raises ({e})")

# Unload through gRPC and HTTP, then the model is not ready.
n = names[0]
g.unload_model(n)
check(not h.is_model_ready(n), f"unload {n} (grpc) -> not ready")
h.load_model(n)
h.unload_model(n)
check(not g.is_model_ready(n), f"reload + unload {n} (http) -> not ready")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
