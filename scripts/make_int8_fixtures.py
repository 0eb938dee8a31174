#!/usr/bin/env python3
"""Fixtures for Tests/OnyxTests/Int8GemmTests.swift (the int8 GEMM kernels, issue 7) in Tests/OnyxTests/Fixtures/int8/.

- mmi_<case>.onnx: one MatMulInteger node, B an initializer (packed at load) or a graph input (packed per call),
  odd sizes, zero points != 0 (per-tensor and per-column), uint8/int8 A and B; mmi_<case>_*.npy hold the inputs and
  the expected int32 product computed exactly by numpy (int64 arithmetic, no overflow at these sizes); onnxruntime
  1.32 must agree (checked here, the script stops otherwise).
- dyn_mlp.onnx: a float MLP 45 -> 37 -> 19 (MatMul + Add bias, Relu) quantized by onnxruntime's own
  `quantize_dynamic` (int8 weights, per-channel), i.e. DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul
  [-> Add]; dyn_mlp_x.npy an input [3, 5, 45], dyn_mlp_ort.npy onnxruntime's output.
Usage: /tmp/venv/bin/python scripts/make_int8_fixtures.py   (onnx 1.23.2, onnxruntime 1.32.0, numpy)
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "OnyxTests", "Fixtures", "int8")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(77)
NP = {"u8": np.uint8, "s8": np.int8}
TP = {"u8": TensorProto.UINT8, "s8": TensorProto.INT8}


def ints(shape, t):
    lo, hi = (0, 256) if t == "u8" else (-128, 128)
    return rng.integers(lo, hi, shape).astype(NP[t])


def save(model, name):
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, name))


# name, A shape, K, N, A type, B type, A zp, B zp per column?, B constant?
CASES = [
    ("tiny", [1, 1], 1, "u8", "s8", 3, False, True),
    ("odd", [7, 13], 5, "u8", "s8", 131, True, True),
    ("wide", [37, 70], 33, "u8", "s8", 255, False, True),
    ("batched", [2, 19, 45], 40, "u8", "s8", 17, True, True),
    ("u8u8", [9, 21], 35, "u8", "u8", 200, True, True),
    ("s8s8", [11, 66], 17, "s8", "s8", -5, False, True),
    ("runtimeB", [6, 100], 50, "u8", "s8", 128, True, False),
]
for name, ashape, n, at, bt, azp, per_col, const_b in CASES:
    k = ashape[-1]
    a, b = ints(ashape, at), ints([k, n], bt)
    bzp = ints([n] if per_col else [], bt)
    azp_t = np.array(azp, NP[at])
    ins = [helper.make_tensor_value_info("A", TP[at], ashape)]
    inits = [numpy_helper.from_array(azp_t, "a_zp"), numpy_helper.from_array(bzp, "b_zp")]
    if const_b:
        inits.append(numpy_helper.from_array(b, "B"))
    else:
        ins.append(helper.make_tensor_value_info("B", TP[bt], [k, n]))
    node = helper.make_node("MatMulInteger", ["A", "B", "a_zp", "b_zp"], ["Y"])
    g = helper.make_graph([node], "mmi_" + name, ins, [helper.make_tensor_value_info("Y", TensorProto.INT32, ashape[:-1] + [n])], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), f"mmi_{name}.onnx")
    expect = ((a.astype(np.int64) - azp) @ (b.astype(np.int64) - bzp.astype(np.int64))).astype(np.int32)
    feeds = {"A": a} if const_b else {"A": a, "B": b}
    try:
        got = ort.InferenceSession(os.path.join(out, f"mmi_{name}.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        assert np.array_equal(got, expect), f"onnxruntime disagrees with numpy on {name}"
    except ort.capi.onnxruntime_pybind11_state.NotImplemented:
        print(f"{name}: onnxruntime has no kernel for {at} x {bt}; numpy reference only")
    np.save(os.path.join(out, f"mmi_{name}_a.npy"), a)
    if not const_b:
        np.save(os.path.join(out, f"mmi_{name}_b.npy"), b)
    np.save(os.path.join(out, f"mmi_{name}_y.npy"), expect)

# Dynamic-quantized MLP, quantized by onnxruntime itself.
w1 = (rng.standard_normal((45, 37)) * 0.2).astype(np.float32)
b1 = (rng.standard_normal(37) * 0.1).astype(np.float32)
w2 = (rng.standard_normal((37, 19)) * 0.2).astype(np.float32)
b2 = (rng.standard_normal(19) * 0.1).astype(np.float32)
nodes = [helper.make_node("MatMul", ["x", "w1"], ["h0"]), helper.make_node("Add", ["h0", "b1"], ["h1"]),
         helper.make_node("Relu", ["h1"], ["h2"]), helper.make_node("MatMul", ["h2", "w2"], ["y0"]),
         helper.make_node("Add", ["y0", "b2"], ["y"])]
g = helper.make_graph(nodes, "dyn_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 5, 45])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 5, 19])],
                      [numpy_helper.from_array(v, k) for k, v in {"w1": w1, "b1": b1, "w2": w2, "b2": b2}.items()])
fp = os.path.join(out, "dyn_mlp_fp32.onnx")
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "dyn_mlp_fp32.onnx")
quantize_dynamic(fp, os.path.join(out, "dyn_mlp.onnx"), weight_type=QuantType.QInt8, per_channel=True)
os.remove(fp)
x = rng.standard_normal((3, 5, 45)).astype(np.float32) * 2 + 0.3
np.save(os.path.join(out, "dyn_mlp_x.npy"), x)
y = ort.InferenceSession(os.path.join(out, "dyn_mlp.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
np.save(os.path.join(out, "dyn_mlp_ort.npy"), y)
print("wrote", sorted(os.listdir(out)))
