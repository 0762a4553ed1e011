# SPDX-License-Identifier: MIT
# Tests for scripts/history.py: the records it takes, the steps it finds over the commits, the page, bad input.
# Run: /usr/bin/python3 -m pytest tests/test_history.py
import math
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPTS = os.path.join(REPO, "scripts")
HISTORY = os.path.join(SCRIPTS, "history.py")
sys.path.insert(0, SCRIPTS)
sys.path.insert(0, HERE)

import history  # noqa: E402  (first: it checks the interpreter)
import metrics  # noqa: E402
from test_compare import SYSTEM_PYTHON, git, make_repo, one_line_error, record  # noqa: E402

POOL = "sum/pool/range/workers:2/n:1000000"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_history(*args):
    return subprocess.run([SYSTEM_PYTHON, HISTORY] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=300)


def recorded_repo(tmp_path, step_at):
    """20 commits on main, records of all but 5 and 6, pool 25% slower from commit step_at on."""
    repo = tmp_path / "repo"
    shas = make_repo(repo, 20)
    hist = repo / "results" / "history"
    hist.mkdir(parents=True)
    for i, sha in enumerate(shas):
        if i not in (5, 6):
            record(hist, sha, i + 1, factor=1.25 if i >= step_at else 1.0, seed=i)
    return repo, hist, shas


@pytest.fixture
def project(tmp_path):
    """20 commits on main, one on a side branch. Records of most: pool is 25% slower from
    commit 12 on; commits 5 and 6 have no full record; dirty, foreign, quick, test-hook and side
    records are decoys."""
    repo, hist, shas = recorded_repo(tmp_path, 12)
    record(hist, shas[3], 25, factor=3.0, seed=50, dirty="true")   # not the commit
    record(hist, shas[8], 26, factor=3.0, seed=51, cpu_model="Intel Xeon")  # another machine
    record(hist, shas[5], 28, factor=3.0, seed=53, concbench_scope="quick")  # measured otherwise
    record(hist, shas[6], 9, factor=3.0, seed=54, compiler="Clang 14.0.6")  # another build, of a commit without one
    record(hist, shas[9], 29, factor=3.0, seed=55,  # the newest of commit 9, but a planted slowdown
           concbench_test_slowdown="pool does 200% more kernel work (a test hook)")
    git(repo, "checkout", "-q", "-b", "side", shas[10])
    (repo / "side").write_text("x")
    git(repo, "add", "side")
    git(repo, "commit", "-q", "-m", "side")
    record(hist, git(repo, "rev-parse", "HEAD"), 27, factor=3.0, seed=52)  # off the branch
    git(repo, "checkout", "-q", "main")
    return repo, hist, shas


def test_the_step_is_found_at_its_commit_and_nothing_else_steps(project):
    repo, hist, shas = project
    proc = run_history("--repo", repo)
    assert proc.returncode == 0, proc.stderr
    page = (hist / "page" / "README.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    # pool's time and, following it, pool's efficiency; tbb, seq and the peak stay put
    assert {row.split("`")[1] for row in rows} == {POOL, POOL + " efficiency"}
    assert all("`%s` commit 12" % shas[12][:8] in row for row in rows)
    assert "+25" in rows[0] or "+24" in rows[0] or "+26" in rows[0]
    assert (hist / "page" / "history.png").read_bytes().startswith(PNG_MAGIC)
    assert "20 commits of this branch" in page and "18 with a record" in page
    for decoy in ("left out 1 record of another machine", "left out 1 record from a dirty tree",
                  "left out 1 record of a --quick or partial run (not every benchmark, or other flags)",
                  "left out 1 record of commits off this branch",
                  "left out 1 record with a test hook set (a slowdown, another memory size)",
                  "left out 1 record of another build (compiler, flags, build type or libraries) than that of most commits"):
        assert decoy in proc.stderr


def test_too_few_records_to_find_any_step_is_said(project):
    repo, hist, shas = project
    # The first 8 commits, none of them slower: no split of 6 records (5 and 6 have none) can
    # pass alpha / metrics, and the page says how many it would take.
    git(repo, "checkout", "-q", shas[7])
    proc = run_history("--repo", repo)
    assert proc.returncode == 0, proc.stderr
    page = (hist / "page" / "README.md").read_text()
    n_metrics = int(page.split(" metrics searched")[0].rsplit(" ", 1)[1])
    needed = history.records_needed(n_metrics)
    assert "With 6 records no step of one metric alone can be found among %d metrics: it takes %d" % (
        n_metrics, needed) in page
    assert 2 / math.comb(needed, needed // 2) <= 0.05 / n_metrics < 2 / math.comb(needed - 1, (needed - 1) // 2)
    git(repo, "checkout", "-q", "main")
    assert "no step of one metric alone" not in (run_history("--repo", repo), (hist / "page" / "README.md").read_text())[1]


def test_records_from_before_a_build_key_was_recorded_are_not_another_build(tmp_path):
    # native_target is recorded from 2026-12-07 on: the build of most commits was judged with
    # it as a value, so one build's older and newer records split (7 and 7 commits) and a clang
    # build of 13 commits outvoted them, leaving out the commits of the build most of them had.
    repo = tmp_path / "repo"
    shas = make_repo(repo, 20)
    hist = repo / "results" / "history"
    hist.mkdir(parents=True)
    for i, sha in enumerate(shas[:14]):
        record(hist, sha, i + 1, seed=i, compiler="GCC 12.2.0",
               **({"native_target": "-march=native: znver3 tuning"} if i >= 7 else {}))
    for i, sha in enumerate(shas[7:], start=7):
        record(hist, sha, i + 12, seed=100 + i, compiler="Clang 14.0.6", native_target="-march=native: k8 tuning")
    commits, chosen = history.pick_records(history.parse_args(["--repo", str(repo)]), notes := [])
    assert sorted(chosen) == sorted(shas[:14]), (notes, {c[:7]: r.context.get("compiler") for c, r in chosen.items()})
    assert all("Clang" not in str(r.context.get("compiler")) for r in chosen.values())
    assert any("left out 13 records of another build" in n for n in notes), notes


def test_the_series_keeps_gaps_for_commits_without_a_record(project):
    repo, hist, shas = project
    args = history.parse_args(["--repo", str(repo)])
    commits, chosen = history.pick_records(args, [])
    assert commits == shas and set(chosen) == set(shas) - {shas[5], shas[6]}
    series, kinds = metrics.metric_series([chosen.get(c) for c in commits], lambda name: name == POOL, [])
    assert series[POOL][5] is None and series[POOL][6] is None and kinds[POOL] == "time"
    assert [i for i, *_ in history.steps_of(series, 0.03)[POOL]] == [12]


def test_a_step_after_commits_without_a_record_is_given_as_the_range_it_may_be_in(tmp_path):
    # Commits 5 and 6 have no record and pool is slower from 7 on: the step may be at 5, 6 or 7,
    # and the page named 7 alone.
    repo, hist, shas = recorded_repo(tmp_path, 7)
    proc = run_history("--repo", repo)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in (hist / "page" / "README.md").read_text().splitlines() if line.startswith("| `")]
    assert rows and all("| `%s..%s` (at one of these 3 commits: only the last measured it) |"
                        % (shas[5][:8], shas[7][:8]) in row for row in rows), rows
    # a step with a record just before it keeps its one commit (the test above: commit 12)


def test_a_step_where_a_machine_setting_changed_says_so_and_unstable_records_are_named(tmp_path):
    # The VMs idle two ways (haltpoll or none/menu), which moves fetch times: a step where the
    # records' cpu_idle changed may be the machine's, and the page said nothing of it, nor of a
    # record made under 3.4% steal.
    repo = tmp_path / "repo"
    shas = make_repo(repo, 20)
    hist = repo / "results" / "history"
    hist.mkdir(parents=True)
    for i, sha in enumerate(shas):
        record(hist, sha, i + 1, factor=1.25 if i >= 12 else 1.0, seed=i,
               cpu_idle="none/menu" if i >= 12 else "haltpoll/haltpoll, guest halt-poll 0 ns",
               **({"environment_unstable": "steal 3.4%"} if i == 3 else {}))
    proc = run_history("--repo", repo)
    assert proc.returncode == 0, proc.stderr
    page = (hist / "page" / "README.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert rows and all(row.endswith("| cpu_idle: haltpoll/haltpoll, guest halt-poll 0 ns vs none/menu |")
                        for row in rows), rows
    assert ("Made in an unstable environment, and in the series as they are: 1 of the 20 records "
            "(%s: steal 3.4%%)." % shas[3][:8]) in page, page


def test_output_replaces_its_own_files_only_on_success_and_nothing_else(project, monkeypatch, tmp_path):
    repo, hist, shas = project
    out = hist / "page"
    out.mkdir()
    (out / "README.md").write_text(history.TITLE + "\nan earlier page\n")
    (out / "history.png").write_bytes(b"old")
    (out / "notes.txt").write_text("the user's")
    assert history.main(["--repo", str(repo), "--filter", "tbb"]) == 0
    assert sorted(os.listdir(out)) == ["README.md", "notes.txt"]  # nothing stepped: the old figure goes
    assert "No metric stepped." in (out / "README.md").read_text()
    # A directory of other things (the records themselves) keeps them; a file is refused, untouched.
    before = sorted(os.listdir(hist))
    assert history.main(["--repo", str(repo), "--filter", "tbb", "--out", str(hist)]) == 0
    assert sorted(os.listdir(hist)) == sorted(before + ["README.md"])
    (tmp_path / "afile").write_text("keep")
    one_line_error(run_history("--repo", repo, "--out", tmp_path / "afile"), "is not a directory")
    assert (tmp_path / "afile").read_text() == "keep"
    os.remove(hist / "README.md")
    # Another README.md (the project's, with --out .) is never replaced.
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "README.md").write_text("# the project\n")
    one_line_error(run_history("--repo", repo, "--out", tmp_path / "proj"), "not a history page")
    assert os.listdir(tmp_path / "proj") == ["README.md"]
    assert (tmp_path / "proj" / "README.md").read_text() == "# the project\n"

    def failing_draw(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(history, "draw", failing_draw)
    assert history.main(["--repo", str(repo)]) == 3  # a bug: its traceback, and not 0, 1 or 2
    assert sorted(os.listdir(out)) == ["README.md", "notes.txt"]  # the previous page is intact
    assert not [n for n in os.listdir(hist) if n.startswith(".")]


def test_bad_input(project, tmp_path):
    repo, hist, shas = project
    one_line_error(run_history("--repo", repo, "--filter", "^nothing"), "no metric matches")
    one_line_error(run_history("--repo", repo, "--filter", "("), "--filter")
    one_line_error(run_history("--repo", repo, "--filter", "(.*)*x"), "--filter (.*)*x: still matching", "after 5 s")
    one_line_error(run_history("--repo", repo, "--bogus"), "--bogus")
    one_line_error(run_history("--repo", repo, "--like", tmp_path / "missing.json"), "--like")
    empty = tmp_path / "empty"
    make_repo(empty, 1)
    one_line_error(run_history("--repo", empty), "no records")
    not_git = tmp_path / "notgit"
    (not_git / "results" / "history").mkdir(parents=True)
    record(not_git / "results" / "history", shas[0], 1)
    one_line_error(run_history("--repo", not_git), "cannot list the commits")
    side_only = tmp_path / "sideonly"
    make_repo(side_only, 1)
    (side_only / "results" / "history").mkdir(parents=True)
    record(side_only / "results" / "history", "c" * 40, 1)
    one_line_error(run_history("--repo", side_only), "clean full record of this branch")


def test_change_points_on_real_noise_shapes():
    # Bimodal process noise (a slow mode now and then) must not read as steps, in any of 200 metrics.
    rng = np.random.default_rng(7)
    series = {"m%d" % i: [(1.7 if rng.random() < 0.1 else 1.0) * float(np.exp(0.02 * rng.standard_normal()))
                          for _ in range(40)] for i in range(200)}
    assert not any(history.steps_of(series, 0.03).values())
