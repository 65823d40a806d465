"""Batch normalization against the course's step-by-step formulas (explicit per-channel
loops), PyTorch's running-statistics convention, gradient checks and bad input."""
import numpy as np
import pytest

from conftest import FLOATS, assert_grad, tol

# (shape, channel axis): NCHW, NHWC, dense (N, C), N=1 with spatial > 1, C=1, odd sizes,
# a 3-D input, and a channel axis in first position.
CASES = [((2, 3, 5, 7), 1), ((2, 5, 7, 3), -1), ((6, 4), -1), ((6, 4), 1), ((1, 3, 4, 5), 1),
         ((3, 1, 4, 4), 1), ((1, 2, 3, 1), -1), ((3, 4, 5), 2), ((3, 5), 0), ((4, 3, 2, 5), -3)]


def course_batch_norm(x, gamma, beta, axis, eps=1e-5):
    """Step by step, one channel at a time, in float64: mu, sigma^2 (biased), x_hat, y.

    Returns y, mu, the biased and the unbiased variances."""
    xc = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    y = np.empty_like(xc)
    channels = xc.shape[-1]
    mu, var, unbiased = np.empty(channels), np.empty(channels), np.empty(channels)
    for c in range(channels):
        values = xc[..., c].ravel()
        m = values.size
        mu[c] = sum(values) / m
        squares = sum((v - mu[c]) ** 2 for v in values)
        var[c], unbiased[c] = squares / m, squares / (m - 1)
        x_hat = (xc[..., c] - mu[c]) / np.sqrt(var[c] + eps)
        y[..., c] = gamma[c] * x_hat + beta[c]
    return np.moveaxis(y, -1, axis), mu, var, unbiased


def params(rng, channels, dtype):
    gamma = rng.uniform(0.5, 2.0, channels).astype(dtype)
    beta = rng.uniform(-1.0, 1.0, channels).astype(dtype)
    return gamma, beta


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,axis", CASES)
def test_training_forward_matches_course_formula(impl, shape, axis, dtype, rng):
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    gamma, beta = params(rng, shape[axis], dtype)
    y, mean, invstd = impl.batch_norm(x, gamma, beta, axis=axis)
    want_y, want_mu, want_var, _ = course_batch_norm(x, gamma, beta, axis)
    assert y.dtype == mean.dtype == invstd.dtype == dtype
    assert y.shape == shape and mean.shape == invstd.shape == (shape[axis],)
    np.testing.assert_allclose(y, want_y, **tol(dtype))
    np.testing.assert_allclose(mean, want_mu, **tol(dtype))
    np.testing.assert_allclose(invstd, 1 / np.sqrt(want_var + 1e-5), **tol(dtype))


def test_eps_and_default_axis(impl, rng):
    x = rng.standard_normal((4, 3, 2, 2)) * 0.01      # variance comparable to eps
    gamma, beta = params(rng, 3, np.float64)
    y, _, invstd = impl.batch_norm(x, gamma, beta, eps=1e-3)
    want_y, _, want_var, _ = course_batch_norm(x, gamma, beta, 1, eps=1e-3)
    np.testing.assert_allclose(y, want_y, rtol=1e-12)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(want_var + 1e-3), rtol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
def test_noncontiguous_readonly_and_out(impl, dtype, rng):
    base = rng.standard_normal((5, 8, 6, 9)).astype(dtype)
    x = base[:, ::2, :, 1::2]                           # strided view, channels = 4
    x.flags.writeable = False
    gamma, beta = params(rng, 4, dtype)
    gamma.flags.writeable = False
    want_y = course_batch_norm(x, gamma, beta, 1)[0]
    np.testing.assert_allclose(impl.batch_norm(x, gamma, beta)[0], want_y, **tol(dtype))
    out = np.full(x.shape, np.nan, dtype)
    y, _, _ = impl.batch_norm(x, gamma, beta, out=out)
    assert y is out
    np.testing.assert_allclose(out, want_y, **tol(dtype))
    in_place = x.copy()
    impl.batch_norm(in_place, gamma, beta, out=in_place)
    np.testing.assert_allclose(in_place, want_y, **tol(dtype))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,axis", [((4, 3, 5, 2), 1), ((4, 5, 2, 3), -1), ((7, 3), -1)])
def test_running_statistics_pytorch_convention(impl, shape, axis, dtype, rng):
    channels = shape[axis]
    gamma, beta = params(rng, channels, dtype)
    running_mean = np.zeros(channels, dtype)
    running_var = np.ones(channels, dtype)
    want_mean, want_var = np.zeros(channels), np.ones(channels)
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        impl.batch_norm(x, gamma, beta, running_mean=running_mean, running_var=running_var,
                        momentum=0.3, axis=axis)
        _, mu, _, unbiased = course_batch_norm(x, gamma, beta, axis)
        want_mean = 0.7 * want_mean + 0.3 * mu
        want_var = 0.7 * want_var + 0.3 * unbiased
    assert running_mean.dtype == running_var.dtype == dtype
    np.testing.assert_allclose(running_mean, want_mean, **tol(dtype))
    np.testing.assert_allclose(running_var, want_var, **tol(dtype))


@pytest.mark.parametrize("momentum", [0.0, 1.0])
def test_momentum_bounds(impl, momentum, rng):
    x = rng.standard_normal((5, 2))
    running_mean, running_var = np.full(2, 7.0), np.full(2, 9.0)
    impl.batch_norm(x, np.ones(2), np.zeros(2), running_mean=running_mean,
                    running_var=running_var, momentum=momentum, axis=-1)
    if momentum == 0.0:
        np.testing.assert_array_equal(running_mean, 7.0)
        np.testing.assert_array_equal(running_var, 9.0)
    else:
        np.testing.assert_allclose(running_mean, x.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(running_var, x.var(axis=0, ddof=1), rtol=1e-12)


def test_matches_torch_when_available(impl, rng):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    gamma, beta = params(rng, 3, np.float64)
    running_mean, running_var = np.zeros(3), np.ones(3)
    t_mean, t_var = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 5, 6)) * 2 + 1
        y, _, _ = impl.batch_norm(x, gamma, beta, running_mean=running_mean,
                                  running_var=running_var, momentum=0.2)
        t_y = F.batch_norm(torch.from_numpy(x), t_mean, t_var, torch.from_numpy(gamma),
                           torch.from_numpy(beta), training=True, momentum=0.2, eps=1e-5)
        np.testing.assert_allclose(y, t_y.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(running_mean, t_mean.numpy(), rtol=1e-10)
    np.testing.assert_allclose(running_var, t_var.numpy(), rtol=1e-10)
    x = rng.standard_normal((2, 3, 4, 4))
    y, _, _ = impl.batch_norm(x, gamma, beta, running_mean=running_mean,
                              running_var=running_var, training=False)
    t_y = F.batch_norm(torch.from_numpy(x), t_mean, t_var, torch.from_numpy(gamma),
                       torch.from_numpy(beta), training=False, eps=1e-5)
    np.testing.assert_allclose(y, t_y.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,axis", [((3, 4, 2, 5), 1), ((2, 3, 5, 4), -1), ((1, 3), 1)])
def test_inference_uses_running_statistics(impl, shape, axis, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    channels = shape[axis]
    gamma, beta = params(rng, channels, dtype)
    running_mean = rng.uniform(-1, 1, channels).astype(dtype)
    running_var = rng.uniform(0.5, 2, channels).astype(dtype)
    running_mean.flags.writeable = running_var.flags.writeable = False   # only read
    y, mean, invstd = impl.batch_norm(x, gamma, beta, running_mean=running_mean,
                                      running_var=running_var, training=False, axis=axis)
    per_channel = [1] * x.ndim
    per_channel[axis] = channels
    rm, rv, g, b = (np.asarray(a, np.float64).reshape(per_channel)
                    for a in (running_mean, running_var, gamma, beta))
    np.testing.assert_allclose(y, g * (x - rm) / np.sqrt(rv + 1e-5) + b, **tol(dtype))
    np.testing.assert_array_equal(mean, running_mean)
    assert not np.shares_memory(mean, running_mean)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(running_var.astype(np.float64) + 1e-5),
                               **tol(dtype))


def test_inference_accepts_empty_batch(impl):
    y, _, _ = impl.batch_norm(np.zeros((0, 3, 4, 4)), np.ones(3), np.zeros(3),
                              running_mean=np.zeros(3), running_var=np.ones(3), training=False)
    assert y.shape == (0, 3, 4, 4)


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1, 1), (0, 3, 4, 4)])
def test_training_needs_two_values_per_channel(impl, shape):
    with pytest.raises(ValueError, match="batch_norm: training needs more than one value"):
        impl.batch_norm(np.zeros(shape), np.ones(3), np.zeros(3))


@pytest.mark.parametrize("dtype,scale", [(np.float64, 1e300), (np.float64, 1e-300),
                                         (np.float32, 1e37), (np.float32, 1e-40)])
def test_extreme_magnitudes_are_stable(impl, dtype, scale, rng):
    z = rng.standard_normal((6, 2, 3, 3))
    x = (z * scale).astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y, mean, invstd = impl.batch_norm(x, np.ones(2, dtype), np.zeros(2, dtype))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(mean)) and np.all(invstd >= 0)
    if scale > 1:     # eps is negligible: y is z normalised
        want = course_batch_norm(z, np.ones(2), np.zeros(2), 1, eps=0.0)[0]
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    else:             # variance far below eps: y = (x - mean) / sqrt(eps), tiny
        assert np.all(np.abs(y) < 1e-30)
        np.testing.assert_allclose(invstd, 1 / np.sqrt(1e-5), rtol=1e-6)


def test_constant_channel_gives_beta(impl):
    x = np.full((4, 2, 3), 5.0)
    y, mean, invstd = impl.batch_norm(x, np.array([2.0, 3.0]), np.array([0.5, -1.0]))
    np.testing.assert_allclose(y[:, 0], 0.5)
    np.testing.assert_allclose(y[:, 1], -1.0)
    np.testing.assert_allclose(mean, 5.0)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(1e-5))


@pytest.mark.parametrize("shape,axis", [((3, 2, 2, 3), 1), ((2, 2, 3, 2), -1), ((5, 3), -1)])
def test_gradient_check(impl, shape, axis, rng):
    x = rng.standard_normal(shape)
    channels = shape[axis]
    gamma, beta = rng.uniform(0.5, 2.0, channels), rng.uniform(-1, 1, channels)
    weights = rng.standard_normal(shape)          # the loss is sum(weights * y)
    _, mean, invstd = impl.batch_norm(x, gamma, beta, axis=axis)
    dx, dgamma, dbeta = impl.batch_norm_backward(weights, x, gamma, mean, invstd, axis=axis)

    def loss(x_, gamma_, beta_):
        return float(np.sum(weights * impl.batch_norm(x_, gamma_, beta_, axis=axis)[0]))

    assert_grad(lambda v: loss(v, gamma, beta), x, dx, rtol=1e-5, atol=1e-7)
    assert_grad(lambda v: loss(x, v, beta), gamma, dgamma, rtol=1e-5, atol=1e-7)
    assert_grad(lambda v: loss(x, gamma, v), beta, dbeta, rtol=1e-5, atol=1e-7)


def test_backward_float32_matches_float64(impl, rng):
    x = rng.standard_normal((4, 3, 5, 5))
    dy = rng.standard_normal(x.shape)
    gamma = rng.uniform(0.5, 2.0, 3)
    _, mean, invstd = impl.batch_norm(x, gamma, np.zeros(3))
    want = impl.batch_norm_backward(dy, x, gamma, mean, invstd)
    got = impl.batch_norm_backward(*(a.astype(np.float32) for a in (dy, x, gamma, mean, invstd)))
    for g, w in zip(got, want):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


def test_backward_of_empty_batch_is_empty(impl):
    dx, dgamma, dbeta = impl.batch_norm_backward(np.zeros((0, 2)), np.zeros((0, 2)),
                                                 np.ones(2), np.zeros(2), np.ones(2), axis=-1)
    assert dx.shape == (0, 2)
    np.testing.assert_array_equal(dgamma, 0)
    np.testing.assert_array_equal(dbeta, 0)


@pytest.mark.parametrize("n_threads", [None, 1, 2])
def test_n_threads_accepted(impl, n_threads, rng):
    x = rng.standard_normal((3, 2, 4))
    y = impl.batch_norm(x, np.ones(2), np.zeros(2), n_threads=n_threads)[0]
    np.testing.assert_array_equal(y, impl.batch_norm(x, np.ones(2), np.zeros(2))[0])


def _good(dtype=np.float64):
    return np.zeros((2, 3, 2), dtype), np.ones(3, dtype), np.zeros(3, dtype)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(x=np.zeros(3)), ValueError, r"batch_norm: x must be an array of at least 2 dim"),
    (dict(x=np.zeros((2, 3, 2), np.int64)), TypeError, "batch_norm: x must have dtype float32 "
                                                       "or float64; got int64"),
    (dict(x=np.zeros((2, 3, 2), complex)), TypeError, "x must have dtype .* got complex128"),
    (dict(x=np.zeros((2, 3, 2), object)), TypeError, "x must have dtype .* got object"),
    (dict(gamma=np.ones(4)), ValueError, r"batch_norm: gamma must have shape \(3,\)"),
    (dict(beta=np.zeros((3, 1))), ValueError, r"batch_norm: beta must have shape \(3,\)"),
    (dict(gamma=np.ones(3, np.float32)), TypeError, "batch_norm: gamma must have the dtype of x"),
    (dict(axis=3), ValueError, "batch_norm: axis must be <= 2; got 3"),
    (dict(axis=-4), ValueError, "batch_norm: axis must be >= -3; got -4"),
    (dict(axis=1.0), TypeError, "batch_norm: axis must be an int"),
    (dict(momentum=1.5), ValueError, r"batch_norm: momentum must be in \[0, 1\]"),
    (dict(momentum=-0.1), ValueError, "batch_norm: momentum must be in"),
    (dict(eps=0.0), ValueError, r"batch_norm: eps must be in \(0, inf\)"),
    (dict(eps="1e-5"), TypeError, "batch_norm: eps must be a real number"),
    (dict(training="yes"), TypeError, "batch_norm: training must be one of"),
    (dict(running_mean=[0.0, 0.0, 0.0]), TypeError, "batch_norm: running_mean must be a NumPy "
                                                     "array"),
    (dict(running_var=np.ones(3, np.float32)), TypeError, "running_var must have the dtype of x"),
    (dict(running_var=np.ones(2)), ValueError, r"running_var must have shape \(3,\)"),
    (dict(training=False, running_mean=np.zeros(3)), ValueError,
     "batch_norm: running_var is required when training=False"),
    (dict(training=False, running_var=np.ones(3)), ValueError, "running_mean is required"),
    (dict(out=np.zeros((2, 3))), ValueError, r"batch_norm: out must have shape \(2, 3, 2\)"),
    (dict(out=np.zeros((2, 3, 2), np.float32)), TypeError, "batch_norm: out must have dtype"),
    (dict(n_threads=0), ValueError, "batch_norm: n_threads must be >= 1"),
    (dict(n_threads=1.5), TypeError, "batch_norm: n_threads must be a positive int"),
])
def test_bad_forward_arguments(impl, kwargs, exc, match):
    x, gamma, beta = _good()
    args = dict(x=x, gamma=gamma, beta=beta)
    args.update(kwargs)
    positional = [args.pop(k) for k in ("x", "gamma", "beta")]
    with pytest.raises(exc, match=match):
        impl.batch_norm(*positional, **args)


def test_read_only_running_statistics_rejected_in_training(impl):
    x, gamma, beta = _good()
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="batch_norm: running_mean is read-only"):
        impl.batch_norm(x, gamma, beta, running_mean=frozen)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(dy=np.zeros((2, 3, 3))), ValueError, r"batch_norm_backward: dy must have shape "
                                              r"\(2, 3, 2\)"),
    (dict(dy=np.zeros((2, 3, 2), np.float32)), TypeError, "dy must have the dtype of x"),
    (dict(x=np.zeros(6)), ValueError, "batch_norm_backward: x must be an array of at least 2"),
    (dict(x=np.zeros((2, 3, 2), np.int32)), TypeError, "x must have dtype float32 or float64"),
    (dict(mean=np.zeros(2)), ValueError, r"batch_norm_backward: mean must have shape \(3,\)"),
    (dict(invstd=np.ones(3, np.float32)), TypeError, "invstd must have the dtype of x"),
    (dict(gamma=np.ones(3, complex)), TypeError, "gamma must have dtype float32 or float64"),
    (dict(axis=5), ValueError, "batch_norm_backward: axis must be <= 2"),
    (dict(n_threads=0), ValueError, "batch_norm_backward: n_threads must be >= 1"),
])
def test_bad_backward_arguments(impl, kwargs, exc, match):
    x, gamma, _ = _good()
    args = dict(dy=np.zeros_like(x), x=x, gamma=gamma, mean=np.zeros(3), invstd=np.ones(3))
    args.update(kwargs)
    positional = [args.pop(k) for k in ("dy", "x", "gamma", "mean", "invstd")]
    with pytest.raises(exc, match=match):
        impl.batch_norm_backward(*positional, **args)
