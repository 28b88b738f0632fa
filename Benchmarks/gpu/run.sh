#!/usr/bin/env bash
# The torch engine on one GPU box, in under 8 minutes, with nothing but this repository and a Python with torch
# (CUDA build) and numpy: a DFEW-size synthetic packed cache, a paper-preset epoch in fp32 and bf16 (clips/s, GPU
# busy, data wait), the loader alone, a 2-GPU data-parallel epoch when two GPUs are visible; writes
# docs/GPU-BENCHMARKS.md. Environment: PYTHON (default python3), WORK (scratch folder, default a temporary one).
# `Benchmarks/gpu/run.sh --smoke` checks the script on a CPU machine in seconds (tiny sizes, no figures).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-python3}
work=${WORK:-$(mktemp -d)}
trap '[ -z "${WORK:-}" ] && rm -rf "$work"' EXIT
out=docs/GPU-BENCHMARKS.md
for arg in "$@"; do [ "$arg" = --smoke ] && out="$work/GPU-BENCHMARKS.md"; done
"$python" -c "import torch, numpy" || { echo "gpu bench: $python cannot import torch and numpy (pip install torch numpy)"; exit 1; }
"$python" Benchmarks/gpu/gpu_bench.py --work "$work" --out "$out" "$@"
[ "$out" = docs/GPU-BENCHMARKS.md ] || cat "$out"
