#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the benchmark binary with tiny sizes and checks the JSON: every benchmark the arguments
# list ran, none errored, and each of MODELS (workload/model, comma-separated) ran at least one,
# so a model that stops registering fails here, not only a run that stops early.
# usage: smoke_run.sh MODELS BINARY [ARGS...]
set -u
models=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
listed=$(timeout 60 "$@" --benchmark_list_tests | grep -c .)
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
if [[ $ran -ne $listed ]]; then
  echo "FAIL: $ran benchmarks ran, $listed listed"; exit 1
fi
IFS=, read -ra wanted <<<"$models"
for model in "${wanted[@]}"; do
  if ! grep -q "\"name\": \"$model/" "$out"; then
    echo "FAIL: no benchmark of $model ran"; exit 1
  fi
done
echo "ok: $ran benchmarks ran, none errored, each of ${#wanted[@]} models among them"
