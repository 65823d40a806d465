"""Reference ops of the data family (to be written)."""
__all__ = []
