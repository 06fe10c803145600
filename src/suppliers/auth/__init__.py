"""Authentication: passwords, tokens, the Redis session cache and login rate limiting."""
