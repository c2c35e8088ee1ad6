# Two commands a newcomer needs: `make demo` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PERPVOL := $(VENV)/bin/perpvol
STAMP := $(VENV)/.installed-stamp
PYTEST_FLAGS ?=
# The suite runs on two workers (pytest-xdist, one test file per worker at a time): most of its time is spent
# waiting on simulators paced at the venues' rate limits, a browser or a subprocess, so two files overlap well
# on two cores (the longest files go first: tests/conftest.py). On this machine the same suite took 14:22 on two
# workers and 12:50 on three. Every test uses its own ports, databases and Redis channels. `make test XDIST=0`
# runs serially.
XDIST ?= 2
XDIST_FLAGS := $(if $(filter 0,$(XDIST)),,-n $(XDIST) --dist loadfile)

.PHONY: install demo test trust bench lint lab voila services chromium compose-validator docker-test clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test,notebook]'
	@touch $(STAMP)

# The Voila template of notebooks/readonly.ipynb (voila.json selects it): Voila looks for templates in the
# venv's share/jupyter/voila/templates. A wheel install puts it there (pyproject data-files); an editable
# install does not, so the venv gets a link to the source folder (edits need no reinstall).
VOILA_TEMPLATE := $(VENV)/share/jupyter/voila/templates/perpvol
$(VOILA_TEMPLATE): | $(STAMP)
	@mkdir -p $(dir $(VOILA_TEMPLATE))
	ln -sfn $(CURDIR)/perpvol_app/voila_template $(VOILA_TEMPLATE)

install: $(STAMP) $(VOILA_TEMPLATE)

# Debian's chromium for the browser tests (never `playwright install`: it downloads a browser).
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# PostgreSQL and Redis, started when they are down (the test suites need both).
services:
	@bash scripts/ensure-services.sh

# `make demo PORT=8080`: the dashboard on PORT, one simulator per exchange on PORT+1, PORT+2, … (each printed).
PORT ?= 5006
demo: install
	@echo "perpvol demo: dashboard on port $(PORT), the exchange simulators on the ports after it (listed below)"
	$(PERPVOL) demo --port $(PORT)

# Debian's docker-compose validates the compose files (`make test` needs no Docker engine).
compose-validator:
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || { \
	  echo "installing Debian docker-compose to validate the compose file"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }

# The image for real (minutes, root, Docker): builds it on a local Debian base and runs the app and the
# worker containers on the host network against this machine's PostgreSQL, Redis and the simulators.
# Docker's engine is installed when missing (scripts/ensure-docker.sh, Debian docker.io) and started by the
# script with --bridge=none --iptables=false, stopped on exit if it started it.
docker-test: install services compose-validator
	bash scripts/docker-smoke.sh

test: install chromium compose-validator services lint
	$(PY) -m pytest -q -m "not slow" $(XDIST_FLAGS) $(PYTEST_FLAGS)

trust: install chromium services
	$(PY) -m pytest -q -m slow $(PYTEST_FLAGS)
	$(PY) bench/trust.py

bench: install chromium services
	$(PY) bench/backfill.py
	$(PY) bench/backfill.py --exchange woox --readings --fills 6000 --no-ccxt
	$(PY) bench/dashboard.py
	$(PY) bench/live.py
	$(PY) bench/load.py

lint: install
	$(VENV)/bin/ruff check perpvol_core perpvol_cli perpvol_app perpvol_sim tests bench scripts
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) scripts/strip_notebook_outputs.py --check
	$(PY) scripts/check_deps.py
	$(PY) scripts/gen_environment.py --check

lab: install
	$(VENV)/bin/jupyter lab notebooks/

# `make voila PORT=8870`: the read-only view on PORT (Voila's own 8866 when PORT is not given; the demo's
# 5006 default above is for `make demo` only).
VOILA_PORT = $(if $(filter command line environment,$(origin PORT)),$(PORT),8866)
voila: install
	$(VENV)/bin/voila notebooks/readonly.ipynb --no-browser --theme=dark --template=perpvol --Voila.ip=127.0.0.1 \
	  --port=$(VOILA_PORT)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
