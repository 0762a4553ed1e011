# SPDX-License-Identifier: MIT
# Tests for scripts/bisect.sh on a throw-away repository whose fake benchmark slows down at a known commit.
# Run: /usr/bin/python3 -m pytest tests/test_bisect.py
import os
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BISECT = os.path.join(REPO, "scripts", "bisect.sh")
sys.path.insert(0, HERE)

from test_compare import git  # noqa: E402

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# The fake project's "benchmark" is tests/fake_concbench.py; building a commit copies it into the
# worktree's build directory with the commit's `speed` file beside it, so each build runs at its
# commit's speed, and a commit with a `broken` file does not build.
FAKE = os.path.join(HERE, "fake_concbench.py")
BUILD = ("test ! -e broken && mkdir -p build/release/benchmarks && cp %s build/release/benchmarks/concbench "
         "&& cp speed build/release/benchmarks/speed" % FAKE)
ROUNDS = ["--rounds", "8"]  # enough for a 30% step; keeps each comparison to seconds

N_COMMITS = 12
FIRST_BAD = 7          # speed 1.0 before, 1.3 from here on
BROKEN = {3}           # commits that do not build (skipped by the bisection)


def make_project(path, first_bad=FIRST_BAD, broken=BROKEN):
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    shas = []
    for i in range(N_COMMITS):
        (path / "speed").write_text("1.3\n" if i >= first_bad else "1.0\n")
        (path / "counter").write_text("%d\n" % i)
        if i in broken:
            (path / "broken").write_text("")
        elif (path / "broken").exists():
            (path / "broken").unlink()
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "commit %d" % i)
        shas.append(git(path, "rev-parse", "HEAD"))
    return shas


@pytest.fixture
def project(tmp_path):
    repo = tmp_path / "repo"
    shas = make_project(repo)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch), CONCBENCH_BISECT_BUILD=BUILD,
               FAKE_NAMES="fake/work/n:1,fake/other/n:2", FAKE_SPEED_ONLY="fake/work", GIT_CONFIG_GLOBAL="/dev/null",
               GIT_CONFIG_NOSYSTEM="1")
    return repo, shas, env, scratch


def snapshot(repo):
    """Everything about a checkout that bisect.sh must leave as it found it."""
    gitdir = repo / ".git"
    return {
        "branch": subprocess.run(["git", "-C", str(repo), "symbolic-ref", "-q", "HEAD"],
                                 capture_output=True, text=True).stdout.strip(),
        "head": git(repo, "rev-parse", "HEAD"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
        "diff": git(repo, "diff"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
        "refs": git(repo, "for-each-ref"),
        "bisect_files": sorted(n for n in os.listdir(gitdir) if n.startswith("BISECT")),
        "worktree_admin": sorted(os.listdir(gitdir / "worktrees")) if (gitdir / "worktrees").exists() else [],
    }


def dirty(repo):
    # a modified tracked file and an untracked one: the bisection must not need, or touch, either
    (repo / "speed").write_text("9.9 (local edit)\n")
    (repo / "notes.txt").write_text("mine\n")


def bisect(repo, env, *args, timeout=300):
    extra = ROUNDS if len(args) >= 3 and args[2] else []
    return subprocess.run([BISECT] + list(args) + extra, cwd=repo, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_finds_the_first_bad_commit_and_leaves_the_checkout_alone(project):
    repo, shas, env, scratch = project
    dirty(repo)
    before = snapshot(repo)
    proc = bisect(repo, env, shas[0], "HEAD", "fake/work")
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first == "first bad commit: %s commit %d" % (shas[FIRST_BAD], FIRST_BAD)
    assert "regression" in proc.stdout and "fake/work/n:1" in proc.stdout
    assert "%s commit %d: regressed" % (shas[FIRST_BAD][:7], FIRST_BAD) in proc.stderr
    assert "%s commit %d: good" % (shas[FIRST_BAD - 1][:7], FIRST_BAD - 1) in proc.stderr
    assert snapshot(repo) == before
    assert os.listdir(scratch) == []  # the temporary directory and its worktrees are gone
    assert "not bisecting" in subprocess.run(["git", "-C", str(repo), "bisect", "log"], capture_output=True,
                                             text=True).stderr.lower()


def test_no_ab_options_after_the_filter(project):
    # The README's form, FILTER last: each step's comparison must get no options, not one empty
    # option that ab.py refuses (every commit was then skipped and the bisection undecided).
    repo, shas, env, scratch = project
    proc = subprocess.run([BISECT, shas[5], shas[8], "fake/work"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "first bad commit: %s commit %d" % (shas[FIRST_BAD], FIRST_BAD)
    assert "skipped" not in proc.stderr
    assert os.listdir(scratch) == []


def test_bad_the_child_of_good_is_the_answer_without_another_build(project):
    # git bisect start names BAD when it is GOOD's child; a bisect run went on to build and
    # compare the user's HEAD (commit 11, BISECT_HEAD under --no-checkout) as a step.
    repo, shas, env, scratch = project
    proc = bisect(repo, env, shas[FIRST_BAD - 1], shas[FIRST_BAD], "fake/work")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "first bad commit: %s commit %d" % (shas[FIRST_BAD], FIRST_BAD)
    assert "regression" in proc.stdout  # BAD's comparison with GOOD, as after a search
    assert proc.stderr.count("concbench bisect: building") == 2 and "commit 11" not in proc.stderr, proc.stderr
    assert os.listdir(scratch) == []


def test_commits_that_do_not_build_are_skipped(project):
    repo, shas, env, scratch = project
    # GOOD 0, BAD 6: git's first midpoint is commit 3, which does not build; it is skipped
    # (exit 125) and the bisection still pins the first bad commit, 5
    repo2 = repo.parent / "repo2"
    shas2 = make_project(repo2, first_bad=5, broken={3})
    before = snapshot(repo2)
    proc = bisect(repo2, env, shas2[0], shas2[6], "fake/work")
    assert "%s commit 3: does not build, skipped" % shas2[3][:7] in proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("first bad commit: %s commit 5\n" % shas2[5])
    assert snapshot(repo2) == before
    assert os.listdir(scratch) == []


def test_undecided_when_the_boundary_does_not_build(project):
    repo, shas, env, scratch = project
    repo2 = repo.parent / "repo2"
    shas2 = make_project(repo2, first_bad=5, broken={5})
    before = snapshot(repo2)
    proc = bisect(repo2, env, shas2[0], shas2[9], "fake/work")
    assert proc.returncode == 1, proc.stderr
    assert "undecided" in proc.stderr
    assert shas2[5] in proc.stderr and shas2[6] in proc.stderr  # the first bad is one of these
    assert snapshot(repo2) == before
    assert os.listdir(scratch) == []


def test_detached_head_is_restored(project):
    repo, shas, env, scratch = project
    git(repo, "checkout", "-q", "--detach", shas[9])
    before = snapshot(repo)
    assert before["branch"] == ""
    proc = bisect(repo, env, shas[0], shas[11], "fake/work")
    assert proc.returncode == 0, proc.stderr
    assert snapshot(repo) == before


def test_no_regression_means_nothing_to_bisect(project):
    repo, shas, env, scratch = project
    before = snapshot(repo)
    proc = bisect(repo, env, shas[0], shas[11], "fake/other")  # this benchmark never changes
    assert proc.returncode == 1
    assert "shows no regression" in proc.stderr
    assert proc.stdout == ""
    assert snapshot(repo) == before
    # ab.py options pass through: a 40% minimum effect hides the 30% step
    proc = bisect(repo, env, shas[0], shas[11], "fake/work", "--min-effect", "40%")
    assert proc.returncode == 1 and "shows no regression" in proc.stderr


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_cleans_up(project, sig, status):
    repo, shas, env, scratch = project
    marker = repo.parent / "running"
    pidfile = repo.parent / "sleeper.pid"
    env = dict(env, CONCBENCH_BISECT_BUILD=(
        'if [ "$(cat counter)" = 5 ]; then touch %s; sleep 120 & echo $! > %s; wait; fi; %s'
        % (marker, pidfile, env["CONCBENCH_BISECT_BUILD"])))
    dirty(repo)
    before = snapshot(repo)
    # SIGINT set back to its default: a test run started in the background inherits it ignored,
    # and a shell that starts with a signal ignored cannot trap it.
    proc = subprocess.Popen([BISECT, shas[0], shas[11], "fake/work"] + ROUNDS, cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.05)
    # mid-run: a worktree of commit 5 exists and the bisection is in progress
    assert "wt-" + shas[5][:12] in git(repo, "worktree", "list")
    assert os.path.exists(repo / ".git" / "BISECT_START")
    started = time.time()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert time.time() - started < 20  # it did not wait for the 120 s build
    assert "interrupted" in err and "Terminated" not in err
    assert snapshot(repo) == before
    assert os.listdir(scratch) == []
    sleeper = int(pidfile.read_text())
    for _ in range(50):  # the build it was running is stopped too
        try:
            os.kill(sleeper, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(sleeper, signal.SIGKILL)
        pytest.fail("the running benchmark survived the interrupt")


def _one_line(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    err = proc.stderr.strip()
    assert err and "\n" not in err, err
    for w in words:
        assert w in err, (w, err)


def _last_line(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    last = proc.stderr.strip().splitlines()[-1]
    assert all(line.startswith(("concbench bisect: building", "concbench bisect: comparing"))
               for line in proc.stderr.strip().splitlines()[:-1])
    for w in words:
        assert w in last, (w, last)


def test_bad_input(project, tmp_path):
    repo, shas, env, scratch = project
    before = snapshot(repo)
    _one_line(bisect(repo, env, shas[0], "HEAD"), "usage")
    _one_line(bisect(repo, env, "nope", "HEAD", "fake"), "GOOD 'nope' is not a commit")
    _one_line(bisect(repo, env, shas[0], "nope", "fake"), "BAD 'nope' is not a commit")
    _one_line(bisect(repo, env, shas[5], shas[2], "fake"), "not an ancestor")
    _one_line(bisect(repo, env, "HEAD", "HEAD", "fake"), "same commit")
    _one_line(bisect(repo, env, shas[0], "HEAD", ""), "FILTER is empty")
    # what can be wrong without a build is said before any (one line: no "building" before it)
    _one_line(bisect(repo, env, shas[0], "HEAD", "("), "--benchmark_filter=(: not a regular expression (POSIX extended)")
    _one_line(bisect(repo, env, shas[0], "HEAD", "fake", "--alpha", "2"), "--alpha", "'2' is not between 0")
    _one_line(bisect(repo, env, shas[0], "HEAD", "fake", "--out", "x.json"), "bisect.sh chooses where the rounds go")
    # ab.py's help exits 0: taken for "no regression" after two builds
    for flag in ("-h", "--help"):
        _one_line(bisect(repo, env, shas[0], "HEAD", "fake", flag), flag + ": bisect.sh --help explains bisect.sh")
    # past the arguments it says what it builds and compares, then one line of why it stopped
    _last_line(bisect(repo, env, shas[3], "HEAD", "fake"), "GOOD", "does not build")
    _last_line(bisect(repo, dict(env, CONCBENCH_BISECT_BINARY="no/such/binary"), shas[0], "HEAD", "fake"),
               "GOOD", "does not build", "no binary at no/such/binary")
    # the binary's own flags and its reading of FILTER, on GOOD's binary before BAD is built
    for args, said in ((["no-such-benchmark"], "no benchmark matches"),
                       (["fake", "--benchmark_repetitions=x"], "--benchmark_repetitions=x"),
                       (["fake", "--alpha", "0.001"], "too few rounds to find anything: with 8 rounds"),
                       (["peak"], "nothing to judge: the benchmarks selected are all peak/*")):
        proc = bisect(repo, dict(env, FAKE_NAMES=env["FAKE_NAMES"] + ",peak/bound"), shas[0], "HEAD", *args)
        _last_line(proc, "GOOD's binary", said)
        assert "building BAD" not in proc.stderr, proc.stderr
    outside = tmp_path / "outside"
    outside.mkdir()
    _one_line(bisect(outside, env, "HEAD~1", "HEAD", "fake"), "not inside a git repository")
    assert snapshot(repo) == before
    assert os.listdir(scratch) == []
    # a bisection the user has going is theirs: refused, and left as it was
    git(repo, "bisect", "start", "--no-checkout", shas[11], shas[0])
    try:
        _one_line(bisect(repo, env, shas[0], shas[11], "fake"), "already in progress")
        assert os.path.exists(repo / ".git" / "BISECT_START")
    finally:
        git(repo, "bisect", "reset")
