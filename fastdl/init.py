"""Parameter initialisation (pure Python + NumPy, no kernel).

Every function returns float64 arrays by default, like the course's ``initialize_parameters``.
Addition to API.md: a keyword-only ``dtype`` (float32 or float64); the values are drawn in
float64 and rounded, so a seed gives the same numbers in both dtypes up to that rounding.
``rng`` is an int seed, a ``numpy.random.Generator`` (its stream advances) or None.
"""
import math

import numpy as np

from ._validation import as_float, as_float_dtype, as_int, check_choice
from .reference.data import as_generator

__all__ = ["zeros", "random_small", "xavier", "he", "initialize_parameters"]

METHODS = ("he", "xavier", "small", "zeros")


def _shape(where, shape):
    """``shape`` (an int or a sequence of ints >= 0) as a tuple."""
    if isinstance(shape, (list, tuple)):
        return tuple(as_int(where, f"shape[{i}]", s, min_value=0) for i, s in enumerate(shape))
    return (as_int(where, "shape", shape, min_value=0),)


def _normal(where, shape, std, rng, dtype):
    """Zero-mean normal draws of standard deviation ``std``, in ``dtype``."""
    draws = as_generator(where, rng).standard_normal(shape)
    return (std * draws).astype(dtype, copy=False)


def zeros(shape, *, dtype=np.float64):
    """All-zero parameters (biases; also the course's symmetric, non-learning baseline).

    Parameters
    ----------
    shape : int or tuple of int
    dtype : float32 or float64, keyword-only (addition to API.md)

    Returns
    -------
    ndarray of ``shape``
    """
    return np.zeros(_shape("zeros", shape), dtype=as_float_dtype("zeros", dtype))


def random_small(shape, scale=0.01, rng=None, *, dtype=np.float64):
    """Normal draws times ``scale`` (the course's ``np.random.randn(...) * 0.01``).

    Parameters
    ----------
    shape : int or tuple of int
    scale : float
        Standard deviation, >= 0.
    rng : int, numpy.random.Generator or None
    dtype : float32 or float64, keyword-only (addition to API.md)

    Returns
    -------
    ndarray of ``shape``
    """
    where = "random_small"
    scale = as_float(where, "scale", scale, low=0.0)
    return _normal(where, _shape(where, shape), scale, rng, as_float_dtype(where, dtype))


def _scaled_normal(where, shape, fan_in, gain, rng, dtype):
    """Normal draws with variance ``gain / fan_in`` (fan_in defaulting to prod(shape[1:]))."""
    shape = _shape(where, shape)
    if fan_in is None:
        fan_in = math.prod(shape[1:])
    else:
        fan_in = as_int(where, "fan_in", fan_in, min_value=1)
    # An empty weight (some dimension 0) has no variance to set; fan_in may then be 0.
    std = math.sqrt(gain / fan_in) if fan_in else 0.0
    return _normal(where, shape, std, rng, as_float_dtype(where, dtype))


def xavier(shape, fan_in=None, rng=None, *, dtype=np.float64):
    """Xavier initialisation: normal with variance ``1 / fan_in`` (for tanh layers).

    Parameters
    ----------
    shape : int or tuple of int
        ``(out, in)`` for dense weights, ``(K, C, R, S)`` for NCHW convolution weights.
    fan_in : int, optional
        Inputs per output unit, >= 1. Defaults to the product of all but the first dimension
        (right for the two shapes above; pass ``R * S * C`` for NHWC weights ``(R, S, C, K)``).
    rng : int, numpy.random.Generator or None
    dtype : float32 or float64, keyword-only (addition to API.md)

    Returns
    -------
    ndarray of ``shape``
    """
    return _scaled_normal("xavier", shape, fan_in, 1.0, rng, dtype)


def he(shape, fan_in=None, rng=None, *, dtype=np.float64):
    """He initialisation: normal with variance ``2 / fan_in`` (for ReLU layers).

    Parameters and result as :func:`xavier`.
    """
    return _scaled_normal("he", shape, fan_in, 2.0, rng, dtype)


def initialize_parameters(layer_dims, method="he", rng=None, *, dtype=np.float64):
    """Weights and biases of a fully connected network, as in the course.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n0, n1, ..., nL]``: input size then the size of each layer (all >= 1, at least 2
        entries).
    method : {"he", "xavier", "small", "zeros"}
        Weight initialisation (:func:`he`, :func:`xavier`, :func:`random_small` with scale
        0.01, :func:`zeros`); biases are always zero.
    rng : int, numpy.random.Generator or None
        One generator serves every layer, W1 first.
    dtype : float32 or float64, keyword-only (addition to API.md; default float64)

    Returns
    -------
    parameters : dict
        ``{"W1": (n1, n0), "b1": (n1,), ..., "WL": (nL, nL-1), "bL": (nL,)}``.
    """
    where = "initialize_parameters"
    if not isinstance(layer_dims, (list, tuple)) or len(layer_dims) < 2:
        raise ValueError(f"{where}: layer_dims must be a list of at least 2 layer sizes; "
                         f"got {layer_dims!r}")
    dims = [as_int(where, f"layer_dims[{i}]", n, min_value=1) for i, n in enumerate(layer_dims)]
    method = check_choice(where, "method", method, METHODS)
    dtype = as_float_dtype(where, dtype)
    rng = as_generator(where, rng)
    draw = {"he": lambda shape: he(shape, rng=rng, dtype=dtype),
            "xavier": lambda shape: xavier(shape, rng=rng, dtype=dtype),
            "small": lambda shape: random_small(shape, rng=rng, dtype=dtype),
            "zeros": lambda shape: zeros(shape, dtype=dtype)}[method]
    parameters = {}
    for layer in range(1, len(dims)):
        parameters[f"W{layer}"] = draw((dims[layer], dims[layer - 1]))
        parameters[f"b{layer}"] = zeros(dims[layer], dtype=dtype)
    return parameters
