"""YOLO post-processing: grid decoding, score filtering, per-image evaluation with NMS.

Native paths (``fastdl._yolo``): ``yolo_decode`` reads the network output once through its
strides (NCHW is a transposed view, never copied) and writes boxes, confidences and class
probabilities in the same pass; ``yolo_filter_boxes`` / ``yolo_eval`` find each box's best
class without forming the (M, K) score matrix; ``yolo_eval`` runs the compiled NMS of
:mod:`fastdl.boxes` on the candidates.
"""
import numpy as np

from . import boxes as _boxes
from ._config import resolve_n_threads
from ._dispatch import implements, load_extension
from ._validation import as_array, as_float, as_int, check_finite, check_layout, check_shape
from .reference import boxes as _bref
from .reference import yolo as _ref

__all__ = list(_ref.__all__)

_kernels = load_extension("fastdl._yolo")


@implements(_ref.yolo_decode, _kernels)
def yolo_decode(pred, anchors, num_classes, *, layout="NHWC", image_size=None):
    # the reference's checks, in its order
    where = "yolo_decode"
    layout = check_layout(where, layout)
    num_classes = as_int(where, "num_classes", num_classes, min_value=1)
    anchors = as_array(where, "anchors", anchors, dtypes=_ref.ANCHOR_DTYPES, ndim=2,
                       shape_hint="(B, 2)")
    check_shape(where, "anchors", anchors, (anchors.shape[0], 2), "(B, 2)")
    if anchors.shape[0] == 0 or not np.all((anchors > 0) & np.isfinite(anchors)):
        raise ValueError(f"{where}: anchors must hold at least one anchor and only positive "
                         f"finite sizes; got {anchors.tolist()}")
    pred = as_array(where, "pred", pred)
    grid = _ref._grid_view(where, pred, anchors.shape[0], num_classes, layout)
    height, width = ((1.0, 1.0) if image_size is None
                     else _ref._positive_pair(where, "image_size", image_size))
    lead = grid.shape[:4]
    boxes = np.empty(lead + (4,), dtype=pred.dtype)
    confidence = np.empty(lead + (1,), dtype=pred.dtype)
    class_probs = np.empty(lead + (num_classes,), dtype=pred.dtype)
    if grid.size:
        _kernels.decode(grid, np.ascontiguousarray(anchors, dtype=np.float64), width, height,
                        boxes, confidence, class_probs, resolve_n_threads(where, None))
    return boxes, confidence, class_probs


def _best_classes(confidence, probs, threshold):
    """(flat indices, scores, classes, saw NaN) of the boxes whose best score >= threshold."""
    if probs.shape[1] > 1 and probs.strides[1] != probs.itemsize:
        probs = np.ascontiguousarray(probs)
    with np.errstate(over="ignore"):       # NumPy compares in the array's dtype (+-inf)
        threshold = float(probs.dtype.type(threshold))
    probs_nan = bool(probs.size) and bool(np.isnan(probs).any())
    return _kernels.best_classes(confidence, probs, threshold, probs_nan)


@implements(_ref.yolo_filter_boxes, _kernels)
def yolo_filter_boxes(box_confidence, boxes, class_probs, threshold=0.6):
    where = "yolo_filter_boxes"
    threshold = as_float(where, "threshold", threshold)
    confidence, flat_boxes, probs = _ref._filter_inputs(where, box_confidence, boxes,
                                                        class_probs)
    idx, scores, classes, _ = _best_classes(confidence, probs, threshold)
    return scores, flat_boxes[idx], classes


@implements(_ref.yolo_eval, _kernels)
def yolo_eval(boxes, box_confidence, class_probs, *, image_shape=None, max_boxes=10,
              score_threshold=0.6, iou_threshold=0.5, class_agnostic=False):
    where = "yolo_eval"
    iou_threshold, score_threshold, max_boxes = _bref.nms_options(
        where, iou_threshold, score_threshold, max_boxes, max_output_name="max_boxes")
    if not isinstance(class_agnostic, (bool, np.bool_)):
        raise TypeError(f"{where}: class_agnostic must be a bool; "
                        f"got {type(class_agnostic).__name__}")
    confidence, flat_boxes, probs = _ref._filter_inputs(where, box_confidence, boxes,
                                                        class_probs)
    check_finite(where, "boxes", flat_boxes)
    check_finite(where, "box_confidence", confidence)
    idx, scores, classes, saw_nan = _best_classes(confidence, probs, score_threshold)
    if saw_nan:                             # the kernel saw a NaN in class_probs
        check_finite(where, "class_probs", probs)
    kept_boxes = flat_boxes[idx]
    if image_shape is not None:
        height, width = _ref._positive_pair(where, "image_shape", image_shape)
        with np.errstate(over="ignore"):   # beyond the dtype's range is an infinite box
            kept_boxes = kept_boxes * np.array([width, height] * 2, dtype=kept_boxes.dtype)
    keep = _nms(kept_boxes, scores, classes, probs.shape[1], iou_threshold, max_boxes,
                class_agnostic)
    return scores[keep], kept_boxes[keep], classes[keep]


def _nms(boxes, scores, classes, num_classes, iou_threshold, max_boxes, class_agnostic):
    """Kept candidate indices: the compiled (batched) NMS of fastdl.boxes when it is built."""
    kernels = _boxes._kernels
    if kernels is None:
        return _bref.nms_indices(boxes, scores, None if class_agnostic else classes,
                                 iou_threshold, None, max_boxes)
    if boxes.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    if class_agnostic:
        return kernels.nms(boxes, scores, iou_threshold, False, 0.0, max_boxes)
    return kernels.batched_nms(boxes, scores, classes, num_classes, iou_threshold, False, 0.0,
                               max_boxes, 1)
