"""fastdl.init (to be written)."""
