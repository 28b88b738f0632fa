#!/usr/bin/env bash
# make bench: OpenBLAS sgemm peak, the paper model's 3×3 convolutions one by one, the GCA+IAL training
# step in ferd, in Debian's PyTorch (python3-torch) and in a current PyTorch from PyPI (.build/venv-torch,
# `make venv-torch`), interleaved round by round in one run so that the ratios are comparable (paper at
# batch 2 and 8, small at batch 2), the data loader against the train step, one epoch of the small preset on
# 2,000 synthetic clips and a λ ablation, then docs/BENCHMARKS.md; then the cluster, collective, scaling
# and engine benchmarks and their pages.
# Environment: THREADS (default: all cores), PYTHON (Debian's torch, default /usr/bin/python3), SCRATCH
# (SwiftPM scratch path, default .build), ROUNDS (interleaved rounds of the training step, default 2),
# ABLATION_EPOCHS (default 10; 0 skips the ablation), ABLATION_CLIPS (default 2000), MAIN_ONLY=1 (stop after
# docs/BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-$(nproc)}
python=${PYTHON:-/usr/bin/python3}
scratch=${SCRATCH:-.build}
rounds=${ROUNDS:-2}
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
run "$bench" conv-layers --threads "$threads"
# The current torch from PyPI, in the virtual environment `make venv-torch` keeps (skipped with a notice offline).
current=""
if make --no-print-directory venv-torch >&2; then current=$PWD/.build/venv-torch/bin/python
else echo "ferd: no current torch from PyPI; the training step is compared with Debian's torch only" >&2; fi
# Round by round, each configuration in ferd and then in each torch, so that load on the shared machine
# hits all three alike; the renderer pairs the runs of a round.
for round in $(seq "$rounds"); do
  for config in "paper 2 5" "paper 8 3" "small 2 20"; do
    read -r preset batch steps <<< "$config"
    run "$bench" train-step --preset "$preset" --batch "$batch" --threads "$threads" --steps "$steps"
    for py in "$python" $current; do
      run "$py" Benchmarks/torch_train_step.py --preset "$preset" --batch "$batch" --threads "$threads" \
        --steps "$steps" --sections
    done
  done
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
command="make bench"
[ "${MAIN_ONLY:-0}" = 1 ] && command="MAIN_ONLY=1 Benchmarks/run-benchmarks.sh"
"$python" Benchmarks/render_benchmarks.py "$results" --threads "$threads" --rounds "$rounds" --command "$command" \
  > docs/BENCHMARKS.md
echo "wrote docs/BENCHMARKS.md" >&2
[ "${MAIN_ONLY:-0}" = 1 ] && exit 0
# The coordinator with simulated workers (1, 16, 256) over loopback: docs/CLUSTER-BENCHMARKS.md.
swift build -c release --scratch-path "$scratch" --product FerdClusterBench
"$scratch/release/FerdClusterBench" --markdown docs/CLUSTER-BENCHMARKS.md | tail -n 1 | tee -a "$results"
# The gradient exchange of data-parallel gangs (star and ring, float32 and float16, k = 2, 3, 4) over
# loopback, projected onto 10/25 GbE with the paper train step measured above: docs/COLLECTIVE-BENCHMARKS.md.
swift build -c release --scratch-path "$scratch" --product FerdCollectiveBench
paper_ms=$("$python" -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(next((r["ms_per_step_median"] for r in rows if r.get("framework")=="ferd" and r.get("preset")=="paper" and r.get("batch")==2),776))' "$results")
"$scratch/release/FerdCollectiveBench" --compute-ms "$paper_ms" --compute-source "paper train step, batch 2, $threads threads" \
  --command "Benchmarks/run-benchmarks.sh" --markdown docs/COLLECTIVE-BENCHMARKS.md | tail -n 1 | tee -a "$results"
# Measured data-parallel scaling: one trainer vs a loopback gang of k members (one core each, k up to the
# cores, at most 4) on the paper model, appended to docs/COLLECTIVE-BENCHMARKS.md.
swift build -c release --scratch-path "$scratch" --product FerdScalingBench
cores=$(nproc)
gang_sizes=$(seq -s, 2 $(( cores < 4 ? cores : 4 )))
"$scratch/release/FerdScalingBench" --preset paper --batch 12 --steps 4 --members "$gang_sizes" \
  --markdown docs/COLLECTIVE-BENCHMARKS.md | tail -n 4
# The Swift and torch engines side by side on these CPUs (Debian's torch and the current one): docs/ENGINE-BENCHMARKS.md.
SCRATCH="$scratch" THREADS="$threads" Benchmarks/engines/run.sh
