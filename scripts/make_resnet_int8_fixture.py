#!/usr/bin/env python3
"""A ResNet-class CNN with meaningful (not pretrained: no internet) weights for the static-int8 measurement of
issue 7 (benchmarks/resnet_int8.sh). Writes into OUT (default /tmp/onyx-resnet-int8; big files, not in git):

- resnet50.onnx: torchvision 0.29 resnet50 (ARCH=resnet18 for the small one), torch.manual_seed(2026), default
  (Kaiming) initialisation; the BatchNorm running statistics are re-estimated in train mode (cumulative average,
  no gradient) on 320 structured synthetic images so every layer's activations are well scaled, then eval mode and
  ONNX export (opset 17, dynamic batch, BatchNorm folded into Conv by the exporter's constant folding).
- calib.npz: 32 other synthetic images (array "input", [32, 3, 224, 224]) for `onyx quantize --calibration`.
- holdout.npy: 200 further images [200, 3, 224, 224] held out from calibration, for top-1 agreement.
Synthetic images: a random mix of oriented sine gratings, Gaussian blobs and colour gradients plus a little noise,
normalised with the ImageNet mean/std — smooth, structured, and different per image (numpy seed 7).
Usage: /tmp/venv-torch/bin/python scripts/make_resnet_int8_fixture.py [OUT]   (torch, torchvision, numpy, onnx)
"""
import os
import sys

import numpy as np
import torch
import torchvision

OUT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/onyx-resnet-int8"
ARCH = os.environ.get("ARCH", "resnet50")
SIZE = 224
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(7)
yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE


def image():
    img = np.zeros((3, SIZE, SIZE), np.float32)
    for _ in range(rng.integers(2, 6)):  # gratings
        th, f, ph = rng.uniform(0, np.pi), rng.uniform(1, 12), rng.uniform(0, 2 * np.pi)
        g = np.sin(2 * np.pi * f * (xx * np.cos(th) + yy * np.sin(th)) + ph)
        img += rng.uniform(0.05, 0.3, (3, 1, 1)).astype(np.float32) * g
    for _ in range(rng.integers(1, 5)):  # blobs
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
        b = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        img += rng.uniform(-0.6, 0.6, (3, 1, 1)).astype(np.float32) * b
    a = rng.uniform(-0.3, 0.3, (3, 2))  # colour gradient
    img += (a[:, 0, None, None] * xx + a[:, 1, None, None] * yy).astype(np.float32)
    img += rng.uniform(0.3, 0.7, (3, 1, 1)).astype(np.float32)
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    img = np.clip(img, 0, 1)
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    return (img - mean) / std


def images(n):
    return np.stack([image() for _ in range(n)]).astype(np.float32)


torch.manual_seed(2026)
torch.set_num_threads(2)
model = getattr(torchvision.models, ARCH)(weights=None)
for m in model.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over all batches
model.train()
with torch.no_grad():
    for i in range(10):
        model(torch.from_numpy(images(32)))
        print(f"BatchNorm statistics: batch {i + 1}/10", file=sys.stderr)
model.eval()
calib, hold = images(32), images(200)
np.savez(os.path.join(OUT, "calib.npz"), input=calib)
np.save(os.path.join(OUT, "holdout.npy"), hold)
path = os.path.join(OUT, f"{ARCH}.onnx")
torch.onnx.export(model, torch.from_numpy(calib[:1]), path, opset_version=17, input_names=["input"],
                  output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                  do_constant_folding=True, dynamo=False)
with torch.no_grad():
    top = model(torch.from_numpy(hold[:64])).argmax(1).numpy()
print(f"{path}: top-1 classes of 64 held-out images: {len(set(top.tolist()))} distinct")
