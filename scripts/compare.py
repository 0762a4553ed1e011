#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Compares two concbench runs (files or commits) benchmark by benchmark and says which regressed.
"""Usage: scripts/compare.py OLD NEW [--alpha A] [--min-effect F] [--filter REGEX] [--json]
                             [--host NAME | --any-host] [--repo DIR] [--history DIR]

OLD and NEW are Google Benchmark JSON files, or commits (any git revision: a short or
full sha, HEAD~1, a branch), which stand for their latest record in results/history/
(a clean-tree record before a dirty one) on the same host.

Per benchmark, and per derived scaling metric (parallel efficiency of each sum model,
the efficiency counter of each fetch model), it reports the median change, the
two-sided Mann-Whitney U p-value on the repetitions, Holm-adjusted over everything
compared, and a verdict: a change counts when it is significant after the correction
AND larger than --min-effect. See scripts/regress.py for the method.

Exit status: 1 when any regression is found, 0 when none, 2 on bad input (one line
on stderr): unknown commit, no record for it, unreadable or non-benchmark file, runs
without repetitions, records from different hosts (unless --any-host).
"""
import argparse
import json
import os
import socket
import sys

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(SCRIPTS)
sys.path.insert(0, SCRIPTS)

import cli  # noqa: E402
from cli import InputError, Parser  # noqa: E402
import pyenv_check  # noqa: E402

pyenv_check.require(["scipy", "numpy", "pandas"], purpose="comparing runs",
                    prog="concbench compare", reexec=__name__ == "__main__")

import records  # noqa: E402
import regress  # noqa: E402
from bench_names import RunFileError, load_run  # noqa: E402

PROG = "concbench compare"




def fraction(text):
    """A fraction, or a percentage written with %: '0.05' and '5%' are the same."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text) from None
    if not 0 <= value < 100:
        raise argparse.ArgumentTypeError("out of range: %r" % text)
    return value


def parse_args(argv):
    p = Parser(prog="compare.py", description="\n\n".join(__doc__.split("\n\n")[1:]),
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("old", metavar="OLD", help="baseline: a run file or a commit")
    p.add_argument("new", metavar="NEW", help="candidate: a run file or a commit")
    p.add_argument("--alpha", type=fraction, default=regress.DEFAULT_ALPHA,
                   help="family-wise significance level, Holm-corrected (default 0.05)")
    p.add_argument("--min-effect", type=fraction, default=regress.DEFAULT_MIN_EFFECT,
                   help="smallest median change that counts, as 0.05 or 5%% (default 5%%)")
    p.add_argument("--filter", metavar="REGEX", type=cli.regex,
                   help="compare only metrics whose name matches (re.search)")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--any-host", action="store_true",
                   help="allow OLD and NEW from different hosts (and commits from any host)")
    p.add_argument("--host", help="host whose records stand for a commit (default: the other "
                                  "side's host if it is a file, else this machine's)")
    p.add_argument("--repo", default=REPO, help="git repository commits refer to (default: this one)")
    p.add_argument("--history", help="directory of records (default: REPO/results/history)")
    args = p.parse_args(argv)
    if not 0 < args.alpha < 1:
        raise InputError("--alpha must be between 0 and 1 (exclusive)")
    if args.history is None:
        args.history = os.path.join(args.repo, "results", "history")
    return args


def looks_like_file(arg):
    return os.path.exists(arg) or arg.endswith(".json") or os.sep in arg


def resolve_commit(arg, args, host, label, notes):
    """The record path that commit `arg` stands for (see the module docstring)."""
    sha = records.resolve_rev(args.repo, arg)
    if sha is None:
        # A short sha of a record whose commit git no longer has (rebased away, another clone).
        if len(arg) >= 4 and all(c in "0123456789abcdef" for c in arg.lower()):
            found = records.scan_records(args.history, commit_prefix=arg.lower())
            commits = sorted({r.commit for r in found})
            if len(commits) > 1:
                raise InputError("%s %s is ambiguous: records of %d commits start with it (%s)"
                                 % (label, arg, len(commits), ", ".join(c[:12] for c in commits)))
            if commits:
                sha = commits[0]
        if sha is None:
            raise InputError("%s %s is not a file, nor a commit known to git in %s"
                             % (label, arg, args.repo))
    found = records.scan_records(args.history, commit_prefix=sha)
    if not found:
        raise InputError("%s: no record of commit %s in %s; record one with: git checkout %s && "
                         "%s" % (label, sha[:12], args.history, sha[:12], regress.HOW_TO_REPEAT
                                 % regress.RECOMMENDED_REPETITIONS))
    if host is not None:
        on_host = [r for r in found if records.same_host(r.host, host)]
        if not on_host:
            hosts = sorted({r.host or "unknown" for r in found})
            raise InputError("%s: no record of commit %s from host %s (there are from: %s; "
                             "--host NAME or --any-host to use them)"
                             % (label, sha[:12], host, ", ".join(hosts)))
        found = on_host
    rec = records.latest_record(found)
    if rec.dirty is not False:
        notes.append("%s %s stands for its record %s, made from a %s work tree"
                     % (label, arg, rec.path, "dirty" if rec.dirty else "possibly dirty"))
    return rec.path


def load_side(path, label):
    try:
        run = load_run(path)
    except RunFileError as e:
        raise InputError("%s: %s" % (label, e)) from None
    problem = regress.repetitions_problem(run, label)
    if problem:
        raise InputError(problem)
    return run


def resolve_sides(args, notes):
    """(old path, new path), resolving commits to records on the right host."""
    paths = {}
    files = {}
    for label, arg in (("OLD", args.old), ("NEW", args.new)):
        if looks_like_file(arg):
            if not os.path.isfile(arg):
                raise InputError("%s %s: no such file" % (label, arg))
            files[label] = arg
    file_hosts = {}
    for label, path in files.items():
        rec = records.read_record(path)
        file_hosts[label] = rec.host if rec else ""
    for label, arg in (("OLD", args.old), ("NEW", args.new)):
        if label in files:
            paths[label] = files[label]
            continue
        other = "NEW" if label == "OLD" else "OLD"
        if args.host:
            host = args.host
        elif args.any_host:
            host = None
        elif file_hosts.get(other):
            host = file_hosts[other]
        else:
            host = socket.gethostname()
        paths[label] = resolve_commit(arg, args, host, label, notes)
    return paths["OLD"], paths["NEW"]


def side_info(run):
    rec = records.record_from_context(run.path, run.context)
    return {"path": run.path, "commit": rec.commit, "dirty": rec.dirty, "host": rec.host,
            "date": rec.date}


def render_table(cmp, old_run, new_run, out):
    def side(label, run):
        i = side_info(run)
        return "%s %s  (commit %s%s, host %s, %s)" % (
            label, i["path"], i["commit"][:12], " DIRTY" if i["dirty"] else "",
            i["host"] or "unknown", i["date"] or "date unknown")

    print(side("OLD", old_run), file=out)
    print(side("NEW", new_run), file=out)
    header = ("verdict", "change", "old median", "new median", "p(Holm)", "reps", "metric")
    rows = []
    for r in cmp.results:
        rows.append((r.verdict if r.tested else "untested", regress.fmt_change(r.change),
                     regress.fmt_value(r.median_old, r.kind), regress.fmt_value(r.median_new, r.kind),
                     regress.fmt_p(r.p_holm), "%d/%d" % (r.n_old, r.n_new), r.name))
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    aligns = "<>>>>><"

    def line(cells):
        parts = [(c.ljust(w) if a == "<" else c.rjust(w)) for c, w, a in zip(cells, widths, aligns)]
        return "  ".join(parts).rstrip()

    print(line(header), file=out)
    for row in rows:
        print(line(row), file=out)
    for label, names in (("only in OLD", cmp.only_old), ("only in NEW", cmp.only_new)):
        if names:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            print("not compared, %s (%d): %s" % (label, len(names), shown), file=out)
    if cmp.untested:
        print("not tested, fewer than 2 repetitions on a side (%d): %s"
              % (len(cmp.untested), ", ".join(cmp.untested[:5]) + (", ..." if len(cmp.untested) > 5 else "")),
              file=out)
    print("%d regression%s, %d improvement%s, %d no change; %d compared: two-sided Mann-Whitney U "
          "on the repetitions, Holm-corrected over %d, alpha %g, min effect %g%%"
          % (cmp.count(regress.REGRESSION), "" if cmp.count(regress.REGRESSION) == 1 else "s",
             cmp.count(regress.IMPROVEMENT), "" if cmp.count(regress.IMPROVEMENT) == 1 else "s",
             cmp.count(regress.NO_CHANGE), len(cmp.results), cmp.tests, cmp.alpha,
             100 * cmp.min_effect), file=out)


def render_json(cmp, old_run, new_run, out):
    doc = {
        "old": side_info(old_run), "new": side_info(new_run),
        "method": {"test": "scipy.stats.mannwhitneyu two-sided", "correction": "holm",
                   "alpha": cmp.alpha, "min_effect": cmp.min_effect, "tests": cmp.tests,
                   "change": "median(new) / median(old) - 1"},
        "summary": {v: cmp.count(v) for v in (regress.REGRESSION, regress.IMPROVEMENT, regress.NO_CHANGE)},
        "results": [r.as_dict() for r in cmp.results],
        "only_old": cmp.only_old, "only_new": cmp.only_new, "untested": cmp.untested,
    }
    json.dump(doc, out, indent=2, allow_nan=False)
    out.write("\n")


def run(argv):
    args = parse_args(argv)
    notes = []  # printed only once the comparison stands: bad input is one line
    old_path, new_path = resolve_sides(args, notes)
    old_run, new_run = load_side(old_path, "OLD"), load_side(new_path, "NEW")
    old_rec = records.record_from_context(old_path, old_run.context)
    new_rec = records.record_from_context(new_path, new_run.context)
    if not args.any_host and old_rec.host and new_rec.host and not records.same_host(old_rec.host, new_rec.host):
        raise InputError("OLD was recorded on host %s and NEW on host %s; times from different "
                         "machines are not comparable (--any-host to compare them anyway)"
                         % (old_rec.host, new_rec.host))
    old_m = regress.filter_metrics(regress.metrics_from_run(old_run), args.filter)
    new_m = regress.filter_metrics(regress.metrics_from_run(new_run), args.filter)
    if not any(n in new_m for n in old_m):
        raise InputError("OLD and NEW have no benchmark in common%s"
                         % (" matching --filter %s" % args.filter if args.filter else ""))
    cmp = regress.compare(old_m, new_m, alpha=args.alpha, min_effect=args.min_effect)
    if not cmp.detectable:
        # Exit 0 here would read as "no regression" when nothing could have been found.
        reps = max((min(r.n_old, r.n_new) for r in cmp.results if r.tested), default=1)
        need = max(regress.RECOMMENDED_REPETITIONS, regress.repetitions_needed(max(cmp.tests, 1), args.alpha))
        raise InputError("too few repetitions to find anything: with %d repetitions per side no p-value can pass "
                         "alpha %g Holm-corrected over %d comparisons; more repetitions are needed: %s"
                         % (reps, args.alpha, cmp.tests, regress.HOW_TO_REPEAT % need))
    for n in notes:
        print("%s: note: %s" % (PROG, n), file=sys.stderr)
    (render_json if args.json else render_table)(cmp, old_run, new_run, sys.stdout)
    return 1 if cmp.regressions else 0


def main(argv=None):
    return cli.main(run, PROG, argv)


if __name__ == "__main__":
    sys.exit(main())
