# suppliers — every command a newcomer needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install run test lint format check reset-data

help: ## List the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit("suppliers: Python 3.11 or newer is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-groups --python $(BIN)/python
	@touch $@

install: $(VENV)/.installed ## Create .venv and install the locked dependencies (first run: a minute)

run: install ## Start the API on :5001 with sample data (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL)
	$(BIN)/suppliers serve

test: install ## Run the whole test suite against real PostgreSQL and Redis
	$(BIN)/pytest

lint: install ## ruff and mypy
	$(BIN)/ruff check src tests migrations
	$(BIN)/ruff format --check src tests migrations
	$(BIN)/mypy

format: install ## Format and fix what ruff can
	$(BIN)/ruff format src tests migrations
	$(BIN)/ruff check --fix src tests migrations

check: lint test ## Lint, then test

reset-data: ## Delete the embedded servers' data under .data/ (the next `make run` loads sample data again)
	rm -rf .data
