"""The pure-NumPy reference of every fastdl op: the test oracle and the fallback.

Same names, signatures and semantics as :mod:`fastdl`; plain, numerically stable NumPy,
written for clarity. One module per op family. The submodule-only parts of the API
(``optim`` classes, ``schedules``, ``init``, ``tuning``) are reached as in :mod:`fastdl`:
``fastdl.reference.optim.Adam``, ``fastdl.schedules`` (pure Python, shared).
"""
from .activations import *  # noqa: F401,F403
from .augment import *  # noqa: F401,F403
from .boxes import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .data import *  # noqa: F401,F403
from .dense import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .gradcheck import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .yolo import *  # noqa: F401,F403
from . import optim  # noqa: F401  (classes: fastdl.reference.optim.Adam, ...)

import importlib as _importlib  # noqa: E402

FAMILIES = ("activations", "augment", "boxes", "conv", "data", "dense", "dropout",
            "gradcheck", "losses", "norm", "optim", "pool", "yolo")

# Family modules by import path: a star-import can shadow a module's name with a function
# of the same name (``dropout``).
__all__ = [name for fam in FAMILIES
           for name in _importlib.import_module(f"{__name__}.{fam}").__all__]
