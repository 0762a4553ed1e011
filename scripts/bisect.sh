#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Finds the first commit whose benchmarks regressed against GOOD: git bisect run over builds in throw-away worktrees.
#
# usage: scripts/bisect.sh GOOD BAD FILTER [compare.py options, e.g. --min-effect 10%]
#
# Works on the git repository of the current directory. GOOD and BAD are any git revisions,
# GOOD an ancestor of BAD; FILTER is a --benchmark_filter regex. Each commit measured is
# checked out in its own `git worktree` under a temporary directory, built, and its matching
# benchmarks run with repetitions; GOOD is measured the same way first (so both sides are built
# and run alike, on this machine, in this session) and every candidate is compared with it by
# scripts/compare.py: exit 0 there marks the commit good, 1 bad, anything else (and a commit
# that does not build or run) skips it (125). BAD is measured first too: if it shows no
# regression against GOOD there is nothing to look for.
#
# The user's checkout is never touched: `git bisect start --no-checkout` only moves
# BISECT_HEAD, and on exit or interrupt the bisection is reset and every worktree made here is
# removed, so branch, HEAD, work tree (dirty or not) and `git worktree list` are as they were.
#
# Environment (the test drives a tiny fake project through these):
#   CONCBENCH_BISECT_BUILD  bash command run in the worktree to build it (default: configure
#                           like the release preset into build/release, build target concbench)
#   CONCBENCH_BISECT_RUN    bash command run in the worktree that must write Google Benchmark
#                           JSON to "$CONCBENCH_OUT" (default: build/release/benchmarks/concbench
#                           with the filter, the repetitions and JSON output)
#   CONCBENCH_BISECT_REPS   repetitions per run (default 9; compare.py needs several)
#   CONCBENCH_BISECT_KEEP   1: keep the temporary directory (records, logs, comparisons)
# Both commands see CONCBENCH_FILTER, CONCBENCH_REPS, CONCBENCH_OUT, CONCBENCH_COMMIT and
# CONCBENCH_WORKTREE in their environment.
#
# Exit status: 0 the first bad commit was found (printed on stdout with its comparison),
# 1 no regression between GOOD and BAD, or skipped commits left it undecided, 2 bad input
# (one line on stderr), 130/143 interrupted.
set -uo pipefail

PROG="concbench bisect"
self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
scripts="$(dirname "$self")"

# Run by `bash -c` in the worktree, so the $VARIABLES expand there, not here.
# shellcheck disable=SC2016
default_build='cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release && cmake --build build/release --target concbench -j"$(nproc)"'
# shellcheck disable=SC2016
default_run='build/release/benchmarks/concbench --benchmark_filter="$CONCBENCH_FILTER" --benchmark_repetitions="$CONCBENCH_REPS" --benchmark_out="$CONCBENCH_OUT" --benchmark_out_format=json'

# Progress goes to fd 3 when the driver opened it for the steps (their own stderr goes to a
# log, with whatever the shells and tools below them print when interrupted), else to stderr.
progress_fd=2
say() { echo "$PROG: $*" >&"$progress_fd"; }
die() { say "$1"; exit "${2:-2}"; }

# Builds and runs commit $1 in a fresh worktree; the record goes to $2. Returns 0, or
# 3 (does not build) / 4 (does not run or writes no record). Logs stay in the state dir.
measure() {
  local sha=$1 out=$2 short=${1:0:12}
  local wt="$state/wt-$short" logs="$state/logs"
  mkdir -p "$logs"
  if ! git worktree add --detach --quiet "$wt" "$sha" >"$logs/$short.worktree.log" 2>&1; then
    return 3
  fi
  local status=0
  (
    cd "$wt" || exit 3
    export CONCBENCH_FILTER="$filter" CONCBENCH_REPS="$reps" CONCBENCH_OUT="$out" \
      CONCBENCH_COMMIT="$sha" CONCBENCH_WORKTREE="$wt"
    bash -c "${CONCBENCH_BISECT_BUILD:-$default_build}" </dev/null >"$logs/$short.build.log" 2>&1 || exit 3
    rm -f "$out"
    bash -c "${CONCBENCH_BISECT_RUN:-$default_run}" </dev/null >"$logs/$short.run.log" 2>&1 || exit 4
    [[ -s $out ]] || exit 4
  ) || status=$?
  # A worktree's build can be large: gone as soon as its record is taken.
  git worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"
  return "$status"
}

subject() { git log -1 --format='%h %s' "$1" 2>/dev/null || echo "${1:0:12}"; }

# Why a build or run failed, for a one-line message: the log's last line, and where the log
# is when it is kept (the temporary directory goes at exit otherwise).
why() {
  local log=$1 last
  last=$(grep -v '^[[:space:]]*$' "$log" 2>/dev/null | tail -n 1)
  if [[ ${CONCBENCH_BISECT_KEEP:-0} == 1 ]]; then
    echo "${last:+$last }(log: $log)"
  else
    echo "${last:-no output} (CONCBENCH_BISECT_KEEP=1 keeps the logs)"
  fi
}

# --- one bisection step, run by `git bisect run` ------------------------------------------
if [[ ${1:-} == --step ]]; then
  if { : >&3; } 2>/dev/null; then progress_fd=3; fi
  state=${CONCBENCH_BISECT_STATE:?}
  filter=$(<"$state/filter") reps=$(<"$state/reps")
  mapfile -d '' compare_args <"$state/compare_args"
  sha=$(git rev-parse --verify -q BISECT_HEAD) || exit 128  # not bisecting: abort the run
  trap 'git worktree remove --force "$state/wt-${sha:0:12}" >/dev/null 2>&1; exit 130' INT TERM
  out="$state/records/$sha.json"
  measure "$sha" "$out"
  case $? in
    0) ;;
    3) say "$(subject "$sha"): does not build, skipped: $(why "$state/logs/${sha:0:12}.build.log")"; exit 125 ;;
    *) say "$(subject "$sha"): the run failed, skipped: $(why "$state/logs/${sha:0:12}.run.log")"; exit 125 ;;
  esac
  "$scripts/compare.py" "$state/records/good.json" "$out" "${compare_args[@]}" \
    >"$state/compare-$sha.txt" 2>&1
  case $? in
    0) say "$(subject "$sha"): good"; exit 0 ;;
    1) say "$(subject "$sha"): regressed"; exit 1 ;;
    *) say "$(subject "$sha"): not comparable, skipped: $(tail -n 1 "$state/compare-$sha.txt")"; exit 125 ;;
  esac
fi

# --- the driver ---------------------------------------------------------------------------
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '3,/^set -uo/p' "$self" | sed '$d; s/^# \{0,1\}//'
  printf '\nDefault build command: %s\nDefault run command:   %s\n' "$default_build" "$default_run"
  exit 0
fi
[[ $# -ge 3 ]] || die "usage: scripts/bisect.sh GOOD BAD FILTER [compare.py options] (--help explains)"
good_arg=$1 bad_arg=$2 filter=$3
shift 3
compare_extra=("$@")
reps=${CONCBENCH_BISECT_REPS:-9}
[[ $reps =~ ^[0-9]+$ && $reps -ge 2 ]] || die "CONCBENCH_BISECT_REPS must be a number of repetitions >= 2, not '$reps'"
[[ -n $filter ]] || die "FILTER is empty; give a --benchmark_filter regex such as 'sum/threads'"

git rev-parse --show-toplevel >/dev/null 2>&1 || die "not inside a git repository"
start_file=$(git rev-parse --git-path BISECT_START)
if [[ -e $start_file ]] || git rev-parse -q --verify BISECT_HEAD >/dev/null; then
  die "a git bisect is already in progress here; end it with: git bisect reset"
fi
good=$(git rev-parse --verify -q "$good_arg^{commit}") || die "GOOD '$good_arg' is not a commit"
bad=$(git rev-parse --verify -q "$bad_arg^{commit}") || die "BAD '$bad_arg' is not a commit"
[[ $good != "$bad" ]] || die "GOOD and BAD are the same commit ${good:0:12}"
git merge-base --is-ancestor "$good" "$bad" ||
  die "GOOD ${good:0:12} is not an ancestor of BAD ${bad:0:12}"

state=$(mktemp -d "${TMPDIR:-/tmp}/concbench-bisect.XXXXXX") || die "cannot make a temporary directory"
mkdir -p "$state/records"
printf '%s' "$filter" >"$state/filter"
printf '%s' "$reps" >"$state/reps"
printf '%s\0' "${compare_extra[@]}" >"$state/compare_args"
[[ ${#compare_extra[@]} -gt 0 ]] || : >"$state/compare_args"
export CONCBENCH_BISECT_STATE="$state"

bisecting=0
child=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # Whatever runs in the background group (bisect run, its step, a build) goes first, so
  # nothing re-creates a worktree while they are removed.
  if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then
    # (bash reports the killed job on stderr: not news to whoever interrupted us)
    { kill -TERM -- "-$child"; wait "$child"; } 2>/dev/null
  fi
  if [[ $bisecting == 1 ]]; then git bisect reset >/dev/null 2>&1 || say "git bisect reset failed"; fi
  local wt
  while read -r wt; do
    [[ $wt == "$state"/* ]] && git worktree remove --force "$wt" >/dev/null 2>&1
  done < <(git worktree list --porcelain | sed -n 's/^worktree //p')
  rm -rf "$state"/wt-* 2>/dev/null
  git worktree prune 2>/dev/null
  if [[ ${CONCBENCH_BISECT_KEEP:-0} == 1 ]]; then say "kept $state"; else rm -rf "$state"; fi
  if [[ $status -ge 128 ]]; then say "interrupted; the bisection is reset and its worktrees removed"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs "$@" in its own process group and waits: a signal to this script then interrupts the
# wait at once, and cleanup can stop the whole group (build tools included) by its id.
exec 3>&2
in_group() {
  set -m
  "$@" </dev/null 2>>"$state/stderr.log" &
  child=$!
  set +m
  wait "$child"
  local status=$?
  child=""
  return "$status"
}

say "measuring GOOD $(subject "$good")"
in_group measure "$good" "$state/records/good.json"
case $? in
  0) ;;
  3) die "GOOD $(subject "$good") does not build: $(why "$state/logs/${good:0:12}.build.log")" ;;
  *) die "GOOD $(subject "$good") does not run: $(why "$state/logs/${good:0:12}.run.log")" ;;
esac
say "measuring BAD $(subject "$bad")"
in_group measure "$bad" "$state/records/$bad.json"
case $? in
  0) ;;
  3) die "BAD $(subject "$bad") does not build: $(why "$state/logs/${bad:0:12}.build.log")" ;;
  *) die "BAD $(subject "$bad") does not run: $(why "$state/logs/${bad:0:12}.run.log")" ;;
esac
"$scripts/compare.py" "$state/records/good.json" "$state/records/$bad.json" "${compare_extra[@]}" \
  >"$state/compare-$bad.txt" 2>&1
case $? in
  0) say "BAD $(subject "$bad") shows no regression against GOOD for '$filter'; nothing to bisect"
     exit 1 ;;
  1) ;;
  *) die "cannot compare GOOD and BAD: $(tail -n 1 "$state/compare-$bad.txt")" ;;
esac

git bisect start --no-checkout "$bad" "$good" >"$state/bisect.log" 2>&1 ||
  die "git bisect start failed: $(tail -n 1 "$state/bisect.log")"
bisecting=1
in_group git bisect run "$self" --step >>"$state/bisect.log"
run_status=$?
first=$(sed -n 's/^\([0-9a-f]\{40\}\) is the first bad commit$/\1/p' "$state/bisect.log" | head -n 1)
if [[ -z $first ]]; then
  if grep -q "only 'skip'ped commits left" "$state/bisect.log"; then
    say "undecided: commits that could not be measured sit at the boundary; the first bad commit is one of:"
    sed -n "/only 'skip'ped commits left/,\$p" "$state/bisect.log" | grep -E '^[0-9a-f]{40}' >&2
  else
    say "git bisect run did not finish (exit $run_status): $(tail -n 1 "$state/stderr.log" 2>/dev/null)"
  fi
  exit 1
fi
echo "first bad commit: $(git log -1 --format='%H %s' "$first")"
if [[ -f $state/compare-$first.txt ]]; then cat "$state/compare-$first.txt"; fi
exit 0
