/* Activation loops over contiguous runs, forward and backward, float and double.
 *
 * One pass over memory per call: forward reads x and writes y (y may be x itself: each
 * element is read before it is written), backward reads dy and the saved array and writes
 * dx. Used by fastdl._activations (whole arrays cut in slices) and fastdl._dense (the bias +
 * activation epilogue of linear, and the fused activation derivative of linear_backward).
 * The backward formulas are the reference's, in the reference's order of operations.
 */
#ifndef FASTDL_ACTIVATIONS_H
#define FASTDL_ACTIVATIONS_H

/* The selects below are if-converted (and the loops vectorised) only without
 * -ftrapping-math; they raise no exception that the code relies on. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

#include "fastdl_math.h"

enum { FDL_ACT_NONE = 0, FDL_ACT_RELU = 1, FDL_ACT_SIGMOID = 2, FDL_ACT_TANH = 3,
       FDL_ACT_LEAKY = 4 };

#define FASTDL_DEFINE_ACTIVATIONS(T, ACC, SUFFIX)                                             \
FASTDL_MATH_CLONES static void fdl_sigmoid_portable_##SUFFIX(const T *FASTDL_RESTRICT x,     \
        T *FASTDL_RESTRICT y, ptrdiff_t n)                                                    \
{ for (ptrdiff_t i = 0; i < n; i++) y[i] = fdl_sigmoid_##SUFFIX(x[i]); }                      \
FASTDL_MATH_CLONES static void fdl_tanh_portable_##SUFFIX(const T *FASTDL_RESTRICT x,        \
        T *FASTDL_RESTRICT y, ptrdiff_t n)                                                    \
{ for (ptrdiff_t i = 0; i < n; i++) y[i] = fdl_tanh_##SUFFIX(x[i]); }                         \
/* the AVX-512F kernels of fastdl_math.h when selected, else the portable loops */            \
static inline void fdl_sigmoid_loop_##SUFFIX(const T *x, T *y, ptrdiff_t n)                   \
{ if (!fdl_sigmoid_fast_##SUFFIX(x, y, n)) fdl_sigmoid_portable_##SUFFIX(x, y, n); }          \
static inline void fdl_tanh_loop_##SUFFIX(const T *x, T *y, ptrdiff_t n)                      \
{ if (!fdl_tanh_fast_##SUFFIX(x, y, n)) fdl_tanh_portable_##SUFFIX(x, y, n); }                \
FASTDL_MATH_CLONES static void fdl_relu_loop_##SUFFIX(const T *FASTDL_RESTRICT x,                      \
        T *FASTDL_RESTRICT y, ptrdiff_t n)                                                    \
{ for (ptrdiff_t i = 0; i < n; i++) { const T v = x[i]; y[i] = v < 0 ? (T)0 : v; } }          \
FASTDL_MATH_CLONES static void fdl_leaky_relu_loop_##SUFFIX(const T *FASTDL_RESTRICT x,                \
        T *FASTDL_RESTRICT y, ptrdiff_t n, T alpha)                                           \
{ for (ptrdiff_t i = 0; i < n; i++) { const T v = x[i]; y[i] = v > 0 ? v : v * alpha; } }     \
/* forward by kind (alpha used by leaky ReLU only) */                                         \
static inline void fdl_activation_##SUFFIX(int kind, const T *x, T *y, ptrdiff_t n, T alpha)  \
{                                                                                             \
    switch (kind) {                                                                           \
    case FDL_ACT_RELU: fdl_relu_loop_##SUFFIX(x, y, n); break;                                     \
    case FDL_ACT_SIGMOID: fdl_sigmoid_loop_##SUFFIX(x, y, n); break;                               \
    case FDL_ACT_TANH: fdl_tanh_loop_##SUFFIX(x, y, n); break;                                     \
    case FDL_ACT_LEAKY: fdl_leaky_relu_loop_##SUFFIX(x, y, n, alpha); break;                       \
    default: if (x != y) memcpy(y, x, (size_t)n * sizeof(T)); break;                          \
    }                                                                                         \
}                                                                                             \
FASTDL_MATH_CLONES static void fdl_sigmoid_backward_##SUFFIX(const T *FASTDL_RESTRICT dy,         \
        const T *FASTDL_RESTRICT y, T *FASTDL_RESTRICT dx, ptrdiff_t n)                       \
{ for (ptrdiff_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1 - y[i]); }                      \
FASTDL_MATH_CLONES static void fdl_tanh_backward_##SUFFIX(const T *FASTDL_RESTRICT dy,            \
        const T *FASTDL_RESTRICT y, T *FASTDL_RESTRICT dx, ptrdiff_t n)                       \
{ for (ptrdiff_t i = 0; i < n; i++) dx[i] = dy[i] * (1 - y[i] * y[i]); }                      \
FASTDL_MATH_CLONES static void fdl_relu_backward_##SUFFIX(const T *FASTDL_RESTRICT dy,            \
        const T *FASTDL_RESTRICT x, T *FASTDL_RESTRICT dx, ptrdiff_t n)                       \
{ for (ptrdiff_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : (T)0; }                        \
FASTDL_MATH_CLONES static void fdl_leaky_relu_backward_##SUFFIX(const T *FASTDL_RESTRICT dy,      \
        const T *FASTDL_RESTRICT x, T *FASTDL_RESTRICT dx, ptrdiff_t n, T alpha)              \
{ for (ptrdiff_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : dy[i] * alpha; }               \
/* backward by kind; s is y (sigmoid, tanh) or x (relu, leaky relu) */                        \
static inline void fdl_activation_backward_##SUFFIX(int kind, const T *dy, const T *s, T *dx, \
        ptrdiff_t n, T alpha)                                                                 \
{                                                                                             \
    switch (kind) {                                                                           \
    case FDL_ACT_RELU: fdl_relu_backward_##SUFFIX(dy, s, dx, n); break;                       \
    case FDL_ACT_SIGMOID: fdl_sigmoid_backward_##SUFFIX(dy, s, dx, n); break;                 \
    case FDL_ACT_TANH: fdl_tanh_backward_##SUFFIX(dy, s, dx, n); break;                       \
    case FDL_ACT_LEAKY: fdl_leaky_relu_backward_##SUFFIX(dy, s, dx, n, alpha); break;         \
    default: if (dx != dy) memcpy(dx, dy, (size_t)n * sizeof(T)); break;                      \
    }                                                                                         \
}                                                                                             \
/* y[i, :] = act(y[i, :] + b) for rows [r0, r1) of a (rows, cols) array with row stride ld */ \
FASTDL_MATH_CLONES static void fdl_add_bias_##SUFFIX(T *FASTDL_RESTRICT y,                        \
        const T *FASTDL_RESTRICT b, ptrdiff_t n)                                              \
{ for (ptrdiff_t j = 0; j < n; j++) y[j] += b[j]; }                                           \
static inline void fdl_bias_activation_rows_##SUFFIX(int kind, T *y, ptrdiff_t ld,            \
        const T *b, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t cols, T alpha)                      \
{                                                                                             \
    for (ptrdiff_t r = r0; r < r1; r++) {                                                     \
        T *row = y + r * ld;                                                                  \
        if (b) fdl_add_bias_##SUFFIX(row, b, cols);                                           \
        if (kind != FDL_ACT_NONE) fdl_activation_##SUFFIX(kind, row, row, cols, alpha);       \
    }                                                                                         \
}                                                                                             \
/* acc[j] += v[j] (column sums of db, accumulated in ACC) */                                  \
FASTDL_MATH_CLONES static void fdl_accumulate_##SUFFIX(ACC *FASTDL_RESTRICT acc,                  \
        const T *FASTDL_RESTRICT v, ptrdiff_t n)                                              \
{ for (ptrdiff_t j = 0; j < n; j++) acc[j] += (ACC)v[j]; }                                    \
/* rows [r0, r1): dz = dy * act'(y) (or dz = dy when dz == dy) and acc += column sums */      \
static inline void fdl_dz_rows_##SUFFIX(int kind, const T *dy, ptrdiff_t ld_dy, const T *y,   \
        ptrdiff_t ld_y, T *dz, ptrdiff_t ld_dz, ACC *acc, ptrdiff_t r0, ptrdiff_t r1,         \
        ptrdiff_t cols, T alpha)                                                              \
{                                                                                             \
    for (ptrdiff_t r = r0; r < r1; r++) {                                                     \
        const T *g = dy + r * ld_dy;                                                          \
        if (dz) {                                                                             \
            fdl_activation_backward_##SUFFIX(kind, g, y + r * ld_y, dz + r * ld_dz, cols,     \
                                             alpha);                                          \
            g = dz + r * ld_dz;                                                               \
        }                                                                                     \
        if (acc) fdl_accumulate_##SUFFIX(acc, g, cols);                                       \
    }                                                                                         \
}

FASTDL_DEFINE_ACTIVATIONS(float, double, f32)
FASTDL_DEFINE_ACTIVATIONS(double, double, f64)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif /* FASTDL_ACTIVATIONS_H */
