#!/usr/bin/env python3
"""Writes the scikit-learn model fixtures used by Tests/OnyxTests/SklearnModelTests.swift.

Each model is trained on a dataset bundled with scikit-learn (no download) with fixed seeds,
converted with skl2onnx and run with onnxruntime. For every model the script writes, into
Tests/OnyxTests/Fixtures/sklearn/<name>/:

  model.onnx      the converted model
  input.npy       a few dozen rows (float32, or float64 for the *_double models)
  output_<i>.npy  onnxruntime's i-th output. A ZipMap output (a list of dicts) is written as a
                  2-D float32 array of probabilities (rows x classes) plus output_<i>_keys.npy,
                  the class keys in column order.

Usage: /tmp/venv/bin/python scripts/make_sklearn_fixtures.py [OUT_DIR]
"""
import os
import shutil
import sys

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, Normalizer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC, OneClassSVM
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests", "OnyxTests", "Fixtures", "sklearn")
ROWS = 40


def sample(X, n=ROWS, seed=0):
    rng = np.random.RandomState(seed)
    idx = rng.choice(len(X), size=min(n, len(X)), replace=False)
    return X[idx]


def write(name, model, X_train, X_test, options=None, dtype=np.float32, target_opset=None):
    X_test = np.ascontiguousarray(X_test.astype(dtype))
    onx = to_onnx(model, X_train[:1].astype(dtype), options=options, target_opset=target_opset)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    data = onx.SerializeToString()
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(data)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: X_test}
    outs = sess.run(None, feed)
    np.save(os.path.join(d, "input.npy"), X_test)
    for i, o in enumerate(outs):
        if isinstance(o, list):  # ZipMap: list of {class: prob}
            keys = list(o[0].keys())
            probs = np.array([[row[k] for k in keys] for row in o], dtype=np.float32)
            np.save(os.path.join(d, f"output_{i}.npy"), probs)
            np.save(os.path.join(d, f"output_{i}_keys.npy"), np.array(keys))
        else:
            np.save(os.path.join(d, f"output_{i}.npy"), np.asarray(o))
    ops = sorted({(n.domain or "ai.onnx") + ":" + n.op_type for n in onx.graph.node})
    print(f"{name:32s} {len(data):8d} bytes  {', '.join(ops)}")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    iris = load_iris()
    Xi, yi = iris.data, iris.target
    digits = load_digits()
    Xd, yd = digits.data, digits.target
    bc = load_breast_cancer()
    Xb, yb = bc.data, bc.target
    diab = load_diabetes()
    Xr, yr = diab.data, diab.target


    write("logreg_iris", LogisticRegression(max_iter=500).fit(Xi, yi), Xi, sample(Xi),
          options={LogisticRegression: {"zipmap": False}})
    write("logreg_iris_zipmap", LogisticRegression(max_iter=500).fit(Xi, yi), Xi, sample(Xi, seed=1))
    write("logreg_binary_cancer", Pipeline([("s", StandardScaler()), ("m", LogisticRegression(max_iter=500))]).fit(Xb, yb),
          Xb, sample(Xb), options={LogisticRegression: {"zipmap": False}})
    write("linreg_diabetes", LinearRegression().fit(Xr, yr), Xr, sample(Xr))
    write("ridge_diabetes", Ridge(alpha=0.5).fit(Xr, yr), Xr, sample(Xr))
    write("scaler_logreg_cancer", Pipeline([("s", StandardScaler()), ("m", LogisticRegression(max_iter=1000))]).fit(Xb, yb),
          Xb, sample(Xb, seed=2), options={LogisticRegression: {"zipmap": False}})
    write("minmax_svc_rbf_iris", Pipeline([("s", MinMaxScaler()), ("m", SVC(probability=True, kernel="rbf", random_state=0))]).fit(Xi, yi),
          Xi, sample(Xi), options={SVC: {"zipmap": False}})
    write("svc_poly_iris", SVC(kernel="poly", degree=3, random_state=0).fit(Xi, yi), Xi, sample(Xi, seed=3),
          options={SVC: {"zipmap": False}})
    write("svc_linear_binary_cancer", Pipeline([("s", StandardScaler()), ("m", SVC(kernel="linear", probability=True, random_state=0))]).fit(Xb, yb),
          Xb, sample(Xb, seed=4), options={SVC: {"zipmap": False}})
    write("svr_diabetes", SVR(kernel="rbf", C=10.0).fit(Xr, yr), Xr, sample(Xr))
    write("svr_sigmoid_diabetes", SVR(kernel="sigmoid", C=1.0).fit(Xr, yr), Xr, sample(Xr, seed=5))
    write("oneclass_svm_iris", OneClassSVM(nu=0.1, gamma="scale").fit(Xi), Xi, sample(Xi, seed=6))
    # (skl2onnx rejects LinearSVC inside a Pipeline, so the scaling is done beforehand.)
    Xis = StandardScaler().fit_transform(Xi)
    write("linearsvc_iris", LinearSVC(random_state=0).fit(Xis, yi), Xis, sample(Xis))
    write("decision_tree_iris", DecisionTreeClassifier(max_depth=4, random_state=0).fit(Xi, yi), Xi, sample(Xi),
          options={DecisionTreeClassifier: {"zipmap": False}})
    write("decision_tree_regressor_diabetes", DecisionTreeRegressor(max_depth=5, random_state=0).fit(Xr, yr), Xr, sample(Xr))
    write("random_forest_iris", RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(Xi, yi),
          Xi, sample(Xi), options={RandomForestClassifier: {"zipmap": False}})
    write("random_forest_binary_cancer", RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(Xb, yb),
          Xb, sample(Xb), options={RandomForestClassifier: {"zipmap": False}})
    write("random_forest_regressor_diabetes", RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0).fit(Xr, yr),
          Xr, sample(Xr))
    write("gradient_boosting_regressor_diabetes", GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(Xr, yr),
          Xr, sample(Xr))
    write("gradient_boosting_iris", GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0).fit(Xi, yi),
          Xi, sample(Xi), options={GradientBoostingClassifier: {"zipmap": False}})
    write("gradient_boosting_binary_cancer", GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0).fit(Xb, yb),
          Xb, sample(Xb), options={GradientBoostingClassifier: {"zipmap": False}})
    write("mlp_digits", MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(Xd, yd),
          Xd, sample(Xd), options={MLPClassifier: {"zipmap": False}})
    write("knn_iris", KNeighborsClassifier(n_neighbors=3).fit(Xi, yi), Xi, sample(Xi),
          options={KNeighborsClassifier: {"zipmap": False}})
    write("normalizer_linreg_diabetes", Pipeline([("n", Normalizer(norm="l2")), ("m", LinearRegression())]).fit(Xr, yr),
          Xr, sample(Xr, seed=7))

    # Mixed pipeline: SimpleImputer on numeric columns, OneHotEncoder on a small-integer column
    # (iris petal width bucketed), then a classifier. Some numeric inputs are NaN.
    Xm = Xi.copy()
    Xm[:, 3] = np.floor(Xm[:, 3] * 2)  # categorical-like column 0..5
    rng = np.random.RandomState(0)
    Xm_nan = Xm.copy()
    Xm_nan[rng.rand(*Xm.shape) < 0.1] = np.nan
    Xm_nan[:, 3] = Xm[:, 3]
    pre = ColumnTransformer([
        ("num", SimpleImputer(strategy="mean"), [0, 1, 2]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), [3]),
    ])
    pipe = Pipeline([("pre", pre), ("m", LogisticRegression(max_iter=500))]).fit(Xm_nan, yi)
    write("imputer_onehot_logreg_iris", pipe, Xm_nan, sample(Xm_nan, seed=8), options={LogisticRegression: {"zipmap": False}})

    total = 0
    for dirpath, _, files in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
