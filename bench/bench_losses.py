"""BENCH.md ``smce``: softmax cross-entropy forward + backward on logits 4096×1000 (float32).

Sides: fastdl (native backend; the reference until the kernel lands), the NumPy reference,
and PyTorch (``F.cross_entropy`` + ``backward``) when it is importable (skipped otherwise).
All sides take int64 class indices and the mean reduction, and return the loss and the
gradient of the logits. The op is memory-bound: ``extra_info["bytes"]`` is the logits read
plus the gradient written.
"""
import numpy as np
import pytest

import fastdl
import fastdl.reference
from conftest import bench_array, peer

N, K = 4096, 1000
ROUNDS = 5

SIDES = ["fastdl", "reference", "torch"]


def logits_and_labels():
    labels = np.random.default_rng(1).integers(0, K, size=N)
    return bench_array((N, K), seed=0, low=-4.0, high=4.0), labels


@pytest.mark.parametrize("side", SIDES)
def test_softmax_cross_entropy(benchmark, side):
    benchmark.group = "smce fwd+bwd 4096x1000"
    logits, labels = logits_and_labels()
    benchmark.extra_info["bytes"] = 2 * logits.nbytes
    kernels = fastdl.losses._kernels          # vector level of the float32 exp
    benchmark.extra_info["isa"] = kernels.ISA if kernels is not None else None
    if side == "torch":
        torch = peer("torch")
        logits_t = torch.from_numpy(logits.copy()).requires_grad_()
        labels_t = torch.from_numpy(labels)

        def step():
            logits_t.grad = None         # no accumulation into last round's gradient
            torch.nn.functional.cross_entropy(logits_t, labels_t).backward()
        benchmark.pedantic(step, rounds=ROUNDS, iterations=1)
        return
    op = {"fastdl": fastdl, "reference": fastdl.reference}[side].softmax_cross_entropy
    loss, dlogits = benchmark.pedantic(op, args=(logits, labels), rounds=ROUNDS, iterations=1)
    assert loss.dtype == np.float32 and dlogits.shape == (N, K)
