"""Type stub of the compiled fastdl._activations module."""
import numpy as np
from numpy.typing import NDArray

KINDS: dict[str, int]

def forward(name: str, x: NDArray[np.floating], y: NDArray[np.floating], alpha: float,
            n_threads: int) -> None: ...
def backward(name: str, dy: NDArray[np.floating], s: NDArray[np.floating],
             dx: NDArray[np.floating], alpha: float, n_threads: int) -> None: ...
def math_function(name: str, x: NDArray[np.floating], y: NDArray[np.floating]) -> None: ...

ISA_NAMES: tuple[str, ...]
ISA: str

def select_isa(isa: str) -> str: ...
