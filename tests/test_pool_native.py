"""The compiled pooling kernels against the NumPy reference.

``tests/test_pool.py`` checks both implementations against naive loops on small planes; here the
native path (``fastdl.<op>`` on the default backend) is compared with ``fastdl.reference`` on
shapes that reach the kernels' vector paths and thread splits (channel counts that are not a
multiple of the vector width, several rows per task, NHWC images cut into bands), for
bit-identity across thread counts, on awkward inputs (non-contiguous, read-only, ``out=``,
zero-size, NaN, ties, indices that are not the forward's) and for the errors.
"""
import itertools

import numpy as np
import pytest

import fastdl
import fastdl.pool
import fastdl.reference as ref
from conftest import FLOATS, tol

LAYOUTS = ("NCHW", "NHWC")
OPS = ("max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
       "global_avg_pool2d", "global_avg_pool2d_backward")


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def shape_in(nchw, layout):
    n, c, h, w = nchw
    return nchw if layout == "NCHW" else (n, h, w, c)


def valid(kernel, padding):
    return all(p <= k // 2 for p, k in zip(pair(padding), pair(kernel)))


@pytest.fixture(params=["default", "portable"])
def simd(request):
    """Run on the default float32 vector path and on the portable one (where AVX2 exists)."""
    from fastdl import _pool
    if request.param == "portable":
        _pool._set_simd(False)
    yield request.param
    _pool._set_simd(True)


@pytest.mark.parametrize("name", OPS)
def test_every_op_has_a_kernel(name):
    assert getattr(fastdl.pool, name).op.has_kernel
    assert getattr(fastdl, name).op.has_kernel


# --- against the reference on a grid --------------------------------------------------------

GRID = [(k, s, p) for k in (1, 2, 3, (2, 3), 5) for s in (None, 1, 2, 3)
        for p in (0, 1, (1, 0)) if valid(k, p)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_grid_matches_reference(layout, dtype, simd):
    rng = np.random.default_rng(7)
    # C = 5 and 19: not multiples of the vector width; sizes odd and non-square.
    shapes = [(1, 5, 9, 11), (4, 19, 8, 7)]
    for index, (kernel, stride, padding) in enumerate(GRID):
        x = rng.standard_normal(shape_in(shapes[index % 2], layout)).astype(dtype)
        kw = dict(stride=stride, padding=padding, layout=layout)
        y, indices = fastdl.max_pool2d(x, kernel, return_indices=True, **kw)
        y_ref, indices_ref = ref.max_pool2d(x, kernel, return_indices=True, **kw)
        assert y.dtype == dtype and indices.dtype == np.int64
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(indices, indices_ref)
        np.testing.assert_array_equal(fastdl.max_pool2d(x, kernel, **kw), y_ref)
        dy = rng.standard_normal(y.shape).astype(dtype)
        dx_ref = ref.max_pool2d_backward(dy, x, kernel, **kw)
        for given in (None, indices):
            dx = fastdl.max_pool2d_backward(dy, x, kernel, indices=given, **kw)
            assert dx.dtype == dtype
            np.testing.assert_allclose(dx, dx_ref, **tol(dtype))
        for include in (True, False):
            akw = dict(kw, count_include_pad=include)
            np.testing.assert_allclose(fastdl.avg_pool2d(x, kernel, **akw),
                                       ref.avg_pool2d(x, kernel, **akw), **tol(dtype))
            np.testing.assert_allclose(fastdl.avg_pool2d_backward(dy, x.shape, kernel, **akw),
                                       ref.avg_pool2d_backward(dy, x.shape, kernel, **akw),
                                       **tol(dtype))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_global_avg_pool_matches_reference(layout, dtype, rng):
    for nchw in ((2, 3, 5, 7), (3, 70, 6, 9), (1, 1, 1, 1)):
        x = rng.standard_normal(shape_in(nchw, layout)).astype(dtype)
        y = fastdl.global_avg_pool2d(x, layout=layout)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, ref.global_avg_pool2d(x, layout=layout), **tol(dtype))
        dy = rng.standard_normal(nchw[:2]).astype(dtype)
        np.testing.assert_array_equal(
            fastdl.global_avg_pool2d_backward(dy, x.shape, layout=layout),
            ref.global_avg_pool2d_backward(dy, x.shape, layout=layout))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", ["a", "b", "c"])
def test_bench_cases_small(layout, case, simd):
    """The BENCH.md configurations on a smaller batch, float32."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, shape_in((2, 16, 112, 112), layout)).astype(np.float32)
    kw = dict(layout=layout, **{"a": dict(kernel_size=2, stride=2),
                                "b": dict(kernel_size=3, stride=2, padding=1),
                                "c": dict(kernel_size=2, stride=2)}[case])
    if case == "c":
        y = fastdl.avg_pool2d(x, **kw)
        np.testing.assert_allclose(y, ref.avg_pool2d(x, **kw), **tol(np.float32))
        dy = rng.uniform(-1, 1, y.shape).astype(np.float32)
        np.testing.assert_allclose(fastdl.avg_pool2d_backward(dy, x.shape, **kw),
                                   ref.avg_pool2d_backward(dy, x.shape, **kw), **tol(np.float32))
        return
    y, indices = fastdl.max_pool2d(x, return_indices=True, **kw)
    y_ref, indices_ref = ref.max_pool2d(x, return_indices=True, **kw)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(indices, indices_ref)
    dy = rng.uniform(-1, 1, y.shape).astype(np.float32)
    dx_ref = ref.max_pool2d_backward(dy, x, indices=indices_ref, **kw)
    # 2x2 windows do not overlap: exact; 3x3 stride 2 sums up to 4 values in float32.
    check = np.testing.assert_array_equal if case == "a" else \
        lambda a, b: np.testing.assert_allclose(a, b, **tol(np.float32))
    check(fastdl.max_pool2d_backward(dy, x, indices=indices, **kw), dx_ref)
    check(fastdl.max_pool2d_backward(dy, x, **kw), dx_ref)


# --- thread counts ------------------------------------------------------------------------

THREAD_CASES = [(2, 2, 0), (3, 2, 1), ((2, 3), 1, (1, 0)), (5, 3, 2)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kernel,stride,padding", THREAD_CASES)
def test_bit_identical_for_any_thread_count(layout, dtype, kernel, stride, padding):
    rng = np.random.default_rng(11)
    # Above the kernels' grain size; N=1 NHWC is cut into bands of rows.
    for nchw in ((3, 7, 41, 38), (1, 24, 45, 40)):
        x = rng.standard_normal(shape_in(nchw, layout)).astype(dtype)
        kw = dict(stride=stride, padding=padding, layout=layout)
        y0, i0 = fastdl.max_pool2d(x, kernel, return_indices=True, n_threads=1, **kw)
        dy = rng.standard_normal(y0.shape).astype(dtype)
        results = {}
        for n in (1, 2, 3):
            y, i = fastdl.max_pool2d(x, kernel, return_indices=True, n_threads=n, **kw)
            results[n] = (
                y, i, fastdl.max_pool2d(x, kernel, n_threads=n, **kw),
                fastdl.max_pool2d_backward(dy, x, kernel, indices=i0, n_threads=n, **kw),
                fastdl.max_pool2d_backward(dy, x, kernel, n_threads=n, **kw),
                fastdl.avg_pool2d(x, kernel, n_threads=n, count_include_pad=False, **kw),
                fastdl.avg_pool2d_backward(dy, x.shape, kernel, n_threads=n, **kw))
        for n in (2, 3):
            for a, b in zip(results[1], results[n]):
                np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(results[1][1], i0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_global_bit_identical_for_any_thread_count(layout, rng):
    x = rng.standard_normal(shape_in((3, 130, 20, 21), layout)).astype(np.float32)
    dy = rng.standard_normal((3, 130)).astype(np.float32)
    outs, old = [], fastdl.get_num_threads()
    try:
        for n in (1, 2, 3):
            fastdl.set_num_threads(n)
            outs.append((fastdl.global_avg_pool2d(x, layout=layout),
                         fastdl.global_avg_pool2d_backward(dy, x.shape, layout=layout)))
    finally:
        fastdl.set_num_threads(old)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


# --- awkward inputs -----------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_noncontiguous_read_only_and_out(layout, dtype, rng):
    base = rng.standard_normal((3, 10, 22, 30)).astype(dtype)
    x = base[:, 1:8, ::2, 3:][..., ::-1]           # (3, 7, 11, 27), negative strides
    if layout == "NHWC":
        x = x.transpose(0, 2, 3, 1)                 # a non-contiguous NHWC view
    x.flags.writeable = False
    kw = dict(stride=2, padding=1, layout=layout)
    y_ref, i_ref = ref.max_pool2d(x, 3, return_indices=True, **kw)
    out = np.zeros(y_ref.shape[:-1] + (2 * y_ref.shape[-1],), dtype)[..., ::2]
    y, i = fastdl.max_pool2d(x, 3, out=out, return_indices=True, **kw)
    assert y is out
    np.testing.assert_array_equal(out, y_ref)
    np.testing.assert_array_equal(i, i_ref)
    out_c = np.empty_like(y_ref)
    assert fastdl.max_pool2d(x, 3, out=out_c, **kw) is out_c
    np.testing.assert_array_equal(out_c, y_ref)
    out_a = np.zeros(y_ref.shape, dtype).T.copy().T  # Fortran-ordered out
    assert fastdl.avg_pool2d(x, 3, out=out_a, **kw) is out_a
    np.testing.assert_allclose(out_a, ref.avg_pool2d(x, 3, **kw), **tol(dtype))
    dy = rng.standard_normal(y_ref.shape[::-1]).astype(dtype).T   # non-contiguous dy
    dy.flags.writeable = False
    idx = np.asfortranarray(i_ref)
    idx.flags.writeable = False
    dx_ref = ref.max_pool2d_backward(dy, x, 3, **kw)
    np.testing.assert_allclose(fastdl.max_pool2d_backward(dy, x, 3, indices=idx, **kw), dx_ref,
                               **tol(dtype))
    np.testing.assert_allclose(fastdl.max_pool2d_backward(dy, x, 3, **kw), dx_ref, **tol(dtype))
    np.testing.assert_allclose(fastdl.avg_pool2d_backward(dy, x.shape, 3, **kw),
                               ref.avg_pool2d_backward(dy, x.shape, 3, **kw), **tol(dtype))
    g = x[:, ::2]
    np.testing.assert_allclose(fastdl.global_avg_pool2d(g, layout=layout),
                               ref.global_avg_pool2d(g, layout=layout), **tol(dtype))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_zero_size(layout):
    for nchw in ((0, 3, 6, 6), (2, 0, 6, 6)):
        x = np.zeros(shape_in(nchw, layout), np.float64)
        out_shape = shape_in(nchw[:2] + (3, 3), layout)
        out = np.empty(out_shape)
        y, i = fastdl.max_pool2d(x, 2, layout=layout, out=out, return_indices=True)
        assert y is out and i.shape == out_shape and i.dtype == np.int64
        dy = np.zeros(out_shape)
        for given in (None, i):
            assert fastdl.max_pool2d_backward(dy, x, 2, layout=layout, indices=given).shape \
                == x.shape
        assert fastdl.avg_pool2d(x, 2, layout=layout).shape == out_shape
        assert fastdl.avg_pool2d_backward(dy, x.shape, 2, layout=layout).shape == x.shape
        assert fastdl.global_avg_pool2d(x, layout=layout).shape == nchw[:2]
        assert fastdl.global_avg_pool2d_backward(np.zeros(nchw[:2]), x.shape,
                                                 layout=layout).shape == x.shape


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1), (3, 1, 1),
                                                   ((2, 3), (1, 2), (1, 1))])
def test_ties_nan_and_infinities(layout, dtype, kernel, stride, padding, simd):
    rng = np.random.default_rng(5)
    x = rng.integers(-2, 3, size=shape_in((2, 9, 12, 37), layout)).astype(dtype)  # many ties
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, 40, replace=False)] = np.nan
    flat[rng.choice(flat.size, 40, replace=False)] = -np.inf
    flat[rng.choice(flat.size, 20, replace=False)] = np.inf
    kw = dict(stride=stride, padding=padding, layout=layout)
    y, i = fastdl.max_pool2d(x, kernel, return_indices=True, **kw)
    y_ref, i_ref = ref.max_pool2d(x, kernel, return_indices=True, **kw)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_array_equal(fastdl.max_pool2d(x, kernel, **kw), y_ref)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx_ref = ref.max_pool2d_backward(dy, x, kernel, **kw)
    np.testing.assert_allclose(fastdl.max_pool2d_backward(dy, x, kernel, **kw), dx_ref,
                               **tol(dtype))
    np.testing.assert_allclose(fastdl.max_pool2d_backward(dy, x, kernel, indices=i, **kw),
                               dx_ref, **tol(dtype))
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(fastdl.avg_pool2d(x, kernel, **kw),
                                   ref.avg_pool2d(x, kernel, **kw), **tol(dtype))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_all_minus_inf_with_padding_picks_first_real_pixel(layout, simd):
    x = np.full(shape_in((1, 3, 7, 40), layout), -np.inf, np.float32)
    for kernel, stride, padding in ((3, 2, 1), (3, 1, 1), (5, 2, 2), ((3, 2), 1, (1, 1))):
        kw = dict(stride=stride, padding=padding, layout=layout)
        y, i = fastdl.max_pool2d(x, kernel, return_indices=True, **kw)
        y_ref, i_ref = ref.max_pool2d(x, kernel, return_indices=True, **kw)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(i, i_ref)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1)])
def test_indices_that_are_not_the_forwards(layout, kernel, stride, padding, rng, simd):
    """Indices anywhere in the plane (not inside their window) scatter like the reference."""
    x = rng.standard_normal(shape_in((2, 9, 10, 40), layout)).astype(np.float32)
    kw = dict(stride=stride, padding=padding, layout=layout)
    y, i = fastdl.max_pool2d(x, kernel, return_indices=True, **kw)
    dy = rng.standard_normal(y.shape)
    dy = dy.astype(np.float32)
    one_off = i.copy()
    one_off.reshape(-1)[one_off.size // 3] = 399
    for indices in (rng.integers(0, 400, size=y.shape), np.full(y.shape, 399), i[::-1], one_off):
        indices = np.ascontiguousarray(indices, dtype=np.int64)
        np.testing.assert_allclose(
            fastdl.max_pool2d_backward(dy, x, kernel, indices=indices, **kw),
            ref.max_pool2d_backward(dy, x, kernel, indices=indices, **kw), **tol(np.float32))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1)])
@pytest.mark.parametrize("bad", [-1, 400, 2**40, -2**62])
def test_indices_out_of_range(layout, kernel, stride, padding, bad, rng):
    x = rng.standard_normal(shape_in((2, 9, 10, 40), layout)).astype(np.float32)
    kw = dict(stride=stride, padding=padding, layout=layout)
    y, i = fastdl.max_pool2d(x, kernel, return_indices=True, **kw)
    i = i.copy()
    i.reshape(-1)[i.size // 2] = bad
    lo, hi = min(int(i.min()), bad), max(int(i.max()), bad)
    match = rf"max_pool2d_backward: indices must hold offsets in \[0, H\*W\) = \[0, 400\); " \
            rf"got values in \[{lo}, {hi}\]"
    for impl in (fastdl, ref):
        with pytest.raises(ValueError, match=match):
            impl.max_pool2d_backward(np.ones(y.shape, np.float32), x, kernel, indices=i, **kw)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_float32_average_near_the_largest_float(layout, simd):
    """The float32 accumulator overflows here; those rows are recomputed in float64."""
    big = np.finfo(np.float32).max
    x = np.full(shape_in((1, 10, 6, 40), layout), big, np.float32)
    x[..., 0] = -big / 2
    for kernel, stride, padding in ((2, 2, 0), (3, 1, 1)):
        for include in (True, False):
            kw = dict(stride=stride, padding=padding, layout=layout, count_include_pad=include)
            with np.errstate(all="raise"):
                y = fastdl.avg_pool2d(x, kernel, **kw)
            np.testing.assert_allclose(y, ref.avg_pool2d(x, kernel, **kw), rtol=1e-6)
            assert np.isfinite(y).all()
            dy = np.full(y.shape, big / 2, np.float32)  # the float32 sum of shares overflows
            with np.errstate(all="raise"):
                dx = fastdl.avg_pool2d_backward(dy, x.shape, kernel, **kw)
            np.testing.assert_allclose(dx, ref.avg_pool2d_backward(dy, x.shape, kernel, **kw),
                                       rtol=1e-6)
    assert np.isfinite(fastdl.global_avg_pool2d(x, layout=layout)).all()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_native_and_reference_give_the_same_errors(layout):
    x = np.zeros(shape_in((1, 2, 5, 6), layout))
    dy = np.zeros(shape_in((1, 2, 2, 3), layout))
    calls = [
        lambda m: m.max_pool2d(x, 7, layout=layout),
        lambda m: m.max_pool2d(x, 3, padding=2, layout=layout),
        lambda m: m.avg_pool2d(x, 2, stride=0, layout=layout),
        lambda m: m.max_pool2d(x.astype(np.int32), 2, layout=layout),
        lambda m: m.max_pool2d(x, 2, layout=layout, out=np.zeros((1, 1, 1, 1))),
        lambda m: m.max_pool2d_backward(dy, x, 2, layout=layout,
                                        indices=np.zeros(dy.shape, np.int32)),
        lambda m: m.max_pool2d_backward(dy, x, 2, layout=layout,
                                        indices=np.zeros((1, 1, 1, 1), np.int64)),
        lambda m: m.max_pool2d_backward(dy.astype(np.float32), x, 2, layout=layout),
        lambda m: m.avg_pool2d_backward(dy, (1, 2, 5), 2, layout=layout),
        lambda m: m.avg_pool2d_backward(dy[:, :1], x.shape, 2, layout=layout),
        lambda m: m.max_pool2d(x, 2, layout=layout, n_threads=0),
        lambda m: m.global_avg_pool2d(np.zeros(shape_in((1, 2, 0, 6), layout)), layout=layout),
        lambda m: m.global_avg_pool2d_backward(np.zeros((1, 3)), x.shape, layout=layout),
    ]
    for call in calls:
        errors = []
        for impl in (fastdl, ref):
            with pytest.raises((TypeError, ValueError)) as info:
                call(impl)
            errors.append((info.type, str(info.value)))
        assert errors[0] == errors[1]


def test_gradient_checks_of_the_native_backward(rng):
    """Float64 central differences of the native forward against the native backward."""
    from conftest import assert_grad
    for layout, kernel, stride, padding in itertools.product(
            LAYOUTS, ((3, 2), 2), (1, 2), ((1, 1), 0)):
        x = rng.permutation(2 * 3 * 6 * 7).reshape(shape_in((2, 3, 6, 7), layout)) * 1e-3
        kw = dict(stride=stride, padding=padding, layout=layout)
        w = rng.standard_normal(fastdl.max_pool2d(x, kernel, **kw).shape)
        assert_grad(lambda v: float(np.sum(w * fastdl.max_pool2d(v, kernel, **kw))), x,
                    fastdl.max_pool2d_backward(w, x, kernel, **kw))
        for include in (True, False):
            akw = dict(kw, count_include_pad=include)
            assert_grad(lambda v: float(np.sum(w * fastdl.avg_pool2d(v, kernel, **akw))), x,
                        fastdl.avg_pool2d_backward(w, x.shape, kernel, **akw), atol=1e-7)


# --- every output value written (tiled windows, plane zeroing, out=) ----------------------

def naive_max_backward(dy, x, kernel, stride, padding, indices=None):
    """dx of NCHW max pooling by loops: dy of each window to its first maximum (or to the
    given flat index), summed."""
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel), pair(stride), pair(padding)
    n, c, h, w = x.shape
    dx = np.zeros(x.shape, np.float64)
    for b, ch, oh, ow in itertools.product(*map(range, dy.shape)):
        if indices is not None:
            at = int(indices[b, ch, oh, ow])
        else:
            best = None
            for r in range(oh * sh - ph, oh * sh - ph + kh):
                for col in range(ow * sw - pw, ow * sw - pw + kw):
                    if 0 <= r < h and 0 <= col < w and (best is None
                                                         or x[b, ch, r, col] > best[0]):
                        best = (x[b, ch, r, col], r * w + col)
            at = best[1]
        dx[b, ch, at // w, at % w] += dy[b, ch, oh, ow]
    return dx


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kernel,stride,padding",
                         [(2, 2, 0), (3, 3, 0), ((2, 3), (2, 3), 0), (4, 4, 0), (1, 1, 0),
                          (3, 2, 1), ((3, 2), 1, (1, 0))])
@pytest.mark.parametrize("given", [False, True])
def test_max_backward_writes_every_dx_value(layout, dtype, kernel, stride, padding, given,
                                            simd):
    """Tiled windows (stride == kernel: each dx value written once, gradient or 0, including the
    rows and columns no window covers) and overlapping ones (plane zeroed, then scattered), on
    odd sizes, into a dx full of NaN: the kernel writes every value, with or without indices."""
    from fastdl import _pool
    rng = np.random.default_rng(11)
    nchw = (2, 11, 13, 17)       # 11 channels: one 8-lane group and a tail (NHWC)
    x = rng.permutation(np.prod(nchw)).reshape(nchw).astype(dtype)   # no ties
    kw = dict(stride=stride, padding=padding)
    y, idx = ref.max_pool2d(x, kernel, return_indices=True, **kw)
    dy = rng.standard_normal(y.shape).astype(dtype)
    want = naive_max_backward(dy, x, kernel, stride, padding)
    to = (lambda a: a) if layout == "NCHW" else (lambda a: np.ascontiguousarray(
        a.transpose(0, 2, 3, 1)))
    window = pair(kernel) + pair(stride) + pair(padding)
    for n_threads in (1, 2):
        dx = np.full(to(x).shape, np.nan, dtype)
        assert _pool.max_pool_backward(to(dy), to(x), to(idx) if given else None, dx, window,
                                       layout == "NHWC", n_threads)
        back = dx if layout == "NCHW" else dx.transpose(0, 3, 1, 2)
        np.testing.assert_allclose(back, want, **tol(dtype))
        public = fastdl.max_pool2d_backward(to(dy), to(x), kernel, layout=layout,
                                            indices=to(idx) if given else None, **kw)
        np.testing.assert_array_equal(public, dx)


@pytest.mark.parametrize("kernel", [(3, 3), (2, 3)])
def test_tiled_backward_with_indices_outside_their_windows(kernel, rng):
    """Tiled windows given an index in another window (or another row of the plane) fall back
    to the scatter of the whole plane: like the loops."""
    x = rng.standard_normal((2, 3, 13, 17))
    y, idx = fastdl.max_pool2d(x, kernel, stride=kernel, return_indices=True)
    dy = rng.standard_normal(y.shape)
    for k in (0, idx.size // 2, idx.size - 1):
        moved = idx.copy()
        moved.reshape(-1)[k] = (moved.reshape(-1)[k] + 17 * kernel[0]) % (13 * 17)
        np.testing.assert_allclose(
            fastdl.max_pool2d_backward(dy, x, kernel, stride=kernel, indices=moved),
            naive_max_backward(dy, x, kernel, kernel, 0, indices=moved), rtol=1e-12)


@pytest.mark.parametrize("channels", [3, 8, 37, 64, 75])
def test_nhwc_2x2_into_garbage_out(channels, simd):
    """NHWC 2x2 stride 2 max (without indices) and average (their own vector kernel: 32 / 8 / 1
    channels at a time) on odd planes, into an out= full of garbage: every value written, as
    the loops give; NaN propagates through the maximum."""
    rng = np.random.default_rng(channels)
    x = rng.standard_normal((2, 9, 11, channels)).astype(np.float32)
    x[1, 3, 4, channels // 2] = np.nan
    windows = x[:, :8, :10].reshape(2, 4, 2, 5, 2, channels).astype(np.float64)
    for op, want in ((fastdl.avg_pool2d, windows.mean(axis=(2, 4))),
                     (fastdl.max_pool2d, windows.max(axis=(2, 4)))):
        assert np.isnan(want[1, 1, 2, channels // 2])
        for n_threads in (1, 2):
            out = np.full((2, 4, 5, channels), 1234.5, np.float32)
            y = op(x, 2, layout="NHWC", out=out, n_threads=n_threads)
            assert y is out
            np.testing.assert_allclose(out, want, **tol(np.float32))


def test_nchw_2x2_rows_of_every_width_around_the_vector_blocks():
    """NCHW 2×2 stride-2 rows of 1 to 19 outputs: the last block of 8 overlaps the one
    before (no scalar tail) — values, first-maximum indices (ties) and NaNs as the
    reference's, max and average."""
    rng = np.random.default_rng(21)
    for width in range(2, 40, 2):
        x = rng.integers(0, 3, (2, 3, 4, width)).astype(np.float32)   # many ties
        x[0, 1, 2, width // 2] = np.nan
        y, idx = fastdl.max_pool2d(x, 2, return_indices=True)
        y_ref, idx_ref = ref.max_pool2d(x, 2, return_indices=True)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(idx, idx_ref)
        np.testing.assert_array_equal(fastdl.max_pool2d(x, 2), y_ref)
        np.testing.assert_allclose(fastdl.avg_pool2d(x, 2), ref.avg_pool2d(x, 2),
                                   **tol(np.float32))
