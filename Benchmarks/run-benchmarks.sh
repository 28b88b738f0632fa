#!/usr/bin/env bash
# make bench: OpenBLAS sgemm peak, the GCA+IAL training step in ferd and in PyTorch (same model,
# batch and thread count, one run, so the ratios are comparable), the data loader against the train
# step, one epoch of the small preset on 2,000 synthetic clips and a λ ablation, then docs/BENCHMARKS.md.
# Environment: THREADS (default: all cores), PYTHON, SCRATCH (SwiftPM scratch path, default .build),
# ABLATION_EPOCHS (default 10; 0 skips the ablation), ABLATION_CLIPS (default 2000).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-$(nproc)}
python=${PYTHON:-/usr/bin/python3}
scratch=${SCRATCH:-.build}
epochs=${ABLATION_EPOCHS:-10}
synth_clips=${ABLATION_CLIPS:-2000}
out=Benchmarks/out
mkdir -p "$out"
swift build -c release --scratch-path "$scratch" --product FerdBench
swift build -c release --scratch-path "$scratch" --product ferd
bench=$scratch/release/FerdBench
ferd=$scratch/release/ferd
results="$out/results.jsonl"
: > "$results"
run() { echo "+ $*" >&2; "$@" | tail -n 1 | tee -a "$results"; }
run "$bench" sgemm --threads "$threads"
for preset in paper small; do
  steps=$([ "$preset" = paper ] && echo 5 || echo 20)
  run "$bench" train-step --preset "$preset" --batch 2 --threads "$threads" --steps "$steps"
  run "$python" Benchmarks/torch_train_step.py --preset "$preset" --batch 2 --threads "$threads" --steps "$steps"
done
# Loader (train mode, augmentation, small preset T=8 S=56, batch 8) vs. the batch-8 train step.
run "$bench" loader --threads "$threads" --batch 8

# Epoch time and the λ ablation: small preset, fold 1 of a balanced synthetic set (64×64 JPEGs,
# 16 frames, packed at 56×56), `ferd train` defaults otherwise (lr 0.01, batch 8, step schedule).
if [ "$epochs" -gt 0 ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  start=$(date +%s.%N)
  "$ferd" synth --out "$work/data" --clips "$synth_clips" --size 64 --balanced > /dev/null
  synth_s=$(echo "$(date +%s.%N) - $start" | bc)
  start=$(date +%s.%N)
  "$ferd" prepare --data "$work/data" --out "$work/cache" --size 56 --threads "$threads" > /dev/null
  prepare_s=$(echo "$(date +%s.%N) - $start" | bc)
  for lambda in 0 0.1; do
    echo "+ ferd train --lambda $lambda --epochs $epochs" >&2
    "$ferd" train --data "$work/data" --cache "$work/cache" --fold 1 --preset small --epochs "$epochs" --batch 8 \
      --lr 0.01 --lambda "$lambda" --threads "$threads" --out "$work/run-$lambda" > /dev/null 2>&1
    "$python" - "$work/run-$lambda/metrics.jsonl" "$lambda" "$synth_clips" "$synth_s" "$prepare_s" <<'PY' | tee -a "$results"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print(json.dumps({"benchmark": "ablation", "lambda": float(sys.argv[2]), "fold": 1, "clips": int(sys.argv[3]),
                  "synth_seconds": float(sys.argv[4]), "prepare_seconds": float(sys.argv[5]),
                  "test_clips": sum(map(sum, rows[0]["confusion"])),
                  "epochs": [{k: r[k] for k in ("epoch", "train_loss", "uar", "war", "seconds")} for r in rows]},
                 sort_keys=True))
PY
  done
fi
"$python" Benchmarks/render_benchmarks.py "$results" --threads "$threads" > docs/BENCHMARKS.md
echo "wrote docs/BENCHMARKS.md" >&2
# The coordinator with simulated workers (1, 16, 256) over loopback: docs/CLUSTER-BENCHMARKS.md.
swift build -c release --scratch-path "$scratch" --product FerdClusterBench
"$scratch/release/FerdClusterBench" --markdown docs/CLUSTER-BENCHMARKS.md | tail -n 1 | tee -a "$results"
# The gradient exchange of data-parallel gangs (star and ring, float32 and float16, k = 2, 3, 4) over
# loopback, projected onto 10/25 GbE with the paper train step measured above: docs/COLLECTIVE-BENCHMARKS.md.
swift build -c release --scratch-path "$scratch" --product FerdCollectiveBench
paper_ms=$("$python" -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(next((r["ms_per_step_median"] for r in rows if r.get("framework")=="ferd" and r.get("preset")=="paper"),776))' "$results")
"$scratch/release/FerdCollectiveBench" --compute-ms "$paper_ms" --compute-source "paper train step, batch 2, $threads threads" \
  --command "Benchmarks/run-benchmarks.sh" --markdown docs/COLLECTIVE-BENCHMARKS.md | tail -n 1 | tee -a "$results"
# Measured data-parallel scaling: one trainer vs a loopback gang of k members (one core each, k up to the
# cores, at most 4) on the paper model, appended to docs/COLLECTIVE-BENCHMARKS.md.
swift build -c release --scratch-path "$scratch" --product FerdScalingBench
cores=$(nproc)
gang_sizes=$(seq -s, 2 $(( cores < 4 ? cores : 4 )))
"$scratch/release/FerdScalingBench" --preset paper --batch 12 --steps 4 --members "$gang_sizes" \
  --markdown docs/COLLECTIVE-BENCHMARKS.md | tail -n 4
# The Swift and torch engines side by side on these CPUs (Debian's torch and a current one): docs/ENGINE-BENCHMARKS.md.
make --no-print-directory venv-torch >&2 || echo "no current torch from PyPI: the engine benchmark uses Debian's only" >&2
SCRATCH="$scratch" THREADS="$threads" Benchmarks/engines/run.sh
