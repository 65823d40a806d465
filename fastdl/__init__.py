"""fastdl: fast, deterministic CPU kernels for deep learning on NumPy arrays.

Every op has a compiled kernel (Cython + OpenMP, float32 and float64, both image layouts) and
a pure-NumPy reference in :mod:`fastdl.reference` with the same signature; see the README for
the API at a glance and ``python -m fastdl info`` for the build.
"""
import os as _os

from ._version import __version__
from ._config import backend, get_backend, get_num_threads, set_backend, set_num_threads
from ._dispatch import load_extension as _load_extension

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
