"""Inverted dropout with a counter-based mask (same seed, same mask, for any thread count).

Native paths (``fastdl/_dropout.pyx``, kernels in ``csrc/fastdl_dropout.h`` and the shared
generator ``csrc/fastdl_random.h``): the forward generates the mask and scales x in one pass
(x read, y and the uint8 mask written); the backward is one pass (dy and mask read, dx
written). Element i of the logical C-order array uses generator counter i, so the native mask
is bit-identical to the reference's for any strides, chunking or thread count. Strided inputs
are read in place when they fold into a 2-D ``(rows, cols)`` view; otherwise copied once.
"""
import importlib

import numpy as np

from ._config import resolve_n_threads
from ._dispatch import implements, load_extension
from ._validation import aligned_empty, as_array, check_choice, check_out, check_shape

# Not `from .reference import dropout`: the package attribute `dropout` is the flat-exported
# function, which shadows the submodule of the same name.
_ref = importlib.import_module(".reference.dropout", __package__)
_random = importlib.import_module(".reference._random", __package__)

__all__ = list(_ref.__all__)

_kernels = load_extension("fastdl._dropout")


def _fold(shape, strides):
    """Merge adjacent axes whose strides chain (C order), dropping length-1 axes: the fewest
    axes (at least one) that address the same elements in the same logical order."""
    dims = [[n, s] for n, s in zip(shape, strides) if n != 1] or [[1, 0]]
    merged = [dims[0]]
    for n, s in dims[1:]:
        if merged[-1][1] == n * s:         # the previous axis steps over this one exactly
            merged[-1] = [merged[-1][0] * n, s]
        else:
            merged.append([n, s])
    return merged


def _view2d(a, cols):
    """``a`` as a ``(size // cols, cols)`` view in logical C order, without copying, with
    strides in whole elements; None when no such view exists."""
    try:
        v = np.reshape(a, (a.size // cols, cols), copy=False)
    except ValueError:
        return None
    return None if any(s % a.itemsize for s in v.strides) else v


def _input_2d(a):
    """A ``(rows, cols)`` view of non-empty input ``a`` (cols from its strides), or of a
    C-contiguous copy when its strides do not fold to two axes."""
    folded = _fold(a.shape, a.strides)
    if len(folded) <= 2:
        v = _view2d(a, folded[-1][0])
        if v is not None:
            return v
    return np.ascontiguousarray(a).reshape(1, a.size)


def _output_2d(out, x, cols):
    """A view of ``out`` matching x's 2-D split, or None when a temporary is needed (no such
    view, or out overlaps x other than exactly)."""
    if out is not x and np.may_share_memory(out, x):
        same = (out.__array_interface__["data"][0] == x.__array_interface__["data"][0]
                and out.strides == x.strides)
        if not same:
            return None
    return _view2d(out, cols)


@implements(_ref.dropout, _kernels)
def dropout(x, keep_prob, *, seed=None, rng=None, training=True, out=None, n_threads=None):
    where = "dropout"
    x = as_array(where, "x", x)
    keep_prob = _ref._check_keep_prob(where, keep_prob)
    _ref._check_random_source(where, seed, rng)
    training = check_choice(where, "training", training, (True, False))
    if out is not None:
        out = check_out(where, out, x.shape, x.dtype)
    n = resolve_n_threads(where, n_threads)

    if not training or keep_prob == 1.0:
        if out is None:
            return x, None
        out[...] = x
        return out, None
    key = int(_random.make_key(where, seed, rng))
    mask = aligned_empty(x.shape, np.uint8)
    y = aligned_empty(x.shape, x.dtype) if out is None else out
    if x.size == 0:
        return y, mask
    xv = _input_2d(x)
    yv = _output_2d(y, x, xv.shape[1])
    target = yv if yv is not None else np.empty(xv.shape, dtype=x.dtype)
    _kernels.forward(xv, target, mask.reshape(-1), key, keep_prob, n)
    if yv is None:
        y[...] = target.reshape(x.shape)
    return y, mask


@implements(_ref.dropout_backward, _kernels)
def dropout_backward(dy, mask, keep_prob):
    where = "dropout_backward"
    dy = as_array(where, "dy", dy)
    keep_prob = _ref._check_keep_prob(where, keep_prob)
    if mask is None:
        return dy
    mask = as_array(where, "mask", mask, dtypes=_ref.MASK_DTYPES)
    check_shape(where, "mask", mask, dy.shape, "(the shape of dy)")
    n = resolve_n_threads(where, None)

    dx = aligned_empty(dy.shape, dy.dtype)
    if dy.size == 0:
        return dx
    if mask.dtype == np.bool_:
        mask = mask.view(np.uint8)             # same bytes: 0 / 1
    dyv = _input_2d(dy)
    maskv = _view2d(mask, dyv.shape[1])
    if maskv is None:
        maskv = np.ascontiguousarray(mask).reshape(dyv.shape)
    _kernels.backward(dyv, maskv, dx.reshape(-1), keep_prob, n)
    return dx
