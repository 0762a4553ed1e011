#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Renders one concbench run (Google Benchmark JSON) into plots and a generated results page.
"""Usage: scripts/plot.py [RUN.json] [--out DIR] [--python RUN.json [--any-host] | --no-python]

Without RUN, plots the newest full run in results/history/ from a clean tree, else
the newest full run, else the newest of the others (records.latest_record). Writes
DIR/README.md and DIR/plots/*.png; DIR defaults to results/, or results/partial/ for
a quick or partial run (RUN or not), as ./bench renders one; a file ./bench did not
write (no concbench_scope) counts as full, and one without concbench_dirty as not clean.
DIR/plots/ belongs to this script: it is replaced as a whole on every successful run,
so stale plots disappear.
Without --python, the Python run ./bench --python saved with RUN (python/ beside it,
the same file name) fills the seed table's Python column when there is one (--no-python:
not).
A --python run recorded on another machine than RUN is refused unless --any-host
is given; the page then says whose times the Python column holds.
Exit status: 0 done, 2 bad input (one line on stderr, nothing written), 3 no room for the output or
an internal error (nothing written).
"""
import functools
import os
import sys
import time

import cli
from cli import REPO, InputError, Parser, history_dir, publish
from fmt import plural

cli.require(["matplotlib", "pandas", "numpy"], "plotting", "concbench", __name__)

import matplotlib  # noqa: E402
import metrics  # noqa: E402
import plot_figures  # noqa: E402
import plot_page  # noqa: E402
import records  # noqa: E402
from bench_names import RunFileError, hardware_threads, load_run  # noqa: E402
from plot_page import PLOTS  # noqa: E402

PROG = "concbench plot"
DEFAULT_OUT = os.path.join(REPO, "results")
DEFAULT_RUNS = history_dir()


say = functools.partial(cli.say, PROG)


def render(run, tmp, run_label, python_run, python_label, python_elsewhere):
    """Write README.md and plots/*.png for `run` into directory `tmp`; returns (figures, skipped)."""
    summ, skipped_names = metrics.categorize(metrics.summarize(run.df))
    py_summ = metrics.categorize(metrics.summarize(python_run.df))[0] if python_run is not None else None
    hw = hardware_threads(run.context)
    os.mkdir(os.path.join(tmp, PLOTS))
    kind, reps = metrics.repetitions(summ)
    span = "%d" % reps[0] if len(reps) == 1 else "%d–%d" % (reps[0], reps[-1])
    # One run of each (a --quick run) has no spread to draw: its points are single runs, not medians.
    note = {"repeated": "median of %s runs" % span, "single": "one run each: single points, no spread",
            "aggregates": "single points: aggregates only, no spread"}[kind]
    figs = plot_figures.Figures(os.path.join(tmp, PLOTS), run.context, note, say, kind == "repeated")

    seed = metrics.seed_table(summ, py_summ)
    sum_info = metrics.analyse_sum(summ, hw, run.context)
    fetch_info = metrics.analyse_fetch(summ)
    if fetch_info:
        fetch_info["c10k"] = metrics.analyse_c10k(fetch_info["frame"], summ, run.context)
    open_info = metrics.analyse_open(summ)
    plans, skipped_foreign = metrics.foreign_plans(summ)

    with matplotlib.rc_context(plot_figures.STYLE):
        plot_figures.draw_seed(figs, seed, python_elsewhere)
        if sum_info:
            plot_figures.draw_sum(figs, sum_info["kernels"], hw)
        if fetch_info:
            plot_figures.draw_fetch(figs, fetch_info)
            if fetch_info["c10k"]:
                plot_figures.draw_c10k(figs, fetch_info["c10k"])
        if open_info:
            plot_figures.draw_open(figs, open_info)
        foreign_done = plot_figures.draw_foreign(figs, plans)
    say("writing the page")
    skipped = list(run.skipped) + skipped_names + skipped_foreign
    plot_page.write_page(os.path.join(tmp, "README.md"), run, run_label, summ, seed, sum_info, fetch_info,
                         open_info, foreign_done, skipped, figs, python_label, python_elsewhere,
                         python_run.context if python_run is not None else None)
    return figs.written, skipped


def latest_run():
    rec = records.latest_record(records.scan_records(DEFAULT_RUNS))
    if rec is None:
        shown = os.path.relpath(DEFAULT_RUNS)
        shown = DEFAULT_RUNS if shown.startswith("..") else shown
        files = len(records.record_files(DEFAULT_RUNS))
        found = ("%s/*.json holds no readable run (%s)" % (shown, plural(files, "file")) if files
                 else "no %s/*.json found" % shown)
        raise InputError("no run given and %s; run the benchmarks first or name a RUN.json" % found)
    return rec


def parse_args(argv):
    p = Parser(prog="plot.py", description="Render a concbench run (Google Benchmark "
                                "JSON) into plots and a results page.")
    p.add_argument("run", type=cli.path, nargs="?", metavar="RUN.json",
                   help="the run to plot (default: the newest full run from a clean tree in results/history/)")
    p.add_argument("--out", type=cli.path, metavar="DIR",
                   help="write DIR/README.md and DIR/plots/ (default: results/, or results/partial/ "
                        "for a quick or partial run)")
    python = p.add_mutually_exclusive_group()
    python.add_argument("--python", type=cli.path, metavar="RUN.json",
                   help="a run with the Python port's python/... benchmarks for the seed table "
                        "(default: python/RUN.json beside RUN, if there is one)")
    python.add_argument("--no-python", action="store_true", help="leave out the Python run saved beside RUN")
    p.add_argument("--any-host", action="store_true", help="take a --python run from another machine")
    p.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    return p.parse_args(argv)


def load_python_run(args, path, run):
    """(the Python run, or None; how its machine differs from the run's): --python FILE, else the
    saved run's python/ twin, found by name and set as args.python, so re-rendering a saved run
    keeps its Python column."""
    if args.python is None and not args.no_python:
        saved = os.path.join(os.path.dirname(os.path.abspath(path)), "python", os.path.basename(path))
        args.python = saved if os.path.isfile(saved) else None
    if not args.python:
        return None, []
    python_run = load_run(args.python)
    if not python_run.df["key"].str.startswith("python/").any():
        raise InputError("the Python run %s has no python/... benchmarks (scripts/python_reference.py "
                         "writes them)" % args.python)
    # As strict as compare.py and history.py: a machine not shown to be this one is another
    # (a Python record without the clock and CPU signature passed beside the 2,596 MHz VM's run).
    elsewhere = records.machine_differences(run.context, python_run.context, ("the run", "the Python run"))
    if elsewhere and not args.any_host:
        raise InputError("the Python run %s was recorded on another machine than %s (%s); its times are not "
                         "this machine's (--any-host to show them anyway, marked as another machine's)"
                         % (args.python, path, "; ".join(elsewhere)))
    return python_run, elsewhere


def run(argv):
    started = time.monotonic()
    args = parse_args(argv)
    try:
        path = args.run or latest_run().path
        record = load_run(path)
        python_run, elsewhere = load_python_run(args, path, record)
        # Part of the suite is not the suite: its page goes where ./bench puts it, not over results/.
        partial = records.record_from_context(path, record.context).scope != records.FULL
        out = os.path.abspath(args.out or (os.path.join(DEFAULT_OUT, "partial") if partial else DEFAULT_OUT))
        cli.check_page_out(out, plot_page.TITLE, ["README.md", PLOTS], "a results page")  # before the work
        run_label = os.path.relpath(os.path.abspath(path), out).replace(os.sep, "/")
        python_label = os.path.relpath(os.path.abspath(args.python), out) if args.python else None

        def build(tmp):
            say("read %s: %s, %s of %s, %s"
                % (path, plural(record.n_entries, "entry", "entries"), plural(len(record.df), "measurement"),
                   plural(record.df["key"].nunique(), "benchmark"), plural(record.n_errored, "errored run")))
            return render(record, tmp, run_label, python_run, python_label, elsewhere)

        written, skipped = publish(out, [PLOTS, "README.md"], build)
    except RunFileError as e:
        raise InputError(e) from None
    except OSError as e:
        if isinstance(e, BrokenPipeError) or e.errno in cli.NO_ROOM:
            raise  # cli.main's: a closed pipe (141), an output without room (3)
        raise InputError("%s: %s" % (e.filename or "output", e.strerror or e)) from None
    except InputError:
        raise
    except Exception as e:  # a bug, not bad input: keep it to one line unless asked
        if args.debug:
            raise
        say("internal error (%s: %s); rerun with --debug for the traceback" % (type(e).__name__, e))
        return cli.UNFINISHED
    if skipped:
        say("skipped %s (listed on the page):" % plural(len(skipped), "benchmark"))
        for s in skipped[:20]:
            print("  %s: %s (%s)" % (s.name, s.reason, plural(s.count, "run")), file=sys.stderr)
        if len(skipped) > 20:
            print("  ... and %d more" % (len(skipped) - 20), file=sys.stderr)
    say("wrote %s and %s in %s (%.1f s)"
        % (os.path.join(out, "README.md"), plural(len(written), "plot"), os.path.join(out, PLOTS),
           time.monotonic() - started))
    return 0


def main(argv=None):
    return cli.main(run, PROG, argv)  # SIGTERM: the half-rendered temporary directory goes, as after Ctrl-C


if __name__ == "__main__":
    sys.exit(main())
