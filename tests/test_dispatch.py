"""The dispatch mechanism, backend selection, the extension fallback and the thread helpers."""
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

import fastdl
from fastdl import _dispatch
from fastdl._config import resolve_n_threads


def run_python(code, env_extra=None):
    import os
    env = dict(os.environ)
    env.update(env_extra or {})
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    return res


@pytest.fixture
def toy_op():
    """A temporary op with a fake native path; removed from the registry afterwards."""
    calls = []

    def fastdl_toy_op(x, *, scale=2.0):
        """Reference: multiply by scale."""
        calls.append("reference")
        return x * scale

    fake_ext = types.ModuleType("fake_ext")

    @_dispatch.implements(fastdl_toy_op, fake_ext)
    def toy(x, *, scale=2.0):
        calls.append("native")
        return x * scale

    yield toy, calls
    del _dispatch.REGISTRY["fastdl_toy_op"]


def test_native_backend_runs_kernel_numpy_backend_runs_reference(toy_op):
    toy, calls = toy_op
    assert toy.__name__ == "fastdl_toy_op" and "Reference" in toy.__doc__
    assert toy(3.0) == 6.0 and calls == ["native"]
    with fastdl.backend("numpy"):
        assert fastdl.get_backend() == "numpy"
        assert toy(3.0, scale=3.0) == 9.0
    assert calls == ["native", "reference"]
    assert fastdl.get_backend() == "native"
    fastdl.set_backend("numpy")
    try:
        toy(1.0)
        assert calls[-1] == "reference"
    finally:
        fastdl.set_backend("native")
    toy(1.0)
    assert calls[-1] == "native"
    assert _dispatch.REGISTRY["fastdl_toy_op"].has_kernel


def test_missing_extension_falls_back_to_reference():
    def fastdl_toy_missing(x):
        """Reference."""
        return x + 1

    op = _dispatch.implements(fastdl_toy_missing, None)(lambda x: pytest.fail("native ran"))
    try:
        assert op(1) == 2
        assert not _dispatch.REGISTRY["fastdl_toy_missing"].has_kernel
    finally:
        del _dispatch.REGISTRY["fastdl_toy_missing"]


def test_native_signature_must_match_reference():
    def fastdl_toy_sig(x, *, a=1):
        """Reference."""

    with pytest.raises(TypeError, match="differs from its reference"):
        _dispatch.implements(fastdl_toy_sig, types.ModuleType("m"))(lambda x, *, a=2: None)
    assert "fastdl_toy_sig" not in _dispatch.REGISTRY


def test_backend_arguments_are_checked():
    with pytest.raises(ValueError, match=r"set_backend: backend must be one of \('native', 'numpy'\); got 'cuda'"):
        fastdl.set_backend("cuda")
    with pytest.raises(TypeError, match="set_backend: backend must be one of"):
        fastdl.set_backend(1)
    with pytest.raises(ValueError, match="backend: backend must be one of"):
        with fastdl.backend("fast"):
            pass
    assert fastdl.get_backend() == "native"


def test_backend_context_restores_on_error():
    with pytest.raises(RuntimeError):
        with fastdl.backend("numpy"):
            raise RuntimeError
    assert fastdl.get_backend() == "native"


def test_backend_from_environment():
    res = run_python("import fastdl; print(fastdl.get_backend())", {"FASTDL_BACKEND": "numpy"})
    assert res.stdout.strip() == "numpy"


def test_absent_extension_warns_once_and_runs_reference():
    res = run_python("""
        import sys, warnings
        sys.modules["fastdl._threads"] = None       # simulate a build without the extension
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            import fastdl, numpy as np
            y = fastdl.sigmoid(np.zeros(3))
            fastdl.get_num_threads(); fastdl.set_num_threads(2)
        msgs = [str(x.message) for x in w if "could not be imported" in str(x.message)]
        assert len(msgs) == 1, msgs
        assert np.all(y == 0.5)
        assert fastdl.get_num_threads() == 1
        import io; buf = io.StringIO(); fastdl.show_config(buf)
        assert "missing (reference only)" in buf.getvalue(), buf.getvalue()
        print("ok")
    """)
    assert res.stdout.strip().endswith("ok")


def test_thread_helpers():
    n0 = fastdl.get_num_threads()
    assert n0 >= 1
    try:
        fastdl.set_num_threads(1)
        assert fastdl.get_num_threads() == 1
        assert resolve_n_threads("op", None) == 1
    finally:
        fastdl.set_num_threads(n0)
    assert resolve_n_threads("op", 3) == 3
    for bad, exc in [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError),
                     ("2", TypeError)]:
        with pytest.raises(exc, match="op: n_threads must be"):
            resolve_n_threads("op", bad)
        with pytest.raises(exc, match="set_num_threads: n must be"):
            fastdl.set_num_threads(bad)
    assert resolve_n_threads("op", np.int64(2)) == 2


def test_omp_num_threads_is_honoured():
    res = run_python("import fastdl; print(fastdl.get_num_threads())", {"OMP_NUM_THREADS": "1"})
    assert res.stdout.strip() == "1"


def test_threadpoolctl_limits_are_honoured():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not fastdl._dispatch.load_extension("fastdl._threads").openmp_enabled():
        pytest.skip("serial build")
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fastdl.get_num_threads() == 1


def test_show_config_and_info_command(capsys):
    fastdl.show_config()
    out = capsys.readouterr().out
    for key in ("fastdl", "numpy", "openmp", "num_threads", "cpu_features", "backend"):
        assert key in out
    res = run_python("import runpy, sys; sys.argv = ['fastdl', 'info']; "
                     "runpy.run_module('fastdl', run_name='__main__')")
    assert "openmp" in res.stdout and fastdl.__version__ in res.stdout


def test_compiled_core_is_loaded():
    """The suite must test the built package: fail loudly when the extension is missing
    (e.g. `python -m pytest` from a source tree that was never built in place) unless the
    reference-only run is deliberate."""
    import os
    if os.environ.get("FASTDL_ALLOW_REFERENCE_ONLY") == "1":
        pytest.skip("reference-only run requested")
    assert _dispatch.load_extension("fastdl._threads") is not None, (
        "fastdl's compiled extension is not importable: install with `pip install .[test]` "
        "and run plain `pytest` (or build in place: python setup.py build_ext --inplace)")


def test_source_checkout_hands_over_to_the_installed_build(tmp_path):
    """`python -m fastdl ...` from a checkout whose extensions were never built in place
    (the working directory comes first on sys.path) uses the compiled fastdl importable from
    elsewhere — here the one under test — instead of warning and running the reference."""
    import os
    import shutil
    if _dispatch.load_extension("fastdl._threads") is None:
        pytest.skip("no compiled build to hand over to")
    installed = os.path.dirname(os.path.dirname(os.path.abspath(fastdl.__file__)))
    checkout = tmp_path / "checkout"
    shutil.copytree(os.path.dirname(fastdl.__file__), checkout / "fastdl",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "*.c"))
    env = dict(os.environ, PYTHONPATH=installed)
    code = ("import fastdl, fastdl.conv as c; "
            "print(fastdl.__file__); print(c.conv2d.op.has_kernel)")
    res = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code],
                         cwd=checkout, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    where, kernel = res.stdout.split()
    assert os.path.dirname(os.path.dirname(where)) == installed and kernel == "True"


def test_openmp_wait_policy_defaults_to_passive_unless_set():
    import os
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    code = "import os, fastdl; print(os.environ.get('OMP_WAIT_POLICY'))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.stdout.strip() == "PASSIVE", res.stderr
    res = run_python(code, {"OMP_WAIT_POLICY": "ACTIVE"})
    assert res.stdout.strip() == "ACTIVE"
