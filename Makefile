# The two set-up commands: `make demo` and `make test`. Everything else is a helper of those.
PYTHON ?= python3.11
UV_VERSION := 0.13.9
VENV := .venv
PY := $(VENV)/bin/python
UV := .tools/bin/uv
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/clientele

.PHONY: venv demo test lint format migrate browser-deps

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install -q uv==$(UV_VERSION)

# The lockfile is the source of truth: --frozen never re-resolves.
venv: $(UV)
	$(UV) sync --frozen --python $(PYTHON)

migrate: venv
	$(PY) manage.py migrate --noinput

demo: venv
	PORT=$(PORT) $(PY) manage.py demo

# Browser tests need Debian's Chromium; install it when missing (root on these machines).
browser-deps:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

test: venv browser-deps
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
