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
  ctest --preset "$preset" -j"$jobs"
done
