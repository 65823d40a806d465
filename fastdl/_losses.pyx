"""Compiled softmax, log-softmax, softmax backward, fused softmax cross-entropy, binary
cross-entropies and the L2 penalty.

The caller (``fastdl/losses.py``) validates everything and passes C-contiguous arrays of one
dtype: rows of ``k`` elements for the softmax family, flat runs for the element-wise losses.
Rows (elements) are cut into a fixed number of chunks that depends only on the shape; each
chunk's loss sum is kept in ``partial[c]`` (double) and the partials are added in chunk order
by the caller, so losses are bit-identical for any thread count.
"""
import numpy as np
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t

cdef extern from "fastdl_losses.h" nogil:
    void fdl_softmax_rows_f32(int log, const float *x, float *y, Py_ssize_t r0, Py_ssize_t r1,
                              Py_ssize_t k)
    void fdl_softmax_rows_f64(int log, const double *x, double *y, Py_ssize_t r0,
                              Py_ssize_t r1, Py_ssize_t k)
    void fdl_softmax_backward_rows_f32(const float *dy, const float *y, float *dx,
                                       Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t k)
    void fdl_softmax_backward_rows_f64(const double *dy, const double *y, double *dx,
                                       Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t k)
    double fdl_softmax_ce_rows_f32(const float *z, const int64_t *labels, const float *p,
                                   float *g, float *loss_rows, Py_ssize_t r0, Py_ssize_t r1,
                                   Py_ssize_t k, float scale)
    double fdl_softmax_ce_rows_f64(const double *z, const int64_t *labels, const double *p,
                                   double *g, double *loss_rows, Py_ssize_t r0, Py_ssize_t r1,
                                   Py_ssize_t k, double scale)
    double fdl_binary_ce_f32(int kind, const float *x, const float *t, float *loss_out,
                             float *grad, float scale, Py_ssize_t i0, Py_ssize_t i1, int *bad)
    double fdl_binary_ce_f64(int kind, const double *x, const double *t, double *loss_out,
                             double *grad, double scale, Py_ssize_t i0, Py_ssize_t i1,
                             int *bad)
    void fdl_softmax_cols_f32(int take_log, const float *x, float *y, Py_ssize_t k,
                              Py_ssize_t inner, Py_ssize_t o, Py_ssize_t j0, Py_ssize_t j1)
    void fdl_softmax_cols_f64(int take_log, const double *x, double *y, Py_ssize_t k,
                              Py_ssize_t inner, Py_ssize_t o, Py_ssize_t j0, Py_ssize_t j1)
    double fdl_l2_f32(const float *w, float *g, double c, Py_ssize_t i0, Py_ssize_t i1)
    double fdl_l2_f64(const double *w, double *g, double c, Py_ssize_t i0, Py_ssize_t i1)

include "_math_isa.pxi"


cdef enum:
    CHUNK_ELEMENTS = 16384   # minimum work of one chunk (elements)
    MAX_CHUNKS = 256         # bound on the chunk count (and on the partial-sum workspace)
    GRAIN = 32768            # below this many elements, one thread
    TILE = 256               # inner columns per task of softmax_middle (= FDL_BLOCK)


cdef inline Py_ssize_t _rows_per_chunk(Py_ssize_t rows, Py_ssize_t k) noexcept nogil:
    """Rows per chunk: at least CHUNK_ELEMENTS elements, at most MAX_CHUNKS chunks."""
    cdef Py_ssize_t r = (CHUNK_ELEMENTS + k - 1) // k
    cdef Py_ssize_t r2 = (rows + MAX_CHUNKS - 1) // MAX_CHUNKS
    return max(1, max(r, r2))


cdef inline int _threads(Py_ssize_t work, Py_ssize_t n_chunks, int n_threads) noexcept nogil:
    if work < GRAIN or n_chunks < 2:
        return 1
    return <int>min(<Py_ssize_t>n_threads, n_chunks)


def chunk_count(Py_ssize_t rows, Py_ssize_t k):
    """Number of chunks the row kernels use for ``rows`` rows of ``k`` elements."""
    if rows == 0:
        return 0
    cdef Py_ssize_t rpc = _rows_per_chunk(rows, k)
    return (rows + rpc - 1) // rpc


def softmax_rows(bint log, const floating[:, ::1] x, floating[:, ::1] y, int n_threads):
    """Row-wise softmax (log=False) or log-softmax (log=True) of x into y (y may be x)."""
    cdef Py_ssize_t rows = x.shape[0], k = x.shape[1], rpc, n_chunks, c, r0, r1
    if rows == 0 or k == 0:
        return
    rpc = _rows_per_chunk(rows, k)
    n_chunks = (rows + rpc - 1) // rpc
    cdef int nt = _threads(rows * k, n_chunks, n_threads)
    cdef const floating *xp = &x[0, 0]
    cdef floating *yp = &y[0, 0]
    with nogil:
        for c in prange(n_chunks, num_threads=nt, schedule="static"):
            r0 = c * rpc
            r1 = min(rows, r0 + rpc)
            if floating is float:
                fdl_softmax_rows_f32(log, xp, yp, r0, r1, k)
            else:
                fdl_softmax_rows_f64(log, xp, yp, r0, r1, k)


def softmax_middle(bint log, const floating[:, :, ::1] x, floating[:, :, ::1] y,
                   int n_threads):
    """Softmax / log-softmax along axis 1 of C-contiguous (outer, k, inner) arrays (y may be
    x): tiles of TILE inner columns, vectorised across them."""
    cdef Py_ssize_t outer = x.shape[0], k = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t tiles = (inner + TILE - 1) // TILE, n_tasks = outer * tiles, c, o, j0
    if outer == 0 or k == 0 or inner == 0:
        return
    cdef int nt = _threads(outer * k * inner, n_tasks, n_threads)
    cdef const floating *xp = &x[0, 0, 0]
    cdef floating *yp = &y[0, 0, 0]
    with nogil:
        for c in prange(n_tasks, num_threads=nt, schedule="static"):
            o = c // tiles
            j0 = (c % tiles) * TILE
            if floating is float:
                fdl_softmax_cols_f32(log, xp, yp, k, inner, o, j0, min(inner, j0 + TILE))
            else:
                fdl_softmax_cols_f64(log, xp, yp, k, inner, o, j0, min(inner, j0 + TILE))


def softmax_backward_rows(const floating[:, ::1] dy, const floating[:, ::1] y,
                          floating[:, ::1] dx, int n_threads):
    """dx = y * (dy - sum(dy * y)) row by row."""
    cdef Py_ssize_t rows = dy.shape[0], k = dy.shape[1], rpc, n_chunks, c, r0, r1
    if rows == 0 or k == 0:
        return
    rpc = _rows_per_chunk(rows, k)
    n_chunks = (rows + rpc - 1) // rpc
    cdef int nt = _threads(rows * k, n_chunks, n_threads)
    cdef const floating *dyp = &dy[0, 0]
    cdef const floating *yp = &y[0, 0]
    cdef floating *dxp = &dx[0, 0]
    with nogil:
        for c in prange(n_chunks, num_threads=nt, schedule="static"):
            r0 = c * rpc
            r1 = min(rows, r0 + rpc)
            if floating is float:
                fdl_softmax_backward_rows_f32(dyp, yp, dxp, r0, r1, k)
            else:
                fdl_softmax_backward_rows_f64(dyp, yp, dxp, r0, r1, k)


def softmax_cross_entropy(const floating[:, ::1] logits, const int64_t[::1] labels,
                          const floating[:, ::1] probabilities, floating[:, ::1] grad,
                          floating[::1] loss_rows, double scale, double[::1] partial,
                          int n_threads):
    """Fused softmax cross-entropy. Exactly one of labels / probabilities is given (the other
    None); loss_rows (N,) or None; partial has chunk_count(N, K) entries (chunk loss sums)."""
    cdef Py_ssize_t rows = logits.shape[0], k = logits.shape[1], rpc, n_chunks, c, r0, r1
    if rows == 0:
        return
    rpc = _rows_per_chunk(rows, k)
    n_chunks = (rows + rpc - 1) // rpc
    cdef int nt = _threads(rows * k, n_chunks, n_threads)
    cdef const floating *zp = &logits[0, 0]
    cdef const int64_t *lp = &labels[0] if labels is not None else NULL
    cdef const floating *pp = &probabilities[0, 0] if probabilities is not None else NULL
    cdef floating *gp = &grad[0, 0]
    cdef floating *loss_p = &loss_rows[0] if loss_rows is not None else NULL
    cdef double *part = &partial[0]
    with nogil:
        for c in prange(n_chunks, num_threads=nt, schedule="static"):
            r0 = c * rpc
            r1 = min(rows, r0 + rpc)
            if floating is float:
                part[c] = fdl_softmax_ce_rows_f32(zp, lp, pp, gp, loss_p, r0, r1, k,
                                                  <float>scale)
            else:
                part[c] = fdl_softmax_ce_rows_f64(zp, lp, pp, gp, loss_p, r0, r1, k, scale)


def binary_cross_entropy(int kind, const floating[::1] x, const floating[::1] t,
                         floating[::1] grad, floating[::1] loss, double scale,
                         double[::1] partial, int n_threads):
    """kind 0: BCE of probabilities x; kind 1: BCE with logits x. loss (per element) may be
    None; partial has chunk_count(n, 1) entries. Returns the number of x outside [0, 1]
    (kind 0)."""
    cdef Py_ssize_t n = x.shape[0], per, n_chunks, c, i0, i1
    cdef int bad[MAX_CHUNKS]
    cdef Py_ssize_t total_bad = 0
    if n == 0:
        return 0
    per = _rows_per_chunk(n, 1)
    n_chunks = (n + per - 1) // per
    cdef int nt = _threads(n * 4, n_chunks, n_threads)
    cdef const floating *xp = &x[0]
    cdef const floating *tp = &t[0]
    cdef floating *gp = &grad[0]
    cdef floating *lp = &loss[0] if loss is not None else NULL
    cdef double *part = &partial[0]
    with nogil:
        for c in prange(n_chunks, num_threads=nt, schedule="static"):
            i0 = c * per
            i1 = min(n, i0 + per)
            bad[c] = 0
            if floating is float:
                part[c] = fdl_binary_ce_f32(kind, xp, tp, lp, gp, <float>scale, i0, i1,
                                            &bad[c])
            else:
                part[c] = fdl_binary_ce_f64(kind, xp, tp, lp, gp, scale, i0, i1, &bad[c])
    for c in range(n_chunks):
        total_bad += bad[c]
    return total_bad


def l2_array(const floating[::1] w, floating[::1] g, double c, double[::1] partial,
             int n_threads):
    """g = w * c (computed in double); partial[j] = sum of squares of chunk j."""
    cdef Py_ssize_t n = w.shape[0], per, n_chunks, j, i0, i1
    if n == 0:
        return
    per = _rows_per_chunk(n, 1)
    n_chunks = (n + per - 1) // per
    cdef int nt = _threads(n, n_chunks, n_threads)
    cdef const floating *wp = &w[0]
    cdef floating *gp = &g[0]
    cdef double *part = &partial[0]
    with nogil:
        for j in prange(n_chunks, num_threads=nt, schedule="static"):
            i0 = j * per
            i1 = min(n, i0 + per)
            if floating is float:
                part[j] = fdl_l2_f32(wp, gp, c, i0, i1)
            else:
                part[j] = fdl_l2_f64(wp, gp, c, i0, i1)
