# OpenMP runtime calls through csrc/fastdl_omp.h, which supplies serial stand-ins when the
# build has no OpenMP. cimport these instead of Cython's `openmp` module.
cdef extern from "fastdl_omp.h" nogil:
    int FASTDL_HAVE_OPENMP
    int FASTDL_OPENMP_VERSION
    int omp_get_max_threads()
    int omp_get_num_threads()
    int omp_get_thread_num()
    void omp_set_num_threads(int n)
    int omp_get_num_procs()
    int omp_in_parallel()
