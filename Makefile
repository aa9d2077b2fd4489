# TrinhKy: `make run` serves the embedded default; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= $(or $(TRINHKY_HOST),127.0.0.1)
PORT   ?= $(or $(TRINHKY_PORT),8000)
WORKERS ?= 2
SHARED_TOOLS ?= $(abspath ../shared/tools)
VERIFY_VENV  ?= $(HOME)/.cache/independent_verify/venv
# What production needs beside Python: LibreOffice to convert Word/OpenDocument drafts
# (fonts that render Vietnamese), poppler for text extraction, ocrmypdf + Tesseract's
# Vietnamese data for scans. `make run` installs them where missing (root or sudo), or
# says what is missing and what stays unavailable.
OFFICE_DEBS := libreoffice-writer-nogui fonts-noto-core fonts-dejavu-core poppler-utils \
	ocrmypdf tesseract-ocr tesseract-ocr-vie
# Debian packages the tests use: poppler (pdfsig, pdftotext, pdftoppm), NSS tools, qpdf, mupdf, openssl,
# SoftHSM2 + OpenSC (PKCS#11 seal token), zbar (reads the QR code in the seal stamp),
# nginx (the production front of deploy/nginx/, served through in tests/test_availability.py).
TEST_DEBS := poppler-utils libnss3-tools qpdf mupdf-tools openssl softhsm2 opensc chromium fonts-noto-core zbar-tools dovecot-imapd \
	nginx $(OFFICE_DEBS)
# The PostgreSQL half of `make test`: a throwaway cluster (Debian's postgresql package,
# installed when missing) on 127.0.0.1:$(PG_PORT); `make test SQLITE_ONLY=1` skips it.
PG_PORT   ?= 54329
PG_SERVER := TRINHKY_PG_PORT=$(PG_PORT) bash scripts/pg-test-server.sh
SQLITE_ONLY ?=
# pytest-xdist: one worker per core, a test file's tests on one worker (its module fixtures
# are built once). `make test PYTEST_WORKERS=0` runs in one process.
PYTEST_WORKERS ?= auto
PYTEST_XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),-p no:xdist,-n $(PYTEST_WORKERS) --dist loadfile)

.PHONY: run install install-dev test test-deps lint typecheck bench clean-instance help \
	pg-start pg-stop pg-destroy office-deps

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
run: install office-deps
	@echo "E-mail: demo users have @trinhky.local addresses. To read the notices, run a local"
	@echo "  SMTP sink in another terminal: $(BIN)/python -m aiosmtpd -n -l 127.0.0.1:8025"
	@echo "  (pip install aiosmtpd) and start with TRINHKY_MAIL_SERVER=127.0.0.1 TRINHKY_MAIL_PORT=8025 make run"
	@command -v qpdf >/dev/null || echo "note: qpdf is not installed (apt-get install qpdf): damaged or empty-password PDFs are refused instead of repaired or decrypted"
	$(BIN)/flask --app wsgi init --host $(HOST) --port $(PORT)
	$(BIN)/flask --app wsgi scheduler run & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null; wait $$scheduler' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(BIN)/gunicorn --bind '$(if $(findstring :,$(HOST)),[$(HOST)],$(HOST)):$(PORT)' \
	  --workers $(WORKERS) --config gunicorn.conf.py wsgi:app

# LibreOffice, poppler, ocrmypdf and Tesseract (Vietnamese) for drafts and scans.
office-deps:
	@missing=""; for t in soffice pdftotext ocrmypdf tesseract; do \
	  command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	[ -z "$$missing" ] && [ -e /usr/share/tesseract-ocr/5/tessdata/vie.traineddata ] || { \
	  echo "installing Debian packages for:$$missing (Word drafts, text search, OCR)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  ( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends $(OFFICE_DEBS) >/dev/null ) || \
	  echo "WARNING: could not install $(OFFICE_DEBS): Word/OpenDocument uploads are refused \
with a message, scans stay unsearchable, until they are installed."; }

# System packages for the validators the tests run (root or sudo needed once).
test-deps:
	@missing=""; for t in pdfsig pdftotext pdftoppm certutil qpdf mutool openssl softhsm2-util pkcs11-tool chromium zbarimg soffice ocrmypdf tesseract nginx dovecot; do \
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
	$(PG_SERVER) run $(BIN)/pytest $(PYTEST_XDIST) $(PYTEST_ARGS)
else
	env -u TRINHKY_TEST_POSTGRES_URL $(BIN)/pytest $(PYTEST_XDIST) $(PYTEST_ARGS)
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
