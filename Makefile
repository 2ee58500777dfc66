# 枫桥网格通 — every set-up step lives here, so a fresh clone needs only `make run` or `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
PWA_SOURCES := $(shell find pwa/src pwa/public -type f 2>/dev/null) pwa/index.html pwa/vite.config.ts pwa/package.json
export FENGQIAO_TEST_POSTGRES_URL
# When make started, to print how long `make test` and `make check` took, set-up included.
STARTED := $(shell date +%s)
FAST_TESTS := not slow and not server and not e2e
# pytest-xdist: one worker per core (at most 4); each worker builds its own template databases, and
# every test has its own copy, so tests never share state. PARALLEL= runs them in one process.
PARALLEL ?= -n auto --maxprocesses=4

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml uv.lock
	@# A first run cut short can leave a virtualenv without pip: start that one again.
	$(BIN)/python -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv sync --frozen --inexact --extra test --python $(BIN)/python
	touch $@

pwa/node_modules/.installed: pwa/package.json pwa/package-lock.json
	cd pwa && npm ci --no-audit --no-fund
	touch $@

pwa/dist/index.html: pwa/node_modules/.installed $(PWA_SOURCES)
	cd pwa && npm run build

install: $(BIN)/.installed pwa/node_modules/.installed ## Create the virtualenv and install Python and npm dependencies

pwa: pwa/dist/index.html ## Build the PWA into pwa/dist

migrate: $(BIN)/.installed ## Apply database migrations (FENGQIAO_DATABASE_URL, default SQLite in FENGQIAO_DATA_DIR)
	$(BIN)/fengqiao migrate

demo: migrate ## Load the Changning demo: divisions, grids, teams, demo accounts
	$(BIN)/fengqiao demo

run: install pwa demo ## Set everything up and serve on FENGQIAO_HOST:FENGQIAO_PORT (default 127.0.0.1:8000)
	$(BIN)/fengqiao serve

test: install pwa ## Set everything up, then every test: the fast tests on SQLite, all of them on PostgreSQL (browser journeys and server processes included), vitest
	@status=0; \
	$(BIN)/pytest $(PARALLEL) --engine=sqlite -m "$(FAST_TESTS)" --durations=10 \
		&& $(BIN)/pytest $(PARALLEL) --engine=postgresql --durations=15 && (cd pwa && npm test) || status=$$?; \
	echo "make test: $$(( $$(date +%s) - $(STARTED) )) s, set-up included"; \
	exit $$status

check: install ## The quick loop: lint, type checks, the fast tests on SQLite, vitest
	@status=0; \
	$(MAKE) --no-print-directory lint && $(MAKE) --no-print-directory typecheck \
		&& $(BIN)/pytest $(PARALLEL) --engine=sqlite -m "$(FAST_TESTS)" -q && (cd pwa && npm test) || status=$$?; \
	echo "make check: $$(( $$(date +%s) - $(STARTED) )) s"; \
	exit $$status

lint: $(BIN)/.installed ## Ruff lint and format check
	$(BIN)/ruff check backend tests bench grids
	$(BIN)/ruff format --check backend tests bench grids

typecheck: $(BIN)/.installed pwa/node_modules/.installed ## mypy on backend, vue-tsc on the PWA
	$(BIN)/mypy
	cd pwa && npm run typecheck

format: $(BIN)/.installed ## Format the Python code
	$(BIN)/ruff check --fix backend tests bench grids
	$(BIN)/ruff format backend tests bench grids

clean: ## Remove the virtualenv, node_modules, the PWA build and var/
	rm -rf $(VENV) pwa/node_modules pwa/dist var

.PHONY: help install pwa migrate demo run test check lint typecheck format clean
