VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test up bench faults contracts clean

$(VENV)/.installed: pyproject.toml
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

## Run the platform: broker, database, services and the demo stream.
up: install
	$(VENV)/bin/dyade up

## Run every test (real Tansu broker, real PostgreSQL).
test: install
	$(VENV)/bin/python -m pytest

## Regenerate docs/schemas/*.json and docs/asyncapi.yaml from the contracts.
contracts: install
	$(PY) -m dyade.contracts.generate

## The fault suite in full: poison records on every topic, the broker frozen 60 s, kill -9 of each service
## under a call stream (a short form runs in `make test`). Counts in bench/results/faults.json.
faults: install
	mkdir -p bench/results
	DYADE_FAULTS=full DYADE_FAULTS_REPORT=bench/results/faults.json $(VENV)/bin/python -m pytest tests/faults -q

## Benchmarks: each prints its figure next to a baseline measured in the same run.
bench: install
	$(PY) -m bench

clean:
	rm -rf var .pytest_cache
