"""Native activation kernels: against the reference, accuracy against float64 libm, thread
determinism, layouts, and that the kernels are really used."""
import warnings

import numpy as np
import pytest

import fastdl
import fastdl.reference as ref
from conftest import FLOATS, ISAS, math_modules

FORWARD = ["sigmoid", "tanh", "relu", "leaky_relu"]
ELEMENTWISE_TOL = {np.dtype(np.float32): dict(rtol=1e-5, atol=1e-30),
                   np.dtype(np.float64): dict(rtol=1e-12, atol=1e-300)}


@pytest.mark.parametrize("name", FORWARD + [n + "_backward" for n in FORWARD])
def test_kernel_is_used(name):
    assert getattr(fastdl.activations, name).op.has_kernel


def forward(mod, name, x, **kw):
    if name == "leaky_relu":
        return mod.leaky_relu(x, 0.1, **kw)
    return getattr(mod, name)(x, **kw)


def backward(mod, name, dy, s):
    if name == "leaky_relu":
        return mod.leaky_relu_backward(dy, s, 0.1)
    return getattr(mod, name + "_backward")(dy, s)


@pytest.mark.parametrize("name", FORWARD)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(0,), (1,), (17,), (3, 5, 7), (1001, 67)])
def test_matches_reference(name, dtype, shape, rng):
    x = rng.uniform(-30, 30, size=shape).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    y = forward(fastdl, name, x)
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_allclose(y, forward(ref, name, x), **ELEMENTWISE_TOL[np.dtype(dtype)])
    s = y if name in ("sigmoid", "tanh") else x
    np.testing.assert_allclose(backward(fastdl, name, dy, s), backward(ref, name, dy, s),
                               **ELEMENTWISE_TOL[np.dtype(dtype)])


def _ulp_error(got, exact64, dtype):
    """|got - exact| in units of the last place of the exact value rounded to ``dtype``."""
    spacing = np.spacing(np.abs(exact64).astype(dtype)).astype(np.float64)
    err = np.abs(got.astype(np.float64) - exact64) / spacing
    err[got.astype(np.float64) == exact64] = 0
    return err


def _sigmoid64(x):
    x = x.astype(np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# Interval edges of the AVX-512 tanh table (half-octaves from 2^-12), the values where
# float32 tanh / sigmoid saturate, and the non-finite and extreme values.
EXTREMES = np.array([0.0, 1e-45, 1e-38, 1.17549435e-38, 2.0 ** -12, 1.5 * 2.0 ** -12, 0.55,
                     0.5, 0.75, 1.0, 1.5, 8.0, 9.0, 9.0109, 9.011, 10.0, 12.0, 16.0, 17.0,
                     87.0, 88.7, 89.0, 100.0, 103.9, 104.0, 110.0, 1e4, 3.4028235e38,
                     np.inf], np.float32)

# Measured max errors against float64 libm, exhaustively over every float32 (2026-11-27;
# tanh on [0, 11], odd by construction and exactly 1 above; sigmoid on [-110, 110], exactly
# 0 / 1 beyond): tanh generic 3.26 ulp (at 0.0307), avx2 1.51 (at 1.271), avx512 0.95 (at
# 0.4385); sigmoid generic 2.40 (at -4.157), avx2 and avx512 1.48 (at -4.846). exp over
# every 97th float: 0.96 / 1.00.
TANH_ULP = {"generic": 3.5, "avx2": 2.0, "avx512": 1.5}
SIGMOID_ULP = {"generic": 3.0, "avx2": 2.0, "avx512": 2.0}


def test_float32_accuracy_dense_sweep(isa):
    """Every 1021st float32 of the finite range, both signs, plus the edges above, against
    float64 libm."""
    x = np.arange(0, 0x7f800000, 1021, dtype=np.uint32).view(np.float32)
    x = np.concatenate([x, EXTREMES, np.nextafter(EXTREMES, np.float32(0))])
    x = np.concatenate([x, -x])
    assert _ulp_error(fastdl.sigmoid(x), _sigmoid64(x), np.float32).max() <= SIGMOID_ULP[isa]
    assert (_ulp_error(fastdl.tanh(x), np.tanh(x.astype(np.float64)), np.float32).max()
            <= TANH_ULP[isa])


def test_float32_accuracy_denser_where_branches_meet(isa):
    """Every 997th float32 in [2^-14, 2^-5) and every 101st in [0.25, 12): the small-|x|
    and saturation ends of the tanh tables and of the portable branches."""
    lo = np.arange(np.float32(2.0 ** -14).view(np.uint32), np.float32(2.0 ** -5).view(np.uint32),
                   997, dtype=np.uint32)
    hi = np.arange(np.float32(0.25).view(np.uint32), np.float32(12.0).view(np.uint32), 101,
                   dtype=np.uint32)
    x = np.concatenate([lo, hi]).view(np.float32)
    x = np.concatenate([x, -x])
    assert (_ulp_error(fastdl.tanh(x), np.tanh(x.astype(np.float64)), np.float32).max()
            <= TANH_ULP[isa])
    assert _ulp_error(fastdl.sigmoid(x), _sigmoid64(x), np.float32).max() <= SIGMOID_ULP[isa]


@pytest.mark.parametrize("dtype", FLOATS)
def test_nonfinite_and_zeros_like_numpy(dtype, isa):
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 3e38, -3e38],
                 dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            t = fastdl.tanh(x)
            s = fastdl.sigmoid(x)
    with np.errstate(all="ignore"):
        want_t = np.tanh(x)
    np.testing.assert_array_equal(t, want_t)                       # NaN where NumPy's is
    np.testing.assert_array_equal(np.signbit(t[2:]), np.signbit(want_t[2:]))  # tanh(-0) = -0
    np.testing.assert_array_equal(s, [np.nan, np.nan, 1, 0, 0.5, 0.5, 0.5, 0.5, 1, 0])


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_element_result_independent_of_position(name, dtype, isa, rng):
    """Vector body, tail and alignment give an element the same bits."""
    x = rng.uniform(-12, 12, size=1000).astype(dtype)
    full = forward(fastdl, name, x)
    for k in (1, 3, 15, 16, 17, 31, 33):
        np.testing.assert_array_equal(forward(fastdl, name, x[k:]), full[k:])
        np.testing.assert_array_equal(forward(fastdl, name, x[:-k]), full[:-k])


def test_levels_agree(rng):
    """The forced levels agree with each other to the accuracy bounds (not bitwise: the
    AVX-512 kernels use FMA and their own polynomials)."""
    x = rng.uniform(-20, 20, 100_000).astype(np.float32)
    mods = math_modules()
    runs = {}
    try:
        for level in ISAS:
            if all(m.select_isa(level) == level for m in mods):
                runs[level] = (fastdl.tanh(x), fastdl.sigmoid(x),
                               fastdl.softmax_cross_entropy(x.reshape(100, 1000),
                                                            np.arange(100) * 7)[1])
    finally:
        for m in mods:
            m.select_isa("avx512")
    base = runs.pop("generic")
    for level in runs:                  # a forced level really runs other code
        assert not np.array_equal(base[0], runs[level][0])
    for other in runs.values():
        for a, b in zip(base, other):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-37)


def test_float64_accuracy_sweep(rng):
    x = np.concatenate([rng.uniform(-40, 40, 200_000), rng.uniform(-1, 1, 100_000),
                        np.exp(rng.uniform(-700, 0, 10_000))])
    assert _ulp_error(fastdl.sigmoid(x), _sigmoid64(x), np.float64).max() <= 4
    assert _ulp_error(fastdl.tanh(x), np.tanh(x), np.float64).max() <= 4


@pytest.mark.parametrize("name,dtype,lo,hi", [
    ("exp", np.float32, -103.0, 88.7), ("exp", np.float64, -744.0, 709.0),
    ("log", np.float32, -87.0, 88.0), ("log", np.float64, -700.0, 700.0),
    ("log1p", np.float32, -0.999, 20.0), ("log1p", np.float64, -0.999, 20.0)])
def test_math_functions_within_few_ulp(name, dtype, lo, hi, rng, isa):
    kernels = fastdl.activations._kernels
    x = rng.uniform(lo, hi, 300_000)
    if name == "log":
        x = np.exp(x)                                 # log-uniform over the range
    if name == "log1p":
        x = np.concatenate([x, rng.uniform(-1e-4, 1e-4, 10_000)])
    x = x.astype(dtype)
    y = np.empty_like(x)
    kernels.math_function(name, x, y)
    exact = getattr(np, name)(x.astype(np.float64))
    limit = 5 if dtype == np.float32 else 3           # float64: vs libm, itself <= 1 ulp
    assert _ulp_error(y, exact, dtype).max() <= limit


@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_extremes_exact(dtype, isa):
    x = np.array([-100, 100, -1e4, 1e4, -np.inf, np.inf, np.nan], dtype)
    s = fastdl.sigmoid(x)
    assert s[0] == dtype(_sigmoid64(np.array([-100.0]))[0]) and s[0] > 0
    np.testing.assert_array_equal(s[1:6], [1, 0, 1, 0, 1])
    assert np.isnan(s[6])
    t = fastdl.tanh(x)
    np.testing.assert_array_equal(t[:6], [-1, 1, -1, 1, -1, 1])
    assert np.isnan(t[6])
    tiny = np.array([1e-30, -1e-30, 5e-324 if dtype == np.float64 else 1e-45], dtype)
    np.testing.assert_array_equal(fastdl.tanh(tiny), tiny)            # tanh(x) = x


@pytest.mark.parametrize("name", FORWARD)
@pytest.mark.parametrize("dtype", FLOATS)
def test_bit_identical_across_threads(name, dtype, threads, rng, isa):
    x = rng.uniform(-10, 10, size=300_001).astype(dtype)
    dy = rng.standard_normal(x.size).astype(dtype)
    results = []
    for n in (1, 2, 3):
        threads(n)
        y = forward(fastdl, name, x)
        results.append((y, backward(fastdl, name, dy, y if name in ("sigmoid", "tanh") else x)))
    for y, dx in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_array_equal(dx, results[0][1])


@pytest.mark.parametrize("name", FORWARD)
def test_layouts_out_and_aliasing(name, rng):
    base = rng.uniform(-5, 5, size=(40, 30))
    contiguous = forward(fastdl, name, base)     # the kernel on the C-contiguous input
    np.testing.assert_allclose(contiguous, forward(ref, name, base), rtol=1e-12)
    for x, view in ((base[:, ::3], lambda a: a[:, ::3]), (base.T, np.transpose),
                    (base[::-1], lambda a: a[::-1]), (np.asfortranarray(base), lambda a: a)):
        expected = view(contiguous)
        np.testing.assert_array_equal(forward(fastdl, name, x), expected)
        out = np.zeros((x.shape[1], x.shape[0])).T                    # strided out
        assert forward(fastdl, name, x, out=out) is out
        np.testing.assert_array_equal(out, expected)
    ro = base.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(forward(fastdl, name, ro), contiguous)
    inplace = base.copy()
    assert forward(fastdl, name, inplace, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, contiguous)
    # out overlapping x by a shift: the result is computed from the original input
    buf = np.concatenate([base.ravel(), [0.0]])
    forward(fastdl, name, buf[:-1], out=buf[1:])
    np.testing.assert_array_equal(buf[1:], contiguous.ravel())
    assert forward(fastdl, name, np.zeros((0, 3), np.float32)).shape == (0, 3)
