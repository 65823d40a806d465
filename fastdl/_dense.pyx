"""Compiled passes of the dense layer around NumPy's BLAS GEMMs.

``linear``: after ``x @ w.T`` (BLAS, outside any OpenMP region), one pass over the output adds
the bias and applies the activation (``bias_activation``). ``linear_backward``: one pass
computes ``dz = dy * act'(y)`` and, in the same pass, the column sums of ``dz`` (``db``) in a
fixed number of row chunks, each into its own row of ``partial`` (double); the caller adds
the rows in chunk order, so ``db`` is bit-identical for any thread count. The caller
(``fastdl/dense.py``) validates everything and passes C-contiguous arrays of one dtype.
"""
from cython cimport floating
from cython.parallel cimport prange

cdef extern from "fastdl_activations.h" nogil:
    int FDL_ACT_NONE, FDL_ACT_RELU, FDL_ACT_SIGMOID, FDL_ACT_TANH, FDL_ACT_LEAKY
    void fdl_bias_activation_rows_f32(int kind, float *y, Py_ssize_t ld, const float *b,
                                      Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols,
                                      float alpha)
    void fdl_bias_activation_rows_f64(int kind, double *y, Py_ssize_t ld, const double *b,
                                      Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols,
                                      double alpha)
    void fdl_dz_rows_f32(int kind, const float *dy, Py_ssize_t ld_dy, const float *y,
                         Py_ssize_t ld_y, float *dz, Py_ssize_t ld_dz, double *acc,
                         Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols, float alpha)
    void fdl_dz_rows_f64(int kind, const double *dy, Py_ssize_t ld_dy, const double *y,
                         Py_ssize_t ld_y, double *dz, Py_ssize_t ld_dz, double *acc,
                         Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols, double alpha)

include "_math_isa.pxi"


KINDS = {None: FDL_ACT_NONE, "relu": FDL_ACT_RELU, "sigmoid": FDL_ACT_SIGMOID,
         "tanh": FDL_ACT_TANH, "leaky_relu": FDL_ACT_LEAKY}

cdef enum:
    CHUNK_ELEMENTS = 16384   # minimum elements of one row chunk
    MAX_CHUNKS = 16          # bound on the chunks (db workspace: MAX_CHUNKS x out doubles)
    GRAIN = 65536            # below this many elements, one thread


cdef inline Py_ssize_t _rows_per_chunk(Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    cdef Py_ssize_t r = (CHUNK_ELEMENTS + cols - 1) // max(cols, 1)
    return max(1, max(r, (rows + MAX_CHUNKS - 1) // MAX_CHUNKS))


def chunk_count(Py_ssize_t rows, Py_ssize_t cols):
    """Number of row chunks (rows of ``partial``) for a (rows, cols) output."""
    if rows == 0:
        return 0
    cdef Py_ssize_t rpc = _rows_per_chunk(rows, cols)
    return (rows + rpc - 1) // rpc


def bias_activation(activation, floating[:, ::1] y, const floating[::1] b, double alpha,
                    int n_threads):
    """In place: y[i, :] = act(y[i, :] + b) (b may be None)."""
    cdef int kind = KINDS[activation]
    cdef Py_ssize_t rows = y.shape[0], cols = y.shape[1], rpc, n_chunks, c, r0, r1
    if rows == 0 or cols == 0:
        return
    rpc = _rows_per_chunk(rows, cols)
    n_chunks = (rows + rpc - 1) // rpc
    cdef int nt = 1 if (rows * cols < GRAIN or n_chunks < 2) else <int>min(<Py_ssize_t>n_threads, n_chunks)
    cdef floating *yp = &y[0, 0]
    cdef const floating *bp = &b[0] if b is not None else NULL
    with nogil:
        for c in prange(n_chunks, num_threads=nt, schedule="static"):
            r0 = c * rpc
            r1 = min(rows, r0 + rpc)
            if floating is float:
                fdl_bias_activation_rows_f32(kind, yp, cols, bp, r0, r1, cols, <float>alpha)
            else:
                fdl_bias_activation_rows_f64(kind, yp, cols, bp, r0, r1, cols, alpha)


def activation_grad(activation, const floating[:, ::1] dy, const floating[:, ::1] y,
                    floating[:, ::1] dz, double[:, ::1] partial, double alpha, int n_threads):
    """dz = dy * act'(y) (skipped when dz is None: dz is dy) and, when partial is not None,
    partial[c, :] = column sums of dz over row chunk c (chunk_count(N, out) rows)."""
    cdef int kind = KINDS[activation]
    cdef Py_ssize_t rows = dy.shape[0], cols = dy.shape[1], rpc, n_chunks, c, r0, r1
    if rows == 0 or cols == 0:
        return
    rpc = _rows_per_chunk(rows, cols)
    n_chunks = (rows + rpc - 1) // rpc
    cdef int nt = 1 if (rows * cols < GRAIN or n_chunks < 2) else <int>min(<Py_ssize_t>n_threads, n_chunks)
    cdef const floating *dyp = &dy[0, 0]
    cdef const floating *yp = &y[0, 0] if y is not None else NULL
    cdef floating *dzp = &dz[0, 0] if dz is not None else NULL
    cdef double *pp = &partial[0, 0] if partial is not None else NULL
    with nogil:
        for c in prange(n_chunks, num_threads=nt, schedule="static"):
            r0 = c * rpc
            r1 = min(rows, r0 + rpc)
            if floating is float:
                fdl_dz_rows_f32(kind, dyp, cols, yp, cols, dzp, cols,
                                pp + c * cols if pp != NULL else NULL, r0, r1, cols,
                                <float>alpha)
            else:
                fdl_dz_rows_f64(kind, dyp, cols, yp, cols, dzp, cols,
                                pp + c * cols if pp != NULL else NULL, r0, r1, cols, alpha)
