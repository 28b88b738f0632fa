#!/usr/bin/env bash
# Builds both images and tries them (make container-test):
#   Deploy/container/test-images.sh [cpu|gpu|all]
# 1. builds Containerfile as ferd-test and checks its configuration: user 10001, entry point ferd;
# 2. runs ferd inside it, as the image's user, through a throwaway uncached build (the RUN steps of a small Containerfile
#    on top of it, so no `podman run` or container networking is needed): --help, every library found (ldd),
#    CURVE keys, a coordinator and a simulated worker over loopback to the end of a two-trial experiment,
#    ferd status and ferd report on its leaderboard;
# 3. (gpu, all) builds Containerfile.gpu on top as ferd-gpu-test and checks that its Python imports torch and
#    ferd_torch and that `ferd worker --engine torch --device cpu` accepts it.
# Environment: CONTAINER (default podman; docker works too; with its global options, e.g. "podman --storage-driver
# vfs"), BUILD_OPTS (more build options, e.g.
# "--isolation chroot" where the OCI runtime cannot start containers), SWIFT_IMAGE, RUNTIME_IMAGE and
# TORCH_VERSION/TORCH_INDEX (passed on as build arguments when set). The build stage fetches the base images and
# the Swift packages from the internet.
set -euo pipefail
cd "$(dirname "$0")/../.."
what=${1:-all}
case "$what" in cpu|gpu|all) ;; *) echo "usage: $0 [cpu|gpu|all]" >&2; exit 2 ;; esac
read -r -a container <<< "${CONTAINER:-podman}"
read -r -a options <<< "${BUILD_OPTS:-}"
# The build arguments of one Containerfile that are set in the environment.
arguments() { for name in "$@"; do [ -n "${!name:-}" ] && echo "--build-arg=$name=${!name}"; done; true; }
mapfile -t cpu_arguments < <(arguments SWIFT_IMAGE RUNTIME_IMAGE)
mapfile -t gpu_arguments < <(arguments TORCH_VERSION TORCH_INDEX)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

build() { "${container[@]}" build "${options[@]}" "$@"; }
config() { "${container[@]}" image inspect --format "$2" "$1"; }

echo "== building ferd-test (Deploy/container/Containerfile)"
build "${cpu_arguments[@]}" -f Deploy/container/Containerfile -t localhost/ferd-test:latest .
user=$(config localhost/ferd-test:latest '{{.Config.User}}')
entrypoint=$(config localhost/ferd-test:latest '{{join .Config.Entrypoint " "}}')
[ "$user" = 10001:10001 ] || { echo "ferd-test runs as '$user', not 10001:10001"; exit 1; }
[ "$entrypoint" = ferd ] || { echo "ferd-test's entry point is '$entrypoint', not ferd"; exit 1; }
echo "user $user, entry point $entrypoint"

echo "== ferd in ferd-test: a coordinator and a simulated worker"
cat > "$scratch/smoke.sh" <<'EOF'
set -eu
cd "$(mktemp -d)"
test "$(id -u)" = 10001
ferd --help > /dev/null
if ldd /usr/local/bin/ferd | grep 'not found'; then exit 1; fi
ferd keygen --name coordinator --out keys && ferd keygen --name w1 --out wkeys
mkdir keys/workers && cp wkeys/w1.pub keys/workers/ && cp keys/coordinator.pub wkeys/
printf 'name: smoke\ndata:\n  path: /nonexistent\nfolds: [1, 2]\ngrid:\n  preset: small\n  epochs: 2\n' > smoke.yaml
ferd worker --simulate-trials 0.2 --simulate-epochs 2 --connect tcp://127.0.0.1:5555 --name w1 --keys wkeys --work work \
  > worker.log 2>&1 &
worker=$!
timeout 120 ferd coordinator --config smoke.yaml --db ferd.db --bind tcp://127.0.0.1:5555 --keys keys
kill "$worker" && wait "$worker"
ferd status --db ferd.db | tee status.txt
grep -q 'DONE 2' status.txt
ferd report --db ferd.db --format md > /dev/null
EOF
printf 'FROM localhost/ferd-test:latest\nCOPY smoke.sh /tmp/\nRUN sh /tmp/smoke.sh\n' \
  > "$scratch/Containerfile.smoke"
build --no-cache -f "$scratch/Containerfile.smoke" -t localhost/ferd-smoke:latest "$scratch"

if [ "$what" != cpu ]; then
  echo "== building ferd-gpu-test (Deploy/container/Containerfile.gpu)"
  build "${gpu_arguments[@]}" -f Deploy/container/Containerfile.gpu --build-arg FERD_IMAGE=localhost/ferd-test:latest -t localhost/ferd-gpu-test:latest .
  user=$(config localhost/ferd-gpu-test:latest '{{.Config.User}}')
  [ "$user" = 10001:10001 ] || { echo "ferd-gpu-test runs as '$user', not 10001:10001"; exit 1; }
  cat > "$scratch/Containerfile.gpu-smoke" <<'EOF'
FROM localhost/ferd-gpu-test:latest
RUN cd "$(mktemp -d)" && "$FERD_PYTHON" -c 'import torch, ferd_torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' \
 && { timeout 20 ferd worker --engine torch --device cpu --connect tcp://127.0.0.1:5555 --name probe --work work \
        > worker.log 2>&1 || true; } \
 && cat worker.log && grep -q 'torch engine' worker.log
EOF
  build --no-cache -f "$scratch/Containerfile.gpu-smoke" -t localhost/ferd-gpu-smoke:latest "$scratch"
fi
echo "container-test: the images build and ferd runs in them"
