#!/usr/bin/env python3
"""Builds the bundled CNN, pipeline and ensemble examples (Examples/models) and their reference outputs.

Run with a Python that has torch, scikit-learn, onnx, onnxruntime and numpy (after scripts/make_examples.py,
whose digits MLP the ensemble uses):
    pip install torch scikit-learn onnx onnxruntime numpy
    python scripts/make_cnn_example.py
What it writes:
- Examples/models/digits_cnn/1/model.onnx: a small CNN trained with torch (CPU, seed 0, one thread) on the same
  1,437 training images of scikit-learn's digits data as the MLP (pixels / 16, shaped [N, 1, 8, 8]):
  Conv 3x3 (8) -> ReLU -> MaxPool 2 -> Conv 3x3 (16) -> ReLU -> MaxPool 2 -> Flatten -> Linear 64->10 -> Softmax,
  exported by torch.onnx (opset 17) with outputs `label` (int64 [N], argmax) and `probabilities` (float [N, 10]).
  Its config.pbtxt turns on dynamic batching; labels.txt names the classes of `probabilities` (classification extension).
- Examples/models/digits_image/1/model.onnx: preprocessing, X float [N, 64] -> image float [N, 1, 8, 8] (Reshape).
- Examples/models/digits_cnn_pipeline/config.pbtxt: a Triton ensemble (pipeline) digits_image -> digits_cnn, so the
  CNN takes the same 64-float rows as the MLP. Its version directory 1/ is empty (as in Triton).
- Examples/models/digits_ensemble/config.pbtxt: an Onyx combining ensemble, the mean of the probabilities of
  digits_mlp and digits_cnn_pipeline (parameter combine = mean).
- Examples/inputs/digits_image.npy: the 8 held-out images of Examples/inputs/digits.npy as [8, 1, 8, 8];
  digits_cnn_expected_{probabilities,label}.npy: onnxruntime's outputs of the CNN for them;
  digits_ensemble_expected_probabilities.npy: the mean of onnxruntime's outputs of the two members (MLP on
  digits.npy, CNN on digits_image.npy).
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Examples")
models = os.path.join(root, "models")
torch.manual_seed(0)
torch.set_num_threads(1)
np.random.seed(0)

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)


class CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.c2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.fc = torch.nn.Linear(16 * 2 * 2, 10)

    def logits(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.c1(x)), 2)
        x = torch.nn.functional.max_pool2d(torch.relu(self.c2(x)), 2)
        return self.fc(torch.flatten(x, 1))

    def forward(self, x):
        p = torch.softmax(self.logits(x), dim=1)
        return torch.argmax(p, dim=1), p


net = CNN()
opt = torch.optim.Adam(net.parameters(), lr=0.01)
xt = torch.from_numpy(Xtr.reshape(-1, 1, 8, 8))
yt = torch.from_numpy(ytr.astype(np.int64))
for epoch in range(40):
    perm = torch.randperm(len(xt))
    for i in range(0, len(xt), 64):
        idx = perm[i:i + 64]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net.logits(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
net.eval()
with torch.no_grad():
    pred = net(torch.from_numpy(Xte.reshape(-1, 1, 8, 8)))[0].numpy()
print("CNN test accuracy", (pred == yte).mean())

path = os.path.join(models, "digits_cnn", "1", "model.onnx")
os.makedirs(os.path.dirname(path), exist_ok=True)
torch.onnx.export(net, (torch.zeros(1, 1, 8, 8),), path, input_names=["image"], output_names=["label", "probabilities"],
                  dynamic_axes={"image": {0: "batch"}, "label": {0: "batch"}, "probabilities": {0: "batch"}},
                  opset_version=17, dynamo=False)
m = onnx.load(path)
onnx.checker.check_model(m)
onnx.save(m, path)  # one file (no external data)
with open(os.path.join(models, "digits_cnn", "labels.txt"), "w") as f:  # classification extension labels
    f.write("".join(w + "\n" for w in ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]))
with open(os.path.join(models, "digits_cnn", "config.pbtxt"), "w") as f:
    f.write("""# A small CNN on scikit-learn's 8x8 digits (scripts/make_cnn_example.py), batched dynamically.
name: "digits_cnn"
platform: "onnxruntime_onnx"
max_batch_size: 64
input [ { name: "image", data_type: TYPE_FP32, dims: [ 1, 8, 8 ] } ]
output [
  { name: "label", data_type: TYPE_INT64, dims: [ ] },
  { name: "probabilities", data_type: TYPE_FP32, dims: [ 10 ], label_filename: "labels.txt" }
]
dynamic_batching {
  preferred_batch_size: [ 16, 32 ]
  max_queue_delay_microseconds: 200
  default_queue_policy { max_queue_size: 1024 }
}
instance_group [ { count: 1, kind: KIND_CPU } ]
""")

# Preprocessing: 64-float rows -> NCHW images.
shape = helper.make_tensor("shape", TensorProto.INT64, [4], [-1, 1, 8, 8])
g = helper.make_graph([helper.make_node("Reshape", ["X", "shape"], ["image"])], "digits_image",
                      [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 64])],
                      [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 8, 8])], [shape])
pm = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
onnx.checker.check_model(pm)
ppath = os.path.join(models, "digits_image", "1", "model.onnx")
os.makedirs(os.path.dirname(ppath), exist_ok=True)
onnx.save(pm, ppath)

os.makedirs(os.path.join(models, "digits_cnn_pipeline", "1"), exist_ok=True)
open(os.path.join(models, "digits_cnn_pipeline", "1", ".keep"), "w").close()
with open(os.path.join(models, "digits_cnn_pipeline", "config.pbtxt"), "w") as f:
    f.write("""# A pipeline (Triton ensemble): 64-float rows -> digits_image (reshape) -> digits_cnn.
name: "digits_cnn_pipeline"
platform: "ensemble"
max_batch_size: 32
input [ { name: "X", data_type: TYPE_FP32, dims: [ 64 ] } ]
output [
  { name: "label", data_type: TYPE_INT64, dims: [ ] },
  { name: "probabilities", data_type: TYPE_FP32, dims: [ 10 ] }
]
ensemble_scheduling {
  step [
    {
      model_name: "digits_image"
      model_version: -1
      input_map { key: "X" value: "X" }
      output_map { key: "image" value: "image" }
    },
    {
      model_name: "digits_cnn"
      model_version: -1
      input_map { key: "image" value: "image" }
      output_map { key: "label" value: "label" }
      output_map { key: "probabilities" value: "probabilities" }
    }
  ]
}
""")

os.makedirs(os.path.join(models, "digits_ensemble", "1"), exist_ok=True)
open(os.path.join(models, "digits_ensemble", "1", ".keep"), "w").close()
with open(os.path.join(models, "digits_ensemble", "config.pbtxt"), "w") as f:
    f.write("""# An Onyx combining ensemble: the mean of the class probabilities of the MLP and the CNN pipeline.
# Every step runs on the ensemble's inputs; outputs that several steps map to are combined (combine: mean | vote).
name: "digits_ensemble"
platform: "ensemble"
max_batch_size: 32
input [ { name: "X", data_type: TYPE_FP32, dims: [ 64 ] } ]
output [ { name: "probabilities", data_type: TYPE_FP32, dims: [ 10 ] } ]
parameters { key: "combine" value { string_value: "mean" } }
ensemble_scheduling {
  step [
    {
      model_name: "digits_mlp"
      model_version: -1
      input_map { key: "X" value: "X" }
      output_map { key: "probabilities" value: "probabilities" }
    },
    {
      model_name: "digits_cnn_pipeline"
      model_version: -1
      input_map { key: "X" value: "X" }
      output_map { key: "probabilities" value: "probabilities" }
    }
  ]
}
""")

inputs = os.path.join(root, "inputs")
x = np.load(os.path.join(inputs, "digits.npy"))
img = x.reshape(-1, 1, 8, 8).astype(np.float32)
np.save(os.path.join(inputs, "digits_image.npy"), img)
cnn = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
label, probs = cnn.run(["label", "probabilities"], {"image": img})
np.save(os.path.join(inputs, "digits_cnn_expected_probabilities.npy"), probs)
np.save(os.path.join(inputs, "digits_cnn_expected_label.npy"), label)
mlp = ort.InferenceSession(os.path.join(models, "digits_mlp", "1", "model.onnx"), providers=["CPUExecutionProvider"])
mprobs = mlp.run(["probabilities"], {"X": x})[0]
np.save(os.path.join(inputs, "digits_ensemble_expected_probabilities.npy"), ((mprobs + probs) / 2).astype(np.float32))
print("written; CNN model bytes:", os.path.getsize(path), "labels", label.tolist())
