"""aragora.agents.fakes: the fakes tests talk to (scripted LLMs, fake provider servers)."""
