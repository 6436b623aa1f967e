# kitestream: `make run` starts everything on a local broker; `make test` checks and tests.
# Both create .venv and install the project first; a second run reuses it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-thorough test-compiled check fmt bench install clean kafka-up kafka-down

# setup.py compiles the hot paths listed in services/compiled.py with mypyc (where a C
# compiler is at hand): their sources (which compiled.py prints) are inputs of the
# install, so that an edit is compiled again.
COMPILED_SOURCES := $(shell $(PYTHON) services/compiled.py)
$(STAMP): pyproject.toml setup.py services/compiled.py $(COMPILED_SOURCES)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

install: $(STAMP)

# Start the broker (unless KAFKA_BOOTSTRAP_SERVERS is set), create topics, run the
# services with the demo configuration; Ctrl-C stops all of it.
run: $(STAMP)
	$(BIN)/kitestream demo

# Lint and type-check, then run every test against a real broker, in parallel
# (TEST_WORKERS pytest-xdist workers; the tests mostly wait on Kafka; an idle worker
# takes tests queued for another, so a long test does not hold up the end). tests.session
# starts one broker for all workers unless KAFKA_BOOTSTRAP_SERVERS is set or Docker
# answers, and stops what it started, also when tests fail.
# The whole suite runs the compiled modules as pure Python (KITESTREAM_PURE_PYTHON=1:
# coverage sees their lines); test-compiled runs their tests again on the
# mypyc-compiled modules, with the test that both give identical outputs.
TEST_WORKERS ?= 4
test: check
	KITESTREAM_PURE_PYTHON=1 $(BIN)/python -m tests.session -n $(TEST_WORKERS) --dist worksteal \
		--durations=10 --cov --cov-report=term
	$(MAKE) --no-print-directory test-compiled

# The same, with the longest property tests and sweeps whole instead of in their short
# form (tests/thorough.py): after changing what they guard, and before a release.
test-thorough: $(STAMP)
	KITESTREAM_THOROUGH=1 $(MAKE) --no-print-directory test

test-compiled: $(STAMP)
	$(BIN)/python -m tests.session -n 2 -q tests/unit/flakiness tests/integration/flakiness \
		tests/unit/receiver/test_webhook_reader.py tests/unit/receiver/test_events.py \
		tests/unit/ingest/test_request.py

check: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every benchmark listed in bench/runner.py, on a broker of its own like `make test`
# (unless KAFKA_BOOTSTRAP_SERVERS is set), stopped afterwards. BENCH passes arguments:
# make bench BENCH=--quick, make bench BENCH="system -- --rate 300".
BENCH ?=
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH)

kafka-up: $(STAMP)
	$(BIN)/kitestream kafka up

kafka-down: $(STAMP)
	$(BIN)/kitestream kafka down

clean:
	-$(BIN)/kitestream kafka down
	-$(BIN)/kitestream kafka down --brokers 3
	rm -rf $(VENV) .kitestream .mypy_cache .ruff_cache .coverage
