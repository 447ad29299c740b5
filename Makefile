# migcompat developer tasks. `make test` is the README's test command and what CI runs.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup test lint demo

$(BIN)/migcompat: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(BIN)/migcompat

demo: setup
	$(BIN)/migcompat demo

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/mypy

test: setup
	bash tools/install-deps.sh
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q
