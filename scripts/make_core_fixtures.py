#!/usr/bin/env python3
"""Fixtures for Onyx's core tests (tensor files, model loading, session behaviour).

Run with a Python that has onnx==1.23.2, onnxruntime and numpy:
    python scripts/make_core_fixtures.py Tests/OnyxTests/Fixtures/core
Writes:
- npy/<dtype>.npy: arrays written by numpy itself (reference for the .npy reader), and their values as JSON;
- pb/<dtype>.pb: TensorProtos written by onnx.numpy_helper;
- mlp.onnx + mlp_input.npy + mlp_output.npy: a small MLP (MatMul, Add, Relu, Gemm, Softmax) with
  symbolic batch dimension; the expected output is onnxruntime's;
- external/model.onnx + external/weights.bin: the same MLP with its initializers stored as external data;
- bad/: models with structural errors (undefined tensor, cycle, duplicate output, initializer size mismatch,
  missing external file, unsupported operator).
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1] if len(sys.argv) > 1 else "Tests/OnyxTests/Fixtures/core"
os.makedirs(os.path.join(out, "npy"), exist_ok=True)
os.makedirs(os.path.join(out, "pb"), exist_ok=True)
os.makedirs(os.path.join(out, "external"), exist_ok=True)
os.makedirs(os.path.join(out, "bad"), exist_ok=True)
rng = np.random.default_rng(7)

arrays = {
    "float32": rng.standard_normal((2, 3, 4)).astype(np.float32),
    "float64": rng.standard_normal((3, 2)).astype(np.float64),
    "float16": rng.standard_normal((5,)).astype(np.float16),
    "int8": rng.integers(-128, 127, (4, 4), dtype=np.int8),
    "int16": rng.integers(-3000, 3000, (3,), dtype=np.int16),
    "int32": rng.integers(-100000, 100000, (2, 2), dtype=np.int32),
    "int64": rng.integers(-(2**40), 2**40, (6,), dtype=np.int64),
    "uint8": rng.integers(0, 255, (2, 5), dtype=np.uint8),
    "uint16": rng.integers(0, 60000, (3,), dtype=np.uint16),
    "uint32": rng.integers(0, 2**31, (3,), dtype=np.uint32),
    "uint64": rng.integers(0, 2**40, (2,), dtype=np.uint64),
    "bool": rng.integers(0, 2, (7,)).astype(np.bool_),
    "scalar": np.array(3.5, dtype=np.float32),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "fortran": np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
    "string": np.array(["a", "héllo", "", "ONNX"]),
}
values = {}
for name, a in arrays.items():
    np.save(os.path.join(out, "npy", name + ".npy"), a)
    values[name] = {"dtype": str(a.dtype), "shape": list(a.shape),
                    "values": [str(v) for v in a.flatten(order="C").tolist()] if a.dtype.kind == "U"
                    else [float(v) for v in a.flatten(order="C").astype(np.float64).tolist()]}
    if name not in ("fortran",):
        t = numpy_helper.from_array(a if a.dtype.kind != "U" else a.astype(object), name)
        with open(os.path.join(out, "pb", name + ".pb"), "wb") as f:
            f.write(t.SerializeToString())
with open(os.path.join(out, "npy", "values.json"), "w") as f:
    json.dump(values, f, indent=0)

# Small MLP with a symbolic batch dimension.
w1 = rng.standard_normal((8, 16)).astype(np.float32) * 0.5
b1 = rng.standard_normal((16,)).astype(np.float32) * 0.1
w2 = rng.standard_normal((16, 4)).astype(np.float32) * 0.5
b2 = rng.standard_normal((4,)).astype(np.float32) * 0.1
nodes = [
    helper.make_node("MatMul", ["x", "w1"], ["h0"], name="fc1"),
    helper.make_node("Add", ["h0", "b1"], ["h1"], name="bias1"),
    helper.make_node("Relu", ["h1"], ["h2"], name="relu1"),
    helper.make_node("Gemm", ["h2", "w2", "b2"], ["logits"], name="fc2"),
    helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
]
graph = helper.make_graph(
    nodes, "mlp",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
    [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 4])],
    [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
     numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b2, "b2")],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onyx-fixtures")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(out, "mlp.onnx"))
x = rng.standard_normal((3, 8)).astype(np.float32)
np.save(os.path.join(out, "mlp_input.npy"), x)
sess = ort.InferenceSession(os.path.join(out, "mlp.onnx"), providers=["CPUExecutionProvider"])
np.save(os.path.join(out, "mlp_output.npy"), sess.run(None, {"x": x})[0])

# External data variant.
ext = onnx.load(os.path.join(out, "mlp.onnx"))
onnx.save_model(ext, os.path.join(out, "external", "model.onnx"), save_as_external_data=True,
                all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)

# Structurally bad models (checked by Onyx's loader, not by onnx.checker).
def bad(name, nodes, inits=(), outputs=("y",)):
    g = helper.make_graph(nodes, name,
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, [2]) for o in outputs],
                          list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, os.path.join(out, "bad", name + ".onnx"))

bad("undefined_tensor", [helper.make_node("Add", ["x", "nowhere"], ["y"], name="add1")])
bad("cycle", [helper.make_node("Add", ["x", "b"], ["a"], name="n1"), helper.make_node("Relu", ["a"], ["b"], name="n2"),
              helper.make_node("Relu", ["a"], ["y"], name="n3")])
bad("duplicate_output", [helper.make_node("Relu", ["x"], ["y"], name="r1"), helper.make_node("Relu", ["x"], ["y"], name="r2")])
t = TensorProto(); t.name = "w"; t.data_type = TensorProto.FLOAT; t.dims.extend([4]); t.raw_data = b"\x00" * 8
bad("initializer_size", [helper.make_node("Add", ["x", "w"], ["y"], name="add1")], inits=[t])
e = TensorProto(); e.name = "w"; e.data_type = TensorProto.FLOAT; e.dims.extend([2])
e.data_location = TensorProto.EXTERNAL
for k, v in (("location", "missing.bin"), ("offset", "0"), ("length", "8")):
    entry = e.external_data.add(); entry.key = k; entry.value = v
bad("missing_external", [helper.make_node("Add", ["x", "w"], ["y"], name="add1")], inits=[e])
bad("unsupported", [helper.make_node("FancyOp", ["x"], ["a"], name="f1", domain="com.example"),
                    helper.make_node("FancyOp", ["a"], ["b"], name="f2", domain="com.example"),
                    helper.make_node("OtherOp", ["b"], ["y"], name="o1", domain="com.example")])
print("fixtures written to", out)
