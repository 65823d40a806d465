/* Vectorisable exp, log, log1p, tanh and sigmoid for float and double.
 *
 * Every function here is branch-free straight-line code on one element (selects instead of
 * branches, integer tricks through memcpy instead of casts), so that a loop calling it inside
 * a FASTDL_CLONES function is auto-vectorised by GCC: 8 floats or 4 doubles per AVX2
 * instruction, SSE2 in the baseline clone. There is no FMA and no reassociation (ISO C mode:
 * -ffp-contract=off), so both clones give the same bits.
 *
 * Algorithms (Cody–Waite range reduction + polynomial, as in Cephes):
 *   exp(x)  = 2^n · e^r,  n = round(x / ln2),  r = x − n·ln2 (ln2 split in two), |r| <= ln2/2;
 *             e^r by the Cephes minimax polynomial (float) or the degree-13 Taylor polynomial
 *             (double); 2^n applied as two exact power-of-two factors 2^n1 · 2^n2 so that
 *             results in the subnormal range are rounded once (exp(-100) in float is the
 *             correctly rounded subnormal) and overflow gives +inf.
 *   log(x)  = e·ln2 + log(m),  m in [√½, √2),  log(m) = 2·atanh(u), u = (m−1)/(m+1), by its
 *             odd series (|u| <= 0.1716).
 *   log1p(x)= log(u)·x/(u − 1) with u = 1 + x (exact for tiny x; Goldberg's trick).
 *   tanh(x) = sign(x)·q,  q = (1 − e)/(1 + e), e = exp(−2|x|) for |x| >= 0.55, and
 *             q = m/(m + 2), m = expm1(2|x|) by its Taylor series, below (no cancellation).
 *   sigmoid = 1/(1 + e) for x >= 0, e/(1 + e) otherwise, e = exp(−|x|): never overflows.
 * NaN propagates; ±inf give the limits.
 */
#ifndef FASTDL_MATH_H
#define FASTDL_MATH_H

/* The selects below are if-converted (and the loops vectorised) only without
 * -ftrapping-math; they raise no exception that the code relies on. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stddef.h>
#include "fastdl_simd.h"

#define FASTDL_INLINE static inline __attribute__((always_inline))

/* Like FASTDL_CLONES, plus an AVX-512F clone: these loops are compute-bound enough for the
 * wider vectors to pay (measured 1.3-1.5x on sigmoid/tanh on an AVX-512 host). No FMA and no
 * reassociation in any clone, so every clone gives the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(FASTDL_NO_CLONES)
#define FASTDL_MATH_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASTDL_MATH_CLONES
#endif

FASTDL_INLINE uint32_t fdl_f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
FASTDL_INLINE float fdl_u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
FASTDL_INLINE uint64_t fdl_d2u(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
FASTDL_INLINE double fdl_u2d(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

/* ---------------------------------------------------------------- exp */

FASTDL_INLINE float fdl_exp_f32(float x)
{
    const float magic = 12582912.0f;            /* 1.5 * 2^23: adding it rounds to an int */
    x = x > 89.0f ? 89.0f : x;                  /* comparisons keep NaN */
    x = x < -104.0f ? -104.0f : x;
    const float t = x * 1.44269504088896341f + magic;
    const float n = t - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    const float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    const int32_t ni = (int32_t)(fdl_f2u(t) - fdl_f2u(magic));
    const int32_t n1 = ni >> 1, n2 = ni - n1;   /* both in [-75, 65]: normal powers of 2 */
    const float s1 = fdl_u2f((uint32_t)(n1 + 127) << 23);
    const float s2 = fdl_u2f((uint32_t)(n2 + 127) << 23);
    return p * s1 * s2;
}

FASTDL_INLINE double fdl_exp_f64(double x)
{
    const double magic = 6755399441055744.0;    /* 1.5 * 2^52 */
    x = x > 710.0 ? 710.0 : x;
    x = x < -746.0 ? -746.0 : x;
    const double n = (x * 1.4426950408889634 + magic) - magic;
    double r = x - n * 6.93145751953125e-1;
    r = r - n * 1.42860682030941723212e-6;
    double p = 1.0 / 6227020800.0;              /* 1/13! ... 1/1!: Taylor, error < 1e-17 */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* 2^n as 2^n1 * 2^n2, n1 = round(n/2): both within [-538, 513] */
    const double n1 = (n * 0.5 + magic) - magic;
    const double n2 = n - n1;
    const uint64_t b1 = fdl_d2u(n1 + magic) - fdl_d2u(magic);
    const uint64_t b2 = fdl_d2u(n2 + magic) - fdl_d2u(magic);
    const double s1 = fdl_u2d((b1 + 1023u) << 52);
    const double s2 = fdl_u2d((b2 + 1023u) << 52);
    return p * s1 * s2;
}

/* ---------------------------------------------------------------- log, log1p */

FASTDL_INLINE float fdl_log_f32(float x)
{
    const int tiny = x < 1.17549435e-38f;       /* subnormal (or <= 0): scale by 2^23 */
    const float xs = tiny ? x * 8388608.0f : x;
    const uint32_t u = fdl_f2u(xs);
    float e = (float)(int32_t)((u >> 23) & 0xffu) - (tiny ? 150.0f : 127.0f);
    float m = fdl_u2f((u & 0x007fffffu) | 0x3f800000u);   /* [1, 2) */
    const int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1.0f : e;
    const float f = (m - 1.0f) / (m + 1.0f);
    const float f2 = f * f;
    float p = 1.0f / 9.0f;
    p = p * f2 + 1.0f / 7.0f;
    p = p * f2 + 1.0f / 5.0f;
    p = p * f2 + 1.0f / 3.0f;
    p = p * f2 + 1.0f;
    const float lm = 2.0f * f * p;
    float r = e * 0.693359375f + (e * -2.12194440e-4f + lm);
    r = x < 0.0f ? NAN : r;
    r = x == 0.0f ? -INFINITY : r;
    r = x == INFINITY ? INFINITY : r;
    r = x != x ? x : r;
    return r;
}

FASTDL_INLINE double fdl_log_f64(double x)
{
    const int tiny = x < 2.2250738585072014e-308;
    const double xs = tiny ? x * 4503599627370496.0 : x;  /* 2^52 */
    const uint64_t u = fdl_d2u(xs);
    /* exponent field as a double without int64->double conversion: 2^52 + k - 2^52 */
    double e = fdl_u2d(0x4330000000000000ull | ((u >> 52) & 0x7ffu)) - 4503599627370496.0;
    e = e - (tiny ? 1075.0 : 1023.0);
    double m = fdl_u2d((u & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
    const int big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    e = big ? e + 1.0 : e;
    const double f = (m - 1.0) / (m + 1.0);
    const double f2 = f * f;
    double p = 1.0 / 21.0;
    p = p * f2 + 1.0 / 19.0;
    p = p * f2 + 1.0 / 17.0;
    p = p * f2 + 1.0 / 15.0;
    p = p * f2 + 1.0 / 13.0;
    p = p * f2 + 1.0 / 11.0;
    p = p * f2 + 1.0 / 9.0;
    p = p * f2 + 1.0 / 7.0;
    p = p * f2 + 1.0 / 5.0;
    p = p * f2 + 1.0 / 3.0;
    p = p * f2 + 1.0;
    const double lm = 2.0 * f * p;
    double r = e * 6.93145751953125e-1 + (e * 1.42860682030941723212e-6 + lm);
    r = x < 0.0 ? NAN : r;
    r = x == 0.0 ? -INFINITY : r;
    r = x == INFINITY ? INFINITY : r;
    r = x != x ? x : r;
    return r;
}

/* log(1 + x) for x >= -1 (finite or +inf). */
FASTDL_INLINE float fdl_log1p_f32(float x)
{
    const float u = 1.0f + x;
    const float d = u - 1.0f;
    const float r = fdl_log_f32(u) * (x / (d == 0.0f ? 1.0f : d));
    return d == 0.0f ? x : (x == INFINITY ? x : r);
}

FASTDL_INLINE double fdl_log1p_f64(double x)
{
    const double u = 1.0 + x;
    const double d = u - 1.0;
    const double r = fdl_log_f64(u) * (x / (d == 0.0 ? 1.0 : d));
    return d == 0.0 ? x : (x == INFINITY ? x : r);
}

/* ---------------------------------------------------------------- sigmoid, tanh */

FASTDL_INLINE float fdl_sigmoid_f32(float x)
{
    const float e = fdl_exp_f32(-fabsf(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

FASTDL_INLINE double fdl_sigmoid_f64(double x)
{
    const double e = fdl_exp_f64(-fabs(x));
    return (x >= 0.0 ? 1.0 : e) / (1.0 + e);
}

FASTDL_INLINE float fdl_tanh_f32(float x)
{
    const float a = fabsf(x);
    const float e = fdl_exp_f32(-2.0f * a);
    const float v = a < 0.55f ? 2.0f * a : 0.0f;  /* expm1(v) by Taylor, v < 1.1 */
    float p = 1.0f / 39916800.0f;
    p = p * v + 1.0f / 3628800.0f;
    p = p * v + 1.0f / 362880.0f;
    p = p * v + 1.0f / 40320.0f;
    p = p * v + 1.0f / 5040.0f;
    p = p * v + 1.0f / 720.0f;
    p = p * v + 1.0f / 120.0f;
    p = p * v + 1.0f / 24.0f;
    p = p * v + 1.0f / 6.0f;
    p = p * v + 0.5f;
    p = p * v + 1.0f;
    const float em1 = p * v;
    const int small = a < 0.55f;
    const float q = (small ? em1 : 1.0f - e) / (small ? em1 + 2.0f : 1.0f + e);
    return copysignf(q, x);
}

FASTDL_INLINE double fdl_tanh_f64(double x)
{
    const double a = fabs(x);
    const double e = fdl_exp_f64(-2.0 * a);
    const double v = a < 0.55 ? 2.0 * a : 0.0;
    double p = 1.0 / 121645100408832000.0;      /* 1/19! */
    p = p * v + 1.0 / 6402373705728000.0;
    p = p * v + 1.0 / 355687428096000.0;
    p = p * v + 1.0 / 20922789888000.0;
    p = p * v + 1.0 / 1307674368000.0;
    p = p * v + 1.0 / 87178291200.0;
    p = p * v + 1.0 / 6227020800.0;
    p = p * v + 1.0 / 479001600.0;
    p = p * v + 1.0 / 39916800.0;
    p = p * v + 1.0 / 3628800.0;
    p = p * v + 1.0 / 362880.0;
    p = p * v + 1.0 / 40320.0;
    p = p * v + 1.0 / 5040.0;
    p = p * v + 1.0 / 720.0;
    p = p * v + 1.0 / 120.0;
    p = p * v + 1.0 / 24.0;
    p = p * v + 1.0 / 6.0;
    p = p * v + 0.5;
    p = p * v + 1.0;
    const double em1 = p * v;
    const int small = a < 0.55;
    const double q = (small ? em1 : 1.0 - e) / (small ? em1 + 2.0 : 1.0 + e);
    return copysign(q, x);
}

/* ---------------------------------------------------------------- array loops */

#define FASTDL_DEFINE_MATH_LOOPS(T, SUFFIX)                                                   \
FASTDL_MATH_CLONES __attribute__((unused)) static void fdl_exp_loop_##SUFFIX(const T *FASTDL_RESTRICT x,                  \
        T *FASTDL_RESTRICT y, ptrdiff_t n)                                                    \
{ for (ptrdiff_t i = 0; i < n; i++) y[i] = fdl_exp_##SUFFIX(x[i]); }                          \
FASTDL_MATH_CLONES __attribute__((unused)) static void fdl_log_loop_##SUFFIX(const T *FASTDL_RESTRICT x,                  \
        T *FASTDL_RESTRICT y, ptrdiff_t n)                                                    \
{ for (ptrdiff_t i = 0; i < n; i++) y[i] = fdl_log_##SUFFIX(x[i]); }                          \
FASTDL_MATH_CLONES __attribute__((unused)) static void fdl_log1p_loop_##SUFFIX(const T *FASTDL_RESTRICT x,                \
        T *FASTDL_RESTRICT y, ptrdiff_t n)                                                    \
{ for (ptrdiff_t i = 0; i < n; i++) y[i] = fdl_log1p_##SUFFIX(x[i]); }

FASTDL_DEFINE_MATH_LOOPS(float, f32)
FASTDL_DEFINE_MATH_LOOPS(double, f64)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif /* FASTDL_MATH_H */
