# TrinhKy: `make run` serves the embedded default; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= $(or $(TRINHKY_HOST),127.0.0.1)
PORT   ?= $(or $(TRINHKY_PORT),8000)
WORKERS ?= 2
SHARED_TOOLS ?= $(abspath ../shared/tools)
VERIFY_VENV  ?= $(HOME)/.cache/independent_verify/venv
# Debian packages the tests use: poppler (pdfsig, pdftotext, pdftoppm), NSS tools, qpdf, mupdf, openssl,
# SoftHSM2 + OpenSC (PKCS#11 seal token), zbar (reads the QR code in the seal stamp).
TEST_DEBS := poppler-utils libnss3-tools qpdf mupdf-tools openssl softhsm2 opensc chromium fonts-noto-core zbar-tools
# The PostgreSQL half of `make test`: a throwaway cluster (Debian's postgresql package,
# installed when missing) on 127.0.0.1:$(PG_PORT); `make test SQLITE_ONLY=1` skips it.
PG_PORT   ?= 54329
PG_SERVER := TRINHKY_PG_PORT=$(PG_PORT) bash scripts/pg-test-server.sh
SQLITE_ONLY ?=

.PHONY: run install install-dev test test-deps lint typecheck bench clean-instance help \
	pg-start pg-stop pg-destroy

help:
	@echo "make run    - install, initialise the embedded default and serve on http://$(HOST):$(PORT)/"
	@echo "              (with the scheduler of the periodic jobs beside gunicorn)"
	@echo "make test   - install test dependencies and run the whole test suite on SQLite and"
	@echo "              PostgreSQL (a throwaway local server; SQLITE_ONLY=1 skips PostgreSQL)"
	@echo "make pg-start / pg-stop / pg-destroy - the test PostgreSQL server (127.0.0.1:$(PG_PORT))"
	@echo "make lint   - ruff check + format check;  make typecheck - mypy"

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(BIN)/activate
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# The scheduler of the periodic jobs (flask scheduler run) runs beside gunicorn and is
# stopped with it: Ctrl-C, a SIGTERM to the group, or gunicorn exiting.
run: install
	@command -v qpdf >/dev/null || echo "note: qpdf is not installed (apt-get install qpdf): damaged or empty-password PDFs are refused instead of repaired or decrypted"
	$(BIN)/flask --app wsgi init --host $(HOST) --port $(PORT)
	$(BIN)/flask --app wsgi scheduler run & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null; wait $$scheduler' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(BIN)/gunicorn --bind '$(if $(findstring :,$(HOST)),[$(HOST)],$(HOST)):$(PORT)' \
	  --workers $(WORKERS) --timeout 120 --access-logfile - wsgi:app

# System packages for the validators the tests run (root or sudo needed once).
test-deps:
	@missing=""; for t in pdfsig pdftotext pdftoppm certutil qpdf mutool openssl softhsm2-util pkcs11-tool chromium zbarimg; do \
	  command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(TEST_DEBS) >/dev/null; \
	fi
	@if [ -x "$(SHARED_TOOLS)/setup_env.sh" ] && [ ! -x "$(VERIFY_VENV)/bin/python" ]; then \
	  echo "installing the independent validators (../shared/tools/setup_env.sh)"; \
	  bash "$(SHARED_TOOLS)/setup_env.sh" "$(VERIFY_VENV)" >/dev/null; \
	fi

# Without SQLITE_ONLY the server is started (and stopped again afterwards unless it was
# already running); if it cannot start, the target fails.
test: install-dev test-deps
ifeq ($(strip $(SQLITE_ONLY)),)
	$(PG_SERVER) run $(BIN)/pytest $(PYTEST_ARGS)
else
	env -u TRINHKY_TEST_POSTGRES_URL $(BIN)/pytest $(PYTEST_ARGS)
endif

# Keep the test PostgreSQL server running between `make test` runs (faster start).
pg-start:
	@$(PG_SERVER) start

pg-stop:
	@$(PG_SERVER) stop

pg-destroy:
	@$(PG_SERVER) destroy

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy signing storage workflow trinhky_verify

bench: install-dev
	$(BIN)/python -m bench

clean-instance:
	rm -rf instance
