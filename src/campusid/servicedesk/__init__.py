"""Route 4: the service hotline (客服) — agents, service hours, tickets."""
