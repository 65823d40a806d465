"""Boxes: format conversion, IoU (element-wise and pairwise), NMS and batched NMS.

Native paths (``fastdl._boxes``): the same validation as the reference (its helpers), then
the compiled kernels, which evaluate the reference's float64 expressions in the same order
(IoU values bit-identical to the reference, NMS keeps the same boxes). Any strides and
read-only inputs are accepted without a copy.
"""
import numpy as np

from ._config import resolve_n_threads
from ._dispatch import implements, load_extension
from ._validation import check_choice, check_shape
from .reference import boxes as _ref

__all__ = list(_ref.__all__)

_kernels = load_extension("fastdl._boxes")

# Class labels spanning at most this many values (or 4 per box) are used as dense ids
# directly; wider ranges are renumbered with np.unique first.
_DENSE_LABEL_RANGE = 1 << 16


@implements(_ref.box_convert, _kernels)
def box_convert(boxes, in_fmt, out_fmt):
    where = "box_convert"
    check_choice(where, "in_fmt", in_fmt, _ref.BOX_FORMATS)
    check_choice(where, "out_fmt", out_fmt, _ref.BOX_FORMATS)
    boxes = _ref.as_boxes(where, "boxes", boxes)
    out = np.empty(boxes.shape, dtype=boxes.dtype)
    _kernels.box_convert(boxes, _kernels.FORMATS[in_fmt], _kernels.FORMATS[out_fmt], out,
                         resolve_n_threads(where, None))
    return out


@implements(_ref.iou, _kernels)
def iou(a, b):
    a, b = _ref._pair_of_boxes("iou", a, b)
    check_shape("iou", "b", b, a.shape, "(the shape of a)")
    out = np.empty(a.shape[0], dtype=a.dtype)
    _kernels.iou(a, b, out, resolve_n_threads("iou", None))
    return out


@implements(_ref.box_iou, _kernels)
def box_iou(a, b):
    a, b = _ref._pair_of_boxes("box_iou", a, b)
    out = np.empty((a.shape[0], b.shape[0]), dtype=a.dtype)
    _kernels.box_iou(a, b, out, resolve_n_threads("box_iou", None))
    return out


def _score_threshold(scores, score_threshold):
    """The threshold as the scores' dtype (NumPy compares a float32 array with a Python float
    in float32), as a float for the kernel; (use, value)."""
    if score_threshold is None:
        return False, 0.0
    with np.errstate(over="ignore"):       # beyond float32's range: +-inf, as NumPy compares
        return True, float(scores.dtype.type(score_threshold))


def _limit(max_output):
    return -1 if max_output is None else max_output


@implements(_ref.nms, _kernels)
def nms(boxes, scores, iou_threshold=0.5, *, score_threshold=None, max_output=None):
    where = "nms"
    boxes = _ref.as_boxes(where, "boxes", boxes)
    scores = _ref._as_scores(where, scores, boxes)
    iou_threshold, score_threshold, max_output = _ref.nms_options(
        where, iou_threshold, score_threshold, max_output)
    if boxes.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    return _kernels.nms(boxes, scores, iou_threshold, *_score_threshold(scores, score_threshold),
                        _limit(max_output))


def _dense_labels(classes):
    """Class labels as dense int64 ids in [0, C) and C (same grouping as the labels)."""
    lo, hi = int(classes.min()), int(classes.max())
    if hi - lo < max(_DENSE_LABEL_RANGE, 4 * classes.size):
        if classes.dtype == np.uint64:          # subtract in uint64: no wrap above 2**63
            dense = (classes - np.uint64(lo)).astype(np.int64)
        else:
            dense = classes.astype(np.int64) - lo
        return dense, hi - lo + 1
    uniq, inverse = np.unique(classes, return_inverse=True)
    return np.ascontiguousarray(inverse.reshape(-1), dtype=np.int64), uniq.size


@implements(_ref.batched_nms, _kernels)
def batched_nms(boxes, scores, classes, iou_threshold=0.5, *, score_threshold=None,
                max_output=None):
    where = "batched_nms"
    boxes = _ref.as_boxes(where, "boxes", boxes)
    scores = _ref._as_scores(where, scores, boxes)
    classes = _ref._as_classes(where, classes, boxes)
    iou_threshold, score_threshold, max_output = _ref.nms_options(
        where, iou_threshold, score_threshold, max_output)
    if boxes.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    labels, n_classes = _dense_labels(classes)
    return _kernels.batched_nms(boxes, scores, labels, n_classes, iou_threshold,
                                *_score_threshold(scores, score_threshold), _limit(max_output),
                                resolve_n_threads(where, None))
