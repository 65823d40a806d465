/* YOLOv2 post-processing kernels: grid decoding straight from the network output (any
 * strides, both layouts through a 5-D strided view), and the best-class score filter.
 *
 * Box geometry, confidence and the float64 path use double precision and libm exp, in the
 * reference's order of operations. The float32 class softmax (80 exponentials per anchor box:
 * the bulk of the work) uses a branch-free single-precision exp (Cephes-style range
 * reduction and degree-6 polynomial, about 1 ulp) that GCC vectorises, and 8 partial
 * sums/maxima in a fixed order (deterministic, independent of the thread count).
 */
#ifndef FASTDL_BOXES_YOLO_H
#define FASTDL_BOXES_YOLO_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fastdl_simd.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

#define FASTDL_YO_AT(T, base, off) (*(const T *)((const char *)(base) + (off)))

/* exp(x) for x <= 88 in float32; 0 below -87.3 (as the true value rounds to ~0 there). */
static inline float fastdl_yolo_expf(float x)
{
    const float xc = x < -87.3f ? -87.3f : x;
    const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  /* round */
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float y = 1.9875691500E-4f;
    y = y * r + 1.3981999507E-3f;
    y = y * r + 8.3334519073E-3f;
    y = y * r + 4.1665795894E-2f;
    y = y * r + 1.6666665459E-1f;
    y = y * r + 5.0000001201E-1f;
    y = y * (r * r) + r + 1.0f;
    const uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < -87.3f ? 0.0f : y * scale;
}

/* Softmax of k contiguous float32 logits into out (max subtracted; may alias). */
FASTDL_CLONES static void fastdl_yolo_softmax_f32(const float *x, ptrdiff_t k, float *out)
{
    float m8[8];
    for (int t = 0; t < 8; t++) m8[t] = -INFINITY;
    ptrdiff_t i = 0;
    for (; i + 8 <= k; i += 8)
        for (int t = 0; t < 8; t++) m8[t] = x[i + t] > m8[t] ? x[i + t] : m8[t];
    float m = -INFINITY;
    for (int t = 0; t < 8; t++) m = m8[t] > m ? m8[t] : m;
    for (; i < k; i++) m = x[i] > m ? x[i] : m;
    if (m == -INFINITY || m != m) m = x[0];          /* all -inf: NaN as the reference */
    for (i = 0; i < k; i++) out[i] = fastdl_yolo_expf(x[i] - m);
    float s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (i = 0; i + 8 <= k; i += 8)
        for (int t = 0; t < 8; t++) s8[t] += out[i + t];
    float s = ((s8[0] + s8[1]) + (s8[2] + s8[3])) + ((s8[4] + s8[5]) + (s8[6] + s8[7]));
    for (; i < k; i++) s += out[i];
    const float inv = 1.0f / s;                       /* one division per row */
    for (i = 0; i < k; i++) out[i] = out[i] * inv;
}

static void fastdl_yolo_softmax_f64(const double *x, ptrdiff_t k, double *out)
{
    double m = x[0];
    for (ptrdiff_t i = 1; i < k; i++) m = x[i] > m ? x[i] : m;
    double s = 0;
    for (ptrdiff_t i = 0; i < k; i++) { out[i] = exp(x[i] - m); s += out[i]; }
    for (ptrdiff_t i = 0; i < k; i++) out[i] = out[i] / s;
}

/* σ(x) as the reference: exp(-|x|), then 1/(1+e) or e/(1+e). */
static inline double fastdl_yolo_sigmoid(double x)
{
    const double e = exp(-fabs(x));
    return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

/* Decode rows u in [u0, u1) of the (N·Sh) grid rows. pred is the (N, Sh, Sw, B, 5+K) view
 * with byte strides st[5]; anchors (B, 2) float64; outputs C-contiguous. scratch: K entries
 * (used when the logits are not contiguous). */
#define FASTDL_DEFINE_YOLO_DECODE(T, S)                                                         \
static void fastdl_yolo_decode_##S(const T *pred, const ptrdiff_t *st, ptrdiff_t sh,          \
        ptrdiff_t sw, ptrdiff_t nb, ptrdiff_t k, const double *anchors, double scale_w,        \
        double scale_h, ptrdiff_t u0, ptrdiff_t u1, T *boxes, T *conf, T *probs, T *scratch)   \
{                                                                                             \
    const int contiguous = st[4] == (ptrdiff_t)sizeof(T);                                     \
    for (ptrdiff_t u = u0; u < u1; u++) {                                                     \
        const ptrdiff_t img = u / sh, row = u % sh;                                           \
        for (ptrdiff_t col = 0; col < sw; col++)                                              \
            for (ptrdiff_t b = 0; b < nb; b++) {                                              \
                const ptrdiff_t off = img * st[0] + row * st[1] + col * st[2] + b * st[3];    \
                const ptrdiff_t o = ((u * sw + col) * nb + b);                                \
                const double tx = FASTDL_YO_AT(T, pred, off);                                 \
                const double ty = FASTDL_YO_AT(T, pred, off + st[4]);                         \
                const double tw = FASTDL_YO_AT(T, pred, off + 2 * st[4]);                     \
                const double th = FASTDL_YO_AT(T, pred, off + 3 * st[4]);                     \
                const double to = FASTDL_YO_AT(T, pred, off + 4 * st[4]);                     \
                const double cx = ((double)col + fastdl_yolo_sigmoid(tx)) / (double)sw;       \
                const double cy = ((double)row + fastdl_yolo_sigmoid(ty)) / (double)sh;       \
                const double w = anchors[2 * b] * exp(tw) / (double)sw;                       \
                const double h = anchors[2 * b + 1] * exp(th) / (double)sh;                   \
                const double hw = w / 2, hh = h / 2;                                          \
                T *bo = boxes + 4 * o;                                                        \
                bo[0] = (T)((cx - hw) * scale_w);                                             \
                bo[1] = (T)((cy - hh) * scale_h);                                             \
                bo[2] = (T)((cx + hw) * scale_w);                                             \
                bo[3] = (T)((cy + hh) * scale_h);                                             \
                conf[o] = (T)fastdl_yolo_sigmoid(to);                                         \
                const T *logits = (const T *)((const char *)pred + off + 5 * st[4]);          \
                if (!contiguous) {                                                            \
                    for (ptrdiff_t j = 0; j < k; j++)                                         \
                        scratch[j] = FASTDL_YO_AT(T, pred, off + (5 + j) * st[4]);            \
                    logits = scratch;                                                         \
                }                                                                             \
                fastdl_yolo_softmax_##S(logits, k, probs + o * k);                            \
            }                                                                                 \
    }                                                                                         \
}

FASTDL_DEFINE_YOLO_DECODE(float, f32)
FASTDL_DEFINE_YOLO_DECODE(double, f64)

/* Largest (sign +1) or smallest (sign -1) of k contiguous values without NaN: 8 lanes of
 * partial results (element-wise selects that GCC vectorises). */
#define FASTDL_DEFINE_EXTREME(T, S)                                                             \
FASTDL_CLONES static T fastdl_yolo_max_##S(const T *p, ptrdiff_t k)                           \
{                                                                                             \
    T m8[8];                                                                                  \
    for (int t = 0; t < 8; t++) m8[t] = p[0];                                                 \
    ptrdiff_t j = 0;                                                                          \
    for (; j + 8 <= k; j += 8)                                                                \
        for (int t = 0; t < 8; t++) m8[t] = p[j + t] > m8[t] ? p[j + t] : m8[t];              \
    T m = p[0];                                                                               \
    for (int t = 0; t < 8; t++) m = m8[t] > m ? m8[t] : m;                                    \
    for (; j < k; j++) m = p[j] > m ? p[j] : m;                                               \
    return m;                                                                                 \
}                                                                                             \
FASTDL_CLONES static T fastdl_yolo_min_##S(const T *p, ptrdiff_t k)                           \
{                                                                                             \
    T m8[8];                                                                                  \
    for (int t = 0; t < 8; t++) m8[t] = p[0];                                                 \
    ptrdiff_t j = 0;                                                                          \
    for (; j + 8 <= k; j += 8)                                                                \
        for (int t = 0; t < 8; t++) m8[t] = p[j + t] < m8[t] ? p[j + t] : m8[t];              \
    T m = p[0];                                                                               \
    for (int t = 0; t < 8; t++) m = m8[t] < m ? m8[t] : m;                                    \
    for (; j < k; j++) m = p[j] < m ? p[j] : m;                                               \
    return m;                                                                                 \
}

FASTDL_DEFINE_EXTREME(float, f32)
FASTDL_DEFINE_EXTREME(double, f64)

/* Best class of boxes [0, m): score = conf[i] * probs[i, c] in T (as NumPy), first maximum,
 * kept when score >= thr (NaN never). conf strided (cs bytes), probs rows contiguous
 * (row stride ps bytes). Writes kept flat indices, scores, classes; returns the count.
 * probs_nan: the caller found a NaN in probs (every row then takes the plain loop);
 * *has_nan: some conf or prob is NaN. For a finite non-zero conf and NaN-free probs, the
 * largest product is conf * max(p) (conf > 0) or conf * min(p) (conf < 0) since rounding is
 * monotonic; the first class reaching it is then found by a short scan, only for boxes that
 * pass the threshold. Other cases take the plain first-maximum loop. */
#define FASTDL_DEFINE_YOLO_BEST(T, S)                                                           \
static ptrdiff_t fastdl_yolo_best_##S(const T *conf, ptrdiff_t cs, const T *probs,            \
        ptrdiff_t ps, ptrdiff_t m, ptrdiff_t k, T thr, int probs_nan, int64_t *idx, T *score, \
        int64_t *cls, int *has_nan)                                                           \
{                                                                                             \
    ptrdiff_t cnt = 0;                                                                        \
    int any_nan = 0;                                                                          \
    for (ptrdiff_t i = 0; i < m; i++) {                                                       \
        const T c = FASTDL_YO_AT(T, conf, i * cs);                                            \
        const T *p = (const T *)((const char *)probs + i * ps);                               \
        T best;                                                                               \
        ptrdiff_t arg = 0;                                                                    \
        if (!probs_nan && c - c == 0 && c != 0) {                                             \
            best = c * (c > 0 ? fastdl_yolo_max_##S(p, k) : fastdl_yolo_min_##S(p, k));       \
            if (!(best >= thr)) continue;                                                     \
            while (c * p[arg] != best) arg++;                                                 \
        } else {                                                                              \
            int nan = c != c;                                                                 \
            best = c * p[0];                                                                  \
            nan |= best != best;                                                              \
            for (ptrdiff_t j = 1; j < k && !nan; j++) {                                       \
                const T s = c * p[j];                                                         \
                if (s != s) { nan = 1; break; }                                               \
                if (s > best) { best = s; arg = j; }                                          \
            }                                                                                 \
            if (nan) {                                                                        \
                any_nan |= c != c;                                                            \
                for (ptrdiff_t j = 0; j < k; j++) any_nan |= p[j] != p[j];                    \
                continue;                                                                     \
            }                                                                                 \
            if (!(best >= thr)) continue;                                                     \
        }                                                                                     \
        idx[cnt] = i;                                                                         \
        score[cnt] = best;                                                                    \
        cls[cnt] = arg;                                                                       \
        cnt++;                                                                                \
    }                                                                                         \
    *has_nan = any_nan;                                                                       \
    return cnt;                                                                               \
}

FASTDL_DEFINE_YOLO_BEST(float, f32)
FASTDL_DEFINE_YOLO_BEST(double, f64)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif /* FASTDL_BOXES_YOLO_H */
