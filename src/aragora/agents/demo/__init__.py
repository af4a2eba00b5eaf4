"""aragora.agents.demo: offline agents, the demo personas and the simulated ``sim`` agents."""
