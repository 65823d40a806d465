"""Type stub of the compiled fastdl._dense module."""
import numpy as np
from numpy.typing import NDArray

KINDS: dict[str | None, int]

def chunk_count(rows: int, cols: int) -> int: ...
def bias_activation(activation: str | None, y: NDArray[np.floating],
                    b: NDArray[np.floating] | None, alpha: float, n_threads: int) -> None: ...
def activation_grad(activation: str | None, dy: NDArray[np.floating],
                    y: NDArray[np.floating] | None, dz: NDArray[np.floating] | None,
                    partial: NDArray[np.float64] | None, alpha: float, n_threads: int) -> None: ...

ISA_NAMES: tuple[str, ...]
ISA: str

def select_isa(isa: str) -> str: ...
