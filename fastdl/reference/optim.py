"""Reference optimizers: SGD, momentum, RMSprop and Adam (AdamW) steps, and their classes.

Every step updates lists of arrays in place and returns None. ``params``, ``grads`` and the
state lists (velocities, squares, first and second moments) hold one array per parameter, of
the parameter's shape and dtype (float32 or float64). Each update is computed in float64 and
stored back in the arrays' own dtype, so float32 state loses nothing but the final rounding.

The classes (:class:`SGD`, :class:`Momentum`, :class:`RMSprop`, :class:`Adam`) own their state
and step count; they live only in the ``optim`` submodules (not in ``__all__``). Each class
drives the step function stored in its ``_step`` attribute: here the reference steps,
in :mod:`fastdl.optim` the dispatched ones (so the classes get the compiled kernels).
"""
import functools

import numpy as np

from .._validation import (as_array, as_float, as_int, check_choice, check_same_dtype,
                           check_shape, check_writeable)

__all__ = ["sgd_step", "momentum_step", "rmsprop_step", "adam_step",
           "initialize_velocity", "initialize_adam"]

# Allowed interval of every real hyperparameter (API.md, "Hyperparameter ranges").
_BETA_RANGE = dict(low=0.0, high=1.0, high_open=True)
_HYPER_RANGES = {
    "lr": dict(low=0.0),
    "beta": _BETA_RANGE,
    "beta1": _BETA_RANGE,
    "beta2": _BETA_RANGE,
    "eps": dict(low=0.0, low_open=True),
    "weight_decay": dict(low=0.0),
}


# --- validation ----------------------------------------------------------------------------

def _check_hyper(where, **values):
    """Validate hyperparameters by name; return them as a dict of floats (and bools)."""
    checked = {}
    for name, value in values.items():
        if name == "decoupled_weight_decay":
            checked[name] = check_choice(where, name, value, (False, True))
        else:
            checked[name] = as_float(where, name, value, **_HYPER_RANGES[name])
    return checked


def _check_list_type(where, name, arrays):
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{where}: {name} must be a list of arrays; got {type(arrays).__name__}")


def _check_params(where, params):
    """Return ``params`` as a list after checking each is a writeable float ndarray."""
    _check_list_type(where, "params", params)
    for i, p in enumerate(params):
        name = f"params[{i}]"
        if not isinstance(p, np.ndarray):
            # A list or scalar would be converted to a temporary and the update lost.
            raise TypeError(f"{where}: {name} must be a NumPy array (it is updated in place); "
                            f"got {type(p).__name__}")
        as_array(where, name, p)
        check_writeable(where, name, p)
    return list(params)


def _check_companions(where, name, arrays, params, *, in_place):
    """Check a list holding one array per parameter (gradients or optimizer state).

    Each array must have its parameter's shape and dtype; ``in_place`` lists (state) must
    moreover be writeable ndarrays. Returns the arrays as a list of ndarrays.
    """
    _check_list_type(where, name, arrays)
    if len(arrays) != len(params):
        raise ValueError(f"{where}: {name} must hold one array per parameter ({len(params)}); "
                         f"got {len(arrays)}")
    checked = []
    for i, (a, p) in enumerate(zip(arrays, params)):
        item = f"{name}[{i}]"
        if in_place and not isinstance(a, np.ndarray):
            raise TypeError(f"{where}: {item} must be a NumPy array (it is updated in place); "
                            f"got {type(a).__name__}")
        a = as_array(where, item, a)
        check_same_dtype(where, f"params[{i}]", p, **{item: a})
        check_shape(where, item, a, p.shape, f"(the shape of params[{i}])")
        if in_place:
            check_writeable(where, item, a)
        checked.append(a)
    return checked


# --- arithmetic ----------------------------------------------------------------------------

def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _store(dst, value):
    """Write the float64 ``value`` into ``dst`` (rounding to its dtype)."""
    dst[...] = value


def _saturating(step):
    """Run ``step`` with overflow giving inf silently. Float32 arrays are updated in float64,
    so only a stored moment beyond float32's range saturates to inf (its correct rounding)
    while the update itself stays exact; for float64 a squared gradient beyond 1e308 makes
    the update 0 instead of NaN."""
    @functools.wraps(step)
    def wrapper(*args, **kwargs):
        with np.errstate(over="ignore"):
            return step(*args, **kwargs)
    return wrapper


def _ema(state, new, beta):
    """Exponential moving average ``beta * state + (1 - beta) * new`` in float64."""
    return beta * _f64(state) + (1.0 - beta) * new


# --- steps ---------------------------------------------------------------------------------

@_saturating
def sgd_step(params, grads, *, lr):
    """Plain gradient descent, in place: ``p -= lr * g``.

    Parameters
    ----------
    params : list of ndarray, float32 or float64, any shapes
        Updated in place (must be writeable).
    grads : list of ndarray
        ``grads[i]`` has the shape and dtype of ``params[i]``.
    lr : float
        Learning rate, >= 0.
    """
    where = "sgd_step"
    hyper = _check_hyper(where, lr=lr)
    params = _check_params(where, params)
    grads = _check_companions(where, "grads", grads, params, in_place=False)
    for p, g in zip(params, grads):
        _store(p, _f64(p) - hyper["lr"] * _f64(g))


@_saturating
def momentum_step(params, grads, velocities, *, lr, beta=0.9):
    """Gradient descent with momentum, in place: ``v = beta v + (1 - beta) g; p -= lr v``.

    Parameters
    ----------
    params : list of ndarray, float32 or float64, any shapes
        Updated in place.
    grads : list of ndarray
        ``grads[i]`` has the shape and dtype of ``params[i]``.
    velocities : list of ndarray
        Exponentially weighted gradients, like ``grads``; updated in place (start from
        :func:`initialize_velocity`).
    lr : float
        Learning rate, >= 0.
    beta : float
        Momentum in [0, 1).
    """
    where = "momentum_step"
    hyper = _check_hyper(where, lr=lr, beta=beta)
    params = _check_params(where, params)
    grads = _check_companions(where, "grads", grads, params, in_place=False)
    velocities = _check_companions(where, "velocities", velocities, params, in_place=True)
    for p, g, v in zip(params, grads, velocities):
        v_new = _ema(v, _f64(g), hyper["beta"])
        _store(v, v_new)
        _store(p, _f64(p) - hyper["lr"] * v_new)


@_saturating
def rmsprop_step(params, grads, squares, *, lr, beta=0.999, eps=1e-8):
    """RMSprop, in place: ``s = beta s + (1 - beta) g**2; p -= lr g / (sqrt(s) + eps)``.

    Parameters
    ----------
    params : list of ndarray, float32 or float64, any shapes
        Updated in place.
    grads : list of ndarray
        ``grads[i]`` has the shape and dtype of ``params[i]``.
    squares : list of ndarray
        Exponentially weighted squared gradients, like ``grads``; updated in place (start
        from :func:`initialize_velocity`).
    lr : float
        Learning rate, >= 0.
    beta : float
        Decay of the squared-gradient average, in [0, 1).
    eps : float
        Added to the root mean square, > 0.
    """
    where = "rmsprop_step"
    hyper = _check_hyper(where, lr=lr, beta=beta, eps=eps)
    params = _check_params(where, params)
    grads = _check_companions(where, "grads", grads, params, in_place=False)
    squares = _check_companions(where, "squares", squares, params, in_place=True)
    for p, g, s in zip(params, grads, squares):
        g = _f64(g)
        s_new = _ema(s, g * g, hyper["beta"])
        _store(s, s_new)
        _store(p, _f64(p) - hyper["lr"] * g / (np.sqrt(s_new) + hyper["eps"]))


@_saturating
def adam_step(params, grads, m, v, *, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
              weight_decay=0.0, decoupled_weight_decay=False):
    """Bias-corrected Adam (or AdamW), in place.

    For each parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p           # unless decoupled_weight_decay (PyTorch Adam)
        p = p * (1 - lr * weight_decay)    # only if decoupled_weight_decay (PyTorch AdamW)
        m = beta1 m + (1 - beta1) g
        v = beta2 v + (1 - beta2) g**2
        p -= lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    Parameters
    ----------
    params : list of ndarray, float32 or float64, any shapes
        Updated in place.
    grads : list of ndarray
        ``grads[i]`` has the shape and dtype of ``params[i]``.
    m, v : list of ndarray
        First and second moment estimates, like ``grads``; updated in place (start from
        :func:`initialize_adam`).
    t : int
        Step number, >= 1 (1 for the first step); sets the bias corrections.
    lr : float
        Learning rate, >= 0.
    beta1, beta2 : float
        Moment decay rates, in [0, 1).
    eps : float
        Added to the root of the corrected second moment, > 0.
    weight_decay : float
        L2 coefficient, >= 0.
    decoupled_weight_decay : bool
        Apply the decay to the parameter directly (AdamW) rather than through the gradient.
    """
    where = "adam_step"
    t = as_int(where, "t", t, min_value=1)
    hyper = _check_hyper(where, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                         weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay)
    params = _check_params(where, params)
    grads = _check_companions(where, "grads", grads, params, in_place=False)
    m = _check_companions(where, "m", m, params, in_place=True)
    v = _check_companions(where, "v", v, params, in_place=True)
    lr, wd = hyper["lr"], hyper["weight_decay"]
    # Python floats are doubles: the corrections keep full precision for any t.
    correction1 = 1.0 - hyper["beta1"] ** t
    correction2 = 1.0 - hyper["beta2"] ** t
    for p, g, m_i, v_i in zip(params, grads, m, v):
        p_new, g = _f64(p), _f64(g)
        if hyper["decoupled_weight_decay"]:
            p_new = p_new * (1.0 - lr * wd)
        elif wd:
            g = g + wd * p_new
        m_new = _ema(m_i, g, hyper["beta1"])
        v_new = _ema(v_i, g * g, hyper["beta2"])
        _store(m_i, m_new)
        _store(v_i, v_new)
        _store(p, p_new - lr * (m_new / correction1)
               / (np.sqrt(v_new / correction2) + hyper["eps"]))


def initialize_velocity(params):
    """Zero state for :func:`momentum_step` (or :func:`rmsprop_step`).

    Parameters
    ----------
    params : list of ndarray, float32 or float64

    Returns
    -------
    velocities : list of ndarray
        New zero arrays with the shapes and dtypes of ``params``.
    """
    return _zero_state("initialize_velocity", params)


def _zero_state(where, params):
    """New zero arrays shaped and typed like ``params`` (validated under ``where``'s name)."""
    _check_list_type(where, "params", params)
    checked = [as_array(where, f"params[{i}]", p) for i, p in enumerate(params)]
    return [np.zeros(p.shape, dtype=p.dtype) for p in checked]


def initialize_adam(params):
    """Zero first and second moments for :func:`adam_step`.

    Parameters
    ----------
    params : list of ndarray, float32 or float64

    Returns
    -------
    m, v : list of ndarray
        Two lists of new zero arrays with the shapes and dtypes of ``params``.
    """
    m = _zero_state("initialize_adam", params)
    return m, [np.zeros_like(a) for a in m]


# --- classes -------------------------------------------------------------------------------

class _Optimizer:
    """An optimizer holding its parameters, per-parameter state and step count.

    Subclasses set ``_step`` (the step function, wrapped in ``staticmethod``), ``_state_names``
    (the step's state-list arguments, in order) and ``_counts_steps`` (the step takes ``t``).
    """

    _step = None
    _state_names = ()
    _counts_steps = False

    def __init__(self, params, **hyper):
        where = type(self).__name__
        self._hyper = _check_hyper(where, **hyper)
        self.params = _check_params(where, params)
        self._state = {name: initialize_velocity(self.params) for name in self._state_names}
        self.step_count = 0

    @property
    def lr(self):
        """The learning rate (>= 0); may be changed between steps."""
        return self._hyper["lr"]

    @lr.setter
    def lr(self, value):
        self._hyper.update(_check_hyper(type(self).__name__, lr=value))

    @property
    def hyperparameters(self):
        """A copy of the hyperparameters (name -> value)."""
        return dict(self._hyper)

    @property
    def state(self):
        """The state lists by name (the live arrays, updated in place by :meth:`step`)."""
        return self._state

    def step(self, grads):
        """Update ``params`` in place from ``grads`` (one array per parameter)."""
        kwargs = dict(self._hyper)
        if self._counts_steps:
            kwargs["t"] = self.step_count + 1
        state = [self._state[name] for name in self._state_names]
        self._step(self.params, grads, *state, **kwargs)
        self.step_count += 1

    def zero_state(self):
        """Reset the state to zeros and the step count to 0 (as freshly constructed)."""
        for arrays in self._state.values():
            for a in arrays:
                a[...] = 0
        self.step_count = 0

    def state_dict(self):
        """Snapshot: ``{"optimizer", "step", "hyperparameters", "state"}`` with array copies."""
        return {"optimizer": type(self).__name__,
                "step": self.step_count,
                "hyperparameters": dict(self._hyper),
                "state": {name: [a.copy() for a in arrays]
                          for name, arrays in self._state.items()}}

    def load_state_dict(self, state_dict):
        """Restore a :meth:`state_dict` snapshot exactly (the arrays are copied in place).

        Everything is validated before anything changes: a mismatching snapshot leaves the
        optimizer as it was.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{where}: state_dict must be a dict; got "
                            f"{type(state_dict).__name__}")
        missing = {"optimizer", "step", "hyperparameters", "state"} - state_dict.keys()
        if missing:
            raise ValueError(f"{where}: state_dict lacks {sorted(missing)}")
        if state_dict["optimizer"] != type(self).__name__:
            raise ValueError(f"{where}: state_dict is from a {state_dict['optimizer']!r} "
                             f"optimizer, not {type(self).__name__!r}")
        step = as_int(where, "step", state_dict["step"], min_value=0)
        hyper = state_dict["hyperparameters"]
        if not isinstance(hyper, dict) or hyper.keys() != self._hyper.keys():
            raise ValueError(f"{where}: hyperparameters must have the keys "
                             f"{sorted(self._hyper)}; got {hyper!r}")
        hyper = _check_hyper(where, **hyper)
        state = state_dict["state"]
        if not isinstance(state, dict) or state.keys() != self._state.keys():
            raise ValueError(f"{where}: state must have the keys {sorted(self._state)}")
        arrays = {name: _check_companions(where, name, state[name], self.params, in_place=False)
                  for name in self._state}
        for name, saved in arrays.items():
            for own, a in zip(self._state[name], saved):
                np.copyto(own, a)
        self._hyper, self.step_count = hyper, step


class SGD(_Optimizer):
    """Gradient descent over a list of parameters (see :func:`sgd_step`).

    Parameters
    ----------
    params : list of ndarray, float32 or float64
        Updated in place by :meth:`step`.
    lr : float
        Learning rate, >= 0 (settable as ``opt.lr``).
    """

    _step = staticmethod(sgd_step)

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)


class Momentum(_Optimizer):
    """Gradient descent with momentum (see :func:`momentum_step`); state ``"velocities"``.

    Parameters
    ----------
    params : list of ndarray, float32 or float64
    lr : float
        Learning rate, >= 0.
    beta : float
        Momentum in [0, 1).
    """

    _step = staticmethod(momentum_step)
    _state_names = ("velocities",)

    def __init__(self, params, lr, beta=0.9):
        super().__init__(params, lr=lr, beta=beta)


class RMSprop(_Optimizer):
    """RMSprop (see :func:`rmsprop_step`); state ``"squares"``.

    Parameters
    ----------
    params : list of ndarray, float32 or float64
    lr : float
        Learning rate, >= 0.
    beta : float
        Decay of the squared-gradient average, in [0, 1).
    eps : float
        > 0.
    """

    _step = staticmethod(rmsprop_step)
    _state_names = ("squares",)

    def __init__(self, params, lr, beta=0.999, eps=1e-8):
        super().__init__(params, lr=lr, beta=beta, eps=eps)


class Adam(_Optimizer):
    """Adam / AdamW (see :func:`adam_step`); state ``"m"``, ``"v"``; ``t`` is counted here.

    Parameters
    ----------
    params : list of ndarray, float32 or float64
    lr : float
        Learning rate, >= 0.
    beta1, beta2 : float
        Moment decay rates, in [0, 1).
    eps : float
        > 0.
    weight_decay : float
        >= 0; coupled (PyTorch ``Adam``) unless ``decoupled_weight_decay`` (``AdamW``).
    decoupled_weight_decay : bool
    """

    _step = staticmethod(adam_step)
    _state_names = ("m", "v")
    _counts_steps = True

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False):
        super().__init__(params, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                         weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay)
