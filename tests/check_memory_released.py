#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Proves a workload's kept memory is freed before the next workload runs: a fetch benchmark
# after a 400 MB sum array must not carry those 400 MB (fork's cost and peak RSS grow with it).
# usage: check_memory_released.py CONCBENCH_BINARY
import json
import subprocess
import sys

ARRAY_N = 50_000_000  # 400 MB of int64


def main():
    binary = sys.argv[1]
    out = subprocess.run(
        [binary, "--benchmark_format=json", "--benchmark_repetitions=1", "--benchmark_min_time=0.001",
         "--array_sizes=%d" % ARRAY_N, "--scaling_n=%d" % ARRAY_N,
         "--benchmark_filter=^sum/seq/array/workers:1/n:%d/|^fetch/seq/conc:1/n:40/delay_ms:0/bytes:1024/keepalive:1/" % ARRAY_N],
        check=True, capture_output=True, text=True, timeout=300).stdout
    order = [b["name"] for b in json.loads(out)["benchmarks"]]
    runs = {b["name"]: b for b in json.loads(out)["benchmarks"]}
    assert len(runs) == 2, "expected one sum and one fetch benchmark, got %s" % order
    # The sum must run first, or its array is not there to be freed and this proves nothing.
    assert [n.split("/")[0] for n in order] == ["sum", "fetch"], "the sum ran after the fetch: %s" % order
    for b in runs.values():
        assert not b.get("error_occurred"), b.get("error_message")
    fetch = next(b for n, b in runs.items() if n.startswith("fetch/"))
    array_mib = ARRAY_N * 8 / 2**20
    if "peak_rss_mb" not in fetch:
        print("FAIL: no peak_rss_mb: the kernel could not reset the peak resident set, so nothing shows "
              "what fetch itself held")
        return 1
    rss = fetch["peak_rss_mb"]
    if rss >= array_mib / 2:
        print("FAIL: fetch ran with %.0f MiB resident; the sum array (%.0f MiB) was not freed" % (rss, array_mib))
        return 1
    print("ok: fetch ran with %.0f MiB resident after a %.0f MiB sum array" % (rss, array_mib))
    return 0


if __name__ == "__main__":
    sys.exit(main())
