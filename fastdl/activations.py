"""Activations: sigmoid, tanh, ReLU, leaky ReLU (forward from x, backward from y or x).

Today every op runs its reference (:mod:`fastdl.reference.activations`); the native kernels
are the dense-layers issue's work.
"""
from ._dispatch import reference_only
from .reference import activations as _ref

__all__ = list(_ref.__all__)

sigmoid = reference_only(_ref.sigmoid)
tanh = reference_only(_ref.tanh)
relu = reference_only(_ref.relu)
leaky_relu = reference_only(_ref.leaky_relu)
sigmoid_backward = reference_only(_ref.sigmoid_backward)
tanh_backward = reference_only(_ref.tanh_backward)
relu_backward = reference_only(_ref.relu_backward)
leaky_relu_backward = reference_only(_ref.leaky_relu_backward)
