"""Compiled runtime core: OpenMP thread control and CPU feature detection."""
from fastdl._openmp cimport (FASTDL_HAVE_OPENMP, FASTDL_OPENMP_VERSION, omp_get_max_threads,
                             omp_set_num_threads, omp_get_num_procs)

cdef extern from "fastdl_cpu.h" nogil:
    int fastdl_cpu_has_avx2()
    int fastdl_cpu_has_fma()
    int fastdl_cpu_has_avx512f()


def openmp_enabled():
    """True when the extension was built with OpenMP."""
    return bool(FASTDL_HAVE_OPENMP)


def openmp_version():
    """The ``_OPENMP`` date macro of the build (e.g. 201511), 0 without OpenMP."""
    return int(FASTDL_OPENMP_VERSION)


def max_threads():
    """``omp_get_max_threads()`` now: honours OMP_NUM_THREADS, set_num_threads, threadpoolctl."""
    return int(omp_get_max_threads())


def set_max_threads(int n):
    """``omp_set_num_threads(n)`` for the calling thread's ICV (n >= 1, checked by the caller)."""
    omp_set_num_threads(n)


def num_procs():
    """``omp_get_num_procs()``: processors available to the process."""
    return int(omp_get_num_procs())


def cpu_features():
    """Dict of the SIMD features the running CPU reports."""
    return {"avx2": bool(fastdl_cpu_has_avx2()), "fma": bool(fastdl_cpu_has_fma()),
            "avx512f": bool(fastdl_cpu_has_avx512f())}
