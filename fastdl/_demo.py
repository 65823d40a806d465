"""The main job, ``python -m fastdl demo``: the course's models on scikit-learn's digits.

Data: the 1,797 bundled 8×8 digit images (no download), pixels scaled to [0, 1], split 80/20
with a seeded permutation. Models, built only on the public fastdl API:

1. logistic regression, digit 0 against the rest (the course's first model): sigmoid output,
   binary cross-entropy, full-batch gradient descent;
2. a two-hidden-layer ReLU network (64 → 128 → 64 → 10) with softmax cross-entropy, He
   initialisation, mini-batches of 64, Adam and inverse-time learning-rate decay.

Each model runs on the native backend and on the NumPy reference (``--backend both``, the
default) with the same seed, so both reach the same accuracy, and the speed-up is printed.
"""
import sys
import time

import numpy as np

import fastdl
from fastdl import init, schedules


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


class Progress:
    """tqdm progress bar when installed and on a terminal, else a few plain lines."""

    def __init__(self, total, desc):
        self._bar = None
        if sys.stderr.isatty():
            try:
                from tqdm import tqdm
                self._bar = tqdm(total=total, desc=desc, leave=False, ncols=88)
            except ImportError:
                pass
        self.desc, self.total, self.count = desc, total, 0

    def update(self, **metrics):
        self.count += 1
        text = " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
        if self._bar is not None:
            self._bar.set_postfix_str(text)
            self._bar.update(1)
        elif self.count == self.total or self.count % max(1, self.total // 5) == 0:
            print(f"  {self.desc} {self.count}/{self.total} {text}", flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()


# --- model 1: logistic regression ----------------------------------------------------------

def train_logistic_regression(X, y, X_test, y_test, *, iterations, lr=1.0):
    """Digit 0 against the rest by full-batch gradient descent; returns (accuracy, history)."""
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
    return accuracy, history


# --- model 2: a dense ReLU network --------------------------------------------------------

def mlp_forward(params, X):
    """Activations of the 64-128-64-10 network; the last entry is the logits."""
    a1 = fastdl.linear(X, params["W1"], params["b1"], activation="relu")
    a2 = fastdl.linear(a1, params["W2"], params["b2"], activation="relu")
    z3 = fastdl.linear(a2, params["W3"], params["b3"])
    return a1, a2, z3


def mlp_backward(params, X, a1, a2, dz3):
    """Gradients of every parameter, in the order of ``PARAM_NAMES``."""
    da2, dW3, db3 = fastdl.linear_backward(dz3, a2, params["W3"])
    da1, dW2, db2 = fastdl.linear_backward(da2, a1, params["W2"], activation="relu", y=a2)
    _, dW1, db1 = fastdl.linear_backward(da1, X, params["W1"], activation="relu", y=a1,
                                         need=("dw", "db"))
    return [dW1, db1, dW2, db2, dW3, db3]


PARAM_NAMES = ["W1", "b1", "W2", "b2", "W3", "b3"]


def mlp_accuracy(params, X, y):
    return float(np.mean(np.argmax(mlp_forward(params, X)[-1], axis=1) == y))


def train_mlp(X, y, X_test, y_test, *, epochs, seed, batch_size=64, lr0=0.01, decay_rate=0.05):
    """Mini-batch Adam with inverse-time decay; returns (test accuracy, history)."""
    params = {k: v.astype(X.dtype)
              for k, v in init.initialize_parameters([X.shape[1], 128, 64, 10], "he",
                                                     rng=seed).items()}
    plist = [params[k] for k in PARAM_NAMES]
    m, v = fastdl.initialize_adam(plist)
    t = 0
    history = []
    bar = Progress(epochs, "dense network")
    for epoch in range(epochs):
        lr = schedules.inverse_time_decay(lr0, epoch, decay_rate)
        total = 0.0
        for Xb, yb in fastdl.random_mini_batches(X, y, batch_size, seed=seed + epoch):
            a1, a2, z3 = mlp_forward(params, Xb)
            loss, dz3 = fastdl.softmax_cross_entropy(z3, yb)
            grads = mlp_backward(params, Xb, a1, a2, dz3)
            t += 1
            fastdl.adam_step(plist, grads, m, v, t=t, lr=lr)
            total += float(loss) * len(yb)
        history.append(total / len(y))
        bar.update(loss=history[-1], lr=lr)
    bar.close()
    return mlp_accuracy(params, X_test, y_test), history


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def run_demo(args):
    """Entry of ``python -m fastdl demo`` (see the module docstring)."""
    if args.threads is not None:
        fastdl.set_num_threads(args.threads)
    epochs = args.epochs or (5 if args.quick else 40)
    iterations = 50 if args.quick else 300
    backends = ("native", "numpy") if args.backend == "both" else (args.backend,)
    X, y, X_test, y_test = load_digits_split(args.seed)
    print(f"fastdl {fastdl.__version__} demo: digits {X.shape[0]} train / {X_test.shape[0]} "
          f"test images, {fastdl.get_num_threads()} thread(s), backend(s) {', '.join(backends)}")

    models = [
        ("logistic regression (0 vs rest)", "iteration", iterations,
         lambda: train_logistic_regression(X, y, X_test, y_test, iterations=iterations)),
        ("dense 64-128-64-10, Adam + decay", "epoch", epochs,
         lambda: train_mlp(X, y, X_test, y_test, epochs=epochs, seed=args.seed)),
    ]
    curves = {}
    for title, unit, steps, train in models:
        times = {}
        for name in backends:
            with fastdl.backend(name):
                (accuracy, history), seconds = _timed(train)
            times[name] = seconds
            curves[(title, name)] = history
            print(f"{title:34s} [{name:6s}] test accuracy {accuracy:6.2%}  "
                  f"{seconds / steps * 1e3:8.2f} ms/{unit}  ({seconds:.2f} s)")
        if len(times) == 2:
            print(f"{'':34s} speed-up native vs numpy: {times['numpy'] / times['native']:.2f}x")
    if args.plot:
        _plot(curves, args.plot)
    return 0


def _plot(curves, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'fastdl[demo]'") from None
    titles = sorted({t for t, _ in curves})
    fig, axes = plt.subplots(1, len(titles), figsize=(5 * len(titles), 3.5))
    for ax, title in zip(np.atleast_1d(axes), titles):
        for (t, name), hist in curves.items():
            if t == title:
                ax.plot(hist, label=name)
        ax.set_title(title)
        ax.set_xlabel("iteration / epoch")
        ax.set_ylabel("training loss")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"learning curves written to {path}")
