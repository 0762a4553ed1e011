#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Proves the A/B method on this machine: how often A/A flags anything, how often a known slowdown is found.
"""Usage: scripts/calibrate.py [--trials N] [--rounds R] [--binary PATH] [--out DIR]
       scripts/calibrate.py --efficiency DIR...  (efficiency at W = 2 in saved A/A trials)

Runs N trials of scripts/ab.py's method with one build of the current checkout, copied at the
start, so a build meanwhile does not change what runs (the tests can run in a pause). A trial is
R rounds of ab.py's default subset, model by model as in ab.py: each model's processes of
three sides back to back in random order: A and A2 (the same binary, nothing changed) and S
(the same binary with the test hook CONCBENCH_TEST_SLOWDOWN making one sum model do 10% more
kernel work in odd trials, 5% in even ones; the slowed model rotates over the trials). Each
trial gives two comparisons, judged exactly as ab.py judges OLD against NEW:

  A/A       A against A2: anything flagged is a false alarm;
  10% / 5%  A against S: found when the verdict is a regression of the slowed model.

Three sides share a round to save machine time, so a pair may run a process further apart
than ab.py's two sides: the figures err pessimistic, not optimistic. The rounds are saved as
ab.py files in DIR/rounds/ (ab.py --analyse reads them; commit them with the summary), the
summary, with date, commit and machine, in DIR/summary.md and summary.json (DIR:
results/calibration/<date>/). Creating DIR/PAUSE holds the run between two rounds until it
is removed. Given the --out of an interrupted calibration, it keeps the trials saved there
and runs the rest, with the same binary on the same machine (another commit, another machine
or rounds of another method are refused).
"""
import argparse
import itertools
import functools
import glob
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict

import cli

PROG = "concbench calibrate"
cli.require(["scipy", "numpy", "pandas"], "calibration", PROG, __name__)

import ab  # noqa: E402
import records  # noqa: E402
import regress  # noqa: E402
import run_isolated  # noqa: E402
from cli import InputError  # noqa: E402
from fmt import finite, md_table, plural  # noqa: E402

MODELS = ("pool", "tbb", "openmp", "process_pool", "std_par", "threads", "seq", "fork")
FLAGGED = (regress.REGRESSION, regress.IMPROVEMENT, regress.POSSIBLE, regress.DRIFT)


say = functools.partial(cli.say, PROG)


def sides_of(trial, binary, arg=None):
    """The three sides of trial `trial` (from 0), and the name of its slowed comparison; `arg`
    is the binary as given, where `binary` is the copy that runs."""
    slowed, percent, arg = MODELS[(trial // 2) % len(MODELS)], 10 if trial % 2 == 0 else 5, arg or binary
    return ({"A": ab.Side("A", arg, binary), "A2": ab.Side("A2", arg, binary),
             "S": ab.Side("S", arg, binary, env={"CONCBENCH_TEST_SLOWDOWN": "%s:%d" % (slowed, percent)})},
            "p%d" % percent)


def outcome(name, data, trial):
    """A comparison's row of the summary: what its verdict flagged, and for a slowdown, whether
    the verdict names a regression of the slowed model (a benchmark sum/<model>/...). A trial whose
    processes failed too often for any verdict is one (no_verdict: why), counted in no rate."""
    row = {"comparison": name, "trial": trial}
    if name != "aa":
        model = data["new"]["env"]["CONCBENCH_TEST_SLOWDOWN"].split(":")[0]
        row["model"] = model
    try:
        verdict = ab.analyse(data, regress.DEFAULT_ALPHA, regress.DEFAULT_MIN_EFFECT)
    except InputError as e:  # saved already: refusing it would stop every resume of the calibration
        if not str(e).startswith(ab.NO_VERDICT):
            raise
        return dict(row, no_verdict=str(e))
    flags = [r.name for r in verdict.results if r.verdict in FLAGGED] + [b for b, _ in verdict.errors]
    row["flagged"] = flags
    if name != "aa":
        slowed = "sum/%s/" % model  # the hook slows the sum model: fetch/<model> is another
        row.update(found=any(r.verdict == regress.REGRESSION and r.name.startswith(slowed) for r in verdict.results),
                   others=[f for f in flags if not f.startswith(slowed)])
    return row


def write_summary(rows, context, rounds, hours, out):
    """DIR/summary.json and summary.md of the trials so far; returns both."""
    judged = [r for r in rows if "no_verdict" not in r]
    aa = [r for r in judged if r["comparison"] == "aa"]
    flagged = [r for r in aa if r["flagged"]]
    power = {k: [r for r in judged if r["comparison"] == k] for k in ("p10", "p5")}
    # A slowdown's other models ran unchanged in their own processes: what it flags of them is a
    # false alarm too, over more comparisons than the A/A ones.
    slowed = power["p10"] + power["p5"]
    flagged_others = sorted((r for r in slowed if r["others"]), key=lambda r: r["trial"])
    summary = {
        # the trials' date, when known: a summary written again is of them, not of today
        "date": str(context.get("date") or time.strftime("%Y-%m-%d", time.gmtime()))[:10],
        "commit": context.get("concbench_commit", "unknown"), "machine": records.machine_line(context),
        "trials": len({r["trial"] for r in rows}), "rounds": rounds, "hours": round(hours, 2),
        "no_verdict": len(rows) - len(judged),
        "aa_flagged": len(flagged),
        "p10_found": sum(1 for r in power["p10"] if r["found"]),
        "p5_found": sum(1 for r in power["p5"] if r["found"]),
        "others_flagged": len(flagged_others),
        "by_model": {m: {k: "%d/%d" % (sum(1 for r in v if r["model"] == m and r["found"]),
                                       sum(1 for r in v if r["model"] == m)) for k, v in power.items()}
                     for m in MODELS},
        "rows": rows,
    }
    results = [("A/A: comparisons that flagged anything", summary["aa_flagged"], len(aa), "at most"),
               ("10% slowdown found", summary["p10_found"], len(power["p10"]), "at least"),
               ("5% slowdown found", summary["p5_found"], len(power["p5"]), "at least"),
               ("slowdowns: comparisons that flagged a model not slowed", len(flagged_others), len(slowed),
                "at most")]
    lines = ["# A/B calibration, %s" % summary["date"], "",
             "%s; %d trials of %d rounds (%.1f hours, pauses included), ab.py's default subset."
             % (summary["machine"], summary["trials"], rounds, summary["hours"]), "",
             md_table(("comparison", "result", "the rate, 95% sure"),
                      [(what, "%d of %d" % (k, n),
                        "%s %.0f%%" % (side, 100 * regress.rate_bound(k, n, side == "at most")))
                       for what, k, n, side in results]), "",
             md_table(("model slowed", "10% found", "5% found"),
                      [(m, v["p10"], v["p5"]) for m, v in summary["by_model"].items()])]
    for what, found, key in (("the A/A comparisons", flagged, "flagged"),
                             ("the slowdowns of the models not slowed", flagged_others, "others")):
        if found:
            lines += ["", "What %s flagged: %s" % (what, "; ".join("trial %d: %s" % (r["trial"], ", ".join(r[key]))
                                                                  for r in found))]
    unjudged = [r for r in rows if "no_verdict" in r]
    if unjudged:
        lines += ["", "Left out of every rate, with no verdict: %s" % "; ".join(
            "trial %d %s: %s" % (r["trial"], r["comparison"], r["no_verdict"]) for r in unjudged)]
    text = "\n".join(lines) + "\n"
    run_isolated.write_json(summary, os.path.join(out, "summary.json"))
    with open(os.path.join(out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(text)
    return summary, text


# The efficiency report: each model's isolated runs at range, n = 1e8, W = 2 on the A/A sides.
EFFICIENCY_METRIC = "sum/%s/range/workers:2/n:100000000 efficiency"
SLOW_EFFICIENCY = 0.6  # about the one-worker time: the two slices did not run at once
# fork's median is 0.68 (each call forks and reaps), so below 0.6 is its own spread, not a slow run.
STRETCH_MODELS = tuple(m for m in MODELS if m not in ("seq", "fork"))


def efficiency_report(dirs):
    """What the A/A sides of the calibrations in `dirs` say of efficiency at W = 2: per model its
    runs, their median and the share below SLOW_EFFICIENCY; then whether slow runs are the
    model's own or come in stretches: how often both sides of a round (seconds apart) were slow
    against how often independent sides would be, and the trial with the most slow runs."""
    runs, pairs, worst, first = {m: [] for m in MODELS if m != "seq"}, [], (0, "", []), None
    for d in dirs:
        paths = sorted(glob.glob(os.path.join(d, "rounds", "trial-*-aa.json")))
        if not paths:
            raise InputError("%s holds no A/A trials (rounds/trial-NN-aa.json): give a calibration's directory" % d)
        for path in paths:
            per_round, data = [], ab.read_rounds(path)
            context = data.get("context") or {}
            first = first or (path, context)
            if not records.same_machine(first[1], context):  # never pooled in silence
                raise InputError("%s and %s ran on different machines (%s): give one machine's calibrations"
                                 % (first[0], path, "; ".join(records.machine_differences(first[1], context)[:2])))
            for r in data["rounds"]:
                slow = 0
                for m in runs:
                    sides = [r[side]["metrics"].get(EFFICIENCY_METRIC % m, (None, None))[1] for side in ab.SIDES]
                    runs[m] += [v for v in sides if v is not None]
                    if m in STRETCH_MODELS and None not in sides:
                        pairs.append([v < SLOW_EFFICIENCY for v in sides])
                        slow += sum(pairs[-1])
                per_round.append(slow)
            worst = max(worst, (sum(per_round), path, per_round))
    rows = [(m, "{:,}".format(len(v)), "%.3f" % statistics.median(v),
             "%.0f%%" % (100 * sum(x < SLOW_EFFICIENCY for x in v) / len(v))) for m, v in runs.items() if v]
    if not rows:
        raise InputError("the A/A trials in %s hold no %s" % (", ".join(dirs), EFFICIENCY_METRIC % "<model>"))
    old_slow, new_slow = (sum(p[i] for p in pairs) for i in (0, 1))
    return "\n".join([
        "Efficiency at range, n = 1e8, W = 2 on the A/A sides of %s:" % plural(len(dirs), "calibration"), "",
        md_table(("model", "runs", "median", "below %.1f" % SLOW_EFFICIENCY), rows), "",
        "Both sides of a round slow for the same model (%s): %d times, where independent sides would give "
        "%.1f (%d and %d slow sides of %s)." % (", ".join(STRETCH_MODELS), sum(all(p) for p in pairs),
                                                 old_slow * new_slow / max(len(pairs), 1), old_slow, new_slow,
                                                 plural(len(pairs), "pair")),
        "Most slow runs in one trial: %s, per round %s (of %d)." % (
            worst[1], " ".join(map(str, worst[2])), 2 * len(STRETCH_MODELS))]) + "\n"


def refuse_another(saved, new, out):
    """Trials of one calibration measure one commit on one machine: going on with another build,
    or on another machine (sessions here may land on another CPU), is refused."""
    old_commit, new_commit = saved.get("concbench_commit"), new.get("concbench_commit")
    if saved and old_commit != new_commit:
        raise InputError("%s holds trials of commit %s, this binary is commit %s: give a new --out"
                         % (out, (old_commit or "unknown")[:12], (new_commit or "unknown")[:12]))
    if saved and not records.same_machine(saved, new):
        raise InputError("%s holds trials of another machine (%s): give a new --out"
                         % (out, "; ".join(records.machine_differences(saved, new)[:2])))
    # One commit built two ways (release and sanitized, or from a dirty tree) is two builds.
    built = records.build_differences(saved, new) + records.differences(saved, new, ("concbench_dirty",))
    if saved and built:
        raise InputError("%s holds trials of another build of this commit (%s): give a new --out"
                         % (out, "; ".join(built[:2])))


def saved_trials(out, args):
    """The trials an earlier run saved in DIR/rounds (each with both comparison files), judged
    again, with their context and the hours they took; a calibration can then span sessions."""
    rows, context, hours = [], {}, 0.0
    for t in itertools.count():  # every saved trial, however many --trials asks for now
        names = ("aa", sides_of(t, args.binary)[1])
        paths = [os.path.join(out, "rounds", "trial-%02d-%s.json" % (t + 1, name)) for name in names]
        if not all(os.path.exists(p) for p in paths):
            break
        for name, path in zip(names, paths):
            data = ab.read_rounds(path)
            if ab.method_of(data) != ab.METHOD:
                raise InputError("%s ran %s, not %s as calibrate.py runs now: give a new --out"
                                 % (path, ab.method_of(data), ab.METHOD))
            try:
                rows.append(outcome(name, data, t + 1))
            except (KeyError, TypeError, AttributeError) as e:  # the slowdown an A/S trial's NEW ran with
                raise InputError("%s is not a calibration trial saved by calibrate.py (no slowdown: %s)"
                                 % (path, e)) from None
            except InputError as e:  # too few rounds for a verdict
                raise InputError("%s: %s" % (path, e)) from None
            if len(data["rounds"]) != args.rounds:  # the summary would give the rates as of --rounds
                raise InputError("%s ran %d rounds, not --rounds %d: give --rounds %d, or a new --out"
                                 % (path, len(data["rounds"]), args.rounds, len(data["rounds"])))
            context = context or data.get("context", {})
    if rows:
        try:
            with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
                saved = float(json.load(f).get("hours", 0))
            hours = saved if finite(saved) and saved >= 0 else hours  # "nan" and 1e400 are floats too
        except (OSError, ValueError, AttributeError, TypeError):  # a summary of another shape: hours unknown
            pass
    return rows, context, hours


def parse_args(argv):
    p = cli.Parser(prog="calibrate.py", description=__doc__.split("\n\n", 1)[1],
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=cli.whole(1, 1000, "a trial count"), help="default: 20")
    p.add_argument("--rounds", type=cli.whole(2, 10000, "a round count"), help="default: %d" % ab.DEFAULT_ROUNDS)
    p.add_argument("--binary", type=cli.path, help="default: build/release/benchmarks/concbench")
    p.add_argument("--out", type=cli.path, help="directory for the rounds and the summary")
    p.add_argument("--efficiency", type=cli.path, nargs="+", metavar="DIR",
                   help="run nothing: print what the A/A trials saved in these calibrations say of efficiency at W = 2")
    args = p.parse_args(argv)
    given = [flag for flag in ("trials", "rounds", "binary", "out") if getattr(args, flag) is not None]
    if args.efficiency and given:  # a flag that would do nothing is a mistake, not a wish
        raise InputError("--efficiency runs nothing, so --%s means nothing with it" % given[0])
    args.trials = 20 if args.trials is None else args.trials
    args.rounds = ab.DEFAULT_ROUNDS if args.rounds is None else args.rounds
    args.binary = args.binary or os.path.join(ab.REPO, "build", "release", "benchmarks", "concbench")
    return args


def wait_while_paused(out):
    """The machine can do other work meanwhile, outside any round: DIR/PAUSE holds the next round."""
    pause = os.path.join(out, "PAUSE")
    if os.path.exists(pause):
        say("paused: %s exists; remove it to go on" % pause)
        while os.path.exists(pause):
            time.sleep(2)


def run(argv):
    args = parse_args(argv)
    if args.efficiency:
        print(efficiency_report(args.efficiency), end="")
        return 0
    if not cli.runnable(args.binary):
        raise InputError("%s is not a built concbench binary (./bench builds build/release)" % args.binary)
    # Copies of its own for hours of rounds: a build meanwhile (the tests', ./bench's) replaces
    # build/release's binary, and after a commit the new one names the new commit. The fixture
    # server built beside it is copied beside the copy, where ab.py looks for it (Side.fixture).
    with tempfile.TemporaryDirectory(prefix="concbench-calibrate-binary-") as private:
        binary = os.path.join(private, "benchmarks", "concbench")
        fixture = ab.Side("A", args.binary, args.binary).fixture
        for source, copy in ((args.binary, binary), (fixture, os.path.join(private, "fixtures", "concbench_fixture"))):
            if source:
                os.makedirs(os.path.dirname(copy))
                shutil.copy2(source, copy)
        return calibrate(args, binary)


def calibrate(args, binary):
    """run()'s trials, with `binary` the copy of args.binary that runs."""
    out = args.out or os.path.join(ab.REPO, "results", "calibration",
                                   time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    cli.output(os.path.join(out, "rounds"), directory=True, create=True)
    # Google Benchmark's variables, had any been set, as flags the trials record (ab.py's way).
    bench_args = ab.round_args(run_isolated.flags_from_environment([]))
    rng, started = random.Random(), time.monotonic()
    rows, context, prior_hours = saved_trials(out, args)

    def hours():
        return prior_hours + (time.monotonic() - started) / 3600
    done = len({r["trial"] for r in rows})
    if done > args.trials:  # a summary of fewer would replace the one of them all
        raise InputError("%s holds %s, more than --trials %d: give --trials %d or more"
                         % (out, plural(done, "finished trial"), args.trials, done))
    if done:
        say("%s holds %s: %s" % (out, plural(done, "finished trial"), "going on from trial %d" % (done + 1)
                                 if done < args.trials else "writing their summary again"))
    if done < args.trials:  # before any round: this machine as the binary would name it, and
        this = dict(context, **records.this_machine())  # the commit its help says it is
        this["concbench_commit"] = run_isolated.built_commit(binary) or context.get("concbench_commit")
        refuse_another(context, this, out)
        groups = ab.plan(sides_of(done, binary, args.binary)[0], bench_args)
        ab.require_rounds(args.rounds, [n for _, members in groups for n in members.get("S", [])],
                          regress.DEFAULT_ALPHA, ab.TOO_FEW)
        os.makedirs(os.path.join(out, "rounds"), exist_ok=True)  # checked: DIR/PAUSE can be made from round 1
    for t in range(done, args.trials):
        sides, slow_name = sides_of(t, binary, args.binary)
        comparisons = (("aa", "A", "A2"), (slow_name, "A", "S"))
        data = {name: {"old": asdict(sides[o]), "new": asdict(sides[n]), "args": bench_args,
                       "method": ab.METHOD, "rounds": []} for name, o, n in comparisons}
        for i in range(args.rounds):
            wait_while_paused(out)
            say("trial %d of %d, round %d of %d (%d model processes of each side, A, A2 and S in random "
                "order), %.1f hours so far" % (t + 1, args.trials, i + 1, args.rounds, len(groups), hours()))
            with tempfile.TemporaryDirectory(prefix="concbench-calibrate-") as tmp:
                runs, order, unstable = ab.run_round(sides, groups, bench_args, tmp, rng)
            for result in runs.values():
                refuse_another(context, result["context"], out)
                context = context or result["context"]
                del result["context"]
            for name, o, n in comparisons:
                pair = [[model, [x for x in labels if x in (o, n)]] for model, labels in order]
                data[name]["rounds"].append({"order": pair, "unstable": unstable, "old": runs[o], "new": runs[n]})
        for name, _, _ in comparisons:
            data[name]["context"] = context
            path = os.path.join(out, "rounds", "trial-%02d-%s.json" % (t + 1, name))
            run_isolated.write_json(data[name], path, indent=None)
            rows.append(outcome(name, data[name], t + 1))
        summary, _ = write_summary(rows, context, args.rounds, hours(), out)
        say("after trial %d: A/A flagged %d, 10%% found %d, 5%% found %d"
            % (t + 1, summary["aa_flagged"], summary["p10_found"], summary["p5_found"]))
    _, text = write_summary(rows, context, args.rounds, hours(), out)
    print(text, end="")
    return 0


def main(argv=None):
    with run_isolated.Pauses.handled():  # Ctrl-Z stops the benchmark process too, and its timeout
        return cli.main(run, PROG, argv)


if __name__ == "__main__":
    sys.exit(main())
