import numpy as np
from numpy.typing import NDArray

FORMATS: dict[str, int]

def box_convert(boxes: NDArray[np.floating], in_fmt: int, out_fmt: int,
                out: NDArray[np.floating], n_threads: int) -> None: ...
def iou(a: NDArray[np.floating], b: NDArray[np.floating], out: NDArray[np.floating],
        n_threads: int) -> None: ...
def box_iou(a: NDArray[np.floating], b: NDArray[np.floating], out: NDArray[np.floating],
            n_threads: int) -> None: ...
def nms(boxes: NDArray[np.floating], scores: NDArray[np.floating], iou_threshold: float,
        use_score_threshold: bool, score_threshold: float,
        max_output: int) -> NDArray[np.int64]: ...
def batched_nms(boxes: NDArray[np.floating], scores: NDArray[np.floating],
                labels: NDArray[np.int64], n_classes: int, iou_threshold: float,
                use_score_threshold: bool, score_threshold: float, max_output: int,
                n_threads: int) -> NDArray[np.int64]: ...
