"""Fixtures for pipelines as YAML and as ONNX preprocessing nodes (Tests/OnyxTests/Fixtures/data/export/).

Run: /tmp/venv/bin/python scripts/make_pipeline_export_fixtures.py [path/to/onyx]   (default .build/debug/onyx)
Needs numpy, onnx and onnxruntime (committed fixtures: numpy 2.4.6, onnx 1.23.2, onnxruntime 1.32, recorded in
ort_expected.json).

1. Writes raw_train.csv / raw_new.csv (numeric columns with missing values and an outlier, a categorical colour
   with missing values and, in raw_new.csv, a colour never seen in training, an integer size category, a label) and
   the same `onyx data prepare` config twice: prep.yaml and prep.json.
2. `onyx data prepare raw_train.csv --config prep.yaml --save-pipeline pipeline.yaml` fits the pipeline.
3. Writes model.onnx: Gemm (seeded weights) + Softmax over the F features the pipeline makes (label excluded).
4. `onyx data export-onnx` writes the pipeline alone and in front of model.onnx (temporary files, not committed);
   onnxruntime runs both on the raw rows of raw_new.csv (numeric columns as float32 with NaN for missing, the
   others as the raw strings). Its outputs are the reference the Swift tests compare Onyx against
   (ort_expected.json). As a cross-check the script also runs model.onnx in onnxruntime on the output of
   `onyx data apply` and asserts it agrees with the exported model.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "OnyxTests", "Fixtures", "data", "export")
ONYX = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "onyx")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(11)

COLUMNS = ["age", "income", "score", "w", "p", "q", "color", "size", "label"]
MISSING = {"", "NA", "N/A", "n/a", "NaN", "nan", "-nan", "NULL", "null", "None", "<NA>", "#N/A", "#NA", "?"}


def rows(n, unseen):
    out = []
    for i in range(n):
        age = f"{rng.normal(40, 12):.1f}" if rng.random() > 0.1 else rng.choice(["", "NA", "?"])
        income = f"{rng.lognormal(10, 0.5):.2f}" if rng.random() > 0.1 else ""
        if i == 3:
            income = "900000"  # an outlier the IQR step clips
        colours = ["red", "green", "blue"] + (["purple"] if unseen else [])
        color = rng.choice(colours) if rng.random() > 0.15 else rng.choice(["", "NA"])
        out.append([age, income, f"{rng.uniform(0, 100):.2f}", f"{rng.exponential(3):.3f}",
                    f"{rng.normal(0, 1):.4f}", f"{rng.normal(2, 1):.4f}", color, str(rng.integers(1, 4)),
                    rng.choice(["no", "yes"])])
    return out


def write_csv(path, data):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(data)


write_csv(os.path.join(OUT, "raw_train.csv"), rows(80, False))
write_csv(os.path.join(OUT, "raw_new.csv"), rows(25, True))

config = {
    "missing": ["?"],
    "labels": ["label"],
    "steps": [
        {"type": "impute", "strategy": "mean", "columns": ["age", "income"]},
        {"type": "impute", "strategy": "most_frequent", "columns": ["color"]},
        {"type": "outliers", "method": "iqr", "action": "clip", "columns": ["income"]},
        {"type": "scale", "method": "zscore", "columns": ["age", "income"]},
        {"type": "scale", "method": "minmax", "columns": ["score"], "range": [-1, 1]},
        {"type": "log1p", "columns": ["w"]},
        {"type": "l2", "columns": ["p", "q"]},
        {"type": "onehot", "column": "color"},
        {"type": "onehot", "column": "size"},
        {"type": "onehot", "column": "label"},
    ],
}
with open(os.path.join(OUT, "prep.json"), "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
# The same config written by hand as YAML (block and flow styles mixed, a comment), not by a YAML library.
with open(os.path.join(OUT, "prep.yaml"), "w") as f:
    f.write("""# The same pipeline as prep.json.
missing: ["?"]
labels: [label]      # recorded in the pipeline: export-onnx and the server leave it out of the features
steps:
  - type: impute
    strategy: mean
    columns: [age, income]
  - {type: impute, strategy: most_frequent, columns: [color]}
  - type: outliers
    method: iqr
    action: clip
    columns:
      - income
  - {type: scale, method: zscore, columns: [age, income]}
  - {type: scale, method: minmax, columns: [score], range: [-1, 1]}
  - {type: log1p, columns: [w]}
  - {type: l2, columns: [p, q]}
  - {type: onehot, column: color}
  - {type: onehot, column: size}
  - {type: onehot, column: label}
""")

with tempfile.TemporaryDirectory() as tmp:
    prepared = os.path.join(tmp, "prepared.csv")
    pipeline = os.path.join(OUT, "pipeline.yaml")
    subprocess.run([ONYX, "data", "prepare", os.path.join(OUT, "raw_train.csv"), "--config",
                    os.path.join(OUT, "prep.yaml"), "-o", prepared, "--save-pipeline", pipeline], check=True)
    with open(prepared) as f:
        header = next(csv.reader(f))
    features = [c for c in header if not c.startswith("label_")]
    F = len(features)

    # 3. The model: Gemm + Softmax, 3 classes.
    W = rng.normal(0, 0.5, (F, 3)).astype(np.float32)
    B = rng.normal(0, 0.1, 3).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W", "B"], ["logits"]), helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)],
        "classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", F])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])],
        [onnx.numpy_helper.from_array(W, "W"), onnx.numpy_helper.from_array(B, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, "model.onnx"))

    # 4. Export, then onnxruntime on the raw rows.
    combined, standalone = os.path.join(tmp, "combined.onnx"), os.path.join(tmp, "pre.onnx")
    subprocess.run([ONYX, "data", "export-onnx", pipeline, "--model", os.path.join(OUT, "model.onnx"),
                    "-o", combined], check=True)
    subprocess.run([ONYX, "data", "export-onnx", pipeline, "-o", standalone], check=True)
    onnx.checker.check_model(onnx.load(combined))

    with open(os.path.join(OUT, "raw_new.csv")) as f:
        raw = list(csv.DictReader(f))

    def feeds(session):
        out = {}
        for i in session.get_inputs():
            vals = [r[i.name] for r in raw]
            if i.type == "tensor(string)":
                out[i.name] = np.array(vals, dtype=object).reshape(-1, 1)
            else:
                out[i.name] = np.array([np.nan if v.strip() in MISSING else float(v) for v in vals],
                                       dtype=np.float32).reshape(-1, 1)
        return out

    s_pre = ort.InferenceSession(standalone, providers=["CPUExecutionProvider"])
    s_all = ort.InferenceSession(combined, providers=["CPUExecutionProvider"])
    feats = s_pre.run(None, feeds(s_pre))[0]
    probs = s_all.run(None, feeds(s_all))[0]

    # Cross-check: onyx data apply + model.onnx in onnxruntime gives the same probabilities.
    applied = os.path.join(tmp, "applied.csv")
    subprocess.run([ONYX, "data", "apply", pipeline, os.path.join(OUT, "raw_new.csv"), "-o", applied], check=True)
    with open(applied) as f:
        rd = csv.DictReader(f)
        X = np.array([[float(r[c]) for c in features] for r in rd], dtype=np.float32)
    s_model = ort.InferenceSession(os.path.join(OUT, "model.onnx"), providers=["CPUExecutionProvider"])
    ref = s_model.run(None, {"x": X})[0]
    assert np.allclose(ref, probs, atol=1e-5), np.abs(ref - probs).max()
    assert np.allclose(X, feats, atol=1e-5), np.abs(X - feats).max()

    with open(os.path.join(OUT, "ort_expected.json"), "w") as f:
        json.dump({"features_names": features, "features": feats.astype(float).tolist(),
                   "probabilities": probs.astype(float).tolist(),
                   "versions": {"numpy": np.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__}},
                  f, indent=1)
        f.write("\n")
print(f"wrote fixtures to {OUT} ({F} features)")
