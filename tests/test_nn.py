"""fastdl.nn: layers, losses, Sequential, fit/predict/evaluate, save/load, and the demo.

The gradient oracle is a central difference written here; the models run on the default
backend (native where a kernel exists) and, where it matters, on both backends.
"""
import numpy as np
import pytest

import fastdl
from fastdl import nn

from conftest import numeric_grad


def _image(rng, n, c, h, w, layout, dtype=np.float64):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    return x if layout == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def every_layer_net(layout, fuse, seed=0):
    """A small float64 network holding every layer type (image part in ``layout``)."""
    f64 = dict(dtype=np.float64)
    return nn.Sequential([
        nn.Conv2D(2, 3, 3, padding=1, layout=layout, rng=seed, **f64),
        nn.BatchNorm(3, layout=layout, **f64),
        nn.ReLU(),
        nn.MaxPool2D(2, layout=layout),
        nn.Conv2D(3, 4, (2, 3), stride=(1, 1), padding="same", layout=layout, rng=seed + 1,
                  **f64),
        nn.LeakyReLU(0.1),
        nn.AvgPool2D(2, stride=1, layout=layout),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(4 * 2 * 2, 6, rng=seed + 2, **f64),
        nn.BatchNorm(6, **f64),
        nn.Sigmoid(),
        nn.Dropout(0.7, seed=3),
        nn.Linear(6, 5, init="xavier", rng=seed + 3, **f64),
        nn.ReLU(),
        nn.Linear(5, 3, rng=seed + 4, **f64),
    ], loss=nn.SoftmaxCrossEntropy(), fuse=fuse)


def global_pool_net(layout, from_logits):
    f64 = dict(dtype=np.float64)
    layers = [nn.Conv2D(2, 3, 3, layout=layout, rng=7, **f64), nn.Sigmoid(),
              nn.GlobalAvgPool2D(layout=layout), nn.Linear(3, 1, rng=8, **f64)]
    if not from_logits:
        layers.append(nn.Sigmoid())
    return nn.Sequential(layers, loss=nn.BinaryCrossEntropy(from_logits=from_logits))


def _loss(model, x, y):
    model.reseed(11)                 # the same dropout mask at every evaluation
    return model.loss(model.forward(x), y)[0]


def _check_gradients(model, x, y, rtol=2e-5, atol=1e-7):
    model.train()
    model.reseed(11)
    _, grad = model.loss(model.forward(x), y)
    dx = model.backward(grad, input_grad=True)
    analytic = [g.copy() for g in model.gradients()]
    assert len(analytic) == len(model.parameters())
    eps = 1e-6
    for p, g in zip(model.parameters(), analytic):
        numeric = np.zeros_like(p)
        for i in range(p.size):
            old = p.flat[i]
            p.flat[i] = old + eps
            fp = _loss(model, x, y)
            p.flat[i] = old - eps
            fm = _loss(model, x, y)
            p.flat[i] = old
            numeric.flat[i] = (fp - fm) / (2 * eps)
        np.testing.assert_allclose(g, numeric, rtol=rtol, atol=atol)
    np.testing.assert_allclose(dx, numeric_grad(lambda v: _loss(model, v, y), x, eps),
                               rtol=rtol, atol=atol)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("fuse", [True, False])
def test_every_layer_matches_numerical_gradient(layout, fuse):
    rng = np.random.default_rng(0)
    model = every_layer_net(layout, fuse)
    x = _image(rng, 4, 2, 6, 6, layout)
    y = np.array([0, 2, 1, 2])
    _check_gradients(model, x, y)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("from_logits", [True, False])
def test_global_pool_and_bce_match_numerical_gradient(layout, from_logits):
    rng = np.random.default_rng(1)
    model = global_pool_net(layout, from_logits)
    x = _image(rng, 5, 2, 5, 4, layout)
    _check_gradients(model, x, np.array([0, 1, 1, 0, 1.0]))


def test_fusion_gives_the_same_results():
    rng = np.random.default_rng(2)
    x = _image(rng, 4, 2, 6, 6, "NCHW")
    y = np.array([0, 1, 2, 1])
    results = []
    for fuse in (True, False):
        model = every_layer_net("NCHW", fuse)
        model.reseed(5)
        out = model.forward(x)
        _, grad = model.loss(out, y)
        model.backward(grad)
        results.append((out, model.gradients()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12, atol=1e-14)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def lenet_like(dtype=np.float32, layout="NCHW", seed=0):
    return nn.Sequential([
        nn.Conv2D(1, 4, 3, padding=1, layout=layout, dtype=dtype, rng=seed), nn.ReLU(),
        nn.MaxPool2D(2, layout=layout),
        nn.Conv2D(4, 8, 3, padding=1, layout=layout, dtype=dtype, rng=seed + 1), nn.ReLU(),
        nn.MaxPool2D(2, layout=layout),
        nn.Flatten(), nn.Linear(8 * 2 * 2, 16, dtype=dtype, rng=seed + 2),
        nn.BatchNorm(16, dtype=dtype), nn.ReLU(), nn.Dropout(0.8),
        nn.Linear(16, 3, dtype=dtype, rng=seed + 3)])


def _toy_images(n=90, seed=0, layout="NCHW"):
    """Three classes of 8×8 images: bright left half, right half or centre, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.3, (n, 1, 8, 8))
    x[y == 0, :, :, :4] += 1.0
    x[y == 1, :, :, 4:] += 1.0
    x[y == 2, :, 2:6, 2:6] += 1.0
    if layout == "NHWC":
        x = x.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x, dtype=np.float32), y


def _train(threads=None, seed=0, epochs=2, layout="NCHW"):
    X, y = _toy_images(layout=layout)
    model = lenet_like(layout=layout)
    old = fastdl.get_num_threads()
    if threads is not None:
        fastdl.set_num_threads(threads)
    try:
        history = nn.fit(model, X, y, epochs=epochs, batch_size=16,
                         optimizer=fastdl.optim.Adam(model.parameters(), lr=0.01),
                         seed=seed, progress=False)
    finally:
        fastdl.set_num_threads(old)
    return model, history


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_training_is_bit_reproducible_across_thread_counts(layout):
    runs = [_train(threads, layout=layout) for threads in (1, 2, 1)]
    for model, history in runs[1:]:
        for a, b in zip(runs[0][0].parameters() + runs[0][0].layers[8].buffers,
                        model.parameters() + model.layers[8].buffers):
            np.testing.assert_array_equal(a, b)
        assert history["loss"] == runs[0][1]["loss"]
    other, _ = _train(seed=1)
    assert not np.array_equal(other.parameters()[0], runs[0][0].parameters()[0])


def test_fit_learns_and_reports_history():
    X, y = _toy_images(120, seed=3)
    model = lenet_like()
    opt = fastdl.optim.Adam(model.parameters(), lr=0.01)
    lrs = []
    history = nn.fit(model, X[:90], y[:90], epochs=6, batch_size=16, optimizer=opt,
                     schedule=lambda e: lrs.append(e) or 0.01 / (1 + e),
                     validation=(X[90:], y[90:]), seed=0, progress=False)
    assert lrs == list(range(6))
    assert set(history) == {"loss", "accuracy", "lr", "time", "val_loss", "val_accuracy"}
    assert all(len(v) == 6 for v in history.values())
    assert history["lr"][-1] == pytest.approx(0.01 / 6)
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.9
    assert not model.training
    loss, accuracy = nn.evaluate(model, X[90:], y[90:])
    assert accuracy == history["val_accuracy"][-1] and loss == history["val_loss"][-1]
    assert nn.predict(model, X[90:], batch_size=7).shape == (30, 3)


def test_native_and_reference_backends_train_alike():
    X, y = _toy_images(40, seed=4)
    X = X.astype(np.float64)
    params = []
    for name in ("native", "numpy"):
        with fastdl.backend(name):
            model = lenet_like(np.float64)
            nn.fit(model, X, y, epochs=2, batch_size=8, optimizer="adam", seed=0,
                   progress=False)
            params.append(model.parameters())
    for a, b in zip(*params):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


def test_save_load_round_trip(tmp_path):
    model, _ = _train(epochs=1)
    path = tmp_path / "model.npz"
    model.save(path)
    fresh = lenet_like(seed=42)
    fresh.load(path)
    for a, b in zip(model.named_arrays().values(), fresh.named_arrays().values()):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    X, _ = _toy_images(10, seed=9)
    np.testing.assert_array_equal(nn.predict(model, X), nn.predict(fresh, X))
    # Mismatching architecture: nothing changes, ValueError.
    other = nn.Sequential([nn.Flatten(), nn.Linear(64, 3, rng=0)])
    before = other.parameters()[0].copy()
    with pytest.raises(ValueError, match="does not match"):
        other.load(path)
    np.testing.assert_array_equal(other.parameters()[0], before)
    wider = lenet_like()
    wider.layers[7] = nn.Linear(32, 17, rng=0)
    wider = nn.Sequential(wider.layers)
    with pytest.raises(ValueError, match="shape"):
        wider.load(path)


def test_layer_errors_name_the_layer_and_the_mismatch():
    conv = nn.Conv2D(16, 32, 3)
    with pytest.raises(ValueError, match="Conv2D\\(16→32\\): expected 16 input channels, got 3"):
        conv.forward(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="Conv2D\\(16→32\\): expected a 4-D input"):
        conv.forward(np.zeros((2, 16, 8), np.float32))
    with pytest.raises(TypeError, match="Conv2D\\(16→32\\): expected a float32 input"):
        conv.forward(np.zeros((2, 16, 8, 8), np.float64))
    with pytest.raises(ValueError, match="Linear\\(400→120\\): expected 400 input features, "
                                         "got 256"):
        nn.Linear(400, 120).forward(np.zeros((4, 256), np.float32))
    with pytest.raises(ValueError, match="BatchNorm\\(8\\): expected 8 channels on axis 3"):
        nn.BatchNorm(8, layout="NHWC").forward(np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="MaxPool2D\\(3\\): the input's H×W 2×2"):
        nn.MaxPool2D(3).forward(np.zeros((1, 1, 2, 2), np.float32))
    model = nn.Sequential([nn.Flatten(), nn.Linear(12, 3)])
    with pytest.raises(ValueError, match="Linear\\(12→3\\): expected 12 input features, got 16"):
        model.forward(np.zeros((2, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match="BatchNorm\\(5\\): training needs more than one"):
        nn.BatchNorm(5).forward(np.ones((1, 5), np.float32), training=True)
    with pytest.raises(RuntimeError, match="BatchNorm\\(4\\): backward called before"):
        bn = nn.BatchNorm(4)
        bn.forward(np.ones((3, 4), np.float32), training=False)
        bn.backward(np.ones((3, 4), np.float32))


def test_constructor_and_fit_argument_errors():
    with pytest.raises(ValueError, match="Sequential: layers must hold"):
        nn.Sequential([])
    with pytest.raises(TypeError, match="layers\\[1\\]"):
        nn.Sequential([nn.ReLU(), "relu"])
    with pytest.raises(ValueError, match="Conv2D: kernel_size must be >= 1"):
        nn.Conv2D(1, 2, 0)
    with pytest.raises(ValueError, match="Dropout: keep_prob"):
        nn.Dropout(0.0)
    with pytest.raises(TypeError, match="Linear: dtype"):
        nn.Linear(2, 3, dtype=np.int32)
    model = nn.Sequential([nn.Linear(4, 3, rng=0)])
    X, y = np.zeros((6, 4), np.float32), np.zeros(6, np.int64)
    with pytest.raises(ValueError, match="fit: the optimizer must be built on"):
        nn.fit(model, X, y, epochs=1, optimizer=fastdl.optim.SGD([np.zeros(3)], lr=0.1))
    with pytest.raises(ValueError, match="fit: optimizer must be"):
        nn.fit(model, X, y, epochs=1, optimizer="adagrad")
    with pytest.raises(ValueError, match="fit: y must have one label per sample"):
        nn.fit(model, X, y[:5], epochs=1)


def test_modes_buffers_and_owned_outputs():
    rng = np.random.default_rng(5)
    model = lenet_like()
    x1, x2 = (rng.standard_normal((6, 1, 8, 8)).astype(np.float32) for _ in range(2))
    out1 = model.forward(x1)
    kept = out1.copy()
    conv_out = model.layers[0]._y
    model.forward(x2)
    np.testing.assert_array_equal(out1, kept)          # the model's output is the caller's
    assert model.layers[0]._y is conv_out              # intermediate buffers are reused
    # Evaluation: dropout off, running statistics; deterministic.
    model.eval()
    a, b = model.forward(x1), model.forward(x1)
    np.testing.assert_array_equal(a, b)
    bn = model.layers[8]
    assert not np.all(bn.running_mean == 0)           # updated by the training forwards
    model.train()
    assert not np.array_equal(model.forward(x1), model.forward(x1))   # a new dropout mask


def test_read_only_and_strided_inputs():
    rng = np.random.default_rng(6)
    model = lenet_like().eval()
    x = rng.standard_normal((4, 1, 16, 16)).astype(np.float32)[:, :, ::2, ::2]
    expected = model.forward(np.ascontiguousarray(x))
    ro = x.copy()
    ro.flags.writeable = False
    np.testing.assert_allclose(model.forward(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.forward(ro), expected, rtol=1e-5, atol=1e-6)


def test_losses():
    logits = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
    loss, grad = nn.SoftmaxCrossEntropy()(logits, np.array([0, 2]))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[[0, 1], [0, 2]])))
    np.testing.assert_allclose(grad, (p - np.eye(3)[[0, 2]]) / 2)
    assert nn.SoftmaxCrossEntropy().correct(logits, np.eye(3)[[0, 1]]) == 1
    probs = np.array([[0.9], [0.2], [0.6]])
    labels = np.array([1, 0, 0])
    loss, grad = nn.BinaryCrossEntropy()(probs, labels)
    t = labels[:, None]
    assert loss == pytest.approx(-np.mean(t * np.log(probs) + (1 - t) * np.log(1 - probs)))
    assert nn.BinaryCrossEntropy().correct(probs, labels) == 2
    assert nn.BinaryCrossEntropy(from_logits=True).correct(np.array([[1.0], [-1.0]]),
                                                           np.array([1, 1])) == 1


def test_demo_quick_runs(capsys, tmp_path):
    pytest.importorskip("sklearn")
    from fastdl.__main__ import main
    plot = tmp_path / "curves.png"
    have_mpl = True
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        have_mpl = False
    args = ["demo", "--quick", "--backend", "native", "--epochs", "1"]
    if have_mpl:
        args += ["--plot", str(plot)]
    assert main(args) == 0
    text = capsys.readouterr().out
    for name in ("logistic regression", "dense", "LeNet-style CNN", "YOLO", "precision"):
        assert name in text
    if have_mpl:
        assert plot.exists() and (tmp_path / "curves_detections.png").exists()


def test_bench_quick_json(capsys, tmp_path):
    """`python -m fastdl bench --quick --only ... --json PATH`: the table, the limits measured
    at the start, and the same results as JSON."""
    import json
    from fastdl.__main__ import main
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--only", "aug flip", "--repeats", "1",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "machine limits measured now" in text and "aug flip" in text
    data = json.loads(out.read_text())
    assert data["limits"]["GFLOP/s"] > 0 and data["limits"]["GB/s"] > 0
    (case,) = data["cases"]
    assert case["case"] == "aug flip" and case["fastdl_ms"] > 0
    assert "reference" in case["peers"] and case["peers"]["reference"]["ratio"] > 0


def test_detection_recovers_the_synthetic_boxes():
    from fastdl._demo import run_detection, synthetic_scenes
    _, truth, pred = synthetic_scenes(6, seed=0, noise=0.3, box_noise=0.05)
    _, precision, recall = run_detection(pred, truth)
    assert precision == 1.0 and recall == 1.0
