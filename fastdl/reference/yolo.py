"""Reference YOLO post-processing: decode a YOLOv2 grid, filter by score, NMS.

``yolo_decode`` turns the raw grid output into xyxy boxes, confidences and class
probabilities; ``yolo_filter_boxes`` keeps the boxes whose best class score reaches a
threshold; ``yolo_eval`` chains the filter, the scaling to the image and the NMS for ONE
image (as in the course's ``yolo_eval``): any leading dimensions of its inputs, e.g.
``(Sh, Sw, B)`` or ``(1, Sh, Sw, B)``, are flattened into one list of candidate boxes. For a
batch, call it once per image: ``[yolo_eval(b[i], c[i], p[i]) for i in range(N)]``.
"""
import numpy as np

from .._validation import (FLOAT_DTYPES, as_array, as_float, as_int, check_finite, check_layout,
                           check_same_dtype, check_shape)
from .activations import stable_sigmoid
from .boxes import nms_indices, nms_options, to_xyxy

__all__ = ["yolo_decode", "yolo_filter_boxes", "yolo_eval"]

# Anchors are constants often written as integer lists: any real dtype is accepted.
ANCHOR_DTYPES = FLOAT_DTYPES + tuple(np.dtype(f"{k}int{bits}") for k in ("", "u")
                                     for bits in (8, 16, 32, 64))


# --- helpers -----------------------------------------------------------------------------

def _positive_pair(where, name, value):
    """``(a, b)`` of positive finite reals, as Python floats."""
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise TypeError(f"{where}: {name} must be a pair of positive numbers; got {value!r}")
    return tuple(as_float(where, name, v, low=0.0, low_open=True, high=np.inf, high_open=True)
                 for v in value)


def _stable_softmax(logits):
    """Softmax over the last axis with the max subtracted (no overflow)."""
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _grid_view(where, pred, num_anchors, num_classes, layout):
    """``pred`` as an ``(N, Sh, Sw, B, 5 + K)`` view (a transpose for NCHW, no copy)."""
    depth = 5 + num_classes
    if layout == "NHWC" and pred.ndim == 5:
        check_shape(where, "pred", pred, pred.shape[:3] + (num_anchors, depth),
                    "(N, Sh, Sw, B, 5 + K) for B anchors and K = num_classes")
        return pred
    if pred.ndim != 4:
        hint = ("(N, Sh, Sw, B·(5+K)) or (N, Sh, Sw, B, 5+K) for layout='NHWC'"
                if layout == "NHWC" else "(N, B·(5+K), Sh, Sw) for layout='NCHW'")
        raise ValueError(f"{where}: pred must be a 4-D array {hint}; got shape {pred.shape}")
    channels = pred.shape[3] if layout == "NHWC" else pred.shape[1]
    if channels != num_anchors * depth:
        raise ValueError(f"{where}: pred must have B·(5+K) = {num_anchors}·{depth} = "
                         f"{num_anchors * depth} channels for {num_anchors} anchors and "
                         f"num_classes={num_classes}; got {channels} (shape {pred.shape})")
    if layout == "NCHW":
        n, _, sh, sw = pred.shape
        return pred.reshape(n, num_anchors, depth, sh, sw).transpose(0, 3, 4, 1, 2)
    return pred.reshape(pred.shape[:3] + (num_anchors, depth))


# --- ops ---------------------------------------------------------------------------------

def yolo_decode(pred, anchors, num_classes, *, layout="NHWC", image_size=None):
    """Decode a YOLOv2 grid output into boxes, box confidences and class probabilities.

    For cell ``(row, col)`` and anchor ``b`` with entries ``(tx, ty, tw, th, to, logits…)``::

        cx = (col + σ(tx)) / Sw          w = a_w · exp(tw) / Sw
        cy = (row + σ(ty)) / Sh          h = a_h · exp(th) / Sh
        box = (cx - w/2, cy - h/2, cx + w/2, cy + h/2)     confidence = σ(to)
        class_probs = softmax(logits)

    Parameters
    ----------
    pred : ndarray, float32 or float64
        ``layout="NHWC"``: ``(N, Sh, Sw, B·(5+K))`` viewed as ``(N, Sh, Sw, B, 5+K)``; the
        5-D form ``(N, Sh, Sw, B, 5+K)`` is accepted as well.
        ``layout="NCHW"``: ``(N, B·(5+K), Sh, Sw)``, entry ``j`` of anchor ``b`` in channel
        ``b·(5+K) + j``.
    anchors : array of shape (B, 2), any real dtype (integers accepted)
        Anchor ``(width, height)`` in grid cells, all > 0 and finite.
    num_classes : int >= 1
        ``K``.
    layout : {"NHWC", "NCHW"}
    image_size : (H, W) pair of positive numbers, optional
        Scale the boxes from [0, 1] to pixels, by ``(W, H, W, H)``.

    Returns
    -------
    boxes : ndarray of shape (N, Sh, Sw, B, 4), pred's dtype
        xyxy, normalised to the grid ([0, 1] inside the image) unless ``image_size`` is given.
        A huge ``tw``/``th`` gives an infinite box (no warning).
    box_confidence : ndarray of shape (N, Sh, Sw, B, 1), pred's dtype
    class_probs : ndarray of shape (N, Sh, Sw, B, K), pred's dtype
    """
    where = "yolo_decode"
    layout = check_layout(where, layout)
    num_classes = as_int(where, "num_classes", num_classes, min_value=1)
    anchors = as_array(where, "anchors", anchors, dtypes=ANCHOR_DTYPES, ndim=2,
                       shape_hint="(B, 2)")
    check_shape(where, "anchors", anchors, (anchors.shape[0], 2), "(B, 2)")
    if anchors.shape[0] == 0 or not np.all((anchors > 0) & np.isfinite(anchors)):
        raise ValueError(f"{where}: anchors must hold at least one anchor and only positive "
                         f"finite sizes; got {anchors.tolist()}")
    pred = as_array(where, "pred", pred)
    grid = _grid_view(where, pred, anchors.shape[0], num_classes, layout)
    scale = (1.0, 1.0) if image_size is None else _positive_pair(where, "image_size", image_size)

    t = grid.astype(np.float64)
    _, sh, sw = grid.shape[:3]
    cells = np.stack(np.meshgrid(np.arange(sw), np.arange(sh)), axis=-1)  # (Sh, Sw, 2): col, row
    dims = np.array([sw, sh], dtype=np.float64)
    centres = (cells[:, :, None, :] + stable_sigmoid(t[..., 0:2])) / dims
    with np.errstate(over="ignore"):  # exp(tw) beyond the float range is an infinite box
        sizes = anchors.astype(np.float64) * np.exp(t[..., 2:4]) / dims
    boxes = to_xyxy(np.concatenate([centres, sizes], axis=-1), "cxcywh")
    boxes *= np.array([scale[1], scale[0]] * 2)
    confidence = stable_sigmoid(t[..., 4:5])
    class_probs = _stable_softmax(t[..., 5:])
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf
        return tuple(a.astype(pred.dtype, copy=False) for a in (boxes, confidence, class_probs))


def _filter_inputs(where, box_confidence, boxes, class_probs):
    """Validate the filter's arrays; return them flattened to (M,), (M, 4), (M, K)."""
    boxes = as_array(where, "boxes", boxes)
    if boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"{where}: boxes must have shape (..., 4); got {boxes.shape}")
    leading = boxes.shape[:-1]
    box_confidence = as_array(where, "box_confidence", box_confidence)
    class_probs = as_array(where, "class_probs", class_probs)
    check_same_dtype(where, "boxes", boxes, box_confidence=box_confidence,
                     class_probs=class_probs)
    if box_confidence.shape not in (leading, leading + (1,)):
        raise ValueError(f"{where}: box_confidence must have shape {leading + (1,)} or "
                         f"{leading} (the leading dimensions of boxes); "
                         f"got {box_confidence.shape}")
    if class_probs.shape[:-1] != leading or class_probs.ndim == 0 or class_probs.shape[-1] < 1:
        raise ValueError(f"{where}: class_probs must have shape {leading + ('K',)} with K >= 1 "
                         f"(the leading dimensions of boxes); got {class_probs.shape}")
    m = int(np.prod(leading))
    return (box_confidence.reshape(m), boxes.reshape(m, 4),
            class_probs.reshape(m, class_probs.shape[-1]))


def _best_classes(confidence, boxes, class_probs, threshold):
    """The course's filter on flattened arrays: score, box and class of each kept box."""
    box_scores = confidence[:, None] * class_probs
    classes = np.argmax(box_scores, axis=-1)          # first maximum: lowest index on ties
    scores = box_scores[np.arange(classes.size), classes]
    mask = scores >= threshold
    return scores[mask], boxes[mask], classes[mask].astype(np.int64)


def yolo_filter_boxes(box_confidence, boxes, class_probs, threshold=0.6):
    """Keep the boxes whose best class score reaches ``threshold``.

    ``score = box_confidence × class_probs``; each box takes its best class (lowest class index
    on ties of the score) and is kept when that score is ``>= threshold``.

    Parameters
    ----------
    box_confidence : ndarray of shape (..., 1) or (...), float32 or float64
    boxes : ndarray of shape (..., 4), box_confidence's dtype
    class_probs : ndarray of shape (..., K), box_confidence's dtype
        The leading dimensions ``...`` agree in all three and are flattened in C order.
    threshold : float

    Returns
    -------
    scores : ndarray of shape (M,), boxes' dtype
    boxes : ndarray of shape (M, 4), boxes' dtype
    classes : ndarray of shape (M,), int64
        In the C order of the leading dimensions; a NaN score is never kept.
    """
    where = "yolo_filter_boxes"
    threshold = as_float(where, "threshold", threshold)
    flat = _filter_inputs(where, box_confidence, boxes, class_probs)
    return _best_classes(*flat, threshold)


def yolo_eval(boxes, box_confidence, class_probs, *, image_shape=None, max_boxes=10,
              score_threshold=0.6, iou_threshold=0.5, class_agnostic=False):
    """Detections of ONE image: score filter, scaling to the image, NMS, the best ``max_boxes``.

    Parameters
    ----------
    boxes : ndarray of shape (..., 4), xyxy, float32 or float64
        Decoded boxes of one image, e.g. ``(Sh, Sw, B, 4)`` from :func:`yolo_decode` (or its
        ``(1, Sh, Sw, B, 4)`` batch of one); the leading dimensions are flattened.
    box_confidence : ndarray of shape (..., 1) or (...), boxes' dtype
    class_probs : ndarray of shape (..., K), boxes' dtype
    image_shape : (height, width) pair of positive numbers, optional
        Multiply the xyxy boxes by ``(width, height, width, height)``; None leaves them as is.
    max_boxes : int >= 0
    score_threshold : float
        Keep boxes whose best class score is ``>= score_threshold``.
    iou_threshold : float in [0, 1]
        Suppress IoU strictly above it.
    class_agnostic : bool
        False: NMS within each class; True: NMS over all boxes regardless of class.

    Returns
    -------
    scores : ndarray of shape (D,), boxes' dtype
    boxes : ndarray of shape (D, 4), boxes' dtype, scaled
    classes : ndarray of shape (D,), int64
        ``D <= max_boxes`` detections by decreasing score (ties: earlier box first).

    Raises
    ------
    ValueError
        NaN in any input array, or an argument out of range.
    """
    where = "yolo_eval"
    iou_threshold, score_threshold, max_boxes = nms_options(
        where, iou_threshold, score_threshold, max_boxes, max_output_name="max_boxes")
    if not isinstance(class_agnostic, (bool, np.bool_)):
        raise TypeError(f"{where}: class_agnostic must be a bool; "
                        f"got {type(class_agnostic).__name__}")
    confidence, flat_boxes, probs = _filter_inputs(where, box_confidence, boxes, class_probs)
    for name, arr in (("boxes", flat_boxes), ("box_confidence", confidence),
                      ("class_probs", probs)):
        check_finite(where, name, arr)
    scores, kept_boxes, classes = _best_classes(confidence, flat_boxes, probs, score_threshold)
    if image_shape is not None:
        height, width = _positive_pair(where, "image_shape", image_shape)
        with np.errstate(over="ignore"):  # beyond the dtype's range is an infinite box
            kept_boxes = kept_boxes * np.array([width, height] * 2, dtype=kept_boxes.dtype)
    keep = nms_indices(kept_boxes, scores, None if class_agnostic else classes,
                       iou_threshold, None, max_boxes)
    return scores[keep], kept_boxes[keep], classes[keep]
