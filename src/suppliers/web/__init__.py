"""HTTP: controllers, problem details, dependencies. Parses and answers; the rules live in services."""
