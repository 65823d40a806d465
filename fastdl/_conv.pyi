"""Type stubs of the compiled convolution module (fastdl/_conv.pyx)."""
from typing import Optional

import numpy as np
from numpy.typing import NDArray
from typing_extensions import disjoint_base

ISA_NAMES: tuple[str, str, str]
ISA: str
GRAIN: int
SLAB_BYTES: int
WGRAD_CHUNKS: int

def select_kernels(isa: str) -> str: ...

@disjoint_base
class _Geometry:
    def __init__(self, x_shape: tuple[int, int, int, int], w_shape: tuple[int, int, int, int],
                 nhwc: bool, stride: tuple[int, int],
                 pads: tuple[tuple[int, int], tuple[int, int]],
                 out_size: tuple[int, int]) -> None: ...
    @property
    def macs(self) -> int: ...
    def scatter_tables(self) -> _Geometry: ...
    def direct(self, n_threads: int, itemsize: int, split_images: bool = ...,
               dot: bool = ...) -> _Geometry: ...

def conv2d_forward_direct(geom: _Geometry, x: NDArray[np.floating],
                          mask: Optional[NDArray[np.floating]], w: NDArray[np.floating],
                          b: Optional[NDArray[np.floating]], y: NDArray[np.floating],
                          relu: bool, n_threads: int, w_transposed: bool = ...) -> None: ...
def conv2d_input_grad(geom: _Geometry, dy: NDArray[np.floating],
                      mask: Optional[NDArray[np.floating]], w: NDArray[np.floating],
                      dx: NDArray[np.floating], n_threads: int) -> None: ...
def conv2d_weight_grad_direct(geom: _Geometry, x: NDArray[np.floating],
                              dy: NDArray[np.floating], mask: Optional[NDArray[np.floating]],
                              dwt: NDArray[np.floating], n_threads: int,
                              dot: bool = ...) -> None: ...
def conv2d_bias_grad(geom: _Geometry, dy: NDArray[np.floating],
                     mask: Optional[NDArray[np.floating]], db: NDArray[np.floating],
                     n_threads: int) -> None: ...
def zero_pad_planes(src: NDArray[np.uint8], dst: NDArray[np.uint8], top: int, left: int,
                    n_threads: int) -> None: ...
