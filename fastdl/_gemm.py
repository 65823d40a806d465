"""Small matrix products on the convolution's direct kernels (``fastdl._conv``).

A dense layer's products are 1×1 NHWC convolutions of one "image" whose rows are the batch:
``x @ w.T`` is the forward of x (1, M, 1, in) with the (1, 1, in, out) weights (packed straight
from w's (out, in) rows), ``a @ b`` the same with b as the (1, 1, in, out) weights, and
``a.T @ b`` the weight gradient with a as dy and b as x. Why: from 2^18 multiply-adds on,
NumPy's OpenBLAS splits a product over its own thread pool, and whenever another process
held a core those products took 2–16 ms instead of 0.02–0.05 ms (LeNet's 64 × 400 × 120,
measured here); fastdl's kernel runs them on the calling thread — one thread, because at
these sizes a parallel region's wake-up costs more than it saves (measured: 64 × 64 × 128
in 22 µs on one thread, 98 µs on two, 22 µs in idle OpenBLAS). Results are the same for any
thread count. Products outside [BLAS_MAX_TINY, BLAS_MIN_MACS) go to NumPy: the tiny ones
run on the calling thread there too and the large ones use the BLAS pool well.
"""
import numpy as np

from ._dispatch import load_extension

_kernels = load_extension("fastdl._conv")

# Products with at least BLAS_MIN_MACS or fewer than BLAS_MAX_TINY multiply-adds use
# NumPy's BLAS; the others run here on one thread.
BLAS_MIN_MACS = 1 << 22
BLAS_MAX_TINY = 1 << 17


def _small(m, n, k):
    return (_kernels is not None and BLAS_MAX_TINY <= m * n * k < BLAS_MIN_MACS
            and min(m, n, k) > 0)


def _image(a):
    """(M, C) rows as a (1, M, 1, C) NHWC image."""
    return a.reshape(1, a.shape[0], 1, a.shape[1])


def _geometry(m, c, k):
    return _kernels._Geometry((1, m, 1, c), (1, 1, c, k), True, (1, 1), ((0, 0), (0, 0)),
                              (m, 1))


def matmul_nt(x, w, out):
    """out[...] = x @ w.T for C-contiguous x (M, in), w (out, in), out (M, out)."""
    m, c = x.shape
    k = w.shape[0]
    if not _small(m, k, c):
        np.matmul(x, w.T, out=out)
        return out
    g = _geometry(m, c, k).direct(1, x.itemsize)
    _kernels.conv2d_forward_direct(g, _image(x), None, w.reshape(1, 1, k, c), None,
                                   _image(out), False, 1, True)
    return out


def matmul_nn(a, b):
    """a @ b for C-contiguous a (M, in), b (in, out)."""
    m, c = a.shape
    k = b.shape[1]
    if not _small(m, k, c):
        return a @ b
    out = np.empty((m, k), a.dtype)
    g = _geometry(m, c, k).direct(1, a.itemsize)
    _kernels.conv2d_forward_direct(g, _image(a), None, b.reshape(1, 1, c, k), None,
                                   _image(out), False, 1)
    return out


def matmul_tn(a, b):
    """a.T @ b for C-contiguous a (M, p), b (M, q): the (p, q) sums over the rows."""
    m, p = a.shape
    q = b.shape[1]
    if not _small(p, q, m):
        return a.T @ b
    # weight gradient of the 1×1 convolution of "x" = a (channels p) giving "dy" = b
    # (channels q): dWᵀ[c][k] = Σ_rows a[row][c] · b[row][k]
    out = np.zeros((p, q), a.dtype)
    g = _geometry(m, p, q).direct(1, a.itemsize, False)
    _kernels.conv2d_weight_grad_direct(g, _image(a), _image(b), None, out, 1)
    return out
