#!/usr/bin/env python3
"""Model repository fixtures for the server tests (Tests/OnyxTests/ServerTests.swift).

Run with a Python that has onnx==1.23.2:
    python scripts/make_serve_fixtures.py Tests/OnyxTests/Fixtures/serve
Writes a Triton-layout repository:
- identity_types/1/model.onnx: one Identity per v2 datatype, input in_<DT> -> output out_<DT>, each 1-D with a
  symbolic batch dimension, no config (completed from the model);
- identity_fp32/{1,2}/model.onnx + config.pbtxt: X float [batch,4] -> Y, dynamic batching, 2 instances,
  version_policy all;
- broken/1/model.onnx: not a model (must be UNAVAILABLE while the others serve);
- badconfig/1/model.onnx + a config.pbtxt with a syntax error;
- slow_queue/1/model.onnx (identity) whose batcher waits 1 s for a batch of 8 and queues at most 1 request, so a
  second request is rejected (queue full) and a request with a short timeout expires in the queue.
- vote_col{0,1,2}/1/model.onnx: X int64 [batch, 3] -> Y int64 [batch], column i (Gather), no config;
  vote3/config.pbtxt: an Onyx combining ensemble (combine: vote) of the three; vote_input.npy and
  vote_expected.npy: a batch of rows and numpy's majority vote of the columns (ties: the smallest value);
- ens_missing/config.pbtxt: an ensemble whose member does not exist (must be UNAVAILABLE with the reason).
The bundled examples (digits MLP, CNN, pipeline, ensemble) are copied from Examples/models by the tests themselves.
"""
import numpy as np
import os
import sys

import onnx
from onnx import TensorProto, helper

out = sys.argv[1] if len(sys.argv) > 1 else "Tests/OnyxTests/Fixtures/serve"

types = {
    "BOOL": TensorProto.BOOL, "UINT8": TensorProto.UINT8, "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32, "UINT64": TensorProto.UINT64, "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16, "INT32": TensorProto.INT32, "INT64": TensorProto.INT64,
    "FP16": TensorProto.FLOAT16, "FP32": TensorProto.FLOAT, "FP64": TensorProto.DOUBLE,
    "BYTES": TensorProto.STRING,
}


def save(model, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, path)


inputs, outputs, nodes = [], [], []
for name, t in types.items():
    inputs.append(helper.make_tensor_value_info(f"in_{name}", t, ["n"]))
    outputs.append(helper.make_tensor_value_info(f"out_{name}", t, ["n"]))
    nodes.append(helper.make_node("Identity", [f"in_{name}"], [f"out_{name}"], name=f"id_{name}"))
g = helper.make_graph(nodes, "identity_types", inputs, outputs)
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
     os.path.join(out, "identity_types/1/model.onnx"))

x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 4])
y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 4])
g = helper.make_graph([helper.make_node("Identity", ["X"], ["Y"])], "identity_fp32", [x], [y])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
for v in (1, 2):
    save(m, os.path.join(out, f"identity_fp32/{v}/model.onnx"))
with open(os.path.join(out, "identity_fp32/config.pbtxt"), "w") as f:
    f.write("""# Triton text-format config
name: "identity_fp32"
platform: "onnxruntime_onnx"
max_batch_size: 8
version_policy: { all { } }
input [
  {
    name: "X"
    data_type: TYPE_FP32
    dims: [ 4 ]
  }
]
output [
  {
    name: "Y"
    data_type: TYPE_FP32
    dims: [ 4 ]
  }
]
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 2000
  default_queue_policy { max_queue_size: 64 }
}
instance_group [ { count: 2, kind: KIND_CPU } ]
""")

os.makedirs(os.path.join(out, "broken/1"), exist_ok=True)
with open(os.path.join(out, "broken/1/model.onnx"), "wb") as f:
    f.write(b"this is not an ONNX model")

save(m, os.path.join(out, "badconfig/1/model.onnx"))
with open(os.path.join(out, "badconfig/config.pbtxt"), "w") as f:
    f.write('name: "badconfig"\nmax_batch_size: 8\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 4 \n')

save(m, os.path.join(out, "slow_queue/1/model.onnx"))
with open(os.path.join(out, "slow_queue/config.pbtxt"), "w") as f:
    f.write("""max_batch_size: 8
dynamic_batching {
  preferred_batch_size: 8
  max_queue_delay_microseconds: 1000000
  default_queue_policy { max_queue_size: 1 }
}
""")

for i in range(3):
    xi = helper.make_tensor_value_info("X", TensorProto.INT64, ["batch", 3])
    yi = helper.make_tensor_value_info("Y", TensorProto.INT64, ["batch"])
    idx = helper.make_tensor("idx", TensorProto.INT64, [], [i])
    g = helper.make_graph([helper.make_node("Gather", ["X", "idx"], ["Y"], axis=1)], f"vote_col{i}", [xi], [yi], [idx])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
         os.path.join(out, f"vote_col{i}/1/model.onnx"))
os.makedirs(os.path.join(out, "vote3/1"), exist_ok=True)
open(os.path.join(out, "vote3/1/.keep"), "w").close()
steps = ",\n".join(f"""    {{ model_name: "vote_col{i}" model_version: -1 input_map {{ key: "X" value: "X" }} output_map {{ key: "Y" value: "label" }} }}"""
                   for i in range(3))
with open(os.path.join(out, "vote3/config.pbtxt"), "w") as f:
    f.write(f"""name: "vote3"
platform: "ensemble"
max_batch_size: 8
input [ {{ name: "X", data_type: TYPE_INT64, dims: [ 3 ] }} ]
output [ {{ name: "label", data_type: TYPE_INT64, dims: [ ] }} ]
parameters {{ key: "combine" value {{ string_value: "vote" }} }}
ensemble_scheduling {{
  step [
{steps}
  ]
}}
""")
rows = np.array([[1, 1, 2], [3, 2, 2], [5, 4, 6], [7, 7, 7], [0, 9, 0], [8, 3, 3], [-4, 2, -4]], dtype=np.int64)
expected = np.array([np.argmax(np.bincount(r - r.min())) + r.min() for r in rows], dtype=np.int64)
np.save(os.path.join(out, "vote_input.npy"), rows)
np.save(os.path.join(out, "vote_expected.npy"), expected)

os.makedirs(os.path.join(out, "ens_missing/1"), exist_ok=True)
open(os.path.join(out, "ens_missing/1/.keep"), "w").close()
with open(os.path.join(out, "ens_missing/config.pbtxt"), "w") as f:
    f.write("""name: "ens_missing"
platform: "ensemble"
max_batch_size: 8
input [ { name: "X", data_type: TYPE_FP32, dims: [ 4 ] } ]
output [ { name: "Y", data_type: TYPE_FP32, dims: [ 4 ] } ]
ensemble_scheduling { step [ { model_name: "no_such_model" model_version: -1 input_map { key: "X" value: "X" } output_map { key: "Y" value: "Y" } } ] }
""")
