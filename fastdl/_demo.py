"""The main job, ``python -m fastdl demo``: the course's models on scikit-learn's digits.

Data: the 1,797 bundled 8×8 digit images (no download), pixels scaled to [0, 1], split 80/20
with a seeded permutation. The images are used as they are (8×8, one channel): no upsampling,
which keeps the run CI-sized; the CNN still reaches ~99% test accuracy. Models, built only on
the public fastdl API:

1. logistic regression, digit 0 against the rest (the course's first model): sigmoid output,
   binary cross-entropy, full-batch gradient descent, written with the plain ops;
2. a dense network 64 → 128 → 64 → 10 (:mod:`fastdl.nn`): Linear, batch norm, ReLU, dropout
   (keep 0.9), softmax cross-entropy, He initialisation, mini-batches of 64, Adam with
   inverse-time learning-rate decay;
3. a LeNet-style CNN (:mod:`fastdl.nn`): conv 3×3 (1→16, pad 1) → ReLU → max-pool 2 → conv 3×3
   (16→32, pad 1) → ReLU → max-pool 2 → dense 128 → 10 → softmax, Adam with decay,
   mini-batches of 32;
4. detection: a batch of synthetic images with known rectangles, the YOLOv2 grid output they
   imply plus Gaussian noise, decoded and filtered with ``yolo_decode`` + ``yolo_eval``;
   precision and recall of the recovered boxes (IoU >= 0.5, right class).

Each model runs on the native backend and on the NumPy reference (``--backend both``, the
default) with the same seed, so both reach the same accuracy (up to float32 rounding: the
kernels round differently from the reference, which can flip a test sample after many
epochs), and the speed-up is printed. Times per epoch of the nn models are the median epoch
of ``fit`` (evaluation and one-time start-up excluded).
``--plot out.png`` writes the learning curves to ``out.png`` and the detections to
``out_detections.png``.
"""
import time

import numpy as np

import fastdl
from fastdl import init, nn, schedules
from fastdl.nn import Progress


def load_digits_split(seed, dtype=np.float32):
    """Digits as ``(X_train, y_train, X_test, y_test)``; X ``(m, 64)`` in [0, 1], y int64."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("fastdl demo needs scikit-learn for its bundled digits data set: "
                         "pip install 'fastdl[demo]'") from None
    data = load_digits()
    X = (data.data / 16.0).astype(dtype)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_train = int(0.8 * len(y))
    tr, te = order[:n_train], order[n_train:]
    return X[tr], y[tr], X[te], y[te]


# --- model 1: logistic regression ----------------------------------------------------------

def train_logistic_regression(X, y, X_test, y_test, *, iterations, lr=1.0):
    """Digit 0 against the rest by full-batch gradient descent.

    Returns (accuracy, history, None): no per-epoch time (one full-batch step per iteration).
    """
    t_train = (y == 0).astype(X.dtype)[:, None]           # (m, 1) labels in {0, 1}
    w = init.zeros((1, X.shape[1])).astype(X.dtype)        # (1, 64)
    b = np.zeros(1, dtype=X.dtype)
    history = []
    bar = Progress(iterations, "logistic regression")
    for _ in range(iterations):
        z = fastdl.linear(X, w, b)                         # (m, 1)
        cost, dz = fastdl.binary_cross_entropy_with_logits(z, t_train)
        _, dw, db = fastdl.linear_backward(dz, X, w, need=("dw", "db"))
        fastdl.sgd_step([w, b], [dw, db], lr=lr)
        history.append(float(cost))
        bar.update(cost=float(cost))
    bar.close()
    p_test = fastdl.sigmoid(fastdl.linear(X_test, w, b))[:, 0]
    accuracy = float(np.mean((p_test > 0.5) == (y_test == 0)))
    return accuracy, history, None


# --- model 2: a dense network with batch norm and dropout ---------------------------------

def build_dense(n_in, seed, dtype=np.float32):
    """64 → 128 → 64 → 10 with batch norm, ReLU and dropout (keep 0.9) after each hidden layer."""
    return nn.Sequential([
        nn.Linear(n_in, 128, dtype=dtype, rng=seed), nn.BatchNorm(128, dtype=dtype), nn.ReLU(),
        nn.Dropout(0.9),
        nn.Linear(128, 64, dtype=dtype, rng=seed + 1), nn.BatchNorm(64, dtype=dtype), nn.ReLU(),
        nn.Dropout(0.9),
        nn.Linear(64, 10, init="xavier", dtype=dtype, rng=seed + 2)])


def build_cnn(seed, dtype=np.float32, layout="NCHW"):
    """LeNet-style CNN for 1×8×8 images: conv-relu-pool twice, then dense 128 → 10."""
    return nn.Sequential([
        nn.Conv2D(1, 16, 3, padding=1, layout=layout, dtype=dtype, rng=seed), nn.ReLU(),
        nn.MaxPool2D(2, layout=layout),
        nn.Conv2D(16, 32, 3, padding=1, layout=layout, dtype=dtype, rng=seed + 1), nn.ReLU(),
        nn.MaxPool2D(2, layout=layout),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10, init="xavier", dtype=dtype, rng=seed + 2)])


def train_model(model, X, y, X_test, y_test, *, epochs, seed, batch_size, lr0, decay_rate,
                desc):
    """Adam with inverse-time decay through :func:`fastdl.nn.fit`; (test accuracy, losses)."""
    optimizer = fastdl.optim.Adam(model.parameters(), lr=lr0)
    history = nn.fit(model, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                     schedule=lambda e: schedules.inverse_time_decay(lr0, e, decay_rate),
                     seed=seed, progress=False)
    _, accuracy = nn.evaluate(model, X_test, y_test)
    return accuracy, history["loss"], float(np.median(history["time"]))


# --- detection: YOLO post-processing on synthetic scenes ----------------------------------

YOLO_GRID, YOLO_IMAGE = 7, 224
YOLO_ANCHORS = np.array([[1.0, 1.0], [2.5, 1.5], [1.5, 2.5]])
YOLO_CLASSES = 3


def synthetic_scenes(n_images, seed, noise=1.5, box_noise=0.2):
    """Images with 1-4 known rectangles each and the YOLOv2 grid output implying them.

    Returns ``(images (N, 224, 224), truth [list of (boxes (D, 4) xyxy pixels, classes)],
    pred (N, 7, 7, B·(5+K)))``: for each rectangle, the cell of its centre and the anchor
    closest in shape get the exact (tx, ty, tw, th), a confident objectness and a large
    class logit; every entry then gets Gaussian noise: std ``box_noise`` on (tx, ty, tw, th),
    ``noise`` on the objectness and class logits.
    """
    rng = np.random.default_rng(seed)
    s, size, b, k = YOLO_GRID, YOLO_IMAGE, len(YOLO_ANCHORS), YOLO_CLASSES
    pred = rng.normal(0.0, noise, size=(n_images, s, s, b, 5 + k))
    pred[..., :4] *= box_noise / noise
    pred[..., 4] -= 5.0                                   # background: no object
    images = rng.uniform(0.0, 0.15, size=(n_images, size, size))
    truth = []
    for i in range(n_images):
        boxes, classes, used = [], [], set()
        for _ in range(rng.integers(1, 5)):
            w, h = rng.uniform(0.12, 0.45, size=2)
            cx, cy = rng.uniform(w / 2, 1 - w / 2), rng.uniform(h / 2, 1 - h / 2)
            col, row = int(cx * s), int(cy * s)
            if (row, col) in used:                        # one object per cell
                continue
            used.add((row, col))
            cls = int(rng.integers(k))
            wh = np.array([w, h]) * s                     # in grid cells
            inter = np.minimum(YOLO_ANCHORS, wh).prod(axis=1)
            a = int(np.argmax(inter / (YOLO_ANCHORS.prod(axis=1) + wh.prod() - inter)))
            fx, fy = cx * s - col, cy * s - row
            entry = pred[i, row, col, a]
            entry[0] += np.log(fx / (1 - fx))
            entry[1] += np.log(fy / (1 - fy))
            entry[2] += np.log(wh[0] / YOLO_ANCHORS[a, 0])
            entry[3] += np.log(wh[1] / YOLO_ANCHORS[a, 1])
            entry[4] += 5.0 + 4.0                         # undo the background shift, then +4
            entry[5 + cls] += 5.0
            box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]) * size
            x1, y1, x2, y2 = box.astype(int)
            images[i, y1:y2, x1:x2] = 0.4 + 0.2 * cls
            boxes.append(box)
            classes.append(cls)
        truth.append((np.array(boxes), np.array(classes)))
    return images, truth, pred.reshape(n_images, s, s, b * (5 + k)).astype(np.float32)


def run_detection(pred, truth, *, iou_match=0.5):
    """Decode + per-image ``yolo_eval``; returns (detections, precision, recall)."""
    boxes, confidence, probs = fastdl.yolo_decode(pred, YOLO_ANCHORS, YOLO_CLASSES)
    detections, hits, n_true, n_found = [], 0, 0, 0
    for i, (true_boxes, true_classes) in enumerate(truth):
        scores, found, classes = fastdl.yolo_eval(
            boxes[i], confidence[i], probs[i], image_shape=(YOLO_IMAGE, YOLO_IMAGE),
            max_boxes=10, score_threshold=0.5, iou_threshold=0.5)
        detections.append((scores, found, classes))
        n_true, n_found = n_true + len(true_boxes), n_found + len(found)
        if len(found) and len(true_boxes):
            overlap = fastdl.box_iou(found.astype(np.float64), true_boxes)
            overlap[classes[:, None] != true_classes[None, :]] = 0.0
            matched = set()
            for d in range(len(found)):                   # greedy, by decreasing score
                j = int(np.argmax(overlap[d]))
                if overlap[d, j] >= iou_match and j not in matched:
                    matched.add(j)
            hits += len(matched)
    return detections, hits / max(n_found, 1), hits / max(n_true, 1)


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def run_demo(args):
    """Entry of ``python -m fastdl demo`` (see the module docstring)."""
    if args.threads is not None:
        fastdl.set_num_threads(args.threads)
    dense_epochs = args.epochs or (5 if args.quick else 40)
    cnn_epochs = args.epochs or (3 if args.quick else 15)
    iterations = 50 if args.quick else 300
    n_scenes = 8 if args.quick else 32
    backends = ("native", "numpy") if args.backend == "both" else (args.backend,)
    X, y, X_test, y_test = load_digits_split(args.seed)
    images, images_test = X.reshape(-1, 1, 8, 8), X_test.reshape(-1, 1, 8, 8)
    scenes, truth, pred = synthetic_scenes(n_scenes, args.seed)
    print(f"fastdl {fastdl.__version__} demo: digits {X.shape[0]} train / {X_test.shape[0]} "
          f"test images (8x8, not upsampled), {fastdl.get_num_threads()} thread(s), "
          f"backend(s) {', '.join(backends)}")

    seed = args.seed
    models = [
        ("logistic regression (0 vs rest)", "iteration", iterations,
         lambda: train_logistic_regression(X, y, X_test, y_test, iterations=iterations)),
        ("dense 64-128-64-10 BN+dropout", "epoch", dense_epochs,
         lambda: train_model(build_dense(X.shape[1], seed), X, y, X_test, y_test,
                             epochs=dense_epochs, seed=seed, batch_size=64, lr0=0.01,
                             decay_rate=0.05, desc="dense network")),
        ("LeNet-style CNN 8x8", "epoch", cnn_epochs,
         lambda: train_model(build_cnn(seed), images, y, images_test, y_test,
                             epochs=cnn_epochs, seed=seed, batch_size=32, lr0=0.005,
                             decay_rate=0.05, desc="CNN")),
    ]
    curves = {}
    for title, unit, steps, train in models:
        times = {}
        for name in backends:
            with fastdl.backend(name):
                (accuracy, history, per_epoch), seconds = _timed(train)
            # nn models: the median epoch of fit (no evaluation, no one-time start-up cost)
            per_step = seconds / steps if per_epoch is None else per_epoch
            times[name] = per_step
            curves[(title, name)] = history
            print(f"{title:34s} [{name:6s}] test accuracy {accuracy:6.2%}  "
                  f"{per_step * 1e3:8.2f} ms/{unit}  ({seconds:.2f} s)")
        if len(times) == 2:
            print(f"{'':34s} speed-up native vs numpy: {times['numpy'] / times['native']:.2f}x")

    title = f"YOLO decode+eval {n_scenes} scenes"
    times, detections = {}, None
    for name in backends:
        with fastdl.backend(name):
            (detections, precision, recall), seconds = _timed(run_detection, pred, truth)
        times[name] = seconds
        print(f"{title:34s} [{name:6s}] precision {precision:6.2%} recall {recall:6.2%}  "
              f"{seconds / n_scenes * 1e3:8.2f} ms/image")
    if len(times) == 2:
        print(f"{'':34s} speed-up native vs numpy: {times['numpy'] / times['native']:.2f}x")

    if args.plot:
        _plot(curves, args.plot)
        _plot_detections(scenes, truth, detections, _detections_path(args.plot))
    return 0


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'fastdl[demo]'") from None
    return plt


def _detections_path(path):
    stem, dot, ext = str(path).rpartition(".")
    return f"{stem}_detections.{ext}" if dot else f"{path}_detections.png"


def _plot(curves, path):
    plt = _pyplot()
    titles = list(dict.fromkeys(t for t, _ in curves))
    fig, axes = plt.subplots(1, len(titles), figsize=(5 * len(titles), 3.5))
    for ax, title in zip(np.atleast_1d(axes), titles):
        for (t, name), hist in curves.items():
            if t == title:
                ax.plot(hist, label=name, linestyle="-" if name == "native" else "--")
        ax.set_title(title)
        ax.set_xlabel("iteration / epoch")
        ax.set_ylabel("training loss")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"learning curves written to {path}")


def _plot_detections(scenes, truth, detections, path, n_show=4):
    plt = _pyplot()
    from matplotlib.patches import Rectangle
    n_show = min(n_show, len(scenes))
    fig, axes = plt.subplots(1, n_show, figsize=(3.2 * n_show, 3.4))
    for i, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(scenes[i], cmap="gray", vmin=0, vmax=1)
        for box in truth[i][0]:
            ax.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False,
                                   edgecolor="lime", linewidth=2))
        for score, box, cls in zip(*detections[i]):
            ax.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False,
                                   edgecolor="red", linewidth=1, linestyle="--"))
            ax.text(box[0], box[1] - 2, f"{cls}:{score:.2f}", color="red", fontsize=7)
        ax.set_axis_off()
    fig.suptitle("truth (green) and yolo_eval detections (red)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"detections written to {path}")
