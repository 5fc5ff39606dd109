# Two commands do all the set-up: `make run` and `make test` (see README.md).
# Each creates what is missing (virtual environments, compiled catalogs, the trained
# model, a PostgreSQL server, Dovecot and Chromium for the tests) and skips what is up to date.

PYTHON ?= python3
VENV := .venv
NLU_VENV := .venv-nlu
BIN := $(VENV)/bin
LOCALE := src/infoline/locale
CATALOGS := $(wildcard $(LOCALE)/*/LC_MESSAGES/infoline.po)
COMPILED := $(CATALOGS:.po=.mo)

.PHONY: run chat test check train nlu-env messages catalogs clean

run: $(VENV)/.run-stamp $(NLU_VENV)/.stamp messages
	$(BIN)/infoline train
	$(BIN)/infoline run

chat: $(VENV)/.run-stamp $(NLU_VENV)/.stamp messages
	$(BIN)/infoline train
	$(BIN)/infoline chat

test: $(VENV)/.dev-stamp $(NLU_VENV)/.stamp messages
	$(BIN)/infoline train
	$(MAKE) check
	scripts/dovecot
	scripts/chromium
	TEST_POSTGRES_URL=$$(scripts/postgres) $(BIN)/pytest

check: $(VENV)/.dev-stamp
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

train: $(VENV)/.run-stamp $(NLU_VENV)/.stamp
	$(BIN)/infoline train

nlu-env: $(NLU_VENV)/.stamp

# Interface strings: `make catalogs` extracts the message ids from the code and merges
# them into every language's .po file; `make messages` compiles the .po files.
messages: $(COMPILED)

$(LOCALE)/%/LC_MESSAGES/infoline.mo: $(LOCALE)/%/LC_MESSAGES/infoline.po $(VENV)/.run-stamp
	$(BIN)/pybabel -q compile -i $< -o $@

catalogs: $(VENV)/.run-stamp
	$(BIN)/pybabel extract -F babel.cfg --no-location --omit-header --sort-output \
	  -o $(LOCALE)/infoline.pot src/infoline
	$(BIN)/pybabel update -i $(LOCALE)/infoline.pot -d $(LOCALE) -D infoline --width=100 \
	  --ignore-obsolete

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
	rm -rf $(VENV) $(NLU_VENV) models .rasa $(COMPILED)
