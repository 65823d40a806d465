/* One dtype's direct convolution paths; included by fastdl_conv.h with FASTDL_CONV_T,
 * FASTDL_CONV_SFX, FASTDL_CONV_NR, FASTDL_CONV_UKRA and FASTDL_CONV_UKRB defined.
 * No include guard on purpose.
 *
 * "Direct": instead of packing im2col panels, each task copies the input rows it needs once
 * into a zero-padded slab, and the gather micro-kernels (fastdl_conv_ukr.h) read the slab in
 * place through a table of offsets, one per reduction column kk:
 *
 *   NCHW  The slab is the padded input split into sh·sw stride phases,
 *         slab[c][r mod sh][s mod sw][i][j] = xpad[c][(oh0 + i)·sh + r mod sh][j·sw + s mod sw],
 *         planes of d_Hq × d_Wq. For kk = (c, r, s) and output pixel (oh0 + i, j) the input
 *         value sits at delta[kk] + i·d_Wq + j, so for a fixed kk consecutive output pixels
 *         are consecutive slab values across row ends too ("flat" pixel index q = i·d_Wq + j;
 *         the d_Wq − Wo lanes past each row end are computed and dropped). gather-B: y[K×q]
 *         tiles of MR filters × NR pixels.
 *   NHWC  The slab is the padded rows with their channels, pitch d_pitch = Wp·C; pixel
 *         (oh0 + i, ow) starts at pix = i·sh·d_pitch + ow·sw·C, and kk = (r, s, c) adds
 *         delta[kk] = r·d_pitch + s·C + c. gather-A: y[pixel×K] tiles of MR pixels × NR
 *         filters, bias and ReLU fused in the store.
 *   dW    (both layouts) dWᵀ[kk][k] += Σ_p slab[delta[kk] + pix[p]] · dyᵀ[p][k]: gather-A
 *         with the MR rows at slab + delta[kk..kk+MR) and the per-pixel offsets pix[p]; dy
 *         (masked) is copied once per row block into dyᵀ[p][Kpad].
 *
 * Each output element is one micro-kernel sum in a fixed order (dW: plus one addition per
 * image and row block, in order), so results are bit-identical for any thread count.
 * Workspace per thread: fastdl_conv_direct_ws() elements — one slab of d_rows output rows
 * (bounded by the caller's choice of d_rows, independent of the batch), one tile, and for dW
 * one dyᵀ block of d_rows·Wo × Kpad. */
#define T FASTDL_CONV_T
#define MR FASTDL_CONV_MR
#define NR FASTDL_CONV_NR
#define KC FASTDL_CONV_KC
#define FN_(name, sfx) fastdl_conv_##name##_##sfx
#define FN2(name, sfx) FN_(name, sfx)
#define FN(name) FN2(name, FASTDL_CONV_SFX)

/* d[j] = s[j·step] where m[j·step] > 0, else 0 (the ReLU mask): branch-free so that it
 * vectorises — a branch on a random mask mispredicts half the time. */
FASTDL_CLONES static void FN(masked_copy)(T *FASTDL_RESTRICT d, const T *FASTDL_RESTRICT s,
                                          const T *FASTDL_RESTRICT m, int64_t n, int64_t step)
{
    if (step == 1) {
        for (int64_t j = 0; j < n; j++) {
            const T v = s[j];
            d[j] = m[j] > 0 ? v : (T)0;
        }
    } else {
        for (int64_t j = 0; j < n; j++) {
            const T v = s[j * step];
            d[j] = m[j * step] > 0 ? v : (T)0;
        }
    }
}

/* Workspace elements per thread: pass 0 forward, 2 weight grad (gather-A), 3 weight grad
 * (dot form, NCHW). */
static int64_t FN(direct_ws)(const fastdl_conv_geom *g, int pass)
{
    int64_t n = g->d_slab + (fastdl_conv_ceil(g->K, MR) + FASTDL_CONV_MRA_MAX) * FASTDL_CONV_NR_MAX
                + 16;
    if (pass == 2)
        n += g->d_rows * g->Wo * fastdl_conv_ceil(g->K, NR);
    if (pass == 3)
        n += g->K * g->d_rows * g->Wo;
    return n;
}

/* The slab of image src (its mask: keep where mask > 0) for output rows from oh0. */
FASTDL_CLONES
static void FN(direct_slab)(const fastdl_conv_geom *g, const T *src, const T *mask,
                            int64_t oh0, T *dst)
{
    const int64_t C = g->C, H = g->H, W = g->W, sh = g->sh, sw = g->sw;
    if (!g->nhwc) {
        const int64_t Hq = g->d_Hq, Wq = g->d_Wq, plane = g->d_plane;
        for (int64_t c = 0; c < C; c++)
            for (int64_t phr = 0; phr < sh; phr++)
                for (int64_t phw = 0; phw < sw; phw++) {
                    T *pl = dst + ((c * sh + phr) * sw + phw) * plane;
                    /* j reads iw = j·sw + phw − pl: inside the image for j in [jlo, jhi) */
                    const int64_t off = g->pl - phw;
                    int64_t jlo = off > 0 ? (off + sw - 1) / sw : 0;
                    int64_t jhi = (W - 1 + off) >= 0 ? (W - 1 + off) / sw + 1 : 0;
                    jhi = fastdl_conv_min(jhi, Wq);
                    jlo = fastdl_conv_min(jlo, jhi);
                    for (int64_t i = 0; i < Hq; i++) {
                        T *d = pl + i * Wq;
                        const int64_t ih = (oh0 + i) * sh + phr - g->pt;
                        if (ih < 0 || ih >= H) {
                            memset(d, 0, (size_t)Wq * sizeof(T));
                            continue;
                        }
                        const T *s = src + c * g->xs_c + ih * g->xs_h + (jlo * sw - off);
                        memset(d, 0, (size_t)jlo * sizeof(T));
                        if (mask) {
                            FN(masked_copy)(d + jlo, s, mask + (s - src), jhi - jlo, sw);
                        } else if (sw == 1) {
                            memcpy(d + jlo, s, (size_t)(jhi - jlo) * sizeof(T));
                        } else {
                            for (int64_t j = jlo; j < jhi; j++)
                                d[j] = s[(j - jlo) * sw];
                        }
                        memset(d + jhi, 0, (size_t)(Wq - jhi) * sizeof(T));
                    }
                    memset(pl + Hq * Wq, 0, (size_t)(plane - Hq * Wq) * sizeof(T));
                }
        /* the last tiles of the last plane read up to NR + S values past it */
        memset(dst + C * sh * sw * plane, 0,
               (size_t)(g->d_slab - C * sh * sw * plane) * sizeof(T));
    } else {
        const int64_t pitch = g->d_pitch, Wp = pitch / C;
        /* column j reads iw = j − pl: inside the image for j in [jlo, jhi) (the input
         * gradient's phases can have negative padding) */
        const int64_t jlo = g->pl > 0 ? fastdl_conv_min(g->pl, Wp) : 0;
        const int64_t jhi = fastdl_conv_min(g->pl + W, Wp);
        for (int64_t i = 0; i < g->d_Hq; i++) {
            T *d = dst + i * pitch;
            const int64_t ih = oh0 * sh - g->pt + i;
            if (ih < 0 || ih >= H || jhi <= jlo) {
                memset(d, 0, (size_t)pitch * sizeof(T));
                continue;
            }
            const T *s = src + ih * g->xs_h + (jlo - g->pl) * C;
            memset(d, 0, (size_t)(jlo * C) * sizeof(T));
            if (mask) {
                FN(masked_copy)(d + jlo * C, s, mask + (s - src), (jhi - jlo) * C, 1);
            } else {
                memcpy(d + jlo * C, s, (size_t)((jhi - jlo) * C) * sizeof(T));
            }
            memset(d + jhi * C, 0, (size_t)((Wp - jhi) * C) * sizeof(T));
        }
    }
}

/* The slab a task reads for image n's block of rows from oh0, and its offset table: x itself
 * when the layout of x already is the slab's (no padding, stride 1, no mask; d_inplace) —
 * except, when the reader is not `exact` (NCHW gather-B tiles read up to NR + S values past
 * the image), for the images too close to the end of x — else a copy built in `slab`. */
static const T *FN(direct_source)(const fastdl_conv_geom *g, const T *x, const T *mask,
                                  int64_t n, int64_t oh0, int exact, T *slab,
                                  const int64_t **delta)
{
    if (g->d_inplace && !mask
        && (exact || (g->N - 1 - n) * g->xs_n >= FASTDL_CONV_NR_MAX + g->S)) {
        *delta = g->d_delta_x;
        return x + n * g->xs_n + oh0 * g->xs_h;
    }
    FN(direct_slab)(g, x + n * g->xs_n, mask ? mask + n * g->xs_n : NULL, oh0, slab);
    *delta = g->d_delta;
    return slab;
}

/* Forward of one task (image, block of d_rows output rows): y = act(conv(x) + b).
 * wp: the weights as fastdl_conv_pack_weights(pass 0) packs them (blocks of KC reduction
 * columns; NCHW MR-row panels of W[K×CRS], NHWC NR-column panels of W[RSC×K]) — one block's
 * panel stays in L1 while it is used. biasp: NCHW K values, NHWC padded to a multiple of NR
 * (or NULL); mask (may be NULL) multiplies x by (mask > 0): the input gradient runs through
 * here as a convolution of the masked dy. */
FASTDL_CLONES
static void FN(direct_forward_task)(const fastdl_conv_geom *g, const T *x, const T *mask,
                                    const T *wp, const T *biasp, int relu, T *y,
                                    int64_t task, T *ws)
{
    const int64_t K = g->K, P = g->P, CRS = g->CRS, Wo = g->Wo;
    const int64_t n = task / g->d_blocks, oh0 = (task % g->d_blocks) * g->d_rows;
    const int64_t rows = fastdl_conv_min(g->d_rows, g->Ho - oh0);
    T *tmp = ws + g->d_slab;
    const int64_t *dl;
    const T *slab = FN(direct_source)(g, x, mask, n, oh0, g->nhwc, ws, &dl);
    if (!g->nhwc) {
        /* A tile of NR lanes whose pixels are one run of y (no dropped lanes) is written
         * straight into y, bias and ReLU in the micro-kernel's store. Other tiles (and the
         * last K mod MR filters) go through tmp, a column of K × NR accumulated over the
         * blocks, then bias, ReLU and a copy of the valid runs. */
        const int64_t Wq = g->d_Wq, Q = rows * Wq, kpad = fastdl_conv_ceil(K, MR);
        const int64_t kfull = K / MR * MR;
        /* Tiles of NR lanes either over the flat index (lanes cross row ends; the Wq − Wo
         * lanes past each row's end are computed and dropped) or, when that drops more,
         * aligned to output rows (ceil(Wo / NR) tiles a row; the lanes past Wo dropped) */
        const int64_t per_row = (Wo + NR - 1) / NR;
        const int aligned = per_row * NR <= Wq;
        const int64_t tiles = aligned ? rows * per_row : (Q + NR - 1) / NR;
        for (int64_t t = 0; t < tiles; t++) {
            const int64_t q0 = aligned ? (t / per_row) * Wq + (t % per_row) * NR : t * NR;
            /* runs of valid lanes: lanes [ja, jb) go to offsets yo.. of each filter plane */
            int64_t ja[FASTDL_CONV_NR_MAX], jb[FASTDL_CONV_NR_MAX], yo[FASTDL_CONV_NR_MAX];
            int64_t nseg = 0;
            if (aligned) {
                const int64_t j0 = (t % per_row) * NR;
                ja[0] = 0;
                jb[0] = fastdl_conv_min(NR, Wo - j0);
                yo[0] = (oh0 + t / per_row) * Wo + j0;
                nseg = 1;
            } else {
                const int64_t qe = fastdl_conv_min(q0 + NR, Q);
                for (int64_t q = q0; q < qe;) {
                    const int64_t i = q / Wq, j = q % Wq;
                    if (j >= Wo) {
                        q += Wq - j;
                        continue;
                    }
                    const int64_t e = fastdl_conv_min(qe, q + (Wo - j));
                    ja[nseg] = q - q0;
                    jb[nseg] = e - q0;
                    yo[nseg] = (oh0 + i) * Wo + j;
                    nseg++;
                    q = e;
                }
            }
            const int direct = nseg == 1 && ja[0] == 0 && jb[0] == NR;
            const int64_t kdirect = direct ? kfull : 0;
            T *yq = y + n * K * P + (direct ? yo[0] : 0);
            for (int64_t k0 = 0; k0 < CRS; k0 += KC) {
                const int64_t kc = fastdl_conv_min(KC, CRS - k0);
                const int last = k0 + kc == CRS, acc = k0 > 0;
                const T *wk = wp + k0 * kpad;
                int64_t ir = 0;
                if (FASTDL_CONV_UKRB12)   /* pairs of panels through the 12-row kernel */
                    for (; ir + 2 * MR <= kdirect; ir += 2 * MR)
                        FASTDL_CONV_UKRB12(kc, wk + ir * kc, wk + (ir + MR) * kc, slab + q0,
                                           dl + k0, yq + ir * P, P, acc,
                                           (last && biasp) ? biasp + ir : NULL, last && relu);
                for (; ir < kdirect; ir += MR)
                    FASTDL_CONV_UKRB(kc, wk + ir * kc, slab + q0, dl + k0,
                                     yq + ir * P, P, acc, (last && biasp) ? biasp + ir : NULL,
                                     last && relu);
                ir = kdirect;
                if (FASTDL_CONV_UKRB12)
                    for (; ir + 2 * MR <= K; ir += 2 * MR)
                        FASTDL_CONV_UKRB12(kc, wk + ir * kc, wk + (ir + MR) * kc, slab + q0,
                                           dl + k0, tmp + ir * NR, NR, acc, NULL, 0);
                for (; ir < K; ir += MR)
                    FASTDL_CONV_UKRB(kc, wk + ir * kc, slab + q0, dl + k0,
                                     tmp + ir * NR, NR, acc, NULL, 0);
            }
            for (int64_t k = kdirect; k < K; k++) {
                T *FASTDL_RESTRICT tk = tmp + k * NR;
                if (biasp) {
                    const T bk = biasp[k];
                    for (int64_t j = 0; j < NR; j++)
                        tk[j] += bk;
                }
                if (relu)
                    for (int64_t j = 0; j < NR; j++)
                        tk[j] = tk[j] < 0 ? (T)0 : tk[j];
                T *yk = y + (n * K + k) * P;
                for (int64_t sgi = 0; sgi < nseg; sgi++) {
                    T *FASTDL_RESTRICT yd = yk + yo[sgi];
                    const T *FASTDL_RESTRICT ts = tk + ja[sgi];
                    const int64_t len = jb[sgi] - ja[sgi];
                    for (int64_t j = 0; j < len; j++)
                        yd[j] = ts[j];
                }
            }
        }
    } else if (g->d_dot) {
        /* few filters: 4 pixels × 4 filters of dot products, each over the R window rows
         * of S·C contiguous slab values against the filter's R × S·C weights */
        const int64_t npix = rows * Wo, SC = g->S * g->C, RSC = g->R * SC;
        T *yb = y + (n * P + oh0 * Wo) * K;
        const T *dr[4], *sr[4];
        T tile[16];
        for (int64_t p0 = 0; p0 < npix; p0 += 4) {
            const int64_t mi = fastdl_conv_min(4, npix - p0);
            for (int i = 0; i < 4; i++)
                dr[i] = slab + g->d_pix[p0 + (i < mi ? i : mi - 1)];
            for (int64_t k0 = 0; k0 < K; k0 += 4) {
                const int64_t mk = fastdl_conv_min(4, K - k0);
                for (int j = 0; j < 4; j++)
                    sr[j] = wp + (k0 + (j < mk ? j : mk - 1)) * RSC;
                memset(tile, 0, sizeof tile);
                FASTDL_CONV_UKRD(g->R, SC, dr, g->d_pitch, sr, SC, tile, 4);
                for (int64_t i = 0; i < mi; i++)
                    for (int64_t j = 0; j < mk; j++) {
                        const T v = biasp ? tile[i * 4 + j] + biasp[k0 + j] : tile[i * 4 + j];
                        yb[(p0 + i) * K + k0 + j] = (relu && v < 0) ? (T)0 : v;
                    }
            }
        }
    } else {
        const int64_t npix = rows * Wo, kpad = fastdl_conv_ceil(K, NR), mra = fastdl_conv_mra;
        T *yb = y + (n * P + oh0 * Wo) * K;
        const T *ap[FASTDL_CONV_MRA_MAX];
        for (int64_t jr = 0; jr < K; jr += NR) {
            const int64_t nj = fastdl_conv_min(NR, K - jr);
            for (int64_t k0 = 0; k0 < CRS; k0 += KC) {
                const int64_t kc = fastdl_conv_min(KC, CRS - k0);
                const int last = k0 + kc == CRS, acc = k0 > 0;
                const T *bw = wp + k0 * kpad + jr * kc, *bj = (last && biasp) ? biasp + jr : NULL;
                for (int64_t p0 = 0; p0 < npix; p0 += mra) {
                    const int64_t mi = fastdl_conv_min(mra, npix - p0);
                    T *yt = yb + p0 * K + jr;
                    for (int64_t i = 0; i < mra; i++)
                        ap[i] = slab + g->d_pix[p0 + (i < mi ? i : mi - 1)];
                    if (mi == mra && nj == NR) {
                        FASTDL_CONV_UKRA(kc, ap, dl + k0, bw, yt, K, acc, bj,
                                         last && relu);
                    } else {
                        if (acc)
                            for (int64_t i = 0; i < mi; i++)
                                memcpy(tmp + i * NR, yt + i * K, (size_t)nj * sizeof(T));
                        FASTDL_CONV_UKRA(kc, ap, dl + k0, bw, tmp, NR, acc, bj,
                                         last && relu);
                        for (int64_t i = 0; i < mi; i++)
                            memcpy(yt + i * K, tmp + i * NR, (size_t)nj * sizeof(T));
                    }
                }
            }
        }
    }
}

/* Weight gradient, rows [kk0, kk1) of dWᵀ (CRS × K, row-major, accumulated in place; NHWC's
 * dW is dWᵀ itself), summed over images [n0, n1), row blocks and blocks of KC pixels in
 * that order. */
FASTDL_CLONES
static void FN(direct_weight_grad_range)(const fastdl_conv_geom *g, const T *x, const T *dy,
                                         const T *mask, T *dwt, int64_t n0, int64_t n1,
                                         int64_t kk0, int64_t kk1, T *ws)
{
    const int64_t K = g->K, P = g->P, Wo = g->Wo, kpad = fastdl_conv_ceil(K, NR);
    const int64_t mra = fastdl_conv_mra;
    T *slab = ws, *tmp = ws + g->d_slab;
    T *dyt = tmp + FASTDL_CONV_MRA_MAX * FASTDL_CONV_NR_MAX + 16;
    const T *ap[FASTDL_CONV_MRA_MAX];
    for (int64_t n = n0; n < n1; n++) {
        for (int64_t b = 0; b < g->d_blocks; b++) {
            const int64_t oh0 = b * g->d_rows;
            const int64_t npix = fastdl_conv_min(g->d_rows, g->Ho - oh0) * Wo;
            const int64_t *dl;
            const T *src = FN(direct_source)(g, x, NULL, n, oh0, 1, slab, &dl);
            if (!g->nhwc) {
                /* dyᵀ in NR-column panels ([K/NR][npix][NR]: the micro-kernel's B rows follow
                 * each other — rows kpad apart would fall into a few L1 sets), filled in
                 * blocks of 16 pixels that stay in L1 */
                for (int64_t p0 = 0; p0 < npix; p0 += 16) {
                    const int64_t pe = fastdl_conv_min(npix, p0 + 16);
                    for (int64_t k = 0; k < K; k++) {
                        const T *FASTDL_RESTRICT s = dy + (n * K + k) * P + oh0 * Wo;
                        T *FASTDL_RESTRICT d = dyt + (k / NR) * npix * NR + k % NR;
                        if (mask) {
                            const T *FASTDL_RESTRICT m = mask + (s - dy);
                            for (int64_t p = p0; p < pe; p++) {
                                const T v = s[p];
                                d[p * NR] = m[p] > 0 ? v : (T)0;
                            }
                        } else {
                            for (int64_t p = p0; p < pe; p++)
                                d[p * NR] = s[p];
                        }
                    }
                    for (int64_t k = K; k < kpad; k++) {
                        T *d = dyt + (k / NR) * npix * NR + k % NR;
                        for (int64_t p = p0; p < pe; p++)
                            d[p * NR] = 0;
                    }
                }
            } else {
                for (int64_t p = 0; p < npix; p++) {
                    const T *s = dy + (n * P + oh0 * Wo + p) * K;
                    const T *m = mask ? mask + (s - dy) : NULL;
                    for (int64_t j0 = 0; j0 < kpad; j0 += NR) {
                        T *d = dyt + (j0 / NR) * npix * NR + p * NR;
                        const int64_t nj = fastdl_conv_min(NR, K - j0);
                        if (m)
                            FN(masked_copy)(d, s + j0, m + j0, nj, 1);
                        else
                            memcpy(d, s + j0, (size_t)nj * sizeof(T));
                        for (int64_t k = nj; k < NR; k++)
                            d[k] = 0;
                    }
                }
            }
            for (int64_t p0 = 0; p0 < npix; p0 += KC) {
                const int64_t np = fastdl_conv_min(KC, npix - p0);
                for (int64_t jr = 0; jr < K; jr += NR) {
                    const int64_t nj = fastdl_conv_min(NR, K - jr);
                    const T *bb = dyt + (jr / NR) * npix * NR + p0 * NR;
                    for (int64_t kt = kk0; kt < kk1; kt += mra) {
                        const int64_t mi = fastdl_conv_min(mra, kk1 - kt);
                        T *c = dwt + kt * K + jr;
                        for (int64_t i = 0; i < mra; i++)
                            ap[i] = src + dl[kt + (i < mi ? i : mi - 1)];
                        if (mi == mra && nj == NR) {
                            FASTDL_CONV_UKRA(np, ap, g->d_pix + p0, bb, c, K, 1, NULL, 0);
                        } else {
                            for (int64_t i = 0; i < mi; i++)
                                memcpy(tmp + i * NR, c + i * K, (size_t)nj * sizeof(T));
                            FASTDL_CONV_UKRA(np, ap, g->d_pix + p0, bb, tmp, NR, 1, NULL, 0);
                            for (int64_t i = 0; i < mi; i++)
                                memcpy(c + i * K, tmp + i * NR, (size_t)nj * sizeof(T));
                        }
                    }
                }
            }
        }
    }
}

/* Weight gradient in dot form (NCHW, few filters — where gather-A's filter lanes would be
 * mostly idle): dW[k][kk] += Σ over the block's output rows and their Wo valid pixels of
 * dy[k][pixel] · slab[delta[kk] + row·d_Wq + ow]. dy is read in place (a masked copy when
 * the ReLU mask is given). dW is K × CRS; images [n0, n1) in order. */
FASTDL_CLONES
static void FN(direct_weight_grad_dot)(const fastdl_conv_geom *g, const T *x, const T *dy,
                                       const T *mask, T *dw, int64_t n0, int64_t n1, T *ws)
{
    const int64_t K = g->K, P = g->P, CRS = g->CRS, Wo = g->Wo, Wq = g->d_Wq;
    T *slab = ws, *dym = ws + g->d_slab;
    T tile[16];
    const T *dr[4], *sr[4];
    for (int64_t n = n0; n < n1; n++) {
        for (int64_t b = 0; b < g->d_blocks; b++) {
            const int64_t oh0 = b * g->d_rows, rows = fastdl_conv_min(g->d_rows, g->Ho - oh0);
            const T *dyb = dy + n * K * P + oh0 * Wo;
            int64_t ldk = P;     /* distance between filters' planes in dyb */
            const int64_t *dl;
            const T *src = FN(direct_source)(g, x, NULL, n, oh0, 1, slab, &dl);
            if (mask) {
                for (int64_t k = 0; k < K; k++)
                    FN(masked_copy)(dym + k * rows * Wo, dyb + k * P, mask + (dyb - dy) + k * P,
                                    rows * Wo, 1);
                dyb = dym;
                ldk = rows * Wo;
            }
            for (int64_t k0 = 0; k0 < K; k0 += 4) {
                const int64_t mk = fastdl_conv_min(4, K - k0);
                for (int i = 0; i < 4; i++)
                    dr[i] = dyb + (k0 + (i < mk ? i : mk - 1)) * ldk;
                for (int64_t j0 = 0; j0 < CRS; j0 += 4) {
                    const int64_t mj = fastdl_conv_min(4, CRS - j0);
                    for (int j = 0; j < 4; j++)
                        sr[j] = src + dl[j0 + (j < mj ? j : mj - 1)];
                    memset(tile, 0, sizeof tile);
                    FASTDL_CONV_UKRD(rows, Wo, dr, Wo, sr, Wq, tile, 4);
                    for (int64_t i = 0; i < mk; i++)
                        for (int64_t j = 0; j < mj; j++)
                            dw[(k0 + i) * CRS + j0 + j] += tile[i * 4 + j];
                }
            }
        }
    }
}

#undef T
#undef MR
#undef NR
#undef KC
#undef FN_
#undef FN2
#undef FN
