"""Reference activations: sigmoid, tanh, ReLU, leaky ReLU, forward and backward.

Forward ops take any shape, keep the dtype and accept ``out=`` (``out=x`` works in place).
Backward ops take the upstream gradient ``dy`` and the forward output ``y`` (sigmoid, tanh)
or the forward input ``x`` (relu, leaky_relu). Conventions: ReLU'(0) = 0 and the leaky ReLU
derivative at 0 is ``alpha`` (the derivative of the x <= 0 branch).
"""
import numpy as np

from .._validation import as_array, as_float, check_out, check_same_dtype, check_shape

__all__ = ["sigmoid", "tanh", "relu", "leaky_relu",
           "sigmoid_backward", "tanh_backward", "relu_backward", "leaky_relu_backward"]


def _unary(where, x, out):
    x = as_array(where, "x", x)
    return x, check_out(where, out, x.shape, x.dtype)


def _pair(where, a_name, a, b_name, b):
    a = as_array(where, a_name, a)
    b = as_array(where, b_name, b)
    check_same_dtype(where, a_name, a, **{b_name: b})
    check_shape(where, b_name, b, a.shape, f"(the shape of {a_name})")
    return a, b


def stable_sigmoid(x):
    """σ(x) without overflow: 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) for x < 0."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def sigmoid(x, *, out=None):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow.

    Parameters
    ----------
    x : ndarray of any shape, float32 or float64
    out : ndarray of x's shape and dtype, optional
        Where to write the result; may be ``x`` itself.

    Returns
    -------
    y : ndarray of x's shape and dtype
    """
    x, out = _unary("sigmoid", x, out)
    out[...] = stable_sigmoid(x)
    return out


def tanh(x, *, out=None):
    """Hyperbolic tangent. Shapes as :func:`sigmoid`."""
    x, out = _unary("tanh", x, out)
    np.tanh(x, out=out)
    return out


def relu(x, *, out=None):
    """``max(x, 0)`` (NaN propagates). Shapes as :func:`sigmoid`."""
    x, out = _unary("relu", x, out)
    np.maximum(x, x.dtype.type(0), out=out)
    return out


def leaky_relu(x, alpha=0.01, *, out=None):
    """``x`` where ``x > 0``, ``alpha * x`` elsewhere. Shapes as :func:`sigmoid`.

    Parameters
    ----------
    alpha : float
        Slope for negative inputs (any real number).
    """
    alpha = as_float("leaky_relu", "alpha", alpha)
    x, out = _unary("leaky_relu", x, out)
    out[...] = np.where(x > 0, x, x * x.dtype.type(alpha))
    return out


def sigmoid_backward(dy, y):
    """Gradient through the sigmoid from its output: ``dy * y * (1 - y)``.

    Parameters
    ----------
    dy : ndarray of any shape
        Upstream gradient.
    y : ndarray of dy's shape and dtype
        The forward output ``sigmoid(x)``.
    """
    dy, y = _pair("sigmoid_backward", "dy", dy, "y", y)
    return np.asarray(dy * y * (1 - y))   # a 0-d ndarray (not a scalar) for 0-d inputs


def tanh_backward(dy, y):
    """Gradient through tanh from its output: ``dy * (1 - y**2)``. Shapes as sigmoid_backward."""
    dy, y = _pair("tanh_backward", "dy", dy, "y", y)
    return np.asarray(dy * (1 - y * y))


def relu_backward(dy, x):
    """Gradient through ReLU from its input: ``dy`` where ``x > 0``, else 0 (ReLU'(0) = 0).

    Parameters
    ----------
    dy : ndarray of any shape
    x : ndarray of dy's shape and dtype
        The forward input.
    """
    dy, x = _pair("relu_backward", "dy", dy, "x", x)
    return np.where(x > 0, dy, dy.dtype.type(0))


def leaky_relu_backward(dy, x, alpha=0.01):
    """Gradient through leaky ReLU from its input: ``dy`` where ``x > 0``, ``alpha*dy`` else."""
    alpha = as_float("leaky_relu_backward", "alpha", alpha)
    dy, x = _pair("leaky_relu_backward", "dy", dy, "x", x)
    return np.where(x > 0, dy, dy * dy.dtype.type(alpha))
