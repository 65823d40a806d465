"""Reference ops of the gradcheck family (to be written)."""
__all__ = []
