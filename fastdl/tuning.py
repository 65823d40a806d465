"""Hyperparameter search helpers (pure Python + NumPy): log-uniform draws, grids, random
search. ``rng`` is an int seed, a ``numpy.random.Generator`` (its stream advances) or None."""
import itertools
import math

import numpy as np

from ._validation import as_float, as_int, check_choice
from .reference.data import as_generator

__all__ = ["log_uniform", "grid", "random_search"]

SCALES = ("log", "linear")


def _log_uniform(generator, low, high, size):
    """Draws whose logarithm is uniform on [log low, log high], clipped to [low, high] (exp
    of the log may round just outside)."""
    draws = np.clip(np.exp(generator.uniform(math.log(low), math.log(high), size)), low, high)
    return float(draws) if size is None else draws


def log_uniform(low, high, size=None, rng=None):
    """Sample ``exp(uniform(log low, log high))``: equal mass per decade, the usual draw for a
    learning rate or a regularisation strength.

    Parameters
    ----------
    low, high : float
        ``0 < low <= high``.
    size : int or tuple of int, optional
        None returns one float.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    float or ndarray of ``size`` (float64), within [low, high]
    """
    where = "log_uniform"
    low = as_float(where, "low", low, low=0.0, low_open=True)
    high = as_float(where, "high", high, low=0.0, low_open=True)
    if high < low:
        raise ValueError(f"{where}: high must be >= low ({low!r}); got {high!r}")
    return _log_uniform(as_generator(where, rng), low, high, size)


def grid(**axes):
    """Every combination of the given values, in ``itertools.product`` order (the first
    keyword varies slowest).

    Parameters
    ----------
    **axes : list, tuple or 1-D ndarray
        The values of each hyperparameter, e.g. ``lr=[1e-3, 1e-2], batch_size=[32, 64]``.

    Returns
    -------
    list of dict
        ``[{"lr": 1e-3, "batch_size": 32}, {"lr": 1e-3, "batch_size": 64}, ...]``; ``[{}]``
        without axes, ``[]`` if an axis is empty.
    """
    for name, values in axes.items():
        if not isinstance(values, (list, tuple, np.ndarray, range)):
            raise TypeError(f"grid: {name} must be a list of values; got "
                            f"{type(values).__name__}")
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*axes.values())]


def _sampler(where, name, spec):
    """A function ``draw(generator)`` for one entry of a search space."""
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"{where}: {name} must list at least one choice")
        return lambda g: spec[int(g.integers(len(spec)))]
    if not (isinstance(spec, tuple) and len(spec) == 3):
        raise TypeError(f"{where}: {name} must be (low, high, 'log' | 'linear') or a list of "
                        f"choices; got {spec!r}")
    low, high, scale = spec
    scale = check_choice(where, f"{name} scale", scale, SCALES)
    positive = scale == "log"
    low = as_float(where, f"{name} low", low, low=0.0 if positive else None, low_open=positive)
    high = as_float(where, f"{name} high", high)
    if high < low:
        raise ValueError(f"{where}: {name} needs low <= high; got ({low!r}, {high!r})")
    if positive:
        return lambda g: _log_uniform(g, low, high, None)
    return lambda g: float(g.uniform(low, high))


def random_search(space, n, rng=None):
    """Draw ``n`` random configurations from a search space.

    Parameters
    ----------
    space : dict
        Maps a name to ``(low, high, "log")`` (log-uniform, ``0 < low <= high``),
        ``(low, high, "linear")`` (uniform) or a list of choices (one picked uniformly).
    n : int
        Number of configurations, >= 0.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    list of dict
        ``n`` dicts with the keys of ``space``; draws are made configuration by
        configuration, in the order of ``space``'s keys.
    """
    where = "random_search"
    if not isinstance(space, dict):
        raise TypeError(f"{where}: space must be a dict; got {type(space).__name__}")
    n = as_int(where, "n", n, min_value=0)
    samplers = {name: _sampler(where, name, spec) for name, spec in space.items()}
    generator = as_generator(where, rng)
    return [{name: draw(generator) for name, draw in samplers.items()} for _ in range(n)]
