#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Plots every benchmark and derived scaling metric across the recorded commits of this branch.
"""Usage: scripts/history.py [--filter REGEX] [--out DIR] [--host NAME] [--repo DIR] [--history DIR]

Reads the records in results/history/ made on one host (default: this machine) and
draws one plot per metric (each benchmark's time, each sum model's parallel
efficiency, each fetch model's efficiency counter; --filter selects by name with
re.search) with the commits of the current branch on the x axis, oldest first in
`git rev-list --topo-order` order. Each point is the median of a record's
repetitions, its bar the min-max. A commit stands for its newest clean-tree record
(a dirty-tree one only when there is no clean one; those are marked with *).
Records of commits that are not ancestors of HEAD are skipped with a note.

The plots go to results/history/plots/ (or --out DIR), replaced as a whole: they
are drawn in a temporary directory that is renamed into place at the end.
"""
import argparse
import os
import re
import shutil
import socket
import sys
import tempfile

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(SCRIPTS)
sys.path.insert(0, SCRIPTS)

import cli  # noqa: E402
from cli import InputError, Parser  # noqa: E402
import pyenv_check  # noqa: E402

pyenv_check.require(["matplotlib", "scipy", "numpy", "pandas"], purpose="plotting the history",
                    prog="concbench history", reexec=__name__ == "__main__")

import records  # noqa: E402
import regress  # noqa: E402
from bench_names import RunFileError, load_run  # noqa: E402

PROG = "concbench history"
MAX_TICK_LABELS = 40


def note(message):
    print("%s: %s" % (PROG, message), file=sys.stderr, flush=True)


def parse_args(argv):
    p = Parser(prog="history.py", description="\n\n".join(__doc__.split("\n\n")[1:]),
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filter", metavar="REGEX", type=cli.regex, help="only metrics whose name matches (re.search)")
    p.add_argument("--out", help="output directory (default: HISTORY/plots)")
    p.add_argument("--host", default=None, help="whose records to plot (default: this machine's)")
    p.add_argument("--repo", default=REPO, help="git repository whose branch orders the commits")
    p.add_argument("--history", help="directory of records (default: REPO/results/history)")
    args = p.parse_args(argv)
    if args.history is None:
        args.history = os.path.join(args.repo, "results", "history")
    if args.out is None:
        args.out = os.path.join(args.history, "plots")
    if args.host is None:
        args.host = socket.gethostname()
    return args


def pick_records(args, notes):
    """Records oldest commit first: one per commit of the branch, on the host. Things the
    user should know go to `notes`, printed only when the run succeeds (bad input is one line)."""
    found = [r for r in records.scan_records(args.history)]
    if not found:
        raise InputError("no records in %s; ./bench makes one per run" % args.history)
    on_host = [r for r in found if records.same_host(r.host, args.host)]
    if not on_host:
        hosts = sorted({r.host or "unknown" for r in found})
        raise InputError("no records from host %s in %s (there are from: %s; --host NAME picks one)"
                         % (args.host, args.history, ", ".join(hosts)))
    try:
        order = records.commit_order(args.repo)
    except records.GitError as e:
        raise InputError("cannot list the commits of %s: %s" % (args.repo, e)) from None
    by_commit = {}
    off_branch = []
    for r in on_host:
        if r.commit in order:
            by_commit.setdefault(r.commit, []).append(r)
        else:
            off_branch.append(r)
    if off_branch:
        shown = ", ".join(sorted({r.short for r in off_branch})[:5])
        notes.append("skipped %d record%s of commits that are not ancestors of HEAD (%s)"
             % (len(off_branch), "" if len(off_branch) == 1 else "s", shown))
    if not by_commit:
        raise InputError("none of the %d records from host %s is of a commit on this branch"
                         % (len(on_host), args.host))
    several = sum(1 for v in by_commit.values() if len(v) > 1)
    if several:
        notes.append("%d commit%s more than one record; each is drawn from its newest clean-tree one"
                     % (several, " has" if several == 1 else "s have"))
    chosen = [records.latest_record(v) for v in by_commit.values()]
    chosen.sort(key=lambda r: order[r.commit])
    return chosen


def collect(found, pattern, notes):
    """{metric name: [(x, median, min, max, n)]} over the chosen records, and the metric kinds."""
    import numpy as np
    series, kinds = {}, {}
    for x, rec in enumerate(found):
        try:
            run = load_run(rec.path)
        except RunFileError as e:
            notes.append("skipped %s: %s" % (rec.path, e))
            continue
        metrics = regress.filter_metrics(regress.metrics_from_run(run, allow_aggregates=True), pattern)
        for name, m in metrics.items():
            v = np.asarray(m.values, dtype=float)
            series.setdefault(name, []).append((x, float(np.median(v)), float(v.min()), float(v.max()), len(v)))
            kinds[name] = m.kind
    return series, kinds


def file_name(name, used):
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace(" ", "__")).strip("_") or "metric"
    candidate, k = base, 2
    while candidate in used:
        candidate, k = "%s_%d" % (base, k), k + 1
    used.add(candidate)
    return candidate + ".png"


def time_scale(values):
    top = max(values)
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
        if top >= scale:
            return scale, unit
    return 1e-9, "ns"


def draw(path, name, kind, points, labels, host):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [p[0] for p in points]
    if kind == "time":
        scale, unit = time_scale([p[3] for p in points])
        ylabel = "time per iteration (%s)" % unit
    else:
        scale, ylabel = 1.0, "efficiency (higher is better)"
    med = [p[1] / scale for p in points]
    lo = [(p[1] - p[2]) / scale for p in points]
    hi = [(p[3] - p[1]) / scale for p in points]
    width = min(16, max(6, 0.35 * len(labels) + 3))
    fig, ax = plt.subplots(figsize=(width, 4.2))
    ax.errorbar(xs, med, yerr=[lo, hi], fmt="o-", capsize=3, markersize=4, linewidth=1)
    ax.set_title(name, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    step = max(1, -(-len(labels) // MAX_TICK_LABELS))
    ticks = list(range(0, len(labels), step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([labels[i] for i in ticks], rotation=45, ha="right", fontsize=8,
                       family="monospace")
    ax.set_xlim(-0.5, len(labels) - 0.5)
    ax.grid(True, axis="y", alpha=0.3)
    fig.text(0.01, 0.01, "host %s · point: median of the repetitions, bar: min-max · * dirty tree"
             % host, fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def replace_dir(tmp, out):
    """Put directory `tmp` at `out`, replacing what was there with two renames."""
    old = None
    if os.path.exists(out):
        old = tempfile.mkdtemp(prefix=".old-", dir=os.path.dirname(out))
        os.rename(out, os.path.join(old, "plots"))
    os.rename(tmp, out)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def run(argv):
    args = parse_args(argv)
    notes = []
    found = pick_records(args, notes)
    series, kinds = collect(found, args.filter, notes)
    if not series:
        raise InputError("no metric%s in the %d records"
                         % (" matches --filter %s" % args.filter if args.filter else "", len(found)))
    labels = [r.commit[:8] + ("*" if r.dirty else "") for r in found]
    out = os.path.abspath(args.out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    # Same file system as the destination, so the final rename is atomic.
    tmp = tempfile.mkdtemp(prefix=".tmp-plots-", dir=parent)
    try:
        # mkdtemp makes it private (0700); the plots are for everyone who can read results/.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)
        used = set()
        index = ["# concbench history, host %s" % args.host, "",
                 "Commits oldest first: %s" % " ".join(labels), ""]
        for name in sorted(series):
            fname = file_name(name, used)
            draw(os.path.join(tmp, fname), name, kinds[name], series[name], labels, args.host)
            index.append("- [%s](%s)" % (name, fname))
        with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as f:
            f.write("\n".join(index) + "\n")
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for n in notes:
        note(n)
    note("wrote %d plot%s over %d commit%s (host %s) to %s"
         % (len(series), "" if len(series) == 1 else "s", len(found),
            "" if len(found) == 1 else "s", args.host, out))
    return 0


def main(argv=None):
    return cli.main(run, PROG, argv)


if __name__ == "__main__":
    sys.exit(main())
