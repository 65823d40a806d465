/* Pixel work of the augmentation ops: row copies (flips, crops) and per-channel shifts.
 *
 * A batch is seen as N images of A planes (A = C for NCHW, 1 for NHWC), each plane a stack of
 * output rows of `px` pixels, each pixel `g` elements (g = C for NHWC, 1 for NCHW) of `e`
 * bytes. The output is C-contiguous; the input may have any byte strides (negative and zero
 * included). Work is handed out in ranges of output rows [r0, r1): every output byte is
 * written by exactly one row, so results do not depend on how the rows are split across
 * threads, and no row function writes outside its own output row.
 *
 * The caller (fastdl/_augment.pyx) fills a fastdl_aug_job and checks every index: per-image
 * tables (flip flags, crop offsets, shifts) have already been drawn and validated in Python.
 */
#ifndef FASTDL_AUGMENT_H
#define FASTDL_AUGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "fastdl_simd.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FASTDL_AUG_X86 1
#else
#define FASTDL_AUG_X86 0
#endif

enum {
    FASTDL_AUG_FLIP_H = 0,     /* every image mirrored left-right */
    FASTDL_AUG_FLIP_V = 1,     /* every image mirrored top-bottom */
    FASTDL_AUG_FLIP_SOME = 2,  /* image n mirrored left-right when flags[n] */
    FASTDL_AUG_CROP = 3,       /* zero-padded crop at (tops[n], lefts[n]) of the padded image */
    FASTDL_AUG_SHIFT = 4       /* y = x + shift[n, c] (uint8: saturating) */
};

enum { FASTDL_AUG_U8 = 0, FASTDL_AUG_F32 = 1, FASTDL_AUG_F64 = 2 };

/* Largest pixel width g (elements) for which a shift pattern is laid out; wider pixels loop
 * over their channels directly. The pattern holds 32 * max(1, 16 / g) pixels: a multiple of
 * 32 bytes, and about 512 elements so that narrow pixels (NCHW: g = 1) get long inner loops. */
#define FASTDL_AUG_PATTERN_MAX_G 16
#define FASTDL_AUG_PATTERN_LEN 512

typedef struct {
    int mode;                  /* FASTDL_AUG_* */
    int dtype;                 /* FASTDL_AUG_U8 / F32 / F64 (shift only) */
    const char *x;             /* input, element (0, 0, 0, 0) */
    char *y;                   /* output, C-contiguous (n, a, rows, px, g) */
    ptrdiff_t n, a, rows, px, g, e;   /* output geometry; e = bytes per element */
    ptrdiff_t in_rows, in_px;  /* input rows per plane and pixels per row */
    ptrdiff_t sn, sa, sr, sp, sg;     /* input byte strides: image, plane, row, pixel, element */
    const uint8_t *flags;      /* FLIP_SOME: (n,) 0/1 */
    const int64_t *tops, *lefts;      /* CROP: (n,) offsets in the padded image */
    ptrdiff_t pad_r, pad_p;    /* CROP: zero rows above, zero pixels left */
    /* SHIFT: per-image tables of shape (n or 1, channels), row stride `shift_stride`
     * (0 when one row serves every image). uint8 uses plus/minus (shift = plus - minus, one
     * of them 0); float32 / float64 use shift (of the element type). */
    const void *shift;
    const uint8_t *plus, *minus;
    ptrdiff_t shift_stride, channels;
    int stream;                /* write the output with non-temporal stores (large outputs) */
} fastdl_aug_job;

/* ---------------------------------------------------------------------------------------
 * Row copies. dst: n contiguous pixels of k bytes.
 * A plain copy reads source pixel q for destination pixel q at src + q * step.
 * A mirror of packed pixels reads the source row forwards (from its lowest address `src`)
 * and writes the destination backwards: destination pixel n - 1 - p is source pixel p.
 * (Reading backwards instead measured ~15% slower on large batches: the hardware prefetcher
 * follows ascending reads better.)
 * ------------------------------------------------------------------------------------- */

#if FASTDL_AUG_X86
/* Mirror of 3-byte pixels (RGB uint8): 5 pixels per 16-byte shuffle. Each 16-byte store
 * also writes one byte below its 5 pixels (the last byte of the next destination pixel down),
 * rewritten by the next store or the scalar tail; loads and stores stay inside the rows. */
__attribute__((target("ssse3")))
static void fastdl_aug_mirror3_ssse3(uint8_t *FASTDL_RESTRICT d, const uint8_t *FASTDL_RESTRICT s,
                                     ptrdiff_t n)
{
    /* Loaded b[0..14] = source pixels p..p+4; stored: b[15] (garbage), then pixels p+4..p. */
    const __m128i order = _mm_setr_epi8(15, 12, 13, 14, 9, 10, 11, 6, 7, 8, 3, 4, 5, 0, 1, 2);
    ptrdiff_t p = 0;
    for (; p + 6 <= n; p += 5) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(s + 3 * p));
        _mm_storeu_si128((__m128i *)(d + 3 * (n - 5 - p) - 1), _mm_shuffle_epi8(v, order));
    }
    for (; p < n; p++) {
        uint8_t *o = d + 3 * (n - 1 - p);
        o[0] = s[3 * p];
        o[1] = s[3 * p + 1];
        o[2] = s[3 * p + 2];
    }
}

/* Mirror of 1-byte pixels: 16 at a time with one shuffle. */
__attribute__((target("ssse3")))
static void fastdl_aug_mirror1_ssse3(uint8_t *FASTDL_RESTRICT d, const uint8_t *FASTDL_RESTRICT s,
                                     ptrdiff_t n)
{
    const __m128i order = _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    ptrdiff_t p = 0;
    for (; p + 16 <= n; p += 16) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(s + p));
        _mm_storeu_si128((__m128i *)(d + n - p - 16), _mm_shuffle_epi8(v, order));
    }
    for (; p < n; p++) d[n - 1 - p] = s[p];
}
#endif

/* Development switch (tests): 0 sends every row through the portable scalar loops. */
static int fastdl_aug_simd = 1;

static int fastdl_aug_have_ssse3(void)
{
#if FASTDL_AUG_X86
    static int known = -1;      /* benign race: every thread computes the same value */
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("ssse3") ? 1 : 0;
    }
    return known && fastdl_aug_simd;
#else
    return 0;
#endif
}

/* Fixed-size mirrors: the compiler turns the fixed memcpy into plain moves. */
#define FASTDL_AUG_MIRROR_FIXED(K)                                                            \
FASTDL_CLONES static void fastdl_aug_mirror_##K(char *FASTDL_RESTRICT d,                      \
        const char *FASTDL_RESTRICT s, ptrdiff_t n)                                           \
{                                                                                             \
    for (ptrdiff_t p = 0; p < n; p++) memcpy(d + (K) * (n - 1 - p), s + (K) * p, (K));        \
}
FASTDL_AUG_MIRROR_FIXED(2)
FASTDL_AUG_MIRROR_FIXED(3)
FASTDL_AUG_MIRROR_FIXED(4)
FASTDL_AUG_MIRROR_FIXED(6)
FASTDL_AUG_MIRROR_FIXED(8)
FASTDL_AUG_MIRROR_FIXED(16)
FASTDL_AUG_MIRROR_FIXED(24)
FASTDL_AUG_MIRROR_FIXED(32)

/* 12-byte pixels (RGB float32): 16-byte moves that start 4 bytes below the pixel; those 4
 * bytes land in the next destination pixel down and are rewritten by the next move. The
 * first source pixel and the last one are moved exactly, so nothing outside the rows is
 * touched. */
static void fastdl_aug_mirror_12(char *FASTDL_RESTRICT d, const char *FASTDL_RESTRICT s,
                                 ptrdiff_t n)
{
    if (n <= 0) return;
    memcpy(d + 12 * (n - 1), s, 12);
    ptrdiff_t p = 1;
    for (; p + 1 < n; p++) memcpy(d + 12 * (n - 1 - p) - 4, s + 12 * p - 4, 16);
    if (p < n) memcpy(d, s + 12 * p, 12);
}

static void fastdl_aug_mirror_any(char *FASTDL_RESTRICT d, const char *FASTDL_RESTRICT s,
                                  ptrdiff_t n, ptrdiff_t k)
{
    for (ptrdiff_t p = 0; p < n; p++) memcpy(d + k * (n - 1 - p), s + k * p, (size_t)k);
}

/* Mirror of n contiguous k-byte pixels: d[n - 1 - p] = s[p]. */
static void fastdl_aug_mirror(char *d, const char *s, ptrdiff_t n, ptrdiff_t k)
{
    switch (k) {
    case 1:
#if FASTDL_AUG_X86
        if (fastdl_aug_have_ssse3()) {
            fastdl_aug_mirror1_ssse3((uint8_t *)d, (const uint8_t *)s, n);
            return;
        }
#endif
        for (ptrdiff_t p = 0; p < n; p++) d[n - 1 - p] = s[p];
        return;
    case 2: fastdl_aug_mirror_2(d, s, n); return;
    case 3:
#if FASTDL_AUG_X86
        if (fastdl_aug_have_ssse3()) {
            fastdl_aug_mirror3_ssse3((uint8_t *)d, (const uint8_t *)s, n);
            return;
        }
#endif
        fastdl_aug_mirror_3(d, s, n);
        return;
    case 4: fastdl_aug_mirror_4(d, s, n); return;
    case 6: fastdl_aug_mirror_6(d, s, n); return;
    case 8: fastdl_aug_mirror_8(d, s, n); return;
    case 12: fastdl_aug_mirror_12(d, s, n); return;
    case 16: fastdl_aug_mirror_16(d, s, n); return;
    case 24: fastdl_aug_mirror_24(d, s, n); return;
    case 32: fastdl_aug_mirror_32(d, s, n); return;
    default: fastdl_aug_mirror_any(d, s, n, k); return;
    }
}

/* Any strides: pixel q, element j from src + q * step + j * sg (e bytes each). */
static void fastdl_aug_gather(char *FASTDL_RESTRICT d, const char *FASTDL_RESTRICT s,
                              ptrdiff_t n, ptrdiff_t step, ptrdiff_t g, ptrdiff_t sg,
                              ptrdiff_t e)
{
    for (ptrdiff_t q = 0; q < n; q++) {
        const char *p = s + q * step;
        for (ptrdiff_t j = 0; j < g; j++, d += e) {
            switch (e) {
            case 1: *d = p[j * sg]; break;
            case 4: memcpy(d, p + j * sg, 4); break;
            case 8: memcpy(d, p + j * sg, 8); break;
            default: memcpy(d, p + j * sg, (size_t)e); break;
            }
        }
    }
}

/* Copy n bytes with non-temporal stores for the 16-byte-aligned body of d: a large output is
 * written to memory without first being read into the cache (a third less traffic). Callers
 * stream long runs of consecutive bytes: a cache line written partly with ordinary stores and
 * partly with non-temporal ones is very slow, so only the unaligned ends (< 16 bytes) of each
 * run are ordinary stores. */
static void fastdl_aug_stream_copy(char *FASTDL_RESTRICT d, const char *FASTDL_RESTRICT s,
                                   ptrdiff_t n)
{
#if FASTDL_AUG_X86
    ptrdiff_t head = (ptrdiff_t)((16 - ((uintptr_t)d & 15)) & 15);
    if (head > n) head = n;
    memcpy(d, s, (size_t)head);
    d += head, s += head, n -= head;
    for (; n >= 64; n -= 64, d += 64, s += 64) {
        const __m128i a = _mm_loadu_si128((const __m128i *)s);
        const __m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
        const __m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
        const __m128i e = _mm_loadu_si128((const __m128i *)(s + 48));
        _mm_stream_si128((__m128i *)d, a);
        _mm_stream_si128((__m128i *)(d + 16), b);
        _mm_stream_si128((__m128i *)(d + 32), c);
        _mm_stream_si128((__m128i *)(d + 48), e);
    }
    for (; n >= 16; n -= 16, d += 16, s += 16)
        _mm_stream_si128((__m128i *)d, _mm_loadu_si128((const __m128i *)s));
#endif
    memcpy(d, s, (size_t)n);
}

/* Copy n pixels: the source pixel of destination pixel q is src + q * step. */
static void fastdl_aug_copy_pixels(const fastdl_aug_job *job, char *d, const char *s,
                                   ptrdiff_t n, ptrdiff_t step)
{
    const ptrdiff_t k = job->g * job->e;          /* bytes per pixel */
    const int packed = job->g == 1 || job->sg == job->e;
    if (n <= 0) return;
    if (packed && step == k) memcpy(d, s, (size_t)(n * k));
    else if (packed && step == -k) fastdl_aug_mirror(d, s - (n - 1) * k, n, k);
    else fastdl_aug_gather(d, s, n, step, job->g, job->sg, job->e);
}

/* Output rows [r0, r1) of a flip or crop, written from `out` on (row r at out + (r - r0) *
 * row bytes). */
static void fastdl_aug_copy_rows(const fastdl_aug_job *job, ptrdiff_t r0, ptrdiff_t r1,
                                 char *out)
{
    const ptrdiff_t row_bytes = job->px * job->g * job->e, k = job->g * job->e;
    const ptrdiff_t per_image = job->a * job->rows;
    /* (image, plane, row) of output row r, stepped along without divisions. */
    ptrdiff_t i = r0 / per_image, plane = (r0 - i * per_image) / job->rows;
    ptrdiff_t row = r0 - i * per_image - plane * job->rows;
    for (ptrdiff_t r = r0; r < r1; r++, row++) {
        if (row == job->rows) {
            row = 0;
            if (++plane == job->a) plane = 0, i++;
        }
        char *d = out + (r - r0) * row_bytes;
        const char *base = job->x + i * job->sn + plane * job->sa;
        switch (job->mode) {
        case FASTDL_AUG_FLIP_H:
            fastdl_aug_copy_pixels(job, d, base + row * job->sr + (job->in_px - 1) * job->sp,
                                   job->px, -job->sp);
            break;
        case FASTDL_AUG_FLIP_V:
            fastdl_aug_copy_pixels(job, d, base + (job->in_rows - 1 - row) * job->sr, job->px,
                                   job->sp);
            break;
        case FASTDL_AUG_FLIP_SOME:
            if (job->flags[i])
                fastdl_aug_copy_pixels(job, d, base + row * job->sr
                                       + (job->in_px - 1) * job->sp, job->px, -job->sp);
            else
                fastdl_aug_copy_pixels(job, d, base + row * job->sr, job->px, job->sp);
            break;
        default: {  /* FASTDL_AUG_CROP */
            const ptrdiff_t src_row = job->tops[i] + row - job->pad_r;
            if (src_row < 0 || src_row >= job->in_rows) {
                memset(d, 0, (size_t)row_bytes);
                break;
            }
            /* Output pixel q reads input pixel left + q - pad_p when that is in the image. */
            const ptrdiff_t first = job->lefts[i] - job->pad_p;
            ptrdiff_t lo = first < 0 ? -first : 0;   /* zero pixels on the left */
            ptrdiff_t hi = job->in_px - first;       /* end of the image pixels */
            if (lo > job->px) lo = job->px;          /* crop inside the left padding */
            if (hi > job->px) hi = job->px;
            if (hi < lo) hi = lo;
            if (lo > 0) memset(d, 0, (size_t)(lo * k));
            fastdl_aug_copy_pixels(job, d + lo * k, base + src_row * job->sr
                                   + (first + lo) * job->sp, hi - lo, job->sp);
            if (hi < job->px) memset(d + hi * k, 0, (size_t)((job->px - hi) * k));
            break;
        }
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * Per-channel shifts. A row's elements are shifted by pat[j % len], where the pattern repeats
 * the pixel's channel shifts (len = a multiple of g) so that the inner loops are plain
 * element-wise loops over whole vectors.
 * ------------------------------------------------------------------------------------- */

/* uint8: y = min(max(x + plus - minus, 0), 255) with one of plus/minus zero, i.e. a
 * saturating add followed by a saturating subtract (16 or 32 bytes per instruction). */
static inline void fastdl_aug_shift_u8_tail(uint8_t *d, const uint8_t *s, ptrdiff_t j,
                                            ptrdiff_t m, const uint8_t *plus,
                                            const uint8_t *minus)
{
    for (; j < m; j++) {
        const int v = (int)s[j] + plus[j] - minus[j];
        d[j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

#if FASTDL_AUG_X86
__attribute__((target("avx2")))
static void fastdl_aug_shift_u8_avx2(uint8_t *FASTDL_RESTRICT d, const uint8_t *FASTDL_RESTRICT s,
                                     ptrdiff_t n, const uint8_t *plus, const uint8_t *minus,
                                     ptrdiff_t len)
{
    for (ptrdiff_t b = 0; b < n; b += len) {
        const ptrdiff_t m = n - b < len ? n - b : len;
        ptrdiff_t j = 0;
        for (; j + 32 <= m; j += 32) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(s + b + j));
            v = _mm256_adds_epu8(v, _mm256_loadu_si256((const __m256i *)(plus + j)));
            v = _mm256_subs_epu8(v, _mm256_loadu_si256((const __m256i *)(minus + j)));
            _mm256_storeu_si256((__m256i *)(d + b + j), v);
        }
        fastdl_aug_shift_u8_tail(d + b, s + b, j, m, plus, minus);
    }
}
#endif

static void fastdl_aug_shift_u8_sse2(uint8_t *FASTDL_RESTRICT d, const uint8_t *FASTDL_RESTRICT s,
                                     ptrdiff_t n, const uint8_t *plus, const uint8_t *minus,
                                     ptrdiff_t len)
{
    for (ptrdiff_t b = 0; b < n; b += len) {
        const ptrdiff_t m = n - b < len ? n - b : len;
        ptrdiff_t j = 0;
#if FASTDL_AUG_X86
        for (; fastdl_aug_simd && j + 16 <= m; j += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + b + j));
            v = _mm_adds_epu8(v, _mm_loadu_si128((const __m128i *)(plus + j)));
            v = _mm_subs_epu8(v, _mm_loadu_si128((const __m128i *)(minus + j)));
            _mm_storeu_si128((__m128i *)(d + b + j), v);
        }
#endif
        fastdl_aug_shift_u8_tail(d + b, s + b, j, m, plus, minus);
    }
}

static int fastdl_aug_have_avx2(void)
{
#if FASTDL_AUG_X86
    static int known = -1;      /* benign race: every thread computes the same value */
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return known && fastdl_aug_simd;
#else
    return 0;
#endif
}

/* n elements of a packed row; the pattern (len elements, a multiple of 32 bytes or the whole
 * pixel) restarts at every pattern period. */
static void fastdl_aug_shift_u8_packed(uint8_t *d, const uint8_t *s, ptrdiff_t n,
                                       const uint8_t *plus, const uint8_t *minus, ptrdiff_t len)
{
#if FASTDL_AUG_X86
    if (fastdl_aug_have_avx2()) {
        fastdl_aug_shift_u8_avx2(d, s, n, plus, minus, len);
        return;
    }
#endif
    fastdl_aug_shift_u8_sse2(d, s, n, plus, minus, len);
}

#define FASTDL_DEFINE_SHIFT_FLOAT(T, SUFFIX)                                                  \
FASTDL_CLONES static void fastdl_aug_shift_##SUFFIX##_packed(T *FASTDL_RESTRICT d,            \
        const T *FASTDL_RESTRICT s, ptrdiff_t n, const T *FASTDL_RESTRICT pat, ptrdiff_t len)  \
{                                                                                             \
    for (ptrdiff_t b = 0; b < n; b += len) {                                                  \
        const ptrdiff_t m = n - b < len ? n - b : len;                                        \
        for (ptrdiff_t j = 0; j < m; j++) d[b + j] = s[b + j] + pat[j];                        \
    }                                                                                         \
}
FASTDL_DEFINE_SHIFT_FLOAT(float, f32)
FASTDL_DEFINE_SHIFT_FLOAT(double, f64)

/* Shift of one element (any dtype) by table entry row_shift + c. */
static inline void fastdl_aug_shift_one(const fastdl_aug_job *job, char *d, const char *s,
                                        ptrdiff_t row_shift, ptrdiff_t c)
{
    switch (job->dtype) {
    case FASTDL_AUG_U8: {
        int v = (int)*(const uint8_t *)s + job->plus[row_shift + c] - job->minus[row_shift + c];
        *(uint8_t *)d = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        break;
    }
    case FASTDL_AUG_F32: {
        float v;
        memcpy(&v, s, sizeof v);
        v += ((const float *)job->shift)[row_shift + c];
        memcpy(d, &v, sizeof v);
        break;
    }
    default: {
        double v;
        memcpy(&v, s, sizeof v);
        v += ((const double *)job->shift)[row_shift + c];
        memcpy(d, &v, sizeof v);
        break;
    }
    }
}

/* The shifts of one (image, plane) repeated over a pattern period (a thread's scratch). */
typedef struct {
    ptrdiff_t key;             /* table offset it was built for; -1: none yet */
    union { uint8_t u8[2][FASTDL_AUG_PATTERN_LEN]; float f32[FASTDL_AUG_PATTERN_LEN];
            double f64[FASTDL_AUG_PATTERN_LEN]; } v;
} fastdl_aug_pattern;

/* Repeat the first `period` bytes of p until it holds n bytes (n a multiple of period). */
static void fastdl_aug_repeat(char *p, ptrdiff_t period, ptrdiff_t n)
{
    for (ptrdiff_t have = period; have < n;) {
        const ptrdiff_t more = have < n - have ? have : n - have;
        memcpy(p + have, p, (size_t)more);
        have += more;
    }
}

/* Fill pat with table entries row_shift + (j % g), j < len. */
static void fastdl_aug_build_pattern(const fastdl_aug_job *job, ptrdiff_t row_shift,
                                     ptrdiff_t len, fastdl_aug_pattern *pat)
{
    const ptrdiff_t g = job->g;
    switch (job->dtype) {
    case FASTDL_AUG_U8:
        memcpy(pat->v.u8[0], job->plus + row_shift, (size_t)g);
        memcpy(pat->v.u8[1], job->minus + row_shift, (size_t)g);
        fastdl_aug_repeat((char *)pat->v.u8[0], g, len);
        fastdl_aug_repeat((char *)pat->v.u8[1], g, len);
        break;
    case FASTDL_AUG_F32:
        memcpy(pat->v.f32, (const float *)job->shift + row_shift, (size_t)g * sizeof(float));
        fastdl_aug_repeat((char *)pat->v.f32, g * (ptrdiff_t)sizeof(float),
                          len * (ptrdiff_t)sizeof(float));
        break;
    default:
        memcpy(pat->v.f64, (const double *)job->shift + row_shift, (size_t)g * sizeof(double));
        fastdl_aug_repeat((char *)pat->v.f64, g * (ptrdiff_t)sizeof(double),
                          len * (ptrdiff_t)sizeof(double));
        break;
    }
    pat->key = row_shift;
}

/* Output rows [r0, r1) of a shift, written from `out` on (output row r is input row r). */
static void fastdl_aug_shift_rows(const fastdl_aug_job *job, ptrdiff_t r0, ptrdiff_t r1,
                                  char *out, fastdl_aug_pattern *pattern)
{
    const ptrdiff_t g = job->g, e = job->e, row_elems = job->px * g;
    const ptrdiff_t per_image = job->a * job->rows;
    const int packed = (g == 1 || job->sg == e) && job->sp == g * e;
    const int use_pattern = packed && g <= FASTDL_AUG_PATTERN_MAX_G;
    const ptrdiff_t len = g * 32 * (g < 16 ? 16 / g : 1);      /* <= FASTDL_AUG_PATTERN_LEN */
    /* Consecutive rows of a plane that follow each other in the input too are one long row. */
    const int rows_follow = packed && job->sr == job->px * job->sp;
    for (ptrdiff_t r = r0, run; r < r1; r += run) {
        const ptrdiff_t i = r / per_image, t = r - i * per_image;
        const ptrdiff_t plane = t / job->rows, row = t - plane * job->rows;
        run = rows_follow ? (job->rows - row < r1 - r ? job->rows - row : r1 - r) : 1;
        const ptrdiff_t n_elems = run * row_elems;
        /* Channel of element j of a pixel: the plane (NCHW: g == 1) or j (NHWC: plane 0). */
        const ptrdiff_t row_shift = i * job->shift_stride + plane;
        char *d = out + (r - r0) * row_elems * e;
        const char *s = job->x + i * job->sn + plane * job->sa + row * job->sr;
        if (use_pattern) {
            const fastdl_aug_pattern *pat = pattern;
            if (row_shift != pattern->key) fastdl_aug_build_pattern(job, row_shift, len, pattern);
            switch (job->dtype) {
            case FASTDL_AUG_U8:
                fastdl_aug_shift_u8_packed((uint8_t *)d, (const uint8_t *)s, n_elems,
                                           pat->v.u8[0], pat->v.u8[1], len);
                break;
            case FASTDL_AUG_F32:
                fastdl_aug_shift_f32_packed((float *)d, (const float *)s, n_elems,
                                            pat->v.f32, len);
                break;
            default:
                fastdl_aug_shift_f64_packed((double *)d, (const double *)s, n_elems,
                                            pat->v.f64, len);
                break;
            }
        } else if (packed) {
            /* Wide pixels: one pattern period is the pixel itself. */
            switch (job->dtype) {
            case FASTDL_AUG_U8:
                fastdl_aug_shift_u8_packed((uint8_t *)d, (const uint8_t *)s, n_elems,
                                           job->plus + row_shift, job->minus + row_shift, g);
                break;
            case FASTDL_AUG_F32:
                fastdl_aug_shift_f32_packed((float *)d, (const float *)s, n_elems,
                                            (const float *)job->shift + row_shift, g);
                break;
            default:
                fastdl_aug_shift_f64_packed((double *)d, (const double *)s, n_elems,
                                            (const double *)job->shift + row_shift, g);
                break;
            }
        } else {
            for (ptrdiff_t q = 0; q < job->px; q++)
                for (ptrdiff_t j = 0; j < g; j++)
                    fastdl_aug_shift_one(job, d + (q * g + j) * e, s + q * job->sp + j * job->sg,
                                         row_shift, j);
        }
    }
}

/* Rows are assembled in a stack buffer of this size before being streamed out. */
#define FASTDL_AUG_STREAM_BUFFER 16384

/* Output rows [r0, r1) of any job. With job->stream (a large output that is not freshly
 * allocated: streaming into pages the kernel has just zeroed is slower), up to 16 KiB of
 * consecutive rows are assembled in an L1 buffer, then streamed out in one run. */
static void fastdl_aug_run_rows(const fastdl_aug_job *job, ptrdiff_t r0, ptrdiff_t r1)
{
    const ptrdiff_t row_bytes = job->px * job->g * job->e;
    const int shift = job->mode == FASTDL_AUG_SHIFT;
    fastdl_aug_pattern pattern;
    pattern.key = -1;
    if (!job->stream || row_bytes > FASTDL_AUG_STREAM_BUFFER) {
        if (shift) fastdl_aug_shift_rows(job, r0, r1, job->y + r0 * row_bytes, &pattern);
        else fastdl_aug_copy_rows(job, r0, r1, job->y + r0 * row_bytes);
        return;
    }
    char buffer[FASTDL_AUG_STREAM_BUFFER] __attribute__((aligned(64)));
    const ptrdiff_t per_buffer = FASTDL_AUG_STREAM_BUFFER / row_bytes;
    for (ptrdiff_t r = r0; r < r1; r += per_buffer) {
        const ptrdiff_t end = r1 - r < per_buffer ? r1 : r + per_buffer;
        if (shift) fastdl_aug_shift_rows(job, r, end, buffer, &pattern);
        else fastdl_aug_copy_rows(job, r, end, buffer);
        fastdl_aug_stream_copy(job->y + r * row_bytes, buffer, (end - r) * row_bytes);
    }
#if FASTDL_AUG_X86
    _mm_sfence();   /* the streamed stores are visible before the threads join */
#endif
}

#endif /* FASTDL_AUGMENT_H */
