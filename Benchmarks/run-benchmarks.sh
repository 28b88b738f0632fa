#!/usr/bin/env bash
# make bench: OpenBLAS sgemm peak, the GCA+IAL training step in ferd and in PyTorch (same model,
# batch and thread count, one run, so the ratios are comparable), then docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-$(nproc)}
python=${PYTHON:-/usr/bin/python3}
out=Benchmarks/out
mkdir -p "$out"
swift build -c release --product FerdBench
bench=.build/release/FerdBench
results="$out/results.jsonl"
: > "$results"
run() { echo "+ $*" >&2; "$@" | tail -n 1 | tee -a "$results"; }
run "$bench" sgemm --threads "$threads"
for preset in paper small; do
  steps=$([ "$preset" = paper ] && echo 5 || echo 20)
  run "$bench" train-step --preset "$preset" --batch 2 --threads "$threads" --steps "$steps"
  run "$python" Benchmarks/torch_train_step.py --preset "$preset" --batch 2 --threads "$threads" --steps "$steps"
done
"$python" Benchmarks/render_benchmarks.py "$results" --threads "$threads" > docs/BENCHMARKS.md
echo "wrote docs/BENCHMARKS.md" >&2
