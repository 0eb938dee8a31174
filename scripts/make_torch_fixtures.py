#!/usr/bin/env python3
"""PyTorch-exported test models with onnxruntime reference outputs (Tests/OnyxTests/Fixtures/torch/).

Needs torch, torchvision, transformers, onnx, onnxruntime (CPU). Models use random weights with fixed seeds and
small configurations so the fixtures stay small:
- mobilenet_v2: torchvision mobilenet_v2(width_mult=0.5, num_classes=10), eval mode, input [1, 3, 96, 96];
- bert: transformers BertModel (2 layers, hidden 64, 4 heads, vocab 1000), inputs input_ids / attention_mask /
  token_type_ids int64 [1, 16];
- gpt2: transformers GPT2Model (2 layers, 64 wide, 4 heads, vocab 1000), input_ids int64 [1, 16], no cache
  (exported with the dynamo-based exporter, opset 18);
- lstm: 2-layer nn.LSTM(8 -> 16) + Linear(16 -> 4), input [5, 1, 8] (exported as ONNX LSTM).
Each folder holds model.onnx, input_<name>.npy per graph input, and output_<i>.npy from onnxruntime.
Usage: python scripts/make_torch_fixtures.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import onnxruntime as ort
import torch

out = sys.argv[1] if len(sys.argv) > 1 else "Tests/OnyxTests/Fixtures/torch"
torch.manual_seed(0)


def export(name, model, args, input_names, output_names, dynamic_axes=None, dynamo=False):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=input_names, output_names=output_names,
                          opset_version=18 if dynamo else 17, dynamo=dynamo, dynamic_axes=dynamic_axes,
                          **({"external_data": False} if dynamo else {}))
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {}
    for n, a in zip(input_names, args):
        arr = a.numpy()
        feeds[n] = arr
        np.save(os.path.join(d, f"input_{n}.npy"), arr)
    for i, o in enumerate(sess.run(None, feeds)):
        np.save(os.path.join(d, f"output_{i}.npy"), o)
    print(name, os.path.getsize(path) // 1024, "KiB")


import torchvision  # noqa: E402

export("mobilenet_v2", torchvision.models.mobilenet_v2(width_mult=0.5, num_classes=10),
       (torch.randn(1, 3, 96, 96),), ["input"], ["logits"])

from transformers import BertConfig, BertModel, GPT2Config, GPT2Model  # noqa: E402


class BertWrap(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.m = BertModel(BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                                      vocab_size=1000, max_position_embeddings=64, attn_implementation="eager"))

    def forward(self, ids, mask, types):
        o = self.m(input_ids=ids, attention_mask=mask, token_type_ids=types)
        return o.last_hidden_state, o.pooler_output


ids = torch.randint(0, 1000, (1, 16))
mask = torch.ones(1, 16, dtype=torch.int64)
mask[0, 12:] = 0
export("bert", BertWrap(), (ids, mask, torch.zeros(1, 16, dtype=torch.int64)),
       ["input_ids", "attention_mask", "token_type_ids"], ["last_hidden_state", "pooler_output"])


class GPT2Wrap(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.m = GPT2Model(GPT2Config(n_embd=64, n_layer=2, n_head=4, vocab_size=1000, n_positions=64,
                                      use_cache=False, attn_implementation="eager"))

    def forward(self, ids):
        return self.m(input_ids=ids, use_cache=False).last_hidden_state


# The TorchScript exporter cannot export the causal-mask code of current transformers (aten::diff);
# GPT-2 goes through the dynamo-based exporter instead.
export("gpt2", GPT2Wrap(), (torch.randint(0, 1000, (1, 16)),), ["input_ids"], ["last_hidden_state"], dynamo=True)


class LSTMNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(8, 16, num_layers=2)
        self.fc = torch.nn.Linear(16, 4)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y)


export("lstm", LSTMNet(), (torch.randn(5, 1, 8),), ["x"], ["y"])
