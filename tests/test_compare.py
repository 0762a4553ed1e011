# SPDX-License-Identifier: MIT
# Tests for scripts/regress.py (statistics, metrics) and scripts/compare.py (CLI, commits, bad input).
# Run: /usr/bin/python3 -m pytest tests/test_compare.py
import json
import os
import socket
import subprocess
import sys
from math import comb

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPTS = os.path.join(REPO, "scripts")
COMPARE = os.path.join(SCRIPTS, "compare.py")
sys.path.insert(0, SCRIPTS)

import regress  # noqa: E402
from bench_names import load_run  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
HOST = "testhost"
SHA_A = "a" * 40


# --- writing Google Benchmark JSON ------------------------------------------------

def context(commit=SHA_A, dirty="false", host=HOST, date="2026-11-25T21:08:51+00:00"):
    return {"date": date, "host_name": host, "executable": "./concbench", "num_cpus": 2,
            "mhz_per_cpu": 2600, "cpu_scaling_enabled": False, "caches": [],
            "load_avg": [0.1, 0.1, 0.1], "library_build_type": "release",
            "concbench_commit": commit, "concbench_dirty": dirty, "compiler": "GCC 12.2.0",
            "hardware_threads": "2"}


def write_run(path, benches, ctx=None, unit="ns", aggregates=True):
    """Write a Google Benchmark JSON file the way the library does.

    benches: list of (name without /real_time, [seconds per repetition], counters) where
    counters is None or a list (one dict per repetition). A repetition given as None is
    written as an errored run.
    """
    scale = regress_scale = {"ns": 1e9, "us": 1e6, "ms": 1e3, "s": 1.0}[unit]
    del regress_scale
    entries = []
    for family, (name, times, counters) in enumerate(benches):
        run_name = name + "/real_time"
        reps = len(times)
        good = []
        for i, t in enumerate(times):
            e = {"name": run_name, "family_index": family, "per_family_instance_index": 0,
                 "run_name": run_name, "run_type": "iteration", "repetitions": reps,
                 "repetition_index": i, "threads": 1}
            if t is None:
                e.update({"error_occurred": True, "error_message": "synthetic failure",
                          "iterations": 0, "real_time": 0, "cpu_time": 0, "time_unit": unit})
            else:
                e.update({"iterations": 10, "real_time": t * scale, "cpu_time": t * scale * 0.98,
                          "time_unit": unit})
                if counters:
                    e.update(counters[i])
                good.append(t)
            entries.append(e)
        if aggregates and reps > 1 and good:
            for agg, value in (("mean", float(np.mean(good))), ("median", float(np.median(good))),
                               ("stddev", float(np.std(good, ddof=1)) if len(good) > 1 else 0.0)):
                entries.append({"name": run_name + "_" + agg, "family_index": family,
                                "per_family_instance_index": 0, "run_name": run_name,
                                "run_type": "aggregate", "repetitions": reps, "threads": 1,
                                "aggregate_name": agg, "aggregate_unit": "time", "iterations": reps,
                                "real_time": value * scale, "cpu_time": value * scale,
                                "time_unit": unit})
    with open(path, "w") as f:
        json.dump({"context": ctx if ctx is not None else context(), "benchmarks": entries}, f, indent=1)
    return str(path)


def noisy(rng, center, noise, reps):
    return list(center * (1 + noise * rng.standard_normal(reps)))


def run_compare(*args, cwd=REPO):
    return subprocess.run([SYSTEM_PYTHON, COMPARE] + [str(a) for a in args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def metrics(times_by_name, kind="time"):
    better = regress.LOWER if kind == "time" else regress.HIGHER
    return {n: regress.Metric(n, kind, better, list(v), n) for n, v in times_by_name.items()}


def one_line_error(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert err and "\n" not in err, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    return err


# --- the statistics ----------------------------------------------------------------

def test_holm_matches_a_hand_computation():
    # ascending 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 -> 0.02, 0.03, 0.06, max(0.06, 0.04)
    assert regress.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert regress.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert regress.holm([float("nan"), 0.01]) == pytest.approx([1.0, 0.02])
    assert regress.holm([]) == []


def test_mann_whitney_is_exact_without_ties():
    # complete separation of 9 against 9: 2 / C(18, 9), ten times smaller than the normal
    # approximation's 4e-4 -- the difference between finding a regression among 200 or not
    p = regress.mwu_pvalue(range(9), np.arange(9) + 100)
    assert p == pytest.approx(2 / comb(18, 9))
    assert regress.smallest_pvalue(3, 3) == pytest.approx(0.1)
    assert regress.mwu_pvalue([1, 1, 1], [1, 1, 1]) == 1.0
    # ties fall back to the normal approximation and still give a p-value
    assert 0 < regress.mwu_pvalue([1, 2, 2, 3], [2, 2, 5, 6]) < 1
    # the vectorised form gives what one call at a time gives
    rng = np.random.default_rng(5)
    pairs = [(rng.normal(1, 0.02, 9), rng.normal(1.01, 0.02, 9)) for _ in range(20)] + [([1, 2], [3, 4, 5])]
    assert regress.mwu_pvalues(pairs) == pytest.approx([regress.mwu_pvalue(a, b) for a, b in pairs])


def test_repetitions_needed_grows_with_the_family():
    assert regress.repetitions_needed(1, 0.05) == 4     # 2/C(8,4) = 0.029
    assert regress.repetitions_needed(400, 0.05) == 9   # 2/C(18,9) = 4.1e-5 <= 1.25e-4
    assert regress.repetitions_needed(2000, 0.05) == 10


def _family(rng, n_bench, reps, noise, slow=None, factor=1.0):
    old, new = {}, {}
    for i in range(n_bench):
        center = 1e-3 * (1 + i % 7)
        old["b%03d" % i] = noisy(rng, center, noise, reps)
        new["b%03d" % i] = noisy(rng, center * (factor if i == slow else 1.0), noise, reps)
    return metrics(old), metrics(new)


def test_a_against_a_reports_no_regression_in_95_percent_of_trials():
    rng = np.random.default_rng(20261125)
    trials = 100
    clean_default = clean_holm_only = clean_uncorrected = 0
    for _ in range(trials):
        old, new = _family(rng, 200, 9, 0.02)
        clean_default += not regress.compare(old, new).regressions
        # Holm alone must hold the line: no minimum effect to hide behind
        clean_holm_only += not regress.compare(old, new, min_effect=0).regressions
        clean_uncorrected += not regress.compare(old, new, min_effect=0, correct=False).regressions
    assert clean_default >= 95
    assert clean_holm_only >= 95
    # ... and it is the correction that holds it: 200 raw tests at 0.05 flag ~5 benchmarks a trial
    assert clean_uncorrected <= 10


def test_a_ten_percent_slowdown_is_found_in_90_percent_of_trials():
    rng = np.random.default_rng(7)
    trials, found, false_alarms = 100, 0, 0
    for _ in range(trials):
        # among 200 benchmarks, as in a full suite, so the Holm family is realistic
        old, new = _family(rng, 200, 9, 0.02, slow=17, factor=1.10)
        cmp = regress.compare(old, new)
        names = [r.name for r in cmp.regressions]
        found += "b017" in names
        false_alarms += any(n != "b017" for n in names)
        assert cmp.results[0].name == "b017" or "b017" not in names  # worst first
    assert found >= 90
    assert false_alarms <= 5


def test_holm_alone_decides():
    old_b = [1 + 0.02 * k for k in range(9)]
    new_b = [x * 1.08 + 1e-4 for x in old_b]
    p = regress.mwu_pvalue(old_b, new_b)
    assert 0.001 < p < 0.01  # significant alone, not after correcting over 50
    alone = regress.compare(metrics({"x": old_b}), metrics({"x": new_b}))
    assert [r.verdict for r in alone.results] == [regress.REGRESSION]
    rng = np.random.default_rng(11)
    old = {"x": old_b}
    new = {"x": new_b}
    for i in range(49):
        same = noisy(rng, 1.0, 0.02, 9)
        old["y%d" % i], new["y%d" % i] = same, noisy(rng, 1.0, 0.02, 9)
    among = regress.compare(metrics(old), metrics(new))
    x = next(r for r in among.results if r.name == "x")
    assert x.p == pytest.approx(p) and x.p_holm > 0.05
    assert x.change > 0.05  # the effect is big enough: only the correction says no
    assert x.verdict == regress.NO_CHANGE
    assert regress.compare(metrics(old), metrics(new), correct=False).results[0].name == "x"


def test_minimum_effect_alone_decides():
    rng = np.random.default_rng(3)
    old = noisy(rng, 1.0, 0.001, 9)
    new = noisy(rng, 1.02, 0.001, 9)  # a real 2% slowdown, measured very precisely
    default = regress.compare(metrics({"x": old}), metrics({"x": new}))
    r = default.results[0]
    assert r.p_holm < 1e-4 and 0.01 < r.change < 0.05
    assert r.verdict == regress.NO_CHANGE
    loose = regress.compare(metrics({"x": old}), metrics({"x": new}), min_effect=0.01)
    assert loose.results[0].verdict == regress.REGRESSION


def test_direction_flips_for_higher_is_better():
    rng = np.random.default_rng(4)
    lower_eff = regress.compare(metrics({"e": noisy(rng, 0.9, 0.01, 9)}, "efficiency"),
                                metrics({"e": noisy(rng, 0.6, 0.01, 9)}, "efficiency"))
    assert lower_eff.results[0].verdict == regress.REGRESSION
    higher_eff = regress.compare(metrics({"e": noisy(rng, 0.6, 0.01, 9)}, "efficiency"),
                                 metrics({"e": noisy(rng, 0.9, 0.01, 9)}, "efficiency"))
    assert higher_eff.results[0].verdict == regress.IMPROVEMENT
    faster = regress.compare(metrics({"t": noisy(rng, 1.0, 0.01, 9)}),
                             metrics({"t": noisy(rng, 0.8, 0.01, 9)}))
    assert faster.results[0].verdict == regress.IMPROVEMENT


def test_results_are_worst_first():
    rng = np.random.default_rng(8)
    old = {n: noisy(rng, 1.0, 0.005, 9) for n in "abcde"}
    factors = {"a": 0.8, "b": 1.3, "c": 1.0, "d": 1.1, "e": 1.01}
    new = {n: noisy(rng, factors[n], 0.005, 9) for n in "abcde"}
    order = [r.name for r in regress.compare(metrics(old), metrics(new)).results]
    assert order[:2] == ["b", "d"] and order[-1] == "a"


# --- metrics from runs ---------------------------------------------------------------

SUM_SEQ = "sum/seq/range/workers:1/n:100000000"
SUM_T1 = "sum/threads/range/workers:1/n:100000000"
SUM_T2 = "sum/threads/range/workers:2/n:100000000"
FETCH = "fetch/pool/conc:4/n:40/delay_ms:100/bytes:1024/keepalive:1"
FETCH0 = "fetch/pool/conc:4/n:40/delay_ms:0/bytes:1024/keepalive:1"


def test_sum_efficiency_pairs_repetitions_by_index(tmp_path):
    seq = [1.0, 1.1, 1.2]
    t2 = [0.6, 0.5, 0.8]
    path = write_run(tmp_path / "r.json", [(SUM_SEQ, seq, None), (SUM_T2, t2, None)])
    m = regress.metrics_from_run(load_run(path))
    assert m[SUM_SEQ].values == pytest.approx(seq)
    assert m[SUM_SEQ].kind == "time" and m[SUM_SEQ].better == regress.LOWER
    eff = m[SUM_T2 + " efficiency"]
    assert eff.kind == "efficiency" and eff.better == regress.HIGHER
    assert eff.values == pytest.approx([s / (2 * t) for s, t in zip(seq, t2)])
    assert SUM_SEQ + " efficiency" not in m  # seq is the reference, not a model to judge


def test_efficiency_skips_errored_repetitions_and_missing_seq(tmp_path):
    path = write_run(tmp_path / "r.json", [(SUM_SEQ, [1.0, None, 1.2], None),
                                            (SUM_T2, [0.5, 0.5, 0.6], None),
                                            ("sum/threads/array/workers:2/n:1000", [1e-6] * 3, None)])
    m = regress.metrics_from_run(load_run(path))
    assert m[SUM_SEQ].values == pytest.approx([1.0, 1.2])
    assert m[SUM_T2 + " efficiency"].values == pytest.approx([1.0, 1.0])  # reps 0 and 2 only
    assert "sum/threads/array/workers:2/n:1000 efficiency" not in m  # no seq at array/1000


def test_fetch_efficiency_counter_and_time_units(tmp_path):
    path = write_run(tmp_path / "r.json",
                     [(FETCH, [0.2, 0.21, 0.22], [{"efficiency": e, "ideal_s": 0.1} for e in (0.5, 0.48, 0.45)]),
                      (FETCH0, [0.01] * 3, [{"efficiency": 0.0, "ideal_s": 0.0}] * 3)], unit="ms")
    m = regress.metrics_from_run(load_run(path))
    assert m[FETCH].values == pytest.approx([0.2, 0.21, 0.22])  # ms converted to seconds
    assert m[FETCH + " efficiency"].values == pytest.approx([0.5, 0.48, 0.45])
    assert FETCH0 + " efficiency" not in m  # no latency, no ideal: nothing to track


def _sum_runs(tmp_path, seq_new=1.0, t1_new=1.02, t2_new=0.52, seed=1, reps=9):
    rng = np.random.default_rng(seed)
    old = write_run(tmp_path / "old.json", [
        (SUM_SEQ, noisy(rng, 1.0, 0.01, reps), None),
        (SUM_T1, noisy(rng, 1.02, 0.01, reps), None),
        (SUM_T2, noisy(rng, 0.52, 0.01, reps), None)])
    new = write_run(tmp_path / "new.json", [
        (SUM_SEQ, noisy(rng, seq_new, 0.01, reps), None),
        (SUM_T1, noisy(rng, t1_new, 0.01, reps), None),
        (SUM_T2, noisy(rng, t2_new, 0.01, reps), None)])
    return old, new


def _verdicts(proc):
    doc = json.loads(proc.stdout)
    return {r["name"]: r["verdict"] for r in doc["results"]}, doc


def test_collapsed_scaling_is_flagged_while_the_one_worker_time_holds(tmp_path):
    # threads at 2 workers no longer scales (0.52 s -> 0.95 s), at 1 worker it did not move
    old, new = _sum_runs(tmp_path, t2_new=0.95)
    proc = run_compare(old, new, "--json")
    assert proc.returncode == 1, proc.stderr
    v, _ = _verdicts(proc)
    assert v[SUM_T2 + " efficiency"] == "regression"
    assert v[SUM_T1] == "no change" and v[SUM_SEQ] == "no change"
    assert v[SUM_T1 + " efficiency"] == "no change"


def test_efficiency_alone_flags_a_model_whose_time_did_not_move(tmp_path):
    # seq got 30% faster, threads at 2 workers did not follow: no time regressed, yet its
    # efficiency fell from ~0.96 to ~0.67 -- only the derived metric can say so
    old, new = _sum_runs(tmp_path, seq_new=0.7)
    proc = run_compare(old, new, "--json")
    v, doc = _verdicts(proc)
    assert v[SUM_T2] == "no change" and v[SUM_SEQ] == "improvement"
    assert v[SUM_T2 + " efficiency"] == "regression"
    assert proc.returncode == 1
    assert doc["results"][0]["name"].endswith("efficiency")


def test_fetch_efficiency_drop_is_flagged(tmp_path):
    rng = np.random.default_rng(2)

    def fetch(eff):
        times = noisy(rng, 0.2, 0.01, 9)
        return [(FETCH, times, [{"efficiency": e, "ideal_s": 0.1} for e in noisy(rng, eff, 0.01, 9)])]
    old = write_run(tmp_path / "old.json", fetch(0.9))
    new = write_run(tmp_path / "new.json", fetch(0.6))
    proc = run_compare(old, new, "--json")
    v, _ = _verdicts(proc)
    assert v[FETCH] == "no change"
    assert v[FETCH + " efficiency"] == "regression"
    assert proc.returncode == 1


# --- the command line, end to end ---------------------------------------------------

def _suite(rng, slow=None, factor=1.0, reps=9, n=12):
    out = []
    for i in range(n):
        name = "sum/pool/array/workers:2/n:%d" % (10 ** (3 + i % 6) + i)
        out.append((name, noisy(rng, 1e-4 * (1 + i), 0.02, reps) if i != slow
                    else noisy(rng, 1e-4 * (1 + i) * factor, 0.02, reps), None))
    return out


def test_cli_regression_table_and_exit_1(tmp_path):
    rng = np.random.default_rng(12)
    old = write_run(tmp_path / "old.json", _suite(rng))
    new = write_run(tmp_path / "new.json", _suite(rng, slow=4, factor=1.2))
    proc = run_compare(old, new)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(i for i, l in enumerate(lines) if l.startswith("verdict"))
    first = lines[header + 1].split()
    assert first[0] == "regression" and first[1].startswith("+") and first[-1] == "sum/pool/array/workers:2/n:10000004"
    assert "1 regression, 0 improvements, 11 no change" in proc.stdout
    assert "Holm-corrected over 12" in proc.stdout
    assert "commit aaaaaaaaaaaa" in lines[0] and "host testhost" in lines[0]


def test_cli_no_change_exit_0_and_json(tmp_path):
    rng = np.random.default_rng(13)
    old = write_run(tmp_path / "old.json", _suite(rng))
    new = write_run(tmp_path / "new.json", _suite(rng), ctx=context(dirty="true"))
    proc = run_compare(old, new, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["summary"] == {"regression": 0, "improvement": 0, "no change": 12}
    assert doc["new"]["dirty"] is True and doc["old"]["dirty"] is False
    assert doc["method"]["tests"] == 12 and doc["method"]["alpha"] == 0.05
    r = doc["results"][0]
    for key in ("name", "kind", "change", "p", "p_holm", "median_old", "median_new", "n_old", "verdict"):
        assert key in r


def test_cli_flags_change_the_verdict(tmp_path):
    rng = np.random.default_rng(14)
    old = write_run(tmp_path / "old.json", [("x/1", noisy(rng, 1.0, 0.001, 9), None)])
    new = write_run(tmp_path / "new.json", [("x/1", noisy(rng, 1.03, 0.001, 9), None)])
    assert run_compare(old, new).returncode == 0                          # 3% < 5%
    assert run_compare(old, new, "--min-effect", "2%").returncode == 1
    assert run_compare(old, new, "--min-effect", "0.02").returncode == 1
    # an alpha no 9-repetition comparison can reach is bad input, not "no regression"
    one_line_error(run_compare(old, new, "--min-effect", "0.02", "--alpha", "1e-9"),
                   "too few repetitions", "--benchmark_repetitions=17")
    assert run_compare(old, new, "--min-effect", "0.02", "--filter", "^y").returncode == 2


def test_cli_reads_only_iteration_rows_and_skips_errors(tmp_path):
    rng = np.random.default_rng(15)
    times = noisy(rng, 1.0, 0.01, 9)
    old = write_run(tmp_path / "old.json", [("x/1", times, None)])
    # an errored repetition in NEW is left out; aggregates are ignored
    new = write_run(tmp_path / "new.json", [("x/1", times[:4] + [None] + times[4:8], None)])
    proc = run_compare(old, new, "--json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)["results"][0]
    assert (r["n_old"], r["n_new"]) == (9, 8)


@pytest.fixture
def good_file(tmp_path):
    rng = np.random.default_rng(16)
    return write_run(tmp_path / "good.json", _suite(rng))


def _bad_file(tmp_path, name, content):
    p = tmp_path / name
    p.write_text(content)
    return str(p)


def test_bad_input_missing_file(tmp_path, good_file):
    one_line_error(run_compare(good_file, tmp_path / "missing.json"), "NEW", "no such file")


def test_bad_input_not_json(tmp_path, good_file):
    bad = _bad_file(tmp_path, "bad.json", "{not json")
    one_line_error(run_compare(bad, good_file), "OLD", "not JSON")


def test_bad_input_no_benchmarks(tmp_path, good_file):
    empty = _bad_file(tmp_path, "e.json", json.dumps({"context": context(), "benchmarks": []}))
    one_line_error(run_compare(good_file, empty), "no benchmarks")
    nokey = _bad_file(tmp_path, "k.json", json.dumps({"context": context()}))
    one_line_error(run_compare(good_file, nokey), "not Google Benchmark JSON")
    errored = write_run(tmp_path / "err.json", [("x/1", [None, None], None)])
    one_line_error(run_compare(good_file, errored), "errored")


def test_bad_input_without_repetitions(tmp_path, good_file):
    rng = np.random.default_rng(17)
    single = write_run(tmp_path / "one.json", _suite(rng, reps=1))
    one_line_error(run_compare(good_file, single), "one repetition", "--benchmark_repetitions=9")
    # only aggregates, as --benchmark_report_aggregates_only writes
    with open(good_file) as f:
        doc = json.load(f)
    doc["benchmarks"] = [b for b in doc["benchmarks"] if b["run_type"] == "aggregate"]
    aggs = _bad_file(tmp_path, "aggs.json", json.dumps(doc))
    one_line_error(run_compare(aggs, good_file), "only aggregates", "--benchmark_repetitions=9")
    # three repetitions: Mann-Whitney cannot get below p = 0.1, so nothing could ever be found
    three = write_run(tmp_path / "three.json", _suite(rng, reps=3))
    three2 = write_run(tmp_path / "three2.json", _suite(rng, reps=3))
    one_line_error(run_compare(three, three2), "too few repetitions", "--benchmark_repetitions=9")


def test_bad_input_host_mismatch(tmp_path, good_file):
    rng = np.random.default_rng(18)
    other = write_run(tmp_path / "other.json", _suite(rng), ctx=context(host="elsewhere"))
    one_line_error(run_compare(good_file, other), "testhost", "elsewhere", "--any-host")
    assert run_compare(good_file, other, "--any-host").returncode in (0, 1)


def test_bad_input_arguments(tmp_path, good_file):
    one_line_error(run_compare(good_file), "NEW")
    one_line_error(run_compare(good_file, good_file, "--alpha", "1.5"), "--alpha")
    one_line_error(run_compare(good_file, good_file, "--min-effect", "lots"), "min-effect")
    one_line_error(run_compare(good_file, good_file, "--filter", "("), "--filter")
    other = write_run(tmp_path / "o.json", [("other/1", [1.0] * 9, None)])
    one_line_error(run_compare(good_file, other), "no benchmark in common")


# --- commits ------------------------------------------------------------------------

def git(repo, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(["git", "-C", str(repo)] + list(args), check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def make_repo(path, commits):
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    shas = []
    for i in range(commits):
        (path / "file").write_text("%d\n" % i)
        git(path, "add", "file")
        git(path, "commit", "-q", "-m", "commit %d" % i)
        shas.append(git(path, "rev-parse", "HEAD"))
    return shas


def record(history, sha, stamp, host=HOST, dirty="false", factor=1.0, seed=0, name=None):
    rng = np.random.default_rng(seed)
    history.mkdir(parents=True, exist_ok=True)
    date = "%s-%s-%sT%s:%s:%s+00:00" % (stamp[:4], stamp[4:6], stamp[6:8], stamp[9:11], stamp[11:13], stamp[13:15])
    fname = name or "%s-%s%s-%s.json" % (stamp, sha[:12], "-dirty" if dirty == "true" else "", host)
    return write_run(history / fname, _suite(rng, slow=0, factor=factor),
                     ctx=context(commit=sha, dirty=dirty, host=host, date=date))


def test_commits_resolve_to_their_latest_record(tmp_path):
    repo = tmp_path / "repo"
    shas = make_repo(repo, 3)
    hist = repo / "results" / "history"
    record(hist, shas[0], "20261101T100000Z", seed=1)
    record(hist, shas[1], "20261102T100000Z", seed=2, factor=1.0)
    newest = record(hist, shas[1], "20261103T100000Z", seed=3, factor=1.5)  # the newest of shas[1]
    record(hist, shas[1], "20261104T100000Z", seed=4, dirty="true")  # dirty: not the commit
    record(hist, shas[2], "20261105T100000Z", seed=5, host="elsewhere")
    (hist / "plots").mkdir()
    (hist / ("20261106T100000Z-%s-testhost.json.tmp" % shas[2][:12])).write_text("{")

    base = ["--repo", repo, "--host", HOST]
    for old, new in (("HEAD~2", "HEAD~1"), (shas[0][:7], shas[1]), ("main~2", shas[1][:12])):
        proc = run_compare(old, new, "--json", *base)
        assert proc.returncode == 1, proc.stderr  # the 1.5x slowdown of the newest clean record
        doc = json.loads(proc.stdout)
        assert doc["new"]["path"] == newest
        assert doc["old"]["commit"] == shas[0]
    # a record can be named as a file too, and the commit on the other side takes its host
    proc = run_compare(hist / os.path.basename(newest), "HEAD~2", "--repo", repo)
    assert proc.returncode in (0, 1), proc.stderr
    # shas[2] only has a record from another host
    one_line_error(run_compare("HEAD~2", "HEAD", *base), "no record of commit", "elsewhere")
    proc = run_compare("HEAD~2", "HEAD", "--repo", repo, "--any-host", "--json")
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["new"]["host"] == "elsewhere"


def test_commit_errors(tmp_path):
    repo = tmp_path / "repo"
    shas = make_repo(repo, 2)
    hist = repo / "results" / "history"
    record(hist, shas[0], "20261101T100000Z")
    base = ["--repo", repo, "--host", HOST]
    one_line_error(run_compare("HEAD~1", "no-such-rev", *base), "no-such-rev", "not a file, nor a commit")
    one_line_error(run_compare("HEAD~1", "HEAD", *base), "no record of commit %s" % shas[1][:12],
                   "--benchmark_repetitions=9")
    one_line_error(run_compare("HEAD~1", "HEAD~5", *base), "HEAD~5")


def test_a_dirty_record_stands_in_only_when_there_is_no_clean_one(tmp_path):
    repo = tmp_path / "repo"
    shas = make_repo(repo, 2)
    hist = repo / "results" / "history"
    record(hist, shas[0], "20261101T100000Z")
    dirty = record(hist, shas[1], "20261102T100000Z", dirty="true")
    proc = run_compare("HEAD~1", "HEAD", "--repo", repo, "--host", HOST, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["new"]["path"] == dirty
    assert "note: NEW HEAD stands for its record" in proc.stderr and "dirty work tree" in proc.stderr
    # ... but bad input stays one line, the note is not printed before it
    one_line_error(run_compare("HEAD", tmp_path / "missing.json", "--repo", repo), "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    one_line_error(run_compare("HEAD", bad, "--repo", repo, "--any-host"), "bad.json")


def test_a_recorded_commit_git_no_longer_has_resolves_by_prefix(tmp_path):
    repo = tmp_path / "repo"
    shas = make_repo(repo, 1)
    hist = repo / "results" / "history"
    gone = "b" * 40  # rebased away: only the record remembers it
    record(hist, shas[0], "20261101T100000Z")
    record(hist, gone, "20261102T100000Z", seed=9)
    proc = run_compare("HEAD", "bbbbbbb", "--repo", repo, "--host", HOST, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["new"]["commit"] == gone


def test_default_host_is_this_machine(tmp_path):
    repo = tmp_path / "repo"
    shas = make_repo(repo, 2)
    hist = repo / "results" / "history"
    record(hist, shas[0], "20261101T100000Z", host=socket.gethostname())
    record(hist, shas[1], "20261102T100000Z", host=socket.gethostname())
    assert run_compare("HEAD~1", "HEAD", "--repo", repo).returncode in (0, 1)
    record(hist, shas[0], "20261103T100000Z", host="elsewhere", name="x.json")
    # the newest record of HEAD~1 is from elsewhere, but this machine's is the one used
    proc = run_compare("HEAD~1", "HEAD", "--repo", repo, "--json")
    assert json.loads(proc.stdout)["old"]["host"] == socket.gethostname()


def test_runs_under_the_bare_interpreter_on_path(tmp_path):
    # `python3` on PATH may lack scipy: pyenv_check re-executes under /usr/bin/python3
    rng = np.random.default_rng(19)
    old = write_run(tmp_path / "old.json", _suite(rng))
    proc = subprocess.run([COMPARE, old, old], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "0 regressions" in proc.stdout
