#!/usr/bin/env bash
# Runs the torch engine's unittest suite with the given Python: a short summary when it passes, the whole log
# when it fails. Usage: Engines/torch/run-tests.sh PYTHON
set -uo pipefail
python=${1:?usage: run-tests.sh PYTHON}
cd "$(dirname "$0")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
version=$("$python" -c "import torch; print(torch.__version__)") || { echo "ferd: $python cannot import torch"; exit 1; }
if "$python" -m unittest discover -s tests -t . >"$log" 2>&1; then
  echo "torch engine tests with torch $version ($python): $(grep -E '^Ran ' "$log")"
else
  cat "$log"
  echo "torch engine tests FAILED with torch $version ($python)"
  exit 1
fi
