"""Schema versions, one small module each, applied in order (never edit a released one)."""
