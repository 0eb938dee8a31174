#!/usr/bin/env python3
"""A ResNet-class CNN with meaningful (not pretrained: no internet) weights for the static-int8 measurement of
issue 7 (benchmarks/resnet_int8.py). Writes into OUT (default /tmp/onyx-resnet-int8; big files, not in git):

- resnet50.onnx: torchvision 0.29 resnet50 (ARCH=resnet18 for the small one) with 10 classes,
  torch.manual_seed(2026), default (Kaiming) initialisation of the convolutions; the BatchNorm running statistics
  are re-estimated in train mode (cumulative average, no gradient) on 320 synthetic images so every layer's
  activations are well scaled; eval mode; the classifier (fc) is fitted by ridge regression on the centred pooled
  features of 640 labelled images (a random-feature classifier, so predictions have real margins); ONNX export (opset 17,
  dynamic batch, BatchNorm folded into Conv by the exporter's constant folding).
- calib.npz: 32 other images (array "input", [32, 3, 224, 224]) for `onyx quantize --calibration`.
- holdout.npy: 200 further images [200, 3, 224, 224] held out from calibration, for top-1 agreement.
Synthetic images of 10 classes: class c has a strong sine grating at orientation c·18° (± 3°) over weaker random
gratings, Gaussian blobs, a colour gradient and a little noise, normalised with the ImageNet mean/std (numpy seed 7).
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
CLASSES = 10
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(7)
yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE


def image(label):
    img = np.zeros((3, SIZE, SIZE), np.float32)
    gratings = [(np.deg2rad(label * 180 / CLASSES + rng.uniform(-3, 3)), 0.35)]
    gratings += [(rng.uniform(0, np.pi), rng.uniform(0.03, 0.12)) for _ in range(rng.integers(1, 4))]
    for th, amp in gratings:
        f, ph = rng.uniform(3, 10), rng.uniform(0, 2 * np.pi)
        g = np.sin(2 * np.pi * f * (xx * np.cos(th) + yy * np.sin(th)) + ph)
        img += (amp * rng.uniform(0.7, 1.0, (3, 1, 1))).astype(np.float32) * g
    for _ in range(rng.integers(1, 4)):  # blobs
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.25)
        b = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        img += rng.uniform(-0.4, 0.4, (3, 1, 1)).astype(np.float32) * b
    a = rng.uniform(-0.3, 0.3, (3, 2))  # colour gradient
    img += (a[:, 0, None, None] * xx + a[:, 1, None, None] * yy).astype(np.float32)
    img += rng.uniform(0.35, 0.65, (3, 1, 1)).astype(np.float32)
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    img = np.clip(img, 0, 1)
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    return (img - mean) / std


def images(n):
    labels = rng.integers(0, CLASSES, n)
    return np.stack([image(l) for l in labels]).astype(np.float32), labels


torch.manual_seed(2026)
torch.set_num_threads(2)
model = getattr(torchvision.models, ARCH)(weights=None, num_classes=CLASSES)
for m in model.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over all batches
model.train()
with torch.no_grad():
    for i in range(10):
        model(torch.from_numpy(images(32)[0]))
        print(f"BatchNorm statistics: batch {i + 1}/10", file=sys.stderr)
TRAIN_STEPS = int(os.environ.get("TRAIN_STEPS", "0"))
if TRAIN_STEPS > 0:
    # TRAIN_STEPS=N: train the whole network end to end (Adam, batch 32, fresh synthetic images every step, so no
    # image is seen twice) — a trained ResNet whose predictions have the margins of a real one. The random-feature
    # classifier below is then skipped.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(TRAIN_STEPS):
        x, l = images(32)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(l))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 10 == 0:
            print(f"training: step {step + 1}/{TRAIN_STEPS}, loss {loss.item():.3f}", file=sys.stderr)
model.eval()
if TRAIN_STEPS == 0:
    fc, model.fc = model.fc, torch.nn.Identity()
    feats, labels = [], []
    with torch.no_grad():
        for i in range(20):
            x, l = images(32)
            feats.append(model(torch.from_numpy(x)).double())
            labels.append(l)
            print(f"classifier features: batch {i + 1}/20", file=sys.stderr)
    model.fc = fc
    f, lab = torch.cat(feats), np.concatenate(labels)
    # Centred, not standardised: dividing by each feature's std would amplify features that barely vary between images
    # (and with them any rounding noise) — a classifier no trained network would have.
    mu = f.mean(0)
    z = f - mu
    y = torch.nn.functional.one_hot(torch.from_numpy(lab), CLASSES).double() * 2 - 1
    gram = z.T @ z
    lam = 0.1 * gram.trace() / z.shape[1]
    w = torch.linalg.solve(gram + lam * torch.eye(z.shape[1], dtype=torch.float64), z.T @ y).T
    with torch.no_grad():
        model.fc.weight.copy_(w.float())
        model.fc.bias.copy_((-(w @ mu)).float())

(calib, _), (hold, hold_labels) = images(32), images(200)
np.savez(os.path.join(OUT, "calib.npz"), input=calib)
np.save(os.path.join(OUT, "holdout.npy"), hold)
path = os.path.join(OUT, f"{ARCH}.onnx")
torch.onnx.export(model, torch.from_numpy(calib[:1]), path, opset_version=17, input_names=["input"],
                  output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                  do_constant_folding=True, dynamo=False)
with torch.no_grad():
    logits = model(torch.from_numpy(hold))
top = logits.argmax(1).numpy()
s = logits.sort(1).values
print(f"{path}: top-1 accuracy on the 200 held-out images {np.mean(top == hold_labels):.3f}, "
      f"{len(set(top.tolist()))} classes predicted, median top-1/top-2 logit margin "
      f"{(s[:, -1] - s[:, -2]).median():.3f} (logit std {logits.std():.3f})")
