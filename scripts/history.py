#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Finds the commits where a benchmark's level stepped in this machine's records, and draws them on a page.
"""Usage: scripts/history.py [--filter REGEX] [--out DIR] [--like RECORD] [--min-effect F]
                             [--repo DIR] [--history DIR]

Reads the records in results/history/ made on this machine (or on --like RECORD's):
one per commit of the current branch, the newest full run from a clean tree (records of
other commits, dirty trees, other machines, test hooks, quick or partial runs are left out, and counted). Each metric's
series over the commits (times, efficiencies, the machine's bounds; --filter selects by
name) is searched for change points with E-Divisive means and permutation tests, with
Benjamini-Hochberg at 5% over the metrics (scripts/regress.py); a step counts when the level
moves by more than --min-effect (default 3%).

OUT/README.md lists every step with its commit, the level before and after, the change,
and the machine settings that changed with it (and names the records made in an unstable
environment); OUT/history.png has a panel per metric that stepped, the commits in branch order
on the x axis (a commit without a record is a gap). OUT (default results/history/page/)
gets both at once, or neither (a history.png of an earlier page goes when nothing stepped);
nothing else in OUT is touched, and an OUT whose README.md is not such a page is refused.
"""
import argparse
import collections
import itertools
import math
import os
import sys

import cli
from cli import InputError, Parser

PROG = "concbench history"
cli.require(["matplotlib", "scipy", "numpy", "pandas"], "the history page", PROG, __name__)

import metrics  # noqa: E402
import records  # noqa: E402
import regress  # noqa: E402
from fmt import md_table, plural, time_unit  # noqa: E402

CHANGE_ALPHA = 0.05  # Benjamini-Hochberg's false discovery rate over the metrics
MAX_PANELS = 30


def parse_args(argv):
    p = Parser(prog="history.py", description=__doc__.split("\n\n", 1)[1],
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filter", metavar="REGEX", type=cli.regex, help="only metrics whose name matches")
    p.add_argument("--out", type=cli.path, help="output directory (default: HISTORY/page)")
    p.add_argument("--like", type=cli.path, metavar="RECORD",
                   help="the records of RECORD's machine (default: this one's)")
    p.add_argument("--min-effect", type=cli.fraction, default=regress.DEFAULT_MIN_EFFECT)
    cli.repo_options(p, "git repository whose branch orders the commits")
    args = p.parse_args(argv)
    args.history = args.history or cli.history_dir(args.repo)
    args.out = args.out or os.path.join(args.history, "page")
    return args


def pick_records(args, notes):
    """(commits of the branch oldest first, {commit: record}): one record per commit."""
    like = records.read_record(args.like) if args.like else None
    if args.like and like is None:
        raise InputError("--like %s is not a readable record" % args.like)
    machine = like.context if like else records.this_machine()
    found = records.scan_records(args.history)
    if not found:
        raise InputError("no records in %s; ./bench makes one per run" % args.history)
    try:
        order = records.commit_order(args.repo)
    except records.GitError as e:
        raise InputError("cannot list the commits of %s: %s" % (args.repo, e)) from None
    other_build = "of another build (compiler, flags, build type or libraries) than %s" % (
        "--like's" if like else "that of most commits")
    usable, candidates, skipped = {}, [], collections.Counter()
    for r in found:
        # A quick or partial run measured with other flags: beside full runs it would be a step.
        why = ("of another machine" if not records.same_machine(r.context, machine) else
               records.not_a_full_run(r) or ("of commits off this branch" if r.commit not in order else None))
        if why:
            skipped[why] += 1
        else:
            candidates.append(r)
    # One build's series, --like's or that of most commits (the newest on a tie): another build's
    # records (a sanitized or clang binary's) would read as steps. Commits, not records: many
    # runs of one commit do not outvote a series; the newest record alone would.
    # Judged by the keys every candidate records, as build_differences skips a key one lacks:
    # records from before a key was recorded (native_target) are not another build for it.
    common = [k for k in records.BUILD if all(r.context.get(k) not in (None, "") for r in candidates)]

    def build_of(r):
        return tuple(str(r.context[k]) for k in common)
    commits = collections.Counter(build_of(r) for r in {(r.commit, build_of(r)): r for r in candidates}.values())
    build = like.context if like else max(candidates, key=lambda r: (commits[build_of(r)], r.when, r.path)
                                          ).context if candidates else {}
    for r in candidates:
        if records.build_differences(r.context, build):
            skipped[other_build] += 1
        else:
            usable.setdefault(r.commit, []).append(r)
    notes += ["left out %s %s" % (plural(count, "record"), why) for why, count in skipped.items() if count]
    if not usable:
        raise InputError("none of the %s in %s is a clean full record of this branch from %s"
                         % (plural(len(found), "record"), args.history, "--like's machine" if args.like else "this machine"))
    first = min(order[c] for c in usable)
    return list(order)[first:], {c: records.latest_record(rs) for c, rs in usable.items()}


def steps_of(series, min_effect):
    """{metric: [(index into its values, p, level before, level after, first)]} of the steps in
    series with gaps: `first` is the first index after the record before the step; where the
    commits between had no record, the step lies anywhere from first to index."""
    present = {name: [(i, v) for i, v in enumerate(values) if v is not None and v > 0]
               for name, values in series.items()}
    points = regress.change_points({name: [math.log(v) for _, v in p] for name, p in present.items()},
                                   alpha=CHANGE_ALPHA)
    out = {}
    for name, found in points.items():
        bounds = [0] + [k for k, _ in found] + [len(present[name])]
        out[name] = []
        for j, (k, p) in enumerate(found):
            before = metrics.median([v for _, v in present[name][bounds[j]:k]])
            after = metrics.median([v for _, v in present[name][k:bounds[j + 2]]])
            if abs(after / before - 1) > min_effect:
                out[name].append((present[name][k][0], p, before, after, present[name][k - 1][0] + 1))
    return out


def draw(path, changed, series, kinds, commits):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(changed)[:MAX_PANELS]
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        # In the unit that fits, 291 ns or 1.62 s, as on the results page; the axis keeps the
        # digits a 1% step needs (3-digit labels repeated: 3.84 ms, 3.84 ms).
        scale, unit = (1.0, None) if kinds[name] == metrics.EFFICIENCY else time_unit(
            metrics.median(series[name]))
        ys = [v / scale if v is not None else math.nan for v in series[name]]  # NaN: a gap in the line
        ax.plot(range(len(ys)), ys, "o-", markersize=3, linewidth=1)
        for index, _, before, after, first in changed[name]:
            if first < index:  # unrecorded commits before it: the step may be at any of them
                ax.axvspan(first - 0.5, index - 0.5, color="tab:red", alpha=0.15, linewidth=0)
            else:
                ax.axvline(index - 0.5, color="tab:red", linewidth=1, linestyle="--")
            ax.annotate("%s %+.0f%%" % (commit_range(commits, first, index), 100 * (after / before - 1)),
                        (first - 0.5, 1), xycoords=("data", "axes fraction"), fontsize=7, color="tab:red",
                        ha="left", va="top")
        ax.set_title(wrapped(name), fontsize=7)
        ax.set_ylabel("efficiency" if unit is None else "time (%s)" % unit, fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_xticks([])
        ax.set_xlabel("commits of the branch, oldest first", fontsize=6)
        ax.margins(y=0.15)  # fitted to the data, not forced to zero: the step is what matters
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def wrapped(name, width=70):
    """A metric's name on lines of at most `width` characters, broken after a slash: a name of
    the open loop's (118 characters) ran into the next panel's title."""
    lines = [""]
    for part in name.replace("/", "/\0").split("\0"):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


def commit_range(commits, first, index):
    """The commit a step is at, or the commits it may be at (`first`..`index`, those before index unrecorded)."""
    return commits[index][:8] if first == index else "%s..%s" % (commits[first][:8], commits[index][:8])


def setting_changes(chosen, commits, first, index):
    """The machine settings (records.MACHINE_SETTINGS) that differ between the record before a step
    and the step's own: a step where cpu_idle or a CPU quota changed may be the machine's, not
    the commit's. "-" when none did."""
    return "; ".join(records.differences(chosen[commits[first - 1]].context, chosen[commits[index]].context,
                                         records.MACHINE_SETTINGS)) or "-"


def unstable_line(chosen):
    """A line naming the records made in an unstable environment, which the series holds; "" if none."""
    unstable = [(c, r.context["environment_unstable"]) for c, r in chosen.items()
                if r.context.get("environment_unstable") not in (None, "", "no")]
    if not unstable:
        return ""
    return ("Made in an unstable environment, and in the series as they are: %d of the %d records (%s: %s%s)."
            % (len(unstable), len(chosen), unstable[0][0][:8], unstable[0][1],
               "; and %d more" % (len(unstable) - 1) if len(unstable) > 1 else ""))


def records_needed(n_metrics):
    """How many records a step needs before its permutation p-value can pass Benjamini-Hochberg's
    first threshold, alpha / metrics: of n values' orderings, at best 2 in C(n, n // 2) split them
    as their own order does (the split and its mirror)."""
    return next(n for n in itertools.count(2) if 2 / math.comb(n, n // 2) <= CHANGE_ALPHA / n_metrics)


TITLE = "# concbench history: where the numbers stepped"


def page(changed, kinds, commits, chosen, subjects, n_metrics, args):
    lines = [TITLE, "",
             "%d commits of this branch from %s, %d with a record; %d metrics searched with E-Divisive "
             "means and Benjamini-Hochberg over them at %g (noise alone: a step on at most %g%% of pages), "
             "change above %g%%." % (len(commits), commits[0][:12], len(chosen), n_metrics, CHANGE_ALPHA,
                                     100 * CHANGE_ALPHA, 100 * args.min_effect), ""]
    if not changed and len(chosen) < records_needed(n_metrics):
        # Many metrics stepping together pass at a higher level; one alone must pass alpha / m.
        lines += ["With %s no step of one metric alone can be found among %d metrics: it takes %d "
                  "(a split's p-value cannot go below 2 / C(n, n/2), and the first threshold is %g / %d)."
                  % (plural(len(chosen), "record"), n_metrics, records_needed(n_metrics), CHANGE_ALPHA,
                     n_metrics), ""]
    unstable = unstable_line(chosen)
    lines += [unstable, ""] if unstable else []
    if not changed:
        return "\n".join(lines + ["No metric stepped.", ""])
    lines += ["![the metrics that stepped](history.png)", ""]
    if len(changed) > MAX_PANELS:
        lines += ["The figure shows the first %d of %d; the table lists all." % (MAX_PANELS, len(changed)), ""]
    rows = [("`%s`" % name, "`%s` %s" % (commit_range(commits, first, index),
                                          subjects.get(commits[index], "")[:60] if first == index else
                                          "(at one of these %d commits: only the last measured it)"
                                          % (index - first + 1)),
             regress.fmt_value(before, kinds[name], "µs"), regress.fmt_value(after, kinds[name], "µs"),
             "%+.1f%%" % (100 * (after / before - 1)), regress.fmt_p(p),
             setting_changes(chosen, commits, first, index))
            for name, steps in changed.items() for index, p, before, after, first in steps]
    head = ("metric", "commit", "before", "after", "change", "p", "machine settings changed")
    return "\n".join(lines + [md_table(head, rows)]) + "\n"


def run(argv):
    args = parse_args(argv)
    cli.check_page_out(args.out, TITLE, ["README.md", "history.png"], "a history page")  # before the search
    notes = []
    commits, chosen = pick_records(args, notes)
    series, kinds = metrics.metric_series([chosen.get(c) for c in commits], cli.name_filter(args.filter),
                                          notes)
    if not series:
        matching = " matches --filter %s" % args.filter if args.filter else ""
        raise InputError("no metric%s in the %s" % (matching, plural(len(chosen), "record")))
    steps = steps_of(series, args.min_effect)
    changed = {name: steps[name] for name in sorted(series) if steps[name]}
    try:  # the commits' subjects for the table; without them it names the commits alone
        subjects = dict(line.partition(" ")[::2] for line in
                        records.git(args.repo, "log", "--format=%H %s", "HEAD").splitlines())
    except records.GitError:
        subjects = {}
    out = os.path.abspath(args.out)

    def build(tmp):
        if changed:
            draw(os.path.join(tmp, "history.png"), changed, series, kinds, commits)
        with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as f:
            f.write(page(changed, kinds, commits, chosen, subjects, len(series), args))

    cli.publish(out, ["history.png", "README.md"], build)
    for line in notes + ["%d of %d metrics stepped over %d commits; wrote %s"
                         % (len(changed), len(series), len(commits), out)]:
        cli.say(PROG, line)
    return 0


def main(argv=None):
    return cli.main(run, PROG, argv)


if __name__ == "__main__":
    sys.exit(main())
