"""BENCH.md ``act``: sigmoid, tanh, ReLU and leaky ReLU, forward and backward, on 16,777,216
float32 elements.

Sides per group: fastdl (native backend; the reference until the kernels land), the NumPy
reference, the plain NumPy ufunc idiom a user would write, and PyTorch when it is importable
(skipped otherwise): ``torch.sigmoid`` etc. forward, and for the backward the ATen kernels
autograd itself calls (``sigmoid_backward``, ``tanh_backward``, ``threshold_backward``,
``leaky_relu_backward``), so every side computes exactly one op. Every side allocates its
output, as PyTorch's BENCH.md figures do. Memory-bound: ``extra_info["bytes"]`` is the arrays
read plus the output written.
"""
import functools

import numpy as np
import pytest

import fastdl
import fastdl.reference
from conftest import bench_array, peer

SIZE = 16_777_216
ALPHA = 0.01
ROUNDS = 5          # each call moves 128-192 MB: a few rounds give a stable median

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu"]
SIDES = ["fastdl", "reference", "numpy", "torch"]

# The idiom a NumPy user writes for each op (inputs in [-4, 4], so the naive sigmoid
# cannot overflow here).
NUMPY_FORWARD = {
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x: np.where(x > 0, x, x * np.float32(ALPHA)),
}
NUMPY_BACKWARD = {          # (dy, saved) where saved is y for sigmoid/tanh, x for the ReLUs
    "sigmoid": lambda dy, y: dy * y * (1 - y),
    "tanh": lambda dy, y: dy * (1 - y * y),
    "relu": lambda dy, x: np.where(x > 0, dy, 0),
    "leaky_relu": lambda dy, x: np.where(x > 0, dy, dy * np.float32(ALPHA)),
}
SAVES_OUTPUT = {"sigmoid": True, "tanh": True, "relu": False, "leaky_relu": False}


def x_input():
    return bench_array((SIZE,), seed=0, low=-4.0, high=4.0)


def dy_input():
    return bench_array((SIZE,), seed=1)


@functools.lru_cache(maxsize=2)
def saved_for_backward(name):
    """What the backward reads besides dy: the forward output or the forward input."""
    if not SAVES_OUTPUT[name]:
        return x_input()
    y = NUMPY_FORWARD[name](x_input())
    y.flags.writeable = False
    return y


def api_forward(side, name):
    if side == "numpy":
        return NUMPY_FORWARD[name]
    ops = {"fastdl": fastdl, "reference": fastdl.reference}[side]
    if name == "leaky_relu":
        return lambda x: ops.leaky_relu(x, ALPHA)
    return getattr(ops, name)


def api_backward(side, name):
    if side == "numpy":
        return NUMPY_BACKWARD[name]
    ops = {"fastdl": fastdl, "reference": fastdl.reference}[side]
    if name == "leaky_relu":
        return lambda dy, x: ops.leaky_relu_backward(dy, x, ALPHA)
    return getattr(ops, name + "_backward")


def torch_forward(torch, name):
    if name == "leaky_relu":
        return lambda x: torch.nn.functional.leaky_relu(x, ALPHA)
    return getattr(torch, name)


def torch_backward(torch, name):
    aten = torch.ops.aten
    return {"sigmoid": aten.sigmoid_backward,
            "tanh": aten.tanh_backward,
            "relu": lambda dy, x: aten.threshold_backward(dy, x, 0),
            "leaky_relu": lambda dy, x: aten.leaky_relu_backward(dy, x, ALPHA, False)}[name]


def run(benchmark, fn, *args):
    benchmark.extra_info["bytes"] = (len(args) + 1) * args[0].nbytes
    kernels = fastdl.activations._kernels     # vector level of the float32 exp/tanh/sigmoid
    benchmark.extra_info["isa"] = kernels.ISA if kernels is not None else None
    return benchmark.pedantic(fn, args=args, rounds=ROUNDS, iterations=1)


def as_torch(torch, *arrays):
    return [torch.from_numpy(a.copy()) for a in arrays]   # writeable copies for torch


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_forward(benchmark, name, side):
    benchmark.group = f"act {name} fwd 16M"
    x = x_input()
    if side == "torch":
        torch = peer("torch")
        run(benchmark, torch_forward(torch, name), *as_torch(torch, x))
        return
    y = run(benchmark, api_forward(side, name), x)
    assert y.shape == x.shape and y.dtype == np.float32


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_backward(benchmark, name, side):
    benchmark.group = f"act {name} bwd 16M"
    dy, saved = dy_input(), saved_for_backward(name)
    if side == "torch":
        torch = peer("torch")
        run(benchmark, torch_backward(torch, name), *as_torch(torch, dy, saved))
        return
    dx = run(benchmark, api_backward(side, name), dy, saved)
    assert dx.shape == dy.shape and dx.dtype == np.float32
