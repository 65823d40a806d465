"""Reference gradient checking: two-sided numerical gradients and the course's relative
difference ``||g_num - g|| / (||g_num|| + ||g||)``."""
import numpy as np

from .._validation import as_array, as_float, check_shape

__all__ = ["numerical_gradient", "gradient_check"]


def _scalar(where, value):
    """``f``'s result as a Python float (a size-1 array is accepted)."""
    r = np.asarray(value)
    if r.size != 1 or r.dtype.kind not in "biuf":
        raise ValueError(f"{where}: f must return a real scalar; got {type(value).__name__} "
                         f"of shape {r.shape} and dtype {r.dtype}")
    return float(r.reshape(()))


def numerical_gradient(f, x, *, eps=1e-7):
    """Two-sided finite-difference gradient of a scalar function.

    ``g[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``, with the denominator taken as the
    step actually representable in x's dtype (exactly ``2 eps`` in float64 away from rounding).
    ``x`` itself is perturbed in place and called as ``f(x)``, so a closure over ``x`` sees
    the perturbation; every entry is restored bit for bit afterwards, even if ``f`` raises.
    A read-only ``x`` is perturbed in a private copy instead.

    Parameters
    ----------
    f : callable
        ``f(x) -> float`` (a size-1 array is accepted).
    x : ndarray of any shape, float32 or float64
        The point; float64 is strongly recommended (float32 cannot resolve small steps).
    eps : float
        Half the step, > 0.

    Returns
    -------
    grad : ndarray of x's shape and dtype
    """
    where = "numerical_gradient"
    if not callable(f):
        raise TypeError(f"{where}: f must be callable; got {type(f).__name__}")
    x = as_array(where, "x", x)
    eps = as_float(where, "eps", eps, low=0.0, low_open=True)
    point = x if x.flags.writeable else x.copy()
    grad = np.empty(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = point[index]
        try:
            point[index] = original + eps
            upper = point[index]
            f_plus = _scalar(where, f(point))
            point[index] = original - eps
            step = float(upper) - float(point[index])
            f_minus = _scalar(where, f(point))
        finally:
            point[index] = original
        if step == 0.0:
            raise ValueError(f"{where}: eps={eps!r} is below the resolution of x's dtype "
                             f"({x.dtype}) at x{list(index)} = {original!r}")
        grad[index] = (f_plus - f_minus) / step
    return grad.astype(x.dtype, copy=False)


def _norm(a):
    return float(np.sqrt(np.sum(a * a)))


def gradient_check(f, x, analytic_grad, *, eps=1e-7):
    """Relative difference between the numerical and an analytic gradient.

    ``||g_num - g|| / (||g_num|| + ||g||)`` (Euclidean norms over all entries; 0 when both
    gradients are zero, NaN when either holds inf or NaN). Values around 1e-7 or below
    indicate a correct gradient with float64 inputs; above 1e-3 a bug.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : ndarray of any shape, float32 or float64
        The point (restored exactly, see :func:`numerical_gradient`).
    analytic_grad : ndarray of x's shape, float32 or float64
        The gradient to check.
    eps : float
        Half the finite-difference step, > 0.

    Returns
    -------
    difference : float
    """
    where = "gradient_check"
    x = as_array(where, "x", x)
    analytic = as_array(where, "analytic_grad", analytic_grad)
    check_shape(where, "analytic_grad", analytic, x.shape, "(the shape of x)")
    numeric = numerical_gradient(f, x, eps=eps).astype(np.float64)
    analytic = analytic.astype(np.float64)
    # Scale by the largest entry first, so that huge gradients cannot overflow the squares.
    scale = max(np.max(np.abs(numeric), initial=0.0), np.max(np.abs(analytic), initial=0.0))
    if scale == 0.0:
        return 0.0
    if not np.isfinite(scale):
        return float("nan")
    numeric, analytic = numeric / scale, analytic / scale
    return _norm(numeric - analytic) / (_norm(numeric) + _norm(analytic))
