#!/usr/bin/env python3
"""Reference numbers for `onyx eval` tests (Tests/OnyxTests/Fixtures/eval/).

Run with /tmp/venv/bin/python (numpy, scikit-learn 1.9.1, onnxruntime 1.32, skl2onnx):
    python scripts/make_eval_fixtures.py
- digits_mlp.json: onnxruntime's predictions of Examples/models/digits_mlp/1/model.onnx on
  Examples/data/digits_test.csv (features parsed as float64, cast to float32 as `onyx eval` does) and
  scikit-learn's metrics of them (probabilities as float64), plus the top-label calibration curve.
- zipmap_logreg.onnx / zipmap.csv / zipmap.json: a small LogisticRegression with string classes converted with
  ZipMap (sequence-of-maps output), its data and scikit-learn's metrics of onnxruntime's outputs.
- regression.onnx / regression.csv / regression.json: a LinearRegression, its data and scikit-learn's metrics.
"""
import json
import os

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn import metrics
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LinearRegression, LogisticRegression

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..")
out = os.path.join(root, "Tests", "OnyxTests", "Fixtures", "eval")
os.makedirs(out, exist_ok=True)


def read_csv(path, label):
    with open(path) as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    li = header.index(label)
    X = np.array([[float(v) for j, v in enumerate(r) if j != li] for r in rows], dtype=np.float64).astype(np.float32)
    y = [r[li] for r in rows]
    return X, y


def classification_metrics(y, pred, prob, classes):
    y = np.asarray(y)
    pred = np.asarray(pred)
    prob = prob.astype(np.float64)
    res = {
        "accuracy": metrics.accuracy_score(y, pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, pred),
        "matthews_corrcoef": metrics.matthews_corrcoef(y, pred),
        "cohen_kappa": metrics.cohen_kappa_score(y, pred),
        "log_loss": metrics.log_loss(y, prob, labels=classes),
    }
    if len(classes) > 2:
        for avg in ["micro", "macro", "weighted"]:
            res[f"f1.{avg}"] = metrics.f1_score(y, pred, average=avg)
            res[f"precision.{avg}"] = metrics.precision_score(y, pred, average=avg)
            res[f"recall.{avg}"] = metrics.recall_score(y, pred, average=avg)
        res["roc_auc.ovr_macro"] = metrics.roc_auc_score(y, prob, multi_class="ovr", average="macro", labels=classes)
        res["roc_auc.ovr_weighted"] = metrics.roc_auc_score(y, prob, multi_class="ovr", average="weighted", labels=classes)
        res["roc_auc.ovo_macro"] = metrics.roc_auc_score(y, prob, multi_class="ovo", average="macro", labels=classes)
    else:
        pos = classes[1]
        res["f1"] = metrics.f1_score(y, pred, pos_label=pos)
        res["precision"] = metrics.precision_score(y, pred, pos_label=pos)
        res["recall"] = metrics.recall_score(y, pred, pos_label=pos)
        res["roc_auc"] = metrics.roc_auc_score(y == pos, prob[:, 1])
        res["average_precision"] = metrics.average_precision_score(y == pos, prob[:, 1])
    return {k: float(v) for k, v in res.items()}


# 1. The digits MLP on the bundled test CSV.
model = os.path.join(root, "Examples", "models", "digits_mlp", "1", "model.onnx")
X, y = read_csv(os.path.join(root, "Examples", "data", "digits_test.csv"), "label")
y = np.array([int(v) for v in y])
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
label, prob = sess.run(None, {sess.get_inputs()[0].name: X})
classes = list(range(10))
conf = prob.astype(np.float64)[np.arange(len(label)), label]
pt, pp = calibration_curve((label == y).astype(int), conf, n_bins=10, strategy="uniform")
fix = {
    "rows": len(y),
    "predicted": [int(v) for v in label],
    "metrics": classification_metrics(y, label, prob, classes),
    "calibration": {"prob_true": [float(v) for v in pt], "prob_pred": [float(v) for v in pp]},
}
with open(os.path.join(out, "digits_mlp.json"), "w") as f:
    json.dump(fix, f, indent=1)

# 2. Binary classifier with string classes and a ZipMap output.
rng = np.random.RandomState(0)
Xb = rng.normal(size=(200, 3)).astype(np.float32)
yb = np.where(Xb[:, 0] + 0.5 * Xb[:, 1] + rng.normal(scale=0.8, size=200) > 0, "spam", "ham")
clf = LogisticRegression().fit(Xb, yb)
onx = to_onnx(clf, Xb[:1], target_opset={"": 17, "ai.onnx.ml": 3})
onx.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
with open(os.path.join(out, "zipmap_logreg.onnx"), "wb") as f:
    f.write(onx.SerializeToString())
with open(os.path.join(out, "zipmap.csv"), "w") as f:
    f.write("a,b,c,kind\n")
    for row, lab in zip(Xb, yb):
        f.write(",".join(repr(float(v)) for v in row) + f",{lab}\n")
Xr, yr = read_csv(os.path.join(out, "zipmap.csv"), "kind")
sess = ort.InferenceSession(os.path.join(out, "zipmap_logreg.onnx"), providers=["CPUExecutionProvider"])
lab, maps = sess.run(None, {sess.get_inputs()[0].name: Xr})
cls = sorted(maps[0].keys())
prob = np.array([[m[c] for c in cls] for m in maps], dtype=np.float32)
with open(os.path.join(out, "zipmap.json"), "w") as f:
    json.dump({"classes": cls, "predicted": [str(v) for v in lab],
               "metrics": classification_metrics(np.array(yr), lab, prob, cls)}, f, indent=1)

# 3. Regression.
Xg = rng.normal(size=(150, 4)).astype(np.float32)
yg = Xg @ np.array([1.5, -2.0, 0.3, 0.0]) + 0.7 + rng.normal(scale=0.4, size=150)
reg = LinearRegression().fit(Xg, yg)
onx = to_onnx(reg, Xg[:1], target_opset={"": 17, "ai.onnx.ml": 3})
onx.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
with open(os.path.join(out, "regression.onnx"), "wb") as f:
    f.write(onx.SerializeToString())
with open(os.path.join(out, "regression.csv"), "w") as f:
    f.write("x0,x1,x2,x3,target\n")
    for row, t in zip(Xg, yg):
        f.write(",".join(repr(float(v)) for v in row) + f",{float(t)!r}\n")
Xr, yr = read_csv(os.path.join(out, "regression.csv"), "target")
yr = np.array([float(v) for v in yr])
sess = ort.InferenceSession(os.path.join(out, "regression.onnx"), providers=["CPUExecutionProvider"])
pred = sess.run(None, {sess.get_inputs()[0].name: Xr})[0].astype(np.float64).ravel()
with open(os.path.join(out, "regression.json"), "w") as f:
    json.dump({"predicted": [float(v) for v in pred],
               "metrics": {"mae": metrics.mean_absolute_error(yr, pred), "mse": metrics.mean_squared_error(yr, pred),
                           "r2": metrics.r2_score(yr, pred)}}, f, indent=1)
print("eval fixtures written to", out)
