/* Pooling kernels for one value type; included twice by fastdl_pool.h with
 * FASTDL_POOL_T = float / double, FASTDL_POOL_SUF = f32 / f64. See fastdl_pool.h. */

#define T FASTDL_POOL_T
#define FASTDL_POOL_CAT2(a, b) a##_##b
#define FASTDL_POOL_CAT(a, b) FASTDL_POOL_CAT2(a, b)
#define FN(name) FASTDL_POOL_CAT(name, FASTDL_POOL_SUF)
#ifndef FASTDL_POOL_INLINE
#define FASTDL_POOL_INLINE static inline __attribute__((always_inline))
#endif

#if FASTDL_POOL_IS_F32 && FASTDL_POOL_HAVE_AVX2
#define FASTDL_POOL_AVX2_PATH fastdl_pool_use_avx2
#else
#define FASTDL_POOL_AVX2_PATH 0
#endif

/* v replaces the running maximum b (values only): v larger, or v NaN. */
#define FASTDL_POOL_TAKES(v, b) (((v) > (b)) | ((v) != (v)))
/* v is "greater" than b in the NaN-is-largest order; "tie" is equality in that order. */
#define FASTDL_POOL_GT(v, b) (((v) > (b)) | (((v) != (v)) & ((b) == (b))))
#define FASTDL_POOL_TIE(v, b) (((v) == (b)) | (((v) != (v)) & ((b) != (b))))

/* --- forward building blocks ---------------------------------------------------------- */

/* vb[e] = max over rows r0..r1-1 of x[r*L + e] (NaN propagates). r1 > r0. */
FASTDL_POOL_INLINE void FN(pool_vmax)(const T *FASTDL_RESTRICT x, int64_t L, int64_t r0,
                                      int64_t r1, T *FASTDL_RESTRICT vb)
{
    const T *a = x + r0 * L;
    if (r1 - r0 == 1) {
        memcpy(vb, a, (size_t)L * sizeof(T));
        return;
    }
    const T *b = a + L;
    if (r1 - r0 == 2) {
        for (int64_t e = 0; e < L; e++) {
            const T u = a[e], v = b[e];
            vb[e] = FASTDL_POOL_TAKES(v, u) ? v : u;
        }
        return;
    }
    const T *c = b + L;
    for (int64_t e = 0; e < L; e++) {
        const T u = a[e], v = b[e], w = c[e];
        const T m = FASTDL_POOL_TAKES(v, u) ? v : u;
        vb[e] = FASTDL_POOL_TAKES(w, m) ? w : m;
    }
    for (int64_t r = r0 + 3; r < r1; r++) {
        const T *row = x + r * L;
        for (int64_t e = 0; e < L; e++) {
            const T v = row[e], m = vb[e];
            vb[e] = FASTDL_POOL_TAKES(v, m) ? v : m;
        }
    }
}

/* As pool_vmax, and rb[e] = the first row holding that maximum. */
FASTDL_POOL_INLINE void FN(pool_vmax_rows)(const T *FASTDL_RESTRICT x, int64_t L, int64_t r0,
                                           int64_t r1, T *FASTDL_RESTRICT vb,
                                           int32_t *FASTDL_RESTRICT rb)
{
    const T *a = x + r0 * L;
    if (r1 - r0 == 1) {
        memcpy(vb, a, (size_t)L * sizeof(T));
        for (int64_t e = 0; e < L; e++) rb[e] = (int32_t)r0;
        return;
    }
    const T *b = a + L;
    const int32_t ra = (int32_t)r0, rbb = (int32_t)(r0 + 1);
    for (int64_t e = 0; e < L; e++) {
        const T u = a[e], v = b[e];
        const int t = FASTDL_POOL_GT(v, u);
        vb[e] = t ? v : u;
        rb[e] = t ? rbb : ra;
    }
    for (int64_t r = r0 + 2; r < r1; r++) {
        const T *row = x + r * L;
        const int32_t rr = (int32_t)r;
        for (int64_t e = 0; e < L; e++) {
            const T v = row[e], m = vb[e];
            const int t = FASTDL_POOL_GT(v, m);
            vb[e] = t ? v : m;
            rb[e] = t ? rr : rb[e];
        }
    }
}

/* One plane row (C == 1): y[o] = max_j vbp[o*S + j], S a compile-time stride when inlined. */
FASTDL_POOL_INLINE void FN(pool_hmax_plane)(const T *FASTDL_RESTRICT vbp, int64_t OW,
                                            int64_t kw, int64_t S, T *FASTDL_RESTRICT y)
{
    if (kw == 2) {
        for (int64_t o = 0; o < OW; o++) {
            const T u = vbp[o * S], v = vbp[o * S + 1];
            y[o] = FASTDL_POOL_TAKES(v, u) ? v : u;
        }
        return;
    }
    if (kw == 3) {
        for (int64_t o = 0; o < OW; o++) {
            const T u = vbp[o * S], v = vbp[o * S + 1], w = vbp[o * S + 2];
            const T m = FASTDL_POOL_TAKES(v, u) ? v : u;
            y[o] = FASTDL_POOL_TAKES(w, m) ? w : m;
        }
        return;
    }
    for (int64_t o = 0; o < OW; o++) y[o] = vbp[o * S];
    for (int64_t j = 1; j < kw; j++) {
        for (int64_t o = 0; o < OW; o++) {
            const T v = vbp[o * S + j], m = y[o];
            y[o] = FASTDL_POOL_TAKES(v, m) ? v : m;
        }
    }
}

/* Horizontal max of the padded row buffer into one output row (values only). */
FASTDL_POOL_INLINE void FN(pool_hmax)(const T *FASTDL_RESTRICT vbp, const fastdl_pool_geom *g,
                                      T *FASTDL_RESTRICT y)
{
    const int64_t OW = g->OW, C = g->C, kw = g->kw, sw = g->sw;
    if (C == 1) {
        if (sw == 1) FN(pool_hmax_plane)(vbp, OW, kw, 1, y);
        else if (sw == 2) FN(pool_hmax_plane)(vbp, OW, kw, 2, y);
        else FN(pool_hmax_plane)(vbp, OW, kw, sw, y);
        return;
    }
    for (int64_t o = 0; o < OW; o++) {
        const T *s = vbp + o * sw * C;
        T *out = y + o * C;
        memcpy(out, s, (size_t)C * sizeof(T));
        for (int64_t j = 1; j < kw; j++) {
            const T *sj = s + j * C;
            for (int64_t c = 0; c < C; c++) {
                const T v = sj[c], m = out[c];
                out[c] = FASTDL_POOL_TAKES(v, m) ? v : m;
            }
        }
    }
}

/* Candidate (v, r) at window column j replaces the best (b, rr): larger in the NaN-is-largest
 * order, or tied and from an earlier row (first maximum in row-major window order). */
#define FASTDL_POOL_HSTEP(v, r, j, yv, br, bc)                                               \
    do {                                                                                      \
        const T b_ = (yv);                                                                    \
        const int32_t rr_ = (br);                                                             \
        const int t_ = FASTDL_POOL_GT(v, b_) | (FASTDL_POOL_TIE(v, b_) & ((r) < rr_));        \
        (yv) = t_ ? (v) : b_;                                                                 \
        (br) = t_ ? (r) : rr_;                                                                \
        (bc) = t_ ? (int32_t)(j) : (bc);                                                      \
    } while (0)

FASTDL_POOL_INLINE void FN(pool_hmax_rows_plane)(const T *FASTDL_RESTRICT vbp,
                                                 const int32_t *FASTDL_RESTRICT rbp,
                                                 int64_t OW, int64_t kw, int64_t S,
                                                 T *FASTDL_RESTRICT y,
                                                 int32_t *FASTDL_RESTRICT br,
                                                 int32_t *FASTDL_RESTRICT bc)
{
    for (int64_t o = 0; o < OW; o++) {
        y[o] = vbp[o * S];
        br[o] = rbp[o * S];
        bc[o] = 0;
    }
    for (int64_t j = 1; j < kw; j++) {
        for (int64_t o = 0; o < OW; o++) {
            const T v = vbp[o * S + j];
            const int32_t r = rbp[o * S + j];
            FASTDL_POOL_HSTEP(v, r, j, y[o], br[o], bc[o]);
        }
    }
}

/* Horizontal max with the argmax: y, and per value the row br and window column bc. */
FASTDL_POOL_INLINE void FN(pool_hmax_rows)(const T *FASTDL_RESTRICT vbp,
                                           const int32_t *FASTDL_RESTRICT rbp,
                                           const fastdl_pool_geom *g, T *FASTDL_RESTRICT y,
                                           int32_t *FASTDL_RESTRICT br,
                                           int32_t *FASTDL_RESTRICT bc)
{
    const int64_t OW = g->OW, C = g->C, kw = g->kw, sw = g->sw;
    if (C == 1) {
        if (sw == 1) FN(pool_hmax_rows_plane)(vbp, rbp, OW, kw, 1, y, br, bc);
        else if (sw == 2) FN(pool_hmax_rows_plane)(vbp, rbp, OW, kw, 2, y, br, bc);
        else FN(pool_hmax_rows_plane)(vbp, rbp, OW, kw, sw, y, br, bc);
        return;
    }
    for (int64_t o = 0; o < OW; o++) {
        const T *s = vbp + o * sw * C;
        const int32_t *sr = rbp + o * sw * C;
        T *oy = y + o * C;
        int32_t *obr = br + o * C, *obc = bc + o * C;
        for (int64_t c = 0; c < C; c++) {
            oy[c] = s[c];
            obr[c] = sr[c];
            obc[c] = 0;
        }
        for (int64_t j = 1; j < kw; j++) {
            const T *sj = s + j * C;
            const int32_t *srj = sr + j * C;
            for (int64_t c = 0; c < C; c++) {
                const T v = sj[c];
                const int32_t r = srj[c];
                FASTDL_POOL_HSTEP(v, r, j, oy[c], obr[c], obc[c]);
            }
        }
    }
}

/* Set the padding pixels of the row buffers: `value` (and row INT32_MAX for the argmax). */
FASTDL_POOL_INLINE void FN(pool_set_pads)(const fastdl_pool_geom *g, fastdl_pool_ws *ws,
                                          T value)
{
    const int64_t C = g->C, left = g->pw * C, right0 = (g->pw + g->W) * C;
    const int64_t end = (g->W + 2 * g->pw) * C;
    T *vbp = (T *)ws->vb;
    for (int64_t e = 0; e < left; e++) {
        vbp[e] = value;
        ws->rb[e] = INT32_MAX;
    }
    for (int64_t e = right0; e < end; e++) {
        vbp[e] = value;
        ws->rb[e] = INT32_MAX;
    }
}

/* Max pooling of output row oh of one image (plane) x into y (OW*C values) and, if idx is
 * not NULL, the flat h*W + w index of each first maximum. Pads must be set (-inf). */
FASTDL_POOL_INLINE void FN(pool_max_row)(const T *x, const fastdl_pool_geom *g, int64_t oh,
                                         T *y, int64_t *idx, fastdl_pool_ws *ws)
{
    const int64_t C = g->C, L = g->W * C;
    const int64_t r0 = fastdl_pool_max64(oh * g->sh - g->ph, 0);
    const int64_t r1 = fastdl_pool_min64(oh * g->sh - g->ph + g->kh, g->H);
    T *vbp = (T *)ws->vb;
#if FASTDL_POOL_IS_F32 && FASTDL_POOL_HAVE_AVX2
    if (FASTDL_POOL_AVX2_PATH) {
        if (C == 1 && fastdl_pool_tiled2(g)) {
            if (idx == NULL)
                fastdl_pool_2x2_row_avx2(x + r0 * L, x + (r0 + 1) * L, y, g->OW, 1, 1.0f);
            else
                fastdl_pool_max2x2_idx_row_avx2(x + r0 * L, x + (r0 + 1) * L, y, idx, g->OW,
                                                r0, g->W);
            return;
        }
        if (idx == NULL && C > 1 && fastdl_pool_tiled2(g)) {
            fastdl_pool_2x2_pix_avx2(x + r0 * L, x + (r0 + 1) * L, y, g->OW, C, 1);
            return;
        }
        if (idx == NULL && C > 1) {
            fastdl_pool_direct_pix_avx2(x, g->W, r0, r1, g->OW, C, g->kw, g->sw, g->pw, 1,
                                        1.0f, y);
            return;
        }
        if (idx == NULL) {
            fastdl_pool_vmax_avx2(x, L, r0, r1, vbp + g->pw * C);
            if (C > 1) fastdl_pool_hpix_avx2(vbp, g->OW, C, g->kw, g->sw, 1, y);
            else if (g->sw <= 2) fastdl_pool_hplane_avx2(vbp, g->OW, g->kw, g->sw, 1, y);
            else FN(pool_hmax)(vbp, g, y);
            return;
        }
        fastdl_pool_vmax_rows_avx2(x, L, r0, r1, vbp + g->pw * C, ws->rb + g->pw * C);
        if (fastdl_pool_hmax_idx_avx2(vbp, ws->rb, g->OW, C, g->kw, g->sw, g->pw, g->W, y, idx))
            return;
        FN(pool_hmax_rows)(vbp, ws->rb, g, y, ws->br, ws->bc);
        goto indices;
    }
#endif
    if (idx == NULL) {
        FN(pool_vmax)(x, L, r0, r1, vbp + g->pw * C);
        FN(pool_hmax)(vbp, g, y);
        return;
    }
    FN(pool_vmax_rows)(x, L, r0, r1, vbp + g->pw * C, ws->rb + g->pw * C);
    FN(pool_hmax_rows)(vbp, ws->rb, g, y, ws->br, ws->bc);
#if FASTDL_POOL_IS_F32 && FASTDL_POOL_HAVE_AVX2
indices:;
#endif
    const int64_t W = g->W, OW = g->OW, sw = g->sw, pw = g->pw;
    const int32_t *br = ws->br, *bc = ws->bc;
    for (int64_t o = 0; o < OW; o++) {
        const int64_t col0 = o * sw - pw;
        for (int64_t c = 0; c < C; c++)
            idx[o * C + c] = (int64_t)br[o * C + c] * W + col0 + bc[o * C + c];
    }
}

/* --- average forward -------------------------------------------------------------------- */

/* vb[e] = sum over rows r0..r1-1 of x[r*L + e]. */
FASTDL_POOL_INLINE void FN(pool_vsum)(const T *FASTDL_RESTRICT x, int64_t L, int64_t r0,
                                      int64_t r1, T *FASTDL_RESTRICT vb)
{
    const T *a = x + r0 * L;
    if (r1 - r0 == 1) {
        memcpy(vb, a, (size_t)L * sizeof(T));
        return;
    }
    const T *b = a + L;
    for (int64_t e = 0; e < L; e++) vb[e] = a[e] + b[e];
    for (int64_t r = r0 + 2; r < r1; r++) {
        const T *row = x + r * L;
        for (int64_t e = 0; e < L; e++) vb[e] += row[e];
    }
}

FASTDL_POOL_INLINE void FN(pool_hsum_plane)(const T *FASTDL_RESTRICT vbp, int64_t OW,
                                            int64_t kw, int64_t S, T *FASTDL_RESTRICT y)
{
    if (kw == 2) {
        for (int64_t o = 0; o < OW; o++) y[o] = vbp[o * S] + vbp[o * S + 1];
        return;
    }
    for (int64_t o = 0; o < OW; o++) y[o] = vbp[o * S];
    for (int64_t j = 1; j < kw; j++)
        for (int64_t o = 0; o < OW; o++) y[o] += vbp[o * S + j];
}

/* 1 if every value of a[0..n) is finite. */
FASTDL_POOL_INLINE int FN(pool_all_finite)(const T *a, int64_t n)
{
    int bad = 0;
    for (int64_t e = 0; e < n; e++) {
        const T d = a[e] - a[e];
        bad |= !(d == d);
    }
    return !bad;
}

/* Number of real (unpadded) rows / columns of window o. */
static inline int64_t FN(pool_real)(int64_t o, int64_t k, int64_t s, int64_t p, int64_t n)
{
    const int64_t a = o * s - p;
    return fastdl_pool_min64(a + k, n) - fastdl_pool_max64(a, 0);
}

#if FASTDL_POOL_IS_F32
/* Average of output row oh, accumulated in double (the float32 fallback: no overflow). */
static void FN(pool_avg_row_exact)(const T *x, const fastdl_pool_geom *g, int64_t oh, T *y,
                                   int count_include_pad)
{
    const int64_t C = g->C, W = g->W;
    const int64_t r0 = fastdl_pool_max64(oh * g->sh - g->ph, 0);
    const int64_t r1 = fastdl_pool_min64(oh * g->sh - g->ph + g->kh, g->H);
    for (int64_t o = 0; o < g->OW; o++) {
        const int64_t c0 = fastdl_pool_max64(o * g->sw - g->pw, 0);
        const int64_t c1 = fastdl_pool_min64(o * g->sw - g->pw + g->kw, W);
        const double div = count_include_pad ? (double)(g->kh * g->kw)
                                             : (double)((r1 - r0) * (c1 - c0));
        for (int64_t c = 0; c < C; c++) {
            double s = 0.0;
            for (int64_t r = r0; r < r1; r++)
                for (int64_t w = c0; w < c1; w++) s += (double)x[(r * W + w) * C + c];
            y[o * C + c] = (T)(s / div);
        }
    }
}
#endif

/* Average pooling of output row oh. Pads must be set (0). */
FASTDL_POOL_INLINE void FN(pool_avg_row)(const T *x, const fastdl_pool_geom *g, int64_t oh,
                                         T *y, int count_include_pad, fastdl_pool_ws *ws)
{
    const int64_t C = g->C, L = g->W * C, OW = g->OW, kw = g->kw, sw = g->sw;
    const int64_t r0 = fastdl_pool_max64(oh * g->sh - g->ph, 0);
    const int64_t r1 = fastdl_pool_min64(oh * g->sh - g->ph + g->kh, g->H);
    T *vbp = (T *)ws->vb;
#if FASTDL_POOL_IS_F32 && FASTDL_POOL_HAVE_AVX2
    if (FASTDL_POOL_AVX2_PATH) {
        if (C == 1 && fastdl_pool_tiled2(g)) {
            fastdl_pool_2x2_row_avx2(x + r0 * L, x + (r0 + 1) * L, y, OW, 0, 0.25f);
            if (!FN(pool_all_finite)(y, OW))
                FN(pool_avg_row_exact)(x, g, oh, y, count_include_pad);
            return;
        }
        if (C > 1 && fastdl_pool_tiled2(g)) {
            fastdl_pool_2x2_pix_avx2(x + r0 * L, x + (r0 + 1) * L, y, OW, C, 0);
            if (!FN(pool_all_finite)(y, OW * C))
                FN(pool_avg_row_exact)(x, g, oh, y, count_include_pad);
            return;
        }
        if (C > 1) {
            /* divisor kh*kw, or (without the padding) the window's real rows x columns */
            const int exact = count_include_pad || (g->ph == 0 && g->pw == 0);
            fastdl_pool_direct_pix_avx2(x, g->W, r0, r1, OW, C, kw, sw, g->pw, 0,
                                        exact ? 1.0f / (float)(g->kh * kw) : 0.0f, y);
            if (!FN(pool_all_finite)(y, OW * C))
                FN(pool_avg_row_exact)(x, g, oh, y, count_include_pad);
            return;
        }
        fastdl_pool_vsum_avx2(x, L, r0, r1, vbp + g->pw * C);
    } else
#endif
    FN(pool_vsum)(x, L, r0, r1, vbp + g->pw * C);
#if FASTDL_POOL_IS_F32 && FASTDL_POOL_HAVE_AVX2
    if (FASTDL_POOL_AVX2_PATH && (C > 1 || sw <= 2)) {
        if (C > 1) fastdl_pool_hpix_avx2(vbp, OW, C, kw, sw, 0, y);
        else fastdl_pool_hplane_avx2(vbp, OW, kw, sw, 0, y);
    } else
#endif
    if (C == 1) {
        if (sw == 1) FN(pool_hsum_plane)(vbp, OW, kw, 1, y);
        else if (sw == 2) FN(pool_hsum_plane)(vbp, OW, kw, 2, y);
        else FN(pool_hsum_plane)(vbp, OW, kw, sw, y);
    } else {
        for (int64_t o = 0; o < OW; o++) {
            const T *s = vbp + o * sw * C;
            T *out = y + o * C;
            memcpy(out, s, (size_t)C * sizeof(T));
            for (int64_t j = 1; j < kw; j++) {
                const T *sj = s + j * C;
                for (int64_t c = 0; c < C; c++) out[c] += sj[c];
            }
        }
    }
    /* divide by the window size (or by its real pixels) */
    if (count_include_pad || (g->ph == 0 && g->pw == 0)) {
        const T inv = (T)1 / (T)(g->kh * g->kw);
        for (int64_t e = 0; e < OW * C; e++) y[e] *= inv;
    } else {
        const int64_t rows = r1 - r0;
        for (int64_t o = 0; o < OW; o++) {
            const T inv = (T)1 / (T)(rows * FN(pool_real)(o, kw, sw, g->pw, g->W));
            for (int64_t c = 0; c < C; c++) y[o * C + c] *= inv;
        }
    }
#if FASTDL_POOL_IS_F32
    if (!FN(pool_all_finite)(y, OW * C)) FN(pool_avg_row_exact)(x, g, oh, y, count_include_pad);
#endif
}

/* --- forward tasks -------------------------------------------------------------------------- */

/* Max pooling task: one plane (NCHW) or one output row n*OH + oh (NHWC). */
FASTDL_CLONES static void FN(fastdl_maxpool_fwd)(const T *x, T *y, int64_t *idx,
                                                 const fastdl_pool_geom *g, int nhwc,
                                                 int64_t task, void *block)
{
    fastdl_pool_ws ws;
    fastdl_pool_ws_init(g, block, &ws);
    FN(pool_set_pads)(g, &ws, (T)-INFINITY);
    const int64_t OWC = g->OW * g->C;
    if (!nhwc) {
        const T *xp = x + task * g->H * g->W;
        T *yp = y + task * g->OH * g->OW;
        int64_t *ip = idx ? idx + task * g->OH * g->OW : NULL;
        for (int64_t oh = 0; oh < g->OH; oh++)
            FN(pool_max_row)(xp, g, oh, yp + oh * OWC, ip ? ip + oh * OWC : NULL, &ws);
    } else {
        const int64_t n = task / g->OH, oh = task % g->OH;
        FN(pool_max_row)(x + n * g->H * g->W * g->C, g, oh, y + task * OWC,
                         idx ? idx + task * OWC : NULL, &ws);
    }
}

/* Average pooling task: one plane (NCHW) or one output row (NHWC). */
FASTDL_CLONES static void FN(fastdl_avgpool_fwd)(const T *x, T *y, const fastdl_pool_geom *g,
                                                 int nhwc, int count_include_pad,
                                                 int64_t task, void *block)
{
    fastdl_pool_ws ws;
    fastdl_pool_ws_init(g, block, &ws);
    FN(pool_set_pads)(g, &ws, (T)0);
    const int64_t OWC = g->OW * g->C;
    if (!nhwc) {
        const T *xp = x + task * g->H * g->W;
        T *yp = y + task * g->OH * g->OW;
        for (int64_t oh = 0; oh < g->OH; oh++)
            FN(pool_avg_row)(xp, g, oh, yp + oh * OWC, count_include_pad, &ws);
    } else {
        const int64_t n = task / g->OH, oh = task % g->OH;
        FN(pool_avg_row)(x + n * g->H * g->W * g->C, g, oh, y + task * OWC,
                         count_include_pad, &ws);
    }
}

/* --- max backward ------------------------------------------------------------------------- */

/* NCHW 2x2 stride 2, no padding, with indices: every window writes its 4 dx values.
 * Returns 2 if an index is not inside its window (the caller then scatters the plane). */
FASTDL_POOL_INLINE int FN(pool_maxbwd_tiled2_idx)(const T *FASTDL_RESTRICT dy,
                                                  const int64_t *FASTDL_RESTRICT ip,
                                                  T *FASTDL_RESTRICT dx,
                                                  const fastdl_pool_geom *g)
{
    const int64_t W = g->W, OW = g->OW, OH = g->OH;
    for (int64_t oh = 0; oh < OH; oh++) {
        T *r0 = dx + 2 * oh * W, *r1 = r0 + W;
        const int64_t *ir = ip + oh * OW;
        const T *d = dy + oh * OW;
        const int64_t base = 2 * oh * W;
        int64_t bad = 0;
#if FASTDL_POOL_IS_F32 && FASTDL_POOL_HAVE_AVX2
        if (FASTDL_POOL_AVX2_PATH) {
            if (fastdl_pool_maxbwd2x2_row_avx2(ir, d, r0, r1, OW, 2 * oh, W)) return 2;
            for (int64_t w = 2 * OW; w < W; w++) r0[w] = r1[w] = (T)0;
            continue;
        }
#endif
        for (int64_t o = 0; o < OW; o++) {
            const int64_t i = ir[o] - base - 2 * o;
            const T v = d[o];
            r0[2 * o] = i == 0 ? v : (T)0;
            r0[2 * o + 1] = i == 1 ? v : (T)0;
            r1[2 * o] = i == W ? v : (T)0;
            r1[2 * o + 1] = i == W + 1 ? v : (T)0;
            bad |= (int64_t)((i != 0) & (i != 1) & (i != W) & (i != W + 1));
        }
        if (bad) return 2;
        for (int64_t w = 2 * OW; w < W; w++) r0[w] = r1[w] = (T)0;
    }
    if (2 * OH < g->H) memset(dx + 2 * OH * W, 0, (size_t)((g->H - 2 * OH) * W) * sizeof(T));
    return 0;
}

/* NCHW 2x2 stride 2, no padding, without indices: the argmax is recomputed per window. */
FASTDL_POOL_INLINE void FN(pool_maxbwd_tiled2)(const T *FASTDL_RESTRICT dy,
                                               const T *FASTDL_RESTRICT x,
                                               T *FASTDL_RESTRICT dx,
                                               const fastdl_pool_geom *g)
{
    const int64_t W = g->W, OW = g->OW, OH = g->OH;
    for (int64_t oh = 0; oh < OH; oh++) {
        T *r0 = dx + 2 * oh * W, *r1 = r0 + W;
        const T *x0 = x + 2 * oh * W, *x1 = x0 + W;
        const T *d = dy + oh * OW;
        for (int64_t o = 0; o < OW; o++) {
            const T a = x0[2 * o], b = x0[2 * o + 1], c = x1[2 * o], e = x1[2 * o + 1];
            T m = a;
            int k = 0, t;
            t = FASTDL_POOL_GT(b, m); m = t ? b : m; k = t ? 1 : k;
            t = FASTDL_POOL_GT(c, m); m = t ? c : m; k = t ? 2 : k;
            t = FASTDL_POOL_GT(e, m); k = t ? 3 : k;
            const T v = d[o];
            r0[2 * o] = k == 0 ? v : (T)0;
            r0[2 * o + 1] = k == 1 ? v : (T)0;
            r1[2 * o] = k == 2 ? v : (T)0;
            r1[2 * o + 1] = k == 3 ? v : (T)0;
        }
        for (int64_t w = 2 * OW; w < W; w++) r0[w] = r1[w] = (T)0;
    }
    if (2 * OH < g->H) memset(dx + 2 * OH * W, 0, (size_t)((g->H - 2 * OH) * W) * sizeof(T));
}

/* NCHW windows that tile the plane (stride == kernel, no padding), any size: every dx value
 * is written exactly once (its gradient or 0), no zeroing pass. The window indices come from
 * ip, or (ip NULL) are recomputed row by row into the workspace. Returns 2 if a given index
 * is not inside its window (the caller then scatters the plane). */
FASTDL_POOL_INLINE int FN(pool_maxbwd_tiled)(const T *FASTDL_RESTRICT dy, const T *x,
                                             const int64_t *ip, T *FASTDL_RESTRICT dx,
                                             const fastdl_pool_geom *g, fastdl_pool_ws *ws)
{
    const int64_t W = g->W, OW = g->OW, OH = g->OH, kh = g->kh, kw = g->kw;
    for (int64_t oh = 0; oh < OH; oh++) {
        const int64_t *ir;
        if (ip) {
            ir = ip + oh * OW;
        } else {
            FN(pool_max_row)(x, g, oh, (T *)ws->yrow, ws->ring, ws);
            ir = ws->ring;
        }
        const T *d = dy + oh * OW;
        int64_t hits = 0;
        for (int64_t r = oh * kh; r < (oh + 1) * kh; r++) {
            T *dr = dx + r * W;
            const int64_t base = r * W;
            if (kw == 3) {
                for (int64_t o = 0; o < OW; o++) {
                    const int64_t q = ir[o] - base - 3 * o;
                    const T v = d[o];
                    dr[3 * o] = q == 0 ? v : (T)0;
                    dr[3 * o + 1] = q == 1 ? v : (T)0;
                    dr[3 * o + 2] = q == 2 ? v : (T)0;
                    hits += (uint64_t)q < 3u;
                }
            } else {
                for (int64_t o = 0; o < OW; o++) {
                    const int64_t q = ir[o] - base - kw * o;
                    const T v = d[o];
                    for (int64_t j = 0; j < kw; j++) dr[kw * o + j] = q == j ? v : (T)0;
                    hits += (uint64_t)q < (uint64_t)kw;
                }
            }
            for (int64_t w = OW * kw; w < W; w++) dr[w] = (T)0;
        }
        if (hits != OW) return 2;    /* some index of this output row is outside its window */
    }
    if (OH * kh < g->H) memset(dx + OH * kh * W, 0, (size_t)((g->H - OH * kh) * W) * sizeof(T));
    return 0;
}

/* Max backward of one NCHW plane. Returns 1 if an index lies outside [0, H*W). */
FASTDL_CLONES static int FN(fastdl_maxpool_bwd_nchw)(const T *dy, const T *x,
                                                     const int64_t *idx, T *dx,
                                                     const fastdl_pool_geom *g,
                                                     int64_t plane, void *block)
{
    const int64_t HW = g->H * g->W, OHW = g->OH * g->OW, OW = g->OW;
    const T *dyp = dy + plane * OHW, *xp = x + plane * HW;
    const int64_t *ip = idx ? idx + plane * OHW : NULL;
    T *dxp = dx + plane * HW;
    if (fastdl_pool_tiled2(g)) {
#if FASTDL_POOL_IS_F32 && FASTDL_POOL_HAVE_AVX2
        if (ip == NULL && FASTDL_POOL_AVX2_PATH) {
            /* argmax of one output row into the workspace, then the row's 4 dx values */
            fastdl_pool_ws ws;
            fastdl_pool_ws_init(g, block, &ws);
            const int64_t W = g->W;
            for (int64_t oh = 0; oh < g->OH; oh++) {
                T *r0 = dxp + 2 * oh * W;
                fastdl_pool_max2x2_idx_row_avx2(xp + 2 * oh * W, xp + (2 * oh + 1) * W,
                                                (T *)ws.yrow, ws.ring, OW, 2 * oh, W);
                fastdl_pool_maxbwd2x2_row_avx2(ws.ring, dyp + oh * OW, r0, r0 + W, OW, 2 * oh, W);
                for (int64_t w = 2 * OW; w < W; w++) r0[w] = r0[W + w] = (T)0;
            }
            if (2 * g->OH < g->H)
                memset(dxp + 2 * g->OH * W, 0, (size_t)((g->H - 2 * g->OH) * W) * sizeof(T));
            return 0;
        }
#endif
        if (ip == NULL) {
            FN(pool_maxbwd_tiled2)(dyp, xp, dxp, g);
            return 0;
        }
        if (FN(pool_maxbwd_tiled2_idx)(dyp, ip, dxp, g) == 0) return 0;
        /* an index outside its window: scatter the plane like any other */
    }
    fastdl_pool_ws ws;
    fastdl_pool_ws_init(g, block, &ws);
    if (ip == NULL) FN(pool_set_pads)(g, &ws, (T)-INFINITY);
    if (!fastdl_pool_tiled2(g) && g->kh == g->sh && g->kw == g->sw && g->ph == 0 && g->pw == 0
        && FN(pool_maxbwd_tiled)(dyp, xp, ip, dxp, g, &ws) == 0)
        return 0;
    memset(dxp, 0, (size_t)HW * sizeof(T));
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const int64_t *ir;
        if (ip) {
            ir = ip + oh * OW;
        } else {
            FN(pool_max_row)(xp, g, oh, (T *)ws.yrow, ws.ring, &ws);
            ir = ws.ring;
        }
        const T *d = dyp + oh * OW;
        for (int64_t o = 0; o < OW; o++) {
            const int64_t p = ir[o];
            if ((uint64_t)p >= (uint64_t)HW) return 1;
            dxp[p] += d[o];
        }
    }
    return 0;
}

/* Max backward of one band of input rows of one NHWC image, gathering from the covering
 * windows. task = n * bands + b. Returns how many (output, channel) indices matched a pixel
 * of the band: over all tasks, N*OH*OW*C exactly when every index lies in its window. */
FASTDL_CLONES static int64_t FN(fastdl_maxpool_bwd_nhwc)(const T *dy, const T *x,
                                                         const int64_t *idx, T *dx,
                                                         const fastdl_pool_geom *g,
                                                         int64_t task, void *block)
{
    const int64_t H = g->H, W = g->W, C = g->C, OH = g->OH, OW = g->OW;
    const int64_t OWC = OW * C, bands = (H + g->band - 1) / g->band;
    const int64_t n = task / bands, b = task % bands;
    const int64_t h0 = b * g->band, h1 = fastdl_pool_min64(H, h0 + g->band);
    const int64_t R = fastdl_pool_ring_rows(g);
    const T *dyi = dy + n * OH * OWC, *xi = x + n * H * W * C;
    const int64_t *ii = idx ? idx + n * OH * OWC : NULL;
    T *dxi = dx + n * H * W * C;
    if (ii != NULL && fastdl_pool_tiled2(g)) {
        /* 2x2 windows tiling the image: input row h takes its values from output row h/2
         * only; each dx value is written once (gradient or 0), each index read twice. */
        int64_t matches = 0;
        for (int64_t h = h0; h < h1; h++) {
            T *dxr = dxi + h * W * C;
            const int64_t oh = h / 2;
            if (oh >= OH) {
                memset(dxr, 0, (size_t)(W * C) * sizeof(T));
                continue;
            }
            const int64_t *ir = ii + oh * OWC;
            const T *d = dyi + oh * OWC;
            const int64_t rel = h * W;       /* flat offset of the row's pixel 0 */
#if FASTDL_POOL_IS_F32 && FASTDL_POOL_HAVE_AVX2
            if (FASTDL_POOL_AVX2_PATH) {
                matches += fastdl_pool_maxbwd2x2_pix_avx2(ir, d, dxr, OW, C, rel);
            } else
#endif
            for (int64_t o = 0; o < OW; o++) {
                T *p0 = dxr + 2 * o * C, *p1 = p0 + C;
                for (int64_t c = 0; c < C; c++) {
                    const int64_t q = ir[o * C + c] - rel - 2 * o;
                    const T v = d[o * C + c];
                    p0[c] = q == 0 ? v : (T)0;
                    p1[c] = q == 1 ? v : (T)0;
                    matches += (q == 0) | (q == 1);
                }
            }
            if (2 * OW < W) memset(dxr + 2 * OW * C, 0, (size_t)((W - 2 * OW) * C) * sizeof(T));
        }
        return matches;
    }
    fastdl_pool_ws ws;
    fastdl_pool_ws_init(g, block, &ws);
    if (ii == NULL) FN(pool_set_pads)(g, &ws, (T)-INFINITY);
    for (int64_t w = 0; w < W; w++)
        fastdl_pool_covering(w, g->kw, g->sw, g->pw, OW, &ws.wa[w], &ws.wb[w]);
    int64_t matches = 0, next = 0;   /* next: first output row not yet in the ring */
    for (int64_t h = h0; h < h1; h++) {
        int64_t oa, ob;
        fastdl_pool_covering(h, g->kh, g->sh, g->ph, OH, &oa, &ob);
        T *dxr = dxi + h * W * C;
        if (oa > ob) {
            memset(dxr, 0, (size_t)(W * C) * sizeof(T));
            continue;
        }
        const int64_t nr = ob - oa + 1;
        if (next < oa) next = oa;
        for (int64_t k = 0; k < nr; k++) {
            const int64_t oh = oa + k;
            ws.drows[k] = (const char *)(dyi + oh * OWC);
            if (ii) {
                ws.irows[k] = ii + oh * OWC;
            } else {
                int64_t *slot = ws.ring + (oh % R) * OWC;
                if (oh >= next) {
                    FN(pool_max_row)(xi, g, oh, (T *)ws.yrow, slot, &ws);
                    next = oh + 1;
                }
                ws.irows[k] = slot;
            }
        }
        for (int64_t w = 0; w < W; w++) {
            T *FASTDL_RESTRICT out = dxr + w * C;
            const int64_t wa = ws.wa[w], wb = ws.wb[w], pos = h * W + w;
            if (wa > wb) {
                memset(out, 0, (size_t)C * sizeof(T));
                continue;
            }
            int first = 1;
            for (int64_t k = 0; k < nr; k++) {
                for (int64_t o = wa; o <= wb; o++) {
                    const int64_t *FASTDL_RESTRICT ir = ws.irows[k] + o * C;
                    const T *FASTDL_RESTRICT d = (const T *)ws.drows[k] + o * C;
#if FASTDL_POOL_IS_F32 && FASTDL_POOL_HAVE_AVX2
                    if (FASTDL_POOL_AVX2_PATH) {
                        matches += fastdl_pool_gather_avx2(ir, d, out, C, pos, first);
                        first = 0;
                        continue;
                    }
#endif
                    if (first) {
                        for (int64_t c = 0; c < C; c++) {
                            const int64_t m = ir[c] == pos;
                            out[c] = m ? d[c] : (T)0;
                            matches += m;
                        }
                        first = 0;
                    } else {
                        for (int64_t c = 0; c < C; c++) {
                            const int64_t m = ir[c] == pos;
                            out[c] += m ? d[c] : (T)0;
                            matches += m;
                        }
                    }
                }
            }
        }
    }
    return matches;
}

/* Max backward of one NHWC image by scattering dy at the given indices (the fallback when
 * some index lies outside its window). Returns 1 if an index lies outside [0, H*W). */
FASTDL_CLONES static int FN(fastdl_maxpool_bwd_nhwc_scatter)(const T *dy, const int64_t *idx,
                                                             T *dx,
                                                             const fastdl_pool_geom *g,
                                                             int64_t n)
{
    const int64_t HW = g->H * g->W, C = g->C, M = g->OH * g->OW;
    const T *d = dy + n * M * C;
    const int64_t *ip = idx + n * M * C;
    T *dxi = dx + n * HW * C;
    memset(dxi, 0, (size_t)(HW * C) * sizeof(T));
    for (int64_t m = 0; m < M; m++) {
        for (int64_t c = 0; c < C; c++) {
            const int64_t p = ip[m * C + c];
            if ((uint64_t)p >= (uint64_t)HW) return 1;
            dxi[p * C + c] += d[m * C + c];
        }
    }
    return 0;
}

/* --- average backward ------------------------------------------------------------------- */

#if FASTDL_POOL_IS_F32
/* dx of input row h, accumulated in double (the float32 fallback: no overflow). */
static void FN(pool_avg_bwd_row_exact)(const T *dy, const fastdl_pool_geom *g, int64_t h,
                                       int count_include_pad, T *dxr)
{
    const int64_t C = g->C, OW = g->OW;
    int64_t oa, ob;
    fastdl_pool_covering(h, g->kh, g->sh, g->ph, g->OH, &oa, &ob);
    for (int64_t w = 0; w < g->W; w++) {
        int64_t wa, wb;
        fastdl_pool_covering(w, g->kw, g->sw, g->pw, OW, &wa, &wb);
        for (int64_t c = 0; c < C; c++) {
            double s = 0.0;
            for (int64_t oh = oa; oh <= ob; oh++) {
                for (int64_t o = wa; o <= wb; o++) {
                    const double div = count_include_pad ? (double)(g->kh * g->kw)
                        : (double)(FN(pool_real)(oh, g->kh, g->sh, g->ph, g->H)
                                   * FN(pool_real)(o, g->kw, g->sw, g->pw, g->W));
                    s += (double)dy[(oh * OW + o) * C + c] / div;
                }
            }
            dxr[w * C + c] = (T)s;
        }
    }
}
#endif

/* dx of input row h of one image (plane) from dy (its OH x OW x C gradient). ws->dv holds the
 * column scales (per output column), ws->wa / wb the covering output columns. */
FASTDL_POOL_INLINE void FN(pool_avg_bwd_row)(const T *dy, const fastdl_pool_geom *g, int64_t h,
                                             int count_include_pad, T *FASTDL_RESTRICT dxr,
                                             fastdl_pool_ws *ws)
{
    const int64_t C = g->C, W = g->W, OW = g->OW, OWC = OW * C;
    int64_t oa, ob;
    fastdl_pool_covering(h, g->kh, g->sh, g->ph, g->OH, &oa, &ob);
    if (oa > ob) {
        memset(dxr, 0, (size_t)(W * C) * sizeof(T));
        return;
    }
    const int exclude = !count_include_pad && (g->ph != 0 || g->pw != 0);
    const T *cs = (const T *)ws->dv;
    T *FASTDL_RESTRICT t = (T *)ws->t;
    /* vertical: t = sum over covering rows of dy * row scale * column scale */
    for (int64_t oh = oa; oh <= ob; oh++) {
        const T *d = dy + oh * OWC;
        const T rs = exclude ? (T)1 / (T)FN(pool_real)(oh, g->kh, g->sh, g->ph, g->H) : (T)1;
        if (C == 1) {
            if (oh == oa) for (int64_t o = 0; o < OW; o++) t[o] = d[o] * rs;
            else for (int64_t o = 0; o < OW; o++) t[o] += d[o] * rs;
        } else if (oh == oa) {
            for (int64_t e = 0; e < OWC; e++) t[e] = d[e] * rs;
        } else {
            for (int64_t e = 0; e < OWC; e++) t[e] += d[e] * rs;
        }
    }
    if (C == 1) {
        for (int64_t o = 0; o < OW; o++) t[o] *= cs[o];
    } else {
        for (int64_t o = 0; o < OW; o++) {
            const T s = cs[o];
            for (int64_t c = 0; c < C; c++) t[o * C + c] *= s;
        }
    }
    /* horizontal: dx[w] = sum over covering columns */
    if (C == 1 && g->pw == 0 && g->kw == g->sw) {
        const int64_t kw = g->kw;
        if (kw == 2 && FASTDL_POOL_AVX2_PATH) {
#if FASTDL_POOL_IS_F32 && FASTDL_POOL_HAVE_AVX2
            fastdl_pool_dup2_avx2(t, dxr, OW);
#endif
        } else if (kw == 2) {
            for (int64_t o = 0; o < OW; o++) {
                const T v = t[o];
                dxr[2 * o] = v;
                dxr[2 * o + 1] = v;
            }
        } else {
            for (int64_t o = 0; o < OW; o++)
                for (int64_t j = 0; j < kw; j++) dxr[o * kw + j] = t[o];
        }
        for (int64_t w = OW * kw; w < W; w++) dxr[w] = (T)0;
    } else {
        for (int64_t w = 0; w < W; w++) {
            const int64_t wa = ws->wa[w], wb = ws->wb[w];
            T *out = dxr + w * C;
            if (wa > wb) {
                for (int64_t c = 0; c < C; c++) out[c] = (T)0;
                continue;
            }
            const T *s = t + wa * C;
            for (int64_t c = 0; c < C; c++) out[c] = s[c];
            for (int64_t o = wa + 1; o <= wb; o++) {
                const T *so = t + o * C;
                for (int64_t c = 0; c < C; c++) out[c] += so[c];
            }
        }
    }
#if FASTDL_POOL_IS_F32
    if (!FN(pool_all_finite)(dxr, W * C))
        FN(pool_avg_bwd_row_exact)(dy, g, h, count_include_pad, dxr);
#endif
}

/* Average backward task: one plane (NCHW, all rows) or one band of rows of one image (NHWC:
 * task = n * bands + b). */
FASTDL_CLONES static void FN(fastdl_avgpool_bwd)(const T *dy, T *dx, const fastdl_pool_geom *g,
                                                 int nhwc, int count_include_pad,
                                                 int64_t task, void *block)
{
    fastdl_pool_ws ws;
    fastdl_pool_ws_init(g, block, &ws);
    const int64_t H = g->H, W = g->W, C = g->C, OW = g->OW;
    const int exclude = !count_include_pad && (g->ph != 0 || g->pw != 0);
    T *cs = (T *)ws.dv;
    for (int64_t o = 0; o < OW; o++)
        cs[o] = exclude ? (T)1 / (T)FN(pool_real)(o, g->kw, g->sw, g->pw, W)
                        : (T)1 / (T)(g->kh * g->kw);
    for (int64_t w = 0; w < W; w++)
        fastdl_pool_covering(w, g->kw, g->sw, g->pw, OW, &ws.wa[w], &ws.wb[w]);
    int64_t n, h0, h1;
    if (!nhwc) {
        n = task;
        h0 = 0;
        h1 = H;
    } else {
        const int64_t bands = (H + g->band - 1) / g->band;
        n = task / bands;
        h0 = (task % bands) * g->band;
        h1 = fastdl_pool_min64(H, h0 + g->band);
    }
    const T *dyi = dy + n * g->OH * OW * C;
    T *dxi = dx + n * H * W * C;
    for (int64_t h = h0; h < h1; h++)
        FN(pool_avg_bwd_row)(dyi, g, h, count_include_pad, dxi + h * W * C, &ws);
}

/* --- global average pooling ------------------------------------------------------------- */

/* NCHW: task = plane, y[plane] = mean; NHWC: task = n * cblocks + cb over blocks of 64
 * channels. Sums in double. */
FASTDL_CLONES static void FN(fastdl_gap_fwd)(const T *x, T *y, const fastdl_pool_geom *g,
                                             int nhwc, int64_t task)
{
    const int64_t HW = g->H * g->W;
    if (!nhwc) {
        const T *p = x + task * HW;
        double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t e = 0;
        for (; e + 8 <= HW; e += 8)
            for (int k = 0; k < 8; k++) acc[k] += (double)p[e + k];
        double s = ((acc[0] + acc[4]) + (acc[1] + acc[5]))
                   + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for (; e < HW; e++) s += (double)p[e];
        y[task] = (T)(s / (double)HW);
        return;
    }
    const int64_t C = g->C, blocks = (C + 63) / 64;
    const int64_t n = task / blocks, c0 = (task % blocks) * 64;
    const int64_t nc = fastdl_pool_min64(64, C - c0);
    double acc[64];
    for (int64_t c = 0; c < nc; c++) acc[c] = 0.0;
    const T *p = x + n * HW * C + c0;
    for (int64_t e = 0; e < HW; e++) {
        const T *q = p + e * C;
        for (int64_t c = 0; c < nc; c++) acc[c] += (double)q[c];
    }
    for (int64_t c = 0; c < nc; c++) y[n * C + c0 + c] = (T)(acc[c] / (double)HW);
}

/* dx = share broadcast over each plane: NCHW task = plane, NHWC task = image. */
FASTDL_CLONES static void FN(fastdl_gap_bwd)(const T *share, T *dx, const fastdl_pool_geom *g,
                                             int nhwc, int64_t task)
{
    const int64_t HW = g->H * g->W;
    if (!nhwc) {
        const T v = share[task];
        T *p = dx + task * HW;
        for (int64_t e = 0; e < HW; e++) p[e] = v;
        return;
    }
    const int64_t C = g->C;
    const T *s = share + task * C;
    T *p = dx + task * HW * C;
    for (int64_t e = 0; e < HW; e++) memcpy(p + e * C, s, (size_t)C * sizeof(T));
}

#undef T
#undef FN
#undef FASTDL_POOL_AVX2_PATH
