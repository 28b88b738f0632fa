#!/usr/bin/env bash
# Fuzzes the ferd wire codec with libFuzzer and AddressSanitizer for a bounded time.
# Usage: Tests/Fuzz/run-codec-fuzz.sh SECONDS   (default 60)
# Builds into .build-fuzz/ (or $FUZZ_DIR); crashing inputs are written there as crash-*.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${FUZZ_DIR:-$root/.build-fuzz}"
corpus="$work/corpus"
mkdir -p "$corpus"

swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    "$root"/Sources/FerdCluster/Protocol/*.swift "$root/Tests/Fuzz/CodecFuzz.swift" \
    -o "$work/codec-fuzz"

# Start from one valid frame of every message type (kept decodable by FuzzSeedTests).
cp "$root"/Tests/Fuzz/seeds/*.bin "$corpus"/

cd "$work"
exec ./codec-fuzz -max_total_time="$seconds" -max_len=4096 -timeout=10 "$corpus"
