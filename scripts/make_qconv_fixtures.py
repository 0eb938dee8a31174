#!/usr/bin/env python3
"""Fixtures for Tests/OnyxTests/QConvTests.swift (QDQ Conv fusion into ai.onyx.QConv, issue 7) in
Tests/OnyxTests/Fixtures/qconv/.

For each case a small float Conv model (seeded random weights and bias) is quantized by onnxruntime's own
`quantize_static` (QDQ format, uint8 activations, int8 weights, per-tensor or per-channel, MinMax calibration on 8
seeded inputs): qconv_<case>.onnx; qconv_<case>_x.npy is a held-out input, qconv_<case>_ref.npy onnxruntime's output
with graph optimizations disabled (the QDQ graph run as written: DequantizeLinear -> float Conv -> QuantizeLinear ...)
and qconv_<case>_ort.npy onnxruntime's output with its own QDQ fusion (QLinearConv). qconv_<case>_yscale.npy holds the
scale of the output's QuantizeLinear (one quantum: fused and unfused results may differ by one at rounding ties).
onnxruntime drops a Conv's Relu into the output QuantizeLinear's range; the float models of the Relu cases are kept
(qconv_<case>_float.onnx) so the tests can quantize them with `onyx quantize --mode static`, which keeps the Relu.
qconv_k3s2p1_s8act: int8 (QInt8) activations with a non-zero zero point.
Usage: /tmp/venv/bin/python scripts/make_qconv_fixtures.py   (onnx 1.23.2, onnxruntime 1.32.0, numpy)
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "OnyxTests", "Fixtures", "qconv")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(2026)

# name, N, C, H, W, M, kernel, stride, pad, dilation, group, bias, relu, per_channel
CASES = [
    ("k3s1p1_relu", 1, 5, 9, 9, 13, 3, 1, 1, 1, 1, True, True, True),
    ("k3s2p1", 1, 4, 11, 10, 7, 3, 2, 1, 1, 1, True, False, False),
    ("k1_relu", 2, 19, 15, 15, 8, 1, 1, 0, 1, 1, True, True, True),
    ("k1s2", 1, 16, 14, 14, 24, 1, 2, 0, 1, 1, True, False, True),
    ("k7s2p3", 1, 3, 20, 20, 6, 7, 2, 3, 1, 1, True, True, False),
    ("dil2_nobias", 1, 6, 12, 12, 9, 3, 1, 2, 2, 1, False, False, True),
    ("group2", 1, 6, 8, 8, 4, 3, 1, 1, 1, 2, True, False, False),
]


class Reader(CalibrationDataReader):
    def __init__(self, xs):
        self.it = iter([{"x": x} for x in xs])

    def get_next(self):
        return next(self.it, None)


def make_case(case, rng):
    name, n, c, h, w, m, k, s, p, d, grp, bias, relu, per_channel = case
    wt = (rng.standard_normal((m, c // grp, k, k)) * (1.0 / np.sqrt(c // grp * k * k))).astype(np.float32)
    inits = [numpy_helper.from_array(wt, "w")]
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array((rng.standard_normal(m) * 0.1).astype(np.float32), "b"))
        ins.append("b")
    conv_out = "c" if relu else "y"
    nodes = [helper.make_node("Conv", ins, [conv_out], kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p],
                              dilations=[d, d], group=grp)]
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, h, w])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, m, (h + 2 * p - d * (k - 1) - 1) // s + 1, (w + 2 * p - d * (k - 1) - 1) // s + 1])], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    fp = os.path.join(out, f"_{name}_float.onnx")
    onnx.save(model, fp)
    calib = [rng.standard_normal((n, c, h, w)).astype(np.float32) for _ in range(8)]
    qp = os.path.join(out, f"qconv_{name}.onnx")
    quantize_static(fp, qp, Reader(calib), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    if relu:
        os.replace(fp, os.path.join(out, f"qconv_{name}_float.onnx"))  # for Onyx's own quantizer (Relu kept)
    else:
        os.remove(fp)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = ort.InferenceSession(qp, so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    fused = ort.InferenceSession(qp, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    q = onnx.load(qp)
    consts = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}
    last_q = [nd for nd in q.graph.node if nd.op_type == "QuantizeLinear"][-1]
    yscale = np.asarray(consts[last_q.input[1]], np.float32)
    np.save(os.path.join(out, f"qconv_{name}_x.npy"), x)
    np.save(os.path.join(out, f"qconv_{name}_ref.npy"), ref)
    np.save(os.path.join(out, f"qconv_{name}_ort.npy"), fused)
    np.save(os.path.join(out, f"qconv_{name}_yscale.npy"), yscale)
    ops = [nd.op_type for nd in q.graph.node]
    diff = np.abs(ref - fused).max() / yscale
    print(f"{name}: {ops}; ORT fused vs unfused max diff {diff:.2f} quanta")


for case in CASES:
    make_case(case, rng)

# A ResNet basic block: Conv+Relu -> Conv -> Add(x) -> Relu. qconv_block_float.onnx for Onyx's own quantizer (the
# first QConv absorbs the QuantizeLinear, the second the residual Add and the Relu); qconv_block.onnx quantized by
# onnxruntime (it quantizes the Add too, so only the Conv -> QuantizeLinear parts are fused).
c = 8
w1 = (rng.standard_normal((c, c, 3, 3)) / np.sqrt(c * 9)).astype(np.float32)
w2 = (rng.standard_normal((c, c, 3, 3)) / np.sqrt(c * 9)).astype(np.float32)
b1 = (rng.standard_normal(c) * 0.1).astype(np.float32)
b2 = (rng.standard_normal(c) * 0.1).astype(np.float32)
nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c1"], ["r1"]),
         helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Add", ["c2", "x"], ["s"]),
         helper.make_node("Relu", ["s"], ["y"])]
shape = [1, c, 10, 10]
g = helper.make_graph(nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
                      [numpy_helper.from_array(v, k) for k, v in [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)]])
model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
fp = os.path.join(out, "qconv_block_float.onnx")
onnx.save(model, fp)
qp = os.path.join(out, "qconv_block.onnx")
quantize_static(fp, qp, Reader([rng.standard_normal(shape).astype(np.float32) for _ in range(8)]),
                quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
x = rng.standard_normal(shape).astype(np.float32)
so = ort.SessionOptions()
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
np.save(os.path.join(out, "qconv_block_x.npy"), x)
np.save(os.path.join(out, "qconv_block_ref.npy"), ort.InferenceSession(qp, so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0])
q = onnx.load(qp)
consts = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}
last_q = [nd for nd in q.graph.node if nd.op_type == "QuantizeLinear"][-1]
np.save(os.path.join(out, "qconv_block_yscale.npy"), np.asarray(consts[last_q.input[1]], np.float32))
print("block:", [nd.op_type for nd in q.graph.node])

# int8 (QInt8) activations: Xq int8 with its zero point; the output QuantizeLinear (int8) stays a separate node.
name = "k3s2p1_s8act"
n, c, h, w, m = 1, 4, 11, 10, 7
wt = (rng.standard_normal((m, c, 3, 3)) / np.sqrt(c * 9)).astype(np.float32)
g = helper.make_graph([helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
                      name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, h, w])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, m, 6, 5])],
                      [numpy_helper.from_array(wt, "w"), numpy_helper.from_array((rng.standard_normal(m) * 0.1).astype(np.float32), "b")])
model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
fp = os.path.join(out, f"_{name}_float.onnx")
onnx.save(model, fp)
qp = os.path.join(out, f"qconv_{name}.onnx")
quantize_static(fp, qp, Reader([rng.standard_normal((n, c, h, w)).astype(np.float32) + 0.5 for _ in range(8)]),
                quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
os.remove(fp)
x = rng.standard_normal((n, c, h, w)).astype(np.float32) + 0.5
so = ort.SessionOptions()
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
np.save(os.path.join(out, f"qconv_{name}_x.npy"), x)
np.save(os.path.join(out, f"qconv_{name}_ref.npy"), ort.InferenceSession(qp, so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0])
np.save(os.path.join(out, f"qconv_{name}_ort.npy"), ort.InferenceSession(qp, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0])
q = onnx.load(qp)
consts = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}
last_q = [nd for nd in q.graph.node if nd.op_type == "QuantizeLinear"][-1]
np.save(os.path.join(out, f"qconv_{name}_yscale.npy"), np.asarray(consts[last_q.input[1]], np.float32))
print(name, [nd.op_type for nd in q.graph.node], "x zero point", [consts[nd.input[2]] for nd in q.graph.node if nd.op_type == "QuantizeLinear"])

# Wide outputs (1,600 columns): with two threads the int8 convolution splits the columns between the threads and
# each packs its range in several chunks (the other cases are small enough for the shared-patch-matrix path). Its
# own generator, so the fixtures above stay byte-identical.
WIDE_CASES = [("k3s1p1_wide", 1, 8, 40, 40, 16, 3, 1, 1, 1, 1, True, True, True)]
for case in WIDE_CASES:
    make_case(case, np.random.default_rng(2027))

