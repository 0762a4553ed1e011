#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a command that must fail on bad input: exit code 2, one line on stderr containing TEXT.
# usage: cli_error.sh TEXT COMMAND [ARGS...]
set -u
expected=$1
shift
stderr_file=$(mktemp)
trap 'rm -f "$stderr_file"' EXIT
timeout 60 "$@" >/dev/null 2>"$stderr_file"
code=$?
lines=$(grep -c '' "$stderr_file")
if [[ $code -ne 2 ]]; then
  echo "FAIL: exit code $code, expected 2: $*"; cat "$stderr_file"; exit 1
fi
if [[ $lines -ne 1 ]]; then
  echo "FAIL: $lines lines on stderr, expected 1: $*"; cat "$stderr_file"; exit 1
fi
if ! grep -qF -- "$expected" "$stderr_file"; then
  echo "FAIL: stderr lacks '$expected': $*"; cat "$stderr_file"; exit 1
fi
echo "ok: $(cat "$stderr_file")"
