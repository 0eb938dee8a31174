#!/usr/bin/env python3
"""Reference data for Tests/OnyxTests/CompressTests.swift (model compression, issue 7).

Run from the repository root after building the CLI:
    swift build && /tmp/venv/bin/python scripts/make_compress_fixtures.py [path/to/onyx]
Writes Tests/OnyxTests/Fixtures/compress/:
- digits_train.csv: the 1,437 training rows of the digits split used by scripts/make_examples.py
  (pixel_0..pixel_63 scaled to [0, 1], label) — distillation training data.
- digits_teacher.onnx: a bigger scikit-learn MLPClassifier (64 -> 256 -> 128 -> 10) trained on them (teacher).
- digits_mlp_int8.onnx / digits_mlp_int8_pc.onnx / digits_mlp_fp16.onnx / digits_mlp_static_{qdq,qop}.onnx:
  Examples/models/digits_mlp quantized (dynamic per-tensor and per-channel; static QDQ minmax and QOperator entropy,
  calibrated on digits_train.csv) and converted to fp16 by the onyx CLI given as argument.
- *_ort_probabilities.npy: onnxruntime's probabilities for those files on Examples/data/digits_test.csv,
  so the tests check that onnxruntime runs Onyx's output files and that Onyx computes the same outputs.
- small_cnn.onnx (random weights, seed 0: Conv-BN-Relu, Conv-Relu-MaxPool, Conv-Add-Relu, GlobalAveragePool,
  Flatten, Gemm, Softmax), small_cnn_input.npy, and small_cnn_pruned50.onnx written by
  `onyx prune --structured channels --sparsity 0.5`, with onnxruntime's outputs for both
  (small_cnn_ort_output.npy, small_cnn_pruned50_ort_output.npy); small_cnn_int8.onnx (dynamic, per-channel,
  ConvInteger) and small_cnn_static_qop.onnx (QLinearConv, calibrated on small_cnn_calibration.npz) with
  onnxruntime's outputs (small_cnn_int8_ort_output.npy, small_cnn_static_qop_ort_output.npy).
- reference.json: accuracies measured by onnxruntime (fp32, teacher, onnxruntime's own quantize_dynamic).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
out = os.path.join(root, "Tests", "OnyxTests", "Fixtures", "compress")
os.makedirs(out, exist_ok=True)
onyx = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, ".build", "debug", "onyx")
mlp = os.path.join(root, "Examples", "models", "digits_mlp", "1", "model.onnx")

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
with open(os.path.join(out, "digits_train.csv"), "w") as f:
    f.write(",".join([f"pixel_{i}" for i in range(64)] + ["label"]) + "\n")
    for row, lab in zip(Xtr, ytr):
        f.write(",".join(f"{v:.4g}" for v in row) + f",{lab}\n")

# The test CSV as the tests read it (4 decimals, as written by make_examples.py).
test = np.loadtxt(os.path.join(root, "Examples", "data", "digits_test.csv"), delimiter=",", skiprows=1, dtype=np.float32)
Xcsv, ycsv = test[:, :64], test[:, 64].astype(np.int64)

teacher = MLPClassifier(hidden_layer_sizes=(256, 128), max_iter=500, random_state=0).fit(Xtr, ytr)
onx = to_onnx(teacher, Xtr[:1], options={id(teacher): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
onx.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
teacher_path = os.path.join(out, "digits_teacher.onnx")
with open(teacher_path, "wb") as f:
    f.write(onx.SerializeToString())


def run(path, x):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    dt = np.float16 if s.get_inputs()[0].type == "tensor(float16)" else np.float32
    label, probs = s.run(None, {s.get_inputs()[0].name: x.astype(dt)})
    return label, probs


ref = {}
ref["fp32_accuracy"] = float((run(mlp, Xcsv)[0] == ycsv).mean())
ref["teacher_accuracy"] = float((run(teacher_path, Xcsv)[0] == ycsv).mean())
ref["teacher_parameters"] = int(sum(c.size for c in teacher.coefs_) + sum(b.size for b in teacher.intercepts_))
with tempfile.TemporaryDirectory() as tmp:
    q = os.path.join(tmp, "ort_int8.onnx")
    quantize_dynamic(mlp, q, weight_type=QuantType.QInt8)
    ref["ort_quantize_dynamic_accuracy"] = float((run(q, Xcsv)[0] == ycsv).mean())
    ref["ort_quantize_dynamic_bytes"] = os.path.getsize(q)

# Files produced by Onyx, then run by onnxruntime.
jobs = {
    "digits_mlp_int8": ["quantize", mlp, "--mode", "dynamic"],
    "digits_mlp_int8_pc": ["quantize", mlp, "--mode", "dynamic", "--per-channel"],
    "digits_mlp_fp16": ["convert-precision", mlp, "--to", "fp16", "--keep-io-fp32"],
    "digits_mlp_static_qdq": ["quantize", mlp, "--mode", "static", "--calibration", os.path.join(out, "digits_train.csv"),
                              "--method", "minmax", "--format", "qdq"],
    "digits_mlp_static_qop": ["quantize", mlp, "--mode", "static", "--calibration", os.path.join(out, "digits_train.csv"),
                              "--method", "entropy", "--format", "qoperator"],
}
for name, args in jobs.items():
    path = os.path.join(out, name + ".onnx")
    subprocess.run([onyx] + args + ["-o", path, "--bench-iterations", "0"], check=True, stdout=subprocess.DEVNULL)
    label, probs = run(path, Xcsv)
    np.save(os.path.join(out, name + "_ort_probabilities.npy"), probs.astype(np.float32))
    ref[name + "_ort_accuracy"] = float((label == ycsv).mean())

# A small CNN for structured channel pruning.
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)


def init(name, shape, scale=0.2):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


inits = [init("c1_w", (32, 3, 3, 3)), init("c1_b", (32,)),
         numpy_helper.from_array((1 + 0.1 * rng.standard_normal(32)).astype(np.float32), "bn_scale"),
         init("bn_b", (32,), 0.1), init("bn_mean", (32,), 0.1),
         numpy_helper.from_array((1 + rng.random(32)).astype(np.float32), "bn_var"),
         init("c2_w", (64, 32, 3, 3), 0.1), init("c3_w", (64, 64, 3, 3), 0.05), init("c3_b", (64, 1, 1), 0.1),
         init("fc_w", (10, 64), 0.3), init("fc_b", (10,), 0.1)]
# Vary channel magnitudes so the L1 ranking is not a coin toss.
for t in inits:
    if t.name in ("c1_w", "c2_w", "c3_w"):
        a = numpy_helper.to_array(t).copy()
        a *= np.linspace(0.2, 1.8, a.shape[0], dtype=np.float32)[rng.permutation(a.shape[0])][:, None, None, None]
        t.CopyFrom(numpy_helper.from_array(a, t.name))
nodes = [
    helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], name="conv1", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
    helper.make_node("BatchNormalization", ["c1", "bn_scale", "bn_b", "bn_mean", "bn_var"], ["bn1"], name="bn1"),
    helper.make_node("Relu", ["bn1"], ["r1"], name="relu1"),
    helper.make_node("Conv", ["r1", "c2_w"], ["c2"], name="conv2", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
    helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
    helper.make_node("MaxPool", ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("Conv", ["p2", "c3_w"], ["c3"], name="conv3", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
    helper.make_node("Add", ["c3", "c3_b"], ["c3b"], name="bias3"),
    helper.make_node("Relu", ["c3b"], ["r3"], name="relu3"),
    helper.make_node("GlobalAveragePool", ["r3"], ["gap"], name="gap"),
    helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
    helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc", transB=1),
    helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
]
graph = helper.make_graph(nodes, "small_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 32, 32])],
                          [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10])], inits)
cnn = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
cnn_path = os.path.join(out, "small_cnn.onnx")
with open(cnn_path, "wb") as f:
    f.write(cnn.SerializeToString())
xin = rng.random((4, 3, 32, 32), dtype=np.float32)
np.save(os.path.join(out, "small_cnn_input.npy"), xin)
pruned_path = os.path.join(out, "small_cnn_pruned50.onnx")
subprocess.run([onyx, "prune", cnn_path, "--structured", "channels", "--sparsity", "0.5", "-o", pruned_path,
                "--bench-iterations", "0"], check=True, stdout=subprocess.DEVNULL)
for name, path in [("small_cnn", cnn_path), ("small_cnn_pruned50", pruned_path)]:
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    np.save(os.path.join(out, name + "_ort_output.npy"), s.run(None, {"x": xin})[0])
    ref[name + "_bytes"] = os.path.getsize(path)

# Conv quantization: dynamic per-channel (ConvInteger) and static QOperator (QLinearConv) calibrated on an .npz.
np.savez(os.path.join(out, "small_cnn_calibration.npz"), x=rng.random((8, 3, 32, 32), dtype=np.float32))
cnn_jobs = {
    "small_cnn_int8": ["quantize", cnn_path, "--mode", "dynamic", "--per-channel"],
    "small_cnn_static_qop": ["quantize", cnn_path, "--mode", "static", "--calibration",
                             os.path.join(out, "small_cnn_calibration.npz"), "--format", "qoperator", "--per-channel"],
}
for name, args in cnn_jobs.items():
    path = os.path.join(out, name + ".onnx")
    subprocess.run([onyx] + args + ["-o", path, "--bench-iterations", "0"], check=True, stdout=subprocess.DEVNULL)
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    np.save(os.path.join(out, name + "_ort_output.npy"), s.run(None, {"x": xin})[0])

with open(os.path.join(out, "reference.json"), "w") as f:
    json.dump(ref, f, indent=2, sort_keys=True)
print(json.dumps(ref, indent=2, sort_keys=True))
