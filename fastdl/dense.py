"""Dense layer: ``linear`` (affine + fused activation) and ``linear_backward``.

Native path: the GEMMs run on the convolution's direct kernels from 2^17 to 2^22
multiply-adds (:mod:`fastdl._gemm`: on the calling thread, no BLAS thread pool, which
misbehaves on a busy machine) and on NumPy's BLAS outside that range (``x @ w.T`` written
straight into ``out``; no OpenMP region runs around them); :mod:`fastdl._dense` adds the bias
and the activation in ONE pass over the output, and in the backward computes
``dz = dy * act'(y)`` together with the deterministic chunked column sums ``db`` in ONE pass
before the two GEMMs ``dx = dz @ w`` and ``dw = dz.T @ x``. Validation is the reference's
(:mod:`fastdl.reference.dense`).
"""
import numpy as np

from . import _gemm
from ._config import resolve_n_threads
from ._dispatch import implements, load_extension
from ._validation import as_array, check_out, check_same_dtype, check_shape
from .reference import dense as _ref

__all__ = list(_ref.__all__)

_kernels = load_extension("fastdl._dense")


@implements(_ref.linear, _kernels)
def linear(x, w, b=None, *, activation=None, alpha=0.01, out=None, n_threads=None):
    where = "linear"
    x, w = _ref._check_x_w(where, x, w)
    if b is not None:
        b = as_array(where, "b", b, ndim=1, shape_hint="(out,)")
        check_same_dtype(where, "x", x, b=b)
        check_shape(where, "b", b, (w.shape[0],), "(out,) with out = w.shape[0]")
    activation, alpha = _ref._check_activation(where, activation, alpha)
    out = check_out(where, out, (x.shape[0], w.shape[0]), x.dtype)
    n = resolve_n_threads(where, n_threads)

    target = out if out.flags.c_contiguous and not np.may_share_memory(out, x) \
        and not np.may_share_memory(out, w) else np.empty(out.shape, out.dtype)
    _gemm.matmul_nt(np.ascontiguousarray(x), np.ascontiguousarray(w), target)
    if b is not None or activation is not None:
        _kernels.bias_activation(activation, target,
                                 None if b is None else np.ascontiguousarray(b), alpha, n)
    if target is not out:
        out[...] = target
    return out


@implements(_ref.linear_backward, _kernels)
def linear_backward(dy, x, w, *, activation=None, alpha=0.01, y=None,
                    need=("dx", "dw", "db"), n_threads=None):
    where = "linear_backward"
    dy, x, w, activation, alpha, y, need = _ref._check_backward_args(
        where, dy, x, w, activation, alpha, y, need)
    out_shape = (x.shape[0], w.shape[0])
    n = resolve_n_threads(where, n_threads)

    dy = np.ascontiguousarray(dy)
    dz = dy if activation is None else np.empty(out_shape, dy.dtype)
    partial = None
    if "db" in need:
        partial = np.zeros((_kernels.chunk_count(*out_shape), out_shape[1]))
    if activation is not None or partial is not None:
        _kernels.activation_grad(activation, dy,
                                 None if activation is None else np.ascontiguousarray(y),
                                 None if activation is None else dz, partial, alpha, n)
    dx = _gemm.matmul_nn(dz, np.ascontiguousarray(w)) if "dx" in need else None
    dw = _gemm.matmul_tn(dz, np.ascontiguousarray(x)) if "dw" in need else None
    db = None
    if partial is not None:
        total = np.zeros(out_shape[1])
        for row in partial:             # chunk order: bit-identical for any thread count
            total += row
        db = total.astype(dy.dtype, copy=False)
    return dx, dw, db
