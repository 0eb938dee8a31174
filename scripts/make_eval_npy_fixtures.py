#!/usr/bin/env python3
"""Reference data for `onyx eval` on numpy input and on the bundled CNN (Tests/OnyxTests/Fixtures/eval/).

Run with /tmp/venv/bin/python (numpy, scikit-learn 1.9.1, onnxruntime 1.32):
    python scripts/make_eval_npy_fixtures.py
- digits_x.npy / digits_y.npy: the rows of Examples/data/digits_test.csv as written by numpy (features float32
  [360, 64], parsed as float64 and cast as `onyx eval` does; labels int64 [360]).
- digits50.npz / digits50_compressed.npz: the first 50 rows as np.savez(x=..., y=...) and np.savez_compressed.
- digits_cnn.json: onnxruntime's predictions of Examples/models/digits_cnn/1/model.onnx on those rows reshaped to
  [360, 1, 8, 8], and scikit-learn's metrics of them (same keys as digits_mlp.json).
"""
import json
import os

import numpy as np
import onnxruntime as ort

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..")
out = os.path.join(root, "Tests", "OnyxTests", "Fixtures", "eval")


def read_csv(path, label):
    with open(path) as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    li = header.index(label)
    X = np.array([[float(v) for j, v in enumerate(r) if j != li] for r in rows], dtype=np.float64).astype(np.float32)
    return X, np.array([int(r[li]) for r in rows], dtype=np.int64)


X, y = read_csv(os.path.join(root, "Examples", "data", "digits_test.csv"), "label")
np.save(os.path.join(out, "digits_x.npy"), X)
np.save(os.path.join(out, "digits_y.npy"), y)
np.savez(os.path.join(out, "digits50.npz"), x=X[:50], y=y[:50])
np.savez_compressed(os.path.join(out, "digits50_compressed.npz"), x=X[:50], y=y[:50])

from sklearn import metrics  # noqa: E402

model = os.path.join(root, "Examples", "models", "digits_cnn", "1", "model.onnx")
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
names = [o.name for o in sess.get_outputs()]
res = dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: X.reshape(-1, 1, 8, 8)})))
label, prob = res["label"].reshape(-1), res["probabilities"].astype(np.float64)
classes = list(range(10))
m = {
    "accuracy": metrics.accuracy_score(y, label),
    "balanced_accuracy": metrics.balanced_accuracy_score(y, label),
    "matthews_corrcoef": metrics.matthews_corrcoef(y, label),
    "cohen_kappa": metrics.cohen_kappa_score(y, label),
    "log_loss": metrics.log_loss(y, prob, labels=classes),
    "roc_auc.ovr_macro": metrics.roc_auc_score(y, prob, multi_class="ovr", average="macro", labels=classes),
    "roc_auc.ovr_weighted": metrics.roc_auc_score(y, prob, multi_class="ovr", average="weighted", labels=classes),
    "roc_auc.ovo_macro": metrics.roc_auc_score(y, prob, multi_class="ovo", average="macro", labels=classes),
}
for avg in ["micro", "macro", "weighted"]:
    m[f"f1.{avg}"] = metrics.f1_score(y, label, average=avg)
    m[f"precision.{avg}"] = metrics.precision_score(y, label, average=avg)
    m[f"recall.{avg}"] = metrics.recall_score(y, label, average=avg)
with open(os.path.join(out, "digits_cnn.json"), "w") as f:
    json.dump({"rows": len(y), "predicted": [int(v) for v in label], "metrics": {k: float(v) for k, v in m.items()}}, f, indent=1)
print("wrote digits_x.npy, digits_y.npy, digits50.npz, digits50_compressed.npz, digits_cnn.json to", out)
