"""Optimizers: fused in-place SGD, momentum, RMSprop and Adam steps, and the optimizer classes.

Each step is one compiled pass over memory per element (Adam reads p, g, m, v and writes
p, m, v once: 28 bytes per float32 parameter), over the whole parameter list in one parallel
region, split into fixed slices across arrays (:mod:`fastdl._optim`). Tuples the kernel cannot
take (non-contiguous or partially overlapping arrays) are updated in place by the reference,
so a parameter view is never silently replaced by a copy. The thread count is
``fastdl.get_num_threads()`` at call time; the result does not depend on it (no reductions).

The classes are the reference classes re-bound to the dispatched steps below; they are reached
as ``fastdl.optim.Adam`` (not flat exports).
"""
import math

from ._config import get_num_threads
from ._dispatch import implements, load_extension, reference_only
from ._validation import as_int
from .reference import optim as _ref

__all__ = list(_ref.__all__)

_kernels = load_extension("fastdl._optim")


def _fused(kind, where, lists, names, kernel_hyper, reference_step, step_kwargs):
    """Run update ``kind`` in place on ``lists`` = [params, grads, *state] (named ``names``).

    Hyperparameters are validated by the caller. Fast path: the kernel checks every tuple
    and, if all are eligible, updates the whole list at once. Otherwise the lists are
    validated with the reference's checks (the documented errors, raised before anything
    changes) and split: eligible tuples through the kernel, the rest through the reference
    step, which updates non-contiguous views in place.
    """
    n_threads = get_num_threads()
    if all(type(arrays) is list for arrays in lists):
        state = lists[2:] + [[]] * (4 - len(lists))
        if _kernels.fused_step(kind, lists[0], lists[1], state[0], state[1], kernel_hyper,
                               n_threads):
            return
    params = _ref._check_params(where, lists[0])
    checked = [params] + [_ref._check_companions(where, name, arrays, params,
                                                 in_place=(name != "grads"))
                          for name, arrays in zip(names[1:], lists[1:])]
    padded = checked + [[None] * len(params)] * (4 - len(checked))
    fast = [i for i in range(len(params))
            if _kernels.tuple_eligible(kind, *(arrays[i] for arrays in padded))]
    slow = [i for i in range(len(params)) if i not in set(fast)]
    if fast:
        sub = [[arrays[i] for i in fast] for arrays in padded[:len(checked)]]
        sub += [[]] * (4 - len(sub))
        _kernels.fused_step(kind, *sub, kernel_hyper, n_threads)
    if slow:
        reference_step(*[[arrays[i] for i in slow] for arrays in checked], **step_kwargs)


@implements(_ref.sgd_step, _kernels)
def sgd_step(params, grads, *, lr):
    hyper = _ref._check_hyper("sgd_step", lr=lr)
    _fused("sgd", "sgd_step", [params, grads], ("params", "grads"), hyper,
           _ref.sgd_step, hyper)


@implements(_ref.momentum_step, _kernels)
def momentum_step(params, grads, velocities, *, lr, beta=0.9):
    hyper = _ref._check_hyper("momentum_step", lr=lr, beta=beta)
    _fused("momentum", "momentum_step", [params, grads, velocities],
           ("params", "grads", "velocities"), hyper, _ref.momentum_step, hyper)


@implements(_ref.rmsprop_step, _kernels)
def rmsprop_step(params, grads, squares, *, lr, beta=0.999, eps=1e-8):
    hyper = _ref._check_hyper("rmsprop_step", lr=lr, beta=beta, eps=eps)
    _fused("rmsprop", "rmsprop_step", [params, grads, squares],
           ("params", "grads", "squares"), hyper, _ref.rmsprop_step, hyper)


@implements(_ref.adam_step, _kernels)
def adam_step(params, grads, m, v, *, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
              weight_decay=0.0, decoupled_weight_decay=False):
    t = as_int("adam_step", "t", t, min_value=1)
    hyper = _ref._check_hyper("adam_step", lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                              weight_decay=weight_decay,
                              decoupled_weight_decay=decoupled_weight_decay)
    lr, wd = hyper["lr"], hyper["weight_decay"]
    decoupled = hyper["decoupled_weight_decay"]
    # Bias corrections once per call, in double (Python floats).
    kernel_hyper = dict(beta=hyper["beta1"], beta2=hyper["beta2"], eps=hyper["eps"],
                        step_size=lr / (1.0 - hyper["beta1"] ** t),
                        inv_sqrt_bc2=1.0 / math.sqrt(1.0 - hyper["beta2"] ** t),
                        l2=0.0 if decoupled else wd,
                        decay=1.0 - lr * wd if decoupled else 1.0)
    _fused("adam", "adam_step", [params, grads, m, v], ("params", "grads", "m", "v"),
           kernel_hyper, _ref.adam_step, dict(hyper, t=t))


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
