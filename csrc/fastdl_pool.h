/* Pooling kernels: max / average / global average pooling, forward and backward.
 *
 * Both layouts share one description of the data: an "image" is H rows of W pixels, a pixel
 * is C contiguous values (C = 1 for one plane of an NCHW tensor, C = channels for one image of
 * an NHWC tensor), so a row is W*C contiguous values.
 *
 * Forward (max and average) is separable and runs one output row at a time:
 *   1. vertical pass: combine the kh input rows of the window (clipped to the real rows) into a
 *      row buffer of W*C values, element by element (contiguous, vectorised);
 *   2. horizontal pass: combine kw pixels of the row buffer, which carries padding pixels on
 *      both sides (-inf for max, 0 for average), so no column is clipped.
 * Max with indices carries, per buffered value, the row of its first maximum; the horizontal
 * pass keeps the larger value or, on a tie, the smaller row, which is exactly the first maximum
 * in row-major window order (NaN counts as the largest value; padding has row INT32_MAX so it
 * never wins a tie against a real pixel).
 *
 * Backward:
 *   - average: gather per input row: the covering output rows of dy are summed (vertical) and
 *     the covering output columns are summed (horizontal); every dx value is written once.
 *   - max, NHWC: gather per input row: dx[h][w][c] = sum over the windows covering (h, w) of
 *     dy * (index == h*W + w), in output row-major order; the number of matches is counted so
 *     the caller can detect indices that lie outside their window (then it scatters).
 *   - max, NCHW: windows tiling the plane exactly (stride == kernel, no padding; 2x2 stride 2
 *     with its own vector kernels): each window writes all its dx values directly (gradient or
 *     0, every value once, no zeroing pass); otherwise zero the plane (cache resident) and
 *     scatter dy at the indices in output row-major order.
 * Without indices, the argmax rows are recomputed with the forward kernel.
 *
 * Every function works on whole planes / images / rows given by a task number, so the caller
 * can split tasks among threads statically; no result depends on the split. Float32 sums are
 * accumulated in float32; a row whose result is not finite is recomputed in float64 (so an
 * average of values near FLT_MAX does not overflow in the accumulator).
 */
#ifndef FASTDL_POOL_H
#define FASTDL_POOL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "fastdl_simd.h"
#include "fastdl_pool_avx2.h"

/* Geometry of one pooling call. */
typedef struct {
    int64_t N;                 /* images (NHWC) or planes N*C (NCHW) */
    int64_t H, W, C;           /* input rows, pixels per row, values per pixel */
    int64_t OH, OW;            /* output rows and columns */
    int64_t kh, kw, sh, sw, ph, pw;
    int64_t band;              /* input rows per backward task (NHWC) */
} fastdl_pool_geom;

/* Workspace of one thread, carved from one block (64-byte aligned pieces). */
typedef struct {
    char *vb;                  /* row buffer, (W + 2pw) * C values (as double: fits both types) */
    int32_t *rb;               /* row of each buffered maximum, (W + 2pw) * C */
    int32_t *br, *bc;          /* best row / window column per output value, OW * C each */
    double *dv;                /* divisors (average) or column scales, OW */
    char *yrow;                /* one output row of values, OW * C */
    int64_t *ring;             /* recomputed argmax rows, R * OW * C */
    const int64_t **irows;     /* covering index rows, R */
    const char **drows;        /* covering dy rows, R */
    int64_t *wa, *wb;          /* first / last output column covering each input column, W */
    char *t;                   /* vertical sums of dy rows, OW * C values */
} fastdl_pool_ws;

static inline int64_t fastdl_pool_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t fastdl_pool_max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Largest number of output rows whose windows contain one input row. */
static inline int64_t fastdl_pool_ring_rows(const fastdl_pool_geom *g)
{
    return (g->kh + g->sh - 1) / g->sh;
}

static inline char *fastdl_pool_carve(char **p, size_t bytes)
{
    char *r = *p;
    *p += (bytes + 63) & ~(size_t)63;
    return r;
}

/* Carve the workspace from `base` (NULL: only measure); returns its size in bytes. */
static inline size_t fastdl_pool_ws_layout(const fastdl_pool_geom *g, char *base,
                                           fastdl_pool_ws *ws)
{
    char *p = base;
    const size_t row = (size_t)((g->W + 2 * g->pw) * g->C);
    const size_t orow = (size_t)(g->OW * g->C);
    const size_t R = (size_t)fastdl_pool_ring_rows(g);
    fastdl_pool_ws dummy;
    if (ws == NULL) ws = &dummy;
    ws->vb = fastdl_pool_carve(&p, row * sizeof(double));
    ws->rb = (int32_t *)fastdl_pool_carve(&p, row * sizeof(int32_t));
    ws->br = (int32_t *)fastdl_pool_carve(&p, orow * sizeof(int32_t));
    ws->bc = (int32_t *)fastdl_pool_carve(&p, orow * sizeof(int32_t));
    ws->dv = (double *)fastdl_pool_carve(&p, (size_t)g->OW * sizeof(double));
    ws->yrow = fastdl_pool_carve(&p, orow * sizeof(double));
    ws->ring = (int64_t *)fastdl_pool_carve(&p, R * orow * sizeof(int64_t));
    ws->irows = (const int64_t **)fastdl_pool_carve(&p, R * sizeof(void *));
    ws->drows = (const char **)fastdl_pool_carve(&p, R * sizeof(void *));
    ws->wa = (int64_t *)fastdl_pool_carve(&p, (size_t)g->W * sizeof(int64_t));
    ws->wb = (int64_t *)fastdl_pool_carve(&p, (size_t)g->W * sizeof(int64_t));
    ws->t = fastdl_pool_carve(&p, orow * sizeof(double));
    return (size_t)(p - base) + 64;
}

/* Bytes of one thread's workspace (the caller adds nothing: alignment slack included). */
static inline size_t fastdl_pool_ws_bytes(const fastdl_pool_geom *g)
{
    return fastdl_pool_ws_layout(g, NULL, NULL);
}

/* Workspace of a thread from its (possibly unaligned) block. */
static inline void fastdl_pool_ws_init(const fastdl_pool_geom *g, void *block,
                                       fastdl_pool_ws *ws)
{
    char *base = (char *)(((uintptr_t)block + 63) & ~(uintptr_t)63);
    fastdl_pool_ws_layout(g, base, ws);
}

/* Output indices [lo, hi] (lo > hi: none) of the windows that contain input index i, for
 * windows of size k, stride s and padding p over n_out outputs. */
static inline void fastdl_pool_covering(int64_t i, int64_t k, int64_t s, int64_t p,
                                        int64_t n_out, int64_t *lo, int64_t *hi)
{
    /* o*s - p <= i < o*s - p + k  <=>  (i + p - k)/s < o <= (i + p)/s */
    const int64_t a = i + p - k;  /* may be negative: floor division */
    const int64_t fl = a >= 0 ? a / s : -((-a + s - 1) / s);
    *lo = fastdl_pool_max64(fl + 1, 0);
    *hi = fastdl_pool_min64((i + p) / s, n_out - 1);
}

/* 2x2 windows, stride 2, no padding: the tiled case with dedicated kernels. */
static inline int fastdl_pool_tiled2(const fastdl_pool_geom *g)
{
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0;
}

/* --- instantiate for float and double ---------------------------------------------------- */
#define FASTDL_POOL_T float
#define FASTDL_POOL_SUF f32
#define FASTDL_POOL_IS_F32 1
#include "fastdl_pool_impl.h"
#undef FASTDL_POOL_T
#undef FASTDL_POOL_SUF
#undef FASTDL_POOL_IS_F32

#define FASTDL_POOL_T double
#define FASTDL_POOL_SUF f64
#define FASTDL_POOL_IS_F32 0
#include "fastdl_pool_impl.h"
#undef FASTDL_POOL_T
#undef FASTDL_POOL_SUF
#undef FASTDL_POOL_IS_F32

#endif /* FASTDL_POOL_H */
