"""Reference pooling: max, average and global average pooling, forward and backward.

Both layouts are handled on their own axes: ``layout="NCHW"`` pools axes 2 and 3 of
``(N, C, H, W)``, ``layout="NHWC"`` axes 1 and 2 of ``(N, H, W, C)``. The windows are visited
one kernel offset ``(i, j)`` at a time: for a fixed offset, the pixels the windows see form one
strided slice of the padded input, so every step is a whole-array NumPy operation and the only
Python loop runs over the ``kh * kw`` offsets.

Conventions: ``stride`` defaults to ``kernel_size``; padding is at most half the kernel per side
(PyTorch's rule) and the output size is ``floor((n + 2p - k) / s) + 1``. Max-pool padding counts
as -inf, and the winner of a window is its first maximum in row-major window order (NaN counts
as a maximum, so it propagates); its index is the flat offset ``h * W + w`` into the unpadded
``H x W`` plane. Average pooling divides by ``kh * kw`` (``count_include_pad=True``) or by the
number of real pixels in the window. Sums are accumulated in float64 and cast back to the input
dtype.
"""
from typing import NamedTuple

import numpy as np

from .._config import resolve_n_threads
from .._validation import (as_array, as_int, as_pair, check_choice, check_layout, check_out,
                           check_same_dtype, check_shape)

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
           "global_avg_pool2d", "global_avg_pool2d_backward"]

_INT64 = (np.dtype(np.int64),)


# --- layout helpers ----------------------------------------------------------------------

def _shape_hint(layout):
    order = "(N, C, H, W)" if layout == "NCHW" else "(N, H, W, C)"
    return f"{order} for layout={layout!r}"


def _image(where, name, x, layout):
    """Validate a 4-D float image batch in ``layout``."""
    return as_array(where, name, x, ndim=4, shape_hint=_shape_hint(layout))


def _unpack(shape, layout):
    """``(N, C, H, W)`` of a 4-D shape given in ``layout``'s order."""
    if layout == "NCHW":
        return tuple(shape)
    n, h, w, c = shape
    return n, c, h, w


def _pack(n, c, h, w, layout):
    """A 4-D shape in ``layout``'s order."""
    return (n, c, h, w) if layout == "NCHW" else (n, h, w, c)


def _spatial_index(layout, rows, cols):
    """Index selecting ``rows`` x ``cols`` (slices) on the H and W axes of a 4-D array."""
    every = slice(None)
    if layout == "NCHW":
        return every, every, rows, cols
    return every, rows, cols, every


def _as_plane(layout, plane):
    """View a 2-D ``(OH, OW)`` array so that it broadcasts against a 4-D array in ``layout``."""
    return plane[None, None, :, :] if layout == "NCHW" else plane[None, :, :, None]


# --- window geometry ---------------------------------------------------------------------

class _Windows(NamedTuple):
    """Pooling geometry over an ``in_h x in_w`` plane."""

    kernel: tuple
    stride: tuple
    padding: tuple
    in_h: int
    in_w: int
    out_h: int
    out_w: int


def _check_plane(where, h, w):
    """Pooling needs a non-empty H x W plane (a window of padding alone has no value)."""
    if h < 1 or w < 1:
        raise ValueError(f"{where}: the input's H and W must be >= 1; got H={h}, W={w}")


def _windows(where, in_h, in_w, kernel_size, stride, padding):
    """Validate the hyperparameters against the input plane and compute the output size."""
    kernel = as_pair(where, "kernel_size", kernel_size, min_value=1)
    stride = kernel if stride is None else as_pair(where, "stride", stride, min_value=1)
    padding = as_pair(where, "padding", padding, min_value=0)
    half = (kernel[0] // 2, kernel[1] // 2)
    if padding[0] > half[0] or padding[1] > half[1]:
        raise ValueError(f"{where}: padding must be at most half of kernel_size per side "
                         f"(<= {half} for kernel_size {kernel}); got {padding}")
    _check_plane(where, in_h, in_w)
    padded = (in_h + 2 * padding[0], in_w + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(f"{where}: kernel_size must not exceed the padded input size "
                         f"{padded} (H + 2*padding, W + 2*padding); got {kernel}")
    out_h = (padded[0] - kernel[0]) // stride[0] + 1
    out_w = (padded[1] - kernel[1]) // stride[1] + 1
    return _Windows(kernel, stride, padding, in_h, in_w, out_h, out_w)


def _offsets(g, layout):
    """Yield ``(i, j, index)``: for each kernel offset, the index of the padded input's pixels
    seen at that offset by the ``out_h x out_w`` windows (one strided slice)."""
    (kh, kw), (sh, sw) = g.kernel, g.stride
    for i in range(kh):
        rows = slice(i, i + sh * (g.out_h - 1) + 1, sh)
        for j in range(kw):
            cols = slice(j, j + sw * (g.out_w - 1) + 1, sw)
            yield i, j, _spatial_index(layout, rows, cols)


def _window_starts(g):
    """Unpadded coordinates of each window's top row and left column."""
    starts_h = np.arange(g.out_h) * g.stride[0] - g.padding[0]
    starts_w = np.arange(g.out_w) * g.stride[1] - g.padding[1]
    return starts_h, starts_w


def _pad(x, g, layout, value):
    """``x`` padded on its H and W axes with ``value``."""
    ph, pw = g.padding
    if ph == 0 and pw == 0:
        return x
    widths = [(0, 0)] * 4
    h_axis, w_axis = (2, 3) if layout == "NCHW" else (1, 2)
    widths[h_axis], widths[w_axis] = (ph, ph), (pw, pw)
    return np.pad(x, widths, mode="constant", constant_values=value)


def _unpad(xp, g, layout):
    """The unpadded ``in_h x in_w`` part of a padded array."""
    ph, pw = g.padding
    return xp[_spatial_index(layout, slice(ph, ph + g.in_h), slice(pw, pw + g.in_w))]


def _divisor(g, layout, count_include_pad):
    """What each window's sum is divided by: ``kh * kw`` or its number of real pixels."""
    (kh, kw) = g.kernel
    if count_include_pad:
        return np.float64(kh * kw)  # a NumPy scalar, so float32 / divisor gives float64
    starts_h, starts_w = _window_starts(g)
    rows = np.minimum(starts_h + kh, g.in_h) - np.maximum(starts_h, 0)
    cols = np.minimum(starts_w + kw, g.in_w) - np.maximum(starts_w, 0)
    return _as_plane(layout, np.outer(rows, cols).astype(np.float64))


def _check_layout_and_threads(where, layout, n_threads):
    layout = check_layout(where, layout)
    resolve_n_threads(where, n_threads)
    return layout


def _input_shape(where, input_shape, layout):
    """Validate ``input_shape`` (4 ints >= 0 in ``layout``'s order) and return it as a tuple."""
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"{where}: input_shape must be a tuple of 4 ints "
                        f"{_shape_hint(layout)}; got {type(input_shape).__name__}")
    if len(input_shape) != 4:
        raise ValueError(f"{where}: input_shape must be a tuple of 4 ints "
                         f"{_shape_hint(layout)}; got {tuple(input_shape)}")
    return tuple(as_int(where, "input_shape", s, min_value=0) for s in input_shape)


def _check_dy(where, dy, g, n, c, layout):
    dy = _image(where, "dy", dy, layout)
    check_shape(where, "dy", dy, _pack(n, c, g.out_h, g.out_w, layout),
                "(the pooling output's shape)")
    return dy


# --- max pooling -------------------------------------------------------------------------

def _max_pool(x, g, layout):
    """Window maxima and the flat ``h * W + w`` index of each window's first maximum.

    Offsets are visited in row-major window order and a later pixel replaces the running
    winner only if it is strictly greater (or NaN over a number), so ties keep the first.
    Padding is never a candidate: a window's first real pixel is its initial winner.
    """
    n, c, _, _ = _unpack(x.shape, layout)
    shape = _pack(n, c, g.out_h, g.out_w, layout)
    xp = _pad(x, g, layout, -np.inf)
    best = np.full(shape, -np.inf, dtype=x.dtype)
    index = np.full(shape, -1, dtype=np.int64)
    starts_h, starts_w = _window_starts(g)
    for i, j, window in _offsets(g, layout):
        rows, cols = starts_h + i, starts_w + j
        real = np.outer((rows >= 0) & (rows < g.in_h), (cols >= 0) & (cols < g.in_w))
        flat = np.add.outer(rows * g.in_w, cols)
        value = xp[window]
        wins = (index < 0) | (value > best) | (np.isnan(value) & ~np.isnan(best))
        wins &= _as_plane(layout, real)
        np.copyto(best, value, where=wins)
        np.copyto(index, _as_plane(layout, flat), where=wins)
    return best, index


def max_pool2d(x, kernel_size, *, stride=None, padding=0, layout="NCHW", return_indices=False,
               out=None, n_threads=None):
    """2-D max pooling; padding counts as -inf.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W) (NCHW) or (N, H, W, C) (NHWC), float32 or float64
    kernel_size : int or (int, int)
        Window height and width, >= 1.
    stride : int or (int, int), optional
        Step between windows, >= 1; defaults to ``kernel_size``.
    padding : int or (int, int)
        Padding on each side of H and W, at most ``kernel_size // 2``.
    layout : {"NCHW", "NHWC"}
    return_indices : bool
        Also return the index of each window's first maximum.
    out : ndarray of y's shape and x's dtype, optional
    n_threads : int or None
        Validated; the reference is single-threaded.

    Returns
    -------
    y : ndarray of shape (N, C, OH, OW) (NCHW) or (N, OH, OW, C) (NHWC), x's dtype
        ``OH = (H + 2*ph - kh) // sh + 1`` and likewise ``OW``.
    indices : ndarray of y's shape, int64
        Only with ``return_indices=True``: the flat offset ``h * W + w`` of each window's
        first maximum (row-major window order) in the unpadded H x W plane.
    """
    where = "max_pool2d"
    layout = _check_layout_and_threads(where, layout, n_threads)
    x = _image(where, "x", x, layout)
    check_choice(where, "return_indices", return_indices, (False, True))
    n, c, h, w = _unpack(x.shape, layout)
    g = _windows(where, h, w, kernel_size, stride, padding)
    out = check_out(where, out, _pack(n, c, g.out_h, g.out_w, layout), x.dtype)
    y, indices = _max_pool(x, g, layout)
    out[...] = y
    return (out, indices) if return_indices else out


def _scatter_to_argmax(dy, indices, x_shape, layout):
    """Sum ``dy`` into an array of ``x_shape`` at the plane offsets ``indices``."""
    n, c, h, w = _unpack(x_shape, layout)
    plane = h * w
    if layout == "NCHW":
        target = np.arange(n * c, dtype=np.int64).reshape(n, c, 1, 1) * plane + indices
    else:
        target = ((np.arange(n, dtype=np.int64).reshape(n, 1, 1, 1) * plane + indices) * c
                  + np.arange(c, dtype=np.int64))
    # bincount accumulates overlapping windows (in float64) in one vectorised pass.
    dx = np.bincount(target.ravel(), weights=dy.ravel(), minlength=n * c * plane)
    return dx.reshape(x_shape).astype(dy.dtype, copy=False)


def _check_indices(where, indices, dy, g):
    indices = as_array(where, "indices", indices, dtypes=_INT64)
    check_shape(where, "indices", indices, dy.shape, "(the shape of dy)")
    plane = g.in_h * g.in_w
    if indices.size and (indices.min() < 0 or indices.max() >= plane):
        raise ValueError(f"{where}: indices must hold offsets in [0, H*W) = [0, {plane}); "
                         f"got values in [{indices.min()}, {indices.max()}]")
    return indices


def max_pool2d_backward(dy, x, kernel_size, *, stride=None, padding=0, layout="NCHW",
                        indices=None, n_threads=None):
    """Gradient of :func:`max_pool2d` with respect to its input.

    Each window's gradient goes to its first maximum in row-major window order; where windows
    overlap (e.g. 3x3 stride 2) the contributions add up.

    Parameters
    ----------
    dy : ndarray of the forward output's shape, x's dtype
        Upstream gradient, (N, C, OH, OW) (NCHW) or (N, OH, OW, C) (NHWC).
    x : ndarray of shape (N, C, H, W) (NCHW) or (N, H, W, C) (NHWC), float32 or float64
        The forward input.
    kernel_size, stride, padding, layout
        As given to :func:`max_pool2d`.
    indices : ndarray of dy's shape, int64, optional
        The forward's ``return_indices`` output; used instead of recomputing the maxima.
    n_threads : int or None
        Validated; the reference is single-threaded.

    Returns
    -------
    dx : ndarray of x's shape and dtype
    """
    where = "max_pool2d_backward"
    layout = _check_layout_and_threads(where, layout, n_threads)
    x = _image(where, "x", x, layout)
    n, c, h, w = _unpack(x.shape, layout)
    g = _windows(where, h, w, kernel_size, stride, padding)
    dy = _check_dy(where, dy, g, n, c, layout)
    check_same_dtype(where, "x", x, dy=dy)
    if indices is None:
        _, indices = _max_pool(x, g, layout)
    else:
        indices = _check_indices(where, indices, dy, g)
    return _scatter_to_argmax(dy, indices, x.shape, layout)


# --- average pooling ---------------------------------------------------------------------

def avg_pool2d(x, kernel_size, *, stride=None, padding=0, count_include_pad=True,
               layout="NCHW", out=None, n_threads=None):
    """2-D average pooling.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W) (NCHW) or (N, H, W, C) (NHWC), float32 or float64
    kernel_size : int or (int, int)
        Window height and width, >= 1.
    stride : int or (int, int), optional
        Step between windows, >= 1; defaults to ``kernel_size``.
    padding : int or (int, int)
        Zero padding on each side of H and W, at most ``kernel_size // 2``.
    count_include_pad : bool
        True: divide each window's sum by ``kh * kw``; False: by its number of real
        (unpadded) pixels.
    layout : {"NCHW", "NHWC"}
    out : ndarray of y's shape and x's dtype, optional
    n_threads : int or None
        Validated; the reference is single-threaded.

    Returns
    -------
    y : ndarray of shape (N, C, OH, OW) (NCHW) or (N, OH, OW, C) (NHWC), x's dtype
        ``OH = (H + 2*ph - kh) // sh + 1`` and likewise ``OW``.
    """
    where = "avg_pool2d"
    layout = _check_layout_and_threads(where, layout, n_threads)
    x = _image(where, "x", x, layout)
    check_choice(where, "count_include_pad", count_include_pad, (True, False))
    n, c, h, w = _unpack(x.shape, layout)
    g = _windows(where, h, w, kernel_size, stride, padding)
    out = check_out(where, out, _pack(n, c, g.out_h, g.out_w, layout), x.dtype)
    xp = _pad(x, g, layout, 0)
    total = np.zeros(out.shape, dtype=np.float64)
    for _, _, window in _offsets(g, layout):
        total += xp[window]
    out[...] = total / _divisor(g, layout, count_include_pad)
    return out


def avg_pool2d_backward(dy, input_shape, kernel_size, *, stride=None, padding=0,
                        count_include_pad=True, layout="NCHW", n_threads=None):
    """Gradient of :func:`avg_pool2d` with respect to its input.

    Parameters
    ----------
    dy : ndarray of shape (N, C, OH, OW) (NCHW) or (N, OH, OW, C) (NHWC), float32 or float64
        Upstream gradient.
    input_shape : tuple of 4 ints
        The forward input's shape, in the layout's own order.
    kernel_size, stride, padding, count_include_pad, layout
        As given to :func:`avg_pool2d`.
    n_threads : int or None
        Validated; the reference is single-threaded.

    Returns
    -------
    dx : ndarray of shape ``input_shape``, dy's dtype
    """
    where = "avg_pool2d_backward"
    layout = _check_layout_and_threads(where, layout, n_threads)
    input_shape = _input_shape(where, input_shape, layout)
    check_choice(where, "count_include_pad", count_include_pad, (True, False))
    n, c, h, w = _unpack(input_shape, layout)
    g = _windows(where, h, w, kernel_size, stride, padding)
    dy = _check_dy(where, dy, g, n, c, layout)
    share = dy / _divisor(g, layout, count_include_pad)  # float64, as the divisor is
    ph, pw = g.padding
    dxp = np.zeros(_pack(n, c, h + 2 * ph, w + 2 * pw, layout), dtype=np.float64)
    for _, _, window in _offsets(g, layout):
        dxp[window] += share
    return _unpad(dxp, g, layout).astype(dy.dtype)


# --- global average pooling --------------------------------------------------------------

def _spatial_axes(layout):
    return (2, 3) if layout == "NCHW" else (1, 2)


def global_avg_pool2d(x, *, layout="NCHW"):
    """Mean over H and W.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W) (NCHW) or (N, H, W, C) (NHWC), float32 or float64
        H and W must be >= 1.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    y : ndarray of shape (N, C), x's dtype
    """
    where = "global_avg_pool2d"
    layout = check_layout(where, layout)
    x = _image(where, "x", x, layout)
    _check_plane(where, *_unpack(x.shape, layout)[2:])
    return x.mean(axis=_spatial_axes(layout), dtype=np.float64).astype(x.dtype)


def global_avg_pool2d_backward(dy, input_shape, *, layout="NCHW"):
    """Gradient of :func:`global_avg_pool2d`: ``dy / (H * W)`` spread over each plane.

    Parameters
    ----------
    dy : ndarray of shape (N, C), float32 or float64
    input_shape : tuple of 4 ints
        The forward input's shape, in the layout's own order; H and W >= 1.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    dx : ndarray of shape ``input_shape``, dy's dtype
    """
    where = "global_avg_pool2d_backward"
    layout = check_layout(where, layout)
    input_shape = _input_shape(where, input_shape, layout)
    n, c, h, w = _unpack(input_shape, layout)
    _check_plane(where, h, w)
    dy = as_array(where, "dy", dy, ndim=2, shape_hint="(N, C)")
    check_shape(where, "dy", dy, (n, c), "(N, C) of input_shape")
    share = (dy / np.float64(h * w)).astype(dy.dtype)
    dx = np.empty(input_shape, dtype=dy.dtype)
    dx[...] = np.expand_dims(share, _spatial_axes(layout))
    return dx
