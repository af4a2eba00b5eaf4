"""aragora.agents.wire: one adapter per provider wire protocol, on a shared HTTP transport."""
