# SPDX-License-Identifier: MIT
# Tests for scripts/regress.py and scripts/metrics.py: the tests, intervals, corrections, verdict rules and change points.
# Run: /usr/bin/python3 -m pytest tests/test_regress.py
import json
import math
import os
import random
import statistics
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scripts"))

import metrics  # noqa: E402
import regress  # noqa: E402
from metrics import EFFICIENCY, MACHINE, TIME  # noqa: E402


def test_sign_test_matches_scipys_exact_binomial_test():
    rng = random.Random(1)
    for n in (3, 6, 9, 12, 16):
        for shift in (0.0, 0.01, 0.05):
            d = [rng.gauss(shift, 0.03) for _ in range(n)]
            pos = sum(1 for x in d if x > 0)
            assert regress.sign_p(d) == pytest.approx(stats.binomtest(pos, n, 0.5).pvalue)
    assert regress.sign_p([]) == 1.0 and regress.sign_p([0.0, 0.0]) == 1.0
    assert regress.smallest_sign_p(12) == pytest.approx(regress.sign_p([0.01 * (i + 1) for i in range(12)]))


def test_a_round_without_a_change_counts_against_it_and_the_interval_agrees():
    # 4 rounds whose two medians were equal and 12 slower: dropping the 4 made 12 of 12, p = 0.0005,
    # a regression whose interval reached 1.0. Counted against the change, p is P(<= 4 of 16) twice.
    d = [0.0] * 4 + [0.1] * 12
    assert regress.sign_p(d) == pytest.approx(2 * stats.binom.cdf(4, 16, 0.5))
    _, lo, hi = regress.sign_interval(d)
    assert lo == 0.0 and hi == 0.1 and regress.sign_p(d) > 0.05


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1, 0.2])
def test_the_sign_interval_leaves_out_zero_exactly_when_the_sign_test_rejects(alpha):
    # Every split of 16 rounds into slower, unchanged and faster ones, at the alpha ab.py is given.
    for slower in range(17):
        for zeros in range(17 - slower):
            d = [0.1 + i for i in range(slower)] + [0.0] * zeros + [-0.1 - i for i in range(16 - slower - zeros)]
            _, lo, hi = regress.sign_interval(d, alpha)
            assert (not lo <= 0 <= hi) == (regress.sign_p(d) <= alpha), (alpha, slower, zeros)


def test_one_round_far_the_other_way_costs_the_sign_test_one_round_only():
    # 15 rounds about 10% slower and one where OLD's process ran at the one-worker time (NEW/OLD
    # 0.56), as measured in a calibration trial: the signed-rank test gives that round the top
    # rank; the sign test counts 15 of 16.
    d = [math.log(r) for r in (1.137, 0.56, 1.096, 1.112, 1.076, 1.09, 1.128, 1.11, 1.207, 1.113, 1.106,
                               1.097, 1.108, 1.167, 1.128, 1.122)]
    assert regress.sign_p(d) == pytest.approx(2 * 17 / 2 ** 16)
    assert regress.sign_p(d) < 0.05 / 44  # significant under Holm over ab.py's 44 times
    assert stats.wilcoxon(d, method="exact").pvalue > 0.05 / 44


def test_the_sign_interval_is_cut_by_the_binomial_and_agrees_with_the_sign_test():
    # five rounds cannot give 95% (the whole range covers 1 - 2/32): no interval
    est, lo, hi = regress.sign_interval([1.0, 2.0, 4.0, 3.0, 5.0])
    assert est == 3.0 and math.isnan(lo) and math.isnan(hi)
    # n = 16: P(Binomial(16, 1/2) <= 3) = 0.0106 <= 0.025 < P(<= 4): the 4th smallest to the 4th largest
    d = [0.3, -0.1, 0.7, 1.2, 0.4, 0.9, -0.2, 0.5, 1.1, 0.05, 0.6, 0.8, -0.3, 0.35, 0.45, 0.55]
    est, lo, hi = regress.sign_interval(d)
    assert (est, lo, hi) == (np.median(d), sorted(d)[3], sorted(d)[-4])
    # it leaves out 0 exactly when the sign test rejects at 5%, for every count of negative rounds
    for negatives in range(17):
        d = [-1.0 - i for i in range(negatives)] + [1.0 + i for i in range(16 - negatives)]
        _, lo, hi = regress.sign_interval(d)
        assert (not lo <= 0 <= hi) == (regress.sign_p(d) <= 0.05), negatives


def test_the_interval_covers_the_median_change_95_percent_of_the_time_under_bimodal_noise():
    # A change of 5% with bimodal noise as these VMs have it: in 3 rounds of 10 NEW's process
    # is twice as slow. The interval must cover the median of d, what the sign test is about; an
    # interval that assumes symmetric noise covers its pseudo-median instead (Hodges-Lehmann's,
    # which ab.py used before, covered the median 91% of the time here).
    rng = np.random.default_rng(2)

    def draws(shape):
        return 0.05 + rng.normal(0, 0.02, shape) + np.where(rng.random(shape) < 0.3, 0.7, 0.0)
    median = float(np.median(draws(2_000_000)))
    covered = 0
    for row in draws((400, 16)):
        _, lo, hi = regress.sign_interval(list(row))
        covered += lo <= median <= hi
    assert 0.95 <= covered / 400 <= 1.0, covered


def test_holm_and_benjamini_hochberg_by_hand():
    assert regress.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert regress.holm([float("nan"), 0.01]) == pytest.approx([1.0, 0.02])
    assert regress.benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert regress.benjamini_hochberg([0.5, 0.9]) == pytest.approx([0.9, 0.9])
    assert regress.holm([]) == [] and regress.benjamini_hochberg([]) == []


def test_between_run_sigma_counts_a_slow_run_as_noise_and_a_step_once():
    rng = random.Random(3)
    values = [100 * math.exp(rng.gauss(0, 0.02)) for _ in range(40)]
    sigma, k = regress.between_run_sigma(values)
    assert k == 39
    assert sigma == pytest.approx(0.02 * math.sqrt(2), rel=0.2)
    # A real 10% change is one difference of 39; the standard deviation of the values counts it in all.
    stepped = values[:20] + [v * 1.1 for v in values[20:]]
    assert regress.between_run_sigma(stepped)[0] < 1.25 * sigma
    assert math.sqrt(2) * statistics.stdev(math.log(v) for v in stepped) > 2 * sigma
    # A run 50% slow is the noise a slow OLD or NEW would be judged against: it counts.
    assert regress.between_run_sigma(values[:10] + [values[10] * 1.5] + values[11:])[0] > 3 * sigma


def test_history_p_values_are_exact_when_nothing_changed():
    # d / sigma of independent normal runs (OLD, NEW and k + 1 earlier ones), simulated: the p-value
    # at its simulated 1 - p quantile is p, in the tail too.
    rng = np.random.default_rng(5)
    for k in (4, 9):
        runs = rng.standard_normal((400000, k + 3))
        z = np.abs(runs[:, -1] - runs[:, -2]) / np.sqrt((np.diff(runs[:, :k + 1]) ** 2).mean(1))
        for p in (0.05, 0.001):
            t = np.quantile(z, 1 - p)
            assert regress.history_test(t, 1.0, k)[0] == pytest.approx(p, rel=0.15)
            assert regress.history_test(-t, 1.0, k)[0] == regress.history_test(t, 1.0, k)[0]
        _, low, high = regress.history_test(0.1, 0.05, k)  # the interval: where p = 0.05
        t95 = np.quantile(z, 0.95)
        assert (low, high) == pytest.approx((math.exp(0.1 - t95 * 0.05), math.exp(0.1 + t95 * 0.05)), rel=0.01)
        _, low, high = regress.history_test(0.1, 0.05, k, alpha=0.01)  # compare.py --alpha 0.01: where p = 0.01
        t99 = np.quantile(z, 0.99)
        assert (low, high) == pytest.approx((math.exp(0.1 - t99 * 0.05), math.exp(0.1 + t99 * 0.05)), rel=0.01)


def result(name, kind, ratio, p, n=16):
    return regress.Result(name=name, kind=kind, old=1.0, new=ratio, ratio=ratio, low=ratio, high=ratio, p=p, n=n)


def test_the_machines_bounds_do_not_change_which_times_are_possible():
    # Benjamini-Hochberg over the times alone: a time at p = 0.04 among three at 0.6 has q 0.16.
    # Twenty drifting peak/* bounds at p = 3e-5 in the same family made it 0.046, "possible".
    times = [result("sum/pool/range/workers:2/n:%d" % i, TIME, 1.10, p) for i, p in enumerate((0.04, 0.6, 0.6, 0.6))]
    bounds = [result("peak/read_bw/workers:%d" % i, MACHINE, 1.2, 3e-5) for i in range(20)]
    judged = {r.name: r for r in regress.judge(times + bounds)}
    first = judged["sum/pool/range/workers:2/n:0"]
    assert first.q == pytest.approx(0.16) and first.verdict == regress.NO_CHANGE, first
    assert all(judged[r.name].verdict == regress.DRIFT for r in bounds)


def test_only_times_decide_and_the_minimum_effect_counts():
    results = regress.judge([
        result("sum/pool/range/workers:2/n:1", TIME, 1.10, 1e-5),          # big and sure: regression
        result("sum/tbb/range/workers:2/n:1", TIME, 1.02, 1e-5),           # sure but small
        result("sum/seq/range/workers:1/n:1", TIME, 0.90, 1e-5),           # faster: improvement
        result("peak/vector_add", MACHINE, 1.20, 1e-5),                    # the machine moved
        result("sum/openmp/range/workers:2/n:1 efficiency", EFFICIENCY, 0.8, math.nan),
    ])
    verdicts = {r.name: r.verdict for r in results}
    assert verdicts == {"sum/pool/range/workers:2/n:1": regress.REGRESSION,
                        "sum/tbb/range/workers:2/n:1": regress.NO_CHANGE,
                        "sum/seq/range/workers:1/n:1": regress.IMPROVEMENT,
                        "peak/vector_add": regress.DRIFT,
                        "sum/openmp/range/workers:2/n:1 efficiency": regress.UNTESTED}
    assert results[0].name == "sum/pool/range/workers:2/n:1"  # regressions first
    # A faster seq lowers every parallel efficiency: never a regression of those models.
    assert not regress.Verdict(results=[r for r in results if r.kind != TIME]).regressed


def test_holm_decides_and_benjamini_hochberg_lists():
    # Four sure changes and two at p = 0.03 and 0.04: Holm over six adjusts those to 0.06 and
    # does not confirm them; Benjamini-Hochberg gives q = 0.036 and 0.04 and lists them.
    results = regress.judge([result("t%d" % i, TIME, 1.1, 1e-4) for i in range(4)] +
                            [result("maybe1", TIME, 1.1, 0.03), result("maybe2", TIME, 1.1, 0.04)])
    assert [r.name for r in results[4:]] == ["maybe1", "maybe2"]
    for r in results[4:]:
        assert r.verdict == regress.POSSIBLE and r.p_holm == pytest.approx(0.06) and r.q <= 0.04
    assert regress.Verdict(results=results).count(regress.REGRESSION) == 4


def test_errors_in_new_are_regressions():
    assert regress.Verdict(results=[], errors=[("sum/fork/range/workers:2/n:1", "fork failed")]).regressed
    assert not regress.Verdict(results=[]).regressed


def test_efficiency_comes_from_seq_at_the_same_language_kernel_and_n(tmp_path):
    times = {"sum/seq/range/workers:1/n:100": 4.0, "sum/pool/range/workers:2/n:100": 2.5,
             "sum/pool/range/workers:2/n:200": 1.0, "sum/pool/array/workers:2/n:100": 1.0,
             "python/sum/seq/workers:1/n:100": 9.0, "python/sum/threads/workers:2/n:100": 3.0,
             "fetch/coro/conc:10/n:100/delay_ms:100/bytes:1/keepalive:1": 1.1,
             "fetch/coro/conc:10/n:100/delay_ms:0/bytes:1/keepalive:1": 0.1, "peak/vector_add": 1.0,
             "peak/wrk/conc:10/delay_ms:0/bytes:1024": 4.1}
    counters = {"fetch/coro/conc:10/n:100/delay_ms:100/bytes:1/keepalive:1": {"efficiency": 0.9},
                "fetch/coro/conc:10/n:100/delay_ms:0/bytes:1/keepalive:1": {"efficiency": 0.0},
                "peak/wrk/conc:10/delay_ms:0/bytes:1024": {"requests_per_second": 80000.0}}
    doc = {"context": {"date": "2026-12-05T10:00:00+00:00", "host_name": "vm", "num_cpus": 2},
           "benchmarks": [dict({"name": k, "run_name": k, "run_type": "iteration", "repetitions": 1,
                                "repetition_index": 0, "threads": 1, "iterations": 1, "real_time": t,
                                "cpu_time": t, "time_unit": "s"}, **counters.get(k, {})) for k, t in times.items()]}
    (tmp_path / "run.json").write_text(json.dumps(doc))
    ms = metrics.run_metrics(str(tmp_path / "run.json"))[0]
    assert ms["sum/pool/range/workers:2/n:100 efficiency"].value == pytest.approx(0.8)
    assert ms["python/sum/threads/workers:2/n:100 efficiency"].value == pytest.approx(1.5)  # python's own seq
    assert "sum/pool/range/workers:2/n:200 efficiency" not in ms  # no seq at that n
    assert "sum/pool/array/workers:2/n:100 efficiency" not in ms  # no seq for the array kernel
    assert "sum/seq/range/workers:1/n:100 efficiency" not in ms
    assert ms["fetch/coro/conc:10/n:100/delay_ms:100/bytes:1/keepalive:1 efficiency"].value == 0.9
    assert "fetch/coro/conc:10/n:100/delay_ms:0/bytes:1/keepalive:1 efficiency" not in ms  # no ideal at 0 ms
    assert ms["peak/vector_add"].kind == MACHINE and ms["sum/pool/array/workers:2/n:100"].kind == TIME
    # wrk runs for fixed seconds: its time is its -d, and its metric the seconds per request it drew
    assert ms["peak/wrk/conc:10/delay_ms:0/bytes:1024"].kind == MACHINE
    assert ms["peak/wrk/conc:10/delay_ms:0/bytes:1024"].value == pytest.approx(1 / 80000)
    assert ms["sum/pool/range/workers:2/n:100 efficiency"].kind == metrics.EFFICIENCY
    assert list(ms)[:len(times)] == list(times)  # the times in run order, then the efficiencies
    assert len(ms) == len(times) + 3


def test_the_arrays_of_long_histories_are_not_faulted_in_again_at_every_evaluation():
    # In a fresh interpreter, as the scripts run: without regress's allocator settings, each
    # evaluation of the change-point statistic over 300 records faulted its 700 KB arrays in
    # afresh (316 page faults a call with pandas imported first, 15 times the arithmetic's
    # time). Page faults, not time: a slow machine does not fail this.
    code = """if True:
        import resource, sys
        sys.path.insert(0, %r)
        import numpy as np
        import regress
        x = np.random.default_rng(1).normal(size=(1, 300))
        regress._energy_split(x)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(50):
            regress._energy_split(x)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
    """ % os.path.join(os.path.dirname(HERE), "scripts")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout) < 20, proc.stdout


def test_change_points_find_the_steps_and_nothing_in_hundreds_of_flat_series():
    # 644 flat series, as many metrics as a full run has: tested one by one at p <= 0.01, 9 of these
    # stepped; Benjamini-Hochberg over them leaves none. The real steps are still found.
    rng = np.random.default_rng(4)
    series = {"flat%d" % i: list(1 + 0.01 * rng.standard_normal(30)) for i in range(644)}
    series["stepped"] = list(1 + 0.01 * rng.standard_normal(30))
    series["stepped"][18:] = [v + 0.1 for v in series["stepped"][18:]]
    two = list(1 + 0.01 * rng.standard_normal(36))
    two[12:] = [v + 0.1 for v in two[12:]]
    two[24:] = [v - 0.2 for v in two[24:]]
    series["two"], series["short"] = two, [1.0, 2.0, 3.0]
    found = regress.change_points(series)
    assert {name: [i for i, _ in points] for name, points in found.items() if points} == {
        "stepped": [18], "two": [12, 24]}
    # No permutation of the 12,900 or more each was tested with reached its step's statistic.
    assert all(p < 1e-4 for _, p in found["stepped"] + found["two"]), found
    assert found["short"] == []
