"""The compiled augmentation kernels against the NumPy reference.

Every op is pure data movement or one add per element, computed in the same precision as the
reference, so the native results must be bit-identical to it (floats included) on a grid of
dtypes, layouts, odd sizes, channel counts (every pixel width the kernels specialise),
strides, thread counts, zero-size batches and ``out=`` arrays.
"""
import itertools

import numpy as np
import pytest

import fastdl
import fastdl.augment
import fastdl.reference as ref

DTYPES = (np.uint8, np.float32, np.float64)
LAYOUTS = ("NHWC", "NCHW")
OPS = ("flip", "random_flip", "random_crop", "color_shift", "random_color_shift",
       "pca_color_augment")


def make_batch(rng, shape, dtype):
    if np.dtype(dtype) == np.uint8:
        x = rng.integers(0, 256, size=shape).astype(np.uint8)
        if x.size:
            x.reshape(-1)[[0, -1]] = 0, 255
        return x
    return rng.uniform(-3, 3, size=shape).astype(dtype)


def channels_of(x, layout):
    return x.shape[3] if layout == "NHWC" else x.shape[1]


def call(module, name, x, layout, **kw):
    """One op with arguments that exercise it (seeded, mixed-sign shifts)."""
    c = channels_of(x, layout)
    h, w = (x.shape[1], x.shape[2]) if layout == "NHWC" else (x.shape[2], x.shape[3])
    big = x.dtype == np.uint8
    if name == "flip":
        return module.flip(x, axis=kw.pop("axis", "horizontal"), layout=layout, **kw)
    if name == "random_flip":
        return module.random_flip(x, 0.5, seed=3, layout=layout, **kw)
    if name == "random_crop":
        size = kw.pop("size", (max(1, h - 1), max(1, w + 1)))
        return module.random_crop(x, size, padding=kw.pop("padding", (1, 2)), seed=4,
                                  layout=layout, **kw)
    if name == "color_shift":
        shifts = np.linspace(-60, 75, c) if big else np.linspace(-0.7, 0.9, c)
        return module.color_shift(x, shifts, layout=layout, **kw)
    if name == "random_color_shift":
        return module.random_color_shift(x, 90.0 if big else 1.5, seed=5, layout=layout, **kw)
    eigvecs = np.linalg.qr(np.arange(1.0, c * c + 1).reshape(c, c) + np.eye(c))[0]
    alphas = np.sin(np.arange(x.shape[0] * c, dtype=np.float64)).reshape(x.shape[0], c)
    return module.pca_color_augment(x, np.linspace(30 if big else 0.3, 1, c), eigvecs, alphas,
                                    layout=layout, **kw)


def to_layout(x, layout):
    return x if layout == "NHWC" else np.ascontiguousarray(x.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("name", OPS)
def test_kernel_is_used(name):
    assert getattr(fastdl.augment, name).op.has_kernel
    assert getattr(fastdl, name).op.has_kernel


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_matches_reference_on_grid(name, dtype, layout, rng):
    # Channel counts cover every specialised pixel width (1..32 bytes, 12, 24, > 16 elements).
    for shape in [(1, 1, 1, 1), (3, 5, 7, 3), (2, 4, 17, 1), (2, 3, 23, 2), (2, 6, 9, 4),
                  (1, 3, 6, 5), (2, 3, 5, 8), (1, 2, 7, 17)]:
        x = to_layout(make_batch(rng, shape, dtype), layout)
        expected = call(ref, name, x, layout)
        y = call(fastdl, name, x, layout)
        assert y.dtype == x.dtype and y.flags.c_contiguous
        np.testing.assert_array_equal(y, expected, err_msg=f"{name} {shape}")
        if name == "flip":
            np.testing.assert_array_equal(call(fastdl, name, x, layout, axis="vertical"),
                                          call(ref, name, x, layout, axis="vertical"))


@pytest.mark.parametrize("width", range(1, 24))
def test_mirror_row_tails(width, rng):
    """The vector mirror paths (16 bytes per step) against np.flip on every row length."""
    for dtype, c in [(np.uint8, 3), (np.uint8, 1), (np.float32, 3), (np.float64, 3)]:
        x = make_batch(rng, (2, 2, width, c), dtype)
        np.testing.assert_array_equal(fastdl.flip(x), x[:, :, ::-1])
        np.testing.assert_array_equal(fastdl.flip(to_layout(x, "NCHW"), layout="NCHW"),
                                      to_layout(x[:, :, ::-1], "NCHW"))


@pytest.mark.parametrize("size,padding", [((5, 6), (0, 0)), ((1, 1), (0, 0)), ((9, 12), (2, 3)),
                                          ((3, 2), (4, 5)), ((2, 14), (0, 4))])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_crop_geometry_grid(size, padding, layout, rng):
    """Crops reaching into every padded border, and crops of the padding only."""
    x = to_layout(make_batch(rng, (40, 5, 6, 3), np.float32), layout)
    for seed in range(3):
        kw = dict(padding=padding, seed=seed, layout=layout)
        np.testing.assert_array_equal(fastdl.random_crop(x, size, **kw),
                                      ref.random_crop(x, size, **kw))


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_bit_identical_for_any_thread_count(name, dtype, layout, rng):
    # Large enough (> 256 KiB of output) to run on several threads, odd sizes.
    shape = {np.uint8: (9, 101, 123, 3), np.float32: (5, 61, 73, 3),
             np.float64: (3, 53, 67, 3)}[dtype]
    x = to_layout(make_batch(rng, shape, dtype), layout)
    one = call(fastdl, name, x, layout, n_threads=1)
    np.testing.assert_array_equal(one, call(ref, name, x, layout))
    for n in (2, 3):
        np.testing.assert_array_equal(call(fastdl, name, x, layout, n_threads=n), one)


def strided_views(base):
    """Non-contiguous NHWC views of ``base`` (N, H, W, C): steps, negative and zero strides,
    and channels that are not adjacent."""
    yield base[::2, 1:, ::2]
    yield base[:, ::-1, ::-3]
    yield base[::-1, :, :, ::-1]
    yield np.broadcast_to(base[:1], base.shape)
    yield np.moveaxis(np.ascontiguousarray(np.moveaxis(base, 3, 1)), 1, 3)  # NCHW buffer
    yield np.ascontiguousarray(base.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_any_strides_and_read_only(name, dtype, layout, rng):
    base = make_batch(rng, (6, 7, 12, 3), dtype)
    for view in strided_views(base):
        x = view if layout == "NHWC" else view.transpose(0, 3, 1, 2)
        assert not view.flags.c_contiguous
        expected = call(ref, name, np.ascontiguousarray(x), layout)
        np.testing.assert_array_equal(call(fastdl, name, x, layout), expected)
        frozen = x.view()
        frozen.flags.writeable = False
        np.testing.assert_array_equal(call(fastdl, name, frozen, layout, n_threads=2), expected)


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_zero_size(name, layout, rng):
    for shape in [(0, 4, 5, 3), (2, 0, 5, 3), (2, 4, 0, 3), (2, 4, 5, 0)]:
        x = to_layout(make_batch(rng, shape, np.float32), layout)
        if name == "random_crop":
            kw = dict(size=1, padding=1)
        elif name == "pca_color_augment" and channels_of(x, layout) == 0:
            continue                 # eigh-sized parameters of 0 channels: nothing to test
        else:
            kw = {}
        expected = call(ref, name, x, layout, **kw)
        y = call(fastdl, name, x, layout, **kw)
        assert y.shape == expected.shape and y.dtype == x.dtype
        np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_out_argument(name, dtype, rng):
    x = make_batch(rng, (4, 5, 7, 3), dtype)
    expected = call(ref, name, x, "NHWC")
    out = np.empty_like(expected)
    assert call(fastdl, name, x, "NHWC", out=out) is out
    np.testing.assert_array_equal(out, expected)
    # A non-contiguous out (Fortran order) gets the same values.
    fortran = np.asfortranarray(np.empty_like(expected))
    assert call(fastdl, name, x, "NHWC", out=fortran) is fortran
    np.testing.assert_array_equal(fortran, expected)
    # The reference honours out= the same way.
    ref_out = np.empty_like(expected)
    assert call(ref, name, x, "NHWC", out=ref_out) is ref_out
    np.testing.assert_array_equal(ref_out, expected)


@pytest.mark.parametrize("impl_name", ["fastdl", "reference"])
@pytest.mark.parametrize("name", OPS)
def test_out_overlapping_input(impl_name, name, rng):
    """out= may be x itself (in place) or overlap it: the result is as with a fresh array."""
    module = fastdl if impl_name == "fastdl" else ref
    x = make_batch(rng, (3, 6, 6, 3), np.uint8)
    if name == "random_crop":
        big = make_batch(rng, (3, 7, 7, 3), np.uint8)
        x, out = big[:, :6, :6], big[:, 1:]       # the (3, 6, 7, 3) crops overlap x
        want = call(ref, name, x.copy(), "NHWC", size=(6, 7), padding=1)
        assert call(module, name, x, "NHWC", size=(6, 7), padding=1, out=out) is out
        np.testing.assert_array_equal(out, want)
        return
    expected = call(ref, name, x, "NHWC")
    y = x.copy()
    assert call(module, name, y, "NHWC", out=y) is y
    np.testing.assert_array_equal(y, expected)
    # Overlap with a shift of one image: out = x[1:], x = x[:-1].
    buf = np.concatenate([x, x[:1]])
    src, dst = buf[:-1], buf[1:]
    want = call(ref, name, src.copy(), "NHWC")
    assert call(module, name, src, "NHWC", out=dst) is dst
    np.testing.assert_array_equal(dst, want)


@pytest.mark.parametrize("impl_name", ["fastdl", "reference"])
def test_bad_out_and_threads(impl_name):
    module = fastdl if impl_name == "fastdl" else ref
    x = np.zeros((2, 4, 5, 3), np.uint8)
    cases = [
        (ValueError, r"flip: out must have shape \(2, 4, 5, 3\); got \(2, 4, 5, 4\)",
         lambda: module.flip(x, out=np.zeros((2, 4, 5, 4), np.uint8))),
        (TypeError, "color_shift: out must have dtype uint8; got float32",
         lambda: module.color_shift(x, [1, 2, 3], out=np.zeros(x.shape, np.float32))),
        (ValueError, r"random_crop: out must have shape \(2, 3, 3, 3\)",
         lambda: module.random_crop(x, 3, out=np.zeros(x.shape, np.uint8), seed=0)),
        (TypeError, "random_flip: out must be a NumPy array or None; got list",
         lambda: module.random_flip(x, out=[0], seed=0)),
        (ValueError, "pca_color_augment: out is read-only",
         lambda: module.pca_color_augment(x, [1, 1, 1], np.eye(3), [1, 1, 1],
                                          out=np.broadcast_to(x, x.shape))),
        (ValueError, "random_color_shift: n_threads must be >= 1 or None; got 0",
         lambda: module.random_color_shift(x, 3, seed=0, n_threads=0)),
        (TypeError, "flip: n_threads must be a positive int or None; got float",
         lambda: module.flip(x, n_threads=1.5)),
    ]
    for exc, match, fn in cases:
        with pytest.raises(exc, match=match):
            fn()


def test_uint8_saturation_on_all_values():
    """Every uint8 value with every integer shift in [-260, 260] (step 7) and rounding."""
    x = np.arange(256, dtype=np.uint8).reshape(1, 4, 64, 1)
    for shift in itertools.chain(range(-260, 261, 7), [-0.5, 0.5, 1.5, 2.5, -254.6, 254.5]):
        want = np.clip(x.astype(int) + int(np.rint(shift)), 0, 255)
        np.testing.assert_array_equal(fastdl.color_shift(x, [shift]), want)
        np.testing.assert_array_equal(fastdl.color_shift(to_layout(x, "NCHW"), [shift],
                                                         layout="NCHW"), to_layout(want, "NCHW"))


def test_float_shift_specials():
    x = np.array([[[[np.inf, -np.inf, np.nan, 1.0]]]], np.float64)
    shifts = [-np.inf, 1.0, 2.0, np.nan]
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(fastdl.color_shift(x, shifts), ref.color_shift(x, shifts))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_large_out_uses_the_streaming_path(layout, rng):
    """Outputs of 8 MiB and more written into a caller's out= use non-temporal stores (rows
    of an odd byte length, so that stores start unaligned): same values as the reference."""
    x = to_layout(make_batch(rng, (12, 300, 787, 3), np.uint8), layout)     # 8.5 MB
    for name, kw in [("flip", {"axis": "vertical"}), ("flip", {}), ("random_flip", {}),
                     ("random_crop", {"size": (299, 786), "padding": (0, 3)}),
                     ("color_shift", {}), ("random_color_shift", {})]:
        expected = call(ref, name, x, layout, **kw)
        for n in (1, 2):
            out = np.full_like(expected, 7)
            assert call(fastdl, name, x, layout, out=out, n_threads=n, **kw) is out
            np.testing.assert_array_equal(out, expected, err_msg=f"{name} {kw} {n}")


@pytest.fixture
def scalar_loops():
    """Run the kernels on their portable scalar loops (no SSSE3 / SSE2 / AVX2 rows)."""
    from fastdl import _augment
    _augment.set_simd(False)
    yield
    _augment.set_simd(True)


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_scalar_fallback_matches_reference(name, dtype, rng, scalar_loops):
    for shape in [(2, 3, 23, 3), (2, 4, 17, 1), (1, 3, 40, 4)]:
        for layout in LAYOUTS:
            x = to_layout(make_batch(rng, shape, dtype), layout)
            np.testing.assert_array_equal(call(fastdl, name, x, layout),
                                          call(ref, name, x, layout))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_crop_inside_padding_writes_only_its_output(dtype, layout, rng):
    """Padding wider than the crop: many crops lie wholly in the zero border. The output is
    the front of a larger buffer whose tail must stay untouched (a row overflow would show)."""
    x = to_layout(make_batch(rng, (4, 2, 4, 6), dtype), layout)
    shape = (4, 1, 1, 6) if layout == "NHWC" else (4, 6, 1, 1)
    size = int(np.prod(shape))
    for seed in range(40):
        buf = np.full(size + 64, 77, dtype)
        out = buf[:size].reshape(shape)
        kw = dict(padding=3, seed=seed, layout=layout)
        fastdl.random_crop(x, 1, out=out, **kw)
        np.testing.assert_array_equal(buf[size:], 77)
        np.testing.assert_array_equal(out, ref.random_crop(x, 1, **kw))
    for padding in [(0, 9), (9, 0), (7, 8)]:
        kw = dict(padding=padding, seed=1, layout=layout)
        np.testing.assert_array_equal(fastdl.random_crop(x, (2, 3), **kw),
                                      ref.random_crop(x, (2, 3), **kw))


@pytest.mark.parametrize("impl_name", ["fastdl", "reference"])
def test_crop_huge_padding(impl_name, rng):
    module = fastdl if impl_name == "fastdl" else ref
    x = make_batch(rng, (3, 5, 4, 3), np.float32)
    for pad in (2**52 + 1, 2**62, 2**63, 2**100):
        with pytest.raises(ValueError, match=r"random_crop: padding must keep the padded image "
                                             r"size at most 2\*\*53"):
            module.random_crop(x, (4, 3), padding=pad, seed=1)
    # Large but valid padding: no padded batch is materialised; mostly all-zero crops.
    y = module.random_crop(x, (4, 3), padding=(10**6, 2**40), seed=2)
    np.testing.assert_array_equal(y, ref.random_crop(x, (4, 3), padding=(10**6, 2**40), seed=2))
    assert y.shape == (3, 4, 3, 3)
