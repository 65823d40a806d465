"""Augmentation against per-image loops written here, the documented random counters,
statistical properties of the draws, saturation, both layouts and bad input.

The random ops are checked by recomputing their draws with the primitives of
``fastdl.reference._random`` at the counters the reference's module docstring documents (a
spec check: the native kernels must reproduce those exact draws), then applying the
augmentation with explicit loops.
"""
import inspect

import numpy as np
import pytest

from fastdl.reference import _random

DTYPES = (np.uint8, np.float32, np.float64)
SEED = 2024


def make_batch(rng, shape, dtype):
    """A batch holding the full uint8 range (0 and 255 included) or signed floats."""
    if np.dtype(dtype) == np.uint8:
        x = rng.integers(0, 256, size=shape).astype(np.uint8)
        flat = x.reshape(-1)
        flat[0], flat[-1] = 0, 255
        return x
    return rng.uniform(-3, 3, size=shape).astype(dtype)


def to_nchw(x):
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def key_of(seed):
    return _random.make_key("test", seed=seed)


def assert_same_type_and_shape(y, x, shape=None):
    assert isinstance(y, np.ndarray) and y.dtype == x.dtype
    assert y.shape == (x.shape if shape is None else shape)


# --- naive oracles (NHWC, one image at a time) --------------------------------------------

def naive_channel_shift(x, shifts):
    """``shifts[i, c]`` added to channel c of image i: saturating ints for uint8."""
    y = np.empty_like(x)
    for i in range(x.shape[0]):
        for c in range(x.shape[3]):
            if x.dtype == np.uint8:
                s = int(np.rint(shifts[i, c]))
                y[i, :, :, c] = np.clip(x[i, :, :, c].astype(int) + s, 0, 255)
            else:
                y[i, :, :, c] = x[i, :, :, c] + x.dtype.type(shifts[i, c])
    return y


def naive_crop(x, size, padding, tops, lefts):
    (h, w), (ph, pw) = size, padding
    out = np.empty((x.shape[0], h, w, x.shape[3]), x.dtype)
    for i in range(x.shape[0]):
        padded = np.pad(x[i], ((ph, ph), (pw, pw), (0, 0)))
        out[i] = padded[tops[i]:tops[i] + h, lefts[i]:lefts[i] + w]
    return out


# --- signatures ----------------------------------------------------------------------------

# API.md's signatures plus the keyword-only out= and n_threads= of the kernel issue.
API_SIGNATURES = {
    "flip": "(x, *, axis='horizontal', layout='NHWC', out=None, n_threads=None)",
    "random_flip": "(x, p=0.5, *, seed=None, rng=None, layout='NHWC', out=None, n_threads=None)",
    "random_crop": "(x, size, *, padding=0, seed=None, rng=None, layout='NHWC', out=None, "
                   "n_threads=None)",
    "color_shift": "(x, shifts, *, layout='NHWC', out=None, n_threads=None)",
    "random_color_shift": "(x, max_shift, *, seed=None, rng=None, layout='NHWC', out=None, "
                          "n_threads=None)",
    "pca_color_augment": "(x, eigvals, eigvecs, alphas, *, layout='NHWC', out=None, "
                         "n_threads=None)",
}


@pytest.mark.parametrize("name", sorted(API_SIGNATURES))
def test_signature_matches_api(impl, name):
    assert str(inspect.signature(getattr(impl, name))) == API_SIGNATURES[name]


# --- flip ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (3, 5, 7, 3), (2, 4, 1, 2)])
def test_flip_matches_per_image_mirror(impl, dtype, shape, rng):
    x = make_batch(rng, shape, dtype)
    horizontal = np.stack([x[i, :, ::-1] for i in range(len(x))])
    vertical = np.stack([x[i, ::-1] for i in range(len(x))])
    y = impl.flip(x)
    assert_same_type_and_shape(y, x)
    np.testing.assert_array_equal(y, horizontal)
    np.testing.assert_array_equal(impl.flip(x, axis="vertical"), vertical)
    np.testing.assert_array_equal(impl.flip(to_nchw(x), layout="NCHW"), to_nchw(horizontal))
    np.testing.assert_array_equal(impl.flip(to_nchw(x), axis="vertical", layout="NCHW"),
                                  to_nchw(vertical))


@pytest.mark.parametrize("axis", ["horizontal", "vertical"])
def test_flip_is_an_involution_and_leaves_input_alone(impl, axis, rng):
    x = make_batch(rng, (2, 5, 6, 3), np.float32)
    before = x.copy()
    np.testing.assert_array_equal(impl.flip(impl.flip(x, axis=axis), axis=axis), x)
    np.testing.assert_array_equal(x, before)


# --- random_flip ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_random_flip_follows_documented_coins(impl, dtype, layout, rng):
    x = make_batch(rng, (9, 3, 5, 2), dtype)
    coins = _random.bernoulli(key_of(SEED), np.arange(9), 0.4)     # counter = image index
    expected = np.stack([x[i, :, ::-1] if coins[i] else x[i] for i in range(9)])
    assert 0 < coins.sum() < 9
    if layout == "NCHW":
        x, expected = to_nchw(x), to_nchw(expected)
    y = impl.random_flip(x, 0.4, seed=SEED, layout=layout)
    assert_same_type_and_shape(y, x)
    np.testing.assert_array_equal(y, expected)


def test_random_flip_frequency_is_p(impl):
    n, p = 8000, 0.3
    x = np.zeros((n, 1, 2, 1), np.uint8)
    x[:, :, 1] = 1                        # flipped images start with 1
    flipped = impl.random_flip(x, p, seed=7)[:, 0, 0, 0] == 1
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(flipped.mean() - p) < 4 * sigma


def test_random_flip_edge_probabilities(impl, rng):
    x = make_batch(rng, (6, 2, 3, 3), np.float64)
    np.testing.assert_array_equal(impl.random_flip(x, 0.0, seed=1), x)
    np.testing.assert_array_equal(impl.random_flip(x, 1, seed=1), x[:, :, ::-1])


# --- random_crop ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,size,padding", [
    ((5, 7, 9, 3), 5, 0),
    ((4, 6, 5, 2), (3, 4), 2),
    ((3, 5, 7, 1), (9, 8), (2, 1)),        # larger than the image: needs the padding
    ((1, 4, 4, 3), 4, (0, 3)),
])
def test_random_crop_matches_padded_slices(impl, dtype, shape, size, padding, rng):
    x = make_batch(rng, shape, dtype)
    n, height, width = shape[:3]
    size = (size, size) if np.isscalar(size) else size
    pad = (padding, padding) if np.isscalar(padding) else padding
    counters = 2 * np.arange(n)            # rows at 2i, columns at 2i + 1
    tops = _random.integers(key_of(SEED), counters, height + 2 * pad[0] - size[0] + 1)
    lefts = _random.integers(key_of(SEED), counters + 1, width + 2 * pad[1] - size[1] + 1)
    expected = naive_crop(x, size, pad, tops, lefts)
    y = impl.random_crop(x, size, padding=padding, seed=SEED)
    assert_same_type_and_shape(y, x, expected.shape)
    assert y.flags.c_contiguous
    np.testing.assert_array_equal(y, expected)
    y_nchw = impl.random_crop(to_nchw(x), size, padding=padding, seed=SEED, layout="NCHW")
    assert y_nchw.flags.c_contiguous
    np.testing.assert_array_equal(y_nchw, to_nchw(expected))


def test_random_crop_full_size_is_identity(impl, rng):
    x = make_batch(rng, (3, 5, 6, 3), np.uint8)
    np.testing.assert_array_equal(impl.random_crop(x, (5, 6), seed=3), x)


def test_random_crop_offsets_are_uniform(impl):
    n, height, width = 6000, 5, 4
    # Pixel value = its flat position, so a crop's corner value gives its offset.
    x = np.broadcast_to(np.arange(height * width, dtype=np.float64).reshape(1, height, width, 1),
                        (n, height, width, 1))
    corners = impl.random_crop(x, 2, seed=11)[:, 0, 0, 0].astype(int)
    tops, lefts = corners // width, corners % width
    assert tops.max() == 3 and lefts.max() == 2 and tops.min() == lefts.min() == 0
    counts = np.bincount(tops * 3 + lefts, minlength=12)
    expected = n / 12
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 40                       # 11 degrees of freedom: P(chi2 > 40) < 1e-4


def test_random_crop_padding_is_zero(impl):
    x = np.full((50, 2, 2, 1), 7, np.uint8)
    y = impl.random_crop(x, 2, padding=1, seed=5)
    zeros_per_crop = (y == 0).sum(axis=(1, 2, 3))
    # A 2x2 crop of the 4x4 padded image covers 0 (centre), 2 (edge) or 3 (corner) zeros.
    assert set(zeros_per_crop) <= {0, 2, 3} and len(set(zeros_per_crop)) > 1
    assert set(np.unique(y)) == {0, 7}


# --- color_shift ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_color_shift_matches_per_channel_loop(impl, dtype, layout, rng):
    x = make_batch(rng, (3, 5, 7, 3), dtype)
    shifts = np.array([-40.0, 0.0, 70.0]) if dtype == np.uint8 else np.array([-0.5, 0.0, 1.25])
    expected = naive_channel_shift(x, np.tile(shifts, (3, 1)))
    if layout == "NCHW":
        x, expected = to_nchw(x), to_nchw(expected)
    y = impl.color_shift(x, shifts, layout=layout)
    assert_same_type_and_shape(y, x)
    np.testing.assert_array_equal(y, expected)


def test_color_shift_uint8_saturates_and_rounds(impl):
    x = np.array([0, 1, 128, 254, 255], np.uint8).reshape(1, 1, 5, 1)
    pixels = lambda s: impl.color_shift(x, [s])[0, 0, :, 0].tolist()  # noqa: E731
    assert pixels(10) == [10, 11, 138, 255, 255]
    assert pixels(-10) == [0, 0, 118, 244, 245]
    assert pixels(1e9) == [255] * 5
    assert pixels(-1e9) == [0] * 5
    assert pixels(1.4) == [1, 2, 129, 255, 255]
    assert pixels(-2.5) == [0, 0, 126, 252, 253]            # rint: half to even


def test_color_shift_float_is_plain_add_in_dtype(impl):
    x = np.array([[[[1e38, -1.0]]]], np.float32)
    with np.errstate(all="raise"):
        y = impl.color_shift(x, np.array([1.0, 0.1]))
    assert y.dtype == np.float32
    assert y[0, 0, 0, 1] == np.float32(-1.0) + np.float32(0.1)
    assert y[0, 0, 0, 0] == np.float32(1e38)
    with np.errstate(all="raise"):
        huge = impl.color_shift(np.zeros((1, 1, 1, 2), np.float32), [1e300, -1e300])
    np.testing.assert_array_equal(huge, [[[[np.inf, -np.inf]]]])


# --- random_color_shift --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_random_color_shift_follows_documented_draws(impl, dtype, layout, rng):
    n, c, max_shift = 4, 3, 30.0 if dtype == np.uint8 else 0.75
    x = make_batch(rng, (n, 3, 5, c), dtype)
    shifts = np.empty((n, c))
    for i in range(n):
        for ch in range(c):
            u = _random.uniform(key_of(SEED), i * c + ch)
            shifts[i, ch] = max_shift * (2 * u - 1)
    expected = naive_channel_shift(x, shifts)
    if layout == "NCHW":
        x, expected = to_nchw(x), to_nchw(expected)
    y = impl.random_color_shift(x, max_shift, seed=SEED, layout=layout)
    assert_same_type_and_shape(y, x)
    np.testing.assert_array_equal(y, expected)


def test_random_color_shift_range_and_mean(impl):
    n, max_shift = 4000, 2.0
    shifts = impl.random_color_shift(np.zeros((n, 1, 1, 3)), max_shift, seed=9)[:, 0, 0, :]
    assert shifts.min() >= -max_shift and shifts.max() < max_shift
    assert shifts.min() < -1.9 and shifts.max() > 1.9
    sigma = max_shift / np.sqrt(3) / np.sqrt(shifts.size)
    assert abs(shifts.mean()) < 4 * sigma
    # Independent channels: not all the same shift.
    assert np.mean(shifts[:, 0] == shifts[:, 1]) < 0.01


def test_random_color_shift_uint8_shifts_are_integers(impl):
    x = np.full((500, 1, 1, 3), 100, np.uint8)
    shifts = impl.random_color_shift(x, 3.7, seed=4).astype(int) - 100
    assert set(np.unique(shifts)) == {-4, -3, -2, -1, 0, 1, 2, 3, 4}


def test_random_color_shift_zero_is_identity(impl, rng):
    x = make_batch(rng, (2, 3, 4, 3), np.uint8)
    np.testing.assert_array_equal(impl.random_color_shift(x, 0, seed=1), x)


# --- pca_color_augment ---------------------------------------------------------------------

def naive_pca_offsets(eigvals, eigvecs, alphas):
    """AlexNet: offset_i = sum_k alpha_ik * lambda_k * p_k (p_k = column k of eigvecs)."""
    offsets = np.zeros_like(alphas, dtype=np.float64)
    for i in range(alphas.shape[0]):
        for k in range(len(eigvals)):
            offsets[i] += alphas[i, k] * eigvals[k] * eigvecs[:, k]
    return offsets


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_pca_color_augment_matches_alexnet_formula(impl, dtype, layout, rng):
    n = 5
    x = make_batch(rng, (n, 4, 3, 3), dtype)
    pixels = rng.standard_normal((200, 3)) @ rng.standard_normal((3, 3))
    eigvals, eigvecs = np.linalg.eigh(np.cov(pixels, rowvar=False))
    scale = 20.0 if dtype == np.uint8 else 0.1
    eigvals = eigvals * scale
    alphas = rng.normal(0, 1.0, size=(n, 3))
    expected = naive_channel_shift(x, naive_pca_offsets(eigvals, eigvecs, alphas))
    if layout == "NCHW":
        x, expected = to_nchw(x), to_nchw(expected)
    y = impl.pca_color_augment(x, eigvals, eigvecs, alphas, layout=layout)
    assert_same_type_and_shape(y, x)
    if dtype == np.uint8:
        np.testing.assert_array_equal(y, expected)
    else:
        rtol = 1e-6 if dtype == np.float32 else 1e-13
        np.testing.assert_allclose(y, expected, rtol=rtol, atol=rtol)


def test_pca_color_augment_hand_values_and_shared_alphas(impl):
    x = np.full((2, 1, 2, 3), 10.0)
    eigvecs = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
    y = impl.pca_color_augment(x, [1.0, 2.0, 3.0], eigvecs, [1.0, 0.5, 2.0])
    # eigvecs @ (1*1, 0.5*2, 2*3) = (1, 1, -6)
    np.testing.assert_array_equal(y, np.broadcast_to([11.0, 11.0, 4.0], x.shape))
    x8 = np.array([[[[250, 3, 100]]]], np.uint8)
    y8 = impl.pca_color_augment(x8, [10.0, 10.0, 1.0], np.eye(3), [[1.0, -1.0, 0.6]])
    assert y8.tolist() == [[[[255, 0, 101]]]]


# --- shared behaviour ----------------------------------------------------------------------

CALLS = {
    "flip": lambda impl, x, **kw: impl.flip(x, **kw),
    "random_flip": lambda impl, x, **kw: impl.random_flip(x, seed=1, **kw),
    "random_crop": lambda impl, x, **kw: impl.random_crop(x, 2, padding=1, seed=1, **kw),
    "color_shift": lambda impl, x, **kw: impl.color_shift(x, [1, 2, -3], **kw),
    "random_color_shift": lambda impl, x, **kw: impl.random_color_shift(x, 5, seed=1, **kw),
    "pca_color_augment": lambda impl, x, **kw: impl.pca_color_augment(
        x, [1, 2, 3], np.eye(3), [0.5, 1, -1], **kw),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_noncontiguous_readonly_and_input_untouched(impl, name, rng):
    base = make_batch(rng, (4, 6, 10, 3), np.uint8)
    view = base[::2, :, ::2]                          # non-contiguous
    expected = CALLS[name](impl, view.copy())
    readonly = view.copy()
    readonly.flags.writeable = False
    before = base.copy()
    np.testing.assert_array_equal(CALLS[name](impl, view), expected)
    np.testing.assert_array_equal(CALLS[name](impl, readonly), expected)
    np.testing.assert_array_equal(base, before)
    fresh = CALLS[name](impl, readonly)
    assert fresh.flags.c_contiguous and fresh.flags.writeable


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_empty_batch(impl, name, layout):
    x = np.zeros((0, 4, 4, 3), np.float32)
    if layout == "NCHW":
        x = to_nchw(x)
    y = CALLS[name](impl, x, layout=layout)
    assert y.dtype == np.float32 and y.shape[0] == 0 and y.ndim == 4


@pytest.mark.parametrize("name", ["random_flip", "random_crop", "random_color_shift"])
def test_seed_and_rng_reproducibility(impl, name, rng):
    x = make_batch(rng, (16, 6, 6, 3), np.uint8)
    run = {"random_flip": lambda **kw: impl.random_flip(x, **kw),
           "random_crop": lambda **kw: impl.random_crop(x, 3, **kw),
           "random_color_shift": lambda **kw: impl.random_color_shift(x, 40, **kw)}[name]
    np.testing.assert_array_equal(run(seed=5), run(seed=5))
    assert not np.array_equal(run(seed=5), run(seed=6))
    np.testing.assert_array_equal(run(rng=np.random.default_rng(3)),
                                  run(rng=np.random.default_rng(3)))
    assert run().shape == run(seed=1).shape             # OS entropy
    with pytest.raises(ValueError, match=f"{name}: pass seed or rng, not both"):
        run(seed=1, rng=np.random.default_rng(1))
    with pytest.raises(ValueError, match="seed"):
        run(seed=-1)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        run(rng=3)


def test_random_draws_do_not_depend_on_batch_split(impl, rng):
    """Counters depend on the image index only: a prefix batch gets the same draws."""
    x = make_batch(rng, (10, 5, 5, 3), np.uint8)
    np.testing.assert_array_equal(impl.random_crop(x[:4], 3, seed=8),
                                  impl.random_crop(x, 3, seed=8)[:4])
    np.testing.assert_array_equal(impl.random_color_shift(x[:4], 9, seed=8),
                                  impl.random_color_shift(x, 9, seed=8)[:4])


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("bad,exc,match", [
    (np.zeros((4, 4, 3), np.uint8), ValueError,
     r"x must be a 4-D array \(N, H, W, C\) for layout='NHWC'; got shape \(4, 4, 3\)"),
    (np.zeros((1, 4, 4, 3), np.int32), TypeError,
     "x must have dtype uint8, float32 or float64; got int32"),
    (np.zeros((1, 4, 4, 3), np.float16), TypeError, "x must have dtype .* got float16"),
    (np.zeros((1, 4, 4, 3), bool), TypeError, "x must have dtype .* got bool"),
    (np.zeros((1, 4, 4, 3), complex), TypeError, "x must have dtype .* got complex128"),
])
def test_bad_images(impl, name, bad, exc, match):
    with pytest.raises(exc, match=f"{name}: {match}"):
        CALLS[name](impl, bad)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_bad_layout(impl, name):
    x = np.zeros((1, 4, 4, 3))
    with pytest.raises(ValueError, match=f"{name}: layout must be 'NCHW' or 'NHWC'; got 'HWC'"):
        CALLS[name](impl, x, layout="HWC")
    with pytest.raises(TypeError, match=f"{name}: layout must be"):
        CALLS[name](impl, x, layout=None)


def test_bad_hyperparameters(impl):
    x = np.zeros((2, 4, 5, 3), np.uint8)
    cases = [
        (ValueError, r"flip: axis must be one of \('horizontal', 'vertical'\); got 'diagonal'",
         lambda: impl.flip(x, axis="diagonal")),
        (TypeError, "flip: axis must be one of", lambda: impl.flip(x, axis=1)),
        (ValueError, r"random_flip: p must be in \[0, 1\]; got 1.5",
         lambda: impl.random_flip(x, 1.5, seed=0)),
        (ValueError, r"random_flip: p must be in \[0, 1\]; got -0.1",
         lambda: impl.random_flip(x, -0.1, seed=0)),
        (ValueError, r"random_flip: p must be in \[0, 1\]; got nan",
         lambda: impl.random_flip(x, float("nan"), seed=0)),
        (TypeError, "random_flip: p must be a real number", lambda: impl.random_flip(x, "0.5")),
        (ValueError, r"random_crop: size must be at most the padded image size \(6, 7\); "
                     r"got \(7, 2\)", lambda: impl.random_crop(x, (7, 2), padding=1, seed=0)),
        (ValueError, r"random_crop: size must be at most .* \(4, 5\); got \(4, 6\)",
         lambda: impl.random_crop(x, (4, 6), seed=0)),
        (ValueError, "random_crop: size must be >= 1", lambda: impl.random_crop(x, 0, seed=0)),
        (ValueError, "random_crop: padding must be >= 0",
         lambda: impl.random_crop(x, 2, padding=(1, -1), seed=0)),
        (TypeError, "random_crop: size must be an int or a pair of ints",
         lambda: impl.random_crop(x, 2.5, seed=0)),
        (TypeError, "random_crop: padding must be an int or a pair",
         lambda: impl.random_crop(x, 2, padding=(1, 2, 3), seed=0)),
        (ValueError, r"color_shift: shifts must have shape \(3,\) \(one per channel\); "
                     r"got \(2,\)", lambda: impl.color_shift(x, [1, 2])),
        (ValueError, r"color_shift: shifts must have shape \(3,\)",
         lambda: impl.color_shift(x, np.zeros((2, 3)))),
        (TypeError, "color_shift: shifts must be an array of real numbers; got dtype complex",
         lambda: impl.color_shift(x, np.zeros(3, complex))),
        (TypeError, "color_shift: shifts must be an array of real numbers; got dtype bool",
         lambda: impl.color_shift(x, [True, False, True])),
        (TypeError, "color_shift: shifts must be an array of real numbers",
         lambda: impl.color_shift(x, ["a", "b", "c"])),
        (ValueError, "color_shift: shifts must be finite for uint8 images",
         lambda: impl.color_shift(x, [0, np.nan, 0])),
        (ValueError, r"random_color_shift: max_shift must be in \[0, inf\); got -1.0",
         lambda: impl.random_color_shift(x, -1, seed=0)),
        (ValueError, "random_color_shift: max_shift must be in",
         lambda: impl.random_color_shift(x, np.inf, seed=0)),
        (TypeError, "random_color_shift: max_shift must be a real number",
         lambda: impl.random_color_shift(x, None, seed=0)),
        (ValueError, r"pca_color_augment: eigvals must have shape \(3,\)",
         lambda: impl.pca_color_augment(x, [1, 2], np.eye(3), [1, 1, 1])),
        (ValueError, r"pca_color_augment: eigvecs must have shape \(3, 3\)",
         lambda: impl.pca_color_augment(x, [1, 2, 3], np.eye(2), [1, 1, 1])),
        (ValueError, r"pca_color_augment: alphas must have shape \(2, 3\)",
         lambda: impl.pca_color_augment(x, [1, 2, 3], np.eye(3), np.ones((3, 3)))),
        (ValueError, r"pca_color_augment: alphas must have shape \(3,\)",
         lambda: impl.pca_color_augment(x, [1, 2, 3], np.eye(3), [1, 1])),
        (TypeError, "pca_color_augment: eigvecs must be an array of real numbers",
         lambda: impl.pca_color_augment(x, [1, 2, 3], np.eye(3, dtype=complex), [1, 1, 1])),
        (ValueError, "pca_color_augment: the offsets .* must be finite for uint8 images",
         lambda: impl.pca_color_augment(x, [1, 2, np.inf], np.eye(3), [1, 1, 1])),
    ]
    for exc, match, call in cases:
        with pytest.raises(exc, match=match):
            call()
