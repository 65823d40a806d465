"""Losses of :mod:`fastdl.nn`: ``loss(outputs, labels) -> (value, d_outputs)``."""
import numpy as np

from .. import losses as _losses
from .._validation import check_choice

__all__ = ["Loss", "SoftmaxCrossEntropy", "BinaryCrossEntropy"]


class Loss:
    """Base: ``__call__(outputs, labels) -> (mean loss as a float, gradient w.r.t. outputs)``
    and ``correct(outputs, labels) -> number of correctly classified samples``."""

    def __call__(self, outputs, labels):
        raise NotImplementedError

    def correct(self, outputs, labels):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class SoftmaxCrossEntropy(Loss):
    """Softmax + cross-entropy on logits ``(N, K)``; labels are class indices ``(N,)`` or
    one-hot / probability rows ``(N, K)``; mean over the batch."""

    def __call__(self, outputs, labels):
        loss, grad = _losses.softmax_cross_entropy(outputs, labels)
        return float(loss), grad

    def correct(self, outputs, labels):
        labels = np.asarray(labels)
        if labels.ndim == 2:
            labels = np.argmax(labels, axis=1)
        return int(np.count_nonzero(np.argmax(outputs, axis=1) == labels))


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy, mean over all elements.

    Parameters
    ----------
    from_logits : bool
        False: the outputs are probabilities (after a :class:`Sigmoid`); True: logits (the
        stable fused form, no Sigmoid layer needed).

    Labels in {0, 1} with the outputs' shape, or ``(N,)`` for ``(N, 1)`` outputs.
    """

    def __init__(self, from_logits=False):
        self.from_logits = check_choice("BinaryCrossEntropy", "from_logits", from_logits,
                                        (True, False))

    def __repr__(self):
        return f"BinaryCrossEntropy(from_logits={self.from_logits})"

    def _labels(self, outputs, labels):
        labels = np.asarray(labels)
        if labels.shape != outputs.shape and labels.size == outputs.size:
            labels = labels.reshape(outputs.shape)
        return labels.astype(outputs.dtype, copy=False)

    def __call__(self, outputs, labels):
        labels = self._labels(outputs, labels)
        fn = (_losses.binary_cross_entropy_with_logits if self.from_logits
              else _losses.binary_cross_entropy)
        loss, grad = fn(outputs, labels)
        return float(loss), grad

    def correct(self, outputs, labels):
        labels = self._labels(outputs, labels)
        predicted = outputs > (0.0 if self.from_logits else 0.5)
        hits = predicted == (labels > 0.5)
        # A sample is right when all its outputs are (one output per sample is the usual case).
        return int(np.count_nonzero(hits.reshape(len(hits), -1).all(axis=1)))
