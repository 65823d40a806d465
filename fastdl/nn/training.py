"""Training loop, prediction and evaluation for :class:`fastdl.nn.Sequential` models."""
import sys
import time

import numpy as np

from .. import optim as _optim
from ..data import random_mini_batches
from .._validation import as_int
from .model import Sequential

__all__ = ["fit", "predict", "evaluate", "Progress"]

_OPTIMIZERS = {"sgd": _optim.SGD, "momentum": _optim.Momentum, "rmsprop": _optim.RMSprop,
               "adam": _optim.Adam}


class Progress:
    """A tqdm bar when tqdm is installed and stderr is a terminal, else plain lines.

    Parameters
    ----------
    total : int
        Number of :meth:`update` calls expected.
    desc : str
    lines : int
        Plain lines printed over the whole run when there is no bar (0: silent).
    """

    def __init__(self, total, desc, lines=5):
        self._bar = None
        if lines and sys.stderr.isatty():
            try:
                from tqdm import tqdm
                self._bar = tqdm(total=total, desc=desc, leave=False, ncols=88)
            except ImportError:
                pass
        self.desc, self.total, self.count, self.lines = desc, total, 0, lines

    def update(self, **metrics):
        self.count += 1
        text = " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
        if self._bar is not None:
            self._bar.set_postfix_str(text)
            self._bar.update(1)
        elif self.lines and (self.count == self.total
                             or self.count % max(1, self.total // self.lines) == 0):
            print(f"  {self.desc} {self.count}/{self.total} {text}", flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()


def _check_model(where, model):
    if not isinstance(model, Sequential):
        raise TypeError(f"{where}: model must be a fastdl.nn.Sequential; got "
                        f"{type(model).__name__}")


def _as_inputs(where, model, X):
    """X as an array of the model's dtype (converted once, documented)."""
    X = np.asarray(X)
    if X.ndim < 1:
        raise ValueError(f"{where}: X must have a sample axis; got a scalar")
    dtype = model.dtype or (X.dtype if X.dtype in (np.float32, np.float64) else np.float32)
    return X.astype(dtype, copy=False)


def _make_optimizer(where, model, optimizer):
    if isinstance(optimizer, str):
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"{where}: optimizer must be an optimizer object or one of "
                             f"{sorted(_OPTIMIZERS)}; got {optimizer!r}")
        cls = _OPTIMIZERS[optimizer]
        return cls(model.parameters()) if optimizer == "adam" else cls(model.parameters(), 0.01)
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "params"):
        raise TypeError(f"{where}: optimizer must be a fastdl.optim optimizer or a name; got "
                        f"{type(optimizer).__name__}")
    params = model.parameters()
    if len(optimizer.params) != len(params) or any(
            a is not b for a, b in zip(optimizer.params, params)):
        raise ValueError(f"{where}: the optimizer must be built on model.parameters() "
                         f"(the same arrays, in the same order)")
    return optimizer


def fit(model, X, y, *, epochs, batch_size=64, optimizer="adam", schedule=None,
        validation=None, seed=0, progress=True):
    """Train ``model`` with mini-batches; returns the history per epoch.

    Parameters
    ----------
    model : Sequential
        Trained in place with its ``loss``; left in evaluation mode.
    X : ndarray of shape (m, ...)
        Samples along axis 0, converted once to the model's dtype.
    y : ndarray of shape (m,) or (m, K)
        Labels as the model's loss takes them.
    epochs : int >= 0
    batch_size : int >= 1
    optimizer : fastdl.optim optimizer built on ``model.parameters()``, or a name
        ("adam" with its defaults; "sgd", "momentum", "rmsprop" with lr 0.01).
    schedule : callable, optional
        ``schedule(epoch) -> lr`` set on the optimizer at the start of every epoch (epoch
        counts from 0), e.g. ``lambda e: fastdl.schedules.inverse_time_decay(0.01, e, 0.1)``.
    validation : (X_val, y_val), optional
        Evaluated after every epoch.
    seed : int
        Seeds the batch shuffles (one generator for the whole run, via
        :func:`fastdl.random_mini_batches`) and every Dropout layer, so a run is reproducible
        bit for bit (for any thread count, the ops being deterministic).
    progress : bool
        Show a progress bar (tqdm on a terminal) or a few plain lines.

    Returns
    -------
    history : dict of lists, one entry per epoch
        ``loss``, ``accuracy`` (training, averaged over the epoch's batches as trained),
        ``lr``, ``time`` (seconds) and, with ``validation``, ``val_loss``, ``val_accuracy``.
    """
    where = "fit"
    _check_model(where, model)
    epochs = as_int(where, "epochs", epochs, min_value=0)
    batch_size = as_int(where, "batch_size", batch_size, min_value=1)
    X = _as_inputs(where, model, X)
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"{where}: y must have one label per sample of X ({len(X)}); got "
                         f"shape {y.shape}")
    optimizer = _make_optimizer(where, model, optimizer)
    if schedule is not None and not callable(schedule):
        raise TypeError(f"{where}: schedule must be a callable epoch -> lr; got "
                        f"{type(schedule).__name__}")
    rng = np.random.default_rng(seed)
    model.reseed(seed)
    history = {"loss": [], "accuracy": [], "lr": [], "time": []}
    if validation is not None:
        history["val_loss"], history["val_accuracy"] = [], []
    n_batches = -(-len(X) // batch_size)
    bar = Progress(epochs * n_batches if sys.stderr.isatty() else epochs, "fit",
                   lines=5 if progress else 0)
    try:
        for epoch in range(epochs):
            if schedule is not None:
                optimizer.lr = schedule(epoch)
            start = time.perf_counter()
            model.train()
            total_loss, correct = 0.0, 0
            for Xb, yb in random_mini_batches(X, y, batch_size, seed=rng):
                out = model.forward(Xb)
                loss, grad = model.loss(out, yb)
                model.backward(grad)
                optimizer.step(model.gradients())
                total_loss += loss * len(Xb)
                correct += model.loss.correct(out, yb)
                if bar._bar is not None:
                    bar.update(loss=loss)
            history["time"].append(time.perf_counter() - start)
            history["loss"].append(total_loss / max(len(X), 1))
            history["accuracy"].append(correct / max(len(X), 1))
            history["lr"].append(float(optimizer.lr))
            metrics = {"loss": history["loss"][-1], "acc": history["accuracy"][-1]}
            if validation is not None:
                val_loss, val_acc = evaluate(model, *validation)
                history["val_loss"].append(val_loss)
                history["val_accuracy"].append(val_acc)
                metrics.update(val_acc=val_acc)
            if bar._bar is None:
                bar.update(**metrics)
    finally:
        bar.close()
        model.eval()
    return history


def predict(model, X, *, batch_size=1024):
    """Outputs of ``model`` in evaluation mode for every sample of ``X`` (in batches).

    The model's mode is restored afterwards.
    """
    where = "predict"
    _check_model(where, model)
    batch_size = as_int(where, "batch_size", batch_size, min_value=1)
    X = _as_inputs(where, model, X)
    was_training = model.training
    model.eval()
    try:
        parts = [model.forward(X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
    finally:
        model.training = was_training
    if not parts:
        raise ValueError(f"{where}: X holds no samples")
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def evaluate(model, X, y, *, batch_size=1024):
    """``(mean loss, accuracy)`` of ``model`` on ``(X, y)`` in evaluation mode."""
    where = "evaluate"
    _check_model(where, model)
    X = _as_inputs(where, model, X)
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"{where}: y must have one label per sample of X ({len(X)}); got "
                         f"shape {y.shape}")
    outputs = predict(model, X, batch_size=batch_size)
    loss, _ = model.loss(outputs, y)
    return loss, model.loss.correct(outputs, y) / max(len(X), 1)
