#!/usr/bin/env python3
"""Generate the OnyxMetrics test fixtures from scikit-learn (the reference implementation).

Run: /tmp/venv/bin/python scripts/make_metrics_fixtures.py   (scikit-learn 1.9.1, numpy)

Writes Tests/OnyxTests/Fixtures/metrics/<case>.csv (inputs) and cases.json (scikit-learn's results, one entry
per case and metric; errors as {"error": message}; NaN / ±inf as the strings "nan", "inf", "-inf"), plus the
example Examples/predictions/iris_logreg.csv and report.json (the expected `onyx metrics --json` report for it).
"""
import csv
import json
import math
import os
import warnings

import numpy as np
import sklearn
from sklearn import metrics as M

warnings.simplefilter("ignore")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "OnyxTests", "Fixtures", "metrics")
EXAMPLES = os.path.join(ROOT, "Examples", "predictions")


def enc(v):
    """JSON-encode numbers, NaN/inf as strings, arrays as lists."""
    if isinstance(v, dict):
        return {k: enc(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [enc(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(v, (np.str_,)):
        return str(v)
    return v


def attempt(fn):
    try:
        return enc(fn())
    except Exception as e:  # sklearn raises ValueError: record it, Swift must throw
        return {"error": str(e)}


def write_csv(path, columns):
    names = list(columns)
    n = len(columns[names[0]])
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names)
        for i in range(n):
            w.writerow([repr(float(columns[c][i])) if isinstance(columns[c][i], (float, np.floating)) else columns[c][i]
                        for c in names])


def best_f1(y, s, pos):
    p, r, t = M.precision_recall_curve(y, s, pos_label=pos)
    with np.errstate(all="ignore"):
        f = np.where(p + r == 0, 0.0, 2 * p * r / (p + r))[:-1]
    i = int(np.argmax(f))
    return [t[i], f[i], p[i], r[i]]


def youden(y, s, pos):
    fpr, tpr, thr = M.roc_curve(y, s, pos_label=pos)
    j = tpr - fpr
    i = int(np.argmax(j))
    return [thr[i], j[i], fpr[i], tpr[i]]


ZD = {"warn": "warn", "0": 0.0, "1": 1.0, "nan": np.nan}


def label_metrics(yt, yp, pos, binary):
    r = {}
    r["accuracy"] = attempt(lambda: M.accuracy_score(yt, yp))
    r["balanced_accuracy"] = attempt(lambda: M.balanced_accuracy_score(yt, yp))
    averages = ["binary", "micro", "macro", "weighted", "none"]
    for avg in averages:
        a = None if avg == "none" else avg
        for zname, z in ZD.items():
            kw = dict(average=a, zero_division=z)
            if avg == "binary":
                kw["pos_label"] = pos
            r[f"precision_{avg}_zd{zname}"] = attempt(lambda: M.precision_score(yt, yp, **kw))
            r[f"recall_{avg}_zd{zname}"] = attempt(lambda: M.recall_score(yt, yp, **kw))
            r[f"f1_{avg}_zd{zname}"] = attempt(lambda: M.f1_score(yt, yp, **kw))
        for beta in (0.5, 2.0):
            kw = dict(average=a, beta=beta)
            if avg == "binary":
                kw["pos_label"] = pos
            r[f"fbeta{beta}_{avg}_zdwarn"] = attempt(lambda: M.fbeta_score(yt, yp, **kw))
    r["support"] = attempt(lambda: M.precision_recall_fscore_support(yt, yp, average=None)[3])
    r["confusion_matrix"] = attempt(lambda: M.confusion_matrix(yt, yp))
    for norm in ("true", "pred", "all"):
        r[f"confusion_matrix_{norm}"] = attempt(lambda: M.confusion_matrix(yt, yp, normalize=norm))
    r["matthews_corrcoef"] = attempt(lambda: M.matthews_corrcoef(yt, yp))
    for w in ("none", "linear", "quadratic"):
        r[f"cohen_kappa_{w}"] = attempt(lambda: M.cohen_kappa_score(yt, yp, weights=None if w == "none" else w))
    return r


def binary_score_metrics(yt, score, prob, pos):
    r = {}
    for drop in (True, False):
        r[f"roc_curve_drop{drop}"] = attempt(lambda: dict(zip(("fpr", "tpr", "thresholds"),
                                                              M.roc_curve(yt, score, pos_label=pos, drop_intermediate=drop))))
        r[f"pr_curve_drop{drop}"] = attempt(lambda: dict(zip(("precision", "recall", "thresholds"),
                                                             M.precision_recall_curve(yt, score, pos_label=pos, drop_intermediate=drop))))
    r["roc_auc"] = attempt(lambda: M.roc_auc_score(yt, score))
    r["average_precision"] = attempt(lambda: M.average_precision_score(yt, score, pos_label=pos))
    r["log_loss"] = attempt(lambda: M.log_loss(yt, prob))
    for k in (1, 2):
        r[f"top_k_{k}"] = attempt(lambda: M.top_k_accuracy_score(yt, prob, k=k))
    r["top_k_1_score"] = attempt(lambda: M.top_k_accuracy_score(yt, score, k=1))
    r["best_f1_threshold"] = attempt(lambda: best_f1(yt, score, pos))
    r["youden_threshold"] = attempt(lambda: youden(yt, score, pos))
    return r


def multiclass_score_metrics(yt, P):
    r = {}
    for avg in ("macro", "weighted", "micro"):
        r[f"roc_auc_ovr_{avg}"] = attempt(lambda: M.roc_auc_score(yt, P, multi_class="ovr", average=avg))
        r[f"average_precision_{avg}"] = attempt(lambda: M.average_precision_score(yt, P, average=avg))
    r["roc_auc_ovo_macro"] = attempt(lambda: M.roc_auc_score(yt, P, multi_class="ovo", average="macro"))
    r["log_loss"] = attempt(lambda: M.log_loss(yt, P))
    for k in (1, 2, 3):
        r[f"top_k_{k}"] = attempt(lambda: M.top_k_accuracy_score(yt, P, k=k))
    return r


def regression_metrics(yt, yp):
    return {
        "mae": attempt(lambda: M.mean_absolute_error(yt, yp)),
        "mse": attempt(lambda: M.mean_squared_error(yt, yp)),
        "rmse": attempt(lambda: M.root_mean_squared_error(yt, yp)),
        "r2": attempt(lambda: M.r2_score(yt, yp)),
        "mape": attempt(lambda: M.mean_absolute_percentage_error(yt, yp)),
        "explained_variance": attempt(lambda: M.explained_variance_score(yt, yp)),
    }


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main():
    rng = np.random.default_rng(6)
    os.makedirs(OUT, exist_ok=True)
    cases = []

    def binary_case(name, yt, yp, score, prob, pos):
        write_csv(os.path.join(OUT, name + ".csv"), {"y_true": yt, "y_pred": yp, "score": score, "prob": prob})
        res = label_metrics(yt, yp, pos, True)
        res.update(binary_score_metrics(yt, score, prob, pos))
        cases.append({"name": name, "kind": "binary", "pos_label": enc(pos), "results": res})

    def multiclass_case(name, yt, yp, P):
        cols = {"y_true": yt, "y_pred": yp}
        for j in range(P.shape[1]):
            cols[f"p{j}"] = P[:, j]
        write_csv(os.path.join(OUT, name + ".csv"), cols)
        res = label_metrics(yt, yp, None, False)
        res.update(multiclass_score_metrics(yt, P))
        cases.append({"name": name, "kind": "multiclass", "n_classes": int(P.shape[1]), "results": res})

    def regression_case(name, yt, yp):
        write_csv(os.path.join(OUT, name + ".csv"), {"y_true": np.asarray(yt, float), "y_pred": np.asarray(yp, float)})
        cases.append({"name": name, "kind": "regression", "results": regression_metrics(np.asarray(yt, float), np.asarray(yp, float))})

    # Binary, integer labels, continuous scores with a few ties.
    n = 60
    yt = rng.integers(0, 2, n)
    score = np.round(yt * 0.8 + rng.normal(0, 0.6, n), 1)
    prob = 1 / (1 + np.exp(-3 * (score - 0.4)))
    binary_case("binary_int", yt, (prob > 0.5).astype(int), score, prob, 1)

    # Binary, labels -1/1, heavily tied scores.
    yt = rng.choice([-1, 1], 40)
    score = np.clip(np.round((yt + 1) / 2 * 0.5 + rng.uniform(0, 0.5, 40), 0) * 0.25 + rng.choice([0, 0.25, 0.5], 40), 0, 1)
    binary_case("binary_ties", yt, np.where(score >= 0.5, 1, -1), score, score, 1)

    # Binary, string labels.
    yt = rng.choice(["ham", "spam"], 30, p=[0.6, 0.4])
    prob = np.round(np.clip(np.where(yt == "spam", 0.65, 0.35) + rng.normal(0, 0.2, 30), 0, 1), 2)
    binary_case("binary_str", yt, np.where(prob > 0.5, "spam", "ham"), prob, prob, "spam")

    # Degenerate: y_true holds one class only.
    yt = np.ones(8, dtype=int)
    prob = np.round(rng.uniform(0, 1, 8), 2)
    binary_case("single_class_true", yt, (prob > 0.5).astype(int), prob, prob, 1)
    yt = np.zeros(6, dtype=int)
    binary_case("single_class_all", yt, yt.copy(), np.full(6, 0.3), np.full(6, 0.3), 1)

    # Multiclass, integer labels, with fully tied rows.
    n, k = 80, 4
    yt = rng.integers(0, k, n)
    P = softmax(rng.normal(0, 1, (n, k)) + 1.5 * np.eye(k)[yt])
    P[:3] = 0.25
    multiclass_case("multiclass_int", yt, P.argmax(axis=1), P)

    # Multiclass, string labels (sorted: bird < cat < dog).
    names = np.array(["bird", "cat", "dog"])
    yi = rng.integers(0, 3, 45)
    P = softmax(rng.normal(0, 1, (45, 3)) + np.eye(3)[yi])
    multiclass_case("multiclass_str", names[yi], names[P.argmax(axis=1)], P)

    # Multiclass where class 3 is never predicted and predictions include class 4, absent from y_true.
    yt = rng.integers(0, 4, 50)
    yp = np.where(yt == 3, rng.integers(0, 3, 50), yt)
    yp[rng.integers(0, 50, 6)] = 4
    yp[rng.integers(0, 50, 8)] = rng.integers(0, 3, 8)
    P = softmax(rng.normal(0, 1, (50, 4)))
    multiclass_case("multiclass_absent", yt, yp, P)

    # Regression.
    yt = rng.normal(10, 3, 200)
    regression_case("regression", yt, yt + rng.normal(0, 1, 200))
    regression_case("regression_zero_target", np.array([0.0, 1.0, 2.0, 0.0, 5.0]), np.array([0.5, 1.0, 1.5, 0.0, 4.0]))
    regression_case("regression_constant_true", np.full(5, 2.0), np.array([1.0, 2.0, 3.0, 2.0, 2.0]))
    regression_case("regression_constant_perfect", np.full(4, 2.0), np.full(4, 2.0))
    regression_case("regression_single", np.array([3.0]), np.array([2.5]))

    # Example predictions for the docs and the report test: iris, cross-validated logistic regression.
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])
    P = cross_val_predict(LogisticRegression(max_iter=50, C=0.05), X, y, cv=5, method="predict_proba")
    P = np.round(P, 4)
    P[:, 2] = np.round(1 - P[:, 0] - P[:, 1], 4)
    os.makedirs(EXAMPLES, exist_ok=True)
    write_csv(os.path.join(EXAMPLES, "iris_logreg.csv"),
              {"species": names[y], "p_setosa": P[:, 0], "p_versicolor": P[:, 1], "p_virginica": P[:, 2]})
    yt, yp = names[y], names[P.argmax(axis=1)]
    report = {
        "n_samples": len(yt),
        "classes": list(names),
        "accuracy": M.accuracy_score(yt, yp),
        "balanced_accuracy": M.balanced_accuracy_score(yt, yp),
    }
    for m, fn in (("precision", M.precision_score), ("recall", M.recall_score), ("f1", M.f1_score)):
        report[m] = {a: fn(yt, yp, average=a) for a in ("micro", "macro", "weighted")}
        report[m]["per_class"] = fn(yt, yp, average=None)
    report["confusion_matrix"] = M.confusion_matrix(yt, yp)
    report["roc_auc"] = {"ovr_macro": M.roc_auc_score(yt, P, multi_class="ovr"),
                         "ovr_weighted": M.roc_auc_score(yt, P, multi_class="ovr", average="weighted"),
                         "ovo_macro": M.roc_auc_score(yt, P, multi_class="ovo")}
    report["average_precision"] = M.average_precision_score(yt, P)
    report["log_loss"] = M.log_loss(yt, P)
    report["matthews_corrcoef"] = M.matthews_corrcoef(yt, yp)
    report["cohen_kappa"] = M.cohen_kappa_score(yt, yp)
    with open(os.path.join(OUT, "iris_report.json"), "w") as f:
        json.dump(enc(report), f, indent=1)
    with open(os.path.join(OUT, "iris_logreg.csv"), "w") as f:
        f.write(open(os.path.join(EXAMPLES, "iris_logreg.csv")).read())

    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": cases}, f, indent=None)
        f.write("\n")


if __name__ == "__main__":
    main()
