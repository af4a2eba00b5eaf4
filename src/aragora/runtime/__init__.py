"""aragora.runtime."""
