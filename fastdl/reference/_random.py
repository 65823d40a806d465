"""The counter-based random generator shared by every random op (dropout, augmentation).

A draw is a pure function of a 64-bit *key* and a 64-bit *counter*, so a result never depends
on how the work is split across threads or chunks. The function is SplitMix64's output at
position ``counter`` of the stream seeded by ``key``::

    z = key + (counter + 1) * 0x9E3779B97F4A7C15          (mod 2**64)
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    bits64 = z ^ (z >> 31)

The key of ``seed=s`` is ``mix64(s)`` (so that nearby seeds give unrelated streams); with
``rng=`` it is ``rng.integers(2**64, dtype=uint64)``; with neither, fresh OS entropy.
Compiled kernels implement exactly these formulas (``csrc/``) and must reproduce these bits.

Derived draws:

* ``bits32 = bits64 >> 32``;
* a Bernoulli(p) draw is ``bits32 < floor(p * 2**32)`` (used by dropout: keep);
* a uniform float in [0, 1) is ``(bits64 >> 11) * 2**-53``;
* an integer in [0, n) is ``floor(uniform * n)``.
"""
import numbers

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(z):
    """SplitMix64's finaliser on a uint64 scalar or array (wrap-around arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def make_key(where, seed=None, rng=None):
    """The uint64 key of a random op from ``seed`` (int >= 0) or ``rng`` (a Generator).

    Passing both raises ``ValueError``; passing neither draws a key from OS entropy.
    """
    if seed is not None and rng is not None:
        raise ValueError(f"{where}: pass seed or rng, not both")
    if seed is not None:
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (numbers.Integral, np.integer)):
            raise TypeError(f"{where}: seed must be a non-negative int; got {type(seed).__name__}")
        if not 0 <= int(seed) < 2**64:
            raise ValueError(f"{where}: seed must be in [0, 2**64); got {seed}")
        return np.uint64(mix64(np.uint64(int(seed))))
    if rng is None:
        rng = np.random.default_rng()
    elif not isinstance(rng, np.random.Generator):
        raise TypeError(f"{where}: rng must be a numpy.random.Generator; got {type(rng).__name__}")
    return np.uint64(rng.integers(0, 2**64, dtype=np.uint64, endpoint=False))


def random_bits64(key, counters):
    """uint64 draws at the given counters (an int array of any shape)."""
    counters = np.asarray(counters, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(key) + (counters + np.uint64(1)) * GOLDEN
    return mix64(z)


def random_bits32(key, counters):
    """uint32 draws: the high half of :func:`random_bits64`."""
    return (random_bits64(key, counters) >> np.uint64(32)).astype(np.uint32)


def bernoulli_threshold(p):
    """The uint32 threshold t with P(bits32 < t) = floor(p * 2**32) / 2**32."""
    return np.uint64(min(int(np.floor(p * 2.0**32)), 2**32))


def bernoulli(key, counters, p):
    """Boolean draws, True with probability p (p in [0, 1])."""
    bits = random_bits64(key, counters) >> np.uint64(32)
    return bits < bernoulli_threshold(p)


def uniform(key, counters):
    """float64 draws in [0, 1)."""
    return (random_bits64(key, counters) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def integers(key, counters, n):
    """int64 draws in [0, n) (n may be an array broadcasting with counters)."""
    return np.floor(uniform(key, counters) * n).astype(np.int64)
