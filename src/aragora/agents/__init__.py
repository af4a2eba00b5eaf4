"""aragora.agents."""
