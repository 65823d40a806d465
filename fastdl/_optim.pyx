"""Compiled fused optimizer updates over whole parameter lists (one parallel region per call).

``fused_step`` first checks, cheaply and without touching any data, that every tuple
(param, grad, state...) is eligible for the kernel: ndarrays of one float dtype per tuple,
equal shapes, C-contiguous and aligned, params and state writeable, no partial overlap. If
any is not, it returns False and the caller takes the slow path (full validation with the
documented errors, reference update for ineligible tuples). Otherwise the work of all arrays
is cut into fixed slices of ``SLICE`` elements, listed in one table and shared out with a
static ``prange``: 200 small arrays cost about what one big array of the same total size
costs, and each element's result is independent of the split (no reductions).
"""
import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uintptr_t

cnp.import_array()

cdef extern from "fastdl_optim.h" nogil:
    ctypedef struct fastdl_optim_hyper:
        double lr, beta, beta2, eps, step_size, inv_sqrt_bc2, l2, decay
    void fastdl_optim_slice_f32(int kind, float *p, const float *g, float *s1, float *s2,
                                Py_ssize_t n, const fastdl_optim_hyper *h)
    void fastdl_optim_slice_f64(int kind, double *p, const double *g, double *s1, double *s2,
                                Py_ssize_t n, const fastdl_optim_hyper *h)

# Update kinds and how many state arrays each takes.
KINDS = {"sgd": (0, 0), "momentum": (1, 1), "rmsprop": (2, 1), "adam": (3, 2)}

# Elements per slice: 64 KiB of float32 per stream keeps a slice's 4–7 streams in L2 and
# gives enough slices to balance 2 threads on arrays of a few hundred thousand elements.
cdef enum:
    SLICE = 16384
# Below this many elements in total, one thread (a parallel region costs a few microseconds).
cdef enum:
    GRAIN = 131072


cdef bint _same_shape(cnp.ndarray a, cnp.ndarray b):
    cdef int d
    if cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(b):
        return False
    for d in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIMS(a)[d] != cnp.PyArray_DIMS(b)[d]:
            return False
    return True


cdef bint _overlap(cnp.ndarray a, cnp.ndarray b):
    """True if a and b share memory without being the same array data (partial overlap)."""
    cdef uintptr_t pa = <uintptr_t>cnp.PyArray_DATA(a), pb = <uintptr_t>cnp.PyArray_DATA(b)
    if pa == pb:
        return False        # element i reads and writes element i only: safe
    return pa < pb + <uintptr_t>cnp.PyArray_NBYTES(b) and pb < pa + <uintptr_t>cnp.PyArray_NBYTES(a)


cdef bint _eligible(object obj, int type_num, cnp.ndarray like, bint writeable):
    """obj is an aligned C-contiguous ndarray of type_num with like's shape (writeable if asked)."""
    if not isinstance(obj, cnp.ndarray):
        return False
    cdef cnp.ndarray a = <cnp.ndarray>obj
    if cnp.PyArray_TYPE(a) != type_num or not cnp.PyArray_ISCARRAY_RO(a):
        return False
    if writeable and not cnp.PyArray_ISWRITEABLE(a):
        return False
    return _same_shape(a, like)


def tuple_eligible(str kind, object p, object g, object s1, object s2):
    """True if one (param, grad, state...) tuple can go through the kernel."""
    cdef int n_state = KINDS[kind][1]
    if not isinstance(p, cnp.ndarray):
        return False
    cdef cnp.ndarray pa = <cnp.ndarray>p
    cdef int type_num = cnp.PyArray_TYPE(pa)
    if type_num != cnp.NPY_FLOAT32 and type_num != cnp.NPY_FLOAT64:
        return False
    if not _eligible(p, type_num, pa, True) or not _eligible(g, type_num, pa, False):
        return False
    arrays = [p, g]
    if n_state >= 1:
        if not _eligible(s1, type_num, pa, True):
            return False
        arrays.append(s1)
    if n_state >= 2:
        if not _eligible(s2, type_num, pa, True):
            return False
        arrays.append(s2)
    cdef Py_ssize_t i, j
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            if _overlap(arrays[i], arrays[j]):
                return False
    return True


def fused_step(str kind, list params, list grads, list state1, list state2, dict hyper,
               int n_threads):
    """Apply one update (``kind``) to every tuple, in place, or return False untouched.

    params, grads, state1, state2 : lists of equal length (the state lists the update does not
    use are ignored; pass ``[]``). hyper : the keys of ``fastdl_optim_hyper`` (missing keys take
    neutral values). n_threads >= 1. Returns True when the update was applied.
    """
    cdef int k = KINDS[kind][0], n_state = KINDS[kind][1]
    cdef Py_ssize_t n_arrays = len(params), i, j, j2, c, n_slices = 0, total = 0, size
    if len(grads) != n_arrays or (n_state >= 1 and len(state1) != n_arrays) \
            or (n_state >= 2 and len(state2) != n_arrays):
        return False
    for i in range(n_arrays):
        if not tuple_eligible(kind, params[i], grads[i],
                              state1[i] if n_state >= 1 else None,
                              state2[i] if n_state >= 2 else None):
            return False
        size = cnp.PyArray_SIZE(<cnp.ndarray>params[i])
        total += size
        n_slices += (size + SLICE - 1) // SLICE
    if n_slices == 0:
        return True

    cdef fastdl_optim_hyper h
    h.lr = hyper.get("lr", 0.0)
    h.beta = hyper.get("beta", 0.0)
    h.beta2 = hyper.get("beta2", 0.0)
    h.eps = hyper.get("eps", 0.0)
    h.step_size = hyper.get("step_size", 0.0)
    h.inv_sqrt_bc2 = hyper.get("inv_sqrt_bc2", 1.0)
    h.l2 = hyper.get("l2", 0.0)
    h.decay = hyper.get("decay", 1.0)

    # Slice table: the four data pointers of the slice's array (0 where unused) already
    # offset to the slice start, its length, and whether it is float32.
    cdef uintptr_t[:, ::1] ptrs = np.zeros((n_slices, 4), dtype=np.uintp)
    cdef int64_t[::1] length = np.empty(n_slices, dtype=np.int64)
    cdef unsigned char[::1] single = np.empty(n_slices, dtype=np.uint8)
    cdef uintptr_t base[4]
    cdef Py_ssize_t itemsize
    cdef list arrays
    c = 0
    for i in range(n_arrays):
        arrays = [params[i], grads[i]]
        if n_state >= 1:
            arrays.append(state1[i])
        if n_state >= 2:
            arrays.append(state2[i])
        for j in range(4):
            base[j] = <uintptr_t>cnp.PyArray_DATA(<cnp.ndarray>arrays[j]) if j < len(arrays) else 0
        itemsize = cnp.PyArray_ITEMSIZE(<cnp.ndarray>params[i])
        size = cnp.PyArray_SIZE(<cnp.ndarray>params[i])
        j = 0
        while j < size:
            for j2 in range(4):
                ptrs[c, j2] = base[j2] + j * itemsize if base[j2] else 0
            length[c] = min(SLICE, size - j)
            single[c] = itemsize == 4
            j += SLICE
            c += 1

    cdef int nt = 1 if total < GRAIN else max(1, min(n_threads, n_slices))
    with nogil:
        for c in prange(n_slices, num_threads=nt, schedule="static"):
            if single[c]:
                fastdl_optim_slice_f32(k, <float*>ptrs[c, 0], <const float*>ptrs[c, 1],
                                       <float*>ptrs[c, 2], <float*>ptrs[c, 3], length[c], &h)
            else:
                fastdl_optim_slice_f64(k, <double*>ptrs[c, 0], <const double*>ptrs[c, 1],
                                       <double*>ptrs[c, 2], <double*>ptrs[c, 3], length[c], &h)
    return True
