# SPDX-License-Identifier: MIT
# The metrics layer: a run becomes the numbers everything else reads (times, speedup, efficiency, crossover, fetch ideals).
"""One layer from a run (bench_names.load_run) to numbers; the page, the figures, targets.py,
compare.py, ab.py, history.py and calibrate.py all read these, and none computes its own.

summarize() gives each benchmark its median over the run's repetitions, with min and max.
Every derived number (speedup, efficiency, crossover, fetch efficiency) comes from those
medians: repetitions inside one process are not independent samples of what changes between
runs, so the statistics in regress.py take runs (processes, records, commits) as their unit.

Metrics for the verdicts, by kind:
  TIME        a benchmark's real time per iteration, seconds; lower is better.
  MACHINE     the same for peak/* benchmarks: they measure the machine, not the code, so a
              change in them is machine drift and never decides a verdict.
  EFFICIENCY  T_seq / (W * T_model) for a parallel sum model at W workers, with seq at the
              same kernel and n from the same run; a fetch model's `efficiency` counter
              (ideal makespan over time). Higher is better. They follow from the times, so
              they are shown beside them and never decide a verdict of their own: a faster
              seq would otherwise read as a regression of every parallel model.
"""
import math
import statistics
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench_names import (BASE_COLUMNS, CONCBENCH_WORKLOADS, FETCH_MODELS, SUM_KERNELS, SUM_MODELS,
                         RunFileError, Skipped, concbench_problem, load_run, parse_name, read_json)
from fmt import finite

MAX_FOREIGN_FAMILIES = 24
SEED_N = 10**8
# The seed blog post's Python figures (its experiments, not this suite's results):
# (id, experiment, seconds).
BLOG = [
    ("sum_seq", "sum 0..1e8, sequential", 8.7),
    ("sum_threads", "sum 0..1e8, 2 threads", 8.9),
    ("sum_procs", "sum 0..1e8, 2 processes", 3.95),
    ("fetch_seq", "40 fetches, sequential", 6.06),
    ("fetch_pool", "40 fetches, 4-thread pool", 1.67),
    ("fetch_async", "40 fetches, asyncio / event loop", 0.86),
]
# Where this run's C++ figure for each experiment comes from: (workload, models in
# order of preference, workers or conc).
SEED_CPP = {
    "sum_seq": ("sum", ["seq"], 1), "sum_threads": ("sum", ["threads"], 2),
    "sum_procs": ("sum", ["fork"], 2), "fetch_seq": ("fetch", ["seq"], 1),
    "fetch_pool": ("fetch", ["pool"], 4), "fetch_async": ("fetch", ["coro", "multi_socket", "multi"], 40),
}
# The Python port's models for the seed's experiments (scripts/python_reference.py): the
# seed's own structure, so "2 processes" is two multiprocessing.Process, not a pool.
SEED_PY = {
    "sum_seq": ("sum", ["seq"], 1), "sum_threads": ("sum", ["threads"], 2),
    "sum_procs": ("sum", ["processes"], 2),
    "fetch_seq": ("fetch", ["seq"], 1), "fetch_pool": ("fetch", ["pool"], 4),
    "fetch_async": ("fetch", ["asyncio"], 40),
}

ALL_MODELS = list(dict.fromkeys(list(SUM_MODELS) + list(FETCH_MODELS)))


# --- tidy summaries -----------------------------------------------------------

def counter_columns(df):
    """User counters in a load_run frame: numeric columns that are neither standard nor arguments."""
    return [c for c in df.columns if c not in BASE_COLUMNS and not c.startswith("arg_")
            and pd.api.types.is_numeric_dtype(df[c])]


def summarize(df):
    """One row per benchmark (key): median/min/max of time_s, repetition count,
    median plus min/max of every counter, and the name fields."""
    g = df.groupby("key", sort=False)
    t = g["time_s"]
    out = pd.DataFrame({
        "t_med": t.median(), "t_min": t.min(), "t_max": t.max(),
        "reps": t.count(),
        "t_sd": g["time_stddev_s"].median(),
    })
    firsts = ["name", "family", "lang", "workload", "model", "kernel", "row_kind", "args", "threads",
              "repetitions"]
    firsts += [c for c in df.columns if c.startswith("arg_")]
    first = g[firsts].first()
    out = out.join(first)
    for c in counter_columns(df):
        col = g[c]
        out[c] = col.median()
        out[c + "_min"] = col.min()
        out[c + "_max"] = col.max()
    out.index.name = "key"
    return out.reset_index()


def categorize(summ):
    """Add a `category` column: sum, fetch, open (fetch/open/...), peak, python, foreign or
    unknown; return Skipped for unknown names."""
    cats, skipped = [], []
    for key, reps in zip(summ["key"], summ["reps"]):
        bn = parse_name(key)
        if bn.workload in CONCBENCH_WORKLOADS:
            problem = concbench_problem(bn)
            if problem:
                cats.append("unknown")
                skipped.append(Skipped(key, "unknown name: " + problem, int(reps)))
            elif bn.lang != "cpp":
                cats.append("python")
            else:
                cats.append("open" if bn.workload == "fetch" and bn.labels[0] == "open" else bn.workload)
        else:
            cats.append("foreign")
    summ = summ.copy()
    summ["category"] = cats
    return summ, skipped


def _int_col(frame, col):
    return frame[col].astype(float).round().astype("int64")


def sum_frame(summ):
    """Valid C++ sum rows with integer workers and n columns."""
    s = summ[summ["category"] == "sum"].copy()
    if s.empty:
        return s
    s["workers"] = _int_col(s, "arg_workers")
    s["n"] = _int_col(s, "arg_n")
    return s


def model_order(model, known=ALL_MODELS):
    return known.index(model) if model in known else len(known)


def pick_worker_n(sum_k):
    """n for the worker plots: the largest n measured at more than one worker count
    (parallel models); failing that the largest n with any parallel model; None without them."""
    par = sum_k[sum_k["model"] != "seq"]
    if par.empty:
        return None
    counts = par.groupby("n")["workers"].nunique()
    multi = counts[counts > 1]
    return int(multi.index.max()) if not multi.empty else int(counts.index.max())


def pick_size_workers(sum_k, hw):
    """W for the size plots: the hardware-thread count if measured, else the most common W
    among parallel models (the larger on a tie); None without parallel models."""
    par = sum_k[sum_k["model"] != "seq"]
    if par.empty:
        return None
    ws = par["workers"]
    if hw is not None and (ws == hw).any():
        return int(hw)
    counts = ws.value_counts()
    return int(max(counts[counts == counts.max()].index))


def speedup_table(sum_k, n):
    """Speedup over seq and parallel efficiency at size n, one row per (model, workers);
    None when seq was not measured at n. speedup = T_seq / T_model,
    efficiency = T_seq / (W * T_model); _lo/_hi use the model's max/min time."""
    at = sum_k[sum_k["n"] == n]
    seq = at[at["model"] == "seq"]
    if seq.empty:
        return None
    t_seq = float(seq["t_med"].iloc[0])
    rows = at.assign(order=at["model"].map(model_order)).sort_values(["order", "workers"])
    out = pd.DataFrame({
        "model": rows["model"].values, "workers": rows["workers"].values, "n": n,
        "t_med": rows["t_med"].values, "t_min": rows["t_min"].values, "t_max": rows["t_max"].values,
        "reps": rows["reps"].values, "row_kind": rows["row_kind"].values, "t_sd": rows["t_sd"].values,
        "repetitions": rows["repetitions"].values,
        "cpu_util": rows["cpu_util"].values if "cpu_util" in rows else np.nan,
    })
    out["speedup"] = t_seq / out["t_med"]
    out["speedup_lo"] = t_seq / out["t_max"]
    out["speedup_hi"] = t_seq / out["t_min"]
    out["efficiency"] = efficiency(t_seq, out["t_med"], out["workers"])
    out["efficiency_lo"] = efficiency(t_seq, out["t_max"], out["workers"])
    out["efficiency_hi"] = efficiency(t_seq, out["t_min"], out["workers"])
    return out.reset_index(drop=True)


def crossover_n(sizes, model_times, seq_times):
    """The n from which a model stays faster than seq, interpolated linearly in
    (log n, log time ratio) between the two measured sizes around the switch.

    Returns a float n, "below smallest" (faster already at the smallest size),
    "never" (not faster at the largest size), or None without common sizes.
    """
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
    """Per parallel model at `workers`: crossover n against seq and the time at the
    smallest common n (per-call overhead), also as the excess over seq there."""
    seq = sum_k[sum_k["model"] == "seq"].set_index("n")["t_med"]
    par = sum_k[(sum_k["model"] != "seq") & (sum_k["workers"] == workers)]
    rows = []
    for model in sorted(par["model"].unique(), key=model_order):
        m = par[par["model"] == model].set_index("n")["t_med"]
        common = sorted(set(m.index) & set(seq.index))
        if not common:
            rows.append({"model": model, "workers": workers, "crossover": None, "n_small": None,
                         "t_small": float(m.sort_index().iloc[0]), "overhead_vs_seq": math.nan})
            continue
        small = common[0]
        rows.append({
            "model": model, "workers": workers,
            "crossover": crossover_n(common, [m[n] for n in common], [seq[n] for n in common]),
            "n_small": small, "t_small": float(m[small]),
            "overhead_vs_seq": float(m[small] - seq[small]),
        })
    return pd.DataFrame(rows, columns=["model", "workers", "crossover", "n_small", "t_small",
                                       "overhead_vs_seq"])


def read_bw_ceiling(summ):
    """Speedup ceiling a read-bandwidth-bound kernel can reach at W workers:
    bw(W) / bw(1) from peak/read_bw at its largest size; {} without W=1."""
    p = summ[(summ["category"] == "peak") & (summ["model"] == "read_bw")]
    if p.empty or "bytes_per_second" not in p:
        return {}
    p = p.assign(workers=_int_col(p, "arg_workers"), nbytes=_int_col(p, "arg_bytes"))
    p = p[p["nbytes"] == p["nbytes"].max()]
    base = p[p["workers"] == 1]["bytes_per_second"]
    if base.empty or not finite(float(base.iloc[0])) or float(base.iloc[0]) <= 0:
        return {}
    return {int(w): float(bw) / float(base.iloc[0]) for w, bw in zip(p["workers"], p["bytes_per_second"])}


def fetch_ideal_s(n, conc, delay_ms):
    """Lower bound on a fetch run's wall time: ceil(N/C) waves of L milliseconds."""
    return math.ceil(n / conc) * delay_ms / 1000.0


def fetch_frame(summ):
    """Valid C++ fetch rows with conc, n, delay_ms, profile, bytes, keepalive, ideal and
    efficiency (the run's own ideal_s/efficiency counters, else ceil(N/C)*L)."""
    f = summ[summ["category"] == "fetch"].copy()
    if f.empty:
        return f
    f["conc"] = _int_col(f, "arg_conc")
    f["n"] = _int_col(f, "arg_n")
    f["delay_ms"] = f["arg_delay_ms"].astype(float) if "arg_delay_ms" in f else np.nan
    f["profile"] = f["arg_profile"] if "arg_profile" in f else None
    f["profile"] = f["profile"].where(f["profile"].apply(lambda x: isinstance(x, str)), None)
    f["bytes"] = f["arg_bytes"].astype(float) if "arg_bytes" in f else np.nan
    f["keepalive"] = f["arg_keepalive"].astype(float) if "arg_keepalive" in f else np.nan
    ideal = []
    for _, r in f.iterrows():
        own = r.get("ideal_s", math.nan)
        if finite(own) and own > 0:
            ideal.append(float(own))
        elif finite(r["delay_ms"]):
            ideal.append(fetch_ideal_s(r["n"], r["conc"], r["delay_ms"]))
        else:
            ideal.append(math.nan)
    # L = 0 has no meaningful lower bound: no ideal, no efficiency
    f["ideal"] = [x if finite(x) and x > 0 else math.nan for x in ideal]
    eff_counter = f["efficiency"] if "efficiency" in f else pd.Series(np.nan, index=f.index)
    computed = f["ideal"] / f["t_med"]
    f["eff"] = eff_counter.where(eff_counter.apply(finite) & f["ideal"].notna(), computed)
    f["eff_lo"] = f["ideal"] / f["t_max"]
    f["eff_hi"] = f["ideal"] / f["t_min"]
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
    ok = (f["p99_ms"] <= f["delay_ms"] + 10) & (f.get("keeping_up", 1) >= 1)
    f["within"] = ok
    f["capacity"] = f["model"].map(f[ok].groupby("model")["rate"].max())
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
    if delay is not None:
        rows = rows[rows["delay_ms"] == delay]
    return rows


def _col(frame, name):
    """A column, or all-NaN when no benchmark in the run had that argument."""
    return frame[name] if name in frame else pd.Series(np.nan, index=frame.index, dtype=object)


def _seed_lookup(frame, workload, models, width, lang):
    """The row measuring one seed experiment: sum at n=1e8 (range kernel for C++), or
    fetch with profile:seed and n=40; `width` is workers (sum) or conc (fetch)."""
    for model in models:
        rows = frame[(frame["workload"] == workload) & (frame["model"] == model)]
        n = pd.to_numeric(_col(rows, "arg_n"), errors="coerce")
        if workload == "sum":
            rows = rows[(pd.to_numeric(_col(rows, "arg_workers"), errors="coerce") == width) & (n == SEED_N)]
            if lang == "cpp":
                rows = rows[rows["kernel"] == "range"]
        else:
            rows = rows[(_col(rows, "arg_profile") == "seed") & (n == 40)
                        & (pd.to_numeric(_col(rows, "arg_conc"), errors="coerce") == width)]
            rows = rows.sort_values("arg_bytes") if "arg_bytes" in rows else rows
        if not rows.empty:
            return rows.iloc[0]
    return None


def seed_table(summ, python_summ=None):
    """The blog's figures beside this run's C++ figures and Python-on-this-machine figures.

    python_summ: summary of another run whose python/... rows win over summ's own.
    Returns one dict per experiment: id, experiment, blog_s, cpp_s, cpp_spread (lo, hi),
    cpp_key, python_s, python_key (None when not run).
    """
    cpp = summ[summ["category"].isin(["sum", "fetch"])]
    py = summ[summ["category"] == "python"]
    if python_summ is not None:
        other = python_summ[python_summ["category"] == "python"]
        if not other.empty:
            py = other
    rows = []
    for exp_id, label, blog_s in BLOG:
        c = _seed_lookup(cpp, *SEED_CPP[exp_id], lang="cpp") if not cpp.empty else None
        p = _seed_lookup(py, *SEED_PY[exp_id], lang="python") if not py.empty else None
        rows.append({
            "id": exp_id, "experiment": label, "blog_s": blog_s,
            "cpp_s": float(c["t_med"]) if c is not None else None,
            "cpp_spread": (float(c["t_min"]), float(c["t_max"])) if c is not None else None,
            "cpp_key": c["key"] if c is not None else None,
            "python_s": float(p["t_med"]) if p is not None else None,
            "python_key": p["key"] if p is not None else None,
        })
    return rows


def foreign_plans(summ):
    """For each foreign family: the numeric dimensions to plot time against (arguments
    that take more than one value, and threads). Returns (plans, skipped)."""
    f = summ[summ["category"] == "foreign"]
    plans, skipped = [], []
    for family in f["family"].drop_duplicates():
        rows = f[f["family"] == family]
        dims = []
        for col in [c for c in rows.columns if c.startswith("arg_")]:
            vals = rows[col].dropna()
            if len(vals) and all(finite(v) for v in vals) and vals.nunique() > 1 and rows[col].notna().all():
                dims.append(col)
        if rows["threads"].dropna().nunique() > 1:
            dims.append("threads")
        if not dims:
            for key, reps in zip(rows["key"], rows["reps"]):
                skipped.append(Skipped(key, "not plotted: no numeric argument varies in family %s" % family,
                                       int(reps)))
            continue
        plans.append({"family": family, "dims": dims, "rows": rows})
    if len(plans) > MAX_FOREIGN_FAMILIES:
        for plan in plans[MAX_FOREIGN_FAMILIES:]:
            for key, reps in zip(plan["rows"]["key"], plan["rows"]["reps"]):
                skipped.append(Skipped(key, "not plotted: more than %d benchmark families"
                                       % MAX_FOREIGN_FAMILIES, int(reps)))
        plans = plans[:MAX_FOREIGN_FAMILIES]
    return plans, skipped


def dim_label(col):
    """An argument column's name as the benchmark name spells it (arg_n -> n)."""
    return col[4:] if col.startswith("arg_") else col


def config_text(cfg):
    """A fetch configuration from pick_fetch_config as text: n=40, bytes=1024, keepalive=1."""
    parts = ["n=%d" % cfg["n"]]
    if cfg["bytes"] is not None:
        parts.append("bytes=%d" % cfg["bytes"])
    if cfg["keepalive"] is not None:
        parts.append("keepalive=%d" % cfg["keepalive"])
    return ", ".join(parts)


# --- per workload ---------------------------------------------------------------

def analyse_sum(summ, hw):
    """Everything the sum figures and tables need, per kernel: the n for the worker plots
    (n_w), the W for the size plots, the speedup table and the crossover table. None
    without sum benchmarks."""
    s = sum_frame(summ)
    if s.empty:
        return None
    kernels = [k for k in SUM_KERNELS if (s["kernel"] == k).any()]
    info = {}
    for kernel in kernels:
        sk = s[s["kernel"] == kernel]
        n_w = pick_worker_n(sk)
        w_size = pick_size_workers(sk, hw)
        tab = speedup_table(sk, n_w) if n_w is not None else None
        size = None
        cross = None
        if w_size is not None:
            size = sk[(sk["model"] == "seq") | (sk["workers"] == w_size)]
            cross = crossover_table(sk, w_size)
        elif not sk.empty:
            size = sk
        info[kernel] = {"n_w": n_w, "W": w_size, "speedup": tab, "size": size, "cross": cross}
    return {"frame": s, "kernels": info, "hw": hw}


def analyse_fetch(summ):
    """The fetch frame, the configuration the concurrency plots use (cfg, and cfg0 for
    L = 0), up to three latencies to draw, and the rows the throughput and memory figure and
    tables show: `rate0` (requests per second at L = 0, cfg0) and `memory` (memory per request
    in flight at the largest latency, cfg, C >= 10), each None when not measured. None without
    fetch benchmarks."""
    f = fetch_frame(summ)
    if f.empty:
        return None
    cfg = pick_fetch_config(f)
    delays = []
    if cfg is not None:
        delays = sorted(d for d in config_rows(f, cfg)["delay_ms"].dropna().unique() if d > 0)[-3:]
    cfg0 = pick_fetch_config(f, delay_zero=True)
    rate0 = config_rows(f, cfg0, 0) if cfg0 is not None and "items_per_second" in f else None
    memory = None
    if cfg is not None and delays and "mem_per_inflight_kb" in f:
        # One configuration (a median over body sizes would mix workloads), C >= 10: below 10
        # in flight the RSS growth divided by C is page-granular noise.
        memory = config_rows(f, cfg, delays[-1])
        memory = memory[memory["mem_per_inflight_kb"].notna() & (memory["conc"] >= 10)]
    return {"frame": f, "cfg": cfg, "delays": delays, "cfg0": cfg0, "rate0": rate0,
            "memory": memory if memory is not None and not memory.empty else None}


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
    curve = curve.assign(rps=curve["n"] / curve["t_med"])
    sweep = f[(f["n"] == n) & (f["conc"] >= 1000)]
    left_out = {k[len(C10K_PREFIX):]: v for k, v in (context or {}).items() if k.startswith(C10K_PREFIX)}
    return {"curve": curve, "sweep": sweep, "delay_ms": delay, "n": n, "left_out": left_out,
            "wrk": wrk_bound(summ), "models": sorted(curve["model"].unique(), key=model_order)}


def wrk_bound(summ):
    """{C: requests per second} the fixture served to wrk (peak/wrk/conc:C/...)."""
    p = summ[(summ["category"] == "peak") & (summ["model"] == "wrk")]
    if p.empty or "requests_per_second" not in p:
        return {}
    return {int(c): float(r) for c, r in zip(p["arg_conc"], p["requests_per_second"]) if finite(r)}


def analyse_open(summ):
    """The open-loop frame and the wrk bound beside it; None without open-loop benchmarks."""
    f = open_frame(summ)
    if f.empty:
        return None
    return {"frame": f, "wrk": wrk_bound(summ),
            "models": sorted(f["model"].unique(), key=model_order)}


# --- the metrics the verdicts judge ----------------------------------------------

TIME, MACHINE, EFFICIENCY = "time", "machine", "efficiency"
LOWER, HIGHER = "lower", "higher"


@dataclass
class Metric:
    name: str       # the benchmark's name, or "<benchmark> efficiency"
    kind: str       # TIME, MACHINE or EFFICIENCY
    value: float    # the run's median

    @property
    def better(self):
        return HIGHER if self.kind == EFFICIENCY else LOWER


def efficiency(t_seq, t_model, workers):
    """Parallel efficiency: the speedup over seq per worker (1.0 is perfect scaling)."""
    return t_seq / (workers * t_model)


def medians(summ):
    """{benchmark: {"time": median s, "efficiency": median counter}} of a summarize() table."""
    out = OrderedDict()
    for _, r in summ.iterrows():
        row = {"time": float(r["t_med"])}
        if finite(r.get("efficiency")):
            row["efficiency"] = float(r["efficiency"])
        out[r["key"]] = row
    return out


def metrics(meds):
    """{metric name: Metric} of a run's medians (see the module docstring), in run order."""
    out = OrderedDict()
    seq = {}
    for key, row in meds.items():
        bn = parse_name(key)
        kind = MACHINE if bn.workload == "peak" else TIME
        out[key] = Metric(key, kind, row["time"])
        if bn.workload == "sum" and bn.model == "seq":
            seq[(bn.lang, bn.kernel, bn.args.get("n"))] = row["time"]
    for key, row in meds.items():
        bn = parse_name(key)
        value = None
        if bn.workload == "sum" and bn.model != "seq":
            t_seq = seq.get((bn.lang, bn.kernel, bn.args.get("n")))
            w = bn.args.get("workers")
            if t_seq and isinstance(w, int) and w > 0 and row["time"] > 0:
                value = efficiency(t_seq, row["time"], w)
        elif bn.workload == "fetch" and row.get("efficiency", 0) > 0:
            value = row["efficiency"]  # 0 where there is no latency, so no ideal to compare with
        if value is not None:
            out[key + " efficiency"] = Metric(key + " efficiency", EFFICIENCY, value)
    return out


def run_metrics(path):
    """(metrics, errors, context) of a Google Benchmark JSON file, where errors is
    {benchmark: message} of the benchmarks that errored and have no measurement. Raises
    RunFileError for a file that is not Google Benchmark JSON."""
    try:
        run = load_run(path)
    except RunFileError as e:
        if "errored" not in str(e):
            raise
        # Every benchmark errored: no measurement, only the errors, read from the file.
        doc = read_json(path)
        errors = OrderedDict()
        for entry in doc["benchmarks"]:
            if isinstance(entry, dict) and entry.get("error_occurred"):
                key = parse_name(str(entry.get("run_name") or entry.get("name"))).base
                errors.setdefault(key, str(entry.get("error_message") or "no message"))
        return OrderedDict(), errors, doc.get("context") or {}
    found = medians(summarize(run.df))
    errors = OrderedDict((s.name, s.reason[len("errored: "):]) for s in run.skipped
                         if s.reason.startswith("errored: ") and s.name not in found)
    return metrics(found), errors, run.context


def median(values):
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan
