/* Batch-normalization kernels (C99, header-only), called per fixed chunk by fastdl/_norm.pyx.
 *
 * Two views of x cover every channel axis (the caller reshapes x without copying):
 *   CM  "channel in the middle": (outer, C, inner), inner contiguous (NCHW: outer = N,
 *       inner = H*W; any axis with inner > 1). Row (o, c) = x + o*so + c*sc, inner values.
 *   CL  "channel last": (rows, C), C contiguous (NHWC, dense (N, C); any axis with inner = 1).
 *       Row r = x + r*sr, one value per channel.
 *
 * Statistics (float32 accumulated in float64): a chunk's moments are built from pieces (at
 * most FASTDL_BN_PIECE values of a CM row; a block of CL rows) in one pass of shifted sums,
 * s1 = sum (x - k), s2 = sum (x - k)^2 with k a value of the piece (so s2 - s1^2/n has no
 * E[x^2] - E[x]^2 cancellation), and pieces are merged with Chan's pairwise formula. Sums use
 * independent accumulators in a fixed lane order (explicit 4-lane vectors, or loops the
 * compiler vectorises without reassociation; -std=c99 keeps -ffp-contract off), so every
 * clone (AVX-512, AVX2, baseline) and every thread count gives the same bits. Chunks are fixed
 * by the shape; the caller merges chunk partials in chunk order.
 *
 * The normalisation is one fused pass, y = (x - mean) * alpha + beta with per-channel
 * alpha = gamma * invstd, in x's precision. The backward's sums (dbeta = sum dy, and
 * sum dy * (x - mean), the dgamma / projection term) are one pass over (x, dy) with float64
 * accumulators; dx = a*dy + b*(x - mean) + k with per-channel a, b, k is the second pass.
 */
#ifndef FASTDL_NORM_H
#define FASTDL_NORM_H

#include <stddef.h>
#include <string.h>
#include "fastdl_simd.h"

/* Runtime-dispatched clones: AVX-512 (x86-64-v4), AVX2 and the baseline. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(FASTDL_NO_CLONES)
#define FASTDL_NORM_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define FASTDL_NORM_CLONES
#endif

#define FASTDL_BN_LANES 16     /* independent accumulators of a sum */
#define FASTDL_BN_PIECE 4096   /* values per shifted-sums piece (CM rows) */
#define FASTDL_BN_BLOCK 65536  /* values per shifted-sums row block (CL; one pass) */

/* Count, mean and sum of squared deviations of a set of values. */
typedef struct {
    double n, mean, m2;
} fastdl_moments;

/* a <- a U b (Chan, Golub & LeVeque's pairwise update). */
static inline void fastdl_moments_merge(fastdl_moments *a, double nb, double mean_b, double m2_b)
{
    if (nb == 0.0) return;
    if (a->n == 0.0) {
        a->n = nb;
        a->mean = mean_b;
        a->m2 = m2_b;
        return;
    }
    const double n = a->n + nb, delta = mean_b - a->mean;
    a->mean += delta * (nb / n);
    a->m2 += m2_b + delta * delta * (a->n * nb / n);
    a->n = n;
}

/* Merge per-channel moments (nb values each) into (na values each): vectorised over C. */
FASTDL_NORM_CLONES static void fastdl_moments_merge_channels(double na,
        double *FASTDL_RESTRICT mean_a, double *FASTDL_RESTRICT m2_a, double nb,
        const double *FASTDL_RESTRICT mean_b, const double *FASTDL_RESTRICT m2_b,
        ptrdiff_t channels)
{
    const double n = na + nb, wb = nb / n, wab = na * nb / n;
    for (ptrdiff_t c = 0; c < channels; c++) {
        const double delta = mean_b[c] - mean_a[c];
        mean_a[c] += delta * wb;
        m2_a[c] += m2_b[c] + delta * delta * wab;
    }
}

/* Four float64 lanes (GCC/Clang vector extension: SSE2 pairs in the baseline clone, one ymm
 * in the AVX2 / AVX-512 clones; the lane order, hence the bits, is the same in every clone). */
#if defined(__GNUC__) || defined(__clang__)
#define FASTDL_BN_VEC 1
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"    /* the 4-lane helpers are always inlined */
#endif
typedef double fastdl_v4d __attribute__((vector_size(32)));
/* always_inline: a real call would pass 32-byte vectors under different ABIs in the
 * baseline and AVX clones (seen as a crash in the -O0 sanitizer build) */
#define FASTDL_V4_INLINE static inline __attribute__((always_inline))
FASTDL_V4_INLINE fastdl_v4d fastdl_load4_f32(const float *p)
{
    /* element-wise (a memcpy into a 4-float vector compiles to partial-register loads that
     * chain the loop's iterations and stall streaming from memory) */
    const fastdl_v4d v = {(double)p[0], (double)p[1], (double)p[2], (double)p[3]};
    return v;
}
FASTDL_V4_INLINE fastdl_v4d fastdl_load4_f64(const double *p)
{
    fastdl_v4d v;
    memcpy(&v, p, sizeof v);
    return v;
}
FASTDL_V4_INLINE double fastdl_hsum4(fastdl_v4d v) { return (v[0] + v[1]) + (v[2] + v[3]); }
#else
#define FASTDL_BN_VEC 0
#endif

#if FASTDL_BN_VEC
/* One pass over x[0:n] (n >= 1), shifted by k = x[0]: s1 = sum (x - k), s2 = sum (x - k)^2,
 * 16 values per step in four independent 4-lane accumulators of each sum. The single pass
 * keeps memory streaming (a two-pass over an L1 piece stalls the loads during the second
 * pass); the shift by a value of the piece keeps s2 - s1^2/n free of cancellation (for
 * float32 x, x - k and its square are exact in float64). */
#define FASTDL_DEFINE_SHIFTED_SUMS(T, SUFFIX)                                                 \
FASTDL_NORM_CLONES static void fastdl_bn_shifted_sums_##SUFFIX(const T *FASTDL_RESTRICT x,     \
        ptrdiff_t n, double k, double *s1_out, double *s2_out)                                \
{                                                                                             \
    const fastdl_v4d kv = {k, k, k, k};                                                       \
    fastdl_v4d a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, q0 = {0}, q1 = {0}, q2 = {0}, q3 = {0}; \
    ptrdiff_t i = 0;                                                                          \
    for (; i + 16 <= n; i += 16) {                                                            \
        const fastdl_v4d d0 = fastdl_load4_##SUFFIX(x + i) - kv;                              \
        const fastdl_v4d d1 = fastdl_load4_##SUFFIX(x + i + 4) - kv;                          \
        const fastdl_v4d d2 = fastdl_load4_##SUFFIX(x + i + 8) - kv;                          \
        const fastdl_v4d d3 = fastdl_load4_##SUFFIX(x + i + 12) - kv;                         \
        a0 += d0; a1 += d1; a2 += d2; a3 += d3;                                               \
        q0 += d0 * d0; q1 += d1 * d1; q2 += d2 * d2; q3 += d3 * d3;                           \
    }                                                                                         \
    double s1 = fastdl_hsum4((a0 + a1) + (a2 + a3)), s2 = fastdl_hsum4((q0 + q1) + (q2 + q3)); \
    for (; i < n; i++) {                                                                      \
        const double d = (double)x[i] - k;                                                    \
        s1 += d;                                                                              \
        s2 += d * d;                                                                          \
    }                                                                                         \
    *s1_out = s1;                                                                             \
    *s2_out = s2;                                                                             \
}                                                                                             \
/* Backward sums in one pass: sum dy and sum dy * (x - mean) (accumulated into the outputs). */ \
FASTDL_NORM_CLONES static void fastdl_bn_grad_sums_row_##SUFFIX(const T *FASTDL_RESTRICT dy,   \
        const T *FASTDL_RESTRICT x, ptrdiff_t n, double mean, double *sum_dy,                 \
        double *sum_dyxc)                                                                     \
{                                                                                             \
    const fastdl_v4d mv = {mean, mean, mean, mean};                                           \
    fastdl_v4d a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, q0 = {0}, q1 = {0}, q2 = {0}, q3 = {0}; \
    ptrdiff_t i = 0;                                                                          \
    for (; i + 16 <= n; i += 16) {                                                            \
        const fastdl_v4d g0 = fastdl_load4_##SUFFIX(dy + i);                                  \
        const fastdl_v4d g1 = fastdl_load4_##SUFFIX(dy + i + 4);                              \
        const fastdl_v4d g2 = fastdl_load4_##SUFFIX(dy + i + 8);                              \
        const fastdl_v4d g3 = fastdl_load4_##SUFFIX(dy + i + 12);                             \
        a0 += g0; a1 += g1; a2 += g2; a3 += g3;                                               \
        q0 += g0 * (fastdl_load4_##SUFFIX(x + i) - mv);                                       \
        q1 += g1 * (fastdl_load4_##SUFFIX(x + i + 4) - mv);                                   \
        q2 += g2 * (fastdl_load4_##SUFFIX(x + i + 8) - mv);                                   \
        q3 += g3 * (fastdl_load4_##SUFFIX(x + i + 12) - mv);                                  \
    }                                                                                         \
    double t1 = fastdl_hsum4((a0 + a1) + (a2 + a3)), t2 = fastdl_hsum4((q0 + q1) + (q2 + q3)); \
    for (; i < n; i++) {                                                                      \
        const double g = (double)dy[i];                                                       \
        t1 += g;                                                                              \
        t2 += g * ((double)x[i] - mean);                                                      \
    }                                                                                         \
    *sum_dy += t1;                                                                            \
    *sum_dyxc += t2;                                                                          \
}
FASTDL_DEFINE_SHIFTED_SUMS(float, f32)
FASTDL_DEFINE_SHIFTED_SUMS(double, f64)
#else   /* portable scalar versions (other compilers) */
#define FASTDL_DEFINE_SHIFTED_SUMS_SCALAR(T, SUFFIX)                                          \
static void fastdl_bn_shifted_sums_##SUFFIX(const T *x, ptrdiff_t n, double k, double *s1_out, \
        double *s2_out)                                                                       \
{                                                                                             \
    double s1 = 0.0, s2 = 0.0;                                                                \
    for (ptrdiff_t i = 0; i < n; i++) {                                                       \
        const double d = (double)x[i] - k;                                                    \
        s1 += d;                                                                              \
        s2 += d * d;                                                                          \
    }                                                                                         \
    *s1_out = s1;                                                                             \
    *s2_out = s2;                                                                             \
}                                                                                             \
static void fastdl_bn_grad_sums_row_##SUFFIX(const T *dy, const T *x, ptrdiff_t n,            \
        double mean, double *sum_dy, double *sum_dyxc)                                        \
{                                                                                             \
    double t1 = 0.0, t2 = 0.0;                                                                \
    for (ptrdiff_t i = 0; i < n; i++) {                                                       \
        t1 += (double)dy[i];                                                                  \
        t2 += (double)dy[i] * ((double)x[i] - mean);                                          \
    }                                                                                         \
    *sum_dy += t1;                                                                            \
    *sum_dyxc += t2;                                                                          \
}
FASTDL_DEFINE_SHIFTED_SUMS_SCALAR(float, f32)
FASTDL_DEFINE_SHIFTED_SUMS_SCALAR(double, f64)
#endif

#define FASTDL_DEFINE_NORM(T, SUFFIX)                                                         \
/* Moments of x[0:n] (n >= 1) in one shifted pass: *mean and *m2 (sum of squared          \
 * deviations, s2 - s1^2/n, clamped at 0). */                                                 \
static inline void fastdl_bn_piece_moments_##SUFFIX(const T *x, ptrdiff_t n, double *mean,     \
        double *m2)                                                                           \
{                                                                                             \
    const double k = (double)x[0];                                                            \
    double s1, s2;                                                                            \
    fastdl_bn_shifted_sums_##SUFFIX(x, n, k, &s1, &s2);                                       \
    const double q = s2 - s1 * (s1 / (double)n);                                              \
    *mean = k + s1 / (double)n;                                                               \
    *m2 = q > 0.0 ? q : (q == q ? 0.0 : q);        /* keep NaN */                             \
}                                                                                             \
                                                                                              \
/* Merge the moments of one CM row (inner contiguous values, in pieces) into acc. */          \
static void fastdl_bn_stats_row_##SUFFIX(const T *row, ptrdiff_t inner, fastdl_moments *acc)  \
{                                                                                             \
    for (ptrdiff_t p = 0; p < inner; p += FASTDL_BN_PIECE) {                                  \
        const ptrdiff_t len = inner - p < FASTDL_BN_PIECE ? inner - p : FASTDL_BN_PIECE;      \
        double mean, m2;                                                                      \
        fastdl_bn_piece_moments_##SUFFIX(row + p, len, &mean, &m2);                           \
        fastdl_moments_merge(acc, (double)len, mean, m2);                                     \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* Per-channel moments of `rows` rows (row stride sr) of C contiguous values in one pass of  \
 * sums shifted by the block's first row; mean, m2: C doubles each (outputs, also used as the \
 * accumulators). Rows are taken four at a time (pairwise: ((a + b) + (e + f))), so each      \
 * accumulator is loaded and stored once per four values. */                                 \
FASTDL_NORM_CLONES static void fastdl_bn_block_moments_cl_##SUFFIX(const T *x, ptrdiff_t sr,    \
        ptrdiff_t rows, ptrdiff_t channels, double *FASTDL_RESTRICT mean,                     \
        double *FASTDL_RESTRICT m2)                                                           \
{                                                                                             \
    const T *FASTDL_RESTRICT k = x;                                                           \
    for (ptrdiff_t c = 0; c < channels; c++) mean[c] = m2[c] = 0.0;                           \
    ptrdiff_t r = 0;                                                                          \
    for (; r + 4 <= rows; r += 4) {                                                           \
        const T *FASTDL_RESTRICT a = x + r * sr, *FASTDL_RESTRICT b = a + sr;                 \
        const T *FASTDL_RESTRICT e = b + sr, *FASTDL_RESTRICT f = e + sr;                     \
        for (ptrdiff_t c = 0; c < channels; c++) {                                            \
            const double kc = (double)k[c];                                                   \
            const double da = (double)a[c] - kc, db = (double)b[c] - kc;                      \
            const double de = (double)e[c] - kc, df = (double)f[c] - kc;                      \
            mean[c] += (da + db) + (de + df);                                                 \
            m2[c] += (da * da + db * db) + (de * de + df * df);                               \
        }                                                                                     \
    }                                                                                         \
    for (; r < rows; r++) {                                                                   \
        const T *FASTDL_RESTRICT a = x + r * sr;                                              \
        for (ptrdiff_t c = 0; c < channels; c++) {                                            \
            const double d = (double)a[c] - (double)k[c];                                     \
            mean[c] += d;                                                                     \
            m2[c] += d * d;                                                                   \
        }                                                                                     \
    }                                                                                         \
    const double n = (double)rows;                                                            \
    for (ptrdiff_t c = 0; c < channels; c++) {                                                \
        const double s1 = mean[c], q = m2[c] - s1 * (s1 / n);                                 \
        mean[c] = (double)k[c] + s1 / n;                                                      \
        m2[c] = q > 0.0 ? q : (q == q ? 0.0 : q);                                             \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* CL statistics of rows r0 <= r < r1: per-channel mean and m2 (C doubles each, outputs),     \
 * built from blocks of about FASTDL_BN_BLOCK values. scratch: 2*C doubles. */                \
static void fastdl_bn_stats_cl_##SUFFIX(const T *x, ptrdiff_t sr, ptrdiff_t r0, ptrdiff_t r1,  \
        ptrdiff_t channels, double *mean, double *m2, double *scratch)                        \
{                                                                                             \
    ptrdiff_t block = FASTDL_BN_BLOCK / channels;                                             \
    if (block < 8) block = 8;                                                                 \
    double done = 0.0;                                                                        \
    for (ptrdiff_t r = r0; r < r1; r += block) {                                              \
        const ptrdiff_t len = r1 - r < block ? r1 - r : block;                                \
        if (done == 0.0) {                                                                    \
            fastdl_bn_block_moments_cl_##SUFFIX(x + r * sr, sr, len, channels, mean, m2);     \
        } else {                                                                              \
            fastdl_bn_block_moments_cl_##SUFFIX(x + r * sr, sr, len, channels, scratch,       \
                                                scratch + channels);                          \
            fastdl_moments_merge_channels(done, mean, m2, (double)len, scratch,               \
                                          scratch + channels, channels);                      \
        }                                                                                     \
        done += (double)len;                                                                  \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* y[i] = ((x[i] - m) - ml) * a + b over n contiguous values (y may be x). The mean is      \
 * m + ml (ml: the part of the float64 mean below m's precision, 0 for float64): x - m is     \
 * exact near the mean, so data far from 0 keeps its precision in float32. */               \
FASTDL_NORM_CLONES static void fastdl_bn_affine_row_##SUFFIX(const T *x, T *y, ptrdiff_t n,     \
        T m, T ml, T a, T b)                                                                  \
{                                                                                             \
    for (ptrdiff_t i = 0; i < n; i++) y[i] = ((x[i] - m) - ml) * a + b;                       \
}                                                                                             \
                                                                                              \
/* CL: rows of C values, y[r, c] = ((x[r, c] - m[c]) - ml[c]) * a[c] + b[c] (y may be x). */ \
FASTDL_NORM_CLONES static void fastdl_bn_affine_cl_##SUFFIX(const T *x, ptrdiff_t sxr, T *y,    \
        ptrdiff_t syr, ptrdiff_t rows, ptrdiff_t channels, const T *FASTDL_RESTRICT m,        \
        const T *FASTDL_RESTRICT ml, const T *FASTDL_RESTRICT a, const T *FASTDL_RESTRICT b)  \
{                                                                                             \
    for (ptrdiff_t r = 0; r < rows; r++) {                                                    \
        const T *xr = x + r * sxr;                                                            \
        T *yr = y + r * syr;                                                                  \
        for (ptrdiff_t c = 0; c < channels; c++)                                              \
            yr[c] = ((xr[c] - m[c]) - ml[c]) * a[c] + b[c];                                   \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* CL backward sums of `rows` rows: sum_dy[c], sum_dyxc[c] (C doubles each, outputs). Rows    \
 * four at a time (pairwise), so each accumulator is loaded and stored once per four values. */ \
FASTDL_NORM_CLONES static void fastdl_bn_grad_sums_cl_##SUFFIX(const T *dy, ptrdiff_t sdr,      \
        const T *x, ptrdiff_t sxr, ptrdiff_t rows, ptrdiff_t channels,                        \
        const double *FASTDL_RESTRICT mean, double *FASTDL_RESTRICT sum_dy,                   \
        double *FASTDL_RESTRICT sum_dyxc)                                                     \
{                                                                                             \
    for (ptrdiff_t c = 0; c < channels; c++) sum_dy[c] = sum_dyxc[c] = 0.0;                   \
    ptrdiff_t r = 0;                                                                          \
    for (; r + 4 <= rows; r += 4) {                                                           \
        const T *FASTDL_RESTRICT g0 = dy + r * sdr, *FASTDL_RESTRICT g1 = g0 + sdr;           \
        const T *FASTDL_RESTRICT g2 = g1 + sdr, *FASTDL_RESTRICT g3 = g2 + sdr;               \
        const T *FASTDL_RESTRICT v0 = x + r * sxr, *FASTDL_RESTRICT v1 = v0 + sxr;            \
        const T *FASTDL_RESTRICT v2 = v1 + sxr, *FASTDL_RESTRICT v3 = v2 + sxr;               \
        for (ptrdiff_t c = 0; c < channels; c++) {                                            \
            const double a0 = (double)g0[c], a1 = (double)g1[c];                              \
            const double a2 = (double)g2[c], a3 = (double)g3[c], m = mean[c];                 \
            sum_dy[c] += (a0 + a1) + (a2 + a3);                                               \
            sum_dyxc[c] += (a0 * ((double)v0[c] - m) + a1 * ((double)v1[c] - m))              \
                         + (a2 * ((double)v2[c] - m) + a3 * ((double)v3[c] - m));             \
        }                                                                                     \
    }                                                                                         \
    for (; r < rows; r++) {                                                                   \
        const T *FASTDL_RESTRICT g = dy + r * sdr;                                            \
        const T *FASTDL_RESTRICT v = x + r * sxr;                                             \
        for (ptrdiff_t c = 0; c < channels; c++) {                                            \
            const double gc = (double)g[c];                                                   \
            sum_dy[c] += gc;                                                                  \
            sum_dyxc[c] += gc * ((double)v[c] - mean[c]);                                     \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* dx[i] = a * dy[i] + (b * (x[i] - m) + k) over n contiguous values. */                      \
FASTDL_NORM_CLONES static void fastdl_bn_dx_row_##SUFFIX(const T *FASTDL_RESTRICT dy,          \
        const T *FASTDL_RESTRICT x, T *FASTDL_RESTRICT dx, ptrdiff_t n, T m, T a, T b, T k)   \
{                                                                                             \
    for (ptrdiff_t i = 0; i < n; i++) dx[i] = a * dy[i] + (b * (x[i] - m) + k);               \
}                                                                                             \
                                                                                              \
/* CL: dx[r, c] = a[c] * dy[r, c] + (b[c] * (x[r, c] - m[c]) + k[c]). */                      \
FASTDL_NORM_CLONES static void fastdl_bn_dx_cl_##SUFFIX(const T *dy, ptrdiff_t sdr,            \
        const T *x, ptrdiff_t sxr, T *dx, ptrdiff_t sor, ptrdiff_t rows, ptrdiff_t channels,  \
        const T *FASTDL_RESTRICT m, const T *FASTDL_RESTRICT a, const T *FASTDL_RESTRICT b,   \
        const T *FASTDL_RESTRICT k)                                                           \
{                                                                                             \
    for (ptrdiff_t r = 0; r < rows; r++) {                                                    \
        const T *FASTDL_RESTRICT g = dy + r * sdr;                                            \
        const T *FASTDL_RESTRICT v = x + r * sxr;                                             \
        T *FASTDL_RESTRICT o = dx + r * sor;                                                  \
        for (ptrdiff_t c = 0; c < channels; c++)                                              \
            o[c] = a[c] * g[c] + (b[c] * (v[c] - m[c]) + k[c]);                               \
    }                                                                                         \
}

FASTDL_DEFINE_NORM(float, f32)
FASTDL_DEFINE_NORM(double, f64)

/* ---- streaming (non-temporal) stores for outputs much larger than the caches ----------------
 *
 * A normal store first reads the line it writes (write-allocate): y costs two streams of
 * traffic. Non-temporal stores skip that read, so a pass writing y moves 3 bytes of traffic
 * where it moved 4 (measured here: a 25.7 MB scale-copy 3.5 ms -> 1.9 ms on one thread). The
 * caller uses them only for large outputs (which would leave the caches anyway). Same
 * operations in the same order as the plain kernels above: identical bits. AVX2, chosen at run
 * time (fastdl_bn_isa); the body starts once y is 32-byte aligned.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(FASTDL_NO_CLONES)
#define FASTDL_BN_STREAM 1
#include <immintrin.h>
#include <stdint.h>
#define FASTDL_T_AVX2_NORM __attribute__((target("avx2")))

/* 1 when the AVX2 streaming kernels can run on this CPU. */
static inline int fastdl_bn_isa(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}

#define FASTDL_DEFINE_NORM_STREAM(T, SUFFIX, VT, W, LOADU, SET1, SUB, MUL, ADD, STREAM)        \
/* y = (x - m) * a + b over n contiguous values, y streamed. */                               \
FASTDL_T_AVX2_NORM static void fastdl_bn_affine_row_stream_##SUFFIX(const T *x, T *y,          \
        ptrdiff_t n, T m, T ml, T a, T b)                                                     \
{                                                                                             \
    ptrdiff_t i = 0;                                                                          \
    for (; i < n && ((uintptr_t)(y + i) & 31); i++) y[i] = ((x[i] - m) - ml) * a + b;         \
    const VT vm = SET1(m), vml = SET1(ml), va = SET1(a), vb = SET1(b);                        \
    for (; i + W <= n; i += W)                                                                \
        STREAM(y + i, ADD(MUL(SUB(SUB(LOADU(x + i), vm), vml), va), vb));                     \
    for (; i < n; i++) y[i] = ((x[i] - m) - ml) * a + b;                                      \
    _mm_sfence();                                                                             \
}                                                                                             \
/* Channel-last rows stored back to back: n values starting at channel 0, channel of value i  \
 * is i % C; me/ae/be hold C + 8 values, the per-channel ones repeated cyclically. */         \
FASTDL_T_AVX2_NORM static void fastdl_bn_affine_flat_stream_##SUFFIX(const T *x, T *y,         \
        ptrdiff_t n, ptrdiff_t channels, const T *me, const T *mle, const T *ae, const T *be) \
{                                                                                             \
    ptrdiff_t i = 0, k = 0;                                                                   \
    for (; i < n && ((uintptr_t)(y + i) & 31); i++) {                                         \
        y[i] = ((x[i] - me[k]) - mle[k]) * ae[k] + be[k];                                     \
        if (++k == channels) k = 0;                                                           \
    }                                                                                         \
    for (; i + W <= n; i += W) {                                                              \
        STREAM(y + i, ADD(MUL(SUB(SUB(LOADU(x + i), LOADU(me + k)), LOADU(mle + k)),          \
                              LOADU(ae + k)), LOADU(be + k)));                                \
        k += W;                                                                               \
        if (k >= channels) k = channels >= W ? k - channels : k % channels;                   \
    }                                                                                         \
    for (; i < n; i++) {                                                                      \
        y[i] = ((x[i] - me[k]) - mle[k]) * ae[k] + be[k];                                     \
        if (++k == channels) k = 0;                                                           \
    }                                                                                         \
    _mm_sfence();                                                                             \
}                                                                                             \
/* dx = a * dy + (b * (x - m) + k) over n contiguous values, dx streamed. */                  \
FASTDL_T_AVX2_NORM static void fastdl_bn_dx_row_stream_##SUFFIX(const T *dy, const T *x,       \
        T *dx, ptrdiff_t n, T m, T a, T b, T k)                                               \
{                                                                                             \
    ptrdiff_t i = 0;                                                                          \
    for (; i < n && ((uintptr_t)(dx + i) & 31); i++) dx[i] = a * dy[i] + (b * (x[i] - m) + k); \
    const VT vm = SET1(m), va = SET1(a), vb = SET1(b), vk = SET1(k);                          \
    for (; i + W <= n; i += W)                                                                \
        STREAM(dx + i, ADD(MUL(va, LOADU(dy + i)), ADD(MUL(vb, SUB(LOADU(x + i), vm)), vk))); \
    for (; i < n; i++) dx[i] = a * dy[i] + (b * (x[i] - m) + k);                              \
    _mm_sfence();                                                                             \
}                                                                                             \
/* Channel-last dx over back-to-back rows (see fastdl_bn_affine_flat_stream). */              \
FASTDL_T_AVX2_NORM static void fastdl_bn_dx_flat_stream_##SUFFIX(const T *dy, const T *x,      \
        T *dx, ptrdiff_t n, ptrdiff_t channels, const T *me, const T *ae, const T *be,        \
        const T *ke)                                                                          \
{                                                                                             \
    ptrdiff_t i = 0, c = 0;                                                                   \
    for (; i < n && ((uintptr_t)(dx + i) & 31); i++) {                                        \
        dx[i] = ae[c] * dy[i] + (be[c] * (x[i] - me[c]) + ke[c]);                             \
        if (++c == channels) c = 0;                                                           \
    }                                                                                         \
    for (; i + W <= n; i += W) {                                                              \
        STREAM(dx + i, ADD(MUL(LOADU(ae + c), LOADU(dy + i)),                                 \
                           ADD(MUL(LOADU(be + c), SUB(LOADU(x + i), LOADU(me + c))),          \
                               LOADU(ke + c))));                                              \
        c += W;                                                                               \
        if (c >= channels) c = channels >= W ? c - channels : c % channels;                   \
    }                                                                                         \
    for (; i < n; i++) {                                                                      \
        dx[i] = ae[c] * dy[i] + (be[c] * (x[i] - me[c]) + ke[c]);                             \
        if (++c == channels) c = 0;                                                           \
    }                                                                                         \
    _mm_sfence();                                                                             \
}

FASTDL_DEFINE_NORM_STREAM(float, f32, __m256, 8, _mm256_loadu_ps, _mm256_set1_ps,
                          _mm256_sub_ps, _mm256_mul_ps, _mm256_add_ps, _mm256_stream_ps)
FASTDL_DEFINE_NORM_STREAM(double, f64, __m256d, 4, _mm256_loadu_pd, _mm256_set1_pd,
                          _mm256_sub_pd, _mm256_mul_pd, _mm256_add_pd, _mm256_stream_pd)

#else   /* no streaming kernels: the plain ones */
#define FASTDL_BN_STREAM 0
static inline int fastdl_bn_isa(void) { return 0; }
#define FASTDL_DEFINE_NORM_STREAM_FALLBACK(T, SUFFIX)                                         \
static void fastdl_bn_affine_row_stream_##SUFFIX(const T *x, T *y, ptrdiff_t n, T m, T ml,   \
        T a, T b)                                                                             \
{ fastdl_bn_affine_row_##SUFFIX(x, y, n, m, ml, a, b); }                                      \
static void fastdl_bn_affine_flat_stream_##SUFFIX(const T *x, T *y, ptrdiff_t n,              \
        ptrdiff_t channels, const T *me, const T *mle, const T *ae, const T *be)              \
{ fastdl_bn_affine_cl_##SUFFIX(x, channels, y, channels, n / channels, channels, me, mle, ae,  \
                               be); }                                                         \
static void fastdl_bn_dx_row_stream_##SUFFIX(const T *dy, const T *x, T *dx, ptrdiff_t n,     \
        T m, T a, T b, T k)                                                                   \
{ fastdl_bn_dx_row_##SUFFIX(dy, x, dx, n, m, a, b, k); }                                      \
static void fastdl_bn_dx_flat_stream_##SUFFIX(const T *dy, const T *x, T *dx, ptrdiff_t n,    \
        ptrdiff_t channels, const T *me, const T *ae, const T *be, const T *ke)               \
{ fastdl_bn_dx_cl_##SUFFIX(dy, channels, x, channels, dx, channels, n / channels, channels,   \
                           me, ae, be, ke); }
FASTDL_DEFINE_NORM_STREAM_FALLBACK(float, f32)
FASTDL_DEFINE_NORM_STREAM_FALLBACK(double, f64)
#endif

#include "fastdl_resident.h"

#endif /* FASTDL_NORM_H */
