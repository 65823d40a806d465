"""Argument checks shared by every op (reference and native paths alike).

Every error names the function, the argument, what was expected and what was given::

    conv2d: x must be a 4-D array (N, C, H, W) for layout='NCHW'; got shape (3, 32, 32)

``TypeError`` for a wrong type or dtype, ``ValueError`` for a wrong shape or value.
"""
import math
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
IMAGE_DTYPES = (np.dtype(np.uint8),) + FLOAT_DTYPES
LAYOUTS = ("NCHW", "NHWC")


def _dtype_names(dtypes):
    names = [np.dtype(d).name for d in dtypes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def as_array(where, name, x, *, dtypes=FLOAT_DTYPES, ndim=None, shape_hint=""):
    """Return ``x`` as an ndarray of one of ``dtypes`` (no copy, no dtype conversion).

    Non-arrays (lists, scalars) are converted with ``np.asarray`` and must then have a
    supported dtype. ``ndim`` is an int or a tuple of allowed ranks; ``shape_hint`` (e.g.
    ``"(N, C, H, W) for layout='NCHW'"``) is quoted in the error.
    """
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{where}: {name} must be an array; got {type(x).__name__} "
                            f"that NumPy cannot convert ({exc})") from None
    if x.dtype not in dtypes:
        raise TypeError(f"{where}: {name} must have dtype {_dtype_names(dtypes)}; "
                        f"got {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            rank = "/".join(str(d) for d in allowed)
            hint = f" {shape_hint}" if shape_hint else ""
            raise ValueError(f"{where}: {name} must be a {rank}-D array{hint}; "
                             f"got shape {x.shape}")
    return x


def check_same_dtype(where, ref_name, ref, **arrays):
    """Raise TypeError unless every array in ``arrays`` has ``ref``'s dtype."""
    for name, arr in arrays.items():
        if arr is not None and arr.dtype != ref.dtype:
            raise TypeError(f"{where}: {name} must have the dtype of {ref_name} ({ref.dtype}); "
                            f"got {arr.dtype}")


def check_shape(where, name, arr, shape, hint=""):
    """Raise ValueError unless ``arr.shape == shape``."""
    shape = tuple(int(s) for s in shape)
    if arr.shape != shape:
        extra = f" {hint}" if hint else ""
        raise ValueError(f"{where}: {name} must have shape {shape}{extra}; got {arr.shape}")


def _is_int(v):
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def as_float_dtype(where, dtype, name="dtype"):
    """``dtype`` (anything ``np.dtype`` takes) as float32 or float64 (TypeError otherwise)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: {name} must be float32 or float64; got {dtype!r}") from None
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{where}: {name} must be float32 or float64; got {dtype}")
    return dtype


def aligned_empty(shape, dtype, align=64):
    """An uninitialised C-contiguous array whose data starts on an ``align``-byte boundary
    (so that streaming stores in the kernels cover whole cache lines from the first element).
    The result is a view of a slightly larger buffer (``owndata`` is False)."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buf = np.empty(nbytes + align, dtype=np.uint8)
    start = -buf.ctypes.data % align
    return buf[start:start + nbytes].view(dtype).reshape(shape)


def as_int(where, name, v, *, min_value=None, max_value=None):
    """Return ``v`` as a Python int within [min_value, max_value]."""
    if not _is_int(v):
        raise TypeError(f"{where}: {name} must be an int; got {type(v).__name__}")
    v = int(v)
    if min_value is not None and v < min_value:
        raise ValueError(f"{where}: {name} must be >= {min_value}; got {v}")
    if max_value is not None and v > max_value:
        raise ValueError(f"{where}: {name} must be <= {max_value}; got {v}")
    return v


def as_pair(where, name, v, *, min_value=None):
    """Return ``v`` (an int or a pair of ints) as a tuple ``(a, b)`` of ints >= min_value."""
    if _is_int(v):
        a = b = v
    elif isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(e) for e in v):
        a, b = v
    else:
        raise TypeError(f"{where}: {name} must be an int or a pair of ints; got {v!r}")
    a, b = int(a), int(b)
    if min_value is not None and (a < min_value or b < min_value):
        raise ValueError(f"{where}: {name} must be >= {min_value}; got {v!r}")
    return a, b


def as_float(where, name, v, *, low=None, high=None, low_open=False, high_open=False):
    """Return ``v`` as a Python float in the given interval (NaN is rejected)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{where}: {name} must be a real number; got {type(v).__name__}")
    v = float(v)
    lo_ok = low is None or (v > low if low_open else v >= low)
    hi_ok = high is None or (v < high if high_open else v <= high)
    if math.isnan(v) or not (lo_ok and hi_ok):
        lo_txt = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi_txt = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
        raise ValueError(f"{where}: {name} must be in {lo_txt}, {hi_txt}; got {v!r}")
    return v


def check_choice(where, name, v, choices):
    """Return ``v`` if it is one of ``choices`` (TypeError for a wrong type, else ValueError)."""
    if any(v is c or (type(v) is type(c) and v == c) for c in choices):
        return v
    if not any(isinstance(v, type(c)) for c in choices):
        raise TypeError(f"{where}: {name} must be one of {choices}; got {type(v).__name__}")
    raise ValueError(f"{where}: {name} must be one of {choices}; got {v!r}")


def check_layout(where, layout):
    """Return ``layout`` if it is "NCHW" or "NHWC"."""
    if not isinstance(layout, str):
        raise TypeError(f"{where}: layout must be 'NCHW' or 'NHWC'; got {type(layout).__name__}")
    if layout not in LAYOUTS:
        raise ValueError(f"{where}: layout must be 'NCHW' or 'NHWC'; got {layout!r}")
    return layout


def check_writeable(where, name, arr):
    """Raise ValueError if ``arr`` is read-only (it is updated in place)."""
    if not arr.flags.writeable:
        raise ValueError(f"{where}: {name} is read-only but is updated in place")


def check_out(where, out, shape, dtype, name="out"):
    """Validate a caller-provided output array, or allocate one when ``out`` is None.

    ``out`` must be a writeable ndarray with exactly ``shape`` and ``dtype``; any strides
    are accepted (kernels copy back when they need contiguity).
    """
    shape = tuple(int(s) for s in shape)
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{where}: {name} must be a NumPy array or None; got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{where}: {name} must have dtype {np.dtype(dtype)}; got {out.dtype}")
    if out.shape != shape:
        raise ValueError(f"{where}: {name} must have shape {shape}; got {out.shape}")
    check_writeable(where, name, out)
    return out


def check_finite(where, name, arr):
    """Raise ValueError if ``arr`` holds NaN (used where NaN has no meaning, e.g. boxes)."""
    if arr.size and np.isnan(arr).any():
        raise ValueError(f"{where}: {name} must not contain NaN")


def check_need(where, need, names):
    """Validate a backward's ``need`` argument (an iterable of names drawn from ``names``)."""
    if isinstance(need, str):
        need = (need,)
    try:
        need = tuple(need)
    except TypeError:
        raise TypeError(f"{where}: need must be a tuple of names from {names}; "
                        f"got {type(need).__name__}") from None
    for n in need:
        if n not in names:
            raise ValueError(f"{where}: need must hold names from {names}; got {n!r}")
    return frozenset(need)
