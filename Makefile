# Two commands on a fresh machine: `make run` (the portal with demo data on the embedded
# defaults) and `make test` (the whole suite). See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The machine's default python3 may be 3.11: find a 3.12+ interpreter explicitly.
PYTHON ?= $(shell for p in python3.13 python3.12 /root/.pyenv/versions/3.13*/bin/python3.13 \
	/root/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.13 /usr/local/bin/python3.12 \
	/usr/bin/python3.13 /usr/bin/python3.12 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && echo $$p && break; done)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help run test install install-dev lint check screenshots bench-web bench-photos bench-photos-portal bench-sync bench-sync-calls bench-uploads bench-load clean

help:
	@echo "make run    - the portal with demo data (SQLite, SQLite broker, Spark sandbox) on :$(PORT)"
	@echo "make test   - install dev dependencies and run the whole suite"
	@echo "make lint   - ruff, import contracts (import-linter), mypy and migration checks"
	@echo "make screenshots - every page at 390, 768 and 1366 px into var/screenshots/"

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12+ not found; set PYTHON=/path/to/python3.12"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	$(PY) manage.py seed_demo
	PORT=$(PORT) PY=$(PY) bin/run-portal

test: install-dev
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff check --preview --select PLC2701 .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/mypy

screenshots: install-dev
	$(PY) bin/screenshots

bench-web: install-dev
	$(PY) bench/web/run.py

bench-photos: install-dev
	$(PY) bench/photos/run.py

bench-photos-portal: install-dev
	$(PY) bench/photos/portal.py

bench-sync: install-dev
	$(PY) bench/sync/run.py

bench-sync-calls: install-dev
	$(PY) bench/sync/calls.py

bench-uploads: install-dev
	$(PY) bench/uploads/run.py

# A busy office on the production-like stack (PostgreSQL and Redis on 127.0.0.1, locust).
bench-load: install-dev
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/load/run.py

clean:
	rm -rf var/broker var/broker.sqlite3* var/portal.sqlite3*
