"""fastdl.tuning (to be written)."""
