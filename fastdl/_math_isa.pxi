# The float32 exp / tanh / sigmoid vector level of this extension (csrc/fastdl_math.h keeps
# its choice in a static of each extension): "generic" (the portable loops, auto-vectorised
# clones without FMA), "avx2" (AVX2+FMA kernels) or "avx512" (AVX-512F kernels), the best the
# CPU has chosen at import. Included by _activations, _dense and _losses.

cdef extern from "fastdl_math.h" nogil:
    int fdl_math_select(int level)

ISA_NAMES = ("generic", "avx2", "avx512")
ISA = ISA_NAMES[fdl_math_select(2)]


def select_isa(str isa):
    """Use the float32 math kernels of level ``isa`` ("generic", "avx2", "avx512") or the
    best the CPU has below it; returns the name of the level in use. Tests and benchmarks;
    not thread-safe."""
    global ISA
    ISA = ISA_NAMES[fdl_math_select(ISA_NAMES.index(isa))]
    return ISA
