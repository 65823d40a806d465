/* Inverted dropout kernels: fused mask generation + scaling (forward), one-pass backward.
 *
 * Forward, element i (its logical C-order index, the generator's counter):
 *     keep    = bits32(key, i) < threshold        (fastdl_random.h: SplitMix64 at a counter)
 *     mask[i] = keep
 *     y[i]    = (x[i] * keep) * scale             (scale = (T)(1 / keep_prob))
 * exactly as the reference computes it, so a dropped inf/NaN gives NaN and a dropped -x gives
 * -0. Backward: dx[i] = (dy[i] * (T)mask[i]) * scale. Each element is independent of every
 * other: results never depend on chunking or threads.
 *
 * The forward is one pass over memory: x read, y and the uint8 mask written (9 bytes per
 * float32 element). SplitMix64 needs two 64x64-bit multiplies per element; with AVX-512DQ
 * they are vpmullq, with AVX2 each is three 32x32 vpmuludq, and only the high 32 bits of the
 * final product are formed. The SIMD paths are chosen at run time (no -march=native); the
 * scalar loop is the portable fallback and the tail.
 */
#ifndef FASTDL_DROPOUT_H
#define FASTDL_DROPOUT_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "fastdl_random.h"
#include "fastdl_simd.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(FASTDL_NO_CLONES)
#define FASTDL_DROPOUT_X86 1
#include <immintrin.h>
#define FASTDL_T_AVX2 __attribute__((target("avx2")))
#define FASTDL_T_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))
#else
#define FASTDL_DROPOUT_X86 0
#endif

/* ---- scalar (portable fallback and tails) ------------------------------------------------- */

#define FASTDL_DEFINE_DROPOUT_SCALAR(T, SUFFIX)                                               \
static void fastdl_dropout_scalar_##SUFFIX(const T *x, ptrdiff_t sx, T *y, ptrdiff_t sy,      \
        uint8_t *mask, uint64_t counter, ptrdiff_t n, uint64_t key, uint64_t threshold,       \
        T scale)                                                                              \
{                                                                                             \
    uint64_t z = fastdl_random_state(key, counter);                                           \
    for (ptrdiff_t i = 0; i < n; i++, z += FASTDL_GOLDEN) {                                   \
        const uint8_t keep = (fastdl_mix64(z) >> 32) < threshold;                             \
        mask[i] = keep;                                                                       \
        y[i * sy] = (x[i * sx] * (T)keep) * scale;                                            \
    }                                                                                         \
}

FASTDL_DEFINE_DROPOUT_SCALAR(float, f32)
FASTDL_DEFINE_DROPOUT_SCALAR(double, f64)

/* Scalar prologue of a SIMD forward that streams y: with *stream set, the elements before y is
 * `align`-byte aligned (clears *stream when y can never be aligned). Returns how many. */
#define FASTDL_DEFINE_DROPOUT_HEAD(T, SUFFIX)                                                 \
static inline ptrdiff_t fastdl_dropout_head_##SUFFIX(const T *x, T *y, uint8_t *mask,         \
        uint64_t counter, ptrdiff_t n, uint64_t key, uint64_t threshold, T scale, int *stream, \
        uintptr_t align)                                                                      \
{                                                                                             \
    if (!*stream) return 0;                                                                   \
    if ((uintptr_t)y % sizeof(T)) {                                                           \
        *stream = 0;                                                                          \
        return 0;                                                                             \
    }                                                                                         \
    const uintptr_t gap = (align - ((uintptr_t)y & (align - 1))) & (align - 1);             \
    ptrdiff_t h = (ptrdiff_t)(gap / sizeof(T));                                               \
    if (h > n) h = n;                                                                         \
    fastdl_dropout_scalar_##SUFFIX(x, 1, y, 1, mask, counter, h, key, threshold, scale);      \
    return h;                                                                                 \
}

FASTDL_DEFINE_DROPOUT_HEAD(float, f32)
FASTDL_DEFINE_DROPOUT_HEAD(double, f64)

#if FASTDL_DROPOUT_X86
/* ---- AVX-512 (F, DQ, BW, VL) --------------------------------------------------------------- */

/* Keep-bits of the 8 states z (lanes = consecutive counters). */
FASTDL_T_AVX512 static inline __mmask8 fastdl_keep8_avx512(__m512i z, __m512i threshold)
{
    z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 30));
    z = _mm512_mullo_epi64(z, _mm512_set1_epi64((long long)FASTDL_MIX_M1));
    z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 27));
    z = _mm512_mullo_epi64(z, _mm512_set1_epi64((long long)FASTDL_MIX_M2));
    /* (z ^ (z >> 31)) >> 32 == (z >> 32) ^ (z >> 63) */
    const __m512i bits32 = _mm512_xor_si512(_mm512_srli_epi64(z, 32), _mm512_srli_epi64(z, 63));
    return _mm512_cmplt_epu64_mask(bits32, threshold);
}

/* States key + (counter + 1 + j) * golden for j = 0..7. */
FASTDL_T_AVX512 static inline __m512i fastdl_states8_avx512(uint64_t key, uint64_t counter)
{
    const uint64_t z = fastdl_random_state(key, counter), g = FASTDL_GOLDEN;
    return _mm512_setr_epi64((long long)z, (long long)(z + g), (long long)(z + 2 * g),
                             (long long)(z + 3 * g), (long long)(z + 4 * g),
                             (long long)(z + 5 * g), (long long)(z + 6 * g),
                             (long long)(z + 7 * g));
}

FASTDL_T_AVX512 static void fastdl_dropout_avx512_f32(const float *x, float *y, uint8_t *mask,
        uint64_t counter, ptrdiff_t n, uint64_t key, uint64_t threshold, float scale, int stream)
{
    const __m512i step = _mm512_set1_epi64((long long)(8 * FASTDL_GOLDEN));
    const __m512i thr = _mm512_set1_epi64((long long)threshold);
    const __m512 sc = _mm512_set1_ps(scale), zero = _mm512_setzero_ps();
    const __m512i one8 = _mm512_set1_epi8(1);
    const ptrdiff_t h = fastdl_dropout_head_f32(x, y, mask, counter, n, key, threshold, scale,
                                                &stream, 64);
    x += h, y += h, mask += h, counter += (uint64_t)h, n -= h;
    const int stream_mask = stream && ((uintptr_t)mask & 63) == 0;
    __m512i z = fastdl_states8_avx512(key, counter);
    ptrdiff_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __mmask64 keep64 = 0;
        for (int q = 0; q < 4; q++) {
            const __mmask8 k0 = fastdl_keep8_avx512(z, thr);
            z = _mm512_add_epi64(z, step);
            const __mmask8 k1 = fastdl_keep8_avx512(z, thr);
            z = _mm512_add_epi64(z, step);
            const __mmask16 k = _mm512_kunpackb(k1, k0);
            const __m512 v = _mm512_loadu_ps(x + i + 16 * q);
            /* kept: v * scale (== (v * 1) * scale); dropped: (v * 0) * scale == v * 0 */
            const __m512 out = _mm512_mask_mul_ps(_mm512_mul_ps(v, zero), k, v, sc);
            if (stream)
                _mm512_stream_ps(y + i + 16 * q, out);
            else
                _mm512_storeu_ps(y + i + 16 * q, out);
            keep64 |= (__mmask64)k << (16 * q);
        }
        const __m512i bytes = _mm512_maskz_mov_epi8(keep64, one8);
        if (stream_mask)
            _mm512_stream_si512((void *)(mask + i), bytes);
        else
            _mm512_storeu_si512((void *)(mask + i), bytes);
    }
    fastdl_dropout_scalar_f32(x + i, 1, y + i, 1, mask + i, counter + (uint64_t)i, n - i, key,
                              threshold, scale);
    if (stream) _mm_sfence();
}

FASTDL_T_AVX512 static void fastdl_dropout_avx512_f64(const double *x, double *y, uint8_t *mask,
        uint64_t counter, ptrdiff_t n, uint64_t key, uint64_t threshold, double scale, int stream)
{
    const __m512i step = _mm512_set1_epi64((long long)(8 * FASTDL_GOLDEN));
    const __m512i thr = _mm512_set1_epi64((long long)threshold);
    const __m512d sc = _mm512_set1_pd(scale), zero = _mm512_setzero_pd();
    const __m512i one8 = _mm512_set1_epi8(1);
    const ptrdiff_t h = fastdl_dropout_head_f64(x, y, mask, counter, n, key, threshold, scale,
                                                &stream, 64);
    x += h, y += h, mask += h, counter += (uint64_t)h, n -= h;
    const int stream_mask = stream && ((uintptr_t)mask & 63) == 0;
    __m512i z = fastdl_states8_avx512(key, counter);
    ptrdiff_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __mmask64 keep64 = 0;
        for (int q = 0; q < 8; q++) {
            const __mmask8 k = fastdl_keep8_avx512(z, thr);
            z = _mm512_add_epi64(z, step);
            const __m512d v = _mm512_loadu_pd(x + i + 8 * q);
            const __m512d out = _mm512_mask_mul_pd(_mm512_mul_pd(v, zero), k, v, sc);
            if (stream)
                _mm512_stream_pd(y + i + 8 * q, out);
            else
                _mm512_storeu_pd(y + i + 8 * q, out);
            keep64 |= (__mmask64)k << (8 * q);
        }
        const __m512i bytes = _mm512_maskz_mov_epi8(keep64, one8);
        if (stream_mask)
            _mm512_stream_si512((void *)(mask + i), bytes);
        else
            _mm512_storeu_si512((void *)(mask + i), bytes);
    }
    fastdl_dropout_scalar_f64(x + i, 1, y + i, 1, mask + i, counter + (uint64_t)i, n - i, key,
                              threshold, scale);
    if (stream) _mm_sfence();
}

/* ---- AVX2 ---------------------------------------------------------------------------------- */

/* a * b (mod 2**64) for a constant b given as its 32-bit halves (broadcast in 64-bit lanes). */
FASTDL_T_AVX2 static inline __m256i fastdl_mul64_avx2(__m256i a, __m256i b_lo, __m256i b_hi)
{
    const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b_lo),
                                           _mm256_mul_epu32(a, b_hi));
    return _mm256_add_epi64(_mm256_mul_epu32(a, b_lo), _mm256_slli_epi64(cross, 32));
}

/* High 32 bits of z * M2 after SplitMix64's first two steps, in each lane's low dword (the
 * high dword is garbage): only the high half of the last product is needed. */
FASTDL_T_AVX2 static inline __m256i fastdl_mix_hi32_avx2(__m256i z)
{
    const __m256i m1_lo = _mm256_set1_epi64x((long long)(FASTDL_MIX_M1 & 0xffffffffu));
    const __m256i m1_hi = _mm256_set1_epi64x((long long)(FASTDL_MIX_M1 >> 32));
    const __m256i m2_lo = _mm256_set1_epi64x((long long)(FASTDL_MIX_M2 & 0xffffffffu));
    const __m256i m2_hi = _mm256_set1_epi64x((long long)(FASTDL_MIX_M2 >> 32));
    z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 30));
    z = fastdl_mul64_avx2(z, m1_lo, m1_hi);
    z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 27));
    /* hi32(z * M2) = hi32(lo(z) * lo(M2)) + lo32(hi(z) * lo(M2)) + lo32(lo(z) * hi(M2)) */
    const __m256i carry = _mm256_srli_epi64(_mm256_mul_epu32(z, m2_lo), 32);
    const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(z, 32), m2_lo),
                                           _mm256_mul_epu32(z, m2_hi));
    return _mm256_add_epi64(carry, cross);
}

/* Keep-masks (-1 / 0 per dword, in counter order) of the 8 states z0 (lanes 0-3), z1 (4-7). */
FASTDL_T_AVX2 static inline __m256i fastdl_keep8_avx2(__m256i z0, __m256i z1, __m256i thr_biased)
{
    const __m256 packed = _mm256_shuffle_ps(_mm256_castsi256_ps(fastdl_mix_hi32_avx2(z0)),
                                            _mm256_castsi256_ps(fastdl_mix_hi32_avx2(z1)),
                                            _MM_SHUFFLE(2, 0, 2, 0));      /* 0 1 4 5 2 3 6 7 */
    const __m256i h = _mm256_permute4x64_epi64(_mm256_castps_si256(packed),
                                               _MM_SHUFFLE(3, 1, 2, 0));
    const __m256i bits32 = _mm256_xor_si256(h, _mm256_srli_epi32(h, 31));
    /* unsigned bits32 < threshold, as a signed compare of both biased by 2**31 */
    const __m256i bias = _mm256_set1_epi32((int)0x80000000u);
    return _mm256_cmpgt_epi32(thr_biased, _mm256_xor_si256(bits32, bias));
}

/* Keep-masks of 32 consecutive counters (4 x 8 dwords); advances the states by 32. */
FASTDL_T_AVX2 static inline void fastdl_keep32_avx2(__m256i *z, __m256i thr_biased, __m256i k[4])
{
    const __m256i step4 = _mm256_set1_epi64x((long long)(4 * FASTDL_GOLDEN));
    const __m256i step8 = _mm256_set1_epi64x((long long)(8 * FASTDL_GOLDEN));
    for (int q = 0; q < 4; q++) {
        k[q] = fastdl_keep8_avx2(*z, _mm256_add_epi64(*z, step4), thr_biased);
        *z = _mm256_add_epi64(*z, step8);
    }
}

/* 32 mask bytes (0/1) from 4 x 8 dword masks. */
FASTDL_T_AVX2 static inline void fastdl_store_mask32_avx2(uint8_t *mask, const __m256i k[4],
                                                         int stream)
{
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(k[0], k[1]), _mm256_packs_epi32(k[2], k[3]));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    p = _mm256_and_si256(p, _mm256_set1_epi8(1));
    if (stream)
        _mm256_stream_si256((__m256i *)mask, p);
    else
        _mm256_storeu_si256((__m256i *)mask, p);
}

FASTDL_T_AVX2 static inline __m256i fastdl_states4_avx2(uint64_t key, uint64_t counter)
{
    const uint64_t z = fastdl_random_state(key, counter), g = FASTDL_GOLDEN;
    return _mm256_setr_epi64x((long long)z, (long long)(z + g), (long long)(z + 2 * g),
                              (long long)(z + 3 * g));
}

FASTDL_T_AVX2 static void fastdl_dropout_avx2_f32(const float *x, float *y, uint8_t *mask,
        uint64_t counter, ptrdiff_t n, uint64_t key, uint64_t threshold, float scale, int stream)
{
    const __m256i thr = _mm256_set1_epi32((int)((uint32_t)threshold ^ 0x80000000u));
    const __m256 one = _mm256_set1_ps(1.0f), sc = _mm256_set1_ps(scale);
    const ptrdiff_t h = fastdl_dropout_head_f32(x, y, mask, counter, n, key, threshold, scale,
                                                &stream, 32);
    x += h, y += h, mask += h, counter += (uint64_t)h, n -= h;
    const int stream_mask = stream && ((uintptr_t)mask & 31) == 0;
    __m256i z = fastdl_states4_avx2(key, counter);
    ptrdiff_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i k[4];
        fastdl_keep32_avx2(&z, thr, k);
        for (int q = 0; q < 4; q++) {
            const __m256 keep = _mm256_and_ps(_mm256_castsi256_ps(k[q]), one);  /* 1 or 0 */
            const __m256 v = _mm256_loadu_ps(x + i + 8 * q);
            const __m256 out = _mm256_mul_ps(_mm256_mul_ps(v, keep), sc);
            if (stream)
                _mm256_stream_ps(y + i + 8 * q, out);
            else
                _mm256_storeu_ps(y + i + 8 * q, out);
        }
        fastdl_store_mask32_avx2(mask + i, k, stream_mask);
    }
    fastdl_dropout_scalar_f32(x + i, 1, y + i, 1, mask + i, counter + (uint64_t)i, n - i, key,
                              threshold, scale);
    if (stream) _mm_sfence();
}

FASTDL_T_AVX2 static void fastdl_dropout_avx2_f64(const double *x, double *y, uint8_t *mask,
        uint64_t counter, ptrdiff_t n, uint64_t key, uint64_t threshold, double scale, int stream)
{
    const __m256i thr = _mm256_set1_epi32((int)((uint32_t)threshold ^ 0x80000000u));
    const __m256d one = _mm256_set1_pd(1.0), sc = _mm256_set1_pd(scale);
    const ptrdiff_t h = fastdl_dropout_head_f64(x, y, mask, counter, n, key, threshold, scale,
                                                &stream, 32);
    x += h, y += h, mask += h, counter += (uint64_t)h, n -= h;
    const int stream_mask = stream && ((uintptr_t)mask & 31) == 0;
    __m256i z = fastdl_states4_avx2(key, counter);
    ptrdiff_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i k[4];
        fastdl_keep32_avx2(&z, thr, k);
        for (int q = 0; q < 4; q++) {
            const __m256i halves[2] = {_mm256_cvtepi32_epi64(_mm256_castsi256_si128(k[q])),
                                       _mm256_cvtepi32_epi64(_mm256_extracti128_si256(k[q], 1))};
            for (int half = 0; half < 2; half++) {
                const __m256d keep = _mm256_and_pd(_mm256_castsi256_pd(halves[half]), one);
                const __m256d v = _mm256_loadu_pd(x + i + 8 * q + 4 * half);
                const __m256d out = _mm256_mul_pd(_mm256_mul_pd(v, keep), sc);
                if (stream)
                    _mm256_stream_pd(y + i + 8 * q + 4 * half, out);
                else
                    _mm256_storeu_pd(y + i + 8 * q + 4 * half, out);
            }
        }
        fastdl_store_mask32_avx2(mask + i, k, stream_mask);
    }
    fastdl_dropout_scalar_f64(x + i, 1, y + i, 1, mask + i, counter + (uint64_t)i, n - i, key,
                              threshold, scale);
    if (stream) _mm_sfence();
}
#endif /* FASTDL_DROPOUT_X86 */

/* ---- dispatch ------------------------------------------------------------------------------ */

/* Best instruction set for the dropout forward on this CPU: 2 AVX-512, 1 AVX2, 0 scalar.
 * Computed once by the caller (the entry point) and passed down. */
static inline int fastdl_dropout_isa(void)
{
#if FASTDL_DROPOUT_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return 2;
    if (__builtin_cpu_supports("avx2"))
        return 1;
#endif
    return 0;
}

/* Forward over n elements; x and y are strided (sx, sy in elements); the mask is contiguous;
 * the first element has generator counter ``counter``. threshold < 2**32 (keep_prob < 1). */
#define FASTDL_DEFINE_DROPOUT(T, SUFFIX)                                                      \
static inline void fastdl_dropout_##SUFFIX(int isa, const T *x, ptrdiff_t sx, T *y,          \
        ptrdiff_t sy, uint8_t *mask, uint64_t counter, ptrdiff_t n, uint64_t key,             \
        uint64_t threshold, T scale, int stream)                                              \
{                                                                                             \
    if (sx == 1 && sy == 1) {                                                                 \
        FASTDL_DROPOUT_DISPATCH(SUFFIX)                                                       \
    }                                                                                         \
    fastdl_dropout_scalar_##SUFFIX(x, sx, y, sy, mask, counter, n, key, threshold, scale);    \
}

#if FASTDL_DROPOUT_X86
#define FASTDL_DROPOUT_DISPATCH(SUFFIX)                                                       \
        if (isa == 2) {                                                                       \
            fastdl_dropout_avx512_##SUFFIX(x, y, mask, counter, n, key, threshold, scale,     \
                                           stream);                                           \
            return;                                                                           \
        }                                                                                     \
        if (isa == 1) {                                                                       \
            fastdl_dropout_avx2_##SUFFIX(x, y, mask, counter, n, key, threshold, scale,       \
                                         stream);                                             \
            return;                                                                           \
        }
#else
#define FASTDL_DROPOUT_DISPATCH(SUFFIX) (void)isa; (void)stream;
#endif

FASTDL_DEFINE_DROPOUT(float, f32)
FASTDL_DEFINE_DROPOUT(double, f64)

/* Backward over n elements: dx[i] = (dy[i] * mask[i]) * scale; dy and mask strided, dx
 * contiguous. Vectorised by the compiler (AVX2 clone) when the strides are 1; with `stream`
 * (large outputs, AVX2 CPUs) dx is written with non-temporal stores. */
#define FASTDL_DEFINE_DROPOUT_BACKWARD(T, SUFFIX)                                             \
FASTDL_CLONES static void fastdl_dropout_backward_contig_##SUFFIX(const T *FASTDL_RESTRICT dy, \
        const uint8_t *FASTDL_RESTRICT mask, T *FASTDL_RESTRICT dx, ptrdiff_t n, T scale)     \
{                                                                                             \
    for (ptrdiff_t i = 0; i < n; i++) dx[i] = (dy[i] * (T)mask[i]) * scale;                   \
}                                                                                             \
static inline void fastdl_dropout_backward_##SUFFIX(const T *dy, ptrdiff_t sd,                \
        const uint8_t *mask, ptrdiff_t sm, T *dx, ptrdiff_t n, T scale, int stream)           \
{                                                                                             \
    if (sd == 1 && sm == 1) {                                                                 \
        FASTDL_DROPOUT_BACKWARD_STREAM(SUFFIX)                                                \
        fastdl_dropout_backward_contig_##SUFFIX(dy, mask, dx, n, scale);                      \
        return;                                                                               \
    }                                                                                         \
    for (ptrdiff_t i = 0; i < n; i++) dx[i] = (dy[i * sd] * (T)mask[i * sm]) * scale;         \
}

#if FASTDL_DROPOUT_X86
FASTDL_T_AVX2 static void fastdl_dropout_backward_stream_f32(const float *dy,
        const uint8_t *mask, float *dx, ptrdiff_t n, float scale)
{
    ptrdiff_t i = 0;
    for (; i < n && ((uintptr_t)(dx + i) & 31); i++) dx[i] = (dy[i] * (float)mask[i]) * scale;
    const __m256 sc = _mm256_set1_ps(scale);
    for (; i + 8 <= n; i += 8) {
        const __m256 m = _mm256_cvtepi32_ps(
            _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(mask + i))));
        _mm256_stream_ps(dx + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(dy + i), m), sc));
    }
    for (; i < n; i++) dx[i] = (dy[i] * (float)mask[i]) * scale;
    _mm_sfence();
}

FASTDL_T_AVX2 static void fastdl_dropout_backward_stream_f64(const double *dy,
        const uint8_t *mask, double *dx, ptrdiff_t n, double scale)
{
    ptrdiff_t i = 0;
    for (; i < n && ((uintptr_t)(dx + i) & 31); i++) dx[i] = (dy[i] * (double)mask[i]) * scale;
    const __m256d sc = _mm256_set1_pd(scale);
    for (; i + 4 <= n; i += 4) {
        int32_t four;
        memcpy(&four, mask + i, 4);
        const __m256d m = _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(four)));
        _mm256_stream_pd(dx + i, _mm256_mul_pd(_mm256_mul_pd(_mm256_loadu_pd(dy + i), m), sc));
    }
    for (; i < n; i++) dx[i] = (dy[i] * (double)mask[i]) * scale;
    _mm_sfence();
}

#define FASTDL_DROPOUT_BACKWARD_STREAM(SUFFIX)                                                \
        if (stream) {                                                                         \
            fastdl_dropout_backward_stream_##SUFFIX(dy, mask, dx, n, scale);                  \
            return;                                                                           \
        }
#else
#define FASTDL_DROPOUT_BACKWARD_STREAM(SUFFIX) (void)stream;
#endif

FASTDL_DEFINE_DROPOUT_BACKWARD(float, f32)
FASTDL_DEFINE_DROPOUT_BACKWARD(double, f64)

#include "fastdl_resident.h"

#endif /* FASTDL_DROPOUT_H */
