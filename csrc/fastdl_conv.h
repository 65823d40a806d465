/* Convolution kernels.
 *
 * Two families of paths share the micro-kernels of fastdl_conv_ukr.h (register tiles of
 * MR = 6 or 12 rows × NR = 32/16 floats/doubles with AVX-512F, 6 × 16/8 with AVX2+FMA or
 * portable C, chosen at run time):
 *
 * Direct paths (fastdl_conv_direct.h) — the forward in every case, the input gradient with
 * stride 1 (as a convolution of the masked dy with the flipped filters), the weight gradient
 * in every case. Each task copies the input rows it needs once into a zero-padded slab and
 * the gather micro-kernels read the slab in place through per-column offset tables: no im2col
 * panels are packed. See that header for the slab layouts.
 *
 * Scatter input gradient (fastdl_conv_impl.h) — strided convolutions, or padding wider than
 * the kernel: a packed GEMM Dcol = Wᵀ·dY per bounded tile, scattered (col2im) into dx:
 *
 *   NCHW (x N,C,H,W; w K,C,R,S): Dcol[CRS×P] = Wᵀ · dY[K×P]
 *   NHWC (x N,H,W,C; w R,S,C,K): Dcol[P×RSC] = dY[P×K] · Wᵀ
 *
 *   (P = Ho·Wo pixels of one image.) Tasks are (image n, block of output rows) processed in
 *   chunks of at most FASTDL_CONV_PC pixels, even row blocks then odd ones, so that the
 *   scatters of concurrent tasks never touch the same dx rows.
 *
 * Every output element is a sum in an order fixed by the shapes alone, so the results are
 * bit-identical for any thread count.
 *
 * Workspace (independent of the batch size): one packed copy of the weights per call; per
 * thread, one slab of at most SLAB_BYTES (fastdl/_conv.pyx; more only when a single output
 * row needs more) plus a tile, or for the scatter path (K + 128)·192 elements; for the
 * weight gradient min(N, 8) partial dW and, per thread, one block of dyᵀ.
 */
#ifndef FASTDL_CONV_H
#define FASTDL_CONV_H

#include <stdint.h>
#include <string.h>
#include "fastdl_conv_ukr.h"

#define FASTDL_CONV_KC 256   /* reduction block (CRS for the forward, pixels for dW) */
#define FASTDL_CONV_PC 192   /* max pixels per chunk (forward, input grad): 6·32 = 16·12 */
#define FASTDL_CONV_MB 96    /* rows of Dcol / dW per tile (NCHW input grad, NHWC dW) */
#define FASTDL_CONV_NB 128   /* columns of Dcol / dW per tile (NHWC input grad, NCHW dW) */

typedef struct {
    int64_t N, C, H, W, K, R, S;      /* batch, channels, input H×W, filters, kernel R×S */
    int64_t sh, sw, pt, pl;           /* strides; top and left padding */
    int64_t Ho, Wo, P, CRS;           /* output H×W, P = Ho·Wo, CRS = C·R·S */
    int64_t nhwc;                     /* 0: NCHW, 1: NHWC */
    int64_t xs_n, xs_c, xs_h, xs_w;   /* element strides of x (and dx) */
    int64_t rows_per_task, row_blocks;/* forward / input grad tasks: N · row_blocks */
    const int64_t *kk_off;            /* scatter path, per reduction column kk: c · xs_c */
    const int64_t *kk_r, *kk_s;       /* per kk: kernel row r and column s */
    /* direct path (fastdl_conv_direct.h), set by fastdl_conv_direct_setup */
    int64_t d_rows, d_blocks;         /* output rows per task; tasks per image */
    int64_t d_dot;                    /* NHWC forward in dot form (few filters): the weights
                                         are passed as K × R × (S·C), not packed */
    int64_t d_Hq, d_Wq, d_pitch;      /* slab: NCHW phase-plane rows and columns; NHWC rows
                                         and row pitch */
    int64_t d_plane;                  /* NCHW: elements per phase plane (64-byte multiple) */
    int64_t d_slab;                   /* slab elements, tail included */
    const int64_t *d_delta;           /* per kk: its offset in the slab */
    const int64_t *d_pix;             /* per pixel of a row block: its offset in the slab */
    int64_t d_inplace;                /* no padding, stride 1: x is laid out as a slab... */
    const int64_t *d_delta_x;         /* ...and these are the kk offsets in it */
} fastdl_conv_geom;

static inline int64_t fastdl_conv_min(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t fastdl_conv_ceil(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

/* Per-thread workspace (elements) of the scatter input gradient. */
static int64_t fastdl_conv_workspace(const fastdl_conv_geom *g, int64_t nr)
{
    const int64_t mr = FASTDL_CONV_MR, pc = FASTDL_CONV_PC;
    const int64_t pcpad = fastdl_conv_ceil(pc, nr > mr ? nr : mr);
    return g->nhwc ? pcpad * g->K + pc * FASTDL_CONV_NB : g->K * pcpad + FASTDL_CONV_MB * pc;
}

/* Per-pixel tables of a chunk of pixels [p0, p0 + np) of one image:
 * ih0 = oh·sh − top, iw0 = ow·sw − left. */
static void fastdl_conv_pixel_table(const fastdl_conv_geom *g, int64_t p0, int64_t np,
                                    int64_t *ih0, int64_t *iw0)
{
    int64_t oh = p0 / g->Wo, ow = p0 % g->Wo;
    for (int64_t p = 0; p < np; p++) {
        ih0[p] = oh * g->sh - g->pt;
        iw0[p] = ow * g->sw - g->pl;
        if (++ow == g->Wo) {
            ow = 0;
            oh++;
        }
    }
}

/* Direct path for blocks of `rows` output rows: the slab's shape and the tables delta (CRS
 * entries), pix (rows·Wo entries) and delta_x (CRS entries: the kk offsets in x itself);
 * see fastdl_conv_direct.h. */
static void fastdl_conv_direct_setup(fastdl_conv_geom *g, int64_t rows, int64_t *delta,
                                     int64_t *pix, int64_t *delta_x)
{
    const int64_t C = g->C, R = g->R, S = g->S, sh = g->sh, sw = g->sw, Wo = g->Wo;
    /* no padding on any side and stride 1: x's own rows are the slab's (NCHW: pitch W = Wq,
     * planes H·W apart; NHWC: pitch W·C), so the tasks can read x in place */
    g->d_inplace = sh == 1 && sw == 1 && g->pt == 0 && g->pl == 0 && g->Ho == g->H - R + 1
                   && g->Wo == g->W - S + 1;
    for (int64_t c = 0; c < C; c++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t s = 0; s < S; s++)
                delta_x[g->nhwc ? (r * S + s) * C + c : (c * R + r) * S + s] =
                    c * g->xs_c + r * g->xs_h + s * g->xs_w;
    g->d_rows = rows;
    g->d_blocks = (g->Ho + rows - 1) / rows;
    if (!g->nhwc) {
        /* planes start on 64-byte boundaries, so a 1×1 kernel's rows load aligned */
        const int64_t Wq = Wo + (S - 1) / sw, Hq = rows + (R - 1) / sh;
        const int64_t plane = fastdl_conv_ceil(Hq * Wq, 16);
        g->d_plane = plane;
        g->d_Hq = Hq;
        g->d_Wq = Wq;
        g->d_pitch = Wq;
        g->d_slab = C * sh * sw * plane + FASTDL_CONV_NR_MAX + S + 16;
        for (int64_t c = 0; c < C; c++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++)
                    delta[(c * R + r) * S + s] = ((c * sh + r % sh) * sw + s % sw) * plane
                                                 + (r / sh) * Wq + s / sw;
        for (int64_t i = 0; i < rows; i++)
            for (int64_t ow = 0; ow < Wo; ow++)
                pix[i * Wo + ow] = i * Wq + ow;
    } else {
        const int64_t Wp = (Wo - 1) * sw + S, pitch = Wp * C;
        g->d_Hq = (rows - 1) * sh + R;
        g->d_Wq = Wp;
        g->d_pitch = pitch;
        g->d_slab = g->d_Hq * pitch;
        for (int64_t r = 0; r < R; r++)
            for (int64_t s = 0; s < S; s++)
                for (int64_t c = 0; c < C; c++)
                    delta[(r * S + s) * C + c] = r * pitch + s * C + c;
        for (int64_t i = 0; i < rows; i++)
            for (int64_t ow = 0; ow < Wo; ow++)
                pix[i * Wo + ow] = i * sh * pitch + ow * sw * C;
    }
}

#define FASTDL_CONV_T float
#define FASTDL_CONV_SFX f32
#define FASTDL_CONV_NR fastdl_conv_nr_f32
#define FASTDL_CONV_UKR fastdl_conv_ukr_f32
#define FASTDL_CONV_UKRA fastdl_conv_ukra_f32
#define FASTDL_CONV_UKRB fastdl_conv_ukrb_f32
#define FASTDL_CONV_UKRB12 fastdl_conv_ukrb12_f32
#define FASTDL_CONV_UKRD fastdl_conv_ukrd_f32
#include "fastdl_conv_impl.h"
#include "fastdl_conv_direct.h"
#undef FASTDL_CONV_T
#undef FASTDL_CONV_SFX
#undef FASTDL_CONV_NR
#undef FASTDL_CONV_UKR
#undef FASTDL_CONV_UKRA
#undef FASTDL_CONV_UKRB
#undef FASTDL_CONV_UKRB12
#undef FASTDL_CONV_UKRD

#define FASTDL_CONV_T double
#define FASTDL_CONV_SFX f64
#define FASTDL_CONV_NR fastdl_conv_nr_f64
#define FASTDL_CONV_UKR fastdl_conv_ukr_f64
#define FASTDL_CONV_UKRA fastdl_conv_ukra_f64
#define FASTDL_CONV_UKRB fastdl_conv_ukrb_f64
#define FASTDL_CONV_UKRB12 fastdl_conv_ukrb12_f64
#define FASTDL_CONV_UKRD fastdl_conv_ukrd_f64
#include "fastdl_conv_impl.h"
#include "fastdl_conv_direct.h"
#undef FASTDL_CONV_T
#undef FASTDL_CONV_SFX
#undef FASTDL_CONV_NR
#undef FASTDL_CONV_UKR
#undef FASTDL_CONV_UKRA
#undef FASTDL_CONV_UKRB
#undef FASTDL_CONV_UKRB12
#undef FASTDL_CONV_UKRD

#endif /* FASTDL_CONV_H */
