# The two commands a newcomer needs: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test services venv lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

## make run: set up and run web + worker + beat (+ flower with Redis) on the embedded default, or on
## PostgreSQL/Redis when DATABASE_URL / REDIS_URL are set.
run: venv
	$(BIN)/students dev

## services: make sure the local PostgreSQL and Redis answer, starting them if they do not.
services:
	@bash .ci/services

## make test: set up, make sure PostgreSQL and Redis answer, run the suite on a throwaway database.
test: venv services
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .

## make bench: every benchmark, each in its own process (about 16 minutes); needs wrk for the load benchmark (installed if missing).
bench: venv services
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench

clean:
	rm -rf var .pytest_cache
