# The task list. `make check` is what CI runs.
PY ?= .venv/bin/python
SRC = src tests bench

.PHONY: install fmt lint test-unit test check bench

install:
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'

fmt:
	$(PY) -m ruff format $(SRC)
	$(PY) -m ruff check --fix $(SRC)

lint:
	$(PY) -m ruff format --check $(SRC)
	$(PY) -m ruff check $(SRC)
	$(PY) -m mypy
	.venv/bin/lint-imports

test-unit:
	$(PY) -m pytest -q tests/unit

test:
	$(PY) -m pytest -q

check: lint test

bench:
	$(PY) -m bench
