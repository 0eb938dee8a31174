#!/usr/bin/env python3
"""Builds the bundled example models (Examples/) from scikit-learn's bundled digits data.

Run with a Python that has scikit-learn, skl2onnx, onnxruntime and numpy:
    python scripts/make_examples.py
- Examples/models/digits_mlp/1/model.onnx: MLPClassifier (64 -> 64 -> 10) trained on 1,437 digits
  images, converted by skl2onnx without ZipMap: outputs `label` (int64) and `probabilities` (float, [N, 10]).
- Examples/inputs/digits.npy: 8 held-out images as float32 [8, 64];
  Examples/inputs/digits_expected_probabilities.npy: onnxruntime's probabilities for them.
- Examples/data/digits_test.csv: the 360 held-out rows (pixel_0..pixel_63, label) for evaluation examples.
"""
import os

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Examples")
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=400, random_state=0).fit(Xtr, ytr)
print("test accuracy", clf.score(Xte, yte))
onx = to_onnx(clf, Xtr[:1], options={id(clf): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
onx.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
path = os.path.join(root, "models", "digits_mlp", "1", "model.onnx")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "wb") as f:
    f.write(onx.SerializeToString())
os.makedirs(os.path.join(root, "inputs"), exist_ok=True)
np.save(os.path.join(root, "inputs", "digits.npy"), Xte[:8])
sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
label, probs = sess.run(None, {sess.get_inputs()[0].name: Xte[:8]})
np.save(os.path.join(root, "inputs", "digits_expected_probabilities.npy"), probs)
np.save(os.path.join(root, "inputs", "digits_expected_label.npy"), label)
os.makedirs(os.path.join(root, "data"), exist_ok=True)
with open(os.path.join(root, "data", "digits_test.csv"), "w") as f:
    f.write(",".join([f"pixel_{i}" for i in range(64)] + ["label"]) + "\n")
    for row, lab in zip(Xte, yte):
        f.write(",".join(f"{v:.4f}" for v in row) + f",{lab}\n")
print("examples written; input name:", sess.get_inputs()[0].name, [o.name for o in sess.get_outputs()])
