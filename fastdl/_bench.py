"""``python -m fastdl bench``: one table of fastdl against the reference and the peers.

Each case times fastdl (native backend), the NumPy reference and every installed peer
(PyTorch CPU, OpenCV) on the BENCH.md shape, runs of the sides alternated in one process, and
shows the median of ``--repeats`` runs, the speed ratio peer/fastdl (> 1: fastdl faster) and
fastdl's achieved GB/s or GFLOP/s as a share of this machine's limits, measured at the start
(NumPy's sgemm rate and a one-pass streaming bandwidth; BENCH.md quotes ~26–28 GB/s and
~193 GFLOP/s for its 2-thread Zen 3). Bytes count each array read or written once (no
write-allocate). ``--json PATH`` also writes the results. ``pytest bench`` holds the full
per-family suites; this is the summary.
"""
import statistics
import time

import numpy as np

import fastdl
import fastdl.reference as ref

LIMITS = {"GB/s": 27.0, "GFLOP/s": 193.0}   # 2-thread machine limits from BENCH.md


def measure_limits(threads, quick):
    """This machine's limits, measured now: the sgemm rate of NumPy's BLAS (square float32
    matmul) and the memory bandwidth of a one-pass stream a[i] = b[i] + c[i] (STREAM "add":
    two arrays read, one written, each counted once — the BENCH.md convention) over arrays
    far larger than the caches, split across ``threads`` Python threads (NumPy releases the
    GIL)."""
    import concurrent.futures
    n = 1024 if quick else 2048
    a = np.ones((n, n), np.float32)
    a @ a
    flops = max(2 * n ** 3 / _time(lambda: a @ a) for _ in range(3))
    m = (1 << 22) if quick else (1 << 24)        # float64 elements per array
    b, c, out = np.ones(m), np.ones(m), np.empty(m)
    parts = np.array_split(np.arange(m), threads)
    bounds = [(int(p[0]), int(p[-1]) + 1) for p in parts if len(p)]

    def stream_add(lo, hi):
        np.add(b[lo:hi], c[lo:hi], out=out[lo:hi])

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        def run():
            list(pool.map(lambda bd: stream_add(*bd), bounds))
        run()
        bandwidth = max(3 * 8 * m / _time(run) for _ in range(3))
    return {"GFLOP/s": flops / 1e9, "GB/s": bandwidth / 1e9}


def _torch(threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def _cv2(threads):
    try:
        import cv2
    except ImportError:
        return None
    cv2.setNumThreads(threads)
    return cv2


def _arr(shape, seed=0, dtype=np.float32, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def _boxes(n, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.uniform(0, 1000, size=(n, 2))
    wh = rng.uniform(10, 100, size=(n, 2))
    return (np.concatenate([c - wh / 2, c + wh / 2], 1).astype(np.float32),
            rng.uniform(0, 1, n).astype(np.float32))


def build_cases(quick, threads):
    """List of (id, shape text, {side: callable}, (unit, amount of work))."""
    torch = _torch(threads)
    cv2 = _cv2(threads)
    s = 4 if quick else 1          # shrink factor of the batch in quick mode
    cases = []

    def add(case_id, shape_text, sides, unit, amount):
        cases.append((case_id, shape_text, {k: v for k, v in sides.items() if v}, (unit, amount)))

    # conv-a forward, NCHW
    x = _arr((32 // s, 64, 56, 56))
    w = _arr((64, 64, 3, 3), 1) * 0.05
    flops = 2 * x.shape[0] * 64 * 56 * 56 * 64 * 9
    tx, tw = (torch.from_numpy(x), torch.from_numpy(w)) if torch else (None, None)
    add("conv-a fwd NCHW", f"{x.shape} * (64,64,3,3) p1", {
        "fastdl": lambda: fastdl.conv2d(x, w, padding=1),
        "reference": lambda: ref.conv2d(x, w, padding=1),
        "torch": torch and (lambda: torch.nn.functional.conv2d(tx, tw, padding=1)),
    }, "GFLOP/s", flops)

    # conv-a forward, NHWC (PyTorch channels_last)
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    wh = np.ascontiguousarray(w.transpose(2, 3, 1, 0))
    if torch:
        txh = tx.contiguous(memory_format=torch.channels_last)
        twh = tw.contiguous(memory_format=torch.channels_last)
    add("conv-a fwd NHWC", f"{xh.shape} * (3,3,64,64) p1", {
        "fastdl": lambda: fastdl.conv2d(xh, wh, padding=1, layout="NHWC"),
        "torch": torch and (lambda: torch.nn.functional.conv2d(txh, twh, padding=1)),
    }, "GFLOP/s", flops)

    # conv-c forward, NCHW
    xc = _arr((32 // s, 128, 28, 28), 14)
    wc = _arr((128, 128, 3, 3), 15) * 0.03
    if torch:
        txc, twc = torch.from_numpy(xc), torch.from_numpy(wc)
    add("conv-c fwd NCHW", f"{xc.shape} * (128,128,3,3) p1", {
        "fastdl": lambda: fastdl.conv2d(xc, wc, padding=1),
        "torch": torch and (lambda: torch.nn.functional.conv2d(txc, twc, padding=1)),
    }, "GFLOP/s", 2 * xc.shape[0] * 128 * 28 * 28 * 128 * 9)

    # pool-a max 2x2 forward, NCHW
    xp = _arr((32 // s, 64, 112, 112), 2)
    txp = torch.from_numpy(xp) if torch else None
    add("pool-a max fwd NCHW", f"{xp.shape} k2 s2", {
        "fastdl": lambda: fastdl.max_pool2d(xp, 2),
        "reference": lambda: ref.max_pool2d(xp, 2),
        "torch": torch and (lambda: torch.nn.functional.max_pool2d(txp, 2)),
    }, "GB/s", xp.nbytes * 1.25)

    add("pool-c avg fwd NCHW", f"{xp.shape} k2 s2", {
        "fastdl": lambda: fastdl.avg_pool2d(xp, 2),
        "torch": torch and (lambda: torch.nn.functional.avg_pool2d(txp, 2)),
    }, "GB/s", xp.nbytes * 1.25)

    # bn-a training forward
    xb = _arr((32 // s, 64, 56, 56), 3)
    g, b = np.ones(64, np.float32), np.zeros(64, np.float32)
    txb = torch.from_numpy(xb) if torch else None
    tg, tb = (torch.from_numpy(g), torch.from_numpy(b)) if torch else (None, None)
    add("bn-a train fwd", str(xb.shape), {
        "fastdl": lambda: fastdl.batch_norm(xb, g, b),
        "reference": lambda: ref.batch_norm(xb, g, b),
        "torch": torch and (lambda: torch.nn.functional.batch_norm(txb, None, None, tg, tb,
                                                                   training=True)),
    }, "GB/s", xb.nbytes * 3)

    # activations (allocation included on every side, as BENCH.md's peer figures)
    xa = _arr((16_777_216 // s,), 4, low=-4, high=4)
    txa = torch.from_numpy(xa) if torch else None
    for name in ("relu", "sigmoid", "tanh"):
        add(f"act {name} fwd", f"{xa.size:,} elements", {
            "fastdl": lambda name=name: getattr(fastdl, name)(xa),
            "reference": lambda name=name: getattr(ref, name)(xa),
            "torch": torch and (lambda name=name: getattr(torch, name)(txa)),
        }, "GB/s", xa.nbytes * 2)

    # dropout forward
    add("drop fwd keep 0.8", f"{xa.size:,} elements", {
        "fastdl": lambda: fastdl.dropout(xa, 0.8, seed=0),
        "reference": lambda: ref.dropout(xa, 0.8, seed=0),
        "torch": torch and (lambda: torch.nn.functional.dropout(txa, 0.2, training=True)),
    }, "GB/s", xa.nbytes * 2 + xa.size)

    # softmax cross-entropy forward + backward
    logits = _arr((4096 // s, 1000), 5, low=-5, high=5)
    labels = np.random.default_rng(6).integers(0, 1000, logits.shape[0])
    if torch:
        tl, tlab = torch.from_numpy(logits), torch.from_numpy(labels)

        def torch_smce():
            z = tl.detach().requires_grad_()
            torch.nn.functional.cross_entropy(z, tlab).backward()
    add("smce fwd+bwd", str(logits.shape), {
        "fastdl": lambda: fastdl.softmax_cross_entropy(logits, labels),
        "reference": lambda: ref.softmax_cross_entropy(logits, labels),
        "torch": torch and torch_smce,
    }, "GB/s", logits.nbytes * 2)

    # linear forward + ReLU
    xl = _arr((1024 // s, 1024), 7)
    wl = _arr((1024, 1024), 8) * 0.03
    bl = _arr((1024,), 9)
    if torch:
        txl, twl, tbl = (torch.from_numpy(a) for a in (xl, wl, bl))
    add("lin fwd+relu", f"{xl.shape} @ {wl.shape}.T", {
        "fastdl": lambda: fastdl.linear(xl, wl, bl, activation="relu"),
        "reference": lambda: ref.linear(xl, wl, bl, activation="relu"),
        "torch": torch and (lambda: torch.relu(torch.nn.functional.linear(txl, twl, tbl))),
    }, "GFLOP/s", 2 * xl.shape[0] * 1024 * 1024)

    # adam-a: one array of 10M parameters (state evolves; the timing does not depend on it)
    n = 10_000_000 // s
    p, gr = _arr((n,), 10), _arr((n,), 11) * 1e-2
    m, v = np.zeros_like(p), np.zeros_like(p)
    pr, mr, vr = p.copy(), m.copy(), v.copy()
    step = {"t": 0}

    def adam(mod, params, ms, vs):
        step["t"] += 1
        mod.adam_step([params], [gr], [ms], [vs], t=step["t"])
    if torch:
        tp = torch.from_numpy(p.copy()).requires_grad_()
        tp.grad = torch.from_numpy(gr)
        topt = torch.optim.Adam([tp], lr=1e-3, fused=True)
    add("adam-a step", f"{n:,} params", {
        "fastdl": lambda: adam(fastdl, p, m, v),
        "reference": lambda: adam(ref, pr, mr, vr),
        "torch fused": torch and (lambda: topt.step()),
    }, "GB/s", 28 * n)

    # adam-b: 200 arrays of 50,000 parameters
    pb = [_arr((50_000 // s,), 20 + i) for i in range(200)]
    gb = [a * 1e-2 for a in pb]
    mb, vb = [np.zeros_like(a) for a in pb], [np.zeros_like(a) for a in pb]
    stepb = {"t": 0}

    def adam_b():
        stepb["t"] += 1
        fastdl.adam_step(pb, gb, mb, vb, t=stepb["t"])
    if torch:
        tpb = [torch.from_numpy(a.copy()).requires_grad_() for a in pb]
        for tp_, g_ in zip(tpb, gb):
            tp_.grad = torch.from_numpy(g_)
        toptb = torch.optim.Adam(tpb, lr=1e-3, fused=True)
    add("adam-b step", f"200 x {pb[0].size:,} params", {
        "fastdl": adam_b,
        "torch fused": torch and (lambda: toptb.step()),
    }, "GB/s", 28 * 200 * pb[0].size)

    # nms-a and iou
    boxes, scores = _boxes(1000)
    if torch:
        try:
            import torchvision
            tvb, tvs = torch.from_numpy(boxes), torch.from_numpy(scores)
            tv_nms = lambda: torchvision.ops.nms(tvb, tvs, 0.5)  # noqa: E731
        except Exception:
            tv_nms = None
    else:
        tv_nms = None
    if cv2:
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1).tolist()
        sl = scores.tolist()
        cv_nms = lambda: cv2.dnn.NMSBoxes(xywh, sl, 0.0, 0.5)  # noqa: E731
    else:
        cv_nms = None
    add("nms-a", "1,000 random boxes", {
        "fastdl": lambda: fastdl.nms(boxes, scores, 0.5),
        "reference": lambda: ref.nms(boxes, scores, 0.5),
        "torchvision": tv_nms, "opencv": cv_nms,
    }, "", 0)
    bi = _boxes(2000 // s, 12)[0]
    add("iou 2000x2000", f"{len(bi)} x {len(bi)}", {
        "fastdl": lambda: fastdl.box_iou(bi, bi),
        "reference": lambda: ref.box_iou(bi, bi),
    }, "GB/s", len(bi) ** 2 * 4)

    # aug: horizontal flip of a uint8 batch
    xi = np.random.default_rng(13).integers(0, 256, size=(256 // s, 224, 224, 3), dtype=np.uint8)
    add("aug flip", f"{xi.shape} uint8", {
        "fastdl": lambda: fastdl.flip(xi),
        "reference": lambda: ref.flip(xi),
        "numpy idiom": lambda: xi[:, :, ::-1].copy(),
    }, "GB/s", xi.nbytes * 2)
    return cases


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_bench(args):
    """Entry of ``python -m fastdl bench``."""
    fastdl.set_num_threads(args.threads)
    cases = [c for c in build_cases(args.quick, args.threads)
             if args.only is None or args.only in c[0]]
    limits = measure_limits(args.threads, args.quick)
    print(f"fastdl {fastdl.__version__} bench: {args.threads} thread(s) on every side, median "
          f"of {args.repeats} alternated runs (reference: at most 3); ratio = side / fastdl")
    print(f"machine limits measured now: sgemm {limits['GFLOP/s']:.0f} GFLOP/s, stream add "
          f"{limits['GB/s']:.1f} GB/s (BENCH.md: {LIMITS['GFLOP/s']:.0f}, {LIMITS['GB/s']:.0f})")
    header = f"{'case':22s} {'shape':32s} {'fastdl ms':>10s}  {'rate (% of limit)':>22s}  peers"
    print(header)
    print("-" * len(header))
    rows = []
    for case_id, shape, sides, (unit, amount) in cases:
        for fn in sides.values():            # warm-up: allocations, lazy imports, caches
            fn()
        samples = {name: [] for name in sides}
        for r in range(args.repeats):
            for name, fn in sides.items():
                if name == "reference" and r >= 3:
                    continue
                samples[name].append(_time(fn))
        med = {name: statistics.median(t) for name, t in samples.items()}
        mine = med["fastdl"]
        rate = amount / mine / 1e9 if unit else None
        rate_text = f"{rate:7.1f} {unit} ({100 * rate / limits[unit]:3.0f}%)" if unit else ""
        peers = "  ".join(f"{name} {t * 1e3:.2f} ms = {t / mine:.2f}x"
                          for name, t in med.items() if name != "fastdl")
        print(f"{case_id:22s} {shape:32s} {mine * 1e3:10.2f}  {rate_text:>18s}  {peers}",
              flush=True)
        rows.append({"case": case_id, "shape": shape, "fastdl_ms": mine * 1e3,
                     "rate": rate, "unit": unit or None,
                     "fraction_of_limit": rate / limits[unit] if unit else None,
                     "peers": {name: {"ms": t * 1e3, "ratio": t / mine}
                               for name, t in med.items() if name != "fastdl"}})
    if args.json:
        import json
        with open(args.json, "w") as f:
            json.dump({"fastdl": fastdl.__version__, "threads": args.threads,
                       "repeats": args.repeats, "quick": bool(args.quick),
                       "limits": limits, "cases": rows}, f, indent=1)
        print(f"wrote {args.json}")
    return 0
