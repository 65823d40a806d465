"""BENCH.md ``adam-a`` (one array of 10,000,000 float32 params) and ``adam-b`` (200 arrays of
50,000): one optimizer step; plus SGD, momentum and RMSprop on the adam-a shape.

Sides per group: fastdl (``fastdl.optim`` classes, which call the dispatched steps: the
reference until the fused kernels land), the NumPy reference (``fastdl.reference.optim``), and
PyTorch when importable (skipped otherwise): ``torch.optim.Adam(fused=True)`` and
``(foreach=True)``; ``SGD`` (plain, and with ``momentum=dampening=0.9``, which is our
``v = 0.9 v + 0.1 g`` update) fused and foreach; ``RMSprop(alpha=0.999)`` foreach (it has no
fused form). Each side gets its gradients once and times ``step`` alone. Memory-bound:
``extra_info["bytes"]`` counts the arrays read and written per step (28 bytes per parameter
for Adam; no write-allocate counted).
"""
import numpy as np
import pytest

import fastdl.optim
import fastdl.reference.optim
from conftest import bench_array, peer

ROUNDS = 5          # a step moves 120-280 MB; the reference side takes ~0.5 s on adam-a
LR = 1e-3

SHAPES = {"adam-a": [(10_000_000,)], "adam-b": [(50_000,)] * 200}

# name -> (fastdl class name, its kwargs, torch class name, torch kwargs, bytes per param,
#          torch implementations available)
OPTIMIZERS = {
    "adam": ("Adam", {"lr": LR}, "Adam", {"lr": LR}, 28, ("fused", "foreach")),
    "sgd": ("SGD", {"lr": LR}, "SGD", {"lr": LR}, 12, ("fused", "foreach")),
    "momentum": ("Momentum", {"lr": LR, "beta": 0.9}, "SGD",
                 {"lr": LR, "momentum": 0.9, "dampening": 0.9}, 20, ("fused", "foreach")),
    "rmsprop": ("RMSprop", {"lr": LR, "beta": 0.999}, "RMSprop", {"lr": LR, "alpha": 0.999},
                20, ("foreach",)),
}

CASES = [("adam", "adam-a"), ("adam", "adam-b"), ("sgd", "adam-a"), ("momentum", "adam-a"),
         ("rmsprop", "adam-a")]
SIDES = ["fastdl", "reference", "torch-fused", "torch-foreach"]


def make_arrays(shape_id):
    """Writeable parameter copies and the shared read-only gradients (seeded, float32)."""
    params = [bench_array(s, seed=2 * i).copy() for i, s in enumerate(SHAPES[shape_id])]
    grads = [bench_array(s, seed=2 * i + 1) for i, s in enumerate(SHAPES[shape_id])]
    return params, grads


def torch_step(side, optimizer, params, grads):
    """A PyTorch optimizer over ``params`` with ``.grad`` set once; returns its ``step``."""
    torch = peer("torch")
    impl = side.split("-")[1]
    _, _, torch_name, torch_kwargs, _, available = OPTIMIZERS[optimizer]
    if impl not in available:
        pytest.skip(f"torch.optim.{torch_name} has no {impl} implementation")
    tensors = [torch.from_numpy(p).requires_grad_() for p in params]
    for t, g in zip(tensors, grads):
        t.grad = torch.from_numpy(g.copy())
    opt = getattr(torch.optim, torch_name)(tensors, **torch_kwargs, **{impl: True})
    return opt.step


def fastdl_step(side, optimizer, params, grads):
    module = fastdl.optim if side == "fastdl" else fastdl.reference.optim
    class_name, kwargs = OPTIMIZERS[optimizer][:2]
    opt = getattr(module, class_name)(params, **kwargs)
    return lambda: opt.step(grads)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("optimizer,shape_id", CASES)
def test_step(benchmark, optimizer, shape_id, side):
    benchmark.group = shape_id if optimizer == "adam" else f"{optimizer} {shape_id}"
    params, grads = make_arrays(shape_id)
    make = torch_step if side.startswith("torch") else fastdl_step
    step = make(side, optimizer, params, grads)
    n_params = sum(p.size for p in params)
    benchmark.extra_info["bytes"] = OPTIMIZERS[optimizer][4] * n_params
    # One warm-up step: PyTorch allocates its state lazily at the first step.
    benchmark.pedantic(step, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert all(np.isfinite(p[:10]).all() for p in params[:3])
