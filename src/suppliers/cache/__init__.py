"""Redis: the client, and the gate every use of it goes through (sessions, login counts, health)."""
