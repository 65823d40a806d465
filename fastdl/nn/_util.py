"""Small helpers shared by the layers: a buffer cache."""
import numpy as np


class BufferCache:
    """Output arrays reused across steps while the shape repeats.

    Training alternates between at most a few batch shapes (the full batch and the last,
    smaller one), so a handful of entries per name is enough; the cache is cleared when it
    would grow past ``limit`` entries, which bounds it whatever the caller does.
    """

    __slots__ = ("_arrays", "limit")

    def __init__(self, limit=8):
        self._arrays = {}
        self.limit = limit

    def get(self, name, shape, dtype):
        key = (name, tuple(shape), np.dtype(dtype))
        a = self._arrays.get(key)
        if a is None:
            if len(self._arrays) >= self.limit:
                self._arrays.clear()
            a = self._arrays[key] = np.empty(shape, dtype=dtype)
        return a

    def clear(self):
        self._arrays.clear()
