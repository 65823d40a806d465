"""Reference batch normalization: forward (training and inference) and backward.

The statistics of channel ``c`` are taken over every axis of ``x`` except the channel axis
``axis`` (1 for NCHW, -1 for NHWC and for dense ``(N, C)`` inputs); ``M`` denotes the number
of values per channel. Training normalises with the biased batch variance and, following
PyTorch, updates the running variance with the unbiased one. All statistics are accumulated
in float64 and returned in x's dtype.

Overflow-free on extreme inputs: each channel is scaled by a power of two (exact) so that its
largest magnitude is below 1 before the moments are taken, and ``1 / sqrt(var + eps)`` is
formed with ``hypot``, so float64 inputs near 1e300 neither overflow nor lose precision.
"""
import math

import numpy as np

from .._config import resolve_n_threads
from .._validation import (as_array, as_float, as_int, check_choice, check_out,
                           check_same_dtype, check_shape, check_writeable)

__all__ = ["batch_norm", "batch_norm_backward"]


# --- argument checks shared by the forward and the backward -------------------------------

def _as_batch(where, name, x):
    """``x`` as a float array with at least a batch and a channel axis."""
    x = as_array(where, name, x)
    if x.ndim < 2:
        raise ValueError(f"{where}: {name} must be an array of at least 2 dimensions "
                         f"(N, C, ...); got shape {x.shape}")
    return x


def _channel_axis(where, axis, ndim):
    """The channel axis as a non-negative index (negative values count from the end)."""
    return as_int(where, "axis", axis, min_value=-ndim, max_value=ndim - 1) % ndim


def _per_channel(where, name, arr, x, channels):
    """A ``(C,)`` array of x's dtype (gamma, beta, mean, invstd)."""
    arr = as_array(where, name, arr)
    check_same_dtype(where, "x", x, **{name: arr})
    check_shape(where, name, arr, (channels,), "(one value per channel)")
    return arr


def _running_stat(where, name, arr, x, channels, training):
    """A running statistic: an ndarray (it is updated in place), writeable in training."""
    if arr is None:
        return None
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{where}: {name} must be a NumPy array or None; "
                        f"got {type(arr).__name__}")
    arr = _per_channel(where, name, arr, x, channels)
    if training:
        check_writeable(where, name, arr)
    return arr


def _geometry(x, axis):
    """(axes reduced over, broadcast shape of a per-channel array, values per channel M)."""
    axes = tuple(i for i in range(x.ndim) if i != axis)
    per_channel_shape = tuple(s if i == axis else 1 for i, s in enumerate(x.shape))
    return axes, per_channel_shape, math.prod(x.shape[i] for i in axes)


# --- statistics -----------------------------------------------------------------------------

def _scaled_moments(x64, axes):
    """Per-channel power-of-two exponent ``e`` and the moments of ``x / 2**e``.

    ``2**e`` exceeds every |x| of the channel, so the centred scaled values lie in (-2, 2)
    and their sums cannot overflow; scaling by a power of two is exact. Returns
    ``(e, centred, mean_s, var_s)`` with keepdims shapes: ``mean = mean_s * 2**e``,
    ``var = var_s * 4**e`` (biased), ``centred = (x - mean) / 2**e``.
    """
    # frexp gives exponent 0 for 0, inf and NaN, which leaves those channels unscaled.
    exponent = np.frexp(np.max(np.abs(x64), axis=axes, keepdims=True))[1]
    scaled = np.ldexp(x64, -exponent)
    mean_s = scaled.mean(axis=axes, keepdims=True)
    centred = scaled - mean_s
    var_s = np.mean(centred * centred, axis=axes, keepdims=True)
    return exponent, centred, mean_s, var_s


def _inverse_stds(exponent, var_s, eps):
    """``invstd = 1/sqrt(var + eps)`` and ``invstd * 2**e`` (the factor of the centred
    scaled values), both without overflow."""
    std = np.ldexp(np.sqrt(var_s), exponent)      # <= max|x|: finite
    invstd = 1.0 / np.hypot(std, math.sqrt(eps))
    # sqrt(eps) / 2**e overflows only for subnormal channels, where eps dominates anyway.
    with np.errstate(over="ignore"):
        eps_term = np.ldexp(math.sqrt(eps), -exponent)
    return invstd, 1.0 / np.hypot(np.sqrt(var_s), eps_term)


def _update_running(running, batch_value, momentum):
    """``running = (1 - momentum) * running + momentum * batch`` in place (float64 maths)."""
    # The variance of values near the dtype's maximum is not representable: inf is honest.
    with np.errstate(over="ignore"):
        running[...] = (1.0 - momentum) * running.astype(np.float64) + momentum * batch_value


def _normalize_into(out, centred, factor, gamma, beta, per_channel_shape):
    """``out = centred * factor * gamma + beta`` with per-channel factor, gamma, beta."""
    scale = (factor.reshape(-1) * gamma).reshape(per_channel_shape)
    out[...] = centred * scale + beta.astype(np.float64).reshape(per_channel_shape)
    return out


def _training_forward(x, gamma, beta, running_mean, running_var, momentum, eps, axis, out):
    axes, per_channel_shape, m = _geometry(x, axis)
    exponent, centred, mean_s, var_s = _scaled_moments(x.astype(np.float64), axes)
    invstd, factor = _inverse_stds(exponent, var_s, eps)
    mean = np.ldexp(mean_s, exponent).reshape(-1)
    if running_mean is not None:
        _update_running(running_mean, mean, momentum)
    if running_var is not None:
        with np.errstate(over="ignore"):   # see _update_running
            unbiased_var = np.ldexp(var_s, 2 * exponent).reshape(-1) * (m / (m - 1))
        _update_running(running_var, unbiased_var, momentum)
    _normalize_into(out, centred, factor, gamma, beta, per_channel_shape)
    return out, mean.astype(x.dtype), invstd.reshape(-1).astype(x.dtype)


def _inference_forward(x, gamma, beta, running_mean, running_var, eps, axis, out):
    _, per_channel_shape, _ = _geometry(x, axis)
    mean = running_mean.astype(np.float64)
    invstd = 1.0 / np.sqrt(running_var.astype(np.float64) + eps)
    centred = x.astype(np.float64) - mean.reshape(per_channel_shape)
    _normalize_into(out, centred, invstd, gamma, beta, per_channel_shape)
    return out, running_mean.astype(x.dtype, copy=True), invstd.astype(x.dtype)


# --- public ops -----------------------------------------------------------------------------

def batch_norm(x, gamma, beta, *, running_mean=None, running_var=None, training=True,
               momentum=0.1, eps=1e-5, axis=1, out=None, n_threads=None):
    """Batch normalization ``y = gamma * (x - mean) / sqrt(var + eps) + beta``.

    Parameters
    ----------
    x : ndarray of shape (N, C, ...) for axis=1, or (..., C) for axis=-1; float32 or float64
        At least 2-D. ``(N, C, H, W)`` (NCHW, axis=1), ``(N, H, W, C)`` (NHWC, axis=-1) and
        ``(N, C)`` (dense, axis=-1 or 1) are the usual cases.
    gamma, beta : ndarray of shape (C,), x's dtype
        Scale and shift.
    running_mean, running_var : ndarray of shape (C,), x's dtype, optional
        Running statistics. In training they are updated in place (so they must be writeable
        arrays) as ``running = (1 - momentum) * running + momentum * batch``, with the
        unbiased batch variance for ``running_var``. Required in inference.
    training : bool
        True: normalise with the batch statistics (mean and biased variance over every axis
        but ``axis``; at least 2 values per channel). False: with the running statistics.
    momentum : float in [0, 1]
        Weight of the batch statistics in the running update.
    eps : float > 0
        Added to the variance.
    axis : int
        The channel axis (negative values count from the end).
    out : ndarray of x's shape and dtype, optional
        Where to write ``y`` (may be ``x``).
    n_threads : int >= 1 or None
        Threads of the native kernel (validated; the reference is single-threaded).

    Returns
    -------
    y : ndarray of x's shape and dtype
    mean : ndarray of shape (C,), x's dtype
        The batch mean (training) or a copy of ``running_mean`` (inference).
    invstd : ndarray of shape (C,), x's dtype
        ``1 / sqrt(var + eps)`` with the biased batch variance (training) or
        ``running_var`` (inference). ``mean`` and ``invstd`` feed
        :func:`batch_norm_backward`.

    Raises
    ------
    ValueError
        A training batch with fewer than 2 values per channel; inference without running
        statistics; out-of-range ``momentum``, ``eps`` or ``axis``; mismatched shapes.
    TypeError
        A non-float dtype, mismatched dtypes, running statistics that are not arrays.
    """
    where = "batch_norm"
    x = _as_batch(where, "x", x)
    axis = _channel_axis(where, axis, x.ndim)
    channels = x.shape[axis]
    gamma = _per_channel(where, "gamma", gamma, x, channels)
    beta = _per_channel(where, "beta", beta, x, channels)
    training = check_choice(where, "training", training, (True, False))
    momentum = as_float(where, "momentum", momentum, low=0.0, high=1.0)
    eps = as_float(where, "eps", eps, low=0.0, low_open=True)
    running_mean = _running_stat(where, "running_mean", running_mean, x, channels, training)
    running_var = _running_stat(where, "running_var", running_var, x, channels, training)
    out = check_out(where, out, x.shape, x.dtype)
    resolve_n_threads(where, n_threads)

    if not training:
        for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
            if stat is None:
                raise ValueError(f"{where}: {name} is required when training=False")
        return _inference_forward(x, gamma, beta, running_mean, running_var, eps, axis, out)
    values_per_channel = _geometry(x, axis)[2]
    if values_per_channel < 2:
        raise ValueError(f"{where}: training needs more than one value per channel; got x of "
                         f"shape {x.shape} with {values_per_channel} per channel (axis={axis})")
    return _training_forward(x, gamma, beta, running_mean, running_var, momentum, eps, axis,
                             out)


def batch_norm_backward(dy, x, gamma, mean, invstd, *, axis=1, n_threads=None):
    """Training-mode gradient of :func:`batch_norm`.

    With ``x_hat = (x - mean) * invstd`` and sums over the ``M`` values of each channel::

        dbeta  = sum(dy)
        dgamma = sum(dy * x_hat)
        dx     = gamma * invstd / M * (M * dy - dbeta - x_hat * dgamma)

    Parameters
    ----------
    dy : ndarray of x's shape and dtype
        Upstream gradient ``dL/dy``.
    x : ndarray of shape (N, C, ...) or (..., C), float32 or float64
        The forward input.
    gamma, mean, invstd : ndarray of shape (C,), x's dtype
        The scale and the batch statistics returned by the training forward.
    axis : int
        The channel axis, as in the forward.
    n_threads : int >= 1 or None
        Threads of the native kernel (validated; the reference is single-threaded).

    Returns
    -------
    dx : ndarray of x's shape and dtype
    dgamma, dbeta : ndarray of shape (C,), x's dtype
    """
    where = "batch_norm_backward"
    x = _as_batch(where, "x", x)
    dy = as_array(where, "dy", dy)
    check_same_dtype(where, "x", x, dy=dy)
    check_shape(where, "dy", dy, x.shape, "(the shape of x)")
    axis = _channel_axis(where, axis, x.ndim)
    channels = x.shape[axis]
    gamma, mean, invstd = (_per_channel(where, name, arr, x, channels)
                           for name, arr in (("gamma", gamma), ("mean", mean),
                                             ("invstd", invstd)))
    resolve_n_threads(where, n_threads)

    axes, per_channel_shape, m = _geometry(x, axis)
    dy64 = dy.astype(np.float64)
    invstd64 = invstd.astype(np.float64)
    x_hat = (x - mean.astype(np.float64).reshape(per_channel_shape)) \
        * invstd64.reshape(per_channel_shape)
    dbeta = dy64.sum(axis=axes)
    dgamma = (dy64 * x_hat).sum(axis=axes)
    scale = gamma * invstd64 / max(m, 1)          # an empty batch has an empty dx
    dx = scale.reshape(per_channel_shape) * (m * dy64 - dbeta.reshape(per_channel_shape)
                                             - x_hat * dgamma.reshape(per_channel_shape))
    return dx.astype(x.dtype), dgamma.astype(x.dtype), dbeta.astype(x.dtype)
