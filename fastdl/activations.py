"""Activations: sigmoid, tanh, ReLU, leaky ReLU (forward from x, backward from y or x).

Native path: the compiled kernels of :mod:`fastdl._activations` (vectorised exp/tanh of
``csrc/fastdl_math.h``, one pass over memory, both cores on large arrays). Arrays are
processed as flat C-contiguous runs: other layouts go through a contiguous copy, and an
``out`` that partly overlaps ``x`` through a temporary, so every layout gives the reference's
result. Validation is the reference's own (:mod:`fastdl.reference.activations`).
"""
import numpy as np

from ._config import resolve_n_threads
from ._dispatch import implements, load_extension
from ._validation import as_float
from .reference import activations as _ref

__all__ = list(_ref.__all__)

_kernels = load_extension("fastdl._activations")


def _flat(a):
    """A flat C-contiguous view of ``a`` (a copy only when ``a`` is not C-contiguous)."""
    return np.ascontiguousarray(a).reshape(-1)


def _forward(where, name, x, out, alpha=0.0):
    x, out = _ref._unary(where, x, out)
    n = resolve_n_threads(where, None)
    if x.size == 0:
        return out
    direct = out.flags.c_contiguous and (
        out is x or not np.may_share_memory(out, x)
        or (x.flags.c_contiguous and x.__array_interface__["data"][0]
            == out.__array_interface__["data"][0]))
    if direct:
        _kernels.forward(name, _flat(x), out.reshape(-1), alpha, n)
    else:       # strided or partly overlapping out: compute into a temporary, copy back
        tmp = np.empty(x.shape, x.dtype)
        _kernels.forward(name, _flat(x), tmp.reshape(-1), alpha, n)
        out[...] = tmp
    return out


def _backward(where, name, dy_name, dy, s_name, s, alpha=0.0):
    dy, s = _ref._pair(where, dy_name, dy, s_name, s)
    dx = np.empty(dy.shape, dy.dtype)
    if dx.size:
        _kernels.backward(name, _flat(dy), _flat(s), dx.reshape(-1), alpha,
                          resolve_n_threads(where, None))
    return dx


@implements(_ref.sigmoid, _kernels)
def sigmoid(x, *, out=None):
    return _forward("sigmoid", "sigmoid", x, out)


@implements(_ref.tanh, _kernels)
def tanh(x, *, out=None):
    return _forward("tanh", "tanh", x, out)


@implements(_ref.relu, _kernels)
def relu(x, *, out=None):
    return _forward("relu", "relu", x, out)


@implements(_ref.leaky_relu, _kernels)
def leaky_relu(x, alpha=0.01, *, out=None):
    alpha = as_float("leaky_relu", "alpha", alpha)
    return _forward("leaky_relu", "leaky_relu", x, out, alpha)


@implements(_ref.sigmoid_backward, _kernels)
def sigmoid_backward(dy, y):
    return _backward("sigmoid_backward", "sigmoid", "dy", dy, "y", y)


@implements(_ref.tanh_backward, _kernels)
def tanh_backward(dy, y):
    return _backward("tanh_backward", "tanh", "dy", dy, "y", y)


@implements(_ref.relu_backward, _kernels)
def relu_backward(dy, x):
    return _backward("relu_backward", "relu", "dy", dy, "x", x)


@implements(_ref.leaky_relu_backward, _kernels)
def leaky_relu_backward(dy, x, alpha=0.01):
    alpha = as_float("leaky_relu_backward", "alpha", alpha)
    return _backward("leaky_relu_backward", "leaky_relu", "dy", dy, "x", x, alpha)
