"""Compiled convolution: direct (slab) forward, stride-1 input gradient and weight
gradient; packed-GEMM scatter input gradient for strided convolutions; bias gradient; zero
padding.

The caller (``fastdl/conv.py``) validates everything and passes arrays that are C-contiguous
in their layout (x, y, dy: (N, C, H, W) or (N, H, W, C); w: (K, C, R, S) or (R, S, C, K)) and
of one float dtype. The C kernels are in ``csrc/fastdl_conv.h``; each entry here builds the
geometry and the per-column tables, packs the weights once, allocates one bounded workspace
per thread and runs the tasks with a static ``prange``.
"""
import numpy as np
cimport numpy as cnp
cimport cython
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdint cimport int64_t
from libc.string cimport memcpy, memset

from fastdl._openmp cimport omp_get_thread_num
from fastdl._validation import aligned_empty

cnp.import_array()

cdef extern from "fastdl_conv.h" nogil:
    int FASTDL_CONV_MR, FASTDL_CONV_PC
    int64_t fastdl_conv_nr_f32, fastdl_conv_nr_f64
    ctypedef struct fastdl_conv_geom:
        int64_t N, C, H, W, K, R, S
        int64_t sh, sw, pt, pl
        int64_t Ho, Wo, P, CRS
        int64_t nhwc
        int64_t xs_n, xs_c, xs_h, xs_w
        int64_t rows_per_task, row_blocks
        const int64_t *kk_off
        const int64_t *kk_r
        const int64_t *kk_s
        int64_t d_rows, d_blocks, d_dot, d_Hq, d_Wq, d_pitch, d_plane, d_slab
        const int64_t *d_delta
        const int64_t *d_pix
        int64_t d_inplace
        const int64_t *d_delta_x
    int fastdl_conv_select_kernels(int level)
    void fastdl_conv_direct_setup(fastdl_conv_geom *g, int64_t rows, int64_t *delta,
                                  int64_t *pix, int64_t *delta_x)
    int64_t fastdl_conv_direct_ws_f32(const fastdl_conv_geom *g, int pass_)
    int64_t fastdl_conv_direct_ws_f64(const fastdl_conv_geom *g, int pass_)
    void fastdl_conv_direct_forward_task_f32(const fastdl_conv_geom *g, const float *x,
                                             const float *mask, const float *wp,
                                             const float *biasp, int relu, float *y,
                                             int64_t task, float *ws)
    void fastdl_conv_direct_forward_task_f64(const fastdl_conv_geom *g, const double *x,
                                             const double *mask, const double *wp,
                                             const double *biasp, int relu, double *y,
                                             int64_t task, double *ws)
    void fastdl_conv_direct_weight_grad_range_f32(const fastdl_conv_geom *g, const float *x,
                                                  const float *dy, const float *mask,
                                                  float *dwt, int64_t n0, int64_t n1,
                                                  int64_t kk0, int64_t kk1, float *ws)
    void fastdl_conv_direct_weight_grad_range_f64(const fastdl_conv_geom *g, const double *x,
                                                  const double *dy, const double *mask,
                                                  double *dwt, int64_t n0, int64_t n1,
                                                  int64_t kk0, int64_t kk1, double *ws)
    void fastdl_conv_direct_weight_grad_dot_f32(const fastdl_conv_geom *g, const float *x,
                                                const float *dy, const float *mask, float *dw,
                                                int64_t n0, int64_t n1, float *ws)
    void fastdl_conv_direct_weight_grad_dot_f64(const fastdl_conv_geom *g, const double *x,
                                                const double *dy, const double *mask,
                                                double *dw, int64_t n0, int64_t n1, double *ws)
    int64_t fastdl_conv_workspace(const fastdl_conv_geom *g, int64_t nr)
    int64_t fastdl_conv_packed_weights_size_f32(const fastdl_conv_geom *g, int pass_)
    int64_t fastdl_conv_packed_weights_size_f64(const fastdl_conv_geom *g, int pass_)
    void fastdl_conv_pack_weights_f32(const fastdl_conv_geom *g, int pass_, const float *w,
                                      float *dst)
    void fastdl_conv_pack_weights_t_f32(const fastdl_conv_geom *g, const float *wt, float *dst)
    void fastdl_conv_pack_weights_t_f64(const fastdl_conv_geom *g, const double *wt,
                                        double *dst)
    void fastdl_conv_pack_weights_f64(const fastdl_conv_geom *g, int pass_, const double *w,
                                      double *dst)
    void fastdl_conv_input_grad_task_f32(const fastdl_conv_geom *g, const float *dy,
                                         const float *mask, const float *wtp, float *dx,
                                         int64_t task, float *ws)
    void fastdl_conv_input_grad_task_f64(const fastdl_conv_geom *g, const double *dy,
                                         const double *mask, const double *wtp, double *dx,
                                         int64_t task, double *ws)
    void fastdl_conv_bias_grad_range_f32(const fastdl_conv_geom *g, const float *dy,
                                         const float *mask, float *db, int64_t k0, int64_t k1)
    void fastdl_conv_bias_grad_range_f64(const fastdl_conv_geom *g, const double *dy,
                                         const double *mask, double *db, int64_t k0,
                                         int64_t k1)

# Micro-kernel ISA: 0 portable C, 1 AVX2+FMA, 2 AVX-512F (chosen at run time).
ISA_NAMES = ("generic", "avx2", "avx512")
ISA = ISA_NAMES[fastdl_conv_select_kernels(2)]


def select_kernels(str isa):
    """Use the micro-kernels of ``isa`` ("generic", "avx2", "avx512") or the best the CPU has
    below it; returns the name of the one chosen. (Tests and benchmarks; not thread-safe.)"""
    global ISA
    ISA = ISA_NAMES[fastdl_conv_select_kernels(ISA_NAMES.index(isa))]
    return ISA

# Largest slab (the padded input rows a direct-path task reads) in bytes: about half an L2.
SLAB_BYTES = 1 << 20

# Image chunks of the weight gradient (each summed into its own partial dW).
WGRAD_CHUNKS = 8

# Below this many multiply-adds a call runs on one thread (a parallel region costs a few µs).
GRAIN = 200000


@cython.auto_pickle(False)
cdef class _Geometry:
    """The C geometry plus the per-reduction-column tables it points to."""
    cdef fastdl_conv_geom g
    cdef int64_t[::1] kk_off, kk_r, kk_s, d_delta, d_pix, d_delta_x

    def __init__(self, tuple x_shape, tuple w_shape, bint nhwc, tuple stride, tuple pads,
                 tuple out_size):
        cdef int64_t n, c, h, wd, k, r, s
        if nhwc:
            n, h, wd, c = x_shape
            r, s, _, k = w_shape
        else:
            n, c, h, wd = x_shape
            k, _, r, s = w_shape
        g = &self.g
        g.N, g.C, g.H, g.W, g.K, g.R, g.S = n, c, h, wd, k, r, s
        g.sh, g.sw = stride
        g.pt, g.pl = pads[0][0], pads[1][0]
        g.Ho, g.Wo = out_size
        g.P = g.Ho * g.Wo
        g.CRS = c * r * s
        g.nhwc = nhwc
        if nhwc:
            g.xs_n, g.xs_c, g.xs_h, g.xs_w = h * wd * c, 1, wd * c, c
        else:
            g.xs_n, g.xs_c, g.xs_h, g.xs_w = c * h * wd, h * wd, wd, 1
        g.kk_off = g.kk_r = g.kk_s = NULL      # scatter_tables() builds them
        # Row blocks: at most ~PC pixels each, and at least ceil(R / sh) rows so that the
        # input rows touched by row blocks b and b + 2 never overlap (input-grad phases).
        rows = max(1, FASTDL_CONV_PC // g.Wo) if g.Wo > 0 else 1
        g.rows_per_task = max(rows, (r + g.sh - 1) // g.sh)
        g.row_blocks = (g.Ho + g.rows_per_task - 1) // g.rows_per_task

    @property
    def macs(self):
        return self.g.N * self.g.P * self.g.K * self.g.CRS

    def scatter_tables(self):
        """Build the per-reduction-column tables of the scatter input gradient (once)."""
        g = &self.g
        if g.kk_off != NULL:
            return self
        if g.nhwc:
            # reduction column kk = (r·S + s)·C + c, the order of w's (R, S, C) axes
            rr, ss, cc = np.meshgrid(np.arange(g.R), np.arange(g.S), np.arange(g.C),
                                     indexing="ij")
        else:
            # reduction column kk = (c·R + r)·S + s, the order of w's (C, R, S) axes
            cc, rr, ss = np.meshgrid(np.arange(g.C), np.arange(g.R), np.arange(g.S),
                                     indexing="ij")
        self.kk_off = np.ascontiguousarray(cc.ravel() * g.xs_c, dtype=np.int64)
        self.kk_r = np.ascontiguousarray(rr.ravel(), dtype=np.int64)
        self.kk_s = np.ascontiguousarray(ss.ravel(), dtype=np.int64)
        g.kk_r = &self.kk_r[0]
        g.kk_s = &self.kk_s[0]
        g.kk_off = &self.kk_off[0]
        return self

    def direct(self, int n_threads, int itemsize, bint split_images=True, bint dot=False):
        """Set up the direct path (slab tables) for blocks of output rows: whole images
        when the batch has at least as many images as threads (or split_images is False),
        else rows split so that every thread has a block; never a slab over SLAB_BYTES
        unless one output row needs more."""
        g = &self.g
        cdef int64_t ho = g.Ho, rows = ho, per_row, fixed, blocks
        if split_images and g.N < n_threads:
            blocks = (n_threads + g.N - 1) // g.N
            rows = (ho + blocks - 1) // blocks
        if g.nhwc:
            per_row = g.sh * ((g.Wo - 1) * g.sw + g.S) * g.C * itemsize
            fixed = (g.R - g.sh) * ((g.Wo - 1) * g.sw + g.S) * g.C * itemsize
        else:
            per_row = g.C * g.sh * g.sw * (g.Wo + (g.S - 1) // g.sw) * itemsize
            fixed = ((g.R - 1) // g.sh) * per_row
        rows = max(1, min(rows, (SLAB_BYTES - fixed) // per_row))
        blocks = (ho + rows - 1) // rows
        rows = (ho + blocks - 1) // blocks
        self.d_delta = np.empty(max(g.CRS, 1), np.int64)
        self.d_pix = np.empty(max(rows * g.Wo, 1), np.int64)
        self.d_delta_x = np.empty(max(g.CRS, 1), np.int64)
        fastdl_conv_direct_setup(g, rows, &self.d_delta[0], &self.d_pix[0],
                                 &self.d_delta_x[0])
        g.d_delta = &self.d_delta[0]
        g.d_pix = &self.d_pix[0]
        g.d_delta_x = &self.d_delta_x[0]
        g.d_dot = dot and g.nhwc
        return self


cdef int _threads(int n_threads, int64_t tasks, int64_t macs):
    if macs < GRAIN or tasks < 2:
        return 1
    return <int>max(1, min(<int64_t>n_threads, tasks))


cdef int64_t _nr(object dtype):
    return fastdl_conv_nr_f32 if dtype == np.float32 else fastdl_conv_nr_f64


def conv2d_input_grad(_Geometry geom, const floating[:, :, :, ::1] dy,
                      const floating[:, :, :, ::1] mask, const floating[:, :, :, ::1] w,
                      floating[:, :, :, ::1] dx, int n_threads):
    """dx = col2im(wᵀ · dy) (dy masked by mask > 0 when mask is not None). dx must be zeros.
    (The geometry's scatter tables are built on first use.)

    Row blocks run in two phases (even, then odd) so that concurrent scatters never overlap.
    Workspace: one packed copy of w plus, per thread, (K + 128) × 192 elements.
    """
    geom.scatter_tables()
    cdef fastdl_conv_geom *g = &geom.g
    cdef int64_t tasks = g.N * g.row_blocks, t, phase_tasks, half = (g.row_blocks + 1) // 2
    cdef int nt = _threads(n_threads, tasks, geom.macs)
    dtype = np.float32 if floating is float else np.float64
    cdef int64_t ws_n = fastdl_conv_workspace(g, _nr(dtype))
    cdef floating[::1] wp, ws
    cdef const floating *mk = &mask[0, 0, 0, 0] if mask is not None else NULL
    cdef int tid, phase
    cdef int64_t rb_count, task
    if floating is float:
        wp = np.empty(fastdl_conv_packed_weights_size_f32(g, 1), dtype)
        fastdl_conv_pack_weights_f32(g, 1, &w[0, 0, 0, 0], &wp[0])
    else:
        wp = np.empty(fastdl_conv_packed_weights_size_f64(g, 1), dtype)
        fastdl_conv_pack_weights_f64(g, 1, &w[0, 0, 0, 0], &wp[0])
    ws = np.empty(nt * ws_n, dtype)
    for phase in range(2):
        # tasks of this phase: (image n, row block 2·i + phase)
        rb_count = (g.row_blocks - phase + 1) // 2
        phase_tasks = g.N * rb_count
        if phase_tasks == 0:
            continue
        with nogil, parallel(num_threads=nt):
            tid = omp_get_thread_num()
            for t in prange(phase_tasks, schedule="static"):
                task = (t // rb_count) * g.row_blocks + 2 * (t % rb_count) + phase
                if floating is float:
                    fastdl_conv_input_grad_task_f32(g, &dy[0, 0, 0, 0], mk, &wp[0],
                                                    &dx[0, 0, 0, 0], task, &ws[tid * ws_n])
                else:
                    fastdl_conv_input_grad_task_f64(g, &dy[0, 0, 0, 0], mk, &wp[0],
                                                    &dx[0, 0, 0, 0], task, &ws[tid * ws_n])


def conv2d_bias_grad(_Geometry geom, const floating[:, :, :, ::1] dy,
                     const floating[:, :, :, ::1] mask, floating[::1] db, int n_threads):
    """db[k] = Σ dy[..., k, ...] (masked by mask > 0 when given); threads split the filters."""
    cdef fastdl_conv_geom *g = &geom.g
    cdef int64_t chunk = 16, units = (g.K + chunk - 1) // chunk, t
    cdef int nt = _threads(n_threads, units, g.N * g.P * g.K * 8)
    cdef int64_t per = (units + nt - 1) // nt
    cdef const floating *mk = &mask[0, 0, 0, 0] if mask is not None else NULL
    cdef int64_t k0, k1
    with nogil, parallel(num_threads=nt):
        for t in prange(nt, schedule="static"):
            k0 = min(t * per * chunk, g.K)
            k1 = min((t + 1) * per * chunk, g.K)
            if k0 < k1:
                if floating is float:
                    fastdl_conv_bias_grad_range_f32(g, &dy[0, 0, 0, 0], mk, &db[0], k0, k1)
                else:
                    fastdl_conv_bias_grad_range_f64(g, &dy[0, 0, 0, 0], mk, &db[0], k0, k1)


def zero_pad_planes(const unsigned char[:, :, ::1] src, unsigned char[:, :, ::1] dst,
                    Py_ssize_t top, Py_ssize_t left, int n_threads):
    """Copy byte planes src (planes, H, row_bytes) into dst (planes, Hp, row_bytes_p) at
    (top, left bytes) and zero the border. Every dst byte is written exactly once."""
    cdef Py_ssize_t planes = src.shape[0], h = src.shape[1], rb = src.shape[2]
    cdef Py_ssize_t hp = dst.shape[1], rbp = dst.shape[2], rows = planes * hp, q, pl, i
    cdef int nt = 1 if rows * rbp < (1 << 20) else max(1, min(n_threads, <int>min(rows, 1 << 30)))
    cdef unsigned char *d
    with nogil, parallel(num_threads=nt):
        for q in prange(rows, schedule="static"):
            pl = q // hp
            i = q % hp
            d = &dst[pl, i, 0]
            if i < top or i >= top + h:
                memset(d, 0, rbp)
            else:
                memset(d, 0, left)
                if rb > 0:
                    memcpy(d + left, &src[pl, i - top, 0], rb)
                memset(d + left + rb, 0, rbp - left - rb)


def conv2d_forward_direct(_Geometry geom, const floating[:, :, :, ::1] x,
                          const floating[:, :, :, ::1] mask, const floating[:, :, :, ::1] w,
                          const floating[::1] b, floating[:, :, :, ::1] y, bint relu,
                          int n_threads, bint w_transposed=False):
    """y = act(conv(x · (mask > 0), w) + b) on the direct path (``geom.direct`` called).
    mask and b may be None. ``w_transposed`` (NHWC 1×1 only): w holds the (K, C) transpose of
    the (1, 1, C, K) weights — a dense layer's (out, in) matrix, packed without a copy.

    Workspace: one packed copy of w plus, per thread, one slab (≤ SLAB_BYTES unless a single
    output row needs more) and one micro-tile.
    """
    cdef fastdl_conv_geom *g = &geom.g
    cdef int64_t tasks = g.N * g.d_blocks, t
    cdef int nt = _threads(n_threads, tasks, geom.macs)
    dtype = np.float32 if floating is float else np.float64
    cdef int64_t nr = _nr(dtype)
    cdef int64_t ws_n
    cdef floating[::1] wp, ws, bp
    cdef const floating *bias = NULL
    cdef const floating *mk = &mask[0, 0, 0, 0] if mask is not None else NULL
    cdef int tid
    if g.d_dot:
        # (R, S, C, K) -> K × R × (S·C): each filter's window rows contiguous
        ws_n = (fastdl_conv_direct_ws_f32(g, 0) if floating is float
                else fastdl_conv_direct_ws_f64(g, 0))
        wp = np.ascontiguousarray(np.asarray(w).transpose(3, 0, 1, 2)).reshape(-1)
    elif floating is float:
        ws_n = fastdl_conv_direct_ws_f32(g, 0)
        wp = aligned_empty((fastdl_conv_packed_weights_size_f32(g, 0),), dtype)
        if w_transposed:
            fastdl_conv_pack_weights_t_f32(g, &w[0, 0, 0, 0], &wp[0])
        else:
            fastdl_conv_pack_weights_f32(g, 0, &w[0, 0, 0, 0], &wp[0])
    else:
        ws_n = fastdl_conv_direct_ws_f64(g, 0)
        wp = aligned_empty((fastdl_conv_packed_weights_size_f64(g, 0),), dtype)
        if w_transposed:
            fastdl_conv_pack_weights_t_f64(g, &w[0, 0, 0, 0], &wp[0])
        else:
            fastdl_conv_pack_weights_f64(g, 0, &w[0, 0, 0, 0], &wp[0])
    if b is not None:
        # the NHWC kernel reads whole NR-wide panels of the bias
        bp = np.zeros(((g.K + nr - 1) // nr) * nr, dtype)
        bp[:g.K] = b
        bias = &bp[0]
    ws_n = (ws_n + 15) // 16 * 16     # every thread's slab on a 64-byte boundary
    ws = aligned_empty((nt * ws_n,), dtype)
    with nogil, parallel(num_threads=nt):
        tid = omp_get_thread_num()
        for t in prange(tasks, schedule="static"):
            if floating is float:
                fastdl_conv_direct_forward_task_f32(g, &x[0, 0, 0, 0], mk, &wp[0], bias, relu,
                                                    &y[0, 0, 0, 0], t, &ws[tid * ws_n])
            else:
                fastdl_conv_direct_forward_task_f64(g, &x[0, 0, 0, 0], mk, &wp[0], bias, relu,
                                                    &y[0, 0, 0, 0], t, &ws[tid * ws_n])


def conv2d_weight_grad_direct(_Geometry geom, const floating[:, :, :, ::1] x,
                              const floating[:, :, :, ::1] dy,
                              const floating[:, :, :, ::1] mask, floating[:, ::1] dwt,
                              int n_threads, bint dot=False):
    """dwt (CRS × K, zeros on entry) += Σ_n im2col(x[n]) · dy[n]ᵀ on the direct path; with
    ``dot`` (NCHW only) dwt is dW itself (K × CRS), computed as 4 × 4 blocks of dot products
    over the pixels (few filters).

    The work is cut by the shapes alone into items (chunk of images) × (range of dwt rows):
    min(N, WGRAD_CHUNKS) consecutive image chunks, each summed in order into its own partial
    dwt, and — when there are few chunks — dwt's rows split further. The threads take whole
    items; the partials are added in a fixed order at the end, so the result does not depend
    on the thread count. Workspace: the partials (≤ WGRAD_CHUNKS × CRS × K) and, per thread,
    one slab, one tile and one block of dyᵀ (rows · Wo × K).
    """
    cdef fastdl_conv_geom *g = &geom.g
    dtype = np.float32 if floating is float else np.float64
    cdef int64_t chunks = min(g.N, WGRAD_CHUNKS)
    cdef int64_t units = (g.CRS + 11) // 12      # rows of dwt in tiles of the largest MRA
    cdef int64_t nkr = 1 if chunks >= WGRAD_CHUNKS // 2 or dot else \
        max(1, min(units, (WGRAD_CHUNKS + chunks - 1) // chunks))
    cdef int64_t per = (units + nkr - 1) // nkr
    cdef int64_t items = chunks * nkr, t
    cdef int nt = _threads(n_threads, items, geom.macs)
    cdef int64_t ws_n = (fastdl_conv_direct_ws_f32(g, 3 if dot else 2) if floating is float
                         else fastdl_conv_direct_ws_f64(g, 3 if dot else 2))
    ws_n = (ws_n + 15) // 16 * 16
    cdef floating[::1] ws = aligned_empty((nt * ws_n,), dtype)
    cdef floating[:, :, ::1] part = dwt[None] if chunks == 1 else \
        np.zeros((chunks, dwt.shape[0], dwt.shape[1]), dtype)
    cdef const floating *mk = &mask[0, 0, 0, 0] if mask is not None else NULL
    cdef int64_t c, n0, n1, j0, j1
    cdef int tid
    with nogil, parallel(num_threads=nt):
        tid = omp_get_thread_num()
        for t in prange(items, schedule="static"):
            c = t // nkr
            n0 = c * g.N // chunks
            n1 = (c + 1) * g.N // chunks
            j0 = min((t % nkr) * per * 12, g.CRS)
            j1 = min((t % nkr + 1) * per * 12, g.CRS)
            if dot:
                if floating is float:
                    fastdl_conv_direct_weight_grad_dot_f32(g, &x[0, 0, 0, 0], &dy[0, 0, 0, 0], mk,
                                                           &part[c, 0, 0], n0, n1,
                                                           &ws[tid * ws_n])
                else:
                    fastdl_conv_direct_weight_grad_dot_f64(g, &x[0, 0, 0, 0], &dy[0, 0, 0, 0], mk,
                                                           &part[c, 0, 0], n0, n1,
                                                           &ws[tid * ws_n])
            elif j0 < j1:
                if floating is float:
                    fastdl_conv_direct_weight_grad_range_f32(g, &x[0, 0, 0, 0], &dy[0, 0, 0, 0],
                                                             mk, &part[c, 0, 0], n0, n1, j0,
                                                             j1, &ws[tid * ws_n])
                else:
                    fastdl_conv_direct_weight_grad_range_f64(g, &x[0, 0, 0, 0], &dy[0, 0, 0, 0],
                                                             mk, &part[c, 0, 0], n0, n1, j0,
                                                             j1, &ws[tid * ws_n])
    if chunks > 1:
        # chunk by chunk, in order
        acc = np.asarray(part[0])
        for c in range(1, chunks):
            acc += np.asarray(part[c])
        np.asarray(dwt)[...] = acc
