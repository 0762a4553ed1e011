# SPDX-License-Identifier: MIT
# Regression statistics over runs as units: paired rounds, between-run noise, corrections, verdicts, change points.
"""The statistics behind ab.py, compare.py, history.py and calibrate.py.

The unit is a run (a process, a record, a commit), never a repetition: repetitions of one
process share its thread placement, page layout and neighbours, so a test over them calls
every difference between two processes significant (see README, "Regressions").

Interleaved A/B (ab.py). Round i runs OLD and NEW each in fresh processes, in random order,
minutes apart at most, so drift of the machine hits both. Each metric gives one paired
sample per round, d_i = log(NEW_i / OLD_i). The change is the Hodges-Lehmann estimate of
the median d (the median of all pairwise means of the d_i), reported as a ratio
NEW/OLD = exp(HL), with its distribution-free 95% interval from the Walsh averages; the
p-value is the two-sided exact sign test of median d = 0: how many rounds NEW was slower
in, against a fair coin. It uses the signs only, because the noise between processes is
bimodal on these VMs: a process whose two workers did not run at once takes twice as long,
and such a round has the largest |d_i| of all. The Wilcoxon signed-rank test gives that round
the top rank, and one such round against a real 10% slowdown in the other 15 left it short of
significance under Holm; the sign test counts it as one round of 16 (scripts/calibrate.py,
README "How well the A/B method works").

Records from different times (compare.py). One record of each side is one sample each, so
the noise cannot come from the two records: it comes from the history. For each metric,
the spread between consecutive records of the same machine in results/history/ (robustly:
the median absolute difference of their logs, scaled to a standard deviation) is the
between-run noise sigma of one difference; d / sigma is referred to Student's t with as
many degrees of freedom as differences less one. Too little history means no verdict.

Verdicts. Holm over the TIME metrics decides the exit code (family-wise error at alpha,
whatever the dependence between metrics), and only changes larger than the minimum effect
count. Benjamini-Hochberg over all tested metrics gives each a q-value: a change with
q <= alpha and an effect above the minimum, that Holm did not confirm, is listed as
"possible". MACHINE metrics (peak/*) are reported as machine drift and EFFICIENCY metrics
beside the times; neither decides. A benchmark that errored in NEW and not in OLD is a
regression, listed first.

Change points (history.py). E-Divisive means (Matteson & James 2014, as Apache Otava and
MongoDB's signal processing use it): the split maximising the energy distance between the
two sides, accepted by a permutation test, then each side searched again.
"""
import json
import math
from dataclasses import asdict, dataclass, field

from fmt import fmt_time
from metrics import EFFICIENCY, MACHINE, TIME

REGRESSION, IMPROVEMENT, POSSIBLE, DRIFT, NO_CHANGE, UNTESTED = (
    "regression", "improvement", "possible", "machine drift", "no change", "untested")
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_EFFECT = 0.03
MIN_HISTORY_DIFFS = 4  # consecutive-record differences needed to estimate a metric's noise


# --- paired rounds: the sign test and Hodges-Lehmann ------------------------------

def _signed_rank_counts(n):
    """counts[w]: how many of the 2^n sign patterns give the signed-rank sum W+ = w."""
    counts = [1]
    for r in range(1, n + 1):
        nxt = counts + [0] * r
        for w, c in enumerate(counts):
            nxt[w + r] += c
        counts = nxt
    return counts


def sign_p(d):
    """Two-sided exact sign test p-value of median(d) = 0: the binomial probability of a
    split of positive and negative d at least as uneven as this one (zeros dropped); 1.0
    without data."""
    pos, neg = sum(1 for x in d if x > 0), sum(1 for x in d if x < 0)
    n = pos + neg
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(pos, neg) + 1))
    return min(1.0, 2 * tail / 2 ** n)


def smallest_sign_p(n):
    """The smallest p-value sign_p can give with n rounds (all of one sign)."""
    return min(1.0, 2 / 2 ** n) if n else 1.0


def hodges_lehmann(d, alpha=0.05):
    """(estimate, low, high): the median of the Walsh averages (d_i + d_j) / 2, i <= j, and
    the distribution-free 1 - alpha interval between the Walsh averages that the signed-rank
    test's critical value cuts off (the whole range when there are too few rounds)."""
    n = len(d)
    if n == 0:
        return math.nan, math.nan, math.nan
    walsh = sorted((d[i] + d[j]) / 2 for i in range(n) for j in range(i, n))
    m = len(walsh)
    estimate = (walsh[(m - 1) // 2] + walsh[m // 2]) / 2
    counts, total = _signed_rank_counts(n), 2 ** n
    # c: the largest signed-rank sum with P(W+ <= c) <= alpha / 2; the interval runs from the
    # (c+1)-th smallest Walsh average to the (c+1)-th largest.
    c, cdf = -1, 0.0
    for w, count in enumerate(counts):
        cdf += count / total
        if cdf > alpha / 2:
            break
        c = w
    if c < 0:  # too few rounds for any interval at this level: the whole range
        return estimate, walsh[0], walsh[-1]
    return estimate, walsh[c], walsh[m - 1 - c]


# --- records from different times: the between-run noise in the history ----------

def between_run_sigma(values):
    """(sigma, differences): the standard deviation of the log-difference of two consecutive
    runs, estimated robustly (median absolute difference / 0.6745) from a metric's values in
    run order. A step in the history shows as one large difference and barely moves it."""
    logs = [math.log(v) for v in values if v is not None and v > 0 and math.isfinite(v)]
    diffs = sorted(abs(b - a) for a, b in zip(logs, logs[1:]))
    if not diffs:
        return math.nan, 0
    mid = len(diffs) // 2
    mad = diffs[mid] if len(diffs) % 2 else (diffs[mid - 1] + diffs[mid]) / 2
    return mad / 0.6745, len(diffs)


def t_pvalue(z, df):
    from scipy import stats
    return float(2 * stats.t.sf(abs(z), df))


# --- corrections ----------------------------------------------------------------

def holm(pvalues):
    """Holm-Bonferroni adjusted p-values, in input order (NaN counts as 1)."""
    p = [1.0 if (x is None or math.isnan(x)) else float(x) for x in pvalues]
    m, adjusted, running = len(p), [1.0] * len(p), 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: p[i])):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(pvalues):
    """Benjamini-Hochberg q-values, in input order (NaN counts as 1)."""
    p = [1.0 if (x is None or math.isnan(x)) else float(x) for x in pvalues]
    m, q, running = len(p), [1.0] * len(p), 1.0
    for rank, i in reversed(list(enumerate(sorted(range(m), key=lambda i: p[i])))):
        running = min(running, p[i] * m / (rank + 1))
        q[i] = min(1.0, running)
    return q


# --- verdicts --------------------------------------------------------------------

@dataclass
class Result:
    name: str
    kind: str           # metrics.TIME, MACHINE or EFFICIENCY
    old: float          # OLD's value (median over rounds or the record's median)
    new: float
    ratio: float        # NEW / OLD as estimated (Hodges-Lehmann, or the records' ratio)
    low: float          # its 95% interval
    high: float
    p: float = math.nan
    n: int = 0          # rounds, or history differences
    q: float = math.nan       # Benjamini-Hochberg over every tested metric
    p_holm: float = math.nan  # Holm over the TIME metrics
    verdict: str = NO_CHANGE

    @property
    def worse(self):
        """The change in the bad direction: > 0 is worse whatever the metric's direction."""
        if not math.isfinite(self.ratio):
            return -math.inf
        change = self.ratio - 1
        return -change if self.kind == EFFICIENCY else change


@dataclass
class Verdict:
    results: list
    errors: list = field(default_factory=list)     # (benchmark, message): errored in NEW only
    notes: list = field(default_factory=list)      # what else the reader must know
    alpha: float = DEFAULT_ALPHA
    min_effect: float = DEFAULT_MIN_EFFECT
    method: str = ""

    def count(self, verdict):
        return sum(1 for r in self.results if r.verdict == verdict)

    @property
    def regressed(self):
        return bool(self.errors) or self.count(REGRESSION) > 0


def judge(results, alpha=DEFAULT_ALPHA, min_effect=DEFAULT_MIN_EFFECT):
    """Sets q, p_holm and verdict on each Result (see the module docstring); returns them
    sorted: regressions first, worst first."""
    tested = [r for r in results if r.kind != EFFICIENCY and math.isfinite(r.p)]
    for r, q in zip(tested, benjamini_hochberg([r.p for r in tested])):
        r.q = q
    times = [r for r in tested if r.kind == TIME]
    for r, p in zip(times, holm([r.p for r in times])):
        r.p_holm = p
    for r in results:
        big = math.isfinite(r.ratio) and abs(r.ratio - 1) > min_effect
        if r.kind == EFFICIENCY or not math.isfinite(r.p):
            r.verdict = UNTESTED if r.kind != EFFICIENCY else NO_CHANGE
        elif r.kind == MACHINE:
            r.verdict = DRIFT if big and r.q <= alpha else NO_CHANGE
        elif big and r.p_holm <= alpha:
            r.verdict = REGRESSION if r.worse > 0 else IMPROVEMENT
        elif big and r.q <= alpha:
            r.verdict = POSSIBLE
    order = {REGRESSION: 0, POSSIBLE: 1, IMPROVEMENT: 2, DRIFT: 3, NO_CHANGE: 4, UNTESTED: 5}
    kind_order = {TIME: 0, MACHINE: 1, EFFICIENCY: 2}
    return sorted(results, key=lambda r: (kind_order[r.kind], order[r.verdict], -r.worse, r.name))


# --- rendering ------------------------------------------------------------------

def fmt_value(value, kind):
    if value is None or not math.isfinite(value):
        return "-"
    return "%.3f" % value if kind == EFFICIENCY else fmt_time(value, micro="us")


def fmt_change(r):
    if not math.isfinite(r.ratio):
        return "-"
    text = "%+.1f%%" % (100 * (r.ratio - 1))
    if math.isfinite(r.low) and math.isfinite(r.high):
        text += " [%+.1f, %+.1f]" % (100 * (r.low - 1), 100 * (r.high - 1))
    return text


def fmt_p(p):
    if p is None or not math.isfinite(p):
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
    for kind in (TIME, MACHINE, EFFICIENCY):
        rows = [(r.verdict, fmt_change(r), fmt_value(r.old, kind), fmt_value(r.new, kind), fmt_p(r.p),
                 fmt_p(r.p_holm if kind == TIME else r.q), str(r.n), r.name)
                for r in verdict.results if r.kind == kind]
        if not rows:
            continue
        header = ("verdict", "change [95% interval]", "old", "new", "p", "p(Holm)" if kind == TIME else "q(BH)",
                  "n", "metric")
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
        print("\n" + titles[kind] + ":", file=out)
        for row in [header] + rows:
            cells = [c.ljust(w) if i in (0, 7) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
            print("  ".join(cells).rstrip(), file=out)
    print("\n%d errored in NEW, %d regression%s, %d possible, %d improvement%s, %d machine drift; %s; "
          "alpha %g, minimum effect %g%%"
          % (len(verdict.errors), verdict.count(REGRESSION), "" if verdict.count(REGRESSION) == 1 else "s",
             verdict.count(POSSIBLE), verdict.count(IMPROVEMENT), "" if verdict.count(IMPROVEMENT) == 1 else "s",
             verdict.count(DRIFT), verdict.method, verdict.alpha, 100 * verdict.min_effect), file=out)


def render_json(verdict, extra, out):
    def clean(d):
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}
    doc = dict(extra, method=verdict.method, alpha=verdict.alpha, min_effect=verdict.min_effect,
               notes=verdict.notes, errors=[{"benchmark": b, "message": m} for b, m in verdict.errors],
               summary={v: verdict.count(v) for v in (REGRESSION, POSSIBLE, IMPROVEMENT, DRIFT, NO_CHANGE)},
               results=[clean(asdict(r)) for r in verdict.results])
    json.dump(doc, out, indent=2, allow_nan=False)
    out.write("\n")


# --- change points ----------------------------------------------------------------

def _energy_split(x):
    """(best split index, its statistic) of E-Divisive means with alpha = 1: the split t
    maximising t(n-t)/n * (2 E|L-R| - E|L-L'| - E|R-R'|), or (None, 0)."""
    import numpy as np
    n = len(x)
    s = np.abs(x[:, None] - x[None, :]).cumsum(0).cumsum(1)  # s[i, j] = sum of |x_a - x_b|, a <= i, b <= j
    t = np.arange(2, n - 1)
    if not len(t):
        return None, 0.0
    corner, edge = s[t - 1, t - 1], s[t - 1, n - 1]  # sums over [0,t)x[0,t) and [0,t)x[0,n)
    m, k = t, n - t
    between = (edge - corner) * 2 / (m * k)
    left = corner / (m * (m - 1))
    right = (s[n - 1, n - 1] - 2 * edge + corner) / (k * (k - 1))
    q = m * k / n * (between - left - right)
    best = int(np.argmax(q))
    return (int(t[best]), float(q[best])) if q[best] > 0 else (None, 0.0)


def change_points(values, alpha=0.01, permutations=199, seed=0):
    """Indices i where the level of `values` steps (a new level starts at i), by E-Divisive
    means with a permutation test at `alpha`, searched recursively; [(index, p)], sorted."""
    import numpy as np
    rng = np.random.default_rng(seed)
    found = []

    def search(lo, hi):
        x = np.asarray(values[lo:hi], dtype=float)
        if len(x) < 4:
            return
        split, q = _energy_split(x)
        if split is None:
            return
        hits, allowed = 0, alpha * (permutations + 1) - 1  # more hits than this: p > alpha
        y = x.copy()
        for _ in range(permutations):
            rng.shuffle(y)
            if _energy_split(y)[1] >= q:
                hits += 1
                if hits > allowed:
                    return
        p = (hits + 1) / (permutations + 1)
        if p <= alpha:
            found.append((lo + split, p))
            search(lo, lo + split)
            search(lo + split, hi)

    search(0, len(values))
    return sorted(found)
