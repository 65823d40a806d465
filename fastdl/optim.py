"""Optimizers: in-place SGD, momentum, RMSprop and Adam steps, and the optimizer classes.

Today every step runs its reference (:mod:`fastdl.reference.optim`); the fused kernels are the
optimizer issue's work. The classes are the reference classes re-bound to the dispatched steps
below, so ``fastdl.optim.Adam`` runs the compiled ``adam_step`` as soon as it exists. They are
reached as ``fastdl.optim.Adam`` (not flat exports).
"""
from ._dispatch import reference_only
from .reference import optim as _ref

__all__ = list(_ref.__all__)

sgd_step = reference_only(_ref.sgd_step)
momentum_step = reference_only(_ref.momentum_step)
rmsprop_step = reference_only(_ref.rmsprop_step)
adam_step = reference_only(_ref.adam_step)
initialize_velocity = reference_only(_ref.initialize_velocity)
initialize_adam = reference_only(_ref.initialize_adam)


def _driving(reference_class, step):
    """``reference_class`` with its step function replaced by the public (dispatched) ``step``."""
    name = reference_class.__name__
    return type(name, (reference_class,), {"_step": staticmethod(step), "__module__": __name__,
                                           "__qualname__": name,
                                           "__doc__": reference_class.__doc__})


SGD = _driving(_ref.SGD, sgd_step)
Momentum = _driving(_ref.Momentum, momentum_step)
RMSprop = _driving(_ref.RMSprop, rmsprop_step)
Adam = _driving(_ref.Adam, adam_step)
