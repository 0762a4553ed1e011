#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Measures whether NEW is slower than OLD: interleaved rounds of fresh processes on this machine, process medians as the unit.
"""Usage: scripts/ab.py OLD NEW [--rounds R] [--alpha A] [--min-effect F] [--json]
                        [--out FILE] [--repo DIR] [benchmark and suite flags ...]
       scripts/ab.py --analyse FILE [--alpha A] [--min-effect F] [--json]

OLD and NEW are commits (any git revision; each is built in a temporary worktree, and
one build serves both when they are the same commit) or paths to built concbench
binaries. Then R rounds run, each model by model in random order: one fresh process
of OLD and one of NEW for that model, back to back in random order, as ./bench runs
a model (scripts/run_isolated.py), with --benchmark_enable_random_interleaving, 3
repetitions and --benchmark_min_time=0.02, unless the flags given say otherwise. The default selection is a representative
subset: sum at n = 1e5, 1e7 and 1e8 over every model and both kernels, fetch at 0 and
100 ms (--benchmark_filter=REGEX picks another). Each round gives each metric one
paired sample, NEW/OLD of the process medians; see scripts/regress.py for the test
(the sign test, Hodges-Lehmann interval, Holm for the verdict, Benjamini-Hochberg for
the list).

The rounds are saved (--out FILE, default results/ab/<date>-<old>-<new>.json) and
--analyse FILE judges a saved file again, with other --alpha or --min-effect.

Exit status: 1 when NEW regressed (a time beyond the minimum effect, Holm-significant,
or a benchmark that errors in NEW and not in OLD), 0 when not, 2 on bad input (one
line on stderr; no worktree, build or partial file is left), 130 interrupted.
"""
import argparse
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(SCRIPTS)
sys.path.insert(0, SCRIPTS)

import cli  # noqa: E402
from cli import InputError, Parser  # noqa: E402
import pyenv_check  # noqa: E402

pyenv_check.require(["scipy", "numpy", "pandas"], purpose="A/B comparisons", prog="concbench ab",
                    reexec=__name__ == "__main__")

import metrics  # noqa: E402
import records  # noqa: E402
import regress  # noqa: E402
import run_isolated  # noqa: E402
from bench_names import RunFileError  # noqa: E402

PROG = "concbench ab"
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
# Flags the rounds set unless the caller gave them: a few repetitions per process (the
# process is the unit), interleaved inside it.
ROUND_DEFAULTS = ("--benchmark_repetitions=3", "--benchmark_min_time=0.02",
                  "--benchmark_enable_random_interleaving=true")


def say(message):
    print("%s: %s" % (PROG, message), file=sys.stderr, flush=True)


def parse_args(argv):
    p = Parser(prog="ab.py", description=__doc__.split("\n\n", 1)[1],
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sides", nargs="*", metavar="OLD NEW")
    p.add_argument("--analyse", metavar="FILE", help="judge the rounds saved in FILE again")
    p.add_argument("--rounds", type=cli.whole(2, 10000, "a round count"), default=DEFAULT_ROUNDS,
                   help="rounds (default %d)" % DEFAULT_ROUNDS)
    p.add_argument("--alpha", type=cli.fraction, default=regress.DEFAULT_ALPHA)
    p.add_argument("--min-effect", type=cli.fraction, default=regress.DEFAULT_MIN_EFFECT,
                   help="smallest change that counts, 0.03 or 3%% (default 3%%)")
    p.add_argument("--json", action="store_true", help="the verdict as JSON on stdout")
    p.add_argument("--out", help="where the rounds are saved")
    p.add_argument("--repo", default=REPO, help="the git repository commits refer to")
    args, bench_args = p.parse_known_args(argv)
    unknown = [a for a in bench_args if not a.startswith("--")]
    if unknown:
        raise InputError("unexpected argument %s" % unknown[0])
    if args.analyse and args.sides:
        raise InputError("--analyse FILE takes no OLD NEW")
    if not args.analyse and len(args.sides) != 2:
        raise InputError("give OLD and NEW (commits or concbench binaries), or --analyse FILE")
    if not 0 < args.alpha < 1:
        raise InputError("--alpha must be between 0 and 1 (exclusive)")
    args.bench_args = bench_args
    return args


# --- sides: built commits or given binaries -----------------------------------------

class Side:
    """What one side runs: a binary, its fixture server, and (for calibrate.py's known
    slowdowns) variables set in its processes' environment."""

    def __init__(self, label, arg, binary, fixture, commit="", env=None):
        self.label, self.arg, self.binary, self.fixture, self.commit = label, arg, binary, fixture, commit
        self.env = env or {}

    def describe(self):
        return {"label": self.label, "arg": self.arg, "binary": self.binary, "commit": self.commit,
                "env": self.env}


def fixture_beside(binary):
    """The fixture server built beside a concbench binary (build/<preset>/fixtures/), or None."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(binary))), "fixtures",
                        "concbench_fixture")
    return path if os.access(path, os.X_OK) else None


class Builds:
    """Commits built in throw-away worktrees, all removed by close()."""

    def __init__(self, repo):
        self.repo, self.dir, self.built = repo, None, {}

    def resolve(self, label, arg):
        """A binary's path, or a commit's full sha; bad input before anything is built."""
        if os.path.isfile(arg) and os.access(arg, os.X_OK):
            return os.path.abspath(arg)
        sha = records.resolve_rev(self.repo, arg)
        if sha is None:
            raise InputError("%s %s is neither a concbench binary nor a commit known to git in %s"
                             % (label, arg, self.repo))
        return sha

    def side(self, label, arg, resolved):
        if os.path.isabs(resolved):
            return Side(label, arg, resolved, fixture_beside(resolved))
        sha = resolved
        if sha not in self.built:
            self.built[sha] = self.build(sha)
        return Side(label, arg, self.built[sha], fixture_beside(self.built[sha]), sha)

    def build(self, sha):
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="concbench-ab-")
        wt = os.path.join(self.dir, sha[:12])
        say("building %s in a temporary worktree" % sha[:12])
        steps = [["git", "-C", self.repo, "worktree", "add", "--detach", "--quiet", wt, sha],
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

    def close(self):
        if self.dir is None:
            return
        for sha in self.built:
            subprocess.run(["git", "-C", self.repo, "worktree", "remove", "--force",
                            os.path.join(self.dir, sha[:12])], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        subprocess.run(["git", "-C", self.repo, "worktree", "prune"], capture_output=True)


# --- rounds -----------------------------------------------------------------------------

def round_args(bench_args):
    given = {a.split("=", 1)[0] for a in bench_args}
    args = [a for a in ROUND_DEFAULTS if a.split("=", 1)[0] not in given]
    if "--benchmark_filter" not in given:
        args.append("--benchmark_filter=" + SUBSET)
    return args + list(bench_args)


def plan(sides, args):
    """[(model, {label: that side's benchmarks of the model})], models in the order they first
    appear: each side's listing of what ARGS select, grouped as ./bench groups its processes."""
    models = {}
    for label, side in sides.items():
        try:
            names = run_isolated.list_benchmarks(side.binary, args)
        except run_isolated.RunError as e:
            raise InputError("%s: %s" % (side.label, e)) from None
        for model, members in run_isolated.group_by_model(names):
            models.setdefault(model, {})[label] = members
    return list(models.items())


def run_round(sides, groups, args, tmp, rng):
    """One round: the models in random order, and for each, one fresh process of every side
    back to back in random order. Returns ({label: {"metrics": {name: [kind, value]},
    "errors": {...}, "context": {...}}}, [[model, [labels in the order they ran]]],
    the round's environment: "no" or why it was unstable).

    Model by model rather than side by side: the two processes of a pair then run a second or
    two apart instead of a whole side's run (about 11 s for the default subset), so the drift
    of the machine between them is smaller (README, "The unit of analysis")."""
    # One fixture server per fixture binary: sides built from one commit share it.
    fixtures = {side.fixture: run_isolated.Fixture(side.fixture) for side in sides.values()
                if run_isolated.needs_own_fixture(args) and side.fixture}
    environment = run_isolated.Environment(0)
    parts, order, reruns = {label: {} for label in sides}, [], {label: {} for label in sides}
    try:
        for k, (model, members) in enumerate(rng.sample(groups, len(groups))):
            labels = [label for label in rng.sample(list(sides), len(sides)) if label in members]
            order.append([model, labels])
            for label in labels:
                side = sides[label]
                fixture = fixtures.get(side.fixture) if run_isolated.uses_fixture(model) else None
                try:
                    url = fixture.start() if fixture else None
                except run_isolated.RunError as e:
                    raise InputError("%s: %s" % (side.label, e)) from None
                context, benchmarks, failure, _, rerun = run_isolated.run_model(
                    side.binary, args, model, members[label], 1, 0, os.path.join(tmp, "%s-%d" % (label, k)), url,
                    subprocess.DEVNULL, dict(os.environ, **side.env))
                if failure:
                    say("%s: %s; the round goes on" % (side.label, failure))
                if rerun:
                    reruns[label][model] = rerun
                parts[label][model] = (context, benchmarks)
    finally:
        for fixture in fixtures.values():
            fixture.stop()
    results, round_context = {}, {}
    unstable = environment.finish(round_context)
    for label in sides:
        ran = [parts[label][model] for model, _ in groups if model in parts[label]]
        doc = run_isolated.merge(ran, len(ran))
        doc["context"].update(round_context)
        if reruns[label]:
            doc["context"]["concbench_reruns"] = reruns[label]
        path = os.path.join(tmp, "run-%s.json" % label)
        run_isolated.write_json(doc, path, indent=None)
        try:
            found, errors, context = metrics.run_metrics(path)
        except RunFileError as e:
            raise InputError("%s: %s" % (sides[label].label, e)) from None
        os.unlink(path)
        result = {"metrics": {m.name: [m.kind, m.value] for m in found.values()}, "errors": dict(errors),
                  "context": context}
        if context.get("concbench_test_slowdown"):
            result["test_hook"] = context["concbench_test_slowdown"]
        results[label] = result
    return results, order, "; ".join(unstable) or "no"


def run_rounds(sides, args, rounds, out_path, alpha=regress.DEFAULT_ALPHA):
    """Runs the rounds, saving after each; returns the saved data."""
    groups = plan({"old": sides[0], "new": sides[1]}, args)
    m = len({name for _, members in groups for name in members.get("new", [])})
    if regress.smallest_sign_p(rounds) > alpha / max(m, 1):
        need = next(r for r in range(2, 64) if regress.smallest_sign_p(r) <= alpha / m)
        raise InputError("too few rounds to find anything: with %d rounds no p-value passes Holm over %d "
                         "benchmarks; use --rounds %d or more" % (rounds, m, need))
    data = {"old": sides[0].describe(), "new": sides[1].describe(), "args": args, "method": METHOD, "rounds": []}
    rng = random.Random()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="concbench-ab-run-") as tmp:
        for i in range(rounds):
            elapsed = time.monotonic() - started
            eta = "" if i == 0 else ", about %.0f min left" % (elapsed / i * (rounds - i) / 60)
            say("round %d of %d: %d model processes of each side, OLD and NEW in random order%s"
                % (i + 1, rounds, len(groups), eta))
            runs, order, unstable = run_round({"old": sides[0], "new": sides[1]}, groups, args, tmp, rng)
            for label in ("old", "new"):
                data.setdefault("context", runs[label]["context"])
                del runs[label]["context"]
            data["rounds"].append(dict(runs, order=order, unstable=unstable))
            run_isolated.write_json(data, out_path, indent=None)
    return data


# --- the verdict ---------------------------------------------------------------------------

def method_of(data):
    """How saved rounds ran: METHOD, or "side by side" for files from before it (their rounds'
    order is a list of sides, not of [model, sides])."""
    rounds = data.get("rounds") or [{}]
    return data.get("method") or (METHOD if rounds[0].get("order") and isinstance(rounds[0]["order"][0], list)
                                  else "side by side")


def round_unstable(r):
    """Why a saved round's environment was unstable, or "": rounds of this method say it once;
    side-by-side rounds said it per side."""
    reasons = [r.get("unstable")] + [r[side].get("unstable") for side in ("old", "new")]
    return next((why for why in reasons if why not in (None, "", "no")), "")


def analyse(data, alpha, min_effect):
    """The regress.Verdict of saved rounds."""
    rounds = data.get("rounds") or []
    names = {}
    for r in rounds:
        for side in ("old", "new"):
            for name, (kind, _) in r[side]["metrics"].items():
                names.setdefault(name, kind)
    results = []
    for name, kind in names.items():
        pairs = [(r["old"]["metrics"][name][1], r["new"]["metrics"][name][1]) for r in rounds
                 if name in r["old"]["metrics"] and name in r["new"]["metrics"]]
        pairs = [(o, n) for o, n in pairs if o > 0 and n > 0]
        if not pairs:
            continue
        d = [math.log(n / o) for o, n in pairs]
        est, lo, hi = regress.hodges_lehmann(d)
        p = regress.sign_p(d) if kind != metrics.EFFICIENCY and len(d) >= 2 else math.nan
        results.append(regress.Result(
            name=name, kind=kind, old=metrics.median([o for o, _ in pairs]),
            new=metrics.median([n for _, n in pairs]), ratio=math.exp(est), low=math.exp(lo),
            high=math.exp(hi), p=p, n=len(d)))
    errors, notes = [], []
    erred = {}
    for side in ("old", "new"):
        for r in rounds:
            for name, message in r[side]["errors"].items():
                erred.setdefault((side, name), []).append(message)
    for (side, name), messages in erred.items():
        if side == "new" and ("old", name) not in erred:
            errors.append((name, "%s (in %d of %d rounds)" % (messages[0], len(messages), len(rounds))))
        elif side == "old" and ("new", name) not in erred:
            notes.append("%s errored in OLD only (%d of %d rounds): %s" % (name, len(messages), len(rounds),
                                                                          messages[0]))
    unstable = [(i + 1, why) for i, why in enumerate(round_unstable(r) for r in rounds) if why]
    if unstable:
        notes.append("unstable environment in %d of %d rounds (round %d: %s)"
                     % (len(unstable), len(rounds), unstable[0][0], unstable[0][1]))
    for side, other in (("new", "old"), ("old", "new")):
        alone = sorted({name for r in rounds for name in r[side]["metrics"]}
                       - {name for r in rounds for name in r[other]["metrics"]})
        if alone:
            notes.append("%d metric%s measured in %s only, not compared: %s"
                         % (len(alone), "" if len(alone) == 1 else "s", side.upper(), ", ".join(alone[:3])
                            + (", ..." if len(alone) > 3 else "")))
    for side in ("old", "new"):
        hooks = sorted({r[side]["test_hook"] for r in rounds if r[side].get("test_hook")})
        if hooks:
            notes.append("a test hook was set in %s: %s" % (side.upper(), "; ".join(hooks)))
    verdict = regress.Verdict(results=regress.judge(results, alpha, min_effect), errors=errors,
                              notes=notes, alpha=alpha, min_effect=min_effect,
                              method="%d rounds model by model, process medians paired by round: "
                                     "Hodges-Lehmann ratio, sign test, Holm over %d times"
                                     % (len(rounds), sum(1 for r in results if r.kind == metrics.TIME)))
    return verdict


def report(data, verdict, as_json, out=sys.stdout):
    def side(label):
        s = data[label]
        return "%s %s%s" % (label.upper(), s["arg"], " (%s)" % s["commit"][:12] if s.get("commit") else "")
    ctx = data.get("context") or {}
    head = [side("old"), side("new"), "machine: %s" % records.machine_line(ctx)]
    if as_json:
        regress.render_json(verdict, {"old": data["old"], "new": data["new"], "rounds": len(data["rounds"]),
                                      "machine": records.identity(ctx)}, out)
    else:
        regress.render_table(verdict, head, out)


def default_out(data):
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    label = lambda s: (s.get("commit") or os.path.basename(os.path.dirname(os.path.dirname(s["binary"]))))[:12]
    return os.path.join(REPO, "results", "ab", "%s-%s-%s.json" % (stamp, label(data["old"]), label(data["new"])))


def run(argv):
    args = parse_args(argv)
    if args.analyse:
        try:
            with open(args.analyse, encoding="utf-8") as f:
                data = json.load(f)
            if not isinstance(data.get("rounds"), list) or not data["rounds"]:
                raise ValueError("no rounds")
        except (OSError, ValueError, AttributeError) as e:
            raise InputError("%s is not an A/B file saved by ab.py (%s)" % (args.analyse, e)) from None
    else:
        builds = Builds(args.repo)
        try:
            resolved = [builds.resolve(label, arg) for label, arg in zip(("OLD", "NEW"), args.sides)]
            sides = [builds.side(label, arg, r) for label, arg, r in zip(("OLD", "NEW"), args.sides, resolved)]
            bench_args = round_args(args.bench_args)
            data_stub = {"old": sides[0].describe(), "new": sides[1].describe()}
            out = args.out or default_out(data_stub)
            os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
            try:
                data = run_rounds(sides, bench_args, args.rounds, out, args.alpha)
            except BaseException:
                if os.path.exists(out):
                    os.unlink(out)  # a partial file is not a result
                raise
            say("saved the rounds to %s" % out)
        finally:
            builds.close()
    verdict = analyse(data, args.alpha, args.min_effect)
    report(data, verdict, args.json)
    return 1 if verdict.regressed else 0


def main(argv=None):
    # SIGTERM ends the run as an interrupt does: worktrees and partial files are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return cli.main(run, PROG, argv)


if __name__ == "__main__":
    sys.exit(main())
