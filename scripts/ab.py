#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Measures whether NEW is slower than OLD: interleaved rounds of fresh processes, process medians as the unit.
"""Usage: scripts/ab.py OLD NEW [--rounds R] [--alpha A] [--min-effect F] [--json]
                        [--out FILE] [--repo DIR] [--process-timeout SECONDS]
                        [benchmark and suite flags ...]
       scripts/ab.py --analyse FILE [--alpha A] [--min-effect F] [--json]

OLD and NEW are commits (each built in a temporary worktree, one build when they are the
same commit) or built concbench binaries. R rounds run, each model by model in random order:
one fresh process of OLD and one of NEW for that model, back to back in random order (a sum
model's range and array in one process, as the calibration ran them; ./bench runs them apart),
with --benchmark_enable_random_interleaving, 3 repetitions and --benchmark_min_time=0.02
unless the flags given say otherwise. A process that runs longer than --process-timeout
(default 900 s) is stopped and fails, as a fixture server that does not start fails the
fetch models of its round: the other rounds still judge them. By default a representative
subset runs (SUBSET: sum range at n = 1e5, 1e7, 1e8 for seq and the W = 2 models but mpi,
array at 1e5, 1e7 for those but fork; fetch pool, multi_socket and coro at C = 100 and 0 ms and
at C = 1,000 and 100 ms; --benchmark_filter=REGEX picks another). Each round gives each metric
one paired sample, NEW/OLD of the process medians, judged as scripts/regress.py says.

The rounds are saved when all have run (--out FILE, default results/ab/<date>-<old>-<new>.json)
and --analyse FILE judges a saved file again, with other --alpha or --min-effect; rounds too few
for any p-value to pass Holm's threshold are refused as inconclusive.

Exit status: 1 when NEW regressed (a time beyond the minimum effect, Holm-significant,
or a benchmark other than peak/* whose errors weigh more in NEW than in OLD: a round weighs 2
where it measured nothing, 1 where some repetitions erred), 0 when not, 2 on bad input or
inconclusive rounds (one line on stderr; no worktree, build or partial file is left),
3 when it could not finish (no room for its output, or a bug), 130 interrupted.
"""
import argparse
import collections
import contextlib
import functools
import glob
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

import cli
from cli import REPO, InputError

PROG = "concbench ab"
cli.require(["scipy", "numpy", "pandas"], "A/B comparisons", PROG, __name__)

import metrics  # noqa: E402
import records  # noqa: E402
import regress  # noqa: E402
import run_isolated  # noqa: E402
from bench_names import RunFileError  # noqa: E402
from fmt import first_few, one_line, plural  # noqa: E402

DEFAULT_ROUNDS = 16
SUBSET = ("^sum/seq/range/workers:1/n:(100000|10000000|100000000)/|"
          "^sum/(threads|pool|tbb|openmp|fork|process_pool|std_par)/range/workers:2/"
          "n:(100000|10000000|100000000)/|"
          "^sum/seq/array/workers:1/n:(100000|10000000)/|"
          "^sum/(threads|pool|tbb|openmp|process_pool|std_par)/array/workers:2/n:(100000|10000000)/|"
          "^fetch/(pool|multi_socket|coro)/(conc:100/n:1000/delay_ms:0|conc:1000/n:1000/delay_ms:100)/"
          "bytes:1024/keepalive:1/")
# How the rounds ran, saved with them: rounds of another method are not mixed with these
# (calibrate.py). Files without it ran side by side: all of one side's models, then the other's.
METHOD = "model by model"
SIDES = ("old", "new")
# What a saved metric (seconds, or an efficiency) can be: outside it is no measurement (inf, 0, 1e308).
PLAUSIBLE = (1e-15, 1e9)
# Flags the rounds set unless the caller gave them: a few repetitions per process (the
# process is the unit), interleaved inside it, and the subset.
ROUND_DEFAULTS = ("--benchmark_repetitions=3", "--benchmark_min_time=0.02",
                  "--benchmark_enable_random_interleaving=true", "--benchmark_filter=" + SUBSET)


say = functools.partial(cli.say, PROG)


def parse_args(argv):
    p = cli.Parser(prog="ab.py", description=__doc__.split("\n\n", 1)[1],
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sides", nargs="*", metavar="OLD NEW")
    p.add_argument("--analyse", type=cli.path, metavar="FILE", help="judge the rounds saved in FILE again")
    p.add_argument("--rounds", type=cli.whole(2, 10000, "a round count"),
                   help="rounds (default %d)" % DEFAULT_ROUNDS)
    p.add_argument("--alpha", type=cli.significance, default=regress.DEFAULT_ALPHA)
    p.add_argument("--min-effect", type=cli.fraction, default=regress.DEFAULT_MIN_EFFECT,
                   help="smallest change that counts, 0.03 or 3%% (default 3%%)")
    p.add_argument("--process-timeout", type=cli.whole(1, 86400, "a time in seconds"), metavar="SECONDS",
                   help="stop a benchmark process that runs longer, as failed (default as ./bench's: %d, or %d s a "
                        "benchmark of the model)" % (run_isolated.DEFAULT_PROCESS_TIMEOUT, run_isolated.PER_BENCHMARK_TIMEOUT))
    p.add_argument("--json", action="store_true", help="the verdict as JSON on stdout")
    p.add_argument("--out", type=cli.path, help="where the rounds are saved")
    p.add_argument("--repo", type=cli.path, default=REPO, help="the git repository commits refer to")
    # bisect.sh: are these options right? (exit 0, or the error) Before any build, ab.py's own;
    # once GOOD is built, given its binary as a side, also the binary's flags and filter.
    p.add_argument("--check-args", action="store_true", help=argparse.SUPPRESS)
    args, bench_args = p.parse_known_args(argv)
    # Google Benchmark's variables are read as the binary reads them, and recorded as flags.
    bench_args = run_isolated.flags_from_environment(bench_args)
    unknown = [a for a in bench_args if not a.startswith("--")]
    if unknown:
        raise InputError("unexpected argument '%s'" % unknown[0])
    # Before two commits are built, not once they are, and read as the binary reads it, POSIX
    # extended, not as Python's re (which refused a** and passed (?i)): grep -E says 2 to what it
    # cannot read. It is more lenient (it refused none of 1,500 random short patterns the binary
    # runs), so a rare filter is refused only by the first binary built.
    filt = run_isolated.flag_value(bench_args, "--benchmark_filter=")
    if filt is not None and subprocess.run(["grep", "-Eq", "-e", filt], stdin=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL).returncode == 2:
        raise InputError(run_isolated.given_as("--benchmark_filter=%s: not a regular expression (POSIX extended)"
                                               % filt))
    if args.analyse and args.sides:
        raise InputError("--analyse FILE takes no OLD NEW")
    if args.analyse:  # what shapes a measurement would be ignored without a word
        measuring = list(bench_args)
        if args.rounds is not None:
            measuring.append("--rounds")
        if args.out:
            measuring.append("--out")
        if args.process_timeout is not None:
            measuring.append("--process-timeout")
        if measuring:
            raise InputError(run_isolated.given_as("--analyse FILE judges rounds already run: %s does not apply"
                                                   % measuring[0]))
    args.rounds = args.rounds or DEFAULT_ROUNDS
    if args.process_timeout is None:
        run_isolated.process_timeout(bench_args, 1)  # its variable checked before any round
    if len(args.sides) > 2:
        raise InputError("unexpected argument '%s'" % args.sides[2])
    if not args.analyse and len(args.sides) != 2:
        raise InputError("give OLD and NEW (commits or concbench binaries), or --analyse FILE")
    args.bench_args = bench_args
    return args


@dataclass
class Side:
    """What one side runs: a binary and (for calibrate.py's known slowdowns) variables set in
    its processes' environment."""
    label: str
    arg: str
    binary: str
    commit: str = ""
    env: dict = field(default_factory=dict)

    @property
    def fixture(self):
        """The fixture server built beside the binary (build/<preset>/fixtures/), or None."""
        path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(self.binary))), "fixtures",
                            "concbench_fixture")
        return path if cli.runnable(path) else None


def resolve(repo, label, arg):
    """A binary's path, or a commit's full sha; bad input before anything is built."""
    if cli.runnable(arg):
        return os.path.abspath(arg)
    sha = records.resolve_rev(repo, arg)
    if sha is None:
        raise InputError("%s %s is neither a concbench binary nor a commit known to git in %s"
                         % (label, arg, repo))
    return sha


def build(repo, sha, tmp):
    wt = os.path.join(tmp, sha[:12])
    say("building %s in a temporary worktree" % sha[:12])
    steps = [["git", "-C", repo, "worktree", "add", "--detach", "--quiet", wt, sha],
             ["cmake", "-S", wt, "-B", os.path.join(wt, "build"), "-DCMAKE_BUILD_TYPE=Release",
              "-DCONCBENCH_BUILD_TESTS=OFF"],
             ["cmake", "--build", os.path.join(wt, "build"), "--target", "concbench",
              "concbench_fixture", "-j%d" % (os.cpu_count() or 1)]]
    for step in steps:
        proc = subprocess.run(step, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if proc.returncode != 0:
            lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
            why = next((line.strip() for line in lines if "rror" in line), lines[-1])
            raise InputError("commit %s does not build: %s" % (sha[:12], why))
    return os.path.join(wt, "build", "benchmarks", "concbench")


def round_args(bench_args):
    given = {a.split("=", 1)[0] for a in bench_args}
    return [a for a in ROUND_DEFAULTS if a.split("=", 1)[0] not in given] + list(bench_args)


def plan(sides, args, listed=None):
    """[(model, {label: that side's benchmarks of the model})], models in the order they first
    appear: each side's listing of what ARGS select, grouped by model (run_isolated.model_of).
    A binary is listed once: `listed` ({binary: names}) keeps the listings between calls."""
    models, listed = {}, {} if listed is None else listed
    for label, side in sides.items():
        if side.binary not in listed:
            try:
                listed[side.binary] = run_isolated.list_benchmarks(side.binary, args)
            except run_isolated.RunError as e:
                raise InputError("%s: %s" % (side.label, e)) from None
        for model, members in run_isolated.group_by(listed[side.binary], run_isolated.model_of):
            models.setdefault(model, {})[label] = members
    return list(models.items())


def run_round(sides, groups, args, tmp, rng, timeout=None):
    """One round: the models in random order, for each one fresh process of every side back to
    back in random order. Returns ({label: {"metrics": {name: [kind, value]}, "errors": {...},
    "context": {...}}}, [[model, [labels in the order they ran]]], "no" or why the round's
    environment was unstable).

    Model by model rather than side by side: the two processes of a pair then run a second or
    two apart instead of a whole side's run (about 11 s for the default subset), so the drift
    of the machine between them is smaller (README, "The unit of analysis"). A process is stopped
    after `timeout` seconds, by default ./bench's limit for its model's benchmarks."""
    # One fixture server per fixture binary: sides built from one commit share it.
    fixtures = {side.fixture: run_isolated.Fixture(side.fixture) for side in sides.values()
                if run_isolated.needs_own_fixture(args) and side.fixture}
    environment = run_isolated.Environment(0)
    parts, order = {label: {} for label in sides}, []
    try:
        for k, (model, members) in enumerate(rng.sample(groups, len(groups))):
            labels = [label for label in rng.sample(list(sides), len(sides)) if label in members]
            order.append([model, labels])
            for label in labels:
                side = sides[label]
                # A server that does not start fails this round's fetch models on this side, as
                # a failed process would: the other rounds still judge them.
                context, benchmarks, failure, _, _ = run_isolated.run_model(
                    side.binary, args, model, members[label], 1, 0, os.path.join(tmp, "%s-%d" % (label, k)),
                    fixtures.get(side.fixture), subprocess.DEVNULL,
                    timeout or run_isolated.process_timeout(args, len(members[label])), dict(os.environ, **side.env))
                if failure:
                    say("%s: %s; the round goes on" % (side.label, failure))
                parts[label][model] = (context, benchmarks)
    finally:
        for fixture in fixtures.values():
            fixture.stop()
    # What of the machine the processes recorded judges the round too (a CPU quota): from the
    # first side that has it (OLD, a commit from before it was recorded, may not). Each side's
    # record keeps its own; the round's context is what the environment adds.
    recorded = ("cpu_quota", "hardware_threads")
    judged = {}
    for ran in parts.values():
        for context, _ in ran.values():
            judged.update({k: context[k] for k in recorded if k in context and k not in judged})
    unstable = environment.finish(judged)
    results, round_context = {}, {k: v for k, v in judged.items() if k not in recorded}
    for label, ran in parts.items():
        doc = run_isolated.merge([ran[model] for model, _ in groups if model in ran],
                                 "one process per model (%d processes)" % len(ran))
        doc["context"].update(round_context)
        path = os.path.join(tmp, "run-%s.json" % label)
        run_isolated.write_json(doc, path, indent=None)
        try:
            found, errors, context = metrics.run_metrics(path)
        except RunFileError as e:
            raise InputError("%s: %s" % (sides[label].label, e)) from None
        results[label] = {"metrics": {m.name: [m.kind, m.value] for m in found.values()},
                          "errors": dict(errors), "context": context}
        hooks = records.hook_settings(context)
        if hooks:  # any CONCBENCH_TEST_* the binary recorded, a user's exported one too
            results[label]["test_hook"] = "; ".join(hooks.values())
    return results, order, "; ".join(unstable) or "no"


TOO_FEW = "too few rounds to find anything"
NO_VERDICT = "no verdict"  # what analyse's error starts with when the rounds measured too little


def require_rounds(rounds, names, alpha, head):
    """InputError, its line starting with `head`, when no p-value of `rounds` paired rounds can pass
    Holm over the benchmarks `names` at alpha: a verdict of "no change" would mean nothing.
    Only times are judged: peak/* alone can give no verdict, and are not among Holm's m."""
    timed = {n for n in names if metrics.time_kind(n) == metrics.TIME}
    if names and not timed:
        raise InputError("nothing to judge: the benchmarks selected are all peak/*, the machine's bounds, "
                         "which are drift, never a verdict")
    m = max(1, len(timed))
    if regress.smallest_sign_p(rounds) > alpha / m:
        need = max(2, math.ceil(1 + math.log2(m) - math.log2(alpha)))  # 2 / 2**need <= alpha / m, in logs
        raise InputError("%s: with %d rounds no p-value reaches alpha/m = %g/%d (Holm over %d benchmarks); a "
                         "verdict needs --rounds %d or more" % (head, rounds, alpha, m, m, need))


def run_rounds(sides, args, rounds, out_path, listed=None, timeout=None):
    """Runs the rounds and saves them when all have run (an interrupted run leaves no file that
    could pass for a result); returns the saved data. `listed`: as plan's; `timeout`: each
    process's, in seconds."""
    sides = dict(zip(SIDES, sides))
    groups = plan(sides, args, listed)
    data = {"old": asdict(sides["old"]), "new": asdict(sides["new"]), "args": args, "method": METHOD, "rounds": []}
    rng, started = random.Random(), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="concbench-ab-run-") as tmp:
        for i in range(rounds):
            elapsed = time.monotonic() - started
            eta = ", about %.0f min left" % (elapsed / i * (rounds - i) / 60) if i else ""
            say("round %d of %d: %s of each side, OLD and NEW in random order%s"
                % (i + 1, rounds, plural(len(groups), "model process", "model processes"), eta))
            runs, order, unstable = run_round(sides, groups, args, tmp, rng, timeout)
            # OLD's context stands for the machine; NEW's is kept for what its build differs in.
            for label, key in zip(SIDES, ("context", "new_context")):
                data.setdefault(key, runs[label].pop("context"))
            data["rounds"].append(dict(runs, order=order, unstable=unstable))
    run_isolated.write_json(data, out_path, indent=None)
    return data


def rounds_problem(data):
    """Why `data` cannot be judged as rounds ab.py saved, or None: checks all that analyse() and
    its callers read."""
    if not isinstance(data, dict) or not all(isinstance(data.get(s), dict) and isinstance(data[s].get("arg"), str)
                                             and isinstance(data[s].get("commit", ""), str) for s in SIDES):
        return "no old and new side"
    if not all(isinstance(env := data[s].get("env", {}), dict) and all(isinstance(v, str) for v in env.values())
               for s in SIDES):
        return "a side's env is not an object of strings"
    if not all(isinstance(data.get(key, {}), dict) for key in ("context", "new_context")):
        return "its context is not an object"
    if not isinstance(data.get("rounds"), list) or not data["rounds"]:
        return "no rounds"
    for i, r in enumerate(data["rounds"], 1):
        sides = [r.get(s) for s in SIDES] if isinstance(r, dict) else [None]
        shaped = all(isinstance(x, dict) and all(isinstance(x.get(key), dict) for key in ("errors", "metrics"))
                     and isinstance(x.get("test_hook", ""), str) for x in sides)
        if not shaped or not isinstance(r.get("order", []), list) or not all(
                isinstance(v, list) and len(v) == 2 and v[0] in metrics.KINDS
                for x in sides for v in x["metrics"].values()):
            return "round %d is not each side's metrics and errors" % i
        for name, (_, value) in (item for x in sides for item in x["metrics"].items()):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not \
                    PLAUSIBLE[0] <= value <= PLAUSIBLE[1]:
                return "round %d: %s is %r, not a measurement" % (i, name, value)
    return None


def read_rounds(path):
    """The rounds ab.py saved in `path` (or calibrate.py, as a trial); InputError when they cannot be judged."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        why = rounds_problem(data)
    except (OSError, ValueError, RecursionError) as e:
        why = e
    if why:
        raise InputError("%s is not an A/B file saved by ab.py or calibrate.py (%s)" % (path, why))
    return data


def method_of(data):
    """How saved rounds ran: METHOD, or "side by side" for files from before it (their rounds'
    order is a list of sides, not of [model, sides])."""
    order = data["rounds"][0].get("order")
    return data.get("method") or (METHOD if order and isinstance(order[0], list) else "side by side")


def analyse(data, alpha, min_effect):
    """The regress.Verdict of saved rounds; InputError when they are too few for any verdict."""
    rounds, results = data["rounds"], []
    kinds = {name: kind for r in rounds for side in SIDES for name, (kind, _) in r[side]["metrics"].items()}
    unpaired = []  # measured by both sides, never in one round: said, not lost
    for name, kind in kinds.items():
        paired = [(r["old"]["metrics"][name][1], r["new"]["metrics"][name][1]) for r in rounds
                  if name in r["old"]["metrics"] and name in r["new"]["metrics"]]
        pairs = [(o, n) for o, n in paired if o > 0 and n > 0]
        if not pairs:
            both = all(any(name in r[side]["metrics"] for r in rounds) for side in SIDES)
            unpaired += [name] if both and not paired else []
            continue
        d = [math.log(n / o) for o, n in pairs]
        est, lo, hi = regress.sign_interval(d, alpha)
        p = regress.sign_p(d) if kind != metrics.EFFICIENCY and len(d) >= 2 else math.nan
        results.append(regress.Result(name, kind, metrics.median([o for o, _ in pairs]),
                                      metrics.median([n for _, n in pairs]), ratio=math.exp(est),
                                      low=math.exp(lo), high=math.exp(hi), p=p, n=len(d)))
    times = [r for r in results if r.kind == metrics.TIME]
    require_rounds(len(rounds), [r.name for r in times], alpha, "inconclusive")
    errors, notes = [], []
    # A time with fewer pairs than rounds (a side's process failed in some) may have too few for
    # its p to pass even Holm's last, loosest step (alpha: 5 pairs or fewer at 5%): "no change"
    # would say nothing, so it is untested, and said.
    few = [r for r in times if regress.smallest_sign_p(r.n) > alpha]
    for r in few:
        r.p = math.nan
    if few:
        notes.append("%s with too few paired rounds for any verdict (a side failed in the others), untested: %s"
                     % (plural(len(few), "time"), first_few(r.name for r in few)))
    if unpaired:
        notes.append("%s measured by OLD and NEW but never in the same round (a side failed in the others), "
                     "not compared: %s" % (plural(len(unpaired), "metric"), first_few(unpaired)))

    def seen(side, key):
        return list(dict.fromkeys(name for r in rounds for name in r[side][key]))

    def said(side, name):  # the first message, and in how many rounds
        messages = [r[side]["errors"][name] for r in rounds if name in r[side]["errors"]]
        return "%s (in %d of %d rounds)" % (messages[0], len(messages), len(rounds))
    weights = {side: collections.Counter() for side in SIDES}
    for r in rounds:
        for side in SIDES:
            weights[side].update(regress.error_weights(r[side]["errors"], r[side]["metrics"]))
    errors, error_notes = regress.judge_errors(weights["new"], weights["old"], said)
    notes += error_notes
    # Rounds of this method say it once, side-by-side rounds said it per side.
    whys = [[w for w in (r.get("unstable"), r["old"].get("unstable"), r["new"].get("unstable"))
             if w not in (None, "", "no")] for r in rounds]
    unstable = [(i, why[0]) for i, why in enumerate(whys, 1) if why]
    if unstable:
        notes.append("unstable environment in %d of %d rounds (round %d: %s)"
                     % (len(unstable), len(rounds), unstable[0][0], unstable[0][1]))
    notes += regress.one_side_notes([seen(side, "metrics") for side in SIDES], weights["old"] | weights["new"])
    # Two binaries given as they are may be two builds (a sanitized one against a release one):
    # said, as compare.py says it of two records.
    notes += ["OLD and NEW differ: " + d
              for d in records.differences(data.get("context") or {}, data.get("new_context") or {}, records.SETTINGS)]
    for side in SIDES:
        hooks = sorted({r[side]["test_hook"] for r in rounds if r[side].get("test_hook")})
        if hooks:
            notes.append("a test hook was set in %s: %s" % (side.upper(), "; ".join(hooks)))
    if not times and not errors:  # "0 regressions" over nothing would pass for a good commit
        both = [name for name in seen("new", "errors") if name in seen("old", "errors")]
        first = next((r["new"]["errors"][both[0]] for r in rounds if both and both[0] in r["new"]["errors"]), "")
        raise InputError("%s: no time was measured on both sides%s"
                         % (NO_VERDICT, "; %s errored on both, %s first: %s" % (
                             plural(len(both), "benchmark"), both[0], one_line(first)) if both else ""))
    if not any(math.isfinite(r.p) for r in times) and not errors:  # nor would it over untested times only
        raise InputError("%s: every time has too few paired rounds to be judged (at most %d of %d: a side's "
                         "processes failed in the others)" % (NO_VERDICT, max(r.n for r in times), len(rounds)))
    return regress.Verdict(results=regress.judge(results, alpha, min_effect), errors=errors, notes=notes,
                           alpha=alpha, min_effect=min_effect,
                           method="%d rounds model by model, process medians paired by round: median ratio, "
                                  "sign test and its interval, Holm over %d times" % (len(rounds), len(times)))


def measure(args):
    labels = ("OLD", "NEW")
    resolved = [resolve(args.repo, label, arg) for label, arg in zip(labels, args.sides)]
    tags = [(os.path.basename(os.path.dirname(os.path.dirname(r))) if os.path.isabs(r) else r)[:12]
            for r in resolved]
    out = cli.output(args.out or os.path.join(REPO, "results", "ab", "%s-%s-%s.json" % (
        time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), *tags)), create=True)  # before any build
    tmp = tempfile.mkdtemp(prefix="concbench-ab-")
    try:
        binaries, listed, bench_args = {}, {}, round_args(args.bench_args)
        for label, r in zip(labels, resolved):
            if r not in binaries:
                binaries[r] = r if os.path.isabs(r) else build(args.repo, r, tmp)
                # The binary's own flags, its own reading of the filter (POSIX, not Python's re),
                # and whether the rounds can judge what it selects are known only to a built
                # binary: the first one checks them before the second build.
                plan({label: Side(label, r, binaries[r])}, bench_args, listed)
                require_rounds(args.rounds, listed[binaries[r]], args.alpha, TOO_FEW)
        sides = [Side(label, arg, binaries[r], "" if os.path.isabs(r) else r)
                 for label, arg, r in zip(labels, args.sides, resolved)]
        data = run_rounds(sides, bench_args, args.rounds, out, listed, args.process_timeout)
        say("saved the rounds to %s" % out)
        return data
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if any(not os.path.isabs(r) for r in resolved):  # the worktrees are gone: git forgets them
            with contextlib.suppress(records.GitError):
                records.git(args.repo, "worktree", "prune")


def calibration_note(data, alpha, min_effect, root=REPO):
    """What the calibration (scripts/calibrate.py, in ROOT/results/calibration) of the machine of
    rounds `data` measured of the method, or that none did: error rates are measured per machine,
    and machines differ. Of the calibrations of this method on that machine (their first trial
    says; all their trials ran on one), the latest; one cut short counts the trials it has, with
    bounds as wide as they are. Settings of this verdict that differ from the calibration's are
    named: the figures are of its own."""
    context, found = data.get("context") or {}, []
    for path in glob.glob(os.path.join(root, "results", "calibration", "*", "rounds", "trial-01-aa.json")):
        try:
            trial = read_rounds(path)
        except InputError:
            continue
        if method_of(trial) == METHOD and records.same_machine(trial.get("context") or {}, context):
            found.append((str(trial["context"].get("date", "")), os.path.dirname(os.path.dirname(path)), trial))
    if not found:
        return ("no calibration in results/calibration ran on the machine of these rounds: how often the method "
                "errs here is unmeasured (scripts/calibrate.py measures it)")
    _, where, trial = max(found)
    name = os.path.relpath(where, root)
    try:
        with open(os.path.join(where, "summary.json"), encoding="utf-8") as f:
            s = json.load(f)
        # Of the judged trials, as the summary's counts are: one with no verdict is in no rate.
        judged = [r for r in s["rows"] if "no_verdict" not in r]
        n = {k: sum(1 for r in judged if r["comparison"] == k) for k in ("aa", "p10", "p5")}
        counts = [(s["aa_flagged"], n["aa"], True), (s["p10_found"], n["p10"], False),
                  (s["p5_found"], n["p5"], False), (s["others_flagged"], n["p10"] + n["p5"], True)]
        rounds = s["rounds"]
        if type(rounds) is not int or any(type(k) is not int or not 0 <= k <= m for k, m, _ in counts):
            raise ValueError("a count that is not a whole number from 0 to its comparisons")  # figured below
    except (OSError, ValueError, KeyError, TypeError) as e:
        return "the calibration of this machine, %s, has no summary that can be read (%s)" % (name, one_line(e))
    figures = ["%d of %d (%s %.0f%%)" % (k, m, "at most" if upper else "at least",
                                         100 * regress.rate_bound(k, m, upper)) for k, m, upper in counts]
    ours = [("rounds", len(data["rounds"]), rounds), ("alpha", alpha, regress.DEFAULT_ALPHA),
            ("minimum effect", min_effect, regress.DEFAULT_MIN_EFFECT)]
    differ = ["%s %s, not %s" % (what, mine, theirs) for what, mine, theirs in ours if mine != theirs]
    differ += ["other benchmarks"] if data.get("args") != trial.get("args") else []
    return ("the method on this machine, as %s measured it in %s of %d rounds, 95%% sure: A/A flagged %s; "
            "10%% slowdowns found %s, 5%% ones %s; the slowdowns' unchanged models flagged %s%s"
            % (name, plural(n["aa"], "trial"), rounds, *figures,
               "; this verdict's settings differ (%s), so they are not its figures" % ", ".join(differ)
               if differ else ""))


def run(argv):
    args = parse_args(argv)
    if args.check_args:
        for binary in {os.path.abspath(a) for a in args.sides if cli.runnable(a)}:
            try:
                names = run_isolated.list_benchmarks(binary, round_args(args.bench_args))
            except run_isolated.RunError as e:
                raise InputError(str(e)) from None
            require_rounds(args.rounds, names, args.alpha, TOO_FEW)
        return 0
    data = read_rounds(args.analyse) if args.analyse else measure(args)
    verdict = analyse(data, args.alpha, args.min_effect)
    ctx = data.get("context") or {}
    verdict.notes.append(calibration_note(data, args.alpha, args.min_effect))
    if args.json:
        regress.render_json(verdict, {"old": data["old"], "new": data["new"], "rounds": len(data["rounds"]),
                                      "machine": records.identity(ctx)}, sys.stdout)
    else:
        head = ["%s %s%s" % (label.upper(), data[label]["arg"],
                             " (%s)" % data[label]["commit"][:12] if data[label].get("commit") else "")
                for label in SIDES]
        regress.render_table(verdict, head + ["machine: %s" % records.machine_line(ctx)], sys.stdout)
    return 1 if verdict.regressed else 0


def main(argv=None):
    with run_isolated.Pauses.handled():  # Ctrl-Z stops the benchmark process too, and its timeout
        return cli.main(run, PROG, argv)  # SIGTERM removes the worktrees as an interrupt does


if __name__ == "__main__":
    sys.exit(main())
