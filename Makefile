# Two commands do all set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test lint clean-db packages

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Serve the site with demo data on SQLite in instance/ (the schema is upgraded at start).
run: install
	$(FLASK) demo seed
	$(FLASK) run --host $(HOST) --port $(PORT)

# The browser tests drive Debian's chromium (Playwright downloads no browser of its own) and
# tests/test_proxy.py runs Debian's nginx (and openssl for its certificate): install whichever is
# missing, as root (CI) or through sudo, else say what to do.
PACKAGES := chromium:/usr/bin/chromium nginx:/usr/sbin/nginx openssl:/usr/bin/openssl
packages:
	@missing=; for p in $(PACKAGES); do [ -x $${p#*:} ] || missing="$$missing $${p%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
	  else echo "The tests need Debian's$$missing: run 'apt-get install$$missing' as root" \
	    "(or deselect the browser tests: pytest -m 'not browser')." >&2; \
	    exit 1; fi; \
	  $$SUDO apt-get update && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

# Lint, then the whole suite on SQLite, then again on PostgreSQL when DIRECTORY_TEST_DATABASE_URL
# is set (.ci/run sets it to the local server).
test: install packages
	$(VENV)/bin/ruff check .
	env -u DIRECTORY_TEST_DATABASE_URL $(PY) -m pytest
	if [ -n "$$DIRECTORY_TEST_DATABASE_URL" ]; then $(PY) -m pytest; fi

lint: install
	$(VENV)/bin/ruff check .

# Start again from an empty local database (keeps the secret key).
clean-db:
	rm -f instance/directory.sqlite3 instance/directory.sqlite3-wal instance/directory.sqlite3-shm instance/demo-admin.txt
