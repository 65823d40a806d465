"""BENCH.md ``drop``: inverted dropout on 16,777,216 float32 elements, keep_prob 0.8.

Groups ``"drop fwd"`` and ``"drop bwd"``, each with fastdl (native backend:
``fastdl/_dropout.pyx``), the NumPy reference and PyTorch (``F.dropout`` forward; the
backward is ``aten.native_dropout_backward``, what autograd runs; skipped when torch is
missing). ``extra_info["gbytes"]``: x read, y written and the 1-byte mask written (forward);
dy and the mask read, dx written (backward); each stream counted once.
"""
import functools

import numpy as np
import pytest

import fastdl
import fastdl.reference
from conftest import bench_array, peer

SIZE = 16_777_216
KEEP_PROB = 0.8
SEED = 0
SIDES = ("fastdl", "reference", "torch")
ROUNDS = 5                    # the reference takes ~1 s per forward call
GBYTES = (4 + 4 + 1) * SIZE / 1e9


def activations():
    return bench_array((SIZE,), seed=0)


def upstream():
    return bench_array((SIZE,), seed=1)


@functools.lru_cache(maxsize=None)
def keep_mask():
    """The forward's mask, computed once and shared by the fastdl and reference backwards."""
    _, mask = fastdl.dropout(activations(), KEEP_PROB, seed=SEED)
    mask.flags.writeable = False
    return mask


def numpy_call(side, direction):
    ops = {"fastdl": fastdl, "reference": fastdl.reference}[side]
    if direction == "fwd":
        x = activations()
        return lambda: ops.dropout(x, KEEP_PROB, seed=SEED)
    dy, mask = upstream(), keep_mask()
    return lambda: ops.dropout_backward(dy, mask, KEEP_PROB)


def torch_call(direction):
    torch = peer("torch")
    x = torch.from_numpy(activations().copy())   # writeable copy: from_numpy warns on read-only
    p_drop = 1.0 - KEEP_PROB
    if direction == "fwd":
        return torch.no_grad()(lambda: torch.nn.functional.dropout(x, p=p_drop, training=True))
    aten = torch.ops.aten
    _, mask = aten.native_dropout(x, p_drop, True)
    dy = torch.from_numpy(upstream().copy())
    return lambda: aten.native_dropout_backward(dy, mask, 1.0 / KEEP_PROB)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("direction", ["fwd", "bwd"])
def test_dropout(benchmark, direction, side):
    benchmark.group = f"drop {direction}"
    fn = torch_call(direction) if side == "torch" else numpy_call(side, direction)
    benchmark.extra_info["gbytes"] = GBYTES
    benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=1)
