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

/* im2col panels with pixels on the lanes: element (lane p, k) = Xcol[k0 + k][p] for the
 * chunk's pixels (tables ih0/iw0), L lanes per panel, kc reduction columns.
 *
 * NHWC (xs_c == 1): the reduction columns kk = (r·S + s)·C + c run over contiguous channels
 * for a fixed (r, s), so each lane reads one contiguous run per (r, s) and the panel is
 * written sequentially. NCHW: the panel's lanes are cut into segments lying in one output
 * row; for a fixed kk a segment reads consecutive inputs (unit stride when sw == 1). */
__attribute__((noinline)) FASTDL_CLONES
static void FN(pack_im2col_pix)(T *dst, int64_t L, const fastdl_conv_geom *g, const T *xn,
                                const int64_t *ih0, const int64_t *iw0, int64_t np,
                                int64_t k0, int64_t kc)
{
    const uint64_t H = (uint64_t)g->H, W = (uint64_t)g->W;
    const int64_t xs_h = g->xs_h, xs_w = g->xs_w;
    for (int64_t q0 = 0; q0 < np; q0 += L) {
        T *d = dst + (q0 / L) * kc * L;
        const int64_t nl = fastdl_conv_min(L, np - q0);
        const int64_t *ph = ih0 + q0, *pw = iw0 + q0;
        if (g->nhwc && L == MR) {
            const T *src[MR];
            int64_t k = 0;
            while (k < kc) {
                const int64_t kk = k0 + k, r = g->kk_r[kk], s = g->kk_s[kk];
                const int64_t c0 = g->kk_off[kk];
                int64_t run = fastdl_conv_min(kc - k, g->C - c0);
                int all = nl == MR, wide = 1;
                for (int64_t l = 0; l < MR; l++) {
                    const int64_t ih = l < nl ? ph[l] + r : -1, iw = l < nl ? pw[l] + s : -1;
                    const int ok = (uint64_t)ih < H && (uint64_t)iw < W;
                    src[l] = ok ? xn + ih * xs_h + iw * xs_w + c0 : NULL;
                    all &= ok;
                    wide &= ok && pw[l] + g->S - 1 < (int64_t)W;
                }
                /* channels of (r, s), (r, s + 1), ... are contiguous in x when every lane's
                 * columns iw .. iw + S - 1 - s are inside the image: one longer run */
                if (all && wide && xs_w == g->C)
                    run = fastdl_conv_min(kc - k, (g->S - s) * g->C - c0);
                T *dk = d + k * MR;
                if (all) {
                    for (int64_t j = 0; j < run; j++)
                        for (int64_t l = 0; l < MR; l++)
                            dk[j * MR + l] = src[l][j];
                } else {
                    for (int64_t l = 0; l < MR; l++) {
                        if (src[l])
                            for (int64_t j = 0; j < run; j++)
                                dk[j * MR + l] = src[l][j];
                        else
                            for (int64_t j = 0; j < run; j++)
                                dk[j * MR + l] = 0;
                    }
                }
                k += run;
            }
            continue;
        }
        /* segments of lanes in one output row: [seg[i], seg[i + 1]) */
        int64_t seg[FASTDL_CONV_NR_MAX + 2], nseg = 0;
        seg[nseg++] = 0;
        for (int64_t l = 1; l < nl; l++)
            if (ph[l] != ph[l - 1])
                seg[nseg++] = l;
        seg[nseg] = nl;
        if (g->sw == 1 && xs_w == 1) {
            /* interior panel: every segment inside the image for every (r, s) — copy each
             * kk's segments from fixed offsets, no bounds checks */
            int interior = 1;
            for (int64_t i = 0; i < nseg; i++) {
                const int64_t a = seg[i], b = seg[i + 1];
                interior &= ph[a] >= 0 && ph[a] + g->R <= (int64_t)H && pw[a] >= 0
                            && pw[b - 1] + g->S <= (int64_t)W;
            }
            if (interior) {
                for (int64_t k = 0; k < kc; k++) {
                    const T *xk = xn + g->kk_delta[k0 + k];
                    T *dk = d + k * L;
                    for (int64_t i = 0; i < nseg; i++) {
                        const int64_t a = seg[i], b = seg[i + 1];
                        const T *sp = xk + ph[a] * xs_h + pw[a];
                        for (int64_t l = a; l < b; l++)
                            dk[l] = sp[l - a];
                    }
                    for (int64_t l = nl; l < L; l++)
                        dk[l] = 0;
                }
                continue;
            }
        }
        for (int64_t k = 0; k < kc; k++) {
            const int64_t r = g->kk_r[k0 + k], s = g->kk_s[k0 + k];
            const T *xk = xn + g->kk_off[k0 + k];
            T *dk = d + k * L;
            for (int64_t i = 0; i < nseg; i++) {
                const int64_t a = seg[i], b = seg[i + 1];
                const int64_t ih = ph[a] + r;
                if ((uint64_t)ih >= H) {
                    for (int64_t l = a; l < b; l++)
                        dk[l] = 0;
                    continue;
                }
                const T *row = xk + ih * xs_h;
                const int64_t iwa = pw[a] + s, iwb = pw[b - 1] + s;
                if (iwa >= 0 && iwb < (int64_t)W) {
                    if (g->sw == 1 && xs_w == 1) {
                        const T *sp = row + iwa;
                        for (int64_t l = a; l < b; l++)
                            dk[l] = sp[l - a];
                    } else {
                        for (int64_t l = a; l < b; l++)
                            dk[l] = row[(pw[l] + s) * xs_w];
                    }
                } else {
                    for (int64_t l = a; l < b; l++) {
                        const int64_t iw = pw[l] + s;
                        dk[l] = (uint64_t)iw < W ? row[iw * xs_w] : (T)0;
                    }
                }
            }
            for (int64_t l = nl; l < L; l++)
                dk[l] = 0;
        }
    }
}

/* im2col panels with reduction columns on the lanes: element (p, lane kk) = Xcol[k0+kk][p]
 * for the chunk's np pixels (the reduction), nk columns, L lanes per panel.
 * The pixels are cut once into segments lying in one output row; a lane then reads each
 * segment as one run (unit stride when sw == 1). NHWC panels whose lanes are consecutive
 * channels of one (r, s) read L contiguous values per pixel. */
__attribute__((noinline)) FASTDL_CLONES
static void FN(pack_im2col_kk)(T *dst, int64_t L, const fastdl_conv_geom *g, const T *xn,
                               const int64_t *ih0, const int64_t *iw0, int64_t np,
                               int64_t k0, int64_t nk)
{
    const uint64_t H = (uint64_t)g->H, W = (uint64_t)g->W;
    const int64_t xs_h = g->xs_h, xs_w = g->xs_w, sw = g->sw;
    int64_t seg[FASTDL_CONV_KC + 1], nseg = 0;
    seg[nseg++] = 0;
    for (int64_t p = 1; p < np; p++)
        if (ih0[p] != ih0[p - 1])
            seg[nseg++] = p;
    seg[nseg] = np;
    for (int64_t q0 = 0; q0 < nk; q0 += L) {
        T *d = dst + (q0 / L) * np * L;
        const int64_t nl = fastdl_conv_min(L, nk - q0);
        const int64_t ka = k0 + q0, kb = ka + nl - 1;
        if (g->nhwc && nl == L && g->kk_r[ka] == g->kk_r[kb] && g->kk_s[ka] == g->kk_s[kb]) {
            /* L consecutive channels of one (r, s) */
            const int64_t r = g->kk_r[ka], s = g->kk_s[ka];
            const T *xk = xn + g->kk_off[ka];
            for (int64_t p = 0; p < np; p++) {
                const int64_t ih = ih0[p] + r, iw = iw0[p] + s;
                T *dp = d + p * L;
                if ((uint64_t)ih < H && (uint64_t)iw < W) {
                    const T *sp = xk + ih * xs_h + iw * xs_w;
                    for (int64_t l = 0; l < L; l++)
                        dp[l] = sp[l];
                } else {
                    for (int64_t l = 0; l < L; l++)
                        dp[l] = 0;
                }
            }
            continue;
        }
        int64_t l = 0;
        for (; l < nl; l++) {
            const int64_t kk = k0 + q0 + l;
            const int64_t r = g->kk_r[kk], s = g->kk_s[kk];
            const T *xk = xn + g->kk_off[kk];
            for (int64_t i = 0; i < nseg; i++) {
                const int64_t a = seg[i], b = seg[i + 1];
                const int64_t ih = ih0[a] + r;
                if ((uint64_t)ih >= H) {
                    for (int64_t p = a; p < b; p++)
                        d[p * L + l] = 0;
                    continue;
                }
                const T *row = xk + ih * xs_h;
                const int64_t iwa = iw0[a] + s;
                /* pixels a..b-1 read iw = iwa + (p - a)·sw: valid for p in [pa, pb) */
                int64_t pa = b, pb = b;
                if (iwa < (int64_t)W) {
                    const int64_t last = iwa + (b - 1 - a) * sw;
                    pa = iwa < 0 ? a + (-iwa + sw - 1) / sw : a;
                    pb = last >= (int64_t)W ? a + ((int64_t)W - 1 - iwa) / sw + 1 : b;
                    pa = fastdl_conv_min(pa, b);
                    pb = pb < pa ? pa : pb;
                }
                for (int64_t p = a; p < pa; p++)
                    d[p * L + l] = 0;
                {
                    const T *sp = row + (iwa + (pa - a) * sw) * xs_w;
                    const int64_t step = sw * xs_w;
                    for (int64_t p = pa; p < pb; p++, sp += step)
                        d[p * L + l] = *sp;
                }
                for (int64_t p = pb; p < b; p++)
                    d[p * L + l] = 0;
            }
        }
        for (; l < L; l++)
            for (int64_t p = 0; p < np; p++)
                d[p * L + l] = 0;
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

/* Elements of the packed weights of pass 0 / 1. */
static int64_t FN(packed_weights_size)(const fastdl_conv_geom *g, int pass)
{
    const int64_t K = g->K, CRS = g->CRS;
    if (pass == 0)
        return CRS * (g->nhwc ? fastdl_conv_ceil(K, NR) : fastdl_conv_ceil(K, MR));
    return K * (g->nhwc ? fastdl_conv_ceil(CRS, NR) : fastdl_conv_ceil(CRS, MR));
}

/* Forward of one task (image, row block): y = act(W ∗ x + b) for its pixels. */
static void FN(forward_task)(const fastdl_conv_geom *g, const T *x, const T *wp,
                             const T *bias, int relu, T *y, int64_t task, T *ws)
{
    int64_t ih0[PC], iw0[PC];
    const int64_t K = g->K, P = g->P, CRS = g->CRS;
    const int64_t n = task / g->row_blocks, rb = task % g->row_blocks;
    const int64_t oh0 = rb * g->rows_per_task;
    const int64_t oh1 = fastdl_conv_min(g->Ho, oh0 + g->rows_per_task);
    const T *xn = x + n * g->xs_n;
    for (int64_t p0 = oh0 * g->Wo; p0 < oh1 * g->Wo; p0 += PC) {
        const int64_t np = fastdl_conv_min(PC, oh1 * g->Wo - p0);
        fastdl_conv_pixel_table(g, p0, np, ih0, iw0);
        if (!g->nhwc) {
            T *yc = y + n * K * P + p0;
            const int64_t kpad = fastdl_conv_ceil(K, MR);
            for (int64_t k0 = 0; k0 < CRS; k0 += KC) {
                const int64_t kc = fastdl_conv_min(KC, CRS - k0);
                FN(pack_im2col_pix)(ws, NR, g, xn, ih0, iw0, np, k0, kc);
                FN(gemm)(K, np, kc, wp + k0 * kpad, ws, yc, P, k0 > 0);
            }
            if (bias || relu) {
                for (int64_t k = 0; k < K; k++) {
                    T *yk = yc + k * P;
                    const T bk = bias ? bias[k] : (T)0;
                    for (int64_t p = 0; p < np; p++) {
                        const T v = yk[p] + bk;
                        yk[p] = (relu && v < 0) ? (T)0 : v;
                    }
                }
            }
        } else {
            T *yc = y + (n * P + p0) * K;
            const int64_t kpad = fastdl_conv_ceil(K, NR);
            for (int64_t k0 = 0; k0 < CRS; k0 += KC) {
                const int64_t kc = fastdl_conv_min(KC, CRS - k0);
                FN(pack_im2col_pix)(ws, MR, g, xn, ih0, iw0, np, k0, kc);
                FN(gemm)(np, K, kc, ws, wp + k0 * kpad, yc, K, k0 > 0);
            }
            if (bias || relu) {
                for (int64_t p = 0; p < np; p++) {
                    T *yp = yc + p * K;
                    for (int64_t k = 0; k < K; k++) {
                        const T v = yp[k] + (bias ? bias[k] : (T)0);
                        yp[k] = (relu && v < 0) ? (T)0 : v;
                    }
                }
            }
        }
    }
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

/* Weight gradient for dW's columns [j0, j1) (NCHW, dW is K×CRS) or rows [j0, j1) (NHWC,
 * dW is RSC×K), summed over every image and pixel in chunks of KC pixels. dw must be zeroed. */
static void FN(weight_grad_range)(const fastdl_conv_geom *g, const T *x, const T *dy,
                                  const T *mask, T *dw, int64_t j0, int64_t j1, T *ws)
{
    int64_t ih0[KC], iw0[KC];
    const int64_t K = g->K, P = g->P, CRS = g->CRS;
    for (int64_t n = 0; n < g->N; n++) {
        const T *xn = x + n * g->xs_n, *dyn = dy + n * K * P;
        const T *mkn = mask ? mask + n * K * P : NULL;
        for (int64_t p0 = 0; p0 < P; p0 += KC) {
            const int64_t np = fastdl_conv_min(KC, P - p0);
            fastdl_conv_pixel_table(g, p0, np, ih0, iw0);
            if (!g->nhwc) {
                T *ap = ws, *bp = ws + fastdl_conv_ceil(K, MR) * KC;
                FN(pack_a)(ap, dyn + p0, mkn ? mkn + p0 : NULL, P, 1, K, np);
                for (int64_t c0 = j0; c0 < j1; c0 += FASTDL_CONV_NB) {
                    const int64_t nb = fastdl_conv_min(FASTDL_CONV_NB, j1 - c0);
                    FN(pack_im2col_kk)(bp, NR, g, xn, ih0, iw0, np, c0, nb);
                    FN(gemm)(K, nb, np, ap, bp, dw + c0, CRS, 1);
                }
            } else {
                T *bp = ws, *ap = ws + KC * fastdl_conv_ceil(K, NR);
                FN(pack_b)(bp, dyn + p0 * K, mkn ? mkn + p0 * K : NULL, K, 1, np, K);
                for (int64_t m0 = j0; m0 < j1; m0 += FASTDL_CONV_MB) {
                    const int64_t mb = fastdl_conv_min(FASTDL_CONV_MB, j1 - m0);
                    FN(pack_im2col_kk)(ap, MR, g, xn, ih0, iw0, np, m0, mb);
                    FN(gemm)(mb, K, np, ap, bp, dw + m0 * K, K, 1);
                }
            }
        }
    }
}

/* Bias gradient db[k] for k in [k0, k1): Σ over images and pixels (in that order). */
static void FN(bias_grad_range)(const fastdl_conv_geom *g, const T *dy, const T *mask, T *db,
                                int64_t k0, int64_t k1)
{
    const int64_t K = g->K, P = g->P;
    for (int64_t k = k0; k < k1; k++)
        db[k] = 0;
    if (!g->nhwc) {
        for (int64_t k = k0; k < k1; k++) {
            T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int64_t n = 0; n < g->N; n++) {
                const T *d = dy + (n * K + k) * P;
                const T *m = mask ? mask + (n * K + k) * P : NULL;
                int64_t p = 0;
                for (; p + 8 <= P; p += 8)
                    for (int j = 0; j < 8; j++)
                        acc[j] += (m && !(m[p + j] > 0)) ? (T)0 : d[p + j];
                for (; p < P; p++)
                    acc[p % 8] += (m && !(m[p] > 0)) ? (T)0 : d[p];
            }
            db[k] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        }
    } else {
        const int64_t rows = g->N * P;
        for (int64_t q = 0; q < rows; q++) {
            const T *d = dy + q * K;
            const T *m = mask ? mask + q * K : NULL;
            for (int64_t k = k0; k < k1; k++)
                db[k] += (m && !(m[k] > 0)) ? (T)0 : d[k];
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
