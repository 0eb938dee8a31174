#!/usr/bin/env python3
"""Fixtures for OnyxData's image preprocessing and `onyx eval` on an image folder (Tests/OnyxTests/Fixtures/image).

    pip install torch torchvision pillow numpy onnx onnxruntime scikit-learn
    python scripts/make_image_fixtures.py

Committed files made with torch 2.15.0, torchvision 0.29.2, Pillow 13.0.0, numpy 2.4.6, onnxruntime 1.32.0,
scikit-learn 1.9.1 (also recorded in folder_expected.json).

Writes, under Tests/OnyxTests/Fixtures/image/:
- small images made here with numpy + Pillow (PNG RGB / gray / RGBA, baseline JPEG 4:2:0 and 4:4:4) and, for each,
  `<name>.pixels.npy`: Pillow's decode (`Image.open(p).convert("RGB")`, HWC uint8) — the decoder reference;
- `cases.json` + `case_<i>.npy`: transforms computed with torchvision.transforms.v2.functional on a float32 tensor of
  Pillow's pixels: resize(interpolation=BILINEAR, antialias=False) (= torch.nn.functional.interpolate(mode="bilinear",
  align_corners=False)), center_crop, · scale, normalize(mean, std), channel flip for bgr, permute for nhwc;
- `folder/<class>/*`: a tiny image folder (3 colour classes) and `color_model.onnx` (GlobalAveragePool → Flatten →
  Gemm → Softmax on [N, 3, 8, 8]); `folder_expected.json`: the classes (sorted as torchvision ImageFolder sorts
  them), labels, onnxruntime's probabilities on the torchvision-preprocessed batch and scikit-learn's metrics.
"""
import json
import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import sklearn
import torch
import torchvision
from onnx import TensorProto, helper
from PIL import Image
from sklearn import metrics
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "OnyxTests", "Fixtures", "image")


def smooth_image(h, w, seed, channels=3):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(channels):
        a, b, p = rng.uniform(0.1, 0.6, 3)
        v = 127 + 90 * np.sin(a * x + p * 3) * np.cos(b * y + c) + rng.normal(0, 12, (h, w))
        planes.append(v)
    return np.clip(np.stack(planes, -1), 0, 255).round().astype(np.uint8)


def transform(pixels, t):
    """pixels: HWC uint8 (RGB). t: the ImageTransform JSON. Returns float32 CHW or HWC."""
    x = torch.from_numpy(pixels.copy()).permute(2, 0, 1).to(torch.float32)
    if t.get("resize_shorter") is not None:
        x = TF.resize(x, [t["resize_shorter"]], interpolation=InterpolationMode.BILINEAR, antialias=False)
        crop = t.get("crop") or t["size"]
    else:
        x = TF.resize(x, t["size"], interpolation=InterpolationMode.BILINEAR, antialias=False)
        crop = t.get("crop")
    if crop:
        x = TF.center_crop(x, crop)
    if t["channels"] == "bgr":
        x = x.flip(0)
    x = x * np.float32(t["scale"])
    mean = t["mean"] * 3 if len(t["mean"]) == 1 else t["mean"]
    std = t["std"] * 3 if len(t["std"]) == 1 else t["std"]
    x = TF.normalize(x, mean, std)
    if t["layout"] == "nhwc":
        x = x.permute(1, 2, 0)
    return x.contiguous().numpy().astype(np.float32)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    # Images.
    images = {}
    rgb = smooth_image(29, 37, 1)
    Image.fromarray(rgb).save(os.path.join(OUT, "rgb.png"))
    Image.fromarray(smooth_image(31, 23, 2, 1)[:, :, 0], "L").save(os.path.join(OUT, "gray.png"))
    rgba = np.concatenate([smooth_image(16, 20, 3), smooth_image(16, 20, 4, 1)], -1)
    Image.fromarray(rgba, "RGBA").save(os.path.join(OUT, "rgba.png"))
    Image.fromarray(smooth_image(33, 41, 5)).save(os.path.join(OUT, "q420.jpg"), quality=90, subsampling=2)
    Image.fromarray(smooth_image(26, 30, 6)).save(os.path.join(OUT, "q444.jpg"), quality=85, subsampling=0)
    for name in ["rgb.png", "gray.png", "rgba.png", "q420.jpg", "q444.jpg"]:
        px = np.asarray(Image.open(os.path.join(OUT, name)).convert("RGB"))
        images[name] = px
        np.save(os.path.join(OUT, name + ".pixels.npy"), px)

    imagenet = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    cases = [
        dict(image="rgb.png", size=[16, 20], scale=1 / 255, channels="rgb", layout="nchw", **imagenet),
        dict(image="rgb.png", resize_shorter=40, crop=[32, 32], scale=1 / 255, mean=[0.5], std=[0.25],
             channels="bgr", layout="nhwc"),
        dict(image="gray.png", size=[50, 45], scale=1 / 255, mean=[0], std=[1], channels="rgb", layout="nchw"),
        dict(image="q420.jpg", resize_shorter=20, crop=[17, 19], scale=1.0, mean=[120, 110, 100], std=[60, 50, 40],
             channels="rgb", layout="nchw"),
        dict(image="rgba.png", size=[7, 9], scale=1 / 255, channels="bgr", layout="nchw", **imagenet),
        dict(image="q444.jpg", size=[26, 30], crop=[20, 21], scale=1 / 255, mean=[0], std=[1], channels="rgb",
             layout="nhwc"),
        dict(image="gray.png", resize_shorter=12, size=[12, 8], scale=1 / 255, mean=[0.5], std=[0.5],
             channels="rgb", layout="nchw"),
    ]
    for i, c in enumerate(cases):
        c.setdefault("crop", None)
        c.setdefault("size", None)
        c.setdefault("resize_shorter", None)
        np.save(os.path.join(OUT, f"case_{i}.npy"), transform(images[c["image"]], c))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)

    # Image folder: three colour classes; a few images are deliberately ambiguous.
    rng = np.random.default_rng(7)
    colours = {"blue": (40, 60, 200), "green": (50, 190, 60), "red": (210, 50, 40)}
    tricky = {("red", 3): (150, 170, 60), ("blue", 2): (60, 160, 150), ("green", 3): (90, 120, 140)}
    for cls, base in colours.items():
        os.makedirs(os.path.join(OUT, "folder", cls))
        for k in range(4):
            colour = np.array(tricky.get((cls, k), base), np.float64)
            h, w = 10 + k, 12 + (k % 2) * 3
            img = np.clip(colour + rng.normal(0, 25, (h, w, 3)), 0, 255).round().astype(np.uint8)
            ext = "jpg" if k == 1 else "png"
            path = os.path.join(OUT, "folder", cls, f"img{k}.{ext}")
            Image.fromarray(img).save(path, **({"quality": 95} if ext == "jpg" else {}))
    with open(os.path.join(OUT, "folder", "red", "notes.txt"), "w") as f:
        f.write("not an image: skipped\n")
    ds = torchvision.datasets.ImageFolder(os.path.join(OUT, "folder"))
    t = dict(size=[8, 8], resize_shorter=None, crop=None, scale=1 / 255, mean=[0.5], std=[0.25], channels="rgb",
             layout="nchw")
    batch = np.stack([transform(np.asarray(Image.open(p).convert("RGB")), t) for p, _ in ds.samples])
    labels = [ds.classes[y] for _, y in ds.samples]
    # Model: mean of each channel → 3 scores (class order blue, green, red = channel B, G, R) → softmax.
    w = np.array([[0, 0, 4], [0, 4, 0], [4, 0, 0]], np.float32)  # Gemm B: [3 in (R,G,B), 3 out]
    b = np.zeros(3, np.float32)
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("Gemm", ["flat", "W", "b"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)],
        "color_model",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor("W", TensorProto.FLOAT, [3, 3], w.flatten()), helper.make_tensor("b", TensorProto.FLOAT, [3], b)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, "color_model.onnx"))
    probs = ort.InferenceSession(os.path.join(OUT, "color_model.onnx")).run(None, {"input": batch})[0].astype(np.float64)
    pred = [ds.classes[i] for i in probs.argmax(1)]
    expected = dict(
        classes=ds.classes,
        files=[os.path.relpath(p, os.path.join(OUT, "folder")) for p, _ in ds.samples],
        labels=labels,
        predictions=pred,
        transform=t,
        accuracy=metrics.accuracy_score(labels, pred),
        confusion_matrix=metrics.confusion_matrix(labels, pred, labels=ds.classes).tolist(),
        f1_macro=metrics.f1_score(labels, pred, average="macro"),
        log_loss=metrics.log_loss(labels, probs, labels=ds.classes),
        versions=dict(torch=torch.__version__, torchvision=torchvision.__version__, pillow=Image.__version__,
                      onnxruntime=ort.__version__, sklearn=sklearn.__version__),
    )
    with open(os.path.join(OUT, "folder_expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"wrote {OUT}: {len(cases)} transform cases, {len(ds.samples)} folder images, accuracy {expected['accuracy']:.3f}")


if __name__ == "__main__":
    main()
