/* Vectorisable exp, log, log1p, tanh and sigmoid for float and double.
 *
 * Every function here is branch-free straight-line code on one element (selects instead of
 * branches, integer tricks through memcpy instead of casts), so that a loop calling it inside
 * a FASTDL_CLONES function is auto-vectorised by GCC: 8 floats or 4 doubles per AVX2
 * instruction, SSE2 in the baseline clone. There is no FMA and no reassociation (ISO C mode:
 * -ffp-contract=off), so all clones give the same bits. These are the portable loops; on an
 * AVX-512F CPU the float loops of exp, tanh and sigmoid run the hand-written kernels further
 * down instead (FMA, a table-driven tanh; own bits, own error bounds), selected at run time by
 * fdl_math_select().
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

/* ---------------------------------------------------------------- AVX-512F float kernels
 *
 * Hand-written AVX-512F (+ its FMA) loops for float32 exp, tanh and sigmoid, chosen at run
 * time (fdl_math_select below; the portable loops above are the fallback, and what the
 * other levels run). They use FMA, so they do not give the portable loops' bits; every
 * element goes through the same vector code (the tail with a masked load/store), so the
 * result of an element does not depend on where a slice starts: bit-identical for any
 * thread count.
 *
 *   exp(x)   = 2^n · e^r, n = round(x·log2 e), r = x − n·ln2 (two FMAs, ln2 in two parts),
 *              e^r by the Cephes degree-7 minimax polynomial, 2^n applied by vscalefps
 *              (one rounding, also for subnormal results; overflow gives +inf). x is clamped
 *              to [−110, 89] first (NaN kept). Max 1.00 ulp vs float64 exp (every 97th
 *              float).
 *   tanh(x)  = sign(x)·P_k(|x| − o_k): |x| (clamped to 10, NaN kept) picks one of 32
 *              intervals from its exponent and first mantissa bit (half-octaves [2^e, 1.5·2^e),
 *              [1.5·2^e, 2^(e+1)) from 2^−12 to 10; everything below 2^−12 falls in interval
 *              0, [0, 1.5·2^−12), where P_0(t) = t − t^3/3); P_k is a degree-7 polynomial in
 *              t = |x| − o_k (o_k the interval's midpoint, 10 for the last one, [8, 10]:
 *              t is exact by Sterbenz), its 8 coefficients fetched for 16 lanes at once by
 *              vpermt2ps from 32-entry tables. Coefficients: weighted least squares for the
 *              relative error on 400 Chebyshev nodes per interval, fitted against float64
 *              tanh, rounded to float one at a time with the rest refitted. Max 0.95 ulp vs
 *              float64 tanh, measured exhaustively (no division, no exp: ~23 vector
 *              instructions for 16 floats). tanh(±0) = ±0, tanh(tiny) = tiny, ±inf -> ±1.
 *   sigmoid  = (x >= 0 ? 1 : e) / (1 + e), e = exp(−|x|): never overflows; sigmoid(−100) is
 *              the correctly rounded subnormal. The rounding errors of 1 + e and of the
 *              division are corrected (below), leaving mostly exp's: max 1.48 ulp, measured
 *              exhaustively (2.40 uncorrected, as in the portable code).
 */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(FASTDL_NO_AVX2)
#define FASTDL_MATH_HAVE_AVX512 1
#include <immintrin.h>
#include "fastdl_cpu.h"

/* rows: o_k, then c0 .. c7 of P_k(t) = c0 + c1 t + ... + c7 t^7; entry 31 (|x| >= 12) unused */
static const float fdl_tanh_table_f32[9][32] __attribute__((aligned(64))) = {
    { /* offset */
        0x0.0p+0f, 0x1.cp-12f, 0x1.4p-11f, 0x1.cp-11f,
        0x1.4p-10f, 0x1.cp-10f, 0x1.4p-9f, 0x1.cp-9f,
        0x1.4p-8f, 0x1.cp-8f, 0x1.4p-7f, 0x1.cp-7f,
        0x1.4p-6f, 0x1.cp-6f, 0x1.4p-5f, 0x1.cp-5f,
        0x1.4p-4f, 0x1.cp-4f, 0x1.4p-3f, 0x1.cp-3f,
        0x1.4p-2f, 0x1.cp-2f, 0x1.4p-1f, 0x1.cp-1f,
        0x1.4p+0f, 0x1.cp+0f, 0x1.4p+1f, 0x1.cp+1f,
        0x1.4p+2f, 0x1.cp+2f, 0x1.4p+3f, 0x1.4p+3f
    },
    { /* c0 */
        0x0.0p+0f, 0x1.bffffep-12f, 0x1.3ffffep-11f, 0x1.bffff8p-11f,
        0x1.3ffff6p-10f, 0x1.bfffe4p-10f, 0x1.3fffd6p-9f, 0x1.bfff8ep-9f,
        0x1.3fff5ap-8f, 0x1.bffe36p-8f, 0x1.3ffd66p-7f, 0x1.bff8dap-7f,
        0x1.3ff596p-6f, 0x1.bfe36cp-6f, 0x1.3fd65cp-5f, 0x1.bf8dcep-5f,
        0x1.3f59bep-4f, 0x1.be38d8p-4f, 0x1.3d6bc8p-3f, 0x1.b8fd04p-3f,
        0x1.35f98ap-2f, 0x1.a5729ep-2f, 0x1.1bf47ep-1f, 0x1.68665p-1f,
        0x1.b2523cp-1f, 0x1.e1fbfap-1f, 0x1.f92582p-1f, 0x1.ff112cp-1f,
        0x1.fff41ap-1f, 0x1.ffffc8p-1f, 0x1.0p+0f, 0x1.0p+0f
    },
    { /* c1 */
        0x1.0p+0f, 0x1.fffffap-1f, 0x1.fffff4p-1f, 0x1.ffffe8p-1f,
        0x1.ffffcep-1f, 0x1.ffff9ep-1f, 0x1.ffff38p-1f, 0x1.fffe78p-1f,
        0x1.fffcep-1f, 0x1.fff9ep-1f, 0x1.fff382p-1f, 0x1.ffe77ep-1f,
        0x1.ffce04p-1f, 0x1.ff9e0ap-1f, 0x1.ff3834p-1f, 0x1.fe78c8p-1f,
        0x1.fce34p-1f, 0x1.f9ec6cp-1f, 0x1.f3b36p-1f, 0x1.e842cap-1f,
        0x1.d11574p-1f, 0x1.a945b8p-1f, 0x1.6284c2p-1f, 0x1.02500ap-1f,
        0x1.1f2514p-2f, 0x1.d22ca2p-4f, 0x1.b3afe6p-6f, 0x1.dd37dp-9f,
        0x1.7ccc2ep-13f, 0x1.be6922p-19f, 0x1.6e161p-24f, 0x1.6e161p-24f
    },
    { /* c2 */
        0x0.0p+0f, 0x1.7c1326p-9f, -0x1.5dfbc4p-8f, 0x1.7d634p-8f,
        -0x1.75c996p-9f, -0x1.055746p-8f, -0x1.d4e946p-10f, -0x1.0a997ap-8f,
        -0x1.6aa566p-8f, -0x1.94c0ecp-8f, -0x1.53e0c8p-7f, -0x1.a6bf88p-7f,
        -0x1.41daaep-6f, -0x1.b8da8p-6f, -0x1.3fabcap-5f, -0x1.bef0c8p-5f,
        -0x1.3dc9d6p-4f, -0x1.b8d376p-4f, -0x1.35d5a2p-3f, -0x1.a487dap-3f,
        -0x1.1991aap-2f, -0x1.5e07e6p-2f, -0x1.8938acp-2f, -0x1.6ba4eap-2f,
        -0x1.e729bp-3f, -0x1.b6da56p-4f, -0x1.add8d4p-6f, -0x1.dc4daap-9f,
        -0x1.7d5162p-13f, -0x1.b86a76p-19f, 0x1.b5e666p-22f, 0x1.b5e666p-22f
    },
    { /* c3 */
        -0x1.555556p-2f, -0x1.b032e6p-2f, -0x1.c1c83p+1f, -0x1.c5921p+1f,
        -0x1.514d58p-2f, -0x1.530406p-2f, -0x1.55ca06p-2f, -0x1.53c82cp-2f,
        -0x1.539a8cp-2f, -0x1.506a08p-2f, -0x1.c7b7p-2f, -0x1.6acd3ap-3f,
        -0x1.609d94p-2f, -0x1.2f4264p-2f, -0x1.53a826p-2f, -0x1.52daf4p-2f,
        -0x1.4ed2e4p-2f, -0x1.455596p-2f, -0x1.355674p-2f, -0x1.182c16p-2f,
        -0x1.c19302p-3f, -0x1.16a96ap-3f, -0x1.23d1ep-6f, 0x1.4f19cep-4f,
        0x1.bba2aap-4f, 0x1.01b9c8p-4f, 0x1.16de56p-6f, 0x1.3c68c8p-9f,
        0x1.fbdf2ep-14f, 0x1.29c656p-19f, 0x1.0baff8p-20f, 0x1.0baff8p-20f
    },
    { /* c4 */
        0x0.0p+0f, -0x1.ec157p+19f, 0x1.62f2dep+18f, -0x1.f3de76p+18f,
        0x1.e99c52p+14f, 0x1.555904p+15f, -0x1.87cf88p+11f, 0x1.85824cp+11f,
        0x1.86c318p+9f, -0x1.8b221cp+9f, 0x1.3a8522p+8f, -0x1.8e22cap+8f,
        0x1.fddf14p+3f, -0x1.a8c07p+5f, 0x1.4fd9ep+0f, 0x1.766ccp+1f,
        0x1.9eb592p-1f, -0x1.09f22ep-3f, 0x1.163444p-3f, 0x1.dc7644p-4f,
        0x1.41fe2ap-3f, 0x1.3f9d8p-3f, 0x1.17bc02p-3f, 0x1.e68654p-5f,
        -0x1.9b311ap-7f, -0x1.8064eap-6f, -0x1.07e7cap-7f, -0x1.3ab522p-10f,
        -0x1.f3332ap-15f, -0x1.3f4da2p-20f, 0x1.452562p-20f, 0x1.452562p-20f
    },
    { /* c5 */
        0x0.0p+0f, -0x1.e5beap+29f, 0x1.4f21bcp+26f, 0x1.167404p+28f,
        -0x1.104a0ap+22f, -0x1.0a1d54p+22f, 0x1.b15ca4p+17f, -0x1.3830f2p+17f,
        -0x1.c51118p+14f, 0x1.d9df82p+13f, 0x1.c8e286p+15f, -0x1.2f6e62p+16f,
        0x1.77b6p+10f, -0x1.1e208p+12f, 0x1.497daap+4f, 0x1.d54868p+5f,
        0x1.db7a0ap+3f, 0x1.b26eeap-7f, 0x1.137aa4p-1f, -0x1.d224c2p-6f,
        0x1.ebe24p-6f, -0x1.f64cfap-5f, -0x1.d9b374p-5f, -0x1.e87286p-5f,
        -0x1.39ee02p-6f, 0x1.e59edcp-9f, 0x1.76f28ap-9f, 0x1.ef051ap-12f,
        0x1.91d6ecp-16f, 0x1.d79588p-22f, 0x1.ac3c1cp-21f, 0x1.ac3c1cp-21f
    },
    { /* c6 */
        0x0.0p+0f, 0x1.3f9f0ap+46f, -0x1.dab0a2p+42f, 0x1.4d68b8p+43f,
        -0x1.476532p+37f, -0x1.c759e4p+37f, 0x1.05ff7cp+32f, -0x1.03cc66p+32f,
        -0x1.054bap+28f, 0x1.078d24p+28f, -0x1.64a636p+25f, 0x1.c432ep+25f,
        -0x1.20d2aep+19f, 0x1.e2e008p+20f, -0x1.78431cp+13f, -0x1.a65854p+14f,
        -0x1.bc00a8p+10f, 0x1.d48c42p+8f, -0x1.6a717p+4f, 0x1.9948cp+2f,
        0x1.de1524p-5f, 0x1.f983eep+0f, 0x1.83d5a2p-6f, 0x1.074e06p-4f,
        0x1.e39e0ep-7f, 0x1.8e97c6p-10f, -0x1.6aec2ep-11f, -0x1.3b3bdap-13f,
        -0x1.3aa8dp-17f, -0x1.f24762p-24f, 0x1.1ddea4p-22f, 0x1.1ddea4p-22f
    },
    { /* c7 */
        0x0.0p+0f, 0x1.6e6a54p+57f, 0x1.09c5cp+52f, -0x1.1e80dcp+53f,
        0x1.23acfcp+46f, 0x1.1f1f7cp+46f, -0x1.d24d26p+39f, 0x1.496dcap+39f,
        0x1.d58a2cp+34f, -0x1.3d609cp+34f, -0x1.048c0ep+33f, 0x1.507cc6p+33f,
        -0x1.abceep+25f, 0x1.404aaep+27f, -0x1.c2bfa4p+17f, -0x1.1eed9ap+19f,
        -0x1.14758ap+15f, 0x1.fcfefcp+9f, -0x1.fcbd88p+7f, 0x1.056976p+6f,
        0x1.0f4508p+1f, 0x1.030c66p+3f, 0x1.08ef0ep-3f, 0x1.6545dep-5f,
        -0x1.3c1b72p-8f, -0x1.0bc736p-9f, 0x1.01810ap-14f, 0x1.5eab7cp-15f,
        0x1.5b8c1p-19f, 0x1.9ac396p-25f, 0x1.34e7d4p-25f, 0x1.34e7d4p-25f
    }
};

#define FDL_AVX512 __attribute__((target("avx512f"), always_inline)) static inline

FDL_AVX512 __m512 fdl_tab_avx512(int row, __m512i k)
{
    return _mm512_permutex2var_ps(_mm512_load_ps(fdl_tanh_table_f32[row]), k,
                                  _mm512_load_ps(fdl_tanh_table_f32[row] + 16));
}

FDL_AVX512 __m512 fdl_tanh_avx512(__m512 x)
{
    const __m512i sign = _mm512_set1_epi32((int)0x80000000);
    __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(x)));
    a = _mm512_min_ps(_mm512_set1_ps(10.0f), a);           /* NaN is kept (second operand) */
    __m512i k = _mm512_sub_epi32(_mm512_srli_epi32(_mm512_castps_si512(a), 22),
                                 _mm512_set1_epi32(230));  /* 230: 2^-12 >> 22 */
    k = _mm512_max_epi32(k, _mm512_setzero_si512());
    const __m512 t = _mm512_sub_ps(a, fdl_tab_avx512(0, k));
    __m512 p = fdl_tab_avx512(8, k);
    p = _mm512_fmadd_ps(p, t, fdl_tab_avx512(7, k));
    p = _mm512_fmadd_ps(p, t, fdl_tab_avx512(6, k));
    p = _mm512_fmadd_ps(p, t, fdl_tab_avx512(5, k));
    p = _mm512_fmadd_ps(p, t, fdl_tab_avx512(4, k));
    p = _mm512_fmadd_ps(p, t, fdl_tab_avx512(3, k));
    p = _mm512_fmadd_ps(p, t, fdl_tab_avx512(2, k));
    p = _mm512_fmadd_ps(p, t, fdl_tab_avx512(1, k));
    /* p | (x & sign): p >= 0 (or NaN) */
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(p),
                                                         _mm512_castps_si512(x), sign, 0xf8));
}

FDL_AVX512 __m512 fdl_exp_avx512(__m512 x)
{
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);            /* NaN kept */
    x = _mm512_max_ps(_mm512_set1_ps(-110.0f), x);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

FDL_AVX512 __m512 fdl_sigmoid_avx512(__m512 x)
{
    const __m512 minus_abs = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_set1_epi32((int)0x80000000), _mm512_castps_si512(x)));
    const __m512 e = fdl_exp_avx512(minus_abs);
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 num = _mm512_mask_blend_ps(neg, one, e);
    /* num / (1 + e) with the rounding of 1 + e and of the division corrected: d + d_lo = 1 + e
     * exactly (Fast2Sum, 1 >= e), r = num - q (d + d_lo) (FMA), q += r / d (rcp14 is plenty
     * for a correction of relative size 2^-24) */
    const __m512 d = _mm512_add_ps(one, e);
    const __m512 d_lo = _mm512_sub_ps(e, _mm512_sub_ps(d, one));
    const __m512 q = _mm512_div_ps(num, d);
    const __m512 r = _mm512_fnmadd_ps(q, d_lo, _mm512_fnmadd_ps(q, d, num));
    return _mm512_fmadd_ps(r, _mm512_rcp14_ps(d), q);
}

/* y[i] = F(x[i] - shift) (SHIFTED) or F(x[i]) for i < n (y may be x); the tail through
 * masked loads/stores, so that every element takes the same instructions */
#define FDL_DEFINE_AVX512_LOOP(NAME, F, SHIFTED)                                              \
__attribute__((target("avx512f"), unused)) static void NAME(const float *x, float shift,   \
                                                            float *y, ptrdiff_t n)            \
{                                                                                             \
    const __m512 s = _mm512_set1_ps(shift);                                                   \
    ptrdiff_t i = 0;                                                                          \
    (void)s;                                                                                  \
    for (; i + 32 <= n; i += 32) {                                                            \
        _mm_prefetch((const char *)(x + i + 512), _MM_HINT_T0);   /* see the AVX2 loop */     \
        __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);                 \
        if (SHIFTED) { v0 = _mm512_sub_ps(v0, s); v1 = _mm512_sub_ps(v1, s); }                \
        v0 = F(v0);                                                                           \
        v1 = F(v1);                                                                           \
        _mm512_storeu_ps(y + i, v0);                                                          \
        _mm512_storeu_ps(y + i + 16, v1);                                                     \
    }                                                                                         \
    for (; i < n; i += 16) {                                                                  \
        const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff                                   \
                                        : (__mmask16)((1u << (n - i)) - 1u);                  \
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);                                           \
        if (SHIFTED) v = _mm512_sub_ps(v, s);                                                 \
        _mm512_mask_storeu_ps(y + i, m, F(v));                                                \
    }                                                                                         \
}
FDL_DEFINE_AVX512_LOOP(fdl_exp_shift_avx512_f32, fdl_exp_avx512, 1)
FDL_DEFINE_AVX512_LOOP(fdl_tanh_avx512_f32, fdl_tanh_avx512, 0)
FDL_DEFINE_AVX512_LOOP(fdl_sigmoid_avx512_f32, fdl_sigmoid_avx512, 0)

/* y[i] = exp(x[i] - shift) and the sum of the y[i] in double, in the order of the losses'
 * 16-lane row sums (element i into lane i mod 16, the tail's j-th element into lane j, lanes
 * added 0..15): the same bits as storing y and summing it afterwards. One pass instead of
 * two over a softmax row. */
__attribute__((target("avx512f"), unused)) static double fdl_exp_shift_sum_avx512_f32(
        const float *x, float shift, float *y, ptrdiff_t n)
{
    const __m512 s = _mm512_set1_ps(shift);
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    ptrdiff_t i = 0;
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        const __m512 e = fdl_exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s));
        _mm512_mask_storeu_ps(y + i, m, e);
        const __m512 ez = _mm512_maskz_mov_ps(m, e);        /* absent lanes add +0 */
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(ez)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(
                                   _mm512_castps_pd(ez), 1))));
    }
    double lanes[16];
    _mm512_storeu_pd(lanes, lo);
    _mm512_storeu_pd(lanes + 8, hi);
    double sum = 0;
    for (int k = 0; k < 16; k++) sum += lanes[k];
    return sum;
}

/* AVX2 + FMA versions for CPUs without AVX-512 (8 floats per vector; vpermps only reaches 8
 * table entries, so tanh is exp-based here):
 *   exp      as above, 2^n applied as the two normal factors 2^n1 · 2^n2 of the portable
 *            code (x clamped to [−104, 89]), measured <= 1 ulp;
 *   tanh     sign(x)·(a + a·u·Q(u)), u = a², for a = |x| < 0.55 (Q of degree 4: weighted least
 *            squares of the relative error, coefficients rounded one at a time), and
 *            (1 − e)/(1 + e), e = exp(−2a), above (a clamped to 10); max 1.51 ulp, measured
 *            exhaustively;
 *   sigmoid  as above (max 1.48 ulp). */
#define FDL_AVX2 __attribute__((target("avx2,fma"), always_inline)) static inline

FDL_AVX2 __m256 fdl_exp_avx2(__m256 x)
{
    x = _mm256_min_ps(_mm256_set1_ps(89.0f), x);            /* NaN kept */
    x = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    const __m256i ni = _mm256_cvtps_epi32(n);               /* exact: n is an integer */
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

FDL_AVX2 __m256 fdl_tanh_avx2(__m256 x)
{
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000));
    const __m256 a = _mm256_min_ps(_mm256_set1_ps(10.0f), _mm256_andnot_ps(sign, x));
    const __m256 u = _mm256_mul_ps(a, a);
    __m256 q = _mm256_set1_ps(-0x1.9ca9f8p-8f);
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(0x1.59862cp-6f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-0x1.b93268p-5f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(0x1.110d6cp-3f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-0x1.55554cp-2f));
    const __m256 small_v = _mm256_fmadd_ps(a, _mm256_mul_ps(q, u), a);
    const __m256 e = fdl_exp_avx2(_mm256_mul_ps(a, _mm256_set1_ps(-2.0f)));
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 big_v = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    const __m256 small = _mm256_cmp_ps(a, _mm256_set1_ps(0.55f), _CMP_LT_OQ);
    const __m256 t = _mm256_blendv_ps(big_v, small_v, small);   /* NaN: big_v is NaN */
    return _mm256_or_ps(t, _mm256_and_ps(sign, x));
}

FDL_AVX2 __m256 fdl_sigmoid_avx2(__m256 x)
{
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000));
    const __m256 e = fdl_exp_avx2(_mm256_or_ps(sign, x));        /* exp(-|x|) */
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 num = _mm256_blendv_ps(one, e, neg);
    const __m256 d = _mm256_add_ps(one, e);                 /* corrected as in the AVX-512 one */
    const __m256 d_lo = _mm256_sub_ps(e, _mm256_sub_ps(d, one));
    const __m256 q = _mm256_div_ps(num, d);
    const __m256 r = _mm256_fnmadd_ps(q, d_lo, _mm256_fnmadd_ps(q, d, num));
    return _mm256_fmadd_ps(r, _mm256_rcp_ps(d), q);
}

#define FDL_DEFINE_AVX2_LOOP(NAME, F, SHIFTED)                                                \
__attribute__((target("avx2,fma"), unused)) static void NAME(const float *x, float shift,    \
                                                             float *y, ptrdiff_t n)           \
{                                                                                             \
    const __m256 s = _mm256_set1_ps(shift);                                                   \
    ptrdiff_t i = 0;                                                                          \
    (void)s;                                                                                  \
    for (; i + 16 <= n; i += 16) {                                                            \
        _mm_prefetch((const char *)(x + i + 512), _MM_HINT_T0);  /* 2 KiB ahead: measured    \
                                           12 vs 40 ms on 16M floats without it (tanh) */     \
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);                  \
        if (SHIFTED) { v0 = _mm256_sub_ps(v0, s); v1 = _mm256_sub_ps(v1, s); }                \
        v0 = F(v0);                                                                           \
        v1 = F(v1);                                                                           \
        _mm256_storeu_ps(y + i, v0);                                                          \
        _mm256_storeu_ps(y + i + 8, v1);                                                      \
    }                                                                                         \
    for (; i < n; i += 8) {                                                                   \
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i < 8 ? n - i : 8)),\
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));      \
        __m256 v = _mm256_maskload_ps(x + i, m);                                              \
        if (SHIFTED) v = _mm256_sub_ps(v, s);                                                 \
        _mm256_maskstore_ps(y + i, m, F(v));                                                  \
    }                                                                                         \
}
FDL_DEFINE_AVX2_LOOP(fdl_exp_shift_avx2_f32, fdl_exp_avx2, 1)
FDL_DEFINE_AVX2_LOOP(fdl_tanh_avx2_f32, fdl_tanh_avx2, 0)
FDL_DEFINE_AVX2_LOOP(fdl_sigmoid_avx2_f32, fdl_sigmoid_avx2, 0)
#else
#define FASTDL_MATH_HAVE_AVX512 0
#endif

/* The vector level in use: 0 the portable loops, 1 AVX2+FMA, 2 AVX-512F kernels. One copy per
 * extension module; each module selects at import. */
static int fdl_math_isa __attribute__((unused)) = 0;

/* Use the kernels of level <= level (0 portable, 1 AVX2+FMA, 2 AVX-512F) that
 * the CPU has; returns the level in use. (At import and in tests; not thread-safe.) */
__attribute__((unused)) static int fdl_math_select(int level)
{
    fdl_math_isa = 0;
#if FASTDL_MATH_HAVE_AVX512
    if (level >= 2 && fastdl_cpu_has_avx512f()) fdl_math_isa = 2;
    else if (level >= 1 && fastdl_cpu_has_avx2() && fastdl_cpu_has_fma()) fdl_math_isa = 1;
#endif
    (void)level;
    return fdl_math_isa;
}

/* Fast paths of the loops: return 1 when they handled the call (float on an AVX-512F CPU),
 * 0 to fall through to the portable loop. */
#if FASTDL_MATH_HAVE_AVX512
#define FDL_FAST_CASE(A512, A2) do {                                                      \
        if (fdl_math_isa >= 2) { A512; return 1; }                                            \
        if (fdl_math_isa == 1) { A2; return 1; }                                              \
    } while (0)
#else
#define FDL_FAST_CASE(A512, A2) do { } while (0)
#endif
FASTDL_INLINE int fdl_exp_fast_f32(const float *x, float shift, float *y, ptrdiff_t n)
{
    FDL_FAST_CASE(fdl_exp_shift_avx512_f32(x, shift, y, n),
                  fdl_exp_shift_avx2_f32(x, shift, y, n));
    (void)x; (void)shift; (void)y; (void)n;
    return 0;
}
FASTDL_INLINE int fdl_exp_fast_f64(const double *x, double shift, double *y, ptrdiff_t n)
{ (void)x; (void)shift; (void)y; (void)n; return 0; }
FASTDL_INLINE int fdl_tanh_fast_f32(const float *x, float *y, ptrdiff_t n)
{
    FDL_FAST_CASE(fdl_tanh_avx512_f32(x, 0.0f, y, n), fdl_tanh_avx2_f32(x, 0.0f, y, n));
    (void)x; (void)y; (void)n;
    return 0;
}
FASTDL_INLINE int fdl_tanh_fast_f64(const double *x, double *y, ptrdiff_t n)
{ (void)x; (void)y; (void)n; return 0; }
FASTDL_INLINE int fdl_sigmoid_fast_f32(const float *x, float *y, ptrdiff_t n)
{
    FDL_FAST_CASE(fdl_sigmoid_avx512_f32(x, 0.0f, y, n), fdl_sigmoid_avx2_f32(x, 0.0f, y, n));
    (void)x; (void)y; (void)n;
    return 0;
}
FASTDL_INLINE int fdl_sigmoid_fast_f64(const double *x, double *y, ptrdiff_t n)
{ (void)x; (void)y; (void)n; return 0; }
/* exp(x - shift) into y plus the double sum of y (lane order of the losses' row sums) */
FASTDL_INLINE int fdl_exp_sum_fast_f32(const float *x, float shift, float *y, ptrdiff_t n,
                                       double *sum)
{
#if FASTDL_MATH_HAVE_AVX512
    if (fdl_math_isa >= 2) { *sum = fdl_exp_shift_sum_avx512_f32(x, shift, y, n); return 1; }
#endif
    (void)x; (void)shift; (void)y; (void)n; (void)sum;
    return 0;
}
FASTDL_INLINE int fdl_exp_sum_fast_f64(const double *x, double shift, double *y, ptrdiff_t n,
                                       double *sum)
{ (void)x; (void)shift; (void)y; (void)n; (void)sum; return 0; }

/* ---------------------------------------------------------------- array loops */

#define FASTDL_DEFINE_MATH_LOOPS(T, SUFFIX)                                                   \
FASTDL_MATH_CLONES __attribute__((unused)) static void fdl_exp_loop_portable_##SUFFIX(    \
        const T *FASTDL_RESTRICT x, T *FASTDL_RESTRICT y, ptrdiff_t n)                        \
{ for (ptrdiff_t i = 0; i < n; i++) y[i] = fdl_exp_##SUFFIX(x[i]); }                          \
__attribute__((unused)) static void fdl_exp_loop_##SUFFIX(const T *x, T *y, ptrdiff_t n)      \
{ if (!fdl_exp_fast_##SUFFIX(x, (T)0, y, n)) fdl_exp_loop_portable_##SUFFIX(x, y, n); }        \
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
