#!/usr/bin/env bash
# Checks every deployment file without a container engine, a cluster or a running systemd (make deploy-lint):
#   Deploy/lint.sh VENV BINARY
# VENV holds hadolint, kubernetes-validate and kubectl (make venv-deploy-lint); BINARY is a release build of ferd.
#  1. the Containerfiles pass hadolint (Deploy/container/hadolint.yaml);
#  2. the runtime image installs exactly the libraries `ldd BINARY` needs (Deploy/container/check-runtime-libs.py),
#     and that check catches a missing and an extra package;
#  3. the kustomization renders (kubectl kustomize) and every object in it validates against the Kubernetes
#     schema, strictly (no unknown fields);
#  4. the systemd units pass `systemd-analyze verify` (in a scratch root with a stand-in /usr/local/bin/ferd, since
#     verify requires ExecStart's binary) and `systemd-analyze security` rates them 2.0 or better.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:?usage: Deploy/lint.sh VENV BINARY}
binary=${2:?usage: Deploy/lint.sh VENV BINARY}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "== hadolint: Deploy/container/Containerfile, Containerfile.gpu"
"$venv/bin/hadolint" --config Deploy/container/hadolint.yaml Deploy/container/Containerfile Deploy/container/Containerfile.gpu

echo "== runtime libraries of $binary against Deploy/container/Containerfile"
python3 Deploy/container/check-runtime-libs.py "$binary" Deploy/container/Containerfile
sed 's/ libzmq5 / /' Deploy/container/Containerfile > "$scratch/missing"
sed 's/ libzmq5 / libzmq5 curl /' Deploy/container/Containerfile > "$scratch/extra"
for mutant in missing extra; do
  if cmp -s Deploy/container/Containerfile "$scratch/$mutant"; then
    echo "the runtime stage has no ' libzmq5 ' to remove or extend; update the mutants in Deploy/lint.sh"; exit 1
  fi
  if python3 Deploy/container/check-runtime-libs.py "$binary" "$scratch/$mutant" > "$scratch/out" 2>&1; then
    echo "check-runtime-libs.py accepted a runtime stage with a package $mutant"; exit 1
  fi
  echo "(refused with a package $mutant: $(tail -n 1 "$scratch/out"))"
done

echo "== Kubernetes: kubectl kustomize Deploy/kubernetes, validated strictly"
"$venv/bin/kubectl" kustomize Deploy/kubernetes > "$scratch/kubernetes.yaml"
"$venv/bin/kubernetes-validate" --strict --quiet "$scratch/kubernetes.yaml"
echo "$(grep -c '^kind:' "$scratch/kubernetes.yaml") objects valid"

echo "== systemd: systemd-analyze verify and security"
root="$scratch/root"
mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system" "$root/usr/lib"
printf '#!/bin/sh\n' > "$root/usr/local/bin/ferd" && chmod 0755 "$root/usr/local/bin/ferd"
cp -a /usr/lib/systemd "$root/usr/lib/"
cp Deploy/systemd/ferd-coordinator.service Deploy/systemd/ferd-worker@.service "$root/etc/systemd/system/"
units=(ferd-coordinator.service ferd-worker@0.service)
# verify exits 0 on unknown settings and only warns: any output is a failure.
systemd-analyze verify --root="$root" "${units[@]}" > "$scratch/verify" 2>&1 || true
if [ -s "$scratch/verify" ]; then cat "$scratch/verify"; echo "systemd-analyze verify complained"; exit 1; fi
echo "verify: ${units[*]} clean"
systemd-analyze security --offline=yes --root="$root" --threshold=20 "${units[@]}" | grep 'Overall exposure'
echo "deploy-lint: all deployment files pass"
