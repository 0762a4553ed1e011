#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Compares two recorded runs (files or commits) against the between-run noise of this machine's history.
"""Usage: scripts/compare.py OLD NEW [--alpha A] [--min-effect F] [--filter REGEX] [--json]
                             [--any-host] [--repo DIR] [--history DIR]

OLD and NEW are Google Benchmark JSON files, or commits (any git revision), which stand
for their record in results/history/: the newest full run from a clean tree on this
machine (a quick or partial one from a clean tree only when there is no full one; never a
run from a work tree with uncommitted changes).

Two records are one run each, and two runs of the same commit differ by more than the
repetitions inside either. So each metric's change, NEW/OLD of the records' medians, is
judged against that metric's between-run noise in this machine's other full records
(see scripts/regress.py); quick and partial runs measure with other flags. A metric with
fewer than five other full records is not judged; with
none judged there is no verdict, and scripts/ab.py OLD NEW measures one.

Records from different machines (host, CPU model, vector extensions, cores, memory,
kernel) are compared only with --any-host; other differences (compiler, flags, library
versions, settings) are printed as notes.

Exit status: 1 when NEW regressed (a time, or a benchmark that errors in NEW, in any of
its repetitions, and did not in OLD or erred there only in some), 0 when not, 2 on bad
input (one line on stderr) or when too little history allows no verdict, 3 when it could not
finish (no room for its output, or a bug).
"""
import argparse
import math
import os
import re
import sys

import cli
from cli import InputError, Parser

PROG = "concbench compare"
cli.require(["scipy", "numpy", "pandas"], "comparing runs", PROG, __name__)

import metrics  # noqa: E402
import records  # noqa: E402
import regress  # noqa: E402
from bench_names import RunFileError  # noqa: E402
from fmt import plural  # noqa: E402


# What a side that is not a full run was measured with, which the full runs' noise does not describe.
NOT_FULL = {records.QUICK: "quick run (one repetition of at least 0.02 s, whose noise is larger: its p-values "
                           "are too small)",
            records.PARTIAL: "partial run (its flags may have measured otherwise than the full runs)"}


def parse_args(argv):
    p = Parser(prog="compare.py", description=__doc__.split("\n\n", 1)[1],
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("old", metavar="OLD", help="baseline: a run file or a commit")
    p.add_argument("new", metavar="NEW", help="candidate: a run file or a commit")
    p.add_argument("--alpha", type=cli.significance, default=regress.DEFAULT_ALPHA)
    p.add_argument("--min-effect", type=cli.fraction, default=regress.DEFAULT_MIN_EFFECT,
                   help="smallest change that counts, 0.03 or 3%% (default 3%%)")
    p.add_argument("--filter", metavar="REGEX", type=cli.regex, help="only metrics whose name matches")
    p.add_argument("--json", action="store_true", help="the verdict as JSON on stdout")
    p.add_argument("--any-host", action="store_true", help="compare records from different machines")
    cli.repo_options(p, "git repository commits refer to (default: this one)")
    args = p.parse_args(argv)
    args.history = args.history or cli.history_dir(args.repo)
    if not os.path.isdir(args.history):
        raise InputError("--history %s is not a directory of records" % args.history)
    return args


def resolve_commit(arg, args, machine, label):
    """The record that commit `arg` stands for, from `machine` (an identity) unless --any-host."""
    sha = records.resolve_rev(args.repo, arg)
    if sha is None and re.fullmatch(r"[0-9a-fA-F]{4,}", arg):
        # A short sha of a record whose commit git no longer has (rebased away, another clone).
        commits = sorted({r.commit for r in records.scan_records(args.history, commit_prefix=arg.lower())})
        if len(commits) > 1:
            raise InputError("%s %s is ambiguous: records of %d commits start with it (%s)"
                             % (label, arg, len(commits), ", ".join(c[:12] for c in commits)))
        sha = commits[0] if commits else None
    if sha is None:
        raise InputError("%s %s is not a file, nor a commit known to git in %s" % (label, arg, args.repo))
    found = [r for r in records.scan_records(args.history, commit_prefix=sha)
             if args.any_host or records.same_machine(r.context, machine)]
    if not found:
        raise InputError("%s: no record of commit %s from this machine in %s; record one with: git checkout "
                         "%s && ./bench, or measure both with scripts/ab.py"
                         % (label, sha[:12], args.history, sha[:12]))
    # A dirty tree is not the commit: a clean partial record stands for it before a dirty full one.
    rec = records.latest_record([r for r in found if r.dirty is False])
    if rec is None:
        raise InputError("%s: commit %s has only records from a work tree with uncommitted changes, which "
                         "are not the commit (%s); compare that file by name, or record the commit from a "
                         "clean tree" % (label, sha[:12], records.latest_record(found).path))
    return rec.path


def side_paths(args):
    """{"OLD": path, "NEW": path}: each side's file, or the record its commit stands for."""
    sides = {"OLD": args.old, "NEW": args.new}
    paths = {label: arg for label, arg in sides.items()
             if os.path.exists(arg) or arg.endswith(".json")}  # a file; else a revision (main, origin/main)
    for label, path in paths.items():
        if not os.path.isfile(path):  # each is read twice, so a FIFO would not do
            raise InputError("%s %s: %s" % (label, path, "a directory, not a file" if os.path.isdir(path)
                                            else "not a regular file" if os.path.exists(path) else "no such file"))
    for label, other in (("OLD", "NEW"), ("NEW", "OLD")):
        if label not in paths:
            # A commit stands for its record from the machine of the other side's file, else this one.
            other_record = records.read_record(paths[other]) if other in paths else None
            machine = other_record.context if other_record else records.this_machine()
            paths[label] = resolve_commit(sides[label], args, machine, label)
    return paths


def load(path, label):
    try:
        return metrics.run_metrics(path)
    except RunFileError as e:
        raise InputError("%s: %s" % (label, e)) from None


def history_noise(args, machines, builds, exclude):
    """{metric: (sigma, differences)} from the other full records of these machines, oldest first,
    from clean trees and without test hooks (as history.py's series): a quick run's one short
    repetition and a partial run's other flags measure with another noise, a dirty tree or a
    hook's slowdown (calibrate.py's) another code."""
    exclude = {os.path.realpath(p) for p in exclude}  # OLD and NEW as typed, the history's absolute
    # Of OLD's or NEW's build too: another build's records (a sanitized binary's) vary otherwise.
    found = [r for r in records.scan_records(args.history) if os.path.realpath(r.path) not in exclude
             and not records.not_a_full_run(r) and any(records.same_machine(r.context, m) for m in machines)
             and any(not records.build_differences(r.context, b) for b in builds)]
    series = metrics.metric_series(sorted(found, key=lambda r: (r.when, r.path)), None, [])[0]
    return {name: regress.between_run_sigma(values) for name, values in series.items()}, len(found)


def judge(old, new, noise, alpha):
    """A regress.Result per metric of both runs, with p and interval where the noise is known."""
    results = []
    for name, m in old.items():
        if name not in new or m.value <= 0 or new[name].value <= 0:
            continue
        d = math.log(new[name].value / m.value)
        sigma, k = noise.get(name, (math.nan, 0))
        r = regress.Result(name=name, kind=m.kind, old=m.value, new=new[name].value, ratio=math.exp(d),
                           low=math.nan, high=math.nan, n=k)
        if k >= regress.MIN_HISTORY_DIFFS and sigma > 0 and m.kind != metrics.EFFICIENCY:
            r.p, r.low, r.high = regress.history_test(d, sigma, k, alpha)
        results.append(r)
    return results


def run(argv):
    args = parse_args(argv)
    paths = side_paths(args)
    old, errors_old, ctx_old = load(paths["OLD"], "OLD")
    new, errors_new, ctx_new = load(paths["NEW"], "NEW")
    notes = []
    if not records.same_machine(ctx_old, ctx_new):
        why = "; ".join(records.machine_differences(ctx_old, ctx_new))
        if not args.any_host:
            raise InputError("OLD and NEW were recorded on different machines (%s); times from different "
                             "machines are not comparable (--any-host to compare them anyway)" % why)
        notes.append("different machines, compared because of --any-host: " + why)
    notes += ["differs: " + d for d in records.differences(ctx_old, ctx_new, records.SETTINGS)
              + records.syscall_difference(ctx_old, ctx_new)]
    scopes = {label: records.record_from_context(paths[label], ctx).scope
              for label, ctx in (("OLD", ctx_old), ("NEW", ctx_new))}
    notes += ["%s is a %s, judged against the between-run noise of full runs" % (label, NOT_FULL[scope])
              for label, scope in scopes.items() if scope != records.FULL]
    notes += ["%s was recorded in an unstable environment: %s" % (label, ctx["environment_unstable"])
              for label, ctx in (("OLD", ctx_old), ("NEW", ctx_new))
              if ctx.get("environment_unstable") not in (None, "", "no")]
    keep = cli.name_filter(args.filter)  # without --filter, every name
    old, new, errors_old, errors_new = ({k: v for k, v in d.items() if keep(k)}
                                        for d in (old, new, errors_old, errors_new))
    if not any(n in new for n in old) and not errors_new:
        raise InputError("OLD and NEW have no benchmark in common%s"
                         % (" matching --filter %s" % args.filter if args.filter else ""))
    # The noise of NEW's machine; with --any-host, of either side's.
    machines = [ctx_new, ctx_old] if args.any_host else [ctx_new]
    noise, n_history = history_noise(args, machines, [ctx_old, ctx_new], {paths["OLD"], paths["NEW"]})
    results = judge(old, new, noise, args.alpha)
    errors, error_notes = regress.judge_errors(
        regress.error_weights(errors_new, new), regress.error_weights(errors_old, old),
        lambda side, b: (errors_new if side == "new" else errors_old)[b])
    notes += error_notes
    notes += regress.one_side_notes([list(old), list(new)], set(errors_old) | set(errors_new))
    tested = [r for r in results if math.isfinite(r.p)]
    untested = sum(1 for r in results if r.kind != metrics.EFFICIENCY and not math.isfinite(r.p))
    ab = "scripts/ab.py %s %s" % tuple(str(c.get("concbench_commit", side))[:12]
                                       for c, side in ((ctx_old, "OLD"), (ctx_new, "NEW")))
    # Only times decide: machine bounds alone, judged or not, would pass for "no regression".
    if not any(r.kind == metrics.TIME for r in results) and not errors:  # no history would help
        raise InputError("no verdict: OLD and NEW have no time measured in both%s%s"
                         % (" matching --filter %s" % args.filter if args.filter else "",
                            " (only peak/*, the machine's bounds, which are drift)" if results else ""))
    if not any(r.kind == metrics.TIME for r in tested) and not errors:
        raise InputError("too little history to tell a change from noise: %s of this machine in %s, and a "
                         "time needs %d; measure OLD against NEW with: %s"
                         % (plural(n_history, "other full record"), args.history, regress.MIN_HISTORY_DIFFS + 1, ab))
    if untested:
        notes.append("%s not judged: fewer than %d other full records of this machine have them (scripts/ab.py "
                     "measures them)" % (plural(untested, "metric"), regress.MIN_HISTORY_DIFFS + 1))
    method = ("one record a side, judged against the between-run noise of %d full records of this machine, "
              "Holm over %d times" % (n_history, sum(r.kind == metrics.TIME for r in tested)))
    verdict = regress.Verdict(results=regress.judge(results, args.alpha, args.min_effect), errors=errors,
                              notes=notes, alpha=args.alpha, min_effect=args.min_effect, method=method).suspect()
    suspects = [r.name for r in verdict.results if r.verdict in regress.SUSPECTED.values()]
    if suspects:  # what confirms them: both builds, here, now, in interleaved rounds
        notes.append("one record a side cannot tell a slow process from a change: confirm with %s "
                     "--benchmark_filter='^(%s)/'" % (ab, "|".join(re.escape(n) for n in suspects)))
    if args.json:
        regress.render_json(verdict, {"old": paths["OLD"], "new": paths["NEW"],
                                      "machine": records.identity(ctx_new)}, sys.stdout)
    else:
        regress.render_table(verdict, ["%s %s" % (label, records.read_record(paths[label]).describe())
                                       for label in ("OLD", "NEW")], sys.stdout)
    return 1 if verdict.regressed else 0


def main(argv=None):
    return cli.main(run, PROG, argv)


if __name__ == "__main__":
    sys.exit(main())
