"""Native dense kernels: against the reference, thread determinism of db, layouts, out=,
and that the kernels are really used."""
import numpy as np
import pytest

import fastdl
import fastdl.reference as ref
from conftest import FLOATS, tol

ACTIVATIONS = [None, "relu", "sigmoid", "tanh", "leaky_relu"]


@pytest.mark.parametrize("name", ["linear", "linear_backward"])
def test_kernel_is_used(name):
    assert getattr(fastdl.dense, name).op.has_kernel


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n,fan_in,fan_out", [(0, 3, 2), (1, 1, 1), (33, 17, 65), (300, 64, 130)])
def test_matches_reference(activation, dtype, n, fan_in, fan_out, rng, isa):
    x = rng.uniform(-1, 1, size=(n, fan_in)).astype(dtype)
    w = rng.uniform(-1, 1, size=(fan_out, fan_in)).astype(dtype)
    b = rng.uniform(-1, 1, size=fan_out).astype(dtype)
    dy = rng.standard_normal((n, fan_out)).astype(dtype)
    y = fastdl.linear(x, w, b, activation=activation, alpha=0.2)
    np.testing.assert_allclose(y, ref.linear(x, w, b, activation=activation, alpha=0.2),
                               **tol(dtype))
    got = fastdl.linear_backward(dy, x, w, activation=activation, alpha=0.2, y=y)
    want = ref.linear_backward(dy, x, w, activation=activation, alpha=0.2, y=y)
    for g, r in zip(got, want):
        assert g.dtype == dtype and g.shape == r.shape
        np.testing.assert_allclose(g, r, **tol(dtype))


@pytest.mark.parametrize("activation", [None, "tanh"])
def test_bit_identical_across_threads(activation, rng, isa):
    x = rng.standard_normal((700, 50)).astype(np.float32)
    w = rng.standard_normal((300, 50)).astype(np.float32)
    b = rng.standard_normal(300).astype(np.float32)
    dy = rng.standard_normal((700, 300)).astype(np.float32)
    runs = []
    for n in (1, 2, 3):
        y = fastdl.linear(x, w, b, activation=activation, n_threads=n)
        runs.append((y, *fastdl.linear_backward(dy, x, w, activation=activation, y=y,
                                                 n_threads=n)))
    for other in runs[1:]:
        for a, c in zip(runs[0], other):
            np.testing.assert_array_equal(a, c)


def test_layouts_out_and_need(rng):
    x = rng.standard_normal((40, 30))[:, ::2]              # non-contiguous (40, 15)
    w = np.asfortranarray(rng.standard_normal((20, 15)))
    b = rng.standard_normal(40)[::2]
    x.flags.writeable = False
    expected = ref.linear(x, w, b, activation="sigmoid")
    holder = np.zeros((20, 40))
    out = holder.T
    assert fastdl.linear(x, w, b, activation="sigmoid", out=out) is out
    np.testing.assert_allclose(holder.T, expected, **tol(np.float64))
    out = np.empty((40, 20))
    assert fastdl.linear(x, w, b, activation="relu", out=out) is out
    np.testing.assert_allclose(out, ref.linear(x, w, b, activation="relu"), **tol(np.float64))
    dy = rng.standard_normal((40, 40))[:, ::2]
    for need in (("dx",), ("dw",), ("db",), ("dx", "db")):
        got = fastdl.linear_backward(dy, x, w, activation="relu", y=out, need=need)
        want = ref.linear_backward(dy, x, w, activation="relu", y=out, need=need)
        for g, r in zip(got, want):
            assert (g is None) == (r is None)
            if g is not None:
                np.testing.assert_allclose(g, r, **tol(np.float64))
