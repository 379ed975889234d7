# The two commands a newcomer types: `make up` (the demo stack) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help venv test lint typecheck unit clean up preview refresh destroy drift engine adopt recover bench cli actionlint versitygw

# The real engine, built from Pulumi's Go modules at the version the pulumi SDK is pinned to
# (requirements.txt; tests/repo/test_pins.py keeps the two, and the deploy workflow's, equal).
PULUMI_VERSION := 3.260.0
TOOLS := .tools/bin
CLI_STAMP := $(TOOLS)/.pulumi-v$(PULUMI_VERSION)
GO_ENV := GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
# `-v` lists each package as it is compiled: the progress of a first build (make up sets it).
GO_BUILD_FLAGS ?=
# actionlint checks .github/workflows in `make test` once `make actionlint` has built it; zizmor
# (the dev lock) audits them and .github/dependabot.yml for security, offline, every time.
ACTIONLINT_VERSION := 1.7.12
ACTIONLINT := $(TOOLS)/actionlint
ACTIONLINT_STAMP := $(TOOLS)/.actionlint-v$(ACTIONLINT_VERSION)
# versitygw, a real S3 server over a folder: the shared-backend tests run the CLI against it on
# loopback (tests/support/object_store.py starts one per test worker).
VERSITYGW_VERSION := 1.8.0
VERSITYGW := $(TOOLS)/versitygw
VERSITYGW_STAMP := $(TOOLS)/.versitygw-v$(VERSITYGW_VERSION)

help:
	@echo "make up        deploy the demo stack against the bundled useapi.net emulator (real pulumi; builds it first if needed)"
	@echo "make preview   show what 'up' would change"
	@echo "make refresh   read the demo stack's accounts back from the emulator"
	@echo "make destroy   delete the demo stack's accounts"
	@echo "make drift     refresh-preview the demo stack: fail, naming the accounts, on drift"
	@echo "make adopt STACK=prod [WRITE=1]   declare the accounts useapi.net has and the stack lacks"
	@echo "make recover STACK=prod [FORCE=1] after a deploy was cut off: clear a stale lock and pending operations, read every account back"
	@echo "make test      lint, type-check and run every test"
	@echo "make bench     benchmark fleet-sized applies"
	@echo "make cli       build the pulumi CLI and its Python language host into .tools/bin (needs Go)"
	@echo "make actionlint build actionlint into .tools/bin (needs Go); make test then checks the workflows"
	@echo "make versitygw  build the S3 server the shared-backend tests use into .tools/bin (needs Go)"
	@echo "make lock      after editing requirements*.txt: regenerate the hash-locked requirements*.lock.txt"

# The virtualenv Pulumi.yaml names, installed from the dev lock (runtime and tools): every package
# pinned with its hashes (--require-hashes: a file whose hash differs is refused), wheels only (no
# package's build code runs here). requirements*.txt keep the ranges a person edits; `make lock`
# turns them into the locks. tests/repo/test_locks.py fails when a lock no longer matches.
LOCKS := requirements.lock.txt requirements-dev.lock.txt
$(STAMP): $(LOCKS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "the locks need Python 3.11 or newer: rm -rf $(VENV) and make venv PYTHON=python3.11")'
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --only-binary :all: \
	  -r requirements-dev.lock.txt || { echo "make venv: pip refused requirements-dev.lock.txt" \
	  "(above). A package or hash the lock lacks, after an update: make lock" >&2; exit 1; }
	touch $(STAMP)

venv: $(STAMP)

# `make lock` after editing requirements*.txt: resolves them into requirements*.lock.txt, keeping
# every pin that still fits (UPGRADE=1: the newest that fits instead), then installs the result.
# One resolution for every platform and Python 3.11+, one version per package (Dependabot updates
# a lock line by line); the runtime lock first, and its pins bind the dev lock. After a merge
# that conflicted in a lock: keep either side's lock, then make lock.
.PHONY: lock
LOCK_COMPILE = $(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--fork-strategy fewest --generate-hashes --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
lock:
	@! grep -l '^<<<<<<< ' $(LOCKS) || { echo "merge conflict in the lock above: keep one side" \
	  "(git checkout --ours requirements*.lock.txt), then make lock again" >&2; exit 1; }
	test -x $(VENV)/bin/uv || $(MAKE) --no-print-directory venv
	$(LOCK_COMPILE) requirements.txt --output-file requirements.lock.txt
	$(LOCK_COMPILE) requirements-dev.txt --constraint requirements.lock.txt --output-file requirements-dev.lock.txt
	$(MAKE) --no-print-directory venv

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/zizmor --offline --no-progress --quiet .github
	@if [ -x $(ACTIONLINT) ]; then echo "$(ACTIONLINT) .github/workflows/*.yml"; $(ACTIONLINT) .github/workflows/*.yml; \
	  else echo "actionlint skipped: $(ACTIONLINT) not built (make actionlint, needs Go)"; fi

typecheck: $(STAMP)
	$(PY) -m mypy .

# The real-engine tests need the CLI, the shared-backend ones versitygw too: where Go exists both
# are built first (a no-op once built); without Go they use a pulumi on PATH, or skip and say so.
HAVE_GO := $(shell command -v go 2>/dev/null)
# pytest-xdist workers: one per CPU, from 2 to 4 (a real-engine test waits on processes for part
# of its time; a third worker on two CPUs measured slower, the CLI runs being CPU-bound).
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -lt 2 ] && n=2; [ $$n -gt 4 ] && n=4; echo $$n)
unit: $(STAMP) $(if $(HAVE_GO),$(CLI_STAMP) $(VERSITYGW_STAMP))
	PATH="$(CURDIR)/$(TOOLS):$$PATH" $(PY) -m pytest -q -n $(PYTEST_WORKERS)

test: lint typecheck unit

# The demo stack on the bundled emulator, through the real pulumi CLI (demo/ starts and always
# stops the emulator). `engine` first: the CLI on PATH, else the one `make cli` built, else it is
# built now where Go exists, else the command stops before touching anything.
up preview refresh destroy drift: engine $(STAMP)
	PATH="$(CURDIR)/$(TOOLS):$$PATH" $(PY) -m demo $@

engine:
	@if PATH="$(CURDIR)/$(TOOLS):$$PATH" command -v pulumi >/dev/null; then :; \
	elif command -v go >/dev/null; then \
	  echo "No pulumi CLI yet: building it once with make cli (a one-time build of a few minutes; progress below)."; \
	  $(MAKE) --no-print-directory cli GO_BUILD_FLAGS=-v; \
	else \
	  echo "error: the pulumi CLI is not installed: make $(MAKECMDGOALS) needs pulumi 3.139.0 or newer." >&2; \
	  echo "  - with Go (https://go.dev/dl/): make cli builds the tested version into $(TOOLS)" >&2; \
	  echo "  - or Pulumi's official installer: curl -fsSL https://get.pulumi.com | sh" >&2; \
	  echo "Nothing was changed." >&2; exit 1; \
	fi

# Adopt accounts configured by hand: `make adopt STACK=prod` shows them, WRITE=1 adds them.
adopt: $(STAMP)
	@test -n "$(STACK)" || { echo "usage: make adopt STACK=<stack> [WRITE=1]"; exit 2; }
	$(PY) -m provider.adopt --stack "$(STACK)" $(if $(WRITE),--write)

# After a deploy was cut off (docs/interrupted-deploys.md): `make recover STACK=prod`.
# FORCE=1 only when you know the run holding a young lock from another host is gone.
# MAX_RUN=<minutes> (the deploy job's timeout-minutes, default 30) and CLOCK_SKEW=<minutes>
# (default 5): a lock from another host older than their sum is stale.
recover: $(STAMP)
	@test -n "$(STACK)" || { echo "usage: make recover STACK=<stack> [FORCE=1] [MAX_RUN=<minutes>] [CLOCK_SKEW=<minutes>]"; exit 2; }
	PATH="$(CURDIR)/$(TOOLS):$$PATH" $(PY) -m provider.recover --stack "$(STACK)" $(if $(FORCE),--force) $(if $(MAX_RUN),--max-run-minutes "$(MAX_RUN)") $(if $(CLOCK_SKEW),--clock-skew-minutes "$(CLOCK_SKEW)")

# Not part of `make test`: timings belong in bench/README.md, not in CI's pass/fail.
# `make bench BENCH_ARGS=--quick` for a smoke run; `python -m bench --help` for the options.
bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

# `make cli`: the pulumi CLI (package cmd/pulumi of pkg/v3, built from tools/pulumi-cli, a
# wrapper module that pins pkg/v3 and sdk/v3 at PULUMI_VERSION: `go install` refuses pkg/v3
# because of its replace directives), our Python language host (tools/pulumi-cli/langhost: the
# module proxy does not serve Pulumi's own, see its doc comment), and from the sdk/v3 module of
# the same version the SDK's exec shim and the dynamic-provider plugin
# pulumi-resource-pulumi-python (runs `python -m pulumi.dynamic` in the virtualenv Pulumi.yaml
# names). A no-op when the stamp for PULUMI_VERSION exists.
cli: $(CLI_STAMP)

$(CLI_STAMP): tools/pulumi-cli/go.mod tools/pulumi-cli/go.sum tools/pulumi-cli/langhost/main.go
	@command -v go >/dev/null || { echo "make cli needs Go (https://go.dev/dl/)"; exit 1; }
	mkdir -p $(TOOLS)
	@echo "make cli: 1/3 the pulumi CLI (pkg/v3 v$(PULUMI_VERSION)); the first build downloads and compiles a few hundred modules"
	cd tools/pulumi-cli && $(GO_ENV) go build $(GO_BUILD_FLAGS) -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$(PULUMI_VERSION)" -o $(CURDIR)/$(TOOLS)/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
	@echo "make cli: 2/3 the Python language host (tools/pulumi-cli/langhost)"
	cd tools/pulumi-cli && $(GO_ENV) go build $(GO_BUILD_FLAGS) -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$(PULUMI_VERSION)" -o $(CURDIR)/$(TOOLS)/pulumi-language-python ./langhost
	@echo "make cli: 3/3 the SDK's exec shim and dynamic-provider plugin"
	sdk=$$(cd tools/pulumi-cli && $(GO_ENV) go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3) && \
	  install -m 0755 $$sdk/python/cmd/pulumi-language-python-exec $(TOOLS)/pulumi-language-python-exec && \
	  install -m 0755 $$sdk/python/dist/pulumi-resource-pulumi-python $(TOOLS)/pulumi-resource-pulumi-python
	rm -f $(TOOLS)/.pulumi-v*
	$(TOOLS)/pulumi version | grep -qx "v$(PULUMI_VERSION)"
	touch $@

# `make actionlint`: the GitHub Actions workflow linter, a Go module; a no-op when the stamp for
# ACTIONLINT_VERSION exists. `make test` runs it where it has been built and says so where not.
actionlint: $(ACTIONLINT_STAMP)

$(ACTIONLINT_STAMP):
	@command -v go >/dev/null || { echo "make actionlint needs Go (https://go.dev/dl/)"; exit 1; }
	mkdir -p $(TOOLS)
	GOBIN=$(CURDIR)/$(TOOLS) $(GO_ENV) go install github.com/rhysd/actionlint/cmd/actionlint@v$(ACTIONLINT_VERSION)
	rm -f $(TOOLS)/.actionlint-v*
	$(ACTIONLINT) -version | grep -qx "v$(ACTIONLINT_VERSION)"
	touch $@

# `make versitygw`: Versity's S3 gateway (Apache-2.0), a Go module, serving S3 over a folder; the
# tests of a team's shared s3:// backend (tests/acceptance/test_shared_backend.py) run the real
# CLI against it on 127.0.0.1. A no-op when the stamp for VERSITYGW_VERSION exists. `go install`
# sets no version string in the binary, so the module version it was built from is checked.
versitygw: $(VERSITYGW_STAMP)

$(VERSITYGW_STAMP):
	@command -v go >/dev/null || { echo "make versitygw needs Go (https://go.dev/dl/)"; exit 1; }
	mkdir -p $(TOOLS)
	GOBIN=$(CURDIR)/$(TOOLS) $(GO_ENV) go install -trimpath -ldflags "-s -w" github.com/versity/versitygw/cmd/versitygw@v$(VERSITYGW_VERSION)
	rm -f $(TOOLS)/.versitygw-v*
	go version -m $(VERSITYGW) | grep -qE "^\s+mod\s+github.com/versity/versitygw\s+v$(VERSITYGW_VERSION)\s"
	touch $@

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis
