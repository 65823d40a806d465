"""Compiled box kernels: format conversion, element-wise and pairwise IoU, NMS, batched NMS.

The caller (``fastdl/boxes.py``) validates every argument; the entries accept any strides
(read-only views included) and write C-contiguous outputs they are given or allocate. The
geometry is evaluated in float64 exactly as the NumPy reference does it (see
``csrc/fastdl_boxes.h``), so IoU values are bit-identical to the reference and NMS keeps the
same boxes, whatever the thread count.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

cnp.import_array()

cdef extern from "fastdl_boxes.h" nogil:
    void fastdl_box_convert_f32(const float *inp, Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t i0,
                                Py_ssize_t i1, int in_fmt, int out_fmt, float *out)
    void fastdl_box_convert_f64(const double *inp, Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t i0,
                                Py_ssize_t i1, int in_fmt, int out_fmt, double *out)
    void fastdl_iou_f32(const float *a, Py_ssize_t as0, Py_ssize_t as1, const float *b,
                        Py_ssize_t bs0, Py_ssize_t bs1, Py_ssize_t i0, Py_ssize_t i1, float *out)
    void fastdl_iou_f64(const double *a, Py_ssize_t as0, Py_ssize_t as1, const double *b,
                        Py_ssize_t bs0, Py_ssize_t bs1, Py_ssize_t i0, Py_ssize_t i1,
                        double *out)
    int fastdl_boxes_soa_f32(const float *bx, Py_ssize_t s0, Py_ssize_t s1, const int64_t *idx,
                             Py_ssize_t n, double *x1, double *y1, double *x2, double *y2,
                             double *area)
    int fastdl_boxes_soa_f64(const double *bx, Py_ssize_t s0, Py_ssize_t s1, const int64_t *idx,
                             Py_ssize_t n, double *x1, double *y1, double *x2, double *y2,
                             double *area)
    void fastdl_box_iou_rows_f32(const float *a, Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t i0,
                                 Py_ssize_t i1, const double *bsoa, Py_ssize_t m, float *out)
    void fastdl_box_iou_rows_f64(const double *a, Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t i0,
                                 Py_ssize_t i1, const double *bsoa, Py_ssize_t m, double *out)
    Py_ssize_t fastdl_visiting_order_f32(const float *scores, Py_ssize_t ss, Py_ssize_t n,
                                         int use_thr, float thr, int64_t *order)
    Py_ssize_t fastdl_visiting_order_f64(const double *scores, Py_ssize_t ss, Py_ssize_t n,
                                         int use_thr, double thr, int64_t *order)
    Py_ssize_t fastdl_nms_soa(const double *x1, const double *y1, const double *x2,
                              const double *y2, const double *area, Py_ssize_t n, double thr,
                              Py_ssize_t limit, int finite, int64_t *kept)

FORMATS = {"xyxy": 0, "xywh": 1, "cxcywh": 2}

cdef enum:
    # Element-wise ops: rows per parallel chunk and the size below which one thread runs.
    ROWS_PER_CHUNK = 16384
    ELEMENTWISE_GRAIN = 65536
    # box_iou: output entries below which one thread runs.
    PAIRWISE_GRAIN = 65536
    # batched NMS: candidates below which the classes run on one thread.
    BATCHED_GRAIN = 4096


cdef inline Py_ssize_t _clamp_threads(Py_ssize_t work, Py_ssize_t grain, Py_ssize_t chunks,
                                      int n_threads) noexcept nogil:
    """Threads for ``work`` items in ``chunks`` chunks: 1 below ``grain``."""
    if work < grain or chunks < 2:
        return 1
    return max(1, min(<Py_ssize_t>n_threads, chunks))


def box_convert(const floating[:, :] boxes,      # IN  (n, 4), any strides
                int in_fmt, int out_fmt,
                floating[:, ::1] out,             # OUT (n, 4)
                int n_threads):
    """Convert ``boxes`` from format code ``in_fmt`` to ``out_fmt`` (0 xyxy, 1 xywh, 2 cxcywh)."""
    cdef Py_ssize_t n = boxes.shape[0], c, i0, i1
    if n == 0:
        return
    cdef Py_ssize_t s0 = boxes.strides[0], s1 = boxes.strides[1]
    cdef Py_ssize_t chunks = (n + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK
    cdef int nt = _clamp_threads(n, ELEMENTWISE_GRAIN, chunks, n_threads)
    with nogil:
        for c in prange(chunks, num_threads=nt, schedule="static"):
            i0 = c * ROWS_PER_CHUNK
            i1 = min(n, i0 + ROWS_PER_CHUNK)
            if floating is float:
                fastdl_box_convert_f32(&boxes[0, 0], s0, s1, i0, i1, in_fmt, out_fmt, &out[0, 0])
            else:
                fastdl_box_convert_f64(&boxes[0, 0], s0, s1, i0, i1, in_fmt, out_fmt, &out[0, 0])


def iou(const floating[:, :] a,                   # IN  (n, 4)
        const floating[:, :] b,                   # IN  (n, 4)
        floating[::1] out,                        # OUT (n,)
        int n_threads):
    """Element-wise IoU of ``a[i]`` and ``b[i]``."""
    cdef Py_ssize_t n = a.shape[0], c, i0, i1
    if n == 0:
        return
    cdef Py_ssize_t chunks = (n + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK
    cdef int nt = _clamp_threads(n, ELEMENTWISE_GRAIN, chunks, n_threads)
    with nogil:
        for c in prange(chunks, num_threads=nt, schedule="static"):
            i0 = c * ROWS_PER_CHUNK
            i1 = min(n, i0 + ROWS_PER_CHUNK)
            if floating is float:
                fastdl_iou_f32(&a[0, 0], a.strides[0], a.strides[1], &b[0, 0], b.strides[0],
                               b.strides[1], i0, i1, &out[0])
            else:
                fastdl_iou_f64(&a[0, 0], a.strides[0], a.strides[1], &b[0, 0], b.strides[0],
                               b.strides[1], i0, i1, &out[0])


def box_iou(const floating[:, :] a,               # IN  (n, 4)
            const floating[:, :] b,               # IN  (m, 4)
            floating[:, ::1] out,                 # OUT (n, m)
            int n_threads):
    """Pairwise IoU: a float64 structure-of-arrays copy of ``b`` (5 doubles per box, the
    only workspace), then one vectorised sweep over it per row of ``a``, rows in parallel."""
    cdef Py_ssize_t n = a.shape[0], m = b.shape[0], c, i0, i1, rows
    if n == 0 or m == 0:
        return
    cdef double[::1] soa = np.empty(5 * m, dtype=np.float64)
    cdef double *p = &soa[0]
    # Row blocks of about 64K outputs: enough blocks to balance two threads.
    rows = max(1, min(n, 65536 // m))
    cdef Py_ssize_t chunks = (n + rows - 1) // rows
    cdef int nt = _clamp_threads(n * m, PAIRWISE_GRAIN, chunks, n_threads)
    with nogil:
        if floating is float:
            fastdl_boxes_soa_f32(&b[0, 0], b.strides[0], b.strides[1], NULL, m,
                                 p, p + m, p + 2 * m, p + 3 * m, p + 4 * m)
        else:
            fastdl_boxes_soa_f64(&b[0, 0], b.strides[0], b.strides[1], NULL, m,
                                 p, p + m, p + 2 * m, p + 3 * m, p + 4 * m)
        for c in prange(chunks, num_threads=nt, schedule="static"):
            i0 = c * rows
            i1 = min(n, i0 + rows)
            if floating is float:
                fastdl_box_iou_rows_f32(&a[0, 0], a.strides[0], a.strides[1], i0, i1, p, m,
                                        &out[0, 0])
            else:
                fastdl_box_iou_rows_f64(&a[0, 0], a.strides[0], a.strides[1], i0, i1, p, m,
                                        &out[0, 0])


cdef Py_ssize_t _visiting_order(const floating[:] scores, bint use_thr, double score_thr,
                                int64_t *order) noexcept nogil:
    """Visiting order of ``scores`` into ``order``; the count, or -1 when out of memory."""
    if floating is float:
        return fastdl_visiting_order_f32(&scores[0], scores.strides[0], scores.shape[0],
                                         use_thr, <float>score_thr, order)
    else:
        return fastdl_visiting_order_f64(&scores[0], scores.strides[0], scores.shape[0],
                                         use_thr, score_thr, order)


cdef int _soa(const floating[:, :] boxes, const int64_t *idx, Py_ssize_t m,
              double *soa) noexcept nogil:
    """Float64 SoA (x1, y1, x2, y2, area; m entries each) of ``boxes[idx]``; 1 if all finite."""
    if floating is float:
        return fastdl_boxes_soa_f32(&boxes[0, 0], boxes.strides[0], boxes.strides[1], idx, m,
                                    soa, soa + m, soa + 2 * m, soa + 3 * m, soa + 4 * m)
    else:
        return fastdl_boxes_soa_f64(&boxes[0, 0], boxes.strides[0], boxes.strides[1], idx, m,
                                    soa, soa + m, soa + 2 * m, soa + 3 * m, soa + 4 * m)


def nms(const floating[:, :] boxes,               # IN  (n, 4), n >= 1
        const floating[:] scores,                 # IN  (n,)
        double iou_threshold,
        bint use_score_threshold,
        double score_threshold,                   # already rounded to the scores' dtype
        Py_ssize_t max_output):                   # < 0: no limit
    """Greedy NMS; returns the kept indices (int64) by decreasing score, ties lower first.

    Stable radix sort of the (thresholded) scores, a float64 SoA copy of the boxes in that
    order, then the grid-indexed greedy pass of ``fastdl_nms_soa`` (serial: each decision
    depends on the previous ones).
    """
    cdef Py_ssize_t n = boxes.shape[0], m, k, j
    cdef cnp.ndarray[int64_t, ndim=1] order = np.empty(n, dtype=np.int64)
    cdef double[::1] soa = np.empty(5 * n, dtype=np.float64)
    cdef int64_t *o = <int64_t *>cnp.PyArray_DATA(order)
    cdef int finite = 1
    with nogil:
        m = _visiting_order(scores, use_score_threshold, score_threshold, o)
        if m > 0:
            finite = _soa(boxes, o, m, &soa[0])
    if m < 0:
        raise MemoryError("nms: out of memory")
    if m == 0:
        return np.empty(0, dtype=np.int64)
    cdef cnp.ndarray[int64_t, ndim=1] kept = np.empty(m, dtype=np.int64)
    cdef int64_t *kp = <int64_t *>cnp.PyArray_DATA(kept)
    with nogil:
        k = fastdl_nms_soa(&soa[0], &soa[m], &soa[2 * m], &soa[3 * m], &soa[4 * m], m,
                           iou_threshold, max_output, finite, kp)
        if k > 0:
            for j in range(k):
                kp[j] = o[kp[j]]
    if k < 0:
        raise MemoryError("nms: out of memory")
    return kept[:k] if 2 * k >= m else kept[:k].copy()


def batched_nms(const floating[:, :] boxes,       # IN  (n, 4), n >= 1
                const floating[:] scores,         # IN  (n,)
                const int64_t[::1] labels,        # IN  (n,) dense class ids in [0, n_classes)
                Py_ssize_t n_classes,
                double iou_threshold,
                bint use_score_threshold,
                double score_threshold,
                Py_ssize_t max_output,
                int n_threads):
    """NMS within each class, merged by visiting order.

    One radix sort of all scores, a stable counting sort of the visiting positions by class,
    one SoA in that grouped order; each class's contiguous segment is then an independent
    greedy NMS (classes in parallel, results independent of the schedule); kept positions are
    flagged and read back in visiting order, up to ``max_output``.
    """
    cdef Py_ssize_t n = boxes.shape[0], m, c, g, p, t, total, lim
    cdef cnp.ndarray[int64_t, ndim=1] order = np.empty(n, dtype=np.int64)
    cdef int64_t *o = <int64_t *>cnp.PyArray_DATA(order)
    with nogil:
        m = _visiting_order(scores, use_score_threshold, score_threshold, o)
    if m < 0:
        raise MemoryError("batched_nms: out of memory")
    if m == 0:
        return np.empty(0, dtype=np.int64)
    cdef int64_t[::1] start = np.zeros(n_classes + 1, dtype=np.int64)
    cdef int64_t[::1] count = np.empty(n_classes, dtype=np.int64)
    cdef int64_t[::1] grouped = np.empty(m, dtype=np.int64)     # visiting positions by class
    cdef int64_t[::1] gidx = np.empty(m, dtype=np.int64)        # their box indices
    cdef int64_t[::1] kept_local = np.empty(m, dtype=np.int64)
    cdef double[::1] soa = np.empty(5 * m, dtype=np.float64)
    cdef cnp.ndarray[cnp.uint8_t, ndim=1] flag = np.zeros(m, dtype=np.uint8)
    cdef cnp.uint8_t *f = <cnp.uint8_t *>cnp.PyArray_DATA(flag)
    cdef int finite
    cdef int nt
    cdef bint oom = False
    with nogil:
        for p in range(m):
            start[labels[o[p]] + 1] += 1
        for c in range(n_classes):
            start[c + 1] += start[c]
        for c in range(n_classes):
            count[c] = start[c]
        for p in range(m):
            c = labels[o[p]]
            grouped[count[c]] = p
            gidx[count[c]] = o[p]
            count[c] += 1
        finite = _soa(boxes, &gidx[0], m, &soa[0])
    nt = _clamp_threads(m, BATCHED_GRAIN, n_classes, n_threads)
    with nogil:
        for c in prange(n_classes, num_threads=nt, schedule="dynamic"):
            if start[c + 1] > start[c]:
                count[c] = fastdl_nms_soa(&soa[start[c]], &soa[m + start[c]],
                                          &soa[2 * m + start[c]], &soa[3 * m + start[c]],
                                          &soa[4 * m + start[c]], start[c + 1] - start[c],
                                          iou_threshold, max_output, finite,
                                          &kept_local[start[c]])
            else:
                count[c] = 0
        for c in range(n_classes):
            if count[c] < 0:
                oom = True
            else:
                for t in range(count[c]):
                    f[grouped[start[c] + kept_local[start[c] + t]]] = 1
    if oom:
        raise MemoryError("batched_nms: out of memory")
    lim = m if max_output < 0 else min(m, max_output)
    cdef cnp.ndarray[int64_t, ndim=1] keep = np.empty(lim, dtype=np.int64)
    cdef int64_t *kp = <int64_t *>cnp.PyArray_DATA(keep)
    total = 0
    with nogil:
        for p in range(m):
            if total >= lim:
                break
            if f[p]:
                kp[total] = o[p]
                total += 1
    return keep[:total] if 2 * total >= lim else keep[:total].copy()
