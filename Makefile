# Monitor All The Things: `make up` runs the stack, `make test` runs every test. `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_DIR := .run
COMPOSE := docker compose
GRAFANA_IMAGE := grafana/grafana-oss:11.3.0
N ?= 5
PYTEST_ARGS ?=

export DOCKER_BUILDKIT := 0
export COMPOSE_DOCKER_CLI_BUILD := 0

.PHONY: help venv docker docker-stop base-image images env up down clean ps logs scale load noload \
        test test-unit test-integration lint bench bench-lib bench-e2e bench-carbon up-cluster

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-17s %s\n", $$1, $$2}'

$(VENV)/.stamp: requirements-dev.txt services/metrics/pyproject.toml services/metrics/setup.py \
		services/metrics/src/graphmetrics/_speedups.c services/helloworld/pyproject.toml
	@mkdir -p $(RUN_DIR)
	$(PYTHON) -m venv $(VENV)
	@echo "[venv] installing requirements-dev.txt and our two packages (log: $(RUN_DIR)/pip.log)"
	@{ $(VENV)/bin/pip install -r requirements-dev.txt && \
	   $(VENV)/bin/pip install --no-deps -e services/metrics -e services/helloworld; } >$(RUN_DIR)/pip.log 2>&1 \
	  || { tail -30 $(RUN_DIR)/pip.log; exit 1; }
	@touch $@

venv: $(VENV)/.stamp ## Create the host venv for tests, lint and benchmarks

docker: ## Make sure a Docker engine and `docker compose` work (installs them as root on Debian if absent)
	@bash scripts/ensure-docker.sh

docker-stop: ## Stop the dockerd that `make` itself started (if any)
	@bash scripts/stop-docker.sh

base-image: docker ## Provide debian:bookworm-slim (debootstrap + docker import when it cannot be pulled)
	@bash scripts/base-image.sh

images: base-image ## Build every image of the stack
	$(COMPOSE) --profile load build

env: .env ## Generate .env with fresh secrets (never overwrites an existing one)
.env:
	@umask 077; { echo "GRAFANA_ADMIN_PASSWORD=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(18))')"; \
	  echo "GRAPHITE_SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))')"; } > $@
	@echo "[env] wrote .env with generated secrets (Grafana admin password inside)"

# compose refuses to build or start without both secrets of compose.yaml: every target that runs compose
# writes .env first, so a fresh clone works with any of them, in any order.
images down clean ps logs scale load noload: | .env

up: images .env ## Build and start the stack, wait until healthy, print the URLs
	@profiles="--profile load"; \
	if docker image inspect $(GRAFANA_IMAGE) >/dev/null 2>&1 || timeout 60 docker pull -q $(GRAFANA_IMAGE) >/dev/null 2>&1; then \
	  profiles="$$profiles --profile grafana"; grafana=1; \
	else \
	  grafana=0; echo "[up] Grafana SKIPPED: the image $(GRAFANA_IMAGE) cannot be pulled here (no registry reachable)."; \
	  echo "[up]   Everything else runs; browse the data in graphite-web's own UI instead (URL below)."; \
	fi; \
	$(COMPOSE) $$profiles up -d --wait --remove-orphans; \
	port() { $(COMPOSE) $$profiles port "$$1" "$$2" | head -1; }; \
	echo; echo "Stack is up:"; \
	echo "  helloworld (via lb)   http://$$(port lb 8001)/?world_size=42"; \
	echo "  graphite-web          http://$$(port graphite 8080)/  (render API: /render?target=sumSeries(helloworld.*.hello_called.count)&format=json)"; \
	if [ $$grafana = 1 ]; then echo "  grafana               http://$$(port grafana 3000)/  (admin password in .env)"; \
	else echo "  grafana               not started (image unavailable)"; fi; \
	echo "  graphite-web's own dashboards, the Grafana dashboards' graphs (grafana/graphite_web_dashboards.py):"; \
	$(PYTHON) grafana/graphite_web_dashboards.py "http://$$(port graphite 8080)"

down: ## Stop the stack (keeps the Whisper data)
	$(COMPOSE) --profile '*' down --remove-orphans

clean: ## Stop the stack and delete its volumes (all metrics data)
	$(COMPOSE) --profile '*' down --remove-orphans --volumes

ps: ## Show the stack's containers
	$(COMPOSE) --profile '*' ps

logs: ## Follow the stack's logs
	$(COMPOSE) --profile '*' logs -f --tail=100

# haproxy routes to at most as many replicas as its server-template has slots (a count or a range there).
LB_SLOTS = $(shell awk '$$1 == "server-template" { n = split($$3, r, "-"); print (n == 2 ? r[2] - r[1] + 1 : $$3); exit }' lb/haproxy.cfg)

scale: ## Scale helloworld to N replicas (make scale N=5; at most the load balancer's server slots)
	@slots='$(LB_SLOTS)'; [[ "$$slots" =~ ^[0-9]+$$ && "$(N)" =~ ^[0-9]+$$ ]] && (( 10#$(N) <= slots )) || { \
	  echo "make scale: N=$(N) refused: N must be 0 to $${slots:-?}, the server slots of lb/haproxy.cfg's" \
	       "server-template (replicas beyond them would get no traffic)" >&2; exit 2; }
	$(COMPOSE) up -d --wait --no-recreate --scale helloworld=$(N) helloworld

load: ## Start the demo load generator
	$(COMPOSE) --profile load up -d loadgen

noload: ## Stop the demo load generator
	$(COMPOSE) --profile load stop loadgen

test: test-dashboards test-unit test-integration ## Dashboard schema check, unit tests, then the integration tests against the real stack

# Grafana's dashboard model (@grafana/schema, pinned to GRAFANA_IMAGE) and TypeScript, from package-lock.json.
.PHONY: test-dashboards
SCHEMA_CHECK := grafana/schema-check
$(SCHEMA_CHECK)/node_modules/.stamp: $(SCHEMA_CHECK)/package.json $(SCHEMA_CHECK)/package-lock.json
	@bash scripts/ensure-node.sh
	cd $(SCHEMA_CHECK) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test-dashboards: $(SCHEMA_CHECK)/node_modules/.stamp ## Type-check grafana/dashboards/*.json against Grafana's own model
	node $(SCHEMA_CHECK)/check.mjs

test-unit: venv $(SCHEMA_CHECK)/node_modules/.stamp ## Unit tests of both packages and the graphite-web plugin (real carbon-cache / graphite-web from the venv)
	$(PY) -m pytest -q -p no:cacheprovider services/metrics/tests services/helloworld/tests tests/grafana tests/graphite_web $(PYTEST_ARGS)
	@echo "[test-unit] graphmetrics again in pure Python (GRAPHMETRICS_PURE_PYTHON=1, the C speedups off)"
	GRAPHMETRICS_PURE_PYTHON=1 $(PY) -m pytest -q -p no:cacheprovider services/metrics/tests $(PYTEST_ARGS)

test-integration: venv base-image ## Integration tests: bring up a private copy of the stack and check it
	$(PY) -m pytest -q -p no:cacheprovider tests/integration $(PYTEST_ARGS)

lint: venv ## ruff on everything, mypy on services/metrics
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy services/metrics/src

bench: bench-lib bench-e2e ## All benchmarks (results go to docs/benchmarks.md; bench-carbon separately)

bench-lib: venv ## Library + reporting benchmarks next to pyformance, prometheus_client, OpenTelemetry
	$(PY) benchmarks/bench_lib.py
	$(PY) benchmarks/bench_report.py

bench-e2e: venv ## Plain vs instrumented helloworld under wrk
	@command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
	$(PY) benchmarks/bench_e2e.py

# The carbon cluster profile (issue 7): up-cluster, down-cluster, bench-carbon.
-include mk/cluster.mk
