#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Finds the first commit whose benchmarks regressed against GOOD: git bisect run over builds in throw-away worktrees.
#
# usage: scripts/bisect.sh GOOD BAD FILTER [ab.py options, e.g. --rounds 20 --min-effect 10%]
#
# Works on the git repository of the current directory. GOOD and BAD are any git revisions,
# GOOD an ancestor of BAD; FILTER is a --benchmark_filter regex. GOOD is built once, in a
# `git worktree` of its own that is kept for the whole bisection, and every commit measured is
# compared with GOOD's binary by scripts/ab.py: interleaved rounds of both binaries in fresh
# processes, on this machine, in the same minutes (never a record taken earlier). ab.py's exit
# 0 marks the commit good, 1 bad, anything else (and a commit that does not build) skips it
# (125). BAD is compared first: if it shows no regression against GOOD there is nothing to look
# for.
#
# The user's checkout is never touched: `git bisect start --no-checkout` only moves
# BISECT_HEAD, and on exit or interrupt the bisection is reset and every worktree made here is
# removed, so branch, HEAD, work tree (dirty or not) and `git worktree list` are as they were.
#
# Environment (the test drives a tiny fake project through these):
#   CONCBENCH_BISECT_BUILD   bash command run in a commit's worktree to build it (default:
#                            configure like the release preset into build/release, build the
#                            targets concbench and concbench_fixture)
#   CONCBENCH_BISECT_BINARY  the built benchmark binary, relative to the worktree (default
#                            build/release/benchmarks/concbench)
#   CONCBENCH_BISECT_KEEP    1: keep the temporary directory (rounds, logs, comparisons)
# The build command sees CONCBENCH_COMMIT and CONCBENCH_WORKTREE in its environment.
#
# Exit status: 0 the first bad commit was found (printed on stdout with its comparison),
# 1 no regression between GOOD and BAD, or skipped commits left it undecided, 2 bad input
# (one line on stderr), 3 could not finish (ab.py could not compare GOOD and BAD for want of
# room or for a bug, or git bisect run stopped), 130/143 interrupted.
set -uo pipefail

PROG="concbench bisect"
self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
scripts="$(dirname "$self")"

# Run by `bash -c` in the worktree, so the $VARIABLES expand there, not here.
# shellcheck disable=SC2016
default_build='cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCONCBENCH_BUILD_TESTS=OFF && cmake --build build/release --target concbench concbench_fixture -j"$(nproc)"'
binary_rel=${CONCBENCH_BISECT_BINARY:-build/release/benchmarks/concbench}

# Progress goes to fd 3 when the driver opened it for the steps (their own stderr goes to a
# log, with whatever the shells and tools below them print when interrupted), else to stderr.
progress_fd=2
say() { echo "$PROG: $*" >&"$progress_fd"; }
die() { say "$1"; exit "${2:-2}"; }

# Builds commit $1 in a fresh worktree, $state/wt-<sha12>, and keeps it: its binary reads the
# commit from it when it runs. Returns 0, or 3 (does not build, or builds no binary).
build() {
  local sha=$1 short=${1:0:12}
  local wt="$state/wt-$short" logs="$state/logs"
  mkdir -p "$logs"
  git worktree add --detach --quiet "$wt" "$sha" >"$logs/$short.worktree.log" 2>&1 || return 3
  (
    cd "$wt" || exit 3
    export CONCBENCH_COMMIT="$sha" CONCBENCH_WORKTREE="$wt"
    bash -c "${CONCBENCH_BISECT_BUILD:-$default_build}" </dev/null >"$logs/$short.build.log" 2>&1 || exit 3
    [[ -x $binary_rel ]] || { echo "no binary at $binary_rel" >>"$logs/$short.build.log"; exit 3; }
  )
}

# A worktree's build can be large: gone as soon as it is no longer needed.
drop() { git worktree remove --force "$state/wt-${1:0:12}" >/dev/null 2>&1 || rm -rf "$state/wt-${1:0:12}"; }

# Compares commit $1's binary with GOOD's by interleaved rounds; returns ab.py's exit status.
compare() {
  local sha=$1
  "$scripts/ab.py" "$state/wt-${good:0:12}/$binary_rel" "$state/wt-${sha:0:12}/$binary_rel" \
    "--benchmark_filter=$filter" ${ab_args[@]+"${ab_args[@]}"} --out "$state/rounds-$sha.json" \
    >"$state/compare-$sha.txt" 2>"$state/logs/${sha:0:12}.ab.log"
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
  filter=$(<"$state/filter") good=$(<"$state/good")
  mapfile -d '' ab_args <"$state/ab_args"
  sha=$(git rev-parse --verify -q BISECT_HEAD) || exit 128  # not bisecting: abort the run
  trap 'drop "$sha"; exit 130' INT TERM
  if ! build "$sha"; then
    drop "$sha"
    say "$(subject "$sha"): does not build, skipped: $(why "$state/logs/${sha:0:12}.build.log")"
    exit 125
  fi
  compare "$sha"
  status=$?
  drop "$sha"
  case $status in
    0) say "$(subject "$sha"): good"; exit 0 ;;
    1) say "$(subject "$sha"): regressed"; exit 1 ;;
    *) say "$(subject "$sha"): not comparable, skipped: $(why "$state/logs/${sha:0:12}.ab.log")"; exit 125 ;;
  esac
fi

# --- the driver ---------------------------------------------------------------------------
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '3,/^set -uo/p' "$self" | sed '$d; s/^# \{0,1\}//'
  printf '\nDefault build command: %s\n' "$default_build"
  exit 0
fi
[[ $# -ge 3 ]] || die "usage: scripts/bisect.sh GOOD BAD FILTER [ab.py options] (--help explains)"
good_arg=$1 bad_arg=$2 filter=$3
shift 3
ab_args=("$@")
[[ -n $filter ]] || die "FILTER is empty; give a --benchmark_filter regex such as 'sum/threads'"
for arg in ${ab_args[@]+"${ab_args[@]}"}; do
  case $arg in
    --out | --out=* | --analyse | --analyse=*) die "$arg: bisect.sh chooses where the rounds go" ;;
    --benchmark_filter=*) die "$arg: FILTER is the third argument" ;;
    # ab.py's help exits 0, which would read as "no regression" after two builds
    -h | --help) die "$arg: bisect.sh --help explains bisect.sh, scripts/ab.py --help the options it passes on" ;;
  esac
done
# What can be checked before two builds: ab.py's options and FILTER's syntax, as ab.py checks them.
problem=$("$scripts/ab.py" --check-args GOOD BAD "--benchmark_filter=$filter" ${ab_args[@]+"${ab_args[@]}"} 2>&1 >/dev/null) ||
  die "${problem#concbench ab: }"

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
printf '%s' "$filter" >"$state/filter"
printf '%s' "$good" >"$state/good"
# One NUL after each option; no options, an empty file (printf with no arguments would still
# write one NUL, read back as one empty option that ab.py refuses at every step).
: >"$state/ab_args"
if ((${#ab_args[@]})); then printf '%s\0' "${ab_args[@]}" >"$state/ab_args"; fi
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

say "building GOOD $(subject "$good")"
in_group build "$good" || die "GOOD $(subject "$good") does not build: $(why "$state/logs/${good:0:12}.build.log")"
# The binary's own flags, and its reading of FILTER, are known only once one is built: checked
# on GOOD's, before BAD is built.
good_binary="$state/wt-${good:0:12}/$binary_rel"
problem=$("$scripts/ab.py" --check-args "$good_binary" "$good_binary" "--benchmark_filter=$filter" \
  ${ab_args[@]+"${ab_args[@]}"} 2>&1 >/dev/null) || die "GOOD's binary: ${problem#concbench ab: }"
say "building BAD $(subject "$bad")"
in_group build "$bad" || die "BAD $(subject "$bad") does not build: $(why "$state/logs/${bad:0:12}.build.log")"
say "comparing BAD with GOOD: interleaved rounds of both binaries"
in_group compare "$bad"
status=$?
drop "$bad"
case $status in
  0) say "BAD $(subject "$bad") shows no regression against GOOD for '$filter'; nothing to bisect"
     exit 1 ;;
  1) ;;
  # ab.py's 2 is input it refused, or rounds that measured nothing on both sides (said as bad
  # input here too: GOOD's and BAD's binaries cannot be compared so); its 3, a full disk or a
  # bug: this bisection could not finish
  *) die "cannot compare GOOD and BAD: $(why "$state/logs/${bad:0:12}.ab.log")" $((status == 2 ? 2 : 3)) ;;
esac

git bisect start --no-checkout "$bad" "$good" >"$state/bisect.log" 2>&1 ||
  die "git bisect start failed: $(tail -n 1 "$state/bisect.log")"
bisecting=1
first_bad() { sed -n 's/^\([0-9a-f]\{40\}\) is the first bad commit$/\1/p' "$state/bisect.log" | head -n 1; }
# BAD the child of GOOD: start has named it already. A run would measure BISECT_HEAD, which
# --no-checkout leaves at the user's HEAD: one more build and comparison, and a widened search
# if HEAD, past BAD, read as bad.
run_status=0
first=$(first_bad)
if [[ -z $first ]]; then
  in_group git bisect run "$self" --step >>"$state/bisect.log"
  run_status=$?
  first=$(first_bad)
fi
if [[ -z $first ]]; then
  if grep -q "only 'skip'ped commits left" "$state/bisect.log"; then
    say "undecided: commits that could not be measured sit at the boundary; the first bad commit is one of:"
    sed -n "/only 'skip'ped commits left/,\$p" "$state/bisect.log" | grep -E '^[0-9a-f]{40}' >&2
  else
    die "git bisect run did not finish (exit $run_status): $(tail -n 1 "$state/stderr.log" 2>/dev/null)" 3
  fi
  exit 1
fi
echo "first bad commit: $(git log -1 --format='%H %s' "$first")"
if [[ -f $state/compare-$first.txt ]]; then cat "$state/compare-$first.txt"; fi
exit 0
