# The two Quick-start commands (`make demo`, `make test`) need only Python 3.11+ on the machine:
# each creates the virtual environment and installs the kit into it when needed.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test bench lint contracts clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

## receiver on SQLite over HTTPS, every simulator pushing, the contract suite, a summary
demo: venv
	$(BIN)/python -m devtools.demo

## the whole test suite (PostgreSQL and RabbitMQ tests skip locally when those are down; fail in CI)
test: venv
	$(BIN)/python -m pytest

## benchmarks: each prints the kit against the raw limit measured in the same run
bench: venv
	$(BIN)/python -m bench

## the published documents, written again from the code (docs/contracts/ and the package's copy)
contracts: venv
	$(BIN)/inventory-receiver write-contracts docs/contracts
	$(BIN)/inventory-receiver write-contracts receiver/published

lint: venv
	$(BIN)/ruff check receiver simulator contract_tests fixtures tests bench devtools
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-run .pytest_cache .hypothesis
