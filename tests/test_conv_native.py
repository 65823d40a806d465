"""Native convolution kernels against the NumPy reference: the issue's grid (both layouts and
dtypes, strides, padding forms, kernels, batch, channels), thread-count bit-identity,
non-contiguous / read-only / out= inputs, zero sizes, and that the kernels are really used."""
import itertools

import numpy as np
import pytest

import fastdl
import fastdl.conv
import fastdl.reference
from conftest import FLOATS, tol

STRIDES = [1, 2, 3, (1, 2)]
PADDINGS = [0, 1, (2, 1), ((0, 1), (1, 0)), "valid", "same"]
KERNELS = [(1, 1), (3, 3), (5, 5), (3, 5), (7, 7)]
SIZES = [(9, 11), (13, 7)]
LAYOUTS = ("NCHW", "NHWC")


def as_layout(layout, x, w, *more):
    """NCHW arrays (and (K, C, R, S) weights) converted to ``layout``; extra arrays are
    images like x."""
    if layout == "NCHW":
        return (x, w) + more
    conv = [np.ascontiguousarray(a.transpose(0, 2, 3, 1)) for a in (x,) + more]
    return (conv[0], np.ascontiguousarray(w.transpose(2, 3, 1, 0))) + tuple(conv[1:])


def test_kernels_are_used():
    for op in (fastdl.conv.conv2d, fastdl.conv.conv2d_backward, fastdl.conv.zero_pad):
        assert op.op.has_kernel, op


def grid():
    draw = np.random.default_rng(7)
    for i, (stride, padding, kernel) in enumerate(itertools.product(STRIDES, PADDINGS, KERNELS)):
        size = SIZES[draw.integers(len(SIZES))]
        if kernel[0] > size[0] + 3 and padding in (0, "valid"):
            continue
        batch = int(draw.choice([1, 3]))
        channels = int(draw.choice([1, 3, 16]))
        dtype = FLOATS[i % 2]
        yield pytest.param(i, stride, padding, kernel, size, batch, channels, dtype,
                           id=f"s{stride}-p{padding}-k{kernel[0]}x{kernel[1]}-{i}")


@pytest.mark.parametrize("seed,stride,padding,kernel,size,batch,channels,dtype", grid())
def test_grid_forward_and_backward_match_reference(seed, stride, padding, kernel, size, batch,
                                                   channels, dtype):
    rng = np.random.default_rng(seed)
    k = 5
    x = rng.standard_normal((batch, channels) + size).astype(dtype)
    w = rng.standard_normal((k, channels) + kernel).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    try:
        fastdl.reference.conv2d(x, w, stride=stride, padding=padding)
    except ValueError:
        pytest.skip("kernel larger than the padded input")
    for layout in LAYOUTS:
        xl, wl = as_layout(layout, x, w)
        kw = dict(stride=stride, padding=padding, layout=layout)
        for activation in (None, "relu"):
            y = fastdl.conv2d(xl, wl, b, activation=activation, **kw)
            y_ref = fastdl.reference.conv2d(xl, wl, b, activation=activation, **kw)
            np.testing.assert_allclose(y, y_ref, **tol(dtype))
            dy = rng.standard_normal(y.shape).astype(dtype)
            got = fastdl.conv2d_backward(dy, xl, wl, activation=activation, y=y_ref, **kw)
            exp = fastdl.reference.conv2d_backward(dy, xl, wl, activation=activation, y=y_ref,
                                                   **kw)
            for g, e in zip(got, exp):
                assert g.dtype == dtype and g.shape == e.shape
                scale = max(1.0, float(np.abs(e).max()))
                np.testing.assert_allclose(g, e, rtol=tol(dtype)["rtol"],
                                           atol=tol(dtype)["rtol"] * scale)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", [
    # (x NCHW, w KCRS, stride, padding): batch 1 and batch 5, several row blocks per image
    ((1, 8, 37, 29), (7, 8, 3, 3), 1, 1),
    ((5, 3, 41, 23), (20, 3, 5, 3), (2, 1), "same"),
    ((2, 16, 16, 16), (33, 16, 1, 1), 1, 0),
    ((3, 5, 30, 30), (9, 5, 7, 7), 2, 3),
])
def test_bit_identical_for_any_thread_count(layout, dtype, case):
    x_shape, w_shape, stride, padding = case
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    x, w = as_layout(layout, x, w)
    kw = dict(stride=stride, padding=padding, layout=layout)
    ref_y = fastdl.conv2d(x, w, b, activation="relu", n_threads=1, **kw)
    dy = rng.standard_normal(ref_y.shape).astype(dtype)
    ref_g = fastdl.conv2d_backward(dy, x, w, activation="relu", y=ref_y, n_threads=1, **kw)
    for n in (2, 3):
        np.testing.assert_array_equal(fastdl.conv2d(x, w, b, activation="relu", n_threads=n,
                                                    **kw), ref_y)
        got = fastdl.conv2d_backward(dy, x, w, activation="relu", y=ref_y, n_threads=n, **kw)
        for g, e in zip(got, ref_g):
            np.testing.assert_array_equal(g, e)
    np.testing.assert_allclose(ref_y, fastdl.reference.conv2d(x, w, b, activation="relu", **kw),
                               **tol(dtype))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_noncontiguous_readonly_and_out(layout, dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 6, 15, 12)).astype(dtype)
    w = rng.standard_normal((10, 6, 3, 2)).astype(dtype)
    x, w = as_layout(layout, x, w)
    x_view = np.repeat(x, 2, axis=-1)[..., ::2]            # non-contiguous
    w_ro = w.copy()
    w_ro.flags.writeable = False
    x_view.flags.writeable = False
    kw = dict(stride=(1, 2), padding=((2, 0), (1, 1)), layout=layout)
    expected = fastdl.reference.conv2d(x, w, **kw)
    out_base = np.zeros(expected.shape[:-1] + (expected.shape[-1] * 2,), dtype)
    out = out_base[..., 1::2]
    assert fastdl.conv2d(x_view, w_ro, out=out, **kw) is out
    np.testing.assert_allclose(out, expected, **tol(dtype))
    assert (out_base[..., ::2] == 0).all()
    out_c = np.empty_like(expected)
    assert fastdl.conv2d(x_view, w_ro, out=out_c, **kw) is out_c
    np.testing.assert_allclose(out_c, expected, **tol(dtype))
    dy = rng.standard_normal(expected.shape).astype(dtype)[::-1]     # negative strides
    got = fastdl.conv2d_backward(dy, x_view, w_ro, **kw)
    exp = fastdl.reference.conv2d_backward(dy, x, w, **kw)
    for g, e in zip(got, exp):
        np.testing.assert_allclose(g, e, **tol(dtype))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_zero_sizes(layout):
    x = np.zeros((0, 3, 5, 5)) if layout == "NCHW" else np.zeros((0, 5, 5, 3))
    w = np.ones((4, 3, 3, 3)) if layout == "NCHW" else np.ones((3, 3, 3, 4))
    y = fastdl.conv2d(x, w, padding=1, layout=layout)
    assert y.shape[0] == 0
    dx, dw, db = fastdl.conv2d_backward(y, x, w, padding=1, layout=layout)
    assert dx.shape == x.shape and (dw == 0).all() and (db == 0).all()
    assert fastdl.zero_pad(x, 2, layout=layout).shape[0] == 0


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("padding", [0, 2, (1, 3), ((0, 2), (3, 1))])
def test_zero_pad_native_matches_reference(layout, dtype, padding):
    x = np.random.default_rng(5).standard_normal((2, 3, 4, 5)).astype(dtype)
    x = x if layout == "NCHW" else x.transpose(0, 2, 3, 1)     # non-contiguous NHWC view
    got = fastdl.zero_pad(x, padding, layout=layout)
    exp = fastdl.reference.zero_pad(x, padding, layout=layout)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, exp)


def test_relu_backward_masks_exactly_where_y_is_not_positive():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    y = fastdl.conv2d(x, w, padding=1, activation="relu")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    a = fastdl.conv2d_backward(dy, x, w, padding=1, activation="relu", y=y)
    b = fastdl.conv2d_backward(np.where(y > 0, dy, 0).astype(np.float32), x, w, padding=1)
    for g, e in zip(a, b):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"])
def test_every_micro_kernel_matches_reference(isa):
    from fastdl import _conv
    best = _conv.ISA
    try:
        _conv.select_kernels(isa)
        rng = np.random.default_rng(8)
        for layout, dtype in itertools.product(LAYOUTS, FLOATS):
            for filters in (37, 5):    # gather kernels; few filters: the dot-form dw
                x = rng.standard_normal((2, 7, 13, 11)).astype(dtype)
                w = rng.standard_normal((filters, 7, 3, 3)).astype(dtype)
                b = rng.standard_normal(filters).astype(dtype)
                x, w = as_layout(layout, x, w)
                # strided: the scatter input gradient; stride 1: the input gradient as a
                # convolution of the masked dy (direct path), bias and ReLU fused
                for kw in (dict(stride=(2, 1), padding="same", layout=layout),
                           dict(stride=1, padding=((1, 2), (0, 1)), layout=layout,
                                activation="relu")):
                    y = fastdl.conv2d(x, w, b, **kw)
                    np.testing.assert_allclose(y, fastdl.reference.conv2d(x, w, b, **kw),
                                               **tol(dtype))
                    dy = rng.standard_normal(y.shape).astype(dtype)
                    bw = dict(kw, y=y) if "activation" in kw else kw
                    for g, e in zip(fastdl.conv2d_backward(dy, x, w, **bw),
                                    fastdl.reference.conv2d_backward(dy, x, w, **bw)):
                        np.testing.assert_allclose(g, e, **tol(dtype))
    finally:
        _conv.select_kernels(best)


@pytest.mark.parametrize("slab_bytes", [1, 3000, 1 << 20])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_direct_path_row_blocks(monkeypatch, slab_bytes, layout):
    """Slabs of one output row, of a few rows, of whole images: same results as the
    reference, and bit-identical at 1 and 2 threads (including a batch of 1, where the two
    threads split one image's rows)."""
    from fastdl import _conv
    monkeypatch.setattr(_conv, "SLAB_BYTES", slab_bytes)
    rng = np.random.default_rng(slab_bytes)
    for batch, stride, padding, kernel in ((1, 1, 1, (3, 3)), (3, 2, (2, 1), (3, 5)),
                                           (2, (1, 2), "same", (5, 3)), (3, 1, 0, (3, 2))):
        x = rng.standard_normal((batch, 5, 15, 12))
        w = rng.standard_normal((7, 5) + kernel)
        b = rng.standard_normal(7)
        x, w = as_layout(layout, x, w)
        kw = dict(stride=stride, padding=padding, layout=layout)
        y1 = fastdl.conv2d(x, w, b, n_threads=1, **kw)
        y2 = fastdl.conv2d(x, w, b, n_threads=2, **kw)
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_allclose(y1, fastdl.reference.conv2d(x, w, b, **kw), rtol=1e-10)
        dy = rng.standard_normal(y1.shape)
        g1 = fastdl.conv2d_backward(dy, x, w, n_threads=1, **kw)
        g2 = fastdl.conv2d_backward(dy, x, w, n_threads=2, **kw)
        for a, c, e in zip(g1, g2, fastdl.reference.conv2d_backward(dy, x, w, **kw)):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_masked_bias_grad_every_size(layout, dtype):
    """db with the ReLU mask over plane sizes around the 16-lane blocks (a GCC 12 AVX2
    vectoriser bug once gave wrong sums for one way of writing this loop)."""
    rng = np.random.default_rng(11)
    for hw in (1, 3, 4, 5, 7, 9):
        x = rng.standard_normal((2, 3, hw, hw + 1)).astype(dtype)
        w = rng.standard_normal((5, 3, 1, 1)).astype(dtype)
        x, w = as_layout(layout, x, w)
        kw = dict(layout=layout, activation="relu")
        y = fastdl.conv2d(x, w, **kw)
        dy = rng.standard_normal(y.shape).astype(dtype)
        db = fastdl.conv2d_backward(dy, x, w, y=y, need=("db",), **kw)[2]
        axes = (0, 2, 3) if layout == "NCHW" else (0, 1, 2)
        expected = np.where(y > 0, dy, 0).astype(np.float64).sum(axis=axes)
        np.testing.assert_allclose(db, expected, **tol(dtype))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("filters", [3, 40])
def test_non_finite_input_reaches_only_its_gradients(layout, filters):
    """An inf in x reaches exactly the dw entries the reference's do (the direct path's
    dropped lanes past each row end must never multiply it)."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 4, 8, 9))
    x[1, 2, 3, 0] = np.inf
    x[0, 1, 5, 8] = -np.inf
    w = rng.standard_normal((filters, 4, 3, 3))
    x, w = as_layout(layout, x, w)
    kw = dict(padding=1, layout=layout)
    dy = rng.standard_normal(fastdl.reference.conv2d(x, w, **kw).shape)
    with np.errstate(invalid="ignore"):
        got = fastdl.conv2d_backward(dy, x, w, need=("dw",), **kw)[1]
        want = fastdl.reference.conv2d_backward(dy, x, w, need=("dw",), **kw)[1]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-9)


@pytest.mark.parametrize("width", [30, 32, 64])
def test_row_aligned_tiles(width):
    """NCHW output rows a whole number of vector tiles wide (or nearly): tiles aligned to
    the rows, written straight into y, the lanes past the row end dropped."""
    rng = np.random.default_rng(width)
    x = rng.standard_normal((2, 3, 7, width)).astype(np.float32)
    w = rng.standard_normal((13, 3, 5, 5)).astype(np.float32)
    b = rng.standard_normal(13).astype(np.float32)
    kw = dict(padding=2, activation="relu")
    y = fastdl.conv2d(x, w, b, **kw)
    np.testing.assert_allclose(y, fastdl.reference.conv2d(x, w, b, **kw), **tol(np.float32))
    np.testing.assert_array_equal(y, fastdl.conv2d(x, w, b, n_threads=1, **kw))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    for g, e in zip(fastdl.conv2d_backward(dy, x, w, y=y, **kw),
                    fastdl.reference.conv2d_backward(dy, x, w, y=y, **kw)):
        np.testing.assert_allclose(g, e, **tol(np.float32))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_out_aliasing_the_input(layout):
    """A 1×1 convolution written into its own input (no padding, stride 1: the kernels read
    x in place) gives the same values as into a fresh array."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((3, 6, 5, 7)).astype(np.float32)
    w = rng.standard_normal((6, 6, 1, 1)).astype(np.float32)
    x, w = as_layout(layout, x, w)
    want = fastdl.reference.conv2d(x, w, layout=layout)
    got = fastdl.conv2d(x, w, layout=layout, out=x)
    assert got is x
    np.testing.assert_allclose(x, want, **tol(np.float32))
