"""fastdl: fast, deterministic CPU kernels for deep learning on NumPy arrays.

Every op has a compiled kernel (Cython + OpenMP, float32 and float64, both image layouts) and
a pure-NumPy reference in :mod:`fastdl.reference` with the same signature; see the README for
the API at a glance and ``python -m fastdl info`` for the build.
"""
import os as _os


def _hand_over_to_installed_build():
    """``python -m fastdl`` run from a source checkout imports the checkout (the working
    directory comes first on ``sys.path``), whose extensions exist only if someone built them
    in place. When they do not, but an installed, compiled fastdl is importable from elsewhere
    on ``sys.path``, the import is handed over to that one — so the README's
    ``pip install ".[demo]" && python -m fastdl demo`` runs the kernels, not the reference.
    Returns True when it did (the rest of this file then runs against the installed package,
    whose module replaces this one in ``sys.modules``)."""
    import glob
    import importlib
    import sys

    def compiled(package_dir):
        return any(glob.glob(_os.path.join(package_dir, "_threads" + ext))
                   for ext in (".*.so", ".*.pyd", ".so", ".pyd"))

    here = _os.path.dirname(_os.path.abspath(__file__))
    if compiled(here):
        return False
    root = _os.path.dirname(here)
    others = [e for e in sys.path if _os.path.abspath(e or _os.getcwd()) != root]
    if not any(compiled(_os.path.join(e or _os.getcwd(), "fastdl")) for e in others):
        return False
    source, saved = sys.modules.pop(__name__), sys.path[:]
    sys.path[:] = others
    try:
        importlib.import_module(__name__)
    except Exception:                     # keep the checkout (it warns and runs the reference)
        sys.modules[__name__] = source
        return False
    finally:
        sys.path[:] = saved
    return True


_hand_over_to_installed_build()

from ._version import __version__  # noqa: E402
from ._config import (backend, get_backend, get_num_threads, set_backend,  # noqa: E402
                      set_num_threads)
from ._dispatch import load_extension as _load_extension  # noqa: E402

# OpenMP's default spin-waiting keeps idle worker threads busy after every parallel region;
# next to another thread pool (NumPy's OpenBLAS inside `linear`, PyTorch) or on a shared
# machine they steal the cores that pool needs, which made two-thread runs here up to several
# times slower. Sleep instead, unless the user chose a policy. (Read by the OpenMP runtime
# when it starts, i.e. when the first compiled module below loads.)
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

# The runtime core; if it (like any compiled module) cannot be imported, fastdl warns once
# and every op runs on the reference.
_load_extension("fastdl._threads")

from .activations import *  # noqa: E402,F401,F403
from .augment import *  # noqa: E402,F401,F403
from .boxes import *  # noqa: E402,F401,F403
from .conv import *  # noqa: E402,F401,F403
from .data import *  # noqa: E402,F401,F403
from .dense import *  # noqa: E402,F401,F403
from .dropout import *  # noqa: E402,F401,F403
from .gradcheck import *  # noqa: E402,F401,F403
from .losses import *  # noqa: E402,F401,F403
from .norm import *  # noqa: E402,F401,F403
from .optim import *  # noqa: E402,F401,F403
from .pool import *  # noqa: E402,F401,F403
from .yolo import *  # noqa: E402,F401,F403

from . import init, optim, reference, schedules, tuning  # noqa: E402,F401
from ._info import show_config  # noqa: E402

__all__ = (["__version__", "backend", "get_backend", "set_backend", "get_num_threads",
            "set_num_threads", "show_config", "init", "optim", "reference", "schedules",
            "tuning"] + list(reference.__all__))
