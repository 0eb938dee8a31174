"""Writes the `onyx data` test fixtures: small CSV inputs and the results pandas / scikit-learn give on them.

Run: /tmp/venv/bin/python scripts/make_data_fixtures.py
Committed fixtures were generated with pandas 3.1.1, scikit-learn 1.9.1, numpy 2.4.6 (also recorded in
expected.json under "versions"); pandas was installed into /tmp/venv with `pip install pandas`.
Outputs go to Tests/OnyxTests/Fixtures/data/.
"""
import json
import os

import numpy as np
import pandas as pd
import sklearn
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split
from sklearn.preprocessing import (MaxAbsScaler, MinMaxScaler, MultiLabelBinarizer, OneHotEncoder, RobustScaler,
                                   StandardScaler, normalize)

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "OnyxTests", "Fixtures", "data")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(7)

# 1. A table with missing values and a 3-class label (29 / 19 / 12 rows).
n = 60
labels = np.array(["cat"] * 29 + ["dog"] * 19 + ["eel"] * 12)
rng.shuffle(labels)
df = pd.DataFrame({
    "a": np.round(rng.normal(10, 3, n), 4),
    "b": np.round(rng.exponential(2.0, n), 3),
    "c": rng.integers(0, 5, n).astype(float),
    "d": np.round(rng.uniform(-50, 50, n), 2),
    "y": labels,
})
for col, k in (("a", 5), ("b", 7), ("c", 4)):
    df.loc[rng.choice(n, k, replace=False), col] = np.nan
df["tags"] = [("|".join(sorted(rng.choice(["red", "green", "blue"], rng.integers(0, 3), replace=False))))
              for _ in range(n)]
df.to_csv(os.path.join(OUT, "table.csv"), index=False)
back = pd.read_csv(os.path.join(OUT, "table.csv"), keep_default_na=True)
num = ["a", "b", "c", "d"]
X = back[num].to_numpy()

expected = {"versions": {"pandas": pd.__version__, "sklearn": sklearn.__version__, "numpy": np.__version__}}
expected["dtypes"] = {c: ("numeric" if pd.api.types.is_numeric_dtype(back[c]) else "string") for c in back.columns}
expected["missing"] = {c: int(back[c].isna().sum()) for c in back.columns}

# Imputation (SimpleImputer statistics_ per strategy).
expected["impute"] = {}
for strategy in ("mean", "median", "most_frequent"):
    imp = SimpleImputer(strategy=strategy).fit(X)
    expected["impute"][strategy] = dict(zip(num, imp.statistics_.tolist()))

# Split sizes (train_test_split) and stratified per-class counts (StratifiedShuffleSplit).
expected["split"] = []
for test in (0.2, 0.25, 0.3):
    tr, te = train_test_split(np.arange(n), test_size=test, random_state=0)
    sss = StratifiedShuffleSplit(n_splits=1, test_size=test, random_state=0)
    tri, tei = next(sss.split(np.zeros(n), labels))
    classes = sorted(set(labels))
    expected["split"].append({
        "ratios": [1 - test, test], "sizes": [len(tr), len(te)],
        "stratified_train": {c: int((labels[tri] == c).sum()) for c in classes},
        "stratified_test": {c: int((labels[tei] == c).sum()) for c in classes},
    })

# Scalers: fit on train.csv (no missing values), transform test.csv.
train = pd.DataFrame({"u": np.round(rng.normal(5, 2, 40), 5), "v": np.round(rng.lognormal(0, 1, 40), 5),
                      "w": np.round(rng.uniform(-3, 1, 40), 5)})
test = pd.DataFrame({"u": np.round(rng.normal(5, 2, 10), 5), "v": np.round(rng.lognormal(0, 1, 10), 5),
                     "w": np.round(rng.uniform(-3, 1, 10), 5)})
train.to_csv(os.path.join(OUT, "scale_train.csv"), index=False)
test.to_csv(os.path.join(OUT, "scale_test.csv"), index=False)
Xtr = pd.read_csv(os.path.join(OUT, "scale_train.csv")).to_numpy()
Xte = pd.read_csv(os.path.join(OUT, "scale_test.csv")).to_numpy()
scalers = {
    "zscore": (StandardScaler(), {"center": "mean_", "scale": "scale_"}),
    "minmax": (MinMaxScaler(feature_range=(-1, 2)), {"scale": "scale_", "offset": "min_", "dataMin": "data_min_",
                                                     "dataMax": "data_max_"}),
    "robust": (RobustScaler(), {"center": "center_", "scale": "scale_"}),
    "maxabs": (MaxAbsScaler(), {"scale": "max_abs_"}),
}
expected["scale"] = {}
for name, (sc, attrs) in scalers.items():
    sc.fit(Xtr)
    expected["scale"][name] = {"params": {k: getattr(sc, v).tolist() for k, v in attrs.items()},
                               "test": sc.transform(Xte).tolist()}
expected["scale"]["l2"] = {"params": {}, "test": normalize(Xte, norm="l2").tolist()}
expected["scale"]["log1p"] = {"params": {}, "test": np.log1p(Xte + 3.0 - 3.0).tolist() if (Xte > -1).all() else None}
if expected["scale"]["log1p"]["test"] is None:
    del expected["scale"]["log1p"]

# One-hot layout of the label column (OneHotEncoder categories_, pandas get_dummies names).
enc = OneHotEncoder().fit(back[["y"]])
expected["onehot"] = {"categories": enc.categories_[0].tolist(),
                      "columns": pd.get_dummies(back["y"], prefix="y").columns.tolist(),
                      "matrix": enc.transform(back[["y"]]).toarray().tolist()}
tags = [t.split("|") if isinstance(t, str) and t else [] for t in back["tags"]]
mlb = MultiLabelBinarizer().fit(tags)
expected["multilabel"] = {"classes": mlb.classes_.tolist(), "matrix": mlb.transform(tags).tolist()}

# Outlier bounds on column d and b (numpy percentiles, population std).
b = back["b"].dropna().to_numpy()
q1, q3 = np.percentile(b, [25, 75])
expected["outliers"] = {"iqr_b": [q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)],
                        "zscore_b": [b.mean() - 2 * b.std(), b.mean() + 2 * b.std()]}

# Duplicates (pandas drop_duplicates keeps the first).
dup = pd.concat([back.iloc[:10], back.iloc[3:8], back.iloc[:2]])
dup.to_csv(os.path.join(OUT, "duplicates.csv"), index=False)
expected["dedupe_rows"] = int(len(pd.read_csv(os.path.join(OUT, "duplicates.csv")).drop_duplicates()))

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
print("wrote", OUT)
