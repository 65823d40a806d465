"""The fused optimizer kernels: used, bit-identical for any thread count, in place on every
layout (views the kernel cannot take go through the reference, never a silent copy)."""
import numpy as np
import pytest

import fastdl
import fastdl.reference as ref

STEPS = {
    "sgd": (0, dict(lr=0.05)),
    "momentum": (1, dict(lr=0.05, beta=0.8)),
    "rmsprop": (1, dict(lr=0.01, beta=0.9, eps=1e-6)),
    "adam": (2, dict(t=3, lr=0.01, weight_decay=0.01)),
    "adamw": (2, dict(t=3, lr=0.01, weight_decay=0.01, decoupled_weight_decay=True)),
}


def problem(shapes, dtype, n_state, seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    states = [[np.abs(rng.standard_normal(s)).astype(dtype) for s in shapes]
              for _ in range(n_state)]
    return params, grads, states


def run(module, kind, params, grads, states):
    name = "adam" if kind == "adamw" else kind
    n_state, hyper = STEPS[kind]
    getattr(module, f"{name}_step")(params, grads, *states, **hyper)


def copies(lists):
    return [[a.copy() for a in arrays] for arrays in lists]


@pytest.mark.parametrize("name", ["sgd_step", "momentum_step", "rmsprop_step", "adam_step"])
def test_kernel_is_used(name):
    assert getattr(fastdl, name).op.has_kernel


@pytest.mark.parametrize("kind", sorted(STEPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bit_identical_for_any_thread_count(kind, dtype):
    # one big array (many slices) and many small ones, above the serial grain
    shapes = [(300_001,)] + [(97, 31)] * 40 + [(0,), (1,)]
    n_state = STEPS[kind][0]
    results = []
    old = fastdl.get_num_threads()
    try:
        for threads in (1, 2, 3):
            fastdl.set_num_threads(threads)
            params, grads, states = problem(shapes, dtype, n_state)
            run(fastdl, kind, params, grads, states)
            results.append([params] + states)
    finally:
        fastdl.set_num_threads(old)
    for other in results[1:]:
        for a_list, b_list in zip(results[0], other):
            for a, b in zip(a_list, b_list):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", sorted(STEPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference_on_mixed_layouts(kind, dtype):
    """Contiguous, strided views, F-order and a tuple with mixed dtypes in one call."""
    n_state = STEPS[kind][0]
    rng = np.random.default_rng(1)
    base = rng.standard_normal((8, 12)).astype(dtype)

    def build():
        params = [base.copy(), base.copy()[:, ::2], np.asfortranarray(base.copy()),
                  base.copy().astype(np.float32 if dtype == np.float64 else np.float64)]
        grads = [np.full(p.shape, 0.5, p.dtype) for p in params]
        states = [[np.full(p.shape, 0.25, p.dtype) for p in params] for _ in range(n_state)]
        return params, grads, states

    p1, g1, s1 = build()
    p2, g2, s2 = build()
    views = (p1[1], p1[2])
    run(fastdl, kind, p1, g1, s1)
    run(ref, kind, p2, g2, s2)
    assert p1[1] is views[0] and p1[2] is views[1]
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    for a_list, b_list in zip([p1] + s1, [p2] + s2):
        for a, b in zip(a_list, b_list):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-7)


def test_view_of_a_larger_buffer_is_updated_in_place():
    buf = np.ones((4, 6), np.float32)
    view = buf[:, 1:3]                      # non-contiguous: the reference updates it
    fastdl.sgd_step([view], [np.ones((4, 2), np.float32)], lr=0.5)
    np.testing.assert_array_equal(buf[:, 1:3], 0.5)
    np.testing.assert_array_equal(buf[:, [0, 3, 4, 5]], 1.0)


def test_aliasing_param_and_grad():
    p = np.arange(6, dtype=np.float64)
    q = p.copy()
    fastdl.sgd_step([p], [p], lr=0.5)       # the same array: element-wise safe
    ref.sgd_step([q], [q], lr=0.5)
    np.testing.assert_array_equal(p, q)
    buf = np.arange(8, dtype=np.float64)
    buf2 = buf.copy()
    fastdl.sgd_step([buf[:6]], [buf[2:]], lr=1.0)   # partial overlap: the reference's result
    ref.sgd_step([buf2[:6]], [buf2[2:]], lr=1.0)
    np.testing.assert_array_equal(buf, buf2)


def test_error_leaves_everything_untouched():
    p_ok = np.ones(5)
    p_ro = np.ones(5)
    p_ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"adam_step: params\[1\] is read-only"):
        fastdl.adam_step([p_ok, p_ro], [np.ones(5)] * 2, [np.zeros(5)] * 2, [np.zeros(5)] * 2, t=1)
    np.testing.assert_array_equal(p_ok, 1.0)
    with pytest.raises(ValueError, match=r"sgd_step: grads\[0\] must have shape"):
        fastdl.sgd_step([p_ok], [np.ones(4)], lr=0.1)
    with pytest.raises(ValueError, match="sgd_step: lr must be in"):
        fastdl.sgd_step([p_ok], [np.ones(5)], lr=-1.0)
    with pytest.raises(TypeError, match=r"sgd_step: params\[0\] must be a NumPy array"):
        fastdl.sgd_step([[1.0, 2.0]], [np.ones(2)], lr=0.1)
    np.testing.assert_array_equal(p_ok, 1.0)


def test_tuples_and_non_finite_values():
    p = np.array([np.inf, -np.inf, np.nan, 1.0], np.float32)
    q = p.copy()
    m, v = (np.zeros(4, np.float32),), (np.zeros(4, np.float32),)
    fastdl.adam_step((p,), (np.ones(4, np.float32),), m, v, t=1)
    ref.adam_step([q], [np.ones(4, np.float32)], [np.zeros(4, np.float32)],
                  [np.zeros(4, np.float32)], t=1)
    np.testing.assert_allclose(p, q, rtol=1e-6)
