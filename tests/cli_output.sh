#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a command that must succeed and checks what it printed: exit code 0 is not enough, since
# Google Benchmark exits 0 after printing its usage, whatever flag asked for it.
# usage: cli_output.sh COUNT REGEX [COUNT REGEX ...] -- COMMAND [ARGS...]
# Each COUNT is how many stdout lines must match the extended REGEX: N exactly, or N+ (at least N).
set -u
checks=()
while [[ $# -gt 0 && $1 != -- ]]; do
  checks+=("$1" "$2")
  shift 2
done
shift  # --
stdout_file=$(mktemp) stderr_file=$(mktemp)
trap 'rm -f "$stdout_file" "$stderr_file"' EXIT
timeout 120 "$@" >"$stdout_file" 2>"$stderr_file"
code=$?
if [[ $code -ne 0 ]]; then
  echo "FAIL: exit code $code, expected 0: $*"; tail -5 "$stderr_file"; exit 1
fi
for ((i = 0; i < ${#checks[@]}; i += 2)); do
  want=${checks[i]} regex=${checks[i + 1]}
  got=$(grep -cE -- "$regex" "$stdout_file")
  if [[ $? -gt 1 ]]; then  # not "no line matched": the regex itself (a count of 0 would pass)
    echo "FAIL: grep cannot use '$regex'"; exit 1
  fi
  if [[ $want == *+ ]] && ((got >= ${want%+})); then continue; fi
  if [[ $want != *+ ]] && ((got == want)); then continue; fi
  echo "FAIL: $got lines match '$regex', expected $want: $*"; head -20 "$stdout_file"; exit 1
done
echo "ok: $(grep -c '' "$stdout_file") lines"
