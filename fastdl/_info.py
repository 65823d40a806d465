"""``fastdl.show_config()`` / ``python -m fastdl info``: what this build is and sees."""
import platform
import sys
import sysconfig

import numpy as np

from . import _config
from ._dispatch import REGISTRY, extension_status, load_extension
from ._version import __version__


def config_dict():
    """Return the build and runtime configuration as a dict (see :func:`show_config`)."""
    threads = load_extension("fastdl._threads")
    info = {
        "fastdl": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "compiler": sysconfig.get_config_var("CC") or "unknown",
        "extension": "built" if threads is not None else "missing (reference only)",
        "openmp": bool(threads is not None and threads.openmp_enabled()),
        "openmp_version": threads.openmp_version() if threads is not None else 0,
        "backend": _config.get_backend(),
        "num_threads": _config.get_num_threads(),
        "num_procs": threads.num_procs() if threads is not None else None,
        "cpu_features": threads.cpu_features() if threads is not None else {},
        "native_ops": sorted(n for n, op in REGISTRY.items() if op.has_kernel),
        "reference_ops": sorted(n for n, op in REGISTRY.items() if not op.has_kernel),
        "extensions": extension_status(),
    }
    try:
        from threadpoolctl import threadpool_info
        info["threadpools"] = [
            {k: d.get(k) for k in ("user_api", "internal_api", "num_threads", "version",
                                   "filepath")}
            for d in threadpool_info()]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    return info


def show_config(file=None):
    """Print fastdl's build and runtime configuration.

    Shows the version, Python / NumPy versions, the compiler, whether OpenMP is on (and its
    version), the backend, the thread count, the CPU's SIMD features, which ops run native
    kernels, and the thread pools in the process when threadpoolctl is installed.
    """
    file = sys.stdout if file is None else file
    info = config_dict()
    width = max(len(k) for k in info)
    for key, value in info.items():
        if key in ("native_ops", "reference_ops"):
            value = f"{len(value)}: " + (", ".join(value) if value else "-")
        elif key == "threadpools" and isinstance(value, list):
            value = "; ".join(f"{d['user_api']}/{d['internal_api']} {d['version']} "
                              f"threads={d['num_threads']}" for d in value) or "-"
        elif key == "cpu_features":
            value = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in value.items()) or "-"
        elif key == "openmp":
            value = "on" if value else "off (serial build)"
        print(f"{key:<{width}} : {value}", file=file)
