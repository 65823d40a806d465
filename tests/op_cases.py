"""One small, valid call of every public op, and helpers to run and compare calls.

Used by the cross-cutting suites (``test_hardening.py``, ``test_properties.py``): they iterate
over :data:`fastdl._dispatch.REGISTRY`, so every op is exercised on whatever path it has today
(native kernel once its family lands, reference before). ``CASES[name](rng, dtype, layout)``
returns a fresh :class:`Call`; calling the builder twice with equal seeds gives equal, but
independent, inputs (in-place ops mutate their own copy).
"""
import math
from typing import NamedTuple

import numpy as np

import fastdl
import fastdl.reference as ref

LAYOUTS = ("NCHW", "NHWC")
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# native vs reference: float32 kernels may sum in another order (GEMM-class tolerance)
TOL = {np.dtype(np.float32): dict(rtol=2e-4, atol=2e-5),
       np.dtype(np.float64): dict(rtol=1e-9, atol=1e-11)}


class Call(NamedTuple):
    args: tuple
    kwargs: dict


def _img(rng, dtype, layout, n, c, h, w):
    shape = (n, c, h, w) if layout == "NCHW" else (n, h, w, c)
    if np.dtype(dtype) == np.uint8:
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    return rng.standard_normal(shape).astype(dtype)


def _arr(rng, dtype, *shape, low=None, high=None):
    if low is not None:
        return rng.uniform(low, high, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _boxes(rng, dtype, n):
    xy = rng.uniform(0, 20, size=(n, 2))
    wh = rng.uniform(1, 10, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(dtype)


def _sum_of_squares(x):
    return float(np.sum(np.asarray(x, dtype=np.float64) ** 2))


def _conv_geometry(layout):
    # x (2, 3, 6, 5), w (K=4, C=3, R=3, S=2), stride (2, 1), padding 1 -> y (2, 4, 3, 6)
    wshape = (4, 3, 3, 2) if layout == "NCHW" else (3, 2, 3, 4)
    yshape = (2, 4, 3, 6) if layout == "NCHW" else (2, 3, 6, 4)
    return wshape, yshape


def _conv2d(rng, dtype, layout):
    wshape, _ = _conv_geometry(layout)
    return Call((_img(rng, dtype, layout, 2, 3, 6, 5), _arr(rng, dtype, *wshape),
                 _arr(rng, dtype, 4)),
                dict(stride=(2, 1), padding=1, layout=layout, activation="relu"))


def _conv2d_backward(rng, dtype, layout):
    x, w, b = _conv2d(rng, dtype, layout).args
    y = ref.conv2d(x, w, b, stride=(2, 1), padding=1, layout=layout, activation="relu")
    dy = _arr(rng, dtype, *y.shape)
    return Call((dy, x, w), dict(stride=(2, 1), padding=1, layout=layout, activation="relu",
                                 y=y))


def _pool_dy(rng, dtype, layout):
    # x (2, 3, 7, 6), kernel 3, stride 2, padding 1 -> (2, 3, 4, 3)
    return _img(rng, dtype, layout, 2, 3, 4, 3)


def _input_shape(layout, n, c, h, w):
    return (n, c, h, w) if layout == "NCHW" else (n, h, w, c)


def _linear_backward(rng, dtype, layout):
    x, w, b = _arr(rng, dtype, 5, 7), _arr(rng, dtype, 4, 7), _arr(rng, dtype, 4)
    y = ref.linear(x, w, b, activation="relu")
    return Call((_arr(rng, dtype, 5, 4), x, w), dict(activation="relu", y=y))


def _batch_norm(rng, dtype, layout):
    axis = 1 if layout == "NCHW" else -1
    x = _img(rng, dtype, layout, 4, 3, 2, 2)
    return Call((x, _arr(rng, dtype, 3), _arr(rng, dtype, 3)),
                dict(running_mean=np.zeros(3, dtype), running_var=np.ones(3, dtype),
                     momentum=0.2, axis=axis))


def _batch_norm_backward(rng, dtype, layout):
    x, gamma, beta = _batch_norm(rng, dtype, layout).args
    axis = 1 if layout == "NCHW" else -1
    _, mean, invstd = ref.batch_norm(x, gamma, beta, axis=axis)
    return Call((_arr(rng, dtype, *x.shape), x, gamma, mean, invstd), dict(axis=axis))


def _params(rng, dtype, n_state=0):
    shapes = [(3, 4), (5,), (2, 1, 3)]
    lists = [[_arr(rng, dtype, *s) for s in shapes]]          # params
    lists.append([_arr(rng, dtype, *s) for s in shapes])      # grads
    for _ in range(n_state):
        lists.append([np.abs(_arr(rng, dtype, *s)) for s in shapes])
    return lists


def _yolo_grid(rng, dtype, layout):
    # 3x3 grid, B=2 anchors, K=3 classes: depth 8
    shape = (1, 3, 3, 16) if layout == "NHWC" else (1, 16, 3, 3)
    return _arr(rng, dtype, *shape), np.array([[1.0, 1.5], [2.0, 1.0]])


def _yolo_outputs(rng, dtype, layout):
    pred, anchors = _yolo_grid(rng, dtype, layout)
    boxes, conf, probs = ref.yolo_decode(pred * 2, anchors, 3, layout=layout)
    return conf[0], boxes[0], probs[0]


def _mask(rng, shape):
    return (rng.random(shape) < 0.7).astype(np.uint8)


CASES = {
    # conv
    "conv_output_size": lambda rng, dt, lo: Call((7, 3), dict(padding=1, stride=2)),
    "zero_pad": lambda rng, dt, lo: Call((_img(rng, dt, lo, 2, 3, 5, 4), ((1, 0), (2, 1))),
                                         dict(layout=lo)),
    "conv2d": _conv2d,
    "conv2d_backward": _conv2d_backward,
    # pool
    "max_pool2d": lambda rng, dt, lo: Call(
        (_img(rng, dt, lo, 2, 3, 7, 6), 3),
        dict(stride=2, padding=1, layout=lo, return_indices=True)),
    "max_pool2d_backward": lambda rng, dt, lo: Call(
        (_pool_dy(rng, dt, lo), _img(rng, dt, lo, 2, 3, 7, 6), 3),
        dict(stride=2, padding=1, layout=lo)),
    "avg_pool2d": lambda rng, dt, lo: Call(
        (_img(rng, dt, lo, 2, 3, 7, 6), 3),
        dict(stride=2, padding=1, count_include_pad=False, layout=lo)),
    "avg_pool2d_backward": lambda rng, dt, lo: Call(
        (_pool_dy(rng, dt, lo), _input_shape(lo, 2, 3, 7, 6), 3),
        dict(stride=2, padding=1, count_include_pad=False, layout=lo)),
    "global_avg_pool2d": lambda rng, dt, lo: Call((_img(rng, dt, lo, 2, 3, 5, 4),),
                                                  dict(layout=lo)),
    "global_avg_pool2d_backward": lambda rng, dt, lo: Call(
        (_arr(rng, dt, 2, 3), _input_shape(lo, 2, 3, 5, 4)), dict(layout=lo)),
    # dense
    "linear": lambda rng, dt, lo: Call(
        (_arr(rng, dt, 5, 7), _arr(rng, dt, 4, 7), _arr(rng, dt, 4)), dict(activation="tanh")),
    "linear_backward": _linear_backward,
    # activations
    "sigmoid": lambda rng, dt, lo: Call((_arr(rng, dt, 3, 4, 5),), {}),
    "tanh": lambda rng, dt, lo: Call((_arr(rng, dt, 3, 4, 5),), {}),
    "relu": lambda rng, dt, lo: Call((_arr(rng, dt, 3, 4, 5),), {}),
    "leaky_relu": lambda rng, dt, lo: Call((_arr(rng, dt, 3, 4, 5), 0.1), {}),
    "sigmoid_backward": lambda rng, dt, lo: Call(
        (_arr(rng, dt, 3, 4, 5), _arr(rng, dt, 3, 4, 5, low=0.01, high=0.99)), {}),
    "tanh_backward": lambda rng, dt, lo: Call(
        (_arr(rng, dt, 3, 4, 5), _arr(rng, dt, 3, 4, 5, low=-0.99, high=0.99)), {}),
    "relu_backward": lambda rng, dt, lo: Call((_arr(rng, dt, 3, 4, 5), _arr(rng, dt, 3, 4, 5)),
                                              {}),
    "leaky_relu_backward": lambda rng, dt, lo: Call(
        (_arr(rng, dt, 3, 4, 5), _arr(rng, dt, 3, 4, 5), 0.2), {}),
    # losses
    "softmax": lambda rng, dt, lo: Call((_arr(rng, dt, 4, 6),), dict(axis=-1)),
    "log_softmax": lambda rng, dt, lo: Call((_arr(rng, dt, 4, 6),), dict(axis=0)),
    "softmax_backward": lambda rng, dt, lo: Call(
        (_arr(rng, dt, 4, 6), ref.softmax(_arr(rng, dt, 4, 6))), dict(axis=-1)),
    "softmax_cross_entropy": lambda rng, dt, lo: Call(
        (_arr(rng, dt, 5, 4), rng.integers(0, 4, size=5)), dict(reduction="mean")),
    "binary_cross_entropy": lambda rng, dt, lo: Call(
        (_arr(rng, dt, 3, 5, low=0.05, high=0.95), (rng.random((3, 5)) < 0.5).astype(dt)),
        dict(reduction="sum")),
    "binary_cross_entropy_with_logits": lambda rng, dt, lo: Call(
        (_arr(rng, dt, 3, 5), (rng.random((3, 5)) < 0.5).astype(dt)), dict(reduction="mean")),
    "l2_penalty": lambda rng, dt, lo: Call(([_arr(rng, dt, 3, 4), _arr(rng, dt, 5)], 0.7, 5), {}),
    # norm
    "batch_norm": _batch_norm,
    "batch_norm_backward": _batch_norm_backward,
    # dropout
    "dropout": lambda rng, dt, lo: Call((_arr(rng, dt, 4, 5, 3), 0.7), dict(seed=3)),
    "dropout_backward": lambda rng, dt, lo: Call(
        (_arr(rng, dt, 4, 5, 3), _mask(rng, (4, 5, 3)), 0.7), {}),
    # optim (in place)
    "sgd_step": lambda rng, dt, lo: Call(tuple(_params(rng, dt)), dict(lr=0.1)),
    "momentum_step": lambda rng, dt, lo: Call(tuple(_params(rng, dt, 1)), dict(lr=0.1, beta=0.8)),
    "rmsprop_step": lambda rng, dt, lo: Call(tuple(_params(rng, dt, 1)), dict(lr=0.01)),
    "adam_step": lambda rng, dt, lo: Call(tuple(_params(rng, dt, 2)),
                                          dict(t=3, lr=0.01, weight_decay=0.1)),
    "initialize_velocity": lambda rng, dt, lo: Call((_params(rng, dt)[0],), {}),
    "initialize_adam": lambda rng, dt, lo: Call((_params(rng, dt)[0],), {}),
    # data, gradcheck
    "random_mini_batches": lambda rng, dt, lo: Call(
        (_arr(rng, dt, 10, 3), rng.integers(0, 2, size=10)), dict(batch_size=4, seed=1)),
    "numerical_gradient": lambda rng, dt, lo: Call((_sum_of_squares, _arr(rng, dt, 3, 2)),
                                                   dict(eps=1e-3)),
    "gradient_check": lambda rng, dt, lo: Call(
        (_sum_of_squares, _arr(rng, dt, 3, 2), _arr(rng, dt, 3, 2)), dict(eps=1e-3)),
    # boxes
    "box_convert": lambda rng, dt, lo: Call((_boxes(rng, dt, 6), "xyxy", "cxcywh"), {}),
    "iou": lambda rng, dt, lo: Call((_boxes(rng, dt, 6), _boxes(rng, dt, 6)), {}),
    "box_iou": lambda rng, dt, lo: Call((_boxes(rng, dt, 6), _boxes(rng, dt, 5)), {}),
    "nms": lambda rng, dt, lo: Call((_boxes(rng, dt, 12), _arr(rng, dt, 12), 0.3), {}),
    "batched_nms": lambda rng, dt, lo: Call(
        (_boxes(rng, dt, 12), _arr(rng, dt, 12), rng.integers(0, 3, size=12), 0.3), {}),
    # yolo
    "yolo_decode": lambda rng, dt, lo: Call(_yolo_grid(rng, dt, lo) + (3,),
                                            dict(layout=lo, image_size=(60, 90))),
    "yolo_filter_boxes": lambda rng, dt, lo: Call(_yolo_outputs(rng, dt, lo), dict(threshold=0.2)),
    "yolo_eval": lambda rng, dt, lo: Call(
        (lambda c, b, p: (b, c, p))(*_yolo_outputs(rng, dt, lo)),
        dict(image_shape=(100, 120), score_threshold=0.1, iou_threshold=0.4)),
    # augment
    "flip": lambda rng, dt, lo: Call((_img(rng, dt, lo, 2, 3, 5, 4),), dict(layout=lo)),
    "random_flip": lambda rng, dt, lo: Call((_img(rng, dt, lo, 4, 3, 5, 4),),
                                            dict(seed=5, layout=lo)),
    "random_crop": lambda rng, dt, lo: Call((_img(rng, dt, lo, 3, 3, 6, 5), (4, 3)),
                                            dict(padding=1, seed=5, layout=lo)),
    "color_shift": lambda rng, dt, lo: Call((_img(rng, dt, lo, 2, 3, 5, 4), [0.5, -1.0, 2.0]),
                                            dict(layout=lo)),
    "random_color_shift": lambda rng, dt, lo: Call((_img(rng, dt, lo, 2, 3, 5, 4), 2.0),
                                                   dict(seed=5, layout=lo)),
    "pca_color_augment": lambda rng, dt, lo: Call(
        (_img(rng, dt, lo, 2, 3, 5, 4), np.array([0.2, 0.05, 0.01]),
         np.linalg.qr(rng.standard_normal((3, 3)))[0], rng.normal(0, 0.1, size=(2, 3))),
        dict(layout=lo)),
}

# Ops that update (some of) their array arguments in place.
IN_PLACE = {"sgd_step", "momentum_step", "rmsprop_step", "adam_step", "batch_norm"}
# Ops taking uint8 images as well as floats.
IMAGE_OPS = {"flip", "random_flip", "random_crop", "color_shift", "random_color_shift",
             "pca_color_augment"}
# Ops computed from a Python callable (slow per element, not kernels).
CALLBACK_OPS = {"numerical_gradient", "gradient_check"}


def make(name, seed=0, dtype=np.float64, layout="NCHW"):
    """A fresh valid call of op ``name``."""
    return CASES[name](np.random.default_rng(seed), np.dtype(dtype), layout)


def public(name):
    return getattr(fastdl, name)


def reference(name):
    return getattr(ref, name)


# --- walking and comparing results -----------------------------------------------------

def arrays_in(obj):
    """Every ndarray inside nested tuples/lists/dicts, in a fixed order."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [a for item in obj for a in arrays_in(item)]
    if isinstance(obj, dict):
        return [a for key in sorted(obj) for a in arrays_in(obj[key])]
    return []


def assert_same(got, want, *, exact=False, path="result"):
    """``got`` equals ``want`` structurally; arrays equal (NaN == NaN) to the dtype's
    tolerance, or bit for bit with ``exact``.

    A 0-d array and a NumPy scalar of the same dtype and value count as equal (NumPy
    arithmetic on 0-d arrays returns scalars; see ``test_properties.py::test_defect_*``).
    """
    zero_d = (np.ndarray, np.generic)
    if (isinstance(got, zero_d) and isinstance(want, zero_d) and np.ndim(got) == 0
            and np.ndim(want) == 0 and type(got) is not type(want)):
        got, want = np.asarray(got), np.asarray(want)
    if isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), f"{path}: {type(got).__name__} instead of ndarray"
        assert got.shape == want.shape, f"{path}: shape {got.shape} != {want.shape}"
        assert got.dtype == want.dtype, f"{path}: dtype {got.dtype} != {want.dtype}"
        if exact or want.dtype not in TOL:
            np.testing.assert_array_equal(got, want, err_msg=path)
        else:
            np.testing.assert_allclose(got, want, equal_nan=True, err_msg=path,
                                       **TOL[want.dtype])
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), \
            f"{path}: {got!r:.200} vs {want!r:.200}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, exact=exact, path=f"{path}[{i}]")
    elif isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), path
        for key in want:
            assert_same(got[key], want[key], exact=exact, path=f"{path}[{key!r}]")
    elif isinstance(want, (np.floating, float)) and not isinstance(want, bool):
        assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
        w = np.asarray(want)
        if exact or w.dtype not in TOL:
            assert (got == want) or (math.isnan(got) and math.isnan(want)), f"{path}: {got} != {want}"
        else:
            np.testing.assert_allclose(got, want, equal_nan=True, err_msg=path, **TOL[w.dtype])
    else:
        assert type(got) is type(want) and got == want, f"{path}: {got!r} != {want!r}"


def outcome(fn, call):
    """Run ``fn(*call.args, **call.kwargs)``: ("ok", result, args after the call) or
    ("raise", exception type, message). Any exception other than TypeError/ValueError
    propagates (a test failure)."""
    try:
        result = fn(*call.args, **call.kwargs)
    except (TypeError, ValueError) as exc:
        return ("raise", type(exc), str(exc))
    return ("ok", result, (call.args, call.kwargs))


# Known defects (reported in issue 11's closing note; each pinned by a strict xfail in
# test_properties.py). The error of initialize_adam names initialize_velocity:
MESSAGE_NAMES_ANOTHER_OP = {"initialize_adam"}


def known_defect(name, call):
    """Calls that hit a known, reported defect (see test_properties.py::test_defect_*): they
    are skipped by the properties. (A defect that writes out of bounds belongs here too: it
    must never run in-process, it would corrupt the heap of the whole test session.)"""
    if name in ("initialize_velocity", "initialize_adam"):
        params = call.args[0] if call.args else call.kwargs.get("params")
        return isinstance(params, (list, tuple)) and not all(
            isinstance(p, np.ndarray) for p in params)
    return False


def assert_same_behaviour(name, make_call, *, exact=False):
    """The public op (native path where there is one) behaves as the reference on the calls
    ``make_call()`` builds (called once per side, so in-place updates do not interfere):
    the same error type (naming the op), or equal results and equal in-place updates."""
    call = make_call()
    if known_defect(name, call):
        return None
    got = outcome(public(name), call)
    want = outcome(reference(name), make_call())
    if want[0] == "raise":
        assert got[0] == "raise", (f"{name}: the reference raised {want[1].__name__}: "
                                   f"{want[2]}; the public op returned {got[1]!r:.300}")
        assert got[1] is want[1], (f"{name}: raised {got[1].__name__}({got[2]}) where the "
                                   f"reference raises {want[1].__name__}({want[2]})")
        if name not in MESSAGE_NAMES_ANOTHER_OP:
            assert name in got[2], f"{name}: the message does not name the op: {got[2]}"
        return want
    assert got[0] == "ok", (f"{name}: raised {got[1].__name__}: {got[2]}; the reference "
                            f"returned a result")
    assert_same(got[1], want[1], exact=exact, path=f"{name}(...)")
    assert_same(arrays_in(got[2]), arrays_in(want[2]), exact=exact, path=f"{name} inputs after")
    return want
