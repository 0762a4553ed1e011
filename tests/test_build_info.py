# SPDX-License-Identifier: MIT
# A record names the source its binary was built from: benchmarks/build_info.cmake, run at every
# build, writes the commit and whether the tree had changes then, and the binary records those,
# whatever the checkout's HEAD is when it runs. Also what the binary takes from the machine it
# runs on: the CPUs it may use, the threads it may start, the terminal it writes to.
# Run: /usr/bin/python3 -m pytest tests/test_build_info.py (CONCBENCH_BINARY names the built
# binary; ctest sets it).
import json
import os
import re
import resource
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPT = os.path.join(REPO, "benchmarks", "build_info.cmake")
BINARY = os.environ.get("CONCBENCH_BINARY", os.path.join(REPO, "build", "release", "benchmarks", "concbench"))


def git(tree, *args):
    return subprocess.run(["git", "-C", str(tree), *args], check=True, capture_output=True, text=True).stdout.strip()


def build_info(tree, out):
    """(commit, dirty) that the script writes into `out` for `tree`."""
    subprocess.run(["cmake", "-DSOURCE_DIR=%s" % tree, "-DOUT=%s" % out, "-P", SCRIPT], check=True)
    text = out.read_text()
    return (re.search(r'kBuildCommit\[41\] = "([^"]*)"', text).group(1),
            re.search(r'kBuildDirty\[8\] = "([^"]*)"', text).group(1))


@pytest.fixture
def tree(tmp_path):
    tree = tmp_path / "tree"
    (tree / "results").mkdir(parents=True)
    git(tree, "init", "-q")
    for name in ("kernel.cpp", "results/README.md"):
        (tree / name).write_text("one\n")
    git(tree, "add", ".")
    git(tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    return tree


def test_the_commit_and_the_trees_changes_are_the_builds(tree, tmp_path):
    out = tmp_path / "build_info.cpp"
    assert build_info(tree, out) == (git(tree, "rev-parse", "HEAD"), "false")
    (tree / "results" / "README.md").write_text("a page rendered\n")  # not a change to what is measured
    assert build_info(tree, out)[1] == "false"
    (tree / "kernel.cpp").write_text("two\n")
    assert build_info(tree, out)[1] == "true"
    git(tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "second")
    assert build_info(tree, out) == (git(tree, "rev-parse", "HEAD"), "false")


def test_a_build_with_nothing_new_rewrites_nothing(tree, tmp_path):
    # Rewritten, the file would be compiled again and every program linked again at each build.
    out = tmp_path / "build_info.cpp"
    build_info(tree, out)
    os.utime(out, (1, 1))
    build_info(tree, out)
    assert os.stat(out).st_mtime == 1


def test_outside_a_git_checkout_both_are_unknown(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert build_info(plain, tmp_path / "build_info.cpp") == ("unknown", "unknown")


@pytest.mark.skipif(not os.access(BINARY, os.X_OK), reason="concbench is not built")
def test_the_binary_records_what_its_build_wrote_and_asks_no_git():
    written = os.path.join(os.path.dirname(BINARY), "build_info.cpp")
    if not os.path.exists(written):
        pytest.skip("%s was not built in a tree of its own" % BINARY)
    text = open(written).read()
    # With no repository to be found at run time, it still names the build's commit.
    proc = subprocess.run([BINARY, "--benchmark_filter=^sum/seq/range/workers:1/n:1000/", "--benchmark_min_time=0.01",
                           "--benchmark_format=json"], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, GIT_DIR="/nonexistent"))
    assert proc.returncode == 0, proc.stderr
    context = json.loads(proc.stdout)["context"]
    assert 'kBuildCommit[41] = "%s"' % context["concbench_commit"] in text
    assert 'kBuildDirty[8] = "%s"' % context["concbench_dirty"] in text
    # Its help says the same before anything runs (scripts/calibrate.py reads it there).
    helps = subprocess.run([BINARY, "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "Built from commit %s (uncommitted changes: %s)." % (context["concbench_commit"],
                                                                context["concbench_dirty"]) in helps


def test_a_run_confined_to_one_cpu_records_one_hardware_thread_and_sweeps_as_much():
    # Under taskset the record said every CPU online, so compare.py took it for the unrestricted
    # machine, and the sweep's W and the min(W, hardware threads) bound were the machine's.
    first = min(os.sched_getaffinity(0))
    one_cpu = lambda: os.sched_setaffinity(0, {first})  # noqa: E731
    proc = subprocess.run([BINARY, "--benchmark_filter=^sum/seq/range/workers:1/n:1000/", "--benchmark_min_time=0.01",
                           "--benchmark_format=json"], capture_output=True, text=True, timeout=120, preexec_fn=one_cpu)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["context"]["hardware_threads"] == "1"
    listed = subprocess.run([BINARY, "--quick", "--benchmark_list_tests", "--benchmark_filter=^sum/threads/range/"],
                            capture_output=True, text=True, timeout=60, preexec_fn=one_cpu).stdout
    assert sorted({int(n.split("workers:")[1].split("/")[0]) for n in listed.split()}) == [1, 2]  # 1, hw, 2 hw


def test_a_process_that_may_start_no_thread_runs_what_needs_none():
    # The filter's watchdog thread was refused (a pids cgroup, ulimit -u) and std::terminate
    # ended the run before any benchmark; seq needs no thread. As a user of its own, since the
    # kernel counts RLIMIT_NPROC over the user's tasks: so it needs root.
    if os.geteuid() != 0:
        pytest.skip("needs root, to run the binary as a user of its own")

    def no_threads():
        uid = 2_000_000_000 + os.getpid()
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    proc = subprocess.run([BINARY, "--benchmark_filter=^sum/seq/range/workers:1/n:1000/", "--benchmark_min_time=0.01",
                           "--benchmark_repetitions=1", "--benchmark_format=json"], capture_output=True, text=True,
                          timeout=120, preexec_fn=no_threads)
    assert proc.returncode == 0, proc.stderr
    [entry] = [b for b in json.loads(proc.stdout)["benchmarks"] if b["run_type"] == "iteration"]
    assert not entry.get("error_occurred"), entry


@pytest.mark.parametrize("term,coloured", [("xterm-256color", True), ("dumb", False)])
def test_colour_on_a_terminal_follows_term_as_google_benchmark_decides_it(term, coloured):
    # Only the terminal was asked: TERM=dumb got colour codes.
    import pty
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([BINARY, "--benchmark_filter=^sum/seq/range/workers:1/n:1000/",
                                 "--benchmark_min_time=0.01", "--benchmark_repetitions=1"], stdout=follower,
                                stderr=subprocess.DEVNULL, env=dict(os.environ, TERM=term))
        os.close(follower)
        out = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal's last writer has gone
                break
            if not chunk:
                break
            out += chunk
        assert proc.wait(timeout=120) == 0
    finally:
        os.close(leader)
    assert b"sum/seq/range" in out
    assert (b"\x1b[" in out) == coloured, out[:300]
