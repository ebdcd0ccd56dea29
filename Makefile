# coachbase — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Re-install only when the dependency list changes (quick on later runs).
VENV_STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
JS_DIR   := tests/js
JS_STAMP := $(JS_DIR)/node_modules/.installed-$(shell cat $(JS_DIR)/package.json $(JS_DIR)/package-lock.json 2>/dev/null | cksum | cut -d' ' -f1)
TYPES_DIR   := types
TYPES_STAMP := $(TYPES_DIR)/node_modules/.installed-$(shell cat $(TYPES_DIR)/package.json $(TYPES_DIR)/package-lock.json 2>/dev/null | cksum | cut -d' ' -f1)

.PHONY: help dev chat test lint format db-reset migrate status types bench bench-smoke chaos clean venv

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[devstack,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

$(JS_STAMP): $(JS_DIR)/package.json
	@command -v npm >/dev/null || { echo "npm is required for the supabase-js tests"; exit 1; }
	@if [ -f $(JS_DIR)/package-lock.json ]; then \
		npm ci --prefix $(JS_DIR) --no-audit --no-fund --loglevel=error; \
	else \
		npm install --prefix $(JS_DIR) --no-audit --no-fund --loglevel=error; \
	fi
	@rm -f $(JS_DIR)/node_modules/.installed-*
	@touch $@

$(TYPES_STAMP): $(TYPES_DIR)/package.json
	@command -v npm >/dev/null || { echo "npm is required for \`make types\` (postgres-meta's typegen, tsc)"; exit 1; }
	@npm ci --prefix $(TYPES_DIR) --no-audit --no-fund --loglevel=error
	@rm -f $(TYPES_DIR)/node_modules/.installed-*
	@touch $@

venv: $(VENV_STAMP)

dev: $(VENV_STAMP) ## Run the local stack: Postgres :54322, migrations, seed, gateway :54321
	$(BIN)/python -m devstack up

test: $(VENV_STAMP) $(JS_STAMP) $(TYPES_STAMP) ## Run the test suite (embedded Postgres, official clients)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

chat: $(VENV_STAMP) ## Talk to a coach in the terminal (needs `make dev` running)
	$(BIN)/python -m devtools.chat_client $(CHAT_ARGS)

lint: $(VENV_STAMP) ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV_STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

db-reset: $(VENV_STAMP) ## Rebuild the local database: bootstrap, migrations, seed (stop `make dev` first)
	$(BIN)/python -m devstack reset

migrate: $(VENV_STAMP) ## Apply pending migrations to the local database (the running one, if `make dev` runs)
	$(BIN)/python -m devstack migrate

status: $(VENV_STAMP) ## Print URLs and keys, like `supabase status`
	@$(BIN)/python -m devstack status

chaos: $(VENV_STAMP) ## Break workers, gateway and Postgres under load; check nothing is lost (CHAOS_ARGS="--seconds 300")
	$(BIN)/python -m devtools.chaos $(CHAOS_ARGS)

types: $(VENV_STAMP) $(TYPES_STAMP) ## Regenerate types/database.types.ts from the migrations (supabase gen types typescript)
	$(BIN)/python -m devstack.typegen

bench: $(VENV_STAMP) ## Run the benchmarks (report under bench/results/)
	$(BIN)/python -m bench

bench-smoke: $(VENV_STAMP) ## Run every benchmark at a tiny size (CI: none may rot; the figures mean nothing)
	$(BIN)/python -m bench --smoke

clean: ## Remove the virtualenv, npm packages and local data
	rm -rf $(VENV) $(JS_DIR)/node_modules $(TYPES_DIR)/node_modules .devstack .pytest_cache .mypy_cache .ruff_cache
