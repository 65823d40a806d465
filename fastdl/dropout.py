"""Inverted dropout with a counter-based mask (same seed, same mask, for any thread count).

Today every op runs its reference (:mod:`fastdl.reference.dropout`); the native kernels are
the dropout issue's work.
"""
import importlib

from ._dispatch import reference_only

# Not `from .reference import dropout`: the package attribute `dropout` is the flat-exported
# function, which shadows the submodule of the same name.
_ref = importlib.import_module(".reference.dropout", __package__)

__all__ = list(_ref.__all__)

dropout = reference_only(_ref.dropout)
dropout_backward = reference_only(_ref.dropout_backward)
