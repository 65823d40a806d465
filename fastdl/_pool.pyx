"""Compiled pooling: max / average / global average pooling, forward and backward.

The caller (``fastdl/pool.py``) validates everything and passes C-contiguous arrays in their
layout's order ((N, C, H, W) or (N, H, W, C)), non-empty, of one float dtype. The kernels are
in ``csrc/fastdl_pool.h``; each entry cuts the work into tasks (NCHW: one (n, c) plane;
NHWC: one output row forward, one band of input rows backward), shares them out with a static
``prange`` and gives each thread its own bounded workspace (a few rows). No task writes where
another one does, and each value is computed in a fixed order, so results do not depend on the
number of threads.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdint cimport int64_t

from fastdl._openmp cimport omp_get_thread_num

cnp.import_array()
fastdl_pool_init(1)

cdef extern from "fastdl_pool.h" nogil:
    ctypedef struct fastdl_pool_geom:
        int64_t N, H, W, C, OH, OW, kh, kw, sh, sw, ph, pw, band
    size_t fastdl_pool_ws_bytes(const fastdl_pool_geom *g)
    void fastdl_pool_init(int on)
    int fastdl_pool_use_avx2
    void fastdl_maxpool_fwd_f32(const float *x, float *y, int64_t *idx,
                                const fastdl_pool_geom *g, int nhwc, int64_t task, void *ws)
    void fastdl_maxpool_fwd_f64(const double *x, double *y, int64_t *idx,
                                const fastdl_pool_geom *g, int nhwc, int64_t task, void *ws)
    void fastdl_avgpool_fwd_f32(const float *x, float *y, const fastdl_pool_geom *g, int nhwc,
                                int count_include_pad, int64_t task, void *ws)
    void fastdl_avgpool_fwd_f64(const double *x, double *y, const fastdl_pool_geom *g,
                                int nhwc, int count_include_pad, int64_t task, void *ws)
    int fastdl_maxpool_bwd_nchw_f32(const float *dy, const float *x, const int64_t *idx,
                                    float *dx, const fastdl_pool_geom *g, int64_t plane,
                                    void *ws)
    int fastdl_maxpool_bwd_nchw_f64(const double *dy, const double *x, const int64_t *idx,
                                    double *dx, const fastdl_pool_geom *g, int64_t plane,
                                    void *ws)
    int64_t fastdl_maxpool_bwd_nhwc_f32(const float *dy, const float *x, const int64_t *idx,
                                        float *dx, const fastdl_pool_geom *g, int64_t task,
                                        void *ws)
    int64_t fastdl_maxpool_bwd_nhwc_f64(const double *dy, const double *x, const int64_t *idx,
                                        double *dx, const fastdl_pool_geom *g, int64_t task,
                                        void *ws)
    int fastdl_maxpool_bwd_nhwc_scatter_f32(const float *dy, const int64_t *idx, float *dx,
                                            const fastdl_pool_geom *g, int64_t n)
    int fastdl_maxpool_bwd_nhwc_scatter_f64(const double *dy, const int64_t *idx, double *dx,
                                            const fastdl_pool_geom *g, int64_t n)
    void fastdl_avgpool_bwd_f32(const float *dy, float *dx, const fastdl_pool_geom *g,
                                int nhwc, int count_include_pad, int64_t task, void *ws)
    void fastdl_avgpool_bwd_f64(const double *dy, double *dx, const fastdl_pool_geom *g,
                                int nhwc, int count_include_pad, int64_t task, void *ws)
    void fastdl_gap_fwd_f32(const float *x, float *y, const fastdl_pool_geom *g, int nhwc,
                            int64_t task)
    void fastdl_gap_fwd_f64(const double *x, double *y, const fastdl_pool_geom *g, int nhwc,
                            int64_t task)
    void fastdl_gap_bwd_f32(const float *share, float *dx, const fastdl_pool_geom *g,
                            int nhwc, int64_t task)
    void fastdl_gap_bwd_f64(const double *share, double *dx, const fastdl_pool_geom *g,
                            int nhwc, int64_t task)

def simd():
    """The vector path in use for float32: "avx2" or "portable"."""
    return "avx2" if fastdl_pool_use_avx2 else "portable"


def _set_simd(bint avx2):
    """Tests: use the AVX2 float32 path when available (True) or the portable one (False)."""
    fastdl_pool_init(avx2)


# Below this many input (or dx) elements, one thread: a parallel region costs microseconds.
GRAIN = 1 << 15
# NHWC backward: aim for at least this many tasks per thread (bands of input rows).
TASKS_PER_THREAD = 4


cdef void _geometry(fastdl_pool_geom *g, Py_ssize_t *in_shape, Py_ssize_t *out_shape,
                    tuple window, bint nhwc):
    """Fill ``g`` from 4-D shapes in layout order and (kh, kw, sh, sw, ph, pw)."""
    if nhwc:
        g.N, g.H, g.W, g.C = in_shape[0], in_shape[1], in_shape[2], in_shape[3]
        g.OH, g.OW = out_shape[1], out_shape[2]
    else:
        g.N = in_shape[0] * in_shape[1]
        g.H, g.W = in_shape[2], in_shape[3]
        g.C = 1
        g.OH, g.OW = out_shape[2], out_shape[3]
    g.kh, g.kw, g.sh, g.sw, g.ph, g.pw = window
    g.band = g.H


cdef int _threads(Py_ssize_t elements, Py_ssize_t tasks, int n_threads):
    """Threads to use: 1 below the grain size, never more than the tasks."""
    if elements < GRAIN or tasks < 2:
        return 1
    return max(1, min(n_threads, tasks))


cdef Py_ssize_t _bands(fastdl_pool_geom *g, int n_threads):
    """Choose the NHWC backward band height (rows per task); returns the number of tasks."""
    cdef Py_ssize_t per_image = 1
    if g.N < TASKS_PER_THREAD * n_threads:
        per_image = min(g.H, (TASKS_PER_THREAD * n_threads + g.N - 1) // g.N)
    g.band = (g.H + per_image - 1) // per_image
    return g.N * ((g.H + g.band - 1) // g.band)


def max_pool_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                     int64_t[:, :, :, ::1] indices, tuple window, bint nhwc, int n_threads):
    """y (and indices if not None) = max pooling of x. window: (kh, kw, sh, sw, ph, pw)."""
    cdef fastdl_pool_geom g
    _geometry(&g, x.shape, y.shape, window, nhwc)
    cdef Py_ssize_t tasks = g.N * g.OH if nhwc else g.N
    cdef int nt = _threads(x.size, tasks, n_threads)
    cdef size_t wsb = fastdl_pool_ws_bytes(&g)
    cdef cnp.ndarray ws_arr = np.empty(nt * wsb, dtype=np.uint8)
    cdef char *ws = <char *>cnp.PyArray_DATA(ws_arr)
    cdef int64_t *ip = &indices[0, 0, 0, 0] if indices is not None else NULL
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef floating *yp = &y[0, 0, 0, 0]
    cdef Py_ssize_t t
    cdef int tid = 0
    with nogil, parallel(num_threads=nt):
        tid = omp_get_thread_num()
        for t in prange(tasks, schedule="static"):
            if floating is float:
                fastdl_maxpool_fwd_f32(xp, yp, ip, &g, nhwc, t, ws + tid * wsb)
            else:
                fastdl_maxpool_fwd_f64(xp, yp, ip, &g, nhwc, t, ws + tid * wsb)


def avg_pool_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y, tuple window,
                     bint count_include_pad, bint nhwc, int n_threads):
    """y = average pooling of x. window: (kh, kw, sh, sw, ph, pw)."""
    cdef fastdl_pool_geom g
    _geometry(&g, x.shape, y.shape, window, nhwc)
    cdef Py_ssize_t tasks = g.N * g.OH if nhwc else g.N
    cdef int nt = _threads(x.size, tasks, n_threads)
    cdef size_t wsb = fastdl_pool_ws_bytes(&g)
    cdef cnp.ndarray ws_arr = np.empty(nt * wsb, dtype=np.uint8)
    cdef char *ws = <char *>cnp.PyArray_DATA(ws_arr)
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef floating *yp = &y[0, 0, 0, 0]
    cdef int incl = count_include_pad
    cdef Py_ssize_t t
    cdef int tid = 0
    with nogil, parallel(num_threads=nt):
        tid = omp_get_thread_num()
        for t in prange(tasks, schedule="static"):
            if floating is float:
                fastdl_avgpool_fwd_f32(xp, yp, &g, nhwc, incl, t, ws + tid * wsb)
            else:
                fastdl_avgpool_fwd_f64(xp, yp, &g, nhwc, incl, t, ws + tid * wsb)


def max_pool_backward(const floating[:, :, :, ::1] dy, const floating[:, :, :, ::1] x,
                      const int64_t[:, :, :, ::1] indices, floating[:, :, :, ::1] dx,
                      tuple window, bint nhwc, int n_threads):
    """dx = max-pool gradient (indices: the forward's argmax, or None to recompute it).

    Returns False if an index lies outside [0, H*W) (dx is then garbage), True otherwise.
    """
    cdef fastdl_pool_geom g
    _geometry(&g, x.shape, dy.shape, window, nhwc)
    cdef Py_ssize_t tasks = _bands(&g, n_threads) if nhwc else g.N
    cdef int nt = _threads(x.size, tasks, n_threads)
    cdef size_t wsb = fastdl_pool_ws_bytes(&g)
    cdef cnp.ndarray ws_arr = np.empty(nt * wsb, dtype=np.uint8)
    cdef char *ws = <char *>cnp.PyArray_DATA(ws_arr)
    cdef int[::1] status = np.zeros(nt, dtype=np.intc)
    cdef int64_t[::1] matches = np.zeros(nt, dtype=np.int64)
    cdef const int64_t *ip = &indices[0, 0, 0, 0] if indices is not None else NULL
    cdef const floating *dyp = &dy[0, 0, 0, 0]
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef floating *dxp = &dx[0, 0, 0, 0]
    cdef Py_ssize_t t
    cdef int tid = 0
    with nogil, parallel(num_threads=nt):
        tid = omp_get_thread_num()
        for t in prange(tasks, schedule="static"):
            if nhwc:
                if floating is float:
                    matches[tid] += fastdl_maxpool_bwd_nhwc_f32(dyp, xp, ip, dxp, &g, t,
                                                                ws + tid * wsb)
                else:
                    matches[tid] += fastdl_maxpool_bwd_nhwc_f64(dyp, xp, ip, dxp, &g, t,
                                                                ws + tid * wsb)
            else:
                if floating is float:
                    status[tid] |= fastdl_maxpool_bwd_nchw_f32(dyp, xp, ip, dxp, &g, t,
                                                               ws + tid * wsb)
                else:
                    status[tid] |= fastdl_maxpool_bwd_nchw_f64(dyp, xp, ip, dxp, &g, t,
                                                               ws + tid * wsb)
    if not nhwc:
        return not np.any(status)
    if np.sum(matches) == g.N * g.OH * g.OW * g.C:
        return True
    # Some given index lies outside its window: scatter image by image instead.
    tasks = g.N
    nt = _threads(x.size, tasks, n_threads)
    status = np.zeros(nt, dtype=np.intc)
    with nogil, parallel(num_threads=nt):
        tid = omp_get_thread_num()
        for t in prange(tasks, schedule="static"):
            if floating is float:
                status[tid] |= fastdl_maxpool_bwd_nhwc_scatter_f32(dyp, ip, dxp, &g, t)
            else:
                status[tid] |= fastdl_maxpool_bwd_nhwc_scatter_f64(dyp, ip, dxp, &g, t)
    return not np.any(status)


def avg_pool_backward(const floating[:, :, :, ::1] dy, floating[:, :, :, ::1] dx,
                      tuple window, bint count_include_pad, bint nhwc, int n_threads):
    """dx = average-pool gradient."""
    cdef fastdl_pool_geom g
    _geometry(&g, dx.shape, dy.shape, window, nhwc)
    cdef Py_ssize_t tasks = _bands(&g, n_threads) if nhwc else g.N
    cdef int nt = _threads(dx.size, tasks, n_threads)
    cdef size_t wsb = fastdl_pool_ws_bytes(&g)
    cdef cnp.ndarray ws_arr = np.empty(nt * wsb, dtype=np.uint8)
    cdef char *ws = <char *>cnp.PyArray_DATA(ws_arr)
    cdef const floating *dyp = &dy[0, 0, 0, 0]
    cdef floating *dxp = &dx[0, 0, 0, 0]
    cdef int incl = count_include_pad
    cdef Py_ssize_t t
    cdef int tid = 0
    with nogil, parallel(num_threads=nt):
        tid = omp_get_thread_num()
        for t in prange(tasks, schedule="static"):
            if floating is float:
                fastdl_avgpool_bwd_f32(dyp, dxp, &g, nhwc, incl, t, ws + tid * wsb)
            else:
                fastdl_avgpool_bwd_f64(dyp, dxp, &g, nhwc, incl, t, ws + tid * wsb)


def global_avg_forward(const floating[:, :, :, ::1] x, floating[:, ::1] y, bint nhwc,
                       int n_threads):
    """y (N, C) = mean of x over H and W (sums in double)."""
    cdef fastdl_pool_geom g
    _geometry(&g, x.shape, x.shape, (1, 1, 1, 1, 0, 0), nhwc)
    cdef Py_ssize_t tasks = g.N * ((g.C + 63) // 64) if nhwc else g.N
    cdef int nt = _threads(x.size, tasks, n_threads)
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef floating *yp = &y[0, 0]
    cdef Py_ssize_t t
    with nogil:
        for t in prange(tasks, schedule="static", num_threads=nt):
            if floating is float:
                fastdl_gap_fwd_f32(xp, yp, &g, nhwc, t)
            else:
                fastdl_gap_fwd_f64(xp, yp, &g, nhwc, t)


def global_avg_backward(const floating[:, ::1] share, floating[:, :, :, ::1] dx, bint nhwc,
                        int n_threads):
    """dx = share (N, C) broadcast over H and W."""
    cdef fastdl_pool_geom g
    _geometry(&g, dx.shape, dx.shape, (1, 1, 1, 1, 0, 0), nhwc)
    cdef Py_ssize_t tasks = g.N
    cdef int nt = _threads(dx.size, tasks, n_threads)
    cdef const floating *sp = &share[0, 0]
    cdef floating *dxp = &dx[0, 0, 0, 0]
    cdef Py_ssize_t t
    with nogil:
        for t in prange(tasks, schedule="static", num_threads=nt):
            if floating is float:
                fastdl_gap_bwd_f32(sp, dxp, &g, nhwc, t)
            else:
                fastdl_gap_bwd_f64(sp, dxp, &g, nhwc, t)
