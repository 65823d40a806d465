"""BENCH.md ``aug``: a 256×224×224×3 uint8 NHWC batch through flip, random crop and colour shift.

Sides per group: fastdl (native backend, a new output array per call), fastdl-out (the same
into a preallocated ``out=``: no page faults on a fresh 38.5 MB output), the NumPy reference,
the plain NumPy idiom a user would write, PyTorch (``torch.flip`` / an int16 add + clamp on
the uint8 tensor), OpenCV (``cv2.flip`` / saturating ``cv2.add`` of a per-channel scalar on
the batch viewed as one (N*H, W, C) image), and torchvision.transforms.v2 when it is
importable (skipped otherwise). The crop is the CIFAR/ImageNet "pad then crop back" form:
size 224 with padding 4, which exercises the padding path at the full output size.
torchvision has no per-channel additive shift, so colour shift has no torchvision side.
Every op is memory-bound: ``extra_info["bytes"]`` is the input read plus the output written
(each once; a fresh output's page zeroing by the kernel is not counted).
"""
import numpy as np
import pytest

import fastdl
import fastdl.reference
from conftest import bench_array, peer

SHAPE = (256, 224, 224, 3)
CROP_SIZE, CROP_PADDING = 224, 4
SHIFTS = np.array([12, -20, 31], dtype=np.int16)
ROUNDS = 5          # each call moves ~77 MB: a few rounds give a stable median

SIDES = ["fastdl", "fastdl-out", "reference", "numpy"]


def images():
    return bench_array(SHAPE, "uint8", 0, 0.0, 256.0)


def run(benchmark, fn, *args, **kwargs):
    x = args[0]
    benchmark.extra_info["bytes"] = 2 * x.nbytes
    return benchmark.pedantic(fn, args=args, kwargs=kwargs, rounds=ROUNDS, iterations=1)


def torch_nhwc(x):
    """The batch as a (writeable) NHWC torch tensor."""
    torch = peer("torch")
    return torch.from_numpy(np.array(x))


def cv_image(x):
    """The NHWC batch as one (N*H, W, C) OpenCV image (a view: rows are independent)."""
    return np.ascontiguousarray(x).reshape(-1, x.shape[2], x.shape[3])


def torch_images(x):
    """torchvision wants (..., C, H, W): an NCHW view of the NHWC buffer (no copy)."""
    torch = peer("torch")
    return torch.from_numpy(np.array(x)).permute(0, 3, 1, 2)   # writeable copy: torch needs one


def numpy_random_crop(x, size, padding, seed):
    """The usual NumPy idiom: pad the batch, then slice each image at its own offset."""
    rng = np.random.default_rng(seed)
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    room = padded.shape[1] - size + 1
    out = np.empty((x.shape[0], size, size, x.shape[3]), x.dtype)
    for i, (top, left) in enumerate(rng.integers(0, room, size=(x.shape[0], 2))):
        out[i] = padded[i, top:top + size, left:left + size]
    return out


@pytest.mark.parametrize("side", SIDES + ["torch", "opencv", "torchvision"])
def test_flip(benchmark, side):
    benchmark.group = "aug flip NHWC uint8 256x224x224x3"
    x = images()
    if side == "torchvision":
        functional = peer("torchvision.transforms.v2.functional")
        run(benchmark, lambda t: functional.horizontal_flip(t).contiguous(), torch_images(x))
        return
    if side == "torch":
        torch = peer("torch")
        run(benchmark, lambda t: torch.flip(t, dims=[2]), torch_nhwc(x))
        return
    if side == "opencv":
        cv2 = peer("cv2")
        run(benchmark, lambda a: cv2.flip(a, 1), cv_image(x))
        return
    out = np.empty(SHAPE, np.uint8)
    fn = {"fastdl": fastdl.flip,
          "fastdl-out": lambda a: fastdl.flip(a, out=out),
          "reference": fastdl.reference.flip,
          "numpy": lambda a: a[:, :, ::-1].copy()}[side]
    y = run(benchmark, fn, x)
    assert y.shape == SHAPE


@pytest.mark.parametrize("side", SIDES + ["torchvision"])
def test_random_crop(benchmark, side):
    benchmark.group = f"aug random_crop {CROP_SIZE} pad {CROP_PADDING} NHWC uint8 256x224x224x3"
    x = images()
    if side == "torchvision":
        v2 = peer("torchvision.transforms.v2")
        crop = v2.RandomCrop(CROP_SIZE, padding=CROP_PADDING)
        # A v2 transform applied to a batch tensor crops every image at the same place, so
        # per-image offsets need one call per image.
        run(benchmark, lambda t: [crop(image) for image in t], torch_images(x))
        return
    out = np.empty((SHAPE[0], CROP_SIZE, CROP_SIZE, SHAPE[3]), np.uint8)
    fn = {"fastdl": fastdl.random_crop,
          "fastdl-out": lambda *a, **k: fastdl.random_crop(*a, out=out, **k),
          "reference": fastdl.reference.random_crop,
          "numpy": numpy_random_crop}[side]
    kwargs = {"padding": CROP_PADDING, "seed": 0}
    y = run(benchmark, fn, x, CROP_SIZE, **kwargs)
    assert y.shape == (SHAPE[0], CROP_SIZE, CROP_SIZE, SHAPE[3])


@pytest.mark.parametrize("side", SIDES + ["torch", "opencv"])
def test_color_shift(benchmark, side):
    benchmark.group = "aug color_shift NHWC uint8 256x224x224x3"
    x = images()
    if side == "torch":
        torch = peer("torch")
        shifts = torch.from_numpy(SHIFTS)
        run(benchmark, lambda t: (t.to(torch.int16) + shifts).clamp_(0, 255).to(torch.uint8),
            torch_nhwc(x))
        return
    if side == "opencv":
        cv2 = peer("cv2")
        scalar = tuple(float(s) for s in SHIFTS) + (0.0,)
        run(benchmark, lambda a: cv2.add(a, scalar), cv_image(x))
        return
    out = np.empty(SHAPE, np.uint8)
    fn = {"fastdl": fastdl.color_shift,
          "fastdl-out": lambda a, s: fastdl.color_shift(a, s, out=out),
          "reference": fastdl.reference.color_shift,
          "numpy": lambda a, s: np.clip(a.astype(np.int16) + s, 0, 255).astype(np.uint8)}[side]
    y = run(benchmark, fn, x, SHIFTS)
    assert y.shape == SHAPE and y.dtype == np.uint8
