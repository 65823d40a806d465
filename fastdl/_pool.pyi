"""Type stubs of the compiled pooling module (fastdl/_pool.pyx)."""
from typing import Optional, Tuple

import numpy as np
from numpy.typing import NDArray

# window: (kh, kw, sh, sw, ph, pw)


GRAIN: int
TASKS_PER_THREAD: int

def simd() -> str: ...
def _set_simd(avx2: bool) -> None: ...
def max_pool_forward(x: NDArray[np.floating], y: NDArray[np.floating],
                     indices: Optional[NDArray[np.int64]], window: Tuple[int, ...],
                     nhwc: bool, n_threads: int) -> None: ...
def avg_pool_forward(x: NDArray[np.floating], y: NDArray[np.floating],
                     window: Tuple[int, ...], count_include_pad: bool, nhwc: bool,
                     n_threads: int) -> None: ...
def max_pool_backward(dy: NDArray[np.floating], x: NDArray[np.floating],
                      indices: Optional[NDArray[np.int64]], dx: NDArray[np.floating],
                      window: Tuple[int, ...], nhwc: bool,
                      n_threads: int) -> bool: ...
def avg_pool_backward(dy: NDArray[np.floating], dx: NDArray[np.floating],
                      window: Tuple[int, ...], count_include_pad: bool, nhwc: bool,
                      n_threads: int) -> None: ...
def global_avg_forward(x: NDArray[np.floating], y: NDArray[np.floating], nhwc: bool,
                       n_threads: int) -> None: ...
def global_avg_backward(share: NDArray[np.floating], dx: NDArray[np.floating], nhwc: bool,
                        n_threads: int) -> None: ...
