"""Data utilities: shuffled mini-batches (runs the reference, :mod:`fastdl.reference.data`)."""
from ._dispatch import reference_only
from .reference import data as _ref

__all__ = list(_ref.__all__)

random_mini_batches = reference_only(_ref.random_mini_batches)
