# The two commands a new user needs: `make run` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed-stamp
# Every service that owns a database; each is migrated by `make run` and `make test`.
SERVICES := auth_service catalog_service favorites_service assistant_service

.PHONY: help setup migrate demo-data run test lint fmt clean check-deploy docs postman newman bench

help:
	@echo "make run    set everything up and start the portal at http://127.0.0.1:8000"
	@echo "make test   set everything up and run the whole test suite"
	@echo "make lint   ruff check + format check;  make fmt  format the code"
	@echo "make check-deploy  validate docker-compose.yml and the k8s overlays offline"
	@echo "make newman        run the Postman collection against the running portal"
	@echo "make bench         load benchmark -> bench/results.json (PostgreSQL + Redis, ~8 min)"
	@echo "make clean  remove the virtualenv, local databases and caches"

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

migrate: setup
	@mkdir -p var
	@for service in $(SERVICES); do $(PY) -m $$service migrate || exit 1; done

# Demo data goes only into empty databases, so a restart never duplicates or overwrites it.
# The catalog's demo courses are taught by the demo teacher, so auth goes first.
demo-data: migrate
	$(PY) -m auth_service create-key
	$(PY) -m auth_service seed-demo
	$(PY) -m catalog_service seed-demo \
		--teacher-id "$$($(PY) -m auth_service user-id --email teacher@example.edu)"

# supervisord runs the Procfile's processes and restarts any that exits; Ctrl-C stops them all.
run: demo-data
	@echo "Course portal: http://127.0.0.1:8000  (Ctrl-C stops everything)"
	@$(PY) deploy/supervisord_conf.py --procfile Procfile --var-dir "$${VAR_DIR:-var}" \
		> "$${VAR_DIR:-var}/supervisord.conf"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/supervisord -c "$${VAR_DIR:-var}/supervisord.conf"

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Offline checks of docker-compose.yml and both kustomize overlays (no Docker, no cluster).
check-deploy: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/check-deploy.sh

# docs/architecture.md is generated from the models; a test fails when it is stale.
docs: setup
	$(PY) scripts/architecture_diagram.py

# Rebuild the Postman collection from the merged OpenAPI (needs npm).
postman: setup
	cd docs/postman && npm ci --no-audit --no-fund --loglevel=error
	$(PY) scripts/build-postman-collection.py

# The Postman collection against the whole portal as real processes, on fresh databases.
newman: setup
	scripts/run-newman.sh

# Load benchmark on PostgreSQL + Redis (installs wrk and nginx if missing; ~8 min).
bench: setup
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
