# Two entry points for people: `make demo` and `make test`. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nspgw sim demo

# Most system tests wait on real-time virtual radios, daemons and brokers rather than compute, so three
# workers on two cores keep the suite well under ten minutes. Tests go out one at a time (--maxschedchunk 1),
# longest first (tests/conftest.py): xdist's default hands each worker a block of consecutive tests, which
# gave one worker every system test.
TEST_WORKERS ?= 3

test: $(STAMP)
	$(BIN)/ruff check nspgw tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist load --maxschedchunk 1

lint: $(STAMP)
	$(BIN)/ruff check nspgw tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
