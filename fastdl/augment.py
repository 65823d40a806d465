"""Public ops of the augment family (to be written)."""
__all__ = []
