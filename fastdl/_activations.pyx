"""Compiled activations: sigmoid, tanh, ReLU, leaky ReLU, forward and backward.

The caller (``fastdl/activations.py``) validates the arguments and passes flat C-contiguous
views of one dtype. The work is cut into fixed slices of ``SLICE`` elements shared out with a
static ``prange``; every element is computed independently (``csrc/fastdl_activations.h``),
so the result does not depend on the thread count.
"""
from cython cimport floating
from cython.parallel cimport prange

cdef extern from "fastdl_activations.h" nogil:
    int FDL_ACT_NONE, FDL_ACT_RELU, FDL_ACT_SIGMOID, FDL_ACT_TANH, FDL_ACT_LEAKY
    void fdl_activation_f32(int kind, const float *x, float *y, Py_ssize_t n, float alpha)
    void fdl_activation_f64(int kind, const double *x, double *y, Py_ssize_t n, double alpha)
    void fdl_activation_backward_f32(int kind, const float *dy, const float *s, float *dx,
                                     Py_ssize_t n, float alpha)
    void fdl_activation_backward_f64(int kind, const double *dy, const double *s, double *dx,
                                     Py_ssize_t n, double alpha)

include "_math_isa.pxi"


KINDS = {"relu": FDL_ACT_RELU, "sigmoid": FDL_ACT_SIGMOID, "tanh": FDL_ACT_TANH,
         "leaky_relu": FDL_ACT_LEAKY}

# Elements per slice (64 KiB of float32 per stream) and the size below which one thread runs
# (a parallel region costs a few microseconds; exp-based ops are worth it earlier).
cdef enum:
    SLICE = 16384
    GRAIN = 131072
    GRAIN_TRANSCENDENTAL = 32768


cdef inline int _threads(int kind, Py_ssize_t n, Py_ssize_t n_slices, int n_threads) noexcept nogil:
    cdef Py_ssize_t grain = GRAIN
    if kind == FDL_ACT_SIGMOID or kind == FDL_ACT_TANH:
        grain = GRAIN_TRANSCENDENTAL
    if n < grain or n_slices < 2:
        return 1
    return <int>min(<Py_ssize_t>n_threads, n_slices)


def forward(str name, const floating[::1] x, floating[::1] y, double alpha, int n_threads):
    """y = act(x) for flat C-contiguous x, y of one dtype (y may be x). n_threads >= 1."""
    cdef int kind = KINDS[name]
    cdef Py_ssize_t n = x.shape[0], n_slices = (n + SLICE - 1) // SLICE, c, start
    cdef int nt = _threads(kind, n, n_slices, n_threads)
    if n == 0:
        return
    cdef const floating *xp = &x[0]
    cdef floating *yp = &y[0]
    with nogil:
        for c in prange(n_slices, num_threads=nt, schedule="static"):
            start = c * SLICE
            if floating is float:
                fdl_activation_f32(kind, xp + start, yp + start, min(SLICE, n - start),
                                   <float>alpha)
            else:
                fdl_activation_f64(kind, xp + start, yp + start, min(SLICE, n - start), alpha)


def backward(str name, const floating[::1] dy, const floating[::1] s, floating[::1] dx,
             double alpha, int n_threads):
    """dx = dy * act'(.) from s (y for sigmoid/tanh, x for the ReLUs); flat C-contiguous."""
    cdef int kind = KINDS[name]
    cdef Py_ssize_t n = dy.shape[0], n_slices = (n + SLICE - 1) // SLICE, c, start
    cdef int nt = _threads(FDL_ACT_RELU, n, n_slices, n_threads)
    if n == 0:
        return
    cdef const floating *dyp = &dy[0]
    cdef const floating *sp = &s[0]
    cdef floating *dxp = &dx[0]
    with nogil:
        for c in prange(n_slices, num_threads=nt, schedule="static"):
            start = c * SLICE
            if floating is float:
                fdl_activation_backward_f32(kind, dyp + start, sp + start, dxp + start,
                                            min(SLICE, n - start), <float>alpha)
            else:
                fdl_activation_backward_f64(kind, dyp + start, sp + start, dxp + start,
                                            min(SLICE, n - start), alpha)


cdef extern from "fastdl_math.h" nogil:
    void fdl_exp_loop_f32(const float *x, float *y, Py_ssize_t n)
    void fdl_exp_loop_f64(const double *x, double *y, Py_ssize_t n)
    void fdl_log_loop_f32(const float *x, float *y, Py_ssize_t n)
    void fdl_log_loop_f64(const double *x, double *y, Py_ssize_t n)
    void fdl_log1p_loop_f32(const float *x, float *y, Py_ssize_t n)
    void fdl_log1p_loop_f64(const double *x, double *y, Py_ssize_t n)


def math_function(str name, const floating[::1] x, floating[::1] y):
    """y = exp, log or log1p of x with the vectorised csrc/fastdl_math.h code (serial; for
    the accuracy tests)."""
    cdef Py_ssize_t n = x.shape[0]
    if n == 0:
        return
    if name not in ("exp", "log", "log1p"):
        raise ValueError(f"math_function: unknown function {name!r}")
    cdef int which = ("exp", "log", "log1p").index(name)
    with nogil:
        if floating is float:
            if which == 0:
                fdl_exp_loop_f32(&x[0], &y[0], n)
            elif which == 1:
                fdl_log_loop_f32(&x[0], &y[0], n)
            else:
                fdl_log1p_loop_f32(&x[0], &y[0], n)
        else:
            if which == 0:
                fdl_exp_loop_f64(&x[0], &y[0], n)
            elif which == 1:
                fdl_log_loop_f64(&x[0], &y[0], n)
            else:
                fdl_log1p_loop_f64(&x[0], &y[0], n)
