#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds what the tests need and runs every test through ctest: the release build (all tests),
# a clang release build (the kernels must loop under both compilers) and a debug build with
# AddressSanitizer and UndefinedBehaviorSanitizer (correctness and smoke tests, never timings).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/install_deps.sh test

jobs=$(nproc)
for preset in release clang-release sanitize; do
  echo "== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j"$jobs"
  echo "== $preset: test"
  # A test that times out runs once more: Open MPI's MPI_Comm_spawn has hung for good now and
  # then on these VMs (README, "mpi": a known defect, the spawn has no deadline yet), and a
  # second hang still fails. ctest's output names every test that needed the second run.
  ctest --preset "$preset" -j"$jobs" --repeat after-timeout:2
done
