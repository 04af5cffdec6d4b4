# Loa: `make run` starts everything on the embedded defaults; `make test` runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PRISM := tests/prism/node_modules/.bin/prism
SMSC := tests/smsc/node_modules/smpp/package.json
# Two processes: one per core on the 2-core machines we run on.
XDIST ?= -n 2

.PHONY: setup run test test-fast test-faults test-sqlite test-postgresql lint prism smsc clean babel bench bench-postgresql

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.runtime

# `make run` needs Loa and its run-time dependencies only, not the test tools (a full setup
# counts: it installs a superset).
$(VENV)/.runtime: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $@

run: $(VENV)/.runtime
	@scripts/ensure-services.sh
	@scripts/run.sh

prism: $(PRISM)

# The SMSC that the SMPP tests bind to: node-smpp in server mode (tests/smsc/smsc.js).
smsc: $(SMSC)

$(SMSC): tests/smsc/package.json
	@scripts/ensure-services.sh --node
	npm install --prefix tests/smsc --no-audit --no-fund --loglevel=error
	@touch $@

$(PRISM): tests/prism/package.json
	@scripts/ensure-services.sh --node
	npm install --prefix tests/prism --no-audit --no-fund --loglevel=error
	@touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy campaigns gateway workers
	$(VENV)/bin/lint-imports

test-sqlite: setup prism smsc
	@scripts/ensure-services.sh --postgres --chromium
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest $(XDIST) --db=sqlite

# The browser tests (tests/e2e) start Loa on SQLite whatever --db says: the SQLite pass runs them.
test-postgresql: setup prism smsc
	@scripts/ensure-services.sh --postgres
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest $(XDIST) --db=postgresql -m "not e2e"

# The whole suite: lint gates, then every test on SQLite and again on PostgreSQL.
test: lint test-sqlite test-postgresql

# The edit-test loop: SQLite only, no slow tests, stop at the first failure.
test-fast: setup smsc
	@scripts/ensure-services.sh --chromium
	$(PY) -m pytest $(XDIST) --db=sqlite -m "not slow" -x -q
	$(VENV)/bin/ruff check .

# The fault suite alone (tests/faults/, also part of `make test`): real processes killed with
# kill -9, Redis wiped, SQLite's write lock held; each scenario ends with the ledger check.
# LOA_FAULT_SEED=<n> replays a run's random points (the seed is printed in pytest's header).
test-faults: setup
	@scripts/ensure-services.sh --postgres
	$(PY) -m pytest $(XDIST) --db=sqlite tests/faults
	$(PY) -m pytest $(XDIST) --db=postgresql tests/faults

# Benchmarks (never part of `make test`): Loa against a baseline measured in the same run;
# writes bench/results.json and prints the table. BENCH_SIZE=0.1 runs a tenth of the full sizes.
BENCH_SIZE ?= 1.0
bench: setup
	@scripts/ensure-services.sh
	$(PY) -m bench.run --size $(BENCH_SIZE)

# The same against a throwaway PostgreSQL (started as the tests start theirs).
bench-postgresql: setup
	@scripts/ensure-services.sh --postgres
	$(PY) -m bench.run --postgresql --size $(BENCH_SIZE) --out bench/results-postgresql.json

babel: setup
	@mkdir -p var
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o var/messages.pot .
	$(VENV)/bin/pybabel update -i var/messages.pot -d gateway/translations -l en --no-fuzzy-matching
	$(PY) scripts/translate.py

clean:
	rm -rf $(VENV) var tests/prism/node_modules tests/smsc/node_modules
