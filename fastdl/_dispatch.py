"""One dispatch mechanism for every op.

A family module (``fastdl/<family>.py``) declares each public op against its reference:

* ``sigmoid = reference_only(ref.sigmoid)`` — the op has no compiled kernel (yet);
* ``@implements(ref.sigmoid, _kernels)`` on a function with the same signature — that function
  is the native path (validate, allocate, resolve threads, call the kernel in ``_kernels``).

The returned callable runs the native path when the active backend is ``"native"`` and the
compiled module loaded, the reference otherwise. It carries the reference's name, docstring and
signature. :data:`REGISTRY` maps every op name to its :class:`Op` record (``show_config`` and
the tests read it).
"""
import functools
import importlib
import inspect
import warnings

from ._config import get_backend

REGISTRY = {}

_loaded = {}        # module name -> module or None (import failed)
_load_errors = {}   # module name -> error text
_warned = False


def load_extension(name):
    """Import compiled module ``name`` once; on failure warn once and return None."""
    global _warned
    if name in _loaded:
        return _loaded[name]
    try:
        mod = importlib.import_module(name)
    except ImportError as exc:
        mod = None
        _load_errors[name] = f"{type(exc).__name__}: {exc}"
        if not _warned:
            _warned = True
            warnings.warn(
                f"fastdl: the compiled extension {name} could not be imported ({exc}); "
                "fastdl runs on the pure-NumPy reference (slow). Reinstall with a C compiler "
                "(pip install --force-reinstall fastdl) to get the native kernels.",
                RuntimeWarning, stacklevel=3)
    _loaded[name] = mod
    return mod


def extension_status():
    """Dict: compiled module name -> ``"ok"`` or the import error."""
    return {name: ("ok" if mod is not None else _load_errors.get(name, "missing"))
            for name, mod in sorted(_loaded.items())}


class Op:
    """Registry record of one public op."""

    __slots__ = ("name", "reference", "native", "extension")

    def __init__(self, name, reference, native, extension):
        self.name = name
        self.reference = reference
        self.native = native
        self.extension = extension

    @property
    def has_kernel(self):
        """True when a compiled kernel exists and its module imported."""
        return self.native is not None and self.extension is not None

    def __repr__(self):
        kind = "native" if self.has_kernel else "reference"
        return f"Op({self.name!r}, {kind})"


def _register(reference, native, extension):
    name = reference.__name__
    if name in REGISTRY:
        raise RuntimeError(f"fastdl: op {name!r} registered twice")
    entry = Op(name, reference, native, extension)
    REGISTRY[name] = entry

    if entry.has_kernel:
        def op(*args, **kwargs):
            if get_backend() == "native":
                return native(*args, **kwargs)
            return reference(*args, **kwargs)
    else:
        def op(*args, **kwargs):
            return reference(*args, **kwargs)

    functools.update_wrapper(op, reference)
    op.__module__ = "fastdl"
    op.op = entry
    return op


def reference_only(reference):
    """Public op with no compiled kernel: always runs ``reference``."""
    return _register(reference, None, None)


def implements(reference, extension):
    """Decorator: the decorated function is the native path of ``reference``'s op.

    Parameters
    ----------
    reference : callable
        The op's reference in :mod:`fastdl.reference` (same signature as the decorated one).
    extension : module or None
        The compiled module the native path calls, as returned by :func:`load_extension`;
        None (import failed) makes the op run its reference.
    """
    def decorate(native):
        # The native path is a drop-in for the reference: same parameters, kinds, defaults.
        if inspect.signature(native) != inspect.signature(reference):
            raise TypeError(f"fastdl: native {native.__name__}{inspect.signature(native)} "
                            f"differs from its reference {inspect.signature(reference)}")
        return _register(reference, native, extension)
    return decorate
