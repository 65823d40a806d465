"""Reference ops of the optim family (to be written)."""
__all__ = []
