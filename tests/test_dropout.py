"""Dropout: the mask against SplitMix64 written out in pure Python, keep rate and
independence statistics, reproducibility (seed, rng, memory layout), the inverted scaling,
the backward and bad input."""
import numpy as np
import pytest

from conftest import FLOATS, assert_grad, tol

MASK64 = (1 << 64) - 1


def splitmix64(key, counter):
    """SplitMix64's output at ``counter`` of the stream keyed by ``key`` (Python ints)."""
    z = (key + (counter + 1) * 0x9E3779B97F4A7C15) & MASK64
    return finalise(z)


def finalise(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def expected_mask(key, shape, keep_prob):
    """Element i (C order) is kept iff the high 32 bits of draw i < floor(p * 2**32)."""
    threshold = int(np.floor(keep_prob * 2.0**32))
    size = int(np.prod(shape))
    kept = [(splitmix64(key, i) >> 32) < threshold for i in range(size)]
    return np.array(kept, dtype=np.uint8).reshape(shape)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,keep_prob", [((3, 5, 7), 0.8), ((2, 1, 4, 3), 0.5), ((11,), 0.1)])
def test_mask_is_splitmix64_bernoulli(impl, shape, keep_prob, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    y, mask = impl.dropout(x, keep_prob, seed=42)
    want_mask = expected_mask(finalise(42), shape, keep_prob)
    assert mask.dtype == np.uint8 and mask.shape == shape
    np.testing.assert_array_equal(mask, want_mask)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, np.where(want_mask == 1, x / keep_prob, 0), **tol(dtype))


def test_keep_rate_over_ten_million(impl):
    x = np.ones(10**7, np.float32)
    y, mask = impl.dropout(x, 0.8, seed=7)
    rate = np.count_nonzero(mask) / mask.size
    assert abs(rate - 0.8) < 0.001 * 0.8
    np.testing.assert_allclose(y[mask == 1], np.float32(1 / 0.8))


def test_no_correlation_between_neighbours_or_seeds(impl):
    x = np.ones((1000, 1000))
    m0 = impl.dropout(x, 0.5, seed=0)[1].astype(np.float64)
    m1 = impl.dropout(x, 0.5, seed=1)[1].astype(np.float64)
    flat = m0.ravel()
    # The standard error of each correlation is 1e-3.
    assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 0.01          # along a row
    assert abs(np.corrcoef(m0[:-1].ravel(), m0[1:].ravel())[0, 1]) < 0.01   # across rows
    assert abs(np.corrcoef(flat, m1.ravel())[0, 1]) < 0.01             # seed 0 vs seed 1


def test_expectation_is_preserved(impl, rng):
    row = rng.uniform(1, 3, size=500)
    x = np.tile(row, (1000, 1))
    y, _ = impl.dropout(x, 0.7, seed=3)
    # E[y] = x. Relative standard error of a column mean: sqrt((1 - p) / p / 1000) = 2.1%;
    # of the whole mean: 0.09%. The bounds are about 5 standard errors.
    np.testing.assert_allclose(y.mean(axis=0), row, rtol=0.1)
    np.testing.assert_allclose(y.mean(), x.mean(), rtol=5e-3)


def test_same_seed_same_mask_other_seed_other_mask(impl, rng):
    x = rng.standard_normal((64, 33))
    y1, m1 = impl.dropout(x, 0.6, seed=5)
    y2, m2 = impl.dropout(x, 0.6, seed=5)
    _, m3 = impl.dropout(x, 0.6, seed=6)
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(y1, y2)
    assert np.mean(m1 != m3) > 0.3


def test_mask_independent_of_memory_layout(impl, rng):
    x = rng.standard_normal((37, 23)).astype(np.float32)
    fortran = np.asfortranarray(x)                 # same logical values, F order
    transposed_view = np.ascontiguousarray(x.T).T  # a non-contiguous (transposed) view
    y_c, m_c = impl.dropout(x, 0.75, seed=11)
    for other in (fortran, transposed_view):
        y, m = impl.dropout(other, 0.75, seed=11)
        np.testing.assert_array_equal(m, m_c)
        np.testing.assert_array_equal(y, y_c)


def test_rng_draws_the_key(impl, rng):
    x = rng.standard_normal((4, 9))
    _, m1 = impl.dropout(x, 0.5, rng=np.random.default_rng(2024))
    key = int(np.random.default_rng(2024).integers(0, 2**64, dtype=np.uint64))
    np.testing.assert_array_equal(m1, expected_mask(key, x.shape, 0.5))
    generator = np.random.default_rng(2024)
    first = impl.dropout(x, 0.5, rng=generator)[1]
    second = impl.dropout(x, 0.5, rng=generator)[1]  # the generator advanced
    np.testing.assert_array_equal(first, m1)
    assert not np.array_equal(first, second)


def test_no_seed_gives_fresh_masks(impl):
    x = np.ones(1000)
    assert not np.array_equal(impl.dropout(x, 0.5)[1], impl.dropout(x, 0.5)[1])


@pytest.mark.parametrize("keep_prob,training", [(0.5, False), (1.0, True), (1, True)])
def test_identity_cases(impl, keep_prob, training, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    y, mask = impl.dropout(x, keep_prob, seed=0, training=training)
    assert y is x and mask is None
    out = np.zeros_like(x)
    y, mask = impl.dropout(x, keep_prob, seed=0, training=training, out=out)
    assert y is out and mask is None
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("dtype", FLOATS)
def test_out_in_place_noncontiguous_readonly(impl, dtype, rng):
    base = rng.standard_normal((6, 10)).astype(dtype)
    x = base[:, ::2]
    x.flags.writeable = False
    y, mask = impl.dropout(x, 0.5, seed=9)
    np.testing.assert_array_equal(mask, expected_mask(finalise(9), x.shape, 0.5))
    want = np.where(mask == 1, x / dtype(0.5), 0)
    np.testing.assert_allclose(y, want, **tol(dtype))
    out = np.empty_like(x)
    assert impl.dropout(x, 0.5, seed=9, out=out)[0] is out
    np.testing.assert_allclose(out, want, **tol(dtype))
    in_place = x.copy()
    impl.dropout(in_place, 0.5, seed=9, out=in_place)
    np.testing.assert_allclose(in_place, want, **tol(dtype))


def test_zero_size(impl):
    y, mask = impl.dropout(np.zeros((0, 3), np.float32), 0.5, seed=0)
    assert y.shape == mask.shape == (0, 3) and y.dtype == np.float32


@pytest.mark.parametrize("dtype", FLOATS)
def test_backward_formula(impl, dtype, rng):
    dy = rng.standard_normal((5, 7)).astype(dtype)
    mask = (rng.uniform(size=(5, 7)) < 0.6).astype(np.uint8)
    dx = impl.dropout_backward(dy, mask, 0.6)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, np.where(mask == 1, dy / 0.6, 0), **tol(dtype))
    np.testing.assert_allclose(impl.dropout_backward(dy, mask.astype(bool), 0.6), dx)
    assert impl.dropout_backward(dy, None, 0.6) is dy


def test_backward_gradient_check(impl, rng):
    x = rng.standard_normal((4, 6))
    weights = rng.standard_normal((4, 6))
    _, mask = impl.dropout(x, 0.7, seed=13)
    dx = impl.dropout_backward(weights, mask, 0.7)
    assert_grad(lambda v: float(np.sum(weights * impl.dropout(v, 0.7, seed=13)[0])), x, dx)


@pytest.mark.parametrize("call,exc,match", [
    (lambda d: d.dropout(np.ones(3), 0.5, seed=1, rng=np.random.default_rng()), ValueError,
     "dropout: pass seed or rng, not both"),
    (lambda d: d.dropout(np.ones(3), 0.0), ValueError, r"dropout: keep_prob must be in \(0, 1\]"),
    (lambda d: d.dropout(np.ones(3), 1.5), ValueError, r"dropout: keep_prob must be in \(0, 1\]"),
    (lambda d: d.dropout(np.ones(3), float("nan")), ValueError, "dropout: keep_prob"),
    (lambda d: d.dropout(np.ones(3), "0.5"), TypeError, "dropout: keep_prob must be a real"),
    (lambda d: d.dropout(np.ones(3), 0.5, seed=-1), ValueError, "dropout: seed must be in"),
    (lambda d: d.dropout(np.ones(3), 0.5, seed=1.5), TypeError, "dropout: seed must be a non-neg"),
    (lambda d: d.dropout(np.ones(3), 0.5, rng=42), TypeError, "dropout: rng must be a numpy"),
    (lambda d: d.dropout(np.ones(3), 0.5, training="no"), TypeError, "dropout: training must"),
    (lambda d: d.dropout(np.arange(3), 0.5), TypeError, "dropout: x must have dtype float32 or "
                                                        "float64; got int64"),
    (lambda d: d.dropout(np.ones(3, complex), 0.5), TypeError, "got complex128"),
    (lambda d: d.dropout(np.array([object()]), 0.5), TypeError, "got object"),
    (lambda d: d.dropout(np.ones(3), 0.5, out=np.ones(4)), ValueError,
     r"dropout: out must have shape \(3,\)"),
    (lambda d: d.dropout(np.ones(3), 0.5, out=np.ones(3, np.float32)), TypeError,
     "dropout: out must have dtype float64"),
    (lambda d: d.dropout(np.ones(3), 0.5, n_threads=0), ValueError,
     "dropout: n_threads must be >= 1"),
    (lambda d: d.dropout(np.ones(3), 0.5, training=False, seed=1, rng=np.random.default_rng()),
     ValueError, "dropout: pass seed or rng, not both"),
    (lambda d: d.dropout_backward(np.ones(3), np.ones(4, np.uint8), 0.5), ValueError,
     r"dropout_backward: mask must have shape \(3,\)"),
    (lambda d: d.dropout_backward(np.ones(3), np.ones(3), 0.5), TypeError,
     "dropout_backward: mask must have dtype uint8 or bool; got float64"),
    (lambda d: d.dropout_backward(np.ones(3, int), None, 0.5), TypeError,
     "dropout_backward: dy must have dtype"),
    (lambda d: d.dropout_backward(np.ones(3), None, 0.0), ValueError,
     "dropout_backward: keep_prob must be in"),
])
def test_bad_input(impl, call, exc, match):
    with pytest.raises(exc, match=match):
        call(impl)
