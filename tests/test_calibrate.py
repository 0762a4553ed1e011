# SPDX-License-Identifier: MIT
# Tests for scripts/calibrate.py: an interrupted calibration goes on from its saved trials, with the same commit only.
# Run: /usr/bin/python3 -m pytest tests/test_calibrate.py
import json
import os
import shutil
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


def saved_out(tmp_path):
    """An --out holding one finished trial: real rounds from this machine (A/A and a 10% slowdown)."""
    out = tmp_path / "calibration"
    (out / "rounds").mkdir(parents=True)
    shutil.copy(os.path.join(DATA, "aa.json"), out / "rounds" / "trial-01-aa.json")
    shutil.copy(os.path.join(DATA, "slow10.json"), out / "rounds" / "trial-01-p10.json")
    return out


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
    assert "holds 1 finished trial: going on from trial 2" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    # Judged exactly as ab.py judges them (test_ab.test_saved_rounds_from_this_machine): the
    # A/A trial flags nothing and the slowed model is found; the earlier hours are kept.
    assert (summary["trials"], summary["aa_flagged"], summary["p10_found"]) == (1, 0, 1)
    assert summary["hours"] >= 0.5 and summary["commit"].startswith("6adaa850")
    assert "| A/A: comparisons that flagged anything | 0 of 1 |" in proc.stdout


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_going_on_with_another_commit_is_refused(tmp_path):
    out = saved_out(tmp_path)
    proc = calibrate("--trials", 2, "--rounds", 2, "--binary", binary(tmp_path, "a"), "--out", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "holds trials of commit 6adaa850eace, this binary is commit unknown: give a new --out" in last
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_going_on_on_another_machine_is_refused(tmp_path):
    # The same commit as the saved trials, but the stand-in's CPU is not the VM's.
    out = saved_out(tmp_path)
    commit = json.loads((out / "rounds" / "trial-01-aa.json").read_text())["context"]["concbench_commit"]
    proc = calibrate("--trials", 2, "--rounds", 2, "--binary", binary(tmp_path, "a"), "--out", out,
                     env={"FAKE_CONTEXT": json.dumps({"concbench_commit": commit})})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "holds trials of another machine (" in last and "give a new --out" in last
    assert "Fake CPU" in last and "Traceback" not in proc.stderr


def test_a_binary_without_the_subset_is_one_line(tmp_path):
    proc = calibrate("--trials", 1, "--rounds", 2, "--binary", binary(tmp_path, "a"), "--out", tmp_path / "c",
                     names="peak/other")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no benchmark matches --benchmark_filter=" in proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr and not (tmp_path / "c" / "summary.json").exists()
