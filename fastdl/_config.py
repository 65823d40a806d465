"""Runtime configuration: the backend switch and the thread count.

The backend is ``"native"`` (compiled kernels where an op has one) or ``"numpy"`` (always the
reference in :mod:`fastdl.reference`). It starts from the environment variable
``FASTDL_BACKEND`` (default ``"native"``); :func:`set_backend` changes it for the process and
:func:`backend` overrides it inside a ``with`` block (per thread / per context).

The thread count is never cached: ``n_threads=None`` resolves at every call from
``omp_get_max_threads()``, so ``OMP_NUM_THREADS``, :func:`set_num_threads` and
``threadpoolctl.threadpool_limits(..., user_api="openmp")`` all take effect.
"""
import contextlib
import contextvars
import numbers
import os
import warnings

BACKENDS = ("native", "numpy")

_override = contextvars.ContextVar("fastdl_backend", default=None)


def _check_backend(name, where):
    if not isinstance(name, str):
        raise TypeError(f"{where}: backend must be one of {BACKENDS}; got {type(name).__name__}")
    if name not in BACKENDS:
        raise ValueError(f"{where}: backend must be one of {BACKENDS}; got {name!r}")
    return name


def _backend_from_env():
    name = os.environ.get("FASTDL_BACKEND", "native").strip().lower() or "native"
    if name not in BACKENDS:
        warnings.warn(f"fastdl: ignoring FASTDL_BACKEND={name!r} (expected one of {BACKENDS})",
                      RuntimeWarning, stacklevel=2)
        return "native"
    return name


_default = _backend_from_env()


def get_backend():
    """Return the active backend name, ``"native"`` or ``"numpy"``."""
    return _override.get() or _default


def set_backend(name):
    """Select the backend for the whole process.

    Parameters
    ----------
    name : {"native", "numpy"}
        ``"native"`` runs the compiled kernel of every op that has one (the reference
        otherwise); ``"numpy"`` runs the pure-NumPy reference for every op.
    """
    global _default
    _default = _check_backend(name, "set_backend")


@contextlib.contextmanager
def backend(name):
    """Context manager running the enclosed code on backend ``name``.

    Examples
    --------
    >>> import fastdl
    >>> with fastdl.backend("numpy"):
    ...     pass
    """
    token = _override.set(_check_backend(name, "backend"))
    try:
        yield
    finally:
        _override.reset(token)


# --- threads -----------------------------------------------------------------------------

def _threads_module():
    from ._dispatch import load_extension
    return load_extension("fastdl._threads")


def get_num_threads():
    """Threads a kernel uses when called with ``n_threads=None`` (``omp_get_max_threads()``)."""
    mod = _threads_module()
    if mod is None:
        return 1
    return mod.max_threads()


# OpenMP's num_threads clause and omp_set_num_threads take a C int.
MAX_THREADS = 2**31 - 1


def _check_thread_count(where, name, n):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{where}: {name} must be a positive int or None; got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{where}: {name} must be >= 1 or None; got {n}")
    if n > MAX_THREADS:
        raise ValueError(f"{where}: {name} must be <= {MAX_THREADS} (a C int) or None; got {n}")
    return int(n)


def set_num_threads(n):
    """Set the default number of threads of the kernels (``omp_set_num_threads``).

    Parameters
    ----------
    n : int
        At least 1.
    """
    n = _check_thread_count("set_num_threads", "n", n)
    mod = _threads_module()
    if mod is not None:
        mod.set_max_threads(n)


def resolve_n_threads(where, n_threads):
    """Resolve an op's ``n_threads`` argument at call time.

    ``None`` gives ``omp_get_max_threads()``; an int must be >= 1 (``ValueError`` otherwise,
    ``TypeError`` for a non-integer).
    """
    if n_threads is None:
        return get_num_threads()
    return _check_thread_count(where, "n_threads", n_threads)
