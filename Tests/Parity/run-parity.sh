#!/usr/bin/env bash
# Parity with the PyTorch reference: writes a small and a paper case with Debian's python3-torch,
# then runs ParityTests against them (eval logits, train losses, every gradient, BN running stats).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-/usr/bin/python3}
for preset in small paper; do
  "$python" Tests/Parity/make_parity_case.py --preset "$preset" --batch 2 --seed 0 --out "Tests/Parity/out/$preset"
done
swift build --build-tests
FERD_PARITY_DIR="$PWD/Tests/Parity/out" swift test --skip-build --disable-swift-testing --filter ParityTests 2>&1 \
  | tee Tests/Parity/out/parity.log | grep -E "^parity|error|Executed"
grep -q "with 0 failures" Tests/Parity/out/parity.log
