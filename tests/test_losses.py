"""Softmax and losses against the course's formulas, hand values, gradient checks, bad input."""
import math
import warnings

import numpy as np
import pytest

from conftest import FLOATS, assert_grad, tol

REDUCTIONS = ["mean", "sum", "none"]


def naive_softmax_rows(x):
    """Softmax of each row of a 2-D array, one row at a time (max-subtracted, float64)."""
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    for i, row in enumerate(x):
        e = np.exp(row - row.max())
        out[i] = e / e.sum()
    return out


def naive_softmax(x, axis):
    moved = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    rows = naive_softmax_rows(moved.reshape(-1, moved.shape[-1]))
    return np.moveaxis(rows.reshape(moved.shape), -1, axis)


def reduce_course(per_item, reduction):
    return {"mean": lambda: sum(per_item.ravel()) / per_item.size,
            "sum": lambda: sum(per_item.ravel()),
            "none": lambda: per_item}[reduction]()


# --- softmax ------------------------------------------------------------------------------

@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_and_log_softmax_any_axis(impl, axis, dtype, rng):
    x = rng.uniform(-5, 5, size=(3, 4, 5)).astype(dtype)
    expected = naive_softmax(x, axis)
    y = impl.softmax(x, axis=axis)
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_allclose(y, expected, **tol(dtype))
    np.testing.assert_allclose(np.exp(impl.log_softmax(x, axis=axis).astype(np.float64)),
                               expected, **tol(dtype))
    np.testing.assert_allclose(impl.log_softmax(x, axis=axis), np.log(expected), **tol(dtype))


def test_softmax_rows_sum_to_one_float32(impl, rng):
    x = rng.uniform(-20, 20, size=(64, 1000)).astype(np.float32)
    sums = impl.softmax(x).astype(np.float64).sum(axis=1)
    np.testing.assert_allclose(sums, 1.0, atol=1e-6, rtol=0)


@pytest.mark.parametrize("dtype", FLOATS)
def test_extreme_logits_no_warnings(impl, dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            y = impl.softmax(x)
            log_y = impl.log_softmax(x)
            loss, grad = impl.softmax_cross_entropy(x, np.array([1, 0]), reduction="none")
    np.testing.assert_array_equal(y[0], [1, 0, 0])
    np.testing.assert_allclose(y[1], [1 / 3] * 3, **tol(dtype))
    np.testing.assert_allclose(log_y[0], [0, -2e4, -1e4], **tol(dtype))
    np.testing.assert_allclose(loss, [2e4, math.log(3)], **tol(dtype))
    np.testing.assert_allclose(grad[0], [1, -1, 0], **tol(dtype))
    assert np.all(np.isfinite(grad))


def test_softmax_out_in_place_noncontiguous_readonly(impl, rng):
    base = rng.standard_normal((6, 10))
    x = base[:, ::2]
    expected = naive_softmax(x, -1)
    y = impl.softmax(x, out=x)
    assert y is x
    np.testing.assert_allclose(base[:, ::2], expected, **tol(np.float64))
    ro = rng.standard_normal((3, 4))
    ro.flags.writeable = False
    np.testing.assert_allclose(impl.log_softmax(ro), np.log(naive_softmax(ro, -1)),
                               **tol(np.float64))
    assert impl.softmax(np.zeros((0, 5))).shape == (0, 5)


@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_backward_matches_jacobian(impl, axis, dtype, rng):
    y = naive_softmax(rng.standard_normal((4, 6)), axis).astype(dtype)
    dy = rng.standard_normal((4, 6)).astype(dtype)
    # dx_i = sum_j dy_j * dy_j/dx_i, with the softmax Jacobian y_j (delta_ij - y_i)
    ym = np.moveaxis(y.astype(np.float64), axis, -1)
    dym = np.moveaxis(dy.astype(np.float64), axis, -1)
    expected = np.zeros_like(ym)
    for r in range(ym.shape[0]):
        jacobian = np.diag(ym[r]) - np.outer(ym[r], ym[r])
        expected[r] = jacobian @ dym[r]
    got = impl.softmax_backward(dy, y, axis=axis)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, np.moveaxis(expected, -1, axis), **tol(dtype))


@pytest.mark.parametrize("axis", [1, -3])
def test_softmax_backward_gradient_check(impl, axis, rng):
    x = rng.standard_normal((3, 2, 4))
    upstream = rng.standard_normal((3, 2, 4))
    dx = impl.softmax_backward(upstream, impl.softmax(x, axis=axis), axis=axis)
    assert_grad(lambda v: float(np.sum(upstream * impl.softmax(v, axis=axis))), x, dx)


# --- softmax cross-entropy ----------------------------------------------------------------

def course_cross_entropy(logits, labels):
    """-log(e^{z_y} / sum_k e^{z_k}) for each sample, by a loop (moderate logits only)."""
    return np.array([-np.log(np.exp(z[c]) / np.sum(np.exp(z)))
                     for z, c in zip(np.asarray(logits, np.float64), labels)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_cross_entropy_matches_course_formula(impl, reduction, dtype, rng):
    logits = rng.uniform(-4, 4, size=(7, 5)).astype(dtype)
    labels = rng.integers(0, 5, size=7)
    loss, dlogits = impl.softmax_cross_entropy(logits, labels, reduction=reduction)
    expected = reduce_course(course_cross_entropy(logits, labels), reduction)
    np.testing.assert_allclose(loss, expected, **tol(dtype))
    assert np.asarray(loss).dtype == dtype and dlogits.dtype == dtype
    if reduction != "none":
        assert np.ndim(loss) == 0 and isinstance(loss, np.generic)
    one_hot = np.eye(5)[labels]
    scale = 1 / 7 if reduction == "mean" else 1.0
    np.testing.assert_allclose(dlogits, (naive_softmax_rows(logits) - one_hot) * scale,
                               **tol(dtype))


@pytest.mark.parametrize("k", [1, 2, 10, 1000])
def test_cross_entropy_of_uniform_logits_is_log_k(impl, k):
    loss, dlogits = impl.softmax_cross_entropy(np.full((3, k), 2.5, np.float32),
                                               np.zeros(3, np.uint8))
    assert loss == pytest.approx(math.log(k), rel=1e-6, abs=1e-7)
    np.testing.assert_allclose(dlogits[:, 1:], 1 / (3 * k), rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_dtype", [np.int8, np.int32, np.uint16, np.int64])
def test_int_labels_equal_one_hot(impl, reduction, label_dtype, rng):
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    labels = np.array([0, 3, 1, 1, 2, 3], label_dtype)
    one_hot = np.eye(4, dtype=np.float32)[labels]
    loss_i, grad_i = impl.softmax_cross_entropy(logits, labels, reduction=reduction)
    loss_p, grad_p = impl.softmax_cross_entropy(logits, one_hot, reduction=reduction)
    np.testing.assert_array_equal(loss_i, loss_p)
    np.testing.assert_array_equal(grad_i, grad_p)


def test_list_labels_accepted(impl):
    loss, _ = impl.softmax_cross_entropy(np.zeros((2, 3)), [0, 2], reduction="sum")
    assert loss == pytest.approx(2 * math.log(3), rel=1e-12)


def test_probability_labels_taken_as_given(impl, rng):
    logits = rng.standard_normal((3, 4))
    p = rng.uniform(0, 1, size=(3, 4))                    # rows deliberately not normalised
    loss, _ = impl.softmax_cross_entropy(logits, p, reduction="none")
    expected = [-sum(p[i, k] * np.log(naive_softmax_rows(logits)[i, k]) for k in range(4))
                for i in range(3)]
    np.testing.assert_allclose(loss, expected, **tol(np.float64))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("soft", [False, True])
def test_cross_entropy_gradient_check(impl, reduction, soft, rng):
    logits = rng.standard_normal((5, 3))
    labels = rng.uniform(0, 1, size=(5, 3)) if soft else np.array([2, 0, 1, 1, 2])
    _, dlogits = impl.softmax_cross_entropy(logits, labels, reduction=reduction)
    assert_grad(lambda v: float(np.sum(impl.softmax_cross_entropy(
        v, labels, reduction=reduction)[0])), logits, dlogits)


def test_cross_entropy_empty_batch(impl):
    logits = np.zeros((0, 4), np.float32)
    labels = np.zeros(0, int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean, grad = impl.softmax_cross_entropy(logits, labels)
        total, _ = impl.softmax_cross_entropy(logits, labels, reduction="sum")
        per, _ = impl.softmax_cross_entropy(logits, labels, reduction="none")
    assert np.isnan(mean) and total == 0 and per.shape == (0,) and grad.shape == (0, 4)


LOGITS = np.zeros((3, 4))


@pytest.mark.parametrize("logits,labels,kwargs,exc,match", [
    (LOGITS, np.array([0, 4, 1]), {}, ValueError, r"labels must be class indices in \[0, 4\); got values in \[0, 4\]"),
    (LOGITS, np.array([0, -1, 1]), {}, ValueError, r"softmax_cross_entropy: labels must be class indices"),
    (LOGITS, np.array([0, 1]), {}, ValueError, r"labels must have shape \(3,\)"),
    (LOGITS, np.zeros((3, 4), int), {}, ValueError, r"labels must have shape \(3,\)"),
    (LOGITS, np.zeros((3, 5)), {}, ValueError, r"labels must have shape \(3, 4\)"),
    (LOGITS, np.zeros(3), {}, ValueError, r"labels must have shape \(3, 4\)"),
    (LOGITS, np.zeros((3, 4), np.float32), {}, TypeError, "labels must be integer class indices or have the dtype of logits"),
    (LOGITS, np.zeros(3, bool), {}, TypeError, "got bool"),
    (LOGITS, np.zeros(3, int), dict(reduction="avg"), ValueError, "softmax_cross_entropy: reduction must be one of"),
    (LOGITS, np.zeros(3, int), dict(reduction=None), TypeError, "reduction must be one of"),
    (np.zeros(4), np.zeros(1, int), {}, ValueError, r"logits must be a 2-D array \(N, K\)"),
    (np.zeros((3, 4), int), np.zeros(3, int), {}, TypeError, "logits must have dtype float32 or float64"),
    (np.zeros((3, 0)), np.zeros(3, int), {}, ValueError, "logits must have at least one class"),
])
def test_cross_entropy_bad_input(impl, logits, labels, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        impl.softmax_cross_entropy(logits, labels, **kwargs)


# --- binary cross-entropy -----------------------------------------------------------------

def course_cost(a, y):
    """The course's J = -1/m sum(y log a + (1 - y) log(1 - a)) per element (no reduction)."""
    a = np.asarray(a, np.float64)
    y = np.asarray(y, np.float64)
    return -(y * np.log(a) + (1 - y) * np.log(1 - a))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_bce_matches_course_cost(impl, reduction, dtype, rng):
    a = rng.uniform(0.02, 0.98, size=(1, 9)).astype(dtype)
    y = (rng.uniform(size=(1, 9)) > 0.5).astype(dtype)
    loss, da = impl.binary_cross_entropy(a, y, reduction=reduction)
    np.testing.assert_allclose(loss, reduce_course(course_cost(a, y), reduction), **tol(dtype))
    assert np.asarray(loss).dtype == dtype and da.dtype == dtype and da.shape == a.shape
    a64, y64 = a.astype(np.float64), y.astype(np.float64)
    scale = 1 / 9 if reduction == "mean" else 1.0
    np.testing.assert_allclose(da, (-y64 / a64 + (1 - y64) / (1 - a64)) * scale, **tol(dtype))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_gradient_check(impl, reduction, rng):
    a = rng.uniform(0.05, 0.95, size=(3, 4))
    y = rng.uniform(0, 1, size=(3, 4))                   # soft targets too
    _, da = impl.binary_cross_entropy(a, y, reduction=reduction)
    assert_grad(lambda v: float(np.sum(impl.binary_cross_entropy(v, y, reduction=reduction)[0])),
                a, da)


@pytest.mark.parametrize("dtype", FLOATS)
def test_bce_saturated_predictions_are_clamped(impl, dtype):
    a = np.array([0.0, 1.0, 0.0, 1.0], dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            loss, da = impl.binary_cross_entropy(a, y, reduction="none")
    np.testing.assert_array_equal(loss, [100, 100, 0, 0])       # log clamped at -100
    assert np.all(np.isfinite(da))
    assert da[0] < 0 < da[1]                                     # pushes towards the target
    np.testing.assert_array_equal(da[2:], 0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_bce_with_logits_matches_course(impl, reduction, dtype, rng):
    z = rng.uniform(-6, 6, size=(2, 5)).astype(dtype)
    y = (rng.uniform(size=(2, 5)) > 0.5).astype(dtype)
    a = 1 / (1 + np.exp(-z.astype(np.float64)))
    loss, dz = impl.binary_cross_entropy_with_logits(z, y, reduction=reduction)
    np.testing.assert_allclose(loss, reduce_course(course_cost(a, y), reduction), **tol(dtype))
    scale = 1 / 10 if reduction == "mean" else 1.0
    np.testing.assert_allclose(dz, (a - y) * scale, **tol(dtype))
    assert dz.dtype == dtype


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradient_check(impl, reduction, rng):
    z = rng.uniform(-3, 3, size=(4, 3))
    y = rng.uniform(0, 1, size=(4, 3))
    _, dz = impl.binary_cross_entropy_with_logits(z, y, reduction=reduction)
    assert_grad(lambda v: float(np.sum(impl.binary_cross_entropy_with_logits(
        v, y, reduction=reduction)[0])), z, dz)


@pytest.mark.parametrize("dtype", FLOATS)
def test_bce_with_logits_extreme(impl, dtype):
    z = np.array([1e4, -1e4, 1e4, -1e4], dtype)
    y = np.array([0.0, 1.0, 1.0, 0.0], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            loss, dz = impl.binary_cross_entropy_with_logits(z, y, reduction="none")
    np.testing.assert_array_equal(loss, [1e4, 1e4, 0, 0])
    np.testing.assert_array_equal(dz, [1, -1, 0, 0])


@pytest.mark.parametrize("fn", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_binary_losses_empty_and_odd_shapes(impl, fn, rng):
    mean, grad = getattr(impl, fn)(np.zeros((0, 3)), np.zeros((0, 3)))
    assert np.isnan(mean) and grad.shape == (0, 3)
    x = rng.uniform(0.1, 0.9, size=(2, 3, 5))[..., ::2]          # non-contiguous
    loss, grad = getattr(impl, fn)(x, np.ones_like(x), reduction="none")
    assert loss.shape == grad.shape == (2, 3, 3)


@pytest.mark.parametrize("fn,first", [("binary_cross_entropy", "y_hat"),
                                      ("binary_cross_entropy_with_logits", "z")])
def test_binary_losses_bad_input(impl, fn, first):
    op = getattr(impl, fn)
    good = np.full((2, 3), 0.5)
    with pytest.raises(ValueError, match=rf"{fn}: y must have shape \(2, 3\)"):
        op(good, np.zeros((3, 2)))
    with pytest.raises(TypeError, match=f"{fn}: y must have the dtype of {first}"):
        op(good, good.astype(np.float32))
    with pytest.raises(TypeError, match=f"{fn}: {first} must have dtype float32 or float64; got int64"):
        op(np.zeros((2, 3), int), good)
    with pytest.raises(TypeError, match=f"{fn}: {first} must have dtype .* got complex128"):
        op(np.zeros((2, 3), complex), good)
    with pytest.raises(ValueError, match=f"{fn}: reduction must be one of"):
        op(good, good, reduction="avg")


def test_bce_rejects_non_probabilities(impl):
    with pytest.raises(ValueError, match=r"binary_cross_entropy: y_hat must hold probabilities in \[0, 1\]"):
        impl.binary_cross_entropy(np.array([0.5, 1.5]), np.array([1.0, 0.0]))


# --- L2 penalty ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
def test_l2_penalty_hand_computed(impl, dtype):
    w1 = np.array([[1.0, -2.0], [3.0, 0.0]], dtype)     # squared norm 14
    w2 = np.array([0.5, 0.5, 1.0], dtype)[::2]          # non-contiguous, squared norm 1.25
    cost, grads = impl.l2_penalty([w1, w2], 0.7, 5)
    assert cost == pytest.approx(0.7 / 10 * 15.25, rel=1e-6)
    assert np.asarray(cost).dtype == dtype and len(grads) == 2
    np.testing.assert_allclose(grads[0], 0.14 * w1, **tol(dtype))
    np.testing.assert_allclose(grads[1], 0.14 * w2, **tol(dtype))
    assert grads[1].dtype == dtype and grads[1].shape == (2,)


def test_l2_penalty_gradient_check_and_empty(impl, rng):
    w = rng.standard_normal((3, 4))
    _, (grad,) = impl.l2_penalty((w,), 0.3, 7)
    assert_grad(lambda v: float(impl.l2_penalty([v], 0.3, 7)[0]), w, grad)
    cost, grads = impl.l2_penalty([], 0.3, 7)
    assert cost == 0 and grads == []


@pytest.mark.parametrize("args,exc,match", [
    ((np.zeros((2, 2)), 0.1, 3), TypeError, "l2_penalty: weights must be a list or tuple"),
    (([np.zeros(2), np.zeros(2, np.float32)], 0.1, 3), TypeError, r"weights\[1\] must have the dtype of weights\[0\]"),
    (([np.zeros(2, int)], 0.1, 3), TypeError, r"l2_penalty: weights\[0\] must have dtype"),
    (([np.zeros(2)], -0.1, 3), ValueError, "l2_penalty: lambd must be in"),
    (([np.zeros(2)], "0.1", 3), TypeError, "l2_penalty: lambd must be a real number"),
    (([np.zeros(2)], 0.1, 0), ValueError, "l2_penalty: m must be >= 1"),
    (([np.zeros(2)], 0.1, 2.0), TypeError, "l2_penalty: m must be an int"),
])
def test_l2_penalty_bad_input(impl, args, exc, match):
    with pytest.raises(exc, match=match):
        impl.l2_penalty(*args)


# --- softmax bad input --------------------------------------------------------------------

@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_bad_input(impl, fn):
    op = getattr(impl, fn)
    with pytest.raises(ValueError, match=f"{fn}: axis must be <= 1; got 2"):
        op(np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match=f"{fn}: axis must be >= -2; got -3"):
        op(np.zeros((2, 3)), axis=-3)
    with pytest.raises(TypeError, match=f"{fn}: axis must be an int; got float"):
        op(np.zeros((2, 3)), axis=1.0)
    with pytest.raises(ValueError, match=f"{fn}: x must have at least 1 dimension"):
        op(np.float64(1.0))
    with pytest.raises(TypeError, match=f"{fn}: x must have dtype float32 or float64; got int64"):
        op(np.zeros(3, int))
    with pytest.raises(TypeError, match=f"{fn}: x must have dtype .* got object"):
        op(np.array([object()]))
    with pytest.raises(ValueError, match=rf"{fn}: out must have shape \(2, 3\)"):
        op(np.zeros((2, 3)), out=np.zeros((3, 2)))


def test_softmax_backward_bad_input(impl):
    with pytest.raises(ValueError, match=r"softmax_backward: y must have shape \(2, 3\)"):
        impl.softmax_backward(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="softmax_backward: y must have the dtype of dy"):
        impl.softmax_backward(np.zeros((2, 3)), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="softmax_backward: axis must be <= 1"):
        impl.softmax_backward(np.zeros((2, 3)), np.zeros((2, 3)), axis=2)
