# SPDX-License-Identifier: MIT
# Writes concbench's generated results page (Markdown) from metrics.py's tables and the drawn figures.
import os
import re

from fmt import (finite, fmt_bytes, fmt_crossover, fmt_eff, fmt_fetch_config, fmt_fetch_eff, fmt_kib, fmt_measured,
                 fmt_n, fmt_num, fmt_ratio, fmt_spread, fmt_time, fmt_vs_bare, md_table,
                 plural)
from metrics import BARE_UTIL_SHARE, MEMORY_MIN_CONC, bare_left_out, best_of, config_rows, model_order, repetitions
import bench_names
from records import PARTIAL, QUICK, hook_settings, machine_line, parse_dirty, syscall_ns
import targets

PLOTS = "plots"          # subdirectory of the output directory holding the images
# The full fetch table's columns after the median and spread: (header, column, formatter).
FETCH_COLUMNS = [("ideal", "ideal", fmt_time), ("efficiency", "eff", fmt_fetch_eff),
                 ("requests/s", "items_per_second", fmt_measured), ("p50 ms", "p50_ms", fmt_measured),
                 ("p99 ms", "p99_ms", fmt_measured), ("peak RSS MiB", "peak_rss_mb", fmt_measured),
                 ("KiB/in-flight", "mem_per_inflight_kb", fmt_measured),
                 ("CPU µs/request", "cpu_us_per_request", fmt_measured)]


class Page:
    """The page as Markdown blocks (blank lines between them), with the figures drawn for it."""

    def __init__(self, figures):
        self.blocks, self.titles = [], dict(figures)

    def add(self, *blocks):
        self.blocks.extend(blocks)

    def images(self, *fnames):
        self.add(*("![%s](%s/%s)" % (self.titles[f], PLOTS, f) for f in fnames if f in self.titles))

    def collapsed(self, summary, table):
        self.add("<details><summary>%s</summary>" % summary, table, "</details>")


def spread_cell(r):
    """Spread of one summary row: min – max of its runs, or the file's stddev aggregate
    when only aggregates were written."""
    if r["row_kind"] != "iteration":
        return "±%s (stddev)" % fmt_time(r["t_sd"]) if finite(r["t_sd"]) else "– (aggregate only)"
    return fmt_spread(r["t_min"], r["t_max"], r["reps"])


# seq's spread over its runs above which the sum tables say what it does to their ratios.
SEQ_SPREAD_NOTED = 1.10


def runs_cell(r):
    if r["row_kind"] != "iteration":
        reps = r.get("repetitions")
        return "%s of %s" % (r["row_kind"], int(reps)) if finite(reps) else r["row_kind"]
    return str(int(r["reps"]))


def benchmark_table(frame, extra=()):
    """One row per benchmark: name, median, spread, the extra [(header, column, formatter)], runs."""
    rows = [["`%s`" % r["key"], fmt_time(r["t_med"]), spread_cell(r)]
            + [fmt(r.get(col)) for _, col, fmt in extra] + [runs_cell(r)] for _, r in frame.iterrows()]
    return md_table(["benchmark", "median", "spread"] + [h for h, _, _ in extra] + ["runs"], rows)


def in_model_order(frame, columns):
    """frame sorted by `columns`, its models in their usual order; ties keep their order."""
    return frame.sort_values(columns, kind="stable",
                             key=lambda col: col.map(model_order) if col.name == "model" else col)


def pivot(rows, fmt, corner="model \\ C"):
    """Markdown table: one row per model, one column per concurrency, fmt(first row there) in each cell."""
    first = rows.drop_duplicates(["model", "conc"])
    cells = {(r["model"], int(r["conc"])): fmt(r) for _, r in first.iterrows()}
    concs = sorted({c for _, c in cells})
    models = sorted(first["model"].unique(), key=model_order)
    return md_table([corner] + [fmt_num(c) for c in concs], [[m] + [cells.get((m, c), "") for c in concs]
                                                         for m in models])


def _held(r, count="peak_in_flight", short="short"):
    """How many requests a cell's model held in flight, where that fell short of its C (`count`
    and `short`: those the memory per request is divided by, mem_in_flight and mem_short)."""
    return "%s in flight" % fmt_num(r[count]) if r[short] else ""


def time_and_efficiency(r):
    held = _held(r)
    return "%s (%s%s)" % (fmt_time(r["t_med"]), fmt_fetch_eff(r["eff"]), "; " + held if held else "")


def measured_and_held(column, *held_by):
    """A cell of `column`'s median, and how many requests were in flight where that fell short of C
    (`held_by`: _held's columns)."""
    def cell(r):
        held = _held(r, *held_by)
        return fmt_measured(r[column]) + (" (%s)" % held if held else "")
    return cell


def _caches(ctx):
    """The caches Google Benchmark found, one phrase: "L1d 32 KiB, ..., L3 32 MiB (shared by 8 CPUs)"."""
    parts = []
    for c in ctx.get("caches") if isinstance(ctx.get("caches"), list) else []:
        if isinstance(c, dict) and finite(c.get("size")):
            kind = {"Data": "d", "Instruction": "i"}.get(c.get("type"), "")
            sharing = c.get("num_sharing")
            shared = " (shared by %d CPUs)" % sharing if finite(sharing) and sharing > 1 else ""
            parts.append("L%s%s %s%s" % (c.get("level", "?"), kind, fmt_kib(c["size"]), shared))
    return ", ".join(parts)


def _gbs(bytes_per_second):
    return "%.1f GB/s" % (bytes_per_second / 1e9)


def _best_of_processes(r, name, shown):
    """ ", the best of R processes (median M)" for a peak's row with a spread, else ""."""
    reps, median = r.get("reps"), r.get(name)
    if not finite(reps) or reps < 2 or best_of(r, name) == median:
        return ""
    return ", the best of %d processes (median %s)" % (reps, shown(median))


def _peak_rows(summ):
    """The machine's measured peaks (vector adds; glibc's memchr, which the models' reads beat, so
    named for what it is) and the fetch floor, as head rows."""
    out = []
    for _, r in summ[summ["category"] == "peak"].iterrows():
        if r["model"] == "vector_add" and finite(r.get("adds_per_second")):
            lanes, w = r.get("lanes"), r.get("arg_workers")
            out.append(("measured peak: vector adds, %s" % plural(int(w) if finite(w) else 1, "thread"),
                        "%s adds/s%s%s" % (fmt_measured(best_of(r, "adds_per_second")),
                                           " (%d lanes)" % lanes if finite(lanes) else "",
                                           _best_of_processes(r, "adds_per_second", fmt_measured))))
        elif r["model"] == "raw_http" and finite(r.get("items_per_second")):
            eff = r.get("efficiency")
            out.append(("measured floor: one thread without libcurl, N = C = %s at %s ms"
                        % (fmt_num(r["arg_conc"]), fmt_num(r["arg_delay_ms"])),
                        "%s, %s requests/s%s" % (fmt_time(r["t_med"]), fmt_measured(r["items_per_second"]),
                                                 ", efficiency %s" % fmt_fetch_eff(eff) if finite(eff) else "")))
        elif r["model"] == "read_bw" and finite(r.get("bytes_per_second")):
            out.append(("measured read rate of glibc's memchr, %s" % plural(int(r["arg_workers"]), "thread"),
                        "%s over %s%s" % (_gbs(best_of(r, "bytes_per_second")), fmt_bytes(int(r["arg_bytes"])),
                                          _best_of_processes(r, "bytes_per_second", _gbs))))
    return out


TITLE = "# concbench results"  # the page's first line, by which plot.py knows a page of its own


def head_section(page, run, run_label, summ):
    """Where the page comes from, then the machine, build and run settings, one row each (what
    the file does not say is left out)."""
    ctx = run.context
    page.add(TITLE,
             "_Generated by `scripts/plot.py` from [`%s`](%s); edit the script, not this page._"
             % (os.path.basename(run_label), run_label), "**Machine:** " + machine_line(ctx))
    if ctx.get("environment_unstable") not in (None, "", "no"):
        page.add("> **Unstable environment:** %s. Read these numbers with that in mind, and do not "
                 "compare them with other runs." % ctx["environment_unstable"])
    # A run ./bench named -quick or -partial, or with a test hook's planted change, rendered into
    # a directory of the reader's choice looked like the suite's own measurement of its commit.
    scope = ctx.get("concbench_scope")
    if scope in (QUICK, PARTIAL):
        page.add("> **A %s run:** %s; it does not stand for its commit." % (
            scope, "one short repetition of fewer sizes and workers (`--quick`)" if scope == QUICK
            else "fewer benchmarks, other flags, or benchmarks that failed (`./bench` said which)"))
    hooks = hook_settings(ctx)
    if hooks:
        page.add("> **Test hooks were set:** %s. These numbers were changed on purpose: they measure "
                 "no code as it is." % "; ".join(hooks.values()))
    cpus, hw = bench_names.context_int(ctx, "num_cpus"), bench_names.context_int(ctx, "hardware_threads")
    commit, dirty = ctx.get("concbench_commit"), parse_dirty(ctx.get("concbench_dirty"))
    rows = [("host", ctx.get("host_name")), ("CPU", ctx.get("cpu_model")),
            # the design behind the name: "AMD EPYC" has stood for two generations here
            ("CPU family", ctx.get("cpu_signature")),
            ("CPUs", ("%s" % cpus if cpus else "?") + (" (%s)" % plural(hw, "hardware thread") if hw else "")
             + (", %s MHz" % ctx["mhz_per_cpu"] if ctx.get("mhz_per_cpu") else "") if cpus or hw else None),
            # an empty list is Google Benchmark finding no cache sizes in sysfs (some VMs hide them)
            ("caches", _caches(ctx) or (ctx.get("caches") == [] and "not reported by the machine")),
            # what makes fetch numbers comparable between machines of one name: see README
            ("one system call", syscall_ns(ctx) and "%s (getppid, median of 5 x 4,000 calls)"
             % fmt_time(syscall_ns(ctx) * 1e-9)),
            # records before the fix named the haltpoll module's setting whatever the driver in use
            ("idle CPUs", ctx.get("cpu_idle") if str(ctx.get("cpu_idle", "")).startswith("haltpoll")
             else str(ctx.get("cpu_idle") or "").split(", guest halt-poll")[0] or None),
            ("kernel", ctx.get("kernel")),
            ("commit", commit and "`%s`%s" % (commit, " (uncommitted changes)" if dirty else "")),
            ("date", ctx.get("date")), ("compiler", ctx.get("compiler")),
            ("C++ flags", ctx.get("cxx_flags") and "`%s`" % ctx["cxx_flags"]),
            ("TBB", ctx.get("tbb_version")), ("OpenMP runtime", ctx.get("openmp_runtime")),
            ("Google Benchmark library build", ctx.get("library_build_type"))]
    if ctx.get("library_build_type") == "debug":
        rows.append(("note", "the Google Benchmark *library* was a debug build; "
                             "this does not slow the measured code"))
    rows += _peak_rows(summ)
    kind, counts = repetitions(summ)
    if kind == "single":
        rows.append(("repetitions", "1 per benchmark: single points, no spread"))
    elif kind == "repeated":
        rows.append(("repetitions", "%s per benchmark; tables show the median, spread is min – max"
                     % "/".join(str(x) for x in counts)))
    else:
        rows.append(("repetitions", "this file has %s for %d benchmarks: single points (median), no spread"
                     % ("only aggregates" if run.source == "median aggregates" else "aggregates only",
                        int((summ["row_kind"] != "iteration").sum()))))
    rows.append(("processes", ctx.get("concbench_isolation")))  # run_isolated.py: how the repetitions ran
    page.add(md_table(["", ""], [(k, v) for k, v in rows if v not in (None, "")]))


def targets_section(page, evaluated):
    if evaluated:
        page.add("## Targets", "Computed from this run by `scripts/targets.py`; a benchmark the run did "
                 "not include, or that erred in any repetition (\"Skipped\" says why), reads \"not "
                 "measured\". Targets are benchmarks: a miss is reported, it fails no test.")
    for workload, rows in evaluated.items():
        page.add("**%s** (%s)" % (workload, targets.met_count(rows)),
                 md_table(["target", "measured", "met"], rows))


def python_when(context):
    """When and at which commit the Python run was recorded, and what else the machine was doing
    then, as run_isolated.Environment measured it (not the load average: the C++ run just before leaves
    it high for minutes)."""
    if not context:
        return ""
    commit, unstable = context.get("concbench_commit"), context.get("environment_unstable")
    out = " (recorded %s" % context.get("date", "at an unrecorded time")
    out += " at commit `%s`" % commit[:12] if isinstance(commit, str) and len(commit) >= 12 else ""
    # Its scripts/ are part of the tree: a dirty one may have measured other code than the commit's.
    out += " **from a tree with uncommitted changes**" if parse_dirty(context.get("concbench_dirty")) else ""
    if not context.get("fetch_untimed_round"):  # python_reference.py before 2026-12-07
        out += ("; **its fetches were timed cold**: threads started and connections opened inside the clock, "
                "where the C++ clients make them before it")
    if unstable is None:
        out += "; its record has no check of what else the machine was doing"
    elif unstable not in ("", "no"):
        out += "; **an unstable environment**: %s; its times may be slower than on a quiet machine" % unstable
    return out + ")"


def seed_section(page, seed, python_label, python_elsewhere, python_context=None):
    """The blog's figures beside this run's; in brackets, the speedup over the column's seq figure.
    python_elsewhere: how the Python run's machine differs from this run's (plot.py --any-host);
    python_context: the Python run's context."""
    if all(r["cpp_s"] is None and r["python_s"] is None for r in seed):
        return
    def cell(r, col):
        if r[col] is None and col == "python_s" and r["python_other_n"]:
            return "run at n = %s only" % ", ".join(fmt_n(n) for n in r["python_other_n"])
        if r[col] is None:
            return "not run" if col == "python_s" else "not measured"
        return fmt_time(r[col]) + (" (%s)" % fmt_ratio(r["speedup"][col]) if col in r["speedup"] else "")

    # Python's spread too: its three sums took 2.0-3.4 s in the run of 05f39cc, which its medians
    # alone hid (threads "0.95x" sequential was within it).
    rows = [(r["experiment"], cell(r, "blog_s"), cell(r, "cpp_s"),
             spread_cell(r["cpp_row"]) if r["cpp_row"] is not None else "–",
             "`%s`" % r["cpp_key"] if r["cpp_key"] else "–", cell(r, "python_s"),
             spread_cell(r["python_row"]) if r.get("python_row") is not None else "–") for r in seed]
    page.add("## The seed's experiments",
             "The blog's Python figures beside this run's C++ figures for the same experiments; "
             "in brackets, speedup over that column's sequential figure. "
             "C++ sum: `range` kernel, n = 1e8; C++ fetch: the `profile:seed` benchmarks (40 requests).",
             md_table(["experiment", "blog (Python)", "C++ this run", "C++ spread", "C++ benchmark",
                       "Python on another machine" if python_elsewhere else "Python on this machine",
                       "Python spread"], rows))
    if python_label:
        page.add("Python column from `%s`%s%s." % (
            python_label, python_when(python_context),
            ", recorded on another machine (%s): not this machine's times (plot.py --any-host)"
            % "; ".join(python_elsewhere) if python_elsewhere else ""))
    page.images("seed.png")


def sum_section(page, sum_info):
    """The sum workload: what its numbers mean, a table per kernel, the crossover table."""
    sum_intro(page, sum_info)
    page.images("sum_speedup.png", "sum_efficiency.png")
    for kernel, info in sum_info["kernels"].items():
        if kernel in sum_info["left_out"]:
            page.add("**%s**: no worker sweep in this run (%s), so the table below is at the size "
                     "sweep's W only." % (kernel, sum_info["left_out"][kernel]))
        kernel_table(page, kernel, info, sum_info["hw"])
    page.images("sum_time_vs_n.png")
    crossover_table(page, sum_info)


def sum_intro(page, sum_info):
    hw = sum_info["hw"]
    has_bare = any(i["speedup"] is not None and i["speedup"]["vs_bare"].notna().any()
                   for i in sum_info["kernels"].values())
    bound = ("W workers on %s cannot do better than min(W, %d)/W: at W = %d, %s is full use of the machine. "
             % (plural(hw, "hardware thread"), hw, 2 * hw, fmt_eff(0.5)) if hw
             else "W workers cannot do better than min(W, hardware threads)/W. ")
    page.add("## sum (CPU-bound)",
             "Speedup = T_seq / T_model and parallel efficiency = T_seq / (W · T_model), for the same "
             "kernel and n. " + bound +
             "`range` sums an index range (compute-bound); `array` reads an array (memory-bound), so "
             "its time is the memory bandwidth its process got, which on a virtual machine can change "
             "between processes and within one. " + (
                 "The \"× bare\" column is the model's time over the bare sum: the same sum with no "
                 "model, by min(W, hardware threads) threads started beforehand and pinned to a CPU "
                 "each, one slice each, just before in the same process, so what the process got "
                 "cancels out (`mpi`'s other ranks read slices they allocated themselves, not the array "
                 "the bare sum reads, so at `array` it can read below 1; above 1 with more workers than "
                 "hardware threads is what the extra workers cost). What the process gets can still "
                 "change between the bare sum and the timed calls (at `array`, one round's ratio can be "
                 "off by as much as the two bandwidths differ), and a few percent either way is noise; "
                 "the column is the median over the rounds, " + (
                     "leaving out a round whose bare sum's threads did not run at once (its CPU time "
                     "under %g of its threads' over its wall time; \"2 of 3\" says how many rounds "
                     "counted where some were left out). " % BARE_UTIL_SHARE
                     if sum_info["bare_checked"] else
                     "every round's: this run predates `bare_cpu_util`, so a bare sum whose threads did "
                     "not run at once (one read on one core, as slow as `seq`) counts too. ")
                 if has_bare else "") +
             "An efficiency above 1 even "
             "from the model's slowest run against `seq`'s fastest is marked ↑: the model's W workers "
             "each went faster than `seq`'s one thread on the same work (at `array`, one worker's "
             "speed depends on the process more than on the model), so `seq` is the baseline there, "
             "not a bound; above 1 within the runs' spread is not marked.")


def kernel_table(page, kernel, info, hw):
    """One kernel's models against W at n_w, and a note when `seq`'s own runs spread widely."""
    if info["speedup"] is None:
        page.add("**%s**: no `seq` measurement at n = %s, so no speedup." % (kernel, fmt_n(info["n_w"]))
                 if info["n_w"] else "**%s**: no parallel models measured." % kernel)
        return
    bare = info["speedup"]["vs_bare"].notna().any()  # in records with the bare sum
    rows = [(r["model"], "%d%s" % (r["workers"], " (oversubscribed)" if hw and r["workers"] > hw else ""),
             fmt_time(r["t_med"]), spread_cell(r), fmt_ratio(r["speedup"]),
             fmt_eff(r["efficiency"]) + (" ↑" if r["efficiency_sure"] > 1.005 else ""),  # not beside a "1.00"
             fmt_measured(r["cpu_util"]))
            + ((fmt_vs_bare(r["vs_bare"], bare_left_out(r)),) if bare else ()) + (runs_cell(r),)
            for _, r in info["speedup"].iterrows()]
    page.add("### kernel `%s`, n = %s" % (kernel, fmt_n(info["n_w"])),
             md_table(["model", "workers", "median", "spread", "speedup", "efficiency", "CPU util"]
                      + (["× bare"] if bare else []) + ["runs"], rows))
    seq = info["speedup"][info["speedup"]["model"] == "seq"]
    if not seq.empty and seq["t_max"].iloc[0] > SEQ_SPREAD_NOTED * seq["t_min"].iloc[0]:
        r = seq.iloc[0]
        page.add("`seq`'s own runs here spread %s – %s (%s), so every speedup and efficiency in this "
                 "table, taken against its median, carries that much noise: an efficiency above 1 "
                 "by less than that and not marked ↑, or a model's one-worker time below `seq`'s, "
                 "is that noise."
                 % (fmt_time(r["t_min"]), fmt_time(r["t_max"]), "+%.0f%%" % (100 * (r["t_max"] / r["t_min"] - 1))))


def crossover_table(page, sum_info):
    rows = [(kernel, c["model"], int(c["workers"]), fmt_crossover(c["crossover"]),
             "n = %s" % fmt_n(c["n_small"]) if finite(c["n_small"]) else "–", fmt_time(c["t_small"]),
             ("+" if c["overhead_vs_seq"] >= 0 else "") + fmt_time(c["overhead_vs_seq"]))
            for kernel, info in sum_info["kernels"].items() if info["cross"] is not None
            for _, c in info["cross"].iterrows()]
    if rows:
        page.add("### Crossover and per-call overhead",
                 "Crossover n: the size from which the model stays faster than `seq` "
                 "(interpolated on log-log axes between measured sizes; \"never\": not faster at the "
                 "largest size; \"below smallest\": already faster at the smallest). Per-call overhead: "
                 "at most the least time per call at any size (the work of the smallest sizes takes "
                 "nanoseconds), and its excess over `seq` at that size. A model's cheapest call need "
                 "not be at the smallest size, so this can be below the targets' time per call, "
                 "which is at n = 1e3.",
                 md_table(["kernel", "model", "workers", "crossover n", "cheapest size",
                           "least time per call", "vs seq"], rows))


def fetch_section(page, fetch_info):
    f, cfg, delays = fetch_info["frame"], fetch_info["cfg"], fetch_info["delays"]
    page.add("## fetch (IO-bound)",
             "Wall time for N HTTP GETs against the local server with injected latency L; ideal = the "
             "run's own `ideal_s` (else ceil(N/C)·L); efficiency = ideal / measured, run by run (measured "
             "by the benchmark's own clock around its timed runs, which can differ slightly from Google "
             "Benchmark's time shown beside it), and a cell's efficiency is the median over its runs. "
             "The first figure has "
             "a panel per model with its time above the ideal (measured − ideal) against C, the other "
             "models in grey behind it: a cost that stays the same as C grows is a flat line there, "
             "while its efficiency, in the second figure with every model on one axis, falls as the "
             "ideal shrinks. C is the most requests a model may have in flight; where it held fewer than "
             "90% of min(N, C) at once (its median `peak_in_flight`), the cell says how many, and the "
             "time, efficiency, throughput and memory figures draw the point hollow.")
    page.images("fetch_time.png", "fetch_efficiency.png", "fetch_latency.png", "fetch_throughput_memory.png")
    for delay in delays:
        page.add("### L = %g ms, %s: median wall time (efficiency)" % (delay, fmt_fetch_config(cfg)),
                 pivot(config_rows(f, cfg, delay), time_and_efficiency))
    rest = f["profile"].isna().sum() - sum(len(config_rows(f, cfg, d)) for d in delays)
    if rest > 0:
        page.add("%s (other sizes, payloads, keep-alive settings or L = 0) %s in the full table below."
                 % (plural(rest, "more fetch benchmark"), "is" if rest == 1 else "are"))
    if fetch_info["rate0"] is not None:
        page.add("### L = 0 ms, %s: requests per second" % fmt_fetch_config(fetch_info["cfg0"]),
                 pivot(fetch_info["rate0"], measured_and_held("items_per_second")))
    if fetch_info["cpu0"] is not None:
        page.add("### L = 0 ms, %s: the client's CPU time per request (µs)" % fmt_fetch_config(fetch_info["cfg0"]),
                 "CPU time of the client's process, its workers and its children (not the fixture's) "
                 "over the requests it completed, run by run (its `cpu_util` over its requests per "
                 "second). At L = 0 nothing but the fixture's answer holds a request up, so this is "
                 "what the model spends on a request, whatever it spends it on: the request's own "
                 "work, its threads' switches, workers that spin.",
                 pivot(fetch_info["cpu0"], measured_and_held("cpu_us_per_request")))
    if fetch_info["memory"] is not None:
        page.add("### Memory per request in flight (KiB), L = %g ms, %s" % (delays[-1], fmt_fetch_config(cfg)),
                 pivot(fetch_info["memory"], measured_and_held("mem_per_inflight_kb", "mem_in_flight", "mem_short")),
                 "Memory per request in flight (KiB/in-flight in the full table) is (peak RSS − RSS before "
                 "the model was built) / the most requests in flight at once over the same window (the "
                 "untimed round before the timed runs, which holds C against the fixture, and the timed "
                 "runs), for the models whose memory is their requests; below %d in flight it is "
                 "page-granular noise and not shown." % MEMORY_MIN_CONC)
    if fetch_info.get("c10k"):
        c10k_section(page, fetch_info["c10k"])
    # A nearest-rank p99 of fewer than 100 latencies is the largest: the seed's 40 requests' "p99" is its maximum.
    page.collapsed("All fetch benchmarks (p50, p99: nearest-rank percentiles of a run's latencies, median over "
                   "the runs; in a run of fewer than 100 requests the p99 is its slowest)",
                   benchmark_table(in_model_order(f, ["model", "delay_ms", "conc"]), FETCH_COLUMNS))


def _grouped(text):
    """A reason the binary recorded, its counts as the page writes them: records made before the
    binary wrote C = 10,000 said C = 10000."""
    return re.sub(r"(?<![\d.,])\d{4,}(?![\d.,])", lambda m: fmt_num(int(m.group(0))), text)


def c10k_section(page, info):
    """C10k: wall time (efficiency) at the sweep's N from C = 1000 up, every model the sweep left
    out named with the reason the binary recorded."""
    page.add("### C10k: %s requests at L = %g ms, up to %s in flight"
             % (fmt_num(info["n"]), info["delay_ms"], fmt_num(info["sweep"]["conc"].max())),
             "Median wall time (efficiency) against C. The ideal is ceil(N/C)·L; the fixture's own "
             "capacity at 0 ms (wrk) is on the figure at each C wrk ran at.")
    page.images("fetch_c10k.png")
    page.add(pivot(info["sweep"], time_and_efficiency))
    if info["left_out"]:
        page.add("Left out of the C10k sweep, or of its highest C: " + "; ".join(
            "`%s`: %s" % (m, _grouped(info["left_out"][m])) for m in sorted(info["left_out"], key=model_order)) + ".")


def open_section(page, open_info):
    """The open-loop sweep: what coordinated omission is, the figure, each model's capacity."""
    f = open_info["frame"]
    page.add("## fetch, open loop: latency under a fixed request rate",
             "Every other fetch benchmark is a closed-loop batch: all N requests are ready at its start, "
             "a model sends the next one only when a slot frees, and each one's latency counts from the "
             "start, queue wait included: the latencies of a batch, not of a service whose requests "
             "arrive over time. A closed-loop load generator that counts from when it sent each request "
             "does worse: when the server or the client stalls, fewer requests are sent, and the latency "
             "of those never sent is never recorded: *coordinated omission*, which makes tails look far "
             "better than a real service would see. Here requests arrive on a fixed schedule "
             "(`rate:R` per second, `arrivals:uniform` or `poisson`) whatever the model does, and each "
             "request's latency counts from its arrival. A model that falls behind issues requests "
             "late; its `achieved_rate` drops below `offered_rate` (`keeping_up` 0), a result, not an "
             "error. Each model's highest rate within L + 10 ms: the highest offered rate whose p99 "
             "stayed within L + 10 ms while it kept up.")
    page.images("fetch_open.png")
    # the client's CPU time per request where it achieved most: what serving at that rate costs it
    cpu = "cpu_us_per_request" in f and f["cpu_us_per_request"].map(finite).any()
    rows = []
    for model in open_info["models"]:
        m = f[f["model"] == model]
        cap = m["capacity"].iloc[0]
        top = m.loc[m["achieved_rate"].idxmax()] if m["achieved_rate"].notna().any() else m.iloc[-1]
        rows.append((model, fmt_num(cap) if finite(cap) else "below the lowest rate",
                     "%s (offered %s)" % (fmt_measured(top["achieved_rate"]), fmt_num(top["rate"])))
                    + ((fmt_measured(top["cpu_us_per_request"]),) if cpu else ()))
    page.add(md_table(["model", "highest rate within L + 10 ms (requests/s)", "highest achieved rate"]
                      + (["CPU µs/request there"] if cpu else []), rows),
             "p50 / p99 latency (ms) at each offered rate; *behind*: issued below 95% of the offered rate.",
             pivot(f.assign(conc=f["rate"]), lambda r: "%s / %s%s" % (
                 fmt_measured(r["p50_ms"]), fmt_measured(r["p99_ms"]),
                 "" if r["keeping_up"] >= 1 else " *behind*"), corner="model \\ rate"))
    text = targets.open_bound_text(open_info["bound"])
    if text:
        page.add("**The bound.** " + text)


def benchmarks_section(page, summ, sum_info, foreign_done):
    """Every sum and Python port benchmark (folded away), then other programs' benchmarks: a figure
    per family (from draw_foreign) and their table."""
    if sum_info:
        page.collapsed("All sum benchmarks", benchmark_table(
            in_model_order(sum_info["frame"], ["kernel", "model", "workers", "n"]),
            [("items/s", "items_per_second", fmt_measured), ("CPU util", "cpu_util", fmt_measured)]))
    py = summ[summ["category"] == "python"]
    if not py.empty:
        page.collapsed("Python port benchmarks in this file", benchmark_table(py))
    foreign = summ[summ["category"] == "foreign"]
    if foreign.empty:
        return
    page.add("## Other benchmarks", "Benchmarks outside concbench's naming scheme: per benchmark family, "
             "time against its first varying numeric argument, one line per value of the others.")
    for family, fname, notes in foreign_done:
        page.add("### `%s`" % family)
        page.images(fname)
        if notes:
            page.add("(%s)" % "; ".join(notes))
    page.add(benchmark_table(foreign))


def write_page(path, run, run_label, summ, seed, sum_info, fetch_info, open_info, foreign_done, skipped, figs,
               python_label, python_elsewhere, python_context=None):
    """The results page: machine, targets, then each workload's figures and tables, then every benchmark."""
    page = Page(figs.written)
    head_section(page, run, run_label, summ)
    targets_section(page, targets.evaluate(summ, bench_names.hardware_threads(run.context), run.context,
                                           [s.name for s in run.skipped if s.reason.startswith("errored")]))
    seed_section(page, seed, python_label, python_elsewhere, python_context)
    for section, info in ((sum_section, sum_info), (fetch_section, fetch_info), (open_section, open_info)):
        if info:
            section(page, info)
    benchmarks_section(page, summ, sum_info, foreign_done)
    page.add("## Skipped", md_table(["benchmark", "why", "runs"], [("`%s`" % s.name, s.reason, s.count)
                                                                   for s in skipped]) if skipped
             else "Nothing: every benchmark in the file was used.",
             "%s entries in the file; errored runs left out: %s." % (fmt_num(run.n_entries), fmt_num(run.n_errored)))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n\n".join(page.blocks) + "\n")
