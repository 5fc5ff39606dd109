# Two commands do all the set-up: `make run` and `make test` (see README.md).
# Each creates what is missing (virtual environments, the trained model) and skips
# what is up to date.

PYTHON ?= python3
VENV := .venv
NLU_VENV := .venv-nlu
BIN := $(VENV)/bin

.PHONY: run test check nlu-env train clean

run: $(VENV)/.run-stamp $(NLU_VENV)/.stamp
	$(BIN)/infoline train
	$(BIN)/infoline run

test: $(VENV)/.dev-stamp $(NLU_VENV)/.stamp
	$(BIN)/infoline train
	$(MAKE) check
	$(BIN)/pytest

check: $(VENV)/.dev-stamp
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

train: $(VENV)/.run-stamp $(NLU_VENV)/.stamp
	$(BIN)/infoline train

nlu-env: $(NLU_VENV)/.stamp

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "The app needs Python 3.11 or newer; run with PYTHON=/path/to/python3.11." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.run-stamp: pyproject.toml $(VENV)/bin/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev-stamp: pyproject.toml $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.run-stamp

$(NLU_VENV)/.stamp: nlu/requirements.txt
	@python310=$$(scripts/python310) || exit 1; \
	  [ -x $(NLU_VENV)/bin/python ] || $$python310 -m venv $(NLU_VENV)
	@echo "Installing rasa into $(NLU_VENV) (about 2.7 GB, a few minutes the first time)"
	$(NLU_VENV)/bin/pip install -q -r nlu/requirements.txt
	touch $@

clean:
	rm -rf $(VENV) $(NLU_VENV) models .rasa
