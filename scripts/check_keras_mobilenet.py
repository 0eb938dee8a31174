#!/usr/bin/env python3
"""Full-size check built fresh in Keras: keras.applications.MobileNetV2 (alpha 0.35, 96x96, random weights and
BatchNormalization statistics) → `onyx convert keras` → Onyx (`onyx run`) and ONNX Runtime vs Keras. The same model
is committed as Tests/OnyxTests/Fixtures/keras_full/mobilenet_v2 (scripts/make_keras_fixtures.py mobilenet_v2) and
checked by `swift test` and scripts/check_keras_onnx.py in CI; this script needs Keras itself, which CI does not
install (docs/convert.md says why).

    KERAS_BACKEND=torch /tmp/venv-keras/bin/python scripts/check_keras_mobilenet.py [--onyx .build/debug/onyx]
(needs keras, torch, numpy and onnxruntime in the same interpreter.)
"""
import argparse, glob, os, subprocess, tempfile  # noqa: E401
os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402
import keras  # noqa: E402
import onnxruntime as ort  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--onyx", default=".build/debug/onyx")
args = ap.parse_args()
keras.utils.set_random_seed(0)
m = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10)
for layer in m.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
        g, b, mu, var = layer.get_weights()
        r = np.random.default_rng(len(layer.name))
        layer.set_weights([g * r.uniform(0.5, 1.5, g.shape), b + r.normal(0, 0.1, b.shape), r.normal(0, 0.1, mu.shape),
                           r.uniform(0.5, 1.5, var.shape)])
x = np.random.default_rng(1).normal(size=(2, 96, 96, 3)).astype("float32")
want = m.predict(x, verbose=0)
with tempfile.TemporaryDirectory() as d:
    m.save(f"{d}/m.keras")
    np.save(f"{d}/x.npy", x)
    subprocess.run([args.onyx, "convert", "keras", f"{d}/m.keras", "-o", f"{d}/m.onnx"], check=True)
    s = ort.InferenceSession(f"{d}/m.onnx")
    print("ONNX Runtime max abs diff", float(np.abs(s.run(None, {s.get_inputs()[0].name: x})[0] - want).max()))
    subprocess.run([args.onyx, "run", f"{d}/m.onnx", "--input", f"{s.get_inputs()[0].name}={d}/x.npy",
                    "--output-dir", f"{d}/out"], check=True, capture_output=True)
    got = np.load(sorted(glob.glob(f"{d}/out/*.npy"))[0])
    print("Onyx max abs diff", float(np.abs(got - want).max()))
