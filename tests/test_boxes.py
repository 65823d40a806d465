"""Box ops against textbook IoU and greedy NMS written here as plain Python loops, hand-computed
values, torchvision / OpenCV where installed, and bad input."""
import importlib

import numpy as np
import pytest

from conftest import FLOATS, assert_error

FORMATS = ("xyxy", "xywh", "cxcywh")


# --- independent oracle: pure Python, one box pair at a time -----------------------------

def naive_area(r):
    return max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])


def naive_iou(a, b):
    """Textbook IoU of two xyxy boxes; 0 when the union is empty."""
    a, b = [float(v) for v in a], [float(v) for v in b]
    inter = (max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
             * max(0.0, min(a[3], b[3]) - max(a[1], b[1])))
    union = naive_area(a) + naive_area(b) - inter
    return inter / union if union > 0 else 0.0


def naive_nms(boxes, scores, thr, classes=None, score_threshold=None, max_output=None):
    """Greedy NMS: by decreasing score (ties: lower index), drop IoU > thr with a kept box."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    keep = []
    for i in order:
        if max_output is not None and len(keep) == max_output:
            break
        if score_threshold is not None and scores[i] < score_threshold:
            continue
        if any((classes is None or classes[k] == classes[i]) and naive_iou(boxes[k], boxes[i]) > thr
               for k in keep):
            continue
        keep.append(i)
    return keep


# --- box sets ----------------------------------------------------------------------------

def random_boxes(rng, n, canvas=100.0, max_wh=30.0):
    c = rng.uniform(0, canvas, size=(n, 2))
    wh = rng.uniform(1, max_wh, size=(n, 2))
    return np.concatenate([c - wh / 2, c + wh / 2], axis=1)


def clustered_boxes(rng, n, clusters=3):
    centres = rng.uniform(20, 80, size=(clusters, 2))[rng.integers(0, clusters, n)]
    c = centres + rng.normal(0, 1.5, size=(n, 2))
    wh = rng.uniform(8, 12, size=(n, 2))
    return np.concatenate([c - wh / 2, c + wh / 2], axis=1)


def malformed_mix(rng, n):
    """Random boxes, a third of them flipped (x2 < x1 or y2 < y1) and some of zero area."""
    b = random_boxes(rng, n)
    flip = rng.integers(0, 3, n)
    b[flip == 1] = b[flip == 1][:, [2, 1, 0, 3]]
    b[flip == 2] = b[flip == 2][:, [0, 3, 2, 1]]
    b[::7, 2] = b[::7, 0]                              # zero width
    return b


def touching_grid():
    """A 4×5 grid of unit squares sharing edges: every pairwise IoU is exactly 0."""
    x, y = np.meshgrid(np.arange(5.0), np.arange(4.0))
    x, y = x.ravel(), y.ravel()
    return np.stack([x, y, x + 1, y + 1], axis=1)


def scenario(name, rng):
    if name == "random":
        return random_boxes(rng, 60)
    if name == "clustered":
        return clustered_boxes(rng, 80)
    if name == "identical":
        return np.tile([[3.0, 4.0, 10.0, 12.0]], (12, 1))
    if name == "malformed":
        return malformed_mix(rng, 40)
    return touching_grid()


SCENARIOS = ("random", "clustered", "identical", "malformed", "touching")


# --- box_convert -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
def test_box_convert_hand_values(impl, dtype):
    forms = {"xyxy": [1, 2, 4, 8], "xywh": [1, 2, 3, 6], "cxcywh": [2.5, 5, 3, 6]}
    for src in FORMATS:
        for dst in FORMATS:
            got = impl.box_convert(np.array([forms[src]], dtype=dtype), src, dst)
            assert got.dtype == dtype and got.shape == (1, 4)
            np.testing.assert_array_equal(got[0], forms[dst])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("src", FORMATS)
@pytest.mark.parametrize("dst", FORMATS)
def test_box_convert_round_trip(impl, dtype, src, dst, rng):
    base = rng.uniform(-50, 50, size=(9, 8)).astype(dtype)
    boxes = base[:, ::2]                               # non-contiguous
    boxes.flags.writeable = False
    back = impl.box_convert(impl.box_convert(boxes, src, dst), dst, src)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(back, boxes, rtol=rtol, atol=rtol * 50)
    assert impl.box_convert(np.zeros((0, 4), dtype), src, dst).shape == (0, 4)


# --- iou / box_iou -----------------------------------------------------------------------

HAND_PAIRS = [  # (a, b, IoU) worked out by hand
    ([0, 0, 2, 2], [1, 1, 3, 3], 1 / 7),                # overlap 1, union 4 + 4 - 1
    ([0, 0, 4, 4], [1, 1, 2, 2], 1 / 16),               # contained
    ([0, 0, 2, 1], [0, 0, 2, 1], 1.0),                  # identical
    ([0, 0, 1, 1], [1, 0, 2, 1], 0.0),                  # touching edges
    ([0, 0, 1, 1], [5, 5, 6, 6], 0.0),                  # far apart
    ([0, 0, 1, 1], [0, 0, 2, 1], 0.5),                  # half
    ([2, 2, 0, 0], [2, 2, 0, 0], 0.0),                  # malformed, even with itself
    ([1, 1, 1, 1], [1, 1, 1, 1], 0.0),                  # a point: union 0, not 0/0
    ([0, 0, 3, 3], [3, 0, 1, 3], 0.0),                  # malformed overlapping a valid box
]


@pytest.mark.parametrize("dtype", FLOATS)
def test_iou_hand_values(impl, dtype):
    a = np.array([p[0] for p in HAND_PAIRS], dtype=dtype)
    b = np.array([p[1] for p in HAND_PAIRS], dtype=dtype)
    expected = [p[2] for p in HAND_PAIRS]
    with np.errstate(all="raise"):
        got = impl.iou(a, b)
        got_t = impl.iou(b, a)
    assert got.dtype == dtype and got.shape == (len(HAND_PAIRS),)
    rtol = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(got, expected, rtol=rtol)
    np.testing.assert_allclose(got_t, expected, rtol=rtol)


@pytest.mark.parametrize("dtype", FLOATS)
def test_box_iou_matches_naive(impl, dtype, rng):
    a = malformed_mix(rng, 11).astype(dtype)
    b = clustered_boxes(rng, 6).astype(dtype)
    got = impl.box_iou(a, b)
    assert got.dtype == dtype and got.shape == (11, 6)
    expected = [[naive_iou(p, q) for q in b] for p in a]
    np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-13,
                               atol=1e-7)
    np.testing.assert_allclose(impl.iou(a[:6], b), np.diag(expected), rtol=1e-6, atol=1e-7)


def test_iou_zero_size_non_contiguous_read_only(impl, rng):
    assert impl.box_iou(np.zeros((0, 4)), random_boxes(rng, 3)).shape == (0, 3)
    assert impl.box_iou(random_boxes(rng, 2), np.zeros((0, 4))).shape == (2, 0)
    assert impl.iou(np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32)).shape == (0,)
    a = np.asfortranarray(random_boxes(rng, 5))
    b = random_boxes(rng, 10)[::2]
    a.flags.writeable = b.flags.writeable = False
    np.testing.assert_allclose(impl.box_iou(a, b), [[naive_iou(p, q) for q in b] for p in a],
                               rtol=1e-13)


def test_iou_extreme_coordinates_do_not_overflow(impl):
    big = np.array([[-3e38, -3e38, 3e38, 3e38], [0, 0, 3e38, 3e38]], dtype=np.float32)
    with np.errstate(all="raise"):
        got = impl.box_iou(big, big)
    np.testing.assert_allclose(got, [[1, 0.25], [0.25, 1]], rtol=1e-6)


# --- nms ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("thr", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_nms_matches_naive(impl, dtype, name, thr, rng):
    boxes = scenario(name, rng).astype(dtype)
    scores = rng.uniform(0, 1, len(boxes)).astype(dtype)
    keep = impl.nms(boxes, scores, thr)
    assert keep.dtype == np.int64
    assert keep.tolist() == naive_nms(boxes, scores, thr)


@pytest.mark.parametrize("name", SCENARIOS)
def test_nms_equal_scores_keep_lower_index(impl, name, rng):
    boxes = scenario(name, rng)
    scores = np.round(rng.uniform(0, 1, len(boxes)), 1)   # many ties
    assert impl.nms(boxes, scores, 0.5).tolist() == naive_nms(boxes, scores, 0.5)
    flat = np.full(len(boxes), 0.5)
    assert impl.nms(boxes, flat, 0.5).tolist() == naive_nms(boxes, flat, 0.5)


def test_nms_identical_boxes_keep_one(impl):
    boxes = np.tile([[0.0, 0.0, 2.0, 3.0]], (5, 1))
    assert impl.nms(boxes, np.array([0.1, 0.9, 0.3, 0.9, 0.2]), 0.5).tolist() == [1]
    assert impl.nms(boxes, np.ones(5), 0.999).tolist() == [0]
    # IoU 1 is never strictly above a threshold of 1
    assert impl.nms(boxes, np.ones(5), 1.0).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("dtype", FLOATS)
def test_nms_iou_at_threshold_is_not_suppressed(impl, dtype):
    boxes = np.array([[0, 0, 1, 1], [0, 0, 2, 1], [0, 0, 3, 1]], dtype=dtype)  # IoU 1/2, 1/3, 2/3
    scores = np.array([0.9, 0.8, 0.7], dtype=dtype)
    assert impl.nms(boxes, scores, 0.5).tolist() == [0, 1]      # 1 vs 0: exactly 0.5, kept
    assert impl.nms(boxes, scores, 0.49).tolist() == [0, 2]     # 2 vs 0: 1/3, kept
    assert impl.nms(boxes, scores, 0.25).tolist() == [0]
    touching = touching_grid().astype(dtype)
    assert impl.nms(touching, np.ones(len(touching), dtype), 0.0).tolist() == list(range(20))


def test_nms_malformed_boxes_never_suppress(impl):
    boxes = np.array([[2, 2, 0, 0], [2, 2, 0, 0], [0, 0, 2, 2], [1, 1, 1, 1]], dtype=float)
    assert impl.nms(boxes, np.array([0.9, 0.8, 0.7, 0.6]), 0.0).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("score_threshold", [None, 0.0, 0.35, 2.0])
@pytest.mark.parametrize("max_output", [None, 0, 1, 5, 1000])
def test_nms_score_threshold_and_max_output(impl, score_threshold, max_output, rng):
    boxes = clustered_boxes(rng, 50, clusters=8)
    scores = np.round(rng.uniform(0, 1, 50), 2)
    scores[:3] = 0.35                                   # a score equal to the threshold is kept
    keep = impl.nms(boxes, scores, 0.4, score_threshold=score_threshold, max_output=max_output)
    assert keep.dtype == np.int64
    assert keep.tolist() == naive_nms(boxes, scores, 0.4, score_threshold=score_threshold,
                                      max_output=max_output)


@pytest.mark.parametrize("dtype", FLOATS)
def test_nms_empty_and_views(impl, dtype, rng):
    for fn, extra in ((impl.nms, ()), (impl.batched_nms, (np.zeros(0, np.int64),))):
        keep = fn(np.zeros((0, 4), dtype), np.zeros(0, dtype), *extra)
        assert keep.dtype == np.int64 and keep.shape == (0,)
    base = random_boxes(rng, 40).astype(dtype)
    boxes = np.asfortranarray(base[::2])
    scores = rng.uniform(0, 1, 40).astype(dtype)[::2]
    boxes.flags.writeable = scores.flags.writeable = False
    assert impl.nms(boxes, scores, 0.2).tolist() == naive_nms(boxes, scores, 0.2)


# --- batched_nms -------------------------------------------------------------------------

def merge_by_score(kept_lists, scores):
    merged = [i for keep in kept_lists for i in keep]
    return sorted(merged, key=lambda i: (-float(scores[i]), i))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["random", "clustered", "identical", "malformed"])
def test_batched_nms_matches_per_class_nms(impl, dtype, name, rng):
    boxes = scenario(name, rng).astype(dtype)
    scores = np.round(rng.uniform(0, 1, len(boxes)), 2).astype(dtype)
    classes = rng.integers(-1, 3, len(boxes))          # any integer labels, negatives included
    keep = impl.batched_nms(boxes, scores, classes, 0.3)
    assert keep.dtype == np.int64
    assert keep.tolist() == naive_nms(boxes, scores, 0.3, classes=classes)
    per_class = []
    for c in np.unique(classes):
        idx = np.flatnonzero(classes == c)
        per_class.append(idx[impl.nms(boxes[idx], scores[idx], 0.3)].tolist())
    assert keep.tolist() == merge_by_score(per_class, scores)


@pytest.mark.parametrize("class_dtype", [np.int8, np.uint16, np.int32, np.int64])
def test_batched_nms_options(impl, class_dtype, rng):
    boxes = clustered_boxes(rng, 60, clusters=4)
    scores = rng.uniform(0, 1, 60)
    classes = rng.integers(0, 4, 60).astype(class_dtype)
    for st, mo in ((None, 3), (0.5, None), (0.2, 7), (None, 0)):
        keep = impl.batched_nms(boxes, scores, classes, 0.5, score_threshold=st, max_output=mo)
        assert keep.tolist() == naive_nms(boxes, scores, 0.5, classes=classes,
                                          score_threshold=st, max_output=mo)
    # one class is plain NMS; distinct classes suppress nothing
    np.testing.assert_array_equal(impl.batched_nms(boxes, scores, np.zeros(60, int), 0.5),
                                  impl.nms(boxes, scores, 0.5))
    assert sorted(impl.batched_nms(boxes, scores, np.arange(60), 0.0).tolist()) == list(range(60))


# --- peers -------------------------------------------------------------------------------

def _peer(name):
    try:
        return importlib.import_module(name)
    except Exception as exc:               # ImportError, or a broken install
        pytest.skip(f"{name} not available: {exc}")


@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_agrees_with_torchvision(impl, thr, rng):
    torch, tv = _peer("torch"), _peer("torchvision.ops")
    boxes = np.concatenate([random_boxes(rng, 100), clustered_boxes(rng, 100)]).astype(np.float32)
    scores = rng.uniform(0, 1, 200).astype(np.float32)
    classes = rng.integers(0, 5, 200)
    tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
    np.testing.assert_array_equal(impl.nms(boxes, scores, thr), tv.nms(tb, ts, thr).numpy())
    np.testing.assert_array_equal(impl.batched_nms(boxes, scores, classes, thr),
                                  tv.batched_nms(tb, ts, torch.from_numpy(classes), thr).numpy())
    np.testing.assert_allclose(impl.box_iou(boxes, boxes[:50]), tv.box_iou(tb, tb[:50]).numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_agrees_with_opencv(impl, thr, rng):
    """OpenCV takes xywh boxes; with distinct scores and valid boxes its rule is ours."""
    cv2 = _peer("cv2")
    boxes = np.concatenate([random_boxes(rng, 100), clustered_boxes(rng, 100)])
    scores = rng.permutation(200) / 200 + 0.001        # distinct, all above cv2's threshold 0
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    expected = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, thr)).ravel()
    np.testing.assert_array_equal(impl.nms(boxes, scores, thr), expected)


# --- bad input ---------------------------------------------------------------------------

GOOD = np.array([[0, 0, 1, 1], [0, 0, 2, 2]], dtype=np.float64)
SCORES = np.array([0.5, 0.6])
CLASSES = np.array([0, 1])


@pytest.mark.parametrize("fn_name,args", [
    ("nms", lambda b: (b, SCORES[: len(b)])),
    ("batched_nms", lambda b: (b, SCORES[: len(b)], CLASSES[: len(b)])),
    ("box_iou", lambda b: (b, b)),
    ("iou", lambda b: (b, b)),
    ("box_convert", lambda b: (b, "xyxy", "xywh")),
])
def test_bad_boxes(impl, fn_name, args):
    fn = getattr(impl, fn_name)
    nan = GOOD.copy()
    nan[1, 2] = np.nan
    assert_error(ValueError, f"{fn_name}: .*must not contain NaN", fn, *args(nan))
    assert_error(ValueError, f"{fn_name}: .*must be a 2-D array \\(N, 4\\); got shape \\(4,\\)",
                 fn, *args(GOOD[0]))
    assert_error(ValueError, f"{fn_name}: .*must have shape \\(2, 4\\)", fn, *args(GOOD[:, :3]))
    assert_error(ValueError, f"{fn_name}: .*must have shape \\(2, 4\\)",
                 fn, *args(np.zeros((2, 5))))
    for bad in (GOOD.astype(np.int64), GOOD.astype(complex), GOOD.astype(object)):
        assert_error(TypeError, f"{fn_name}: .*must have dtype float32 or float64", fn, *args(bad))


def test_bad_nms_arguments(impl):
    for fn, extra in ((impl.nms, ()), (impl.batched_nms, (CLASSES,))):
        name = fn.__name__
        assert_error(ValueError, f"{name}: scores must have shape \\(2,\\)",
                     fn, GOOD, np.ones(3), *extra)
        assert_error(ValueError, f"{name}: scores must be a 1-D", fn, GOOD, np.ones((2, 1)), *extra)
        assert_error(TypeError, f"{name}: scores must have the dtype of boxes",
                     fn, GOOD, SCORES.astype(np.float32), *extra)
        assert_error(ValueError, f"{name}: scores must not contain NaN",
                     fn, GOOD, np.array([0.1, np.nan]), *extra)
        for thr in (-0.1, 1.1, np.nan):
            assert_error(ValueError, f"{name}: iou_threshold must be in \\[0, 1\\]",
                         fn, GOOD, SCORES, *extra, thr)
        assert_error(TypeError, f"{name}: iou_threshold must be a real number",
                     fn, GOOD, SCORES, *extra, "0.5")
        assert_error(ValueError, f"{name}: max_output must be >= 0",
                     fn, GOOD, SCORES, *extra, max_output=-1)
        assert_error(TypeError, f"{name}: max_output must be an int",
                     fn, GOOD, SCORES, *extra, max_output=1.5)
        assert_error(ValueError, f"{name}: score_threshold must be in",
                     fn, GOOD, SCORES, *extra, score_threshold=np.nan)
        with pytest.raises(TypeError):
            fn(GOOD, SCORES, *extra, 0.5, None)        # score_threshold is keyword-only
    assert_error(TypeError, "batched_nms: classes must have an integer dtype; got float64",
                 impl.batched_nms, GOOD, SCORES, CLASSES.astype(float))
    assert_error(ValueError, "batched_nms: classes must have shape \\(2,\\)",
                 impl.batched_nms, GOOD, SCORES, np.array([0, 1, 2]))
    assert_error(ValueError, "batched_nms: classes must be a 1-D",
                 impl.batched_nms, GOOD, SCORES, CLASSES[:, None])


def test_bad_pairs_and_formats(impl):
    assert_error(ValueError, "iou: b must have shape \\(2, 4\\)", impl.iou, GOOD, GOOD[:1])
    assert_error(TypeError, "box_iou: b must have the dtype of a",
                 impl.box_iou, GOOD, GOOD.astype(np.float32))
    assert_error(ValueError, "box_convert: in_fmt must be one of", impl.box_convert,
                 GOOD, "xyxz", "xywh")
    assert_error(ValueError, "box_convert: out_fmt must be one of", impl.box_convert,
                 GOOD, "xyxy", "yxyx")
    assert_error(TypeError, "box_convert: in_fmt must be one of", impl.box_convert, GOOD, 1, "xyxy")
