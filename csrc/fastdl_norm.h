/* Batch-normalization kernels (C99, header-only), called per fixed chunk by fastdl/_norm.pyx.
 *
 * Two views of x cover every channel axis (the caller reshapes x without copying):
 *   CM  "channel in the middle": (outer, C, inner), inner contiguous (NCHW: outer = N,
 *       inner = H*W; any axis with inner > 1). Row (o, c) = x + o*so + c*sc, inner values.
 *   CL  "channel last": (rows, C), C contiguous (NHWC, dense (N, C); any axis with inner = 1).
 *       Row r = x + r*sr, one value per channel.
 *
 * Statistics (float32 accumulated in float64): a chunk's moments are built from small pieces
 * (at most FASTDL_BN_PIECE values, which stay in L1/L2) with an exact two-pass inside the
 * piece (sum, then the sum of squared deviations from the piece mean, re-reading the piece
 * from cache), and pieces are merged with Chan's pairwise formula. Memory sees one pass over
 * x; the variance has no E[x^2] - E[x]^2 cancellation. Sums use FASTDL_BN_LANES independent
 * accumulators in a fixed lane order (vectorised by the compiler without reassociation, and
 * -std=c99 keeps -ffp-contract off), so every clone (AVX-512, AVX2, baseline) and every thread
 * count gives the same bits. Chunks are fixed by the shape; the caller merges chunk partials in
 * chunk order.
 *
 * The normalisation is one fused pass, y = (x - mean) * alpha + beta with per-channel
 * alpha = gamma * invstd, in x's precision. The backward's sums (dbeta = sum dy, and
 * sum dy * (x - mean), the dgamma / projection term) are one pass over (x, dy) with float64
 * accumulators; dx = a*dy + b*(x - mean) + k with per-channel a, b, k is the second pass.
 */
#ifndef FASTDL_NORM_H
#define FASTDL_NORM_H

#include <stddef.h>
#include "fastdl_simd.h"

/* Runtime-dispatched clones: AVX-512 (x86-64-v4), AVX2 and the baseline. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(FASTDL_NO_CLONES)
#define FASTDL_NORM_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define FASTDL_NORM_CLONES
#endif

#define FASTDL_BN_LANES 16     /* independent accumulators of a sum */
#define FASTDL_BN_PIECE 4096   /* values per exact two-pass piece (CM rows) */
#define FASTDL_BN_BLOCK 4096   /* values per two-pass row block (CL) */

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

#define FASTDL_DEFINE_NORM(T, SUFFIX)                                                         \
/* Exact two-pass moments of x[0:n] (n >= 1): *mean and *m2 (sum of squared deviations). */   \
FASTDL_NORM_CLONES static void fastdl_bn_piece_moments_##SUFFIX(const T *FASTDL_RESTRICT x,    \
        ptrdiff_t n, double *mean, double *m2)                                                \
{                                                                                             \
    double acc[FASTDL_BN_LANES] = {0};                                                        \
    ptrdiff_t i = 0;                                                                          \
    for (; i + FASTDL_BN_LANES <= n; i += FASTDL_BN_LANES)                                    \
        for (int j = 0; j < FASTDL_BN_LANES; j++) acc[j] += (double)x[i + j];                 \
    double s = 0.0;                                                                           \
    for (int j = 0; j < FASTDL_BN_LANES; j++) s += acc[j];                                    \
    for (; i < n; i++) s += (double)x[i];                                                     \
    const double mu = s / (double)n;                                                          \
    double sq[FASTDL_BN_LANES] = {0};                                                         \
    for (i = 0; i + FASTDL_BN_LANES <= n; i += FASTDL_BN_LANES)                               \
        for (int j = 0; j < FASTDL_BN_LANES; j++) {                                           \
            const double d = (double)x[i + j] - mu;                                           \
            sq[j] += d * d;                                                                   \
        }                                                                                     \
    double q = 0.0;                                                                           \
    for (int j = 0; j < FASTDL_BN_LANES; j++) q += sq[j];                                     \
    for (; i < n; i++) {                                                                      \
        const double d = (double)x[i] - mu;                                                   \
        q += d * d;                                                                           \
    }                                                                                         \
    *mean = mu;                                                                               \
    *m2 = q;                                                                                  \
}                                                                                             \
                                                                                              \
/* CM statistics of one chunk: rows o0 <= o < o1 of one channel (x = that channel's row 0,   \
 * so = the outer stride), each of `inner` contiguous values. */                              \
static void fastdl_bn_stats_cm_##SUFFIX(const T *x, ptrdiff_t so, ptrdiff_t o0, ptrdiff_t o1,  \
        ptrdiff_t inner, fastdl_moments *acc)                                                 \
{                                                                                             \
    acc->n = acc->mean = acc->m2 = 0.0;                                                       \
    for (ptrdiff_t o = o0; o < o1; o++) {                                                     \
        const T *row = x + o * so;                                                            \
        for (ptrdiff_t p = 0; p < inner; p += FASTDL_BN_PIECE) {                              \
            const ptrdiff_t len = inner - p < FASTDL_BN_PIECE ? inner - p : FASTDL_BN_PIECE;  \
            double mean, m2;                                                                  \
            fastdl_bn_piece_moments_##SUFFIX(row + p, len, &mean, &m2);                       \
            fastdl_moments_merge(acc, (double)len, mean, m2);                                 \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* Exact two-pass per-channel moments of `rows` rows (row stride sr) of C contiguous values.  \
 * mean, m2: C doubles each (outputs). Rows are taken four at a time, so each accumulator is  \
 * loaded and stored once per four values (pairwise: ((a + b) + (c + d))). */                 \
FASTDL_NORM_CLONES static void fastdl_bn_block_moments_cl_##SUFFIX(const T *x, ptrdiff_t sr,    \
        ptrdiff_t rows, ptrdiff_t channels, double *FASTDL_RESTRICT mean,                     \
        double *FASTDL_RESTRICT m2)                                                           \
{                                                                                             \
    for (ptrdiff_t c = 0; c < channels; c++) mean[c] = m2[c] = 0.0;                           \
    ptrdiff_t r = 0;                                                                          \
    for (; r + 4 <= rows; r += 4) {                                                           \
        const T *FASTDL_RESTRICT a = x + r * sr, *FASTDL_RESTRICT b = a + sr;                 \
        const T *FASTDL_RESTRICT e = b + sr, *FASTDL_RESTRICT f = e + sr;                     \
        for (ptrdiff_t c = 0; c < channels; c++)                                              \
            mean[c] += ((double)a[c] + (double)b[c]) + ((double)e[c] + (double)f[c]);         \
    }                                                                                         \
    for (; r < rows; r++) {                                                                   \
        const T *FASTDL_RESTRICT a = x + r * sr;                                              \
        for (ptrdiff_t c = 0; c < channels; c++) mean[c] += (double)a[c];                     \
    }                                                                                         \
    const double inv = 1.0 / (double)rows;                                                    \
    for (ptrdiff_t c = 0; c < channels; c++) mean[c] *= inv;                                  \
    for (r = 0; r + 4 <= rows; r += 4) {                                                      \
        const T *FASTDL_RESTRICT a = x + r * sr, *FASTDL_RESTRICT b = a + sr;                 \
        const T *FASTDL_RESTRICT e = b + sr, *FASTDL_RESTRICT f = e + sr;                     \
        for (ptrdiff_t c = 0; c < channels; c++) {                                            \
            const double da = (double)a[c] - mean[c], db = (double)b[c] - mean[c];            \
            const double de = (double)e[c] - mean[c], df = (double)f[c] - mean[c];           \
            m2[c] += (da * da + db * db) + (de * de + df * df);                               \
        }                                                                                     \
    }                                                                                         \
    for (; r < rows; r++) {                                                                   \
        const T *FASTDL_RESTRICT a = x + r * sr;                                              \
        for (ptrdiff_t c = 0; c < channels; c++) {                                            \
            const double d = (double)a[c] - mean[c];                                          \
            m2[c] += d * d;                                                                   \
        }                                                                                     \
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
/* y[i] = (x[i] - m) * a + b over n contiguous values (y may be x). */                        \
FASTDL_NORM_CLONES static void fastdl_bn_affine_row_##SUFFIX(const T *x, T *y, ptrdiff_t n,     \
        T m, T a, T b)                                                                        \
{                                                                                             \
    for (ptrdiff_t i = 0; i < n; i++) y[i] = (x[i] - m) * a + b;                              \
}                                                                                             \
                                                                                              \
/* CL: rows of C values, y[r, c] = (x[r, c] - m[c]) * a[c] + b[c] (y may be x). */            \
FASTDL_NORM_CLONES static void fastdl_bn_affine_cl_##SUFFIX(const T *x, ptrdiff_t sxr, T *y,    \
        ptrdiff_t syr, ptrdiff_t rows, ptrdiff_t channels, const T *FASTDL_RESTRICT m,        \
        const T *FASTDL_RESTRICT a, const T *FASTDL_RESTRICT b)                               \
{                                                                                             \
    for (ptrdiff_t r = 0; r < rows; r++) {                                                    \
        const T *xr = x + r * sxr;                                                            \
        T *yr = y + r * syr;                                                                  \
        for (ptrdiff_t c = 0; c < channels; c++) yr[c] = (xr[c] - m[c]) * a[c] + b[c];        \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* Lanes of sum dy over n values (n a multiple of FASTDL_BN_LANES). */                     \
static inline void fastdl_bn_lanes_sum_##SUFFIX(const T *FASTDL_RESTRICT dy, ptrdiff_t n,      \
        double *FASTDL_RESTRICT s1)                                                           \
{                                                                                             \
    for (ptrdiff_t i = 0; i < n; i += FASTDL_BN_LANES)                                        \
        for (int j = 0; j < FASTDL_BN_LANES; j++) s1[j] += (double)dy[i + j];                 \
}                                                                                             \
/* Lanes of sum dy * (x - mean) over n values (n a multiple of FASTDL_BN_LANES). */           \
static inline void fastdl_bn_lanes_dot_##SUFFIX(const T *FASTDL_RESTRICT dy,                   \
        const T *FASTDL_RESTRICT x, ptrdiff_t n, double mean, double *FASTDL_RESTRICT s2)     \
{                                                                                             \
    for (ptrdiff_t i = 0; i < n; i += FASTDL_BN_LANES)                                        \
        for (int j = 0; j < FASTDL_BN_LANES; j++)                                             \
            s2[j] += (double)dy[i + j] * ((double)x[i + j] - mean);                           \
}                                                                                             \
/* Backward sums over n contiguous values of one channel: sum dy, sum dy * (x - mean). The    \
 * two sums run as separate loops over L1-sized pieces (one loop with both does not           \
 * vectorise). */                                                                             \
FASTDL_NORM_CLONES static void fastdl_bn_grad_sums_row_##SUFFIX(const T *FASTDL_RESTRICT dy,   \
        const T *FASTDL_RESTRICT x, ptrdiff_t n, double mean, double *sum_dy,                 \
        double *sum_dyxc)                                                                     \
{                                                                                             \
    double s1[FASTDL_BN_LANES] = {0}, s2[FASTDL_BN_LANES] = {0};                              \
    const ptrdiff_t body = n - n % FASTDL_BN_LANES;                                           \
    for (ptrdiff_t p = 0; p < body; p += 1024) {                                              \
        const ptrdiff_t len = body - p < 1024 ? body - p : 1024;                              \
        fastdl_bn_lanes_sum_##SUFFIX(dy + p, len, s1);                                        \
        fastdl_bn_lanes_dot_##SUFFIX(dy + p, x + p, len, mean, s2);                           \
    }                                                                                         \
    double t1 = 0.0, t2 = 0.0;                                                                \
    for (int j = 0; j < FASTDL_BN_LANES; j++) {                                               \
        t1 += s1[j];                                                                          \
        t2 += s2[j];                                                                          \
    }                                                                                         \
    for (ptrdiff_t i = body; i < n; i++) {                                                    \
        const double g = (double)dy[i];                                                       \
        t1 += g;                                                                              \
        t2 += g * ((double)x[i] - mean);                                                      \
    }                                                                                         \
    *sum_dy += t1;                                                                            \
    *sum_dyxc += t2;                                                                          \
}                                                                                             \
                                                                                              \
/* CM backward sums of one chunk: rows o0 <= o < o1 of one channel. out[0] = sum dy,           \
 * out[1] = sum dy * (x - mean). */                                                           \
static void fastdl_bn_grad_sums_cm_##SUFFIX(const T *dy, ptrdiff_t sdo, const T *x,            \
        ptrdiff_t sxo, ptrdiff_t o0, ptrdiff_t o1, ptrdiff_t inner, double mean, double *out) \
{                                                                                             \
    out[0] = out[1] = 0.0;                                                                    \
    for (ptrdiff_t o = o0; o < o1; o++)                                                       \
        fastdl_bn_grad_sums_row_##SUFFIX(dy + o * sdo, x + o * sxo, inner, mean, out,         \
                                         out + 1);                                            \
}                                                                                             \
                                                                                              \
/* CL backward sums of `rows` rows: sum_dy[c], sum_dyxc[c] (C doubles each, outputs). */      \
FASTDL_NORM_CLONES static void fastdl_bn_grad_sums_cl_##SUFFIX(const T *dy, ptrdiff_t sdr,      \
        const T *x, ptrdiff_t sxr, ptrdiff_t rows, ptrdiff_t channels,                        \
        const double *FASTDL_RESTRICT mean, double *FASTDL_RESTRICT sum_dy,                   \
        double *FASTDL_RESTRICT sum_dyxc)                                                     \
{                                                                                             \
    for (ptrdiff_t c = 0; c < channels; c++) sum_dy[c] = sum_dyxc[c] = 0.0;                   \
    for (ptrdiff_t r = 0; r < rows; r++) {                                                    \
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
        ptrdiff_t n, T m, T a, T b)                                                           \
{                                                                                             \
    ptrdiff_t i = 0;                                                                          \
    for (; i < n && ((uintptr_t)(y + i) & 31); i++) y[i] = (x[i] - m) * a + b;                \
    const VT vm = SET1(m), va = SET1(a), vb = SET1(b);                                        \
    for (; i + W <= n; i += W) STREAM(y + i, ADD(MUL(SUB(LOADU(x + i), vm), va), vb));        \
    for (; i < n; i++) y[i] = (x[i] - m) * a + b;                                             \
    _mm_sfence();                                                                             \
}                                                                                             \
/* Channel-last rows stored back to back: n values starting at channel 0, channel of value i  \
 * is i % C; me/ae/be hold C + 8 values, the per-channel ones repeated cyclically. */         \
FASTDL_T_AVX2_NORM static void fastdl_bn_affine_flat_stream_##SUFFIX(const T *x, T *y,         \
        ptrdiff_t n, ptrdiff_t channels, const T *me, const T *ae, const T *be)               \
{                                                                                             \
    ptrdiff_t i = 0, k = 0;                                                                   \
    for (; i < n && ((uintptr_t)(y + i) & 31); i++) {                                         \
        y[i] = (x[i] - me[k]) * ae[k] + be[k];                                                \
        if (++k == channels) k = 0;                                                           \
    }                                                                                         \
    for (; i + W <= n; i += W) {                                                              \
        STREAM(y + i, ADD(MUL(SUB(LOADU(x + i), LOADU(me + k)), LOADU(ae + k)), LOADU(be + k))); \
        k += W;                                                                               \
        if (k >= channels) k = channels >= W ? k - channels : k % channels;                   \
    }                                                                                         \
    for (; i < n; i++) {                                                                      \
        y[i] = (x[i] - me[k]) * ae[k] + be[k];                                                \
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
static void fastdl_bn_affine_row_stream_##SUFFIX(const T *x, T *y, ptrdiff_t n, T m, T a, T b) \
{ fastdl_bn_affine_row_##SUFFIX(x, y, n, m, a, b); }                                          \
static void fastdl_bn_affine_flat_stream_##SUFFIX(const T *x, T *y, ptrdiff_t n,              \
        ptrdiff_t channels, const T *me, const T *ae, const T *be)                            \
{ fastdl_bn_affine_cl_##SUFFIX(x, channels, y, channels, n / channels, channels, me, ae, be); } \
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

#endif /* FASTDL_NORM_H */
