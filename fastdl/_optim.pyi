from typing import Any

KINDS: dict[str, tuple[int, int]]

def tuple_eligible(kind: str, p: Any, g: Any, s1: Any, s2: Any) -> bool: ...
def fused_step(kind: str, params: list, grads: list, state1: list, state2: list,
               hyper: dict[str, float], n_threads: int) -> bool: ...
