/* Fused, in-place optimizer updates over one contiguous slice of a parameter.
 *
 * Each function reads param, grad and state once and writes param and state once: the whole
 * step is one pass over memory (Adam: 28 bytes per float32 parameter). Hyperparameters
 * arrive in double (bias corrections are computed once per call by the caller) and are
 * rounded to the array's type once per slice. No reductions: results do not depend on how
 * the work is split across threads.
 */
#ifndef FASTDL_OPTIM_H
#define FASTDL_OPTIM_H

#include <math.h>
#include <stddef.h>
#include "fastdl_simd.h"

enum { FASTDL_SGD = 0, FASTDL_MOMENTUM = 1, FASTDL_RMSPROP = 2, FASTDL_ADAM = 3 };

/* Hyperparameters of one step, prepared by the caller. */
typedef struct {
    double lr;            /* SGD, momentum, RMSprop: learning rate */
    double beta;          /* momentum / RMSprop / Adam beta1 */
    double beta2;         /* Adam beta2 */
    double eps;           /* RMSprop, Adam */
    double step_size;     /* Adam: lr / (1 - beta1^t) */
    double inv_sqrt_bc2;  /* Adam: 1 / sqrt(1 - beta2^t) */
    double l2;            /* Adam: weight_decay added to the gradient (0 if decoupled) */
    double decay;         /* Adam: 1 - lr * weight_decay when decoupled, else 1 */
} fastdl_optim_hyper;

#define FASTDL_DEFINE_OPTIM(T, SQRT, SUFFIX)                                                  \
FASTDL_CLONES static void fastdl_sgd_##SUFFIX(T *FASTDL_RESTRICT p,                          \
        const T *FASTDL_RESTRICT g, ptrdiff_t n, const fastdl_optim_hyper *h)                 \
{                                                                                             \
    const T lr = (T)h->lr;                                                                    \
    for (ptrdiff_t i = 0; i < n; i++) p[i] -= lr * g[i];                                      \
}                                                                                             \
FASTDL_CLONES static void fastdl_momentum_##SUFFIX(T *FASTDL_RESTRICT p,                     \
        const T *FASTDL_RESTRICT g, T *FASTDL_RESTRICT vel, ptrdiff_t n,                      \
        const fastdl_optim_hyper *h)                                                          \
{                                                                                             \
    const T lr = (T)h->lr, b = (T)h->beta, c = (T)(1.0 - h->beta);                            \
    for (ptrdiff_t i = 0; i < n; i++) {                                                       \
        const T v = b * vel[i] + c * g[i];                                                    \
        vel[i] = v;                                                                           \
        p[i] -= lr * v;                                                                       \
    }                                                                                         \
}                                                                                             \
FASTDL_CLONES static void fastdl_rmsprop_##SUFFIX(T *FASTDL_RESTRICT p,                      \
        const T *FASTDL_RESTRICT g, T *FASTDL_RESTRICT sq, ptrdiff_t n,                       \
        const fastdl_optim_hyper *h)                                                          \
{                                                                                             \
    const T lr = (T)h->lr, b = (T)h->beta, c = (T)(1.0 - h->beta), eps = (T)h->eps;           \
    for (ptrdiff_t i = 0; i < n; i++) {                                                       \
        const T gi = g[i];                                                                    \
        const T s = b * sq[i] + c * gi * gi;                                                  \
        sq[i] = s;                                                                            \
        p[i] -= lr * gi / (SQRT(s) + eps);                                                    \
    }                                                                                         \
}                                                                                             \
FASTDL_CLONES static void fastdl_adam_##SUFFIX(T *FASTDL_RESTRICT p,                         \
        const T *FASTDL_RESTRICT g, T *FASTDL_RESTRICT m1, T *FASTDL_RESTRICT m2,             \
        ptrdiff_t n, const fastdl_optim_hyper *h)                                             \
{                                                                                             \
    const T b1 = (T)h->beta, c1 = (T)(1.0 - h->beta);                                         \
    const T b2 = (T)h->beta2, c2 = (T)(1.0 - h->beta2);                                       \
    const T step = (T)h->step_size, isb = (T)h->inv_sqrt_bc2, eps = (T)h->eps;                \
    const T l2 = (T)h->l2;                                                                    \
    const double decay = h->decay;                                                            \
    for (ptrdiff_t i = 0; i < n; i++) {                                                       \
        const T gi = l2 != 0 ? g[i] + l2 * p[i] : g[i]; /* no 0*inf when l2 is off */         \
        const T m = b1 * m1[i] + c1 * gi;                                                     \
        const T v = b2 * m2[i] + c2 * gi * gi;                                                \
        m1[i] = m;                                                                            \
        m2[i] = v;                                                                            \
        /* decay and update combined in double: one rounding of the new parameter */          \
        p[i] = (T)((double)p[i] * decay - (double)(step * m / (SQRT(v) * isb + eps)));        \
    }                                                                                         \
}                                                                                             \
/* One slice of any of the four updates (s1, s2: the state arrays the update uses). */        \
static inline void fastdl_optim_slice_##SUFFIX(int kind, T *p, const T *g, T *s1, T *s2,      \
        ptrdiff_t n, const fastdl_optim_hyper *h)                                             \
{                                                                                             \
    switch (kind) {                                                                           \
    case FASTDL_SGD: fastdl_sgd_##SUFFIX(p, g, n, h); break;                                  \
    case FASTDL_MOMENTUM: fastdl_momentum_##SUFFIX(p, g, s1, n, h); break;                    \
    case FASTDL_RMSPROP: fastdl_rmsprop_##SUFFIX(p, g, s1, n, h); break;                      \
    default: fastdl_adam_##SUFFIX(p, g, s1, s2, n, h); break;                                 \
    }                                                                                         \
}

FASTDL_DEFINE_OPTIM(float, sqrtf, f32)
FASTDL_DEFINE_OPTIM(double, sqrt, f64)

#endif /* FASTDL_OPTIM_H */
