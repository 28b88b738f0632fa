#!/usr/bin/env bash
# The two engines side by side on this machine's CPUs, same model, same data, same settings, one run: an epoch of
# `ferd train` (Swift) and of the torch engine (`python -m ferd_torch`, the trial spec a torch worker sends, with
# Debian's torch and with a current torch), and plain PyTorch's training step on the same model for the engine's
# overhead; small and paper presets. Writes docs/ENGINE-BENCHMARKS.md. Called by Benchmarks/run-benchmarks.sh.
# Environment: THREADS (default: all cores), SCRATCH (SwiftPM scratch path), CURRENT_PYTHON (default the
# .build/venv-torch of `make venv-torch`), CLIPS (default 150).
set -euo pipefail
cd "$(dirname "$0")/../.."
threads=${THREADS:-$(nproc)}
scratch=${SCRATCH:-.build}
clips=${CLIPS:-150}
debian=/usr/bin/python3
current=${CURRENT_PYTHON:-.build/venv-torch/bin/python}
swift build -c release --scratch-path "$scratch" --product ferd >&2
swift build -c release --scratch-path "$scratch" --product FerdBench >&2
ferd=$scratch/release/ferd
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=Benchmarks/out/engines.jsonl
mkdir -p Benchmarks/out
: > "$results"
"$ferd" synth --out "$work/data" --clips "$clips" --size 112 --frames 16-20 --balanced > /dev/null
for preset in small paper; do
  size=$([ "$preset" = paper ] && echo 112 || echo 56)
  batch=$([ "$preset" = paper ] && echo 4 || echo 8)
  steps=$([ "$preset" = paper ] && echo 4 || echo 20)
  "$ferd" prepare --data "$work/data" --out "$work/cache-$size" --size "$size" --threads "$threads" > /dev/null
  echo "+ ferd train --preset $preset" >&2
  "$ferd" train --data "$work/data" --cache "$work/cache-$size" --fold 1 --preset "$preset" --epochs 1 --batch "$batch" --lr 0.001 --weight-decay 0.1 \
    --threads "$threads" --out "$work/swift-$preset" > /dev/null 2>&1
  "$debian" - "$work/swift-$preset/metrics.jsonl" "$preset" <<'PY' | tee -a "$results"
import json, sys
row = [json.loads(line) for line in open(sys.argv[1]) if line.strip()][0]
print(json.dumps({"engine": "swift", "preset": sys.argv[2], "epoch_seconds": row["seconds"]}))
PY
  "$scratch/release/FerdBench" train-step --preset "$preset" --batch "$batch" --threads "$threads" --steps "$steps" \
    | tail -n 1 | "$debian" -c 'import json,sys; r=json.loads(sys.stdin.read()); print(json.dumps({"engine": "swift", "preset": r["preset"], "step_ms": r["ms_per_step_median"]}))' \
    | tee -a "$results"
  for python in "$debian" "$current"; do
    [ -x "$python" ] || { echo "engine bench: $python is missing (make venv-torch); skipped" >&2; continue; }
    echo "+ torch engine ($python) --preset $preset" >&2
    "$debian" Benchmarks/engines/torch_engine_epoch.py --python "$python" --settings "$work/swift-$preset/settings.json" \
      --cache "$work/cache-$size" --threads "$threads" --run "$work/torch-$preset-$(basename "$(dirname "$(dirname "$python")")")" \
      | tee -a "$results"
    PYTHONPATH=Engines/torch "$python" Benchmarks/torch_train_step.py --preset "$preset" --batch "$batch" --threads "$threads" \
      --steps "$steps" | tail -n 1 \
      | "$debian" -c 'import json,sys; r=json.loads(sys.stdin.read()); print(json.dumps({"engine": "pytorch", "torch": r["torch_version"], "preset": r["preset"], "step_ms": r["ms_per_step_median"]}))' \
      | tee -a "$results"
  done
done
"$debian" Benchmarks/engines/render.py "$results" --threads "$threads" --clips "$clips" > docs/ENGINE-BENCHMARKS.md
echo "wrote docs/ENGINE-BENCHMARKS.md" >&2
