"""Public ops of the conv family (to be written)."""
__all__ = []
