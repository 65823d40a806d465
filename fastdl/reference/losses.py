"""Reference ops of the losses family (to be written)."""
__all__ = []
