import numpy as np
from numpy.typing import NDArray

def decode(grid: NDArray[np.floating], anchors: NDArray[np.float64], scale_w: float,
           scale_h: float, boxes: NDArray[np.floating], conf: NDArray[np.floating],
           probs: NDArray[np.floating], n_threads: int) -> None: ...
def best_classes(conf: NDArray[np.floating], probs: NDArray[np.floating], threshold: float,
                 probs_nan: bool) -> tuple[NDArray[np.int64], NDArray[np.floating],
                                           NDArray[np.int64], bool]: ...
