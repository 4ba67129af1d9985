# labelloop — `make help` lists the targets.
VENV ?= .venv
PYTHON ?= python3

.PHONY: help demo test test-fast lint compile check bench image fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

demo: ## install, then run the active-learning pipeline locally on real bundled data
	@bash .ci/setup.sh demo
	@$(VENV)/bin/labelloop demo

test: ## install what the tests need (Label Studio, GCS emulator, Debian packages), then lint and run them all
	@bash .ci/setup.sh test
	@$(MAKE) --no-print-directory lint
	@$(VENV)/bin/python -m pytest

lint: ## ruff: lint and format check (the rules are in pyproject.toml)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

test-fast: ## run the tests without the slow end-to-end ones (assumes `make test` ran once)
	@$(VENV)/bin/python -m pytest -m "not slow"

image: ## build the components' image with podman (offline base; `make test` does it too)
	@bash .ci/container.sh

fuzz: ## property-based fuzzing of manifest and CSV parsing, many more examples than CI runs
	@LABELLOOP_FUZZ_PROFILE=fuzz $(VENV)/bin/python -m pytest tests/badinput/test_fuzz.py -q

compile: ## compile every component and pipeline to YAML
	@$(VENV)/bin/python compile.py

check: ## fail when a committed YAML is stale
	@$(VENV)/bin/python compile.py --check

bench: ## run every benchmark (slow; prints figures beside their baselines)
	@bash .ci/setup.sh bench
	@for b in benchmarks/[!_]*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done
