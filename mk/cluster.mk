# The carbon cluster profile (issue 7), included by the root Makefile (which defines COMPOSE, PY,
# GRAFANA_IMAGE and the targets images, .env and venv). See compose.cluster.yaml and docs/capacity.md.
CLUSTER_COMPOSE := $(COMPOSE) -f compose.yaml -f compose.cluster.yaml
RELAY_REPLICATION ?= 1
export RELAY_REPLICATION

.PHONY: up-cluster down-cluster bench-carbon

down-cluster: | .env

up-cluster: images .env ## Start the carbon cluster: relay + 2 caches + front graphite-web (RELAY_REPLICATION=2 to mirror)
	$(CLUSTER_COMPOSE) --profile cluster build relay
	@profiles="--profile cluster --profile load"; grafana=0; \
	if docker image inspect $(GRAFANA_IMAGE) >/dev/null 2>&1; then profiles="$$profiles --profile grafana"; grafana=1; fi; \
	$(CLUSTER_COMPOSE) $$profiles up -d --wait --remove-orphans; \
	port() { $(CLUSTER_COMPOSE) $$profiles port "$$1" "$$2" | head -1; }; \
	echo; echo "Cluster is up (project mattt-cluster, replication $(RELAY_REPLICATION)):"; \
	echo "  helloworld (via lb)   http://$$(port lb 8001)/?world_size=42"; \
	echo "  graphite-web (front)  http://$$(port graphite 8080)/  (asks graphite-a and graphite-b)"; \
	echo "  carbon-c-relay        $$(port relay 2003) (plaintext)"; \
	if [ $$grafana = 1 ]; then echo "  grafana               http://$$(port grafana 3000)/"; \
	else echo "  grafana               not started (image $(GRAFANA_IMAGE) not present)"; fi

down-cluster: ## Stop the carbon cluster (keeps its Whisper volumes; add -v by hand to delete them)
	$(CLUSTER_COMPOSE) --profile '*' down --remove-orphans

bench-carbon: venv images ## Capacity benchmark: a synthetic fleet against one carbon-cache and the cluster (~5 min)
	$(CLUSTER_COMPOSE) --profile cluster build relay
	$(PY) benchmarks/bench_carbon.py
