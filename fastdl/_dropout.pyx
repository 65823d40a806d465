"""Compiled inverted dropout: fused mask generation + scaling, and the one-pass backward.

The caller (``fastdl/dropout.py``) validates everything and passes 2-D views ``(rows, cols)``
of the logical C-order array (any strides; a C-contiguous array is one row), so the element
at (r, c) has generator counter ``r * cols + c``: the mask is a pure function of (key, shape,
keep_prob), whatever the memory layout, chunking or thread count. Work is cut into fixed
chunks of ``CHUNK`` consecutive counters shared out by a static ``prange``. Kernels:
``csrc/fastdl_dropout.h`` (AVX-512 / AVX2 / scalar, chosen at run time).
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport uint8_t, uint64_t

cnp.import_array()

cdef extern from "fastdl_dropout.h" nogil:
    int fastdl_dropout_isa()
    int fastdl_pages_resident(const void *p, size_t n_bytes)
    void fastdl_dropout_f32(int isa, const float *x, Py_ssize_t sx, float *y, Py_ssize_t sy,
                            uint8_t *mask, uint64_t counter, Py_ssize_t n, uint64_t key,
                            uint64_t threshold, float scale, int stream)
    void fastdl_dropout_f64(int isa, const double *x, Py_ssize_t sx, double *y, Py_ssize_t sy,
                            uint8_t *mask, uint64_t counter, Py_ssize_t n, uint64_t key,
                            uint64_t threshold, double scale, int stream)
    void fastdl_dropout_backward_f32(const float *dy, Py_ssize_t sd, const uint8_t *mask,
                                     Py_ssize_t sm, float *dx, Py_ssize_t n, float scale,
                                     int stream)
    void fastdl_dropout_backward_f64(const double *dy, Py_ssize_t sd, const uint8_t *mask,
                                     Py_ssize_t sm, double *dx, Py_ssize_t n, double scale,
                                     int stream)

cdef extern from "fastdl_random.h" nogil:
    uint64_t fastdl_bernoulli_threshold(double p)

# Elements per chunk (a multiple of the SIMD blocks: only the last chunk has a scalar tail).
cdef enum:
    CHUNK = 65536
# Below this many elements, one thread.
cdef enum:
    GRAIN = 65536

# Outputs of at least this many bytes are written with non-temporal (streaming) stores: they
# leave the caches anyway, and streaming skips the read of every written line.
cdef enum:
    STREAM_BYTES = 8388608

cdef int _best_isa = fastdl_dropout_isa()
cdef int _isa = _best_isa
cdef Py_ssize_t _stream_bytes = STREAM_BYTES


def set_stream_bytes(Py_ssize_t n_bytes):
    """Set the output size from which stores are streaming when the output is already backed
    by memory; 0 streams always (tests force both paths). Returns
    the previous value."""
    global _stream_bytes
    old = _stream_bytes
    _stream_bytes = n_bytes
    return old


def instruction_sets():
    """(active, best): the forward's instruction set, 2 AVX-512, 1 AVX2, 0 scalar."""
    return _isa, _best_isa


def set_instruction_set(int isa):
    """Force the forward's instruction set (tests: every path must give the same bits).
    Values above what the CPU supports are clamped to the best one; returns the one set."""
    global _isa
    _isa = max(0, min(isa, _best_isa))
    return _isa


def bernoulli_threshold(double p):
    """The C generator's uint32 threshold of probability p (as the reference's)."""
    return int(fastdl_bernoulli_threshold(p))


cdef bint _mapped(const void *p, Py_ssize_t n_bytes):
    """Streaming stores pay only on pages already backed by memory: on a fresh allocation's
    untouched pages (zeroed by the first store) normal stores are faster. A stream threshold
    of 0 streams always (tests)."""
    return fastdl_pages_resident(p, <size_t>n_bytes) != 0


cdef inline int _threads(Py_ssize_t work, Py_ssize_t n_chunks, int n_threads) noexcept nogil:
    if work < GRAIN or n_chunks < 2:
        return 1
    return max(1, min(<Py_ssize_t>n_threads, n_chunks))


def forward(const floating[:, :] x, floating[:, :] y, uint8_t[::1] mask, uint64_t key,
            double keep_prob, int n_threads):
    """y = (x * keep) * (1 / keep_prob), mask = keep, keep_i = bits32(key, i) < threshold.

    x, y : (rows, cols) views of the same logical array (any strides, y may be x);
    mask : rows * cols uint8, C order; keep_prob in (0, 1).
    """
    cdef Py_ssize_t rows = x.shape[0], cols = x.shape[1], total = rows * cols
    if total == 0:
        return
    cdef Py_ssize_t xr = x.strides[0] // sizeof(floating), xc = x.strides[1] // sizeof(floating)
    cdef Py_ssize_t yr = y.strides[0] // sizeof(floating), yc = y.strides[1] // sizeof(floating)
    cdef Py_ssize_t n_chunks = (total + CHUNK - 1) // CHUNK, ch, i, stop, r, c, length
    cdef uint64_t threshold = fastdl_bernoulli_threshold(keep_prob)
    cdef floating scale = <floating>(1.0 / keep_prob)
    cdef int nt = _threads(total, n_chunks, n_threads), isa = _isa
    cdef int stream = isa > 0 and total * <Py_ssize_t>sizeof(floating) >= _stream_bytes
    cdef const floating *xp = &x[0, 0]
    cdef floating *yp = &y[0, 0]
    cdef uint8_t *mp = &mask[0]
    if stream and _stream_bytes > 0 and yr == cols * yc and yc == 1:
        # y (contiguous) and the mask must already be backed by memory (see _mapped)
        stream = _mapped(yp, total * sizeof(floating)) and _mapped(mp, total)
    with nogil:
        for ch in prange(n_chunks, num_threads=nt, schedule="static"):
            i = ch * CHUNK
            stop = min(i + CHUNK, total)
            while i < stop:                      # row segments of the chunk
                r = i // cols
                c = i - r * cols
                length = min(cols - c, stop - i)
                if floating is float:
                    fastdl_dropout_f32(isa, xp + r * xr + c * xc, xc, yp + r * yr + c * yc, yc,
                                       mp + i, <uint64_t>i, length, key, threshold, scale,
                                       stream)
                else:
                    fastdl_dropout_f64(isa, xp + r * xr + c * xc, xc, yp + r * yr + c * yc, yc,
                                       mp + i, <uint64_t>i, length, key, threshold, scale,
                                       stream)
                i = i + length


def backward(const floating[:, :] dy, const uint8_t[:, :] mask, floating[::1] dx,
             double keep_prob, int n_threads):
    """dx = (dy * mask) * (1 / keep_prob); dy, mask (rows, cols) views (any strides), dx
    rows * cols contiguous (C order)."""
    cdef Py_ssize_t rows = dy.shape[0], cols = dy.shape[1], total = rows * cols
    if total == 0:
        return
    cdef Py_ssize_t dr = dy.strides[0] // sizeof(floating), dc = dy.strides[1] // sizeof(floating)
    cdef Py_ssize_t mr = mask.strides[0], mc = mask.strides[1]
    cdef Py_ssize_t n_chunks = (total + CHUNK - 1) // CHUNK, ch, i, stop, r, c, length
    cdef floating scale = <floating>(1.0 / keep_prob)
    cdef int nt = _threads(total, n_chunks, n_threads)
    cdef int stream = _isa > 0 and total * <Py_ssize_t>sizeof(floating) >= _stream_bytes
    cdef const floating *dp = &dy[0, 0]
    cdef const uint8_t *mp = &mask[0, 0]
    cdef floating *op = &dx[0]
    if stream and _stream_bytes > 0:
        stream = _mapped(op, total * sizeof(floating))
    with nogil:
        for ch in prange(n_chunks, num_threads=nt, schedule="static"):
            i = ch * CHUNK
            stop = min(i + CHUNK, total)
            while i < stop:
                r = i // cols
                c = i - r * cols
                length = min(cols - c, stop - i)
                if floating is float:
                    fastdl_dropout_backward_f32(dp + r * dr + c * dc, dc, mp + r * mr + c * mc,
                                                mc, op + i, length, scale, stream)
                else:
                    fastdl_dropout_backward_f64(dp + r * dr + c * dc, dc, mp + r * mr + c * mc,
                                                mc, op + i, length, scale, stream)
                i = i + length
