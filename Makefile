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

.PHONY: help install tools run test lint format check reset-data load bench bench-faults bench-sampling

# `make load` defaults: a short mixed run against a local API.
SCENARIO ?= mixed
USERS ?= 10
DURATION ?= 1m
BASE_URL ?= http://127.0.0.1:5001
SCENARIOS := low errors high resupply mixed

help: ## List the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit("suppliers: Python 3.11 or newer is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	@echo "suppliers: creating .venv with uv $(UV_VERSION)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	@echo "suppliers: installing the locked dependencies into .venv (the first time: about a minute)"
	@$(UV) sync --quiet --frozen --all-groups --python $(BIN)/python
	@touch $@

install: $(VENV)/.installed ## Create .venv and install the locked dependencies (first run: a minute)

tools: ## Build the OpenTelemetry Collector, Prometheus, promtool, Helm and kubecheck the stack and chart tests run (Go; cached: first run a few minutes)
	@$(PYTHON) tools/build.py

run: install ## Start the API on :5001 with sample data (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL)
	$(BIN)/suppliers serve

test: install ## Run the whole test suite against real PostgreSQL and Redis (builds `make tools` first when Go is here)
	@$(PYTHON) tools/build.py --if-go
	$(BIN)/pytest

load: install ## Drive load at BASE_URL: make load SCENARIO=high USERS=20 DURATION=2m (reports in reports/load/)
	@case " $(SCENARIOS) " in *" $(SCENARIO) "*) ;; *) echo "suppliers: SCENARIO must be one of: $(SCENARIOS)"; exit 2;; esac
	@curl -fsS -o /dev/null "$(BASE_URL)/health/live" || { echo "suppliers: no API answers at $(BASE_URL) (start it with make run, or set BASE_URL)"; exit 2; }
	@mkdir -p reports/load
	$(BIN)/locust -f load/locustfile.py --headless --users $(USERS) --spawn-rate $(USERS) --run-time $(DURATION) \
	  --host $(BASE_URL) --csv reports/load/$(SCENARIO) --html reports/load/$(SCENARIO).html --only-summary \
	  $$(printf %s "$(SCENARIO)" | sed 's/^./\U&/')User

bench: install ## Benchmark POST/GET against pgbench's ceiling, telemetry on vs off, RSS (reports/bench/; ~15 min)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && apt-get install -y -qq wrk >/dev/null); } || \
	  { echo "suppliers: the benchmark needs wrk: apt-get install wrk"; exit 2; }
	cd load && BENCH_OUT=$${BENCH_OUT:-$(CURDIR)/reports/bench} PYTHONPATH=. ../$(BIN)/python -m bench

bench-faults: install ## What clients see through PostgreSQL restarts and a burst past the pool (reports/bench/faults.md; ~2 min)
	cd load && BENCH_OUT=$${BENCH_OUT:-$(CURDIR)/reports/bench} PYTHONPATH=. ../$(BIN)/python -m bench.faults

bench-sampling: install tools ## Cost of the agent and gateways per 1,000 spans/s, what sampling keeps, faults of the pipeline (reports/bench/; ~8 min)
	cd load && BENCH_OUT=$${BENCH_OUT:-$(CURDIR)/reports/bench} PYTHONPATH=. ../$(BIN)/python -m bench.sampling
	cd load && BENCH_OUT=$${BENCH_OUT:-$(CURDIR)/reports/bench} PYTHONPATH=. ../$(BIN)/python -m bench.pipeline

lint: install ## ruff and mypy
	$(BIN)/ruff check src tests migrations load tools
	$(BIN)/ruff format --check src tests migrations load tools
	$(BIN)/mypy

format: install ## Format and fix what ruff can
	$(BIN)/ruff format src tests migrations load tools
	$(BIN)/ruff check --fix src tests migrations load tools

check: lint test ## Lint, then test

reset-data: ## Delete the embedded servers' data under .data/ (the next `make run` loads sample data again)
	rm -rf .data
