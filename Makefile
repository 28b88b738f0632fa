# ferd — build, test, demo and benchmarks. Every target first installs the Debian packages it needs.
SWIFT      ?= swift
PYTHON     ?= /usr/bin/python3
PACKAGES   := libopenblas-dev libzmq3-dev libsqlite3-dev libturbojpeg0-dev pkg-config
BENCH_PKGS := python3-torch
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RELEASE    := .build/release/ferd

.PHONY: all deps build release test demo bench parity clean

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
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

demo: release
	$(RELEASE) demo

parity: release
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(BENCH_PKGS)"
	Tests/Parity/run-parity.sh

bench: release
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(BENCH_PKGS)"
	Benchmarks/run-benchmarks.sh

clean:
	rm -rf .build
