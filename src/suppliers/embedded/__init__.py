"""Real PostgreSQL and Redis servers from wheels, for `make run` and the tests when no URL is given."""
