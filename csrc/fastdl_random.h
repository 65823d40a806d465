/* The counter-based random generator shared by every random op (dropout, augmentation).
 *
 * Exactly the formulas of fastdl/reference/_random.py (the bits must agree with it):
 *
 *     z      = key + (counter + 1) * 0x9E3779B97F4A7C15          (mod 2**64)
 *     bits64 = mix64(z)            (SplitMix64's finaliser)
 *     bits32 = bits64 >> 32
 *     bernoulli(p):  bits32 < floor(p * 2**32)
 *     uniform:       (bits64 >> 11) * 2**-53            in [0, 1)
 *     integer [0,n): floor(uniform * n)
 *
 * A draw is a pure function of (key, counter): results never depend on how work is split
 * across threads or chunks. Keys are made in Python (make_key: mix64(seed), or a 64-bit draw
 * from a numpy Generator). Header-only, C99, no global state.
 *
 * Vector code that wants consecutive counters can step z by FASTDL_GOLDEN per element
 * (fastdl_random_state / fastdl_mix64 on z directly) instead of recomputing the product.
 */
#ifndef FASTDL_RANDOM_H
#define FASTDL_RANDOM_H

#include <stdint.h>
#include <math.h>

#define FASTDL_GOLDEN UINT64_C(0x9E3779B97F4A7C15)
#define FASTDL_MIX_M1 UINT64_C(0xBF58476D1CE4E5B9)
#define FASTDL_MIX_M2 UINT64_C(0x94D049BB133111EB)

/* SplitMix64's finaliser (a bijection of uint64). */
static inline uint64_t fastdl_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * FASTDL_MIX_M1;
    z = (z ^ (z >> 27)) * FASTDL_MIX_M2;
    return z ^ (z >> 31);
}

/* The generator's state before mixing at ``counter``: key + (counter + 1) * golden. */
static inline uint64_t fastdl_random_state(uint64_t key, uint64_t counter)
{
    return key + (counter + 1) * FASTDL_GOLDEN;
}

/* 64 random bits at ``counter`` of the stream ``key``. */
static inline uint64_t fastdl_random_bits64(uint64_t key, uint64_t counter)
{
    return fastdl_mix64(fastdl_random_state(key, counter));
}

/* 32 random bits: the high half of fastdl_random_bits64. */
static inline uint32_t fastdl_random_bits32(uint64_t key, uint64_t counter)
{
    return (uint32_t)(fastdl_random_bits64(key, counter) >> 32);
}

/* The Bernoulli threshold of probability p in [0, 1]: min(floor(p * 2**32), 2**32).
 * A draw is True iff bits32 < threshold (so P = threshold / 2**32; p = 1 is always True). */
static inline uint64_t fastdl_bernoulli_threshold(double p)
{
    if (!(p > 0.0)) return 0;                       /* also NaN */
    double t = floor(p * 4294967296.0);
    return t >= 4294967296.0 ? UINT64_C(4294967296) : (uint64_t)t;
}

/* One Bernoulli draw (1 with probability threshold / 2**32). */
static inline int fastdl_bernoulli(uint64_t key, uint64_t counter, uint64_t threshold)
{
    return (fastdl_random_bits64(key, counter) >> 32) < threshold;
}

/* A uniform double in [0, 1) with 53 random bits. */
static inline double fastdl_uniform(uint64_t key, uint64_t counter)
{
    return (double)(fastdl_random_bits64(key, counter) >> 11) * 0x1.0p-53;
}

/* An integer in [0, n): floor(uniform * n), as the reference (n >= 1). */
static inline int64_t fastdl_random_integer(uint64_t key, uint64_t counter, int64_t n)
{
    return (int64_t)floor(fastdl_uniform(key, counter) * (double)n);
}

#endif /* FASTDL_RANDOM_H */
