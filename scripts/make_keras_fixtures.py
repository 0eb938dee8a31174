#!/usr/bin/env python3
"""Builds and briefly trains small Keras 3 models, saves each as .keras and legacy .h5, and records Keras's own
predictions on fixed inputs. Output: Tests/OnyxTests/Fixtures/keras/<name>/{model.keras, model.h5,
input_<i>.npy, output_<i>.npy}. Tests/OnyxTests/KerasConvertTests.swift converts both files with Onyx and compares.

Setup (torch CPU backend):
    python3 -m venv /tmp/venv-keras && /tmp/venv-keras/bin/pip install keras torch numpy h5py
    KERAS_BACKEND=torch /tmp/venv-keras/bin/python scripts/make_keras_fixtures.py [names...]
Names: the model functions below, `mobilenet_v2` (Fixtures/keras_full) and `hdf5` (Fixtures/hdf5); none = all.
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


def dot():
    a = keras.Input((5,), name="a")
    b = keras.Input((5,), name="b")
    s = keras.Input((4, 6), name="s")
    t = keras.Input((3, 6), name="t")
    outs = [L.Dot(axes=1)([a, b]), L.Dot(axes=1, normalize=True)([a, b]),
            L.Flatten()(L.Dot(axes=2)([s, t])), L.Flatten()(L.Dot(axes=(1, 1))([s, L.Dense(6)(s)]))]
    return keras.Model([a, b, s, t], L.Concatenate()(outs), name="dot")


def group_norm():
    x = keras.Input((6, 5, 8))
    h = L.Conv2D(8, 3, padding="same")(x)
    h = L.GroupNormalization(groups=4)(h)
    h = L.GroupNormalization(groups=2, axis=-1, center=False, epsilon=1e-4)(L.Activation("relu")(h))
    s = L.GroupNormalization(groups=8)(L.Reshape((30, 8))(h))  # rank 3, one channel per group
    v = L.GroupNormalization(groups=2, scale=False)(L.Dense(6)(L.Flatten()(s)))  # rank 2
    return keras.Model(x, [h, v], name="group_norm")


def time_distributed():
    x = keras.Input((4, 6))
    y = keras.Input((3, 8, 8, 2))
    a = L.TimeDistributed(L.Dense(5, activation="relu"))(x)
    c = L.TimeDistributed(L.Conv2D(3, 3, strides=2, padding="same"))(y)
    c = L.TimeDistributed(L.MaxPooling2D(2))(c)
    c = L.TimeDistributed(L.Flatten())(c)
    return keras.Model([x, y], [a, L.TimeDistributed(L.Dense(2))(c)], name="time_distributed")


def nested():
    inner_seq = keras.Sequential([keras.Input((6,)), L.Dense(8, activation="relu"), L.Dense(4)], name="inner_seq")
    i = keras.Input((4,))
    inner_fn = keras.Model(i, L.Dense(3, activation="tanh", name="fn_dense")(L.BatchNormalization()(i)),
                           name="inner_fn")
    x = keras.Input((6,))
    h = inner_seq(x)
    return keras.Model(x, [inner_fn(h), L.Dense(2)(h)], name="nested")


def channels_first():
    x = keras.Input((3, 10, 9))
    h = L.Conv2D(4, 3, padding="same", data_format="channels_first", activation="relu")(x)
    h = L.BatchNormalization(axis=1)(h)
    h = L.MaxPooling2D(2, data_format="channels_first")(h)
    h = L.ZeroPadding2D(1, data_format="channels_first")(h)
    h = L.DepthwiseConv2D(3, data_format="channels_first")(h)
    h = L.SeparableConv2D(5, 2, data_format="channels_first")(h)
    h = L.UpSampling2D(2, data_format="channels_first")(h)
    h = L.Cropping2D(((1, 0), (0, 1)), data_format="channels_first")(h)
    h = L.Conv2DTranspose(3, 2, strides=2, data_format="channels_first")(h)
    h = L.AveragePooling2D(2, data_format="channels_first")(h)
    g = L.GlobalMaxPooling2D(data_format="channels_first")(h)
    f = L.Flatten(data_format="channels_first")(h)
    s = keras.Input((4, 12))
    c = L.Conv1D(5, 3, data_format="channels_first")(s)
    c = L.GlobalAveragePooling1D(data_format="channels_first")(c)
    return keras.Model([x, s], L.Concatenate()([g, L.Dense(4)(f), c]), name="channels_first")


def attention():
    x = keras.Input((5, 8))
    y = keras.Input((7, 6))
    a = L.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    b = L.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=5, use_bias=False, output_shape=4)(x, y)
    c = L.MultiHeadAttention(num_heads=2, key_dim=3)(x, y, key=L.Dense(6)(y))
    d = L.MultiHeadAttention(num_heads=2, key_dim=4)(x, x, use_causal_mask=True)
    return keras.Model([x, y], L.Concatenate()([a, b, c, d]), name="attention")


def stateful():
    x = keras.Input((4, 3), batch_size=3)
    a = L.LSTM(5, stateful=True)(x)
    b = L.GRU(4, stateful=True, return_sequences=True)(x)
    c = L.SimpleRNN(3, stateful=True)(x)
    return keras.Model(x, [a, b, c], name="stateful")


MODELS = {f.__name__: f for f in [mlp, activations, cnn, cnn_blocks, merge, conv1d, misc, embedding, rnn,
                                  conv_transpose, dot, group_norm, time_distributed, nested, channels_first,
                                  attention, stateful]}


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
    fixed_batch = model.inputs[0].shape[0]  # stateful RNNs need a fixed batch size
    xs = make_inputs(model, rng, 32 if fixed_batch is None else fixed_batch * 2)
    ys = model.predict(xs, verbose=0, batch_size=fixed_batch)
    ys = ys if isinstance(ys, list) else [ys]
    ys = [y + rng.normal(scale=0.1, size=y.shape).astype("float32") for y in ys]
    model.compile(optimizer="adam", loss="mse")
    if fixed_batch is None:  # (the torch backend cannot train stateful RNNs: those keep their initial weights)
        model.fit(xs, ys if len(ys) > 1 else ys[0], epochs=2, batch_size=8, verbose=0)
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    model.save(os.path.join(d, "model.keras"))
    model.save(os.path.join(d, "model.h5"))
    test = make_inputs(model, np.random.default_rng(1), 3)
    preds = model.predict(test, verbose=0, batch_size=fixed_batch)
    preds = preds if isinstance(preds, list) else [preds]
    if name == "stateful":
        # Stateful RNNs: states start at zero (reset), the first call's final states are recorded
        # (state_<i>.npy, in layer order: LSTM h, c; GRU h; SimpleRNN h), then a second call continues from them.
        for layer in model.layers:
            if getattr(layer, "stateful", False):
                layer.reset_states()
        preds = model.predict(test, verbose=0, batch_size=fixed_batch)
        preds = preds if isinstance(preds, list) else [preds]
        states = [np.asarray(keras.ops.convert_to_numpy(s), dtype="float32")
                  for layer in model.layers if getattr(layer, "stateful", False) for s in layer.states]
        second = make_inputs(model, np.random.default_rng(2), 3)
        preds2 = model.predict(second, verbose=0, batch_size=fixed_batch)
        for i, s in enumerate(states):
            np.save(os.path.join(d, f"state_{i}.npy"), s)
        np.save(os.path.join(d, "second_input_0.npy"), second[0])
        for i, y in enumerate(preds2):
            np.save(os.path.join(d, f"second_output_{i}.npy"), np.asarray(y, dtype="float32"))
    for i, x in enumerate(test):
        np.save(os.path.join(d, f"input_{i}.npy"), x)
    for i, y in enumerate(preds):
        np.save(os.path.join(d, f"output_{i}.npy"), np.asarray(y, dtype="float32"))
    print(name, [x.shape for x in test], "->", [y.shape for y in preds])


def mobilenet_v2():
    """The full-size check: keras.applications.MobileNetV2 (alpha 0.35, 96x96 inputs, 10 classes: 0.4 M parameters,
    1.7 MB as .keras) with random weights and random BatchNormalization statistics (so that no normalization is an
    identity). Written to Fixtures/keras_full/mobilenet_v2/ (model.keras, input_0.npy, output_0.npy)."""
    keras.utils.set_random_seed(0)
    m = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10)
    for layer in m.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, mu, var = layer.get_weights()
            r = np.random.default_rng(len(layer.name))
            layer.set_weights([g * r.uniform(0.5, 1.5, g.shape), b + r.normal(0, 0.1, b.shape),
                               r.normal(0, 0.1, mu.shape), r.uniform(0.5, 1.5, var.shape)])
    x = np.random.default_rng(1).normal(size=(2, 96, 96, 3)).astype("float32")
    d = os.path.join(OUT, "..", "keras_full", "mobilenet_v2")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    m.save(os.path.join(d, "model.keras"))
    np.save(os.path.join(d, "input_0.npy"), x)
    np.save(os.path.join(d, "output_0.npy"), np.asarray(m.predict(x, verbose=0), dtype="float32"))
    print("mobilenet_v2", m.count_params(), "parameters")


def hdf5_fixtures():
    """HDF5 storage features Keras itself does not use, for the reader's tests (Fixtures/hdf5): chunked datasets
    with gzip + shuffle and fletcher32, compact layout, big-endian integers, string attributes; one file in the
    earliest format (superblock v0, symbol-table groups) and one in the HDF5 1.8 format (superblock v2, v2 object
    headers, link messages, v4 layouts with fixed-array chunk indexes)."""
    import h5py
    import zipfile
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
    # The "latest" file format (superblock v3): a group with more than 8 links uses dense link storage (fractal
    # heap + B-tree v2 name index), and chunked datasets use the newer chunk indexes: single chunk, fixed array
    # (fixed shape; also with a larger maximum shape), extensible array (one unlimited dimension, first or not),
    # B-tree v2 (two unlimited dimensions), each with and without filters.
    latest = {
        "single": (rng.normal(size=(4, 3)).astype("float32"), dict(chunks=(4, 3))),
        "single_gzip": (rng.normal(size=(4, 3)).astype("float32"), dict(chunks=(4, 3), compression="gzip")),
        "fixed": (rng.normal(size=(9, 4)).astype("float32"), dict(chunks=(2, 3))),
        "fixed_gzip": (rng.normal(size=(9, 4)).astype("float32"), dict(chunks=(2, 3), compression="gzip", shuffle=True)),
        "earray": (rng.normal(size=(300, 3)).astype("float32"), dict(chunks=(1, 3), maxshape=(None, 3))),
        "earray_gzip": (rng.normal(size=(260, 3)).astype("float32"),
                        dict(chunks=(1, 3), maxshape=(None, 3), compression="gzip")),
        "btree2": (rng.normal(size=(30, 7)).astype("float32"), dict(chunks=(2, 2), maxshape=(None, None))),
        "btree2_gzip": (rng.normal(size=(30, 7)).astype("float32"),
                        dict(chunks=(2, 2), maxshape=(None, None), compression="gzip", fletcher32=True)),
        "earray_dim1": (rng.normal(size=(4, 5)).astype("float32"), dict(chunks=(2, 1), maxshape=(4, None))),
        "fixed_max": (rng.normal(size=(5, 4)).astype("float32"), dict(chunks=(2, 3), maxshape=(9, 8))),
    }
    with h5py.File(os.path.join(d, "latest.h5"), "w", libver="latest") as f:
        g = f.create_group("many")
        for i in range(40):
            g.create_dataset(f"link_{i:02d}_{'x' * (i % 7)}", data=np.full((2,), i, dtype="float32"))
        c = f.create_group("chunked")
        for k, (v, kw) in latest.items():
            c.create_dataset(k, data=v, **kw)
            arrays["latest_" + k] = v
        f.attrs["vlen"] = "latest"
    # A .keras archive whose weights file is re-written in the latest format (its `layers` group has > 8 links).
    src = os.path.join(OUT, "cnn_blocks", "model.keras")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(os.path.join(d, "cnn_blocks_latest.keras"), "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "model.weights.h5":
                import io
                with h5py.File(io.BytesIO(data), "r") as fin:
                    buf = io.BytesIO()
                    with h5py.File(buf, "w", libver="latest") as fout:
                        def rebuild(src, dst):  # (h5py's copy keeps the source's link storage: rebuild instead)
                            for k, v in src.attrs.items():
                                dst.attrs[k] = v
                            for key, item in src.items():
                                if isinstance(item, h5py.Dataset):
                                    dst.create_dataset(key, data=item[()])
                                    for k, v in item.attrs.items():
                                        dst[key].attrs[k] = v
                                else:
                                    rebuild(item, dst.create_group(key))
                        rebuild(fin, fout)
                    data = buf.getvalue()
            zout.writestr(item, data)
    for k, v in arrays.items():
        np.save(os.path.join(d, f"{k}.npy"), v.astype("float32"))
    # A .keras archive re-packed with deflate-compressed entries (Keras itself stores them uncompressed).
    src = os.path.join(OUT, "mlp", "model.keras")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(os.path.join(d, "mlp_deflated.keras"), "w",
                                                        compression=zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, zin.read(item.filename))


if __name__ == "__main__":
    for n in sys.argv[1:] or list(MODELS) + ["mobilenet_v2"]:
        if n == "hdf5":
            continue
        if n == "mobilenet_v2":
            mobilenet_v2()
            continue
        build(n)
    if not sys.argv[1:] or "hdf5" in sys.argv[1:]:
        hdf5_fixtures()  # (`... make_keras_fixtures.py hdf5` writes only these)
