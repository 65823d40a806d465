"""Reference inverted dropout, forward and backward.

The mask comes from the shared counter-based generator (:mod:`fastdl.reference._random`):
with ``key = make_key("dropout", seed, rng)``, element ``i`` of x (its flat C-order index,
whatever x's memory layout) is kept iff ``bernoulli(key, i, keep_prob)``. A mask is therefore
a pure function of (key, x.shape, keep_prob): the same for any thread count, chunking or
strides, and the native kernel reproduces it bit for bit.
"""
import numpy as np

from .._config import resolve_n_threads
from .._validation import as_array, as_float, check_choice, check_out, check_shape
from ._random import bernoulli, make_key

__all__ = ["dropout", "dropout_backward"]

# Counters are generated this many at a time, so the generator's uint64 temporaries stay
# bounded (a few tens of MB) whatever the size of x.
MASK_CHUNK = 1 << 20

MASK_DTYPES = (np.dtype(np.uint8), np.dtype(np.bool_))


def _check_keep_prob(where, keep_prob):
    return as_float(where, "keep_prob", keep_prob, low=0.0, high=1.0, low_open=True)


def _check_random_source(where, seed, rng):
    """Validate seed/rng without drawing from rng (the identity paths draw nothing)."""
    if seed is not None or not isinstance(rng, (np.random.Generator, type(None))):
        make_key(where, seed, rng)    # raises for a bad seed, a bad rng, or both given


def _dropout_mask(key, shape, keep_prob):
    """The uint8 keep-mask of an array of ``shape``: element i (C order) is
    ``bernoulli(key, i, keep_prob)``; generated in chunks of :data:`MASK_CHUNK`."""
    mask = np.empty(shape, dtype=np.uint8)
    flat = mask.reshape(-1)
    for start in range(0, flat.size, MASK_CHUNK):
        stop = min(start + MASK_CHUNK, flat.size)
        flat[start:stop] = bernoulli(key, np.arange(start, stop, dtype=np.uint64), keep_prob)
    return mask


def _apply_mask(x, mask, keep_prob, out):
    """``out = x * mask * (1 / keep_prob)``, the scale rounded to x's dtype.

    Like ``x * mask / keep_prob``, a dropped inf or NaN gives NaN (NumPy semantics).
    """
    np.multiply(x, mask, out=out)
    out *= x.dtype.type(1.0 / keep_prob)
    return out


def dropout(x, keep_prob, *, seed=None, rng=None, training=True, out=None, n_threads=None):
    """Inverted dropout: ``y = x * mask / keep_prob`` with a random keep-mask.

    Parameters
    ----------
    x : ndarray of any shape, float32 or float64
    keep_prob : float in (0, 1]
        Probability of keeping each element.
    seed : int in [0, 2**64), optional
        Seed of the counter-based generator: the same seed gives the same mask for any
        thread count and any memory layout of x.
    rng : numpy.random.Generator, optional
        Draws the generator's key instead of ``seed`` (one 64-bit draw). Passing both is a
        ``ValueError``; passing neither uses fresh OS entropy.
    training : bool
        False makes dropout the identity.
    out : ndarray of x's shape and dtype, optional
        Where to write ``y`` (may be ``x``).
    n_threads : int >= 1 or None
        Threads of the native kernel (validated; the reference is single-threaded).

    Returns
    -------
    y : ndarray of x's shape and dtype
        With ``training=False`` or ``keep_prob == 1``: x itself, or ``out`` holding a copy of
        x when ``out`` is given.
    mask : ndarray of x's shape, uint8 (1 = kept), or None for the identity cases
    """
    where = "dropout"
    x = as_array(where, "x", x)
    keep_prob = _check_keep_prob(where, keep_prob)
    _check_random_source(where, seed, rng)
    training = check_choice(where, "training", training, (True, False))
    if out is not None:
        out = check_out(where, out, x.shape, x.dtype)
    resolve_n_threads(where, n_threads)

    if not training or keep_prob == 1.0:
        if out is None:
            return x, None
        out[...] = x
        return out, None
    mask = _dropout_mask(make_key(where, seed, rng), x.shape, keep_prob)
    if out is None:
        out = np.empty(x.shape, dtype=x.dtype)
    return _apply_mask(x, mask, keep_prob, out), mask


def dropout_backward(dy, mask, keep_prob):
    """Gradient of :func:`dropout`: ``dx = dy * mask / keep_prob``.

    Parameters
    ----------
    dy : ndarray of any shape, float32 or float64
        Upstream gradient.
    mask : ndarray of dy's shape, uint8 or bool, or None
        The mask returned by the forward; None (identity forward) returns ``dy`` itself.
    keep_prob : float in (0, 1]
        The forward's keep probability.

    Returns
    -------
    dx : ndarray of dy's shape and dtype
    """
    where = "dropout_backward"
    dy = as_array(where, "dy", dy)
    keep_prob = _check_keep_prob(where, keep_prob)
    if mask is None:
        return dy
    mask = as_array(where, "mask", mask, dtypes=MASK_DTYPES)
    check_shape(where, "mask", mask, dy.shape, "(the shape of dy)")
    return _apply_mask(dy, mask, keep_prob, np.empty(dy.shape, dtype=dy.dtype))

