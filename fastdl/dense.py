"""Dense layer: ``linear`` (affine + fused activation) and ``linear_backward``.

Today both ops run their reference (:mod:`fastdl.reference.dense`); the native GEMM kernel is
the dense-layers issue's work.
"""
from ._dispatch import reference_only
from .reference import dense as _ref

__all__ = list(_ref.__all__)

linear = reference_only(_ref.linear)
linear_backward = reference_only(_ref.linear_backward)
