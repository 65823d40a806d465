"""Shared test helpers: the implementations under test, tolerances, an independent
central-difference gradient, seeded generators."""
import numpy as np
import pytest

import fastdl
import fastdl.reference

FLOATS = (np.float32, np.float64)

# Tolerances from DESIGN.md: float32 ~1e-4 relative (GEMM-based ops), float64 ~1e-10.
TOL = {np.dtype(np.float32): dict(rtol=1e-4, atol=1e-5),
       np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}


def tol(dtype):
    """assert_allclose keyword arguments for ``dtype``."""
    return TOL[np.dtype(dtype)]


@pytest.fixture(params=["fastdl", "reference"])
def impl(request):
    """The public API (dispatching to kernels) and the pure-NumPy reference: every
    behavioural test runs on both."""
    return fastdl if request.param == "fastdl" else fastdl.reference


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def numeric_grad(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function ``f`` at float64 array ``x``.

    Written here, independently of ``fastdl.numerical_gradient``, so that it can check it.
    """
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f(x)
        flat[i] = old - eps
        fm = f(x)
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def assert_grad(f, x, analytic, rtol=1e-6, atol=1e-8):
    """Assert that ``analytic`` matches the central-difference gradient of ``f`` at ``x``."""
    np.testing.assert_allclose(analytic, numeric_grad(f, x), rtol=rtol, atol=atol)


def assert_error(exc_type, match, fn, *args, **kwargs):
    """Call ``fn`` and assert it raises ``exc_type`` whose message matches ``match``."""
    with pytest.raises(exc_type, match=match):
        fn(*args, **kwargs)


def pytest_report_header(config):
    """Say which fastdl is under test: a source tree without the extension would silently
    test only the reference."""
    from fastdl._dispatch import extension_status
    return [f"fastdl {fastdl.__version__} from {fastdl.__file__}; extensions: {extension_status()}"]


# Vector levels of the float32 exp / tanh / sigmoid kernels (see fastdl/_math_isa.pxi).
ISAS = ["generic", "avx2", "avx512"]


def math_modules():
    """The compiled modules that carry a copy of the float32 math kernels."""
    return [fastdl.activations._kernels, fastdl.losses._kernels, fastdl.dense._kernels]


@pytest.fixture(params=ISAS)
def isa(request):
    """Run a test with the float32 exp/tanh/sigmoid kernels of one vector level forced in
    every module (skipped where the CPU lacks it); the best level is restored afterwards."""
    mods = math_modules()
    got = [m.select_isa(request.param) for m in mods]
    try:
        if got != [request.param] * len(mods):
            pytest.skip(f"this CPU has no {request.param} kernels")
        yield request.param
    finally:
        for m in mods:
            m.select_isa("avx512")


@pytest.fixture
def threads():
    """Set fastdl's default thread count inside a test (the fixture's value is
    ``fastdl.set_num_threads``); restored afterwards."""
    old = fastdl.get_num_threads()
    yield fastdl.set_num_threads
    fastdl.set_num_threads(old)

