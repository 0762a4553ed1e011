# SPDX-License-Identifier: MIT
# Regression statistics over concbench runs: metrics from a run, Mann-Whitney U + Holm verdicts, the run history.
"""The importable core of scripts/compare.py and scripts/history.py (bisect.sh goes through compare.py).

Metrics. A run (Google Benchmark JSON, read with bench_names.load_run) yields
  * one "time" metric per benchmark: its real time per repetition, in seconds
    (iteration rows only; errored repetitions are left out); lower is better;
  * one "efficiency" metric per parallel sum benchmark (every sum model but seq, at
    every worker count W and size n for which the run also has sum/seq at the same
    kernel and n): T_seq(kernel, n) / (W * T_model(kernel, W, n)); higher is better;
  * one "efficiency" metric per fetch benchmark that reports the `efficiency`
    counter (ideal makespan / measured time), one sample per repetition; higher is better.

How the sum efficiency samples are formed: repetition i of seq is paired with
repetition i of the model (same repetition_index, same run), giving one efficiency
sample per pair. Repetitions are exchangeable, so the pairing means nothing beyond
giving r independent samples whose spread carries the noise of BOTH times. The
alternatives are worse: dividing by seq's median hides seq's noise (too many false
alarms), and forming all r*r cross pairs fakes r*r independent samples (Mann-Whitney
would then be far too confident).

The verdict, per metric:
  change  = median(NEW) / median(OLD) - 1
  p       = scipy.stats.mannwhitneyu(OLD, NEW, alternative="two-sided"), exact
            distribution when there are no ties and both sides have <= 50 samples
            (the normal approximation is far too conservative at 9 repetitions: its
            smallest p is 4e-4 where the exact one is 4e-5), else the normal
            approximation with tie correction;
  p_holm  = Holm-Bonferroni adjusted p over EVERY metric tested in the comparison
            (times and derived efficiencies together, whatever their effect size);
  a change counts only when p_holm <= alpha AND |change| > min_effect; it is a
  regression when it goes the bad way (time up, efficiency down), else an
  improvement. Everything else is "no change".
Holm controls the family-wise error rate at alpha under any dependence between the
tests, which matters because the efficiencies are computed from the same times.
"""
import math
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from bench_names import parse_name

REGRESSION, IMPROVEMENT, NO_CHANGE = "regression", "improvement", "no change"
LOWER, HIGHER = "lower", "higher"  # which way a metric is better
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_EFFECT = 0.05
RECOMMENDED_REPETITIONS = 9
EXACT_MAX_N = 50  # beyond this the exact null distribution is slow and the normal one is accurate
HOW_TO_REPEAT = "./bench --benchmark_repetitions=%d ..."


# --- metrics of one run -------------------------------------------------------

@dataclass
class Metric:
    """One quantity measured repeatedly in a run."""
    name: str            # "sum/threads/range/workers:2/n:100000000" or "... efficiency"
    kind: str            # "time" or "efficiency"
    better: str          # LOWER or HIGHER
    values: list         # one sample per repetition (seconds for times)
    benchmark: str = ""  # the benchmark it comes from (display name, without /real_time)


def _ordered_values(group, column):
    """`column` of a benchmark's rows, ordered by repetition_index where it is known."""
    g = group
    if g["repetition_index"].notna().all():
        g = g.sort_values("repetition_index", kind="stable")
    return [float(v) for v in g[column] if v is not None and math.isfinite(float(v))]


def _by_repetition(group, column):
    """{repetition_index (or position): value} for pairing two benchmarks' repetitions."""
    out = {}
    for pos, (idx, v) in enumerate(zip(group["repetition_index"], group[column])):
        key = int(idx) if idx is not None and not (isinstance(idx, float) and math.isnan(idx)) else pos
        if v is not None and math.isfinite(float(v)):
            out[key] = float(v)
    return out


def metrics_from_run(run, allow_aggregates=False):
    """Metrics of a bench_names.Run, as an OrderedDict name -> Metric, in the run's order.

    Only iteration rows (one per repetition) are used unless allow_aggregates, which
    also takes a benchmark present only as aggregates, with its median as one sample
    (for plotting history; never for statistics).
    """
    df = run.df
    if not allow_aggregates:
        df = df[df["row_kind"] == "iteration"]
    metrics = OrderedDict()
    if df.empty:
        return metrics
    groups = OrderedDict((name, g) for name, g in df.groupby("name", sort=False))
    # Display names come from bench_names (the base name without /real_time); two run
    # names that only differ in their timing token would share one, so keep those whole.
    display = {}
    seen = {}
    for name, g in groups.items():
        seen.setdefault(g["key"].iloc[0], []).append(name)
    for key, names in seen.items():
        for name in names:
            display[name] = key if len(names) == 1 else name

    for name, g in groups.items():
        values = _ordered_values(g, "time_s")
        if values:
            metrics[display[name]] = Metric(display[name], "time", LOWER, values, display[name])

    # seq benchmarks of the sum workload, by what a parallel model's efficiency needs.
    seq = {}
    for name, g in groups.items():
        first = g.iloc[0]
        if first["workload"] == "sum" and first["model"] == "seq":
            n = first["args"].get("n")
            seq[(first["lang"], first["kernel"], n, parse_name(name).timing)] = g
    for name, g in groups.items():
        first = g.iloc[0]
        if first["workload"] == "sum" and first["model"] not in (None, "seq"):
            w, n = first["args"].get("workers"), first["args"].get("n")
            if not isinstance(w, (int, float)) or w < 1 or n is None:
                continue
            s = seq.get((first["lang"], first["kernel"], n, parse_name(name).timing))
            if s is None:
                continue
            model_t, seq_t = _by_repetition(g, "time_s"), _by_repetition(s, "time_s")
            values = [seq_t[i] / (w * model_t[i]) for i in sorted(set(model_t) & set(seq_t))
                      if model_t[i] > 0]
            if values:
                mname = display[name] + " efficiency"
                metrics[mname] = Metric(mname, "efficiency", HIGHER, values, display[name])
        elif first["workload"] == "fetch" and "efficiency" in g.columns:
            values = _ordered_values(g, "efficiency")
            # Without a latency there is no ideal and the counter is 0: nothing to track.
            if values and max(values) > 0:
                mname = display[name] + " efficiency"
                metrics[mname] = Metric(mname, "efficiency", HIGHER, values, display[name])
    return metrics


def repetitions_problem(run, label):
    """Why a run cannot be compared for lack of repetitions (one line), or None."""
    df = run.df
    it = df[df["row_kind"] == "iteration"]
    fix = ("comparing needs repetitions; record runs with " + HOW_TO_REPEAT) % RECOMMENDED_REPETITIONS
    if it.empty:
        return ("%s %s has only aggregates (mean/median/...), not the repetitions themselves; %s "
                "(without --benchmark_report_aggregates_only)" % (label, run.path, fix))
    if int(it.groupby("name").size().max()) < 2:
        return "%s %s has one repetition per benchmark; %s" % (label, run.path, fix)
    return None


# --- statistics ---------------------------------------------------------------

def _has_ties(a, b):
    both = np.concatenate([a, b])
    return len(np.unique(both)) < len(both)


def _exact_ok(a, b):
    return not _has_ties(a, b) and max(len(a), len(b)) <= EXACT_MAX_N


def mwu_pvalue(old, new):
    """Two-sided Mann-Whitney U p-value of OLD against NEW (see the module docstring)."""
    return mwu_pvalues([(old, new)])[0]


def mwu_pvalues(pairs):
    """mwu_pvalue for many (old, new) pairs; pairs of equal sizes and method share one
    vectorised scipy call, which keeps a few hundred tests in milliseconds."""
    out = [math.nan] * len(pairs)
    groups = {}
    for i, (old, new) in enumerate(pairs):
        a, b = np.asarray(old, dtype=float), np.asarray(new, dtype=float)
        if len(a) == 0 or len(b) == 0:
            continue
        both = np.concatenate([a, b])
        if np.all(both == both[0]):
            out[i] = 1.0  # identical samples: no evidence of anything (the normal form divides by 0)
            continue
        groups.setdefault((len(a), len(b), _exact_ok(a, b)), []).append((i, a, b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for (_, _, exact), members in groups.items():
            res = stats.mannwhitneyu(np.stack([m[1] for m in members]), np.stack([m[2] for m in members]),
                                     axis=1, alternative="two-sided",
                                     method="exact" if exact else "asymptotic")
            for (i, _, _), p in zip(members, np.atleast_1d(res.pvalue)):
                out[i] = float(p)
    return out


_PMIN_CACHE = {}


def smallest_pvalue(n_old, n_new):
    """The smallest p-value mwu_pvalue can give for these sample sizes (complete separation)."""
    key = (n_old, n_new)
    if key not in _PMIN_CACHE:
        _PMIN_CACHE[key] = mwu_pvalue(np.arange(n_old), np.arange(n_new) + n_old)
    return _PMIN_CACHE[key]


def repetitions_needed(tests, alpha):
    """Fewest repetitions per side for which a complete separation survives Holm over `tests`."""
    r = 2
    while r < 1000 and smallest_pvalue(r, r) > alpha / max(tests, 1):
        r += 1
    return r


def holm(pvalues):
    """Holm-Bonferroni adjusted p-values, in the input order (NaN counts as 1).

    adjusted p_(k) = max over j <= k of min(1, (m - j + 1) * p_(j)) for the ascending
    p_(1) <= ... <= p_(m); rejecting where adjusted <= alpha is Holm's step-down test.
    """
    p = [1.0 if (x is None or math.isnan(x)) else float(x) for x in pvalues]
    m = len(p)
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: p[i])):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


@dataclass
class Result:
    name: str
    kind: str
    better: str
    n_old: int
    n_new: int
    median_old: float
    median_new: float
    min_old: float
    max_old: float
    min_new: float
    max_new: float
    change: float      # median(NEW) / median(OLD) - 1
    p: float           # raw two-sided Mann-Whitney U p-value (NaN when not tested)
    p_holm: float      # Holm-adjusted over every tested metric
    verdict: str
    tested: bool = True

    @property
    def badness(self):
        """The change in the bad direction: > 0 is worse, whatever the metric's direction."""
        if self.change is None or math.isnan(self.change):
            return -math.inf
        return self.change if self.better == LOWER else -self.change

    def as_dict(self):
        d = dict(self.__dict__)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


@dataclass
class Comparison:
    results: list                  # Result, worst first
    alpha: float
    min_effect: float
    tests: int                     # size of the Holm family
    only_old: list = field(default_factory=list)
    only_new: list = field(default_factory=list)
    untested: list = field(default_factory=list)  # names with < 2 samples on a side
    corrected: bool = True

    def count(self, verdict):
        return sum(1 for r in self.results if r.verdict == verdict)

    @property
    def regressions(self):
        return [r for r in self.results if r.verdict == REGRESSION]

    @property
    def detectable(self):
        """Whether any tested metric could reach significance at all with its sample sizes."""
        if self.tests == 0:
            return False
        level = self.alpha / self.tests if self.corrected else self.alpha
        return any(smallest_pvalue(r.n_old, r.n_new) <= level for r in self.results if r.tested)


_VERDICT_ORDER = {REGRESSION: 0, NO_CHANGE: 1, IMPROVEMENT: 2}


def compare(old, new, alpha=DEFAULT_ALPHA, min_effect=DEFAULT_MIN_EFFECT, correct=True):
    """Compare two {name: Metric} maps (see the module docstring for the method).

    correct=False skips the Holm correction (raw p against alpha); only for showing
    in tests why the correction is there.
    """
    common = [n for n in old if n in new]
    rows = []
    untested = []
    for name in common:
        a, b = old[name].values, new[name].values
        mo, mn = float(np.median(a)), float(np.median(b))
        change = mn / mo - 1 if mo > 0 else math.nan
        tested = len(a) >= 2 and len(b) >= 2
        if not tested:
            untested.append(name)
        rows.append(Result(name=name, kind=old[name].kind, better=old[name].better,
                           n_old=len(a), n_new=len(b), median_old=mo, median_new=mn,
                           min_old=float(min(a)), max_old=float(max(a)),
                           min_new=float(min(b)), max_new=float(max(b)), change=change,
                           p=math.nan, p_holm=math.nan, verdict=NO_CHANGE, tested=tested))
    tested_rows = [r for r in rows if r.tested]
    for r, p in zip(tested_rows, mwu_pvalues([(old[r.name].values, new[r.name].values)
                                              for r in tested_rows])):
        r.p = p
    adjusted = holm([r.p for r in tested_rows]) if correct else [r.p for r in tested_rows]
    for r, q in zip(tested_rows, adjusted):
        r.p_holm = q
        significant = q <= alpha
        big = not math.isnan(r.change) and abs(r.change) > min_effect
        if significant and big:
            r.verdict = REGRESSION if r.badness > 0 else IMPROVEMENT
    rows.sort(key=lambda r: (_VERDICT_ORDER[r.verdict], not r.tested, -r.badness, r.name))
    return Comparison(results=rows, alpha=alpha, min_effect=min_effect, tests=len(tested_rows),
                      only_old=[n for n in old if n not in new],
                      only_new=[n for n in new if n not in old],
                      untested=untested, corrected=correct)


def filter_metrics(metrics, pattern):
    """The metrics whose name matches the regex `pattern` (re.search), or all for None."""
    if pattern is None:
        return metrics
    rx = re.compile(pattern)
    return OrderedDict((k, v) for k, v in metrics.items() if rx.search(k))


# --- formatting ---------------------------------------------------------------

def fmt_seconds(s):
    if s is None or not math.isfinite(s):
        return "-"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
        if abs(s) >= scale or unit == "ns":
            return "%.3g %s" % (s / scale, unit)
    return "-"


def fmt_value(value, kind):
    if kind == "time":
        return fmt_seconds(value)
    return "-" if value is None or not math.isfinite(value) else "%.3f" % value


def fmt_change(change):
    return "-" if change is None or not math.isfinite(change) else "%+.1f%%" % (100 * change)


def fmt_p(p):
    if p is None or not math.isfinite(p):
        return "-"
    return "%.2g" % p if p < 0.01 else "%.3f" % p
