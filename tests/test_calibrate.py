# SPDX-License-Identifier: MIT
# Tests for scripts/calibrate.py: an interrupted calibration goes on from its saved trials, with the same commit only.
# Run: /usr/bin/python3 -m pytest tests/test_calibrate.py
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CALIBRATE = os.path.join(REPO, "scripts", "calibrate.py")
DATA = os.path.join(HERE, "data", "ab")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
sys.path.insert(0, HERE)

from test_ab import binary  # noqa: E402
from test_compare import one_line_error  # noqa: E402


def saved_out(tmp_path, cpu_model=None):
    """An --out holding one finished trial: real rounds from the 2-core VM (A/A and a 10%
    slowdown), their machine made this one (or a CPU called cpu_model), since going on with
    another machine's trials is refused before anything runs."""
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import records
    out = tmp_path / "calibration"
    (out / "rounds").mkdir(parents=True)
    for source, name in (("aa.json", "trial-01-aa.json"), ("slow10.json", "trial-01-p10.json")):
        data = json.loads(open(os.path.join(DATA, source)).read())
        data["context"].update(records.this_machine())
        if cpu_model:
            data["context"]["cpu_model"] = cpu_model
        (out / "rounds" / name).write_text(json.dumps(data))
    return out


def saved_commit():
    return json.loads(open(os.path.join(DATA, "aa.json")).read())["context"]["concbench_commit"]


# Names the default subset of ab.py selects, so the stand-in binary can run a round of it.
SUBSET = "sum/seq/range/workers:1/n:100000,sum/pool/range/workers:2/n:100000"


def calibrate(*args, names=SUBSET, env=None):
    return subprocess.run([PYTHON, CALIBRATE] + [str(a) for a in args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "FAKE_NAMES": names, **(env or {})})


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_saved_trials_are_kept_and_judged_again(tmp_path):
    out = saved_out(tmp_path)
    (out / "summary.json").write_text(json.dumps({"hours": 0.5}))
    proc = calibrate("--trials", 1, "--binary", binary(tmp_path, "a"), "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "holds 1 finished trial: writing their summary again" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    # Judged exactly as ab.py judges them (test_ab.test_saved_rounds_from_this_machine): the
    # A/A trial flags nothing and the slowed model is found; the earlier hours are kept.
    assert (summary["trials"], summary["aa_flagged"], summary["p10_found"]) == (1, 0, 1)
    assert summary["hours"] >= 0.5 and summary["commit"] == saved_commit()
    # one trial bounds nothing: a false-alarm rate up to 95% would pass it 1 time in 20
    assert "| A/A: comparisons that flagged anything | 0 of 1 | at most 95% |" in proc.stdout
    # The slowdown's models that were not slowed are A/A comparisons too, counted apart; the
    # summary is dated by its trials, not by the day it is written again.
    assert summary["others_flagged"] == 0 and summary["date"] == "2026-12-01", summary
    assert "| slowdowns: comparisons that flagged a model not slowed | 0 of 1 | at most 95% |" in proc.stdout
    # A second trial saved: --trials 1 replaced the summary of both with one of the first, and
    # said it held 1 finished trial, going on from trial 2.
    for source, name in (("trial-01-aa.json", "trial-02-aa.json"), ("trial-01-p10.json", "trial-02-p5.json")):
        (out / "rounds" / name).write_text((out / "rounds" / source).read_text())
    before = (out / "summary.json").read_text()
    proc = calibrate("--trials", 1, "--binary", binary(tmp_path, "b"), "--out", out)
    one_line_error(proc, "holds 2 finished trials, more than --trials 1: give --trials 2 or more")
    assert (out / "summary.json").read_text() == before


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
@pytest.mark.parametrize("hours", ["nan", "1e400", -2])
def test_saved_hours_that_are_no_time_are_not_carried_on(tmp_path, hours):
    # "nan" and "1e400" are floats to float(): the summary written again held NaN or Infinity,
    # which is not JSON, and summary.md said "nan hours".
    out = saved_out(tmp_path)
    (out / "summary.json").write_text(json.dumps({"hours": hours}))
    proc = calibrate("--trials", 1, "--binary", binary(tmp_path, "a"), "--out", out)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert 0 <= summary["hours"] < 1 and "nan" not in (out / "summary.md").read_text()


def test_efficiency_mode_takes_no_flag_of_a_run(tmp_path):
    # they were read and quietly ignored
    for flag in (["--rounds", "8"], ["--out", str(tmp_path / "x")], ["--binary", "/nonexistent"], ["--trials", "3"]):
        one_line_error(calibrate("--efficiency", tmp_path, *flag),
                       "--efficiency runs nothing, so %s means nothing with it" % flag[0])
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_going_on_with_another_commit_is_refused(tmp_path):
    out = saved_out(tmp_path)
    proc = calibrate("--trials", 2, "--rounds", 16, "--binary", binary(tmp_path, "a"), "--out", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "holds trials of commit %s, this binary is commit unknown: give a new --out" % saved_commit()[:12] in last
    assert "Traceback" not in proc.stderr
    # A binary whose help says its commit is refused before a round runs (it ran one first).
    proc = calibrate("--trials", 2, "--rounds", 16, "--binary", binary(tmp_path, "b"), "--out", out,
                     env={"FAKE_BUILT_FROM": "f" * 40})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "this binary is commit ffffffffffff: give a new --out" in proc.stderr.strip().splitlines()[-1]
    assert "round 1" not in proc.stderr


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_going_on_on_another_machine_is_refused(tmp_path):
    # Saved on another CPU: refused before a round runs.
    out = saved_out(tmp_path, cpu_model="Other CPU")
    proc = calibrate("--trials", 2, "--rounds", 16, "--binary", binary(tmp_path, "a"), "--out", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "holds trials of another machine (cpu_model: Other CPU vs " in last and "give a new --out" in last
    assert "round 1" not in proc.stderr and "Traceback" not in proc.stderr
    # Saved here, with the binary's commit, but the binary's runs name another CPU: refused after
    # the first round, which names the machine it ran on.
    out = saved_out(tmp_path / "again")
    proc = calibrate("--trials", 2, "--rounds", 16, "--binary", binary(tmp_path, "b"), "--out", out,
                     env={"FAKE_CONTEXT": json.dumps({"concbench_commit": saved_commit()})})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "holds trials of another machine (" in last and "Fake CPU" in last


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_going_on_with_another_build_of_the_commit_is_refused(tmp_path):
    # Only the commit and the machine were checked: a debug or sanitized build of the same commit,
    # or one from a dirty tree, pooled its trials into the release build's rates.
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import records
    for differs, said in (({"build_type": "Debug"}, "build_type: Release vs Debug"),
                          ({"concbench_dirty": "true"}, "concbench_dirty: false vs true")):
        key = said.split(":")[0]
        out = saved_out(tmp_path / key)
        context = dict(records.this_machine(), concbench_commit=saved_commit(), **differs)
        proc = calibrate("--trials", 2, "--rounds", 16, "--binary", binary(tmp_path, key + "-binary"),
                         "--out", out, env={"FAKE_CONTEXT": json.dumps(context)})
        assert proc.returncode == 2, proc.stdout + proc.stderr
        last = proc.stderr.strip().splitlines()[-1]
        assert "holds trials of another build of this commit (%s): give a new --out" % said in last, last


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_going_on_with_another_number_of_rounds_is_refused(tmp_path):
    # The summary gave the current --rounds as every trial's: a summary written again with the
    # default 16 over trials of 24 said 16, and ab.py took its rates for a verdict of 16 rounds.
    out = saved_out(tmp_path)
    (out / "summary.json").write_text(json.dumps({"hours": 0.5}))
    for rounds in (8, 24):
        proc = calibrate("--trials", 2, "--rounds", rounds, "--binary", binary(tmp_path, "a%d" % rounds),
                         "--out", out)
        one_line_error(proc, "%s ran 16 rounds, not --rounds %d: give --rounds 16, or a new --out"
                       % (out / "rounds" / "trial-01-aa.json", rounds))
        assert "round 1" not in proc.stderr
    assert json.loads((out / "summary.json").read_text()) == {"hours": 0.5}
    assert sorted(os.listdir(out / "rounds")) == ["trial-01-aa.json", "trial-01-p10.json"]


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_going_on_with_rounds_of_another_method_is_refused(tmp_path):
    # Rounds that ran side by side (their order a list of sides, no method) are not mixed with these.
    out = saved_out(tmp_path)
    path = out / "rounds" / "trial-01-aa.json"
    data = json.loads(path.read_text())
    data.pop("method", None)
    for r in data["rounds"]:
        r["order"] = ["old", "new"]
    path.write_text(json.dumps(data))
    proc = calibrate("--trials", 2, "--rounds", 2, "--binary", binary(tmp_path, "a"), "--out", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "ran side by side, not model by model as calibrate.py runs now" in proc.stderr.strip().splitlines()[-1]


def test_a_trial_runs_model_by_model_and_finds_the_slowed_model(tmp_path):
    # One whole trial on the stand-in binary, which takes the slowdown hook as the real one does,
    # run from a copy (a build meanwhile must not change what runs), gone at the end.
    out, given = tmp_path / "c", binary(tmp_path, "a")
    proc = calibrate("--trials", 1, "--binary", given, "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name, pair in (("aa", {"A", "A2"}), ("p10", {"A", "S"})):
        data = json.loads((out / "rounds" / ("trial-01-%s.json" % name)).read_text())
        assert data["method"] == "model by model" and len(data["rounds"]) == 16
        assert data["old"]["arg"] == given and data["old"]["binary"] != given
        assert not os.path.exists(data["old"]["binary"])
        for r in data["rounds"]:
            assert sorted(m for m, _ in r["order"]) == ["sum/pool", "sum/seq"]
            assert all(set(labels) == pair and len(labels) == 2 for _, labels in r["order"])
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["trials"], summary["aa_flagged"], summary["p10_found"]) == (1, 0, 1)
    assert summary["rows"][1]["model"] == "pool"


def test_a_binary_without_the_subset_is_one_line(tmp_path):
    proc = calibrate("--trials", 1, "--rounds", 2, "--binary", binary(tmp_path, "a"), "--out", tmp_path / "c",
                     names="peak/other")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no benchmark matches --benchmark_filter=" in proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr and not (tmp_path / "c" / "summary.json").exists()


def test_an_output_that_is_a_file_is_refused_at_once(tmp_path):
    (tmp_path / "c").write_text("")
    fake = binary(tmp_path, "a")
    proc = calibrate("--trials", 1, "--binary", fake, "--out", tmp_path / "c")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == "concbench calibrate: cannot write %s: %s is not a directory\n" % (
        tmp_path / "c" / "rounds", tmp_path / "c")
    proc = calibrate("--trials", 1, "--binary", fake, "--out", "/proc/nope")
    assert proc.returncode == 2 and proc.stderr.startswith(  # not a traceback after the trials
        "concbench calibrate: cannot write /proc/nope/rounds: directory /proc is not writable"), proc.stderr


def test_rounds_too_few_for_significance_are_refused_before_a_round(tmp_path):
    proc = calibrate("--trials", 1, "--rounds", 3, "--binary", binary(tmp_path, "a"), "--out", tmp_path / "c")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == ("concbench calibrate: too few rounds to find anything: with 3 rounds no p-value reaches "
                           "alpha/m = 0.05/2 (Holm over 2 benchmarks); a verdict needs --rounds 7 or more\n")
    assert not (tmp_path / "c").exists()  # an empty c/rounds/ looked like a calibration


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_a_saved_trial_of_too_few_rounds_is_inconclusive(tmp_path):
    out = saved_out(tmp_path)
    path = out / "rounds" / "trial-01-p10.json"
    data = json.loads(path.read_text())
    data["rounds"] = data["rounds"][:3]
    path.write_text(json.dumps(data))
    proc = calibrate("--trials", 1, "--binary", binary(tmp_path, "a"), "--out", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("concbench calibrate: %s: inconclusive: with 3 rounds " % path)
    assert len(proc.stderr.splitlines()) == 1


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_a_saved_trial_without_a_verdict_is_left_out_of_the_rates_not_a_stop(tmp_path):
    # A's processes failed in 11 of the A/A trial's 16 rounds: ab.py has no verdict for it.
    # Saved before it was judged, it stopped every resume of the calibration with that error;
    # counted, it would be an A/A comparison that flagged nothing.
    out = saved_out(tmp_path)
    path = out / "rounds" / "trial-01-aa.json"
    data = json.loads(path.read_text())
    for r in data["rounds"][5:]:
        r["old"]["errors"] = {name: "the process failed (test)" for name in r["old"]["metrics"]}
        r["old"]["metrics"] = {}
    path.write_text(json.dumps(data))
    proc = calibrate("--trials", 1, "--binary", binary(tmp_path, "a"), "--out", out)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["trials"], summary["no_verdict"], summary["aa_flagged"], summary["p10_found"]) == (1, 1, 0, 1)
    assert "| A/A: comparisons that flagged anything | 0 of 0 | at most 100% |" in proc.stdout, proc.stdout
    assert ("Left out of every rate, with no verdict: trial 1 aa: no verdict: every time has too few paired "
            "rounds to be judged (at most 5 of 16" in proc.stdout), proc.stdout


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_a_saved_trial_of_another_shape_is_one_line(tmp_path):
    out = saved_out(tmp_path)
    (out / "rounds" / "trial-01-p10.json").write_text("[]")
    proc = calibrate("--trials", 1, "--binary", binary(tmp_path, "a"), "--out", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == ("concbench calibrate: %s is not an A/B file saved by ab.py or calibrate.py (no old and "
                           "new side)\n" % (out / "rounds" / "trial-01-p10.json"))


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_a_slowdown_is_found_only_in_the_sum_model_it_slowed():
    # The hook slows sum/pool; fetch/pool 20% slower in every round is a regression of another
    # benchmark, not the slowdown found. Matched on the model's name alone, it counted as found.
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import calibrate
    data = json.loads(open(os.path.join(DATA, "aa.json")).read())
    data["new"]["env"] = {"CONCBENCH_TEST_SLOWDOWN": "pool:10"}
    name = "fetch/pool/conc:100/n:1000/delay_ms:0/bytes:1024/keepalive:1"
    for r in data["rounds"]:
        r["new"]["metrics"][name][1] = r["old"]["metrics"][name][1] * 1.2
    row = calibrate.outcome("p10", data, 0)
    assert name in row["flagged"] and name in row["others"]
    assert row["found"] is False


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_the_efficiency_report_counts_slow_runs_and_slow_rounds(tmp_path):
    # Two calibrations of one A/A trial each (16 rounds): every run at 0.99 but these. threads
    # is slow on both sides of rounds 1 and 2 of each, tbb on the old side of round 3 of the
    # first; fork at 0.5 throughout is its own spread, left out of the pairs.
    dirs = []
    for c in range(2):
        data = json.loads(open(os.path.join(DATA, "aa.json")).read())
        for i, r in enumerate(data["rounds"]):
            for side in ("old", "new"):
                for model in ("pool", "tbb", "openmp", "process_pool", "std_par", "threads", "fork"):
                    slow = (model == "fork" or (model == "threads" and i < 2)
                            or (model == "tbb" and side == "old" and i == 2 and c == 0))
                    r[side]["metrics"]["sum/%s/range/workers:2/n:100000000 efficiency" % model][1] = \
                        0.5 if slow else 0.99
        (tmp_path / str(c) / "rounds").mkdir(parents=True)
        (tmp_path / str(c) / "rounds" / "trial-01-aa.json").write_text(json.dumps(data))
        dirs.append(tmp_path / str(c))
    proc = calibrate("--efficiency", *dirs)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split(" | ")[0].strip("| "): line.strip("| ").split(" | ")[1:] for line in proc.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| model")}
    assert rows["threads"] == ["64", "0.990", "12%"]  # 8 of 64
    assert rows["tbb"] == ["64", "0.990", "2%"] and rows["pool"] == ["64", "0.990", "0%"]
    assert rows["fork"] == ["64", "0.500", "100%"]
    # 6 models x 32 rounds: 5 slow old sides (1 of tbb), 4 slow new sides, 4 rounds slow on both
    assert ("4 times, where independent sides would give 0.1 (5 and 4 slow sides of 192 pairs)"
            in proc.stdout), proc.stdout
    assert "Most slow runs in one trial: %s, per round 2 2 1 0" % (dirs[0] / "rounds" / "trial-01-aa.json") \
        in proc.stdout


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_a_flag_of_a_model_not_slowed_is_counted_as_a_false_alarm(tmp_path):
    # tbb's times in NEW made 30% slower in every round of the slowdown of pool: flagged, while
    # only pool was slowed, and the summary said nothing of it.
    out = saved_out(tmp_path)
    path = out / "rounds" / "trial-01-p10.json"
    data = json.loads(path.read_text())
    for r in data["rounds"]:
        for name, (kind, value) in r["new"]["metrics"].items():
            if name.startswith("sum/tbb/") and kind == "time":
                r["new"]["metrics"][name][1] = value * 1.3
    path.write_text(json.dumps(data))
    proc = calibrate("--trials", 1, "--binary", binary(tmp_path, "a"), "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "summary.json").read_text())["others_flagged"] == 1
    assert "| slowdowns: comparisons that flagged a model not slowed | 1 of 1 | at most 100% |" in proc.stdout
    assert "What the slowdowns of the models not slowed flagged: trial 1: sum/tbb/" in proc.stdout, proc.stdout


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_the_efficiency_report_never_pools_two_machines(tmp_path):
    dirs = []
    for c, cpu in enumerate(("AMD EPYC", "Intel Xeon")):
        data = json.loads(open(os.path.join(DATA, "aa.json")).read())
        data["context"]["cpu_model"] = cpu
        (tmp_path / str(c) / "rounds").mkdir(parents=True)
        (tmp_path / str(c) / "rounds" / "trial-01-aa.json").write_text(json.dumps(data))
        dirs.append(tmp_path / str(c))
    one_line_error(calibrate("--efficiency", *dirs), "ran on different machines (cpu_model", "give one machine's")


def test_the_efficiency_report_of_a_directory_without_trials_is_one_line(tmp_path):
    one_line_error(calibrate("--efficiency", tmp_path), str(tmp_path), "holds no A/A trials")
    (tmp_path / "rounds").mkdir()
    (tmp_path / "rounds" / "trial-01-aa.json").write_text("{}")
    one_line_error(calibrate("--efficiency", tmp_path), "trial-01-aa.json", "is not an A/B file")
