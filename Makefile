# kubectl-edge: `make demo` runs the main job on a local real cluster; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KEEP ?=
# A directory holding SuperEdge's own binaries (lite-apiserver, tunnel, ...), for make l4 and the demo.
SUPEREDGE_BIN ?=

.PHONY: all venv binaries node-deps lint test unit integration e2e l4 demo bench dist clean

all: test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "kubectl-edge needs Python >= 3.10 (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## Build the Kubernetes (newest and oldest supported minor), etcd and helm binaries and the nodes' crictl into the
## cache (a no-op when they are there).
binaries:
	$(PYTHON) hack/build_binaries.py
	$(PYTHON) hack/build_kubernetes.py
	$(PYTHON) hack/node_tools.py

## containerd, runc, CNI plugins and iproute2 from Debian, for the simulated edge node (needs root).
node-deps:
	$(PYTHON) -c 'import sys; sys.path.insert(0, "hack"); import edgenode; edgenode.install_node_packages()'

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: venv
	$(BIN)/pytest tests -m 'not integration'

integration: venv binaries
	$(BIN)/pytest tests -m 'integration and not e2e'

e2e: venv binaries node-deps
	$(BIN)/pytest tests/e2e -s

test: venv binaries node-deps lint
	$(BIN)/pytest tests --ignore=tests/l4

## L4: SuperEdge's own binaries from SUPEREDGE_BIN (which the project never builds) under the chart and edgeadm.
l4: venv binaries node-deps
	@test -n "$(SUPEREDGE_BIN)" || { echo "make l4 needs SUPEREDGE_BIN=DIR: a directory holding SuperEdge's binaries (lite-apiserver, tunnel, application-grid-controller, application-grid-wrapper, edge-health, edge-health-admission, and SuperEdge's edgeadm); see docs/development.md" >&2; exit 2; }
	@test -d "$(SUPEREDGE_BIN)" || { echo "make l4: SUPEREDGE_BIN=$(SUPEREDGE_BIN) is not a directory" >&2; exit 2; }
	SUPEREDGE_BIN="$(abspath $(SUPEREDGE_BIN))" $(BIN)/pytest tests/l4 -s

demo: venv binaries node-deps
	$(BIN)/python hack/demo.py $(if $(KEEP),--keep) $(if $(SUPEREDGE_BIN),--superedge-bin "$(abspath $(SUPEREDGE_BIN))")

bench: venv binaries
	$(BIN)/python bench/run.py

## Release artefacts into dist/: sdist, wheel, edgeadm, the krew archive for this machine, krew-manifest.yaml,
## SHA256SUMS; reproducible (docs/distribution.md).
dist: venv
	$(BIN)/python hack/dist.py --out dist

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
