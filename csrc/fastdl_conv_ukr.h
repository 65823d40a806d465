/* GEMM micro-kernels of the convolution: C[MR×NR] (=|+=) Σ_k A[k][0..MR) ⊗ B[k][0..NR).
 *
 * A is packed in MR-row panels (a[k*MR + i]), B in NR-column panels (b[k*NR + j]); C is
 * row-major with row stride ldc. MR = 6 rows and NR = two vectors of 8 floats / 4 doubles:
 * 12 accumulator registers + 2 B registers + 1 broadcast = 15 of the 16 ymm registers.
 *
 * Runtime dispatch: the AVX2+FMA versions carry __attribute__((target("avx2,fma"))) and are
 * chosen once with __builtin_cpu_supports (fastdl_conv_select_kernels); the portable
 * versions are plain C loops (auto-vectorised for the baseline ISA). Each C element is the
 * sum over k in increasing order (one rounding per FMA), added to C at the end: the result
 * does not depend on how the callers split the work across threads.
 *
 * Besides this packed kernel, the gather kernels of the direct paths (gather-A / gather-B,
 * 12-row AVX-512 forms, the 4×4 dot kernel) are defined below; every SIMD kernel is one
 * template instantiated per ISA × dtype by fastdl_conv_ukr_inst.h.
 */
#ifndef FASTDL_CONV_UKR_H
#define FASTDL_CONV_UKR_H

#include <stdint.h>
#include <string.h>
#include "fastdl_simd.h"
#include "fastdl_cpu.h"

#define FASTDL_CONV_MR 6
#define FASTDL_CONV_NR_F32 16
#define FASTDL_CONV_NR_F64 8

typedef void (*fastdl_ukr_f32)(int64_t kc, const float *a, const float *b, float *c,
                               int64_t ldc, int acc);
typedef void (*fastdl_ukr_f64)(int64_t kc, const double *a, const double *b, double *c,
                               int64_t ldc, int acc);

/* Portable kernels: a local accumulator tile, then one pass over C. */
static void fastdl_ukr_f32_generic(int64_t kc, const float *a, const float *b, float *c,
                                   int64_t ldc, int acc)
{
    float t[FASTDL_CONV_MR][FASTDL_CONV_NR_F32];
    memset(t, 0, sizeof t);
    for (int64_t k = 0; k < kc; k++) {
        for (int i = 0; i < FASTDL_CONV_MR; i++) {
            const float ai = a[k * FASTDL_CONV_MR + i];
            for (int j = 0; j < FASTDL_CONV_NR_F32; j++)
                t[i][j] += ai * b[k * FASTDL_CONV_NR_F32 + j];
        }
    }
    for (int i = 0; i < FASTDL_CONV_MR; i++)
        for (int j = 0; j < FASTDL_CONV_NR_F32; j++)
            c[i * ldc + j] = acc ? c[i * ldc + j] + t[i][j] : t[i][j];
}

static void fastdl_ukr_f64_generic(int64_t kc, const double *a, const double *b, double *c,
                                   int64_t ldc, int acc)
{
    double t[FASTDL_CONV_MR][FASTDL_CONV_NR_F64];
    memset(t, 0, sizeof t);
    for (int64_t k = 0; k < kc; k++) {
        for (int i = 0; i < FASTDL_CONV_MR; i++) {
            const double ai = a[k * FASTDL_CONV_MR + i];
            for (int j = 0; j < FASTDL_CONV_NR_F64; j++)
                t[i][j] += ai * b[k * FASTDL_CONV_NR_F64 + j];
        }
    }
    for (int i = 0; i < FASTDL_CONV_MR; i++)
        for (int j = 0; j < FASTDL_CONV_NR_F64; j++)
            c[i * ldc + j] = acc ? c[i * ldc + j] + t[i][j] : t[i][j];
}


/* Portable gather kernels (see the AVX versions below for the contract). */
#define FASTDL_DEFINE_GATHER_GENERIC(SFX, T, NRV)                                             \
    static void fastdl_ukra_##SFX(int64_t kc, const T *const *ap, const int64_t *off,         \
                                  const T *b, T *c, int64_t ldc, int acc,                     \
                                  const T *bias, int relu)                                    \
    {                                                                                         \
        T t[FASTDL_CONV_MR][NRV];                                                             \
        memset(t, 0, sizeof t);                                                               \
        for (int64_t k = 0; k < kc; k++) {                                                    \
            for (int i = 0; i < FASTDL_CONV_MR; i++) {                                        \
                const T ai = ap[i][off[k]];                                                   \
                for (int j = 0; j < NRV; j++)                                                 \
                    t[i][j] += ai * b[k * NRV + j];                                           \
            }                                                                                 \
        }                                                                                     \
        for (int i = 0; i < FASTDL_CONV_MR; i++)                                              \
            for (int j = 0; j < NRV; j++) {                                                   \
                T v = acc ? c[i * ldc + j] + t[i][j] : t[i][j];                               \
                if (bias)                                                                     \
                    v += bias[j];                                                             \
                c[i * ldc + j] = (relu && v < 0) ? (T)0 : v;                                  \
            }                                                                                 \
    }                                                                                         \
    static void fastdl_ukrb_##SFX(int64_t kc, const T *a, const T *b, const int64_t *off,     \
                                  T *c, int64_t ldc, int acc, const T *bias, int relu)        \
    {                                                                                         \
        T t[FASTDL_CONV_MR][NRV];                                                             \
        memset(t, 0, sizeof t);                                                               \
        for (int64_t k = 0; k < kc; k++) {                                                    \
            const T *bk = b + off[k];                                                         \
            for (int i = 0; i < FASTDL_CONV_MR; i++)                                          \
                for (int j = 0; j < NRV; j++)                                                 \
                    t[i][j] += a[k * FASTDL_CONV_MR + i] * bk[j];                             \
        }                                                                                     \
        for (int i = 0; i < FASTDL_CONV_MR; i++)                                              \
            for (int j = 0; j < NRV; j++)                                                     \
            {                                                                                 \
                T v = acc ? c[i * ldc + j] + t[i][j] : t[i][j];                               \
                if (bias)                                                                     \
                    v += bias[i];                                                             \
                c[i * ldc + j] = (relu && v < 0) ? (T)0 : v;                                  \
            }                                                                                 \
    }
FASTDL_DEFINE_GATHER_GENERIC(f32_generic, float, FASTDL_CONV_NR_F32)
FASTDL_DEFINE_GATHER_GENERIC(f64_generic, double, FASTDL_CONV_NR_F64)

typedef void (*fastdl_ukra_f32_t)(int64_t, const float *const *, const int64_t *, const float *,
                                  float *, int64_t, int, const float *, int);
typedef void (*fastdl_ukra_f64_t)(int64_t, const double *const *, const int64_t *,
                                  const double *, double *, int64_t, int, const double *, int);
typedef void (*fastdl_ukrb_f32_t)(int64_t, const float *, const float *, const int64_t *,
                                  float *, int64_t, int, const float *, int);
typedef void (*fastdl_ukrb_f64_t)(int64_t, const double *, const double *, const int64_t *,
                                  double *, int64_t, int, const double *, int);


/* Dot kernels: out[i·ldo + j] += Σ_r Σ_{q < wo} dr[i][r·ldd + q] · sr[j][r·lds + q] for
 * i, j < 4: 4 × 4 dot products over `rows` runs of `wo` values (the valid pixels of each
 * output row: the lanes past a row's end are never read). The SIMD versions sum lane-wise
 * (a masked load for each run's tail), then reduce each vector in a fixed order. */
#define FASTDL_DEFINE_DOT_GENERIC(SFX, T)                                                     \
    static void fastdl_ukrd_##SFX(int64_t rows, int64_t wo, const T *const *dr, int64_t ldd,  \
                                  const T *const *sr, int64_t lds, T *out, int64_t ldo)       \
    {                                                                                         \
        for (int i = 0; i < 4; i++)                                                           \
            for (int j = 0; j < 4; j++) {                                                     \
                T acc = 0;                                                                    \
                for (int64_t r = 0; r < rows; r++)                                            \
                    for (int64_t q = 0; q < wo; q++)                                          \
                        acc += dr[i][r * ldd + q] * sr[j][r * lds + q];                       \
                out[i * ldo + j] += acc;                                                      \
            }                                                                                 \
    }
FASTDL_DEFINE_DOT_GENERIC(f32_generic, float)
FASTDL_DEFINE_DOT_GENERIC(f64_generic, double)
typedef void (*fastdl_ukrd_f32_t)(int64_t, int64_t, const float *const *, int64_t,
                                  const float *const *, int64_t, float *, int64_t);
typedef void (*fastdl_ukrd_f64_t)(int64_t, int64_t, const double *const *, int64_t,
                                  const double *const *, int64_t, double *, int64_t);

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(FASTDL_NO_AVX2)
#define FASTDL_CONV_HAVE_AVX2 1
#include <immintrin.h>

/* Direct ("gather") micro-kernels, used where the input is read in place from a padded slab
 * instead of being packed (fastdl_conv_direct.h):
 *
 *   gather-A  C[i][j] (=|+=) Σ_k ap[i][off[k]] · b[k·NR + j]  (+ bias[j], ReLU)
 *             the MR rows of A are MR pointers, column k of every row at offset off[k];
 *             B is an NR-column panel (rows of NR contiguous values, one after the other).
 *   gather-B  C[i][j] (=|+=) Σ_k a[k·MR + i] · b[off[k] + j]  (+ bias[i], ReLU)
 *             A is a packed MR-row panel; row k of B is NR contiguous values at b + off[k].
 *
 * One template per ISA, instantiated for float and double below. */
#define FASTDL_GA_ROW(i)                                                                      \
    do {                                                                                      \
        const V t_ = SET1(a##i[o]);                                                           \
        c##i##0 = FMA(t_, b0, c##i##0);                                                       \
        c##i##1 = FMA(t_, b1, c##i##1);                                                       \
    } while (0)
#define FASTDL_GB_ROW(i)                                                                      \
    do {                                                                                      \
        const V t_ = SET1(a[i]);                                                              \
        c##i##0 = FMA(t_, b0, c##i##0);                                                       \
        c##i##1 = FMA(t_, b1, c##i##1);                                                       \
    } while (0)
#define FASTDL_GA_STORE_N(nm, i)                                                                  \
    do {                                                                                      \
        V x0 = c##nm##0, x1 = c##nm##1;                                                         \
        T *ci = c + (i) * ldc;                                                                \
        if (acc) {                                                                            \
            x0 = ADD(LOADU(ci), x0);                                                          \
            x1 = ADD(LOADU(ci + VW), x1);                                                     \
        }                                                                                     \
        if (bias) {                                                                           \
            x0 = ADD(x0, LOADU(bias));                                                        \
            x1 = ADD(x1, LOADU(bias + VW));                                                   \
        }                                                                                     \
        if (relu) { /* max(0, x): NaN stays NaN, -0 stays -0, as in the epilogue in C */      \
            x0 = MAX(ZERO(), x0);                                                             \
            x1 = MAX(ZERO(), x1);                                                             \
        }                                                                                     \
        STOREU(ci, x0);                                                                       \
        STOREU(ci + VW, x1);                                                                  \
    } while (0)
#define FASTDL_GA_STORE(i) FASTDL_GA_STORE_N(i, i)
#define FASTDL_GB_STORE_N(nm, i)                                                                  \
    do {                                                                                      \
        V x0 = c##nm##0, x1 = c##nm##1;                                                         \
        if (acc) {                                                                            \
            x0 = ADD(LOADU(c + (i) * ldc), x0);                                               \
            x1 = ADD(LOADU(c + (i) * ldc + VW), x1);                                          \
        }                                                                                     \
        if (bias) {                                                                           \
            x0 = ADD(x0, SET1(bias[i]));                                                      \
            x1 = ADD(x1, SET1(bias[i]));                                                      \
        }                                                                                     \
        if (relu) {                                                                           \
            x0 = MAX(ZERO(), x0);                                                             \
            x1 = MAX(ZERO(), x1);                                                             \
        }                                                                                     \
        STOREU(c + (i) * ldc, x0);                                                            \
        STOREU(c + (i) * ldc + VW, x1);                                                       \
    } while (0)
#define FASTDL_GB_STORE(i) FASTDL_GB_STORE_N(i, i)
#define FASTDL_ZERO12                                                                         \
    V c00 = ZERO(), c01 = ZERO(), c10 = ZERO(), c11 = ZERO(), c20 = ZERO(), c21 = ZERO();    \
    V c30 = ZERO(), c31 = ZERO(), c40 = ZERO(), c41 = ZERO(), c50 = ZERO(), c51 = ZERO()

#define FASTDL_DEFINE_GATHER(SFX, TGT)                                                        \
    TGT static void fastdl_ukra_##SFX(int64_t kc, const T *const *ap, const int64_t *off,     \
                                      const T *b, T *c, int64_t ldc, int acc,                 \
                                      const T *bias, int relu)                                \
    {                                                                                         \
        const T *a0 = ap[0], *a1 = ap[1], *a2 = ap[2], *a3 = ap[3], *a4 = ap[4], *a5 = ap[5]; \
        FASTDL_ZERO12;                                                                        \
        for (int64_t k = 0; k < kc; k++) {                                                    \
            const int64_t o = off[k];                                                         \
            const V b0 = LOADU(b), b1 = LOADU(b + VW);                                        \
            b += 2 * VW;                                                                      \
            FASTDL_GA_ROW(0);                                                                 \
            FASTDL_GA_ROW(1);                                                                 \
            FASTDL_GA_ROW(2);                                                                 \
            FASTDL_GA_ROW(3);                                                                 \
            FASTDL_GA_ROW(4);                                                                 \
            FASTDL_GA_ROW(5);                                                                 \
        }                                                                                     \
        FASTDL_GA_STORE(0);                                                                   \
        FASTDL_GA_STORE(1);                                                                   \
        FASTDL_GA_STORE(2);                                                                   \
        FASTDL_GA_STORE(3);                                                                   \
        FASTDL_GA_STORE(4);                                                                   \
        FASTDL_GA_STORE(5);                                                                   \
    }                                                                                         \
    TGT static void fastdl_ukrb_##SFX(int64_t kc, const T *a, const T *b, const int64_t *off, \
                                      T *c, int64_t ldc, int acc, const T *bias, int relu)    \
    {                                                                                         \
        FASTDL_ZERO12;                                                                        \
        for (int64_t k = 0; k < kc; k++) {                                                    \
            const T *bk = b + off[k];                                                         \
            const V b0 = LOADU(bk), b1 = LOADU(bk + VW);                                      \
            FASTDL_GB_ROW(0);                                                                 \
            FASTDL_GB_ROW(1);                                                                 \
            FASTDL_GB_ROW(2);                                                                 \
            FASTDL_GB_ROW(3);                                                                 \
            FASTDL_GB_ROW(4);                                                                 \
            FASTDL_GB_ROW(5);                                                                 \
            a += FASTDL_CONV_MR;                                                              \
        }                                                                                     \
        FASTDL_GB_STORE(0);                                                                   \
        FASTDL_GB_STORE(1);                                                                   \
        FASTDL_GB_STORE(2);                                                                   \
        FASTDL_GB_STORE(3);                                                                   \
        FASTDL_GB_STORE(4);                                                                   \
        FASTDL_GB_STORE(5);                                                                   \
    }


#define FASTDL_DOT_ROW(i, LD)                                                                 \
    do {                                                                                      \
        const V d_ = LD(d##i + q);                                                            \
        a##i##0 = FMA(d_, s0, a##i##0);                                                       \
        a##i##1 = FMA(d_, s1, a##i##1);                                                       \
        a##i##2 = FMA(d_, s2, a##i##2);                                                       \
        a##i##3 = FMA(d_, s3, a##i##3);                                                       \
    } while (0)
#define FASTDL_DOT_STEP(LD)                                                                   \
    do {                                                                                      \
        const V s0 = LD(t0 + q), s1 = LD(t1 + q), s2 = LD(t2 + q), s3 = LD(t3 + q);           \
        FASTDL_DOT_ROW(0, LD);                                                                \
        FASTDL_DOT_ROW(1, LD);                                                                \
        FASTDL_DOT_ROW(2, LD);                                                                \
        FASTDL_DOT_ROW(3, LD);                                                                \
    } while (0)
#define FASTDL_DOT_OUT(i)                                                                     \
    do {                                                                                      \
        out[(i) * ldo + 0] += HSUM(a##i##0);                                                  \
        out[(i) * ldo + 1] += HSUM(a##i##1);                                                  \
        out[(i) * ldo + 2] += HSUM(a##i##2);                                                  \
        out[(i) * ldo + 3] += HSUM(a##i##3);                                                  \
    } while (0)
#define FASTDL_DEFINE_DOT(SFX, TGT)                                                           \
    TGT static void fastdl_ukrd_##SFX(int64_t rows, int64_t wo, const T *const *dr,           \
                                      int64_t ldd, const T *const *sr, int64_t lds, T *out,   \
                                      int64_t ldo)                                            \
    {                                                                                         \
        V a00 = ZERO(), a01 = ZERO(), a02 = ZERO(), a03 = ZERO();                             \
        V a10 = ZERO(), a11 = ZERO(), a12 = ZERO(), a13 = ZERO();                             \
        V a20 = ZERO(), a21 = ZERO(), a22 = ZERO(), a23 = ZERO();                             \
        V a30 = ZERO(), a31 = ZERO(), a32 = ZERO(), a33 = ZERO();                             \
        const int64_t full = wo / VW * VW;                                                    \
        const MASKT tail = MKTAIL(wo - full);                                                 \
        for (int64_t r = 0; r < rows; r++) {                                                  \
            const T *d0 = dr[0] + r * ldd, *d1 = dr[1] + r * ldd, *d2 = dr[2] + r * ldd;      \
            const T *d3 = dr[3] + r * ldd;                                                    \
            const T *t0 = sr[0] + r * lds, *t1 = sr[1] + r * lds, *t2 = sr[2] + r * lds;      \
            const T *t3 = sr[3] + r * lds;                                                    \
            int64_t q = 0;                                                                    \
            for (; q < full; q += VW)                                                         \
                FASTDL_DOT_STEP(LOADU);                                                       \
            if (q < wo)                                                                       \
                FASTDL_DOT_STEP(LOADT);                                                       \
        }                                                                                     \
        FASTDL_DOT_OUT(0);                                                                    \
        FASTDL_DOT_OUT(1);                                                                    \
        FASTDL_DOT_OUT(2);                                                                    \
        FASTDL_DOT_OUT(3);                                                                    \
    }

__attribute__((target("avx2,fma"))) static inline float fastdl_hsum256_ps(__m256 v)
{
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    a = _mm_add_ss(a, _mm_movehdup_ps(a));
    return _mm_cvtss_f32(a);
}
__attribute__((target("avx2,fma"))) static inline double fastdl_hsum256_pd(__m256d v)
{
    __m128d a = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    a = _mm_add_sd(a, _mm_unpackhi_pd(a, a));
    return _mm_cvtsd_f64(a);
}
__attribute__((target("avx512f"))) static inline float fastdl_hsum512_ps(__m512 v)
{
    const __m256 lo = _mm512_castps512_ps256(v);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    __m256 s = _mm256_add_ps(lo, hi);
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    a = _mm_add_ss(a, _mm_movehdup_ps(a));
    return _mm_cvtss_f32(a);
}
__attribute__((target("avx512f"))) static inline double fastdl_hsum512_pd(__m512d v)
{
    __m256d s = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1));
    __m128d a = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    a = _mm_add_sd(a, _mm_unpackhi_pd(a, a));
    return _mm_cvtsd_f64(a);
}

/* AVX-512 gather-A with 12 rows (24 accumulators of the 32 zmm registers): half the B
 * loads per FMA of the 6-row kernel, for the passes that stream B from L1 (NHWC forward and
 * input grad, weight grads). Same contract as fastdl_ukra_*, ap holding 12 pointers. */
#define FASTDL_ZERO24                                                                         \
    FASTDL_ZERO12;                                                                            \
    V c60 = ZERO(), c61 = ZERO(), c70 = ZERO(), c71 = ZERO(), c80 = ZERO(), c81 = ZERO();    \
    V c90 = ZERO(), c91 = ZERO(), cA0 = ZERO(), cA1 = ZERO(), cB0 = ZERO(), cB1 = ZERO()
#define FASTDL_DEFINE_GATHER12(SFX, TGT)                                                      \
    TGT static void fastdl_ukra12_##SFX(int64_t kc, const T *const *ap, const int64_t *off,   \
                                        const T *b, T *c, int64_t ldc, int acc,               \
                                        const T *bias, int relu)                              \
    {                                                                                         \
        const T *a0 = ap[0], *a1 = ap[1], *a2 = ap[2], *a3 = ap[3], *a4 = ap[4], *a5 = ap[5]; \
        const T *a6 = ap[6], *a7 = ap[7], *a8 = ap[8], *a9 = ap[9], *aA = ap[10];             \
        const T *aB = ap[11];                                                                 \
        FASTDL_ZERO24;                                                                        \
        for (int64_t k = 0; k < kc; k++) {                                                    \
            const int64_t o = off[k];                                                         \
            const V b0 = LOADU(b), b1 = LOADU(b + VW);                                        \
            b += 2 * VW;                                                                      \
            FASTDL_GA_ROW(0);                                                                 \
            FASTDL_GA_ROW(1);                                                                 \
            FASTDL_GA_ROW(2);                                                                 \
            FASTDL_GA_ROW(3);                                                                 \
            FASTDL_GA_ROW(4);                                                                 \
            FASTDL_GA_ROW(5);                                                                 \
            FASTDL_GA_ROW(6);                                                                 \
            FASTDL_GA_ROW(7);                                                                 \
            FASTDL_GA_ROW(8);                                                                 \
            FASTDL_GA_ROW(9);                                                                 \
            FASTDL_GA_ROW(A);                                                                 \
            FASTDL_GA_ROW(B);                                                                 \
        }                                                                                     \
        FASTDL_GA_STORE(0);                                                                   \
        FASTDL_GA_STORE(1);                                                                   \
        FASTDL_GA_STORE(2);                                                                   \
        FASTDL_GA_STORE(3);                                                                   \
        FASTDL_GA_STORE(4);                                                                   \
        FASTDL_GA_STORE(5);                                                                   \
        FASTDL_GA_STORE(6);                                                                   \
        FASTDL_GA_STORE(7);                                                                   \
        FASTDL_GA_STORE(8);                                                                   \
        FASTDL_GA_STORE(9);                                                                   \
        FASTDL_GA_STORE_N(A, 10);                                                             \
        FASTDL_GA_STORE_N(B, 11);                                                             \
    }

/* AVX-512 gather-B with 12 rows: two consecutive MR-row panels of A (a, a2 — the packing of
 * the 6-row kernel, so both kernels share the packed weights). */
#define FASTDL_GB2_ROW(nm, i)                                                                 \
    do {                                                                                      \
        const V t_ = SET1(a2[i]);                                                             \
        c##nm##0 = FMA(t_, b0, c##nm##0);                                                     \
        c##nm##1 = FMA(t_, b1, c##nm##1);                                                     \
    } while (0)
#define FASTDL_DEFINE_GATHERB12(SFX, TGT)                                                     \
    TGT static void fastdl_ukrb12_##SFX(int64_t kc, const T *a, const T *a2, const T *b,      \
                                        const int64_t *off, T *c, int64_t ldc, int acc,       \
                                        const T *bias, int relu)                              \
    {                                                                                         \
        FASTDL_ZERO24;                                                                        \
        for (int64_t k = 0; k < kc; k++) {                                                    \
            const T *bk = b + off[k];                                                         \
            const V b0 = LOADU(bk), b1 = LOADU(bk + VW);                                      \
            FASTDL_GB_ROW(0);                                                                 \
            FASTDL_GB_ROW(1);                                                                 \
            FASTDL_GB_ROW(2);                                                                 \
            FASTDL_GB_ROW(3);                                                                 \
            FASTDL_GB_ROW(4);                                                                 \
            FASTDL_GB_ROW(5);                                                                 \
            FASTDL_GB2_ROW(6, 0);                                                             \
            FASTDL_GB2_ROW(7, 1);                                                             \
            FASTDL_GB2_ROW(8, 2);                                                             \
            FASTDL_GB2_ROW(9, 3);                                                             \
            FASTDL_GB2_ROW(A, 4);                                                             \
            FASTDL_GB2_ROW(B, 5);                                                             \
            a += FASTDL_CONV_MR;                                                              \
            a2 += FASTDL_CONV_MR;                                                             \
        }                                                                                     \
        FASTDL_GB_STORE(0);                                                                   \
        FASTDL_GB_STORE(1);                                                                   \
        FASTDL_GB_STORE(2);                                                                   \
        FASTDL_GB_STORE(3);                                                                   \
        FASTDL_GB_STORE(4);                                                                   \
        FASTDL_GB_STORE(5);                                                                   \
        FASTDL_GB_STORE(6);                                                                   \
        FASTDL_GB_STORE(7);                                                                   \
        FASTDL_GB_STORE(8);                                                                   \
        FASTDL_GB_STORE(9);                                                                   \
        FASTDL_GB_STORE_N(A, 10);                                                             \
        FASTDL_GB_STORE_N(B, 11);                                                             \
    }
/* The packed kernel of the scatter input gradient: A and B both packed panels
 * (c[i][j] (=|+=) Σ_k a[k·MR + i] · b[k·NR + j]) — gather-B with consecutive B rows. */
#define FASTDL_DEFINE_PACKED(SFX, TGT)                                                        \
    TGT static void fastdl_ukr_##SFX(int64_t kc, const T *a, const T *b, T *c, int64_t ldc,   \
                                     int acc)                                                 \
    {                                                                                         \
        const T *bias = NULL;                                                                 \
        const int relu = 0;                                                                   \
        FASTDL_ZERO12;                                                                        \
        for (int64_t k = 0; k < kc; k++) {                                                    \
            const V b0 = LOADU(b), b1 = LOADU(b + VW);                                        \
            FASTDL_GB_ROW(0);                                                                 \
            FASTDL_GB_ROW(1);                                                                 \
            FASTDL_GB_ROW(2);                                                                 \
            FASTDL_GB_ROW(3);                                                                 \
            FASTDL_GB_ROW(4);                                                                 \
            FASTDL_GB_ROW(5);                                                                 \
            a += FASTDL_CONV_MR;                                                              \
            b += 2 * VW;                                                                      \
        }                                                                                     \
        FASTDL_GB_STORE(0);                                                                   \
        FASTDL_GB_STORE(1);                                                                   \
        FASTDL_GB_STORE(2);                                                                   \
        FASTDL_GB_STORE(3);                                                                   \
        FASTDL_GB_STORE(4);                                                                   \
        FASTDL_GB_STORE(5);                                                                   \
    }

#define FASTDL_LANES8 _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
/* The SIMD kernels, one instantiation per ISA and dtype (fastdl_conv_ukr_inst.h). */
#define T float
#define V __m512
#define VW 16
#define LOADU _mm512_loadu_ps
#define STOREU _mm512_storeu_ps
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define MAX _mm512_max_ps
#define ZERO _mm512_setzero_ps
#define HSUM fastdl_hsum512_ps
#define MASKT __mmask16
#define MKTAIL(n_) (__mmask16)((1u << (n_)) - 1u)
#define LOADT(p_) _mm512_maskz_loadu_ps(tail, p_)
#define FASTDL_UKR_SFX f32_avx512
#define FASTDL_UKR_TGT __attribute__((target("avx512f")))
#define FASTDL_UKR_WIDE 1
#include "fastdl_conv_ukr_inst.h"
#define T double
#define V __m512d
#define VW 8
#define LOADU _mm512_loadu_pd
#define STOREU _mm512_storeu_pd
#define SET1 _mm512_set1_pd
#define FMA _mm512_fmadd_pd
#define ADD _mm512_add_pd
#define MAX _mm512_max_pd
#define ZERO _mm512_setzero_pd
#define HSUM fastdl_hsum512_pd
#define MASKT __mmask8
#define MKTAIL(n_) (__mmask8)((1u << (n_)) - 1u)
#define LOADT(p_) _mm512_maskz_loadu_pd(tail, p_)
#define FASTDL_UKR_SFX f64_avx512
#define FASTDL_UKR_TGT __attribute__((target("avx512f")))
#define FASTDL_UKR_WIDE 1
#include "fastdl_conv_ukr_inst.h"
#define T float
#define V __m256
#define VW 8
#define LOADU _mm256_loadu_ps
#define STOREU _mm256_storeu_ps
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define MAX _mm256_max_ps
#define ZERO _mm256_setzero_ps
#define HSUM fastdl_hsum256_ps
#define MASKT __m256i
#define MKTAIL(n_) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n_)), FASTDL_LANES8)
#define LOADT(p_) _mm256_maskload_ps(p_, tail)
#define FASTDL_UKR_SFX f32_avx2
#define FASTDL_UKR_TGT __attribute__((target("avx2,fma")))
#define FASTDL_UKR_WIDE 0
#include "fastdl_conv_ukr_inst.h"
#define T double
#define V __m256d
#define VW 4
#define LOADU _mm256_loadu_pd
#define STOREU _mm256_storeu_pd
#define SET1 _mm256_set1_pd
#define FMA _mm256_fmadd_pd
#define ADD _mm256_add_pd
#define MAX _mm256_max_pd
#define ZERO _mm256_setzero_pd
#define HSUM fastdl_hsum256_pd
#define MASKT __m256i
#define MKTAIL(n_) _mm256_cmpgt_epi64(_mm256_set1_epi64x(n_), _mm256_setr_epi64x(0, 1, 2, 3))
#define LOADT(p_) _mm256_maskload_pd(p_, tail)
#define FASTDL_UKR_SFX f64_avx2
#define FASTDL_UKR_TGT __attribute__((target("avx2,fma")))
#define FASTDL_UKR_WIDE 0
#include "fastdl_conv_ukr_inst.h"
#else
#define FASTDL_CONV_HAVE_AVX2 0
#endif

/* Largest NR of any kernel (sizes of local edge tiles); largest gather-A row count. */
#define FASTDL_CONV_NR_MAX 32
#define FASTDL_CONV_MRA_MAX 12

static fastdl_ukr_f32 fastdl_conv_ukr_f32 = fastdl_ukr_f32_generic;
static fastdl_ukra_f32_t fastdl_conv_ukra_f32 = fastdl_ukra_f32_generic;
static fastdl_ukra_f64_t fastdl_conv_ukra_f64 = fastdl_ukra_f64_generic;
static fastdl_ukrb_f32_t fastdl_conv_ukrb_f32 = fastdl_ukrb_f32_generic;
static fastdl_ukrb_f64_t fastdl_conv_ukrb_f64 = fastdl_ukrb_f64_generic;
static fastdl_ukrd_f32_t fastdl_conv_ukrd_f32 = fastdl_ukrd_f32_generic;
static fastdl_ukrd_f64_t fastdl_conv_ukrd_f64 = fastdl_ukrd_f64_generic;
static fastdl_ukr_f64 fastdl_conv_ukr_f64 = fastdl_ukr_f64_generic;
/* Panel widths of the selected kernels (B panels are packed to these). */
static int64_t fastdl_conv_nr_f32 = FASTDL_CONV_NR_F32;
static int64_t fastdl_conv_nr_f64 = FASTDL_CONV_NR_F64;
/* Rows of the selected gather-A kernels (12 with AVX-512, else MR). */
static int64_t fastdl_conv_mra = FASTDL_CONV_MR;
/* 12-row gather-B kernels (AVX-512 only; NULL: use the MR-row ones). */
typedef void (*fastdl_ukrb12_f32_t)(int64_t, const float *, const float *, const float *,
                                    const int64_t *, float *, int64_t, int, const float *, int);
typedef void (*fastdl_ukrb12_f64_t)(int64_t, const double *, const double *, const double *,
                                    const int64_t *, double *, int64_t, int, const double *, int);
static fastdl_ukrb12_f32_t fastdl_conv_ukrb12_f32 = 0;
static fastdl_ukrb12_f64_t fastdl_conv_ukrb12_f64 = 0;

/* Pick the micro-kernels for this CPU (called once at import, and by tests). level: the
 * highest ISA allowed (0 portable C, 1 AVX2+FMA, 2 AVX-512F). Returns the level chosen. */
static int fastdl_conv_select_kernels(int level)
{
    fastdl_conv_ukr_f32 = fastdl_ukr_f32_generic;
    fastdl_conv_ukr_f64 = fastdl_ukr_f64_generic;
    fastdl_conv_nr_f32 = FASTDL_CONV_NR_F32;
    fastdl_conv_nr_f64 = FASTDL_CONV_NR_F64;
    fastdl_conv_ukra_f32 = fastdl_ukra_f32_generic;
    fastdl_conv_ukra_f64 = fastdl_ukra_f64_generic;
    fastdl_conv_mra = FASTDL_CONV_MR;
    fastdl_conv_ukrb12_f32 = 0;
    fastdl_conv_ukrb12_f64 = 0;
    fastdl_conv_ukrb_f32 = fastdl_ukrb_f32_generic;
    fastdl_conv_ukrb_f64 = fastdl_ukrb_f64_generic;
    fastdl_conv_ukrd_f32 = fastdl_ukrd_f32_generic;
    fastdl_conv_ukrd_f64 = fastdl_ukrd_f64_generic;
#if FASTDL_CONV_HAVE_AVX2
    if (level >= 2 && fastdl_cpu_has_avx512f()) {
        fastdl_conv_ukr_f32 = fastdl_ukr_f32_avx512;
        fastdl_conv_ukr_f64 = fastdl_ukr_f64_avx512;
        fastdl_conv_nr_f32 = 32;
        fastdl_conv_nr_f64 = 16;
        fastdl_conv_ukra_f32 = fastdl_ukra12_f32_avx512;
        fastdl_conv_ukra_f64 = fastdl_ukra12_f64_avx512;
        fastdl_conv_mra = 12;
        fastdl_conv_ukrb12_f32 = fastdl_ukrb12_f32_avx512;
        fastdl_conv_ukrb12_f64 = fastdl_ukrb12_f64_avx512;
        fastdl_conv_ukrb_f32 = fastdl_ukrb_f32_avx512;
        fastdl_conv_ukrb_f64 = fastdl_ukrb_f64_avx512;
        fastdl_conv_ukrd_f32 = fastdl_ukrd_f32_avx512;
        fastdl_conv_ukrd_f64 = fastdl_ukrd_f64_avx512;
        return 2;
    }
    if (level >= 1 && fastdl_cpu_has_avx2() && fastdl_cpu_has_fma()) {
        fastdl_conv_ukr_f32 = fastdl_ukr_f32_avx2;
        fastdl_conv_ukr_f64 = fastdl_ukr_f64_avx2;
        fastdl_conv_ukra_f32 = fastdl_ukra_f32_avx2;
        fastdl_conv_ukra_f64 = fastdl_ukra_f64_avx2;
        fastdl_conv_ukrb_f32 = fastdl_ukrb_f32_avx2;
        fastdl_conv_ukrb_f64 = fastdl_ukrb_f64_avx2;
        fastdl_conv_ukrd_f32 = fastdl_ukrd_f32_avx2;
        fastdl_conv_ukrd_f64 = fastdl_ukrd_f64_avx2;
        return 1;
    }
#endif
    (void)level;
    return 0;
}

#endif /* FASTDL_CONV_UKR_H */
