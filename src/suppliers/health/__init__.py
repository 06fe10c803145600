"""Liveness and readiness: what the process can reach."""
