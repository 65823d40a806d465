/* AVX2 float32 paths of the pooling kernels (see fastdl_pool.h), chosen at run time.
 *
 * Each function handles whole 8-lane groups and the scalar tail itself. The NaN-propagating
 * maximum of two vectors is max(a, b) OR unord(a, b): where either lane is NaN the result is
 * all ones, a NaN (its payload is not the input's; the contract only says NaN propagates).
 * Window maxima with their index compare "greater in the NaN-is-largest order" exactly as the
 * scalar code does, so the first maximum wins ties.
 */
#ifndef FASTDL_POOL_AVX2_H
#define FASTDL_POOL_AVX2_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(FASTDL_NO_CLONES)
#define FASTDL_POOL_HAVE_AVX2 1
#include <immintrin.h>

static int fastdl_pool_use_avx2 = 0;

/* Called at import (on = 1), and by the tests to force the portable path (on = 0). */
static inline void fastdl_pool_init(int on)
{
    __builtin_cpu_init();
    fastdl_pool_use_avx2 = on && __builtin_cpu_supports("avx2");
}

#define FASTDL_AVX2 __attribute__((target("avx2")))
#define FASTDL_AVX2_INLINE static inline __attribute__((target("avx2"), always_inline))

FASTDL_AVX2_INLINE __m256 fastdl_nmax8(__m256 a, __m256 b)
{
    return _mm256_or_ps(_mm256_max_ps(a, b), _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
}

/* v "greater" than b: v > b, or v NaN and b not. */
FASTDL_AVX2_INLINE __m256 fastdl_gt8(__m256 v, __m256 b)
{
    return _mm256_or_ps(_mm256_cmp_ps(v, b, _CMP_GT_OQ),
                        _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q),
                                      _mm256_cmp_ps(b, b, _CMP_ORD_Q)));
}

/* [x0 x2 y0 y2 | x4 x6 y4 y6] order (from shuffle_ps of two vectors) to natural order. */
FASTDL_AVX2_INLINE __m256 fastdl_fix8(__m256 v)
{
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8));
}

FASTDL_AVX2_INLINE __m256 fastdl_even8(const float *p)
{
    return _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), 0x88);
}

static inline float fastdl_nmax1(float a, float b)
{
    return ((b > a) | (b != b)) ? b : a;
}

/* vb[e] = NaN-propagating max over rows r0..r1-1 of x[r*L + e]. */
FASTDL_AVX2 static void fastdl_pool_vmax_avx2(const float *x, int64_t L, int64_t r0, int64_t r1,
                                              float *vb)
{
    const float *a = x + r0 * L;
    int64_t e = 0;
    for (; e + 8 <= L; e += 8) {
        __m256 m = _mm256_loadu_ps(a + e);
        for (int64_t r = 1; r < r1 - r0; r++) m = fastdl_nmax8(m, _mm256_loadu_ps(a + r * L + e));
        _mm256_storeu_ps(vb + e, m);
    }
    for (; e < L; e++) {
        float m = a[e];
        for (int64_t r = 1; r < r1 - r0; r++) m = fastdl_nmax1(m, a[r * L + e]);
        vb[e] = m;
    }
}

/* vb[e] = sum over rows r0..r1-1 of x[r*L + e]. */
FASTDL_AVX2 static void fastdl_pool_vsum_avx2(const float *x, int64_t L, int64_t r0, int64_t r1,
                                              float *vb)
{
    const float *a = x + r0 * L;
    int64_t e = 0;
    for (; e + 8 <= L; e += 8) {
        __m256 m = _mm256_loadu_ps(a + e);
        for (int64_t r = 1; r < r1 - r0; r++) m = _mm256_add_ps(m, _mm256_loadu_ps(a + r * L + e));
        _mm256_storeu_ps(vb + e, m);
    }
    for (; e < L; e++) {
        float m = a[e];
        for (int64_t r = 1; r < r1 - r0; r++) m += a[r * L + e];
        vb[e] = m;
    }
}

/* One plane row (C == 1): y[o] = max (avg: sum) over j < kw of vbp[o*sw + j], sw 1 or 2.
 * The row buffer must have 16 floats of slack after its end (read, never used). */
FASTDL_AVX2 static void fastdl_pool_hplane_avx2(const float *vbp, int64_t OW, int64_t kw,
                                                int64_t sw, int is_max, float *y)
{
    int64_t o = 0;
    if (sw == 2) {
        for (; o + 8 <= OW; o += 8) {
            const float *p = vbp + 2 * o;
            __m256 m = fastdl_even8(p);
            for (int64_t j = 1; j < kw; j++) {
                const __m256 v = fastdl_even8(p + j);
                m = is_max ? fastdl_nmax8(m, v) : _mm256_add_ps(m, v);
            }
            _mm256_storeu_ps(y + o, fastdl_fix8(m));
        }
    } else {
        for (; o + 8 <= OW; o += 8) {
            const float *p = vbp + o;
            __m256 m = _mm256_loadu_ps(p);
            for (int64_t j = 1; j < kw; j++) {
                const __m256 v = _mm256_loadu_ps(p + j);
                m = is_max ? fastdl_nmax8(m, v) : _mm256_add_ps(m, v);
            }
            _mm256_storeu_ps(y + o, m);
        }
    }
    for (; o < OW; o++) {
        const float *p = vbp + o * sw;
        float m = p[0];
        for (int64_t j = 1; j < kw; j++) m = is_max ? fastdl_nmax1(m, p[j]) : m + p[j];
        y[o] = m;
    }
}

/* Pixel rows (C values per pixel): y[o*C + c] = max (avg: sum) over j of vbp[(o*sw + j)*C + c]. */
FASTDL_AVX2 static void fastdl_pool_hpix_avx2(const float *vbp, int64_t OW, int64_t C,
                                              int64_t kw, int64_t sw, int is_max, float *y)
{
    for (int64_t o = 0; o < OW; o++) {
        const float *s = vbp + o * sw * C;
        float *out = y + o * C;
        int64_t c = 0;
        for (; c + 8 <= C; c += 8) {
            __m256 m = _mm256_loadu_ps(s + c);
            for (int64_t j = 1; j < kw; j++) {
                const __m256 v = _mm256_loadu_ps(s + j * C + c);
                m = is_max ? fastdl_nmax8(m, v) : _mm256_add_ps(m, v);
            }
            _mm256_storeu_ps(out + c, m);
        }
        for (; c < C; c++) {
            float m = s[c];
            for (int64_t j = 1; j < kw; j++)
                m = is_max ? fastdl_nmax1(m, s[j * C + c]) : m + s[j * C + c];
            out[c] = m;
        }
    }
}

/* NCHW 2x2 stride 2, one output row from input rows x0, x1: max (or sum * scale). */
FASTDL_AVX2 static void fastdl_pool_2x2_row_avx2(const float *x0, const float *x1, float *y,
                                                 int64_t OW, int is_max, float scale)
{
    int64_t o = 0;
    const __m256 s = _mm256_set1_ps(scale);
    /* the last block of 8 overlaps the one before instead of a scalar tail (rows of 14
     * outputs, LeNet's, spent most of their time there); recomputed outputs are the same */
    for (int64_t q = 0; OW >= 8 && q < OW; q += 8) {
        o = q + 8 <= OW ? q : OW - 8;
        const __m256 a0 = _mm256_loadu_ps(x0 + 2 * o), a1 = _mm256_loadu_ps(x0 + 2 * o + 8);
        const __m256 b0 = _mm256_loadu_ps(x1 + 2 * o), b1 = _mm256_loadu_ps(x1 + 2 * o + 8);
        __m256 v0, v1, m;
        if (is_max) {
            v0 = fastdl_nmax8(a0, b0);
            v1 = fastdl_nmax8(a1, b1);
            m = fastdl_nmax8(_mm256_shuffle_ps(v0, v1, 0x88), _mm256_shuffle_ps(v0, v1, 0xDD));
        } else {
            v0 = _mm256_add_ps(a0, b0);
            v1 = _mm256_add_ps(a1, b1);
            m = _mm256_mul_ps(_mm256_add_ps(_mm256_shuffle_ps(v0, v1, 0x88),
                                            _mm256_shuffle_ps(v0, v1, 0xDD)), s);
        }
        _mm256_storeu_ps(y + o, fastdl_fix8(m));
    }
    o = OW >= 8 ? OW : 0;
    for (; o < OW; o++) {
        const float a = x0[2 * o], b = x0[2 * o + 1], c = x1[2 * o], d = x1[2 * o + 1];
        y[o] = is_max ? fastdl_nmax1(fastdl_nmax1(a, c), fastdl_nmax1(b, d))
                      : ((a + c) + (b + d)) * scale;
    }
}

/* NCHW 2x2 stride 2 max with indices: idx = h*W + w of the first maximum (row-major order).
 * row0 = the window's top row index; W = plane width. */
FASTDL_AVX2 static void fastdl_pool_max2x2_idx_row_avx2(const float *x0, const float *x1,
                                                        float *y, int64_t *idx, int64_t OW,
                                                        int64_t row0, int64_t W)
{
    const int64_t base = row0 * W;
    int64_t o = 0;
    const __m256i k1 = _mm256_set1_epi32(1), kW = _mm256_set1_epi32((int)W),
                  kW1 = _mm256_set1_epi32((int)(W + 1));
    const __m256i lanes = _mm256_setr_epi64x(0, 2, 4, 6);
    if (W < INT32_MAX) {
        /* the last block of 8 overlaps the one before (no scalar tail), as above */
        for (int64_t q = 0; OW >= 8 && q < OW; q += 8) {
            o = q + 8 <= OW ? q : OW - 8;
            const __m256 a0 = _mm256_loadu_ps(x0 + 2 * o), a1 = _mm256_loadu_ps(x0 + 2 * o + 8);
            const __m256 b0 = _mm256_loadu_ps(x1 + 2 * o), b1 = _mm256_loadu_ps(x1 + 2 * o + 8);
            const __m256 e0 = _mm256_shuffle_ps(a0, a1, 0x88);
            const __m256 d0 = _mm256_shuffle_ps(a0, a1, 0xDD);
            const __m256 e1 = _mm256_shuffle_ps(b0, b1, 0x88);
            const __m256 d1 = _mm256_shuffle_ps(b0, b1, 0xDD);
            __m256 m = e0, t;
            __m256i off = _mm256_setzero_si256();
            t = fastdl_gt8(d0, m);
            m = _mm256_blendv_ps(m, d0, t);
            off = _mm256_blendv_epi8(off, k1, _mm256_castps_si256(t));
            t = fastdl_gt8(e1, m);
            m = _mm256_blendv_ps(m, e1, t);
            off = _mm256_blendv_epi8(off, kW, _mm256_castps_si256(t));
            t = fastdl_gt8(d1, m);
            m = _mm256_blendv_ps(m, d1, t);
            off = _mm256_blendv_epi8(off, kW1, _mm256_castps_si256(t));
            _mm256_storeu_ps(y + o, fastdl_fix8(m));
            off = _mm256_permute4x64_epi64(off, 0xD8);
            const __m256i start = _mm256_add_epi64(_mm256_set1_epi64x(base + 2 * o), lanes);
            const __m256i lo = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(off)),
                                                start);
            const __m256i hi = _mm256_add_epi64(
                _mm256_cvtepi32_epi64(_mm256_extracti128_si256(off, 1)),
                _mm256_add_epi64(start, _mm256_set1_epi64x(8)));
            _mm256_storeu_si256((__m256i *)(idx + o), lo);
            _mm256_storeu_si256((__m256i *)(idx + o + 4), hi);
        }
        o = OW >= 8 ? OW : 0;
    }
    for (; o < OW; o++) {
        const float c4[4] = {x0[2 * o], x0[2 * o + 1], x1[2 * o], x1[2 * o + 1]};
        const int64_t off4[4] = {0, 1, W, W + 1};
        float m = c4[0];
        int64_t off = 0;
        for (int k = 1; k < 4; k++) {
            const float v = c4[k];
            if ((v > m) | ((v != v) & (m == m))) {
                m = v;
                off = off4[k];
            }
        }
        y[o] = m;
        idx[o] = base + 2 * o + off;
    }
}

/* Pack two 4 x int64 all-ones/zero masks into one 8 x 32-bit mask in natural order. */
FASTDL_AVX2_INLINE __m256 fastdl_pack_mask(__m256i lo, __m256i hi)
{
    return fastdl_fix8(_mm256_shuffle_ps(_mm256_castsi256_ps(lo), _mm256_castsi256_ps(hi), 0x88));
}

/* Store a, b interleaved (a0 b0 a1 b1 ...) to p[0..16). */
FASTDL_AVX2_INLINE void fastdl_store_interleaved(float *p, __m256 a, __m256 b)
{
    const __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
    _mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

/* NCHW 2x2 stride 2 max backward of one output row with indices: writes dx rows r0, r1
 * (columns < 2*OW). Returns nonzero if some index is not inside its window. */
FASTDL_AVX2 static int fastdl_pool_maxbwd2x2_row_avx2(const int64_t *ir, const float *d,
                                                      float *r0, float *r1, int64_t OW,
                                                      int64_t row0, int64_t W)
{
    const int64_t base = row0 * W;
    int64_t o = 0;
    const __m256i z = _mm256_setzero_si256(), one = _mm256_set1_epi64x(1),
                  kW = _mm256_set1_epi64x(W), kW1 = _mm256_set1_epi64x(W + 1);
    const __m256i lanes = _mm256_setr_epi64x(0, 2, 4, 6), eight = _mm256_set1_epi64x(8);
    __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    for (int64_t q = 0; OW >= 8 && q < OW; q += 8) {   /* last block overlaps: no tail */
        o = q + 8 <= OW ? q : OW - 8;
        const __m256i start = _mm256_add_epi64(_mm256_set1_epi64x(base + 2 * o), lanes);
        const __m256i rl = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i *)(ir + o)), start);
        const __m256i rh = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i *)(ir + o + 4)),
                                            _mm256_add_epi64(start, eight));
        const __m256 m0 = fastdl_pack_mask(_mm256_cmpeq_epi64(rl, z), _mm256_cmpeq_epi64(rh, z));
        const __m256 m1 = fastdl_pack_mask(_mm256_cmpeq_epi64(rl, one),
                                           _mm256_cmpeq_epi64(rh, one));
        const __m256 m2 = fastdl_pack_mask(_mm256_cmpeq_epi64(rl, kW), _mm256_cmpeq_epi64(rh, kW));
        const __m256 m3 = fastdl_pack_mask(_mm256_cmpeq_epi64(rl, kW1),
                                           _mm256_cmpeq_epi64(rh, kW1));
        ok = _mm256_and_ps(ok, _mm256_or_ps(_mm256_or_ps(m0, m1), _mm256_or_ps(m2, m3)));
        const __m256 v = _mm256_loadu_ps(d + o);
        fastdl_store_interleaved(r0 + 2 * o, _mm256_and_ps(m0, v), _mm256_and_ps(m1, v));
        fastdl_store_interleaved(r1 + 2 * o, _mm256_and_ps(m2, v), _mm256_and_ps(m3, v));
    }
    int bad = _mm256_movemask_ps(ok) != 0xFF;
    o = OW >= 8 ? OW : 0;
    for (; o < OW; o++) {
        const int64_t i = ir[o] - base - 2 * o;
        const float v = d[o];
        r0[2 * o] = i == 0 ? v : 0.0f;
        r0[2 * o + 1] = i == 1 ? v : 0.0f;
        r1[2 * o] = i == W ? v : 0.0f;
        r1[2 * o + 1] = i == W + 1 ? v : 0.0f;
        bad |= (i != 0) & (i != 1) & (i != W) & (i != W + 1);
    }
    return bad;
}

/* dx[2o] = dx[2o + 1] = t[o] for o < OW. */
FASTDL_AVX2 static void fastdl_pool_dup2_avx2(const float *t, float *dx, int64_t OW)
{
    int64_t o = 0;
    for (int64_t q = 0; OW >= 8 && q < OW; q += 8) {   /* last block overlaps: no tail */
        o = q + 8 <= OW ? q : OW - 8;
        const __m256 v = _mm256_loadu_ps(t + o);
        fastdl_store_interleaved(dx + 2 * o, v, v);
    }
    for (o = OW >= 8 ? OW : 0; o < OW; o++) dx[2 * o] = dx[2 * o + 1] = t[o];
}

/* out[c] (first: =, else +=) dy[c] where ir[c] == pos, else 0; returns the matches. */
FASTDL_AVX2 static int64_t fastdl_pool_gather_avx2(const int64_t *ir, const float *d,
                                                   float *out, int64_t C, int64_t pos,
                                                   int first)
{
    int64_t matches = 0, c = 0;
    const __m256i p = _mm256_set1_epi64x(pos);
    for (; c + 8 <= C; c += 8) {
        const __m256 m = fastdl_pack_mask(
            _mm256_cmpeq_epi64(_mm256_loadu_si256((const __m256i *)(ir + c)), p),
            _mm256_cmpeq_epi64(_mm256_loadu_si256((const __m256i *)(ir + c + 4)), p));
        const __m256 v = _mm256_and_ps(m, _mm256_loadu_ps(d + c));
        _mm256_storeu_ps(out + c, first ? v : _mm256_add_ps(_mm256_loadu_ps(out + c), v));
        matches += __builtin_popcount((unsigned)_mm256_movemask_ps(m));
    }
    for (; c < C; c++) {
        const int m = ir[c] == pos;
        const float v = m ? d[c] : 0.0f;
        out[c] = first ? v : out[c] + v;
        matches += m;
    }
    return matches;
}


/* Ties in the NaN-is-largest order: equal, or both NaN. */
FASTDL_AVX2_INLINE __m256 fastdl_tie8(__m256 v, __m256 b)
{
    return _mm256_or_ps(_mm256_cmp_ps(v, b, _CMP_EQ_OQ),
                        _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q),
                                      _mm256_cmp_ps(b, b, _CMP_UNORD_Q)));
}

/* vb = column maxima over rows r0..r1-1, rb = row of each first maximum. */
FASTDL_AVX2 static void fastdl_pool_vmax_rows_avx2(const float *x, int64_t L, int64_t r0,
                                                   int64_t r1, float *vb, int32_t *rb)
{
    const float *a = x + r0 * L;
    int64_t e = 0;
    for (; e + 8 <= L; e += 8) {
        __m256 m = _mm256_loadu_ps(a + e);
        __m256i r = _mm256_set1_epi32((int)r0);
        for (int64_t k = 1; k < r1 - r0; k++) {
            const __m256 v = _mm256_loadu_ps(a + k * L + e);
            const __m256 t = fastdl_gt8(v, m);
            m = _mm256_blendv_ps(m, v, t);
            r = _mm256_blendv_epi8(r, _mm256_set1_epi32((int)(r0 + k)), _mm256_castps_si256(t));
        }
        _mm256_storeu_ps(vb + e, m);
        _mm256_storeu_si256((__m256i *)(rb + e), r);
    }
    for (; e < L; e++) {
        float m = a[e];
        int32_t r = (int32_t)r0;
        for (int64_t k = 1; k < r1 - r0; k++) {
            const float v = a[k * L + e];
            if ((v > m) | ((v != v) & (m == m))) {
                m = v;
                r = (int32_t)(r0 + k);
            }
        }
        vb[e] = m;
        rb[e] = r;
    }
}

/* One step of the horizontal argmax: candidate (v, r, column j) against best (m, br, bc). */
#define FASTDL_POOL_HSTEP8(v, r, j, m, br, bc)                                                \
    do {                                                                                       \
        const __m256 t_ = _mm256_or_ps(                                                        \
            fastdl_gt8(v, m),                                                                  \
            _mm256_and_ps(fastdl_tie8(v, m), _mm256_castsi256_ps(_mm256_cmpgt_epi32(br, r))));\
        const __m256i ti_ = _mm256_castps_si256(t_);                                           \
        m = _mm256_blendv_ps(m, v, t_);                                                        \
        br = _mm256_blendv_epi8(br, r, ti_);                                                   \
        bc = _mm256_blendv_epi8(bc, _mm256_set1_epi32((int)(j)), ti_);                        \
    } while (0)

/* idx[0..8) = br * W + col + bc, br and bc int32 lanes, col an int32 lane vector. */
FASTDL_AVX2_INLINE void fastdl_pool_store_idx8(int64_t *idx, __m256i br, __m256i colbc,
                                               int64_t W)
{
    const __m256i w = _mm256_set1_epi64x(W);
    const __m256i lo = _mm256_add_epi64(
        _mm256_mul_epi32(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(br)), w),
        _mm256_cvtepi32_epi64(_mm256_castsi256_si128(colbc)));
    const __m256i hi = _mm256_add_epi64(
        _mm256_mul_epi32(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(br, 1)), w),
        _mm256_cvtepi32_epi64(_mm256_extracti128_si256(colbc, 1)));
    _mm256_storeu_si256((__m256i *)idx, lo);
    _mm256_storeu_si256((__m256i *)(idx + 4), hi);
}

/* Horizontal argmax over kw pixels of the padded row buffers (vbp values, rbp rows), writing
 * y and idx of OW outputs of C values. Returns 0 when it cannot (then the caller's portable
 * code runs): sw > 2 for planes, or sizes beyond int32. */
FASTDL_AVX2 static int fastdl_pool_hmax_idx_avx2(const float *vbp, const int32_t *rbp,
                                                 int64_t OW, int64_t C, int64_t kw, int64_t sw,
                                                 int64_t pw, int64_t W, float *y, int64_t *idx)
{
    if (W >= INT32_MAX / 2 || (C == 1 && sw > 2)) return 0;
    if (C == 1) {
        int64_t o = 0;
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for (; o + 8 <= OW; o += 8) {
            const float *p = vbp + o * sw;
            const int32_t *pr = rbp + o * sw;
            __m256 m;
            __m256i br, bc = _mm256_setzero_si256();
            if (sw == 2) {
                m = fastdl_even8(p);
                br = _mm256_castps_si256(fastdl_even8((const float *)pr));
                for (int64_t j = 1; j < kw; j++) {
                    const __m256 v = fastdl_even8(p + j);
                    const __m256i r = _mm256_castps_si256(fastdl_even8((const float *)(pr + j)));
                    FASTDL_POOL_HSTEP8(v, r, j, m, br, bc);
                }
                m = fastdl_fix8(m);
                br = _mm256_permute4x64_epi64(br, 0xD8);
                bc = _mm256_permute4x64_epi64(bc, 0xD8);
            } else {
                m = _mm256_loadu_ps(p);
                br = _mm256_loadu_si256((const __m256i *)pr);
                for (int64_t j = 1; j < kw; j++) {
                    const __m256 v = _mm256_loadu_ps(p + j);
                    const __m256i r = _mm256_loadu_si256((const __m256i *)(pr + j));
                    FASTDL_POOL_HSTEP8(v, r, j, m, br, bc);
                }
            }
            _mm256_storeu_ps(y + o, m);
            /* column of lane l: (o + l)*sw - pw + bc */
            const __m256i at = _mm256_add_epi32(_mm256_set1_epi32((int)o), lane);
            const __m256i col = _mm256_add_epi32(
                _mm256_sub_epi32(_mm256_mullo_epi32(at, _mm256_set1_epi32((int)sw)),
                                 _mm256_set1_epi32((int)pw)), bc);
            fastdl_pool_store_idx8(idx + o, br, col, W);
        }
        for (; o < OW; o++) {
            const float *p = vbp + o * sw;
            const int32_t *pr = rbp + o * sw;
            float m = p[0];
            int32_t br = pr[0], bc = 0;
            for (int64_t j = 1; j < kw; j++) {
                const float v = p[j];
                const int32_t r = pr[j];
                const int t = ((v > m) | ((v != v) & (m == m)))
                              | ((((v == m) | ((v != v) & (m != m)))) & (r < br));
                if (t) {
                    m = v;
                    br = r;
                    bc = (int32_t)j;
                }
            }
            y[o] = m;
            idx[o] = (int64_t)br * W + o * sw - pw + bc;
        }
        return 1;
    }
    for (int64_t o = 0; o < OW; o++) {
        const float *s = vbp + o * sw * C;
        const int32_t *sr = rbp + o * sw * C;
        const int64_t col0 = o * sw - pw;
        int64_t c = 0;
        for (; c + 8 <= C; c += 8) {
            __m256 m = _mm256_loadu_ps(s + c);
            __m256i br = _mm256_loadu_si256((const __m256i *)(sr + c));
            __m256i bc = _mm256_setzero_si256();
            for (int64_t j = 1; j < kw; j++) {
                const __m256 v = _mm256_loadu_ps(s + j * C + c);
                const __m256i r = _mm256_loadu_si256((const __m256i *)(sr + j * C + c));
                FASTDL_POOL_HSTEP8(v, r, j, m, br, bc);
            }
            _mm256_storeu_ps(y + o * C + c, m);
            fastdl_pool_store_idx8(idx + o * C + c, br,
                                   _mm256_add_epi32(bc, _mm256_set1_epi32((int)col0)), W);
        }
        for (; c < C; c++) {
            float m = s[c];
            int32_t br = sr[c], bc = 0;
            for (int64_t j = 1; j < kw; j++) {
                const float v = s[j * C + c];
                const int32_t r = sr[j * C + c];
                const int t = ((v > m) | ((v != v) & (m == m)))
                              | ((((v == m) | ((v != v) & (m != m)))) & (r < br));
                if (t) {
                    m = v;
                    br = r;
                    bc = (int32_t)j;
                }
            }
            y[o * C + c] = m;
            idx[o * C + c] = (int64_t)br * W + col0 + bc;
        }
    }
    return 1;
}

/* NHWC: one output row straight from the input rows r0..r1-1 (row length W*C), windows
 * clipped to the real columns (max: padding never wins; average: padding adds zero):
 * y[o*C + c] = max, or sum * (incl_scale if nonzero, else 1 / (rows * real columns)). */
FASTDL_AVX2 static void fastdl_pool_direct_pix_avx2(const float *x, int64_t W, int64_t r0,
                                                    int64_t r1, int64_t OW, int64_t C,
                                                    int64_t kw, int64_t sw, int64_t pw,
                                                    int is_max, float incl_scale, float *y)
{
    const int64_t L = W * C, nr = r1 - r0;
    const float *top = x + r0 * L;
    for (int64_t o = 0; o < OW; o++) {
        const int64_t c0 = o * sw - pw;
        const int64_t j0 = c0 < 0 ? -c0 : 0;
        const int64_t j1 = c0 + kw > W ? W - c0 : kw;
        const float scale = incl_scale != 0.0f ? incl_scale : 1.0f / (float)(nr * (j1 - j0));
        const __m256 s = _mm256_set1_ps(scale);
        const float *p = top + (c0 + j0) * C;
        const int64_t nj = j1 - j0;
        float *out = y + o * C;
        int64_t c = 0;
        for (; c + 8 <= C; c += 8) {
            __m256 m = _mm256_loadu_ps(p + c);
            for (int64_t r = 0; r < nr; r++) {
                const float *q = p + r * L + c;
                for (int64_t j = (r == 0); j < nj; j++) {
                    const __m256 v = _mm256_loadu_ps(q + j * C);
                    m = is_max ? fastdl_nmax8(m, v) : _mm256_add_ps(m, v);
                }
            }
            _mm256_storeu_ps(out + c, is_max ? m : _mm256_mul_ps(m, s));
        }
        for (; c < C; c++) {
            float m = p[c];
            for (int64_t r = 0; r < nr; r++)
                for (int64_t j = (r == 0); j < nj; j++) {
                    const float v = p[r * L + j * C + c];
                    m = is_max ? fastdl_nmax1(m, v) : m + v;
                }
            out[c] = is_max ? m : m * scale;
        }
    }
}

/* NHWC 2x2 stride 2 without padding, one output row of OW pixels of C values from input rows
 * x0, x1, in the order of fastdl_pool_direct_pix_avx2 (same results), without its general
 * window loops: max (NaN propagates), or the average
 * (((x0[2o] + x0[2o+1]) + x1[2o]) + x1[2o+1]) * 0.25 per channel. */
FASTDL_AVX2_INLINE __m256 fastdl_pool_2x2_pix8(const float *a, const float *b, int64_t C,
                                               int is_max, __m256 q)
{
    const __m256 u = _mm256_loadu_ps(a), v = _mm256_loadu_ps(a + C);
    const __m256 w = _mm256_loadu_ps(b), z = _mm256_loadu_ps(b + C);
    if (is_max) return fastdl_nmax8(fastdl_nmax8(fastdl_nmax8(u, v), w), z);
    return _mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(u, v), w), z), q);
}

FASTDL_AVX2 static void fastdl_pool_2x2_pix_avx2(const float *x0, const float *x1, float *y,
                                                 int64_t OW, int64_t C, int is_max)
{
    const __m256 q = _mm256_set1_ps(0.25f);
    for (int64_t o = 0; o < OW; o++) {
        const float *a = x0 + 2 * o * C, *b = x1 + 2 * o * C;
        float *out = y + o * C;
        int64_t c = 0;
        for (; c + 32 <= C; c += 32) {
            const __m256 r0 = fastdl_pool_2x2_pix8(a + c, b + c, C, is_max, q);
            const __m256 r1 = fastdl_pool_2x2_pix8(a + c + 8, b + c + 8, C, is_max, q);
            const __m256 r2 = fastdl_pool_2x2_pix8(a + c + 16, b + c + 16, C, is_max, q);
            const __m256 r3 = fastdl_pool_2x2_pix8(a + c + 24, b + c + 24, C, is_max, q);
            _mm256_storeu_ps(out + c, r0);
            _mm256_storeu_ps(out + c + 8, r1);
            _mm256_storeu_ps(out + c + 16, r2);
            _mm256_storeu_ps(out + c + 24, r3);
        }
        for (; c + 8 <= C; c += 8)
            _mm256_storeu_ps(out + c, fastdl_pool_2x2_pix8(a + c, b + c, C, is_max, q));
        for (; c < C; c++)
            out[c] = is_max ? fastdl_nmax1(fastdl_nmax1(fastdl_nmax1(a[c], a[C + c]), b[c]),
                                           b[C + c])
                            : (((a[c] + a[C + c]) + b[c]) + b[C + c]) * 0.25f;
    }
}

/* NHWC 2x2 stride 2 max backward of one input row with indices: pixel pair (2o, 2o + 1) of the
 * row gets dy[o] where idx[o] == rel + 0 / 1 (rel = the row's flat offset of pixel 2o), else 0,
 * for OW pairs of C values. Returns how many (o, c) indices matched a pixel of the row. */
FASTDL_AVX2 static int64_t fastdl_pool_maxbwd2x2_pix_avx2(const int64_t *ir, const float *d,
                                                          float *dxr, int64_t OW, int64_t C,
                                                          int64_t rel)
{
    int64_t matches = 0;
    const __m256i one = _mm256_set1_epi64x(1);
    for (int64_t o = 0; o < OW; o++) {
        const int64_t *io = ir + o * C;
        const float *dv = d + o * C;
        float *p0 = dxr + 2 * o * C, *p1 = p0 + C;
        const __m256i start = _mm256_set1_epi64x(rel + 2 * o);
        int64_t c = 0;
        for (; c + 8 <= C; c += 8) {
            const __m256i lo = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i *)(io + c)),
                                                start);
            const __m256i hi = _mm256_sub_epi64(
                _mm256_loadu_si256((const __m256i *)(io + c + 4)), start);
            const __m256 m0 = fastdl_pack_mask(_mm256_cmpeq_epi64(lo, _mm256_setzero_si256()),
                                               _mm256_cmpeq_epi64(hi, _mm256_setzero_si256()));
            const __m256 m1 = fastdl_pack_mask(_mm256_cmpeq_epi64(lo, one),
                                               _mm256_cmpeq_epi64(hi, one));
            const __m256 v = _mm256_loadu_ps(dv + c);
            _mm256_storeu_ps(p0 + c, _mm256_and_ps(m0, v));
            _mm256_storeu_ps(p1 + c, _mm256_and_ps(m1, v));
            matches += __builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_or_ps(m0, m1)));
        }
        for (; c < C; c++) {
            const int64_t q = io[c] - rel - 2 * o;
            p0[c] = q == 0 ? dv[c] : 0.0f;
            p1[c] = q == 1 ? dv[c] : 0.0f;
            matches += (q == 0) | (q == 1);
        }
    }
    return matches;
}

#else
#define FASTDL_POOL_HAVE_AVX2 0
static const int fastdl_pool_use_avx2 = 0;
static inline void fastdl_pool_init(int on) { (void)on; }
#endif

#endif /* FASTDL_POOL_AVX2_H */
