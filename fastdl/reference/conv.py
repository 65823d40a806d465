"""Reference convolution: output size, zero padding, conv2d forward and backward.

``conv2d`` is a cross-correlation (as in every DL framework) computed by im2col + GEMM: a
strided :func:`~numpy.lib.stride_tricks.sliding_window_view` of the zero-padded input gives
the patches, and one :func:`numpy.tensordot` contracts them with the weights. The backward
uses the same patches for ``dw`` and scatters ``dy @ w`` back over the R×S kernel offsets
(col2im, vectorised over batch, channels and output pixels) for ``dx``.

Both layouts share one computation written in channels-last order: an NCHW array is read
and written through a transposed *view* (``x`` as (N, H, W, C), ``w`` as (R, S, C, K)), so
no layout is a second code path and no extra copy is made beyond im2col's.

Padding forms (one resolver, :func:`_resolve_padding`, serves every op): an int, ``(ph, pw)``,
``((top, bottom), (left, right))``, and for conv ``"valid"`` (none) or ``"same"`` (output
``ceil(n / s)``; total padding ``max((out - 1) * s + f - n, 0)``, the odd one at the
bottom/right as in TensorFlow).
"""
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._config import resolve_n_threads
from .._validation import (_is_int, as_array, as_int, as_pair, check_choice, check_layout,
                           check_need, check_out, check_same_dtype, check_shape)

__all__ = ["conv_output_size", "zero_pad", "conv2d", "conv2d_backward"]

PADDING_NAMES = ("valid", "same")
ACTIVATIONS = (None, "relu")
GRADIENTS = ("dx", "dw", "db")

# Shapes quoted in error messages, per layout.
_X_HINT = {"NCHW": "(N, C, H, W) for layout='NCHW'", "NHWC": "(N, H, W, C) for layout='NHWC'"}
_W_HINT = {"NCHW": "(K, C, R, S) for layout='NCHW'", "NHWC": "(R, S, C, K) for layout='NHWC'"}
_Y_HINT = {"NCHW": "(N, K, Ho, Wo) for layout='NCHW'",
           "NHWC": "(N, Ho, Wo, K) for layout='NHWC'"}


# --- padding and output size ---------------------------------------------------------------

def _padding_forms(names_allowed):
    forms = "an int, (ph, pw), ((top, bottom), (left, right))"
    return forms + (", 'valid' or 'same'" if names_allowed else "")


def _is_int_pair(v):
    return isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(e) for e in v)


def _parse_padding(where, padding, *, names_allowed):
    """Check a padding argument's form; return ``"valid"``/``"same"`` or ((t, b), (l, r))."""
    if isinstance(padding, str):
        if not names_allowed:
            raise TypeError(f"{where}: padding must be {_padding_forms(False)}; got {padding!r}")
        if padding not in PADDING_NAMES:
            raise ValueError(f"{where}: padding must be {_padding_forms(True)}; got {padding!r}")
        return padding
    if _is_int(padding) or _is_int_pair(padding):
        ph, pw = as_pair(where, "padding", padding, min_value=0)
        return (ph, ph), (pw, pw)
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(map(_is_int_pair, padding)):
        return tuple(as_pair(where, "padding", side, min_value=0) for side in padding)
    raise TypeError(f"{where}: padding must be {_padding_forms(names_allowed)}; got {padding!r}")


def _same_padding(n, f, s):
    """TensorFlow's "same" padding of one axis: (before, after), the odd one after."""
    out = -(-n // s)
    total = max((out - 1) * s + f - n, 0)
    return total // 2, total - total // 2


def _resolve_padding(where, padding, *, sizes=None, kernel=None, stride=None,
                     names_allowed=True):
    """Explicit ((top, bottom), (left, right)) padding for any accepted padding form.

    ``sizes``, ``kernel`` and ``stride`` are the (H, W), (R, S) and (sh, sw) pairs that the
    named forms "valid" and "same" need (ignored by the explicit forms).
    """
    parsed = _parse_padding(where, padding, names_allowed=names_allowed)
    if parsed == "valid":
        return (0, 0), (0, 0)
    if parsed == "same":
        return tuple(_same_padding(n, f, s) for n, f, s in zip(sizes, kernel, stride))
    return parsed


def _output_length(where, n, f, s, pad):
    """floor((n + before + after - f) / s) + 1, or ValueError if the kernel does not fit."""
    padded = n + pad[0] + pad[1]
    if f > padded:
        raise ValueError(f"{where}: the kernel size must be <= the padded input size; "
                         f"got kernel {f} for input {n} padded to {padded}")
    return (padded - f) // s + 1


def conv_output_size(n, f, padding=0, stride=1):
    """Output length of a convolution along one axis: ``floor((n + 2p - f) / s) + 1``.

    Parameters
    ----------
    n : int
        Input length (>= 0).
    f : int
        Kernel length (>= 1).
    padding : int or {"valid", "same"}
        Zeros added on each side (>= 0); "valid" is 0; "same" gives ``ceil(n / s)``.
    stride : int
        Step (>= 1).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If the kernel is larger than the padded input, or a size is out of range.
    """
    where = "conv_output_size"
    n = as_int(where, "n", n, min_value=0)
    f = as_int(where, "f", f, min_value=1)
    stride = as_int(where, "stride", stride, min_value=1)
    if not (isinstance(padding, str) or _is_int(padding)):
        raise TypeError(f"{where}: padding must be an int, 'valid' or 'same'; got {padding!r}")
    pads_h, _ = _resolve_padding(where, padding, sizes=(n, n), kernel=(f, f),
                                 stride=(stride, stride))
    return _output_length(where, n, f, stride, pads_h)


def zero_pad(x, padding, *, layout="NCHW"):
    """Pad the H and W axes of an image batch with zeros.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W) (layout "NCHW") or (N, H, W, C) (layout "NHWC")
    padding : int, (ph, pw) or ((top, bottom), (left, right))
        Non-negative numbers of zero rows/columns.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    ndarray of shape (N, C, H + top + bottom, W + left + right) (or the NHWC equivalent),
    x's dtype
    """
    where = "zero_pad"
    layout = check_layout(where, layout)
    x = as_array(where, "x", x, ndim=4, shape_hint=_X_HINT[layout])
    pads = _resolve_padding(where, padding, names_allowed=False)
    return _pad_spatial(x, pads, layout)


# --- layout views ----------------------------------------------------------------------------

def _channels_last(a, layout):
    """(N, H, W, C) view of an image batch in ``layout`` (no copy)."""
    return a if layout == "NHWC" else a.transpose(0, 2, 3, 1)


def _weights_rsck(w, layout):
    """(R, S, C, K) view of conv weights in ``layout`` (no copy)."""
    return w if layout == "NHWC" else w.transpose(2, 3, 1, 0)


def _image_shape(layout, n, h, w, c):
    return (n, h, w, c) if layout == "NHWC" else (n, c, h, w)


def _weights_shape(layout, r, s, c, k):
    return (r, s, c, k) if layout == "NHWC" else (k, c, r, s)


def _pad_spatial(x, pads, layout):
    """Zero-pad the H and W axes of ``x`` (in ``layout``) by ((top, bottom), (left, right))."""
    no_pad = (0, 0)
    widths = (no_pad,) + pads + (no_pad,) if layout == "NHWC" else (no_pad, no_pad) + pads
    return np.pad(x, widths)


# --- conv2d ----------------------------------------------------------------------------------

class _Geometry(NamedTuple):
    """Sizes of one convolution (spatial pairs as (along H, along W))."""
    batch: int
    in_size: tuple
    channels: int
    filters: int
    kernel: tuple
    stride: tuple
    pads: tuple
    out_size: tuple


def _conv_setup(where, x, w, stride, padding, layout):
    """Validate x, w, stride, padding and layout; return channels-last views and geometry."""
    layout = check_layout(where, layout)
    stride = as_pair(where, "stride", stride, min_value=1)
    x = as_array(where, "x", x, ndim=4, shape_hint=_X_HINT[layout])
    w = as_array(where, "w", w, ndim=4, shape_hint=_W_HINT[layout])
    check_same_dtype(where, "x", x, w=w)
    x_cl, w_rsck = _channels_last(x, layout), _weights_rsck(w, layout)
    batch, h, wd, channels = x_cl.shape
    r, s, w_channels, filters = w_rsck.shape
    if w_channels != channels:
        raise ValueError(f"{where}: w must have {channels} input channels (those of x) in "
                         f"shape {_W_HINT[layout]}; got shape {w.shape}")
    if r < 1 or s < 1:
        raise ValueError(f"{where}: w's kernel size (R, S) must be >= 1; got {(r, s)}")
    pads = _resolve_padding(where, padding, sizes=(h, wd), kernel=(r, s), stride=stride)
    out_size = tuple(_output_length(where, n, f, st, p)
                     for n, f, st, p in zip((h, wd), (r, s), stride, pads))
    geom = _Geometry(batch, (h, wd), channels, filters, (r, s), stride, pads, out_size)
    return x_cl, w_rsck, geom


def _patches(x_cl, geom):
    """im2col as a view: (N, Ho, Wo, C, R, S) windows of the zero-padded input."""
    windows = sliding_window_view(_pad_spatial(x_cl, geom.pads, "NHWC"), geom.kernel,
                                  axis=(1, 2))
    sh, sw = geom.stride
    return windows[:, ::sh, ::sw]


def _check_bias(where, b, x, filters):
    if b is None:
        return None
    b = as_array(where, "b", b, ndim=1, shape_hint="(K,)")
    check_same_dtype(where, "x", x, b=b)
    check_shape(where, "b", b, (filters,), "(K,), K the number of filters of w")
    return b


def conv2d(x, w, b=None, *, stride=1, padding=0, layout="NCHW", activation=None, out=None,
           n_threads=None):
    """2-D convolution (cross-correlation) with optional bias and fused ReLU.

    ``y[n, k, i, j] = act(b[k] + sum_{c, r, s} xp[n, c, i*sh + r, j*sw + s] * w[k, c, r, s])``
    with ``xp`` the zero-padded input (NCHW indices shown).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W) (layout "NCHW") or (N, H, W, C) (layout "NHWC")
        float32 or float64.
    w : ndarray of shape (K, C, R, S) (layout "NCHW") or (R, S, C, K) (layout "NHWC")
        Filters, x's dtype.
    b : ndarray of shape (K,), optional
        Bias, x's dtype.
    stride : int or (sh, sw)
        >= 1.
    padding : int, (ph, pw), ((top, bottom), (left, right)), "valid" or "same"
        Zero padding of H and W (>= 0). "same": output ``ceil(H / sh) × ceil(W / sw)``,
        the odd padding row/column at the bottom/right (TensorFlow).
    layout : {"NCHW", "NHWC"}
    activation : {None, "relu"}
        Applied after the bias.
    out : ndarray of y's shape and dtype, optional
    n_threads : int or None
        Threads (>= 1; None: all). The reference runs on NumPy's own threads.

    Returns
    -------
    y : ndarray of shape (N, K, Ho, Wo) (layout "NCHW") or (N, Ho, Wo, K) (layout "NHWC")
        ``Ho = floor((H + top + bottom - R) / sh) + 1``, likewise ``Wo``; x's dtype.
    """
    where = "conv2d"
    check_choice(where, "activation", activation, ACTIVATIONS)
    resolve_n_threads(where, n_threads)
    x_cl, w_rsck, geom = _conv_setup(where, x, w, stride, padding, layout)
    b = _check_bias(where, b, x_cl, geom.filters)
    out = check_out(where, out, _image_shape(layout, geom.batch, *geom.out_size, geom.filters),
                    x_cl.dtype)
    # Contract (C, R, S) of the patches with (C, R, S) of the weights: (N, Ho, Wo, K).
    y = np.tensordot(_patches(x_cl, geom), w_rsck, axes=([3, 4, 5], [2, 0, 1]))
    if b is not None:
        y += b
    if activation == "relu":
        np.maximum(y, 0, out=y)
    _channels_last(out, layout)[...] = y
    return out


def _check_forward_output(where, y, dy, activation, layout):
    """The forward output ``y`` (required with a fused activation), validated like dy."""
    if y is None:
        if activation is not None:
            raise ValueError(f"{where}: y (the forward output) is required when "
                             f"activation={activation!r}")
        return None
    y = as_array(where, "y", y, ndim=4, shape_hint=_Y_HINT[layout])
    check_same_dtype(where, "dy", dy, y=y)
    check_shape(where, "y", y, dy.shape, "(the shape of dy)")
    return y


def _input_gradient(dy_cl, w_rsck, geom, dx_cl):
    """col2im: scatter dy·wᵀ over the R×S kernel offsets into dx_cl (N, H, W, C)."""
    # (N, Ho, Wo, K) · (R, S, C, K) over K -> (N, Ho, Wo, R, S, C)
    cols = np.tensordot(dy_cl, w_rsck, axes=([3], [3]))
    (top, bottom), (left, right) = geom.pads
    h, wd = geom.in_size
    dxp = np.zeros((geom.batch, h + top + bottom, wd + left + right, geom.channels),
                   dtype=dy_cl.dtype)
    (sh, sw), (ho, wo) = geom.stride, geom.out_size
    for r in range(geom.kernel[0]):
        for s in range(geom.kernel[1]):
            dxp[:, r:r + (ho - 1) * sh + 1:sh, s:s + (wo - 1) * sw + 1:sw] += cols[:, :, :, r, s]
    dx_cl[...] = dxp[:, top:top + h, left:left + wd]


def conv2d_backward(dy, x, w, *, stride=1, padding=0, layout="NCHW", activation=None, y=None,
                    need=("dx", "dw", "db"), n_threads=None):
    """Gradients of :func:`conv2d` with respect to its input, weights and bias.

    Parameters
    ----------
    dy : ndarray of shape (N, K, Ho, Wo) (layout "NCHW") or (N, Ho, Wo, K) (layout "NHWC")
        Gradient of the loss w.r.t. the forward output; x's dtype.
    x, w : ndarray
        The forward inputs (shapes as in :func:`conv2d`).
    stride, padding, layout : as in :func:`conv2d`
    activation : {None, "relu"}
        The activation fused in the forward; with "relu", ``dy`` is masked by ``y > 0``.
    y : ndarray of dy's shape, optional
        The forward output; required when ``activation`` is not None.
    need : iterable of {"dx", "dw", "db"}
        The gradients to compute; the others are returned as None.
    n_threads : int or None
        Threads (>= 1; None: all). The reference runs on NumPy's own threads.

    Returns
    -------
    dx : ndarray of x's shape, or None
    dw : ndarray of w's shape, or None
    db : ndarray of shape (K,), or None
    """
    where = "conv2d_backward"
    check_choice(where, "activation", activation, ACTIVATIONS)
    need = check_need(where, need, GRADIENTS)
    resolve_n_threads(where, n_threads)
    x_cl, w_rsck, geom = _conv_setup(where, x, w, stride, padding, layout)
    dy = as_array(where, "dy", dy, ndim=4, shape_hint=_Y_HINT[layout])
    check_same_dtype(where, "x", x_cl, dy=dy)
    check_shape(where, "dy", dy, _image_shape(layout, geom.batch, *geom.out_size, geom.filters),
                "(the forward output's)")
    y = _check_forward_output(where, y, dy, activation, layout)
    dy_cl = _channels_last(dy, layout)
    if activation == "relu":
        dy_cl = np.where(_channels_last(y, layout) > 0, dy_cl, dy.dtype.type(0))

    dx = dw = db = None
    if "dx" in need:
        dx = np.empty(_image_shape(layout, geom.batch, *geom.in_size, geom.channels), x_cl.dtype)
        _input_gradient(dy_cl, w_rsck, geom, _channels_last(dx, layout))
    if "dw" in need:
        dw = np.empty(_weights_shape(layout, *w_rsck.shape), x_cl.dtype)
        # (N, Ho, Wo, C, R, S) · (N, Ho, Wo, K) over N, Ho, Wo -> (C, R, S, K)
        grad = np.tensordot(_patches(x_cl, geom), dy_cl, axes=([0, 1, 2], [0, 1, 2]))
        _weights_rsck(dw, layout)[...] = grad.transpose(1, 2, 0, 3)
    if "db" in need:
        db = dy_cl.sum(axis=(0, 1, 2))
    return dx, dw, db
