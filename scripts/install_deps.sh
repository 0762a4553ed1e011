#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages concbench needs and the machine lacks, saying what it installs.
# usage: scripts/install_deps.sh bench|test
set -euo pipefail

# What ./bench needs: compilers, libraries, wrk (the fixture's own capacity, peak/wrk), and
# the Python scripts' packages (plots, comparisons, and aiohttp for ./bench --python).
bench_packages=(
  cmake g++ make pkg-config git
  libbenchmark-dev libgtest-dev libtbb-dev libcurl4-openssl-dev libevent-dev libopenmpi-dev openmpi-bin
  wrk
  python3 python3-matplotlib python3-pandas python3-numpy python3-scipy python3-aiohttp
)
# What scripts/test.sh needs on top: clang with its OpenMP runtime (the kernels must loop
# under both compilers), its libFuzzer and sanitizer runtimes (the clang-release preset builds
# the fixture's fuzzer; clang only recommends them, and recommends are not installed) and pytest.
test_packages=(clang libomp-dev libclang-rt-dev python3-pytest)

case "${1:-}" in
  bench) wanted=("${bench_packages[@]}") ;;
  test) wanted=("${bench_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: scripts/install_deps.sh bench|test" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "concbench: missing packages ${missing[*]}, and there is no apt-get to install them" >&2
  exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "concbench: missing packages ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "concbench: installing missing packages: ${missing[*]}" >&2
# Through env: sudo's env_reset would drop an exported DEBIAN_FRONTEND, and debconf could ask.
# A freshly booted machine's daily update often holds apt's locks for a minute or two:
# apt-get install waits for dpkg's (DPkg::Lock::Timeout), but update does not wait for the
# package lists' lock at all, so it is tried again while another apt holds that.
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
failed() {
  echo "concbench: apt-get could not install ${missing[*]} (its errors are above)" >&2
  exit 1
}
for attempt in $(seq 60); do
  if said=$("${apt[@]}" update -qq 2>&1); then
    break
  fi
  if [[ $said != *"Could not get lock"* || $attempt -eq 60 ]]; then
    printf '%s\n' "$said" >&2
    failed
  fi
  [[ $attempt -eq 1 ]] && echo "concbench: another apt holds the package lists; waiting for it (up to 10 min)" >&2
  sleep 10
done
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >&2 || failed
