"""fastdl.schedules (to be written)."""
