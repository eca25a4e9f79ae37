# Two entry points (see README "Quick start"): `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= ./data

.PHONY: run test lint services bench-signaling clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

## Run the server on the embedded default (SQLite in ./data, no Redis) with a live demo meeting.
run: $(VENV)/.installed
	$(BIN)/phonghop serve --demo --data-dir $(DATA_DIR)

## Install test dependencies, start PostgreSQL and Redis if needed, lint, run the whole suite.
test: $(VENV)/.installed-test services
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

services:
	bash deploy/dev/ensure-services.sh

bench-signaling: $(VENV)/.installed-test
	$(BIN)/python bench/signaling.py --clients 1000

clean:
	rm -rf $(VENV) .pytest_cache
