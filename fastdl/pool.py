"""Pooling: max, average and global average pooling, forward and backward, NCHW and NHWC.

Every op has a compiled kernel (``fastdl._pool``, C core in ``csrc/fastdl_pool.h``); the
reference (:mod:`fastdl.reference.pool`) runs when the backend is ``"numpy"`` or the extension
is missing. Each native path validates its arguments with the reference's own helpers (same
errors), makes inputs C-contiguous only when they are not, and lets the kernel write the
output directly when it is C-contiguous.

Numerics of the kernels: maxima and their indices are exact (first maximum in row-major window
order, NaN propagates); float32 window sums are accumulated in float32 (a row whose result is
not finite is recomputed in float64), float64 sums in float64, global averages in float64.
"""
import numpy as np

from ._config import resolve_n_threads
from ._dispatch import implements, load_extension
from ._validation import as_array, check_choice, check_layout, check_out, check_same_dtype, \
    check_shape
from .reference import pool as _ref

__all__ = list(_ref.__all__)

_kernels = load_extension("fastdl._pool")

_INT64 = np.dtype(np.int64)
# The argmax kernels keep a window's row and column in int32 lanes: a plane side this long
# (at least 2**31 - 1 pixels, i.e. an 8 GiB float32 plane) runs the reference instead.
_MAX_SIDE = 2**31 - 2


def _contiguous(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _window(g):
    """The kernels' (kh, kw, sh, sw, ph, pw) of a reference geometry."""
    return g.kernel + g.stride + g.padding


def _target(out):
    """Where the kernel writes: ``out`` itself when C-contiguous, else a scratch array."""
    return out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)


def _finish(out, result):
    if result is not out:
        np.copyto(out, result)
    return out


@implements(_ref.max_pool2d, _kernels)
def max_pool2d(x, kernel_size, *, stride=None, padding=0, layout="NCHW", return_indices=False,
               out=None, n_threads=None):
    where = "max_pool2d"
    layout = check_layout(where, layout)
    n = resolve_n_threads(where, n_threads)
    x = _ref._image(where, "x", x, layout)
    check_choice(where, "return_indices", return_indices, (False, True))
    nb, c, h, w = _ref._unpack(x.shape, layout)
    g = _ref._windows(where, h, w, kernel_size, stride, padding)
    shape = _ref._pack(nb, c, g.out_h, g.out_w, layout)
    out = check_out(where, out, shape, x.dtype)
    if return_indices and max(h, w) > _MAX_SIDE:
        return _ref.max_pool2d(x, kernel_size, stride=stride, padding=padding, layout=layout,
                               return_indices=True, out=out, n_threads=n_threads)
    indices = np.empty(shape, dtype=np.int64) if return_indices else None
    if out.size:
        y = _target(out)
        _kernels.max_pool_forward(_contiguous(x), y, indices, _window(g), layout == "NHWC", n)
        _finish(out, y)
    return (out, indices) if return_indices else out


def _index_error(where, indices, plane):
    return ValueError(f"{where}: indices must hold offsets in [0, H*W) = [0, {plane}); "
                      f"got values in [{indices.min()}, {indices.max()}]")


@implements(_ref.max_pool2d_backward, _kernels)
def max_pool2d_backward(dy, x, kernel_size, *, stride=None, padding=0, layout="NCHW",
                        indices=None, n_threads=None):
    where = "max_pool2d_backward"
    layout = check_layout(where, layout)
    n = resolve_n_threads(where, n_threads)
    x = _ref._image(where, "x", x, layout)
    nb, c, h, w = _ref._unpack(x.shape, layout)
    g = _ref._windows(where, h, w, kernel_size, stride, padding)
    dy = _ref._check_dy(where, dy, g, nb, c, layout)
    check_same_dtype(where, "x", x, dy=dy)
    if indices is not None:
        # The range check of the reference is done by the kernel (one pass instead of three).
        indices = as_array(where, "indices", indices, dtypes=(_INT64,))
        check_shape(where, "indices", indices, dy.shape, "(the shape of dy)")
        indices = _contiguous(indices)
    if indices is None and max(h, w) > _MAX_SIDE:
        return _ref.max_pool2d_backward(dy, x, kernel_size, stride=stride, padding=padding,
                                        layout=layout, n_threads=n_threads)
    dx = np.empty(x.shape, dtype=x.dtype)
    if dx.size:
        ok = _kernels.max_pool_backward(_contiguous(dy), _contiguous(x), indices, dx,
                                        _window(g), layout == "NHWC", n)
        if not ok:
            raise _index_error(where, indices, h * w)
    return dx


@implements(_ref.avg_pool2d, _kernels)
def avg_pool2d(x, kernel_size, *, stride=None, padding=0, count_include_pad=True,
               layout="NCHW", out=None, n_threads=None):
    where = "avg_pool2d"
    layout = check_layout(where, layout)
    n = resolve_n_threads(where, n_threads)
    x = _ref._image(where, "x", x, layout)
    check_choice(where, "count_include_pad", count_include_pad, (True, False))
    nb, c, h, w = _ref._unpack(x.shape, layout)
    g = _ref._windows(where, h, w, kernel_size, stride, padding)
    out = check_out(where, out, _ref._pack(nb, c, g.out_h, g.out_w, layout), x.dtype)
    if out.size:
        y = _target(out)
        _kernels.avg_pool_forward(_contiguous(x), y, _window(g), count_include_pad,
                                  layout == "NHWC", n)
        _finish(out, y)
    return out


@implements(_ref.avg_pool2d_backward, _kernels)
def avg_pool2d_backward(dy, input_shape, kernel_size, *, stride=None, padding=0,
                        count_include_pad=True, layout="NCHW", n_threads=None):
    where = "avg_pool2d_backward"
    layout = check_layout(where, layout)
    n = resolve_n_threads(where, n_threads)
    input_shape = _ref._input_shape(where, input_shape, layout)
    check_choice(where, "count_include_pad", count_include_pad, (True, False))
    nb, c, h, w = _ref._unpack(input_shape, layout)
    g = _ref._windows(where, h, w, kernel_size, stride, padding)
    dy = _ref._check_dy(where, dy, g, nb, c, layout)
    dx = np.empty(input_shape, dtype=dy.dtype)
    if dx.size:
        _kernels.avg_pool_backward(_contiguous(dy), dx, _window(g), count_include_pad,
                                   layout == "NHWC", n)
    return dx


@implements(_ref.global_avg_pool2d, _kernels)
def global_avg_pool2d(x, *, layout="NCHW"):
    where = "global_avg_pool2d"
    layout = check_layout(where, layout)
    x = _ref._image(where, "x", x, layout)
    nb, c, h, w = _ref._unpack(x.shape, layout)
    _ref._check_plane(where, h, w)
    y = np.empty((nb, c), dtype=x.dtype)
    if y.size:
        _kernels.global_avg_forward(_contiguous(x), y, layout == "NHWC",
                                    resolve_n_threads(where, None))
    return y


@implements(_ref.global_avg_pool2d_backward, _kernels)
def global_avg_pool2d_backward(dy, input_shape, *, layout="NCHW"):
    where = "global_avg_pool2d_backward"
    layout = check_layout(where, layout)
    input_shape = _ref._input_shape(where, input_shape, layout)
    nb, c, h, w = _ref._unpack(input_shape, layout)
    _ref._check_plane(where, h, w)
    dy = as_array(where, "dy", dy, ndim=2, shape_hint="(N, C)")
    check_shape(where, "dy", dy, (nb, c), "(N, C) of input_shape")
    # The share is computed exactly as the reference does (float64 division, then cast).
    share = np.ascontiguousarray((dy / np.float64(h * w)).astype(dy.dtype))
    dx = np.empty(input_shape, dtype=dy.dtype)
    if dx.size:
        _kernels.global_avg_backward(share, dx, layout == "NHWC",
                                     resolve_n_threads(where, None))
    return dx
