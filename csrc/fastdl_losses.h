/* Softmax, log-softmax, softmax backward, fused softmax cross-entropy and the binary
 * cross-entropies, one row (or one contiguous run) at a time.
 *
 * Sums use FDL_LANES independent accumulators combined in a fixed order (vectorised by GCC,
 * and independent of how rows are shared among threads). Sums of float data accumulate in
 * double. A softmax row is read from memory once: the max pass brings it into L1, the
 * exponentials are written to the output row (L1) and rescaled there.
 */
#ifndef FASTDL_LOSSES_H
#define FASTDL_LOSSES_H

#include "fastdl_math.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif


/* Row maxima with GCC generic vectors (8 floats / 4 doubles, two accumulators; AVX2 in the
 * avx2 clone, pairs of SSE2 registers in the baseline). NaN is skipped here; it propagates
 * through the exp-sum. */
typedef float fdl_v8f __attribute__((vector_size(32)));
typedef int32_t fdl_v8i __attribute__((vector_size(32)));
typedef double fdl_v4d __attribute__((vector_size(32)));
typedef int64_t fdl_v4l __attribute__((vector_size(32)));

FASTDL_MATH_CLONES static float fdl_row_max_f32(const float *x, ptrdiff_t n)
{
    float m = x[0];
    ptrdiff_t i = 0;
    if (n >= 16) {
        fdl_v8f a, b, v;
        memcpy(&a, x, 32);
        memcpy(&b, x + 8, 32);
        for (i = 16; i + 16 <= n; i += 16) {
            memcpy(&v, x + i, 32);
            fdl_v8i g = v > a;
            a = (fdl_v8f)(((fdl_v8i)v & g) | ((fdl_v8i)a & ~g));
            memcpy(&v, x + i + 8, 32);
            g = v > b;
            b = (fdl_v8f)(((fdl_v8i)v & g) | ((fdl_v8i)b & ~g));
        }
        for (int k = 0; k < 8; k++) {
            m = a[k] > m ? a[k] : m;
            m = b[k] > m ? b[k] : m;
        }
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

FASTDL_MATH_CLONES static double fdl_row_max_f64(const double *x, ptrdiff_t n)
{
    double m = x[0];
    ptrdiff_t i = 0;
    if (n >= 8) {
        fdl_v4d a, b, v;
        memcpy(&a, x, 32);
        memcpy(&b, x + 4, 32);
        for (i = 8; i + 8 <= n; i += 8) {
            memcpy(&v, x + i, 32);
            fdl_v4l g = v > a;
            a = (fdl_v4d)(((fdl_v4l)v & g) | ((fdl_v4l)a & ~g));
            memcpy(&v, x + i + 4, 32);
            g = v > b;
            b = (fdl_v4d)(((fdl_v4l)v & g) | ((fdl_v4l)b & ~g));
        }
        for (int k = 0; k < 4; k++) {
            m = a[k] > m ? a[k] : m;
            m = b[k] > m ? b[k] : m;
        }
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

#define FDL_LANES 16
#define FDL_BLOCK 256      /* elements of the on-stack scratch block */

#define FASTDL_DEFINE_LOSSES(T, ACC, SUFFIX, LOG)                                             \
/* max of x[0..n), n >= 1: fdl_row_max_##SUFFIX (generic vectors, below) */       \
/* sum of x[0..n) in ACC, in a fixed order */                                                 \
FASTDL_MATH_CLONES static ACC fdl_row_sum_##SUFFIX(const T *FASTDL_RESTRICT x, ptrdiff_t n)       \
{                                                                                             \
    ACC acc[FDL_LANES];                                                                       \
    for (int k = 0; k < FDL_LANES; k++) acc[k] = 0;                                           \
    ptrdiff_t i = 0;                                                                          \
    for (; i + FDL_LANES <= n; i += FDL_LANES)                                                \
        for (int k = 0; k < FDL_LANES; k++) acc[k] += (ACC)x[i + k];                          \
    for (; i < n; i++) acc[i - (n / FDL_LANES) * FDL_LANES] += (ACC)x[i];                     \
    ACC s = 0;                                                                                \
    for (int k = 0; k < FDL_LANES; k++) s += acc[k];                                          \
    return s;                                                                                 \
}                                                                                             \
/* sum of a[i] * b[i] in ACC */                                                               \
FASTDL_MATH_CLONES static ACC fdl_row_dot_##SUFFIX(const T *FASTDL_RESTRICT a,                    \
        const T *FASTDL_RESTRICT b, ptrdiff_t n)                                              \
{                                                                                             \
    ACC acc[FDL_LANES];                                                                       \
    for (int k = 0; k < FDL_LANES; k++) acc[k] = 0;                                           \
    ptrdiff_t i = 0;                                                                          \
    for (; i + FDL_LANES <= n; i += FDL_LANES)                                                \
        for (int k = 0; k < FDL_LANES; k++) acc[k] += (ACC)a[i + k] * (ACC)b[i + k];          \
    for (; i < n; i++) acc[i - (n / FDL_LANES) * FDL_LANES] += (ACC)a[i] * (ACC)b[i];         \
    ACC s = 0;                                                                                \
    for (int k = 0; k < FDL_LANES; k++) s += acc[k];                                          \
    return s;                                                                                 \
}                                                                                             \
/* y[i] = exp(x[i] - m) (y may be x) */                                                       \
FASTDL_MATH_CLONES static void fdl_exp_shift_portable_##SUFFIX(const T *FASTDL_RESTRICT x,   \
        T m, T *FASTDL_RESTRICT y, ptrdiff_t n)                                               \
{ for (ptrdiff_t i = 0; i < n; i++) y[i] = fdl_exp_##SUFFIX(x[i] - m); }                      \
static inline void fdl_exp_shift_##SUFFIX(const T *x, T m, T *y, ptrdiff_t n)                 \
{ if (!fdl_exp_fast_##SUFFIX(x, m, y, n)) fdl_exp_shift_portable_##SUFFIX(x, m, y, n); }      \
/* y[i] = exp(x[i] - m), returning the sum of the y[i] as fdl_row_sum would (one pass on     \
 * AVX-512, where the sum rides along) */                                                     \
static inline ACC fdl_exp_shift_sum_##SUFFIX(const T *x, T m, T *y, ptrdiff_t n)              \
{                                                                                             \
    double s;                                                                                 \
    if (fdl_exp_sum_fast_##SUFFIX(x, m, y, n, &s)) return (ACC)s;                             \
    fdl_exp_shift_##SUFFIX(x, m, y, n);                                                       \
    return fdl_row_sum_##SUFFIX(y, n);                                                        \
}                                                                                             \
/* y[i] *= q */                                                                               \
FASTDL_MATH_CLONES static void fdl_scale_##SUFFIX(T *FASTDL_RESTRICT y, T q, ptrdiff_t n)         \
{ for (ptrdiff_t i = 0; i < n; i++) y[i] *= q; }                                              \
/* y[i] = y[i] * q * scale */                                                                 \
FASTDL_MATH_CLONES static void fdl_scale2_##SUFFIX(T *FASTDL_RESTRICT y, T q, T scale, ptrdiff_t n) \
{ for (ptrdiff_t i = 0; i < n; i++) y[i] = y[i] * q * scale; }                                \
/* y[i] = (x[i] - m) - ls (y may be x) */                                                     \
FASTDL_MATH_CLONES static void fdl_sub2_##SUFFIX(const T *FASTDL_RESTRICT x, T m, T ls,           \
        T *FASTDL_RESTRICT y, ptrdiff_t n)                                                    \
{ for (ptrdiff_t i = 0; i < n; i++) y[i] = (x[i] - m) - ls; }                                 \
/* sum of exp(x[i] - m) without storing (blocks through a stack buffer) */                    \
static inline ACC fdl_exp_sum_##SUFFIX(const T *x, T m, ptrdiff_t n)                          \
{                                                                                             \
    T buf[FDL_BLOCK];                                                                         \
    ACC s = 0;                                                                                \
    for (ptrdiff_t i = 0; i < n; i += FDL_BLOCK) {                                            \
        const ptrdiff_t b = n - i < FDL_BLOCK ? n - i : FDL_BLOCK;                            \
        s += fdl_exp_shift_sum_##SUFFIX(x + i, m, buf, b);                                    \
    }                                                                                         \
    return s;                                                                                 \
}                                                                                             \
/* softmax (log = 0) or log-softmax (log = 1) of rows [r0, r1) of k elements; y may be x */   \
static inline void fdl_softmax_rows_##SUFFIX(int take_log, const T *x, T *y, ptrdiff_t r0,        \
        ptrdiff_t r1, ptrdiff_t k)                                                            \
{                                                                                             \
    for (ptrdiff_t r = r0; r < r1; r++) {                                                     \
        const T *xr = x + r * k;                                                              \
        T *yr = y + r * k;                                                                    \
        const T m = fdl_row_max_##SUFFIX(xr, k);                                              \
        if (take_log) {                                                                          \
            const ACC s = fdl_exp_sum_##SUFFIX(xr, m, k);                                     \
            fdl_sub2_##SUFFIX(xr, m, (T)LOG(s), yr, k);                                       \
        } else {                                                                              \
            fdl_scale_##SUFFIX(yr, (T)(1.0 / fdl_exp_shift_sum_##SUFFIX(xr, m, yr, k)), k);   \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
/* Softmax along the middle axis of a C-contiguous (outer, k, inner) array, for inner columns    \
 * [j0, j1) of slab o: vectorised across the contiguous inner axis, m and s kept per column   \
 * in the caller's scratch (j1 - j0 <= FDL_BLOCK). y may be x. */                             \
FASTDL_MATH_CLONES static void fdl_col_max_##SUFFIX(const T *FASTDL_RESTRICT x,              \
        T *FASTDL_RESTRICT m, ptrdiff_t n)                                                    \
{ for (ptrdiff_t j = 0; j < n; j++) m[j] = x[j] > m[j] ? x[j] : m[j]; }                       \
FASTDL_MATH_CLONES static void fdl_col_exp_acc_##SUFFIX(const T *FASTDL_RESTRICT x,          \
        const T *FASTDL_RESTRICT m, T *FASTDL_RESTRICT buf, ACC *FASTDL_RESTRICT s,           \
        ptrdiff_t n)                                                                          \
{ for (ptrdiff_t j = 0; j < n; j++) { const T e = fdl_exp_##SUFFIX(x[j] - m[j]);              \
      buf[j] = e; s[j] += (ACC)e; } }                                                         \
FASTDL_MATH_CLONES static void fdl_col_scale_##SUFFIX(T *FASTDL_RESTRICT y,                  \
        const T *FASTDL_RESTRICT q, ptrdiff_t n)                                              \
{ for (ptrdiff_t j = 0; j < n; j++) y[j] *= q[j]; }                                           \
FASTDL_MATH_CLONES static void fdl_col_sub2_##SUFFIX(const T *FASTDL_RESTRICT x,             \
        const T *FASTDL_RESTRICT m, const T *FASTDL_RESTRICT ls, T *FASTDL_RESTRICT y,        \
        ptrdiff_t n)                                                                          \
{ for (ptrdiff_t j = 0; j < n; j++) y[j] = (x[j] - m[j]) - ls[j]; }                           \
static inline void fdl_softmax_cols_##SUFFIX(int take_log, const T *x, T *y, ptrdiff_t k,     \
        ptrdiff_t inner, ptrdiff_t o, ptrdiff_t j0, ptrdiff_t j1)                             \
{                                                                                             \
    T m[FDL_BLOCK], q[FDL_BLOCK], buf[FDL_BLOCK];                                             \
    ACC s[FDL_BLOCK];                                                                         \
    const ptrdiff_t n = j1 - j0;                                                              \
    const T *xs = x + o * k * inner + j0;                                                     \
    T *ys = y + o * k * inner + j0;                                                           \
    for (ptrdiff_t j = 0; j < n; j++) { m[j] = xs[j]; s[j] = 0; }                             \
    for (ptrdiff_t c = 1; c < k; c++) fdl_col_max_##SUFFIX(xs + c * inner, m, n);             \
    for (ptrdiff_t c = 0; c < k; c++)                                                         \
        fdl_col_exp_acc_##SUFFIX(xs + c * inner, m, take_log ? buf : ys + c * inner, s, n);   \
    if (take_log) {                                                                           \
        for (ptrdiff_t j = 0; j < n; j++) q[j] = (T)LOG(s[j]);                                \
        for (ptrdiff_t c = 0; c < k; c++)                                                     \
            fdl_col_sub2_##SUFFIX(xs + c * inner, m, q, ys + c * inner, n);                   \
    } else {                                                                                  \
        for (ptrdiff_t j = 0; j < n; j++) q[j] = (T)(1.0 / s[j]);                             \
        for (ptrdiff_t c = 0; c < k; c++) fdl_col_scale_##SUFFIX(ys + c * inner, q, n);       \
    }                                                                                         \
}                                                                                             \
/* dx[i] = y[i] * (dy[i] - d) */                                                              \
FASTDL_MATH_CLONES static void fdl_softmax_grad_##SUFFIX(const T *FASTDL_RESTRICT dy,             \
        const T *FASTDL_RESTRICT y, T d, T *FASTDL_RESTRICT dx, ptrdiff_t n)                  \
{ for (ptrdiff_t i = 0; i < n; i++) dx[i] = y[i] * (dy[i] - d); }                             \
static inline void fdl_softmax_backward_rows_##SUFFIX(const T *dy, const T *y, T *dx,         \
        ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t k)                                              \
{                                                                                             \
    for (ptrdiff_t r = r0; r < r1; r++) {                                                     \
        const ACC d = fdl_row_dot_##SUFFIX(dy + r * k, y + r * k, k);                         \
        fdl_softmax_grad_##SUFFIX(dy + r * k, y + r * k, (T)d, dx + r * k, k);                \
    }                                                                                         \
}                                                                                             \
/* g[i] = (g[i] * q - p[i]) * scale */                                                        \
FASTDL_MATH_CLONES static void fdl_ce_grad_##SUFFIX(T *FASTDL_RESTRICT g,                         \
        const T *FASTDL_RESTRICT p, T q, T scale, ptrdiff_t n)                                \
{ for (ptrdiff_t i = 0; i < n; i++) g[i] = (g[i] * q - p[i]) * scale; }                       \
/* sum over p[i] != 0 of p[i] * (z[i] - lse), in ACC */                                       \
FASTDL_MATH_CLONES static ACC fdl_ce_dot_##SUFFIX(const T *FASTDL_RESTRICT p,                     \
        const T *FASTDL_RESTRICT z, ACC lse, ptrdiff_t n)                                     \
{                                                                                             \
    ACC acc[FDL_LANES];                                                                       \
    for (int k = 0; k < FDL_LANES; k++) acc[k] = 0;                                           \
    ptrdiff_t i = 0;                                                                          \
    for (; i + FDL_LANES <= n; i += FDL_LANES)                                                \
        for (int k = 0; k < FDL_LANES; k++) {                                                 \
            const ACC t = (ACC)p[i + k] * ((ACC)z[i + k] - lse);                              \
            acc[k] += p[i + k] != 0 ? t : (ACC)0;                                             \
        }                                                                                     \
    for (; i < n; i++) {                                                                      \
        const ACC t = (ACC)p[i] * ((ACC)z[i] - lse);                                          \
        acc[i - (n / FDL_LANES) * FDL_LANES] += p[i] != 0 ? t : (ACC)0;                       \
    }                                                                                         \
    ACC s = 0;                                                                                \
    for (int k = 0; k < FDL_LANES; k++) s += acc[k];                                          \
    return s;                                                                                 \
}                                                                                             \
/* Fused softmax cross-entropy over rows [r0, r1) of z (k columns): per-row loss to           \
 * loss_rows (may be NULL), gradient (scaled by scale) to g; returns the sum of the row       \
 * losses. Labels: class indices (labels != NULL) or probability rows p. */                   \
static inline ACC fdl_softmax_ce_rows_##SUFFIX(const T *z, const int64_t *labels,             \
        const T *p, T *g, T *loss_rows, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t k, T scale)     \
{                                                                                             \
    ACC total = 0;                                                                            \
    for (ptrdiff_t r = r0; r < r1; r++) {                                                     \
        const T *zr = z + r * k;                                                              \
        T *gr = g + r * k;                                                                    \
        const T m = fdl_row_max_##SUFFIX(zr, k);                                              \
        const ACC s = fdl_exp_shift_sum_##SUFFIX(zr, m, gr, k);                               \
        const ACC lse = (ACC)m + LOG(s);                                                      \
        ACC loss;                                                                             \
        if (labels) {                                                                         \
            const int64_t c = labels[r];                                                      \
            loss = lse - (ACC)zr[c];                                                          \
            const T ec = gr[c];                                                               \
            const T q = (T)(1.0 / s);                                                         \
            fdl_scale2_##SUFFIX(gr, q, scale, k);                                             \
            gr[c] = (ec * q - (T)1) * scale;                                                  \
        } else {                                                                              \
            const T *pr = p + r * k;                                                          \
            loss = -fdl_ce_dot_##SUFFIX(pr, zr, lse, k);                                      \
            const T q = (T)(fdl_row_sum_##SUFFIX(pr, k) / s);                                 \
            fdl_ce_grad_##SUFFIX(gr, pr, q, scale, k);                                        \
        }                                                                                     \
        if (loss_rows) loss_rows[r] = (T)loss;                                                \
        total += loss;                                                                        \
    }                                                                                         \
    return total;                                                                             \
}                                                                                             \
/* Binary cross-entropy of probabilities on a run: loss (may be NULL), grad; returns the      \
 * ACC sum of the losses; *bad counts y_hat outside [0, 1]. */                                \
FASTDL_MATH_CLONES static void fdl_bce_block_##SUFFIX(const T *FASTDL_RESTRICT ph,                \
        const T *FASTDL_RESTRICT t, T *FASTDL_RESTRICT loss, T *FASTDL_RESTRICT grad,         \
        T scale, T eps, ptrdiff_t n, int *bad)                                                \
{                                                                                             \
    int nbad = 0;                                                                             \
    for (ptrdiff_t i = 0; i < n; i++) {                                                       \
        const T p = ph[i], y = t[i];                                                          \
        nbad += (p < 0) | (p > 1);                                                            \
        T lp = fdl_log_##SUFFIX(p);                                                           \
        lp = lp < (T)-100 ? (T)-100 : lp;                                                     \
        T lq = fdl_log1p_##SUFFIX(-p);                                                        \
        lq = lq < (T)-100 ? (T)-100 : lq;                                                     \
        loss[i] = -(y * lp + ((T)1 - y) * lq);                                                \
        T d = p * ((T)1 - p);                                                                 \
        d = d < eps ? eps : d;                                                                \
        grad[i] = (p - y) / d * scale;                                                        \
    }                                                                                         \
    *bad += nbad;                                                                             \
}                                                                                             \
/* Binary cross-entropy with logits on a run (stable form). */                                \
FASTDL_MATH_CLONES static void fdl_bce_logits_block_##SUFFIX(const T *FASTDL_RESTRICT z,          \
        const T *FASTDL_RESTRICT t, T *FASTDL_RESTRICT loss, T *FASTDL_RESTRICT grad,         \
        T scale, ptrdiff_t n)                                                                 \
{                                                                                             \
    for (ptrdiff_t i = 0; i < n; i++) {                                                       \
        const T v = z[i], y = t[i];                                                           \
        const T e = fdl_exp_##SUFFIX(v < 0 ? v : -v);                                         \
        const T pos = v < 0 ? (T)0 : v;                                                       \
        /* max(z, 0) - z y cancels: exact in double (a float product fits in a double) */    \
        loss[i] = (T)(((double)pos - (double)v * (double)y) + (double)fdl_log1p_##SUFFIX(e)); \
        grad[i] = ((v >= 0 ? (T)1 : e) / ((T)1 + e) - y) * scale;                             \
    }                                                                                         \
}                                                                                             \
/* kind 0: BCE on probabilities, 1: with logits, over [i0, i1); loss_out may be NULL */      \
static inline ACC fdl_binary_ce_##SUFFIX(int kind, const T *x, const T *t, T *loss_out,       \
        T *grad, T scale, ptrdiff_t i0, ptrdiff_t i1, int *bad)                               \
{                                                                                             \
    T buf[FDL_BLOCK];                                                                         \
    ACC total = 0;                                                                            \
    for (ptrdiff_t i = i0; i < i1; i += FDL_BLOCK) {                                          \
        const ptrdiff_t b = i1 - i < FDL_BLOCK ? i1 - i : FDL_BLOCK;                          \
        T *l = loss_out ? loss_out + i : buf;                                                 \
        if (kind == 0)                                                                        \
            fdl_bce_block_##SUFFIX(x + i, t + i, l, grad + i, scale, (T)1e-12, b, bad);       \
        else                                                                                  \
            fdl_bce_logits_block_##SUFFIX(x + i, t + i, l, grad + i, scale, b);               \
        total += fdl_row_sum_##SUFFIX(l, b);                                                  \
    }                                                                                         \
    return total;                                                                             \
}                                                                                             \
/* L2: g[i] = (T)((ACC)w[i] * c); returns the sum of squares of w in ACC */                   \
FASTDL_MATH_CLONES static void fdl_l2_block_##SUFFIX(const T *FASTDL_RESTRICT w,                  \
        T *FASTDL_RESTRICT g, double c, ptrdiff_t n)                                          \
{ for (ptrdiff_t i = 0; i < n; i++) g[i] = (T)((double)w[i] * c); }                           \
static inline double fdl_l2_##SUFFIX(const T *w, T *g, double c, ptrdiff_t i0, ptrdiff_t i1)  \
{                                                                                             \
    fdl_l2_block_##SUFFIX(w + i0, g + i0, c, i1 - i0);                                        \
    return (double)fdl_row_dot_##SUFFIX(w + i0, w + i0, i1 - i0);                             \
}

FASTDL_DEFINE_LOSSES(float, double, f32, log)
FASTDL_DEFINE_LOSSES(double, double, f64, log)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif /* FASTDL_LOSSES_H */
