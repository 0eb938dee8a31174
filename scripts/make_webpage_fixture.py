#!/usr/bin/env python3
"""Image-model fixture for the web page test (Tests/OnyxTests/ServerWebPageTests.swift).

Run with a Python that has onnx==1.23.2:
    python scripts/make_webpage_fixture.py Tests/OnyxTests/Fixtures/webpage
Writes tiny_cnn/1/model.onnx: image float [1,3,8,8] (NCHW) -> Conv 3->2 channels 3x3 -> GlobalAveragePool ->
Flatten -> scores float [1,2]. The page must offer an image picker for its rank-4 input.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1] if len(sys.argv) > 1 else "Tests/OnyxTests/Fixtures/webpage"
rng = np.random.default_rng(0)
w = numpy_helper.from_array(rng.standard_normal((2, 3, 3, 3)).astype(np.float32), "W")
g = helper.make_graph(
    [helper.make_node("Conv", ["image", "W"], ["c"], pads=[1, 1, 1, 1]),
     helper.make_node("GlobalAveragePool", ["c"], ["p"]),
     helper.make_node("Flatten", ["p"], ["scores"])],
    "tiny_cnn",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
    [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2])],
    initializer=[w])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
onnx.checker.check_model(m)
os.makedirs(os.path.join(out, "tiny_cnn", "1"), exist_ok=True)
onnx.save(m, os.path.join(out, "tiny_cnn", "1", "model.onnx"))
