"""The native dropout against the reference, bit for bit: every instruction-set path
(AVX-512, AVX2, scalar), thread counts, multi-chunk sizes with tails, strided / reversed /
Fortran / read-only inputs, strided and overlapping outputs, and the backward."""
import importlib

import numpy as np
import pytest

import fastdl
from conftest import FLOATS

dropout_mod = importlib.import_module("fastdl.dropout")
ref = importlib.import_module("fastdl.reference.dropout")
random_ref = importlib.import_module("fastdl.reference._random")
kernels = importlib.import_module("fastdl._dropout")


@pytest.fixture(params=[0, 1, 2], ids=["scalar", "avx2", "avx512"])
def isa(request):
    """Force each forward path the CPU supports (skip the others)."""
    old, best = kernels.instruction_sets()
    if request.param > best:
        pytest.skip("instruction set not supported by this CPU")
    kernels.set_instruction_set(request.param)
    yield request.param
    kernels.set_instruction_set(old)


def bits(a):
    """The raw bits of a float array (assert_array_equal treats -0 == 0 and NaN == NaN)."""
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def test_kernels_are_used():
    assert dropout_mod.dropout.op.has_kernel
    assert dropout_mod.dropout_backward.op.has_kernel


@pytest.mark.parametrize("p", [1e-12, 1e-9, 0.1, 0.5, 0.8, 0.7500000001, 0.999999999, 1 - 2**-40])
def test_threshold_matches_reference(p):
    assert kernels.bernoulli_threshold(p) == int(random_ref.bernoulli_threshold(p))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("size", [1, 31, 63, 64, 65, 1000, 65536 + 77, 3 * 65536 + 5])
@pytest.mark.parametrize("keep_prob", [0.8, 0.5, 0.03])
def test_bits_match_reference_on_every_path(isa, size, keep_prob, dtype, rng):
    x = rng.standard_normal(size).astype(dtype)
    x[::5] *= -1
    if size >= 3:
        x[:3] = [np.inf, np.nan, -0.0]
    with np.errstate(invalid="ignore"):
        y_ref, m_ref = ref.dropout(x, keep_prob, seed=123)
    for n_threads in (1, 2, 3):
        y, m = dropout_mod.dropout(x, keep_prob, seed=123, n_threads=n_threads)
        np.testing.assert_array_equal(m, m_ref)
        np.testing.assert_array_equal(bits(y), bits(y_ref))


@pytest.fixture
def always_stream():
    """Streaming (non-temporal) stores for every size."""
    old = kernels.set_stream_bytes(0)
    yield
    kernels.set_stream_bytes(old)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("offset", [0, 1, 3, 13])
def test_streaming_stores_give_the_same_bits(isa, always_stream, offset, dtype, rng):
    size = 2 * 65536 + 1000
    x = rng.standard_normal(size).astype(dtype)
    y_ref, m_ref = ref.dropout(x, 0.8, seed=77)
    out = np.empty(size + offset, dtype)[offset:]        # out misaligned by `offset` elements
    for n_threads in (1, 2):
        y, m = dropout_mod.dropout(x, 0.8, seed=77, n_threads=n_threads)
        np.testing.assert_array_equal(m, m_ref)
        np.testing.assert_array_equal(bits(y), bits(y_ref))
        dropout_mod.dropout(x[offset:], 0.8, seed=77, out=out[:size - offset])
        np.testing.assert_array_equal(bits(out[:size - offset]),
                                      bits(ref.dropout(x[offset:], 0.8, seed=77)[0]))
    dy = x[offset:]
    np.testing.assert_array_equal(bits(dropout_mod.dropout_backward(dy, m_ref[offset:], 0.8)),
                                  bits(ref.dropout_backward(dy, m_ref[offset:], 0.8)))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("make", [
    lambda b: b[:, ::2],                                  # 2-D strided
    lambda b: b[::-1, ::-3],                              # negative strides
    lambda b: np.asfortranarray(b),                       # F order (2-D view)
    lambda b: np.asfortranarray(b.reshape(6, 70, 110)),    # F order 3-D: copied
    lambda b: b.reshape(6, 7700)[:, 5:400].reshape(6, 5, 79)[:, ::2],   # 3-D strided: copied
    lambda b: b[2:3, 7:],                                 # one strided row
], ids=["cols", "reversed", "fortran2d", "fortran3d", "strided3d", "row"])
def test_strided_readonly_inputs(make, dtype, rng):
    base = rng.standard_normal((420, 110)).astype(dtype)
    x = make(base)
    x.flags.writeable = False
    y_ref, m_ref = ref.dropout(x, 0.7, seed=9)
    y, m = dropout_mod.dropout(x, 0.7, seed=9, n_threads=2)
    assert m.flags.c_contiguous and y.shape == x.shape
    np.testing.assert_array_equal(m, m_ref)
    np.testing.assert_array_equal(bits(np.ascontiguousarray(y)), bits(y_ref))


@pytest.mark.parametrize("dtype", FLOATS)
def test_out_strided_in_place_and_overlapping(dtype, rng):
    x = rng.standard_normal((300, 250)).astype(dtype)
    y_ref, m_ref = ref.dropout(x, 0.6, seed=4)
    big = np.full((300, 500), np.nan, dtype)
    out = big[:, 1::2]
    y, m = dropout_mod.dropout(x, 0.6, seed=4, out=out)
    assert y is out
    np.testing.assert_array_equal(bits(np.ascontiguousarray(out)), bits(y_ref))
    assert np.isnan(big[:, ::2]).all()
    in_place = x.copy()
    dropout_mod.dropout(in_place, 0.6, seed=4, out=in_place)
    np.testing.assert_array_equal(bits(in_place), bits(y_ref))
    buf = x.copy()
    y, _ = dropout_mod.dropout(buf[::-1], 0.6, seed=4, out=buf)     # out overlaps x reversed
    np.testing.assert_array_equal(bits(y), bits(ref.dropout(x[::-1], 0.6, seed=4)[0]))


def test_large_mask_statistics_native():
    x = np.ones(10**7, np.float32)
    y, mask = dropout_mod.dropout(x, 0.8, seed=7)
    assert abs(np.count_nonzero(mask) / mask.size - 0.8) < 0.001 * 0.8
    np.testing.assert_array_equal(y, np.where(mask == 1, np.float32(1 / 0.8), np.float32(0)))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mask_kind", ["uint8", "bool", "strided", "values"])
def test_backward_matches_reference(mask_kind, dtype, rng):
    dy = rng.standard_normal((211, 700)).astype(dtype)
    dy[0, :3] = [np.inf, np.nan, -1.0]
    mask = (rng.uniform(size=dy.shape) < 0.6).astype(np.uint8)
    if mask_kind == "bool":
        mask = mask.astype(bool)
    elif mask_kind == "strided":
        mask = np.repeat(mask, 2, axis=1)[:, ::2]
        dy = np.asfortranarray(dy)
    elif mask_kind == "values":            # a uint8 mask is a multiplier, as in the reference
        mask = mask * rng.integers(0, 4, size=dy.shape).astype(np.uint8)
    with np.errstate(invalid="ignore"):
        want = ref.dropout_backward(dy, mask, 0.6)
    old = fastdl.get_num_threads()
    try:
        for n_threads in (1, 2, 3):            # the backward takes the default thread count
            fastdl.set_num_threads(n_threads)
            got = dropout_mod.dropout_backward(dy, mask, 0.6)
            np.testing.assert_array_equal(bits(got), bits(want))
    finally:
        fastdl.set_num_threads(old)


def test_backward_zero_size_and_readonly():
    dy = np.zeros((0, 4), np.float32)
    assert dropout_mod.dropout_backward(dy, np.zeros((0, 4), np.uint8), 0.5).shape == (0, 4)
    dy = np.arange(12, dtype=np.float64).reshape(3, 4)
    mask = np.tile(np.array([1, 0, 1, 0], np.uint8), (3, 1))
    dy.flags.writeable = mask.flags.writeable = False
    np.testing.assert_array_equal(dropout_mod.dropout_backward(dy, mask, 0.5),
                                  dy * mask / 0.5)


@pytest.mark.parametrize("dtype", FLOATS)
def test_untouched_output_pages_give_the_same_bits(isa, dtype, rng):
    """Streaming is skipped for outputs whose pages are not mapped yet (a fresh mmap) and used
    for mapped ones: the same bits, every element written."""
    import mmap
    size = 3 * 65536 + 77
    x = rng.standard_normal(size).astype(dtype)
    y_ref, m_ref = ref.dropout(x, 0.8, seed=5)
    old = kernels.set_stream_bytes(1)           # any size, if the pages are mapped
    try:
        maps = [mmap.mmap(-1, x.nbytes) for _ in range(2)]
        fresh = np.frombuffer(maps[0], dtype)                   # no page touched
        mapped = np.frombuffer(maps[1], dtype)
        mapped.fill(np.nan)
        for out in (fresh, mapped):
            y, m = dropout_mod.dropout(x, 0.8, seed=5, out=out)
            assert y is out
            np.testing.assert_array_equal(bits(out), bits(y_ref))
            np.testing.assert_array_equal(m, m_ref)
        for _ in range(2):        # dx: fresh from the allocator, then likely recycled
            np.testing.assert_array_equal(bits(dropout_mod.dropout_backward(x, m_ref, 0.8)),
                                          bits(ref.dropout_backward(x, m_ref, 0.8)))
    finally:
        kernels.set_stream_bytes(old)
    del y, fresh, mapped, out
    for mm in maps:
        mm.close()
