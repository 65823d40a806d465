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

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(FASTDL_NO_AVX2)
#define FASTDL_CONV_HAVE_AVX2 1
#include <immintrin.h>

#define FASTDL_UKR_ROW_F32(i)                                                                 \
    do {                                                                                      \
        const __m256 ai = _mm256_broadcast_ss(a + (i));                                       \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                                           \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                                           \
    } while (0)

#define FASTDL_UKR_STORE_F32(i)                                                               \
    do {                                                                                      \
        float *ci = c + (i) * ldc;                                                            \
        if (acc) {                                                                            \
            c##i##0 = _mm256_add_ps(_mm256_loadu_ps(ci), c##i##0);                            \
            c##i##1 = _mm256_add_ps(_mm256_loadu_ps(ci + 8), c##i##1);                        \
        }                                                                                     \
        _mm256_storeu_ps(ci, c##i##0);                                                        \
        _mm256_storeu_ps(ci + 8, c##i##1);                                                    \
    } while (0)

__attribute__((target("avx2,fma")))
static void fastdl_ukr_f32_avx2(int64_t kc, const float *a, const float *b, float *c,
                                int64_t ldc, int acc)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        FASTDL_UKR_ROW_F32(0);
        FASTDL_UKR_ROW_F32(1);
        FASTDL_UKR_ROW_F32(2);
        FASTDL_UKR_ROW_F32(3);
        FASTDL_UKR_ROW_F32(4);
        FASTDL_UKR_ROW_F32(5);
        a += FASTDL_CONV_MR;
        b += FASTDL_CONV_NR_F32;
    }
    FASTDL_UKR_STORE_F32(0);
    FASTDL_UKR_STORE_F32(1);
    FASTDL_UKR_STORE_F32(2);
    FASTDL_UKR_STORE_F32(3);
    FASTDL_UKR_STORE_F32(4);
    FASTDL_UKR_STORE_F32(5);
}

#define FASTDL_UKR_ROW_F64(i)                                                                 \
    do {                                                                                      \
        const __m256d ai = _mm256_broadcast_sd(a + (i));                                      \
        c##i##0 = _mm256_fmadd_pd(ai, b0, c##i##0);                                           \
        c##i##1 = _mm256_fmadd_pd(ai, b1, c##i##1);                                           \
    } while (0)

#define FASTDL_UKR_STORE_F64(i)                                                               \
    do {                                                                                      \
        double *ci = c + (i) * ldc;                                                           \
        if (acc) {                                                                            \
            c##i##0 = _mm256_add_pd(_mm256_loadu_pd(ci), c##i##0);                            \
            c##i##1 = _mm256_add_pd(_mm256_loadu_pd(ci + 4), c##i##1);                        \
        }                                                                                     \
        _mm256_storeu_pd(ci, c##i##0);                                                        \
        _mm256_storeu_pd(ci + 4, c##i##1);                                                    \
    } while (0)

__attribute__((target("avx2,fma")))
static void fastdl_ukr_f64_avx2(int64_t kc, const double *a, const double *b, double *c,
                                int64_t ldc, int acc)
{
    __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
    __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
    __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
    __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
    __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
    __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
    for (int64_t k = 0; k < kc; k++) {
        const __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
        FASTDL_UKR_ROW_F64(0);
        FASTDL_UKR_ROW_F64(1);
        FASTDL_UKR_ROW_F64(2);
        FASTDL_UKR_ROW_F64(3);
        FASTDL_UKR_ROW_F64(4);
        FASTDL_UKR_ROW_F64(5);
        a += FASTDL_CONV_MR;
        b += FASTDL_CONV_NR_F64;
    }
    FASTDL_UKR_STORE_F64(0);
    FASTDL_UKR_STORE_F64(1);
    FASTDL_UKR_STORE_F64(2);
    FASTDL_UKR_STORE_F64(3);
    FASTDL_UKR_STORE_F64(4);
    FASTDL_UKR_STORE_F64(5);
}

/* AVX-512F: the same 6-row kernels on two 512-bit vectors (NR = 32 floats / 16 doubles). */
#define FASTDL_UKR512(i, SFX, SET1, FMA)                                                     \
    do {                                                                                      \
        const SFX ai = SET1(a[i]);                                                            \
        c##i##0 = FMA(ai, b0, c##i##0);                                                       \
        c##i##1 = FMA(ai, b1, c##i##1);                                                       \
    } while (0)
#define FASTDL_UKR512_STORE(i, W, LOADU, STOREU, ADD)                                         \
    do {                                                                                      \
        if (acc) {                                                                            \
            c##i##0 = ADD(LOADU(c + (i) * ldc), c##i##0);                                     \
            c##i##1 = ADD(LOADU(c + (i) * ldc + (W)), c##i##1);                               \
        }                                                                                     \
        STOREU(c + (i) * ldc, c##i##0);                                                       \
        STOREU(c + (i) * ldc + (W), c##i##1);                                                 \
    } while (0)

__attribute__((target("avx512f")))
static void fastdl_ukr_f32_avx512(int64_t kc, const float *a, const float *b, float *c,
                                  int64_t ldc, int acc)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
    __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
    __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        FASTDL_UKR512(0, __m512, _mm512_set1_ps, _mm512_fmadd_ps);
        FASTDL_UKR512(1, __m512, _mm512_set1_ps, _mm512_fmadd_ps);
        FASTDL_UKR512(2, __m512, _mm512_set1_ps, _mm512_fmadd_ps);
        FASTDL_UKR512(3, __m512, _mm512_set1_ps, _mm512_fmadd_ps);
        FASTDL_UKR512(4, __m512, _mm512_set1_ps, _mm512_fmadd_ps);
        FASTDL_UKR512(5, __m512, _mm512_set1_ps, _mm512_fmadd_ps);
        a += FASTDL_CONV_MR;
        b += 32;
    }
    FASTDL_UKR512_STORE(0, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps);
    FASTDL_UKR512_STORE(1, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps);
    FASTDL_UKR512_STORE(2, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps);
    FASTDL_UKR512_STORE(3, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps);
    FASTDL_UKR512_STORE(4, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps);
    FASTDL_UKR512_STORE(5, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps);
}

__attribute__((target("avx512f")))
static void fastdl_ukr_f64_avx512(int64_t kc, const double *a, const double *b, double *c,
                                  int64_t ldc, int acc)
{
    __m512d c00 = _mm512_setzero_pd(), c01 = _mm512_setzero_pd();
    __m512d c10 = _mm512_setzero_pd(), c11 = _mm512_setzero_pd();
    __m512d c20 = _mm512_setzero_pd(), c21 = _mm512_setzero_pd();
    __m512d c30 = _mm512_setzero_pd(), c31 = _mm512_setzero_pd();
    __m512d c40 = _mm512_setzero_pd(), c41 = _mm512_setzero_pd();
    __m512d c50 = _mm512_setzero_pd(), c51 = _mm512_setzero_pd();
    for (int64_t k = 0; k < kc; k++) {
        const __m512d b0 = _mm512_loadu_pd(b), b1 = _mm512_loadu_pd(b + 8);
        FASTDL_UKR512(0, __m512d, _mm512_set1_pd, _mm512_fmadd_pd);
        FASTDL_UKR512(1, __m512d, _mm512_set1_pd, _mm512_fmadd_pd);
        FASTDL_UKR512(2, __m512d, _mm512_set1_pd, _mm512_fmadd_pd);
        FASTDL_UKR512(3, __m512d, _mm512_set1_pd, _mm512_fmadd_pd);
        FASTDL_UKR512(4, __m512d, _mm512_set1_pd, _mm512_fmadd_pd);
        FASTDL_UKR512(5, __m512d, _mm512_set1_pd, _mm512_fmadd_pd);
        a += FASTDL_CONV_MR;
        b += 16;
    }
    FASTDL_UKR512_STORE(0, 8, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_add_pd);
    FASTDL_UKR512_STORE(1, 8, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_add_pd);
    FASTDL_UKR512_STORE(2, 8, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_add_pd);
    FASTDL_UKR512_STORE(3, 8, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_add_pd);
    FASTDL_UKR512_STORE(4, 8, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_add_pd);
    FASTDL_UKR512_STORE(5, 8, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_add_pd);
}
#else
#define FASTDL_CONV_HAVE_AVX2 0
#endif

/* Largest NR of any kernel (sizes of local edge tiles). */
#define FASTDL_CONV_NR_MAX 32

static fastdl_ukr_f32 fastdl_conv_ukr_f32 = fastdl_ukr_f32_generic;
static fastdl_ukr_f64 fastdl_conv_ukr_f64 = fastdl_ukr_f64_generic;
/* Panel widths of the selected kernels (B panels are packed to these). */
static int64_t fastdl_conv_nr_f32 = FASTDL_CONV_NR_F32;
static int64_t fastdl_conv_nr_f64 = FASTDL_CONV_NR_F64;

/* Pick the micro-kernels for this CPU (called once at import, and by tests). level: the
 * highest ISA allowed (0 portable C, 1 AVX2+FMA, 2 AVX-512F). Returns the level chosen. */
static int fastdl_conv_select_kernels(int level)
{
    fastdl_conv_ukr_f32 = fastdl_ukr_f32_generic;
    fastdl_conv_ukr_f64 = fastdl_ukr_f64_generic;
    fastdl_conv_nr_f32 = FASTDL_CONV_NR_F32;
    fastdl_conv_nr_f64 = FASTDL_CONV_NR_F64;
#if FASTDL_CONV_HAVE_AVX2
    if (level >= 2 && fastdl_cpu_has_avx512f()) {
        fastdl_conv_ukr_f32 = fastdl_ukr_f32_avx512;
        fastdl_conv_ukr_f64 = fastdl_ukr_f64_avx512;
        fastdl_conv_nr_f32 = 32;
        fastdl_conv_nr_f64 = 16;
        return 2;
    }
    if (level >= 1 && fastdl_cpu_has_avx2() && fastdl_cpu_has_fma()) {
        fastdl_conv_ukr_f32 = fastdl_ukr_f32_avx2;
        fastdl_conv_ukr_f64 = fastdl_ukr_f64_avx2;
        return 1;
    }
#endif
    (void)level;
    return 0;
}

#endif /* FASTDL_CONV_UKR_H */
