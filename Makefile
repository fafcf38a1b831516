# Every target builds .venv on first use; only Python 3.11 is needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench soak lint eval clean

$(BIN)/hotline: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/hotline
	$(BIN)/hotline db upgrade
	$(BIN)/hotline content load
	$(BIN)/hotline serve --host $(HOST) --port $(PORT)

test: $(BIN)/hotline
	@# Browser tests drive Debian's Chromium (never a downloaded one); CJK fonts for screenshots.
	@command -v chromium >/dev/null || (apt-get install -y -qq chromium fonts-noto-cjk >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null)) \
	  || echo "chromium could not be installed: the browser tests will be skipped"
	$(BIN)/python -m pytest -q

bench: $(BIN)/hotline
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	command -v wrk >/dev/null || apt-get install -y -qq wrk || echo "install wrk to benchmark"
	$(BIN)/python -m tests.bench

soak: $(BIN)/hotline
	@# PostgreSQL and Redis on this machine; the soak restarts PostgreSQL and stops Redis once.
	$(BIN)/pip install --quiet -e '.[dev,soak]'
	$(BIN)/python -m tests.soak

eval: $(BIN)/hotline
	$(BIN)/python -m tests.eval.run

lint: $(BIN)/hotline
	$(BIN)/ruff check .
	$(BIN)/ruff format --check bot handlers content tests

clean:
	rm -rf $(VENV) instance .pytest_cache
