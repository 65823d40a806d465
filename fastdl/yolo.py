"""YOLO post-processing: grid decoding, score filtering, per-image evaluation with NMS.

Today every op runs its reference (:mod:`fastdl.reference.yolo`); the native kernels are the
detection issue's work.
"""
from ._dispatch import reference_only
from .reference import yolo as _ref

__all__ = list(_ref.__all__)

yolo_decode = reference_only(_ref.yolo_decode)
yolo_filter_boxes = reference_only(_ref.yolo_filter_boxes)
yolo_eval = reference_only(_ref.yolo_eval)
