"""Password resets made by someone else: the homeroom teacher, a school administrator, an agent."""
