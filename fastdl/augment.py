"""Data augmentation on image batches: flips, random crops, colour shifts, PCA lighting.

Every op validates its arguments with the reference's helpers
(:mod:`fastdl.reference.augment`), draws the per-image random numbers there too (a few
numbers per image, at the counters its module docstring documents, so the native batch is
bit-identical to the reference's), then runs one parallel pass of the compiled pixel kernel
(``fastdl._augment``) over the whole batch: no per-image Python loop.
"""
import numpy as np

from ._config import resolve_n_threads
from ._dispatch import implements, load_extension
from ._validation import as_float, check_choice
from .reference import _random
from .reference import augment as _ref

__all__ = list(_ref.__all__)

_kernels = load_extension("fastdl._augment")


def _output(where, x, out, shape, n_threads, *, elementwise=False):
    """Validate ``out`` and ``n_threads``; return ``(x, y, result, n)``.

    ``y`` is the C-contiguous array the kernel writes, ``result`` what the op returns (``out``,
    or ``y`` when ``out`` is None); they differ only for a non-contiguous ``out``, which gets
    ``y`` copied in. When ``y`` is ``out`` and overlaps ``x``, ``x`` is copied first, except
    for an element-wise op writing exactly onto ``x`` (in place is then safe). The kernels may
    stream (non-temporal stores) into a large caller's ``out``, never into fresh pages.
    """
    out = _ref._check_out(where, out, shape, x.dtype, n_threads)
    n = resolve_n_threads(where, n_threads)
    if out is None:
        y = np.empty(shape, dtype=x.dtype)
        return x, y, y, n
    if not out.flags.c_contiguous:
        return x, np.empty(shape, dtype=x.dtype), out, n
    if np.may_share_memory(x, out):
        same = (elementwise and x.strides == out.strides
                and x.__array_interface__["data"][0] == out.__array_interface__["data"][0])
        if not same:
            x = x.copy()
    return x, out, out, n


def _finish(y, result):
    if y is not result:
        result[...] = y
    return result


@implements(_ref.flip, _kernels)
def flip(x, *, axis="horizontal", layout="NHWC", out=None, n_threads=None):
    x, _ = _ref._image_batch("flip", x, layout)
    axis = check_choice("flip", "axis", axis, _ref._FLIP_AXES)
    x, y, result, n = _output("flip", x, out, x.shape, n_threads)
    _kernels.copy_rows("flip_h" if axis == "horizontal" else "flip_v", x, y, layout == "NCHW",
                       stream=y is out, n_threads=n)
    return _finish(y, result)


@implements(_ref.random_flip, _kernels)
def random_flip(x, p=0.5, *, seed=None, rng=None, layout="NHWC", out=None, n_threads=None):
    where = "random_flip"
    x, _ = _ref._image_batch(where, x, layout)
    p = as_float(where, "p", p, low=0.0, high=1.0)
    x, y, result, n = _output(where, x, out, x.shape, n_threads)
    key = _random.make_key(where, seed, rng)
    flags = _ref._flip_coins(key, x.shape[0], p).astype(np.uint8)
    _kernels.copy_rows("flip_some", x, y, layout == "NCHW", flags=flags, stream=y is out,
                       n_threads=n)
    return _finish(y, result)


@implements(_ref.random_crop, _kernels)
def random_crop(x, size, *, padding=0, seed=None, rng=None, layout="NHWC", out=None,
                n_threads=None):
    where = "random_crop"
    x, (h_axis, w_axis, _) = _ref._image_batch(where, x, layout)
    crop_h, crop_w, pad_h, pad_w = _ref._crop_geometry(where, x, h_axis, w_axis, size, padding)
    shape = _ref._crop_shape(x, layout, crop_h, crop_w)
    x, y, result, n = _output(where, x, out, shape, n_threads)
    key = _random.make_key(where, seed, rng)
    room_h = x.shape[h_axis] + 2 * pad_h - crop_h + 1
    room_w = x.shape[w_axis] + 2 * pad_w - crop_w + 1
    tops, lefts = _ref._crop_offsets(key, x.shape[0], room_h, room_w)
    _kernels.copy_rows("crop", x, y, layout == "NCHW",
                       tops=np.ascontiguousarray(tops, dtype=np.int64),
                       lefts=np.ascontiguousarray(lefts, dtype=np.int64),
                       pad_h=pad_h, pad_w=pad_w, stream=y is out, n_threads=n)
    return _finish(y, result)


def _shift(x, y, layout, shifts, stream, n):
    """Run the shift kernel with the (N or 1, C) float64 ``shifts`` (rounded for uint8)."""
    table = _ref._shift_table(x, shifts)
    if x.dtype == np.uint8:
        plus = np.maximum(table, 0).astype(np.uint8)
        minus = np.maximum(-table, 0).astype(np.uint8)
        _kernels.shift(x, y, layout == "NCHW", None, plus, minus, stream, n)
    else:
        _kernels.shift(x, y, layout == "NCHW", np.ascontiguousarray(table), None, None, stream,
                       n)


@implements(_ref.color_shift, _kernels)
def color_shift(x, shifts, *, layout="NHWC", out=None, n_threads=None):
    x, (_, _, c_axis) = _ref._image_batch("color_shift", x, layout)
    shifts = _ref._channel_shifts("color_shift", x, c_axis, shifts)
    x, y, result, n = _output("color_shift", x, out, x.shape, n_threads, elementwise=True)
    _shift(x, y, layout, shifts, y is out, n)
    return _finish(y, result)


@implements(_ref.random_color_shift, _kernels)
def random_color_shift(x, max_shift, *, seed=None, rng=None, layout="NHWC", out=None,
                       n_threads=None):
    where = "random_color_shift"
    x, (_, _, c_axis) = _ref._image_batch(where, x, layout)
    max_shift = as_float(where, "max_shift", max_shift, low=0.0, high=np.inf, high_open=True)
    x, y, result, n = _output(where, x, out, x.shape, n_threads, elementwise=True)
    key = _random.make_key(where, seed, rng)
    shifts = _ref._random_shifts(key, x.shape[0], x.shape[c_axis], max_shift)
    _shift(x, y, layout, shifts, y is out, n)
    return _finish(y, result)


@implements(_ref.pca_color_augment, _kernels)
def pca_color_augment(x, eigvals, eigvecs, alphas, *, layout="NHWC", out=None, n_threads=None):
    where = "pca_color_augment"
    x, (_, _, c_axis) = _ref._image_batch(where, x, layout)
    offsets = _ref._pca_offsets(where, x, c_axis, eigvals, eigvecs, alphas)
    x, y, result, n = _output(where, x, out, x.shape, n_threads, elementwise=True)
    _shift(x, y, layout, offsets, y is out, n)
    return _finish(y, result)
