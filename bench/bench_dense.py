"""BENCH.md ``lin``: a dense layer, x 1024×1024 and w 1024×1024 (float32).

Groups: forward, forward with the fused ReLU, and forward + backward (all three gradients,
no activation, as the PyTorch peer figure in BENCH.md). Sides per group: fastdl (native
backend; the reference until the kernel lands), the NumPy reference, and PyTorch
(``F.linear``, autograd for the backward) when it is importable (skipped otherwise).
``extra_info["gflop"]`` counts 2·N·in·out per GEMM (one forward, two backward).
"""
import pytest

import fastdl
import fastdl.reference
from conftest import bench_array, peer

N, IN, OUT = 1024, 1024, 1024
GFLOP_PER_GEMM = 2 * N * IN * OUT / 1e9
ROUNDS = 5          # each GEMM takes ~15-30 ms: a few rounds give a stable median

SIDES = ["fastdl", "reference", "torch"]


def layer():
    """x (N, in), w (out, in), b (out,), dy (N, out): shared read-only inputs."""
    return (bench_array((N, IN), seed=0), bench_array((OUT, IN), seed=1),
            bench_array((OUT,), seed=2), bench_array((N, OUT), seed=3))


def api(side):
    return {"fastdl": fastdl, "reference": fastdl.reference}[side]


def run(benchmark, fn, gemms):
    benchmark.extra_info["gflop"] = gemms * GFLOP_PER_GEMM
    return benchmark.pedantic(fn, rounds=ROUNDS, iterations=1)


def torch_layer(requires_grad):
    torch = peer("torch")
    # Writeable copies: torch.from_numpy warns on read-only arrays.
    x, w, b, dy = (torch.from_numpy(a.copy()) for a in layer())
    for parameter in (x, w, b):
        parameter.requires_grad_(requires_grad)
    return x, w, b, dy


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("activation", [None, "relu"], ids=["fwd", "fwd+relu"])
def test_linear_forward(benchmark, side, activation):
    benchmark.group = "lin fwd" + ("+relu" if activation else "") + " 1024x1024x1024"
    if side == "torch":
        torch = peer("torch")
        x, w, b, _ = torch_layer(requires_grad=False)
        act = torch.relu if activation else (lambda t: t)
        with torch.no_grad():
            run(benchmark, lambda: act(torch.nn.functional.linear(x, w, b)), gemms=1)
        return
    x, w, b, _ = layer()
    y = run(benchmark, lambda: api(side).linear(x, w, b, activation=activation), gemms=1)
    assert y.shape == (N, OUT)


@pytest.mark.parametrize("side", SIDES)
def test_linear_forward_backward(benchmark, side):
    benchmark.group = "lin fwd+bwd 1024x1024x1024"
    if side == "torch":
        torch = peer("torch")
        x, w, b, dy = torch_layer(requires_grad=True)

        def step():
            for t in (x, w, b):
                t.grad = None            # no accumulation into last round's gradients
            torch.nn.functional.linear(x, w, b).backward(dy)
        run(benchmark, step, gemms=3)
        return
    ops = api(side)
    x, w, b, dy = layer()

    def step():
        ops.linear(x, w, b)
        return ops.linear_backward(dy, x, w)
    dx, dw, db = run(benchmark, step, gemms=3)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
