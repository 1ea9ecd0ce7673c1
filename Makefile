# Two commands do all set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test lint clean-db chromium

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Serve the site with demo data on SQLite in instance/ (the schema is upgraded at start).
run: install
	$(FLASK) demo seed
	$(FLASK) run --host $(HOST) --port $(PORT)

# The browser tests drive Debian's chromium (Playwright downloads no browser of its own):
# install it when it is missing, as root (CI) or through sudo, else say what to do.
CHROMIUM := /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
	  else echo "The browser tests need Debian's chromium at $(CHROMIUM): run" \
	    "'apt-get install chromium' as root (or deselect them: pytest -m 'not browser')." >&2; \
	    exit 1; fi; \
	  $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

# Lint, then the whole suite on SQLite, then again on PostgreSQL when DIRECTORY_TEST_DATABASE_URL
# is set (.ci/run sets it to the local server).
test: install chromium
	$(VENV)/bin/ruff check .
	env -u DIRECTORY_TEST_DATABASE_URL $(PY) -m pytest
	if [ -n "$$DIRECTORY_TEST_DATABASE_URL" ]; then $(PY) -m pytest; fi

lint: install
	$(VENV)/bin/ruff check .

# Start again from an empty local database (keeps the secret key).
clean-db:
	rm -f instance/directory.sqlite3 instance/directory.sqlite3-wal instance/directory.sqlite3-shm instance/demo-admin.txt
