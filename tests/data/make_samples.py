# SPDX-License-Identifier: MIT
# Writes the sample Google Benchmark 1.7.1 JSON runs in tests/data/ that tests/test_plot.py reads.
#
# Run it (any python3) to regenerate the committed samples:  python3 tests/data/make_samples.py
# The layout follows Google Benchmark 1.7.1's JSONReporter: a context object,
# then per benchmark one entry per repetition (run_type "iteration") followed by
# mean/median/stddev/cv aggregates; errored repetitions carry error_occurred and
# get no aggregates. Numbers are synthetic, never measured: these files test the
# plotting, not the machine. full_run() builds a run the size of a real one for
# the speed test without committing megabytes.
import json
import math
import os
import random
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def context(custom=True, date="2026-11-20T10:00:00+00:00", commit="0123456789abcdef0123"):
    ctx = {
        "date": date,
        "host_name": "benchhost",
        "executable": "./build/benchmarks/concbench",
        "num_cpus": 2,
        "mhz_per_cpu": 2596,
        "cpu_scaling_enabled": False,
        "caches": [
            {"type": "Data", "level": 1, "size": 49152, "num_sharing": 1},
            {"type": "Instruction", "level": 1, "size": 32768, "num_sharing": 1},
            {"type": "Unified", "level": 2, "size": 1048576, "num_sharing": 1},
            {"type": "Unified", "level": 3, "size": 33554432, "num_sharing": 2},
        ],
        "load_avg": [0.21, 0.15, 0.09],
        "library_build_type": "release",
    }
    if custom:
        # Custom context keys are always strings in Google Benchmark JSON.
        ctx.update({
            "concbench_commit": commit,
            "concbench_dirty": "0",
            "compiler": "GNU 12.2.0",
            "cxx_flags": "-O3 -DNDEBUG -march=native",
            "tbb_version": "2021.8.0",
            "openmp_runtime": "libgomp",
            "hardware_threads": "2",
            "cpu_model": "Sample CPU 9000 @ 2.60GHz",
        })
    return ctx


class Writer:
    """Accumulates benchmark entries with Google Benchmark's indices and aggregates."""

    def __init__(self):
        self.entries = []
        self.families = {}

    def _indices(self, family):
        if family not in self.families:
            self.families[family] = [len(self.families), 0]
        fam = self.families[family]
        fam[1] += 1
        return fam[0], fam[1] - 1

    def add(self, name, times_s, unit="ms", counters=None, family=None, threads=1,
            iterations=10, aggregates=True, aggregates_only=False, errors=None):
        """One benchmark: times_s per repetition (seconds), counters a dict or a list of dicts per repetition.

        errors: {repetition_index: message} for repetitions that called SkipWithError.
        """
        family = family or name.split("/")[0]
        fi, pi = self._indices(family)
        reps = len(times_s)
        per_rep = counters if isinstance(counters, list) else [dict(counters or {})] * reps
        errors = errors or {}
        good = []
        for i, t in enumerate(times_s):
            e = {"name": name, "family_index": fi, "per_family_instance_index": pi,
                 "run_name": name, "run_type": "iteration", "repetitions": reps,
                 "repetition_index": i, "threads": threads}
            if i in errors:
                e.update({"error_occurred": True, "error_message": errors[i], "iterations": 1,
                          "real_time": 0.0, "cpu_time": 0.0, "time_unit": unit})
            else:
                e.update({"iterations": iterations, "real_time": t / UNIT[unit],
                          "cpu_time": t / UNIT[unit] * 0.98, "time_unit": unit})
                e.update(per_rep[i])
                good.append(e)
            if not aggregates_only or i in errors:
                self.entries.append(e)
        # Google Benchmark only aggregates when every repetition succeeded.
        if aggregates and reps > 1 and not errors:
            self._aggregates(name, fi, pi, threads, unit, good)

    def _aggregates(self, name, fi, pi, threads, unit, good):
        keys = ["real_time", "cpu_time"] + [k for k in good[0] if k not in (
            "name", "family_index", "per_family_instance_index", "run_name", "run_type",
            "repetitions", "repetition_index", "threads", "iterations", "real_time",
            "cpu_time", "time_unit")]
        stats = {
            "mean": statistics.mean,
            "median": statistics.median,
            "stddev": statistics.stdev,
            "cv": lambda v: statistics.stdev(v) / statistics.mean(v) if statistics.mean(v) else 0.0,
        }
        for agg, fn in stats.items():
            e = {"name": name + "_" + agg, "family_index": fi, "per_family_instance_index": pi,
                 "run_name": name, "run_type": "aggregate", "repetitions": len(good),
                 "threads": threads, "aggregate_name": agg,
                 "aggregate_unit": "percentage" if agg == "cv" else "time",
                 "iterations": len(good)}
            for k in keys:
                e[k] = fn([g[k] for g in good])
            e["time_unit"] = unit
            # keep the JSON key order Google Benchmark uses: times before counters
            ordered = {k: e[k] for k in ("name", "family_index", "per_family_instance_index", "run_name",
                                         "run_type", "repetitions", "threads", "aggregate_name",
                                         "aggregate_unit", "iterations", "real_time", "cpu_time",
                                         "time_unit")}
            ordered.update({k: e[k] for k in keys[2:]})
            self.entries.append(ordered)

    def doc(self, ctx):
        return {"context": ctx, "benchmarks": self.entries}


def noisy(rng, t, reps=3, spread=0.03):
    return [t * (1 + rng.uniform(-spread, spread)) for _ in range(reps)]


# --- synthetic performance models (only to make plausible-looking curves) -----

SUM_COST = {"range": 0.35e-9, "array": 0.55e-9}         # seconds per element, sequential
SUM_OVERHEAD = {"seq": 2e-8, "threads": 6e-5, "pool": 8e-6, "tbb": 1.2e-5, "openmp": 4e-6,
                "fork": 4e-4, "process_pool": 1.5e-4, "std_par": 1e-5}
SUM_SCALE = {"range": 1.0, "array": 0.7}                  # memory-bound kernels scale worse


def sum_time(model, kernel, workers, n, hw=2):
    serial = SUM_COST[kernel] * n
    if model == "seq":
        return SUM_OVERHEAD["seq"] + serial
    effective = min(workers, hw)
    speedup = 1 + (effective - 1) * SUM_SCALE[kernel]
    oversub = 1 + 0.04 * max(0, workers - hw)
    return SUM_OVERHEAD[model] * (1 + 0.1 * workers) + serial / speedup * oversub


def fetch_counters(model, conc, n, delay_ms, nbytes, t, rng, with_mem=True):
    ideal = math.ceil(n / conc) * delay_ms / 1000.0
    c = {"items_per_second": n / t, "bytes_per_second": n * nbytes / t, "ideal_s": ideal,
         "efficiency": ideal / t if t > 0 else 0.0,
         "p50_ms": delay_ms + 0.2 + 300 * FETCH_PER_REQ_OVERHEAD[model] * min(conc, 8),
         "p99_ms": delay_ms + 1.5 + 2000 * FETCH_PER_REQ_OVERHEAD[model] * min(conc, 8),
         "max_ms": delay_ms + 3.0 + 3000 * FETCH_PER_REQ_OVERHEAD[model] * min(conc, 8),
         "peak_rss_mb": 6.0 + {"fork": 1.5, "threads": 0.06, "pool": 0.05}.get(model, 0.004) * conc,
         "errors": 0.0}
    if with_mem and model != "seq":
        c["mem_per_inflight_kb"] = {"fork": 1500.0, "threads": 64.0, "pool": 48.0, "openmp": 40.0,
                                    "tbb": 40.0, "multi": 6.0, "multi_socket": 5.0, "coro": 3.0}[model]
    return c


FETCH_PER_REQ_OVERHEAD = {"seq": 2e-4, "pool": 1.5e-4, "threads": 1.8e-4, "fork": 1.5e-3,
                          "openmp": 1.6e-4, "tbb": 1.6e-4, "multi": 6e-5, "multi_socket": 5e-5,
                          "coro": 4e-5}


def fetch_time(model, conc, n, delay_ms, hw=2):
    waves = math.ceil(n / conc)
    cpu = n * FETCH_PER_REQ_OVERHEAD[model] / min(conc, hw)
    return waves * delay_ms / 1000.0 + cpu + 1e-4


def add_sum(w, rng, models, kernels, sizes, workers, n_workers, lang="cpp", unit="ms",
            aggregates_only=False):
    for kernel in kernels:
        for model in models:
            for n in sizes:
                ws = [1] if model == "seq" else ([2] + [x for x in workers if x != 2] if n == n_workers else [2])
                for wk in ws:
                    name = "sum/%s/%s/workers:%d/n:%d/real_time" % (model, kernel, wk, n)
                    t = sum_time(model, kernel, wk, n)
                    times = noisy(rng, t)
                    ctrs = [{"items_per_second": n / x, "workers": float(wk),
                             "cpu_util": min(wk, 2) * 0.97 if model != "seq" else 0.99} for x in times]
                    w.add(name, times, unit=unit, counters=ctrs, family="sum/%s/%s" % (model, kernel),
                          aggregates_only=aggregates_only)


def add_fetch(w, rng, models, concs, delays, n=40, nbytes=1024, keepalive=1, aggregates_only=False,
              errored=()):
    for model in models:
        for delay in delays:
            for conc in ([1] if model == "seq" else concs):
                name = "fetch/%s/conc:%d/n:%d/delay_ms:%d/bytes:%d/keepalive:%d/real_time" % (
                    model, conc, n, delay, nbytes, keepalive)
                if (model, conc, delay) in errored:
                    w.add(name, [0, 0, 0], errors={i: "curl: Failed to connect to 127.0.0.1: Connection refused"
                                                   for i in range(3)}, family="fetch/" + model)
                    continue
                times = noisy(rng, fetch_time(model, conc, n, delay))
                ctrs = [fetch_counters(model, conc, n, delay, nbytes, x, rng) for x in times]
                w.add(name, times, unit="ms", counters=ctrs, family="fetch/" + model,
                      aggregates_only=aggregates_only)


def add_seed_profile(w, rng, rows, nbytes=1024, prefix="", aggregates_only=False):
    """rows: [(model, conc, seconds)] for the blog's 4-site profile (n:40)."""
    for model, conc, t in rows:
        name = "%sfetch/%s/conc:%d/n:40/profile:seed/bytes:%d/keepalive:1/real_time" % (prefix, model, conc, nbytes)
        times = noisy(rng, t)
        ctrs = [{"items_per_second": 40 / x, "bytes_per_second": 40 * nbytes / x,
                 "ideal_s": t * 0.9, "efficiency": t * 0.9 / x, "p50_ms": 120.0, "p99_ms": 400.0,
                 "max_ms": 450.0, "peak_rss_mb": 7.0, "errors": 0.0} for x in times]
        w.add(name, times, unit="ms", counters=ctrs, family=prefix + "fetch/" + model,
              aggregates_only=aggregates_only)


def add_peak(w, rng, aggregates_only=False):
    times = noisy(rng, 1e-3)
    w.add("peak/vector_add/real_time", times, unit="us",
          counters=[{"adds_per_second": 1.6e10 / (x / 1e-3), "lanes": 8.0} for x in times],
          family="peak/vector_add", aggregates_only=aggregates_only)
    nbytes = 268435456
    for wk, bw in ((1, 11e9), (2, 14e9)):
        times = noisy(rng, nbytes / bw)
        w.add("peak/read_bw/workers:%d/bytes:%d/real_time" % (wk, nbytes), times, unit="ms",
              counters=[{"bytes_per_second": nbytes / x} for x in times], family="peak/read_bw",
              aggregates_only=aggregates_only)


def small_run():
    rng = random.Random(1)
    w = Writer()
    add_peak(w, rng)
    add_sum(w, rng, ["seq", "threads", "pool", "openmp", "fork"], ["range", "array"],
            [10**4, 10**6, 10**8], [1, 2, 4], 10**8)
    add_fetch(w, rng, ["seq", "pool", "multi", "coro", "fork"], [1, 4, 16, 40], [0, 100],
              errored={("fork", 40, 100)})
    add_seed_profile(w, rng, [("seq", 1, 4.3), ("pool", 4, 1.1), ("coro", 40, 0.3)])
    # The Python port's rows, named as scripts/python_reference.py names them.
    for name, t in (("python/sum/seq/workers:1/n:100000000", 7.9),
                    ("python/sum/threads/workers:2/n:100000000", 8.1),
                    ("python/sum/processes/workers:2/n:100000000", 4.2)):
        w.add(name + "/real_time", noisy(rng, t), unit="s", counters={"workers": 1.0}, family=name.rsplit("/", 2)[0])
    add_seed_profile(w, rng, [("seq", 1, 5.5), ("pool", 4, 1.5), ("asyncio", 40, 0.8)], prefix="python/")
    # A name in concbench's namespace that breaks the naming contract.
    w.add("sum/gpu/range/workers:2/n:1000000/real_time", noisy(rng, 1e-4), counters={"workers": 2.0},
          family="sum/gpu")
    # One repetition of three failed: the other two still count.
    w.add("fetch/multi/conc:16/n:40/delay_ms:0/bytes:4096/keepalive:0/real_time", noisy(rng, 0.02),
          counters=fetch_counters("multi", 16, 40, 0, 4096, 0.02, rng), family="fetch/multi",
          errors={1: "server closed the connection"})
    return w.doc(context())


def aggregates_only_run():
    rng = random.Random(2)
    w = Writer()
    add_sum(w, rng, ["seq", "threads", "tbb"], ["range"], [10**5, 10**7], [1, 2], 10**7,
            aggregates_only=True)
    add_fetch(w, rng, ["seq", "pool", "multi_socket"], [1, 8], [50], aggregates_only=True)
    return w.doc(context(date="2026-11-21T09:30:00+00:00"))


def foreign_run():
    rng = random.Random(3)
    w = Writer()
    for size in (8, 64, 512, 4096, 32768):
        name = "BM_memcpy/%d/repeats:3/real_time" % size
        w.add(name, noisy(rng, 2e-9 * size + 5e-9), unit="ns",
              counters={"bytes_per_second": size / (2e-9 * size + 5e-9)}, family="BM_memcpy")
    for threads in (1, 2, 4):
        w.add("BM_spin/threads:%d" % threads, noisy(rng, 1e-6 * threads, reps=1), unit="ns",
              threads=threads, family="BM_spin")
    for a in (8, 64, 512):
        for b in (1, 2):
            w.add("BM_pair/%d/%d" % (a, b), noisy(rng, 1e-8 * a * b, reps=1), unit="ns", family="BM_pair")
    w.add("BM_noargs", noisy(rng, 3e-8, reps=1), unit="ns", family="BM_noargs")
    w.add("BM_broken/64", [0.0], unit="ns", family="BM_broken", errors={0: "allocation failed"})
    # A complexity fit, as Complexity(benchmark::oN) writes it: not a measurement.
    w.entries.append({"name": "BM_memcpy_BigO", "family_index": 0, "per_family_instance_index": 0,
                      "run_name": "BM_memcpy", "run_type": "aggregate", "repetitions": 0, "threads": 1,
                      "aggregate_name": "BigO", "aggregate_unit": "time", "cpu_coefficient": 2.0,
                      "real_coefficient": 2.0, "big_o": "N", "time_unit": "ns"})
    return w.doc(context(custom=False))


def handcheck_run():
    """Numbers chosen so the results can be checked by hand (see tests/test_plot.py).

    Each benchmark has 3 repetitions at 0.9x, 1.0x and 1.1x its value, so its
    median is the value itself and min/max are 0.9x/1.1x.
      sum range (hardware_threads 2, sizes 1e4, 1e6, 1e8):
        seq     1e-5  1e-3  0.1         (W=1)
        threads 2e-5  5e-4  0.0625 (W=2); at 1e8 also W=1: 0.125, W=4: 0.05
        fork    1e-3  2e-3  0.05   (W=2)
        pool    2e-5  2e-3  0.2    (W=2)
        openmp  5e-6  5e-4  0.05   (W=2)
      => speedup at n=1e8: threads W1 0.8, W2 1.6, W4 2.0; fork 2.0; pool 0.5; openmp 2.0
         efficiency: threads W1 0.8, W2 0.8, W4 0.5; fork 1.0; pool 0.25; openmp 1.0
         crossover (log-log interpolation): threads 1e5 (midway 1e4..1e6, 2x slower -> 2x faster),
         fork 1e7, pool never, openmp below smallest.
         overhead (time at n=1e4): threads 20 us, fork 1 ms.
      fetch (n=40, delay 100 ms): seq conc1 5.0 s (ideal 4.0 -> 0.8), pool conc4 1.25 s (ideal 1.0 -> 0.8),
         pool conc10 0.5 s (ideal 0.4), coro conc40 0.125 s with no ideal_s/efficiency counters
         (ideal ceil(40/40)*0.1 = 0.1 -> efficiency 0.8).
      seed profile: seq conc1 4.1 s, pool conc4 1.1 s, multi conc40 0.3 s, multi_socket conc40 0.2 s.
    """
    w = Writer()

    def reps(t):
        return [t * 0.9, t, t * 1.1]

    sizes = (10**4, 10**6, 10**8)
    table = {"seq": (1e-5, 1e-3, 0.1), "threads": (2e-5, 5e-4, 0.0625), "fork": (1e-3, 2e-3, 0.05),
             "pool": (2e-5, 2e-3, 0.2), "openmp": (5e-6, 5e-4, 0.05)}
    for model, times in table.items():
        wk = 1 if model == "seq" else 2
        for n, t in zip(sizes, times):
            # Mixed units on purpose: the loader must convert.
            unit = "ns" if n == 10**4 else ("us" if n == 10**6 else "s")
            w.add("sum/%s/range/workers:%d/n:%d/real_time" % (model, wk, n), reps(t), unit=unit,
                  counters={"items_per_second": n / t, "workers": float(wk), "cpu_util": float(wk)},
                  family="sum/" + model)
    for wk, t in ((1, 0.125), (4, 0.05)):
        w.add("sum/threads/range/workers:%d/n:%d/real_time" % (wk, 10**8), reps(t), unit="ms",
              counters={"items_per_second": 1e8 / t, "workers": float(wk), "cpu_util": 2.0},
              family="sum/threads")
    for model, conc, t, ideal in (("seq", 1, 5.0, 4.0), ("pool", 4, 1.25, 1.0), ("pool", 10, 0.5, 0.4),
                                  ("coro", 40, 0.125, None)):
        c = {"items_per_second": 40 / t, "bytes_per_second": 40 * 1024 / t, "p50_ms": 100.5,
             "p99_ms": 104.0, "max_ms": 110.0, "peak_rss_mb": 5.0, "errors": 0.0}
        if ideal is not None:
            c.update({"ideal_s": ideal, "efficiency": ideal / t})
        w.add("fetch/%s/conc:%d/n:40/delay_ms:100/bytes:1024/keepalive:1/real_time" % (model, conc),
              reps(t), unit="ms", counters=c, family="fetch/" + model)
    for model, conc, t in (("seq", 1, 4.1), ("pool", 4, 1.1), ("multi", 40, 0.3), ("multi_socket", 40, 0.2)):
        w.add("fetch/%s/conc:%d/n:40/profile:seed/bytes:1024/keepalive:1/real_time" % (model, conc),
              reps(t), unit="ms", counters={"items_per_second": 40 / t, "errors": 0.0}, family="fetch/" + model)
    return w.doc(context(date="2026-11-22T12:00:00+00:00", commit="feedface00"))


def full_run(seed=4):
    """A run the size of a real one: every model, kernel, size and concurrency, 3 repetitions."""
    rng = random.Random(seed)
    w = Writer()
    add_peak(w, rng)
    add_sum(w, rng, ["seq", "threads", "pool", "tbb", "openmp", "fork", "process_pool", "std_par"],
            ["range", "array"], [10**k for k in range(2, 9)], [1, 2, 3, 4, 8], 10**8)
    fetch_models = ["seq", "pool", "threads", "fork", "openmp", "tbb", "multi", "multi_socket", "coro"]
    add_fetch(w, rng, fetch_models, [1, 2, 4, 8, 16, 40], [0, 10, 100])
    add_fetch(w, rng, fetch_models, [1, 2, 4, 8, 16, 40], [10], keepalive=0)
    add_seed_profile(w, rng, [("seq", 1, 4.3), ("pool", 4, 1.1), ("coro", 40, 0.3)])
    return w.doc(context())


def open_run():
    """An open-loop sweep with numbers chosen for checking by hand (tests/test_plot.py and
    tests/test_targets.py). L = 10 ms, so "within capacity" is p99 <= 20 ms:
      multi_socket  rate 1000: p99 12, 5000: p99 14, 20000: behind, achieved 15000, p99 600
                    -> capacity 5000; half of the highest achieved (7500) -> rate 5000, p99 14 <= 15: met
      coro          1000: p99 13, 5000: p99 25, 20000: behind, achieved 9000
                    -> capacity 1000; half of 9000 -> rate 1000, p99 13: met
      pool          1000: p99 40 -> capacity below the lowest rate
      peak/wrk at C = 100: 95,000 requests/s. The processes took 30 + 25 + 20 + 4 = 79 s.
    """
    w = Writer()
    table = {"multi_socket": [(1000, 1000, 10.5, 12, 1), (5000, 5000, 11, 14, 1), (20000, 15000, 300, 600, 0)],
             "coro": [(1000, 1000, 11, 13, 1), (5000, 5000, 12, 25, 1), (20000, 9000, 500, 900, 0)],
             "pool": [(1000, 1000, 12, 40, 1)]}
    for model, points in table.items():
        for rate, achieved, p50, p99, keeping_up in points:
            n = rate // 2
            name = ("fetch/open/%s/rate:%d/conc:1000/n:%d/delay_ms:10/bytes:1024/keepalive:1/arrivals:uniform"
                    "/process_time/real_time" % (model, rate, n))
            t = n / achieved + 0.01
            w.add(name, [t, t, t], counters={
                "offered_rate": float(rate), "achieved_rate": float(achieved), "keeping_up": float(keeping_up),
                "p50_ms": p50, "p90_ms": p50 * 1.1, "p99_ms": float(p99), "p999_ms": p99 * 1.2,
                "p9999_ms": p99 * 1.3, "max_ms": p99 * 1.5, "peak_in_flight": 100.0, "errors": 0.0,
                "items_per_second": n / t}, family="fetch/open/" + model, iterations=1)
    w.add("peak/wrk/conc:100/delay_ms:0/bytes:1024/process_time/real_time", [1.01, 1.01, 1.01],
          counters={"requests_per_second": 95000.0}, family="peak/wrk", iterations=1)
    ctx = context(date="2026-11-23T08:00:00+00:00")
    ctx["concbench_process_seconds"] = {"fetch/open/pool": 30.0, "fetch/open/multi_socket": 25.0,
                                        "fetch/open/coro": 20.0, "peak/wrk": 4.0, "sum/seq": 100.0}
    return w.doc(ctx)


def c10k_run():
    """A C10k sweep with numbers chosen for checking by hand (tests/test_plot.py and
    tests/test_targets.py): 10,000 requests at L = 100 ms, C = 1000 .. 10,000.
      multi_socket  1.05 s, 0.70 s, 1.00 s, 1.70 s      (the collapse)
      multi_threads 1.05 s, 0.60 s, 0.45 s, 0.36 s      (best at C = 10,000: 360 ms > 300 ms: missed)
      pool          1.10 s, 0.70 s, 0.55 s, left out at C = 10,000 for its descriptors
      seq, fork ... left out with their reasons; wrk at C = 1000: 70,000 requests/s.
    Also N = 1000 at C = 10 and 100 for the throughput curve below C = 1000."""
    w = Writer()
    table = {"multi_socket": {1000: 1.05, 2000: 0.70, 5000: 1.00, 10000: 1.70},
             "multi_threads": {1000: 1.05, 2000: 0.60, 5000: 0.45, 10000: 0.36},
             "pool": {1000: 1.10, 2000: 0.70, 5000: 0.55}}
    for model, points in table.items():
        for conc, t in points.items():
            ideal = math.ceil(10000 / conc) * 0.1
            w.add("fetch/%s/conc:%d/n:10000/delay_ms:100/bytes:1024/keepalive:1/process_time/real_time" % (model, conc),
                  [t, t, t], counters={"ideal_s": ideal, "efficiency": ideal / t, "items_per_second": 10000 / t,
                                       "errors": 0.0, "peak_in_flight": float(conc)},
                  family="fetch/" + model, iterations=1)
        for conc in (10, 100):
            t = 1000 / conc * 0.1 * 1.02
            w.add("fetch/%s/conc:%d/n:1000/delay_ms:100/bytes:1024/keepalive:1/process_time/real_time" % (model, conc),
                  [t, t, t], counters={"ideal_s": t / 1.02, "efficiency": 1 / 1.02, "items_per_second": 1000 / t,
                                       "errors": 0.0}, family="fetch/" + model, iterations=1)
    w.add("peak/wrk/conc:1000/delay_ms:0/bytes:1024/process_time/real_time", [1.01, 1.01, 1.01],
          counters={"requests_per_second": 70000.0}, family="peak/wrk", iterations=1)
    ctx = context(date="2026-11-24T08:00:00+00:00")
    ctx["fetch_c10k_not_run:seq"] = "one request at a time: 10,000 at 100 ms take 1,000 s"
    ctx["fetch_c10k_not_run:pool"] = "C = 10,000 and above: 3 descriptors a slot need 30,000"
    ctx["fd_limit"] = "20000 (hard 20000)"
    return w.doc(ctx)


def write_all(directory=HERE):
    samples = {
        "c10k_run.json": c10k_run(),
        "open_run.json": open_run(),
        "small_run.json": small_run(),
        "aggregates_only.json": aggregates_only_run(),
        "foreign.json": foreign_run(),
        "handcheck.json": handcheck_run(),
    }
    for fname, doc in samples.items():
        with open(os.path.join(directory, fname), "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    # Bad inputs, one failure mode each.
    with open(os.path.join(directory, "small_run.json")) as f:
        text = f.read()
    bad = {
        "bad_not_json.json": "Running ./concbench\nRun on (2 X 2596 MHz CPU s)\n",
        "bad_empty.json": "",
        "bad_truncated.json": text[:4000],  # what a crashed writer leaves
        "bad_top_level_list.json": "[1, 2, 3]\n",
        "bad_no_benchmarks_key.json": json.dumps({"context": context()}, indent=2) + "\n",
        "bad_no_benchmarks.json": json.dumps({"context": context(), "benchmarks": []}, indent=2) + "\n",
    }
    w = Writer()
    for model in ("seq", "threads"):
        w.add("sum/%s/range/workers:%d/n:1000/real_time" % (model, 1 if model == "seq" else 2),
              [0, 0], errors={0: "fork failed: Resource temporarily unavailable",
                              1: "fork failed: Resource temporarily unavailable"})
    bad["bad_all_errored.json"] = json.dumps(w.doc(context()), indent=2) + "\n"
    for fname, text in bad.items():
        with open(os.path.join(directory, fname), "w") as f:
            f.write(text)
    return sorted(list(samples) + list(bad))


if __name__ == "__main__":
    for name in write_all(sys.argv[1] if len(sys.argv) > 1 else HERE):
        print(name)
