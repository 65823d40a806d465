"""Optimizer steps and classes against the course's step-by-step updates (and PyTorch's Adam /
AdamW when installed), state round trips, in-place semantics and bad input."""
import importlib

import numpy as np
import pytest

import fastdl
import fastdl.reference
from conftest import FLOATS

N_STEPS = 100
# Float32 state is rounded after every step on both sides; float64 differs only in the order
# of operations.
TRAJ_TOL = {np.dtype(np.float32): dict(rtol=1e-6, atol=1e-6),
            np.dtype(np.float64): dict(rtol=1e-14, atol=1e-14)}
SHAPES = [(3, 5), (7,), (2, 3, 4), (0, 4), ()]


def optim_module(impl):
    """``fastdl.optim`` or ``fastdl.reference.optim`` (where the classes live)."""
    return importlib.import_module(impl.__name__ + ".optim")


# --- the course's updates, one parameter dict at a time, written out in float64 ----------

def course_sgd(p, g, state, lr, **_):
    return p - lr * g


def course_momentum(p, g, state, lr, beta=0.9, **_):
    state["v"] = beta * state["v"] + (1 - beta) * g
    return p - lr * state["v"]


def course_rmsprop(p, g, state, lr, beta=0.999, eps=1e-8, **_):
    state["s"] = beta * state["s"] + (1 - beta) * np.square(g)
    return p - lr * g / (np.sqrt(state["s"]) + eps)


def course_adam(p, g, state, lr, t, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                decoupled_weight_decay=False):
    if decoupled_weight_decay:
        p = p - lr * weight_decay * p
    else:
        g = g + weight_decay * p
    state["v"] = beta1 * state["v"] + (1 - beta1) * g            # course: v = first moment
    state["s"] = beta2 * state["s"] + (1 - beta2) * np.square(g)  # course: s = second moment
    v_corrected = state["v"] / (1 - beta1 ** t)
    s_corrected = state["s"] / (1 - beta2 ** t)
    return p - lr * v_corrected / (np.sqrt(s_corrected) + eps)


COURSE = {"sgd": course_sgd, "momentum": course_momentum, "rmsprop": course_rmsprop,
          "adam": course_adam}


def make_problem(dtype, seed=0):
    """Parameters of several shapes, a fixed target and per-step noise (gradients depend on
    the current parameters, so any error in an update shows in the trajectory)."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    targets = [rng.standard_normal(s) for s in SHAPES]
    noise = [[rng.standard_normal(s) for s in SHAPES] for _ in range(N_STEPS)]
    return params, targets, noise


def gradient(p, target, noise):
    """Gradient of 0.5 ||p - target||^2 plus noise, in p's dtype."""
    return (p.astype(np.float64) - target + 0.3 * noise).astype(p.dtype)


def course_trajectory(kind, params, targets, noise, lrs, **hyper):
    """Run the course update for ``N_STEPS``, storing parameters and state in the
    parameters' dtype after every step (what in-place arrays of that dtype hold)."""
    dtype = params[0].dtype
    params = [p.copy() for p in params]
    states = [{"v": np.zeros(p.shape), "s": np.zeros(p.shape)} for p in params]
    for step in range(N_STEPS):
        for i, p in enumerate(params):
            g = gradient(p, targets[i], noise[step][i]).astype(np.float64)
            extra = {"t": step + 1} if kind == "adam" else {}
            new = COURSE[kind](p.astype(np.float64), g, states[i], lrs[step], **extra, **hyper)
            params[i] = new.astype(dtype)
            states[i] = {k: s.astype(dtype).astype(np.float64) for k, s in states[i].items()}
    return params


def run_step_function(impl, kind, params, targets, noise, lrs, **hyper):
    params = [p.copy() for p in params]
    if kind == "adam":
        state = list(impl.initialize_adam(params))
    elif kind in ("momentum", "rmsprop"):
        state = [impl.initialize_velocity(params)]
    else:
        state = []
    step_fn = getattr(impl, f"{kind}_step")
    for step in range(N_STEPS):
        grads = [gradient(p, targets[i], noise[step][i]) for i, p in enumerate(params)]
        extra = {"t": step + 1} if kind == "adam" else {}
        assert step_fn(params, grads, *state, lr=lrs[step], **extra, **hyper) is None
    return params


CASES = [("sgd", {}), ("momentum", {}), ("momentum", {"beta": 0.5}),
         ("rmsprop", {}), ("rmsprop", {"beta": 0.9, "eps": 1e-6}),
         ("adam", {}), ("adam", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-7}),
         ("adam", {"weight_decay": 0.1}),
         ("adam", {"weight_decay": 0.1, "decoupled_weight_decay": True})]


@pytest.mark.parametrize("kind,hyper", CASES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_steps_follow_course_update(impl, kind, hyper, dtype):
    params, targets, noise = make_problem(dtype)
    lrs = [0.01] * N_STEPS
    got = run_step_function(impl, kind, params, targets, noise, lrs, **hyper)
    expected = course_trajectory(kind, params, targets, noise, lrs, **hyper)
    for g, e in zip(got, expected):
        assert g.dtype == dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, **TRAJ_TOL[np.dtype(dtype)])
    # The trajectory moved: a no-op step would not pass by accident.
    assert not np.allclose(got[0], params[0], rtol=1e-3)


CLASS_OF = {"sgd": "SGD", "momentum": "Momentum", "rmsprop": "RMSprop", "adam": "Adam"}


@pytest.mark.parametrize("kind,hyper", CASES)
def test_classes_follow_course_update_with_lr_changes(impl, kind, hyper):
    params, targets, noise = make_problem(np.float64, seed=1)
    lrs = [0.02 if step < 50 else 0.005 for step in range(N_STEPS)]   # lr set mid-training
    expected = course_trajectory(kind, params, targets, noise, lrs, **hyper)
    opt = getattr(optim_module(impl), CLASS_OF[kind])(params, lr=lrs[0], **hyper)
    for step in range(N_STEPS):
        opt.lr = lrs[step]
        opt.step([gradient(p, targets[i], noise[step][i]) for i, p in enumerate(params)])
    assert opt.step_count == N_STEPS and opt.lr == lrs[-1]
    for g, e in zip(params, expected):                # the caller's arrays were updated
        np.testing.assert_allclose(g, e, **TRAJ_TOL[np.dtype(np.float64)])


def test_classes_drive_their_own_namespace_steps():
    for name, step in [("SGD", "sgd_step"), ("Momentum", "momentum_step"),
                       ("RMSprop", "rmsprop_step"), ("Adam", "adam_step")]:
        assert getattr(fastdl.optim, name)._step is getattr(fastdl.optim, step)
        assert getattr(fastdl.optim, step) is getattr(fastdl, step)       # the dispatched op
        assert getattr(fastdl.reference.optim, name)._step is getattr(fastdl.reference, step)
        assert name not in fastdl.__all__ and name not in fastdl.reference.__all__


@pytest.mark.parametrize("decoupled", [False, True], ids=["Adam", "AdamW"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_adam_matches_torch(impl, decoupled, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    params = [rng.standard_normal(s).astype(dtype) for s in [(4, 6), (9,)]]
    noise = [[rng.standard_normal(p.shape).astype(dtype) for p in params]
             for _ in range(N_STEPS)]
    lr, betas, eps, wd = 0.01, (0.85, 0.995), 1e-7, 0.05
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    torch_cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    torch_opt = torch_cls(tparams, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    m, v = impl.initialize_adam(params)
    for step in range(N_STEPS):
        # Gradient of sum(p**4 / 4 - noise * p): not quadratic, depends on p.
        for tp, n in zip(tparams, noise[step]):
            tp.grad = torch.from_numpy(tp.detach().numpy() ** 3 - n)
        torch_opt.step()
        grads = [p ** 3 - n for p, n in zip(params, noise[step])]
        impl.adam_step(params, grads, m, v, t=step + 1, lr=lr, beta1=betas[0], beta2=betas[1],
                       eps=eps, weight_decay=wd, decoupled_weight_decay=decoupled)
    close = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p, tp.detach().numpy(), **close)


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1}), ("Momentum", {"lr": 0.1}),
                                         ("RMSprop", {"lr": 0.01}),
                                         ("Adam", {"weight_decay": 0.01})])
def test_state_dict_round_trip_is_exact(impl, name, kwargs):
    cls = getattr(optim_module(impl), name)
    params, targets, noise = make_problem(np.float32, seed=2)
    grads_at = lambda ps, step: [gradient(p, targets[i], noise[step][i])  # noqa: E731
                                 for i, p in enumerate(ps)]
    first = cls(params, **kwargs)
    for step in range(10):
        first.step(grads_at(params, step))
    saved = first.state_dict()
    assert saved["step"] == 10 and saved["hyperparameters"]["lr"] == first.lr
    copies = [p.copy() for p in params]
    second = cls(copies, **{**kwargs, "lr": 123.0})
    second.load_state_dict(saved)
    assert second.lr == first.lr and second.step_count == 10
    for step in range(10, 20):
        first.step(grads_at(params, step))
        second.step(grads_at(copies, step))
    for a, b in zip(params, copies):
        np.testing.assert_array_equal(a, b)           # bit-identical continuation
    # The snapshot holds copies: training on did not change it.
    for arrays in saved["state"].values():
        for a, live in zip(arrays, next(iter(first.state.values()))):
            assert not np.shares_memory(a, live)
    assert saved["step"] == 10


def test_zero_state_restarts(impl):
    params, targets, noise = make_problem(np.float64, seed=4)
    opt = optim_module(impl).Adam(params, lr=0.01)
    for step in range(5):
        opt.step([gradient(p, targets[i], noise[step][i]) for i, p in enumerate(params)])
    opt.zero_state()
    assert opt.step_count == 0
    assert all(not a.any() for arrays in opt.state.values() for a in arrays)
    # After a restart the first step is the bias-corrected t=1 step: |update| = lr per entry.
    before = [p.copy() for p in params]
    opt.step([np.full(p.shape, 2.5) for p in params])
    for b, p in zip(before, params):
        np.testing.assert_allclose(b - p, 0.01, rtol=1e-6)


def test_noncontiguous_and_readonly_inputs(impl):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    view = base[:, ::2]                                   # non-contiguous param: updated in base
    grad = np.ones((4, 3))
    grad.flags.writeable = False                          # read-only grads are fine
    impl.sgd_step([view], [grad], lr=0.5)
    np.testing.assert_array_equal(base[:, ::2], np.arange(24).reshape(4, 6)[:, ::2] - 0.5)
    np.testing.assert_array_equal(base[:, 1::2], np.arange(24).reshape(4, 6)[:, 1::2])
    velocities = impl.initialize_velocity([view])
    assert velocities[0].shape == (4, 3) and velocities[0].dtype == np.float64
    impl.momentum_step([view], [grad], velocities, lr=1.0, beta=0.5)
    np.testing.assert_array_equal(velocities[0], 0.5)


def test_initialize_state(impl):
    params = [np.ones((2, 3), np.float32), np.ones(4)]
    m, v = impl.initialize_adam(params)
    vel = impl.initialize_velocity(params)
    for state in (m, v, vel):
        assert [s.shape for s in state] == [(2, 3), (4,)]
        assert [s.dtype for s in state] == [np.float32, np.float64]
        assert all(not s.any() for s in state)
    assert not np.shares_memory(m[0], v[0]) and not np.shares_memory(m[0], params[0])


@pytest.mark.parametrize("dtype", FLOATS)
def test_extreme_gradients_do_not_warn(impl, dtype):
    big = np.finfo(dtype).max / 10
    params = [np.ones(3, dtype)]
    grads = [np.array([big, -big, 1e-30], dtype)]
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        m, v = impl.initialize_adam(params)
        impl.adam_step(params, grads, m, v, t=1, lr=1e-3)
        squares = impl.initialize_velocity(params)
        impl.rmsprop_step(params, grads, squares, lr=1e-3)
    assert np.isfinite(params[0]).all()


def test_adam_bias_correction_at_large_t(impl):
    # beta**t underflows to 0 for huge t: the step is then plain m / (sqrt(v) + eps).
    p, g = [np.zeros(2)], [np.array([1.0, -1.0])]
    m, v = [np.full(2, 0.5)], [np.full(2, 0.25)]
    impl.adam_step(p, g, m, v, t=10**6, lr=0.1, beta1=0.5, beta2=0.5, eps=1e-12)
    np.testing.assert_allclose(m[0], [0.75, -0.25])
    np.testing.assert_allclose(p[0], -0.1 * m[0] / (np.sqrt([0.625, 0.625]) + 1e-12))


def _adam_args(n=2, dtype=np.float64):
    params = [np.ones((2, 3), dtype) for _ in range(n)]
    grads = [np.ones((2, 3), dtype) for _ in range(n)]
    m = [np.zeros((2, 3), dtype) for _ in range(n)]
    v = [np.zeros((2, 3), dtype) for _ in range(n)]
    return params, grads, m, v


def _readonly(a):
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("mutate,kwargs,exc,match", [
    (lambda a: a[1].pop(), {}, ValueError, r"adam_step: grads must hold one array per "
                                           r"parameter \(2\); got 1"),
    (lambda a: a[3].pop(), {}, ValueError, r"adam_step: v must hold one array per parameter"),
    (lambda a: a[1].__setitem__(0, np.ones((3, 2))), {}, ValueError,
     r"adam_step: grads\[0\] must have shape \(2, 3\) \(the shape of params\[0\]\)"),
    (lambda a: a[2].__setitem__(1, np.zeros(6)), {}, ValueError,
     r"adam_step: m\[1\] must have shape"),
    (lambda a: a[1].__setitem__(0, np.ones((2, 3), np.float32)), {}, TypeError,
     r"adam_step: grads\[0\] must have the dtype of params\[0\] \(float64\)"),
    (lambda a: a[0].__setitem__(0, _readonly(np.ones((2, 3)))), {}, ValueError,
     r"adam_step: params\[0\] is read-only"),
    (lambda a: a[3].__setitem__(1, _readonly(np.zeros((2, 3)))), {}, ValueError,
     r"adam_step: v\[1\] is read-only"),
    (lambda a: a[0].__setitem__(0, np.ones((2, 3), int)), {}, TypeError,
     r"adam_step: params\[0\] must have dtype float32 or float64; got int64"),
    (lambda a: a[0].__setitem__(0, np.ones((2, 3), complex)), {}, TypeError, "got complex128"),
    (lambda a: a[0].__setitem__(0, [[1.0] * 3] * 2), {}, TypeError,
     r"adam_step: params\[0\] must be a NumPy array"),
    (lambda a: None, {"t": 0}, ValueError, "adam_step: t must be >= 1; got 0"),
    (lambda a: None, {"t": 1.5}, TypeError, "adam_step: t must be an int"),
    (lambda a: None, {"beta1": 1.0}, ValueError, r"adam_step: beta1 must be in \[0, 1\)"),
    (lambda a: None, {"beta2": -0.1}, ValueError, r"adam_step: beta2 must be in \[0, 1\)"),
    (lambda a: None, {"eps": 0.0}, ValueError, r"adam_step: eps must be in \(0, inf\)"),
    (lambda a: None, {"lr": -1}, ValueError, r"adam_step: lr must be in \[0, inf\); got -1.0"),
    (lambda a: None, {"lr": "0.1"}, TypeError, "adam_step: lr must be a real number"),
    (lambda a: None, {"weight_decay": -0.5}, ValueError, "adam_step: weight_decay must be in"),
    (lambda a: None, {"decoupled_weight_decay": 1}, TypeError,
     "adam_step: decoupled_weight_decay must be one of"),
])
def test_adam_bad_input(impl, mutate, kwargs, exc, match):
    args = _adam_args()
    mutate(args)
    with pytest.raises(exc, match=match):
        impl.adam_step(*args, **{"t": 1, **kwargs})


def test_bad_input_leaves_params_untouched(impl):
    params, grads, m, v = _adam_args()
    grads[1] = np.ones(4)
    with pytest.raises(ValueError):
        impl.adam_step(params, grads, m, v, t=1)
    assert all((p == 1).all() for p in params) and all(not a.any() for a in m + v)


def test_other_steps_bad_input(impl):
    p, g = [np.ones(3)], [np.ones(3)]
    with pytest.raises(ValueError, match=r"sgd_step: lr must be in \[0, inf\); got -1.0"):
        impl.sgd_step(p, g, lr=-1)
    with pytest.raises(TypeError, match="sgd_step: params must be a list of arrays; got ndarray"):
        impl.sgd_step(p[0], g, lr=0.1)
    with pytest.raises(ValueError, match=r"sgd_step: grads must hold one array per parameter"):
        impl.sgd_step(p, g * 2, lr=0.1)
    with pytest.raises(ValueError, match=r"momentum_step: beta must be in \[0, 1\); got 1.0"):
        impl.momentum_step(p, g, [np.zeros(3)], lr=0.1, beta=1.0)
    with pytest.raises(ValueError, match=r"momentum_step: velocities\[0\] must have shape"):
        impl.momentum_step(p, g, [np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match=r"momentum_step: velocities\[0\] must be a NumPy array"):
        impl.momentum_step(p, g, [[0.0, 0.0, 0.0]], lr=0.1)
    with pytest.raises(ValueError, match=r"rmsprop_step: eps must be in \(0, inf\); got 0.0"):
        impl.rmsprop_step(p, g, [np.zeros(3)], lr=0.1, eps=0)
    with pytest.raises(TypeError, match=r"initialize_velocity: params\[0\] must have dtype"):
        impl.initialize_velocity([np.ones(3, np.int32)])


def test_class_bad_input(impl):
    optim = optim_module(impl)
    with pytest.raises(ValueError, match=r"Adam: beta1 must be in \[0, 1\)"):
        optim.Adam([np.ones(2)], beta1=1.0)
    with pytest.raises(ValueError, match=r"SGD: params\[0\] is read-only"):
        optim.SGD([_readonly(np.ones(2))], lr=0.1)
    opt = optim.Momentum([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match=r"Momentum: lr must be in \[0, inf\)"):
        opt.lr = -1
    assert opt.lr == 0.1
    with pytest.raises(ValueError, match=r"momentum_step: grads\[0\] must have shape"):
        opt.step([np.ones(3)])
    assert opt.step_count == 0                        # a failed step does not count
    saved = opt.state_dict()
    with pytest.raises(ValueError, match=r"RMSprop.load_state_dict: .*'Momentum' optimizer"):
        optim.RMSprop([np.ones(2)], lr=0.1).load_state_dict(saved)
    other = optim.Momentum([np.ones(3)], lr=0.1)
    with pytest.raises(ValueError, match=r"Momentum.load_state_dict: velocities\[0\] must have "
                                         r"shape \(3,\)"):
        other.load_state_dict(saved)
    assert other.lr == 0.1 and other.step_count == 0  # unchanged after a rejected load
