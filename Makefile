# testenv: `make run` starts everything, `make test` checks everything.
# Both create the virtualenv and install on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format install clean browser-deps bench

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m testenv.launcher run

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

# Browser tests drive Debian's Chromium (Playwright cannot download its own here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }

# Browser tests run in their own pytest process: Playwright's event loop and
# pytest-asyncio's do not mix in one.
test: lint browser-deps
	$(PY) -m testenv.launcher with-redis -- $(PY) -m pytest -m "not browser"
	$(PY) -m testenv.launcher with-redis -- $(PY) -m pytest -m browser

# The performance targets of SPEC.md §6 against same-run baselines
# (docs/benchmark.md); `python -m bench --quick` for a one-minute smoke run.
bench: $(STAMP)
	$(PY) -m testenv.launcher with-redis -- $(PY) -m bench

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var
