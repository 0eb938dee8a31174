#!/usr/bin/env python3
"""Builds and briefly trains small Keras 3 models, saves each as .keras and legacy .h5, and records Keras's own
predictions on fixed inputs. Output: Tests/OnyxTests/Fixtures/keras/<name>/{model.keras, model.h5,
input_<i>.npy, output_<i>.npy}. Tests/OnyxTests/KerasConvertTests.swift converts both files with Onyx and compares.

Setup (torch CPU backend):
    python3 -m venv /tmp/venv-keras && /tmp/venv-keras/bin/pip install keras torch numpy h5py
    KERAS_BACKEND=torch /tmp/venv-keras/bin/python scripts/make_keras_fixtures.py [names...]
"""
import os
import shutil
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "OnyxTests", "Fixtures", "keras")
ACTIVATIONS = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "hard_silu", "tanh",
               "softmax", "log_softmax", "softplus", "softsign", "silu", "swish", "exponential", "linear", "mish"]


def mlp():
    return keras.Sequential([
        keras.Input((8,)), L.Dense(16, activation="relu"), L.Dropout(0.3), L.Dense(8, activation="tanh"),
        L.Dense(4, activation="softmax")], name="mlp")


def activations():
    x = keras.Input((6,))
    h = L.Dense(6)(x)
    outs = [L.Activation(a, name="act_" + a)(h) for a in ACTIVATIONS]
    outs.append(L.Activation(keras.activations.gelu, name="gelu_fn")(h))
    outs += [L.ReLU(max_value=4.0)(h), L.ReLU(negative_slope=0.1)(h), L.LeakyReLU(negative_slope=0.25)(h),
             L.ELU(alpha=0.7)(h), L.Softmax()(h)]
    return keras.Model(x, L.Concatenate()(outs), name="activations")


def cnn():
    return keras.Sequential([
        keras.Input((12, 12, 3)),
        L.Conv2D(8, 3, padding="same", activation="relu"),
        L.BatchNormalization(momentum=0.5),
        L.MaxPooling2D(2),
        L.Conv2D(6, 3, strides=1, padding="valid", use_bias=False),
        L.BatchNormalization(momentum=0.5),
        L.Activation("relu6"),
        L.AveragePooling2D(2, padding="same"),
        L.Flatten(),
        L.Dense(5)], name="cnn")


def cnn_blocks():
    x = keras.Input((10, 9, 4))
    h = L.ZeroPadding2D(((1, 2), (0, 1)))(x)
    h = L.DepthwiseConv2D(3, depth_multiplier=2, padding="valid")(h)
    h = L.PReLU()(h)
    h = L.SeparableConv2D(6, 3, padding="same", strides=2, activation="elu")(h)
    h = L.Cropping2D(((1, 0), (0, 1)))(h)
    h = L.UpSampling2D(2)(h)
    h = L.Conv2D(5, 3, dilation_rate=2, padding="same")(h)
    h = L.MaxPooling2D(3, strides=2, padding="same")(h)
    a = L.GlobalAveragePooling2D()(h)
    b = L.GlobalMaxPooling2D()(h)
    c = L.GlobalAveragePooling2D(keepdims=True)(h)
    c = L.Reshape((5,))(c)
    return keras.Model(x, L.Concatenate()([a, b, c]), name="cnn_blocks")


def merge():
    a = keras.Input((6,), name="a")
    b = keras.Input((6,), name="b")
    d = L.Dense(6, activation="sigmoid")
    da, db = d(a), d(b)  # shared layer
    outs = [L.Add()([da, db]), L.Subtract()([da, db]), L.Multiply()([da, db]), L.Average()([da, db, a]),
            L.Maximum()([da, db]), L.Minimum()([da, db])]
    c = L.Concatenate(axis=-1)(outs)
    return keras.Model([a, b], [L.Dense(3, name="head1")(c), L.Dense(2, activation="softmax", name="head2")(c)],
                       name="merge")


def conv1d():
    return keras.Sequential([
        keras.Input((20, 3)), L.Conv1D(6, 3, activation="relu"), L.MaxPooling1D(2),
        L.Conv1D(4, 3, padding="same", dilation_rate=2), L.AveragePooling1D(2), L.Conv1D(4, 2, padding="causal"),
        L.GlobalAveragePooling1D(), L.Dense(3)], name="conv1d")


def misc():
    x = keras.Input((4, 6))
    h = L.Rescaling(0.5, offset=0.1)(x)
    n = L.Normalization()
    n.adapt(np.random.default_rng(1).normal(2.0, 3.0, size=(64, 4, 6)).astype("float32"))
    h = n(h)
    h = L.LayerNormalization()(h)
    h = L.Permute((2, 1))(h)
    h = L.Dense(5, activation="gelu")(h)
    h = L.Reshape((3, 10))(h)
    h = L.SpatialDropout1D(0.2)(h)
    h = L.GaussianNoise(0.1)(h)
    h = L.Flatten()(h)
    return keras.Model(x, L.Dense(4)(h), name="misc")


def embedding():
    x = keras.Input((7,), dtype="int32")
    h = L.Embedding(20, 5)(x)
    h = L.GlobalAveragePooling1D()(h)
    return keras.Model(x, L.Dense(2)(h), name="embedding")


def rnn():
    x = keras.Input((5, 4))
    a = L.LSTM(6, return_sequences=True)(x)
    a = L.GRU(5)(a)
    b = L.SimpleRNN(3)(x)
    c = L.Bidirectional(L.LSTM(4))(x)
    d = L.GRU(3, reset_after=False, go_backwards=True)(x)
    return keras.Model(x, L.Concatenate()([a, b, c, d]), name="rnn")


def conv_transpose():
    return keras.Sequential([
        keras.Input((5, 5, 3)), L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
        L.Conv2DTranspose(2, 2, strides=1, padding="valid"), L.Flatten()], name="conv_transpose")


MODELS = {f.__name__: f for f in [mlp, activations, cnn, cnn_blocks, merge, conv1d, misc, embedding, rnn,
                                  conv_transpose]}


def make_inputs(model, rng, n):
    xs = []
    for t in model.inputs:
        shape = (n,) + tuple(t.shape[1:])
        if "int" in str(t.dtype):
            xs.append(rng.integers(0, 20, size=shape).astype("int32"))
        else:
            xs.append(rng.normal(size=shape).astype("float32"))
    return xs


def build(name):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = MODELS[name]()
    # A short real training run so weights (and BatchNormalization statistics) are not the initial ones.
    xs = make_inputs(model, rng, 32)
    ys = model.predict(xs, verbose=0)
    ys = ys if isinstance(ys, list) else [ys]
    ys = [y + rng.normal(scale=0.1, size=y.shape).astype("float32") for y in ys]
    model.compile(optimizer="adam", loss="mse")
    model.fit(xs, ys if len(ys) > 1 else ys[0], epochs=2, batch_size=8, verbose=0)
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    model.save(os.path.join(d, "model.keras"))
    model.save(os.path.join(d, "model.h5"))
    test = make_inputs(model, np.random.default_rng(1), 3)
    preds = model.predict(test, verbose=0)
    preds = preds if isinstance(preds, list) else [preds]
    for i, x in enumerate(test):
        np.save(os.path.join(d, f"input_{i}.npy"), x)
    for i, y in enumerate(preds):
        np.save(os.path.join(d, f"output_{i}.npy"), np.asarray(y, dtype="float32"))
    print(name, [x.shape for x in test], "->", [y.shape for y in preds])


def hdf5_fixtures():
    """HDF5 storage features Keras itself does not use, for the reader's tests (Fixtures/hdf5): chunked datasets
    with gzip + shuffle and fletcher32, compact layout, big-endian integers, string attributes; one file in the
    earliest format (superblock v0, symbol-table groups) and one in the HDF5 1.8 format (superblock v2, v2 object
    headers, link messages, v4 layouts with fixed-array chunk indexes)."""
    import h5py
    d = os.path.join(OUT, "..", "hdf5")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    rng = np.random.default_rng(2)
    arrays = {
        "gzip": rng.normal(size=(7, 5)).astype("float32"),
        "fletcher": rng.normal(size=(9,)).astype("float64"),
        "compact": np.arange(6, dtype="float32").reshape(2, 3),
        "big_endian": np.arange(-4, 8, dtype=">i2").reshape(3, 4),
    }
    for libver in ["earliest", "v108"]:
        with h5py.File(os.path.join(d, f"{libver}.h5"), "w", libver=libver) as f:
            g = f.create_group("group/inner")
            g.create_dataset("gzip", data=arrays["gzip"], chunks=(3, 2), compression="gzip", shuffle=True)
            g.create_dataset("fletcher", data=arrays["fletcher"], chunks=(4,), fletcher32=True)
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_layout(h5py.h5d.COMPACT)
            space = h5py.h5s.create_simple((2, 3))
            ds = h5py.h5d.create(f["group"].id, b"compact", h5py.h5t.IEEE_F32LE, space, dcpl=dcpl)
            ds.write(h5py.h5s.ALL, h5py.h5s.ALL, arrays["compact"])
            f["group"].create_dataset("big_endian", data=arrays["big_endian"])
            f.attrs["vlen"] = "a variable-length string ✓"
            f.attrs["fixed"] = np.array([b"abc", b"de"], dtype="S4")
            f.attrs["numbers"] = np.array([1.5, -2.0], dtype="float64")
    for k, v in arrays.items():
        np.save(os.path.join(d, f"{k}.npy"), v.astype("float32"))
    # A .keras archive re-packed with deflate-compressed entries (Keras itself stores them uncompressed).
    import zipfile
    src = os.path.join(OUT, "mlp", "model.keras")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(os.path.join(d, "mlp_deflated.keras"), "w",
                                                        compression=zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, zin.read(item.filename))


if __name__ == "__main__":
    for n in sys.argv[1:] or MODELS:
        if n == "hdf5":
            continue
        build(n)
    hdf5_fixtures()
