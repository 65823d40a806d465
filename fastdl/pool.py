"""Public ops of the pool family (to be written)."""
__all__ = []
