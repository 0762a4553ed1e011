# SPDX-License-Identifier: MIT
# Tests for scripts/history.py: commit order, record choice, the plotted numbers, atomic output, bad input.
# Run: /usr/bin/python3 -m pytest tests/test_history.py
import os
import socket
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPTS = os.path.join(REPO, "scripts")
HISTORY = os.path.join(SCRIPTS, "history.py")
sys.path.insert(0, SCRIPTS)
sys.path.insert(0, HERE)

import history  # noqa: E402  (first: it checks the interpreter)
from test_compare import (FETCH, SUM_SEQ, SUM_T2, SYSTEM_PYTHON, context, git, make_repo,  # noqa: E402
                          one_line_error, write_run)

HOST = "testhost"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_history(*args):
    return subprocess.run([SYSTEM_PYTHON, HISTORY] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=300)


def bench_record(hist, sha, stamp, t2, seq=1.0, eff=0.8, host=HOST, dirty="false", reps=5):
    """A record whose sum/threads time is exactly `t2` * (0.99, 0.995, 1, 1.005, 1.01)."""
    spread = [0.99, 0.995, 1.0, 1.005, 1.01][:reps]
    hist.mkdir(parents=True, exist_ok=True)
    date = "%s-%s-%sT%s:%s:%s+00:00" % (stamp[:4], stamp[4:6], stamp[6:8], stamp[9:11], stamp[11:13], stamp[13:15])
    name = "%s-%s%s-%s.json" % (stamp, sha[:12], "-dirty" if dirty == "true" else "", host)
    return write_run(hist / name, [
        (SUM_SEQ, [seq * s for s in spread], None),
        (SUM_T2, [t2 * s for s in spread], None),
        (FETCH, [0.2] * reps, [{"efficiency": eff * s, "ideal_s": 0.1} for s in spread])],
        ctx=context(commit=sha, dirty=dirty, host=host, date=date))


@pytest.fixture
def project(tmp_path):
    """A repository with 5 commits on main and one on a side branch, and records of them."""
    repo = tmp_path / "repo"
    shas = make_repo(repo, 5)
    git(repo, "checkout", "-q", "-b", "side", shas[2])
    (repo / "side").write_text("x")
    git(repo, "add", "side")
    git(repo, "commit", "-q", "-m", "side")
    side = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    hist = repo / "results" / "history"
    # dates deliberately out of commit order: the x axis must follow the commits
    bench_record(hist, shas[0], "20261105T100000Z", t2=0.50)
    bench_record(hist, shas[1], "20261101T100000Z", t2=0.51)
    bench_record(hist, shas[2], "20261103T100000Z", t2=0.52)
    bench_record(hist, shas[3], "20261102T100000Z", t2=0.90, eff=0.4)  # the regression
    bench_record(hist, shas[4], "20261106T100000Z", t2=0.91)
    bench_record(hist, shas[4], "20261107T100000Z", t2=5.0, dirty="true")  # not the commit
    bench_record(hist, shas[4], "20261108T100000Z", t2=7.0, host="elsewhere")
    bench_record(hist, side, "20261104T100000Z", t2=0.3)  # not an ancestor of main
    return repo, hist, shas


def args_for(repo, *extra):
    return history.parse_args(["--repo", str(repo), "--host", HOST] + list(extra))


def test_records_follow_the_commits_not_the_dates(project):
    repo, hist, shas = project
    recs = history.pick_records(args_for(repo), [])
    assert [r.commit for r in recs] == shas  # side branch skipped, one record per commit
    assert all(r.dirty is False and r.host == HOST for r in recs)


def test_plotted_points_are_median_and_min_max(project):
    repo, hist, shas = project
    recs = history.pick_records(args_for(repo), [])
    series, kinds = history.collect(recs, None, [])
    t2 = series[SUM_T2]
    assert [x for x, *_ in t2] == [0, 1, 2, 3, 4]
    assert [p[1] for p in t2] == pytest.approx([0.50, 0.51, 0.52, 0.90, 0.91])
    assert [v for p in t2 for v in p[2:4]] == pytest.approx(
        [v for t in (0.50, 0.51, 0.52, 0.90, 0.91) for v in (t * 0.99, t * 1.01)])
    assert [p[4] for p in t2] == [5] * 5
    assert kinds[SUM_T2] == "time"
    eff = series[SUM_T2 + " efficiency"]
    assert [p[1] for p in eff] == pytest.approx([1.0 / (2 * t) for t in (0.50, 0.51, 0.52, 0.90, 0.91)])
    assert kinds[SUM_T2 + " efficiency"] == "efficiency"
    assert [p[1] for p in series[FETCH + " efficiency"]] == pytest.approx([0.8, 0.8, 0.8, 0.4, 0.8])
    filtered, _ = history.collect(recs, "efficiency$", [])
    assert sorted(filtered) == sorted([SUM_T2 + " efficiency", FETCH + " efficiency"])


def test_cli_writes_one_plot_per_metric(project):
    repo, hist, shas = project
    proc = run_history("--repo", repo, "--host", HOST)
    assert proc.returncode == 0, proc.stderr
    assert "not ancestors of HEAD" in proc.stderr
    out = hist / "plots"
    pngs = sorted(p for p in os.listdir(out) if p.endswith(".png"))
    # 3 times (seq, threads, fetch) + threads efficiency + fetch efficiency
    assert len(pngs) == 5
    for p in pngs:
        with open(out / p, "rb") as f:
            assert f.read(8) == PNG_MAGIC
    index = (out / "README.md").read_text()
    assert all(p in index for p in pngs)
    assert " ".join(s[:8] for s in shas) in index  # commit order, oldest first
    assert not [n for n in os.listdir(hist) if n.startswith(".")]  # no temporaries left


def test_filter_and_out_dir(project, tmp_path):
    repo, hist, shas = project
    out = tmp_path / "elsewhere" / "plots"
    proc = run_history("--repo", repo, "--host", HOST, "--filter", "threads", "--out", out)
    assert proc.returncode == 0, proc.stderr
    pngs = sorted(p for p in os.listdir(out) if p.endswith(".png"))
    assert len(pngs) == 2 and all("threads" in p for p in pngs)
    assert not (hist / "plots").exists()


def test_output_is_replaced_whole_and_only_on_success(project, monkeypatch):
    repo, hist, shas = project
    out = hist / "plots"
    out.mkdir()
    (out / "stale.png").write_bytes(b"old")
    assert history.main(["--repo", str(repo), "--host", HOST, "--filter", "seq"]) == 0
    assert sorted(os.listdir(out)) == ["README.md", "sum_seq_range_workers_1_n_100000000.png"]

    calls = []

    def failing_draw(path, *a, **k):
        calls.append(path)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        with open(path, "wb") as f:
            f.write(PNG_MAGIC)
    monkeypatch.setattr(history, "draw", failing_draw)
    with pytest.raises(RuntimeError):
        history.main(["--repo", str(repo), "--host", HOST])
    # the previous plots are intact and no half-written directory is left beside them
    assert sorted(os.listdir(out)) == ["README.md", "sum_seq_range_workers_1_n_100000000.png"]
    assert not [n for n in os.listdir(hist) if n.startswith(".")]


def test_default_host_is_this_machine(tmp_path):
    repo = tmp_path / "repo"
    shas = make_repo(repo, 2)
    hist = repo / "results" / "history"
    bench_record(hist, shas[0], "20261101T100000Z", t2=0.5, host=socket.gethostname())
    bench_record(hist, shas[1], "20261102T100000Z", t2=0.5, host="elsewhere")
    recs = history.pick_records(history.parse_args(["--repo", str(repo)]), [])
    assert [r.commit for r in recs] == shas[:1]


def test_bad_input(project, tmp_path):
    repo, hist, shas = project
    one_line_error(run_history("--repo", repo, "--host", "nobody"), "no records from host nobody",
                   "elsewhere", "testhost")
    one_line_error(run_history("--repo", repo, "--host", HOST, "--filter", "^nothing"), "no metric matches")
    one_line_error(run_history("--repo", repo, "--host", HOST, "--filter", "("), "--filter")
    one_line_error(run_history("--repo", repo, "--bogus"), "--bogus")
    empty = tmp_path / "empty"
    make_repo(empty, 1)
    one_line_error(run_history("--repo", empty), "no records")
    not_git = tmp_path / "notgit"
    bench_record(not_git / "results" / "history", shas[0], "20261101T100000Z", t2=0.5)
    one_line_error(run_history("--repo", not_git, "--host", HOST), "cannot list the commits")
    # records only of commits off this branch
    side_only = tmp_path / "sideonly"
    make_repo(side_only, 1)
    bench_record(side_only / "results" / "history", "c" * 40, "20261101T100000Z", t2=0.5)
    one_line_error(run_history("--repo", side_only, "--host", HOST), "of a commit on this branch")
