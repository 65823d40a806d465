"""linear / linear_backward against explicit loops, gradient checks, and bad input."""
import numpy as np
import pytest

from conftest import FLOATS, assert_grad, tol

ACTIVATIONS = [None, "relu", "sigmoid", "tanh", "leaky_relu"]
ALPHA = 0.2
# (N, in, out): empty batch, single sample, odd and non-square sizes
SHAPES = [(0, 4, 3), (1, 1, 1), (5, 7, 3), (4, 3, 6)]


def course_activation(name, z):
    """The course's activation formulas (float64)."""
    if name is None:
        return z
    return {"relu": lambda: np.where(z > 0, z, 0.0),
            "sigmoid": lambda: 1.0 / (1.0 + np.exp(-z)),
            "tanh": lambda: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z)),
            "leaky_relu": lambda: np.where(z > 0, z, ALPHA * z)}[name]()


def naive_affine(x, w, b):
    """z[n, o] = sum_i x[n, i] w[o, i] + b[o], one output at a time, in float64."""
    n, o = x.shape[0], w.shape[0]
    z = np.zeros((n, o))
    for s in range(n):
        for k in range(o):
            z[s, k] = np.dot(x[s].astype(np.float64), w[k].astype(np.float64))
            z[s, k] += 0.0 if b is None else float(b[k])
    return z


def make_layer(rng, n, fan_in, fan_out, dtype):
    x = rng.uniform(-1, 1, size=(n, fan_in)).astype(dtype)
    w = rng.uniform(-1, 1, size=(fan_out, fan_in)).astype(dtype)
    b = rng.uniform(-1, 1, size=fan_out).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_loops(impl, activation, dtype, shape, rng):
    x, w, b = make_layer(rng, *shape, dtype)
    y = impl.linear(x, w, b, activation=activation, alpha=ALPHA)
    assert y.dtype == dtype and y.shape == (shape[0], shape[2])
    np.testing.assert_allclose(y, course_activation(activation, naive_affine(x, w, b)),
                               **tol(dtype))


def test_no_bias_out_noncontiguous_readonly(impl, rng):
    base = rng.standard_normal((6, 14))
    x = base[:, ::2]                                  # non-contiguous (6, 7)
    w = rng.standard_normal((7, 3)).T                 # transposed view (3, 7)
    x.flags.writeable = False
    expected = naive_affine(x, w, None)
    holder = np.zeros((3, 6))
    out = holder.T                                    # non-contiguous out
    y = impl.linear(x, w, out=out)
    assert y is out
    np.testing.assert_allclose(holder.T, expected, **tol(np.float64))


def test_zero_input_features(impl):
    y = impl.linear(np.zeros((2, 0)), np.zeros((3, 0)), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(y, [[1, 2, 3], [1, 2, 3]])


def test_extreme_preactivations_are_stable(impl):
    x = np.array([[1.0], [-1.0]], np.float32)
    w = np.array([[1e4], [100.0]], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = impl.linear(x, w, activation="sigmoid")
        t = impl.linear(x, w, activation="tanh")
    np.testing.assert_array_equal(s, [[1, 1], [0, s[1, 1]]])
    assert 0 <= s[1, 1] < 1e-40
    np.testing.assert_array_equal(t, [[1, 1], [-1, -1]])


def naive_backward(dy, x, w, z, activation):
    """dx, dw, db by explicit sums over samples and outputs, from the pre-activation z."""
    derivative = {None: np.ones_like(z), "relu": (z > 0) * 1.0,
                  "leaky_relu": np.where(z > 0, 1.0, ALPHA)}.get(activation)
    if activation == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        derivative = s * (1 - s)
    if activation == "tanh":
        derivative = 1 - np.tanh(z) ** 2
    dz = dy.astype(np.float64) * derivative
    n, o = dz.shape
    dx = np.zeros(x.shape)
    dw = np.zeros(w.shape)
    for s in range(n):
        for k in range(o):
            dx[s] += dz[s, k] * w[k]
            dw[k] += dz[s, k] * x[s]
    return dx, dw, dz.sum(axis=0)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_backward_matches_loops(impl, activation, dtype, rng):
    x, w, b = make_layer(rng, 5, 7, 3, dtype)
    dy = rng.standard_normal((5, 3)).astype(dtype)
    z = naive_affine(x, w, b)
    y = course_activation(activation, z).astype(dtype)
    grads = impl.linear_backward(dy, x, w, activation=activation, alpha=ALPHA, y=y)
    for got, want in zip(grads, naive_backward(dy, x, w, z, activation)):
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, **tol(dtype))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_check(impl, activation, rng):
    x, w, b = make_layer(rng, 4, 5, 3, np.float64)
    upstream = rng.standard_normal((4, 3))
    y = impl.linear(x, w, b, activation=activation, alpha=ALPHA)
    assert np.abs(naive_affine(x, w, b)).min() > 1e-3     # away from the ReLU kink
    dx, dw, db = impl.linear_backward(upstream, x, w, activation=activation, alpha=ALPHA, y=y)

    def loss(xv=x, wv=w, bv=b):
        return float(np.sum(upstream * impl.linear(xv, wv, bv, activation=activation,
                                                   alpha=ALPHA)))
    assert_grad(lambda v: loss(xv=v), x, dx)
    assert_grad(lambda v: loss(wv=v), w, dw)
    assert_grad(lambda v: loss(bv=v), b, db)


def test_need_subset_and_kink_conventions(impl):
    x = np.ones((2, 1))
    w = np.ones((3, 1))
    dy = np.ones((2, 3))
    y = np.zeros((2, 3))                                  # output exactly at the kink
    dx, dw, db = impl.linear_backward(dy, x, w, activation="relu", y=y, need=("db",))
    assert dx is None and dw is None
    np.testing.assert_array_equal(db, 0)                  # ReLU'(0) = 0
    _, _, db = impl.linear_backward(dy, x, w, activation="leaky_relu", alpha=0.1, y=y,
                                    need="db")
    np.testing.assert_allclose(db, [0.2, 0.2, 0.2])       # leaky ReLU'(0) = alpha
    _, _, db = impl.linear_backward(dy, x, w, activation="leaky_relu", alpha=0.0, y=y)
    np.testing.assert_array_equal(db, 0)                  # alpha = 0 is allowed


def test_empty_batch_backward(impl):
    dx, dw, db = impl.linear_backward(np.zeros((0, 3)), np.zeros((0, 2)), np.ones((3, 2)))
    assert dx.shape == (0, 2)
    np.testing.assert_array_equal(dw, np.zeros((3, 2)))
    np.testing.assert_array_equal(db, np.zeros(3))


X = np.zeros((4, 5))
W = np.zeros((3, 5))


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(x=np.zeros((2, 4, 5))), ValueError, r"linear: x must be a 2-D array \(N, in\); got shape \(2, 4, 5\)"),
    (dict(x=np.zeros(5)), ValueError, "linear: x must be a 2-D array"),
    (dict(x=np.zeros((4, 5), int)), TypeError, "linear: x must have dtype float32 or float64; got int64"),
    (dict(x=np.zeros((4, 5), complex)), TypeError, "x must have dtype .* got complex128"),
    (dict(x=np.zeros((4, 5), object)), TypeError, "x must have dtype .* got object"),
    (dict(w=np.zeros((3, 4))), ValueError, r"linear: w must have shape \(out, 5\) .*got \(3, 4\)"),
    (dict(w=np.zeros(5)), ValueError, r"linear: w must be a 2-D array \(out, in\)"),
    (dict(w=np.zeros((3, 5), np.float32)), TypeError, "linear: w must have the dtype of x"),
    (dict(b=np.zeros(4)), ValueError, r"linear: b must have shape \(3,\)"),
    (dict(b=np.zeros((1, 3))), ValueError, "linear: b must be a 1-D array"),
    (dict(b=np.zeros(3, np.float32)), TypeError, "linear: b must have the dtype of x"),
    (dict(activation="softplus"), ValueError, "linear: activation must be one of"),
    (dict(activation=3), TypeError, "linear: activation must be one of"),
    (dict(alpha="0.1"), TypeError, "linear: alpha must be a real number; got str"),
    (dict(alpha=float("nan")), ValueError, "linear: alpha must be in"),
    (dict(out=np.zeros((3, 4))), ValueError, r"linear: out must have shape \(4, 3\)"),
    (dict(out=np.zeros((4, 3), np.float32)), TypeError, "linear: out must have dtype float64"),
    (dict(n_threads=0), ValueError, "linear: n_threads must be >= 1"),
    (dict(n_threads=1.5), TypeError, "linear: n_threads must be a positive int"),
])
def test_linear_bad_input(impl, kwargs, exc, match):
    args = dict(x=X, w=W, b=None)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        impl.linear(args.pop("x"), args.pop("w"), args.pop("b"), **args)


DY = np.zeros((4, 3))


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(activation="relu"), ValueError, "linear_backward: y .* is required with activation='relu'"),
    (dict(activation="tanh", y=np.zeros((4, 4))), ValueError, r"linear_backward: y must have shape \(4, 3\)"),
    (dict(activation="tanh", y=np.zeros((4, 3), np.float32)), TypeError, "linear_backward: y must have the dtype of x"),
    (dict(activation="leaky_relu", alpha=-0.1, y=DY), ValueError, "linear_backward: alpha must be in"),
    (dict(alpha="0.1"), TypeError, "linear_backward: alpha must be a real number"),
    (dict(dy=np.zeros((4, 2))), ValueError, r"linear_backward: dy must have shape \(4, 3\)"),
    (dict(dy=np.zeros((4, 3), np.float32)), TypeError, "linear_backward: dy must have the dtype of x"),
    (dict(dy=np.zeros((4, 3), int)), TypeError, "linear_backward: dy must have dtype"),
    (dict(x=np.zeros((4, 5, 1))), ValueError, "linear_backward: x must be a 2-D array"),
    (dict(w=np.zeros((3, 6))), ValueError, r"linear_backward: w must have shape \(out, 5\)"),
    (dict(need=("dx", "dz")), ValueError, "linear_backward: need must hold names from"),
    (dict(need=3), TypeError, "linear_backward: need must be a tuple of names"),
    (dict(n_threads=0), ValueError, "linear_backward: n_threads must be >= 1"),
])
def test_linear_backward_bad_input(impl, kwargs, exc, match):
    args = dict(dy=DY, x=X, w=W)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        impl.linear_backward(args.pop("dy"), args.pop("x"), args.pop("w"), **args)
