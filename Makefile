# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench rules-doc clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet "torch==2.13.0" || echo "torch not installed: torch tests will be skipped"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/bastion demo bastion-demo; status=$$?; [ $$status -le 2 ] || exit $$status

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/scan_bench.py

rules-doc: $(VENV)/.installed
	$(BIN)/bastion rules --format markdown --output docs/rules.md

clean:
	rm -rf $(VENV) bastion-demo .pytest_cache .mypy_cache .ruff_cache
