"""Batch normalization: training forward (batch statistics, running-statistics update),
inference forward and the training-mode backward.

Native paths (``fastdl/_norm.pyx``, kernels in ``csrc/fastdl_norm.h``). x is viewed, without
copying where its strides allow, as ``(outer, C, inner)`` with the channel in the middle
(NCHW, or any axis with values after it) or as ``(rows, C)`` with the channel last (NHWC,
dense ``(N, C)``); the last axis of the view must be contiguous, otherwise x is copied once.

* Training forward: one pass for the per-channel statistics (float64 accumulation, exact
  two-pass inside cache-sized pieces merged with Chan's formula, fixed chunks merged in a
  fixed order), then one fused pass ``y = (x - mean) * alpha + beta``.
* Inference forward: the fused pass only, with the running statistics.
* Backward: one pass over (x, dy) for ``dbeta = sum dy`` and ``sum dy * (x - mean)``, one pass
  writing ``dx = a*dy + b*(x - mean) + k``; no temporary of x's size.

Inputs whose float64 statistics overflow or are not finite (|x| near the float64 maximum,
inf or NaN in x) are handed to the reference, which scales each channel by a power of two.
"""
import math

import numpy as np

from ._config import resolve_n_threads
from ._dispatch import implements, load_extension
from ._validation import (aligned_empty, as_array, as_float, check_choice, check_out,
                          check_same_dtype, check_shape)
from .reference import norm as _ref

__all__ = list(_ref.__all__)

_kernels = load_extension("fastdl._norm")


# --- views ----------------------------------------------------------------------------------

def _geometry(shape, axis):
    """(outer, C, inner): the products of the axes before and after the channel axis."""
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


def _view_shape(shape, axis):
    """Shape of the kernel view: (outer, C, inner), or (rows, C) when inner == 1."""
    outer, channels, inner = _geometry(shape, axis)
    return (outer, channels) if inner == 1 else (outer, channels, inner)


def _view(a, shape):
    """``a`` reshaped to ``shape`` without a copy, with a contiguous last axis; else None."""
    try:
        v = np.reshape(a, shape, copy=False)
    except ValueError:           # the strides do not allow a view
        return None
    return v if v.strides[-1] == v.itemsize else None


def _input_view(a, shape):
    """A kernel view of input ``a``: a view where possible, else a C-contiguous copy."""
    v = _view(a, shape)
    return v if v is not None else np.ascontiguousarray(a).reshape(shape)


def _output_view(out, x, shape):
    """A kernel view of ``out`` to write into, or None when a temporary is needed (its strides
    do not allow a view, or it overlaps x other than exactly)."""
    if out is not x and np.may_share_memory(out, x):
        same = (out.__array_interface__["data"][0] == x.__array_interface__["data"][0]
                and out.strides == x.strides)
        if not same:
            return None
    return _view(out, shape)


def _kernel(name, view_shape):
    return getattr(_kernels, name + ("_cm" if len(view_shape) == 3 else "_cl"))


def _normalize(x, out, mean, alpha, beta, axis, n):
    """out = (x - mean) * alpha + beta per channel (mean, alpha, beta: float64 (C,)).

    The mean goes in as x's dtype plus the remainder below that precision (mean_lo), so that
    float32 data far from 0 (|mean| / std ~ 1e5) is centred as accurately as in float64."""
    shape = _view_shape(x.shape, axis)
    dtype = x.dtype
    mean = np.asarray(mean, dtype=np.float64)
    mean_hi = mean.astype(dtype)
    with np.errstate(invalid="ignore"):          # inf - inf for overflowed means: unused
        mean_lo = np.nan_to_num(mean - mean_hi.astype(np.float64), nan=0.0)
    params = [np.ascontiguousarray(p, dtype=dtype) for p in (mean_hi, mean_lo, alpha, beta)]
    xv = _input_view(x, shape)
    yv = _output_view(out, x, shape)
    target = yv if yv is not None else np.empty(shape, dtype=dtype)
    _kernel("affine", shape)(xv, target, *params, n)
    if yv is None:
        out[...] = target.reshape(x.shape)
    return out


# --- public ops -----------------------------------------------------------------------------

@implements(_ref.batch_norm, _kernels)
def batch_norm(x, gamma, beta, *, running_mean=None, running_var=None, training=True,
               momentum=0.1, eps=1e-5, axis=1, out=None, n_threads=None):
    where = "batch_norm"
    x = _ref._as_batch(where, "x", x)
    axis = _ref._channel_axis(where, axis, x.ndim)
    channels = x.shape[axis]
    gamma = _ref._per_channel(where, "gamma", gamma, x, channels)
    beta = _ref._per_channel(where, "beta", beta, x, channels)
    training = check_choice(where, "training", training, (True, False))
    momentum = as_float(where, "momentum", momentum, low=0.0, high=1.0)
    eps = as_float(where, "eps", eps, low=0.0, low_open=True)
    running_mean = _ref._running_stat(where, "running_mean", running_mean, x, channels, training)
    running_var = _ref._running_stat(where, "running_var", running_var, x, channels, training)
    out = (aligned_empty(x.shape, x.dtype) if out is None
           else check_out(where, out, x.shape, x.dtype))
    n = resolve_n_threads(where, n_threads)

    gamma64 = gamma.astype(np.float64)
    if not training:
        for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
            if stat is None:
                raise ValueError(f"{where}: {name} is required when training=False")
        mean = running_mean.astype(np.float64)
        invstd = 1.0 / np.sqrt(running_var.astype(np.float64) + eps)
        if x.size:
            _normalize(x, out, mean, gamma64 * invstd, beta, axis, n)
        return out, running_mean.astype(x.dtype, copy=True), invstd.astype(x.dtype)

    outer, _, inner = _geometry(x.shape, axis)
    m = outer * inner
    if m < 2:
        raise ValueError(f"{where}: training needs more than one value per channel; got x of "
                         f"shape {x.shape} with {m} per channel (axis={axis})")
    if x.size == 0:                                  # C == 0: nothing to compute
        return out, np.empty(0, x.dtype), np.empty(0, x.dtype)
    shape = _view_shape(x.shape, axis)
    mean, m2 = _kernel("stats", shape)(_input_view(x, shape), n)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(m2))):
        # Overflowing float64 moments or non-finite x: the reference's scaled statistics.
        return _ref._training_forward(x, gamma, beta, running_mean, running_var, momentum,
                                      eps, axis, out)
    invstd = 1.0 / np.sqrt(m2 / m + eps)
    if running_mean is not None:
        _ref._update_running(running_mean, mean, momentum)
    if running_var is not None:
        _ref._update_running(running_var, m2 / (m - 1), momentum)
    _normalize(x, out, mean, gamma64 * invstd, beta, axis, n)
    return out, mean.astype(x.dtype), invstd.astype(x.dtype)


@implements(_ref.batch_norm_backward, _kernels)
def batch_norm_backward(dy, x, gamma, mean, invstd, *, axis=1, n_threads=None):
    where = "batch_norm_backward"
    x = _ref._as_batch(where, "x", x)
    dy = as_array(where, "dy", dy)
    check_same_dtype(where, "x", x, dy=dy)
    check_shape(where, "dy", dy, x.shape, "(the shape of x)")
    axis = _ref._channel_axis(where, axis, x.ndim)
    channels = x.shape[axis]
    gamma, mean, invstd = (_ref._per_channel(where, name, arr, x, channels)
                           for name, arr in (("gamma", gamma), ("mean", mean),
                                             ("invstd", invstd)))
    n = resolve_n_threads(where, n_threads)

    dx = aligned_empty(x.shape, x.dtype)
    if x.size == 0:
        zeros = np.zeros(channels, dtype=x.dtype)
        return dx, zeros, zeros.copy()
    outer, _, inner = _geometry(x.shape, axis)
    m = outer * inner
    shape = _view_shape(x.shape, axis)
    xv, dyv = _input_view(x, shape), _input_view(dy, shape)
    mean64 = mean.astype(np.float64)
    sum_dy, sum_dyxc = _kernel("grad_sums", shape)(dyv, xv, mean64, n)
    invstd64 = invstd.astype(np.float64)
    dbeta = sum_dy
    dgamma = sum_dyxc * invstd64
    # dx = gamma*invstd/m * (m*dy - dbeta - x_hat*dgamma) = a*dy + b*(x - mean) + k
    a = gamma * invstd64
    b = -a * invstd64 * dgamma / m
    k = -a * dbeta / m
    params = [np.ascontiguousarray(p, dtype=x.dtype) for p in (mean, a, b, k)]
    _kernel("dx", shape)(dyv, xv, dx.reshape(shape), *params, n)
    return dx, dgamma.astype(x.dtype), dbeta.astype(x.dtype)
