"""Reference ops of the dropout family (to be written)."""
__all__ = []
