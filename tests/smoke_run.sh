#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the benchmark binary with tiny sizes and checks the JSON: benchmarks ran, none errored.
# usage: smoke_run.sh MIN_BENCHMARKS BINARY [ARGS...]
set -u
min=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 300 "$@" --benchmark_format=json --benchmark_min_time=0.001 --benchmark_repetitions=1 >"$out"
code=$?
if [[ $code -ne 0 ]]; then
  # The benchmarks' own errors too: scripts/test.sh reads them to tell Open MPI's spawn hang
  # (which it retries) from any other failure.
  echo "FAIL: exit code $code: $*"; grep '"error_message"' "$out"; exit 1
fi
ran=$(grep -c '"run_type": "iteration"' "$out")
errors=$(grep -c '"error_occurred": true' "$out")
if [[ $errors -ne 0 ]]; then
  echo "FAIL: $errors benchmarks errored:"; grep '"error_message"' "$out"; exit 1
fi
if [[ $ran -lt $min ]]; then
  echo "FAIL: only $ran benchmarks ran, expected at least $min"; exit 1
fi
echo "ok: $ran benchmarks ran, none errored"
