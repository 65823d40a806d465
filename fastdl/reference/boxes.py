"""Reference box ops: format conversion, IoU (element-wise and pairwise), NMS, batched NMS.

Boxes are ``(N, 4)`` float32/float64 arrays in ``xyxy`` order ``(x1, y1, x2, y2)`` unless a
format is named. Conventions fixed here (and followed by the kernels):

* A malformed box (``x2 < x1`` or ``y2 < y1``) has zero area, so its IoU with every box,
  itself included, is 0. IoU is 0 whenever the union is 0 (never ``0 / 0``).
* NaN in boxes or scores raises ``ValueError``.
* Geometry is computed in float64 (no overflow of ``w * h`` for large float32 coordinates)
  and results are cast back to the input dtype.
* NMS visits boxes by decreasing score, ties by lower index (a stable sort on ``-score``),
  and suppresses a box whose IoU with a kept box is strictly greater than the threshold, as
  torchvision does. The test is written without a division, ``inter > threshold * union``,
  so that an IoU exactly at the threshold is never suppressed by a rounding of the quotient.
"""
import numpy as np

from .._validation import (as_array, as_float, as_int, check_choice, check_finite,
                           check_same_dtype, check_shape)

__all__ = ["box_convert", "iou", "box_iou", "nms", "batched_nms"]

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


# --- validation --------------------------------------------------------------------------

def as_boxes(where, name, boxes):
    """Validate an ``(N, 4)`` float box array without NaN and return it (no copy)."""
    boxes = as_array(where, name, boxes, ndim=2, shape_hint="(N, 4)")
    check_shape(where, name, boxes, (boxes.shape[0], 4), "(N, 4)")
    check_finite(where, name, boxes)
    return boxes


def _as_scores(where, scores, boxes):
    scores = as_array(where, "scores", scores, ndim=1, shape_hint="(N,)")
    check_same_dtype(where, "boxes", boxes, scores=scores)
    check_shape(where, "scores", scores, (boxes.shape[0],), "(N,) for boxes of shape (N, 4)")
    check_finite(where, "scores", scores)
    return scores


def _as_classes(where, classes, boxes):
    classes = np.asarray(classes)
    if not np.issubdtype(classes.dtype, np.integer):
        raise TypeError(f"{where}: classes must have an integer dtype; got {classes.dtype}")
    if classes.ndim != 1:
        raise ValueError(f"{where}: classes must be a 1-D array (N,); got shape {classes.shape}")
    check_shape(where, "classes", classes, (boxes.shape[0],), "(N,) for boxes of shape (N, 4)")
    return classes


def nms_options(where, iou_threshold, score_threshold, max_output, max_output_name="max_output"):
    """Validate the NMS hyperparameters; return them as Python numbers (or None)."""
    iou_threshold = as_float(where, "iou_threshold", iou_threshold, low=0.0, high=1.0)
    if score_threshold is not None:
        score_threshold = as_float(where, "score_threshold", score_threshold)
    if max_output is not None:
        max_output = as_int(where, max_output_name, max_output, min_value=0)
    return iou_threshold, score_threshold, max_output


# --- geometry ----------------------------------------------------------------------------

def box_areas(boxes):
    """Areas of xyxy float64 boxes ``(..., 4)``; malformed boxes have area 0."""
    w = np.maximum(boxes[..., 2] - boxes[..., 0], 0.0)
    h = np.maximum(boxes[..., 3] - boxes[..., 1], 0.0)
    return w * h


def _intersections(a, b):
    """Intersection areas of broadcastable xyxy float64 boxes ``a (..., 4)``, ``b (..., 4)``.

    A malformed box has ``x2 - x1 < 0`` so every overlap width with it is clamped to 0.
    """
    w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    return np.maximum(w, 0.0) * np.maximum(h, 0.0)


def _iou64(a, b):
    """IoU of broadcastable float64 boxes; 0 where the union is 0."""
    inter = _intersections(a, b)
    union = box_areas(a) + box_areas(b) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _pair_of_boxes(where, a, b):
    a = as_boxes(where, "a", a)
    b = as_boxes(where, "b", b)
    check_same_dtype(where, "a", a, b=b)
    return a, b


def box_convert(boxes, in_fmt, out_fmt):
    """Convert boxes between the ``"xyxy"``, ``"xywh"`` and ``"cxcywh"`` formats.

    ``xyxy`` is ``(x1, y1, x2, y2)``; ``xywh`` is ``(x1, y1, width, height)``; ``cxcywh`` is
    ``(centre x, centre y, width, height)``.

    Parameters
    ----------
    boxes : ndarray of shape (N, 4), float32 or float64
    in_fmt, out_fmt : {"xyxy", "xywh", "cxcywh"}

    Returns
    -------
    converted : ndarray of shape (N, 4), boxes' dtype
        Always a new array (also when ``in_fmt == out_fmt``).
    """
    where = "box_convert"
    check_choice(where, "in_fmt", in_fmt, BOX_FORMATS)
    check_choice(where, "out_fmt", out_fmt, BOX_FORMATS)
    boxes = as_boxes(where, "boxes", boxes)
    xyxy = to_xyxy(boxes.astype(np.float64), in_fmt)
    return _from_xyxy(xyxy, out_fmt).astype(boxes.dtype, copy=False)


def to_xyxy(boxes, fmt):
    """``(..., 4)`` boxes in ``fmt`` as a new xyxy array of the same dtype."""
    p, q = boxes[..., :2], boxes[..., 2:]
    if fmt == "xywh":
        return np.concatenate([p, p + q], axis=-1)
    if fmt == "cxcywh":
        return np.concatenate([p - q / 2, p + q / 2], axis=-1)
    return boxes.copy()


def _from_xyxy(boxes, fmt):
    p, q = boxes[..., :2], boxes[..., 2:]
    if fmt == "xywh":
        return np.concatenate([p, q - p], axis=-1)
    if fmt == "cxcywh":
        return np.concatenate([(p + q) / 2, q - p], axis=-1)
    return boxes.copy()


def iou(a, b):
    """Element-wise intersection over union of two equally long box lists.

    Parameters
    ----------
    a : ndarray of shape (N, 4), xyxy, float32 or float64
    b : ndarray of shape (N, 4), a's dtype

    Returns
    -------
    iou : ndarray of shape (N,), a's dtype
        ``IoU(a[i], b[i])`` in [0, 1]; 0 for malformed boxes and empty unions.
    """
    a, b = _pair_of_boxes("iou", a, b)
    check_shape("iou", "b", b, a.shape, "(the shape of a)")
    return _iou64(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype, copy=False)


def box_iou(a, b):
    """Pairwise intersection over union.

    Parameters
    ----------
    a : ndarray of shape (N, 4), xyxy, float32 or float64
    b : ndarray of shape (M, 4), xyxy, a's dtype

    Returns
    -------
    iou : ndarray of shape (N, M), a's dtype
        ``iou[i, j] = IoU(a[i], b[j])``; 0 for malformed boxes and empty unions.
    """
    a, b = _pair_of_boxes("box_iou", a, b)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return _iou64(a64[:, None, :], b64[None, :, :]).astype(a.dtype, copy=False)


# --- NMS ---------------------------------------------------------------------------------

def _greedy_nms(boxes, areas, candidates, iou_threshold, limit):
    """Greedy NMS over ``candidates`` (indices already in visiting order).

    Each step keeps the first remaining candidate and drops, in one vectorised pass, the
    remaining ones it overlaps by more than the threshold; the loop runs once per kept box.
    ``boxes`` are float64 xyxy, ``areas`` their areas; at most ``limit`` boxes are kept.
    """
    keep = []
    remaining = candidates
    while remaining.size and (limit is None or len(keep) < limit):
        best, remaining = remaining[0], remaining[1:]
        keep.append(best)
        inter = _intersections(boxes[best], boxes[remaining])
        union = areas[best] + areas[remaining] - inter
        remaining = remaining[~(inter > iou_threshold * union)]
    return np.asarray(keep, dtype=np.int64)


def _visiting_order(scores, score_threshold):
    """Indices by decreasing score, ties by lower index, scores below the threshold left out."""
    order = np.argsort(-scores, kind="stable")
    if score_threshold is not None:
        order = order[scores[order] >= score_threshold]
    return order


def nms_indices(boxes, scores, classes, iou_threshold, score_threshold, max_output):
    """NMS on validated inputs; ``classes=None`` means one class.

    Each class is suppressed on its own, then the kept indices are merged back in the visiting
    order, so the result is ordered by decreasing score, ties by lower index.
    """
    order = _visiting_order(scores, score_threshold)
    boxes64 = boxes.astype(np.float64)
    areas = box_areas(boxes64)
    if classes is None:
        return _greedy_nms(boxes64, areas, order, iou_threshold, max_output)
    order_classes = classes[order]
    rank = np.empty(len(scores), dtype=np.int64)
    rank[order] = np.arange(order.size)
    kept = [_greedy_nms(boxes64, areas, order[order_classes == c], iou_threshold, max_output)
            for c in np.unique(order_classes)]
    kept = np.concatenate(kept) if kept else np.empty(0, dtype=np.int64)
    return kept[np.argsort(rank[kept], kind="stable")][:max_output]


def nms(boxes, scores, iou_threshold=0.5, *, score_threshold=None, max_output=None):
    """Greedy non-maximum suppression.

    Visits boxes by decreasing score (ties: lower index first), keeps a box unless a kept box
    overlaps it with IoU strictly greater than ``iou_threshold`` (as torchvision). Malformed
    boxes (zero area) never suppress and are never suppressed.

    Parameters
    ----------
    boxes : ndarray of shape (N, 4), xyxy, float32 or float64, no NaN
    scores : ndarray of shape (N,), boxes' dtype, no NaN
    iou_threshold : float in [0, 1]
    score_threshold : float, optional
        Only boxes with ``score >= score_threshold`` take part.
    max_output : int >= 0, optional
        Stop after keeping this many boxes.

    Returns
    -------
    keep : ndarray of shape (K,), int64
        Indices into ``boxes``, by decreasing score, ties by lower index.
    """
    where = "nms"
    boxes = as_boxes(where, "boxes", boxes)
    scores = _as_scores(where, scores, boxes)
    options = nms_options(where, iou_threshold, score_threshold, max_output)
    return nms_indices(boxes, scores, None, *options)


def batched_nms(boxes, scores, classes, iou_threshold=0.5, *, score_threshold=None,
                max_output=None):
    """Non-maximum suppression within each class: boxes of different classes never suppress
    each other.

    Parameters
    ----------
    boxes : ndarray of shape (N, 4), xyxy, float32 or float64, no NaN
    scores : ndarray of shape (N,), boxes' dtype, no NaN
    classes : ndarray of shape (N,), any integer dtype
        Class label of each box (any integer values).
    iou_threshold, score_threshold, max_output
        As in :func:`nms`; ``max_output`` bounds the merged result.

    Returns
    -------
    keep : ndarray of shape (K,), int64
        Indices into ``boxes`` kept in any class, by decreasing score, ties by lower index
        (the order rule of :func:`nms`).
    """
    where = "batched_nms"
    boxes = as_boxes(where, "boxes", boxes)
    scores = _as_scores(where, scores, boxes)
    classes = _as_classes(where, classes, boxes)
    options = nms_options(where, iou_threshold, score_threshold, max_output)
    return nms_indices(boxes, scores, classes, *options)
