"""Layers of :mod:`fastdl.nn`, built only on the public fastdl ops.

Every layer has ``forward(x, training=False) -> y`` and ``backward(dy, need_dx=True) -> dx``.
The forward keeps what the backward needs (its input, output, max-pool indices, batch-norm
statistics, dropout mask); ``backward`` stores the parameter gradients in ``layer.grads`` (same
order as ``layer.params``) and returns the input gradient (None when ``need_dx`` is False, so
a first convolution skips its most expensive product).

Forward outputs are written into buffers the layer keeps and reuses while the input shape
repeats (``reuse_buffers``, on by default), so steady-state training does not allocate them
again: a layer's output is therefore overwritten by its next forward. :class:`Sequential`
returns a fresh array from its last layer, so a model's result is never overwritten.

Errors name the layer and the mismatch, e.g. ``Conv2D(16→32): expected 16 input channels,
got 3``.
"""
import importlib

import numpy as np

from .. import activations as _act
from .. import conv as _conv
from .. import dense as _dense
from .. import norm as _norm
from .. import pool as _pool
from .. import init as _init
from .._validation import as_float, as_int, as_pair, check_choice, check_layout
from .._validation import as_float_dtype as float_dtype
from ._util import BufferCache

# The dropout module is shadowed by the dropout function in the fastdl namespace.
_drop = importlib.import_module("fastdl.dropout")

__all__ = ["Layer", "Linear", "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D",
           "BatchNorm", "Dropout", "Flatten", "ReLU", "LeakyReLU", "Sigmoid", "Tanh"]

INITS = ("he", "xavier")
_MASK64 = (1 << 64) - 1


def _pair_text(p):
    return f"{p[0]}×{p[1]}" if p[0] != p[1] else f"{p[0]}"


class Layer:
    """Base class: parameters, gradients, buffers and the input checks of every layer.

    Subclasses list their trainable arrays in ``_param_names`` and their non-trainable state
    (saved by :meth:`Sequential.save`) in ``_buffer_names``.
    """

    _param_names = ()
    _buffer_names = ()
    #: The forward returns an array the layer owns (not a view of its input).
    _owns_output = True

    def __init__(self):
        self.grads = [None] * len(self._param_names)
        self.reuse_buffers = True
        self._cache = BufferCache()
        self._fused = None            # (activation, alpha) fused by Sequential, or None

    # --- introspection -----------------------------------------------------------------
    @property
    def params(self):
        """The trainable arrays (live: optimizers update them in place)."""
        return [getattr(self, name) for name in self._param_names]

    @property
    def buffers(self):
        """The non-trainable state arrays (e.g. batch-norm running statistics)."""
        return [getattr(self, name) for name in self._buffer_names]

    def describe(self):
        """Short text naming the layer and its sizes, used in errors and summaries."""
        return type(self).__name__

    def __repr__(self):
        return self.describe()

    # --- helpers -------------------------------------------------------------------------
    def _buffer(self, name, shape, dtype):
        """A reusable output array, or None (the op allocates) when reuse is off."""
        if not self.reuse_buffers:
            return None
        return self._cache.get(name, shape, dtype)

    def _input(self, x, ndim, hint):
        """``x`` as a float ndarray of rank ``ndim``; errors name the layer."""
        if not isinstance(x, np.ndarray):
            x = np.asarray(x)
        if x.dtype not in (np.float32, np.float64):
            raise TypeError(f"{self.describe()}: expected a float32 or float64 input, "
                            f"got dtype {x.dtype}")
        if x.ndim != ndim:
            raise ValueError(f"{self.describe()}: expected a {ndim}-D input {hint}, "
                             f"got shape {x.shape}")
        dtype = getattr(self, "dtype", None)
        if dtype is not None and x.dtype != dtype:
            raise TypeError(f"{self.describe()}: expected a {dtype} input (the layer's "
                            f"dtype), got {x.dtype}")
        return x

    def _saved(self, *names):
        values = [getattr(self, name, None) for name in names]
        if values[0] is None:
            raise RuntimeError(f"{self.describe()}: backward called before a training forward")
        return values

    # --- interface -----------------------------------------------------------------------
    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy, need_dx=True):
        raise NotImplementedError


def _initial_weights(where, shape, fan_in, init, rng, dtype):
    check_choice(where, "init", init, INITS)
    fn = _init.he if init == "he" else _init.xavier
    return fn(shape, fan_in=fan_in, rng=rng, dtype=dtype)


class _Affine(Layer):
    """Linear and Conv2D: weight, optional bias, an activation (own or fused by Sequential)."""

    _param_names = ("weight", "bias")
    _fusable = ()

    def _init_params(self, where, shape, fan_in, n_out, bias, init, rng, dtype):
        self.dtype = float_dtype(where, dtype)
        self.weight = _initial_weights(where, shape, fan_in, init, rng, self.dtype)
        self.bias = np.zeros(n_out, dtype=self.dtype) if bias else None
        if not bias:
            self._param_names = ("weight",)
        self.grads = [None] * len(self._param_names)

    @property
    def effective_activation(self):
        """``(activation, alpha)`` applied by the forward (own, or fused by Sequential)."""
        if self.activation is not None:
            return self.activation, self.alpha
        if self._fused is not None:
            return self._fused
        return None, self.alpha

    def _need(self, need_dx):
        need = ("dx", "dw") if need_dx else ("dw",)
        return need + ("db",) if self.bias is not None else need


class Linear(_Affine):
    """Dense layer ``y = act(x @ weight.T + bias)`` on ``(N, in_features)`` inputs.

    Parameters
    ----------
    in_features, out_features : int
    activation : {None, "relu", "sigmoid", "tanh", "leaky_relu"}
        Fused into the op (a following activation layer is fused by :class:`Sequential`).
    alpha : float
        Slope of "leaky_relu".
    bias : bool
    init : {"he", "xavier"}
        Weight initialisation (normal, variance 2/in or 1/in); the bias starts at zero.
    dtype : float32 or float64
    rng : int, numpy.random.Generator or None
        Source of the initial weights.
    """

    _fusable = ("relu", "sigmoid", "tanh", "leaky_relu")

    def __init__(self, in_features, out_features, *, activation=None, alpha=0.01, bias=True,
                 init="he", dtype=np.float32, rng=None):
        super().__init__()
        where = "Linear"
        self.in_features = as_int(where, "in_features", in_features, min_value=1)
        self.out_features = as_int(where, "out_features", out_features, min_value=1)
        self.activation = check_choice(where, "activation", activation,
                                       (None,) + self._fusable)
        self.alpha = as_float(where, "alpha", alpha)
        self._init_params(where, (self.out_features, self.in_features), self.in_features,
                          self.out_features, bias, init, rng, dtype)

    def describe(self):
        return f"Linear({self.in_features}→{self.out_features})"

    def forward(self, x, training=False):
        x = self._input(x, 2, f"(N, {self.in_features})")
        if x.shape[1] != self.in_features:
            raise ValueError(f"{self.describe()}: expected {self.in_features} input features, "
                             f"got {x.shape[1]} (input shape {x.shape})")
        act, alpha = self.effective_activation
        y = _dense.linear(x, self.weight, self.bias, activation=act, alpha=alpha,
                          out=self._buffer("y", (x.shape[0], self.out_features), x.dtype))
        self._x, self._y = x, y
        return y

    def backward(self, dy, need_dx=True):
        x, y = self._saved("_x", "_y")
        act, alpha = self.effective_activation
        dx, dw, db = _dense.linear_backward(dy, x, self.weight, activation=act, alpha=alpha,
                                            y=y if act is not None else None,
                                            need=self._need(need_dx))
        self.grads = [dw, db] if self.bias is not None else [dw]
        return dx


def _conv_padding(where, padding):
    """``padding`` as "same", "valid" or ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        return check_choice(where, "padding", padding, ("same", "valid"))
    if isinstance(padding, (tuple, list)) and len(padding) == 2 \
            and all(isinstance(p, (tuple, list)) for p in padding):
        return tuple(tuple(as_pair(where, "padding", p, min_value=0)) for p in padding)
    ph, pw = as_pair(where, "padding", padding, min_value=0)
    return ((ph, ph), (pw, pw))


def _conv_length(n, f, s, pads):
    if pads == "same":
        return -(-n // s)
    if pads == "valid":
        pads = (0, 0)
    return (n + pads[0] + pads[1] - f) // s + 1


class Conv2D(_Affine):
    """2-D convolution layer (cross-correlation), optionally with a fused ReLU.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride : int or (int, int)
    padding : int, (ph, pw), ((top, bottom), (left, right)), "same" or "valid"
    layout : {"NCHW", "NHWC"}
        Input ``(N, C, H, W)`` with weight ``(K, C, R, S)``, or ``(N, H, W, C)`` with weight
        ``(R, S, C, K)``.
    activation : {None, "relu"}
    bias : bool
    init : {"he", "xavier"}
        Normal with variance 2/fan_in or 1/fan_in, fan_in = C·R·S; bias zero.
    dtype : float32 or float64
    rng : int, numpy.random.Generator or None
    """

    _fusable = ("relu",)

    def __init__(self, in_channels, out_channels, kernel_size, *, stride=1, padding=0,
                 layout="NCHW", activation=None, bias=True, init="he", dtype=np.float32,
                 rng=None):
        super().__init__()
        where = "Conv2D"
        self.in_channels = as_int(where, "in_channels", in_channels, min_value=1)
        self.out_channels = as_int(where, "out_channels", out_channels, min_value=1)
        self.kernel_size = tuple(as_pair(where, "kernel_size", kernel_size, min_value=1))
        self.stride = tuple(as_pair(where, "stride", stride, min_value=1))
        self._pads = _conv_padding(where, padding)
        self.padding = padding
        self.layout = check_layout(where, layout)
        self.activation = check_choice(where, "activation", activation, (None, "relu"))
        self.alpha = 0.01
        r, s = self.kernel_size
        c, k = self.in_channels, self.out_channels
        shape = (k, c, r, s) if self.layout == "NCHW" else (r, s, c, k)
        self._init_params(where, shape, c * r * s, k, bias, init, rng, dtype)

    def describe(self):
        return f"Conv2D({self.in_channels}→{self.out_channels})"

    def _channels_axis(self):
        return 1 if self.layout == "NCHW" else 3

    def forward(self, x, training=False):
        hint = "(N, C, H, W)" if self.layout == "NCHW" else "(N, H, W, C)"
        x = self._input(x, 4, f"{hint} for layout={self.layout!r}")
        c = x.shape[self._channels_axis()]
        if c != self.in_channels:
            raise ValueError(f"{self.describe()}: expected {self.in_channels} input channels, "
                             f"got {c} (input shape {x.shape}, layout={self.layout!r})")
        n = x.shape[0]
        h, w = (x.shape[2], x.shape[3]) if self.layout == "NCHW" else (x.shape[1], x.shape[2])
        pads = self._pads
        ph, pw = (pads, pads) if isinstance(pads, str) else pads
        ho = _conv_length(h, self.kernel_size[0], self.stride[0], ph)
        wo = _conv_length(w, self.kernel_size[1], self.stride[1], pw)
        out = None
        if ho >= 1 and wo >= 1:       # otherwise the op raises its own error
            shape = ((n, self.out_channels, ho, wo) if self.layout == "NCHW"
                     else (n, ho, wo, self.out_channels))
            out = self._buffer("y", shape, x.dtype)
        act, _ = self.effective_activation
        y = _conv.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                         layout=self.layout, activation=act, out=out)
        self._x, self._y = x, y
        return y

    def backward(self, dy, need_dx=True):
        x, y = self._saved("_x", "_y")
        act, _ = self.effective_activation
        dx, dw, db = _conv.conv2d_backward(dy, x, self.weight, stride=self.stride,
                                           padding=self.padding, layout=self.layout,
                                           activation=act, y=y if act is not None else None,
                                           need=self._need(need_dx))
        self.grads = [dw, db] if self.bias is not None else [dw]
        return dx


class _Pool(Layer):
    """Shared input checks of the pooling layers."""

    def _image(self, x):
        hint = "(N, C, H, W)" if self.layout == "NCHW" else "(N, H, W, C)"
        return self._input(x, 4, f"{hint} for layout={self.layout!r}")

    def _out_shape(self, x):
        if self.layout == "NCHW":
            n, c, h, w = x.shape
        else:
            n, h, w, c = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"{self.describe()}: the input's H×W {h}×{w} is smaller than the "
                             f"window {kh}×{kw} (padding {ph}, {pw})")
        return (n, c, ho, wo) if self.layout == "NCHW" else (n, ho, wo, c)

    def _setup(self, where, kernel_size, stride, padding, layout):
        self.kernel_size = tuple(as_pair(where, "kernel_size", kernel_size, min_value=1))
        self.stride = (self.kernel_size if stride is None
                       else tuple(as_pair(where, "stride", stride, min_value=1)))
        self.padding = tuple(as_pair(where, "padding", padding, min_value=0))
        self.layout = check_layout(where, layout)

    def describe(self):
        text = f"{type(self).__name__}({_pair_text(self.kernel_size)}"
        if self.stride != self.kernel_size:
            text += f", stride {_pair_text(self.stride)}"
        if any(self.padding):
            text += f", pad {_pair_text(self.padding)}"
        return text + ")"


class MaxPool2D(_Pool):
    """Max pooling; the gradient goes to each window's first maximum.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int)
        At most half the window.
    layout : {"NCHW", "NHWC"}
    """

    def __init__(self, kernel_size, *, stride=None, padding=0, layout="NCHW"):
        super().__init__()
        self._setup("MaxPool2D", kernel_size, stride, padding, layout)

    def forward(self, x, training=False):
        x = self._image(x)
        # In training the indices of the maxima make the backward a plain scatter (measured
        # faster than searching the windows again, even counting their int64 array).
        kwargs = dict(stride=self.stride, padding=self.padding, layout=self.layout,
                      out=self._buffer("y", self._out_shape(x), x.dtype))
        if training:
            y, indices = _pool.max_pool2d(x, self.kernel_size, return_indices=True, **kwargs)
        else:
            y, indices = _pool.max_pool2d(x, self.kernel_size, **kwargs), None
        self._x, self._indices = x, indices
        return y

    def backward(self, dy, need_dx=True):
        x, indices = self._saved("_x", "_indices")
        if not need_dx:
            return None
        return _pool.max_pool2d_backward(dy, x, self.kernel_size, stride=self.stride,
                                         padding=self.padding, layout=self.layout,
                                         indices=indices)


class AvgPool2D(_Pool):
    """Average pooling.

    Parameters
    ----------
    kernel_size, stride, padding, layout : as :class:`MaxPool2D`
    count_include_pad : bool
        Divide by the full window (True) or by its part inside the image.
    """

    def __init__(self, kernel_size, *, stride=None, padding=0, count_include_pad=True,
                 layout="NCHW"):
        super().__init__()
        self._setup("AvgPool2D", kernel_size, stride, padding, layout)
        self.count_include_pad = check_choice("AvgPool2D", "count_include_pad",
                                              count_include_pad, (True, False))

    def forward(self, x, training=False):
        x = self._image(x)
        y = _pool.avg_pool2d(x, self.kernel_size, stride=self.stride, padding=self.padding,
                             count_include_pad=self.count_include_pad, layout=self.layout,
                             out=self._buffer("y", self._out_shape(x), x.dtype))
        self._x_shape = x.shape
        return y

    def backward(self, dy, need_dx=True):
        (shape,) = self._saved("_x_shape")
        if not need_dx:
            return None
        return _pool.avg_pool2d_backward(dy, shape, self.kernel_size, stride=self.stride,
                                         padding=self.padding,
                                         count_include_pad=self.count_include_pad,
                                         layout=self.layout)


class GlobalAvgPool2D(Layer):
    """Mean over H and W: ``(N, C, H, W)`` or ``(N, H, W, C)`` to ``(N, C)``."""

    def __init__(self, *, layout="NCHW"):
        super().__init__()
        self.layout = check_layout("GlobalAvgPool2D", layout)

    def forward(self, x, training=False):
        hint = "(N, C, H, W)" if self.layout == "NCHW" else "(N, H, W, C)"
        x = self._input(x, 4, f"{hint} for layout={self.layout!r}")
        self._x_shape = x.shape
        return _pool.global_avg_pool2d(x, layout=self.layout)

    def backward(self, dy, need_dx=True):
        (shape,) = self._saved("_x_shape")
        if not need_dx:
            return None
        return _pool.global_avg_pool2d_backward(dy, shape, layout=self.layout)


class BatchNorm(Layer):
    """Batch normalization, dense ``(N, C)`` or spatial ``(N, C, H, W)`` / ``(N, H, W, C)``.

    Training normalises with the batch statistics and updates the running ones
    (``running = (1 - momentum)·running + momentum·batch``); evaluation uses the running
    statistics.

    Parameters
    ----------
    num_features : int
        C, the channels (spatial) or features (dense).
    momentum : float in [0, 1]
    eps : float > 0
    layout : {"NCHW", "NHWC"}
        For 4-D inputs: the channel axis is 1 (NCHW) or -1 (NHWC). 2-D inputs use axis 1.
    dtype : float32 or float64
    """

    _param_names = ("gamma", "beta")
    _buffer_names = ("running_mean", "running_var")

    def __init__(self, num_features, *, momentum=0.1, eps=1e-5, layout="NCHW",
                 dtype=np.float32):
        super().__init__()
        where = "BatchNorm"
        self.num_features = as_int(where, "num_features", num_features, min_value=1)
        self.momentum = as_float(where, "momentum", momentum, low=0.0, high=1.0)
        self.eps = as_float(where, "eps", eps, low=0.0, low_open=True)
        self.layout = check_layout(where, layout)
        self.dtype = float_dtype(where, dtype)
        c = self.num_features
        self.gamma = np.ones(c, dtype=self.dtype)
        self.beta = np.zeros(c, dtype=self.dtype)
        self.running_mean = np.zeros(c, dtype=self.dtype)
        self.running_var = np.ones(c, dtype=self.dtype)

    def describe(self):
        return f"BatchNorm({self.num_features})"

    def _axis(self, x):
        return 1 if x.ndim == 2 or self.layout == "NCHW" else x.ndim - 1

    def forward(self, x, training=False):
        if not isinstance(x, np.ndarray) or x.ndim not in (2, 4):
            shape = getattr(x, "shape", None)
            raise ValueError(f"{self.describe()}: expected a 2-D (N, C) or 4-D image input, "
                             f"got shape {shape}")
        x = self._input(x, x.ndim, "")
        axis = self._axis(x)
        if x.shape[axis] != self.num_features:
            raise ValueError(f"{self.describe()}: expected {self.num_features} channels on "
                             f"axis {axis}, got {x.shape[axis]} (input shape {x.shape})")
        if training and x.size // max(x.shape[axis], 1) < 2:
            raise ValueError(f"{self.describe()}: training needs more than one value per "
                             f"channel; got input of shape {x.shape} (a last mini-batch of "
                             f"one sample? pick a batch_size that leaves more)")
        y, mean, invstd = _norm.batch_norm(
            x, self.gamma, self.beta, running_mean=self.running_mean,
            running_var=self.running_var, training=bool(training), momentum=self.momentum,
            eps=self.eps, axis=axis, out=self._buffer("y", x.shape, x.dtype))
        if training:
            self._x, self._mean, self._invstd = x, mean, invstd
        else:
            self._x = None
        return y

    def backward(self, dy, need_dx=True):
        x, mean, invstd = self._saved("_x", "_mean", "_invstd")
        dx, dgamma, dbeta = _norm.batch_norm_backward(dy, x, self.gamma, mean, invstd,
                                                      axis=self._axis(x))
        self.grads = [dgamma, dbeta]
        return dx if need_dx else None


def _mix_seed(seed, counter):
    """A 64-bit seed for forward number ``counter`` of a dropout layer seeded ``seed``."""
    z = (seed * 0x9E3779B97F4A7C15 + (counter + 1) * 0xBF58476D1CE4E5B9) & _MASK64
    z ^= z >> 31
    return (z * 0x94D049BB133111EB) & _MASK64


class Dropout(Layer):
    """Inverted dropout (identity in evaluation).

    Each training forward draws a new mask from the counter-based generator at seed
    ``mix(seed, forward count)``, so a run is reproducible (for any thread count) and
    :func:`fastdl.nn.fit` re-seeds every dropout layer from its own ``seed``.

    Parameters
    ----------
    keep_prob : float in (0, 1]
    seed : int >= 0
    """

    _owns_output = False

    def __init__(self, keep_prob, *, seed=0):
        super().__init__()
        self.keep_prob = as_float("Dropout", "keep_prob", keep_prob, low=0.0, high=1.0,
                                  low_open=True)
        self.reseed(seed)

    def reseed(self, seed):
        """Restart the mask sequence from ``seed``."""
        self.seed = as_int("Dropout", "seed", seed, min_value=0) & _MASK64
        self.counter = 0

    def describe(self):
        return f"Dropout(keep_prob={self.keep_prob:g})"

    def forward(self, x, training=False):
        if not training or self.keep_prob == 1.0:
            self._mask, self._active = None, True
            return x
        if not isinstance(x, np.ndarray):
            x = np.asarray(x)
        y, mask = _drop.dropout(x, self.keep_prob, seed=_mix_seed(self.seed, self.counter),
                                training=True,
                                out=self._buffer("y", x.shape, x.dtype)
                                if x.dtype in (np.float32, np.float64) else None)
        self.counter += 1
        self._mask, self._active = mask, True
        return y

    def backward(self, dy, need_dx=True):
        if not getattr(self, "_active", False):
            raise RuntimeError(f"{self.describe()}: backward called before a forward")
        if not need_dx:
            return None
        if self._mask is None:
            return dy
        return _drop.dropout_backward(dy, self._mask, self.keep_prob)


class Flatten(Layer):
    """``(N, ...)`` to ``(N, features)`` (C order; a view when the input is contiguous)."""

    _owns_output = False

    def forward(self, x, training=False):
        if not isinstance(x, np.ndarray) or x.ndim < 1:
            raise ValueError(f"Flatten: expected an array with a batch axis, got "
                             f"{type(x).__name__} of shape {getattr(x, 'shape', None)}")
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy, need_dx=True):
        (shape,) = self._saved("_x_shape")
        return dy.reshape(shape) if need_dx else None


class _Activation(Layer):
    """Element-wise activation; ``name`` is how Linear/Conv2D spell it when fused."""

    name = None

    def forward(self, x, training=False):
        x = x if isinstance(x, np.ndarray) else np.asarray(x)
        x = self._input(x, x.ndim, "")
        y = self._apply(x, self._buffer("y", x.shape, x.dtype))
        self._x, self._y = x, y
        return y

    def backward(self, dy, need_dx=True):
        x, y = self._saved("_x", "_y")
        return self._gradient(dy, x, y) if need_dx else None


class ReLU(_Activation):
    """``max(x, 0)``; ReLU'(0) = 0."""

    name = "relu"

    def _apply(self, x, out):
        return _act.relu(x, out=out)

    def _gradient(self, dy, x, y):
        return _act.relu_backward(dy, x)


class LeakyReLU(_Activation):
    """``x`` for x > 0, ``alpha·x`` otherwise."""

    name = "leaky_relu"

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = as_float("LeakyReLU", "alpha", alpha)

    def describe(self):
        return f"LeakyReLU({self.alpha:g})"

    def _apply(self, x, out):
        return _act.leaky_relu(x, self.alpha, out=out)

    def _gradient(self, dy, x, y):
        return _act.leaky_relu_backward(dy, x, self.alpha)


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))``."""

    name = "sigmoid"

    def _apply(self, x, out):
        return _act.sigmoid(x, out=out)

    def _gradient(self, dy, x, y):
        return _act.sigmoid_backward(dy, y)


class Tanh(_Activation):
    """``tanh(x)``."""

    name = "tanh"

    def _apply(self, x, out):
        return _act.tanh(x, out=out)

    def _gradient(self, dy, x, y):
        return _act.tanh_backward(dy, y)


def fusable(layer, activation):
    """True when ``activation`` (an activation layer) can be fused into ``layer``."""
    return (isinstance(layer, _Affine) and layer.activation is None
            and isinstance(activation, _Activation) and activation.name in layer._fusable
            and type(activation) in (ReLU, LeakyReLU, Sigmoid, Tanh))


def fuse(layer, activation):
    """Make ``layer`` apply ``activation`` itself (Sequential then skips the latter)."""
    layer._fused = (activation.name, getattr(activation, "alpha", 0.01))

