# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_BIN ?= /usr/lib/postgresql/15/bin

.PHONY: setup demo test postgres-bin bench lint clean

setup: $(VENV)/.installed

# pip is upgraded first: the bundled pip 23.2 skips lxml's html-clean extra and trafilatura then fails to import.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "scipol needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/scipol demo

# The storage tests need a real PostgreSQL 15 server binary (the test setup starts a throwaway cluster).
postgres-bin:
	@if [ ! -x $(PG_BIN)/initdb ]; then \
	  echo "installing PostgreSQL 15 server binaries (apt-get)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq postgresql-15 postgresql-contrib >/dev/null; \
	fi

test: setup postgres-bin
	$(BIN)/ruff check crawlers flows storage schemas tests bench
	PG_BIN=$(PG_BIN) $(BIN)/python -m pytest

bench: setup postgres-bin
	$(BIN)/python -m bench.run

lint: setup
	$(BIN)/ruff check crawlers flows storage schemas tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
