"""Reference data utilities: shuffled mini-batches.

Also holds :func:`as_generator`, the ``rng=`` argument policy shared by :mod:`fastdl.init` and
:mod:`fastdl.tuning` (an int seed, a ``numpy.random.Generator`` or None).
"""
import numpy as np

from .._validation import as_int

__all__ = ["random_mini_batches"]

# Sample arrays may be features (float), labels (int, bool) or images (uint8): any numeric
# dtype is kept as given; objects and strings are refused.
_NUMERIC_KINDS = "biufc"


def as_generator(where, rng, name="rng"):
    """Return a ``numpy.random.Generator`` for ``rng``: a seed int >= 0, a Generator (used as
    is, so its stream advances) or None (fresh OS entropy)."""
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    try:
        seed = as_int(where, name, rng, min_value=0)
    except TypeError:
        raise TypeError(f"{where}: {name} must be an int seed, a numpy.random.Generator or "
                        f"None; got {type(rng).__name__}") from None
    return np.random.default_rng(seed)


def _sample_array(where, name, a):
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if a.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{where}: {name} must have a numeric dtype; got {a.dtype}")
    if a.ndim == 0:
        raise ValueError(f"{where}: {name} must have at least 1 dimension; got shape {a.shape}")
    return a


def _sample_axis(where, name, a, axis):
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"{where}: axis must be a valid axis of {name} (shape {a.shape}); "
                         f"got {axis}")
    return axis % a.ndim


def random_mini_batches(X, Y, batch_size=64, *, seed=0, axis=0):
    """Shuffle the samples of ``(X, Y)`` and split them into mini-batches.

    The order is ``numpy.random.default_rng(seed).permutation(m)``; the batches are
    consecutive slices of ``batch_size`` samples of it, the last one smaller when
    ``batch_size`` does not divide ``m``.

    Parameters
    ----------
    X : ndarray of shape (m, ...) for axis=0, (n_x, m) for axis=1 (the course's layout)
        Any numeric dtype (kept).
    Y : ndarray with the same number m of samples along ``axis``
        E.g. ``(m,)`` or ``(m, k)`` for axis=0, ``(1, m)`` for axis=1.
    batch_size : int
        Samples per batch, >= 1.
    seed : int, numpy.random.Generator or None
        Seed of the shuffle (None: fresh entropy).
    axis : int
        The sample axis of both X and Y (negative values count from the end of each).

    Returns
    -------
    batches : list of (X_batch, Y_batch)
        ``ceil(m / batch_size)`` pairs of new arrays; X_batch has X's shape with ``m``
        replaced by the batch length along ``axis`` (same for Y). Empty when m = 0.
    """
    where = "random_mini_batches"
    X = _sample_array(where, "X", X)
    Y = _sample_array(where, "Y", Y)
    batch_size = as_int(where, "batch_size", batch_size, min_value=1)
    axis = as_int(where, "axis", axis)
    x_axis = _sample_axis(where, "X", X, axis)
    y_axis = _sample_axis(where, "Y", Y, axis)
    m = X.shape[x_axis]
    if Y.shape[y_axis] != m:
        raise ValueError(f"{where}: Y must have as many samples as X along axis {axis} ({m}); "
                         f"got shape {Y.shape}")
    order = as_generator(where, seed, "seed").permutation(m)
    return [(np.take(X, idx, axis=x_axis), np.take(Y, idx, axis=y_axis))
            for idx in (order[start:start + batch_size] for start in range(0, m, batch_size))]
