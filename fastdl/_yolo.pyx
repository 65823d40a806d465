"""Compiled YOLO kernels: grid decoding and the best-class score filter.

The caller (``fastdl/yolo.py``) validates every argument and passes the network output as
its ``(N, Sh, Sw, B, 5 + K)`` view (a transpose for NCHW, never a copy); the kernels read it
through its strides and write C-contiguous outputs.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t

cnp.import_array()

cdef extern from "fastdl_boxes_yolo.h" nogil:
    void fastdl_yolo_decode_f32(const float *pred, const Py_ssize_t *st, Py_ssize_t sh,
                                Py_ssize_t sw, Py_ssize_t nb, Py_ssize_t k,
                                const double *anchors, double scale_w, double scale_h,
                                Py_ssize_t u0, Py_ssize_t u1, float *boxes, float *conf,
                                float *probs, float *scratch)
    void fastdl_yolo_decode_f64(const double *pred, const Py_ssize_t *st, Py_ssize_t sh,
                                Py_ssize_t sw, Py_ssize_t nb, Py_ssize_t k,
                                const double *anchors, double scale_w, double scale_h,
                                Py_ssize_t u0, Py_ssize_t u1, double *boxes, double *conf,
                                double *probs, double *scratch)
    Py_ssize_t fastdl_yolo_best_f32(const float *conf, Py_ssize_t cs, const float *probs,
                                    Py_ssize_t ps, Py_ssize_t m, Py_ssize_t k, float thr,
                                    int probs_nan,
                                    int64_t *idx, float *score, int64_t *cls, int *has_nan)
    Py_ssize_t fastdl_yolo_best_f64(const double *conf, Py_ssize_t cs, const double *probs,
                                    Py_ssize_t ps, Py_ssize_t m, Py_ssize_t k, double thr,
                                    int probs_nan,
                                    int64_t *idx, double *score, int64_t *cls, int *has_nan)

cdef enum:
    # Decoded values (anchor boxes x (5 + K)) below which one thread runs.
    DECODE_GRAIN = 65536


def decode(const floating[:, :, :, :, :] grid,    # IN  (N, Sh, Sw, B, 5 + K), any strides
           const double[:, ::1] anchors,           # IN  (B, 2) in grid cells
           double scale_w, double scale_h,
           floating[:, :, :, :, ::1] boxes,        # OUT (N, Sh, Sw, B, 4)
           floating[:, :, :, :, ::1] conf,         # OUT (N, Sh, Sw, B, 1)
           floating[:, :, :, :, ::1] probs,        # OUT (N, Sh, Sw, B, K)
           int n_threads):
    """Decode every anchor box in one pass over ``grid``; grid rows (N·Sh) in parallel."""
    cdef Py_ssize_t n = grid.shape[0], sh = grid.shape[1], sw = grid.shape[2]
    cdef Py_ssize_t nb = grid.shape[3], depth = grid.shape[4], k = depth - 5
    cdef Py_ssize_t units = n * sh, u
    if units == 0 or sw == 0:
        return
    cdef Py_ssize_t st[5]
    for u in range(5):
        st[u] = grid.strides[u]
    cdef int nt = 1
    if units * sw * nb * depth >= DECODE_GRAIN:
        nt = max(1, min(n_threads, units))
    # per-thread gather buffer for logits that are not contiguous (NCHW)
    cdef floating[:, ::1] scratch = np.empty((nt, k), dtype=np.float32 if floating is float
                                             else np.float64)
    with nogil:
        for u in prange(units, num_threads=nt, schedule="static"):
            if floating is float:
                fastdl_yolo_decode_f32(&grid[0, 0, 0, 0, 0], st, sh, sw, nb, k, &anchors[0, 0],
                                       scale_w, scale_h, u, u + 1, &boxes[0, 0, 0, 0, 0],
                                       &conf[0, 0, 0, 0, 0], &probs[0, 0, 0, 0, 0],
                                       &scratch[threadid(), 0])
            else:
                fastdl_yolo_decode_f64(&grid[0, 0, 0, 0, 0], st, sh, sw, nb, k, &anchors[0, 0],
                                       scale_w, scale_h, u, u + 1, &boxes[0, 0, 0, 0, 0],
                                       &conf[0, 0, 0, 0, 0], &probs[0, 0, 0, 0, 0],
                                       &scratch[threadid(), 0])


def best_classes(const floating[:] conf,         # IN  (M,), any stride
                 const floating[:, ::1] probs,   # IN  (M, K), rows contiguous
                 double threshold,               # already rounded to the dtype
                 bint probs_nan):                # probs holds a NaN (plain loop everywhere)
    """Flat indices, scores and classes of the boxes whose best class score >= threshold,
    and whether a NaN was seen in conf or probs."""
    cdef Py_ssize_t m = conf.shape[0], k = probs.shape[1], cnt
    dtype = np.float32 if floating is float else np.float64
    cdef cnp.ndarray[int64_t, ndim=1] idx = np.empty(m, dtype=np.int64)
    cdef cnp.ndarray[int64_t, ndim=1] cls = np.empty(m, dtype=np.int64)
    cdef floating[::1] score = np.empty(m, dtype=dtype)
    cdef int has_nan = 0
    if m == 0:
        return idx, np.asarray(score), cls, False
    with nogil:
        if floating is float:
            cnt = fastdl_yolo_best_f32(&conf[0], conf.strides[0], &probs[0, 0], probs.strides[0],
                                       m, k, <float>threshold, probs_nan,
                                       <int64_t *>cnp.PyArray_DATA(idx),
                                       &score[0], <int64_t *>cnp.PyArray_DATA(cls), &has_nan)
        else:
            cnt = fastdl_yolo_best_f64(&conf[0], conf.strides[0], &probs[0, 0], probs.strides[0],
                                       m, k, threshold, probs_nan,
                                       <int64_t *>cnp.PyArray_DATA(idx),
                                       &score[0], <int64_t *>cnp.PyArray_DATA(cls), &has_nan)
    return idx[:cnt], np.asarray(score)[:cnt], cls[:cnt], bool(has_nan)
