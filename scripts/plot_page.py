# SPDX-License-Identifier: MIT
# Writes concbench's generated results page (Markdown) from metrics.py's tables and the drawn figures.
import math
import os

from fmt import (finite, fmt_bytes, fmt_crossover, fmt_eff, fmt_kib, fmt_n, fmt_num, fmt_ratio, fmt_spread,
                 fmt_time, md_table, plural)
from metrics import config_rows, config_text, model_order
import bench_names
from records import machine_line, parse_dirty
import targets

PLOTS = "plots"          # subdirectory of the output directory holding the images


def collapsed(L, summary, table):
    """Appends `table` to the page lines L inside a collapsible section titled `summary`."""
    L.extend(["<details><summary>%s</summary>" % summary, "", table, "", "</details>", ""])


def _img(fname, title):
    return "![%s](%s/%s)" % (title, PLOTS, fname)


def spread_cell(r):
    """Spread of one summary row: min – max of its runs, or the file's stddev aggregate
    when only aggregates were written."""
    if r["row_kind"] != "iteration":
        return "±%s (stddev)" % fmt_time(r["t_sd"]) if finite(r["t_sd"]) else "– (aggregate only)"
    return fmt_spread(r["t_min"], r["t_max"], r["reps"])


def runs_cell(r):
    if r["row_kind"] != "iteration":
        reps = r.get("repetitions")
        return "%s of %s" % (r["row_kind"], int(reps)) if finite(reps) else r["row_kind"]
    return str(int(r["reps"]))


def machine_section(ctx, summ, run):
    rows = []

    def add(label, value):
        if value not in (None, ""):
            rows.append((label, value))

    add("host", ctx.get("host_name"))
    add("CPU", ctx.get("cpu_model"))
    cpus, hw = bench_names.context_int(ctx, "num_cpus"), bench_names.context_int(ctx, "hardware_threads")
    add("CPUs", ("%s" % cpus if cpus else "?") + (" (%d hardware threads)" % hw if hw else "")
        + (", %s MHz" % ctx["mhz_per_cpu"] if ctx.get("mhz_per_cpu") else "") if (cpus or hw) else None)
    caches = ctx.get("caches")
    if isinstance(caches, list):
        parts = []
        for c in caches:
            if isinstance(c, dict) and finite(c.get("size")):
                kind = {"Data": "d", "Instruction": "i"}.get(c.get("type"), "")
                shared = " ×%d shared" % c["num_sharing"] if finite(c.get("num_sharing")) and c["num_sharing"] > 1 else ""
                parts.append("L%s%s %s%s" % (c.get("level", "?"), kind, fmt_kib(c["size"]), shared))
        add("caches", ", ".join(parts))
    commit = ctx.get("concbench_commit")
    if commit:
        add("commit", "`%s`%s" % (commit, " (uncommitted changes)" if parse_dirty(ctx.get("concbench_dirty")) else ""))
    add("date", ctx.get("date"))
    add("compiler", ctx.get("compiler"))
    add("C++ flags", "`%s`" % ctx["cxx_flags"] if ctx.get("cxx_flags") else None)
    add("TBB", ctx.get("tbb_version"))
    add("OpenMP runtime", ctx.get("openmp_runtime"))
    add("Google Benchmark library build", ctx.get("library_build_type"))
    if ctx.get("library_build_type") == "debug":
        rows.append(("note", "the Google Benchmark *library* was a debug build; this does not slow the measured code"))
    peak = summ[summ["category"] == "peak"]
    for _, r in peak.iterrows():
        if r["model"] == "vector_add" and finite(r.get("adds_per_second", math.nan)):
            lanes, w = r.get("lanes", math.nan), r.get("arg_workers", 1)
            w = int(w) if finite(w) else 1
            add("measured peak: vector adds, %s" % plural(w, "thread"),
                "%s adds/s%s" % (fmt_num(r["adds_per_second"]), " (%d lanes)" % lanes if finite(lanes) else ""))
        elif r["model"] == "read_bw" and finite(r.get("bytes_per_second", math.nan)):
            add("measured peak: read bandwidth, %s" % plural(int(r["arg_workers"]), "thread"),
                "%.1f GB/s over %s" % (r["bytes_per_second"] / 1e9, fmt_bytes(int(r["arg_bytes"]))))
    reps = summ["reps"]
    kinds = set(summ["row_kind"])
    if kinds == {"iteration"}:
        add("repetitions", "%s per benchmark; tables show the median, spread is min – max"
            % "/".join(str(int(x)) for x in sorted(reps.unique())))
    else:
        add("repetitions", "this file has %s for %d benchmarks: single points (median), no spread"
            % ("only aggregates" if run.source == "median aggregates" else "aggregates only",
               int((summ["row_kind"] != "iteration").sum())))
    return md_table(["", ""], rows)


def targets_section(L, evaluated):
    """The targets the issues set, met or not by this run (targets.py)."""
    if not evaluated:
        return
    L.append("## Targets")
    L.append("")
    L.append("Computed from this run by `scripts/targets.py`; a benchmark the run did not include "
             "reads \"not measured\". Targets are benchmarks: a miss is reported, it fails no test.")
    L.append("")
    for workload, rows in evaluated.items():
        L.append("**%s** (%s)" % (workload, targets.met_count(rows)))
        L.append("")
        L.append(md_table(["target", "measured", "met"], rows))
        L.append("")


def seed_section(L, seed, by_file, python_label):
    """The blog's figures beside this run's."""
    if not (any(r["cpp_s"] is not None for r in seed) or any(r["python_s"] is not None for r in seed)):
        return
    L.append("## The seed's experiments")
    L.append("")
    L.append("The blog's Python figures beside this run's C++ figures for the same experiments; "
             "in brackets, speedup over that column's sequential figure. "
             "C++ sum: `range` kernel, n = 1e8; C++ fetch: the `profile:seed` benchmarks (40 requests).")
    L.append("")
    base = {c: {r["id"]: r[c] for r in seed} for c in ("blog_s", "cpp_s", "python_s")}

    def cell(r, col, key=None):
        v = r[col]
        if v is None:
            return "not run" if col == "python_s" else "not measured"
        seq_id = "sum_seq" if r["id"].startswith("sum") else "fetch_seq"
        ref = base[col].get(seq_id)
        s = fmt_time(v)
        if r["id"] != seq_id and ref:
            s += " (%s)" % fmt_ratio(ref / v)
        return s

    rows = []
    for r in seed:
        spread = ("%s" % fmt_spread(*r["cpp_spread"])) if r["cpp_spread"] else "–"
        rows.append((r["experiment"], cell(r, "blog_s"), cell(r, "cpp_s"), spread,
                     ("`%s`" % r["cpp_key"]) if r["cpp_key"] else "–", cell(r, "python_s")))
    L.append(md_table(["experiment", "blog (Python)", "C++ this run", "C++ spread", "C++ benchmark",
                       "Python on this machine"], rows))
    L.append("")
    if python_label:
        L.append("Python column from `%s`." % python_label)
        L.append("")
    if "seed.png" in by_file:
        L.append(_img("seed.png", by_file["seed.png"]))
        L.append("")


def sum_section(L, sum_info, by_file):
    """Speedup, efficiency, crossover and overhead per kernel."""
    if not (sum_info):
        return
    L.append("## sum (CPU-bound)")
    L.append("")
    L.append("Speedup = T_seq / T_model and parallel efficiency = T_seq / (W · T_model), for the same "
             "kernel and n. `range` sums an index range (compute-bound); `array` reads an array "
             "(memory-bound), so it stops scaling at the memory bandwidth.")
    L.append("")
    for fname in ("sum_speedup.png", "sum_efficiency.png"):
        if fname in by_file:
            L.append(_img(fname, by_file[fname]))
            L.append("")
    hw = sum_info["hw"]
    for kernel, info in sum_info["kernels"].items():
        tab = info["speedup"]
        if tab is None:
            L.append("**%s**: no `seq` measurement at n = %s, so no speedup." % (kernel, fmt_n(info["n_w"]))
                     if info["n_w"] else "**%s**: no parallel models measured." % kernel)
            L.append("")
            continue
        L.append("### kernel `%s`, n = %s" % (kernel, fmt_n(info["n_w"])))
        L.append("")
        rows = []
        for _, r in tab.iterrows():
            over = " (oversubscribed)" if hw and r["workers"] > hw else ""
            rows.append((r["model"], "%d%s" % (r["workers"], over), fmt_time(r["t_med"]),
                         spread_cell(r), fmt_ratio(r["speedup"]),
                         fmt_eff(r["efficiency"]), fmt_num(r["cpu_util"]) if finite(r["cpu_util"]) else "–",
                         runs_cell(r)))
        L.append(md_table(["model", "workers", "median", "spread", "speedup", "efficiency",
                           "CPU util", "runs"], rows))
        L.append("")
    if "sum_time_vs_n.png" in by_file:
        L.append(_img("sum_time_vs_n.png", by_file["sum_time_vs_n.png"]))
        L.append("")
    rows = []
    for kernel, info in sum_info["kernels"].items():
        cross = info["cross"]
        if cross is None:
            continue
        for _, c in cross.iterrows():
            rows.append((kernel, c["model"], int(c["workers"]), fmt_crossover(c["crossover"]),
                         ("n = %s" % fmt_n(c["n_small"])) if finite(c["n_small"]) else "–",
                         fmt_time(c["t_small"]),
                         ("+" if c["overhead_vs_seq"] >= 0 else "") + fmt_time(c["overhead_vs_seq"])
                         if finite(c["overhead_vs_seq"]) else "–"))
    if rows:
        L.append("### Crossover and per-call overhead")
        L.append("")
        L.append("Crossover n: the size from which the model stays faster than `seq` "
                 "(interpolated on log-log axes between measured sizes; \"never\": not faster at the "
                 "largest size; \"below smallest\": already faster at the smallest). Overhead: time "
                 "per call at the smallest size, and its excess over `seq` there.")
        L.append("")
        L.append(md_table(["kernel", "model", "workers", "crossover n", "smallest size",
                           "time there (overhead)", "vs seq"], rows))
        L.append("")


def fetch_section(L, fetch_info, by_file):
    """Wall time, efficiency, throughput and memory against concurrency."""
    if not (fetch_info):
        return
    f, cfg, delays, cfg0 = fetch_info["frame"], fetch_info["cfg"], fetch_info["delays"], fetch_info["cfg0"]
    L.append("## fetch (IO-bound)")
    L.append("")
    L.append("Wall time for N HTTP GETs against the local server with injected latency L; ideal = the "
             "run's own `ideal_s` (else ceil(N/C)·L); efficiency = ideal / measured.")
    L.append("")
    for fname in ("fetch_time.png", "fetch_efficiency.png", "fetch_latency.png", "fetch_throughput_memory.png"):
        if fname in by_file:
            L.append(_img(fname, by_file[fname]))
            L.append("")
    for delay in delays:
        rows_d = config_rows(f, cfg, delay)
        L.append("### L = %g ms, %s: median wall time (efficiency)" % (delay, config_text(cfg)))
        L.append("")
        L.append(_pivot(rows_d, lambda r: "%s (%s)" % (fmt_time(r["t_med"]), fmt_eff(r["eff"]))))
        L.append("")
    shown = sum(len(config_rows(f, cfg, d)) for d in delays) if cfg is not None else 0
    rest = len(f[f["profile"].isna()]) - shown
    if rest > 0:
        L.append("%d more latency benchmarks (other sizes, payloads, keep-alive settings or L = 0) "
                 "are in the full table below." % rest)
        L.append("")
    if fetch_info["rate0"] is not None:
        L.append("### L = 0 ms, %s: requests per second" % config_text(cfg0))
        L.append("")
        L.append(_pivot(fetch_info["rate0"], lambda r: fmt_num(r["items_per_second"])))
        L.append("")
    if fetch_info["memory"] is not None:
        L.append("### Memory per request in flight (KiB), L = %g ms, %s" % (delays[-1], config_text(cfg)))
        L.append("")
        L.append(_pivot(fetch_info["memory"], lambda r: fmt_num(r["mem_per_inflight_kb"])))
        L.append("")
    c10k_section(L, fetch_info.get("c10k"), by_file)
    rows = []
    for _, r in f.sort_values(["delay_ms", "conc"]).assign(o=lambda x: x["model"].map(model_order)) \
            .sort_values(["o", "delay_ms", "conc"], kind="stable").iterrows():
        rows.append(("`%s`" % r["key"], fmt_time(r["t_med"]), spread_cell(r),
                     fmt_time(r["ideal"]), fmt_eff(r["eff"]),
                     fmt_num(r.get("items_per_second", math.nan)),
                     fmt_num(r.get("p50_ms", math.nan)), fmt_num(r.get("p99_ms", math.nan)),
                     fmt_num(r.get("peak_rss_mb", math.nan)), fmt_num(r.get("mem_per_inflight_kb", math.nan)),
                     fmt_num(r.get("errors", math.nan)), runs_cell(r)))
    collapsed(L, "All fetch benchmarks",
              md_table(["benchmark", "median", "spread", "ideal", "efficiency", "req/s", "p50 ms",
                        "p99 ms", "peak RSS MiB", "KiB/in-flight", "errors", "runs"], rows))
    with_errors = f[f["errors"] > 0] if "errors" in f else f.iloc[0:0]
    if not with_errors.empty:
        L.append("**Request errors** (counted by the benchmark, results kept): " + ", ".join(
            "`%s` (%s)" % (k, fmt_num(e)) for k, e in zip(with_errors["key"], with_errors["errors"])))
        L.append("")


def c10k_section(L, info, by_file):
    """C10k: wall time (efficiency) at the sweep's N from C = 1000 up, every model the sweep left
    out named with the reason the binary recorded."""
    if not info:
        return
    L.append("### C10k: %s requests at L = %g ms, up to %s in flight"
             % (fmt_num(info["n"]), info["delay_ms"], fmt_num(info["sweep"]["conc"].max())))
    L.append("")
    L.append("Median wall time (efficiency) against C. The ideal is ceil(N/C)·L; the fixture's own "
             "capacity (wrk) is on the figure.")
    L.append("")
    if "fetch_c10k.png" in by_file:
        L.append(_img("fetch_c10k.png", by_file["fetch_c10k.png"]))
        L.append("")
    L.append(_pivot(info["sweep"], lambda r: "%s (%s)" % (fmt_time(r["t_med"]), fmt_eff(r["eff"]))))
    L.append("")
    if info["left_out"]:
        L.append("Not in the C10k sweep: " + "; ".join("`%s`: %s" % (m, why) for m, why in
                                                       sorted(info["left_out"].items(), key=lambda x: model_order(x[0])))
                 + ".")
        L.append("")


def listings_section(L, summ, sum_info):
    """Every benchmark, in collapsed tables."""
    if sum_info:
        s = sum_info["frame"]
        rows = [("`%s`" % r["key"], fmt_time(r["t_med"]), spread_cell(r),
                 fmt_num(r.get("items_per_second", math.nan)), fmt_num(r.get("cpu_util", math.nan)), runs_cell(r))
                for _, r in s.assign(o=s["model"].map(model_order)).sort_values(["kernel", "o", "workers", "n"]).iterrows()]
        collapsed(L, "All sum benchmarks",
                  md_table(["benchmark", "median", "spread", "items/s", "CPU util", "runs"], rows))
    py = summ[summ["category"] == "python"]
    if not py.empty:
        collapsed(L, "Python port benchmarks in this file",
                  md_table(["benchmark", "median", "spread", "runs"],
                           [("`%s`" % r["key"], fmt_time(r["t_med"]), spread_cell(r),
                             runs_cell(r)) for _, r in py.iterrows()]))


def foreign_section(L, summ, foreign_done, by_file):
    """Other programs' benchmarks: a figure per family and their table."""
    foreign = summ[summ["category"] == "foreign"]
    if foreign.empty:
        return
    L.append("## Other benchmarks")
    L.append("")
    L.append("Benchmarks outside concbench's naming scheme: per benchmark family, time against its "
             "first varying numeric argument, one line per value of the others.")
    L.append("")
    for family, fname, notes in foreign_done:
        L.append("### `%s`" % family)
        L.append("")
        L.append(_img(fname, by_file[fname]))
        if notes:
            L.append("")
            L.append("(%s)" % "; ".join(notes))
        L.append("")
    L.append(md_table(["benchmark", "median", "spread", "runs"],
                      [("`%s`" % r["key"], fmt_time(r["t_med"]), spread_cell(r),
                        runs_cell(r)) for _, r in foreign.iterrows()]))
    L.append("")


def skipped_section(L, run, skipped):
    """What the page left out, and why."""
    L.append("## Skipped")
    L.append("")
    if skipped:
        L.append(md_table(["benchmark", "why", "runs"],
                          [("`%s`" % s.name, s.reason, s.count) for s in skipped]))
    else:
        L.append("Nothing: every benchmark in the file was used.")
    L.append("")
    L.append("%d entries in the file; errored runs left out: %d." % (run.n_entries, run.n_errored))
    L.append("")


def open_section(L, open_info, by_file):
    """The open-loop sweep: what coordinated omission is, the figure, each model's capacity."""
    if not open_info:
        return
    f, wrk = open_info["frame"], open_info["wrk"]
    L.append("## fetch, open loop: latency under a fixed request rate")
    L.append("")
    L.append("Every other fetch benchmark is closed-loop: a model sends its next request only when a slot "
             "frees. When the server or the client stalls, fewer requests are sent, and the latency of "
             "those never sent is never recorded: *coordinated omission*, which makes tails look far "
             "better than a real service would see. Here requests arrive on a fixed schedule "
             "(`rate:R` per second, `arrivals:uniform` or `poisson`) whatever the model does, and each "
             "request's latency counts from its arrival. A model that falls behind issues requests "
             "late; its `achieved_rate` drops below `offered_rate` (`keeping_up` 0), a result, not an "
             "error. Each model's highest rate within L + 10 ms: the highest offered rate whose p99 "
             "stayed within L + 10 ms while it kept up.")
    L.append("")
    if "fetch_open.png" in by_file:
        L.append(_img("fetch_open.png", by_file["fetch_open.png"]))
        L.append("")
    rows = []
    for model in open_info["models"]:
        m = f[f["model"] == model]
        cap = m["capacity"].iloc[0]
        top = m.loc[m["achieved_rate"].idxmax()] if m["achieved_rate"].notna().any() else m.iloc[-1]
        rows.append((model, fmt_num(cap) if finite(cap) else "below the lowest rate",
                     "%s (offered %s)" % (fmt_num(top["achieved_rate"]), fmt_num(top["rate"]))))
    L.append(md_table(["model", "highest rate within L + 10 ms (requests/s)", "highest achieved rate"], rows))
    L.append("")
    L.append("p99 / p50 latency (ms) at each offered rate; *behind*: issued below 95% of the offered rate.")
    L.append("")
    f = f.assign(conc=f["rate"])  # _pivot's columns
    L.append(_pivot(f, lambda r: "%s / %s%s" % (fmt_num(r["p99_ms"]), fmt_num(r["p50_ms"]),
                                                 "" if r.get("keeping_up", 1) >= 1 else " *behind*"),
                    corner="model \\ rate"))
    L.append("")
    if wrk and f["achieved_rate"].notna().any():
        best_model = f.loc[f["achieved_rate"].idxmax()]
        L.append("**The bound.** The fixture itself served %s to wrk (one thread; %s). The best client "
                 "model here, `%s`, issued %s: the gap is the cost of the client library and model."
                 % (" / ".join("%s requests/s" % fmt_num(r) for _, r in sorted(wrk.items())),
                    ", ".join("C = %d" % c for c in sorted(wrk)), best_model["model"],
                    fmt_num(best_model["achieved_rate"])))
        L.append("")


def write_page(path, run, run_label, summ, seed, sum_info, fetch_info, open_info, foreign_done, skipped, figs,
               python_label):
    ctx = run.context
    by_file = dict(figs.written)
    L = []
    L.append("# concbench results")
    L.append("")
    L.append("_Generated by `scripts/plot.py` from [`%s`](%s); edit the script, not this page._"
             % (os.path.basename(run_label), run_label))
    L.append("")
    L.append("**Machine:** " + machine_line(ctx))
    L.append("")
    if ctx.get("environment_unstable") not in (None, "", "no"):
        L.append("> **Unstable environment:** %s. Read these numbers with that in mind, and do not "
                 "compare them with other runs." % ctx["environment_unstable"])
        L.append("")
    L.append(machine_section(ctx, summ, run))
    L.append("")
    targets_section(L, targets.evaluate(summ, sum_info["hw"] if sum_info else
                                        bench_names.hardware_threads(ctx), ctx))
    seed_section(L, seed, by_file, python_label)
    sum_section(L, sum_info, by_file)
    fetch_section(L, fetch_info, by_file)
    open_section(L, open_info, by_file)
    listings_section(L, summ, sum_info)
    foreign_section(L, summ, foreign_done, by_file)
    skipped_section(L, run, skipped)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(L))


def _pivot(rows, fmt, corner="model \\ C"):
    """Markdown table: one row per model, one column per concurrency."""
    if rows.empty:
        return "_no measurements_"
    concs = sorted(int(c) for c in rows["conc"].unique())
    out = []
    for model in sorted(rows["model"].unique(), key=model_order):
        m = rows[rows["model"] == model]
        cells = []
        for c in concs:
            hit = m[m["conc"] == c]
            cells.append(fmt(hit.iloc[0]) if not hit.empty else "")
        out.append([model] + cells)
    return md_table([corner] + [str(c) for c in concs], out)
