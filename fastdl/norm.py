"""Batch normalization: training forward (batch statistics, running-statistics update),
inference forward and the training-mode backward.

Today every op runs its reference (:mod:`fastdl.reference.norm`); the native kernels are the
batch-norm issue's work.
"""
from ._dispatch import reference_only
from .reference import norm as _ref

__all__ = list(_ref.__all__)

batch_norm = reference_only(_ref.batch_norm)
batch_norm_backward = reference_only(_ref.batch_norm_backward)
