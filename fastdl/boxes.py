"""Boxes: format conversion, IoU (element-wise and pairwise), NMS and batched NMS.

Today every op runs its reference (:mod:`fastdl.reference.boxes`); the native kernels are the
detection issue's work.
"""
from ._dispatch import reference_only
from .reference import boxes as _ref

__all__ = list(_ref.__all__)

box_convert = reference_only(_ref.box_convert)
iou = reference_only(_ref.iou)
box_iou = reference_only(_ref.box_iou)
nms = reference_only(_ref.nms)
batched_nms = reference_only(_ref.batched_nms)
