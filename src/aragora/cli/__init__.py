"""aragora.cli."""
