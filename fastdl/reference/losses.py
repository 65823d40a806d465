"""Reference softmax and losses.

Everything is computed in float64 and cast back to the input dtype, so float32 results are
correctly rounded rather than accumulated in float32.

Each loss returns ``(loss, grad)``, ``grad`` being the gradient of the returned loss:

* ``reduction="mean"``: ``loss`` is the mean over samples (``softmax_cross_entropy``) or over
  all elements (the binary losses) and ``grad`` includes the 1/N (1/size) factor. The mean of
  an empty batch is NaN (as in NumPy and PyTorch), without a warning;
* ``reduction="sum"``: the sum, and its gradient;
* ``reduction="none"``: the per-sample (per-element) losses, and the gradient of their sum.

A reduced loss is a NumPy scalar of the input dtype (``np.float32`` or ``np.float64``), as
NumPy's own reductions return; ``float(loss)`` gives a Python float.
"""
import numpy as np

from .._validation import (as_array, as_float, as_int, check_choice, check_out,
                           check_same_dtype, check_shape)
from .activations import stable_sigmoid

__all__ = ["softmax", "log_softmax", "softmax_backward", "softmax_cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "l2_penalty"]

REDUCTIONS = ("mean", "sum", "none")
LOG_CLAMP = -100.0      # PyTorch's floor on the log terms of binary cross-entropy
BCE_GRAD_EPS = 1e-12    # PyTorch's floor on the denominator y_hat (1 - y_hat) of its gradient


# --- helpers ------------------------------------------------------------------------------

def _check_axis(where, x, axis):
    """Return ``axis`` normalised to [0, x.ndim)."""
    if x.ndim == 0:
        raise ValueError(f"{where}: x must have at least 1 dimension; got shape {x.shape}")
    return as_int(where, "axis", axis, min_value=-x.ndim, max_value=x.ndim - 1) % x.ndim


def _same_shape_pair(where, a_name, a, b_name, b, ndim=None, shape_hint=""):
    a = as_array(where, a_name, a, ndim=ndim, shape_hint=shape_hint)
    b = as_array(where, b_name, b)
    check_same_dtype(where, a_name, a, **{b_name: b})
    check_shape(where, b_name, b, a.shape, f"(the shape of {a_name})")
    return a, b


def _shifted(x, axis):
    """``x - max(x)`` along ``axis`` in float64: every exponent is <= 0, so exp cannot
    overflow (the ``initial`` makes an empty axis valid)."""
    z = x.astype(np.float64)
    z -= np.max(z, axis=axis, keepdims=True, initial=-np.inf)
    return z


def _softmax64(x, axis):
    e = np.exp(_shifted(x, axis))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def _log_softmax64(x, axis):
    z = _shifted(x, axis)
    z -= np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
    return z


def _reduce(per_item, grad, reduction, dtype):
    """Apply ``reduction`` to float64 per-item losses and their gradient; cast to ``dtype``.

    The mean divides by ``per_item.size``: samples for cross-entropy, elements for the binary
    losses.
    """
    if reduction == "none":
        return per_item.astype(dtype), grad.astype(dtype)
    total = np.sum(per_item)
    if reduction == "sum":
        return dtype.type(total), grad.astype(dtype)
    count = per_item.size
    if count == 0:
        return dtype.type(np.nan), grad.astype(dtype)
    return dtype.type(total / count), (grad / count).astype(dtype)


def _check_reduction(where, reduction):
    return check_choice(where, "reduction", reduction, REDUCTIONS)


# --- softmax ------------------------------------------------------------------------------

def softmax(x, *, axis=-1, out=None):
    """Softmax along ``axis``, max-subtracted (no overflow for any finite input).

    Parameters
    ----------
    x : ndarray of any shape with at least 1 dimension, float32 or float64
    axis : int
        Axis to normalise, in [-x.ndim, x.ndim).
    out : ndarray of x's shape and dtype, optional
        Where to write the result; may be ``x`` itself.

    Returns
    -------
    y : ndarray of x's shape and dtype
        Non-negative, summing to 1 along ``axis``.
    """
    x = as_array("softmax", "x", x)
    axis = _check_axis("softmax", x, axis)
    out = check_out("softmax", out, x.shape, x.dtype)
    out[...] = _softmax64(x, axis)
    return out


def log_softmax(x, *, axis=-1, out=None):
    """``log(softmax(x))`` along ``axis``, computed as ``x - max - log(sum(exp(x - max)))`` so
    that it stays finite where the softmax underflows. Shapes as :func:`softmax`."""
    x = as_array("log_softmax", "x", x)
    axis = _check_axis("log_softmax", x, axis)
    out = check_out("log_softmax", out, x.shape, x.dtype)
    out[...] = _log_softmax64(x, axis)
    return out


def softmax_backward(dy, y, *, axis=-1):
    """Gradient through the softmax from its output: ``y * (dy - sum(dy * y, axis))``.

    Parameters
    ----------
    dy : ndarray of any shape with at least 1 dimension, float32 or float64
        Upstream gradient.
    y : ndarray of dy's shape and dtype
        The forward output ``softmax(x, axis=axis)``.
    axis : int
        The softmax axis, in [-dy.ndim, dy.ndim).

    Returns
    -------
    dx : ndarray of dy's shape and dtype
    """
    where = "softmax_backward"
    dy, y = _same_shape_pair(where, "dy", dy, "y", y)
    axis = _check_axis(where, dy, axis)
    y64 = y.astype(np.float64)
    dy64 = dy.astype(np.float64)
    dy64 -= np.sum(dy64 * y64, axis=axis, keepdims=True)
    return (y64 * dy64).astype(dy.dtype)


# --- cross-entropy ------------------------------------------------------------------------

def _check_labels(where, labels, logits):
    """Checked labels for ``logits (N, K)``: ``(class indices as C-contiguous int64, None)``
    or ``(None, probability rows (N, K) of logits' dtype, C-contiguous)``. Shared with the
    native path, which uses the indices without building one-hot rows."""
    n, k = logits.shape
    if not isinstance(labels, np.ndarray):
        labels = as_array(where, "labels", labels, dtypes=(np.dtype(np.int64), logits.dtype))
    if labels.dtype.kind in "iu":
        check_shape(where, "labels", labels, (n,), "(N,) for integer class indices")
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(f"{where}: labels must be class indices in [0, {k}); got values "
                             f"in [{labels.min()}, {labels.max()}]")
        return np.ascontiguousarray(labels, dtype=np.int64), None
    if labels.dtype != logits.dtype:
        raise TypeError(f"{where}: labels must be integer class indices or have the dtype of "
                        f"logits ({logits.dtype}); got {labels.dtype}")
    check_shape(where, "labels", labels, (n, k), "(N, K) for one-hot or probability rows")
    return None, np.ascontiguousarray(labels)


def _class_probabilities(where, labels, logits):
    """Labels as float64 target rows ``(N, K)``: one-hot rows from int class indices ``(N,)``,
    or the given rows (of logits' dtype) unchanged."""
    classes, rows = _check_labels(where, labels, logits)
    if rows is not None:
        return rows.astype(np.float64)
    probabilities = np.zeros(logits.shape)
    probabilities[np.arange(logits.shape[0]), classes] = 1.0
    return probabilities


def softmax_cross_entropy(logits, labels, *, reduction="mean"):
    """Fused softmax + cross-entropy, ``loss_i = -sum_k p_ik log_softmax(logits)_ik``.

    Parameters
    ----------
    logits : ndarray of shape (N, K), float32 or float64, K >= 1
    labels : ndarray of shape (N,) of any integer dtype, or of shape (N, K) of logits' dtype
        Class indices in [0, K), or one-hot / probability rows ``p`` taken as given (not
        renormalised; a zero entry contributes 0 even where the log-softmax is -inf).
    reduction : {"mean", "sum", "none"}
        "mean" averages over the N samples.

    Returns
    -------
    loss : scalar of logits' dtype, or ndarray of shape (N,) for reduction="none"
    dlogits : ndarray of shape (N, K), logits' dtype
        ``softmax(logits) * sum_k p_k - p`` (``softmax - one_hot`` for class indices), divided
        by N for "mean".
    """
    where = "softmax_cross_entropy"
    logits = as_array(where, "logits", logits, ndim=2, shape_hint="(N, K)")
    if logits.shape[1] == 0:
        raise ValueError(f"{where}: logits must have at least one class (K >= 1); "
                         f"got shape {logits.shape}")
    targets = _class_probabilities(where, labels, logits)
    reduction = _check_reduction(where, reduction)

    log_probabilities = _log_softmax64(logits, axis=1)
    terms = np.zeros_like(log_probabilities)
    np.multiply(targets, log_probabilities, out=terms, where=targets != 0)  # 0 log 0 = 0
    per_sample = -np.sum(terms, axis=1)
    dlogits = (np.exp(log_probabilities) * np.sum(targets, axis=1, keepdims=True)
               - targets)
    return _reduce(per_sample, dlogits, reduction, logits.dtype)


# --- binary cross-entropy -----------------------------------------------------------------

def binary_cross_entropy(y_hat, y, *, reduction="mean"):
    """Binary cross-entropy of probabilities, the course's cost
    ``J = -mean(y log(y_hat) + (1 - y) log(1 - y_hat))``.

    Each log term is clamped at -100, as in PyTorch, so ``y_hat`` in {0, 1} gives a finite
    loss. The gradient is PyTorch's, ``(y_hat - y) / max(y_hat (1 - y_hat), 1e-12)``: the
    exact derivative wherever ``y_hat (1 - y_hat) >= 1e-12`` (i.e. 1e-12 <= y_hat <= 1 - 1e-12),
    and a finite value of the right sign near 0 and 1, including where the log is clamped
    (the clamped loss itself is flat there, which would stop learning).

    Parameters
    ----------
    y_hat : ndarray of any shape, float32 or float64
        Predicted probabilities in [0, 1] (ValueError outside; NaN propagates).
    y : ndarray of y_hat's shape and dtype
        Targets, usually 0 or 1 (soft targets are accepted).
    reduction : {"mean", "sum", "none"}
        "mean" averages over all elements: for ``y`` of shape (1, m), the course's 1/m.

    Returns
    -------
    loss : scalar of y_hat's dtype, or ndarray of y_hat's shape for reduction="none"
    dy_hat : ndarray of y_hat's shape and dtype
    """
    where = "binary_cross_entropy"
    y_hat, y = _same_shape_pair(where, "y_hat", y_hat, "y", y)
    reduction = _check_reduction(where, reduction)
    if np.any((y_hat < 0) | (y_hat > 1)):
        raise ValueError(f"{where}: y_hat must hold probabilities in [0, 1]; got values in "
                         f"[{np.nanmin(y_hat)}, {np.nanmax(y_hat)}]")

    p = y_hat.astype(np.float64)
    t = y.astype(np.float64)
    with np.errstate(divide="ignore"):      # log(0) = -inf, clamped just below
        log_p = np.maximum(np.log(p), LOG_CLAMP)
        log_not_p = np.maximum(np.log1p(-p), LOG_CLAMP)
    per_element = -(t * log_p + (1.0 - t) * log_not_p)
    dy_hat = (p - t) / np.maximum(p * (1.0 - p), BCE_GRAD_EPS)
    return _reduce(per_element, dy_hat, reduction, y_hat.dtype)


def binary_cross_entropy_with_logits(z, y, *, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(z)``, in the stable form
    ``max(z, 0) - z y + log1p(exp(-|z|))`` (no overflow for any finite z).

    Parameters
    ----------
    z : ndarray of any shape, float32 or float64
        Logits.
    y : ndarray of z's shape and dtype
        Targets, usually 0 or 1.
    reduction : {"mean", "sum", "none"}
        "mean" averages over all elements.

    Returns
    -------
    loss : scalar of z's dtype, or ndarray of z's shape for reduction="none"
    dz : ndarray of z's shape and dtype
        ``sigmoid(z) - y`` (divided by z.size for "mean").
    """
    where = "binary_cross_entropy_with_logits"
    z, y = _same_shape_pair(where, "z", z, "y", y)
    reduction = _check_reduction(where, reduction)

    z64 = z.astype(np.float64)
    t = y.astype(np.float64)
    per_element = np.maximum(z64, 0.0) - z64 * t + np.log1p(np.exp(-np.abs(z64)))
    dz = stable_sigmoid(z64) - t
    return _reduce(per_element, dz, reduction, z.dtype)


# --- L2 regularisation --------------------------------------------------------------------


def _check_l2_args(where, weights, lambd, m):
    """Validate l2_penalty's arguments (shared with the native path).

    Returns ``(weights as a list of arrays, lambd, m, dtype)``; the dtype is the weights'
    common dtype (float64 for an empty list).
    """
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"{where}: weights must be a list or tuple of arrays; "
                        f"got {type(weights).__name__}")
    weights = [as_array(where, f"weights[{i}]", w) for i, w in enumerate(weights)]
    for i, w in enumerate(weights[1:], start=1):
        check_same_dtype(where, "weights[0]", weights[0], **{f"weights[{i}]": w})
    lambd = as_float(where, "lambd", lambd, low=0)
    m = as_int(where, "m", m, min_value=1)
    dtype = weights[0].dtype if weights else np.dtype(np.float64)
    return weights, lambd, m, dtype

def l2_penalty(weights, lambd, m):
    """L2 regularisation cost ``lambd / (2 m) * sum_l ||W_l||^2`` and its gradients.

    Parameters
    ----------
    weights : list or tuple of ndarrays of any shapes, all float32 or all float64
    lambd : float >= 0
        Regularisation strength.
    m : int >= 1
        Number of training examples.

    Returns
    -------
    cost : scalar of the weights' dtype (np.float64 for an empty list)
    grads : list of ndarrays
        ``lambd / m * W_l``, one per weight, of its shape and dtype.
    """
    weights, lambd, m, dtype = _check_l2_args("l2_penalty", weights, lambd, m)
    squared_norms = sum(np.sum(np.square(w, dtype=np.float64)) for w in weights)
    cost = dtype.type(lambd / (2 * m) * squared_norms)
    grads = [(w * np.float64(lambd / m)).astype(w.dtype) for w in weights]
    return cost, grads
