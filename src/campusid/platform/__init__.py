"""平台管理: what platform administrators run (agents, and links to the other platform pages)."""
