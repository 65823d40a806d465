"""Pooling against explicit-loop naive pooling, hand-computed cases, gradient checks, bad input.

The oracle (``naive_pool`` and the naive backwards) loops over n, c, the output pixel and the
window in NCHW float64; NHWC cases transpose their data in and out of it.
"""
import functools
import inspect
import itertools

import numpy as np
import pytest

from conftest import FLOATS, assert_grad, tol

LAYOUTS = ("NCHW", "NHWC")
KERNELS = (1, 2, 3, (2, 3), 5)
STRIDES = (1, 2, 3)
PADDINGS = (0, 1, (1, 0))
SIZES = ((7, 9), (5, 6), (9, 7), (6, 11))     # odd and non-square H x W
BATCHES = (1, 4)
CHANNELS = 3


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def to_layout(x, layout):
    """An NCHW array in ``layout`` (a contiguous copy for NHWC)."""
    return x if layout == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def from_layout(x, layout):
    """An array in ``layout`` viewed as NCHW."""
    return x if layout == "NCHW" else x.transpose(0, 3, 1, 2)


def _shape(nchw, layout):
    n, c, h, w = nchw
    return nchw if layout == "NCHW" else (n, h, w, c)


def naive_pool(x, kernel, stride, padding):
    """Loop-by-loop pooling of NCHW ``x`` (float64).

    Returns the window maxima, the ``h*W + w`` index of each window's first maximum (row-major
    window order, padding never a candidate), and the averages with and without the padding
    counted in the divisor.
    """
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel), pair(stride), pair(padding)
    n_, c_, h_, w_ = x.shape
    oh, ow = (h_ + 2 * ph - kh) // sh + 1, (w_ + 2 * pw - kw) // sw + 1
    y_max = np.zeros((n_, c_, oh, ow))
    argmax = np.zeros((n_, c_, oh, ow), dtype=np.int64)
    avg_incl = np.zeros((n_, c_, oh, ow))
    avg_excl = np.zeros((n_, c_, oh, ow))
    for n, c, i, j in itertools.product(range(n_), range(c_), range(oh), range(ow)):
        best, best_at, total, count = None, None, 0.0, 0
        for di, dj in itertools.product(range(kh), range(kw)):
            h, w = i * sh - ph + di, j * sw - pw + dj
            if 0 <= h < h_ and 0 <= w < w_:
                v = x[n, c, h, w]
                total += v
                count += 1
                if best is None or v > best:
                    best, best_at = v, h * w_ + w
        y_max[n, c, i, j], argmax[n, c, i, j] = best, best_at
        avg_incl[n, c, i, j] = total / (kh * kw)
        avg_excl[n, c, i, j] = total / count
    return y_max, argmax, avg_incl, avg_excl


def naive_max_backward(dy, argmax, x_shape):
    dx = np.zeros(x_shape)
    w_ = x_shape[3]
    for n, c, i, j in np.ndindex(*dy.shape):
        h, w = divmod(int(argmax[n, c, i, j]), w_)
        dx[n, c, h, w] += dy[n, c, i, j]
    return dx


def naive_avg_backward(dy, x_shape, kernel, stride, padding, count_include_pad):
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel), pair(stride), pair(padding)
    dx = np.zeros(x_shape)
    _, _, h_, w_ = x_shape
    for n, c, i, j in np.ndindex(*dy.shape):
        real = [(i * sh - ph + di, j * sw - pw + dj)
                for di in range(kh) for dj in range(kw)
                if 0 <= i * sh - ph + di < h_ and 0 <= j * sw - pw + dj < w_]
        divisor = kh * kw if count_include_pad else len(real)
        for h, w in real:
            dx[n, c, h, w] += dy[n, c, i, j] / divisor
    return dx


def _grid():
    """Every kernel x stride x valid padding; layout, dtype, batch and size cycle through the
    cases so that each value of each factor appears with many of the others."""
    cases = []
    combos = [(k, s, p) for k in KERNELS for s in STRIDES for p in PADDINGS
              if all(pp <= kk // 2 for pp, kk in zip(pair(p), pair(k)))]
    for index, (k, s, p) in enumerate(combos):
        layout = LAYOUTS[index % 2]
        dtype = FLOATS[(index // 2) % 2]
        batch = BATCHES[(index // 4) % 2]
        size = SIZES[index % len(SIZES)]
        cases.append(pytest.param(k, s, p, layout, dtype, batch, size,
                                  id=f"k{k}-s{s}-p{p}-{layout}-{np.dtype(dtype).name}"
                                     f"-n{batch}-{size[0]}x{size[1]}"))
    return cases


GRID = _grid()


@functools.lru_cache(maxsize=None)
def grid_data(kernel, stride, padding, dtype, batch, size):
    """Seeded input, upstream gradient and naive results for one grid case (shared by both
    implementations)."""
    rng = np.random.default_rng(abs(hash((kernel, stride, padding, batch, size))) % 2**32)
    x = rng.standard_normal((batch, CHANNELS) + size).astype(dtype)
    y_max, argmax, avg_incl, avg_excl = naive_pool(x.astype(np.float64), kernel, stride, padding)
    dy = rng.standard_normal(y_max.shape).astype(dtype)
    dx_max = naive_max_backward(dy.astype(np.float64), argmax, x.shape)
    dx_avg = {flag: naive_avg_backward(dy.astype(np.float64), x.shape, kernel, stride, padding,
                                       flag) for flag in (True, False)}
    return x, dy, y_max, argmax, {True: avg_incl, False: avg_excl}, dx_max, dx_avg


@pytest.mark.parametrize("kernel,stride,padding,layout,dtype,batch,size", GRID)
def test_max_pool_matches_naive(impl, kernel, stride, padding, layout, dtype, batch, size):
    x, dy, y_max, argmax, _, dx_max, _ = grid_data(kernel, stride, padding, dtype, batch, size)
    kw = dict(stride=stride, padding=padding, layout=layout)
    xl, dyl = to_layout(x, layout), to_layout(dy, layout)
    y, indices = impl.max_pool2d(xl, kernel, return_indices=True, **kw)
    assert y.dtype == dtype and indices.dtype == np.int64 and indices.shape == y.shape
    np.testing.assert_array_equal(from_layout(y, layout), y_max.astype(dtype))
    np.testing.assert_array_equal(from_layout(indices, layout), argmax)
    np.testing.assert_array_equal(impl.max_pool2d(xl, kernel, **kw), y)
    for given in (None, indices):
        dx = impl.max_pool2d_backward(dyl, xl, kernel, indices=given, **kw)
        assert dx.dtype == dtype and dx.shape == xl.shape
        np.testing.assert_allclose(from_layout(dx, layout), dx_max, **tol(dtype))


@pytest.mark.parametrize("kernel,stride,padding,layout,dtype,batch,size", GRID)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_matches_naive(impl, kernel, stride, padding, layout, dtype, batch, size,
                                count_include_pad):
    x, dy, _, _, y_avg, _, dx_avg = grid_data(kernel, stride, padding, dtype, batch, size)
    kw = dict(stride=stride, padding=padding, count_include_pad=count_include_pad,
              layout=layout)
    xl = to_layout(x, layout)
    y = impl.avg_pool2d(xl, kernel, **kw)
    assert y.dtype == dtype
    np.testing.assert_allclose(from_layout(y, layout), y_avg[count_include_pad], **tol(dtype))
    dx = impl.avg_pool2d_backward(to_layout(dy, layout), xl.shape, kernel, **kw)
    assert dx.dtype == dtype and dx.shape == xl.shape
    np.testing.assert_allclose(from_layout(dx, layout), dx_avg[count_include_pad], **tol(dtype))


def test_default_stride_is_kernel_size(impl):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    y, indices = impl.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(y[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(indices[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(impl.avg_pool2d(x, 2)[0, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_ties_go_to_first_max_in_row_major_order(impl):
    # Window [[1, 3], [3, 2]]: the 3 at (0, 1) comes before the 3 at (1, 0).
    x = np.array([[1.0, 3.0], [3.0, 2.0]]).reshape(1, 1, 2, 2)
    y, indices = impl.max_pool2d(x, 2, return_indices=True)
    assert y.item() == 3 and indices.item() == 1
    dx = impl.max_pool2d_backward(np.array([[[[5.0]]]]), x, 2)
    np.testing.assert_array_equal(dx[0, 0], [[0, 5], [0, 0]])


@pytest.mark.parametrize("fill", [1.0, -np.inf])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_constant_input_with_padding_picks_first_real_pixel(impl, fill, layout):
    # 5x5, 3x3 stride 2 padding 1: windows start at rows/cols -1, 1, 3. Every value ties, so
    # the winner is each window's first real pixel; padding (-inf) never wins, even over -inf.
    x = to_layout(np.full((1, 1, 5, 5), fill), layout)
    y, indices = impl.max_pool2d(x, 3, stride=2, padding=1, layout=layout,
                                 return_indices=True)
    np.testing.assert_array_equal(from_layout(y, layout)[0, 0], np.full((3, 3), fill))
    np.testing.assert_array_equal(from_layout(indices, layout)[0, 0],
                                  [[0, 1, 3], [5, 6, 8], [15, 16, 18]])


def test_overlapping_windows_accumulate(impl):
    # 3x3 stride 2 on 5x5: all four windows contain the centre, which holds the maximum.
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 9.0
    dy = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    dx = impl.max_pool2d_backward(dy, x, 3, stride=2)
    expected = np.zeros((5, 5))
    expected[2, 2] = 10.0
    np.testing.assert_array_equal(dx[0, 0], expected)
    # Average: the centre pixel is in all four windows, an edge midpoint in two.
    dxa = impl.avg_pool2d_backward(dy, (1, 1, 5, 5), 3, stride=2)
    assert dxa[0, 0, 2, 2] == pytest.approx(10 / 9)
    assert dxa[0, 0, 0, 2] == pytest.approx(3 / 9)


def test_count_include_pad_hand_computed(impl):
    x = np.ones((1, 1, 3, 3))
    incl = impl.avg_pool2d(x, 3, stride=1, padding=1)[0, 0]
    excl = impl.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)[0, 0]
    np.testing.assert_allclose(incl, [[4 / 9, 6 / 9, 4 / 9], [6 / 9, 1, 6 / 9],
                                      [4 / 9, 6 / 9, 4 / 9]], rtol=1e-15)
    np.testing.assert_array_equal(excl, np.ones((3, 3)))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_gradient_check(impl, layout, count_include_pad, rng):
    x = rng.standard_normal(_shape((2, 3, 5, 7), layout))
    kw = dict(stride=(2, 1), padding=1, count_include_pad=count_include_pad, layout=layout)
    weights = rng.standard_normal(impl.avg_pool2d(x, (2, 3), **kw).shape)
    analytic = impl.avg_pool2d_backward(weights, x.shape, (2, 3), **kw)
    assert_grad(lambda v: float(np.sum(weights * impl.avg_pool2d(v, (2, 3), **kw))), x,
                analytic)


@pytest.mark.parametrize("kernel,stride,padding,layout", [
    (3, 2, 1, "NCHW"), (3, 2, 1, "NHWC"), ((2, 3), 1, (1, 0), "NHWC"), (2, 2, 0, "NCHW")])
def test_max_pool_gradient_check(impl, kernel, stride, padding, layout, rng):
    shape = _shape((2, 2, 5, 6), layout)
    # Distinct values 0.1 apart: no ties, and a 1e-6 step never changes a window's winner.
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1
    kw = dict(stride=stride, padding=padding, layout=layout)
    weights = rng.standard_normal(impl.max_pool2d(x, kernel, **kw).shape)
    analytic = impl.max_pool2d_backward(weights, x, kernel, **kw)
    assert_grad(lambda v: float(np.sum(weights * impl.max_pool2d(v, kernel, **kw))), x,
                analytic)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_global_avg_pool_matches_naive(impl, layout, dtype, rng):
    x = rng.standard_normal((3, 4, 5, 7)).astype(dtype)
    expected = np.zeros((3, 4))
    for n, c in np.ndindex(3, 4):
        expected[n, c] = sum(float(x[n, c, h, w]) for h in range(5) for w in range(7)) / 35
    y = impl.global_avg_pool2d(to_layout(x, layout), layout=layout)
    assert y.dtype == dtype and y.shape == (3, 4)
    np.testing.assert_allclose(y, expected, **tol(dtype))
    dy = rng.standard_normal((3, 4)).astype(dtype)
    dx = impl.global_avg_pool2d_backward(dy, _shape((3, 4, 5, 7), layout), layout=layout)
    assert dx.dtype == dtype and dx.shape == _shape((3, 4, 5, 7), layout)
    expected_dx = np.zeros((3, 4, 5, 7))
    for n, c, h, w in np.ndindex(3, 4, 5, 7):
        expected_dx[n, c, h, w] = dy[n, c] / 35.0
    np.testing.assert_allclose(from_layout(dx, layout), expected_dx, **tol(dtype))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_global_avg_pool_gradient_check(impl, layout, rng):
    x = rng.standard_normal(_shape((2, 3, 4, 5), layout))
    weights = rng.standard_normal((2, 3))
    analytic = impl.global_avg_pool2d_backward(weights, x.shape, layout=layout)
    assert_grad(lambda v: float(np.sum(weights * impl.global_avg_pool2d(v, layout=layout))),
                x, analytic)


def test_out_noncontiguous_and_read_only(impl, rng):
    base = rng.standard_normal((2, 3, 14, 10))
    x = base[:, :, ::2, 1:]                 # non-contiguous (2, 3, 7, 9)
    x.flags.writeable = False
    y_max, argmax, avg_incl, _ = naive_pool(np.array(x), 3, 2, 1)
    out = np.zeros((2, 3, 4, 10))[..., ::2]  # non-contiguous out
    result, indices = impl.max_pool2d(x, 3, stride=2, padding=1, out=out, return_indices=True)
    assert result is out
    np.testing.assert_array_equal(out, y_max)
    np.testing.assert_array_equal(indices, argmax)
    out_avg = np.zeros((2, 3, 4, 5))
    assert impl.avg_pool2d(x, 3, stride=2, padding=1, out=out_avg) is out_avg
    np.testing.assert_allclose(out_avg, avg_incl, **tol(np.float64))
    dy = rng.standard_normal((2, 3, 4, 5))[:, :, :, ::-1]  # negative strides
    dy.flags.writeable = False
    dx = impl.max_pool2d_backward(dy, x, 3, stride=2, padding=1)
    np.testing.assert_allclose(dx, naive_max_backward(dy, argmax, x.shape), **tol(np.float64))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_empty_batch_and_channels(impl, layout):
    for nchw in ((0, 3, 5, 5), (2, 0, 5, 5)):
        x = np.zeros(_shape(nchw, layout), np.float32)
        out_shape = _shape(nchw[:2] + (2, 2), layout)
        y, indices = impl.max_pool2d(x, 2, layout=layout, return_indices=True)
        assert y.shape == indices.shape == out_shape
        assert impl.avg_pool2d(x, 2, layout=layout).shape == out_shape
        dy = np.zeros(out_shape, np.float32)
        assert impl.max_pool2d_backward(dy, x, 2, layout=layout).shape == x.shape
        assert impl.avg_pool2d_backward(dy, x.shape, 2, layout=layout).shape == x.shape
        assert impl.global_avg_pool2d(x, layout=layout).shape == nchw[:2]


def test_extreme_and_non_finite_values(impl):
    big = np.finfo(np.float32).max
    x = np.array([[big, big], [big, -big / 2]], np.float32).reshape(1, 1, 2, 2)
    with np.errstate(all="raise"):
        avg = impl.avg_pool2d(x, 2)
        g = impl.global_avg_pool2d(x)
        y = impl.max_pool2d(x, 2)
    assert avg.item() == pytest.approx(big * 0.625, rel=1e-6)
    assert g.item() == pytest.approx(big * 0.625, rel=1e-6)
    assert y.item() == big
    with_nan = np.array([[1.0, np.nan], [5.0, 2.0]]).reshape(1, 1, 2, 2)
    assert np.isnan(impl.max_pool2d(with_nan, 2).item())
    assert np.isnan(impl.avg_pool2d(with_nan, 2).item())


@pytest.mark.parametrize("n_threads", [None, 1, 2])
def test_n_threads_accepted(impl, n_threads):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    assert impl.max_pool2d(x, 2, n_threads=n_threads)[0, 0, 1, 1] == 15
    assert impl.avg_pool2d(x, 2, n_threads=n_threads)[0, 0, 0, 0] == 2.5


API_SIGNATURES = {
    "max_pool2d": "(x, kernel_size, *, stride=None, padding=0, layout='NCHW', "
                  "return_indices=False, out=None, n_threads=None)",
    "max_pool2d_backward": "(dy, x, kernel_size, *, stride=None, padding=0, layout='NCHW', "
                           "indices=None, n_threads=None)",
    "avg_pool2d": "(x, kernel_size, *, stride=None, padding=0, count_include_pad=True, "
                  "layout='NCHW', out=None, n_threads=None)",
    "avg_pool2d_backward": "(dy, input_shape, kernel_size, *, stride=None, padding=0, "
                           "count_include_pad=True, layout='NCHW', n_threads=None)",
    "global_avg_pool2d": "(x, *, layout='NCHW')",
    "global_avg_pool2d_backward": "(dy, input_shape, *, layout='NCHW')",
}


@pytest.mark.parametrize("name", sorted(API_SIGNATURES))
def test_signatures_match_api(impl, name):
    assert str(inspect.signature(getattr(impl, name))) == API_SIGNATURES[name]


X = np.zeros((1, 2, 5, 6))
DY = np.zeros((1, 2, 2, 3))     # 2x2 stride 2 output of X


def _bad_calls():
    """(call, exception, message) triples; ``call`` takes the implementation."""
    return [
        (lambda m: m.max_pool2d(np.zeros((2, 5, 6)), 2), ValueError,
         r"max_pool2d: x must be a 4-D array \(N, C, H, W\) for layout='NCHW'; got shape"),
        (lambda m: m.avg_pool2d(np.zeros((5, 6, 2)), 2, layout="NHWC"), ValueError,
         r"avg_pool2d: x must be a 4-D array \(N, H, W, C\) for layout='NHWC'"),
        (lambda m: m.max_pool2d(X.astype(np.int64), 2), TypeError,
         "max_pool2d: x must have dtype float32 or float64; got int64"),
        (lambda m: m.avg_pool2d(X.astype(complex), 2), TypeError, "avg_pool2d: x .*complex128"),
        (lambda m: m.max_pool2d(X.astype(object), 2), TypeError, "max_pool2d: x .*object"),
        (lambda m: m.max_pool2d(X, 7), ValueError, "max_pool2d: kernel_size must not exceed"),
        (lambda m: m.avg_pool2d(X, (2, 9), padding=1), ValueError,
         "avg_pool2d: kernel_size must not exceed"),
        (lambda m: m.max_pool2d(X, 3, padding=2), ValueError,
         "max_pool2d: padding must be at most half of kernel_size"),
        (lambda m: m.avg_pool2d(X, (2, 3), padding=(1, 2)), ValueError,
         "avg_pool2d: padding must be at most half of kernel_size"),
        (lambda m: m.max_pool2d(X, 2, padding=-1), ValueError, "max_pool2d: padding must be >= 0"),
        (lambda m: m.max_pool2d(X, 2, stride=0), ValueError, "max_pool2d: stride must be >= 1"),
        (lambda m: m.avg_pool2d(X, 2, stride=(1, 0)), ValueError,
         "avg_pool2d: stride must be >= 1"),
        (lambda m: m.max_pool2d(X, 0), ValueError, "max_pool2d: kernel_size must be >= 1"),
        (lambda m: m.max_pool2d(X, 2.0), TypeError, "max_pool2d: kernel_size must be an int"),
        (lambda m: m.max_pool2d(X, (1, 2, 3)), TypeError, "max_pool2d: kernel_size must be"),
        (lambda m: m.max_pool2d(X, 2, layout="CHWN"), ValueError,
         "max_pool2d: layout must be 'NCHW' or 'NHWC'"),
        (lambda m: m.global_avg_pool2d(X, layout=None), TypeError,
         "global_avg_pool2d: layout must be"),
        (lambda m: m.max_pool2d(X, 2, return_indices="yes"), TypeError,
         "max_pool2d: return_indices must be one of"),
        (lambda m: m.avg_pool2d(X, 2, count_include_pad=1), TypeError,
         "avg_pool2d: count_include_pad must be one of"),
        (lambda m: m.max_pool2d(X, 2, n_threads=0), ValueError,
         "max_pool2d: n_threads must be >= 1"),
        (lambda m: m.avg_pool2d_backward(DY, X.shape, 2, n_threads=1.5), TypeError,
         "avg_pool2d_backward: n_threads must be a positive int"),
        (lambda m: m.max_pool2d(X, 2, out=np.zeros((1, 2, 3, 3))), ValueError,
         r"max_pool2d: out must have shape \(1, 2, 2, 3\)"),
        (lambda m: m.avg_pool2d(X, 2, out=np.zeros((1, 2, 2, 3), np.float32)), TypeError,
         "avg_pool2d: out must have dtype float64"),
        (lambda m: m.max_pool2d(np.zeros((1, 2, 0, 4)), 1), ValueError,
         "max_pool2d: the input's H and W must be >= 1"),
        (lambda m: m.max_pool2d_backward(DY[..., :2], X, 2), ValueError,
         r"max_pool2d_backward: dy must have shape \(1, 2, 2, 3\)"),
        (lambda m: m.max_pool2d_backward(DY.astype(np.float32), X, 2), TypeError,
         "max_pool2d_backward: dy must have the dtype of x"),
        (lambda m: m.max_pool2d_backward(DY, X, 2, indices=np.zeros((1, 2, 2, 2), np.int64)),
         ValueError, "max_pool2d_backward: indices must have shape"),
        (lambda m: m.max_pool2d_backward(DY, X, 2, indices=np.zeros(DY.shape, np.int32)),
         TypeError, "max_pool2d_backward: indices must have dtype int64; got int32"),
        (lambda m: m.max_pool2d_backward(DY, X, 2, indices=np.full(DY.shape, 30, np.int64)),
         ValueError, r"max_pool2d_backward: indices must hold offsets in \[0, H\*W\)"),
        (lambda m: m.avg_pool2d_backward(DY, (1, 2, 5), 2), ValueError,
         "avg_pool2d_backward: input_shape must be a tuple of 4 ints"),
        (lambda m: m.avg_pool2d_backward(DY, "1256", 2), TypeError,
         "avg_pool2d_backward: input_shape must be a tuple of 4 ints"),
        (lambda m: m.avg_pool2d_backward(DY, (1, 2, 5.0, 6), 2), TypeError,
         "avg_pool2d_backward: input_shape must be an int"),
        (lambda m: m.avg_pool2d_backward(DY, (1, 2, -5, 6), 2), ValueError,
         "avg_pool2d_backward: input_shape must be >= 0"),
        (lambda m: m.avg_pool2d_backward(DY, (1, 2, 7, 6), 2), ValueError,
         r"avg_pool2d_backward: dy must have shape \(1, 2, 3, 3\)"),
        (lambda m: m.avg_pool2d_backward(DY, (1, 5, 6, 2), 2, layout="NHWC"), ValueError,
         r"avg_pool2d_backward: dy must have shape \(1, 2, 3, 2\)"),
        (lambda m: m.avg_pool2d_backward(DY.astype(np.int32), X.shape, 2), TypeError,
         "avg_pool2d_backward: dy must have dtype float32 or float64"),
        (lambda m: m.global_avg_pool2d(np.zeros((2, 3))), ValueError,
         "global_avg_pool2d: x must be a 4-D array"),
        (lambda m: m.global_avg_pool2d(np.zeros((1, 2, 3, 4), np.float16)), TypeError,
         "global_avg_pool2d: x must have dtype float32 or float64; got float16"),
        (lambda m: m.global_avg_pool2d_backward(np.zeros((2, 3)), (2, 4, 5, 5)), ValueError,
         r"global_avg_pool2d_backward: dy must have shape \(2, 4\)"),
        (lambda m: m.global_avg_pool2d_backward(np.zeros((2, 3)), (2, 3, 0, 5)), ValueError,
         "global_avg_pool2d_backward: the input's H and W must be >= 1"),
        (lambda m: m.global_avg_pool2d_backward(np.zeros((2, 3)), [2, 3, 4]), ValueError,
         "global_avg_pool2d_backward: input_shape must be a tuple of 4 ints"),
    ]


BAD_CALLS = _bad_calls()


@pytest.mark.parametrize("call,exc,match", BAD_CALLS, ids=[m.split(":")[0] + f"-{i}"
                                                            for i, (_, _, m) in
                                                            enumerate(BAD_CALLS)])
def test_bad_input(impl, call, exc, match):
    with pytest.raises(exc, match=match):
        call(impl)
