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

# The browser client's npm packages (socket.io-client), served from web/node_modules.
WEB_DEPS := web/node_modules/.package-lock.json
$(WEB_DEPS): web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	touch $@

## Run the server on the embedded default (SQLite in ./data, no Redis) with a live demo meeting.
run: $(VENV)/.installed $(WEB_DEPS)
	$(BIN)/phonghop serve --demo --data-dir $(DATA_DIR)

## Install test dependencies, start PostgreSQL and Redis if needed, lint, run the whole suite.
test: $(VENV)/.installed-test $(WEB_DEPS) services
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
