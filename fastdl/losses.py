"""Softmax and losses: softmax, log-softmax, softmax cross-entropy, binary cross-entropy (on
probabilities and on logits) and the L2 penalty.

Native path: :mod:`fastdl._losses` (``csrc/fastdl_losses.h``). The softmax family works on
C-contiguous rows along the last axis; softmax / log-softmax along another axis run on the
(outer, K, inner) view, vectorised across the contiguous inner axis (no transposes);
softmax_backward along another axis goes through a moveaxis-contiguous copy.
``softmax_cross_entropy`` is one fused pass per row (max, exp-sum, loss, gradient) for class
indices and for probability rows. Loss sums are taken in fixed chunks (double) and added in
chunk order: bit-identical for any thread count. Validation is the reference's
(:mod:`fastdl.reference.losses`) and gives the same errors.
"""
import numpy as np

from ._config import resolve_n_threads
from ._dispatch import implements, load_extension
from ._validation import as_array, check_out
from .reference import losses as _ref

__all__ = list(_ref.__all__)

_kernels = load_extension("fastdl._losses")


def _rows(a, k):
    return np.ascontiguousarray(a).reshape(-1, k)


def _same_buffer(a, b):
    """True when C-contiguous ``a`` and ``b`` of one shape occupy exactly the same memory."""
    return (a.flags.c_contiguous and b.flags.c_contiguous
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _moved_rows(x, axis):
    """A private C-contiguous copy of ``x`` with ``axis`` moved last."""
    moved = np.ascontiguousarray(np.moveaxis(x, axis, -1))
    if np.may_share_memory(moved, x):
        moved = moved.copy()
    return moved


def _chunk_total(partial):
    total = 0.0
    for p in partial:           # fixed order: chunk 0, 1, ...
        total += float(p)
    return total


# --- softmax ------------------------------------------------------------------------------

def _softmax(where, take_log, x, axis, out):
    x = as_array(where, "x", x)
    axis = _ref._check_axis(where, x, axis)
    out = check_out(where, out, x.shape, x.dtype)
    if x.size == 0:
        return out
    n = resolve_n_threads(where, None)
    k = x.shape[axis]
    if axis == x.ndim - 1:
        rows = _rows(x, k)
        if out.flags.c_contiguous and (not np.may_share_memory(out, x) or _same_buffer(out, x)):
            _kernels.softmax_rows(take_log, rows, out.reshape(-1, k), n)
        else:
            tmp = np.empty(rows.shape, x.dtype)
            _kernels.softmax_rows(take_log, rows, tmp, n)
            out[...] = tmp.reshape(x.shape)
        return out
    # another axis: (outer, k, inner) view of a C-contiguous x, vectorised across inner
    shape3 = (int(np.prod(x.shape[:axis])), k, int(np.prod(x.shape[axis + 1:])))
    x3 = np.ascontiguousarray(x).reshape(shape3)
    if out.flags.c_contiguous and (not np.may_share_memory(out, x) or _same_buffer(out, x)):
        _kernels.softmax_middle(take_log, x3, out.reshape(shape3), n)
    else:
        tmp = np.empty(shape3, x.dtype)
        _kernels.softmax_middle(take_log, x3, tmp, n)
        out[...] = tmp.reshape(x.shape)
    return out


@implements(_ref.softmax, _kernels)
def softmax(x, *, axis=-1, out=None):
    return _softmax("softmax", False, x, axis, out)


@implements(_ref.log_softmax, _kernels)
def log_softmax(x, *, axis=-1, out=None):
    return _softmax("log_softmax", True, x, axis, out)


@implements(_ref.softmax_backward, _kernels)
def softmax_backward(dy, y, *, axis=-1):
    where = "softmax_backward"
    dy, y = _ref._same_shape_pair(where, "dy", dy, "y", y)
    axis = _ref._check_axis(where, dy, axis)
    if dy.size == 0:
        return np.empty(dy.shape, dy.dtype)
    n = resolve_n_threads(where, None)
    k = dy.shape[axis]
    if axis == dy.ndim - 1:
        dx = np.empty(dy.shape, dy.dtype)
        _kernels.softmax_backward_rows(_rows(dy, k), _rows(y, k), dx.reshape(-1, k), n)
        return dx
    dym, ym = _moved_rows(dy, axis), _moved_rows(y, axis)
    dxm = np.empty(dym.shape, dy.dtype)
    _kernels.softmax_backward_rows(dym.reshape(-1, k), ym.reshape(-1, k),
                                   dxm.reshape(-1, k), n)
    return np.ascontiguousarray(np.moveaxis(dxm, -1, axis))


# --- cross-entropy ------------------------------------------------------------------------

def _reduced(total, count, reduction, dtype):
    if reduction == "sum":
        return dtype.type(total)
    if count == 0:
        return dtype.type(np.nan)
    return dtype.type(total / count)


@implements(_ref.softmax_cross_entropy, _kernels)
def softmax_cross_entropy(logits, labels, *, reduction="mean"):
    where = "softmax_cross_entropy"
    logits = as_array(where, "logits", logits, ndim=2, shape_hint="(N, K)")
    if logits.shape[1] == 0:
        raise ValueError(f"{where}: logits must have at least one class (K >= 1); "
                         f"got shape {logits.shape}")
    classes, probabilities = _ref._check_labels(where, labels, logits)
    reduction = _ref._check_reduction(where, reduction)

    n, k = logits.shape
    dtype = logits.dtype
    grad = np.empty((n, k), dtype)
    loss_rows = np.empty(n, dtype) if reduction == "none" else None
    partial = np.zeros(_kernels.chunk_count(n, k))
    scale = 1.0 / n if (reduction == "mean" and n) else 1.0
    if n:
        _kernels.softmax_cross_entropy(np.ascontiguousarray(logits), classes, probabilities,
                                       grad, loss_rows, scale, partial,
                                       resolve_n_threads(where, None))
    if reduction == "none":
        return loss_rows, grad
    return _reduced(_chunk_total(partial), n, reduction, dtype), grad


# --- binary cross-entropy -----------------------------------------------------------------

def _binary(where, kind, first, x, y, reduction):
    x, y = _ref._same_shape_pair(where, first, x, "y", y)
    reduction = _ref._check_reduction(where, reduction)
    dtype = x.dtype
    grad = np.empty(x.shape, dtype)
    loss = np.empty(x.shape, dtype) if reduction == "none" else None
    partial = np.zeros(_kernels.chunk_count(x.size, 1))
    scale = 1.0 / x.size if (reduction == "mean" and x.size) else 1.0
    if x.size:
        bad = _kernels.binary_cross_entropy(
            kind, np.ascontiguousarray(x).reshape(-1), np.ascontiguousarray(y).reshape(-1),
            grad.reshape(-1), None if loss is None else loss.reshape(-1), scale, partial,
            resolve_n_threads(where, None))
        if bad:
            raise ValueError(f"{where}: y_hat must hold probabilities in [0, 1]; got values "
                             f"in [{np.nanmin(x)}, {np.nanmax(x)}]")
    if reduction == "none":
        return loss, grad
    return _reduced(_chunk_total(partial), x.size, reduction, dtype), grad


@implements(_ref.binary_cross_entropy, _kernels)
def binary_cross_entropy(y_hat, y, *, reduction="mean"):
    return _binary("binary_cross_entropy", 0, "y_hat", y_hat, y, reduction)


@implements(_ref.binary_cross_entropy_with_logits, _kernels)
def binary_cross_entropy_with_logits(z, y, *, reduction="mean"):
    return _binary("binary_cross_entropy_with_logits", 1, "z", z, y, reduction)


# --- L2 regularisation --------------------------------------------------------------------

@implements(_ref.l2_penalty, _kernels)
def l2_penalty(weights, lambd, m):
    where = "l2_penalty"
    weights, lambd, m, dtype = _ref._check_l2_args(where, weights, lambd, m)
    n = resolve_n_threads(where, None)
    squared_norms = 0.0
    grads = []
    for w in weights:
        g = np.empty(w.shape, w.dtype)
        partial = np.zeros(_kernels.chunk_count(w.size, 1))
        _kernels.l2_array(np.ascontiguousarray(w).reshape(-1), g.reshape(-1),
                          float(np.float64(lambd / m)), partial, n)
        squared_norms += _chunk_total(partial)
        grads.append(g)
    return dtype.type(lambd / (2 * m) * squared_norms), grads
