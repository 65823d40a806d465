"""BENCH.md ``pool-a`` / ``pool-b`` / ``pool-c`` on x 32×64×112×112 float32, NCHW and NHWC.

pool-a: max 2×2 stride 2; pool-b: max 3×3 stride 2 padding 1; pool-c: avg 2×2 stride 2.
One group per case, direction and layout (e.g. ``"pool-b bwd NHWC"``), each with the fastdl
side (native backend; the reference until the kernel lands), forward only also fastdl into a
preallocated ``out=`` (the kernel without the output's allocation), the NumPy reference and PyTorch
(contiguous tensors for NCHW, ``channels_last`` for NHWC; skipped when torch is missing).
The max-pool backward of every side starts from the forward's indices, as autograd does.
``extra_info["gbytes"]`` counts the bytes read and written once (no write-allocate).
"""
import functools

import numpy as np
import pytest

import fastdl
import fastdl.reference
from conftest import bench_array, peer

SHAPE = (32, 64, 112, 112)                # NCHW
CASES = {"pool-a": ("max", 2, 2, 0), "pool-b": ("max", 3, 2, 1), "pool-c": ("avg", 2, 2, 0)}
LAYOUTS = ("NCHW", "NHWC")
# "fastdl out=": forward into a preallocated, already mapped output (no allocation, no page
# faults): the kernel's own time, next to the allocation-included figure.
SIDES = ("fastdl", "fastdl out=", "reference", "torch")
REFERENCE_ROUNDS = 3      # the reference takes 0.3-3 s per call on these shapes


def out_hw(case):
    _, k, s, p = CASES[case]
    return tuple((n + 2 * p - k) // s + 1 for n in SHAPE[2:])


def in_layout(nchw, layout):
    """A read-only array in ``layout`` holding the NCHW array ``nchw``."""
    if layout == "NCHW":
        return nchw
    a = np.ascontiguousarray(nchw.transpose(0, 2, 3, 1))
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=None)
def image(layout):
    return in_layout(bench_array(SHAPE, seed=0), layout)


def upstream_nchw(case):
    return bench_array(SHAPE[:2] + out_hw(case), seed=1)


@functools.lru_cache(maxsize=None)
def upstream(case, layout):
    return in_layout(upstream_nchw(case), layout)


def pool_args(case, layout):
    _, k, s, p = CASES[case]
    return dict(kernel_size=k, stride=s, padding=p, layout=layout)


@functools.lru_cache(maxsize=None)
def argmax(case, layout):
    """The forward's indices, computed once and shared by the fastdl and reference sides."""
    _, indices = fastdl.max_pool2d(image(layout), return_indices=True, **pool_args(case, layout))
    indices.flags.writeable = False
    return indices


def api(side):
    return {"fastdl": fastdl, "reference": fastdl.reference}[side]


def numpy_call(side, case, direction, layout):
    """The fastdl or reference call of one group, with its inputs bound."""
    kind = CASES[case][0]
    ops, x, args = api(side), image(layout), pool_args(case, layout)
    if direction == "fwd":
        pool = ops.max_pool2d if kind == "max" else ops.avg_pool2d
        return lambda: pool(x, **args)
    dy = upstream(case, layout)
    if kind == "max":
        indices = argmax(case, layout)
        return lambda: ops.max_pool2d_backward(dy, x, indices=indices, **args)
    return lambda: ops.avg_pool2d_backward(dy, x.shape, **args)


@functools.lru_cache(maxsize=None)
def torch_tensor(case, layout):
    """A writeable torch copy of x (``case=None``) or of a case's dy (``torch.from_numpy``
    warns on read-only arrays), in channels_last memory for NHWC."""
    torch = peer("torch")
    source = bench_array(SHAPE, seed=0) if case is None else upstream_nchw(case)
    t = torch.from_numpy(source.copy())
    return t.contiguous(memory_format=torch.channels_last) if layout == "NHWC" else t


def torch_call(case, direction, layout):
    torch = peer("torch")
    functional, aten = torch.nn.functional, torch.ops.aten
    kind, k, s, p = CASES[case]
    x = torch_tensor(None, layout)
    if direction == "fwd":
        pool = functional.max_pool2d if kind == "max" else functional.avg_pool2d
        return torch.no_grad()(lambda: pool(x, k, s, p))
    dy = torch_tensor(case, layout)
    if kind == "max":
        _, indices = functional.max_pool2d(x, k, s, p, return_indices=True)
        return lambda: aten.max_pool2d_with_indices_backward(dy, x, [k, k], [s, s], [p, p],
                                                             [1, 1], False, indices)
    return lambda: aten.avg_pool2d_backward(dy, x, [k, k], [s, s], [p, p], False, True, None)


def traffic_gbytes(case, direction):
    """Bytes read and written once: x and y forward; dy, (indices,) and dx backward."""
    kind = CASES[case][0]
    x_bytes = np.prod(SHAPE) * 4
    y_elems = np.prod(SHAPE[:2] + out_hw(case))
    index_bytes = 8 * y_elems if direction == "bwd" and kind == "max" else 0
    return float(x_bytes + 4 * y_elems + index_bytes) / 1e9


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("direction", ["fwd", "bwd"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_pool(benchmark, case, direction, layout, side):
    benchmark.group = f"{case} {direction} {layout}"
    benchmark.extra_info["gbytes"] = traffic_gbytes(case, direction)
    if side == "torch":
        benchmark(torch_call(case, direction, layout))
        return
    if side == "fastdl out=":
        if direction != "fwd":
            pytest.skip("the backward ops take no out=")
        out = np.zeros(upstream(case, layout).shape, np.float32)
        kind, args = CASES[case][0], pool_args(case, layout)
        pool = fastdl.max_pool2d if kind == "max" else fastdl.avg_pool2d
        x = image(layout)
        result = benchmark(lambda: pool(x, out=out, **args))
        assert result is out
        return
    call = numpy_call(side, case, direction, layout)
    if side == "reference":
        result = benchmark.pedantic(call, rounds=REFERENCE_ROUNDS, iterations=1)
    else:
        result = benchmark(call)
    expected = image(layout).shape if direction == "bwd" else upstream(case, layout).shape
    assert result.shape == expected and result.dtype == np.float32
