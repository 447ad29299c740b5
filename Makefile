# migcompat developer tasks. `make test` is the README's test command and what CI runs.
#
# Reproducible data builds: `make catalogs` fetches the QEMU source packages pinned in
# catalogs.lock.toml (cached in $MIGCOMPAT_CACHE/sources, default ~/.cache/migcompat/sources)
# and regenerates the bundled qemu release catalogs from them: each import is merged with a
# probe of the release's pinned binary build where one runs here (5.2, 7.2, 10.0; probes
# cached in $MIGCOMPAT_CACHE/probes, builds fetched as for qemu-builds), then with
# overlay.toml; the merge report goes to docs/probe-merge.md.
# `make qemu-builds` unpacks the real QEMU binary builds pinned there ([[build]]) into
# $MIGCOMPAT_CACHE/builds (default ~/.cache/migcompat/builds) for tests/qemu_migrations;
# 7.2 is the system binary when it is the pinned build (Debian 12), else unpacked too
# (MIGCOMPAT_BUILD_7_2=private forces that, docs/real-migrations.md).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CATALOG_DIR := src/migcompat/catalog/data/qemu

.PHONY: setup test lint demo sources catalogs catalogs-state qemu-builds

# The stamp says the test extras are installed: the README's first command makes the same
# .venv with `pip install -e .` alone (no ruff, mypy or pytest), so the console script's
# existence proves nothing. The venv is made only when it has no python yet, so an existing
# one (from either README command) is reused, and a second run changes nothing.
SETUP_STAMP := $(VENV)/.migcompat-test-extras

$(SETUP_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

setup: $(SETUP_STAMP)

demo: setup
	$(BIN)/migcompat demo

lint: setup
	$(BIN)/ruff check src tests tools bench
	$(BIN)/mypy

test: setup
	bash tools/install-deps.sh
	$(BIN)/ruff check src tests tools bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q

sources: setup
	$(BIN)/migcompat sources --print-path

# Import every pinned tree, merge the probes of the pinned builds, then overlay.toml
# (hand-written behaviour), validate, write; docs/probe-merge.md is the merge report.
catalogs: sources
	$(BIN)/python tools/build_catalogs.py --out $(CATALOG_DIR)
catalogs-state: qemu-builds  # what each real build's VM sends, per machine type: docs/probe-state.md
	$(BIN)/python tools/build_state.py --release all --out $(CATALOG_DIR)

qemu-builds: setup
	$(BIN)/migcompat builds fetch all
