# SPDX-License-Identifier: MIT
# Regression statistics over runs as units: paired rounds, between-run noise, verdicts, change points.
"""The statistics behind ab.py, compare.py, history.py and calibrate.py (README, "Regressions").

The unit is a run (a process, a record, a commit), never a repetition: repetitions of one
process share its thread placement, page layout and neighbours, so a test over them calls
every difference between two processes significant.

ab.py: each round gives each metric a paired d_i = log(NEW_i / OLD_i); the change is the median
of d with the sign test's distribution-free 1 - alpha interval, the p-value the exact sign test's.
Signs only, because the noise between processes is bimodal on these VMs: a process whose two
workers did not run at once takes twice as long, and the signed-rank test gave that one round
the top rank, enough to hide a real 10% slowdown under Holm.
compare.py: one record a side, so the noise comes from the history: the root mean square of
consecutive records' log differences is sigma, d / sigma referred to its exact null distribution
under normal noise. Real noise is bimodal, so what that finds is suspected (SUSPECTED): ab.py confirms.
Verdicts: Holm over the TIME metrics decides, only for changes beyond the minimum effect;
Benjamini-Hochberg q-values list the rest as "possible"; MACHINE metrics are drift and
EFFICIENCY metrics shown beside the times, untested: neither decides. Errors in NEW, where OLD
erred less or not at all, are regressions (peak/*: drift).
history.py: change points by E-Divisive means (Matteson & James 2014), permutation tests,
Benjamini-Hochberg over the metrics.
"""
import ctypes
import functools
import json
import math
import statistics
import sys
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import integrate, stats

from fmt import finite, first_few, fmt_time, plural
from metrics import EFFICIENCY, KINDS, MACHINE, TIME, time_kind

REGRESSION, IMPROVEMENT, POSSIBLE, DRIFT, NO_CHANGE, UNTESTED = (
    "regression", "improvement", "possible", "machine drift", "no change", "untested")
# What compare.py's Holm-confirmed changes are: one record a side cannot tell a slow process from
# a change (real A/A pairs flagged "regressions"), so they are suspects that ab.py confirms.
SUSPECTED = {REGRESSION: "suspected regression", IMPROVEMENT: "suspected improvement"}
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_EFFECT = 0.03
MIN_HISTORY_DIFFS = 4  # consecutive-record differences needed to estimate a metric's noise


def _keep_freed_memory():
    """Has glibc serve arrays below 32 MB from its heap, and keep 64 MB at the heap's top when it
    trims. By default an array of a few hundred KB (successive_tail past k = 190, _energy_split
    past 250 records) was mapped afresh each time or handed back at the next trim, and faulted in
    again: 300-500 page faults a change-point statistic over 300 records, 15-30 times its
    arithmetic. successive_tail(200) took 8.5 s (0.35 s now), change points over 300 records
    31 s for 100 metrics (2.1 s). Elsewhere than glibc, nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD, in glibc's malloc.h
        libc.mallopt(-2, 64 << 20)  # M_TOP_PAD
    except (OSError, AttributeError):
        pass


_keep_freed_memory()


def sign_p(d):
    """Two-sided exact sign test p-value of median(d) = 0 over all len(d) rounds, a round with d = 0
    (the two sides' medians equal) counted against the change: on the side with fewer rounds
    (1.0 without data). Dropped, as is usual, 4 such rounds and 12 slower made 12 of 12, p = 0.0005,
    a regression, whose interval reached 1.0; counted so, the test is the interval's (sign_interval)."""
    fewer = min(sum(1 for x in d if x <= 0), sum(1 for x in d if x >= 0))
    return min(1.0, 2 * float(stats.binom.cdf(fewer, len(d), 0.5))) if len(d) else 1.0


def smallest_sign_p(n):
    """The smallest p-value sign_p can give with n rounds (all of one sign)."""
    return min(1.0, 2 / 2 ** n)


def sign_interval(d, alpha=0.05):
    """(estimate, low, high): the median of d and the sign test's distribution-free 1 - alpha
    interval for it, from the k-th smallest d to the k-th largest, k the most rounds for which
    P(Binomial(n, 1/2) < k) <= alpha / 2. No symmetry is assumed (the noise between processes is
    bimodal here), and it agrees with sign_p: it leaves out 0 exactly when sign_p(d) <= alpha, a d
    of 0 included. The bounds are NaN when n rounds cannot give 1 - alpha (below 6 at 95%): their
    whole range would cover less. Per metric: not adjusted for the many metrics as Holm is."""
    n, s = len(d), sorted(d)
    if n == 0:
        return math.nan, math.nan, math.nan
    k = int(np.sum(stats.binom.cdf(np.arange(n + 1), n, 0.5) <= alpha / 2))
    low, high = (s[k - 1], s[n - k]) if k else (math.nan, math.nan)
    return statistics.median(s), low, high


def between_run_sigma(values):
    """(sigma, k): the standard deviation of the log-difference of two runs, from a metric's values
    in run order: the root mean square of its k consecutive differences (von Neumann's mean square
    successive difference). A slow run in the history is in two of them, counted as the noise it is;
    a step, a real change, is in one only (a standard deviation of the values counts it in all). Not
    robust on purpose: the median of the |differences| ignored the slow runs a slow OLD or NEW is
    judged against, and its null, far wider than Student's t on k - 1 degrees it was referred to,
    put 29-40% of simulated A/A comparisons of 399 times over Holm at 5%."""
    logs = [math.log(v) for v in values if v is not None and v > 0 and math.isfinite(v)]
    diffs = np.diff(logs)
    return (math.sqrt(np.mean(diffs ** 2)), len(diffs)) if len(diffs) else (math.nan, 0)


@functools.lru_cache(maxsize=None)
def successive_tail(k):
    """(log t, log P(|T| > t)) on a grid of t, for T = d / sigma when d is the log-difference of
    two runs and sigma between_run_sigma of k + 1 others, all independent draws of one normal.
    Not Student's t: sigma^2 k / sigma_true^2 is a weighted sum of k chi-squares on one degree, the
    weights w_j = 2 - 2 cos(pi j / (k + 1)) (the eigenvalues of the differences' quadratic form),
    so |T| > t when Q = 2 Z_0^2 - t^2 / k * sum w_j Z_j^2 > 0, and Imhof (1961) inverts Q's
    characteristic function exactly: P(Q > 0) = 1/2 + 1/pi int_0^inf sin(theta(u)) / (u rho(u)) du,
    theta = 1/2 sum arctan(c_j u), rho = prod (1 + c_j^2 u^2)^(1/4) over Q's weights c = 2, -t^2 w / k.
    The grid ends past P = 1e-10 (Student's t on k / 2 degrees has the heavier tail) and keeps
    P >= 1e-8, above where the quadrature's error shows; history_test goes on past its end at
    its last slope."""
    w = 2 - 2 * np.cos(np.pi * np.arange(1, k + 1) / (k + 1))
    t = np.geomspace(1e-3, stats.t.isf(1e-10, k / 2), 300)
    c = -np.outer(t * t / k, w)  # a row per t

    def imhof(u):
        theta = np.arctan(2 * u) + np.arctan(c * u).sum(1)
        log_rho = np.log1p(4 * u * u) + np.log1p((c * u) ** 2).sum(1)
        return np.sin(theta / 2) * np.exp(-log_rho / 4) / u
    p = 0.5 + integrate.quad_vec(imhof, 0, np.inf, epsabs=1e-13, limit=5000)[0] / np.pi
    keep = p > 1e-8
    return np.log(t[keep]), np.log(p[keep])


def history_test(d, sigma, k, alpha=DEFAULT_ALPHA):
    """(p, low, high): a log change d against a between-run sigma from k consecutive differences,
    the two-sided p-value of d / sigma and the 1 - alpha interval as ratios, from successive_tail(k).
    Past the grid's end p falls as the grid's last step does: the tail's slope there (-16.7 at
    k = 30) is still far from its asymptote's, -k, which put p orders of magnitude too small."""
    log_t, log_p = successive_tail(k)
    x = math.log(max(abs(d) / sigma, 1e-3))
    slope = (log_p[-1] - log_p[-2]) / (log_t[-1] - log_t[-2])
    p = math.exp(np.interp(x, log_t, log_p) + slope * max(0.0, x - log_t[-1]))
    half = math.exp(np.interp(-math.log(alpha), -log_p, log_t)) * sigma
    return p, math.exp(d - half), math.exp(d + half)


def holm(pvalues):
    """Holm-Bonferroni adjusted p-values, in input order (NaN counts as 1)."""
    p = [1.0 if math.isnan(x) else float(x) for x in pvalues]
    adjusted, running = [1.0] * len(p), 0.0
    for rank, i in enumerate(sorted(range(len(p)), key=lambda i: p[i])):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(pvalues):
    """Benjamini-Hochberg q-values, in input order (NaN counts as 1)."""
    p = [1.0 if math.isnan(x) else float(x) for x in pvalues]
    q, running = [1.0] * len(p), 1.0
    for rank, i in reversed(list(enumerate(sorted(range(len(p)), key=lambda i: p[i])))):
        running = min(running, p[i] * len(p) / (rank + 1))
        q[i] = min(1.0, running)
    return q


@dataclass
class Result:
    name: str
    kind: str           # metrics.TIME, MACHINE or EFFICIENCY
    old: float          # OLD's value (median over rounds or the record's median)
    new: float
    ratio: float        # NEW / OLD as estimated (the median round's, or the records' ratio)
    low: float          # its 1 - alpha interval, per metric (NaN: too few rounds for one)
    high: float
    p: float = math.nan
    n: int = 0          # rounds, or history differences
    q: float = math.nan       # Benjamini-Hochberg over the tested metrics of its kind
    p_holm: float = math.nan  # Holm over the TIME metrics
    verdict: str = NO_CHANGE

    @property
    def worse(self):
        """The change in the bad direction: > 0 is worse whatever the metric's direction."""
        if not math.isfinite(self.ratio):
            return -math.inf
        return (1 - self.ratio) if self.kind == EFFICIENCY else (self.ratio - 1)


@dataclass
class Verdict:
    results: list
    errors: list = field(default_factory=list)     # (benchmark, message): errored in NEW only
    notes: list = field(default_factory=list)      # what else the reader must know
    alpha: float = DEFAULT_ALPHA
    min_effect: float = DEFAULT_MIN_EFFECT
    method: str = ""
    suspects: bool = False  # regressions and improvements are suspected, not confirmed (suspect())

    def count(self, verdict):
        return sum(1 for r in self.results if r.verdict == verdict)

    @property
    def regressed(self):
        return bool(self.errors) or self.count(REGRESSION) + self.count(SUSPECTED[REGRESSION]) > 0

    def suspect(self):
        """Marks the regressions and improvements as suspected (compare.py's); returns self."""
        for r in self.results:
            r.verdict = SUSPECTED.get(r.verdict, r.verdict)
        self.suspects = True
        return self


def rate_bound(k, n, upper):
    """The one-sided 95% Clopper-Pearson bound on a rate seen k times in n: 0 false alarms in 20
    trials bound their rate by 14%, not by 0%, and 9 of 10 slowdowns found bound it from below
    by 61%. 1.0 (upper) or 0.0 (lower) without trials."""
    if upper:
        return float(stats.beta.ppf(0.95, k + 1, n - k)) if k < n else 1.0
    return float(stats.beta.ppf(0.05, k, n - k + 1)) if k > 0 else 0.0


def error_weights(errors, measured):
    """{benchmark: how badly it erred} of one run: 2 where it measured nothing, 1 where it erred in
    some repetitions and measured in others. ab.py sums them over its rounds."""
    return {name: 1 if name in measured else 2 for name in errors}


def judge_errors(new, old, said):
    """(errors, notes) of the benchmarks that erred, new and old {name: weight} (error_weights')
    and said(side, name) the message of one ("old" or "new"). NEW's are regressions unless OLD's
    weighed as much, so a flaky OLD does not hide a NEW that always fails; a peak/* bound that
    erred in NEW is the machine's, in a note and never a verdict, as its times are; OLD's own
    are in a note."""
    erred = [name for name, weight in new.items() if weight > old.get(name, 0)]
    errors = [(n, said("new", n)) for n in erred if time_kind(n) == TIME]
    notes = ["%s errored in NEW (a bound of the machine, never a verdict): %s" % (n, said("new", n))
             for n in erred if time_kind(n) == MACHINE]
    notes += ["%s errored in OLD only: %s" % (n, said("old", n)) for n in old if n not in new]
    return errors, notes


def one_side_notes(names, erred):
    """Notes on the metrics one side measured and the other did not: `names` is OLD's and NEW's
    metric names; a benchmark renamed, lost or added is said, never compared in silence. The
    metrics of benchmarks in `erred` are left out: their errors say it."""
    erred, notes = set(erred), []
    for side, other, label in ((0, 1, "OLD"), (1, 0, "NEW")):
        others = set(names[other])
        alone = [n for n in dict.fromkeys(names[side])
                 if n not in others and n.removesuffix(" efficiency") not in erred]
        if alone:
            notes.append("%s measured in %s only, not compared: %s" % (
                plural(len(alone), "metric"), label, first_few(sorted(alone))))
    return notes


def judge(results, alpha=DEFAULT_ALPHA, min_effect=DEFAULT_MIN_EFFECT):
    """Sets q, p_holm and verdict on each Result; returns them sorted: regressions first, worst first."""
    # Benjamini-Hochberg over the times and over the machine's bounds apart: together, twenty
    # drifting peak/* bounds at p = 3e-5 made a time at p = 0.04 "possible" (q 0.046, alone 0.16).
    for kind in (TIME, MACHINE):
        tested = [r for r in results if r.kind == kind and math.isfinite(r.p)]
        for r, q in zip(tested, benjamini_hochberg([r.p for r in tested])):
            r.q = q
    times = [r for r in results if r.kind == TIME and math.isfinite(r.p)]
    for r, p in zip(times, holm([r.p for r in times])):
        r.p_holm = p
    for r in results:
        big = math.isfinite(r.ratio) and abs(r.ratio - 1) > min_effect
        if r.kind == EFFICIENCY or not math.isfinite(r.p):
            r.verdict = UNTESTED  # an efficiency's change is its times', shown, never tested
        elif r.kind == MACHINE:
            r.verdict = DRIFT if big and r.q <= alpha else NO_CHANGE
        elif big and r.p_holm <= alpha:
            r.verdict = REGRESSION if r.worse > 0 else IMPROVEMENT
        elif big and r.q <= alpha:
            r.verdict = POSSIBLE
    order = [REGRESSION, POSSIBLE, IMPROVEMENT, DRIFT, NO_CHANGE, UNTESTED]
    return sorted(results, key=lambda r: (KINDS.index(r.kind), order.index(r.verdict), -r.worse, r.name))


def fmt_value(value, kind, micro="us"):
    """A metric's value: 0.994, or a time (the terminal's "us"; a page passes micro="µs")."""
    if not finite(value):
        return "-"
    return "%.3f" % value if kind == EFFICIENCY else fmt_time(value, micro=micro)


def fmt_change(r):
    if not math.isfinite(r.ratio):
        return "-"
    text = "%+.1f%%" % (100 * (r.ratio - 1))
    if math.isfinite(r.low) and math.isfinite(r.high):
        text += " [%+.1f, %+.1f]" % (100 * (r.low - 1), 100 * (r.high - 1))
    return text


def fmt_p(p):
    if not finite(p):
        return "-"
    return "%.2g" % p if p < 0.01 else "%.3f" % p


def render_table(verdict, head, out):
    """The verdict as text: `head` lines, errors, then one table per kind, then a summary."""
    for line in head + ["note: " + n for n in verdict.notes]:
        print(line, file=out)
    for name, message in verdict.errors:
        print("REGRESSION  errored in NEW: %s: %s" % (name, message), file=out)
    titles = {TIME: "times (these decide)", MACHINE: "the machine's bounds (peak/*: drift, never a verdict)",
              EFFICIENCY: "parallel efficiency (follows from the times; never a verdict)"}
    for kind, title in titles.items():
        rows = [(r.verdict, fmt_change(r), fmt_value(r.old, kind), fmt_value(r.new, kind), fmt_p(r.p),
                 fmt_p(r.p_holm if kind == TIME else r.q), str(r.n), r.name)
                for r in verdict.results if r.kind == kind]
        if not rows:
            continue
        rows.insert(0, ("verdict", "change [%g%% interval]" % (100 * (1 - verdict.alpha)), "old", "new", "p",
                        "p(Holm)" if kind == TIME else "q(BH)", "n", "metric"))
        widths = [max(map(len, column)) for column in zip(*rows)]
        print("\n" + title + ":", file=out)
        for row in rows:
            cells = [c.ljust(w) if i in (0, 7) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
            print("  ".join(cells).rstrip(), file=out)
    label = lambda v: SUSPECTED[v] if verdict.suspects else v
    print("\n%d errored in NEW, %s, %d possible, %s, %d machine drift; %s; alpha %g, minimum effect %g%%"
          % (len(verdict.errors), plural(verdict.count(label(REGRESSION)), label(REGRESSION)),
             verdict.count(POSSIBLE), plural(verdict.count(label(IMPROVEMENT)), label(IMPROVEMENT)),
             verdict.count(DRIFT), verdict.method, verdict.alpha, 100 * verdict.min_effect), file=out)


def _json_null_for_nonfinite(x):
    """x with every NaN and infinity in it made None: JSON has neither (and a saved file read
    back may hold them anywhere, not only where a verdict computes one)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _json_null_for_nonfinite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_null_for_nonfinite(v) for v in x]
    return x


def render_json(verdict, extra, out):
    results = [asdict(r) for r in verdict.results]
    doc = dict(extra, method=verdict.method, alpha=verdict.alpha, min_effect=verdict.min_effect,
               notes=verdict.notes, errors=[{"benchmark": b, "message": m} for b, m in verdict.errors],
               summary={v: verdict.count(v) for v in (REGRESSION, POSSIBLE, IMPROVEMENT, DRIFT, NO_CHANGE, UNTESTED,
                                                      *SUSPECTED.values())},
               results=results)
    out.write(json.dumps(_json_null_for_nonfinite(doc), indent=2, allow_nan=False) + "\n")  # whole or not at all


def _energy_split(x):
    """(best split index, its statistic) of E-Divisive means with alpha = 1 for each row of x
    (shape (..., n), n >= 4): the split t maximising t(n-t)/n * (2 E|L-R| - E|L-L'| - E|R-R'|)."""
    n = x.shape[-1]
    d = np.abs(x[..., :, None] - x[..., None, :])
    t = np.arange(2, n - 1)
    # sums of |x_a - x_b| over [0,t)x[0,t) and over [0,t)x[0,n), and over all
    corner = 2 * np.tril(d, -1).sum(-1).cumsum(-1)[..., t - 1]
    edge, total = d.sum(-1).cumsum(-1)[..., t - 1], d.sum((-2, -1))[..., None]
    m, k = t, n - t
    between = (edge - corner) * 2 / (m * k)
    left = corner / (m * (m - 1))
    right = (total - 2 * edge + corner) / (k * (k - 1))
    q = m * k / n * (between - left - right)
    best = q.argmax(-1)
    return t[best], np.take_along_axis(q, best[..., None], -1)[..., 0]


def _split_p(x, level, rng, hits=10):
    """(split, p): E-Divisive's best split of x and its permutation p-value, sequential (Besag &
    Clifford 1991): permutations until `hits` of them reach the split's statistic, p = hits / their
    number; with fewer after 2 / level permutations (so that p can reach level), (reached + 1) / (2 / level
    + 1). Only a real step takes them all: 2 m / alpha for the first split of one of m metrics."""
    split, q = _energy_split(x)
    most, done, found, batch = math.ceil(2 / level), 0, 0, 16
    while q > 0 and done < most:
        b = min(batch, most - done, max(1, 2 ** 15 // len(x) ** 2))  # rows at once: fits in a cache
        stats_ = _energy_split(rng.permuted(np.tile(x, (b, 1)), axis=1))[1]
        reached = found + np.cumsum(stats_ >= q * (1 - 1e-12))  # the same split summed in another order
        if reached[-1] >= hits:
            return int(split), hits / (done + int(np.searchsorted(reached, hits)) + 1)
        found, done, batch = int(reached[-1]), done + b, 2 * batch
    return (int(split), (found + 1) / (done + 1)) if q > 0 else (None, 1.0)


def change_points(series, alpha=0.05, seed=0):
    """{name: [(index, p)]}: where the level of each series steps (a new level starts at index),
    by E-Divisive means with permutation tests. Every series of 4 or more values has its best split
    tested, and Benjamini-Hochberg over them at alpha keeps R of the m: with no step anywhere, a
    step is reported at most alpha of the time however many series there are (independent or
    positively dependent). The segments of those R are searched recursively at level alpha R / m,
    the level their selection was made at (Benjamini & Bogomolov 2014)."""
    x = {name: np.asarray(values, dtype=float) for name, values in series.items() if len(values) >= 4}
    rngs = {name: np.random.default_rng(seed) for name in x}  # a series' p does not depend on the others
    first = {name: _split_p(v, alpha / len(x), rngs[name]) for name, v in x.items()}
    kept = [name for name, q in zip(first, benjamini_hochberg([p for _, p in first.values()])) if q <= alpha]
    level = alpha * len(kept) / max(1, len(x))

    def search(name, lo, hi, tested=None):
        split, p = tested or (_split_p(x[name][lo:hi], level, rngs[name]) if hi - lo >= 4 else (None, 1.0))
        if split is None or p > level:
            return []
        return search(name, lo, lo + split) + [(lo + split, p)] + search(name, lo + split, hi)

    return {name: search(name, 0, len(x[name]), first[name]) if name in kept else [] for name in series}
