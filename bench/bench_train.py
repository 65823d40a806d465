"""BENCH.md ``train``: one training epoch of a LeNet-style CNN, 60,000 × 1×28×28, batch 64.

The network (LeNet-5): conv 5×5 1→6 pad 2 → ReLU → max-pool 2 → conv 5×5 6→16 → ReLU →
max-pool 2 → dense 400→120 → ReLU → 120→84 → ReLU → 84→10, softmax cross-entropy, Adam
(lr 1e-3), float32. Data: synthetic uniform images and random labels (the timing does not
depend on them), shuffled every epoch on both sides.

Sides: fastdl (``fastdl.nn.fit``, native backend, NCHW and NHWC), the NumPy reference
(NCHW), and the same network in PyTorch eager (NCHW, ``torch.optim.Adam``, the same batch
and threads; skipped when torch is missing).

Timing a whole epoch of the reference takes minutes, so each side trains on the first
``batches`` mini-batches of the set and the time is scaled to the 938 batches of an epoch
(``extra_info["scale"]``; ``extra_info["epoch_s"]`` is the scaled epoch time). Defaults: the
full epoch for fastdl and torch, 40 batches for the reference, and 8 batches for every side
under ``--benchmark-disable`` (the CI smoke run, well under a minute).
Environment: ``BENCH_TRAIN_BATCHES`` overrides the number of batches of every side.

Run as a script for the BENCH.md ratio (alternated fastdl / torch runs in one process, the
median of ``--pairs`` pairs)::

    python bench/bench_train.py --pairs 5 --batches 200 [--layout NHWC] [--reference]

On a shared (loaded) machine, two thread pools fight for the 2 cores: OpenMP's spinning
waiters (fastdl's and torch's) and OpenBLAS's own threads (NumPy GEMMs inside fastdl's
``linear``). Measured here at load ~5: fastdl 84 ms/batch by default, 10 ms/batch with
``OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1``; torch also drops from ~70 to 7.5 s per
epoch. Quote ratios with the same environment on both sides (the script prints it).
"""
import functools
import math
import os
import sys
import time

import numpy as np
import pytest

import fastdl
from fastdl import nn

N_SAMPLES, BATCH, IMAGE, CLASSES = 60_000, 64, 28, 10
EPOCH_BATCHES = math.ceil(N_SAMPLES / BATCH)
LR = 1e-3


@functools.lru_cache(maxsize=1)
def dataset():
    """The synthetic training set: X (60000, 1, 28, 28) float32 in [0, 1), y int64."""
    rng = np.random.default_rng(0)
    X = rng.random((N_SAMPLES, 1, IMAGE, IMAGE), dtype=np.float32)
    y = rng.integers(0, CLASSES, N_SAMPLES)
    return X, y


def lenet5(layout="NCHW", seed=0):
    """The fastdl model."""
    kw = dict(layout=layout)
    return nn.Sequential([
        nn.Conv2D(1, 6, 5, padding=2, rng=seed, **kw), nn.ReLU(), nn.MaxPool2D(2, **kw),
        nn.Conv2D(6, 16, 5, rng=seed + 1, **kw), nn.ReLU(), nn.MaxPool2D(2, **kw),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120, rng=seed + 2), nn.ReLU(),
        nn.Linear(120, 84, rng=seed + 3), nn.ReLU(),
        nn.Linear(84, CLASSES, rng=seed + 4)])


def fastdl_epoch(batches, layout="NCHW"):
    """Train a fresh model on ``batches`` mini-batches; returns the seconds of the epoch."""
    X, y = dataset()
    n = min(N_SAMPLES, batches * BATCH)
    X = X[:n] if layout == "NCHW" else np.ascontiguousarray(X[:n].transpose(0, 2, 3, 1))
    model = lenet5(layout)
    history = nn.fit(model, X, y[:n], epochs=1, batch_size=BATCH,
                     optimizer=fastdl.optim.Adam(model.parameters(), lr=LR), seed=0,
                     progress=False)
    return history["time"][0]


def torch_epoch(torch, batches):
    """The same epoch in PyTorch eager; returns the seconds (shuffle and batching included)."""
    X, y = dataset()
    n = min(N_SAMPLES, batches * BATCH)
    Xt, yt = torch.from_numpy(X[:n]), torch.from_numpy(y[:n])
    tnn = torch.nn
    torch.manual_seed(0)
    model = tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
        tnn.Linear(84, CLASSES))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = tnn.CrossEntropyLoss()
    start = time.perf_counter()
    order = torch.randperm(n)
    for i in range(0, n, BATCH):
        idx = order[i:i + BATCH]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(Xt[idx]), yt[idx])
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def _batches(benchmark, default):
    if "BENCH_TRAIN_BATCHES" in os.environ:
        return int(os.environ["BENCH_TRAIN_BATCHES"])
    return 8 if benchmark.disabled else default


def _run(benchmark, epoch, batches):
    scale = EPOCH_BATCHES / min(batches, EPOCH_BATCHES)
    seconds = []
    benchmark.pedantic(lambda: seconds.append(epoch()), rounds=1, iterations=1)
    benchmark.extra_info.update(batches=batches, scale=scale,
                                epoch_s=seconds[-1] * scale if seconds else None)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_train_fastdl(benchmark, layout):
    benchmark.group = "train LeNet-5 epoch 60000x1x28x28 b64"
    batches = _batches(benchmark, EPOCH_BATCHES)
    _run(benchmark, lambda: fastdl_epoch(batches, layout), batches)


def test_train_reference(benchmark):
    benchmark.group = "train LeNet-5 epoch 60000x1x28x28 b64"
    batches = _batches(benchmark, 40)

    def epoch():
        with fastdl.backend("numpy"):
            return fastdl_epoch(batches)
    _run(benchmark, epoch, batches)


def test_train_torch(benchmark):
    from conftest import peer
    torch = peer("torch")
    benchmark.group = "train LeNet-5 epoch 60000x1x28x28 b64"
    batches = _batches(benchmark, EPOCH_BATCHES)
    _run(benchmark, lambda: torch_epoch(torch, batches), batches)


def main(argv=None):
    """Alternated fastdl / torch (and optionally reference) epochs; prints the medians."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--batches", type=int, default=EPOCH_BATCHES)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layout", default="NCHW", choices=("NCHW", "NHWC"))
    parser.add_argument("--reference", action="store_true",
                        help="also time the NumPy reference (on --reference-batches)")
    parser.add_argument("--reference-batches", type=int, default=20)
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    fastdl.set_num_threads(args.threads)
    dataset()
    fastdl_epoch(4, args.layout), torch_epoch(torch, 4)                 # warm-up
    scale = EPOCH_BATCHES / args.batches
    times = {"fastdl": [], "torch": [], "reference": []}
    for _ in range(args.pairs):
        times["fastdl"].append(fastdl_epoch(args.batches, args.layout) * scale)
        times["torch"].append(torch_epoch(torch, args.batches) * scale)
        if args.reference:
            with fastdl.backend("numpy"):
                times["reference"].append(fastdl_epoch(args.reference_batches)
                                          * EPOCH_BATCHES / args.reference_batches)
    med = {k: float(np.median(v)) for k, v in times.items() if v}
    kernels = sorted(k for k, v in fastdl._REGISTRY.items() if v.has_kernel)
    print(f"native kernels: {', '.join(kernels) or 'none'}")
    env = {k: os.environ.get(k, "unset") for k in ("OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS")}
    print("environment: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    print(f"epoch time (scaled from {args.batches} batches, median of {args.pairs}, "
          f"{args.threads} threads, layout {args.layout}):")
    for k, v in med.items():
        print(f"  {k:9s} {v:8.2f} s   runs: {' '.join(f'{t:.2f}' for t in times[k])}")
    print(f"  torch / fastdl = {med['torch'] / med['fastdl']:.2f}x")
    if "reference" in med:
        print(f"  reference / fastdl = {med['reference'] / med['fastdl']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
