"""Convolution and padding: output size, zero padding, conv2d forward and backward.

Native paths (``fastdl._conv``, C in ``csrc/fastdl_conv*.h``): the input rows a task needs
are copied once into a zero-padded slab, and register-blocked micro-kernels chosen at run
time (AVX-512F 12×32 / 6×32 float32, 12×16 / 6×16 float64; AVX2+FMA 6×16 / 6×8; portable C)
read the slab in place through per-column offset tables — no im2col buffer, no packed input
panels. The forward has bias and ReLU fused in the micro-kernel's store. The stride-1 input
gradient is the forward convolution of the (masked) ``dy`` with the flipped filters, so dx
is written once, never zeroed and scattered into (NHWC inputs with few channels: one such
convolution per stride phase for strided layers too); other strided input gradients use a
packed GEMM and a col2im scatter. The weight gradient sums image chunks into partials added
in a fixed order (NCHW layers with fewer than 12 filters: 4×4 blocks of dot products over
the valid pixels; NHWC forwards with fewer than 12 filters likewise). Validation is the
reference's own (same helpers, same messages). Inputs are made C-contiguous in their layout
only when they are not; a non-contiguous ``out`` is computed contiguously and copied.
``conv_output_size`` is pure Python (the reference).

Workspace (bounded, independent of the batch size): one packed copy of ``w`` per call; per
thread, one slab of at most ``fastdl._conv.SLAB_BYTES`` (1 MiB; more only when a single
output row needs more) plus one micro-tile; for ``dw``, min(N, 8) partial copies of dw and,
per thread, one block of ``dy``ᵀ as large as a slab's pixels × K.
"""
import numpy as np

from ._config import resolve_n_threads
from ._dispatch import implements, load_extension, reference_only
from ._validation import as_array, check_choice, check_layout, check_need, check_out, \
    check_same_dtype, check_shape
from .reference import conv as _ref

__all__ = list(_ref.__all__)

_kernels = load_extension("fastdl._conv")

conv_output_size = reference_only(_ref.conv_output_size)


def _contiguous(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _geometry(x, w, geom, layout):
    return _kernels._Geometry(x.shape, w.shape, layout == "NHWC", tuple(geom.stride),
                              tuple(geom.pads), tuple(geom.out_size))


def _degenerate(geom):
    """Sizes where a kernel has nothing to compute (or no reduction): use the reference."""
    return (geom.batch == 0 or geom.channels == 0 or geom.filters == 0
            or geom.out_size[0] == 0 or geom.out_size[1] == 0
            or geom.in_size[0] == 0 or geom.in_size[1] == 0)


@implements(_ref.zero_pad, _kernels)
def zero_pad(x, padding, *, layout="NCHW"):
    where = "zero_pad"
    layout = check_layout(where, layout)
    x = as_array(where, "x", x, ndim=4, shape_hint=_ref._X_HINT[layout])
    (top, bottom), (left, right) = _ref._resolve_padding(where, padding, names_allowed=False)
    x = _contiguous(x)
    if layout == "NHWC":
        n, h, wd, c = x.shape
        out = np.empty((n, h + top + bottom, wd + left + right, c), x.dtype)
        planes, group = n, c
    else:
        n, c, h, wd = x.shape
        out = np.empty((n, c, h + top + bottom, wd + left + right), x.dtype)
        planes, group = n * c, 1
    if out.size == 0:
        return out
    item = x.dtype.itemsize * group
    src = x.reshape(planes, h, wd * group).view(np.uint8) if x.size else \
        np.empty((planes, h, 0), np.uint8)
    dst = out.reshape(planes, out.shape[-3 if layout == "NHWC" else -2], -1).view(np.uint8)
    _kernels.zero_pad_planes(src, dst, top, left * item, resolve_n_threads(where, None))
    return out


@implements(_ref.conv2d, _kernels)
def conv2d(x, w, b=None, *, stride=1, padding=0, layout="NCHW", activation=None, out=None,
           n_threads=None):
    where = "conv2d"
    check_choice(where, "activation", activation, _ref.ACTIVATIONS)
    n = resolve_n_threads(where, n_threads)
    x_cl, _, geom = _ref._conv_setup(where, x, w, stride, padding, layout)
    layout = check_layout(where, layout)
    b = _ref._check_bias(where, b, x_cl, geom.filters)
    shape = _ref._image_shape(layout, geom.batch, *geom.out_size, geom.filters)
    out = check_out(where, out, shape, x_cl.dtype)
    if _degenerate(geom):
        return _ref.conv2d(x, w, b, stride=stride, padding=padding, layout=layout,
                           activation=activation, out=out, n_threads=n_threads)
    x = _contiguous(np.asarray(x))
    w = _contiguous(np.asarray(w))
    # the kernels may read x in place while writing y: an `out` overlapping x (a 1×1
    # convolution into its own input) is computed into a fresh array and copied
    y = out if out.flags.c_contiguous and not np.may_share_memory(out, x) else \
        np.empty(shape, x.dtype)
    g = _geometry(x, w, geom, layout).direct(
        n, x.itemsize, dot=_dot_form(geom.filters, geom.kernel[1] * geom.channels))
    _kernels.conv2d_forward_direct(g, x, None, w, None if b is None else _contiguous(b), y,
                                   activation == "relu", n)
    if y is not out:
        out[...] = y
    return out


# Fewer output channels than this (filters; input channels for dx) and the channels-on-lanes
# kernels would idle most lanes: the NHWC forward (and so the NHWC stride-1 dx) and the NCHW
# weight gradient use 4 × 4 blocks of dot products instead (measured: conv-b's NHWC dx 2.7×,
# LeNet's 2.4× faster; with window rows shorter than 16 values, 2.8× slower — hence `run`).
_DOT_MAX_FILTERS = 12


def _dot_form(outputs, run):
    """NHWC forward in dot form: few output channels, and window rows (S·C contiguous
    values) long enough to fill the vectors."""
    return outputs < _DOT_MAX_FILTERS and run >= 16


def _phase(a, stride, pad, kernel, size):
    """One stride phase of the input gradient along one axis: the input positions a,
    a + stride, ... receive the kernel taps k0, k0 + stride, ... from dy positions
    i + offset − t (tap k0 + t·stride, i the phase index). Returns (count of positions,
    k0, count of taps, offset)."""
    k0 = (a + pad) % stride
    return (len(range(a, size, stride)), k0, len(range(k0, kernel, stride)),
            (a + pad - k0) // stride)


def _input_grad(g, geom, layout, dy, mask, w, x, n):
    """dx as sh·sw forward convolutions on the direct path, one per stride phase (input
    rows ≡ a mod sh, columns ≡ b mod sw): phase (a, b) is the stride-1 convolution of the
    (masked) dy with the taps of w that reach it, flipped and with their channel axes
    swapped, padded so that its outputs are exactly that phase's positions. With stride 1
    that is one convolution writing dx directly; otherwise each phase is written into its
    strided positions of dx. Every dx element is written once (zeros where no tap reaches
    it); nothing is scattered or accumulated.

    Strided convolutions keep the packed-GEMM scatter path (``conv2d_input_grad``) except
    in NHWC with few input channels: the phases' sub-kernels are small, and measured
    slower there (3×3 stride 2: 1.1–1.7×), but a 7×7 stride-2 first layer in NHWC runs
    1.9× faster by phases (the scatter path idles most lanes on its 3 channels)."""
    (pt, _), (pl, _) = geom.pads
    sh, sw = geom.stride
    if (sh, sw) != (1, 1) and (layout == "NCHW" or geom.channels >= _DOT_MAX_FILTERS):
        dx = np.zeros(x.shape, x.dtype)
        _kernels.conv2d_input_grad(g, dy, mask, w, dx, n)
        return dx
    h, wd = geom.in_size
    ho, wo = geom.out_size
    r, s = (w.shape[0], w.shape[1]) if layout == "NHWC" else (w.shape[2], w.shape[3])
    dx = np.empty(x.shape, x.dtype)
    for a in range(sh):
        ha, r0, ra, oa = _phase(a, sh, pt, r, h)
        for b in range(sw):
            wb, s0, sb, ob = _phase(b, sw, pl, s, wd)
            if ha == 0 or wb == 0:
                continue
            part = (dx[:, a::sh, b::sw, :] if layout == "NHWC" else dx[:, :, a::sh, b::sw])
            if ra == 0 or sb == 0:          # no tap reaches these positions
                part[...] = 0
                continue
            if layout == "NHWC":    # (R, S, C, K) -> taps of the phase, flipped, (., ., K, C)
                wt = np.ascontiguousarray(
                    w[r0::sh, s0::sw][::-1, ::-1].transpose(0, 1, 3, 2))
            else:                   # (K, C, R, S) -> (C, K, ., .), flipped
                wt = np.ascontiguousarray(
                    w[:, :, r0::sh, s0::sw][:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
            top, left = ra - 1 - oa, sb - 1 - ob
            pads = ((top, ha - ho - top + ra - 1), (left, wb - wo - left + sb - 1))
            dot = _dot_form(geom.channels, sb * geom.filters)
            gt = _kernels._Geometry(dy.shape, wt.shape, layout == "NHWC", (1, 1), pads,
                                    (ha, wb)).direct(n, x.itemsize, dot=dot)
            out = dx if (sh, sw) == (1, 1) else np.empty(part.shape, x.dtype)
            _kernels.conv2d_forward_direct(gt, dy, mask, wt, None, out, False, n)
            if out is not dx:
                part[...] = out
    return dx


@implements(_ref.conv2d_backward, _kernels)
def conv2d_backward(dy, x, w, *, stride=1, padding=0, layout="NCHW", activation=None, y=None,
                    need=("dx", "dw", "db"), n_threads=None):
    where = "conv2d_backward"
    check_choice(where, "activation", activation, _ref.ACTIVATIONS)
    need = check_need(where, need, _ref.GRADIENTS)
    n = resolve_n_threads(where, n_threads)
    x_cl, w_rsck, geom = _ref._conv_setup(where, x, w, stride, padding, layout)
    layout = check_layout(where, layout)
    dy = as_array(where, "dy", dy, ndim=4, shape_hint=_ref._Y_HINT[layout])
    check_same_dtype(where, "x", x_cl, dy=dy)
    check_shape(where, "dy", dy,
                _ref._image_shape(layout, geom.batch, *geom.out_size, geom.filters),
                "(the forward output's)")
    y = _ref._check_forward_output(where, y, dy, activation, layout)
    if _degenerate(geom):
        return _ref.conv2d_backward(dy, x, w, stride=stride, padding=padding, layout=layout,
                                    activation=activation, y=y, need=need,
                                    n_threads=n_threads)
    x = _contiguous(np.asarray(x))
    w = _contiguous(np.asarray(w))
    dy = _contiguous(dy)
    mask = _contiguous(y) if activation == "relu" else None
    g = _geometry(x, w, geom, layout)
    dx = dw = db = None
    if "dx" in need:
        dx = _input_grad(g, geom, layout, dy, mask, w, x, n)
    if "dw" in need:
        gd = g.direct(n, x.itemsize, False)
        crs = w.size // geom.filters
        if layout == "NCHW" and geom.filters < _DOT_MAX_FILTERS:
            dw = np.zeros(w.shape, x.dtype)
            _kernels.conv2d_weight_grad_direct(gd, x, dy, mask, dw.reshape(geom.filters, crs),
                                               n, True)
        else:
            # dWᵀ (C·R·S × K in the layout's reduction order): NHWC's w is that matrix
            dwt = np.zeros((crs, geom.filters), x.dtype)
            _kernels.conv2d_weight_grad_direct(gd, x, dy, mask, dwt, n)
            dw = dwt.reshape(w.shape) if layout == "NHWC" else \
                np.ascontiguousarray(dwt.T).reshape(w.shape)
    if "db" in need:
        db = np.empty(geom.filters, x.dtype)
        _kernels.conv2d_bias_grad(g, dy, mask, db, n)
    return dx, dw, db
