"""Schedules, initialisation, mini-batches, tuning and gradient checking: hand-computed values,
sample statistics, partition properties and bad input."""
import math

import numpy as np
import pytest

from fastdl import init, schedules, tuning
from conftest import FLOATS

# --- schedules ------------------------------------------------------------------------------


def test_schedule_hand_values():
    assert schedules.inverse_time_decay(0.5, 0, 1.0) == 0.5
    assert schedules.inverse_time_decay(0.5, 2, 1.0) == pytest.approx(0.5 / 3)
    assert schedules.inverse_time_decay(0.3, 10, 0.2) == pytest.approx(0.1)
    assert schedules.exponential_decay(0.1, 3, 0.5) == pytest.approx(0.0125)
    assert schedules.exponential_decay(0.2, 2) == pytest.approx(0.2 * 0.9025)
    assert schedules.inverse_sqrt_decay(0.2, 4, 1.0) == pytest.approx(0.1)
    assert schedules.inverse_sqrt_decay(0.1, 9, 0.3) == pytest.approx(0.01)


def test_staircase_hand_values():
    stepped = schedules.staircase(schedules.inverse_time_decay, 1000)
    # floor(epoch / 1000) stairs: 0 for 0..999, 1 for 1000..1999, 2 at 2500.
    assert stepped(0.5, 0, 1.0) == 0.5
    assert stepped(0.5, 999, 1.0) == 0.5
    assert stepped(0.5, 1000, 1.0) == pytest.approx(0.25)
    assert stepped(0.5, 2500, 1.0) == pytest.approx(0.5 / 3)
    exp_stairs = schedules.staircase(schedules.exponential_decay, 10)
    assert exp_stairs(1.0, 25, 0.5) == pytest.approx(0.25)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: schedules.inverse_sqrt_decay(0.1, 0, 1.0), ValueError,
     r"inverse_sqrt_decay: epoch must be in \[1, inf\); got 0.0"),
    (lambda: schedules.inverse_time_decay(-0.1, 1, 1.0), ValueError,
     "inverse_time_decay: lr0 must be in"),
    (lambda: schedules.inverse_time_decay(0.1, -1, 1.0), ValueError,
     "inverse_time_decay: epoch must be in"),
    (lambda: schedules.inverse_time_decay(0.1, 1, -1.0), ValueError,
     "inverse_time_decay: decay_rate must be in"),
    (lambda: schedules.exponential_decay(0.1, 1, 0.0), ValueError,
     r"exponential_decay: base must be in \(0, 1\]"),
    (lambda: schedules.exponential_decay(0.1, "1"), TypeError,
     "exponential_decay: epoch must be a real number"),
    (lambda: schedules.staircase(schedules.inverse_time_decay, 0), ValueError,
     r"staircase: time_interval must be in \(0, inf\)"),
    (lambda: schedules.staircase(0.1, 10), TypeError, "staircase: schedule must be callable"),
    (lambda: schedules.staircase(schedules.inverse_time_decay, 10)(0.1, -5, 1.0), ValueError,
     "staircase: epoch must be in"),
])
def test_schedule_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- initialisation -------------------------------------------------------------------------


@pytest.mark.parametrize("fn,gain", [(init.xavier, 1.0), (init.he, 2.0)])
@pytest.mark.parametrize("shape,fan_in,expected_fan_in", [
    ((400, 500), None, 500),                 # dense (out, in)
    ((64, 16, 3, 5), None, 240),             # NCHW conv (K, C, R, S)
    ((3, 5, 16, 64), 240, 240),              # NHWC conv (R, S, C, K): fan_in passed
])
def test_scaled_init_variance(fn, gain, shape, fan_in, expected_fan_in):
    w = fn(shape, fan_in=fan_in, rng=0)
    assert w.shape == shape and w.dtype == np.float64
    n = w.size
    # Sample variance of n normal draws has relative standard error sqrt(2/n) (< 1% here).
    assert w.var() == pytest.approx(gain / expected_fan_in, rel=5 * math.sqrt(2 / n))
    assert abs(w.mean()) < 5 * math.sqrt(gain / expected_fan_in / n)


def test_random_small_and_zeros():
    w = init.random_small((300, 400), rng=1)
    assert w.shape == (300, 400) and w.dtype == np.float64
    assert w.std() == pytest.approx(0.01, rel=0.01)
    assert init.random_small(5, scale=0.0, rng=1).tolist() == [0.0] * 5
    z = init.zeros((2, 3))
    assert z.shape == (2, 3) and z.dtype == np.float64 and not z.any()
    assert init.zeros(4).shape == (4,)


def test_init_rng_forms_and_dtype():
    a = init.he((20, 30), rng=7)
    np.testing.assert_array_equal(a, init.he((20, 30), rng=7))               # seed: repeatable
    np.testing.assert_array_equal(a, init.he((20, 30), rng=np.random.default_rng(7)))
    assert not np.array_equal(a, init.he((20, 30), rng=8))
    gen = np.random.default_rng(0)
    assert not np.array_equal(init.xavier(10, rng=gen), init.xavier(10, rng=gen))  # advances
    f32 = init.he((20, 30), rng=7, dtype=np.float32)
    assert f32.dtype == np.float32
    np.testing.assert_array_equal(f32, a.astype(np.float32))
    assert init.he((0, 5), rng=0).shape == (0, 5)
    assert init.xavier((4, 0), rng=0).shape == (4, 0)


def test_initialize_parameters_shapes_and_methods():
    dims = [5, 4, 3, 1]
    params = init.initialize_parameters(dims, rng=3)
    assert list(params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for layer in range(1, 4):
        W, b = params[f"W{layer}"], params[f"b{layer}"]
        assert W.shape == (dims[layer], dims[layer - 1]) and b.shape == (dims[layer],)
        assert W.dtype == b.dtype == np.float64 and not b.any() and W.std() > 0
    zero = init.initialize_parameters(dims, method="zeros")
    assert all(not a.any() for a in zero.values())
    small = init.initialize_parameters([1000, 200], method="small", rng=0)
    assert small["W1"].std() == pytest.approx(0.01, rel=0.02)
    big = init.initialize_parameters([800, 300], method="xavier", rng=0)
    assert big["W1"].var() == pytest.approx(1 / 800, rel=0.02)
    he = init.initialize_parameters([800, 300], method="he", rng=0)
    assert he["W1"].var() == pytest.approx(2 / 800, rel=0.02)
    np.testing.assert_array_equal(init.initialize_parameters(dims, rng=3)["W2"], params["W2"])
    assert init.initialize_parameters(dims, rng=3, dtype=np.float32)["b1"].dtype == np.float32


@pytest.mark.parametrize("call,exc,match", [
    (lambda: init.xavier((3, 4), fan_in=0), ValueError, "xavier: fan_in must be >= 1; got 0"),
    (lambda: init.he((3, -1)), ValueError, r"he: shape\[1\] must be >= 0; got -1"),
    (lambda: init.he((3, 2.5)), TypeError, r"he: shape\[1\] must be an int"),
    (lambda: init.random_small((3,), scale=-1), ValueError, "random_small: scale must be in"),
    (lambda: init.he((3,), rng="seed"), TypeError,
     "he: rng must be an int seed, a numpy.random.Generator or None; got str"),
    (lambda: init.he((3,), rng=-1), ValueError, "he: rng must be >= 0"),
    (lambda: init.zeros((2,), dtype=np.int32), TypeError,
     "zeros: dtype must be float32 or float64"),
    (lambda: init.initialize_parameters([5, 3], method="uniform"), ValueError,
     "initialize_parameters: method must be one of"),
    (lambda: init.initialize_parameters([5]), ValueError,
     "initialize_parameters: layer_dims must be a list of at least 2"),
    (lambda: init.initialize_parameters([5, 0]), ValueError,
     r"initialize_parameters: layer_dims\[1\] must be >= 1"),
])
def test_init_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- mini-batches ---------------------------------------------------------------------------


def test_mini_batches_partition_axis0(impl):
    m = 150
    X = np.arange(m * 3, dtype=np.float32).reshape(m, 3)        # row i starts with 3 i
    Y = np.arange(m) * 10                                       # 1-D int labels
    batches = impl.random_mini_batches(X, Y, 64, seed=5)
    assert [len(xb) for xb, _ in batches] == [64, 64, 22]
    seen = []
    for xb, yb in batches:
        assert xb.shape[1:] == (3,) and xb.dtype == np.float32 and yb.dtype == Y.dtype
        ids = (xb[:, 0] // 3).astype(int)
        np.testing.assert_array_equal(yb, ids * 10)           # X and Y rows stay paired
        seen.extend(ids)
    assert sorted(seen) == list(range(m))                     # every sample exactly once
    # The documented order: default_rng(seed).permutation(m), then consecutive slices.
    np.testing.assert_array_equal(seen, np.random.default_rng(5).permutation(m))


def test_mini_batches_course_layout_axis1(impl, rng):
    n_x, m = 4, 130
    X = rng.standard_normal((n_x, m))
    Y = (rng.uniform(size=(1, m)) > 0.5).astype(np.float64)
    batches = impl.random_mini_batches(X, Y, batch_size=32, seed=0, axis=1)
    assert [xb.shape for xb, _ in batches] == [(4, 32)] * 4 + [(4, 2)]
    assert [yb.shape for _, yb in batches] == [(1, 32)] * 4 + [(1, 2)]
    cols = np.concatenate([xb for xb, _ in batches], axis=1)
    labels = np.concatenate([yb for _, yb in batches], axis=1)
    order = [int(np.flatnonzero((X == cols[:, [j]]).all(axis=0))[0]) for j in range(m)]
    assert sorted(order) == list(range(m))
    np.testing.assert_array_equal(labels, Y[:, order])
    # axis=-1 means the last axis of each array: the same batches.
    again = impl.random_mini_batches(X, Y, batch_size=32, seed=0, axis=-1)
    for (a, b), (c, d) in zip(batches, again):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_mini_batches_determinism_and_edge_sizes(impl):
    X, Y = np.arange(40.0).reshape(20, 2), np.arange(20)
    first = [yb.tolist() for _, yb in impl.random_mini_batches(X, Y, 7, seed=3)]
    assert first == [yb.tolist() for _, yb in impl.random_mini_batches(X, Y, 7, seed=3)]
    assert first != [yb.tolist() for _, yb in impl.random_mini_batches(X, Y, 7, seed=4)]
    assert [len(b) for b in first] == [7, 7, 6]
    assert len(impl.random_mini_batches(X, Y, 20)) == 1                # exact fit
    assert [len(y) for _, y in impl.random_mini_batches(X, Y, 100)] == [20]
    assert impl.random_mini_batches(X[:0], Y[:0], 4) == []             # no samples
    ro = X.copy()
    ro.flags.writeable = False
    xb, _ = impl.random_mini_batches(ro[:, ::-1], Y, 20, seed=3)[0]    # read-only, strided
    assert sorted(xb[:, 1].tolist()) == X[:, 0].tolist()


@pytest.mark.parametrize("args,kwargs,exc,match", [
    ((np.zeros((10, 2)), np.zeros(9)), {}, ValueError,
     r"random_mini_batches: Y must have as many samples as X along axis 0 \(10\)"),
    ((np.zeros((2, 10)), np.zeros((1, 9))), {"axis": 1}, ValueError, "Y must have as many"),
    ((np.zeros((10, 2)), np.zeros(10)), {"batch_size": 0}, ValueError,
     "random_mini_batches: batch_size must be >= 1; got 0"),
    ((np.zeros((10, 2)), np.zeros(10)), {"batch_size": 2.0}, TypeError,
     "random_mini_batches: batch_size must be an int"),
    ((np.zeros((2, 10)), np.zeros(10)), {"axis": 1}, ValueError,
     r"random_mini_batches: axis must be a valid axis of Y \(shape \(10,\)\); got 1"),
    ((np.zeros((10, 2)), np.zeros(10)), {"axis": 2}, ValueError, "axis must be a valid axis of X"),
    ((np.zeros(3), np.zeros(3)), {"seed": "x"}, TypeError, "random_mini_batches: seed must be"),
    ((np.array(["a", "b"]), np.zeros(2)), {}, TypeError,
     "random_mini_batches: X must have a numeric dtype"),
    ((np.zeros(2), np.array([None, None])), {}, TypeError,
     "Y must have a numeric dtype; got object"),
    ((np.float64(1.0), np.zeros(1)), {}, ValueError, "X must have at least 1 dimension"),
])
def test_mini_batches_bad_input(impl, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        impl.random_mini_batches(*args, **kwargs)


# --- tuning ---------------------------------------------------------------------------------


def test_log_uniform_range_and_distribution():
    low, high = 1e-4, 1e-1
    draws = tuning.log_uniform(low, high, size=20000, rng=0)
    assert draws.shape == (20000,) and draws.min() >= low and draws.max() <= high
    logs = np.log10(draws)
    # log10 is uniform on [-4, -1]: mean -2.5, variance 9/12, one third per decade.
    assert logs.mean() == pytest.approx(-2.5, abs=0.02)
    assert logs.var() == pytest.approx(0.75, rel=0.03)
    per_decade = np.histogram(logs, bins=[-4, -3, -2, -1])[0] / draws.size
    np.testing.assert_allclose(per_decade, 1 / 3, atol=0.015)
    one = tuning.log_uniform(0.5, 2.0, rng=1)
    assert isinstance(one, float) and 0.5 <= one <= 2.0
    assert tuning.log_uniform(3.0, 3.0, size=4, rng=0).tolist() == [3.0] * 4
    assert tuning.log_uniform(1, 10, size=(2, 3), rng=0).shape == (2, 3)
    np.testing.assert_array_equal(tuning.log_uniform(1, 10, 5, rng=9),
                                  tuning.log_uniform(1, 10, 5, rng=9))


def test_grid_order():
    assert tuning.grid(lr=[0.1, 0.01], batch_size=[32, 64, 128]) == [
        {"lr": 0.1, "batch_size": 32}, {"lr": 0.1, "batch_size": 64},
        {"lr": 0.1, "batch_size": 128}, {"lr": 0.01, "batch_size": 32},
        {"lr": 0.01, "batch_size": 64}, {"lr": 0.01, "batch_size": 128}]
    assert tuning.grid() == [{}]
    assert tuning.grid(a=[1, 2], b=[]) == []
    assert tuning.grid(act=("relu", "tanh")) == [{"act": "relu"}, {"act": "tanh"}]


def test_random_search():
    space = {"lr": (1e-5, 1e-1, "log"), "keep_prob": (0.5, 1.0, "linear"),
             "layers": [1, 2, 3], "act": ["relu", "tanh"]}
    configs = tuning.random_search(space, 2000, rng=0)
    assert len(configs) == 2000 and all(list(c) == list(space) for c in configs)
    lrs = np.array([c["lr"] for c in configs])
    assert lrs.min() >= 1e-5 and lrs.max() <= 1e-1
    assert np.log10(lrs).mean() == pytest.approx(-3.0, abs=0.1)      # log-uniform
    keep = np.array([c["keep_prob"] for c in configs])
    assert keep.min() >= 0.5 and keep.max() <= 1.0
    assert keep.mean() == pytest.approx(0.75, abs=0.01)             # uniform
    assert {c["layers"] for c in configs} == {1, 2, 3}
    assert {c["act"] for c in configs} == {"relu", "tanh"}
    assert tuning.random_search(space, 5, rng=3) == tuning.random_search(space, 5, rng=3)
    assert tuning.random_search(space, 0) == []


@pytest.mark.parametrize("call,exc,match", [
    (lambda: tuning.log_uniform(0, 1), ValueError, r"log_uniform: low must be in \(0, inf\)"),
    (lambda: tuning.log_uniform(1, -1), ValueError, "log_uniform: high must be in"),
    (lambda: tuning.log_uniform(2, 1), ValueError, r"log_uniform: high must be >= low \(2.0\)"),
    (lambda: tuning.grid(lr=0.1), TypeError, "grid: lr must be a list of values; got float"),
    (lambda: tuning.random_search({"lr": (0, 1, "log")}, 3), ValueError,
     "random_search: lr low must be in"),
    (lambda: tuning.random_search({"lr": (1, 2, "exp")}, 3), ValueError,
     "random_search: lr scale must be one of"),
    (lambda: tuning.random_search({"lr": (2, 1, "linear")}, 3), ValueError,
     "random_search: lr needs low <= high"),
    (lambda: tuning.random_search({"lr": 0.1}, 3), TypeError,
     r"random_search: lr must be \(low, high, 'log' \| 'linear'\) or a list"),
    (lambda: tuning.random_search({"act": []}, 3), ValueError, "act must list at least one"),
    (lambda: tuning.random_search({}, -1), ValueError, "random_search: n must be >= 0"),
    (lambda: tuning.random_search([("lr", [1])], 1), TypeError, "space must be a dict"),
])
def test_tuning_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- gradient checking ----------------------------------------------------------------------


def test_two_sided_difference_course_value(impl):
    theta = np.array([1.0])
    g = impl.numerical_gradient(lambda t: float(t[0] ** 3), theta, eps=0.01)
    # Two-sided: ((1.01)^3 - (0.99)^3) / 0.02 = 3.0001; one-sided would give 3.0301.
    assert g[0] == pytest.approx(3.0001, rel=1e-12)
    assert abs(g[0] - 3.0301) > 0.02
    difference = impl.gradient_check(lambda t: float(t[0] ** 3), theta, np.array([3.0]),
                                     eps=0.01)
    assert difference == pytest.approx(0.0001 / 6.0001, rel=1e-9)


def test_numerical_gradient_of_known_function(impl, rng):
    A = rng.standard_normal((3, 4))
    x = rng.standard_normal((3, 4))
    before = x.copy()

    def f(v):
        return float(np.sum(A * v ** 2) + np.sin(v).sum())

    g = impl.numerical_gradient(f, x, eps=1e-6)
    np.testing.assert_allclose(g, 2 * A * x + np.cos(x), rtol=1e-7, atol=1e-8)
    np.testing.assert_array_equal(x, before)                    # restored bit for bit
    assert impl.gradient_check(f, x, 2 * A * x + np.cos(x), eps=1e-6) < 1e-8
    wrong = 2 * A * x
    assert impl.gradient_check(f, x, wrong, eps=1e-6) > 1e-2


def test_numerical_gradient_perturbs_x_in_place_and_restores(impl):
    x = np.array([2.0, -1.0, 0.5])
    weights = np.array([1.0, 2.0, 3.0])
    # A closure over x (as when a layer reads its own weights) sees the perturbation.
    g = impl.numerical_gradient(lambda _: float(weights @ x ** 2), x)
    np.testing.assert_allclose(g, 2 * weights * x, rtol=1e-6)

    def failing(v):
        if v[1] != -1.0:                 # fails while the second entry is perturbed
            raise RuntimeError("boom")
        return 0.0

    snapshot = x.copy()
    with pytest.raises(RuntimeError, match="boom"):
        impl.numerical_gradient(failing, x)
    assert x.tobytes() == snapshot.tobytes()                    # restored bit for bit
    ro = np.array([1.0, 2.0])
    ro.flags.writeable = False
    np.testing.assert_allclose(impl.numerical_gradient(lambda v: float(v @ v), ro), [2, 4],
                               rtol=1e-6)


@pytest.mark.parametrize("dtype", FLOATS)
def test_numerical_gradient_dtypes(impl, dtype):
    x = np.array([[0.5, -1.5], [2.0, 0.25]], dtype=dtype)
    g = impl.numerical_gradient(lambda v: float(np.sum(v.astype(np.float64) ** 2)), x,
                                eps=1e-3)
    assert g.dtype == dtype and g.shape == x.shape
    # Dividing by the step that float32 actually represents keeps the estimate accurate.
    np.testing.assert_allclose(g, 2 * x.astype(np.float64), rtol=1e-6)


def test_gradient_check_zero_and_size_one_results(impl):
    x = np.zeros(3)
    assert impl.gradient_check(lambda v: 1.0, x, np.zeros(3)) == 0.0
    assert impl.gradient_check(lambda v: np.array([v.sum()]), x, np.ones(3)) < 1e-7
    assert impl.gradient_check(lambda v: 0.0, x, np.ones(3)) == pytest.approx(1.0)
    assert math.isnan(impl.gradient_check(lambda v: 0.0, x, np.array([np.inf, 0, 0])))


@pytest.mark.parametrize("call,exc,match", [
    (lambda i: i.numerical_gradient(lambda v: 0.0, np.arange(3)), TypeError,
     "numerical_gradient: x must have dtype float32 or float64; got int64"),
    (lambda i: i.numerical_gradient(lambda v: 0.0, np.zeros(3, complex)), TypeError,
     "got complex128"),
    (lambda i: i.numerical_gradient(lambda v: 0.0, np.zeros(3), eps=0), ValueError,
     r"numerical_gradient: eps must be in \(0, inf\)"),
    (lambda i: i.numerical_gradient(lambda v: v, np.zeros(3)), ValueError,
     "numerical_gradient: f must return a real scalar"),
    (lambda i: i.numerical_gradient("f", np.zeros(3)), TypeError, "f must be callable"),
    (lambda i: i.numerical_gradient(lambda v: 0.0, np.full(2, 1e9, np.float32), eps=1e-7),
     ValueError, "numerical_gradient: eps=1e-07 is below the resolution"),
    (lambda i: i.gradient_check(lambda v: 0.0, np.zeros(3), np.zeros(4)), ValueError,
     r"gradient_check: analytic_grad must have shape \(3,\) \(the shape of x\); got \(4,\)"),
    (lambda i: i.gradient_check(lambda v: 0.0, np.zeros(3), np.zeros(3, int)), TypeError,
     "gradient_check: analytic_grad must have dtype"),
])
def test_gradcheck_bad_input(impl, call, exc, match):
    with pytest.raises(exc, match=match):
        call(impl)


@pytest.mark.parametrize("method,expected_var", [
    ("xavier", 1 / 500), ("he", 2 / 500), ("random_small", 0.01 ** 2)])
def test_init_variance_on_a_million_draws(method, expected_var):
    """Issue 7: the empirical variance is within 2% of the target on 10**6 draws
    (fan_in of a (2000, 500) weight is 500)."""
    w = getattr(init, method)((2000, 500), rng=7)
    assert w.size == 10**6
    assert w.var() == pytest.approx(expected_var, rel=0.02)
    assert abs(w.mean()) < 4 * np.sqrt(expected_var / w.size)
