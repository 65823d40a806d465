"""The compiled box kernels against the NumPy reference: bit-identical IoU values and the same
kept indices on every path of the NMS kernel (grid, large boxes, non-finite coordinates,
zero-area boxes, limits), any thread count, views and read-only inputs."""
import numpy as np
import pytest

import fastdl
import fastdl.reference as ref
from conftest import FLOATS
from test_boxes import naive_nms

BOX_OPS = ("box_convert", "iou", "box_iou", "nms", "batched_nms")
FORMATS = ("xyxy", "xywh", "cxcywh")


@pytest.mark.parametrize("name", BOX_OPS)
def test_kernel_is_used(name):
    assert getattr(fastdl, name).op.has_kernel


def boxes_on_canvas(rng, n, canvas, max_wh=100.0, dtype=np.float64, min_wh=0.0):
    c = rng.uniform(0, canvas, size=(n, 2))
    wh = rng.uniform(min_wh, max_wh, size=(n, 2))
    return np.concatenate([c - wh / 2, c + wh / 2], axis=1).astype(dtype)


def nms_cases(rng, dtype):
    """(name, boxes, scores) covering each path of the kernel."""
    n = 700
    cases = []
    cases.append(("sparse", boxes_on_canvas(rng, n, 3000, dtype=dtype)))       # grid, most kept
    cases.append(("dense", boxes_on_canvas(rng, n, 200, dtype=dtype)))         # grid, crowded
    big = boxes_on_canvas(rng, n, 1000, dtype=dtype)
    big[::25, 2:] += 900                                                       # large: list path
    cases.append(("large boxes", big))
    centres = rng.uniform(0, 500, size=(6, 2))[rng.integers(0, 6, n)] + rng.normal(0, 2, (n, 2))
    wh = rng.uniform(10, 60, size=(n, 2))
    cases.append(("clusters", np.concatenate([centres - wh / 2, centres + wh / 2], 1)
                  .astype(dtype)))
    grid = np.round(boxes_on_canvas(rng, n, 300, dtype=np.float64) / 10) * 10  # ties, touching
    cases.append(("integer grid", grid.astype(dtype)))
    mal = boxes_on_canvas(rng, n, 400, dtype=dtype)
    mal[::3] = mal[::3][:, [2, 3, 0, 1]]                                       # x2 < x1, y2 < y1
    mal[1::5, 3] = mal[1::5, 1]                                                # zero height
    cases.append(("malformed", mal))
    inf = boxes_on_canvas(rng, n, 400, dtype=dtype)
    inf[7] = [-np.inf, 0, np.inf, 50]
    inf[11] = [10, -np.inf, 60, 40]
    cases.append(("infinite coordinates", inf))                               # no-grid path
    cases.append(("few", boxes_on_canvas(rng, 20, 50, dtype=dtype)))            # below the grid
    scores = [rng.uniform(0, 1, len(c[1])).astype(dtype) for c in cases]
    return [(name, b, s) for (name, b), s in zip(cases, scores)]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("thr", [0.0, 0.3, 0.5, 0.8, 1.0])
def test_nms_paths_match_reference(dtype, thr, rng):
    for name, boxes, scores in nms_cases(rng, dtype):
        with np.errstate(invalid="ignore", over="ignore"):
            expected = ref.nms(boxes, scores, thr)
        got = fastdl.nms(boxes, scores, thr)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, expected, err_msg=name)


@pytest.mark.parametrize("dtype", FLOATS)
def test_nms_options_match_reference(dtype, rng):
    boxes = boxes_on_canvas(rng, 500, 600, dtype=dtype)
    scores = np.round(rng.uniform(0, 1, 500), 2).astype(dtype)          # many ties
    scores[::17] = -0.0
    scores[1::17] = 0.0                                                 # -0.0 ties +0.0
    for st in (None, 0.0, 0.3, 0.35, 2.0, -1.0):
        for mo in (None, 0, 1, 7, 10000):
            np.testing.assert_array_equal(
                fastdl.nms(boxes, scores, 0.4, score_threshold=st, max_output=mo),
                ref.nms(boxes, scores, 0.4, score_threshold=st, max_output=mo))


def test_score_threshold_compares_in_the_scores_dtype():
    """NumPy compares a float32 array with a Python float in float32: a score equal to
    float32(threshold) is kept although it is below the float64 threshold."""
    boxes = np.array([[0, 0, 1, 1], [5, 5, 6, 6]], dtype=np.float32)
    scores = np.array([0.6, 0.5], dtype=np.float32)
    thr = float(np.float32(0.6)) + 1e-12
    assert fastdl.nms(boxes, scores, 0.5, score_threshold=thr).tolist() == [0]
    assert ref.nms(boxes, scores, 0.5, score_threshold=thr).tolist() == [0]


@pytest.mark.parametrize("dtype", FLOATS)
def test_nms_views_and_read_only(dtype, rng):
    base = boxes_on_canvas(rng, 400, 500, dtype=dtype)
    boxes = np.asfortranarray(base)[::2]
    scores = rng.uniform(0, 1, 800).astype(dtype)[::4]
    boxes.flags.writeable = scores.flags.writeable = False
    np.testing.assert_array_equal(fastdl.nms(boxes, scores, 0.3), ref.nms(boxes, scores, 0.3))
    assert fastdl.nms(boxes, scores, 0.3).tolist() == naive_nms(boxes, scores, 0.3)


@pytest.mark.parametrize("dtype", FLOATS)
def test_batched_nms_matches_reference(dtype, rng, threads):
    boxes = boxes_on_canvas(rng, 6000, 800, dtype=dtype)    # above the parallel grain
    scores = rng.uniform(0, 1, 6000).astype(dtype)
    labels = {
        "80 classes": rng.integers(0, 80, 6000),
        "negative int8": rng.integers(-128, 128, 6000).astype(np.int8),
        "wide range": rng.choice(np.array([-2**62, 0, 7, 2**62]), 6000),     # np.unique path
        "uint64 above 2**63": (np.uint64(2**63) + rng.integers(0, 5, 6000).astype(np.uint64)),
        "one class": np.zeros(6000, dtype=np.int16),
    }
    for name, classes in labels.items():
        expected = ref.batched_nms(boxes, scores, classes, 0.5, max_output=4000)
        for n in (1, 2, 3):
            fastdl.set_num_threads(n)
            got = fastdl.batched_nms(boxes, scores, classes, 0.5, max_output=4000)
            np.testing.assert_array_equal(got, expected, err_msg=f"{name}, {n} threads")
    np.testing.assert_array_equal(
        fastdl.batched_nms(boxes, scores, labels["80 classes"], 0.5, score_threshold=0.5),
        ref.batched_nms(boxes, scores, labels["80 classes"], 0.5, score_threshold=0.5))


@pytest.mark.parametrize("dtype", FLOATS)
def test_iou_ops_bit_identical_to_reference(dtype, rng, threads):
    a = boxes_on_canvas(rng, 700, 300, dtype=dtype)
    a[::9] = a[::9][:, [2, 1, 0, 3]]                     # malformed rows
    a[::13, 2] = a[::13, 0]                              # zero width
    b = np.asfortranarray(boxes_on_canvas(rng, 530, 300, dtype=dtype))[::-1]
    b.flags.writeable = False
    long_a = boxes_on_canvas(rng, 70000, 300, dtype=dtype)         # above the element grain
    long_b = boxes_on_canvas(rng, 70000, 300, dtype=dtype)
    expected = {
        "box_iou": ref.box_iou(a, b),
        "iou": ref.iou(long_a, long_b),
        **{f"{s}->{d}": ref.box_convert(long_a[::-1], s, d) for s in FORMATS for d in FORMATS},
    }
    for n in (1, 2, 3):
        fastdl.set_num_threads(n)
        got = {
            "box_iou": fastdl.box_iou(a, b),
            "iou": fastdl.iou(long_a, long_b),
            **{f"{s}->{d}": fastdl.box_convert(long_a[::-1], s, d)
               for s in FORMATS for d in FORMATS},
        }
        for key, value in expected.items():
            assert got[key].dtype == dtype
            np.testing.assert_array_equal(got[key], value, err_msg=f"{key}, {n} threads")


def test_iou_ops_empty_and_non_finite():
    for dtype in FLOATS:
        empty = np.zeros((0, 4), dtype)
        assert fastdl.box_iou(empty, np.ones((3, 4), dtype)).shape == (0, 3)
        assert fastdl.box_iou(np.ones((3, 4), dtype), empty).dtype == dtype
        assert fastdl.iou(empty, empty).shape == (0,)
        assert fastdl.box_convert(empty, "xyxy", "cxcywh").shape == (0, 4)
    odd = np.array([[-np.inf, 0, np.inf, 1], [np.inf, 0, np.inf, 1], [0, 0, 1, 1],
                    [0, -np.inf, 2, 2]])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(fastdl.box_iou(odd, odd), ref.box_iou(odd, odd))
        np.testing.assert_array_equal(fastdl.iou(odd, odd[::-1]), ref.iou(odd, odd[::-1]))


def test_nms_large_random_problem(rng):
    """A bench-like case (most boxes kept) against the reference."""
    boxes = boxes_on_canvas(rng, 5000, 4000, min_wh=10, dtype=np.float32)
    scores = rng.uniform(0, 1, 5000).astype(np.float32)
    keep = fastdl.nms(boxes, scores, 0.5)
    assert len(keep) > 4500
    np.testing.assert_array_equal(keep, ref.nms(boxes, scores, 0.5))
