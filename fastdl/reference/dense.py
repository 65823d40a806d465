"""Reference ops of the dense family (to be written)."""
__all__ = []
