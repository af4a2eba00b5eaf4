"""aragora.debate."""
