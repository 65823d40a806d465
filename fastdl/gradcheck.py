"""Gradient checking: two-sided numerical gradients and the relative difference to an
analytic gradient (runs the reference, :mod:`fastdl.reference.gradcheck`)."""
from ._dispatch import reference_only
from .reference import gradcheck as _ref

__all__ = list(_ref.__all__)

numerical_gradient = reference_only(_ref.numerical_gradient)
gradient_check = reference_only(_ref.gradient_check)
