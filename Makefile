# The two commands a newcomer types: `make up` (the demo stack) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help venv test lint typecheck unit clean up preview refresh destroy drift adopt bench

help:
	@echo "make up        deploy the demo stack against the bundled useapi.net emulator"
	@echo "make preview   show what 'up' would change"
	@echo "make refresh   read the demo stack's accounts back from the emulator"
	@echo "make destroy   delete the demo stack's accounts"
	@echo "make drift     refresh-preview the demo stack: fail, naming the accounts, on drift"
	@echo "make adopt STACK=prod [WRITE=1]   declare the accounts useapi.net has and the stack lacks"
	@echo "make test      lint, type-check and run every test"
	@echo "make bench     benchmark fleet-sized applies"

# The virtualenv Pulumi.yaml names, with runtime and dev requirements installed.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy .

unit: $(STAMP)
	$(PY) -m pytest -q

test: lint typecheck unit

# The demo stack on the bundled emulator: the pulumi CLI when installed, else the offline engine.
# localengine/demo.py starts and always stops the emulator (see its docstring).
up: $(STAMP)
	$(PY) -m localengine.demo up

preview: $(STAMP)
	$(PY) -m localengine.demo preview

refresh: $(STAMP)
	$(PY) -m localengine.demo refresh

destroy: $(STAMP)
	$(PY) -m localengine.demo destroy

# Day-2: the demo stack's drift check (as .github/workflows/drift.yml runs it for a real stack).
drift: $(STAMP)
	$(PY) -m localengine.demo drift

# Adopt accounts configured by hand: `make adopt STACK=prod` shows them, WRITE=1 adds them.
adopt: $(STAMP)
	@test -n "$(STACK)" || { echo "usage: make adopt STACK=<stack> [WRITE=1]"; exit 2; }
	$(PY) -m provider.adopt --stack "$(STACK)" $(if $(WRITE),--write)

# Not part of `make test`: timings belong in bench/README.md, not in CI's pass/fail.
# `make bench BENCH_ARGS=--quick` for a smoke run; `python -m bench --help` for the options.
bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
