"""Data augmentation on image batches: flips, random crops, colour shifts, PCA lighting.

Today every op runs its reference (:mod:`fastdl.reference.augment`, whose module docstring
fixes the random counters a native kernel must reproduce); the kernels are a later issue's work.
"""
from ._dispatch import reference_only
from .reference import augment as _ref

__all__ = list(_ref.__all__)

flip = reference_only(_ref.flip)
random_flip = reference_only(_ref.random_flip)
random_crop = reference_only(_ref.random_crop)
color_shift = reference_only(_ref.color_shift)
random_color_shift = reference_only(_ref.random_color_shift)
pca_color_augment = reference_only(_ref.pca_color_augment)
