# SPDX-License-Identifier: MIT
# The metrics layer: a run becomes the numbers everything else reads (times, speedup, efficiency,
# crossover, fetch ideals); the page, figures, targets, compare, ab and history read them from here.
"""summarize() gives each benchmark its median over the run's repetitions, with min and max, and the
derived numbers come from those medians (but for a sum's time over its bare sum, a ratio within
each process, whose median is taken): repetitions inside one process are not independent
samples of what changes between runs, so the statistics in regress.py take runs as their unit.

Metrics for the verdicts, by kind:
  TIME        a benchmark's real time per iteration, seconds; lower is better.
  MACHINE     the same for peak/* benchmarks: bounds that measure the machine (and the fixture
              on it: wrk, raw_http), not the models, so a change in them is machine drift and
              never decides a verdict. peak/wrk runs wrk for fixed seconds, so its time says
              nothing of the fixture: its metric is the seconds per request of its rate.
  EFFICIENCY  T_seq / (W * T_model) for a parallel sum model (seq at the same kernel and n from
              the same run); a fetch model's `efficiency` counter. Higher is better. They follow
              from the times, so they are shown beside them and never decide a verdict of their
              own: a faster seq would otherwise read as a regression of every parallel model.
"""
import collections
import math
import statistics
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench_names import (BASE_COLUMNS, FETCH_MODELS, SUM_KERNELS, SUM_MODELS, AllErrored, RunFileError, Skipped,
                         concbench_problem, is_concbench, load_run, parse_name)
from fmt import finite, plural

MAX_FOREIGN_FAMILIES = 24
SEED_N = 10**8
# The seed blog post's Python figures (its experiments, not this suite's results), and the models
# measuring each experiment in this run, in order of preference, in C++ and in the Python port
# (scripts/python_reference.py: the seed's own structure, so "2 processes" is two
# multiprocessing.Process, not a pool), at W workers (sum) or C connections (fetch).
SEED = [  # (id, experiment, seconds, C++ models, Python models, W or C)
    ("sum_seq", "sum 0..1e8, sequential", 8.7, ["seq"], ["seq"], 1),
    ("sum_threads", "sum 0..1e8, 2 threads", 8.9, ["threads"], ["threads"], 2),
    ("sum_procs", "sum 0..1e8, 2 processes", 3.95, ["fork"], ["processes"], 2),
    ("fetch_seq", "40 fetches, sequential", 6.06, ["seq"], ["seq"], 1),
    ("fetch_pool", "40 fetches, 4-thread pool", 1.67, ["pool"], ["pool"], 4),
    ("fetch_async", "40 fetches, asyncio / event loop", 0.86,
     ["coro", "multi_socket", "multi"], ["asyncio"], 40),
]

ALL_MODELS = list(dict.fromkeys(list(SUM_MODELS) + list(FETCH_MODELS)))


# --- tidy summaries -----------------------------------------------------------

# A bare sum counts when its CPU time over wall time reached this share of its threads: its
# threads ran at once. One that read one thread's time on two pinned CPUs, another process on
# the other, read 0.99 of 2; unhindered on a quiet machine (7 models, W = 2..4), range read
# 1.92-2.00 and array 1.81-1.99 (a slice that ends first leaves its CPU idle for the rest).
BARE_UTIL_SHARE = 0.75

def summarize(df):
    """One row per benchmark (key): median/min/max of time_s and of every user counter, the
    repetition count, the median stddev aggregate (t_sd) and the name fields."""
    if "bare_s" in df.columns:  # a sum's time over its bare sum in the same process (benchmarks/sum)
        ratio = df["time_s"] / df["bare_s"]
        if "bare_cpu_util" in df.columns:  # a bare sum whose threads did not run at once is no bound
            ratio = ratio.mask(df["bare_cpu_util"] < BARE_UTIL_SHARE * df["bare_cpus"])
        df = df.assign(vs_bare=ratio)
    if {"cpu_util", "items_per_second"} <= set(df.columns):  # a fetch client's CPU time per request
        # run by run: a record of aggregates only has no runs to pair, only medians
        per_request = df["cpu_util"] / df["items_per_second"] * 1e6
        df = df.assign(cpu_us_per_request=per_request.where((df["workload"] == "fetch")
                                                            & (df["row_kind"] == "iteration")))
    spec = {"t_med": ("time_s", "median"), "t_min": ("time_s", "min"), "t_max": ("time_s", "max"),
            "reps": ("time_s", "count"), "t_sd": ("time_stddev_s", "median")}
    if "vs_bare" in df.columns:  # how many rounds' ratios the median is of, once some are left out
        spec["vs_bare_rounds"] = ("vs_bare", "count")
    for c in ["name", "family", "lang", "workload", "model", "kernel", "row_kind", "threads", "repetitions"] + [
            c for c in df.columns if c.startswith("arg_")]:
        spec[c] = (c, "first")
    for c in df.columns:
        if not c.startswith("arg_") and c not in BASE_COLUMNS and pd.api.types.is_numeric_dtype(df[c]):
            spec.update({c: (c, "median"), c + "_min": (c, "min"), c + "_max": (c, "max")})  # a counter
    out = df.groupby("key", sort=False).agg(**spec).reset_index()
    if "vs_bare_rounds" in out:  # a benchmark with no bare sum at all left out no rounds
        out["vs_bare_rounds"] = out["vs_bare_rounds"].where(out["bare_s"].notna())
    return out


def bare_left_out(r):
    """(rounds counted, rounds) of a summary row's × bare median where some of its rounds were left
    out (their bare sum's threads did not run at once), else None."""
    counted, rounds = r.get("vs_bare_rounds"), r.get("reps")
    if r.get("row_kind") == "iteration" and finite(counted) and finite(rounds) and counted < rounds:
        return int(counted), int(rounds)
    return None


def repetitions(summ):
    """(kind, counts) of how a summary's points were measured, the sorted repetition counts with
    "repeated" (medians with a min - max spread), "single" (each benchmark ran once: a --quick run)
    or "aggregates" (the file holds only aggregates for some benchmarks: no spread either)."""
    counts = sorted(int(x) for x in summ["reps"].unique())
    if set(summ["row_kind"]) != {"iteration"}:
        return "aggregates", counts
    return ("repeated" if counts[-1] > 1 else "single"), counts


def categorize(summ):
    """Add a `category` column: sum, fetch, open (fetch/open/...), peak, python, foreign or
    unknown; return Skipped for unknown names."""
    cats, skipped = [], []
    for key, reps in zip(summ["key"], summ["reps"]):
        bn = parse_name(key)
        problem = concbench_problem(bn)
        if not is_concbench(bn):
            cats.append("foreign")
        elif problem:
            cats.append("unknown")
            skipped.append(Skipped(key, "unknown name: " + problem, int(reps)))
        elif bn.lang != "cpp":
            cats.append("python")
        else:
            cats.append("open" if bn.workload == "fetch" and bn.labels[0] == "open" else bn.workload)
    return summ.assign(category=cats), skipped


def _int_col(frame, col):
    return frame[col].astype(float).round().astype("int64")


def _col(frame, name):
    """A column, or all-NaN when no benchmark in the run had that argument or counter."""
    return frame[name] if name in frame else pd.Series(np.nan, index=frame.index)


def sum_frame(summ):
    s = summ[summ["category"] == "sum"]
    if s.empty:
        return s.copy()
    return with_seq(s.assign(workers=_int_col(s, "arg_workers"), n=_int_col(s, "arg_n")))


def with_seq(frame):
    """frame with t_seq and t_seq_min: seq's median and fastest time at each sum benchmark's
    language, kernel and n in the same run (NaN where seq did not run there, and for other
    workloads). Speedup, efficiency and crossover all pair a model with seq through these."""
    keys, is_sum = ["lang", "kernel", "n"], (frame["workload"] == "sum").to_numpy()
    seq = frame[is_sum & (frame["model"] == "seq").to_numpy()].drop_duplicates(keys)
    found = frame[keys].merge(seq[keys + ["t_med", "t_min"]], on=keys, how="left")  # keeps frame's rows
    return frame.assign(t_seq=np.where(is_sum, found["t_med"], np.nan),
                        t_seq_min=np.where(is_sum, found["t_min"], np.nan))


def model_order(model):
    return ALL_MODELS.index(model) if model in ALL_MODELS else len(ALL_MODELS)


def pick_worker_n(sum_k):
    """n for the worker plots: the largest n parallel models measured at several W, else at any W."""
    par = sum_k[sum_k["model"] != "seq"]
    if par.empty:
        return None
    counts = par.groupby("n")["workers"].nunique()
    multi = counts[counts > 1]
    return int(multi.index.max()) if not multi.empty else int(counts.index.max())


def pick_size_workers(sum_k, hw):
    """W for the size plots: the hardware-thread count if measured, else the commonest (larger on a tie)."""
    ws = sum_k[sum_k["model"] != "seq"]["workers"]
    if ws.empty:
        return None
    if hw is not None and (ws == hw).any():
        return int(hw)
    counts = ws.value_counts()
    return int(max(counts[counts == counts.max()].index))


def speedup_table(sum_k, n):
    """Speedup (T_seq / T_model) and efficiency at size n, one row per (model, workers); _lo/_hi
    use the model's max/min time. None when seq was not measured at n."""
    at = sum_k[sum_k["n"] == n]
    if not (at["model"] == "seq").any():
        return None
    rows = at.assign(order=at["model"].map(model_order)).sort_values(["order", "workers"])
    out = rows[["model", "workers", "n", "t_med", "t_min", "t_max", "reps", "row_kind", "t_sd",
                "repetitions", "t_seq", "t_seq_min"]]
    out = out.assign(cpu_util=_col(rows, "cpu_util"), vs_bare=_col(rows, "vs_bare"),
                     vs_bare_rounds=_col(rows, "vs_bare_rounds")).reset_index(drop=True)
    for suffix, t in (("", "t_med"), ("_lo", "t_max"), ("_hi", "t_min")):
        out["speedup" + suffix] = out["t_seq"] / out[t]
        out["efficiency" + suffix] = efficiency(out["t_seq"], out[t], out["workers"])
    # Above 1 beyond both sides' spread: the model's slowest run against seq's fastest.
    out["efficiency_sure"] = efficiency(out["t_seq_min"], out["t_max"], out["workers"])
    return out


def crossover_n(sizes, model_times, seq_times):
    """The n from which a model stays faster than seq, interpolated linearly in (log n, log time
    ratio) between the two measured sizes around the switch; "below smallest" (faster already at
    the smallest size), "never" (not faster at the largest size), or None without common sizes."""
    pts = sorted((float(n), float(m), float(s)) for n, m, s in zip(sizes, model_times, seq_times)
                 if finite(n) and finite(m) and finite(s) and n > 0 and m > 0 and s > 0)
    if not pts:
        return None
    d = [math.log(m / s) for _, m, s in pts]  # < 0: model faster
    if d[-1] >= 0:
        return "never"
    losing = [i for i, x in enumerate(d) if x >= 0]
    if not losing:
        return "below smallest"
    i = losing[-1]
    (n0, _, _), (n1, _, _) = pts[i], pts[i + 1]
    f = d[i] / (d[i] - d[i + 1])
    return math.exp(math.log(n0) + f * (math.log(n1) - math.log(n0)))


def crossover_table(sum_k, workers):
    """Per parallel model at `workers`: crossover n against seq, and the per-call overhead: the
    least median time of a call at any common n (an upper bound on the overhead, close to it as
    the work of a small n takes nanoseconds), also as the excess over seq at that n."""
    par = sum_k[(sum_k["model"] != "seq") & (sum_k["workers"] == workers)]
    rows = []
    for model in sorted(par["model"].unique(), key=model_order):
        m = par[par["model"] == model].set_index("n")
        t, seq = m["t_med"], m["t_seq"]
        common = sorted(m.index[seq.notna()])
        # The least, not the smallest n's: one slow median there would stand as the overhead.
        small = min(common, key=lambda n: (t.loc[n], n)) if common else m.index.min()
        rows.append({"model": model, "workers": workers,
                     "crossover": crossover_n(common, t.loc[common], seq.loc[common]),
                     "n_small": small if common else None, "t_small": float(t.loc[small]),
                     "overhead_vs_seq": float(t.loc[small] - seq.loc[small]) if common else math.nan})
    return pd.DataFrame(rows, columns=["model", "workers", "crossover", "n_small", "t_small",
                                       "overhead_vs_seq"])


def best_of(row, name):
    """A machine's measured peak (counter `name` of a peak/* summary row): the best of its
    processes, not their median, which one whose W threads did not run at once pulls down (two
    of three peak/vector_add/workers:2 processes read one thread's rate in the run of 05f39cc);
    the median where the record has no spread (aggregates only)."""
    best = row.get(name + "_max")
    return best if finite(best) else row.get(name)


def read_bw(summ):
    """{W: bytes/s} that peak/read_bw (glibc's memchr on W threads) read at its largest size, the
    best of its processes."""
    p = summ[(summ["category"] == "peak") & (summ["model"] == "read_bw")]
    if p.empty or "bytes_per_second" not in p:
        return {}
    nbytes = _int_col(p, "arg_bytes")
    p = p[nbytes == nbytes.max()]
    bests = {int(r["arg_workers"]): best_of(r, "bytes_per_second") for _, r in p.iterrows()}
    return {w: float(b) for w, b in bests.items() if finite(b) and b > 0}


def fetch_ideal_s(n, conc, delay_ms):
    """Lower bound on a fetch run's wall time: ceil(N/C) waves of L milliseconds (numbers or columns)."""
    return np.ceil(n / conc) * delay_ms / 1000.0


def _ideal(frame, n, conc, delay_ms):
    """The run's own ideal_s counter, else ceil(N/C)*L; NaN at L = 0, which has no meaningful lower
    bound (so no efficiency either)."""
    own = _col(frame, "ideal_s").astype(float)
    ideal = own.where(np.isfinite(own) & (own > 0), fetch_ideal_s(n, conc, delay_ms))
    return ideal.where(np.isfinite(ideal) & (ideal > 0))


MEMORY_MIN_CONC = 10  # the fewest requests in flight at once whose memory per request is shown


def fetch_frame(summ):
    """Valid C++ fetch rows with conc, n, delay_ms, profile, bytes, keepalive, ideal, efficiency
    (the run's own ideal_s/efficiency counters, else ceil(N/C)*L) and `short`: C is the most a
    model may have in flight, and where it held fewer than 90% of min(N, C) at once (its median
    peak_in_flight), C is not what it had (a thread per request cannot start them as fast as they
    end; at L = 0 `threads` held 98 of 1,000 in the run of 6785127, and read as C = 1,000 unmarked)."""
    f = summ[summ["category"] == "fetch"].copy()
    if f.empty:
        return f
    f["conc"], f["n"] = _int_col(f, "arg_conc"), _int_col(f, "arg_n")
    for col in ("delay_ms", "bytes", "keepalive"):
        f[col] = _col(f, "arg_" + col).astype(float)
    f["profile"] = [p if isinstance(p, str) else None for p in _col(f, "arg_profile")]
    f["ideal"] = _ideal(f, f["n"], f["conc"], f["delay_ms"])
    eff_counter = _col(f, "efficiency")
    f["eff"] = eff_counter.where(eff_counter.map(finite) & f["ideal"].notna(), f["ideal"] / f["t_med"])
    f["eff_lo"] = f["ideal"] / f["t_max"]
    f["eff_hi"] = f["ideal"] / f["t_min"]
    # The time beyond the waits no model can avoid, in seconds: a cost that is the same at every C
    # reads the same here, where the efficiency falls as C shrinks the ideal.
    for suffix, col in (("", "t_med"), ("_lo", "t_min"), ("_hi", "t_max")):
        f["over_ideal" + suffix] = f[col] - f["ideal"]
    def short(in_flight):  # fewer than 90% of min(N, C) in flight at once
        return in_flight < 0.9 * np.minimum(f["n"], f["conc"])
    f["peak_in_flight"] = _col(f, "peak_in_flight").astype(float)
    f["short"] = short(f["peak_in_flight"])
    # The requests in flight the memory per request is divided by: the binary's mem_in_flight
    # (the warm-up round's or the timed runs' most, in the memory peak's window), else, in
    # records before it, the timed runs' peak, else C.
    held = f["peak_in_flight"].where(f["peak_in_flight"].notna(), f["conc"])
    f["mem_in_flight"] = _col(f, "mem_in_flight").astype(float).fillna(held)
    f["mem_short"] = short(f["mem_in_flight"])
    # Below MEMORY_MIN_CONC in flight, RSS growth per request is page-granular noise and one-off
    # allocations (400 KiB "per request" at C = 1): no table or figure shows it, nor its spread.
    for col in [c for c in ("mem_per_inflight_kb", "mem_per_inflight_kb_min", "mem_per_inflight_kb_max") if c in f]:
        f[col] = f[col].where(f["mem_in_flight"] >= MEMORY_MIN_CONC)
    return f


def open_frame(summ):
    """Valid open-loop rows (fetch/open/<model>/rate:R/...) with model, rate, conc, n, delay_ms
    and, per model, `capacity`: its highest offered rate whose p99 stayed within L + 10 ms
    while it kept up (NaN if none did)."""
    f = summ[summ["category"] == "open"].copy()
    if f.empty:
        return f
    f["model"] = [k.split("/")[2] for k in f["key"]]
    for col in ("rate", "conc", "n"):
        f[col] = _int_col(f, "arg_" + col)
    f["delay_ms"] = f["arg_delay_ms"].astype(float)
    within = (f["p99_ms"] <= f["delay_ms"] + 10) & (f.get("keeping_up", 1) >= 1)
    f["capacity"] = f["model"].map(f[within].groupby("model")["rate"].max())
    return f


def pick_fetch_config(fetch, delay_zero=False):
    """(n, bytes, keepalive) most measured among latency rows (delay > 0; delay == 0 with
    delay_zero): ties prefer keepalive 1, larger n, smaller bytes. None if no such rows."""
    rows = fetch[fetch["profile"].isna() & fetch["delay_ms"].notna()]
    rows = rows[(rows["delay_ms"] == 0) if delay_zero else (rows["delay_ms"] > 0)]
    if rows.empty:
        return None
    keys = rows[["n", "bytes", "keepalive"]].fillna(-1).astype(float)
    counts = keys.value_counts().reset_index(name="count")
    counts["ka"] = counts["keepalive"] == 1
    counts["neg_bytes"] = -counts["bytes"]
    best = counts.sort_values(["count", "ka", "n", "neg_bytes"], ascending=False).iloc[0]
    return {k: (None if best[k] == -1 else best[k]) for k in ("n", "bytes", "keepalive")}


def config_rows(fetch, cfg, delay=None):
    rows = fetch[fetch["profile"].isna() & (fetch["n"] == cfg["n"])]
    for k in ("bytes", "keepalive"):
        rows = rows[rows[k].isna()] if cfg[k] is None else rows[rows[k] == cfg[k]]
    return rows if delay is None else rows[rows["delay_ms"] == delay]


def _seed_measurement(frame, workload, models, width):
    """(median, (min, max), key, summary row) of the row measuring a seed experiment: sum at n=1e8
    (range kernel in C++), or fetch at profile:seed; Nones when the run has none."""
    if workload == "sum":
        match = ((_col(frame, "arg_n") == SEED_N) & (_col(frame, "arg_workers") == width)
                 & ((frame["kernel"] == "range") | (frame["lang"] != "cpp")))
    else:
        match = ((_col(frame, "arg_n") == 40) & (_col(frame, "arg_conc") == width)
                 & (_col(frame, "arg_profile") == "seed"))
    for model in models:
        rows = frame[match & (frame["workload"] == workload) & (frame["model"] == model)]
        if workload == "fetch" and "arg_bytes" in rows:
            rows = rows.sort_values("arg_bytes")
        if not rows.empty:
            row = rows.iloc[0]
            return float(row["t_med"]), (float(row["t_min"]), float(row["t_max"])), row["key"], row
    return None, None, None, None


def seed_table(summ, python_summ=None):
    """The blog's figures beside this run's C++ figures and Python-on-this-machine figures, one dict
    per experiment (None when not run), with `speedup`: {column: the workload's seq figure in that
    column over this one}, for all but seq, and `python_other_n`: the n a Python sum that was not
    run at 1e8 ran at; python_summ's python/... rows, if any, win over summ's own."""
    cpp = summ[summ["category"].isin(["sum", "fetch"])]
    py = summ[summ["category"] == "python"]
    if python_summ is not None and (python_summ["category"] == "python").any():
        py = python_summ[python_summ["category"] == "python"]
    rows = []
    for exp_id, label, blog_s, cpp_models, py_models, width in SEED:
        workload = exp_id.split("_")[0]
        cpp_s, cpp_spread, cpp_key, cpp_row = _seed_measurement(cpp, workload, cpp_models, width)
        # Python's fetch rows with the C++ row's keepalive only (python_reference.py --keepalive 0
        # would sit beside keepalive:1 under the C++ row's name)
        same = (py if workload != "fetch" or cpp_row is None else
                py[_col(py, "arg_keepalive") == cpp_row.get("arg_keepalive")])
        python_s, python_spread, _, python_row = _seed_measurement(same, workload, py_models, width)
        python_other_n = []
        if workload == "sum" and python_s is None:  # run at another n (python_reference.py --quick sums 1e7)?
            other = py[(py["workload"] == "sum") & py["model"].isin(py_models) & (_col(py, "arg_workers") == width)]
            python_other_n = sorted(set(_col(other, "arg_n").dropna()))
        # cpp_row, python_row: the summary rows, so the page says their spread as every table does
        rows.append({"id": exp_id, "experiment": label, "blog_s": blog_s, "cpp_s": cpp_s, "cpp_spread": cpp_spread,
                     "cpp_key": cpp_key, "cpp_row": cpp_row, "python_s": python_s, "python_spread": python_spread,
                     "python_row": python_row, "python_other_n": python_other_n})
    seq = {r["id"].split("_")[0]: r for r in rows if r["id"].endswith("_seq")}
    for r in rows:
        ref = seq.get(r["id"].split("_")[0])
        r["speedup"] = {col: ref[col] / r[col] for col in ("blog_s", "cpp_s", "python_s")
                        if ref and r is not ref and ref[col] and r[col]}
    return rows


def foreign_plans(summ):
    """For each foreign family: the numeric dimensions to plot time against (arguments
    that take more than one value, and threads). Returns (plans, skipped)."""
    plans, skipped = [], []

    def skip(rows, reason):
        skipped.extend(Skipped(key, reason, int(reps)) for key, reps in zip(rows["key"], rows["reps"]))

    for family, rows in summ[summ["category"] == "foreign"].groupby("family", sort=False):
        dims = [c for c in rows.columns if c.startswith("arg_") and rows[c].map(finite).all()
                and rows[c].nunique() > 1]
        dims += ["threads"] if rows["threads"].dropna().nunique() > 1 else []
        if dims:
            plans.append({"family": family, "dims": dims, "rows": rows})
        else:
            skip(rows, "not plotted: no numeric argument varies in family %s" % family)
    for plan in plans[MAX_FOREIGN_FAMILIES:]:
        skip(plan["rows"], "not plotted: more than %d benchmark families" % MAX_FOREIGN_FAMILIES)
    return plans[:MAX_FOREIGN_FAMILIES], skipped


def dim_label(col):
    return col[4:] if col.startswith("arg_") else col


# --- per workload ---------------------------------------------------------------

ARRAY_WORKERS_NOT_RUN = "concbench_sum_array_workers_not_run"


def analyse_sum(summ, hw, context):
    """Per kernel, what the sum figures and tables need: the n for the worker plots (n_w), the W
    for the size plots, the speedup and crossover tables, and for `array` `read_line`, {W: memchr's
    read bandwidth at W (peak/read_bw) over the bandwidth seq read at n_w}, where a read-bound sum
    would stop if memchr read as fast as the machine can ({} unmeasured); `bare_checked`, whether
    the run says if each bare sum's threads ran at once (bare_cpu_util; older records do not);
    `left_out`, why the run has no worker sweep for a kernel ({} when it has). None without sum
    benchmarks."""
    s = sum_frame(summ)
    if s.empty:
        return None
    info = {}
    for kernel in [k for k in SUM_KERNELS if (s["kernel"] == k).any()]:
        sk = s[s["kernel"] == kernel]
        n_w, w_size = pick_worker_n(sk), pick_size_workers(sk, hw)
        size = sk[(sk["model"] == "seq") | (sk["workers"] == w_size)] if w_size is not None else sk
        speedup = speedup_table(sk, n_w) if n_w is not None else None
        info[kernel] = {"n_w": n_w, "W": w_size, "size": size, "speedup": speedup,
                        "cross": crossover_table(sk, w_size) if w_size is not None else None, "read_line": {}}
        seq = speedup[speedup["model"] == "seq"] if speedup is not None else ()
        if kernel == "array" and len(seq):
            seq_bw = 8 * n_w / float(seq["t_med"].iloc[0])  # 8-byte elements
            info[kernel]["read_line"] = {w: b / seq_bw for w, b in sorted(read_bw(summ).items())}
    left_out = {"array": context[ARRAY_WORKERS_NOT_RUN]} if context.get(ARRAY_WORKERS_NOT_RUN) else {}
    return {"frame": s, "kernels": info, "hw": hw, "bare_checked": "bare_cpu_util" in s, "left_out": left_out}


def analyse_fetch(summ):
    """The fetch frame, the configuration the concurrency plots use (cfg, and cfg0 for
    L = 0), up to three latencies to draw, and the rows the throughput and memory figure and
    tables show: `rate0` (requests per second at L = 0, cfg0), `cpu0` (the client's CPU time
    per request there) and `memory` (memory per request in flight at the largest latency, cfg,
    C >= 10), each None when not measured. None without fetch benchmarks."""
    f = fetch_frame(summ)
    if f.empty:
        return None
    cfg, cfg0 = pick_fetch_config(f), pick_fetch_config(f, delay_zero=True)
    delays = []
    if cfg is not None:
        delays = sorted(d for d in config_rows(f, cfg)["delay_ms"].dropna().unique() if d > 0)[-3:]
    rate0 = memory = cpu0 = None
    if cfg0 is not None and "items_per_second" in f:
        rate0 = config_rows(f, cfg0, 0)
        rate0 = rate0[rate0["items_per_second"].map(finite) & (rate0["items_per_second"] > 0)]
        if "cpu_us_per_request" in rate0:
            cpu0 = rate0[rate0["cpu_us_per_request"].map(finite)]
    if delays and "mem_per_inflight_kb" in f:
        # One configuration: a median over body sizes would mix workloads.
        memory = config_rows(f, cfg, delays[-1])
        memory = memory[memory["mem_per_inflight_kb"].map(finite)]
    # The client floor at the plotted configuration (keep-alive only: it keeps its connections).
    floor = {d: client_floor(summ, d, cfg["n"], cfg["bytes"]) for d in delays if cfg["keepalive"] != 0}
    return {"frame": f, "cfg": cfg, "delays": delays, "cfg0": cfg0, "floor": floor,
            "rate0": rate0 if rate0 is not None and not rate0.empty else None,
            "memory": memory if memory is not None and not memory.empty else None,
            "cpu0": cpu0 if cpu0 is not None and not cpu0.empty else None}


C10K_PREFIX = "fetch_c10k_not_run:"


def analyse_c10k(fetch, summ, context):
    """The C10k sweep: closed-loop rows at its latency (the largest L with a point above
    C = 1000) and 1 KiB keep-alive, as `curve` (for each model and C the row with the most
    requests: N = 1000 up to C = 1000, then the sweep's N) and `sweep` (the rows at the sweep's
    N from C = 1000); the models left out with the binary's reasons; the wrk bound. None
    without a point above C = 1000."""
    if fetch is None or fetch.empty:
        return None
    f = fetch[fetch["profile"].isna() & (fetch["keepalive"] == 1) & (fetch["delay_ms"] > 0)]
    big = f[f["conc"] > 1000]
    if big.empty:
        return None
    delay, n = float(big["delay_ms"].max()), int(big["n"].max())
    f = f[(f["delay_ms"] == delay) & (f["bytes"] == big["bytes"].iloc[0])]
    curve = f.sort_values("n").groupby(["model", "conc"], as_index=False).last()
    curve = curve.assign(rps=_col(curve, "items_per_second"), ideal_rps=curve["conc"] * 1000.0 / delay)  # C / L
    sweep = f[(f["n"] == n) & (f["conc"] >= 1000)]
    left_out = {k[len(C10K_PREFIX):]: v for k, v in context.items() if k.startswith(C10K_PREFIX)}
    return {"curve": curve, "sweep": sweep, "delay_ms": delay, "n": n, "left_out": left_out,
            "wrk": wrk_bound(summ), "floor": client_floor(summ, delay, n)}


def client_floor(summ, delay_ms, n=None, nbytes=None):
    """peak/raw_http at this latency (and N and body size, if given), the client floor under
    the models: arg_conc, t_med, efficiency, over_ideal (as fetch_frame's) and rps, the
    median of the binary's items_per_second (requests/s), as the models' on the page and figures."""
    p = summ[(summ["category"] == "peak") & (summ["model"] == "raw_http")]
    for column, wanted in (("arg_delay_ms", delay_ms), ("arg_n", n), ("arg_bytes", nbytes)):
        if wanted is not None and not p.empty:
            p = p[p[column] == wanted]
    p = p.assign(over_ideal=p["t_med"] - _ideal(p, *(_col(p, "arg_" + a) for a in ("n", "conc", "delay_ms"))),
                 rps=_col(p, "items_per_second"))
    return p.reindex(columns=["arg_conc", "t_med", "efficiency", "over_ideal", "rps"])


def wrk_bound(summ, delay_ms=0):
    """{C: requests per second} the fixture served to wrk holding each response delay_ms
    (peak/wrk/conc:C/delay_ms:L/...)."""
    p = summ[(summ["category"] == "peak") & (summ["model"] == "wrk")]
    if p.empty or "requests_per_second" not in p:
        return {}
    p = p[_col(p, "arg_delay_ms") == delay_ms]
    return {int(c): float(r) for c, r in zip(p["arg_conc"], p["requests_per_second"]) if finite(r)}


def open_bound(summ, f):
    """What the open loop (open_frame f) is held against at its C, the most it may have in flight:
    `wrk_rps`, what the fixture served wrk at `wrk_conc` and `wrk_delay_ms` (the open loop's C and
    L where wrk ran there; else at 0 ms, at that C or the C nearest it; None without wrk),
    `wrk` what it served at 0 ms at every C, `floor_rps`, what one thread without libcurl drew at
    N = C and 0 ms (peak/raw_http; None unmeasured), and `best`, the open-loop model that achieved
    the highest rate and that rate (None without one) among `models` models."""
    conc, delay, wrk = int(f["conc"].max()), float(f["delay_ms"].max()), wrk_bound(summ)
    wrk_conc = min(wrk, key=lambda c: (abs(math.log(c / conc)), -c)) if wrk else None
    wrk_rps, wrk_delay, at_delay = wrk.get(wrk_conc), 0.0, wrk_bound(summ, delay)
    if conc in at_delay:  # the open loop's own C and L: the bound of its configuration
        wrk_conc, wrk_rps, wrk_delay = conc, at_delay[conc], delay
    floor = client_floor(summ, 0, n=conc)
    floor = floor.loc[floor["arg_conc"] == conc, "rps"].dropna()
    best = None
    if _col(f, "achieved_rate").notna().any():
        top = f.loc[f["achieved_rate"].idxmax()]
        best = (top["model"], float(top["achieved_rate"]))
    return {"conc": conc, "wrk": wrk, "wrk_conc": wrk_conc, "wrk_rps": wrk_rps, "wrk_delay_ms": wrk_delay,
            "floor_rps": float(floor.iloc[0]) if len(floor) else None, "best": best,
            "models": f["model"].nunique()}


def analyse_open(summ):
    """The open-loop frame and what it is held against (open_bound); None without open-loop benchmarks."""
    f = open_frame(summ)
    if f.empty:
        return None
    return {"frame": f, "bound": open_bound(summ, f), "models": sorted(f["model"].unique(), key=model_order)}


# --- the metrics the verdicts judge ----------------------------------------------

TIME, MACHINE, EFFICIENCY = "time", "machine", "efficiency"
KINDS = (TIME, MACHINE, EFFICIENCY)  # regress.Result.worse: higher is better for EFFICIENCY only


@dataclass
class Metric:
    name: str       # the benchmark's name, or "<benchmark> efficiency"
    kind: str       # TIME, MACHINE or EFFICIENCY
    value: float    # the run's median


def efficiency(t_seq, t_model, workers):
    """Parallel efficiency: the speedup over seq per worker (1.0 is perfect scaling)."""
    return t_seq / (workers * t_model)


def time_kind(name):
    """MACHINE for a benchmark that measures the machine (peak/*: drift, never a verdict), else
    TIME: the one place that says which benchmarks are bounds, for times and errors alike."""
    return MACHINE if parse_name(name).workload == "peak" else TIME


def metrics(summ):
    """{metric name: Metric} of a summarize() table (see the module docstring), in run order."""
    s = with_seq(summ.assign(n=_col(summ, "arg_n")))
    workers = pd.to_numeric(_col(s, "arg_workers"), errors="coerce")
    times, effs = {}, {}
    for key, workload, model, t, t_seq, w, eff, rate in zip(
            s["key"], s["workload"], s["model"], s["t_med"], s["t_seq"], workers, _col(s, "efficiency"),
            _col(s, "requests_per_second")):
        if workload == "peak" and model == "wrk":  # its time is wrk's -d, whatever the fixture served
            if finite(rate) and rate > 0:
                times[key] = Metric(key, MACHINE, 1 / float(rate))
            continue
        times[key] = Metric(key, time_kind(key), float(t))
        if workload == "sum" and model != "seq" and t_seq > 0 and w > 0 and t > 0:  # False for NaN
            effs[key + " efficiency"] = efficiency(float(t_seq), float(t), float(w))
        elif workload == "fetch" and finite(eff) and eff > 0:  # 0: no latency, so no ideal to compare with
            effs[key + " efficiency"] = float(eff)
    return {**times, **{name: Metric(name, EFFICIENCY, v) for name, v in effs.items()}}


def run_metrics(path):
    """(metrics, errors, context) of a Google Benchmark JSON file, where errors is
    {benchmark: message} of the benchmarks that errored: with no measurement, or in some
    repetitions and measured in others (the message says so). Raises RunFileError for a file
    that is not Google Benchmark JSON."""
    try:
        run = load_run(path)
    except AllErrored as e:  # no measurement, only the errors
        return {}, e.errors, e.context
    found = metrics(summarize(run.df))
    errors, counts = {}, collections.Counter()
    for s in run.skipped:
        if s.reason.startswith("errored: "):
            errors.setdefault(s.name, s.reason[len("errored: "):])  # the first message
            counts[s.name] += s.count
    for name in errors.keys() & found.keys():
        errors[name] = "%s errored, the others measured: %s" % (plural(counts[name], "repetition"), errors[name])
    return found, errors, run.context


def metric_series(recs, keep, notes):
    """{metric: [value or None per record]} and {metric: kind} over records in order (None for no
    record), the metrics whose names `keep` passes if given (cli.name_filter); a record that
    cannot be read is said in `notes`."""
    series, kinds = {}, {}
    for x, rec in enumerate(recs):
        try:
            found = run_metrics(rec.path)[0] if rec else {}
        except RunFileError as e:
            notes.append("left out %s: %s" % (rec.path, e))
            continue
        for name, m in found.items():
            if keep is None or keep(name):
                series.setdefault(name, [None] * len(recs))[x] = m.value
                kinds[name] = m.kind
    return series, kinds


def median(values):
    finite_values = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(finite_values) if finite_values else math.nan
