#!/usr/bin/env python3
"""Writes single-node ai.onnx.ml test cases, in the ONNX backend-test layout that `onyx conformance` reads,
with onnxruntime's outputs as the expected values. A development check for the ML kernels' edge cases
(binary tree classifiers, base values, post transforms, SVM voting, missing values, encoders).

Two sources:
  - every ai.onnx.ml node of the sklearn fixtures (Tests/OnyxTests/Fixtures/sklearn), isolated with its real
    inputs (intermediate values computed by onnxruntime), so models needing other operators still exercise
    their ML nodes;
  - hand-made nodes covering attribute forms skl2onnx does not emit.

(A single-score LinearClassifier with PROBIT is left out: onnxruntime leaves half of its scores uninitialised.)

Usage: /tmp/venv/bin/python scripts/make_ml_op_cases.py [OUT_DIR]   (default /tmp/onyx-ml-cases)
       ./.build/debug/onyx conformance /tmp/onyx-ml-cases
"""
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/onyx-ml-cases"
FIX = os.path.join(ROOT, "Tests", "OnyxTests", "Fixtures", "sklearn")
ML = "ai.onnx.ml"
NP2ONNX = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE,
           np.dtype(np.int64): TensorProto.INT64, np.dtype(np.int32): TensorProto.INT32,
           np.dtype(object): TensorProto.STRING}


def mk(op, ins, outs, **attrs):
    attrs = {k: v for k, v in attrs.items() if not (isinstance(v, list) and len(v) == 0)}
    return helper.make_node(op, ins, outs, domain=ML, **attrs)


def vinfo(name, arr):
    arr = np.asarray(arr)
    dt = TensorProto.STRING if arr.dtype.kind in "OUS" else NP2ONNX[arr.dtype]
    return helper.make_tensor_value_info(name, dt, list(arr.shape))


def write_case(name, node, inputs, ml_opset=3, onnx_opset=19):
    """inputs: list of numpy arrays, bound to node.input in order."""
    graph = helper.make_graph([node], name, [vinfo(n, a) for n, a in zip(node.input, inputs)], [])
    # Output types come from running onnxruntime with loosely typed outputs.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", onnx_opset), helper.make_opsetid(ML, ml_opset)])
    model.ir_version = 9
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v for v in inferred.graph.value_info}
    strings = any(a.name.startswith("classlabels_strings") for a in node.attribute)
    for k, o in enumerate(node.output):
        vi = types.get(o)
        if vi is None:  # not inferred (e.g. SVMClassifier scores): labels by their attribute, scores float
            label = k == 0 and node.op_type.endswith("Classifier")
            dt = (TensorProto.STRING if strings else TensorProto.INT64) if label else TensorProto.FLOAT
            vi = helper.make_tensor_value_info(o, dt, None)
        model.graph.output.append(vi)
    data = model.SerializeToString()
    try:
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        feed = {n: a for n, a in zip(node.input, inputs)}
        outs = sess.run(None, feed)
    except Exception as e:  # noqa: BLE001
        print(f"skip {name}: {str(e)[:120]}")
        return False
    d = os.path.join(OUT, name)
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(data)
    for i, a in enumerate(inputs):
        with open(os.path.join(ds, f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(np.asarray(a), node.input[i]).SerializeToString())
    for i, a in enumerate(outs):
        if isinstance(a, list):
            shutil.rmtree(d)
            return False
        with open(os.path.join(ds, f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(np.asarray(a), node.output[i]).SerializeToString())
    return True


def isolate_fixture_nodes():
    for name in sorted(os.listdir(FIX)):
        m = onnx.load(os.path.join(FIX, name, "model.onnx"))
        x = np.load(os.path.join(FIX, name, "input.npy"))
        inferred = onnx.shape_inference.infer_shapes(m)
        known = {o.name for o in m.graph.output}
        for vi in inferred.graph.value_info:
            if vi.name not in known and vi.type.HasField("tensor_type"):
                m.graph.output.append(vi)
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        vals = dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x})))
        vals[m.graph.input[0].name] = x
        for init in m.graph.initializer:
            vals[init.name] = numpy_helper.to_array(init)
        ml_opset = next((o.version for o in m.opset_import if o.domain == ML), 1)
        for k, node in enumerate(m.graph.node):
            if node.domain != ML or not all(i in vals for i in node.input):
                continue
            write_case(f"test_fix_{name}_{k}_{node.op_type}", node, [vals[i] for i in node.input], ml_opset=ml_opset)


def tree_attrs(prefix, n_targets, rng, n_trees=3, depth=3, modes=("BRANCH_LEQ",), n_features=4, missing=False,
               weights_for=None, positive=False):
    """Random complete binary trees in the opset-1/3 attribute form."""
    a = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_values",
                         "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
                         f"{prefix}_treeids", f"{prefix}_nodeids", f"{prefix}_ids", f"{prefix}_weights"]}
    for t in range(n_trees):
        n_nodes = 2 ** (depth + 1) - 1
        for i in range(n_nodes):
            leaf = i >= 2 ** depth - 1
            a["nodes_treeids"].append(t)
            a["nodes_nodeids"].append(i)
            a["nodes_featureids"].append(0 if leaf else int(rng.randint(n_features)))
            a["nodes_modes"].append("LEAF" if leaf else modes[rng.randint(len(modes))])
            a["nodes_values"].append(0.0 if leaf else float(np.round(rng.randn(), 1)))
            a["nodes_truenodeids"].append(0 if leaf else 2 * i + 1)
            a["nodes_falsenodeids"].append(0 if leaf else 2 * i + 2)
            a["nodes_missing_value_tracks_true"].append(int(missing and rng.rand() < 0.5))
            if leaf:
                for c in (weights_for if weights_for is not None else range(n_targets)):
                    a[f"{prefix}_treeids"].append(t)
                    a[f"{prefix}_nodeids"].append(i)
                    a[f"{prefix}_ids"].append(c)
                    w = float(rng.rand() if positive else rng.randn())
                    a[f"{prefix}_weights"].append(w)
    return a


def handmade():
    rng = np.random.RandomState(0)
    X = rng.randn(30, 4).astype(np.float32)
    X[::7, 1] = np.round(X[::7, 1], 1)
    Xn = X.copy()
    Xn[::5, 2] = np.nan
    allmodes = ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ")
    # Regressors.
    for agg in ["SUM", "AVERAGE", "MIN", "MAX"]:
        for post in ["NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"]:
            for nt in [1, 3]:
                if nt == 1 and post not in ("NONE", "PROBIT"):
                    continue
                a = tree_attrs("target", nt, rng, modes=allmodes, missing=True)
                base = list(np.round(rng.randn(nt), 2)) if agg != "MIN" else []
                if post == "PROBIT":
                    a["target_weights"] = [abs(w) / 10 for w in a["target_weights"]]
                    base = []
                node = mk("TreeEnsembleRegressor", ["X"], ["Y"], n_targets=nt,
                                        aggregate_function=agg, post_transform=post, base_values=base, **a)
                write_case(f"test_mlx_treereg_{agg}_{post}_{nt}", node, [Xn])
    # Regressor on double input with *_as_tensor attributes.
    a = tree_attrs("target", 2, rng, modes=allmodes)
    vals = a.pop("nodes_values")
    w = a.pop("target_weights")
    node = mk("TreeEnsembleRegressor", ["X"], ["Y"], n_targets=2,
                            nodes_values_as_tensor=numpy_helper.from_array(np.array(vals, np.float64)),
                            target_weights_as_tensor=numpy_helper.from_array(np.array(w, np.float64)),
                            base_values_as_tensor=numpy_helper.from_array(np.array([0.5, -0.25], np.float64)), **a)
    write_case("test_mlx_treereg_double", node, [X.astype(np.float64)])
    # ai.onnx.ml opset 5 TreeEnsemble: two trees, a set-membership node, a single-leaf tree, float and double.
    for dt, name in [(np.float32, "float"), (np.float64, "double")]:
        for agg in [0, 1, 2, 3]:
            te = mk("TreeEnsemble", ["X"], ["Y"], n_targets=2, aggregate_function=agg, post_transform=0,
                    nodes_featureids=[0, 1, 2, 3, 0],
                    nodes_splits=numpy_helper.from_array(np.array([0.1, -0.2, np.nan, 0.3, 0.0], dt)),
                    nodes_modes=numpy_helper.from_array(np.array([0, 3, 6, 1, 0], np.uint8)),
                    nodes_truenodeids=[1, 0, 1, 2, 3], nodes_trueleafs=[0, 1, 1, 1, 1],
                    nodes_falsenodeids=[2, 1, 2, 3, 3], nodes_falseleafs=[0, 1, 1, 1, 1],
                    nodes_missing_value_tracks_true=[1, 0, 0, 0, 0],
                    membership_values=numpy_helper.from_array(np.array([1.0, 2.5, np.nan], dt)),
                    tree_roots=[0, 3, 4], leaf_targetids=[0, 1, 0, 1],
                    leaf_weights=numpy_helper.from_array(np.array([1.5, -2.0, 0.25, 4.0], dt)))
            Xt = Xn.astype(dt)
            Xt[::3, 2] = 2.5
            write_case(f"test_mlx_tree_ensemble5_{name}_{agg}", te, [Xt], ml_opset=5, onnx_opset=21)
    # Classifiers: binary with one weighted class, both classes, multiclass; labels ints/strings.
    cases = [
        ("bin1_pos_logistic", 2, [1], True, "LOGISTIC", [0.3]),
        ("bin1_pos_none", 2, [1], True, "NONE", []),
        ("bin1_mixed_none", 2, [1], False, "NONE", []),
        ("bin1_mixed_logistic", 2, [1], False, "LOGISTIC", [0.1]),
        ("bin1_mixed_base2", 2, [1], False, "NONE", [0.2, 0.2]),
        ("bin0_mixed", 2, [0], False, "NONE", []),
        ("bin2_none", 2, None, True, "NONE", []),
        ("bin2_softmax_base2", 2, None, False, "SOFTMAX", [0.1, -0.3]),
        ("bin2_base1", 2, None, False, "NONE", [0.4]),
        ("multi_softmax", 4, None, False, "SOFTMAX", [0.1, 0.2, -0.1, 0.0]),
        ("multi_partial", 4, [0, 2], False, "NONE", []),
        ("multi_softmax_zero", 3, [0, 1], False, "SOFTMAX_ZERO", []),
        ("multi_logistic", 3, None, False, "LOGISTIC", [0.5, 0.5, 0.5]),
    ]
    for name, nc, wf, pos, post, base in cases:
        for labels in ["ints", "strings"]:
            a = tree_attrs("class", nc, rng, modes=allmodes, missing=True, weights_for=wf, positive=pos)
            lab = {"classlabels_int64s": list(range(nc))} if labels == "ints" else \
                {"classlabels_strings": [f"c{i}" for i in range(nc)]}
            node = mk("TreeEnsembleClassifier", ["X"], ["Y", "Z"], post_transform=post,
                                    base_values=base, **lab, **a)
            write_case(f"test_mlx_treeclf_{name}_{labels}", node, [Xn])
    a = tree_attrs("class", 2, rng, weights_for=[1], positive=True)
    node = mk("TreeEnsembleClassifier", ["X"], ["Y", "Z"], classlabels_int64s=[3, 7], **a)
    write_case("test_mlx_treeclf_labels_3_7", node, [X])
    a = tree_attrs("class", 2, rng, positive=True)
    node = mk("TreeEnsembleClassifier", ["X"], ["Y", "Z"], classlabels_int64s=[3, 7], **a)
    write_case("test_mlx_treeclf_labels_3_7_both", node, [X])
    # Linear classifier / regressor.
    for nc, labels, post in [(1, [0, 1], "LOGISTIC"), (1, [0, 1], "NONE"), (1, [4, 9], "LOGISTIC"), (3, [5, 6, 7], "SOFTMAX"),
                             (3, [5, 6, 7], "LOGISTIC"), (3, [5, 6, 7], "SOFTMAX_ZERO"), (2, [1, 2], "NONE")]:
        coef = list(np.round(rng.randn(nc * 4), 2))
        inter = list(np.round(rng.randn(nc), 2))
        node = mk("LinearClassifier", ["X"], ["Y", "Z"], coefficients=coef, intercepts=inter,
                                classlabels_ints=labels, post_transform=post)
        write_case(f"test_mlx_linclf_{nc}_{post}_{labels[0]}", node, [X])
    node = mk("LinearClassifier", ["X"], ["Y", "Z"], coefficients=list(rng.randn(12)),
                            intercepts=[0.1, 0.2, 0.3], classlabels_strings=["a", "b", "c"])
    write_case("test_mlx_linclf_strings", node, [X.astype(np.float64)])
    for post in ["NONE", "SOFTMAX"]:
        node = mk("LinearRegressor", ["X"], ["Y"], coefficients=list(rng.randn(8)),
                                intercepts=[0.5, -1.0], targets=2, post_transform=post)
        write_case(f"test_mlx_linreg_{post}", node, [X])
    # SVM classifiers built from random support vectors.
    for nc in [2, 3, 4]:
        for kernel in ["LINEAR", "POLY", "RBF", "SIGMOID"]:
            for proba in [False, True]:
                vpc = [int(rng.randint(1, 4)) for _ in range(nc)]
                nv = sum(vpc)
                attrs = dict(kernel_type=kernel, kernel_params=[0.3, 0.5, 3.0], vectors_per_class=vpc,
                             support_vectors=list(rng.randn(nv * 4)), coefficients=list(rng.randn((nc - 1) * nv)),
                             rho=list(rng.randn(nc * (nc - 1) // 2)), classlabels_ints=list(range(10, 10 + nc)))
                if proba:
                    attrs["prob_a"] = list(-abs(rng.randn(nc * (nc - 1) // 2)))
                    attrs["prob_b"] = list(rng.randn(nc * (nc - 1) // 2) * 0.1)
                node = mk("SVMClassifier", ["X"], ["Y", "Z"], **attrs)
                write_case(f"test_mlx_svc_{nc}_{kernel}_{'proba' if proba else 'raw'}", node, [X])
    node = mk("SVMClassifier", ["X"], ["Y", "Z"], coefficients=list(rng.randn(12)),
                            rho=[0.2], classlabels_strings=["x", "y", "z"], post_transform="SOFTMAX",
            kernel_params=[0.1, 0.0, 3.0])
    write_case("test_mlx_svc_liblinear", node, [X])
    node = mk("SVMRegressor", ["X"], ["Y"], coefficients=list(rng.randn(4)), rho=[0.2],
                            n_supports=0, kernel_params=[0.1, 0.0, 3.0])
    write_case("test_mlx_svr_linear", node, [X])
    # Preprocessing and encoders.
    for norm in ["MAX", "L1", "L2"]:
        write_case(f"test_mlx_normalizer_{norm}", mk("Normalizer", ["X"], ["Y"], norm=norm), [X])
    write_case("test_mlx_normalizer_int64", mk("Normalizer", ["X"], ["Y"], norm="L2"),
               [(X * 10).astype(np.int64)])
    write_case("test_mlx_scaler", mk("Scaler", ["X"], ["Y"], offset=[0.5, 0.5, -1.0, 0.0], scale=[1.0, 2.0, 3.0, 4.0]),
               [X.astype(np.float64)])
    write_case("test_mlx_binarizer", mk("Binarizer", ["X"], ["Y"], threshold=0.3), [X])
    write_case("test_mlx_imputer_int", mk("Imputer", ["X"], ["Y"], imputed_value_int64s=[7],
                                                        replaced_value_int64=0), [(X * 2).astype(np.int64)])
    write_case("test_mlx_imputer_nan", mk("Imputer", ["X"], ["Y"],
                                                        imputed_value_floats=[1, 2, 3, 4], replaced_value_float=np.nan), [Xn])
    S = np.array([["a", "b", "zz"], ["c", "a", "b"]], dtype=object)
    write_case("test_mlx_onehot_strings", mk("OneHotEncoder", ["X"], ["Y"],
                                                           cats_strings=["a", "b", "c"], zeros=1), [S])
    write_case("test_mlx_onehot_int", mk("OneHotEncoder", ["X"], ["Y"], cats_int64s=[1, 3, 5]),
               [np.array([[1, 3], [5, 1]], np.int64)])
    write_case("test_mlx_onehot_float", mk("OneHotEncoder", ["X"], ["Y"], cats_int64s=[1, 3, 5]),
               [np.array([[1.7, 3.0], [5.2, -1.0]], np.float32)])
    write_case("test_mlx_category_mapper_s2i", mk("CategoryMapper", ["X"], ["Y"],
                                                                cats_strings=["a", "b"], cats_int64s=[4, 8], default_int64=-9), [S])
    write_case("test_mlx_category_mapper_i2s", mk("CategoryMapper", ["X"], ["Y"],
                                                                cats_strings=["a", "b"], cats_int64s=[4, 8]),
               [np.array([4, 5, 8], np.int64)])
    write_case("test_mlx_label_encoder_v1", mk("LabelEncoder", ["X"], ["Y"],
                                                             classes_strings=["a", "b", "c"], default_int64=42), [S], ml_opset=1)
    write_case("test_mlx_label_encoder_v1_rev", mk("LabelEncoder", ["X"], ["Y"],
                                                                 classes_strings=["a", "b", "c"]),
               [np.array([0, 2, 5], np.int64)], ml_opset=1)
    write_case("test_mlx_label_encoder_float", mk("LabelEncoder", ["X"], ["Y"],
                                                                keys_floats=[1.5, 2.0, np.nan], values_strings=["x", "y", "n"]),
               [np.array([1.5, 3.0, np.nan, 2.0], np.float32)], ml_opset=2)
    write_case("test_mlx_label_encoder_i2f", mk("LabelEncoder", ["X"], ["Y"],
                                                              keys_int64s=[1, 2], values_floats=[0.5, 0.25], default_float=9.0),
               [np.array([[1, 2, 3]], np.int64)], ml_opset=2)
    write_case("test_mlx_feature_vectorizer", mk("FeatureVectorizer", ["A", "B"], ["Y"],
                                                               inputdimensions=[2, 3]),
               [X[:5, :3].copy(), X[:5, 1:2].copy()])
    write_case("test_mlx_afe_strings", mk("ArrayFeatureExtractor", ["X", "I"], ["Y"]),
               [S, np.array([2, 0], np.int64)])


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    isolate_fixture_nodes()
    handmade()
    print(f"{len(os.listdir(OUT))} cases in {OUT}")


if __name__ == "__main__":
    main()
