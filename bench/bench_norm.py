"""BENCH.md ``bn-a`` (x 32×64×56×56, NCHW and NHWC) and ``bn-b`` (dense x 4096×1024), float32.

Groups: ``"bn-a train fwd NCHW"``, ``"bn-a train fwd+bwd NHWC"``, ``"bn-a inference fwd NCHW"``,
... and ``"bn-b train fwd+bwd"``. Sides: fastdl (native backend: ``fastdl/_norm.pyx``), forwards
also fastdl into a preallocated ``out=`` (the kernels without the output's allocation), the
NumPy reference, and PyTorch (``F.batch_norm`` + autograd; contiguous
tensors for NCHW, ``channels_last`` for NHWC; skipped when torch is missing). Every side
updates running statistics in training, as a layer does.
``extra_info["gbytes"]`` is the traffic of a fused kernel, each stream counted once (no
write-allocate): train fwd reads x twice (statistics, then normalisation) and writes y;
inference reads x and writes y; the backward reads dy and x twice and writes dx.
"""
import functools

import numpy as np
import pytest

import fastdl
import fastdl.reference
from conftest import bench_array, peer

SHAPES = {"bn-a": (32, 64, 56, 56), "bn-b": (4096, 1024)}   # NCHW / (N, C)
GROUPS = [("bn-a", "train fwd", "NCHW"), ("bn-a", "train fwd", "NHWC"),
          ("bn-a", "train fwd+bwd", "NCHW"), ("bn-a", "train fwd+bwd", "NHWC"),
          ("bn-a", "inference fwd", "NCHW"), ("bn-a", "inference fwd", "NHWC"),
          ("bn-b", "train fwd+bwd", "dense")]
# "fastdl out=": forwards into a preallocated, already mapped output (no allocation, no page
# faults): the kernels' own time, next to the allocation-included figure.
SIDES = ("fastdl", "fastdl out=", "reference", "torch")
PASSES = {"train fwd": 3, "inference fwd": 2, "train fwd+bwd": 3 + 5}
ROUNDS = 5                    # the reference takes ~0.5 s per bn-a call


def channels(case):
    return SHAPES[case][1]


def channel_axis(layout):
    return 1 if layout == "NCHW" else -1


def in_layout(nchw, layout):
    """A read-only array in ``layout`` (NHWC: channels last) holding the NCHW array."""
    if layout != "NHWC":
        return nchw
    a = np.ascontiguousarray(np.moveaxis(nchw, 1, -1))
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=None)
def tensor_input(case, layout, seed):
    """x (seed 0) or the upstream gradient dy (seed 1) of a group."""
    return in_layout(bench_array(SHAPES[case], seed=seed), layout)


def affine(case):
    c = channels(case)
    return bench_array((c,), seed=2, low=0.5, high=2.0), bench_array((c,), seed=3)


def running_stats(case):
    """Fresh writeable running statistics (each side updates its own in place)."""
    c = channels(case)
    return np.zeros(c, np.float32), np.ones(c, np.float32)


def numpy_call(side, case, phase, layout):
    """The fastdl (``out=``: into a preallocated output) or reference call of one group, with
    its inputs bound."""
    ops = {"fastdl": fastdl, "fastdl out=": fastdl, "reference": fastdl.reference}[side]
    x, axis = tensor_input(case, layout, 0), channel_axis(layout)
    gamma, beta = affine(case)
    running_mean, running_var = running_stats(case)
    given = {"out": np.zeros(x.shape, x.dtype)} if side == "fastdl out=" else {}
    if phase == "inference fwd":
        return lambda: ops.batch_norm(x, gamma, beta, running_mean=running_mean,
                                      running_var=running_var, training=False, axis=axis,
                                      **given)

    def forward():
        return ops.batch_norm(x, gamma, beta, running_mean=running_mean,
                              running_var=running_var, axis=axis, **given)
    if phase == "train fwd":
        return forward
    dy = tensor_input(case, layout, 1)

    def forward_backward():
        _, mean, invstd = forward()
        return ops.batch_norm_backward(dy, x, gamma, mean, invstd, axis=axis)
    return forward_backward


def torch_call(case, phase, layout):
    torch = peer("torch")
    functional = torch.nn.functional

    def tensor(array, requires_grad=False):
        t = torch.from_numpy(array.copy())     # writeable copy: from_numpy warns on read-only
        if layout == "NHWC":
            t = t.contiguous(memory_format=torch.channels_last)
        return t.requires_grad_(requires_grad)

    source_layout = "dense" if layout == "dense" else "NCHW"   # torch wants (N, C, ...)
    x = tensor(tensor_input(case, source_layout, 0), requires_grad=phase == "train fwd+bwd")
    gamma, beta = (torch.from_numpy(a.copy()).requires_grad_(phase == "train fwd+bwd")
                   for a in affine(case))
    running_mean, running_var = (torch.from_numpy(a) for a in running_stats(case))

    def forward(training):
        return functional.batch_norm(x, running_mean, running_var, gamma, beta,
                                     training=training, momentum=0.1, eps=1e-5)
    if phase == "inference fwd":
        return torch.no_grad()(lambda: forward(False))
    if phase == "train fwd":
        return torch.no_grad()(lambda: forward(True))
    dy = tensor(tensor_input(case, source_layout, 1))

    def forward_backward():
        x.grad = gamma.grad = beta.grad = None     # fresh gradients, as the numpy sides
        forward(True).backward(dy)
    return forward_backward


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("case,phase,layout", GROUPS)
def test_batch_norm(benchmark, case, phase, layout, side):
    if side == "fastdl out=" and phase == "train fwd+bwd":
        pytest.skip("the backward takes no out=")
    benchmark.group = f"{case} {phase}" + ("" if layout == "dense" else f" {layout}")
    fn = torch_call(case, phase, layout) if side == "torch" else numpy_call(side, case, phase,
                                                                            layout)
    benchmark.extra_info["gbytes"] = PASSES[phase] * np.prod(SHAPES[case]) * 4 / 1e9
    benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=1)
