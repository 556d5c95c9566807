# Persona Studio. `make run` starts the dashboard; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
EMULATOR_PORT ?= 8765
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test test-fast lint format bench venv clean chromium migrate

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	mkdir -p var
	$(PY) manage.py migrate --noinput

## run: the dashboard and a task worker on SQLite against the bundled Tavus emulator (or real Tavus
##      with TAVUS_API_KEY); Ctrl+C stops all of them
run: migrate
	$(PY) manage.py demo_setup --emulator-url http://127.0.0.1:$(EMULATOR_PORT)
	@if [ -z "$$TAVUS_API_KEY" ]; then \
	  $(PY) manage.py tavus_emulator --port $(EMULATOR_PORT) --api-key demo-key --demo-personas >var/emulator.log 2>&1 & \
	  echo "Tavus emulator on http://127.0.0.1:$(EMULATOR_PORT) (log: var/emulator.log)"; \
	fi; \
	$(PY) manage.py db_worker --no-reload >var/worker.log 2>&1 & \
	echo "Task worker running (log: var/worker.log)"; \
	trap 'kill $$(jobs -p) 2>/dev/null' EXIT INT TERM; \
	echo ""; \
	echo "  Persona Studio: http://$(HOST):$(PORT)/"; \
	echo "  Log in as: demo / demo-password"; \
	echo ""; \
	$(PY) manage.py runserver $(HOST):$(PORT)

## chromium: Debian's Chromium for the browser tests (installed with apt when missing)
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "Installing Chromium for the browser tests (apt-get)..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

## test: the whole suite, browser tests included
test: $(STAMP) chromium
	$(PY) -m pytest -q $(PYTEST_ARGS)

## test-fast: everything but the browser tests
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not browser" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## bench: the performance benchmark (prints a table, writes bench/results.json); on PostgreSQL:
##        make bench DATABASE_URL=postgres://postgres@127.0.0.1:5432/ps_bench (a throwaway database is used)
bench: $(STAMP)
	$(PY) bench/run.py $(if $(DATABASE_URL),--database-url "$(DATABASE_URL)") $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
