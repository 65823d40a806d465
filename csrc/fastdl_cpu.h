/* Runtime CPU feature detection (for dispatching SIMD paths without -march=native). */
#ifndef FASTDL_CPU_H
#define FASTDL_CPU_H

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
static inline int fastdl_cpu_has_avx2(void) { __builtin_cpu_init(); return __builtin_cpu_supports("avx2"); }
static inline int fastdl_cpu_has_fma(void) { __builtin_cpu_init(); return __builtin_cpu_supports("fma"); }
static inline int fastdl_cpu_has_avx512f(void) { __builtin_cpu_init(); return __builtin_cpu_supports("avx512f"); }
#else
static inline int fastdl_cpu_has_avx2(void) { return 0; }
static inline int fastdl_cpu_has_fma(void) { return 0; }
static inline int fastdl_cpu_has_avx512f(void) { return 0; }
#endif

#endif /* FASTDL_CPU_H */
