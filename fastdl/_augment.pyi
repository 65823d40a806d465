# Stub of the compiled module fastdl._augment (fastdl/_augment.pyx).
import numpy as np
from numpy.typing import NDArray

MODES: dict[str, int]

def set_streaming(enabled: bool) -> None: ...
def set_simd(enabled: bool) -> None: ...
def copy_rows(
    mode: str,
    x: np.ndarray,
    y: np.ndarray,
    nchw: bool,
    *,
    flags: NDArray[np.uint8] | None = ...,
    tops: NDArray[np.int64] | None = ...,
    lefts: NDArray[np.int64] | None = ...,
    pad_h: int = ...,
    pad_w: int = ...,
    stream: bool = ...,
    n_threads: int = ...,
) -> None: ...
def shift(
    x: np.ndarray,
    y: np.ndarray,
    nchw: bool,
    shifts: np.ndarray | None,
    plus: NDArray[np.uint8] | None,
    minus: NDArray[np.uint8] | None,
    stream: bool = ...,
    n_threads: int = ...,
) -> None: ...
