"""YOLO post-processing against a per-cell decoding loop written here, hand-checked filter
and evaluation cases, the naive NMS oracle of test_boxes, and bad input."""
import math

import numpy as np
import pytest

from conftest import FLOATS, assert_error
from test_boxes import naive_nms

ANCHORS = np.array([[1.5, 0.75], [0.5, 2.0]])
K = 3
DEPTH = 5 + K


def naive_decode(pred, anchors, num_classes, layout, image_size=None):
    """The API.md formulas evaluated one cell, anchor and entry at a time."""
    depth = 5 + num_classes
    if layout == "NHWC":
        n_img, sh, sw, _ = pred.shape
        def entry(n, r, c, b, j):
            return float(pred[n, r, c, b * depth + j])
    else:
        n_img, _, sh, sw = pred.shape
        def entry(n, r, c, b, j):
            return float(pred[n, b * depth + j, r, c])
    height, width = image_size or (1.0, 1.0)
    nb = len(anchors)
    boxes = np.zeros((n_img, sh, sw, nb, 4))
    conf = np.zeros((n_img, sh, sw, nb, 1))
    probs = np.zeros((n_img, sh, sw, nb, num_classes))
    sig = lambda v: 1.0 / (1.0 + math.exp(-v))  # noqa: E731 (moderate inputs only)
    for n in range(n_img):
        for r in range(sh):
            for c in range(sw):
                for b in range(nb):
                    t = [entry(n, r, c, b, j) for j in range(depth)]
                    cx, cy = (c + sig(t[0])) / sw, (r + sig(t[1])) / sh
                    w = anchors[b][0] * math.exp(t[2]) / sw
                    h = anchors[b][1] * math.exp(t[3]) / sh
                    boxes[n, r, c, b] = [(cx - w / 2) * width, (cy - h / 2) * height,
                                         (cx + w / 2) * width, (cy + h / 2) * height]
                    conf[n, r, c, b, 0] = sig(t[4])
                    e = [math.exp(v) for v in t[5:]]
                    probs[n, r, c, b] = [v / sum(e) for v in e]
    return boxes, conf, probs


def random_pred(rng, layout, dtype, n=2, sh=3, sw=5):
    pred = rng.normal(0, 1.5, size=(n, sh, sw, len(ANCHORS) * DEPTH)).astype(dtype)
    return pred if layout == "NHWC" else np.ascontiguousarray(pred.transpose(0, 3, 1, 2))


def close(dtype):
    return dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)


# --- yolo_decode -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("image_size", [None, (48, 80), (37.5, 20)])
def test_decode_matches_per_cell_loop(impl, dtype, layout, image_size, rng):
    pred = random_pred(rng, layout, dtype)
    got = impl.yolo_decode(pred, ANCHORS, K, layout=layout, image_size=image_size)
    expected = naive_decode(pred, ANCHORS, K, layout, image_size)
    for g, e in zip(got, expected):
        assert g.dtype == dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, **close(dtype))


def test_decode_views_and_five_d_form(impl, rng):
    pred = random_pred(rng, "NHWC", np.float64, n=3)
    expected = naive_decode(pred, ANCHORS, K, "NHWC")
    five_d = pred.reshape(pred.shape[:3] + (2, DEPTH))
    strided = np.asfortranarray(pred)
    strided.flags.writeable = False
    anchors_int = [[2, 1], [1, 3]]
    for arr in (five_d, strided):
        for g, e in zip(impl.yolo_decode(arr, ANCHORS, K), expected):
            np.testing.assert_allclose(g, e, rtol=1e-12)
    nchw = pred.transpose(0, 3, 1, 2)                  # non-contiguous NCHW view
    for g, e in zip(impl.yolo_decode(nchw, anchors_int, K, layout="NCHW"),
                    naive_decode(nchw, anchors_int, K, "NCHW")):
        np.testing.assert_allclose(g, e, rtol=1e-12)
    empty = impl.yolo_decode(np.zeros((0, 3, 5, 2 * DEPTH)), ANCHORS, K)
    assert [a.shape for a in empty] == [(0, 3, 5, 2, 4), (0, 3, 5, 2, 1), (0, 3, 5, 2, K)]


@pytest.mark.parametrize("dtype", FLOATS)
def test_decode_extreme_logits_are_stable(impl, dtype):
    pred = np.zeros((1, 1, 2, 2 * DEPTH), dtype=dtype)
    pred[..., 5:DEPTH] = [1e4, -1e4, 1e4]              # anchor 0: tied huge logits
    pred[..., DEPTH + 4] = -1e4                        # anchor 1: confidence underflows
    pred[..., DEPTH + 2] = 1e4                         # anchor 1: infinite width
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is fine
        boxes, conf, probs = impl.yolo_decode(pred, ANCHORS, K)
    np.testing.assert_array_equal(probs[0, 0, 0, 0], [0.5, 0, 0.5])
    np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-6)
    np.testing.assert_array_equal(conf[0, 0, :, 1, 0], 0)
    assert np.all(np.isneginf(boxes[..., 1, 0])) and np.all(np.isposinf(boxes[..., 1, 2]))
    # cell (0, 1), anchor 0 with t = 0: centre (1.5/2, 0.5/1), size (1.5/2, 0.75/1)
    np.testing.assert_array_equal(boxes[0, 0, 1, 0], [0.375, 0.125, 1.125, 0.875])


# --- yolo_filter_boxes -------------------------------------------------------------------

FILTER_CONF = [[1.0, 0.5], [0.25, 1.0]]
FILTER_PROBS = [[[0.2, 0.5, 0.3], [0.25, 0.25, 0.5]],
                [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]]]
# box scores: 0.5 (class 1), 0.25 (class 2), 0.125 (tie -> class 0), 0.5 (tie -> class 0)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("with_trailing_one", [True, False])
def test_filter_hand_checked(impl, dtype, with_trailing_one):
    conf = np.array(FILTER_CONF, dtype=dtype)
    conf = conf[..., None] if with_trailing_one else conf
    boxes = np.arange(16, dtype=dtype).reshape(2, 2, 4)
    probs = np.array(FILTER_PROBS, dtype=dtype)
    scores, kept, classes = impl.yolo_filter_boxes(conf, boxes, probs, threshold=0.5)
    assert scores.dtype == dtype and kept.dtype == dtype and classes.dtype == np.int64
    np.testing.assert_array_equal(scores, [0.5, 0.5])              # 0.5 >= 0.5 is kept
    np.testing.assert_array_equal(classes, [1, 0])
    np.testing.assert_array_equal(kept, [[0, 1, 2, 3], [12, 13, 14, 15]])
    scores, kept, classes = impl.yolo_filter_boxes(conf, boxes, probs, 0.1)
    np.testing.assert_array_equal(scores, [0.5, 0.25, 0.125, 0.5])
    np.testing.assert_array_equal(classes, [1, 2, 0, 0])
    np.testing.assert_array_equal(kept, boxes.reshape(4, 4))
    scores, kept, classes = impl.yolo_filter_boxes(conf, boxes, probs)  # default 0.6
    assert scores.shape == (0,) and kept.shape == (0, 4) and classes.shape == (0,)


def test_filter_flattens_in_c_order(impl, rng):
    conf = rng.uniform(0, 1, (2, 3, 4, 1))
    boxes = rng.uniform(0, 1, (2, 3, 4, 4))
    probs = rng.dirichlet(np.ones(5), size=(2, 3, 4))
    scores, kept, classes = impl.yolo_filter_boxes(conf, boxes, probs, 0.15)
    expected = []
    for i in range(2):
        for j in range(3):
            for k in range(4):
                s = [conf[i, j, k, 0] * p for p in probs[i, j, k]]
                best = max(range(5), key=lambda c: (s[c], -c))
                if s[best] >= 0.15:
                    expected.append((s[best], boxes[i, j, k], best))
    assert len(expected) > 3
    np.testing.assert_allclose(scores, [e[0] for e in expected], rtol=1e-15)
    np.testing.assert_array_equal(kept, [e[1] for e in expected])
    np.testing.assert_array_equal(classes, [e[2] for e in expected])


# --- yolo_eval ---------------------------------------------------------------------------

EVAL_BOXES = [[0.1, 0.1, 0.3, 0.3],     # class 0, 0.9
              [0.1, 0.1, 0.3, 0.3],     # class 1, 0.8: same box, other class
              [0.11, 0.1, 0.31, 0.3],   # class 0, 0.7: IoU 0.905 with box 0
              [0.6, 0.6, 0.9, 0.9],     # class 1, 0.65
              [0.5, 0.5, 0.6, 0.6]]     # class 0, 0.3: below the score threshold
EVAL_SCORES = [0.9, 0.8, 0.7, 0.65, 0.3]
EVAL_CLASSES = [0, 1, 0, 1, 0]


def eval_inputs(dtype):
    """One image as (1, 5) leading dimensions; one-hot class probabilities."""
    boxes = np.array(EVAL_BOXES, dtype=dtype)[None]
    conf = np.array(EVAL_SCORES, dtype=dtype)[None, :, None]
    probs = np.eye(2, dtype=dtype)[EVAL_CLASSES][None]
    return boxes, conf, probs


@pytest.mark.parametrize("dtype", FLOATS)
def test_eval_hand_checked(impl, dtype):
    boxes, conf, probs = eval_inputs(dtype)
    scores, kept, classes = impl.yolo_eval(boxes, conf, probs, image_shape=(100, 200))
    assert scores.dtype == dtype and kept.dtype == dtype and classes.dtype == np.int64
    np.testing.assert_allclose(scores, [0.9, 0.8, 0.65], rtol=1e-7)
    np.testing.assert_array_equal(classes, [0, 1, 1])
    np.testing.assert_allclose(kept, [[20, 10, 60, 30], [20, 10, 60, 30], [120, 60, 180, 90]],
                               rtol=1e-6)
    scores, kept, classes = impl.yolo_eval(boxes, conf, probs, class_agnostic=True)
    np.testing.assert_allclose(scores, [0.9, 0.65], rtol=1e-7)
    np.testing.assert_array_equal(classes, [0, 1])
    np.testing.assert_allclose(kept, [EVAL_BOXES[0], EVAL_BOXES[3]], rtol=1e-7)
    scores, _, classes = impl.yolo_eval(boxes, conf, probs, max_boxes=2, iou_threshold=0.95)
    np.testing.assert_allclose(scores, [0.9, 0.8], rtol=1e-7)  # box 2 survives at 0.95 but 3rd
    scores, _, _ = impl.yolo_eval(boxes, conf, probs, score_threshold=0.2, iou_threshold=0.95)
    np.testing.assert_allclose(scores, [0.9, 0.8, 0.7, 0.65, 0.3], rtol=1e-7)
    empty = impl.yolo_eval(boxes, conf, probs, max_boxes=0)
    assert [a.shape for a in empty] == [(0,), (0, 4), (0,)]


@pytest.mark.parametrize("class_agnostic", [False, True])
def test_eval_on_decoded_grid_matches_naive_pipeline(impl, class_agnostic, rng):
    pred = random_pred(rng, "NHWC", np.float64, n=1, sh=6, sw=7)
    pred[..., 5::DEPTH] += 2.0                      # anchor class 0 logits up: scores spread
    boxes, conf, probs = naive_decode(pred, ANCHORS, K, "NHWC")
    height, width = 120, 90
    flat_boxes, flat_conf, flat_probs = boxes.reshape(-1, 4), conf.reshape(-1), probs.reshape(-1, K)
    cand = []
    for i in range(len(flat_boxes)):
        s = [flat_conf[i] * p for p in flat_probs[i]]
        best = max(range(K), key=lambda c: (s[c], -c))
        if s[best] >= 0.3:
            cand.append((s[best], flat_boxes[i] * [width, height, width, height], best))
    cand_boxes = np.array([c[1] for c in cand])
    cand_scores = np.array([c[0] for c in cand])
    cand_classes = None if class_agnostic else [c[2] for c in cand]
    keep = naive_nms(cand_boxes, cand_scores, 0.2, classes=cand_classes, max_output=8)
    assert len(cand) > 8 and len(keep) == 8
    scores, kept, classes = impl.yolo_eval(boxes[0], conf[0], probs[0],
                                           image_shape=(height, width), max_boxes=8,
                                           score_threshold=0.3, iou_threshold=0.2,
                                           class_agnostic=class_agnostic)
    np.testing.assert_allclose(scores, cand_scores[keep], rtol=1e-13)
    np.testing.assert_allclose(kept, cand_boxes[keep], rtol=1e-13)
    np.testing.assert_array_equal(classes, [cand[i][2] for i in keep])


def test_eval_empty_grid(impl):
    out = impl.yolo_eval(np.zeros((0, 4)), np.zeros((0, 1)), np.zeros((0, 3)))
    assert [a.shape for a in out] == [(0,), (0, 4), (0,)]


# --- bad input ---------------------------------------------------------------------------

def test_bad_decode_arguments(impl, rng):
    pred = random_pred(rng, "NHWC", np.float32)
    fn = impl.yolo_decode
    assert_error(ValueError, "yolo_decode: anchors must have shape \\(2, 2\\)",
                 fn, pred, np.ones((2, 3)), K)
    assert_error(ValueError, "yolo_decode: anchors must be a 2-D array", fn, pred, np.ones(2), K)
    assert_error(ValueError, "yolo_decode: anchors must hold .*positive",
                 fn, pred, [[1.0, 1.0], [-1.0, 2.0]], K)
    assert_error(TypeError, "yolo_decode: anchors must have dtype", fn, pred, ANCHORS + 0j, K)
    assert_error(ValueError, "yolo_decode: pred must have B·\\(5\\+K\\) = 2·7 = 14 channels",
                 fn, pred, ANCHORS, 2)
    assert_error(ValueError, "yolo_decode: pred must have B·\\(5\\+K\\) = 3·8 = 24 channels",
                 fn, pred, np.ones((3, 2)), K)
    assert_error(ValueError, "yolo_decode: pred must have .* channels .*got 3",
                 fn, pred, ANCHORS, K, layout="NCHW")      # an NHWC array read as NCHW
    assert_error(ValueError, "yolo_decode: pred must be a 4-D array", fn, pred[0], ANCHORS, K)
    assert_error(ValueError, "yolo_decode: pred must be a 4-D array .*layout='NCHW'",
                 fn, pred.reshape(2, 3, 5, 2, DEPTH), ANCHORS, K, layout="NCHW")
    assert_error(ValueError, "yolo_decode: pred must have shape \\(2, 3, 5, 2, 8\\)",
                 fn, pred.reshape(2, 3, 5, 4, 4), ANCHORS, K)
    assert_error(TypeError, "yolo_decode: pred must have dtype", fn, pred.astype(int), ANCHORS, K)
    assert_error(ValueError, "yolo_decode: layout must be", fn, pred, ANCHORS, K, layout="NWHC")
    assert_error(ValueError, "yolo_decode: num_classes must be >= 1", fn, pred, ANCHORS, 0)
    assert_error(TypeError, "yolo_decode: num_classes must be an int", fn, pred, ANCHORS, 3.0)
    assert_error(ValueError, "yolo_decode: image_size must be in", fn, pred, ANCHORS, K,
                 image_size=(0, 10))
    assert_error(TypeError, "yolo_decode: image_size must be a pair", fn, pred, ANCHORS, K,
                 image_size=416)
    with pytest.raises(TypeError):
        fn(pred, ANCHORS, K, "NHWC")                   # layout is keyword-only


@pytest.mark.parametrize("fn_name", ["yolo_filter_boxes", "yolo_eval"])
def test_bad_filter_inputs(impl, fn_name):
    boxes, conf, probs = eval_inputs(np.float64)
    if fn_name == "yolo_eval":
        fn = impl.yolo_eval
    else:                                              # takes box_confidence first
        def fn(b, c, p):
            return impl.yolo_filter_boxes(c, b, p)
    assert_error(ValueError, f"{fn_name}: boxes must have shape \\(..., 4\\)",
                 fn, boxes[..., :3], conf, probs)
    assert_error(ValueError, f"{fn_name}: box_confidence must have shape \\(1, 5, 1\\)",
                 fn, boxes, conf[:, :4], probs)
    assert_error(ValueError, f"{fn_name}: class_probs must have shape",
                 fn, boxes, conf, probs[:, :4])
    assert_error(ValueError, f"{fn_name}: class_probs must have shape",
                 fn, boxes, conf, probs[..., :0])
    assert_error(TypeError, f"{fn_name}: class_probs must have the dtype of boxes",
                 fn, boxes, conf, probs.astype(np.float32))
    assert_error(TypeError, f"{fn_name}: box_confidence must have dtype",
                 fn, boxes, conf.astype(int), probs)


def test_bad_eval_arguments(impl):
    boxes, conf, probs = eval_inputs(np.float32)
    fn = impl.yolo_eval
    nan_boxes = boxes.copy()
    nan_boxes[0, 4, 0] = np.nan                        # even on a box below the threshold
    assert_error(ValueError, "yolo_eval: boxes must not contain NaN", fn, nan_boxes, conf, probs)
    nan_conf = conf.copy()
    nan_conf[0, 1, 0] = np.nan
    assert_error(ValueError, "yolo_eval: box_confidence must not contain NaN",
                 fn, boxes, nan_conf, probs)
    assert_error(ValueError, "yolo_eval: max_boxes must be >= 0", fn, boxes, conf, probs,
                 max_boxes=-1)
    assert_error(ValueError, "yolo_eval: iou_threshold must be in \\[0, 1\\]",
                 fn, boxes, conf, probs, iou_threshold=-0.1)
    assert_error(ValueError, "yolo_eval: score_threshold must be in", fn, boxes, conf, probs,
                 score_threshold=np.nan)
    assert_error(TypeError, "yolo_eval: class_agnostic must be a bool", fn, boxes, conf, probs,
                 class_agnostic="yes")
    assert_error(TypeError, "yolo_eval: image_shape must be a pair", fn, boxes, conf, probs,
                 image_shape=(100,))
    assert_error(ValueError, "yolo_eval: image_shape must be in", fn, boxes, conf, probs,
                 image_shape=(100, -5))
    assert_error(ValueError, "yolo_filter_boxes: threshold must be in",
                 impl.yolo_filter_boxes, conf, boxes, probs, np.nan)
    assert_error(TypeError, "yolo_filter_boxes: threshold must be a real number",
                 impl.yolo_filter_boxes, conf, boxes, probs, "0.5")
