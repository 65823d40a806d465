"""Compiled batch normalization: statistics, fused scale-and-shift, backward sums and dx.

The caller (``fastdl/norm.py``) validates everything and passes x (and dy, y, dx) as one of
two views, each with a contiguous last axis and any other strides:

* ``*_cm``: (outer, C, inner), the channel in the middle (NCHW; any axis with inner > 1);
* ``*_cl``: (rows, C), the channel last (NHWC, dense (N, C); any axis with inner == 1).

Reductions (statistics, backward sums) run over chunks fixed by the shape alone, each
writing its own partial, and the partials are merged in chunk order after the parallel
loop: the result is bit-identical for any thread count. Kernels: ``csrc/fastdl_norm.h``.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange, threadid

cnp.import_array()

cdef extern from "fastdl_norm.h" nogil:
    ctypedef struct fastdl_moments:
        double n, mean, m2
    void fastdl_moments_merge(fastdl_moments *a, double nb, double mean_b, double m2_b)
    void fastdl_moments_merge_channels(double na, double *mean_a, double *m2_a, double nb,
                                       const double *mean_b, const double *m2_b,
                                       Py_ssize_t channels)
    void fastdl_bn_stats_row_f32(const float *row, Py_ssize_t inner, fastdl_moments *acc)
    void fastdl_bn_stats_row_f64(const double *row, Py_ssize_t inner, fastdl_moments *acc)
    void fastdl_bn_grad_sums_row_f32(const float *dy, const float *x, Py_ssize_t n, double mean,
                                     double *sum_dy, double *sum_dyxc)
    void fastdl_bn_grad_sums_row_f64(const double *dy, const double *x, Py_ssize_t n,
                                     double mean, double *sum_dy, double *sum_dyxc)
    void fastdl_bn_stats_cl_f32(const float *x, Py_ssize_t sr, Py_ssize_t r0, Py_ssize_t r1,
                                Py_ssize_t channels, double *mean, double *m2, double *scratch)
    void fastdl_bn_stats_cl_f64(const double *x, Py_ssize_t sr, Py_ssize_t r0, Py_ssize_t r1,
                                Py_ssize_t channels, double *mean, double *m2, double *scratch)
    void fastdl_bn_affine_row_f32(const float *x, float *y, Py_ssize_t n, float m, float ml,
                                  float a, float b)
    void fastdl_bn_affine_row_f64(const double *x, double *y, Py_ssize_t n, double m, double ml,
                                  double a, double b)
    void fastdl_bn_affine_cl_f32(const float *x, Py_ssize_t sxr, float *y, Py_ssize_t syr,
                                 Py_ssize_t rows, Py_ssize_t channels, const float *m,
                                 const float *ml, const float *a, const float *b)
    void fastdl_bn_affine_cl_f64(const double *x, Py_ssize_t sxr, double *y, Py_ssize_t syr,
                                 Py_ssize_t rows, Py_ssize_t channels, const double *m,
                                 const double *ml, const double *a, const double *b)
    void fastdl_bn_grad_sums_cl_f32(const float *dy, Py_ssize_t sdr, const float *x,
                                    Py_ssize_t sxr, Py_ssize_t rows, Py_ssize_t channels,
                                    const double *mean, double *sum_dy, double *sum_dyxc)
    void fastdl_bn_grad_sums_cl_f64(const double *dy, Py_ssize_t sdr, const double *x,
                                    Py_ssize_t sxr, Py_ssize_t rows, Py_ssize_t channels,
                                    const double *mean, double *sum_dy, double *sum_dyxc)
    void fastdl_bn_dx_row_f32(const float *dy, const float *x, float *dx, Py_ssize_t n,
                              float m, float a, float b, float k)
    void fastdl_bn_dx_row_f64(const double *dy, const double *x, double *dx, Py_ssize_t n,
                              double m, double a, double b, double k)
    void fastdl_bn_dx_cl_f32(const float *dy, Py_ssize_t sdr, const float *x, Py_ssize_t sxr,
                             float *dx, Py_ssize_t sor, Py_ssize_t rows, Py_ssize_t channels,
                             const float *m, const float *a, const float *b, const float *k)
    void fastdl_bn_dx_cl_f64(const double *dy, Py_ssize_t sdr, const double *x,
                             Py_ssize_t sxr, double *dx, Py_ssize_t sor, Py_ssize_t rows,
                             Py_ssize_t channels, const double *m, const double *a,
                             const double *b, const double *k)
    int fastdl_bn_isa()
    int fastdl_pages_resident(const void *p, size_t n_bytes)
    void fastdl_bn_affine_row_stream_f32(const float *x, float *y, Py_ssize_t n, float m,
                                         float ml, float a, float b)
    void fastdl_bn_affine_row_stream_f64(const double *x, double *y, Py_ssize_t n, double m,
                                         double ml, double a, double b)
    void fastdl_bn_affine_flat_stream_f32(const float *x, float *y, Py_ssize_t n,
                                          Py_ssize_t channels, const float *me,
                                          const float *mle, const float *ae, const float *be)
    void fastdl_bn_affine_flat_stream_f64(const double *x, double *y, Py_ssize_t n,
                                          Py_ssize_t channels, const double *me,
                                          const double *mle, const double *ae,
                                          const double *be)
    void fastdl_bn_dx_row_stream_f32(const float *dy, const float *x, float *dx, Py_ssize_t n,
                                     float m, float a, float b, float k)
    void fastdl_bn_dx_row_stream_f64(const double *dy, const double *x, double *dx,
                                     Py_ssize_t n, double m, double a, double b, double k)
    void fastdl_bn_dx_flat_stream_f32(const float *dy, const float *x, float *dx, Py_ssize_t n,
                                      Py_ssize_t channels, const float *me, const float *ae,
                                      const float *be, const float *ke)
    void fastdl_bn_dx_flat_stream_f64(const double *dy, const double *x, double *dx,
                                      Py_ssize_t n, Py_ssize_t channels, const double *me,
                                      const double *ae, const double *be, const double *ke)


# Values per reduction chunk (statistics, backward sums): large enough that a chunk costs far
# more than its partial's merge, small enough to balance threads. Fixed, so chunks depend on
# the shape only.
cdef enum:
    REDUCE_TARGET = 65536
# At most this many channel-last reduction chunks: bounds the partials to 64 x C doubles.
cdef enum:
    MAX_CL_CHUNKS = 64
# Values per element-wise chunk (normalisation, dx).
cdef enum:
    APPLY_TARGET = 32768
# Below this many values in total, one thread (a parallel region costs a few microseconds).
cdef enum:
    GRAIN = 32768
# Outputs of at least this many bytes are written with non-temporal (streaming) stores: they
# leave the caches anyway, and streaming skips the read of every written line.
cdef enum:
    STREAM_BYTES = 8388608

cdef int _isa = fastdl_bn_isa()
cdef Py_ssize_t _stream_bytes = STREAM_BYTES


def streaming_available():
    """True when the streaming-store kernels (AVX2) run on this CPU."""
    return bool(_isa)


def set_stream_bytes(Py_ssize_t n_bytes):
    """Set the output size from which stores are streaming when the output is already backed
    by memory; 0 streams always (tests force both paths). Returns the previous value."""
    global _stream_bytes
    old = _stream_bytes
    _stream_bytes = n_bytes
    return old


cdef bint _stream(const char *first, Py_ssize_t ndim, Py_ssize_t *shape, Py_ssize_t *strides,
                  Py_ssize_t itemsize) noexcept nogil:
    """Write the output view (first element, shape, byte strides) with streaming stores: when
    it is large and already backed by memory (a fresh allocation's untouched pages fault on
    the first store, and streaming over the zeroed pages is slower than storing normally).
    A stream threshold of 0 streams always (tests)."""
    cdef Py_ssize_t n_values = 1, d
    cdef const char *lo = first
    cdef const char *hi = first
    for d in range(ndim):
        n_values *= shape[d]
        if shape[d] > 1:
            if strides[d] < 0:
                lo += (shape[d] - 1) * strides[d]
            else:
                hi += (shape[d] - 1) * strides[d]
    if _isa == 0 or n_values * itemsize < _stream_bytes:
        return False
    return _stream_bytes == 0 or fastdl_pages_resident(lo, <size_t>(hi - lo + itemsize)) != 0


cdef inline Py_ssize_t _ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return (a + b - 1) // b


cdef inline int _threads(Py_ssize_t work, Py_ssize_t n_chunks, int n_threads) noexcept nogil:
    """Threads for a loop of n_chunks chunks over `work` values: serial below GRAIN."""
    if work < GRAIN or n_chunks < 2:
        return 1
    return max(1, min(<Py_ssize_t>n_threads, n_chunks))


cdef inline Py_ssize_t _cm_rows(Py_ssize_t n_rows, Py_ssize_t inner) noexcept nogil:
    """Rows (o, c) per CM reduction chunk: at least REDUCE_TARGET values, at most MAX_CHUNKS
    chunks (bounds the partials to MAX_CHUNKS x C)."""
    return max(_ceil_div(REDUCE_TARGET, inner), _ceil_div(n_rows, MAX_CL_CHUNKS), <Py_ssize_t>1)


cdef inline Py_ssize_t _cl_rows(Py_ssize_t rows, Py_ssize_t channels) noexcept nogil:
    """Rows per CL reduction chunk."""
    return max(_ceil_div(REDUCE_TARGET, channels), _ceil_div(rows, MAX_CL_CHUNKS), <Py_ssize_t>1)


cdef int _check_last(Py_ssize_t extent, Py_ssize_t stride, Py_ssize_t itemsize) except -1:
    """The kernels read each view's last axis as a contiguous run."""
    if extent > 1 and stride != itemsize:
        raise ValueError("fastdl._norm: internal error: the last axis of a view must be "
                         "contiguous")
    return 0


# --- statistics ---------------------------------------------------------------------------

def stats_cm(const floating[:, :, :] x, int n_threads):
    """Per-channel (mean, sum of squared deviations) of x (outer, C, inner), float64 (C,).

    Chunks are runs of consecutive rows (o, c) in memory order (sequential reads), each with
    per-channel partial moments; channels a chunk does not touch keep n = 0."""
    _check_last(x.shape[2], x.strides[2], sizeof(floating))
    cdef Py_ssize_t outer = x.shape[0], channels = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t so = x.strides[0] // sizeof(floating), sc = x.strides[1] // sizeof(floating)
    cdef Py_ssize_t n_rows = outer * channels, rows = _cm_rows(n_rows, inner)
    cdef Py_ssize_t n_chunks = _ceil_div(n_rows, rows), ch, c, r, o
    cdef fastdl_moments acc
    part_arr = np.zeros((n_chunks, channels, 3), dtype=np.float64)
    cdef double[:, :, ::1] part = part_arr
    mean_arr = np.empty(channels, dtype=np.float64)
    m2_arr = np.empty(channels, dtype=np.float64)
    cdef double[::1] mean = mean_arr, m2 = m2_arr
    cdef int nt = _threads(n_rows * inner, n_chunks, n_threads)
    cdef const floating *xp = &x[0, 0, 0]
    with nogil:
        for ch in prange(n_chunks, num_threads=nt, schedule="static"):
            for r in range(ch * rows, min((ch + 1) * rows, n_rows)):
                o = r // channels
                c = r - o * channels
                if floating is float:
                    fastdl_bn_stats_row_f32(xp + o * so + c * sc, inner,
                                            <fastdl_moments *>&part[ch, c, 0])
                else:
                    fastdl_bn_stats_row_f64(xp + o * so + c * sc, inner,
                                            <fastdl_moments *>&part[ch, c, 0])
        for c in range(channels):        # merge each channel's chunk partials in order
            acc.n = acc.mean = acc.m2 = 0.0
            for ch in range(n_chunks):
                fastdl_moments_merge(&acc, part[ch, c, 0], part[ch, c, 1], part[ch, c, 2])
            mean[c] = acc.mean
            m2[c] = acc.m2
    return mean_arr, m2_arr


def stats_cl(const floating[:, :] x, int n_threads):
    """Per-channel (mean, sum of squared deviations) of x (rows, C), float64 (C,)."""
    _check_last(x.shape[1], x.strides[1], sizeof(floating))
    cdef Py_ssize_t n_rows = x.shape[0], channels = x.shape[1]
    cdef Py_ssize_t sr = x.strides[0] // sizeof(floating)
    cdef Py_ssize_t rows = _cl_rows(n_rows, channels)
    cdef Py_ssize_t n_chunks = _ceil_div(n_rows, rows), ch
    cdef int nt = _threads(n_rows * channels, n_chunks, n_threads)
    part_mean_arr = np.empty((n_chunks, channels), dtype=np.float64)
    part_m2_arr = np.empty((n_chunks, channels), dtype=np.float64)
    scratch_arr = np.empty((nt, 2 * channels), dtype=np.float64)
    cdef double[:, ::1] part_mean = part_mean_arr, part_m2 = part_m2_arr, scratch = scratch_arr
    cdef const floating *xp = &x[0, 0]
    cdef double done
    with nogil:
        for ch in prange(n_chunks, num_threads=nt, schedule="static"):
            if floating is float:
                fastdl_bn_stats_cl_f32(xp, sr, ch * rows, min((ch + 1) * rows, n_rows),
                                       channels, &part_mean[ch, 0], &part_m2[ch, 0],
                                       &scratch[threadid(), 0])
            else:
                fastdl_bn_stats_cl_f64(xp, sr, ch * rows, min((ch + 1) * rows, n_rows),
                                       channels, &part_mean[ch, 0], &part_m2[ch, 0],
                                       &scratch[threadid(), 0])
        done = <double>min(rows, n_rows)
        for ch in range(1, n_chunks):    # merge the chunks in order into chunk 0
            fastdl_moments_merge_channels(done, &part_mean[0, 0], &part_m2[0, 0],
                                          <double>(min((ch + 1) * rows, n_rows) - ch * rows),
                                          &part_mean[ch, 0], &part_m2[ch, 0], channels)
            done += <double>(min((ch + 1) * rows, n_rows) - ch * rows)
    return part_mean_arr[0].copy(), part_m2_arr[0].copy()


# --- normalisation: y = (x - mean) * alpha + beta ------------------------------------------

def affine_cm(const floating[:, :, :] x, floating[:, :, :] y, const floating[::1] mean,
              const floating[::1] mean_lo, const floating[::1] alpha, const floating[::1] beta,
              int n_threads):
    """y[o, c, :] = ((x[o, c, :] - mean[c]) - mean_lo[c]) * alpha[c] + beta[c]; y may be x
    (mean + mean_lo: the mean to x's precision and the remainder)."""
    _check_last(x.shape[2], x.strides[2], sizeof(floating))
    _check_last(y.shape[2], y.strides[2], sizeof(floating))
    cdef Py_ssize_t outer = x.shape[0], channels = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t so = x.strides[0] // sizeof(floating), sc = x.strides[1] // sizeof(floating)
    cdef Py_ssize_t yo = y.strides[0] // sizeof(floating), yc = y.strides[1] // sizeof(floating)
    cdef Py_ssize_t n_rows = outer * channels, group = max(<Py_ssize_t>1, APPLY_TARGET // inner)
    cdef Py_ssize_t n_groups = _ceil_div(n_rows, group), g, r, o, c
    cdef int nt = _threads(n_rows * inner, n_groups, n_threads)
    cdef bint stream = _stream(<const char *>&y[0, 0, 0], 3, y.shape, y.strides,
                               sizeof(floating))
    cdef const floating *xp = &x[0, 0, 0]
    cdef floating *yp = &y[0, 0, 0]
    with nogil:
        for g in prange(n_groups, num_threads=nt, schedule="static"):
            for r in range(g * group, min((g + 1) * group, n_rows)):
                o = r // channels
                c = r - o * channels
                if floating is float:
                    if stream:
                        fastdl_bn_affine_row_stream_f32(xp + o * so + c * sc,
                                                        yp + o * yo + c * yc, inner, mean[c],
                                                        mean_lo[c], alpha[c], beta[c])
                    else:
                        fastdl_bn_affine_row_f32(xp + o * so + c * sc, yp + o * yo + c * yc,
                                                 inner, mean[c], mean_lo[c], alpha[c],
                                                 beta[c])
                else:
                    if stream:
                        fastdl_bn_affine_row_stream_f64(xp + o * so + c * sc,
                                                        yp + o * yo + c * yc, inner, mean[c],
                                                        mean_lo[c], alpha[c], beta[c])
                    else:
                        fastdl_bn_affine_row_f64(xp + o * so + c * sc, yp + o * yo + c * yc,
                                                 inner, mean[c], mean_lo[c], alpha[c],
                                                 beta[c])


def affine_cl(const floating[:, :] x, floating[:, :] y, const floating[::1] mean,
              const floating[::1] mean_lo, const floating[::1] alpha, const floating[::1] beta,
              int n_threads):
    """y[r, c] = ((x[r, c] - mean[c]) - mean_lo[c]) * alpha[c] + beta[c]; y may be x."""
    _check_last(x.shape[1], x.strides[1], sizeof(floating))
    _check_last(y.shape[1], y.strides[1], sizeof(floating))
    cdef Py_ssize_t n_rows = x.shape[0], channels = x.shape[1]
    cdef Py_ssize_t sr = x.strides[0] // sizeof(floating), yr = y.strides[0] // sizeof(floating)
    cdef Py_ssize_t rows = max(<Py_ssize_t>1, APPLY_TARGET // channels)
    cdef Py_ssize_t n_groups = _ceil_div(n_rows, rows), g, r0
    cdef int nt = _threads(n_rows * channels, n_groups, n_threads)
    # Streaming over back-to-back rows, with the parameters repeated cyclically (C + 8).
    cdef bint flat = (sr == channels and yr == channels
                      and _stream(<const char *>&y[0, 0], 2, y.shape, y.strides,
                                  sizeof(floating)))
    cdef const floating[::1] me = np.resize(np.asarray(mean), channels + 8) if flat else mean
    cdef const floating[::1] mle = (np.resize(np.asarray(mean_lo), channels + 8) if flat
                                    else mean_lo)
    cdef const floating[::1] ae = np.resize(np.asarray(alpha), channels + 8) if flat else alpha
    cdef const floating[::1] be = np.resize(np.asarray(beta), channels + 8) if flat else beta
    cdef const floating *xp = &x[0, 0]
    cdef floating *yp = &y[0, 0]
    with nogil:
        for g in prange(n_groups, num_threads=nt, schedule="static"):
            r0 = g * rows
            if floating is float:
                if flat:
                    fastdl_bn_affine_flat_stream_f32(xp + r0 * sr, yp + r0 * yr,
                                                     min(rows, n_rows - r0) * channels,
                                                     channels, &me[0], &mle[0], &ae[0],
                                                     &be[0])
                else:
                    fastdl_bn_affine_cl_f32(xp + r0 * sr, sr, yp + r0 * yr, yr,
                                            min(rows, n_rows - r0), channels, &me[0], &mle[0],
                                            &ae[0], &be[0])
            else:
                if flat:
                    fastdl_bn_affine_flat_stream_f64(xp + r0 * sr, yp + r0 * yr,
                                                     min(rows, n_rows - r0) * channels,
                                                     channels, &me[0], &mle[0], &ae[0],
                                                     &be[0])
                else:
                    fastdl_bn_affine_cl_f64(xp + r0 * sr, sr, yp + r0 * yr, yr,
                                            min(rows, n_rows - r0), channels, &me[0], &mle[0],
                                            &ae[0], &be[0])


# --- backward -------------------------------------------------------------------------------

def grad_sums_cm(const floating[:, :, :] dy, const floating[:, :, :] x,
                 const double[::1] mean, int n_threads):
    """Per-channel (sum dy, sum dy * (x - mean)) over (outer, C, inner), float64 (C,).
    Chunks as in stats_cm."""
    _check_last(dy.shape[2], dy.strides[2], sizeof(floating))
    _check_last(x.shape[2], x.strides[2], sizeof(floating))
    cdef Py_ssize_t outer = x.shape[0], channels = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t so = x.strides[0] // sizeof(floating), sc = x.strides[1] // sizeof(floating)
    cdef Py_ssize_t do = dy.strides[0] // sizeof(floating)
    cdef Py_ssize_t dc = dy.strides[1] // sizeof(floating)
    cdef Py_ssize_t n_rows = outer * channels, rows = _cm_rows(n_rows, inner)
    cdef Py_ssize_t n_chunks = _ceil_div(n_rows, rows), ch, c, r, o
    part_arr = np.zeros((n_chunks, channels, 2), dtype=np.float64)
    cdef double[:, :, ::1] part = part_arr
    sum_dy_arr = np.zeros(channels, dtype=np.float64)
    sum_dyxc_arr = np.zeros(channels, dtype=np.float64)
    cdef double[::1] sum_dy = sum_dy_arr, sum_dyxc = sum_dyxc_arr
    cdef int nt = _threads(n_rows * inner, n_chunks, n_threads)
    cdef const floating *xp = &x[0, 0, 0]
    cdef const floating *dp = &dy[0, 0, 0]
    with nogil:
        for ch in prange(n_chunks, num_threads=nt, schedule="static"):
            for r in range(ch * rows, min((ch + 1) * rows, n_rows)):
                o = r // channels
                c = r - o * channels
                if floating is float:
                    fastdl_bn_grad_sums_row_f32(dp + o * do + c * dc, xp + o * so + c * sc,
                                                inner, mean[c], &part[ch, c, 0],
                                                &part[ch, c, 1])
                else:
                    fastdl_bn_grad_sums_row_f64(dp + o * do + c * dc, xp + o * so + c * sc,
                                                inner, mean[c], &part[ch, c, 0],
                                                &part[ch, c, 1])
        for c in range(channels):        # in chunk order
            for ch in range(n_chunks):
                sum_dy[c] += part[ch, c, 0]
                sum_dyxc[c] += part[ch, c, 1]
    return sum_dy_arr, sum_dyxc_arr


def grad_sums_cl(const floating[:, :] dy, const floating[:, :] x, const double[::1] mean,
                 int n_threads):
    """Per-channel (sum dy, sum dy * (x - mean)) over (rows, C), float64 (C,)."""
    _check_last(dy.shape[1], dy.strides[1], sizeof(floating))
    _check_last(x.shape[1], x.strides[1], sizeof(floating))
    cdef Py_ssize_t n_rows = x.shape[0], channels = x.shape[1]
    cdef Py_ssize_t sr = x.strides[0] // sizeof(floating), dr = dy.strides[0] // sizeof(floating)
    cdef Py_ssize_t rows = _cl_rows(n_rows, channels)
    cdef Py_ssize_t n_chunks = _ceil_div(n_rows, rows), ch, r0, c
    cdef int nt = _threads(n_rows * channels, n_chunks, n_threads)
    part_dy_arr = np.empty((n_chunks, channels), dtype=np.float64)
    part_dyxc_arr = np.empty((n_chunks, channels), dtype=np.float64)
    cdef double[:, ::1] part_dy = part_dy_arr, part_dyxc = part_dyxc_arr
    cdef const floating *xp = &x[0, 0]
    cdef const floating *dp = &dy[0, 0]
    with nogil:
        for ch in prange(n_chunks, num_threads=nt, schedule="static"):
            r0 = ch * rows
            if floating is float:
                fastdl_bn_grad_sums_cl_f32(dp + r0 * dr, dr, xp + r0 * sr, sr,
                                           min(rows, n_rows - r0), channels, &mean[0],
                                           &part_dy[ch, 0], &part_dyxc[ch, 0])
            else:
                fastdl_bn_grad_sums_cl_f64(dp + r0 * dr, dr, xp + r0 * sr, sr,
                                           min(rows, n_rows - r0), channels, &mean[0],
                                           &part_dy[ch, 0], &part_dyxc[ch, 0])
        for ch in range(1, n_chunks):    # in chunk order
            for c in range(channels):
                part_dy[0, c] += part_dy[ch, c]
                part_dyxc[0, c] += part_dyxc[ch, c]
    return part_dy_arr[0].copy(), part_dyxc_arr[0].copy()


def dx_cm(const floating[:, :, :] dy, const floating[:, :, :] x, floating[:, :, :] dx,
          const floating[::1] mean, const floating[::1] a, const floating[::1] b,
          const floating[::1] k, int n_threads):
    """dx[o, c, :] = a[c] * dy + (b[c] * (x - mean[c]) + k[c])."""
    _check_last(dy.shape[2], dy.strides[2], sizeof(floating))
    _check_last(x.shape[2], x.strides[2], sizeof(floating))
    _check_last(dx.shape[2], dx.strides[2], sizeof(floating))
    cdef Py_ssize_t outer = x.shape[0], channels = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t so = x.strides[0] // sizeof(floating), sc = x.strides[1] // sizeof(floating)
    cdef Py_ssize_t do = dy.strides[0] // sizeof(floating)
    cdef Py_ssize_t dc = dy.strides[1] // sizeof(floating)
    cdef Py_ssize_t oo = dx.strides[0] // sizeof(floating)
    cdef Py_ssize_t oc = dx.strides[1] // sizeof(floating)
    cdef Py_ssize_t n_rows = outer * channels, group = max(<Py_ssize_t>1, APPLY_TARGET // inner)
    cdef Py_ssize_t n_groups = _ceil_div(n_rows, group), g, r, o, c
    cdef int nt = _threads(n_rows * inner, n_groups, n_threads)
    cdef bint stream = _stream(<const char *>&dx[0, 0, 0], 3, dx.shape, dx.strides,
                               sizeof(floating))
    cdef const floating *xp = &x[0, 0, 0]
    cdef const floating *dp = &dy[0, 0, 0]
    cdef floating *op = &dx[0, 0, 0]
    with nogil:
        for g in prange(n_groups, num_threads=nt, schedule="static"):
            for r in range(g * group, min((g + 1) * group, n_rows)):
                o = r // channels
                c = r - o * channels
                if floating is float:
                    if stream:
                        fastdl_bn_dx_row_stream_f32(dp + o * do + c * dc, xp + o * so + c * sc,
                                                    op + o * oo + c * oc, inner, mean[c], a[c],
                                                    b[c], k[c])
                    else:
                        fastdl_bn_dx_row_f32(dp + o * do + c * dc, xp + o * so + c * sc,
                                             op + o * oo + c * oc, inner, mean[c], a[c], b[c],
                                             k[c])
                else:
                    if stream:
                        fastdl_bn_dx_row_stream_f64(dp + o * do + c * dc, xp + o * so + c * sc,
                                                    op + o * oo + c * oc, inner, mean[c], a[c],
                                                    b[c], k[c])
                    else:
                        fastdl_bn_dx_row_f64(dp + o * do + c * dc, xp + o * so + c * sc,
                                             op + o * oo + c * oc, inner, mean[c], a[c], b[c],
                                             k[c])


def dx_cl(const floating[:, :] dy, const floating[:, :] x, floating[:, :] dx,
          const floating[::1] mean, const floating[::1] a, const floating[::1] b,
          const floating[::1] k, int n_threads):
    """dx[r, c] = a[c] * dy + (b[c] * (x - mean[c]) + k[c])."""
    _check_last(dy.shape[1], dy.strides[1], sizeof(floating))
    _check_last(x.shape[1], x.strides[1], sizeof(floating))
    _check_last(dx.shape[1], dx.strides[1], sizeof(floating))
    cdef Py_ssize_t n_rows = x.shape[0], channels = x.shape[1]
    cdef Py_ssize_t sr = x.strides[0] // sizeof(floating), dr = dy.strides[0] // sizeof(floating)
    cdef Py_ssize_t orow = dx.strides[0] // sizeof(floating)
    cdef Py_ssize_t rows = max(<Py_ssize_t>1, APPLY_TARGET // channels)
    cdef Py_ssize_t n_groups = _ceil_div(n_rows, rows), g, r0
    cdef int nt = _threads(n_rows * channels, n_groups, n_threads)
    cdef bint flat = (sr == channels and dr == channels and orow == channels
                      and _stream(<const char *>&dx[0, 0], 2, dx.shape, dx.strides,
                                  sizeof(floating)))
    cdef const floating[::1] me = np.resize(np.asarray(mean), channels + 8) if flat else mean
    cdef const floating[::1] ae = np.resize(np.asarray(a), channels + 8) if flat else a
    cdef const floating[::1] be = np.resize(np.asarray(b), channels + 8) if flat else b
    cdef const floating[::1] ke = np.resize(np.asarray(k), channels + 8) if flat else k
    cdef const floating *xp = &x[0, 0]
    cdef const floating *dp = &dy[0, 0]
    cdef floating *op = &dx[0, 0]
    with nogil:
        for g in prange(n_groups, num_threads=nt, schedule="static"):
            r0 = g * rows
            if floating is float:
                if flat:
                    fastdl_bn_dx_flat_stream_f32(dp + r0 * dr, xp + r0 * sr, op + r0 * orow,
                                                 min(rows, n_rows - r0) * channels, channels,
                                                 &me[0], &ae[0], &be[0], &ke[0])
                else:
                    fastdl_bn_dx_cl_f32(dp + r0 * dr, dr, xp + r0 * sr, sr, op + r0 * orow,
                                        orow, min(rows, n_rows - r0), channels, &me[0], &ae[0],
                                        &be[0], &ke[0])
            else:
                if flat:
                    fastdl_bn_dx_flat_stream_f64(dp + r0 * dr, xp + r0 * sr, op + r0 * orow,
                                                 min(rows, n_rows - r0) * channels, channels,
                                                 &me[0], &ae[0], &be[0], &ke[0])
                else:
                    fastdl_bn_dx_cl_f64(dp + r0 * dr, dr, xp + r0 * sr, sr, op + r0 * orow,
                                        orow, min(rows, n_rows - r0), channels, &me[0], &ae[0],
                                        &be[0], &ke[0])
