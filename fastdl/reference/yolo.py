"""Reference ops of the yolo family (to be written)."""
__all__ = []
