# Developer shortcuts; each target is a thin wrapper over a script in scripts/ (see README.md).
.DEFAULT_GOAL := help
SHELL := /bin/bash
BIN := .venv/bin
STAGE ?= 1

.PHONY: help run test check conformance migration migration-reset migration-squash clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

run: ## install and run the all-in-one (state in /var/lib/neutrino as root, or NEUTRINO_STATE_DIR)
	./scripts/run.sh

test: ## the whole suite: ruff, mypy, import contracts, pytest on SQLite and PostgreSQL
	./scripts/test.sh

check: ## quick static checks only (ruff, mypy, import contracts), in the existing .venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

conformance: ## tempest conformance against a fresh server: make conformance [STAGE=1,2] [ARGS=...]
	./scripts/conformance.sh --stage $(STAGE) $(ARGS)

migration: ## autogenerate a schema migration from the models: make migration m="what changed"
	@test -n "$(m)" || { echo 'usage: make migration m="what changed"'; exit 2; }
	./scripts/new-migration.sh "$(m)"

migration-reset: ## re-create the initial migration from the models (only while it is the only one)
	./scripts/new-migration.sh --reset-initial

migration-squash: ## replace ALL revisions by one initial migration (pre-release only)
	./scripts/new-migration.sh --squash

clean: ## remove caches and build output (keeps .venv, state/ and runs/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info
	find src tests -name __pycache__ -type d -prune -exec rm -rf {} +
