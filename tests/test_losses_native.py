"""Native softmax / loss kernels: against the reference, thread determinism, layouts, the
one-hot/int-label equivalence at scale, and that the kernels are really used."""
import numpy as np
import pytest

import fastdl
import fastdl.reference as ref
from conftest import FLOATS, tol

OPS = ["softmax", "log_softmax", "softmax_backward", "softmax_cross_entropy",
       "binary_cross_entropy", "binary_cross_entropy_with_logits", "l2_penalty"]


@pytest.mark.parametrize("name", OPS)
def test_kernel_is_used(name):
    assert getattr(fastdl.losses, name).op.has_kernel


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,axis", [((1, 1), -1), ((7, 1), 1), ((5, 33), -1),
                                        ((3, 4, 5), 0), ((3, 4, 5), 1), ((64, 1000), -1),
                                        ((2, 3, 17), 2)])
def test_softmax_matches_reference(fn, dtype, shape, axis, rng, isa):
    x = rng.uniform(-30, 30, size=shape).astype(dtype)
    got = getattr(fastdl, fn)(x, axis=axis)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, getattr(ref, fn)(x, axis=axis), **tol(dtype))
    dy = rng.standard_normal(shape).astype(dtype)
    y = ref.softmax(x, axis=axis)
    np.testing.assert_allclose(fastdl.softmax_backward(dy, y, axis=axis),
                               ref.softmax_backward(dy, y, axis=axis), **tol(dtype))


def test_softmax_nonfinite_like_reference(isa):
    x = np.array([[0.0, np.nan, 1.0], [np.inf, 0.0, 1.0], [-np.inf, 0.0, 1.0],
                  [-np.inf, -np.inf, -np.inf]])
    with np.errstate(all="ignore"):
        for fn in ("softmax", "log_softmax"):
            np.testing.assert_array_equal(np.isnan(getattr(fastdl, fn)(x)),
                                          np.isnan(getattr(ref, fn)(x)))
        np.testing.assert_allclose(fastdl.softmax(x)[2], ref.softmax(x)[2])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n,k", [(1, 1), (9, 3), (300, 1000), (2000, 10)])
def test_cross_entropy_matches_reference(reduction, dtype, n, k, rng, isa):
    logits = rng.uniform(-20, 20, size=(n, k)).astype(dtype)
    labels = rng.integers(0, k, size=n)
    soft = rng.uniform(0, 1, size=(n, k)).astype(dtype)
    for lab in (labels, soft):
        loss, grad = fastdl.softmax_cross_entropy(logits, lab, reduction=reduction)
        rloss, rgrad = ref.softmax_cross_entropy(logits, lab, reduction=reduction)
        assert np.asarray(loss).dtype == dtype and grad.dtype == dtype
        np.testing.assert_allclose(loss, rloss, **tol(dtype))
        np.testing.assert_allclose(grad, rgrad, **tol(dtype))
    one_hot = np.eye(k, dtype=dtype)[labels]
    a = fastdl.softmax_cross_entropy(logits, labels, reduction=reduction)
    b = fastdl.softmax_cross_entropy(logits, one_hot, reduction=reduction)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("fn", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_binary_losses_match_reference(fn, reduction, dtype, rng):
    shape = (37, 1001)
    if fn == "binary_cross_entropy":
        x = rng.uniform(0, 1, size=shape)
        x[0, :4] = [0, 1, 1e-30, 1 - 1e-16]
    else:
        x = rng.uniform(-40, 40, size=shape)
    x = x.astype(dtype)
    y = rng.uniform(0, 1, size=shape).astype(dtype)
    loss, grad = getattr(fastdl, fn)(x, y, reduction=reduction)
    rloss, rgrad = getattr(ref, fn)(x, y, reduction=reduction)
    k = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(loss, rloss, **k)
    np.testing.assert_allclose(grad, rgrad, **k)


@pytest.mark.parametrize("dtype", FLOATS)
def test_l2_penalty_matches_reference(dtype, rng):
    ws = [rng.standard_normal((300, 201)).astype(dtype), rng.standard_normal(7).astype(dtype),
          rng.standard_normal((40, 60)).astype(dtype)[:, ::3], np.zeros((0, 3), dtype)]
    cost, grads = fastdl.l2_penalty(ws, 0.3, 11)
    rcost, rgrads = ref.l2_penalty(ws, 0.3, 11)
    np.testing.assert_allclose(cost, rcost, rtol=1e-12 if dtype == np.float64 else 1e-6)
    for g, r in zip(grads, rgrads):
        np.testing.assert_array_equal(g, r)             # both round w * (lambd/m) once


def test_bit_identical_across_threads(threads, rng, isa):
    logits = rng.uniform(-5, 5, size=(1500, 300)).astype(np.float32)
    labels = rng.integers(0, 300, size=1500)
    p = rng.uniform(size=(300, 1500)).astype(np.float32)
    t = rng.uniform(size=(300, 1500)).astype(np.float32)
    results = []
    for n in (1, 2, 3):
        threads(n)
        results.append([fastdl.softmax(logits), fastdl.log_softmax(logits, axis=0),
                        fastdl.softmax_backward(t.T, p.T),
                        *fastdl.softmax_cross_entropy(logits, labels),
                        *fastdl.softmax_cross_entropy(logits, labels, reduction="sum"),
                        *fastdl.binary_cross_entropy(p, t),
                        *fastdl.binary_cross_entropy_with_logits(logits, logits * 0.1),
                        fastdl.l2_penalty([logits, p], 0.1, 3)[0]])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_layouts_out_and_readonly(rng):
    base = rng.uniform(-5, 5, size=(30, 40))
    for fn in ("softmax", "log_softmax"):
        expected = getattr(ref, fn)(base)
        for x, view in ((base[:, ::2], lambda a: a[:, ::2]), (base.T, np.transpose)):
            np.testing.assert_allclose(getattr(fastdl, fn)(x), getattr(ref, fn)(x), rtol=1e-12)
        out = np.zeros((40, 30)).T
        assert getattr(fastdl, fn)(base, out=out) is out
        np.testing.assert_allclose(out, expected, rtol=1e-12)
        inplace = base.copy()
        assert getattr(fastdl, fn)(inplace, out=inplace) is inplace
        np.testing.assert_allclose(inplace, expected, rtol=1e-12)
        shifted = np.concatenate([base.ravel(), np.zeros(40)])
        getattr(fastdl, fn)(shifted[:-40].reshape(30, 40), out=shifted[40:].reshape(30, 40))
        np.testing.assert_allclose(shifted[40:].reshape(30, 40), expected, rtol=1e-12)
    ro = base.copy()
    ro.flags.writeable = False
    loss, grad = fastdl.softmax_cross_entropy(ro, np.arange(30) % 40)
    np.testing.assert_allclose(grad, ref.softmax_cross_entropy(base, np.arange(30) % 40)[1],
                               rtol=1e-12, atol=1e-15)
    loss, grad = fastdl.softmax_cross_entropy(base[:, ::2], np.arange(30) % 20)
    np.testing.assert_allclose(loss, ref.softmax_cross_entropy(base[:, ::2],
                                                               np.arange(30) % 20)[0])
    z = fastdl.softmax_cross_entropy(np.zeros((0, 3), np.float32), np.zeros(0, int),
                                     reduction="none")
    assert z[0].shape == (0,) and z[1].shape == (0, 3)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, 1])
def test_other_axis_in_place_strided_and_nonfinite(fn, axis, rng):
    x = rng.uniform(-20, 20, size=(5, 300, 7))
    x[0, 3, 1] = np.nan
    x[1, :, 2] = -np.inf
    with np.errstate(all="ignore"):
        expected = getattr(ref, fn)(x, axis=axis)
        got = getattr(fastdl, fn)(x, axis=axis)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)
        inplace = x.copy()
        assert getattr(fastdl, fn)(inplace, axis=axis, out=inplace) is inplace
        np.testing.assert_array_equal(inplace, got)
        out = np.zeros((7, 300, 5)).T
        getattr(fastdl, fn)(x[:, :, :], axis=axis, out=out)
        np.testing.assert_array_equal(out, got)
        np.testing.assert_array_equal(getattr(fastdl, fn)(x[:, ::2], axis=axis),
                                      getattr(fastdl, fn)(x[:, ::2].copy(), axis=axis))
