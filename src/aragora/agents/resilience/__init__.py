"""aragora.agents.resilience: the wrappers around an LLM (retry, limits, breakers, fallback)."""
