"""Reference data augmentation on image batches: flips, random crops, colour shifts, PCA lighting.

Every op takes a 4-D batch ``x`` of dtype uint8, float32 or float64, laid out ``(N, H, W, C)``
(``layout="NHWC"``, the default here) or ``(N, C, H, W)`` (``layout="NCHW"``), and returns a
new C-contiguous array of the same dtype and layout (``x`` is never modified), or writes it into
``out=`` (a writeable array of the result's shape and dtype, any strides; it may be ``x``
itself) and returns ``out``. ``n_threads`` (int >= 1 or None) is validated and used by the
native kernels; the reference runs on one thread. uint8 results
saturate: additive ops round their shift to the nearest integer (half to even, ``np.rint``)
and clip the sum to [0, 255]. Float results are ``x + shift`` computed in x's dtype.

Randomness
----------
Random ops draw from the counter-based generator of :mod:`fastdl.reference._random`:
``key = make_key(<op name>, seed, rng)``, and every draw of image ``i`` sits at a counter that
depends only on ``i`` and the draw number, so a native kernel reproduces the batch exactly for
any thread count or chunking:

* ``random_flip``: counter ``i``; image ``i`` is mirrored horizontally (W reversed) when
  ``bernoulli(key, i, p)``, i.e. ``bits32 < floor(p * 2**32)``.
* ``random_crop``: counters ``2*i`` (row) and ``2*i + 1`` (column). With the padded size
  ``(Hp, Wp) = (H + 2*ph, W + 2*pw)`` and crop ``(h, w)``, the crop's top-left corner in the
  padded image is ``top = integers(key, 2*i, Hp - h + 1)`` and
  ``left = integers(key, 2*i + 1, Wp - w + 1)`` (``floor(uniform * n)``).
* ``random_color_shift``: counter ``i*C + c`` for channel ``c`` of image ``i``; the shift is
  ``max_shift * (2 * uniform(key, i*C + c) - 1)``, in ``[-max_shift, max_shift)``, then
  rounded with ``np.rint`` for uint8 images.
"""
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._config import resolve_n_threads
from .._validation import (IMAGE_DTYPES, as_array, as_float, as_pair, check_choice,
                           check_layout, check_out, check_shape)
from . import _random

__all__ = ["flip", "random_flip", "random_crop", "color_shift", "random_color_shift",
           "pca_color_augment"]

_FLIP_AXES = ("horizontal", "vertical")
_SHAPE_HINTS = {"NHWC": "(N, H, W, C) for layout='NHWC'", "NCHW": "(N, C, H, W) for layout='NCHW'"}
# Axis numbers of (H, W, C) in each layout.
_AXES = {"NHWC": (1, 2, 3), "NCHW": (2, 3, 1)}


def _image_batch(where, x, layout):
    """Validate ``layout`` and ``x`` (4-D, uint8/float32/float64); return (x, (h, w, c) axes)."""
    layout = check_layout(where, layout)
    x = as_array(where, "x", x, dtypes=IMAGE_DTYPES, ndim=4, shape_hint=_SHAPE_HINTS[layout])
    return x, _AXES[layout]


def _crop_shape(x, layout, crop_h, crop_w):
    """Shape of the crops of batch ``x``: (N, h, w, C) or (N, C, h, w)."""
    if layout == "NCHW":
        return (x.shape[0], x.shape[1], crop_h, crop_w)
    return (x.shape[0], crop_h, crop_w, x.shape[3])


def _real_array(where, name, v, shape, hint=""):
    """``v`` as a float64 array of ``shape`` (any int/uint/float input; TypeError otherwise)."""
    try:
        arr = np.asarray(v)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{where}: {name} must be an array of real numbers; got "
                        f"{type(v).__name__} that NumPy cannot convert ({exc})") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{where}: {name} must be an array of real numbers; got dtype {arr.dtype}")
    check_shape(where, name, arr, shape, hint)
    return arr.astype(np.float64)


def _check_finite_for_uint8(where, name, x, values):
    """uint8 results need an integer shift: NaN or inf has no meaning there."""
    if x.dtype == np.uint8 and not np.isfinite(values).all():
        raise ValueError(f"{where}: {name} must be finite for uint8 images")


def _check_out(where, out, shape, dtype, n_threads):
    """Validate ``out`` (None, or a writeable array of ``shape`` and ``dtype``) and
    ``n_threads``; return ``out``."""
    if out is not None:
        out = check_out(where, out, shape, dtype)
    resolve_n_threads(where, n_threads)
    return out


def _deliver(result, out):
    """``result``, or ``out`` holding it (``out`` may overlap the input: result is a copy)."""
    if out is None:
        return result
    out[...] = result
    return out


def _shift_table(x, shifts):
    """The per-channel shifts as added to ``x``: a 2-D ``(N or 1, C)`` table, int16 for uint8
    images (rounded with ``np.rint``, clipped to ±255), x's dtype for float images.

    ``shifts`` is float64 ``(C,)`` (same for every image) or ``(N, C)`` (per image).
    """
    shifts = np.atleast_2d(shifts)
    if x.dtype == np.uint8:
        # Any shift beyond ±255 saturates every pixel, so clipping it first keeps the sum
        # inside int16 without changing the result.
        return np.clip(np.rint(shifts), -255, 255).astype(np.int16)
    with np.errstate(over="ignore"):     # a shift beyond float32's range becomes ±inf
        return shifts.astype(x.dtype)


def _add_channel_shifts(x, shifts, channel_axis):
    """``x`` plus a per-channel shift, saturating for uint8 (``shifts`` as in _shift_table)."""
    table = _shift_table(x, shifts)
    shape = [1] * x.ndim
    shape[0], shape[channel_axis] = table.shape
    table = table.reshape(shape)
    out = np.empty(x.shape, dtype=x.dtype)
    if x.dtype == np.uint8:
        wide = np.add(x, table, dtype=np.int16)
        np.clip(wide, 0, 255, out=wide)
        out[...] = wide
    else:
        np.add(x, table, out=out)
    return out


def _flip_coins(key, n, p):
    """Whether each of ``n`` images is mirrored: ``bernoulli(key, i, p)`` at counter ``i``."""
    return _random.bernoulli(key, np.arange(n), p)


# Largest padded image side: the offset draws floor(uniform * n) reach every position only
# while n <= 2**53 (and all index arithmetic stays far from int64 overflow).
_MAX_PADDED = 2**53


def _crop_geometry(where, x, h_axis, w_axis, size, padding):
    """Validate ``size`` and ``padding``; return ``(crop_h, crop_w, pad_h, pad_w)``."""
    crop_h, crop_w = as_pair(where, "size", size, min_value=1)
    pad_h, pad_w = as_pair(where, "padding", padding, min_value=0)
    padded_h, padded_w = x.shape[h_axis] + 2 * pad_h, x.shape[w_axis] + 2 * pad_w
    if padded_h > _MAX_PADDED or padded_w > _MAX_PADDED:
        raise ValueError(f"{where}: padding must keep the padded image size at most 2**53; "
                         f"got padding {padding!r} (padded size ({padded_h}, {padded_w}))")
    if crop_h > padded_h or crop_w > padded_w:
        raise ValueError(f"{where}: size must be at most the padded image size "
                         f"({padded_h}, {padded_w}); got ({crop_h}, {crop_w})")
    return crop_h, crop_w, pad_h, pad_w


def _crop_offsets(key, n, room_h, room_w):
    """int64 ``(tops, lefts)`` of ``n`` crops: uniform in ``[0, room_h)`` at counters ``2*i``
    and in ``[0, room_w)`` at counters ``2*i + 1``."""
    counters = 2 * np.arange(n)
    return _random.integers(key, counters, room_h), _random.integers(key, counters + 1, room_w)


def _random_shifts(key, n, c, max_shift):
    """float64 ``(n, c)`` shifts ``max_shift * (2 * uniform(key, i*C + c) - 1)``."""
    counters = np.arange(n * c).reshape(n, c)          # i*C + c
    return max_shift * (2.0 * _random.uniform(key, counters) - 1.0)


def _channel_shifts(where, x, c_axis, shifts):
    """Validate ``color_shift``'s ``shifts``: float64 ``(C,)``, finite for uint8 images."""
    shifts = _real_array(where, "shifts", shifts, (x.shape[c_axis],), "(one per channel)")
    _check_finite_for_uint8(where, "shifts", x, shifts)
    return shifts


def _pca_offsets(where, x, c_axis, eigvals, eigvecs, alphas):
    """Validate the PCA parameters; return the float64 offsets, ``(N, C)`` or ``(1, C)``."""
    n, c = x.shape[0], x.shape[c_axis]
    eigvals = _real_array(where, "eigvals", eigvals, (c,), "(one per channel)")
    eigvecs = _real_array(where, "eigvecs", eigvecs, (c, c), "(eigenvectors in columns)")
    alphas_shape = (c,) if np.ndim(alphas) == 1 else (n, c)
    alphas = _real_array(where, "alphas", alphas, alphas_shape,
                         "(per image (N, C), or (C,) for all)")
    # Non-finite or huge parameters give inf/NaN offsets that propagate like NumPy for float
    # images (and are rejected for uint8), without a floating-point warning.
    with np.errstate(over="ignore", invalid="ignore"):
        offsets = (alphas * eigvals) @ eigvecs.T      # row i: eigvecs @ (alphas[i] * eigvals)
    _check_finite_for_uint8(where, "the offsets eigvecs @ (alphas * eigvals)", x, offsets)
    return np.atleast_2d(offsets)


def flip(x, *, axis="horizontal", layout="NHWC", out=None, n_threads=None):
    """Mirror every image of a batch.

    Parameters
    ----------
    x : ndarray of shape (N, H, W, C) (NHWC) or (N, C, H, W) (NCHW), uint8, float32 or float64
    axis : {"horizontal", "vertical"}
        ``"horizontal"`` reverses W (left-right mirror), ``"vertical"`` reverses H.
    layout : {"NHWC", "NCHW"}
    out : ndarray, optional
        Written with the result and returned (shape and dtype of the result, writeable).
    n_threads : int >= 1 or None
        Threads of the native kernel (None: ``fastdl.get_num_threads()``).

    Returns
    -------
    y : ndarray of x's shape and dtype (a new C-contiguous array)
    """
    x, (h_axis, w_axis, _) = _image_batch("flip", x, layout)
    axis = check_choice("flip", "axis", axis, _FLIP_AXES)
    out = _check_out("flip", out, x.shape, x.dtype, n_threads)
    return _deliver(np.flip(x, w_axis if axis == "horizontal" else h_axis).copy(), out)


def random_flip(x, p=0.5, *, seed=None, rng=None, layout="NHWC", out=None, n_threads=None):
    """Mirror each image horizontally (W reversed) with probability ``p``, independently.

    Image ``i`` is flipped when ``bernoulli(key, counter=i, p)`` of
    :mod:`fastdl.reference._random` is true (see the module docstring).

    Parameters
    ----------
    x : ndarray of shape (N, H, W, C) (NHWC) or (N, C, H, W) (NCHW), uint8, float32 or float64
    p : float in [0, 1]
        Probability of flipping an image.
    seed : int >= 0, optional
        Seed of the counter-based generator; the same seed gives the same flips.
    rng : numpy.random.Generator, optional
        Draws the generator's key instead of ``seed`` (pass at most one of the two; with
        neither the key comes from OS entropy).
    layout : {"NHWC", "NCHW"}
    out : ndarray, optional
        Written with the result and returned (shape and dtype of the result, writeable).
    n_threads : int >= 1 or None
        Threads of the native kernel (None: ``fastdl.get_num_threads()``).

    Returns
    -------
    y : ndarray of x's shape and dtype
    """
    x, (_, w_axis, _) = _image_batch("random_flip", x, layout)
    p = as_float("random_flip", "p", p, low=0.0, high=1.0)
    out = _check_out("random_flip", out, x.shape, x.dtype, n_threads)
    key = _random.make_key("random_flip", seed, rng)
    flipped = _flip_coins(key, x.shape[0], p)
    result = x.copy()
    result[flipped] = np.flip(x[flipped], w_axis)
    return _deliver(result, out)


def random_crop(x, size, *, padding=0, seed=None, rng=None, layout="NHWC", out=None,
                n_threads=None):
    """Crop each image at a random position, after optional zero padding.

    Every image is padded with ``padding`` zeros on each side, then cropped to ``size`` at
    an offset uniform over all valid positions, drawn per image (counters ``2*i`` and
    ``2*i + 1``, see the module docstring).

    Parameters
    ----------
    x : ndarray of shape (N, H, W, C) (NHWC) or (N, C, H, W) (NCHW), uint8, float32 or float64
    size : int or (h, w)
        Crop size, each >= 1 and at most the padded size ``(H + 2*ph, W + 2*pw)``.
    padding : int or (ph, pw)
        Zeros added above and below (``ph``) and left and right (``pw``), each >= 0.
    seed : int >= 0, optional
    rng : numpy.random.Generator, optional
        As in :func:`random_flip`.
    layout : {"NHWC", "NCHW"}
    out : ndarray, optional
        Written with the result and returned (shape and dtype of the result, writeable).
    n_threads : int >= 1 or None
        Threads of the native kernel (None: ``fastdl.get_num_threads()``).

    Returns
    -------
    y : ndarray of shape (N, h, w, C) (NHWC) or (N, C, h, w) (NCHW), x's dtype
    """
    where = "random_crop"
    x, (h_axis, w_axis, c_axis) = _image_batch(where, x, layout)
    crop_h, crop_w, pad_h, pad_w = _crop_geometry(where, x, h_axis, w_axis, size, padding)
    n = x.shape[0]
    out = _check_out(where, out, _crop_shape(x, layout, crop_h, crop_w), x.dtype, n_threads)
    key = _random.make_key(where, seed, rng)
    padded_h, padded_w = x.shape[h_axis] + 2 * pad_h, x.shape[w_axis] + 2 * pad_w
    tops, lefts = _crop_offsets(key, n, padded_h - crop_h + 1, padded_w - crop_w + 1)

    # Padding wider than the crop is never needed in full: with p = min(pad, crop) zeros on
    # each side, the window at offset t of the full padded image is the window at
    # clip(t - pad + p, 0, size + 2p - crop) (a window wholly in the padding maps to one that
    # is wholly in the reduced padding), so the padded batch stays small.
    eff_h, eff_w = min(pad_h, crop_h), min(pad_w, crop_w)
    tops = np.clip(tops - pad_h + eff_h, 0, x.shape[h_axis] + 2 * eff_h - crop_h)
    lefts = np.clip(lefts - pad_w + eff_w, 0, x.shape[w_axis] + 2 * eff_w - crop_w)
    pad_width = [(0, 0)] * 4
    pad_width[h_axis], pad_width[w_axis] = (eff_h, eff_h), (eff_w, eff_w)
    padded = np.pad(x, pad_width) if eff_h or eff_w else x
    # windows[i, ..., top, left, ..., :, :] is the (crop_h, crop_w) crop at (top, left).
    windows = sliding_window_view(padded, (crop_h, crop_w), axis=(h_axis, w_axis))
    if layout == "NCHW":
        crops = windows[np.arange(n), :, tops, lefts]                        # (N, C, h, w)
        return _deliver(np.ascontiguousarray(crops), out)
    crops = windows[np.arange(n), tops, lefts]                               # (N, C, h, w)
    return _deliver(np.ascontiguousarray(np.moveaxis(crops, 1, 3)), out)


def color_shift(x, shifts, *, layout="NHWC", out=None, n_threads=None):
    """Add a per-channel constant to every pixel of every image.

    Parameters
    ----------
    x : ndarray of shape (N, H, W, C) (NHWC) or (N, C, H, W) (NCHW), uint8, float32 or float64
    shifts : array_like of shape (C,), real
        Shift of each channel. Float images: ``x + shifts`` in x's dtype (shifts cast to it
        first). uint8 images: shifts rounded to the nearest integer (``np.rint``, must be
        finite), result saturated to [0, 255].
    layout : {"NHWC", "NCHW"}
    out : ndarray, optional
        Written with the result and returned (shape and dtype of the result, writeable).
    n_threads : int >= 1 or None
        Threads of the native kernel (None: ``fastdl.get_num_threads()``).

    Returns
    -------
    y : ndarray of x's shape and dtype
    """
    x, (_, _, c_axis) = _image_batch("color_shift", x, layout)
    shifts = _channel_shifts("color_shift", x, c_axis, shifts)
    out = _check_out("color_shift", out, x.shape, x.dtype, n_threads)
    return _deliver(_add_channel_shifts(x, shifts, c_axis), out)


def random_color_shift(x, max_shift, *, seed=None, rng=None, layout="NHWC", out=None,
                       n_threads=None):
    """Add a random per-image, per-channel shift uniform in ``[-max_shift, max_shift)``.

    The shift of channel ``c`` of image ``i`` is ``max_shift * (2u - 1)`` with
    ``u = uniform(key, i*C + c)`` (see the module docstring). For uint8 images the shift is
    rounded to the nearest integer (``np.rint``: the two end values are then half as likely
    as the inner ones) and the result saturated to [0, 255], as in :func:`color_shift`.

    Parameters
    ----------
    x : ndarray of shape (N, H, W, C) (NHWC) or (N, C, H, W) (NCHW), uint8, float32 or float64
    max_shift : float >= 0 (finite)
        Largest absolute shift, in x's units (0..255 for uint8).
    seed : int >= 0, optional
    rng : numpy.random.Generator, optional
        As in :func:`random_flip`.
    layout : {"NHWC", "NCHW"}
    out : ndarray, optional
        Written with the result and returned (shape and dtype of the result, writeable).
    n_threads : int >= 1 or None
        Threads of the native kernel (None: ``fastdl.get_num_threads()``).

    Returns
    -------
    y : ndarray of x's shape and dtype
    """
    where = "random_color_shift"
    x, (_, _, c_axis) = _image_batch(where, x, layout)
    max_shift = as_float(where, "max_shift", max_shift, low=0.0, high=math.inf, high_open=True)
    out = _check_out(where, out, x.shape, x.dtype, n_threads)
    key = _random.make_key(where, seed, rng)
    shifts = _random_shifts(key, x.shape[0], x.shape[c_axis], max_shift)
    return _deliver(_add_channel_shifts(x, shifts, c_axis), out)


def pca_color_augment(x, eigvals, eigvecs, alphas, *, layout="NHWC", out=None, n_threads=None):
    """AlexNet-style lighting noise: add ``eigvecs @ (alphas * eigvals)`` to every pixel.

    With the eigen-decomposition of the pixel colours' covariance (columns of ``eigvecs`` are
    the eigenvectors ``p_k``, ``eigvals`` the eigenvalues ``lambda_k``), image ``i`` gets the
    colour offset ``sum_k alphas[i, k] * lambda_k * p_k`` on every pixel (AlexNet draws
    ``alphas ~ N(0, 0.1)``; the caller draws them, so the op is deterministic).

    Parameters
    ----------
    x : ndarray of shape (N, H, W, C) (NHWC) or (N, C, H, W) (NCHW), uint8, float32 or float64
    eigvals : array_like of shape (C,), real
        Eigenvalues (C = 3 for RGB).
    eigvecs : array_like of shape (C, C), real
        Eigenvectors in columns, as returned by ``np.linalg.eigh``.
    alphas : array_like of shape (N, C) or (C,), real
        Per-image coefficients, or one set shared by every image.
    layout : {"NHWC", "NCHW"}
    out : ndarray, optional
        Written with the result and returned (shape and dtype of the result, writeable).
    n_threads : int >= 1 or None
        Threads of the native kernel (None: ``fastdl.get_num_threads()``).

    Returns
    -------
    y : ndarray of x's shape and dtype. The offset is computed in float64; float images add
    it in their dtype, uint8 images round it (``np.rint``) and saturate to [0, 255].
    """
    where = "pca_color_augment"
    x, (_, _, c_axis) = _image_batch(where, x, layout)
    offsets = _pca_offsets(where, x, c_axis, eigvals, eigvecs, alphas)
    out = _check_out(where, out, x.shape, x.dtype, n_threads)
    return _deliver(_add_channel_shifts(x, offsets, c_axis), out)
