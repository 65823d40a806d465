"""Convolution against an explicit-loop oracle, hand values, gradient checks and bad input."""
import inspect
import itertools

import numpy as np
import pytest

from conftest import FLOATS, assert_grad, tol

STRIDES = [1, 2, 3, (1, 2)]
PADDINGS = [0, 1, (2, 1), ((0, 1), (1, 0)), "valid", "same"]
KERNELS = [(1, 1), (3, 3), (3, 5), (5, 5)]
SIZES = [(7, 9), (9, 5), (5, 11), (11, 7)]          # odd, non-square (H, W)


# --- independent oracle ------------------------------------------------------------------------

def explicit_pads(padding, size, kernel, stride):
    """((top, bottom), (left, right)) spelled out per form; "same" as TensorFlow documents it."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        pads = []
        for n, f, s in zip(size, kernel, stride):
            out = (n + s - 1) // s
            total = max((out - 1) * s + f - n, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    if isinstance(padding[0], int):
        return (padding[0], padding[0]), (padding[1], padding[1])
    return tuple(padding)


def as_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def naive_conv_nchw(x, w, b, stride, padding, relu=False):
    """Loops over n, k and output pixels; each output is the sum over one window (float64)."""
    n_batch, _, h, wd = x.shape
    k_out, _, r, s = w.shape
    sh, sw = as_pair(stride)
    (top, bottom), (left, right) = explicit_pads(padding, (h, wd), (r, s), (sh, sw))
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))
    ho = (h + top + bottom - r) // sh + 1
    wo = (wd + left + right - s) // sw + 1
    y = np.zeros((n_batch, k_out, ho, wo))
    for n in range(n_batch):
        for k in range(k_out):
            for i in range(ho):
                for j in range(wo):
                    window = xp[n, :, i * sh:i * sh + r, j * sw:j * sw + s]
                    y[n, k, i, j] = np.sum(window * w[k]) + (0.0 if b is None else b[k])
    return np.maximum(y, 0) if relu else y


def to_nhwc(x_nchw, w_kcrs):
    return np.ascontiguousarray(x_nchw.transpose(0, 2, 3, 1)), np.ascontiguousarray(
        w_kcrs.transpose(2, 3, 1, 0))


# --- forward grid ------------------------------------------------------------------------------

def grid_cases():
    """Every stride × padding × kernel; dtype, batch, channels and size are drawn (seeded)
    for each, so every value of theirs meets every other factor without a full product."""
    draw = np.random.default_rng(2024)
    for i, (stride, padding, kernel) in enumerate(itertools.product(STRIDES, PADDINGS, KERNELS)):
        dtype = FLOATS[draw.integers(2)]
        batch, channels = draw.choice([1, 3], size=2)
        size = SIZES[draw.integers(len(SIZES))]
        yield pytest.param(stride, padding, kernel, dtype, int(batch), int(channels), size,
                           id=f"s{stride}-p{padding}-k{kernel[0]}x{kernel[1]}-{i}")


@pytest.mark.parametrize("stride,padding,kernel,dtype,batch,channels,size", grid_cases())
def test_forward_grid_matches_naive_loops(impl, stride, padding, kernel, dtype, batch,
                                          channels, size, rng):
    x = rng.standard_normal((batch, channels) + size).astype(dtype)
    w = rng.standard_normal((2, channels) + kernel).astype(dtype)
    b = rng.standard_normal(2).astype(dtype)
    expected = naive_conv_nchw(x, w, b, stride, padding)

    y = impl.conv2d(x, w, b, stride=stride, padding=padding)
    assert y.dtype == dtype and y.shape == expected.shape
    np.testing.assert_allclose(y, expected, **tol(dtype))

    x_nhwc, w_nhwc = to_nhwc(x, w)
    y_nhwc = impl.conv2d(x_nhwc, w_nhwc, b, stride=stride, padding=padding, layout="NHWC")
    assert y_nhwc.dtype == dtype
    np.testing.assert_allclose(y_nhwc, expected.transpose(0, 2, 3, 1), **tol(dtype))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_bias_relu_noncontiguous_readonly_and_out(impl, layout, dtype, rng):
    x = rng.standard_normal((2, 3, 8, 13)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    expected = naive_conv_nchw(x, w, b, (2, 1), ((1, 0), (0, 2)), relu=True)
    if layout == "NHWC":
        x, w = to_nhwc(x, w)
        expected = expected.transpose(0, 2, 3, 1)
    x_view = np.repeat(x, 2, axis=0)[::2]             # strided, non-contiguous view of x
    w.flags.writeable = False
    out_base = np.full(expected.shape[:-1] + (2 * expected.shape[-1],), np.nan, dtype)
    out = out_base[..., ::2]                           # a non-contiguous out
    y = impl.conv2d(x_view, w, b, stride=(2, 1), padding=((1, 0), (0, 2)), layout=layout,
                    activation="relu", out=out)
    assert y is out
    np.testing.assert_allclose(out, expected, **tol(dtype))
    assert (out >= 0).all() and np.isnan(out_base[..., 1::2]).all()


def test_same_padding_puts_the_extra_zero_at_the_end(impl):
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 1, 4)
    w = np.ones((1, 1, 1, 2))
    # total padding 1 goes to the right: [1+2, 2+3, 3+4, 4+0]
    np.testing.assert_array_equal(impl.conv2d(x, w, padding="same").ravel(), [3, 5, 7, 4])
    y = impl.conv2d(np.ones((1, 1, 7, 10)), np.ones((1, 1, 3, 3)), padding="same", stride=(2, 3))
    assert y.shape == (1, 1, 4, 4)                     # ceil(7/2), ceil(10/3)


def test_output_smaller_than_kernel_and_one_by_one(impl, rng):
    x = rng.standard_normal((1, 3, 5, 6))
    w = rng.standard_normal((2, 3, 5, 5))
    y = impl.conv2d(x, w, stride=3)
    assert y.shape == (1, 2, 1, 1)
    np.testing.assert_allclose(y[0, :, 0, 0], np.tensordot(w, x[0, :, :5, :5], 3),
                               **tol(np.float64))
    w1 = rng.standard_normal((4, 3, 1, 1))
    np.testing.assert_allclose(impl.conv2d(x, w1), np.einsum("kc,nchw->nkhw", w1[:, :, 0, 0], x),
                               **tol(np.float64))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_zero_batch(impl, layout, rng):
    x = np.zeros((0, 3, 6, 5) if layout == "NCHW" else (0, 6, 5, 3), np.float32)
    w = rng.standard_normal((2, 3, 3, 3) if layout == "NCHW" else (3, 3, 3, 2)).astype(np.float32)
    y = impl.conv2d(x, w, padding=1, layout=layout)
    assert y.shape == ((0, 2, 6, 5) if layout == "NCHW" else (0, 6, 5, 2))
    dx, dw, db = impl.conv2d_backward(y, x, w, padding=1, layout=layout)
    assert dx.shape == x.shape and dx.dtype == np.float32
    np.testing.assert_array_equal(dw, np.zeros_like(w))
    np.testing.assert_array_equal(db, np.zeros(2, np.float32))


# --- backward ----------------------------------------------------------------------------------

GRAD_CASES = [
    # (x shape NCHW, w shape, stride, padding, activation)
    ((2, 2, 6, 5), (3, 2, 3, 3), 2, 0, None),              # bottom row/right col get no gradient
    ((1, 3, 5, 7), (2, 3, 3, 5), (1, 2), ((0, 1), (1, 0)), None),
    ((2, 1, 7, 6), (2, 1, 2, 3), (2, 3), "same", None),
    ((2, 2, 5, 5), (3, 2, 3, 3), 1, 1, "relu"),
    ((1, 2, 8, 7), (2, 2, 3, 2), 3, (2, 1), "relu"),
]


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("x_shape,w_shape,stride,padding,activation", GRAD_CASES)
def test_gradient_check(impl, layout, x_shape, w_shape, stride, padding, activation, rng):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    if layout == "NHWC":
        x, w = to_nhwc(x, w)
    kw = dict(stride=stride, padding=padding, layout=layout)

    def forward(x_, w_, b_):
        return impl.conv2d(x_, w_, b_, activation=activation, **kw)

    y = forward(x, w, b)
    g = rng.standard_normal(y.shape)
    dx, dw, db = impl.conv2d_backward(g, x, w, activation=activation, y=y, **kw)
    assert_grad(lambda v: float(np.sum(g * forward(v, w, b))), x, dx)
    assert_grad(lambda v: float(np.sum(g * forward(x, v, b))), w, dw)
    assert_grad(lambda v: float(np.sum(g * forward(x, w, v))), b, db)


def test_unreached_pixels_get_exactly_zero_gradient(impl, rng):
    x = rng.standard_normal((2, 2, 6, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    dy = rng.standard_normal((2, 3, 2, 2))             # windows start at rows/cols 0 and 2
    dx, _, _ = impl.conv2d_backward(dy, x, w, stride=2, need=("dx",))
    assert (dx[:, :, 5, :] == 0).all() and (dx[:, :, :, 5] == 0).all()
    assert (dx[:, :, :5, :5] != 0).all()


@pytest.mark.parametrize("dtype", FLOATS)
def test_backward_matches_naive_loops(impl, dtype, rng):
    """Per-window accumulation written out: dx[window] += dy * w, dw += dy * window."""
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    w = rng.standard_normal((2, 3, 3, 2)).astype(dtype)
    sh, sw = 2, 1
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    dy = rng.standard_normal((2, 2, 4, 7)).astype(dtype)
    dxp, dw = np.zeros_like(xp), np.zeros(w.shape)
    for n, k, i, j in itertools.product(range(2), range(2), range(4), range(7)):
        dxp[n, :, i * sh:i * sh + 3, j * sw:j * sw + 2] += dy[n, k, i, j] * w[k]
        dw[k] += dy[n, k, i, j] * xp[n, :, i * sh:i * sh + 3, j * sw:j * sw + 2]
    got = impl.conv2d_backward(dy, x, w, stride=(sh, sw), padding=1)
    for g, want in zip(got, (dxp[:, :, 1:-1, 1:-1], dw, dy.astype(np.float64).sum((0, 2, 3)))):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, want, **tol(dtype))
    x_nhwc, w_nhwc = to_nhwc(x, w)
    dx2, dw2, db2 = impl.conv2d_backward(np.ascontiguousarray(dy.transpose(0, 2, 3, 1)), x_nhwc,
                                         w_nhwc, stride=(sh, sw), padding=1, layout="NHWC")
    np.testing.assert_allclose(dx2, got[0].transpose(0, 2, 3, 1), **tol(dtype))
    np.testing.assert_allclose(dw2, got[1].transpose(2, 3, 1, 0), **tol(dtype))
    np.testing.assert_allclose(db2, got[2], **tol(dtype))


def test_relu_masks_dy_and_need_selects(impl, rng):
    x = rng.standard_normal((1, 2, 5, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    y = impl.conv2d(x, w, activation="relu")
    dy = np.ones_like(y)
    dx_relu, _, db_relu = impl.conv2d_backward(dy, x, w, activation="relu", y=y)
    np.testing.assert_allclose(db_relu, (y > 0).sum(axis=(0, 2, 3)), **tol(np.float64))
    dx_masked, _, _ = impl.conv2d_backward(dy * (y > 0), x, w)
    np.testing.assert_allclose(dx_relu, dx_masked, **tol(np.float64))
    zero_y = np.zeros_like(y)                          # ReLU'(0) = 0: nothing flows back
    grads = impl.conv2d_backward(dy, x, w, activation="relu", y=zero_y)
    assert all((g == 0).all() for g in grads)
    dx, dw, db = impl.conv2d_backward(dy, x, w, need=("dw",))
    assert dx is None and db is None and dw.shape == w.shape
    dx, dw, db = impl.conv2d_backward(dy, x, w, need=())
    assert dx is None and dw is None and db is None


# --- zero_pad and conv_output_size ---------------------------------------------------------------

@pytest.mark.parametrize("padding,np_pad", [
    (2, ((2, 2), (2, 2))), ((1, 3), ((1, 1), (3, 3))), (((0, 2), (3, 1)), ((0, 2), (3, 1))),
    (0, ((0, 0), (0, 0))),
])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_zero_pad_matches_np_pad(impl, padding, np_pad, layout, dtype, rng):
    x = rng.standard_normal((2, 3, 5, 4)).astype(dtype)[:, :, :, ::-1]   # non-contiguous
    spatial = ((0, 0), (0, 0)) + np_pad if layout == "NCHW" else ((0, 0),) + np_pad + ((0, 0),)
    got = impl.zero_pad(x, padding, layout=layout)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, np.pad(x, spatial))


@pytest.mark.parametrize("args,expected", [
    ((5, 3), 3), ((7, 3, 1, 2), 4), ((32, 5, 2, 1), 32), ((224, 7, 3, 2), 112),
    ((6, 3, 0, 3), 2), ((7, 3, "valid", 2), 3), ((7, 3, "same", 2), 4), ((6, 7, "same", 1), 6),
    ((10, 1, "same", 3), 4), ((1, 1), 1), ((4, 6, 1), 1),
])
def test_conv_output_size_hand_values(impl, args, expected):
    got = impl.conv_output_size(*args)
    assert got == expected and type(got) is int


# --- API contract and bad input ----------------------------------------------------------------

SIGNATURES = {
    "conv_output_size": "(n, f, padding=0, stride=1)",
    "zero_pad": "(x, padding, *, layout='NCHW')",
    "conv2d": "(x, w, b=None, *, stride=1, padding=0, layout='NCHW', activation=None, "
              "out=None, n_threads=None)",
    "conv2d_backward": "(dy, x, w, *, stride=1, padding=0, layout='NCHW', activation=None, "
                       "y=None, need=('dx', 'dw', 'db'), n_threads=None)",
}


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signature_as_in_api(impl, name):
    assert str(inspect.signature(getattr(impl, name))) == SIGNATURES[name]


X = np.zeros((2, 3, 6, 6))
W = np.zeros((4, 3, 3, 3))
DY = np.zeros((2, 4, 4, 4))

CONV2D_BAD = [
    (dict(x=np.zeros((3, 6, 6))), ValueError,
     r"conv2d: x must be a 4-D array \(N, C, H, W\) for layout='NCHW'; got shape \(3, 6, 6\)"),
    (dict(x=np.zeros((3, 6, 6)), layout="NHWC", w=np.zeros((3, 3, 3, 4))), ValueError,
     r"conv2d: x must be a 4-D array \(N, H, W, C\) for layout='NHWC'"),
    (dict(w=np.zeros((4, 3, 3))), ValueError, r"conv2d: w must be a 4-D array \(K, C, R, S\)"),
    (dict(w=np.zeros((4, 2, 3, 3))), ValueError, "conv2d: w must have 3 input channels"),
    (dict(b=np.zeros(5)), ValueError, r"conv2d: b must have shape \(4,\)"),
    (dict(b=np.zeros((4, 1))), ValueError, "conv2d: b must be a 1-D array"),
    (dict(stride=0), ValueError, "conv2d: stride must be >= 1"),
    (dict(stride=(1, -2)), ValueError, "conv2d: stride must be >= 1"),
    (dict(stride=1.5), TypeError, "conv2d: stride must be an int or a pair of ints"),
    (dict(padding=-1), ValueError, "conv2d: padding must be >= 0"),
    (dict(padding=((0, -1), (1, 1))), ValueError, "conv2d: padding must be >= 0"),
    (dict(padding="full"), ValueError, "conv2d: padding must be an int, .*'same'; got 'full'"),
    (dict(padding=(1, 2, 3)), TypeError, "conv2d: padding must be an int"),
    (dict(padding=1.0), TypeError, "conv2d: padding must be an int"),
    (dict(w=np.zeros((4, 3, 7, 3))), ValueError, "conv2d: the kernel size must be <= the padded"),
    (dict(layout="NWHC"), ValueError, "conv2d: layout must be 'NCHW' or 'NHWC'; got 'NWHC'"),
    (dict(layout=None), TypeError, "conv2d: layout must be"),
    (dict(activation="gelu"), ValueError, "conv2d: activation must be one of"),
    (dict(x=np.zeros((2, 3, 6, 6), int)), TypeError, "conv2d: x must have dtype float32 or "
                                                      "float64; got int64"),
    (dict(x=np.zeros((2, 3, 6, 6), complex)), TypeError, "conv2d: x must have dtype"),
    (dict(x=np.zeros((2, 3, 6, 6), object)), TypeError, "conv2d: x must have dtype"),
    (dict(w=np.zeros((4, 3, 3, 3), np.float32)), TypeError,
     r"conv2d: w must have the dtype of x \(float64\); got float32"),
    (dict(b=np.zeros(4, np.float32)), TypeError, "conv2d: b must have the dtype of x"),
    (dict(out=np.zeros((2, 4, 6, 6))), ValueError, r"conv2d: out must have shape \(2, 4, 4, 4\)"),
    (dict(out=np.zeros((2, 4, 4, 4), np.float32)), TypeError, "conv2d: out must have dtype"),
    (dict(n_threads=0), ValueError, "conv2d: n_threads must be >= 1"),
    (dict(n_threads=1.0), TypeError, "conv2d: n_threads must be a positive int"),
]


@pytest.mark.parametrize("kwargs,exc,match", CONV2D_BAD)
def test_conv2d_bad_input(impl, kwargs, exc, match):
    args = dict(x=X, w=W, b=np.zeros(4)) | kwargs
    with pytest.raises(exc, match=match):
        impl.conv2d(args.pop("x"), args.pop("w"), args.pop("b"), **args)


BACKWARD_BAD = [
    (dict(dy=np.zeros((2, 4, 4, 5))), ValueError,
     r"conv2d_backward: dy must have shape \(2, 4, 4, 4\)"),
    (dict(dy=np.zeros((2, 4, 4))), ValueError, "conv2d_backward: dy must be a 4-D array"),
    (dict(dy=DY.astype(np.float32)), TypeError, "conv2d_backward: dy must have the dtype of x"),
    (dict(need=("dx", "dz")), ValueError, "conv2d_backward: need must hold names from"),
    (dict(need=3), TypeError, "conv2d_backward: need must be a tuple"),
    (dict(activation="relu"), ValueError, r"conv2d_backward: y \(the forward output\) is "
                                          "required when activation='relu'"),
    (dict(activation="relu", y=np.zeros((2, 4, 4, 3))), ValueError,
     r"conv2d_backward: y must have shape \(2, 4, 4, 4\)"),
    (dict(activation="gelu"), ValueError, "conv2d_backward: activation must be one of"),
    (dict(x=np.zeros((2, 2, 6, 6))), ValueError, "conv2d_backward: w must have 2 input channels"),
    (dict(stride=0), ValueError, "conv2d_backward: stride must be >= 1"),
    (dict(padding=-2), ValueError, "conv2d_backward: padding must be >= 0"),
    (dict(layout="nchw"), ValueError, "conv2d_backward: layout must be"),
    (dict(n_threads=0), ValueError, "conv2d_backward: n_threads must be >= 1"),
]


@pytest.mark.parametrize("kwargs,exc,match", BACKWARD_BAD)
def test_conv2d_backward_bad_input(impl, kwargs, exc, match):
    args = dict(dy=DY, x=X, w=W) | kwargs
    with pytest.raises(exc, match=match):
        impl.conv2d_backward(args.pop("dy"), args.pop("x"), args.pop("w"), **args)


@pytest.mark.parametrize("call,exc,match", [
    (lambda m: m.zero_pad(np.zeros((2, 3, 4)), 1), ValueError,
     r"zero_pad: x must be a 4-D array \(N, C, H, W\) for layout='NCHW'"),
    (lambda m: m.zero_pad(X, -1), ValueError, "zero_pad: padding must be >= 0"),
    (lambda m: m.zero_pad(X, "same"), TypeError, "zero_pad: padding must be an int"),
    (lambda m: m.zero_pad(X, 1, layout="CHW"), ValueError, "zero_pad: layout must be"),
    (lambda m: m.zero_pad(X.astype(int), 1), TypeError, "zero_pad: x must have dtype"),
    (lambda m: m.conv_output_size(3, 5), ValueError, "conv_output_size: the kernel size must be"),
    (lambda m: m.conv_output_size(5, 0), ValueError, "conv_output_size: f must be >= 1"),
    (lambda m: m.conv_output_size(5, 3, stride=0), ValueError,
     "conv_output_size: stride must be >= 1"),
    (lambda m: m.conv_output_size(5, 3, padding=-1), ValueError,
     "conv_output_size: padding must be >= 0"),
    (lambda m: m.conv_output_size(5, 3, padding="full"), ValueError,
     "conv_output_size: padding must be"),
    (lambda m: m.conv_output_size(5, 3, padding=(1, 1)), TypeError,
     "conv_output_size: padding must be an int, 'valid' or 'same'"),
    (lambda m: m.conv_output_size(5.0, 3), TypeError, "conv_output_size: n must be an int"),
])
def test_padding_helpers_bad_input(impl, call, exc, match):
    with pytest.raises(exc, match=match):
        call(impl)
