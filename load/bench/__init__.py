"""`make bench`: the API's throughput, latency and memory, measured against PostgreSQL's own ceiling.

Run as `python -m bench` from load/ (the Makefile does). Everything it needs starts here: embedded
PostgreSQL and Redis, the API under uvicorn (telemetry on and off), an OTLP sink, wrk and pgbench.
"""
