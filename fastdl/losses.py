"""Softmax and losses: softmax, log-softmax, softmax cross-entropy, binary cross-entropy (on
probabilities and on logits) and the L2 penalty.

Today every op runs its reference (:mod:`fastdl.reference.losses`); the native kernels are
the losses issue's work.
"""
from ._dispatch import reference_only
from .reference import losses as _ref

__all__ = list(_ref.__all__)

softmax = reference_only(_ref.softmax)
log_softmax = reference_only(_ref.log_softmax)
softmax_backward = reference_only(_ref.softmax_backward)
softmax_cross_entropy = reference_only(_ref.softmax_cross_entropy)
binary_cross_entropy = reference_only(_ref.binary_cross_entropy)
binary_cross_entropy_with_logits = reference_only(_ref.binary_cross_entropy_with_logits)
l2_penalty = reference_only(_ref.l2_penalty)
