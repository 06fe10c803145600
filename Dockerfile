# syntax=docker/dockerfile:1
# The suppliers API image (used by compose/compose.yaml for both `migrate` and `api`).
#
#   docker build -t suppliers-api:local .
#
# Layers, from least to most often changed:
#   1. python:3.12-slim + uv (from PyPI) + an unprivileged user
#   2. the locked third-party dependencies (pyproject.toml + uv.lock only: cached until they change)
#   3. the project itself (src/, migrations/, alembic.ini)
# `uv sync --no-dev` installs the runtime dependencies only: not the dev group (tests, linters,
# the embedded PostgreSQL/Redis servers) and not the load group (locust). The compose stack
# provides real PostgreSQL and Redis.

FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Use the image's Python 3.12, never download another one.
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    # Byte-compile at build time (faster start); copy rather than hard-link from the cache mount.
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

# uv from PyPI, pinned to the version the project's uv.lock was written with.
RUN pip install "uv==0.13.9"

RUN groupadd --system --gid 10001 suppliers \
 && useradd --system --uid 10001 --gid suppliers --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin suppliers

WORKDIR /app

# 2. Dependencies only: this layer is rebuilt only when pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# 3. The project. README.md is part of the package metadata (pyproject `readme`).
COPY README.md alembic.ini ./
COPY migrations ./migrations
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

ENV PATH="/app/.venv/bin:${PATH}"

USER suppliers

EXPOSE 5001

# Liveness only (no database round trip): python's urllib, no curl needed in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
  CMD ["/app/.venv/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5001/health/live', timeout=3)"]

CMD ["suppliers", "serve", "--host", "0.0.0.0", "--port", "5001"]
