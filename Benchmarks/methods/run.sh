#!/usr/bin/env bash
# Step time (forward + backward + SGD) of every method's model in the Swift engine (ferd-bench train-step --method)
# and in PyTorch (torch_step.py) on the same configuration, interleaved run by run (the engine that goes first
# alternates between rounds), medians over the rounds; writes docs/METHOD-BENCHMARKS.md and the raw JSON lines to
# Benchmarks/methods/last-run.jsonl.
#   Benchmarks/methods/run.sh [PYTHON]      (default /usr/bin/python3, Debian's torch)
# Environment: METHODS (default all five), BATCHES (clips per batch, default "2"; e.g. "2 40" adds a paper batch),
# PRESET (paper), ROUNDS (3), STEPS (timed steps per run, 2), THREADS (default: every core).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-${PYTHON:-/usr/bin/python3}}
methods=${METHODS:-"gca-ial scn ran former-dfer stt"}
batches=${BATCHES:-2}
preset=${PRESET:-paper}
rounds=${ROUNDS:-3}
steps=${STEPS:-2}
threads=${THREADS:-$(nproc)}
started=$(date -u +"%Y-%m-%d %H:%M UTC")
load=$(cut -d ' ' -f 1-3 /proc/loadavg)
swift build -c release --product FerdBench
bench="$(swift build -c release --show-bin-path)/FerdBench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
raw=Benchmarks/methods/last-run.jsonl
: >"$raw"

# One run: appends its JSON line, or a line with the error (a method the engine cannot build yet).
record() {
  local engine=$1 method=$2 batch=$3 round=$4 line
  shift 4
  if line=$("$@" 2>"$work/stderr"); then
    echo "$line" | "$python" -c 'import json, sys; r = json.loads(sys.stdin.read()); r.pop("sections", None); r.pop("configuration", None); r["round"] = int(sys.argv[1]); print(json.dumps(r))' "$round" >>"$raw"
  else
    "$python" -c 'import json, sys; print(json.dumps({"framework": sys.argv[1], "method": sys.argv[2], "batch": int(sys.argv[3]), "round": int(sys.argv[4]), "error": sys.argv[5]}))' \
      "$engine" "$method" "$batch" "$round" "$(tail -n 1 "$work/stderr")" >>"$raw"
  fi
}

for method in $methods; do
  "$bench" train-step --method "$method" --preset "$preset" --configuration-only >"$work/$method.json" 2>"$work/stderr" \
    || "$python" -c 'import json, sys; sys.path.insert(0, "Engines/torch"); from ferd_torch import methods; print(json.dumps(methods.PAPER[sys.argv[1]]))' "$method" >"$work/$method.json"
done
for round in $(seq "$rounds"); do
  for method in $methods; do
    for batch in $batches; do
      swift_run=(record ferd "$method" "$batch" "$round" "$bench" train-step --method "$method" --preset "$preset" --batch "$batch" --threads "$threads" --steps "$steps" --warmup 1)
      torch_run=(record pytorch "$method" "$batch" "$round" "$python" Benchmarks/methods/torch_step.py --configuration "$work/$method.json" --batch "$batch" --threads "$threads" --steps "$steps" --warmup 1)
      if (( round % 2 )); then "${swift_run[@]}"; "${torch_run[@]}"; else "${torch_run[@]}"; "${swift_run[@]}"; fi
      echo "round $round/$rounds: $method batch $batch done" >&2
    done
  done
done
"$python" Benchmarks/methods/render.py "$raw" docs/METHOD-BENCHMARKS.md --started "$started" \
  --command "Benchmarks/methods/run.sh $python (METHODS=\"$methods\" BATCHES=\"$batches\" PRESET=$preset ROUNDS=$rounds STEPS=$steps THREADS=$threads)" \
  --swift "$(swift --version 2>&1 | head -n 1)" --load "$load"
echo "wrote docs/METHOD-BENCHMARKS.md" >&2
