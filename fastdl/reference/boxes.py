"""Reference ops of the boxes family (to be written)."""
__all__ = []
