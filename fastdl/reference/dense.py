"""Reference dense (fully connected) layer with an optional fused activation.

Samples are rows: ``x (N, in)``, ``w (out, in)`` (as PyTorch), ``b (out,)``, and the forward
pass is ``y = act(x @ w.T + b)``. The backward pass takes the forward *output* ``y`` to
differentiate the activation, so the pre-activation never has to be kept:

* relu: ``y > 0`` exactly where ``x @ w.T + b > 0`` (ReLU'(0) = 0);
* leaky_relu: the derivative is 1 where ``y > 0`` and ``alpha`` elsewhere, which recovers the
  sign of the pre-activation only when ``alpha >= 0`` (for ``alpha < 0`` a negative input maps
  to a positive output), so :func:`linear_backward` requires ``alpha >= 0`` there;
* sigmoid: ``y (1 - y)``; tanh: ``1 - y**2``.
"""
import numpy as np

from .._config import resolve_n_threads
from .._validation import (as_array, as_float, check_choice, check_need, check_out,
                           check_same_dtype, check_shape)
from . import activations as _act

__all__ = ["linear", "linear_backward"]

ACTIVATIONS = (None, "relu", "sigmoid", "tanh", "leaky_relu")
GRADIENTS = ("dx", "dw", "db")


def _check_activation(where, activation, alpha):
    activation = check_choice(where, "activation", activation, ACTIVATIONS)
    return activation, as_float(where, "alpha", alpha)


def _check_x_w(where, x, w):
    """Validate ``x (N, in)`` and ``w (out, in)``; return them as arrays."""
    x = as_array(where, "x", x, ndim=2, shape_hint="(N, in)")
    w = as_array(where, "w", w, ndim=2, shape_hint="(out, in)")
    check_same_dtype(where, "x", x, w=w)
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"{where}: w must have shape (out, {x.shape[1]}) to match the "
                         f"{x.shape[1]} input features of x; got {w.shape}")
    return x, w


def _activate(z, activation, alpha):
    """Apply ``activation`` to ``z`` in place (the reference activations accept out=z)."""
    if activation == "leaky_relu":
        _act.leaky_relu(z, alpha, out=z)
    elif activation is not None:
        getattr(_act, activation)(z, out=z)
    return z


def _activation_grad(dy, y, activation, alpha):
    """``dL/dz`` from ``dL/dy`` and the forward output ``y`` (see the module docstring)."""
    if activation is None:
        return dy
    if activation == "relu":
        return _act.relu_backward(dy, y)
    if activation == "leaky_relu":
        return _act.leaky_relu_backward(dy, y, alpha)
    return getattr(_act, activation + "_backward")(dy, y)


def linear(x, w, b=None, *, activation=None, alpha=0.01, out=None, n_threads=None):
    """Dense layer ``y = act(x @ w.T + b)``.

    Parameters
    ----------
    x : ndarray of shape (N, in), float32 or float64
        One sample per row.
    w : ndarray of shape (out, in), x's dtype
    b : ndarray of shape (out,), x's dtype, optional
    activation : {None, "relu", "sigmoid", "tanh", "leaky_relu"}
        Activation applied to the affine output (None: identity).
    alpha : float
        Slope of leaky ReLU for negative inputs (ignored by the other activations).
    out : ndarray of shape (N, out), x's dtype, optional
        Where to write ``y``.
    n_threads : int >= 1 or None
        Threads of the native kernel (validated, unused by the reference).

    Returns
    -------
    y : ndarray of shape (N, out), x's dtype
    """
    where = "linear"
    x, w = _check_x_w(where, x, w)
    if b is not None:
        b = as_array(where, "b", b, ndim=1, shape_hint="(out,)")
        check_same_dtype(where, "x", x, b=b)
        check_shape(where, "b", b, (w.shape[0],), "(out,) with out = w.shape[0]")
    activation, alpha = _check_activation(where, activation, alpha)
    out = check_out(where, out, (x.shape[0], w.shape[0]), x.dtype)
    resolve_n_threads(where, n_threads)

    np.matmul(x, w.T, out=out)
    if b is not None:
        out += b
    return _activate(out, activation, alpha)



def _check_backward_args(where, dy, x, w, activation, alpha, y, need):
    """Validate linear_backward's arrays and options (shared with the native path).

    Returns ``(dy, x, w, activation, alpha, y, need)``; ``y`` is required (and checked) only
    with an activation, and leaky ReLU then needs ``alpha >= 0`` (the sign of the input is
    read back from ``y``).
    """
    x, w = _check_x_w(where, x, w)
    out_shape = (x.shape[0], w.shape[0])
    dy = as_array(where, "dy", dy, ndim=2, shape_hint="(N, out)")
    check_same_dtype(where, "x", x, dy=dy)
    check_shape(where, "dy", dy, out_shape, "(N, out)")
    activation, alpha = _check_activation(where, activation, alpha)
    if activation == "leaky_relu":
        alpha = as_float(where, "alpha", alpha, low=0)
    if activation is not None:
        if y is None:
            raise ValueError(f"{where}: y (the forward output) is required with "
                             f"activation={activation!r}; got None")
        y = as_array(where, "y", y, ndim=2, shape_hint="(N, out)")
        check_same_dtype(where, "x", x, y=y)
        check_shape(where, "y", y, out_shape, "(N, out)")
    return dy, x, w, activation, alpha, y, check_need(where, need, GRADIENTS)

def linear_backward(dy, x, w, *, activation=None, alpha=0.01, y=None,
                    need=("dx", "dw", "db"), n_threads=None):
    """Gradients of a dense layer ``y = act(x @ w.T + b)``.

    Parameters
    ----------
    dy : ndarray of shape (N, out), x's dtype
        Gradient of the loss with respect to the layer output ``y``.
    x : ndarray of shape (N, in), float32 or float64
        The forward input.
    w : ndarray of shape (out, in), x's dtype
    activation : {None, "relu", "sigmoid", "tanh", "leaky_relu"}
        The forward activation.
    alpha : float
        Leaky ReLU slope; must be >= 0 with ``activation="leaky_relu"``, since the derivative
        is read from the output (1 where ``y > 0``, ``alpha`` elsewhere).
    y : ndarray of shape (N, out), x's dtype
        The forward output; required with an activation (ValueError otherwise), ignored
        without one.
    need : iterable of {"dx", "dw", "db"}
        The gradients to compute; the others are returned as None.
    n_threads : int >= 1 or None
        Threads of the native kernel (validated, unused by the reference).

    Returns
    -------
    dx : ndarray of shape (N, in) or None
    dw : ndarray of shape (out, in) or None
    db : ndarray of shape (out,) or None
        All of x's dtype.
    """
    where = "linear_backward"
    dy, x, w, activation, alpha, y, need = _check_backward_args(where, dy, x, w, activation,
                                                               alpha, y, need)
    resolve_n_threads(where, n_threads)

    dz = _activation_grad(dy, y, activation, alpha)
    dx = dz @ w if "dx" in need else None
    dw = dz.T @ x if "dw" in need else None
    # float64 accumulation keeps the batch sum of a float32 gradient accurate.
    db = dz.sum(axis=0, dtype=np.float64).astype(x.dtype) if "db" in need else None
    return dx, dw, db
