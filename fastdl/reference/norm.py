"""Reference ops of the norm family (to be written)."""
__all__ = []
