"""The compiled YOLO kernels: the pipeline recovers known objects planted in a constructed grid
output, decoding is bit-identical for any thread count and close to the reference, the
best-class filter agrees exactly with the reference (negative / zero confidence, infinite and
NaN probabilities), and NaN errors match."""
import math

import numpy as np
import pytest

import fastdl
import fastdl.reference as ref
from conftest import FLOATS, assert_error

ANCHORS = np.array([[1.5, 0.75], [0.5, 2.0], [3.0, 3.0]])
K = 4
DEPTH = 5 + K
SH, SW = 7, 9
IMAGE = (140.0, 270.0)                      # (height, width)


@pytest.mark.parametrize("name", ["yolo_decode", "yolo_filter_boxes", "yolo_eval"])
def test_kernel_is_used(name):
    assert getattr(fastdl, name).op.has_kernel


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


# Planted detections per image: (row, col, anchor, class, tx, ty, tw, th, objectness logit).
OBJECTS = [
    [(1, 2, 0, 3, 2.5, -0.2, 0.1, 0.4, 6.0),
     (1, 3, 0, 3, -2.5, -0.2, 0.1, 0.4, 3.5),     # the next cell sees the same object: suppressed
     (4, 6, 2, 0, -1.0, 0.5, -0.3, 0.2, 5.0),
     (4, 6, 1, 1, -1.0, 0.5, 1.5, -1.1, 4.0)],    # same cell, other class and shape: kept
    [(0, 0, 2, 2, -2.0, -2.0, 0.0, 0.0, 5.5),
     (6, 8, 0, 1, 2.0, 2.0, -0.5, -0.5, 4.5)],
]


def expected_box(row, col, b, tx, ty, tw, th):
    """API.md's formulas, scaled to IMAGE."""
    cx, cy = (col + sig(tx)) / SW, (row + sig(ty)) / SH
    w, h = ANCHORS[b][0] * math.exp(tw) / SW, ANCHORS[b][1] * math.exp(th) / SH
    height, width = IMAGE
    return [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
            (cy + h / 2) * height]


def planted_grid(rng, dtype):
    """NHWC output: background objectness -7 (score < 0.001), planted cells as listed."""
    pred = rng.normal(0, 1, size=(len(OBJECTS), SH, SW, len(ANCHORS), DEPTH))
    pred[..., 4] = -7.0
    for n, objects in enumerate(OBJECTS):
        for row, col, b, cls, tx, ty, tw, th, to in objects:
            logits = np.zeros(K)
            logits[cls] = 12.0
            pred[n, row, col, b] = [tx, ty, tw, th, to, *logits]
    return pred.reshape(len(OBJECTS), SH, SW, -1).astype(dtype)


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_pipeline_recovers_planted_objects(dtype, layout, rng):
    pred = planted_grid(rng, dtype)
    if layout == "NCHW":
        pred = np.ascontiguousarray(pred.transpose(0, 3, 1, 2))
    boxes, conf, probs = fastdl.yolo_decode(pred, ANCHORS, K, layout=layout)
    for n, objects in enumerate(OBJECTS):
        scores, kept, classes = fastdl.yolo_eval(boxes[n], conf[n], probs[n], image_shape=IMAGE,
                                                 max_boxes=10, score_threshold=0.5,
                                                 iou_threshold=0.5)
        # the oracle: every planted object, minus those overlapping a better one of their class
        planted = sorted(objects, key=lambda o: -o[8])
        survivors = []
        for o in planted:
            box = expected_box(o[0], o[1], o[2], *o[4:8])
            if all(s[1] != o[3] or iou(s[0], box) <= 0.5 for s in survivors):
                survivors.append((box, o[3], sig(o[8])))
        assert len(survivors) == (3 if n == 0 else 2)
        assert classes.dtype == np.int64 and classes.tolist() == [s[1] for s in survivors]
        rtol = 1e-5 if dtype == np.float32 else 1e-9
        np.testing.assert_allclose(kept, [s[0] for s in survivors], rtol=rtol, atol=1e-3)
        np.testing.assert_allclose(scores, [s[2] for s in survivors], rtol=1e-4)


@pytest.mark.parametrize("dtype", FLOATS)
def test_decode_thread_invariant_and_close_to_reference(dtype, rng, threads):
    pred = rng.normal(0, 2, size=(4, 13, 11, 3 * (5 + 30))).astype(dtype)
    anchors = np.array([[0.5, 1.0], [2.0, 1.5], [4.0, 4.0]])
    nchw = pred.transpose(0, 3, 1, 2)                        # non-contiguous view
    results = []
    for n in (1, 2, 3):
        fastdl.set_num_threads(n)
        results.append(fastdl.yolo_decode(pred, anchors, 30, image_size=(416, 320)))
        for a, b in zip(fastdl.yolo_decode(nchw, anchors, 30, layout="NCHW",
                                           image_size=(416, 320)), results[-1]):
            np.testing.assert_array_equal(a, b)
    for other in results[1:]:
        for a, b in zip(other, results[0]):
            np.testing.assert_array_equal(a, b)
    expected = ref.yolo_decode(pred, anchors, 30, image_size=(416, 320))
    close = dict(rtol=2e-6, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for a, b in zip(results[0], expected):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **close)


@pytest.mark.parametrize("dtype", FLOATS)
def test_filter_agrees_exactly_with_reference(dtype, rng):
    conf = rng.uniform(-1, 1, size=(40, 1)).astype(dtype)
    conf[::7] = 0.0
    probs = np.round(rng.uniform(0, 1, size=(40, 6)), 1).astype(dtype)   # ties
    probs[3, 2] = np.inf
    probs[5, 4] = -np.inf
    probs[9, 1] = np.nan
    boxes = rng.uniform(0, 10, size=(40, 4)).astype(dtype)
    for thr in (-0.5, 0.0, 0.2, 0.5):
        with np.errstate(invalid="ignore"):
            expected = ref.yolo_filter_boxes(conf, boxes, probs, thr)
        got = fastdl.yolo_filter_boxes(conf, boxes, probs, thr)
        for g, e in zip(got, expected):
            assert g.dtype == e.dtype
            np.testing.assert_array_equal(g, e)
    probs[9, 1] = 0.5                                   # no NaN: the vectorised path
    got = fastdl.yolo_filter_boxes(conf[:, 0], boxes, probs, 0.1)
    for g, e in zip(got, ref.yolo_filter_boxes(conf[:, 0], boxes, probs, 0.1)):
        np.testing.assert_array_equal(g, e)


def test_eval_nan_in_class_probs():
    boxes = np.zeros((2, 3, 4), np.float32)
    conf = np.ones((2, 3, 1), np.float32)
    probs = np.full((2, 3, 5), 0.2, np.float32)
    probs[1, 2, 4] = np.nan
    for impl in (fastdl, ref):
        assert_error(ValueError, "yolo_eval: class_probs must not contain NaN",
                     impl.yolo_eval, boxes, conf, probs)
