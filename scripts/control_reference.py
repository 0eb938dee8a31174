#!/usr/bin/env python3
"""Prints the onnxruntime reference values used by Tests/OnyxTests/ControlFlowTests.swift."""
import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper


def run(graph, feeds, opset=21):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def r(a):
    return [round(float(v), 6) for v in np.asarray(a).ravel()]


# GRU, bidirectional, sequence_lens [3, 1]: steps past a batch entry's length give zero Y, Y_h holds the last valid state.
T, B, I, H = 3, 2, 2, 2
x = (np.arange(T * B * I, dtype=np.float32).reshape(T, B, I) - 5) / 4
w = (np.arange(2 * 3 * H * I, dtype=np.float32).reshape(2, 3 * H, I) % 5 - 2) / 5
rr = (np.arange(2 * 3 * H * H, dtype=np.float32).reshape(2, 3 * H, H) % 7 - 3) / 7
lens = np.array([3, 1], np.int32)
g = helper.make_graph(
    [helper.make_node("GRU", ["X", "W", "R", "", "L"], ["Y", "Yh"], hidden_size=H, direction="bidirectional")],
    "gru",
    [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, I]),
     helper.make_tensor_value_info("W", TensorProto.FLOAT, [2, 3 * H, I]),
     helper.make_tensor_value_info("R", TensorProto.FLOAT, [2, 3 * H, H]),
     helper.make_tensor_value_info("L", TensorProto.INT32, [B])],
    [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None),
     helper.make_tensor_value_info("Yh", TensorProto.FLOAT, None)])
y, yh = run(g, {"X": x, "W": w, "R": rr, "L": lens})
print("gru Y:", r(y))
print("gru Y_h:", r(yh))

# Scan (opset 11) with a reversed scan input and scan output axis 1; the body only copies values.
body = helper.make_graph(
    [helper.make_node("Identity", ["s"], ["s_out"]), helper.make_node("Identity", ["x"], ["y"])],
    "body",
    [helper.make_tensor_value_info("s", TensorProto.FLOAT, [2]), helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
    [helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [2]), helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
g = helper.make_graph(
    [helper.make_node("Scan", ["S", "X"], ["S_out", "Y"], body=body, num_scan_inputs=1,
                      scan_input_directions=[1], scan_output_axes=[1])],
    "scan",
    [helper.make_tensor_value_info("S", TensorProto.FLOAT, [2]), helper.make_tensor_value_info("X", TensorProto.FLOAT, [3, 2])],
    [helper.make_tensor_value_info("S_out", TensorProto.FLOAT, None), helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
s_out, y = run(g, {"S": np.array([7, 8], np.float32), "X": np.arange(6, dtype=np.float32).reshape(3, 2)}, opset=11)
print("scan Y shape:", list(y.shape), "values:", r(y))
