"""BENCH.md conv-a … conv-e: conv2d forward and forward+backward, float32, both layouts.

One group per shape, pass and layout (e.g. ``conv-a fwd NCHW``) holding fastdl (native
backend: the direct slab kernels of ``fastdl._conv``), the NumPy reference, and PyTorch when it is
importable: ``F.conv2d`` on contiguous NCHW tensors in the NCHW groups and on
``channels_last`` tensors in the NHWC groups, fwd+bwd through autograd ``.backward``.
``extra_info["gflop"]`` is the work of the pass (2·N·K·Ho·Wo·C·R·S per convolution; the
backward does two more, for dx and dw) so GFLOP/s = gflop / time.
"""
import numpy as np
import pytest

import fastdl
import fastdl.reference
from conftest import BENCH_THREADS, bench_array, peer

# id -> (x NCHW shape, w (K, C, R, S) shape, stride, padding)
CASES = {
    "conv-a": ((32, 64, 56, 56), (64, 64, 3, 3), 1, 1),
    "conv-b": ((64, 3, 32, 32), (32, 3, 5, 5), 1, 2),
    "conv-c": ((32, 128, 28, 28), (128, 128, 3, 3), 1, 1),
    "conv-d": ((8, 3, 224, 224), (64, 3, 7, 7), 2, 3),
    "conv-e": ((32, 256, 14, 14), (256, 256, 1, 1), 1, 0),
}
LAYOUTS = ("NCHW", "NHWC")
PASSES = ("fwd", "fwd+bwd")
# The reference takes seconds per call on these shapes: one timed round keeps the
# `--benchmark-disable` smoke run and a full run short.
REFERENCE_ROUNDS = 1


def output_hw(case):
    (_, _, h, w), (_, _, r, s), stride, padding = CASES[case]
    return tuple(fastdl.conv_output_size(n, f, padding, stride) for n, f in ((h, r), (w, s)))


def gflop(case, pass_):
    (n, c, _, _), (k, _, r, s), _, _ = CASES[case]
    ho, wo = output_hw(case)
    convolutions = 1 if pass_ == "fwd" else 3
    return convolutions * 2 * n * k * ho * wo * c * r * s / 1e9


def nchw_inputs(case):
    """Read-only float32 x, w, b, dy in PyTorch's order: (N,C,H,W), (K,C,R,S), (K,), (N,K,Ho,Wo)."""
    x_shape, w_shape, _, _ = CASES[case]
    dy_shape = (x_shape[0], w_shape[0]) + output_hw(case)
    return (bench_array(x_shape, seed=1), bench_array(w_shape, seed=2),
            bench_array(w_shape[:1], seed=3), bench_array(dy_shape, seed=4))


def fastdl_inputs(case, layout):
    """x, w, b, dy in ``layout``; the NHWC ones are contiguous channels-last copies."""
    x, w, b, dy = nchw_inputs(case)
    if layout == "NHWC":
        x, dy = (np.ascontiguousarray(a.transpose(0, 2, 3, 1)) for a in (x, dy))
        w = np.ascontiguousarray(w.transpose(2, 3, 1, 0))
    return x, w, b, dy


def conv_step(module, case, layout, pass_):
    """A no-argument callable running one pass of ``module``'s conv2d (and backward)."""
    x, w, b, dy = fastdl_inputs(case, layout)
    _, _, stride, padding = CASES[case]
    kwargs = dict(stride=stride, padding=padding, layout=layout, n_threads=BENCH_THREADS)

    def forward():
        return module.conv2d(x, w, b, **kwargs)

    def forward_backward():
        module.conv2d(x, w, b, **kwargs)
        return module.conv2d_backward(dy, x, w, **kwargs)

    return forward if pass_ == "fwd" else forward_backward


def torch_step(case, layout, pass_):
    """The same pass in PyTorch (channels_last memory format for the NHWC groups)."""
    torch = peer("torch")
    functional = peer("torch.nn.functional")
    _, _, stride, padding = CASES[case]
    memory_format = torch.channels_last if layout == "NHWC" else torch.contiguous_format
    x, w, b, dy = (torch.from_numpy(np.array(a)) for a in nchw_inputs(case))  # writeable copies
    x, w, dy = (t.contiguous(memory_format=memory_format) for t in (x, w, dy))

    if pass_ == "fwd":
        def forward():
            with torch.no_grad():
                return functional.conv2d(x, w, b, stride=stride, padding=padding)
        return forward

    params = [t.requires_grad_() for t in (x, w, b)]

    def forward_backward():
        for t in params:
            t.grad = None
        functional.conv2d(x, w, b, stride=stride, padding=padding).backward(dy)
    return forward_backward


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("side", ["fastdl", "reference", "torch"])
def test_conv2d(benchmark, side, case, layout, pass_):
    benchmark.group = f"{case} {pass_} {layout}"
    benchmark.extra_info["gflop"] = gflop(case, pass_)
    if side == "torch":
        benchmark(torch_step(case, layout, pass_))
    elif side == "fastdl":
        benchmark(conv_step(fastdl, case, layout, pass_))
    else:
        benchmark.pedantic(conv_step(fastdl.reference, case, layout, pass_),
                           rounds=REFERENCE_ROUNDS, iterations=1)
