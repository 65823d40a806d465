"""The :class:`Sequential` model: a chain of layers with a loss."""
import numpy as np

from .layers import Dropout, Layer, fusable, fuse
from .losses import Loss, SoftmaxCrossEntropy

__all__ = ["Sequential"]


class Sequential:
    """Layers applied in order, with a loss for :func:`fastdl.nn.fit`.

    Parameters
    ----------
    layers : list of Layer
    loss : Loss, optional
        Default :class:`SoftmaxCrossEntropy`.
    fuse : bool
        Fuse an activation layer into the preceding Linear/Conv2D (ReLU for both; sigmoid,
        tanh and leaky ReLU for Linear) so the op applies it in its epilogue. The result is the
        same (the fused ops use the same activation and sub-gradient conventions).

    Notes
    -----
    A model starts in training mode (``model.training``); :meth:`eval` / :meth:`train`
    switch. :meth:`forward` returns an array the caller owns; intermediate outputs live in
    per-layer buffers reused by the next forward.
    """

    def __init__(self, layers, *, loss=None, fuse=True):
        layers = list(layers)
        if not layers:
            raise ValueError("Sequential: layers must hold at least one layer; got none")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: layers[{i}] must be a fastdl.nn layer; got "
                                f"{type(layer).__name__}")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("Sequential: a layer object appears twice in layers")
        if loss is None:
            loss = SoftmaxCrossEntropy()
        if not isinstance(loss, Loss):
            raise TypeError(f"Sequential: loss must be a fastdl.nn loss; got "
                            f"{type(loss).__name__}")
        self.layers = layers
        self.loss = loss
        self.training = True
        self._plan = self._make_plan(bool(fuse))

    def _make_plan(self, fuse_activations):
        """The layers forward actually runs (fused activation layers removed)."""
        plan = []
        for layer in self.layers:
            layer._fused = None
            if fuse_activations and plan and fusable(plan[-1], layer):
                fuse(plan[-1], layer)
                continue
            plan.append(layer)
        for layer in plan:
            layer.reuse_buffers = True
        # The last layer writes a fresh array, so the caller may keep the model's output.
        plan[-1].reuse_buffers = False
        return plan

    # --- modes -----------------------------------------------------------------------------
    def train(self):
        """Training mode (batch statistics, dropout on); returns the model."""
        self.training = True
        return self

    def eval(self):
        """Evaluation mode (running statistics, dropout off); returns the model."""
        self.training = False
        return self

    # --- computation -----------------------------------------------------------------------
    def forward(self, x):
        """Outputs of the model for the batch ``x`` (in the current mode)."""
        for layer in self._plan:
            x = layer.forward(x, training=self.training)
        if not self._plan[-1]._owns_output:
            x = np.array(x, copy=True)
        return x

    __call__ = forward

    def backward(self, dy, *, input_grad=False):
        """Back-propagate ``dy`` (gradient w.r.t. the outputs of the last forward).

        Fills every layer's ``grads`` (see :meth:`gradients`). Returns the gradient w.r.t. the
        model's input when ``input_grad`` is True, else None (the first layer then skips it).
        """
        last = len(self._plan) - 1
        for i in range(last, -1, -1):
            dy = self._plan[i].backward(dy, need_dx=(i > 0 or input_grad))
        return dy

    # --- parameters and state --------------------------------------------------------------
    def parameters(self):
        """The trainable arrays, layer by layer (live: optimizers update them in place)."""
        return [p for layer in self.layers for p in layer.params]

    def gradients(self):
        """The gradients of the last :meth:`backward`, in the order of :meth:`parameters`."""
        return [g for layer in self.layers for g in layer.grads]

    def named_arrays(self):
        """``{"<index>.<Layer>.<name>": array}`` of every parameter and buffer."""
        named = {}
        for i, layer in enumerate(self.layers):
            kind = type(layer).__name__
            for name in layer._param_names + layer._buffer_names:
                named[f"{i}.{kind}.{name}"] = getattr(layer, name)
        return named

    @property
    def dtype(self):
        """The dtype of the parameters (None for a model without parameters)."""
        params = self.parameters()
        return params[0].dtype if params else None

    def reseed(self, seed):
        """Restart every Dropout layer's mask sequence from ``seed`` (layer i: seed + i)."""
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dropout):
                layer.reseed((int(seed) + i) & ((1 << 64) - 1))

    def save(self, path):
        """Write every parameter and buffer to the NumPy ``.npz`` file ``path``."""
        arrays = dict(self.named_arrays())
        arrays["__architecture__"] = np.array(self.describe())
        np.savez(path, **arrays)

    def load(self, path):
        """Restore parameters and buffers saved by :meth:`save` (copied in place, exactly).

        The file must come from a model with the same layers; everything is checked before
        anything changes.
        """
        own = self.named_arrays()
        with np.load(path, allow_pickle=False) as data:
            saved = {k: data[k] for k in data.files if k != "__architecture__"}
        if saved.keys() != own.keys():
            missing, extra = sorted(own.keys() - saved.keys()), sorted(saved.keys() - own.keys())
            raise ValueError(f"Sequential.load: {path} does not match this model's layers "
                             f"(missing {missing}, unexpected {extra})")
        for key, arr in own.items():
            if saved[key].shape != arr.shape or saved[key].dtype != arr.dtype:
                raise ValueError(f"Sequential.load: {key} has shape {saved[key].shape} "
                                 f"{saved[key].dtype} in {path}, the model has {arr.shape} "
                                 f"{arr.dtype}")
        for key, arr in own.items():
            np.copyto(arr, saved[key])
        return self

    def describe(self):
        """One line per layer (fused activations shown with their layer)."""
        lines = []
        for i, layer in enumerate(self.layers):
            n = sum(p.size for p in layer.params)
            lines.append(f"{i:2d} {layer.describe():28s} {n:9d} params")
        return "\n".join(lines)

    def __repr__(self):
        return "Sequential(\n" + self.describe() + f"\n   loss: {self.loss!r}\n)"
