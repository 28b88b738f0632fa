#!/usr/bin/env bash
# Early stopping measured against the ground truth of a full sweep (docs/SWEEPS.md):
#  1. runs Benchmarks/sweeps/full-sweep.yaml in full (ferd demo: synthetic data, a local coordinator, 2 workers);
#  2. replays its stored curves in full and under each rule (ferd replay): epochs, time, best point, rank ρ;
#  3. with --real, runs its converging points for real under the median rule and prints the report.
# Usage: Benchmarks/sweeps/run.sh [OUT_DIR] [--real]
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-.build/sweep-benchmark}"
ferd=.build/release/ferd
[ -x "$ferd" ] || swift build -c release
mkdir -p "$out"
echo "== full sweep ($(date -u +%FT%TZ), $(nproc) cores)"
/usr/bin/time -f "full sweep wall: %e s" "$ferd" demo --config Benchmarks/sweeps/full-sweep.yaml --dir "$out/full" > "$out/full.log"
tail -n 40 "$out/full.log"
echo "== replay of the stored curves"
"$ferd" replay --db "$out/full/ferd.db" --workers 2 --min-epochs 2 --grace 2 --reduction-factor 3
if [ "${2:-}" = "--real" ]; then
  echo "== the converging points for real under the median rule (Benchmarks/sweeps/median-sweep.yaml)"
  /usr/bin/time -f "median sweep wall: %e s" "$ferd" demo --config Benchmarks/sweeps/median-sweep.yaml --dir "$out/median" > "$out/median.log"
  tail -n 40 "$out/median.log"
fi
