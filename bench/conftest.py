"""Shared benchmark fixtures: BENCH.md inputs built once, optional peers, thread setup.

Run ``pytest bench`` (add ``--benchmark-autosave`` to keep the run, ``--benchmark-compare``
to compare with the last saved one). Peers (PyTorch, OpenCV, torchvision) are optional: a
benchmark whose peer is not installed is skipped, never faked. Every group holds fastdl (the
native backend), the NumPy reference and the peers for one op and shape, so the ratios are
measured in one process. Both sides use ``BENCH_THREADS`` threads (default 2).
"""
import functools
import importlib
import os

import numpy as np
import pytest

BENCH_THREADS = int(os.environ.get("BENCH_THREADS", "2"))


def peer(name):
    """Import an optional peer module or skip the benchmark."""
    try:
        mod = importlib.import_module(name)
    except Exception as exc:  # ImportError, or a broken install (e.g. torchvision ops)
        pytest.skip(f"peer {name} not available: {exc}")
    if name == "torch":
        mod.set_num_threads(BENCH_THREADS)
    if name == "cv2":
        mod.setNumThreads(BENCH_THREADS)
    return mod


@functools.lru_cache(maxsize=32)
def bench_array(shape, dtype="float32", seed=0, low=-1.0, high=1.0):
    """A read-only seeded uniform array, built once per session and shared by all sides."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(low, high, size=shape).astype(dtype)
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=8)
def bench_boxes(n, seed=0, size=1000.0, max_wh=100.0, clusters=0):
    """``n`` random xyxy float32 boxes and scores (``clusters`` > 0: tight clusters)."""
    rng = np.random.default_rng(seed)
    if clusters:
        centres = rng.uniform(0, size, size=(clusters, 2))
        c = centres[rng.integers(0, clusters, n)] + rng.normal(0, 2.0, size=(n, 2))
    else:
        c = rng.uniform(0, size, size=(n, 2))
    wh = rng.uniform(10, max_wh, size=(n, 2))
    boxes = np.concatenate([c - wh / 2, c + wh / 2], axis=1).astype(np.float32)
    scores = rng.uniform(0, 1, size=n).astype(np.float32)
    return boxes, scores


@pytest.fixture(scope="session", autouse=True)
def _bench_threads():
    """Give fastdl the same thread count as the peers."""
    import fastdl
    old = fastdl.get_num_threads()
    fastdl.set_num_threads(BENCH_THREADS)
    yield
    fastdl.set_num_threads(old)
