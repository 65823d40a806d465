"""Convolution and padding: output size, zero padding, conv2d forward and backward.

Today every op runs its reference (:mod:`fastdl.reference.conv`); the native kernels are the
convolution issue's work.
"""
from ._dispatch import reference_only
from .reference import conv as _ref

__all__ = list(_ref.__all__)

conv_output_size = reference_only(_ref.conv_output_size)
zero_pad = reference_only(_ref.zero_pad)
conv2d = reference_only(_ref.conv2d)
conv2d_backward = reference_only(_ref.conv2d_backward)
