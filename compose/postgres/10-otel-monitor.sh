#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data directory
# (mounted into /docker-entrypoint-initdb.d by compose/compose.yaml).
#
# Creates the least-privileged login the OpenTelemetry Collector's postgresql receiver needs:
# membership of the built-in pg_monitor role (read all pg_stat_* views and settings) and CONNECT
# on the application database -- no access to the application's tables.
#
# The password comes from OTEL_MONITOR_PASSWORD (same variable the collector reads); it is passed
# as a psql variable and quoted by psql (:'...'), never pasted into the SQL text by the shell.
set -euo pipefail

: "${OTEL_MONITOR_PASSWORD:?OTEL_MONITOR_PASSWORD must be set for the otel_monitor role}"

psql --set=ON_ERROR_STOP=1 \
     --username "$POSTGRES_USER" \
     --dbname "$POSTGRES_DB" \
     --set=monitor_password="$OTEL_MONITOR_PASSWORD" \
     --set=app_db="$POSTGRES_DB" <<'SQL'
CREATE ROLE otel_monitor WITH LOGIN PASSWORD :'monitor_password';
GRANT pg_monitor TO otel_monitor;
GRANT CONNECT ON DATABASE :"app_db" TO otel_monitor;
SQL
