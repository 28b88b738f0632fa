#!/usr/bin/env bash
# Step time (forward + backward + SGD) of every method's model in the Swift engine (ferd-bench train-step --method)
# and in PyTorch (torch_step.py) on the same configuration, interleaved run by run (the engine that goes first
# alternates between rounds), medians over the rounds; writes docs/METHOD-BENCHMARKS.md and the raw JSON lines to
# Benchmarks/methods/last-run.jsonl.
#   Benchmarks/methods/run.sh [PYTHON]      (default /usr/bin/python3, Debian's torch)
# Environment: METHODS (default all five), BATCHES (clips per batch, default "2"; "paper" is each method's paper batch:
# GCA+IAL 40, SCN 64, RAN 32, Former-DFER 32, STT 32), PRESET (paper), ROUNDS (3), STEPS (timed steps per run, 2),
# THREADS (default: every core), TORCH_DEVICES (PyTorch runs, default "cpu"; "cpu cuda cuda-bf16" adds a GPU in fp32
# and in bf16 autocast), RUN_TIMEOUT (seconds one run may take, default none; a run cut off is recorded as such),
# RAN_RECOMPUTE (1: RAN recomputes each region's backbone pass in the backward pass, in both engines; the memory
# that lets its paper batch run on a machine with less than 40 GiB), BENCH (a FerdBench binary built elsewhere: no Swift build, for a box without a toolchain), OUT (the Markdown page,
# default docs/METHOD-BENCHMARKS.md), RAW (the JSON lines, default Benchmarks/methods/last-run.jsonl).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-${PYTHON:-/usr/bin/python3}}
methods=${METHODS:-"gca-ial scn ran former-dfer stt"}
batches=${BATCHES:-2}
preset=${PRESET:-paper}
rounds=${ROUNDS:-3}
steps=${STEPS:-2}
threads=${THREADS:-$(nproc)}
torch_devices=${TORCH_DEVICES:-cpu}
run_timeout=${RUN_TIMEOUT:-0}
out=${OUT:-docs/METHOD-BENCHMARKS.md}
raw=${RAW:-Benchmarks/methods/last-run.jsonl}
started=$(date -u +"%Y-%m-%d %H:%M UTC")
load="$(cut -d ' ' -f 1-3 /proc/loadavg) on $(nproc) cores"
if [ -n "${BENCH:-}" ]; then
  bench=$BENCH
  swift_version="ferd-bench built elsewhere with ${SWIFT_VERSION:-an unnamed Swift}"
else
  swift build -c release --product FerdBench
  bench="$(swift build -c release --show-bin-path)/FerdBench"
  swift_version=$(swift --version 2>&1 | head -n 1)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$raw"

# The batch one method runs at: the batch given, or its paper batch for "paper".
batch_of() {
  local method=$1 batch=$2
  [ "$batch" != paper ] && { echo "$batch"; return; }
  case $method in
    gca-ial) echo 40 ;; scn) echo 64 ;; *) echo 32 ;;
  esac
}

# One run: appends its JSON line, or a line with the error (a method the engine cannot build yet).
record() {
  local engine=$1 device=$2 precision=$3 method=$4 batch=$5 round=$6 line status error
  shift 6
  status=0
  line=$(timeout "$run_timeout" "$@" 2>"$work/stderr") || status=$?
  if [ "$status" = 0 ]; then
    echo "$line" | "$python" -c 'import json, sys; r = json.loads(sys.stdin.read()); r.pop("sections", None); r.pop("configuration", None); r["round"] = int(sys.argv[1]); print(json.dumps(r))' "$round" >>"$raw"
  else
    error=$(tail -n 1 "$work/stderr")
    [ -n "$error" ] || error="exited with status $status"
    [ "$status" = 137 ] && error="killed (status 137; out of memory?)"
    [ "$status" = 124 ] && error="cut off after ${run_timeout} s (RUN_TIMEOUT)"
    "$python" -c 'import json, sys; print(json.dumps({"framework": sys.argv[1], "device": sys.argv[2], "precision": sys.argv[3], "method": sys.argv[4], "batch": int(sys.argv[5]), "round": int(sys.argv[6]), "error": sys.argv[7]}))' \
      "$engine" "$device" "$precision" "$method" "$batch" "$round" "$error" >>"$raw"
  fi
}

# ferd-bench's options of one method beyond --method and --preset.
method_options() {
  [ "$1" = ran ] && [ "${RAN_RECOMPUTE:-0}" = 1 ] && echo --ran-recompute
  return 0
}

for method in $methods; do
  # shellcheck disable=SC2046
  "$bench" train-step --method "$method" --preset "$preset" $(method_options "$method") --configuration-only >"$work/$method.json" 2>"$work/stderr" \
    || "$python" -c 'import json, sys; sys.path.insert(0, "Engines/torch"); from ferd_torch import methods; print(json.dumps(methods.PAPER[sys.argv[1]]))' "$method" >"$work/$method.json"
done
for round in $(seq "$rounds"); do
  for method in $methods; do
    for given in $batches; do
      batch=$(batch_of "$method" "$given")
      # The GPU runs go first: they take seconds, the CPU runs of a paper batch minutes.
      for device in $torch_devices; do
        [ "$device" = cpu ] && continue
        precision=fp32
        [ "$device" = cuda-bf16 ] && precision=bf16
        record pytorch cuda "$precision" "$method" "$batch" "$round" "$python" Benchmarks/methods/torch_step.py \
          --configuration "$work/$method.json" --batch "$batch" --threads "$threads" --steps "$steps" --warmup 1 \
          --device cuda --precision "$precision"
      done
      # shellcheck disable=SC2046
      swift_run=(record ferd cpu fp32 "$method" "$batch" "$round" "$bench" train-step --method "$method" --preset "$preset" $(method_options "$method") --batch "$batch" --threads "$threads" --steps "$steps" --warmup 1)
      torch_run=(record pytorch cpu fp32 "$method" "$batch" "$round" "$python" Benchmarks/methods/torch_step.py --configuration "$work/$method.json" --batch "$batch" --threads "$threads" --steps "$steps" --warmup 1)
      [[ " $torch_devices " == *" cpu "* ]] || torch_run=(true)
      if (( round % 2 )); then "${swift_run[@]}"; "${torch_run[@]}"; else "${torch_run[@]}"; "${swift_run[@]}"; fi
      echo "round $round/$rounds: $method batch $batch done" >&2
    done
  done
done
"$python" Benchmarks/methods/render.py "$raw" "$out" --started "$started" \
  --command "Benchmarks/methods/run.sh $python (METHODS=\"$methods\" BATCHES=\"$batches\" RAN_RECOMPUTE=${RAN_RECOMPUTE:-0} PRESET=$preset ROUNDS=$rounds STEPS=$steps THREADS=$threads TORCH_DEVICES=\"$torch_devices\")" \
  --swift "$swift_version" --load "$load"
echo "wrote $out" >&2
