# The commands a person types. `make run` serves berth on SQLite in ./data; `make test` runs
# every check and the whole suite on SQLite and on a throwaway Postgres.

CARGO ?= cargo
# Reuse a build cache outside the clone when one is there (CI and repeat runs stay fast).
ifeq ($(origin CARGO_TARGET_DIR), undefined)
  ifneq ($(wildcard $(HOME)/.cache),)
    export CARGO_TARGET_DIR := $(HOME)/.cache/berth-target
  endif
endif
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

.PHONY: run test deps fmt lint check-architecture dashboard nextest contract browser bench build-release openapi base-image help

help:
	@echo "make run    build and serve berth and its dashboard on SQLite in ./data (http://127.0.0.1:3000/)"
	@echo "make test   format check, clippy, architecture check, the whole suite on SQLite and Postgres, the API contract check, the browser tests"
	@echo "make bench  measure and record the numbers in docs/benchmarks.md"
	@echo "make openapi  regenerate openapi/openapi.json from the code, and the dashboard's client from it"

# How `make run` starts berth; `make bench` measures it started the same way.
RUN_ENV = BERTH_EDGE=$${BERTH_EDGE:-process}

run: dashboard
	$(CARGO) build --locked --release -p berth-server
	$(RUN_ENV) $(TARGET_DIR)/release/berth serve

deps:
	scripts/install-deps.sh

fmt:
	$(CARGO) fmt --all --check

lint:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

check-architecture:
	scripts/check-architecture.sh

nextest:
	$(CARGO) build --locked -p berth-server
	scripts/test-postgres.sh $(CARGO) nextest run --locked --workspace --no-fail-fast

test: deps fmt dashboard lint check-architecture base-image nextest contract browser

# The dashboard's bundle (dashboard/dist), which berth embeds when it is compiled.
dashboard:
	scripts/build-dashboard.sh

# The dashboard in Debian's chromium against the real binary; screenshots in $(TARGET_DIR)/browser.
browser:
	$(CARGO) build --locked -p berth-server
	BERTH_BROWSER_OUT=$(TARGET_DIR)/browser scripts/test-browser.sh $(TARGET_DIR)/debug/berth

# The OpenAPI document against the real binary (docs/api.md): openapi-generator's validation,
# then schemathesis, every check, on SQLite and Postgres.
contract:
	$(CARGO) build --locked -p berth-server
	openapi-generator-cli validate -i openapi/openapi.json
	scripts/generate-client.sh --check
	scripts/test-postgres.sh scripts/test-contract.sh $(TARGET_DIR)/debug/berth

# The local images that builds, deployments and database tests use (there is no registry):
# busybox, and PostgreSQL from Debian's packages (cached under ~/.cache/berth/images).
base-image:
	scripts/base-image.sh
	scripts/database-image.sh postgres

# The document from the code, then the dashboard's client from the document.
openapi:
	$(CARGO) run --locked -q -p berth-server -- openapi > openapi/openapi.json
	scripts/generate-client.sh

build-release: dashboard
	$(CARGO) build --locked --release -p berth-server -p berth-api -p berth-store -p berth-build -p berth-swarm -p berth-proxy --bin berth --example ceiling --example bench_request --example bench_scale --example bench_build --example bench_rollout --example bench_replicas --example bench_pipeline --example bench_proxy

bench: build-release
	scripts/install-deps.sh bench
	$(RUN_ENV) scripts/bench-server.sh $(TARGET_DIR)/release/berth
	$(RUN_ENV) scripts/test-postgres.sh scripts/bench-api.sh $(TARGET_DIR)/release/berth $(TARGET_DIR)/release/examples/ceiling
	scripts/test-postgres.sh $(TARGET_DIR)/release/examples/bench_request
	scripts/test-postgres.sh $(TARGET_DIR)/release/examples/bench_scale 10
	scripts/test-postgres.sh scripts/bench-partitions.sh
	$(RUN_ENV) scripts/bench-scale.sh $(TARGET_DIR)/release/berth $(TARGET_DIR)/release/examples/bench_scale
	scripts/base-image.sh
	$(TARGET_DIR)/release/examples/bench_build 5
	$(TARGET_DIR)/release/examples/bench_rollout 5
	$(TARGET_DIR)/release/examples/bench_replicas 100
	$(TARGET_DIR)/release/examples/bench_pipeline $(TARGET_DIR)/release/berth 3
	$(TARGET_DIR)/release/examples/bench_proxy 10
	BERTH_BROWSER_OUT=$(TARGET_DIR)/browser scripts/test-browser.sh $(TARGET_DIR)/release/berth
