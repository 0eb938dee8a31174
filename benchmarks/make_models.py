#!/usr/bin/env python3
"""Generates the synthetic benchmark models (random weights, fixed seed) into benchmarks/models/ (git-ignored).

- bert_base_seq128.onnx: a BERT-base-shaped encoder: 12 layers, hidden 768, 12 heads, FFN 3072, GELU (Erf),
  LayerNormalization, input `hidden` float [1, 128, 768] (embeddings are outside the measured graph) and an
  additive attention mask `mask` float [1, 1, 1, 128].
- mobilenetv2.onnx: a MobileNetV2-shaped CNN (inverted residual blocks, depthwise 3x3, ReLU6 as Clip,
  residual Adds, width 1.0, 224x224 input), BatchNormalization folded into the convolutions as exported
  models usually are.
- mlp_64_128_10.onnx: a small MLP 64 -> 128 -> 10 (Gemm, Relu, Gemm, Softmax), input [1, 64].
The light CNNs (resnet50, squeezenet, densenet121, inception_v1, shufflenet, vgg19) come from the onnx wheel via
scripts/onnx-test-data.sh (.onnx-tests/light/).
Usage: python benchmarks/make_models.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(2026)


def W(name, shape, scale=0.02):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def save(nodes, inits, inputs, outputs, name, opset=17):
    g = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="onyx-benchmarks")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, name + ".onnx"))


def bert(layers=12, hidden=768, heads=12, ffn=3072, seq=128):
    nodes, inits = [], []
    hd = hidden // heads
    inits += [numpy_helper.from_array(np.array([1, seq, heads, hd], np.int64), "qkv_shape"),
              numpy_helper.from_array(np.array([1, seq, hidden], np.int64), "out_shape"),
              numpy_helper.from_array(np.array(1.0 / np.sqrt(hd), np.float32), "scale"),
              numpy_helper.from_array(np.array(np.sqrt(0.5), np.float32), "inv_sqrt2"),
              numpy_helper.from_array(np.array(0.5, np.float32), "half"),
              numpy_helper.from_array(np.array(1.0, np.float32), "one")]
    x = "hidden"
    for l in range(layers):
        p = f"l{l}_"
        for nm in ("q", "k", "v", "o"):
            inits += [W(p + nm + "_w", (hidden, hidden)), W(p + nm + "_b", (hidden,))]
        inits += [W(p + "f1_w", (hidden, ffn)), W(p + "f1_b", (ffn,)), W(p + "f2_w", (ffn, hidden)), W(p + "f2_b", (hidden,))]
        for ln in ("ln1", "ln2"):
            inits += [numpy_helper.from_array(np.ones(hidden, np.float32), p + ln + "_g"),
                      numpy_helper.from_array(np.zeros(hidden, np.float32), p + ln + "_b")]
        for nm, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
            nodes += [helper.make_node("MatMul", [x, p + nm + "_w"], [p + nm + "_mm"]),
                      helper.make_node("Add", [p + nm + "_mm", p + nm + "_b"], [p + nm + "_add"]),
                      helper.make_node("Reshape", [p + nm + "_add", "qkv_shape"], [p + nm + "_r"]),
                      helper.make_node("Transpose", [p + nm + "_r"], [p + nm + "_t"], perm=perm)]
        nodes += [helper.make_node("MatMul", [p + "q_t", p + "k_t"], [p + "qk"]),
                  helper.make_node("Mul", [p + "qk", "scale"], [p + "qk_s"]),
                  helper.make_node("Add", [p + "qk_s", "mask"], [p + "qk_m"]),
                  helper.make_node("Softmax", [p + "qk_m"], [p + "probs"], axis=-1),
                  helper.make_node("MatMul", [p + "probs", p + "v_t"], [p + "ctx"]),
                  helper.make_node("Transpose", [p + "ctx"], [p + "ctx_t"], perm=[0, 2, 1, 3]),
                  helper.make_node("Reshape", [p + "ctx_t", "out_shape"], [p + "ctx_r"]),
                  helper.make_node("MatMul", [p + "ctx_r", p + "o_w"], [p + "o_mm"]),
                  helper.make_node("Add", [p + "o_mm", p + "o_b"], [p + "o_add"]),
                  helper.make_node("Add", [p + "o_add", x], [p + "res1"]),
                  helper.make_node("LayerNormalization", [p + "res1", p + "ln1_g", p + "ln1_b"], [p + "ln1"], axis=-1, epsilon=1e-12),
                  helper.make_node("MatMul", [p + "ln1", p + "f1_w"], [p + "f1_mm"]),
                  helper.make_node("Add", [p + "f1_mm", p + "f1_b"], [p + "f1"]),
                  # GELU(x) = 0.5 * x * (1 + erf(x / sqrt(2)))
                  helper.make_node("Mul", [p + "f1", "inv_sqrt2"], [p + "g_div"]),
                  helper.make_node("Erf", [p + "g_div"], [p + "g_erf"]),
                  helper.make_node("Add", [p + "g_erf", "one"], [p + "g_add"]),
                  helper.make_node("Mul", [p + "f1", p + "g_add"], [p + "g_mul"]),
                  helper.make_node("Mul", [p + "g_mul", "half"], [p + "gelu"]),
                  helper.make_node("MatMul", [p + "gelu", p + "f2_w"], [p + "f2_mm"]),
                  helper.make_node("Add", [p + "f2_mm", p + "f2_b"], [p + "f2"]),
                  helper.make_node("Add", [p + "f2", p + "ln1"], [p + "res2"]),
                  helper.make_node("LayerNormalization", [p + "res2", p + "ln2_g", p + "ln2_b"], [p + "out"], axis=-1, epsilon=1e-12)]
        x = p + "out"
    nodes.append(helper.make_node("Identity", [x], ["output"]))
    save(nodes, inits,
         [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [1, seq, hidden]),
          helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, 1, seq])],
         [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, seq, hidden])], "bert_base_seq128")


def mobilenetv2():
    nodes, inits = [], []
    inits += [numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
              numpy_helper.from_array(np.array(6.0, np.float32), "six")]
    count = [0]

    def conv(x, cin, cout, k, stride=1, group=1, act=True):
        count[0] += 1
        n = f"c{count[0]}"
        fan = cin // group * k * k
        inits.append(W(n + "_w", (cout, cin // group, k, k), scale=np.sqrt(2.0 / fan)))
        inits.append(W(n + "_b", (cout,), scale=0.01))
        nodes.append(helper.make_node("Conv", [x, n + "_w", n + "_b"], [n], kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[k // 2] * 4, group=group))
        if act:
            nodes.append(helper.make_node("Clip", [n, "zero", "six"], [n + "_a"]))
            return n + "_a"
        return n

    x = conv("input", 3, 32, 3, 2)
    cin = 32
    cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    for t, c, n, s in cfg:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = x
            if t != 1:
                y = conv(y, cin, hidden, 1)
            y = conv(y, hidden, hidden, 3, stride, group=hidden)
            y = conv(y, hidden, c, 1, act=False)
            if stride == 1 and cin == c:
                count[0] += 1
                nodes.append(helper.make_node("Add", [x, y], [f"res{count[0]}"]))
                y = f"res{count[0]}"
            x, cin = y, c
    x = conv(x, cin, 1280, 1)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
    inits += [W("fc_w", (1000, 1280)), W("fc_b", (1000,))]
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1))
    save(nodes, inits, [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
         [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])], "mobilenetv2")


def mlp():
    inits = [W("w1", (64, 128), 0.1), W("b1", (128,)), W("w2", (128, 10), 0.1), W("b2", (10,))]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]), helper.make_node("Relu", ["h"], ["hr"]),
             helper.make_node("Gemm", ["hr", "w2", "b2"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=-1)]
    save(nodes, inits, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
         [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])], "mlp_64_128_10")


bert()
mobilenetv2()
mlp()
print("models written to", out)
