/* Portable runtime CPU dispatch for auto-vectorised loops.
 *
 * FASTDL_CLONES on a function makes GCC/Clang emit an AVX2 version and a baseline (SSE2)
 * version and pick one at load time (ifunc), so wheels need no -march=native. Elsewhere it
 * expands to nothing and only the baseline is built.
 */
#ifndef FASTDL_SIMD_H
#define FASTDL_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(FASTDL_NO_CLONES)
#define FASTDL_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FASTDL_CLONES
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FASTDL_RESTRICT __restrict__
#else
#define FASTDL_RESTRICT
#endif

#endif /* FASTDL_SIMD_H */
