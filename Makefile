# Switchboard: every target sets itself up (uv from PyPI, the venv, generated code, the interop peer).
SHELL := /bin/bash
PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
PROTO_SRC := libs/xmtp_core/proto
PROTO_OUT := libs/xmtp_core/src
INTEROP := tests/interop
BINDINGS := $(INTEROP)/bindings
WEB := web
CHROMIUM := /usr/bin/chromium

.PHONY: setup run test check lint typecheck protos protos-check interop-deps interop-bindings web browser validate bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml libs/xmtp_core/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(UV) sync --frozen --python $(PYTHON) --all-packages
	touch $@

setup: $(VENV)/.synced

$(INTEROP)/node_modules/.installed: $(INTEROP)/package.json $(INTEROP)/package-lock.json
	cd $(INTEROP) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

interop-deps: $(INTEROP)/node_modules/.installed

# libxmtp 1.10.0 (PyPI xmtp-bindings, hash-pinned) in a venv of its own: a test peer, never a product dependency.
$(BINDINGS)/.venv/.installed: $(UV) $(BINDINGS)/requirements.txt
	rm -rf $(BINDINGS)/.venv
	$(UV) venv --quiet --python $(PYTHON) $(BINDINGS)/.venv
	$(UV) pip install --quiet --require-hashes --python $(BINDINGS)/.venv/bin/python -r $(BINDINGS)/requirements.txt
	touch $@

interop-bindings: $(BINDINGS)/.venv/.installed

# The chat page (web/: @xmtp/browser-sdk 7.1.0, vite; playwright-core drives the browser test), from the lock file.
$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB)/dist/index.html: $(WEB)/node_modules/.installed $(WEB)/index.html $(WEB)/vite.config.js $(wildcard $(WEB)/src/*)
	cd $(WEB) && npx vite build --logLevel warn

web: $(WEB)/dist/index.html

# Debian's Chromium for the browser test (no browser download); installed once, as root.
browser:
	@test -x $(CHROMIUM) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# The main job: starts what the local stack needs and runs it until Ctrl-C.
run: setup
	@$(MAKE) --no-print-directory web || echo "the chat page was not built (needs Node 20 with npm); the stack runs without it"
	$(VENV)/bin/switchboard run

protos: setup
	$(PY) scripts/gen_protos.py $(PROTO_SRC) $(PROTO_OUT)

# Fails when the committed generated code differs from what the .proto files produce.
protos-check: setup
	$(PY) scripts/gen_protos.py --check $(PROTO_SRC) $(PROTO_OUT)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

check: protos-check lint typecheck

# Two xdist workers, each with its own private NATS and Postgres (root conftest.py), a test file on one worker
# (its module fixtures set up once): the suite spends much of its time waiting on processes it started.
TEST_WORKERS ?= 2
test: setup interop-deps interop-bindings web browser check
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

validate: setup
	$(PY) scripts/validate_deploy.py

bench: setup
	$(PY) bench/devnode.py
	$(PY) bench/mls.py
	$(PY) bench/engine.py
	$(PY) bench/pipeline.py
	$(PY) bench/router_workers.py --workers 1 2 --partitions 8
	$(PY) bench/router_workers.py --workers 1 2 --partitions 32 --events 3000 --conversations 256
	$(PY) bench/e2e.py

# The echo agent at its write limit (11 texts/s offered against devnode with XMTP's real limits, the pipeline
# pacing) and a memory soak at 200 msg/s offered by sender processes (raw: limits and pacing off); both
# 10 minutes, MINUTES=N to shorten. Figures: bench/README.md.
.PHONY: soak write-limit
MINUTES ?= 10
write-limit: setup
	$(PY) bench/write_limit.py --minutes $(MINUTES) --rate 11

soak: setup
	$(PY) bench/soak.py --minutes $(MINUTES)

# The long form of tests/chaos (the short one runs in `make test`), counts printed: NATS, Postgres and devnode
# killed and restarted mid-stream; a 3-node NATS cluster losing a server and a replica of each service.
chaos: setup interop-deps
	SB_CHAOS_FULL=1 $(PY) -m pytest -q -s tests/chaos

# atheris (hash-pinned) in a venv of its own; the targets import the product from the main venv.
FUZZ_VENV := fuzz/.venv
$(FUZZ_VENV)/.installed: $(UV) fuzz/requirements.txt
	rm -rf $(FUZZ_VENV)
	$(UV) venv --quiet --python $(PYTHON) $(FUZZ_VENV)
	$(UV) pip install --quiet --require-hashes --python $(FUZZ_VENV)/bin/python -r fuzz/requirements.txt
	touch $@

# Every parser target for FUZZ_RUNS inputs (10^6 unless set); fails on a crash or a hang.
fuzz: setup $(FUZZ_VENV)/.installed
	FUZZ_SITE_PACKAGES=$$($(PY) -c 'import site; print(site.getsitepackages()[0])') $(FUZZ_VENV)/bin/python fuzz/run.py

clean:
	rm -rf $(VENV) $(TOOLS) $(INTEROP)/node_modules $(BINDINGS)/.venv $(WEB)/node_modules $(WEB)/dist .pytest_cache .mypy_cache .ruff_cache
