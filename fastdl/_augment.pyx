"""Compiled pixel work of the augmentation ops (flips, crops, per-channel shifts).

The caller (``fastdl/augment.py``) validates the arguments, draws the per-image random numbers
with the reference's counter-based generator (a few numbers per image) and passes them here as
small arrays, with a C-contiguous output of the input's dtype. These entries check the
geometry and the tables (an inconsistent call raises instead of touching memory outside the
arrays), then share the output rows out to the threads in fixed chunks with a static
``prange``: every output byte is written once by one row, whatever the thread count.

Inputs may have any strides (negative and zero included): the kernels in
``csrc/fastdl_augment.h`` read through byte strides and have fast paths for packed rows.
"""
import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint8_t

cnp.import_array()

cdef extern from "fastdl_augment.h" nogil:
    int FASTDL_AUG_FLIP_H, FASTDL_AUG_FLIP_V, FASTDL_AUG_FLIP_SOME, FASTDL_AUG_CROP
    int FASTDL_AUG_SHIFT, FASTDL_AUG_U8, FASTDL_AUG_F32, FASTDL_AUG_F64
    ctypedef struct fastdl_aug_job:
        int mode, dtype
        const char *x
        char *y
        Py_ssize_t n, a, rows, px, g, e
        Py_ssize_t in_rows, in_px
        Py_ssize_t sn, sa, sr, sp, sg
        const uint8_t *flags
        const int64_t *tops
        const int64_t *lefts
        Py_ssize_t pad_r, pad_p
        const void *shift
        const uint8_t *plus
        const uint8_t *minus
        Py_ssize_t shift_stride, channels
        int stream
    void fastdl_aug_run_rows(const fastdl_aug_job *job, Py_ssize_t r0, Py_ssize_t r1)
    int fastdl_aug_simd

MODES = {"flip_h": FASTDL_AUG_FLIP_H, "flip_v": FASTDL_AUG_FLIP_V,
         "flip_some": FASTDL_AUG_FLIP_SOME, "crop": FASTDL_AUG_CROP}

cdef enum:
    # Bytes of output per chunk of rows: enough work per chunk to hide the loop overhead,
    # small enough to balance 2 threads on a batch of a few images.
    CHUNK_BYTES = 65536
    # Below this many output bytes, one thread (a parallel region costs a few microseconds).
    GRAIN_BYTES = 262144
    # From this many output bytes on (well beyond the L2 caches), the output is written with
    # non-temporal stores: it would not stay in cache anyway.
    STREAM_BYTES = 8388608

cdef dict _DTYPES = {np.dtype(np.uint8): 0, np.dtype(np.float32): 1, np.dtype(np.float64): 2}


cdef int _geometry(fastdl_aug_job *job, cnp.ndarray x, cnp.ndarray y, bint nchw) except -1:
    """Fill the job's pointers, output geometry and input strides (y: C-contiguous output)."""
    if x.ndim != 4 or y.ndim != 4 or x.dtype != y.dtype or x.dtype not in _DTYPES:
        raise ValueError("fastdl._augment: internal error: x and y must be 4-D image batches "
                         "of one supported dtype")
    if not y.flags.c_contiguous or not y.flags.writeable:
        raise ValueError("fastdl._augment: internal error: y must be C-contiguous and writeable")
    if x.shape[0] != y.shape[0] or x.shape[1 if nchw else 3] != y.shape[1 if nchw else 3]:
        raise ValueError("fastdl._augment: internal error: x and y differ in N or C")
    cdef cnp.npy_intp *s = cnp.PyArray_STRIDES(x)
    job.dtype = _DTYPES[x.dtype]
    job.x = <const char *>cnp.PyArray_DATA(x)
    job.y = <char *>cnp.PyArray_DATA(y)
    job.e = x.itemsize
    job.n = x.shape[0]
    if nchw:
        job.a, job.rows, job.px, job.g = y.shape[1], y.shape[2], y.shape[3], 1
        job.in_rows, job.in_px = x.shape[2], x.shape[3]
        job.sn, job.sa, job.sr, job.sp, job.sg = s[0], s[1], s[2], s[3], x.itemsize
    else:
        job.a, job.rows, job.px, job.g = 1, y.shape[1], y.shape[2], y.shape[3]
        job.in_rows, job.in_px = x.shape[1], x.shape[2]
        job.sn, job.sa, job.sr, job.sp, job.sg = s[0], 0, s[1], s[2], s[3]
    job.flags = NULL
    job.tops = job.lefts = NULL
    job.pad_r = job.pad_p = 0
    job.shift = NULL
    job.plus = job.minus = NULL
    job.shift_stride = job.channels = 0
    job.stream = 0
    return 0


cdef bint _stream_enabled = True


def set_streaming(bint enabled):
    """Development switch: allow (default) or forbid non-temporal stores on large outputs
    (``stream=True`` calls)."""
    global _stream_enabled
    _stream_enabled = enabled


def set_simd(bint enabled):
    """Development switch: allow (default) or forbid the SSSE3 / SSE2 / AVX2 row loops (the
    tests check the portable scalar loops with it)."""
    global fastdl_aug_simd
    fastdl_aug_simd = 1 if enabled else 0


cdef void _run(fastdl_aug_job *job, int n_threads) noexcept nogil:
    """All output rows of ``job``, in static chunks over at most ``n_threads`` threads."""
    cdef Py_ssize_t total_rows = job.n * job.a * job.rows
    cdef Py_ssize_t row_bytes = job.px * job.g * job.e
    cdef Py_ssize_t rows_per_chunk, n_chunks, c, r1
    cdef int nt
    if total_rows == 0 or row_bytes == 0:
        return
    job.stream = job.stream and total_rows * row_bytes >= STREAM_BYTES and _stream_enabled
    rows_per_chunk = max(1, CHUNK_BYTES // row_bytes)
    n_chunks = (total_rows + rows_per_chunk - 1) // rows_per_chunk
    nt = 1 if total_rows * row_bytes < GRAIN_BYTES else <int>min(<Py_ssize_t>n_threads, n_chunks)
    if nt <= 1:
        fastdl_aug_run_rows(job, 0, total_rows)
        return
    for c in prange(n_chunks, num_threads=nt, schedule="static"):
        r1 = (c + 1) * rows_per_chunk
        fastdl_aug_run_rows(job, c * rows_per_chunk, r1 if r1 < total_rows else total_rows)


def copy_rows(str mode, cnp.ndarray x, cnp.ndarray y, bint nchw, *,
              const uint8_t[::1] flags=None, const int64_t[::1] tops=None,
              const int64_t[::1] lefts=None, Py_ssize_t pad_h=0, Py_ssize_t pad_w=0,
              bint stream=False, int n_threads=1):
    """Flip or crop every image of ``x`` (IN, any strides) into ``y`` (OUT, C-contiguous).

    mode : "flip_h", "flip_v" (y has x's shape), "flip_some" (image i mirrored left-right when
    ``flags[i]``), "crop" (y's H, W are the crop size; image i is cut at ``(tops[i],
    lefts[i])`` of the image padded with ``pad_h`` zero rows and ``pad_w`` zero columns).
    stream : allow non-temporal stores when y is large (y is a caller's buffer, not pages
    that were just allocated).
    """
    cdef fastdl_aug_job job
    _geometry(&job, x, y, nchw)
    job.stream = stream
    job.mode = MODES[mode]
    cdef Py_ssize_t i
    if job.mode == FASTDL_AUG_CROP:
        if tops is None or lefts is None or tops.shape[0] < job.n or lefts.shape[0] < job.n:
            raise ValueError("fastdl._augment: internal error: crop needs tops and lefts")
        if pad_h < 0 or pad_w < 0:
            raise ValueError("fastdl._augment: internal error: negative padding")
        for i in range(job.n):
            if not (0 <= tops[i] <= job.in_rows + 2 * pad_h - job.rows
                    and 0 <= lefts[i] <= job.in_px + 2 * pad_w - job.px):
                raise ValueError("fastdl._augment: internal error: crop offset out of range")
        job.tops, job.lefts = &tops[0] if job.n else NULL, &lefts[0] if job.n else NULL
        job.pad_r, job.pad_p = pad_h, pad_w
    else:
        if y.shape[1] != x.shape[1] or y.shape[2] != x.shape[2] or y.shape[3] != x.shape[3]:
            raise ValueError("fastdl._augment: internal error: a flip keeps the shape")
        if job.mode == FASTDL_AUG_FLIP_SOME:
            if flags is None or flags.shape[0] < job.n:
                raise ValueError("fastdl._augment: internal error: flip_some needs flags")
            job.flags = &flags[0] if job.n else NULL
    with nogil:
        _run(&job, n_threads)


def shift(cnp.ndarray x, cnp.ndarray y, bint nchw, cnp.ndarray shifts, cnp.ndarray plus,
          cnp.ndarray minus, bint stream=False, int n_threads=1):
    """``y = x + shift`` per image and channel: x (IN, any strides), y (OUT, C-contiguous).

    shifts : float images: C-contiguous (N or 1, C) array of x's dtype (None for uint8).
    plus, minus : uint8 images: C-contiguous (N or 1, C) uint8, the positive and negative
    parts of the integer shift (y = clip(x + plus - minus, 0, 255)); None for floats.
    stream : as in :func:`copy_rows`.
    """
    cdef fastdl_aug_job job
    _geometry(&job, x, y, nchw)
    job.stream = stream
    if y.shape[1] != x.shape[1] or y.shape[2] != x.shape[2] or y.shape[3] != x.shape[3]:
        raise ValueError("fastdl._augment: internal error: a shift keeps the shape")
    job.mode = FASTDL_AUG_SHIFT
    cdef Py_ssize_t channels = x.shape[1 if nchw else 3]
    tables = (plus, minus) if job.dtype == FASTDL_AUG_U8 else (shifts,)
    table_dtype = np.uint8 if job.dtype == FASTDL_AUG_U8 else x.dtype
    for t in tables:
        if (t is None or t.ndim != 2 or t.dtype != table_dtype or not t.flags.c_contiguous
                or t.shape[1] != channels or t.shape[0] not in (1, job.n)):
            raise ValueError("fastdl._augment: internal error: bad shift table")
    if job.dtype == FASTDL_AUG_U8 and plus.shape[0] != minus.shape[0]:
        raise ValueError("fastdl._augment: internal error: plus and minus differ in shape")
    job.channels = channels
    job.shift_stride = channels if tables[0].shape[0] > 1 else 0
    if job.dtype == FASTDL_AUG_U8:
        job.plus = <const uint8_t *>cnp.PyArray_DATA(plus)
        job.minus = <const uint8_t *>cnp.PyArray_DATA(minus)
    else:
        job.shift = cnp.PyArray_DATA(shifts)
    with nogil:
        _run(&job, n_threads)
