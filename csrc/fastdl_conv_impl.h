/* One dtype's convolution kernels; included by fastdl_conv.h with FASTDL_CONV_T (float or
 * double), FASTDL_CONV_SFX (f32 / f64), FASTDL_CONV_NR and FASTDL_CONV_UKR defined.
 * No include guard on purpose. */
#define T FASTDL_CONV_T
#define MR FASTDL_CONV_MR
#define NR FASTDL_CONV_NR
#define KC FASTDL_CONV_KC
#define PC FASTDL_CONV_PC
#define FN_(name, sfx) fastdl_conv_##name##_##sfx
#define FN2(name, sfx) FN_(name, sfx)
#define FN(name) FN2(name, FASTDL_CONV_SFX)

/* A in MR-row panels: element (i, k) = src[i·rs + k·cs] (0 where mask ≤ 0; 0 past m). */
static void FN(pack_a)(T *dst, const T *src, const T *mask, int64_t rs, int64_t cs,
                       int64_t m, int64_t kc)
{
    for (int64_t i0 = 0; i0 < m; i0 += MR) {
        T *d = dst + (i0 / MR) * kc * MR;
        const int64_t mi = fastdl_conv_min(MR, m - i0);
        int64_t i = 0;
        for (; i < mi; i++) {
            const T *s = src + (i0 + i) * rs;
            if (mask) {
                const T *mk = mask + (i0 + i) * rs;
                for (int64_t k = 0; k < kc; k++)
                    d[k * MR + i] = mk[k * cs] > 0 ? s[k * cs] : (T)0;
            } else if (cs == 1) {
                for (int64_t k = 0; k < kc; k++)
                    d[k * MR + i] = s[k];
            } else {
                for (int64_t k = 0; k < kc; k++)
                    d[k * MR + i] = s[k * cs];
            }
        }
        for (; i < MR; i++)
            for (int64_t k = 0; k < kc; k++)
                d[k * MR + i] = 0;
    }
}

/* B in NR-column panels: element (k, j) = src[k·rs + j·cs] (0 where mask ≤ 0; 0 past n). */
static void FN(pack_b)(T *dst, const T *src, const T *mask, int64_t rs, int64_t cs,
                       int64_t kc, int64_t n)
{
    for (int64_t j0 = 0; j0 < n; j0 += NR) {
        T *d = dst + (j0 / NR) * kc * NR;
        const int64_t nj = fastdl_conv_min(NR, n - j0);
        for (int64_t k = 0; k < kc; k++) {
            const T *s = src + k * rs + j0 * cs;
            T *dk = d + k * NR;
            int64_t j = 0;
            if (mask) {
                const T *mk = mask + k * rs + j0 * cs;
                for (; j < nj; j++)
                    dk[j] = mk[j * cs] > 0 ? s[j * cs] : (T)0;
            } else if (cs == 1) {
                for (; j < nj; j++)
                    dk[j] = s[j];
            } else {
                for (; j < nj; j++)
                    dk[j] = s[j * cs];
            }
            for (; j < NR; j++)
                dk[j] = 0;
        }
    }
}

/* C[m×n] (=|+=) A·B over kc from packed panels; edge tiles go through a local tile. */
__attribute__((noinline)) static void FN(gemm)(int64_t m, int64_t n, int64_t kc, const T *ap, const T *bp, T *c,
                     int64_t ldc, int acc)
{
    T tmp[MR * FASTDL_CONV_NR_MAX];
    for (int64_t jr = 0; jr < n; jr += NR) {
        const int64_t nr = fastdl_conv_min(NR, n - jr);
        const T *b = bp + (jr / NR) * kc * NR;
        for (int64_t ir = 0; ir < m; ir += MR) {
            const int64_t mr = fastdl_conv_min(MR, m - ir);
            const T *a = ap + (ir / MR) * kc * MR;
            T *cc = c + ir * ldc + jr;
            if (mr == MR && nr == NR) {
                FASTDL_CONV_UKR(kc, a, b, cc, ldc, acc);
            } else {
                FASTDL_CONV_UKR(kc, a, b, tmp, NR, 0);
                for (int64_t i = 0; i < mr; i++)
                    for (int64_t j = 0; j < nr; j++)
                        cc[i * ldc + j] = acc ? cc[i * ldc + j] + tmp[i * NR + j] : tmp[i * NR + j];
            }
        }
    }
}

/* Pack the weights once per call.
 * pass 0 (forward): NCHW A-format of W[K×CRS]; NHWC B-format of W[RSC×K].
 * pass 1 (input grad): NCHW A-format of Wᵀ[CRS×K]; NHWC B-format of Wᵀ[K×RSC].
 * Blocks of KC along the reduction follow each other (block at k0 starts at k0·rows_pad). */
static void FN(pack_weights)(const fastdl_conv_geom *g, int pass, const T *w, T *dst)
{
    const int64_t K = g->K, CRS = g->CRS;
    if (pass == 0) {
        for (int64_t k0 = 0; k0 < CRS; k0 += KC) {
            const int64_t kc = fastdl_conv_min(KC, CRS - k0);
            if (g->nhwc)
                FN(pack_b)(dst + k0 * fastdl_conv_ceil(K, NR), w + k0 * K, NULL, K, 1, kc, K);
            else
                FN(pack_a)(dst + k0 * fastdl_conv_ceil(K, MR), w + k0, NULL, CRS, 1, K, kc);
        }
    } else {
        for (int64_t k0 = 0; k0 < K; k0 += KC) {
            const int64_t kc = fastdl_conv_min(KC, K - k0);
            if (g->nhwc)
                FN(pack_b)(dst + k0 * fastdl_conv_ceil(CRS, NR), w + k0, NULL, 1, K, kc, CRS);
            else
                FN(pack_a)(dst + k0 * fastdl_conv_ceil(CRS, MR), w + k0 * CRS, NULL, 1, CRS,
                           CRS, kc);
        }
    }
}

/* Pass-0 packing (NHWC: NR-column panels in blocks of KC rows) of the transpose of a
 * row-major K × CRS matrix — the weights of a dense layer, (out, in), used as the 1×1
 * NHWC convolution (1, 1, in, out) without a transposed copy. */
static void FN(pack_weights_t)(const fastdl_conv_geom *g, const T *wt, T *dst)
{
    const int64_t K = g->K, CRS = g->CRS;
    for (int64_t k0 = 0; k0 < CRS; k0 += KC)
        FN(pack_b)(dst + k0 * fastdl_conv_ceil(K, NR), wt + k0, NULL, 1, CRS,
                   fastdl_conv_min(KC, CRS - k0), K);
}

/* Elements of the packed weights of pass 0 / 1. */
static int64_t FN(packed_weights_size)(const fastdl_conv_geom *g, int pass)
{
    const int64_t K = g->K, CRS = g->CRS;
    if (pass == 0)
        return CRS * (g->nhwc ? fastdl_conv_ceil(K, NR) : fastdl_conv_ceil(K, MR));
    return K * (g->nhwc ? fastdl_conv_ceil(CRS, NR) : fastdl_conv_ceil(CRS, MR));
}

/* Input gradient of one task (image, row block): dx += col2im(Wᵀ·dY) for its pixels.
 * dx must be zeroed before the first task; mask (the forward output y) may be NULL. */
static void FN(input_grad_task)(const fastdl_conv_geom *g, const T *dy, const T *mask,
                                const T *wtp, T *dx, int64_t task, T *ws)
{
    int64_t ih0[PC], iw0[PC];
    const uint64_t H = (uint64_t)g->H, W = (uint64_t)g->W;
    const int64_t K = g->K, P = g->P, CRS = g->CRS, xs_h = g->xs_h, xs_w = g->xs_w, sw = g->sw;
    const int64_t n = task / g->row_blocks, rb = task % g->row_blocks;
    const int64_t oh0 = rb * g->rows_per_task;
    const int64_t oh1 = fastdl_conv_min(g->Ho, oh0 + g->rows_per_task);
    const T *dyn = dy + n * K * P;
    const T *mkn = mask ? mask + n * K * P : NULL;
    T *dxn = dx + n * g->xs_n;
    for (int64_t p0 = oh0 * g->Wo; p0 < oh1 * g->Wo; p0 += PC) {
        const int64_t np = fastdl_conv_min(PC, oh1 * g->Wo - p0);
        fastdl_conv_pixel_table(g, p0, np, ih0, iw0);
        int64_t seg[PC + 1], nseg = 0;
        seg[nseg++] = 0;
        for (int64_t p = 1; p < np; p++)
            if (ih0[p] != ih0[p - 1])
                seg[nseg++] = p;
        seg[nseg] = np;
        if (!g->nhwc) {
            /* B = dY[K × np] (all K blocks), then tiles of MB rows of Dcol. */
            const int64_t npad = fastdl_conv_ceil(np, NR), crspad = fastdl_conv_ceil(CRS, MR);
            T *bp = ws, *ct = ws + K * npad;
            for (int64_t k0 = 0; k0 < K; k0 += KC)
                FN(pack_b)(bp + k0 * npad, dyn + k0 * P + p0, mkn ? mkn + k0 * P + p0 : NULL,
                           P, 1, fastdl_conv_min(KC, K - k0), np);
            for (int64_t m0 = 0; m0 < CRS; m0 += FASTDL_CONV_MB) {
                const int64_t mb = fastdl_conv_min(FASTDL_CONV_MB, CRS - m0);
                for (int64_t k0 = 0; k0 < K; k0 += KC) {
                    const int64_t kc = fastdl_conv_min(KC, K - k0);
                    FN(gemm)(mb, np, kc, wtp + k0 * crspad + m0 * kc, bp + k0 * npad, ct, np,
                             k0 > 0);
                }
                for (int64_t i = 0; i < mb; i++) {
                    const int64_t kk = m0 + i, r = g->kk_r[kk], s = g->kk_s[kk];
                    T *dxk = dxn + g->kk_off[kk];
                    const T *ci = ct + i * np;
                    for (int64_t q = 0; q < nseg; q++) {
                        const int64_t a = seg[q], b = seg[q + 1];
                        const int64_t ih = ih0[a] + r;
                        if ((uint64_t)ih >= H)
                            continue;
                        T *row = dxk + ih * xs_h;
                        const int64_t iwa = iw0[a] + s;
                        if (iwa >= (int64_t)W)
                            continue;
                        const int64_t last = iwa + (b - 1 - a) * sw;
                        int64_t pa = iwa < 0 ? a + (-iwa + sw - 1) / sw : a;
                        int64_t pb = last >= (int64_t)W ? a + ((int64_t)W - 1 - iwa) / sw + 1 : b;
                        if (pa >= pb)
                            continue;
                        T *dp = row + (iwa + (pa - a) * sw) * xs_w;
                        const int64_t step = sw * xs_w;
                        for (int64_t p = pa; p < pb; p++, dp += step)
                            *dp += ci[p];
                    }
                }
            }
        } else {
            /* A = dY[np × K] (all K blocks), then tiles of NB columns of Dcol. */
            const int64_t npad = fastdl_conv_ceil(np, MR), crspad = fastdl_conv_ceil(CRS, NR);
            T *ap = ws, *ct = ws + npad * K;
            for (int64_t k0 = 0; k0 < K; k0 += KC)
                FN(pack_a)(ap + k0 * npad, dyn + p0 * K + k0, mkn ? mkn + p0 * K + k0 : NULL,
                           K, 1, np, fastdl_conv_min(KC, K - k0));
            for (int64_t c0 = 0; c0 < CRS; c0 += FASTDL_CONV_NB) {
                const int64_t nb = fastdl_conv_min(FASTDL_CONV_NB, CRS - c0);
                for (int64_t k0 = 0; k0 < K; k0 += KC) {
                    const int64_t kc = fastdl_conv_min(KC, K - k0);
                    FN(gemm)(np, nb, kc, ap + k0 * npad, wtp + k0 * crspad + c0 * kc, ct, nb,
                             k0 > 0);
                }
                for (int64_t p = 0; p < np; p++) {
                    const T *cp = ct + p * nb;
                    int64_t j = 0;
                    while (j < nb) {
                        /* a run of consecutive channels of one (r, s) */
                        const int64_t kk = c0 + j, r = g->kk_r[kk], s = g->kk_s[kk];
                        const int64_t run = fastdl_conv_min(nb - j, g->C - g->kk_off[kk]);
                        const int64_t ih = ih0[p] + r, iw = iw0[p] + s;
                        if ((uint64_t)ih < H && (uint64_t)iw < W) {
                            T *dp = dxn + g->kk_off[kk] + ih * xs_h + iw * xs_w;
                            for (int64_t t = 0; t < run; t++)
                                dp[t] += cp[j + t];
                        }
                        j += run;
                    }
                }
            }
        }
    }
}

/* Bias gradient db[k] for k in [k0, k1): Σ over images and pixels (in that order). */
FASTDL_CLONES static void FN(bias_grad_range)(const fastdl_conv_geom *g, const T *dy,
                                              const T *mask, T *db, int64_t k0, int64_t k1)
{
    const int64_t K = g->K, P = g->P;
    for (int64_t k = k0; k < k1; k++)
        db[k] = 0;
    if (!g->nhwc) {
        /* 16 running sums per filter (lane j takes pixels p ≡ j mod 16), added pairwise */
        for (int64_t k = k0; k < k1; k++) {
            T acc[16] = {0};
            for (int64_t n = 0; n < g->N; n++) {
                const T *FASTDL_RESTRICT d = dy + (n * K + k) * P;
                const T *FASTDL_RESTRICT m = mask ? mask + (n * K + k) * P : NULL;
                int64_t p = 0;
                if (m) {
                    /* written as a conditional reset, not `acc += m > 0 ? d : 0`: GCC 12's
                     * AVX2 vectoriser miscompiles that form here (wrong sums at -O3) */
                    for (; p + 16 <= P; p += 16)
                        for (int j = 0; j < 16; j++) {
                            T v = d[p + j];
                            if (!(m[p + j] > 0))
                                v = 0;
                            acc[j] += v;
                        }
                    for (; p < P; p++) {
                        T v = d[p];
                        if (!(m[p] > 0))
                            v = 0;
                        acc[p % 16] += v;
                    }
                } else {
                    for (; p + 16 <= P; p += 16)
                        for (int j = 0; j < 16; j++)
                            acc[j] += d[p + j];
                    for (; p < P; p++)
                        acc[p % 16] += d[p];
                }
            }
            T h[8], q[4];
            for (int j = 0; j < 8; j++)
                h[j] = acc[j] + acc[j + 8];
            for (int j = 0; j < 4; j++)
                q[j] = h[j] + h[j + 4];
            db[k] = (q[0] + q[2]) + (q[1] + q[3]);
        }
    } else {
        const int64_t rows = g->N * P;
        T *FASTDL_RESTRICT o = db;
        for (int64_t q = 0; q < rows; q++) {
            const T *FASTDL_RESTRICT d = dy + q * K;
            if (mask) {
                const T *FASTDL_RESTRICT m = mask + q * K;
                for (int64_t k = k0; k < k1; k++) {
                    T v = d[k];
                    if (!(m[k] > 0))
                        v = 0;
                    o[k] += v;
                }
            } else {
                for (int64_t k = k0; k < k1; k++)
                    o[k] += d[k];
            }
        }
    }
}

#undef T
#undef MR
#undef NR
#undef KC
#undef PC
#undef FN_
#undef FN2
#undef FN
