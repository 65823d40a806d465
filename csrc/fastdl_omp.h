/* OpenMP shim: the same names whether or not the build has OpenMP.
 *
 * Without OpenMP (compiler lacks it, or FASTDL_NO_OPENMP=1) the runtime calls below become
 * serial stand-ins, and Cython's prange/parallel compile to plain loops.
 */
#ifndef FASTDL_OMP_H
#define FASTDL_OMP_H

#ifdef _OPENMP
#include <omp.h>
#define FASTDL_HAVE_OPENMP 1
#define FASTDL_OPENMP_VERSION _OPENMP
#else
#define FASTDL_HAVE_OPENMP 0
#define FASTDL_OPENMP_VERSION 0
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
static inline void omp_set_num_threads(int n) { (void)n; }
static inline int omp_get_num_procs(void) { return 1; }
static inline int omp_in_parallel(void) { return 0; }
#endif

#endif /* FASTDL_OMP_H */
