"""The native batch norm (``fastdl.batch_norm`` on the default backend) against the reference:
a grid of shapes and channel axes, both view kinds (channel in the middle, channel last),
multi-chunk sizes, bit-identity across thread counts, strided / read-only / overlapping
inputs and outputs, zero sizes and the overflow fallback."""
import importlib

import numpy as np
import pytest

import fastdl
import fastdl.reference as ref
from conftest import FLOATS, tol

norm = importlib.import_module("fastdl.norm")
kernels = importlib.import_module("fastdl._norm")

# (shape, axis). Small odd shapes, and sizes above the kernels' grain and chunk sizes so
# that several chunks and threads run (CM: (outer, C, inner); CL: (rows, C)).
GRID = [((2, 3, 5, 7), 1), ((2, 5, 7, 3), -1), ((6, 4), -1), ((6, 4), 1), ((1, 3, 4, 5), 1),
        ((3, 1, 4, 4), 1), ((3, 4, 5), 2), ((3, 5), 0), ((4, 3, 2, 5), -3), ((2, 3, 2, 2, 3), 2),
        ((9, 7, 61, 67), 1), ((6, 33, 35, 5), -1), ((1111, 37), -1), ((70, 3, 1000), 1),
        ((5000, 3), 1), ((2, 9000, 3), 1), ((40, 2, 20000), 1)]


def data(rng, shape, axis, dtype, offset=2.0, scale=3.0):
    channels = shape[axis]
    x = (rng.standard_normal(shape) * scale + offset).astype(dtype)
    gamma = rng.uniform(0.5, 2.0, channels).astype(dtype)
    beta = rng.uniform(-1.0, 1.0, channels).astype(dtype)
    return x, gamma, beta


def test_kernels_are_used():
    assert norm.batch_norm.op.has_kernel
    assert norm.batch_norm_backward.op.has_kernel
    assert fastdl.get_backend() == "native"


def _assert_close(got, want, dtype):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, **tol(dtype))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,axis", GRID)
def test_training_forward_and_backward_match_reference(shape, axis, dtype, rng):
    x, gamma, beta = data(rng, shape, axis, dtype)
    channels = shape[axis]
    stats = [np.zeros(channels, dtype), np.ones(channels, dtype)]
    want_stats = [s.copy() for s in stats]
    got = fastdl.batch_norm(x, gamma, beta, running_mean=stats[0], running_var=stats[1],
                            momentum=0.3, axis=axis)
    want = ref.batch_norm(x, gamma, beta, running_mean=want_stats[0],
                          running_var=want_stats[1], momentum=0.3, axis=axis)
    _assert_close(got, want, dtype)
    _assert_close(stats, want_stats, dtype)

    dy = rng.standard_normal(shape).astype(dtype)
    _, mean, invstd = want
    got = fastdl.batch_norm_backward(dy, x, gamma, mean, invstd, axis=axis)
    want = ref.batch_norm_backward(dy, x, gamma, mean, invstd, axis=axis)
    # dx = a*dy + b*(x - mean) + k in x's precision: float32 gets an absolute slack
    # relative to the size of the terms.
    for g, w in zip(got, want):
        assert g.dtype == dtype and g.shape == w.shape
        scale = float(np.max(np.abs(w))) if w.size else 1.0
        atol = 1e-5 * scale if dtype == np.float32 else 1e-12 * scale
        np.testing.assert_allclose(g, w, rtol=tol(dtype)["rtol"], atol=atol)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,axis", [((4, 3, 5, 6), 1), ((4, 5, 6, 3), -1), ((9, 7, 61, 67), 1),
                                        ((6, 33, 35, 5), -1), ((1111, 37), -1)])
def test_inference_matches_reference(shape, axis, dtype, rng):
    x, gamma, beta = data(rng, shape, axis, dtype)
    channels = shape[axis]
    running_mean = rng.uniform(-1, 1, channels).astype(dtype)
    running_var = rng.uniform(0.5, 2, channels).astype(dtype)
    kwargs = dict(running_mean=running_mean, running_var=running_var, training=False, axis=axis)
    _assert_close(fastdl.batch_norm(x, gamma, beta, **kwargs),
                  ref.batch_norm(x, gamma, beta, **kwargs), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,axis", [((9, 7, 61, 67), 1), ((6, 33, 35, 5), -1),
                                        ((1111, 37), -1), ((5000, 3), 1), ((40, 2, 20000), 1)])
def test_bit_identical_for_any_thread_count(shape, axis, dtype, rng):
    x, gamma, beta = data(rng, shape, axis, dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    channels = shape[axis]
    results = []
    for n_threads in (1, 2, 3):
        stats = [np.zeros(channels, dtype), np.ones(channels, dtype)]
        y, mean, invstd = fastdl.batch_norm(x, gamma, beta, running_mean=stats[0],
                                            running_var=stats[1], axis=axis,
                                            n_threads=n_threads)
        grads = fastdl.batch_norm_backward(dy, x, gamma, mean, invstd, axis=axis,
                                           n_threads=n_threads)
        y_inf = fastdl.batch_norm(x, gamma, beta, running_mean=stats[0], running_var=stats[1],
                                  training=False, axis=axis, n_threads=n_threads)[0]
        results.append([y, mean, invstd, *stats, *grads, y_inf])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("make", [
    lambda b: b[:, ::2, :, 1::2],                  # no view: copied
    lambda b: b[1:, :, 2:, :],                     # CM view with outer/channel strides
    lambda b: b[::-1],                             # negative outer stride
    lambda b: np.asfortranarray(b),                # F order
    lambda b: np.moveaxis(b, 1, -1)[..., :5],      # NHWC-shaped view of an NCHW buffer
], ids=["sliced", "outer-strided", "reversed", "fortran", "nhwc-view"])
def test_strided_readonly_inputs(make, dtype, rng):
    base = (rng.standard_normal((5, 8, 6, 9)) * 2 + 1).astype(dtype)
    x = make(base)
    x.flags.writeable = False
    axis = -1 if x.shape[-1] == 5 and x.shape[1] != 5 else 1
    channels = x.shape[axis]
    gamma = np.linspace(0.5, 2, channels).astype(dtype)
    beta = np.linspace(-1, 1, channels).astype(dtype)
    gamma.flags.writeable = beta.flags.writeable = False
    got = fastdl.batch_norm(x, gamma, beta, axis=axis)
    want = ref.batch_norm(x, gamma, beta, axis=axis)
    _assert_close(got, want, dtype)
    dy = make(rng.standard_normal(base.shape).astype(dtype))
    _assert_close(fastdl.batch_norm_backward(dy, x, gamma, got[1], got[2], axis=axis),
                  ref.batch_norm_backward(dy, x, gamma, got[1], got[2], axis=axis), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_out_strided_in_place_and_overlapping(dtype, rng):
    x, gamma, beta = data(rng, (4, 3, 10, 12), 1, dtype)
    want = ref.batch_norm(x, gamma, beta)[0]
    big = np.full((4, 3, 10, 24), np.nan, dtype)
    out = big[..., ::2]                            # strided out: written through a copy
    y = fastdl.batch_norm(x, gamma, beta, out=out)[0]
    assert y is out
    np.testing.assert_allclose(out, want, **tol(dtype))
    assert np.isnan(big[..., 1::2]).all()          # nothing written between the elements
    in_place = x.copy()
    assert fastdl.batch_norm(in_place, gamma, beta, out=in_place)[0] is in_place
    np.testing.assert_allclose(in_place, want, **tol(dtype))
    buf = x.copy()
    y = fastdl.batch_norm(buf[::-1], gamma, beta, out=buf)[0]      # out overlaps x reversed
    np.testing.assert_allclose(y, ref.batch_norm(x[::-1], gamma, beta)[0], **tol(dtype))


@pytest.mark.parametrize("shape,axis", [((3, 40, 33, 35), 1), ((3, 33, 35, 40), -1),
                                        ((700, 200), -1)])
def test_untouched_output_pages_take_the_same_bits(shape, axis, rng):
    """Streaming is skipped for an output whose pages are not mapped yet (a fresh mmap) and
    used for a mapped one: the same bits either way, every element written."""
    import mmap
    if not kernels.streaming_available():
        pytest.skip("no streaming kernels on this CPU")
    x, gamma, beta = data(rng, shape, axis, np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    old = kernels.set_stream_bytes(1)               # any size, if the pages are resident
    try:
        maps = [mmap.mmap(-1, x.nbytes) for _ in range(2)]
        fresh = np.frombuffer(maps[0], np.float32).reshape(shape)   # no page touched
        mapped = np.frombuffer(maps[1], np.float32).reshape(shape)
        mapped.fill(np.nan)
        got = [fastdl.batch_norm(x, gamma, beta, axis=axis, out=o)[0] for o in (fresh, mapped)]
        grads = [fastdl.batch_norm_backward(dy, x, gamma, *fastdl.batch_norm(x, gamma, beta,
                                                                             axis=axis)[1:],
                                            axis=axis) for _ in range(2)]
    finally:
        kernels.set_stream_bytes(old)
    np.testing.assert_array_equal(got[0], got[1])
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_allclose(got[0], ref.batch_norm(x, gamma, beta, axis=axis)[0],
                               **tol(np.float32))
    del got, fresh, mapped
    for m in maps:
        m.close()


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,axis", [((3, 5, 7, 9), 1), ((3, 7, 9, 5), -1), ((31, 13), -1),
                                        ((50, 3), -1), ((4, 3, 2, 5), -3)])
def test_streaming_stores_give_the_same_bits(shape, axis, dtype, rng):
    if not kernels.streaming_available():
        pytest.skip("no streaming kernels on this CPU")
    x, gamma, beta = data(rng, shape, axis, dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    results = []
    for n_bytes in (1 << 62, 0):                     # never, always
        old = kernels.set_stream_bytes(n_bytes)
        try:
            y, mean, invstd = fastdl.batch_norm(x, gamma, beta, axis=axis)
            grads = fastdl.batch_norm_backward(dy, x, gamma, mean, invstd, axis=axis)
            out = np.empty_like(x)
            fastdl.batch_norm(x[::-1], gamma, beta, axis=axis, out=out)
        finally:
            kernels.set_stream_bytes(old)
        results.append([y, *grads, out])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(results[1][0], ref.batch_norm(x, gamma, beta, axis=axis)[0],
                               **tol(dtype))


@pytest.mark.parametrize("shape,axis", [((64, 4, 32, 32), 1), ((64, 32, 32, 4), -1), ((64, 3), 1)])
def test_float32_with_large_offset_keeps_precision(shape, axis, rng):
    # mean 1e2..1e4, std 1e-3..1: no E[x^2] - E[x]^2 cancellation in the statistics, and the
    # float64 mean (not its float32 rounding) centres x, as in the reference.
    channels = shape[axis]
    for offset, scale in ((1e4, 1.0), (100.0, 1e-3)):
        x = (offset + scale * rng.standard_normal(shape)).astype(np.float32)
        ones, zeros = np.ones(channels, np.float32), np.zeros(channels, np.float32)
        y, mean, invstd = fastdl.batch_norm(x, ones, zeros, axis=axis)
        want = ref.batch_norm(x.astype(np.float64), np.ones(channels), np.zeros(channels),
                              axis=axis)
        np.testing.assert_allclose(mean, want[1], rtol=1e-7)
        np.testing.assert_allclose(invstd, want[2], rtol=1e-6)
        np.testing.assert_allclose(y, want[0], rtol=2e-4, atol=2e-5)


def test_zero_sizes():
    ones, zeros = np.ones(3, np.float32), np.zeros(3, np.float32)
    y, mean, invstd = fastdl.batch_norm(np.zeros((0, 3, 4, 4), np.float32), ones, zeros,
                                        running_mean=zeros, running_var=ones, training=False)
    assert y.shape == (0, 3, 4, 4) and mean.shape == invstd.shape == (3,)
    y, mean, invstd = fastdl.batch_norm(np.zeros((4, 0, 5)), np.ones(0), np.zeros(0))
    assert y.shape == (4, 0, 5) and mean.shape == invstd.shape == (0,)
    dx, dgamma, dbeta = fastdl.batch_norm_backward(np.zeros((0, 3, 2)), np.zeros((0, 3, 2)),
                                                   np.ones(3), np.zeros(3), np.ones(3))
    assert dx.shape == (0, 3, 2)
    np.testing.assert_array_equal(dgamma, 0)
    np.testing.assert_array_equal(dbeta, 0)


@pytest.mark.parametrize("axis", [1, -1])
def test_overflowing_and_nonfinite_inputs_follow_reference(axis, rng):
    z = rng.standard_normal((6, 2, 3, 4))
    for x in (z * 1e300, np.where(z > 1.5, np.inf, z), np.where(z > 1.5, np.nan, z)):
        channels = x.shape[axis]
        stats = [np.zeros(channels), np.ones(channels)]
        want_stats = [s.copy() for s in stats]
        with np.errstate(all="ignore"):
            got = fastdl.batch_norm(x, np.ones(channels), np.zeros(channels), axis=axis,
                                    running_mean=stats[0], running_var=stats[1])
            want = ref.batch_norm(x, np.ones(channels), np.zeros(channels), axis=axis,
                                  running_mean=want_stats[0], running_var=want_stats[1])
        for g, w in zip([*got, *stats], [*want, *want_stats]):
            np.testing.assert_array_equal(g, w)


def test_backward_propagates_nan(rng):
    x = rng.standard_normal((4, 3, 5))
    dy = rng.standard_normal(x.shape)
    dy[1, 2, 3] = np.nan
    _, mean, invstd = fastdl.batch_norm(x, np.ones(3), np.zeros(3))
    dx, dgamma, dbeta = fastdl.batch_norm_backward(dy, x, np.ones(3), mean, invstd)
    assert np.isnan(dx[:, 2]).all() and np.isfinite(dx[:, :2]).all()
    assert np.isnan(dgamma[2]) and np.isnan(dbeta[2]) and np.isfinite(dgamma[:2]).all()
