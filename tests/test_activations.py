"""Activations against the course's formulas, gradient checks, in-place and bad input."""
import numpy as np
import pytest

from conftest import FLOATS, assert_grad, tol

SHAPES = [(0,), (1,), (7,), (3, 5), (2, 3, 4, 5)]


def naive(name, x, alpha=0.01):
    """Course formulas evaluated in float64 (inputs kept moderate so exp cannot overflow)."""
    x = x.astype(np.float64)
    return {"sigmoid": 1.0 / (1.0 + np.exp(-x)),
            "tanh": (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x)),
            "relu": np.where(x > 0, x, 0.0),
            "leaky_relu": np.where(x > 0, x, alpha * x)}[name]


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_course_formula(impl, name, dtype, shape, rng):
    x = rng.uniform(-8, 8, size=shape).astype(dtype)
    y = getattr(impl, name)(x)
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_allclose(y, naive(name, x), rtol=1e-6 if dtype == np.float32 else 1e-13,
                               atol=1e-7 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("dtype", FLOATS)
def test_extremes_are_stable(impl, dtype):
    x = np.array([-1e4, -100, 100, 1e4, np.inf, -np.inf, np.nan], dtype=dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        s = impl.sigmoid(x)
        t = impl.tanh(x)
    np.testing.assert_array_equal(s[2:6], [1, 1, 1, 0])
    assert s[0] == 0 and 0 <= s[1] < 1e-40
    np.testing.assert_array_equal(t[:6], [-1, -1, 1, 1, 1, -1])
    assert np.isnan(s[-1]) and np.isnan(t[-1])
    assert np.isnan(impl.relu(x)[-1]) and np.isnan(impl.leaky_relu(x)[-1])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu"])
def test_out_in_place_and_noncontiguous(impl, name, rng):
    base = rng.standard_normal((6, 10))
    x = base[:, ::2]                     # non-contiguous view
    expected = naive(name, x)
    got = getattr(impl, name)(x.copy())
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    y = np.asarray(getattr(impl, name)(x, out=x))
    np.testing.assert_allclose(x, expected, rtol=1e-12)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    ro = expected.copy()
    ro.flags.writeable = False
    getattr(impl, name)(ro)            # read-only input accepted


@pytest.mark.parametrize("dtype", FLOATS)
def test_backward_formulas(impl, dtype, rng):
    x = rng.uniform(-3, 3, size=(4, 7)).astype(dtype)
    dy = rng.standard_normal((4, 7)).astype(dtype)
    s, t = naive("sigmoid", x), naive("tanh", x)
    k = tol(dtype)
    np.testing.assert_allclose(impl.sigmoid_backward(dy, s.astype(dtype)), dy * s * (1 - s), **k)
    np.testing.assert_allclose(impl.tanh_backward(dy, t.astype(dtype)), dy * (1 - t**2), **k)
    np.testing.assert_allclose(impl.relu_backward(dy, x), dy * (x > 0), **k)
    np.testing.assert_allclose(impl.leaky_relu_backward(dy, x, 0.2),
                               dy * np.where(x > 0, 1, 0.2), **k)
    for fn in (impl.sigmoid_backward, impl.relu_backward):
        assert fn(dy, x).dtype == dtype


def test_subgradient_conventions(impl):
    x = np.zeros(3)
    dy = np.ones(3)
    np.testing.assert_array_equal(impl.relu_backward(dy, x), 0)       # ReLU'(0) = 0
    np.testing.assert_array_equal(impl.leaky_relu_backward(dy, x, 0.1), 0.1)


@pytest.mark.parametrize("name,from_output", [("sigmoid", True), ("tanh", True),
                                              ("relu", False), ("leaky_relu", False)])
def test_gradient_check(impl, name, from_output, rng):
    x = rng.uniform(-2, 2, size=(3, 4))
    x[np.abs(x) < 1e-3] = 0.5            # keep away from the ReLU kink
    w = rng.standard_normal((3, 4))
    fwd = getattr(impl, name)
    bwd = getattr(impl, name + "_backward")
    analytic = bwd(w, fwd(x) if from_output else x)
    assert_grad(lambda v: float(np.sum(w * fwd(v))), x, analytic)


@pytest.mark.parametrize("bad,exc,match", [
    (np.arange(4), TypeError, r"sigmoid: x must have dtype float32 or float64; got int64"),
    (np.zeros(3, complex), TypeError, "got complex128"),
    (np.array([object()]), TypeError, "got object"),
    (np.zeros(3, np.float16), TypeError, "got float16"),
])
def test_bad_dtype(impl, bad, exc, match):
    with pytest.raises(exc, match=match):
        impl.sigmoid(bad)


def test_bad_out_and_mismatch(impl):
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"relu: out must have shape \(2, 3\)"):
        impl.relu(x, out=np.zeros((3, 2)))
    with pytest.raises(TypeError, match="relu: out must have dtype float64; got float32"):
        impl.relu(x, out=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"tanh_backward: y must have shape \(2, 3\)"):
        impl.tanh_backward(x, np.zeros(6))
    with pytest.raises(TypeError, match="relu_backward: x must have the dtype of dy"):
        impl.relu_backward(x, x.astype(np.float32))
    with pytest.raises(TypeError, match="leaky_relu: alpha must be a real number"):
        impl.leaky_relu(x, "0.1")
