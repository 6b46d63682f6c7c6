# Two commands: `make run` (install, migrate, seed, serve with the worker) and `make test`.
PYTHON_VERSION := $(shell cat .python-version)
# pyenv picks .python-version when it is there; otherwise fall back to python3.12 on PATH.
PY := $(shell command -v pyenv >/dev/null 2>&1 && pyenv which python 2>/dev/null || command -v python$(PYTHON_VERSION))
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Queue workers `make run` starts for the actions (emails get one more). With the Redis queue, e.g.
# `make run TASKS_BACKEND=django_tasks_redis.RedisTaskBackend WORKERS=2` (README "Scaling out").
WORKERS ?= 1

.PHONY: run test install install-dev migrate seed lint typecheck unit clean bench-deps

$(BIN)/python:
	@test -n "$(PY)" || (echo "Python $(PYTHON_VERSION) not found (install it with pyenv)"; exit 1)
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput

# The sample bundles' actions point at this server's own demo endpoints.
seed: migrate
	DEBUG=$${DEBUG:-true} PUBLIC_BASE_URL=http://127.0.0.1:$(PORT) $(BIN)/python manage.py seed_demo

# Serves on 127.0.0.1:$(PORT) with $(WORKERS) queue worker(s) for the workflow actions, one
# for the emails (their own queue) and the sweeper; Ctrl+C stops all.
# A child that exits is started again after a second (bin/supervise).
# uvicorn serves project.asgi: Django, plus the MCP server at /mcp.
# The demo's actions call this app on loopback, so private networks are allowed here only.
run: seed
	@export DEBUG=$${DEBUG:-true} ACTIONS_ALLOW_PRIVATE_NETWORKS=true PUBLIC_BASE_URL=http://127.0.0.1:$(PORT); \
	trap 'kill 0' INT TERM EXIT; \
	for _ in $$(seq $(WORKERS)); do bin/supervise $(BIN)/python manage.py run_worker --queue-name default & done; \
	bin/supervise $(BIN)/python manage.py run_worker --queue-name mail & \
	bin/supervise $(BIN)/python manage.py sweep_workflows --loop 30 & \
	bin/supervise $(BIN)/uvicorn project.asgi:application --host 127.0.0.1 --port $(PORT) & \
	wait

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	TESTING=true $(BIN)/mypy .

unit: install-dev
	TESTING=true $(BIN)/python manage.py test --noinput $(TESTS)

test: lint typecheck unit

# The HTTP benchmark's load generator (bench/pages.py), from Debian.
bench-deps: install
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)

clean:
	rm -rf $(VENV) staticfiles test_db.sqlite3
