"""Pooling: max, average and global average pooling, forward and backward, NCHW and NHWC.

Today every op runs its reference (:mod:`fastdl.reference.pool`); the native kernels are the
pooling issue's work.
"""
from ._dispatch import reference_only
from .reference import pool as _ref

__all__ = list(_ref.__all__)

max_pool2d = reference_only(_ref.max_pool2d)
max_pool2d_backward = reference_only(_ref.max_pool2d_backward)
avg_pool2d = reference_only(_ref.avg_pool2d)
avg_pool2d_backward = reference_only(_ref.avg_pool2d_backward)
global_avg_pool2d = reference_only(_ref.global_avg_pool2d)
global_avg_pool2d_backward = reference_only(_ref.global_avg_pool2d_backward)
