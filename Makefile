# make run   — serve the gateway on the embedded default (SQLite, blobs in ./var, demo parties)
#              on http://$(HOST):$(PORT) (make run PORT=8081; KAPU_SANDBOX=1 make run for the test clock)
# make test  — install with the dev extra, then ruff, mypy (strict) and pytest
# make test-next-year — pytest again with the machine's date a year ahead (CI runs both)
# make faults — the fault suite (tests/faults) longer: FAULTS_SCALE times the rounds and sizes,
#               and over 5,000 fuzzing cases against the REST API (FAULTS_SCALE=5)
# make bench-overload — uploads alone, then with 48 listing clients (uploads keep >= 80 %)
# make soak  — SOAK_MINUTES (30) at half the measured capacity: errors, p99, memory
# make bench-notices — 100,000 hirdetmények on PostgreSQL: search p99 against the targets
# make bench-cpu — CPU ms per upload in every process against the bare endpoint, and the serial
#                  fraction with Amdahl's prediction for 4, 8 and 16 hosts (also run by make bench)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# constraints.txt pins the versions the test suite last passed with. uv installs them (from
# PyPI, compiled to bytecode as pip would) in about 12 s on the 2-core development machine,
# where pip took 70-110 s of make test's ten minutes; pip installs uv itself, and does the
# whole install where uv cannot.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
UV_INSTALL := $(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -c constraints.txt

.PHONY: run test test-next-year compiled faults lint typecheck pytest bench bench-cpu bench-s3 bench-deadlines bench-web bench-listing bench-notices bench-overload bench-avdh soak clean tools messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	-$(PIP_INSTALL) uv

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/uv
	$(UV_INSTALL) -e . || $(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/uv
	$(UV_INSTALL) -e ".[dev]" || $(PIP_INSTALL) -e ".[dev]"
	touch $@ $(VENV)/.installed

# The WSDL and e-mails name KAPU_PUBLIC_URL: the address served here unless the caller set one.
# HOST is not taken from the environment (some shells set it to the machine's name).
HOST := 127.0.0.1
PORT ?= 8080
run: $(VENV)/.installed
	KAPU_PUBLIC_URL="$${KAPU_PUBLIC_URL:-http://$(HOST):$(PORT)}" \
	  $(BIN)/kapu serve --demo --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check gateway tests migrations benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# The evidence tests run the real openssl and xmlsec1 binaries, the browser tests Debian's
# chromium (and npm installs axe-core for them), the alert rule tests promtool (Debian's
# prometheus package), the AVDH tests pdfsig, pdfdetach (poppler-utils) and certutil
# (libnss3-tools); benchmarks need wrk and curl.
# A tool whose Debian package has another name is written tool:package (promtool:prometheus).
tools:
	@missing=""; for entry in $(TOOLS); do tool=$${entry%%:*}; package=$${entry#*:}; \
	  command -v $$tool >/dev/null || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing from Debian:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing:$$missing (apt-get install$$missing)" >&2; exit 1; fi; \
	fi

# The browser tests inject axe-core (npm, pinned by package-lock.json) into the pages.
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Where PYTHONDONTWRITEBYTECODE is set, Python caches no compiled module of its own: each of
# the suite's hundreds of server and command processes would compile the gateway again (about
# half a second each). Compiled once here; Python reads these wherever it may not write them.
compiled: | $(BIN)/python
	$(BIN)/python -m compileall -q gateway tests benchmarks > /dev/null

pytest: TOOLS = openssl xmlsec1 chromium npm promtool:prometheus pdfsig:poppler-utils certutil:libnss3-tools
pytest: $(VENV)/.installed-dev tools $(AXE) compiled
	$(BIN)/pytest -n 2 --dist worksteal --durations=15

test: lint typecheck pytest

# make test runs tests/faults at scale 1 (about a minute); this runs them FAULTS_SCALE times
# longer: more kill -9 rounds and uploads per round, a longer outage, more documents to pull.
FAULTS_SCALE ?= 5
faults: $(VENV)/.installed-dev compiled
	KAPU_FAULTS_SCALE=$(FAULTS_SCALE) $(BIN)/pytest -p no:cacheprovider tests/faults

# Tests take every date from the clock they set up; this run shows that none reads the
# machine's date (a test that passes today and fails next week). faketime is Debian's.
test-next-year: TOOLS = openssl xmlsec1 chromium npm faketime promtool:prometheus pdfsig:poppler-utils certutil:libnss3-tools
test-next-year: $(VENV)/.installed-dev tools $(AXE) compiled
	faketime -f '+1y' $(BIN)/pytest -n 2 --dist worksteal -m 'not outside_clock'

bench: TOOLS = wrk curl
bench: $(VENV)/.installed-dev tools
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.avdh
	$(BIN)/python -m benchmarks.cpu

# CPU milliseconds per accepted 10 KiB upload in the server, its signing process and the
# PostgreSQL backends, beside the bare endpoint's (REST and HKP), and the serial fraction (the
# registration counter rows' hold per upload over its CPU) with Amdahl's prediction.
bench-cpu: TOOLS = wrk
bench-cpu: $(VENV)/.installed-dev tools
	$(BIN)/python -m benchmarks.cpu

# AVDH and e-Papír alone: authentications per second, e-Papír against plain uploads, and the
# server's memory while it authenticates a 45 MiB file.
bench-avdh: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.avdh

# The S3 blob store (a local SeaweedFS) beside the filesystem store: 10 KiB upload rate and
# 200 MiB upload and download speed, in one run.
bench-s3: TOOLS = wrk curl
bench-s3: $(VENV)/.installed-dev tools
	$(BIN)/python -m benchmarks.s3

# 100,000 waiting documents on PostgreSQL: the sweep, and mailbox latency while it runs.
bench-deadlines: TOOLS = wrk
bench-deadlines: $(VENV)/.installed-dev tools
	$(BIN)/python -m benchmarks.deadlines

# 1,000,000 documents on PostgreSQL (100,000 in the listed mailbox): listing latency and rate.
bench-listing: TOOLS = wrk
bench-listing: $(VENV)/.installed-dev tools
	$(BIN)/python -m benchmarks.listing

# 100,000 hirdetmények of 200 offices on PostgreSQL: free text, filtered lists and searches
# matching nothing through the service on one connection, p99 against the targets of issue 31.
bench-notices: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.notices

# Overload: the upload rate alone, then 16 upload + 48 listing clients; uploads keep >= 80 %.
bench-overload: TOOLS = wrk
bench-overload: $(VENV)/.installed-dev tools
	$(BIN)/python -m benchmarks.overload

# A long run at half the measured capacity (uploads, listings, downloads, acks, deadline
# sweeps): errors, p99 per route per minute, server memory. Not part of make test.
SOAK_MINUTES ?= 30
soak: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.soak --minutes $(SOAK_MINUTES)

# The pages' texts: extract every _("…") of gateway/web into the catalogues (new ones empty,
# to be translated in gateway/web/locale/hu/LC_MESSAGES/messages.po).
messages: $(VENV)/.installed-dev
	mkdir -p var
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --omit-header -o var/messages.pot .
	$(BIN)/pybabel -q update -i var/messages.pot -d gateway/web/locale --no-fuzzy-matching \
	  --ignore-pot-creation-date

# The browser's mailbox page with 100,000 documents in the office, and a 200 MiB send.
bench-web: TOOLS = wrk curl
bench-web: $(VENV)/.installed-dev tools
	$(BIN)/python -m benchmarks.web

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
