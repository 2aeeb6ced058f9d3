# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install services bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

services:
	./scripts/ensure-services.sh

demo: install
	$(BIN)/gridwatch demo

test: install services
	$(BIN)/python -m pytest -q

bench: install services
	$(BIN)/gridwatch bench ingest

clean:
	rm -rf $(VENV) .pytest_cache .gridwatch
