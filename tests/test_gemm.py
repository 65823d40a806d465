"""fastdl._gemm: the small matrix products of the dense layers on the convolution's
kernels, against NumPy's products; bit-identical for any thread count."""
import numpy as np
import pytest

from fastdl import _gemm
from conftest import FLOATS, tol

SHAPES = [(1, 1, 1), (1, 7, 3), (5, 1, 9), (64, 400, 120), (33, 17, 65), (3, 300, 2)]


@pytest.fixture(autouse=True)
def _own_kernels_for_every_size(monkeypatch):
    """Route even the tiny products of these tests through fastdl's kernels."""
    monkeypatch.setattr(_gemm, "BLAS_MAX_TINY", 1)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("m,c,k", SHAPES)
def test_products_match_numpy(m, c, k, dtype):
    rng = np.random.default_rng(m * 1000 + c * 10 + k)
    x = rng.standard_normal((m, c)).astype(dtype)
    w = rng.standard_normal((k, c)).astype(dtype)
    dz = rng.standard_normal((m, k)).astype(dtype)
    out = np.full((m, k), np.nan, dtype)
    assert _gemm.matmul_nt(x, w, out) is out
    np.testing.assert_allclose(out, x.astype(np.float64) @ w.T, **tol(dtype))
    np.testing.assert_allclose(_gemm.matmul_nn(dz, w), dz.astype(np.float64) @ w,
                               **tol(dtype))
    np.testing.assert_allclose(_gemm.matmul_tn(dz, x), dz.T.astype(np.float64) @ x,
                               **tol(dtype))


def test_thread_count_does_not_change_bits():
    """linear and linear_backward on a product of this range: the same bits at 1 and 2
    threads (their own passes are threaded; the products run on the calling thread)."""
    import fastdl
    rng = np.random.default_rng(1)
    x = rng.standard_normal((97, 130)).astype(np.float32)
    w = rng.standard_normal((75, 130)).astype(np.float32)
    b = rng.standard_normal(75).astype(np.float32)
    dy = rng.standard_normal((97, 75)).astype(np.float32)
    runs = []
    for n in (1, 2):
        y = fastdl.linear(x, w, b, activation="relu", n_threads=n)
        runs.append((y,) + fastdl.linear_backward(dy, x, w, activation="relu", y=y,
                                                  n_threads=n))
    for a, c in zip(*runs):
        np.testing.assert_array_equal(a, c)


def test_large_products_go_to_blas(monkeypatch):
    """Above BLAS_MIN_MACS the same calls are NumPy's products (same values)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((40, 50))
    w = rng.standard_normal((30, 50))
    monkeypatch.setattr(_gemm, "BLAS_MIN_MACS", 1)
    out = _gemm.matmul_nt(x, w, np.empty((40, 30)))
    np.testing.assert_array_equal(out, x @ w.T)
    np.testing.assert_array_equal(_gemm.matmul_tn(x, x), x.T @ x)
