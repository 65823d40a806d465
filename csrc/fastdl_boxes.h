/* Box kernels: format conversion, IoU (element-wise and pairwise), score ordering and greedy
 * NMS with a uniform-grid index of the kept boxes.
 *
 * Exactness. The reference (fastdl/reference/boxes.py) computes every geometric quantity in
 * float64 and casts the result to the input dtype. The kernels evaluate the same float64
 * expressions in the same order (no FMA contraction: -std=c99 implies -ffp-contract=off, and
 * the "avx2" clone does not enable FMA), so IoU values are bit-identical to the reference and
 * NMS keeps exactly the same boxes. Clamps are written `w < 0 ? 0 : w`, which propagates NaN
 * like np.maximum(w, 0) (only reachable with infinite coordinates).
 *
 * Inputs are read through byte strides (any layout, read-only views); outputs are C-contiguous.
 */
#ifndef FASTDL_BOXES_H
#define FASTDL_BOXES_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fastdl_simd.h"

/* Let GCC if-convert and vectorise the branch-free min/max/select loops (it keeps them
 * scalar under the default -ftrapping-math). Values are unchanged: no reassociation, no
 * contraction, NaN and signed zeros behave as written. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

#define FASTDL_BX_AT(T, base, i, j, s0, s1) \
    (*(const T *)((const char *)(base) + (ptrdiff_t)(i) * (s0) + (ptrdiff_t)(j) * (s1)))
#define FASTDL_BX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FASTDL_BX_MAX(a, b) ((a) > (b) ? (a) : (b))
#define FASTDL_BX_CLAMP0(w) ((w) < 0.0 ? 0.0 : (w))

enum { FASTDL_FMT_XYXY = 0, FASTDL_FMT_XYWH = 1, FASTDL_FMT_CXCYWH = 2 };

/* ---------------------------------------------------------------------------------------- */
/* Per-dtype kernels (T = float or double; all arithmetic in double, as the reference).       */

#define FASTDL_DEFINE_BOXES(T, S)                                                               \
/* Rows [i0, i1) of box_convert: in (n, 4) strided, out (n, 4) C-contiguous. */               \
static void fastdl_box_convert_##S(const T *in, ptrdiff_t s0, ptrdiff_t s1, ptrdiff_t i0,      \
        ptrdiff_t i1, int in_fmt, int out_fmt, T *out)                                        \
{                                                                                             \
    for (ptrdiff_t i = i0; i < i1; i++) {                                                     \
        double p0 = FASTDL_BX_AT(T, in, i, 0, s0, s1), p1 = FASTDL_BX_AT(T, in, i, 1, s0, s1); \
        double q0 = FASTDL_BX_AT(T, in, i, 2, s0, s1), q1 = FASTDL_BX_AT(T, in, i, 3, s0, s1); \
        double x1 = p0, y1 = p1, x2 = q0, y2 = q1;                                            \
        if (in_fmt == FASTDL_FMT_XYWH) { x2 = p0 + q0; y2 = p1 + q1; }                        \
        else if (in_fmt == FASTDL_FMT_CXCYWH) {                                               \
            const double hw = q0 / 2, hh = q1 / 2;                                            \
            x1 = p0 - hw; y1 = p1 - hh; x2 = p0 + hw; y2 = p1 + hh;                           \
        }                                                                                     \
        T *o = out + 4 * i;                                                                   \
        if (out_fmt == FASTDL_FMT_XYWH) {                                                     \
            o[0] = (T)x1; o[1] = (T)y1; o[2] = (T)(x2 - x1); o[3] = (T)(y2 - y1);             \
        } else if (out_fmt == FASTDL_FMT_CXCYWH) {                                            \
            o[0] = (T)((x1 + x2) / 2); o[1] = (T)((y1 + y2) / 2);                             \
            o[2] = (T)(x2 - x1); o[3] = (T)(y2 - y1);                                         \
        } else {                                                                              \
            o[0] = (T)x1; o[1] = (T)y1; o[2] = (T)x2; o[3] = (T)y2;                           \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
/* Rows [i0, i1) of the element-wise IoU of a[i] and b[i]. */                                 \
static void fastdl_iou_##S(const T *a, ptrdiff_t as0, ptrdiff_t as1, const T *b,              \
        ptrdiff_t bs0, ptrdiff_t bs1, ptrdiff_t i0, ptrdiff_t i1, T *out)                     \
{                                                                                             \
    for (ptrdiff_t i = i0; i < i1; i++) {                                                     \
        const double ax1 = FASTDL_BX_AT(T, a, i, 0, as0, as1);                                \
        const double ay1 = FASTDL_BX_AT(T, a, i, 1, as0, as1);                                \
        const double ax2 = FASTDL_BX_AT(T, a, i, 2, as0, as1);                                \
        const double ay2 = FASTDL_BX_AT(T, a, i, 3, as0, as1);                                \
        const double bx1 = FASTDL_BX_AT(T, b, i, 0, bs0, bs1);                                \
        const double by1 = FASTDL_BX_AT(T, b, i, 1, bs0, bs1);                                \
        const double bx2 = FASTDL_BX_AT(T, b, i, 2, bs0, bs1);                                \
        const double by2 = FASTDL_BX_AT(T, b, i, 3, bs0, bs1);                                \
        const double aw = ax2 - ax1, ah = ay2 - ay1, bw = bx2 - bx1, bh = by2 - by1;          \
        const double area_a = FASTDL_BX_CLAMP0(aw) * FASTDL_BX_CLAMP0(ah);                    \
        const double area_b = FASTDL_BX_CLAMP0(bw) * FASTDL_BX_CLAMP0(bh);                    \
        double w = FASTDL_BX_MIN(ax2, bx2) - FASTDL_BX_MAX(ax1, bx1);                         \
        double h = FASTDL_BX_MIN(ay2, by2) - FASTDL_BX_MAX(ay1, by1);                         \
        w = FASTDL_BX_CLAMP0(w);                                                              \
        h = FASTDL_BX_CLAMP0(h);                                                              \
        const double inter = w * h;                                                           \
        const double u = area_a + area_b - inter;                                             \
        out[i] = (T)(u > 0 ? inter / u : 0.0);                                                \
    }                                                                                         \
}                                                                                             \
/* Structure-of-arrays float64 copy of boxes[idx[g]] for g in [0, n) (idx NULL: identity),    \
 * with the areas. Returns 1 when every coordinate is finite. */                              \
static int fastdl_boxes_soa_##S(const T *bx, ptrdiff_t s0, ptrdiff_t s1, const int64_t *idx,  \
        ptrdiff_t n, double *x1, double *y1, double *x2, double *y2, double *area)            \
{                                                                                             \
    int finite = 1;                                                                           \
    for (ptrdiff_t g = 0; g < n; g++) {                                                       \
        const ptrdiff_t i = idx ? (ptrdiff_t)idx[g] : g;                                      \
        const double a = FASTDL_BX_AT(T, bx, i, 0, s0, s1), b = FASTDL_BX_AT(T, bx, i, 1, s0, s1); \
        const double c = FASTDL_BX_AT(T, bx, i, 2, s0, s1), d = FASTDL_BX_AT(T, bx, i, 3, s0, s1); \
        const double w = c - a, h = d - b;                                                    \
        x1[g] = a; y1[g] = b; x2[g] = c; y2[g] = d;                                           \
        area[g] = FASTDL_BX_CLAMP0(w) * FASTDL_BX_CLAMP0(h);                                  \
        finite &= isfinite(a) & isfinite(b) & isfinite(c) & isfinite(d);                      \
    }                                                                                         \
    return finite;                                                                            \
}

FASTDL_DEFINE_BOXES(float, f32)
FASTDL_DEFINE_BOXES(double, f64)

/* Pairwise IoU of rows [i0, i1) of a (strided, dtype T) against the float64 SoA of b; out is
 * (n, m) C-contiguous. One output row per a box: the inner loop over b is branch-free and
 * vectorises (min/max/blend/div, 4 doubles per AVX2 instruction). */
#define FASTDL_DEFINE_BOX_IOU(T, S)                                                             \
FASTDL_CLONES static void fastdl_box_iou_row_##S(double ax1, double ay1, double ax2,          \
        double ay2, const double *FASTDL_RESTRICT bx1, const double *FASTDL_RESTRICT by1,     \
        const double *FASTDL_RESTRICT bx2, const double *FASTDL_RESTRICT by2,                 \
        const double *FASTDL_RESTRICT barea, ptrdiff_t m, T *FASTDL_RESTRICT out)             \
{                                                                                             \
    const double aw = ax2 - ax1, ah = ay2 - ay1;                                              \
    const double area_a = FASTDL_BX_CLAMP0(aw) * FASTDL_BX_CLAMP0(ah);                        \
    for (ptrdiff_t j = 0; j < m; j++) {                                                       \
        double w = FASTDL_BX_MIN(ax2, bx2[j]) - FASTDL_BX_MAX(ax1, bx1[j]);                   \
        double h = FASTDL_BX_MIN(ay2, by2[j]) - FASTDL_BX_MAX(ay1, by1[j]);                   \
        w = FASTDL_BX_CLAMP0(w);                                                              \
        h = FASTDL_BX_CLAMP0(h);                                                              \
        const double inter = w * h;                                                           \
        const double u = area_a + barea[j] - inter;                                           \
        const int pos = u > 0;                                                                \
        const double r = inter / (pos ? u : 1.0);                                             \
        out[j] = (T)(pos ? r : 0.0);                                                          \
    }                                                                                         \
}                                                                                             \
static void fastdl_box_iou_rows_##S(const T *a, ptrdiff_t s0, ptrdiff_t s1, ptrdiff_t i0,     \
        ptrdiff_t i1, const double *bsoa, ptrdiff_t m, T *out)                                \
{                                                                                             \
    for (ptrdiff_t i = i0; i < i1; i++)                                                       \
        fastdl_box_iou_row_##S(FASTDL_BX_AT(T, a, i, 0, s0, s1), FASTDL_BX_AT(T, a, i, 1, s0, s1), \
                               FASTDL_BX_AT(T, a, i, 2, s0, s1), FASTDL_BX_AT(T, a, i, 3, s0, s1), \
                               bsoa, bsoa + m, bsoa + 2 * m, bsoa + 3 * m, bsoa + 4 * m, m,   \
                               out + i * m);                                                  \
}

FASTDL_DEFINE_BOX_IOU(float, f32)
FASTDL_DEFINE_BOX_IOU(double, f64)

/* ---------------------------------------------------------------------------------------- */
/* Visiting order: indices by decreasing score, ties by lower index, optionally only scores   */
/* >= threshold. A stable LSD radix sort (8-bit digits, constant digits skipped) of order-    */
/* preserving integer keys: float32 needs at most 4 passes, float64 at most 8.                */

/* Unsigned key ordering like the float, descending; -0.0 and +0.0 get the same key. */
static inline uint64_t fastdl_desc_key_f32(float s)
{
    uint32_t u;
    s = s + 0.0f;                      /* -0.0 -> +0.0 (ties with +0.0, as in argsort) */
    memcpy(&u, &s, sizeof u);
    u ^= (u >> 31) ? 0xFFFFFFFFu : 0x80000000u;
    return (uint64_t)(uint32_t)~u;
}

static inline uint64_t fastdl_desc_key_f64(double s)
{
    uint64_t u;
    s = s + 0.0;
    memcpy(&u, &s, sizeof u);
    u ^= (u >> 63) ? 0xFFFFFFFFFFFFFFFFull : 0x8000000000000000ull;
    return ~u;
}

/* Stable ascending radix sort of (key, payload); key/idx hold the input and receive the
 * result; tkey/tidx are scratch of n entries. */
static void fastdl_radix_sort_u64(uint64_t *key, int64_t *idx, uint64_t *tkey, int64_t *tidx,
                                  ptrdiff_t n, int bytes)
{
    ptrdiff_t hist[8][256];
    memset(hist, 0, sizeof hist);
    for (ptrdiff_t i = 0; i < n; i++) {
        const uint64_t k = key[i];
        for (int b = 0; b < bytes; b++) hist[b][(k >> (8 * b)) & 0xFF]++;
    }
    uint64_t *src_k = key, *dst_k = tkey;
    int64_t *src_i = idx, *dst_i = tidx;
    for (int b = 0; b < bytes; b++) {
        ptrdiff_t *h = hist[b];
        if (n == 0 || h[(key[0] >> (8 * b)) & 0xFF] == n) continue;   /* one digit: skip */
        ptrdiff_t sum = 0;
        for (int d = 0; d < 256; d++) { const ptrdiff_t c = h[d]; h[d] = sum; sum += c; }
        for (ptrdiff_t i = 0; i < n; i++) {
            const uint64_t k = src_k[i];
            const ptrdiff_t p = h[(k >> (8 * b)) & 0xFF]++;
            dst_k[p] = k;
            dst_i[p] = src_i[i];
        }
        uint64_t *tk = src_k; src_k = dst_k; dst_k = tk;
        int64_t *ti = src_i; src_i = dst_i; dst_i = ti;
    }
    if (src_k != key) {
        memcpy(key, src_k, (size_t)n * sizeof *key);
        memcpy(idx, src_i, (size_t)n * sizeof *idx);
    }
}

/* Fill order[0..m) with the visiting order of scores (strided, n entries); returns m, or -1
 * when out of memory. `thr` is the score threshold already rounded to T (as NumPy compares a
 * T array with a Python float); use_thr = 0 keeps every score. */
#define FASTDL_DEFINE_ORDER(T, S)                                                               \
static ptrdiff_t fastdl_visiting_order_##S(const T *scores, ptrdiff_t ss, ptrdiff_t n,         \
        int use_thr, T thr, int64_t *order)                                                   \
{                                                                                             \
    uint64_t *key = (uint64_t *)malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof(uint64_t));       \
    int64_t *tidx = (int64_t *)malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));             \
    if (!key || !tidx) { free(key); free(tidx); return -1; }                                  \
    ptrdiff_t m = 0;                                                                          \
    for (ptrdiff_t i = 0; i < n; i++) {                                                       \
        const T s = *(const T *)((const char *)scores + i * ss);                              \
        if (use_thr && !(s >= thr)) continue;                                                 \
        key[m] = fastdl_desc_key_##S(s);                                                      \
        order[m] = i;                                                                         \
        m++;                                                                                  \
    }                                                                                         \
    fastdl_radix_sort_u64(key, order, key + n, tidx, m, (int)sizeof(T));                      \
    free(key);                                                                                \
    free(tidx);                                                                               \
    return m;                                                                                 \
}

FASTDL_DEFINE_ORDER(float, f32)
FASTDL_DEFINE_ORDER(double, f64)

/* ---------------------------------------------------------------------------------------- */
/* Greedy NMS over boxes already in visiting order (float64 SoA).                             */
/*                                                                                            */
/* Box g is kept unless a kept box k has inter(k, g) > thr * (area_k + area_g - inter), the   */
/* reference's test. Only kept boxes that overlap g with a positive area can pass it (inter   */
/* must be > thr * union >= 0), so the kernel compares g only with kept boxes sharing a grid  */
/* cell with it; boxes of zero area can neither suppress nor be suppressed and are kept       */
/* without a test. The result is the reference's, box for box.                                */

/* Whether kept box k (SoA kx1..karea) suppresses the candidate (x1, y1, x2, y2, area). */
static inline int fastdl_nms_suppresses(double kx1, double ky1, double kx2, double ky2,
                                        double karea, double x1, double y1, double x2,
                                        double y2, double area, double thr)
{
    double w = FASTDL_BX_MIN(kx2, x2) - FASTDL_BX_MAX(kx1, x1);
    double h = FASTDL_BX_MIN(ky2, y2) - FASTDL_BX_MAX(ky1, y1);
    w = FASTDL_BX_CLAMP0(w);
    h = FASTDL_BX_CLAMP0(h);
    const double inter = w * h;
    return inter > thr * (karea + area - inter);
}

/* Any of the kept boxes [0, nk) suppresses the candidate (branch-free blocks of 8). */
FASTDL_CLONES static int fastdl_nms_any_kept(const double *FASTDL_RESTRICT kx1,
        const double *FASTDL_RESTRICT ky1, const double *FASTDL_RESTRICT kx2,
        const double *FASTDL_RESTRICT ky2, const double *FASTDL_RESTRICT karea, ptrdiff_t nk,
        double x1, double y1, double x2, double y2, double area, double thr)
{
    ptrdiff_t k = 0;
    for (; k + 8 <= nk; k += 8) {
        int hit = 0;
        for (int t = 0; t < 8; t++) {
            double w = FASTDL_BX_MIN(kx2[k + t], x2) - FASTDL_BX_MAX(kx1[k + t], x1);
            double h = FASTDL_BX_MIN(ky2[k + t], y2) - FASTDL_BX_MAX(ky1[k + t], y1);
            w = FASTDL_BX_CLAMP0(w);
            h = FASTDL_BX_CLAMP0(h);
            const double inter = w * h;
            hit |= inter > thr * (karea[k + t] + area - inter);
        }
        if (hit) return 1;
    }
    for (; k < nk; k++)
        if (fastdl_nms_suppresses(kx1[k], ky1[k], kx2[k], ky2[k], karea[k], x1, y1, x2, y2,
                                  area, thr))
            return 1;
    return 0;
}

/* Largest cell span (per axis) of a box entered in the grid; larger boxes are tested by every
 * candidate (a kept-box list), and a larger candidate is tested against every kept box. */
#define FASTDL_NMS_MAX_SPAN 3

static inline ptrdiff_t fastdl_nms_cell(double v, double lo, double inv, ptrdiff_t g)
{
    const double t = (v - lo) * inv;     /* monotonic in v: overlapping boxes share a cell */
    ptrdiff_t c = t > 0 ? (ptrdiff_t)t : 0;
    return c < g ? c : g - 1;
}

/* Greedy NMS of the n boxes (SoA, visiting order); writes the kept positions (ascending) to
 * kept and returns their count (at most limit; limit < 0: no limit), or -1 when out of
 * memory. finite: every coordinate is finite (else a plain scan over the kept boxes).
 *
 * Grid: a uniform grid with cells about the mean box size. Every cell gets a fixed slice of
 * one entry array (compressed rows), sized by the number of boxes covering the cell, so a
 * kept box is appended to each cell it covers without any reallocation; a cell's kept boxes
 * are thus contiguous float64 SoA entries, in keeping order (best scores first, the likeliest
 * suppressors). A candidate scans only the kept boxes of its cells, 8 at a time, branch-free,
 * stopping at the first suppressor. Boxes spanning more than FASTDL_NMS_MAX_SPAN cells on an
 * axis stay out of the grid (a list every candidate checks). */
static ptrdiff_t fastdl_nms_soa(const double *x1, const double *y1, const double *x2,
                                const double *y2, const double *area, ptrdiff_t n, double thr,
                                ptrdiff_t limit, int finite, int64_t *kept)
{
    if (limit < 0 || limit > n) limit = n;
    if (limit == 0) return 0;

    /* Extent and mean size of the boxes with a positive area. */
    double lox = INFINITY, loy = INFINITY, hix = -INFINITY, hiy = -INFINITY, sw = 0, sh = 0;
    ptrdiff_t npos = 0;
    for (ptrdiff_t g = 0; g < n; g++) {
        if (!(area[g] > 0)) continue;
        lox = FASTDL_BX_MIN(lox, x1[g]); loy = FASTDL_BX_MIN(loy, y1[g]);
        hix = FASTDL_BX_MAX(hix, x2[g]); hiy = FASTDL_BX_MAX(hiy, y2[g]);
        sw += x2[g] - x1[g]; sh += y2[g] - y1[g];
        npos++;
    }
    const double ext_x = hix - lox, ext_y = hiy - loy;
    int use_grid = finite && npos >= 32 && isfinite(ext_x) && isfinite(ext_y)
                   && isfinite(sw) && isfinite(sh);
    ptrdiff_t gx = 1, gy = 1;
    double inv = 0;
    if (use_grid) {
        /* Cells about the mean box size (entries scanned ~ density * (w + s)^4 / s^2, least
         * at s = w), at most 2 * npos + 64 cells. */
        double s = FASTDL_BX_MAX(sw, sh) / (double)npos;
        const double cap = 2.0 * (double)npos + 64.0;
        s = FASTDL_BX_MAX(s, FASTDL_BX_MAX(ext_x, ext_y) / cap);
        s = FASTDL_BX_MAX(s, sqrt(ext_x * ext_y / cap));
        while ((ext_x / s + 1.0) * (ext_y / s + 1.0) > cap) s *= 1.25;
        if (!(s > 0)) use_grid = 0;
        else {
            inv = 1.0 / s;
            gx = (ptrdiff_t)(ext_x * inv) + 1;
            gy = (ptrdiff_t)(ext_y * inv) + 1;
        }
    }

    /* Kept boxes of positive area (SoA, keeping order), for large candidates / no grid. */
    double *kbuf = (double *)malloc((size_t)limit * 5 * sizeof(double));
    if (!kbuf) return -1;
    double *kx1 = kbuf, *ky1 = kbuf + limit, *kx2 = kbuf + 2 * limit, *ky2 = kbuf + 3 * limit;
    double *karea = kbuf + 4 * limit;
    ptrdiff_t nk = 0;

    /* Grid: cell c owns entries [cbeg[c], cbeg[c + 1]), of which the first kcnt[c] hold its
     * kept boxes; bc: each box's cell range (r[0] = -1: zero area, -2: large). */
    ptrdiff_t *cbeg = NULL, *kcnt = NULL, *bc = NULL, *big = NULL;
    double *ebuf = NULL, *ex1 = NULL, *ey1 = NULL, *ex2 = NULL, *ey2 = NULL, *ea = NULL;
    ptrdiff_t nbig = 0;
    if (use_grid) {
        const ptrdiff_t ncell = gx * gy;
        cbeg = (ptrdiff_t *)calloc((size_t)ncell + 1, sizeof(ptrdiff_t));
        kcnt = (ptrdiff_t *)calloc((size_t)ncell, sizeof(ptrdiff_t));
        bc = (ptrdiff_t *)malloc((size_t)n * 4 * sizeof(ptrdiff_t));
        big = (ptrdiff_t *)malloc((size_t)limit * sizeof(ptrdiff_t));
        if (!cbeg || !kcnt || !bc || !big) goto oom;
        for (ptrdiff_t g = 0; g < n; g++) {
            ptrdiff_t *r = bc + 4 * g;
            if (!(area[g] > 0)) { r[0] = -1; continue; }
            r[0] = fastdl_nms_cell(x1[g], lox, inv, gx); r[2] = fastdl_nms_cell(x2[g], lox, inv, gx);
            r[1] = fastdl_nms_cell(y1[g], loy, inv, gy); r[3] = fastdl_nms_cell(y2[g], loy, inv, gy);
            if (r[2] - r[0] >= FASTDL_NMS_MAX_SPAN || r[3] - r[1] >= FASTDL_NMS_MAX_SPAN) {
                r[0] = -2;
                continue;
            }
            for (ptrdiff_t cy = r[1]; cy <= r[3]; cy++)
                for (ptrdiff_t cx = r[0]; cx <= r[2]; cx++) cbeg[cy * gx + cx + 1]++;
        }
        for (ptrdiff_t c = 0; c < ncell; c++) cbeg[c + 1] += cbeg[c];
        const ptrdiff_t nent = cbeg[ncell] > 0 ? cbeg[ncell] : 1;
        ebuf = (double *)malloc((size_t)nent * 5 * sizeof(double));
        if (!ebuf) goto oom;
        ex1 = ebuf; ey1 = ebuf + nent; ex2 = ebuf + 2 * nent; ey2 = ebuf + 3 * nent;
        ea = ebuf + 4 * nent;
    }

    ptrdiff_t nkept = 0;
    for (ptrdiff_t g = 0; g < n && nkept < limit; g++) {
        const double bx1 = x1[g], by1 = y1[g], bx2 = x2[g], by2 = y2[g], ba = area[g];
        if (ba == 0) {                     /* zero area: never suppressed, never suppresses */
            kept[nkept++] = g;
            continue;
        }
        const ptrdiff_t *r = use_grid ? bc + 4 * g : NULL;
        const int in_grid = use_grid && r[0] >= 0;
        int sup;
        if (!in_grid) {
            sup = fastdl_nms_any_kept(kx1, ky1, kx2, ky2, karea, nk, bx1, by1, bx2, by2, ba, thr);
        } else {
            sup = 0;
            for (ptrdiff_t t = 0; t < nbig && !sup; t++) {
                const ptrdiff_t k = big[t];
                sup = fastdl_nms_suppresses(kx1[k], ky1[k], kx2[k], ky2[k], karea[k],
                                            bx1, by1, bx2, by2, ba, thr);
            }
            for (ptrdiff_t cy = r[1]; cy <= r[3] && !sup; cy++)
                for (ptrdiff_t cx = r[0]; cx <= r[2] && !sup; cx++) {
                    const ptrdiff_t c = cy * gx + cx, e0 = cbeg[c];
                    sup = fastdl_nms_any_kept(ex1 + e0, ey1 + e0, ex2 + e0, ey2 + e0, ea + e0,
                                              kcnt[c], bx1, by1, bx2, by2, ba, thr);
                }
        }
        if (sup) continue;
        kept[nkept++] = g;
        kx1[nk] = bx1; ky1[nk] = by1; kx2[nk] = bx2; ky2[nk] = by2; karea[nk] = ba;
        if (in_grid) {
            for (ptrdiff_t cy = r[1]; cy <= r[3]; cy++)
                for (ptrdiff_t cx = r[0]; cx <= r[2]; cx++) {
                    const ptrdiff_t c = cy * gx + cx, e = cbeg[c] + kcnt[c]++;
                    ex1[e] = bx1; ey1[e] = by1; ex2[e] = bx2; ey2[e] = by2; ea[e] = ba;
                }
        } else if (use_grid) {
            big[nbig++] = nk;
        }
        nk++;
    }
    free(kbuf); free(cbeg); free(kcnt); free(bc); free(big); free(ebuf);
    return nkept;
oom:
    free(kbuf); free(cbeg); free(kcnt); free(bc); free(big); free(ebuf);
    return -1;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif /* FASTDL_BOXES_H */
