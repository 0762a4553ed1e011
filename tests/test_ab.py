# SPDX-License-Identifier: MIT
# Tests for scripts/ab.py: interleaved rounds over stand-in binaries, saved rounds from this machine, bad input.
# Run: /usr/bin/python3 -m pytest tests/test_ab.py
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
AB = os.path.join(REPO, "scripts", "ab.py")
FAKE = os.path.join(HERE, "fake_concbench.py")
DATA = os.path.join(HERE, "data", "ab")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
sys.path.insert(0, HERE)

from test_compare import git, make_repo, one_line_error  # noqa: E402

TWO = "sum/seq/range/workers:1/n:1000,sum/pool/range/workers:2/n:1000"


def binary(tmp_path, name, speed=None, error=None, names=None, exit_on=None, hang=None, context=None):
    """A copy of the stand-in binary in its own directory, with what its 'commit' changed."""
    d = tmp_path / name
    d.mkdir()
    shutil.copy(FAKE, d / "concbench")
    for file, value in (("speed", speed), ("error", error), ("names", names), ("exit", exit_on), ("hang", hang),
                        ("context", None if context is None else json.dumps(context))):
        if value is not None:
            (d / file).write_text(str(value))
    return str(d / "concbench")


def ab(*args, env=None):
    """ab.py on the stand-in binaries, which have none of the default subset's benchmarks; the
    rounds go to a temporary file unless --out names one, never into the repository."""
    env = {**os.environ, "FAKE_NAMES": TWO, **(env or {})}
    args = [str(a) for a in args]
    if "--analyse" not in args and "BENCHMARK_FILTER" not in env and not any(
            a.startswith("--benchmark_filter=") for a in args):
        args.append("--benchmark_filter=.")
    with tempfile.TemporaryDirectory(prefix="test-ab-") as tmp:
        if "--analyse" not in args and "--out" not in args:
            args += ["--out", os.path.join(tmp, "rounds.json")]
        return subprocess.run([PYTHON, AB] + args, capture_output=True, text=True, env=env, timeout=300)


def test_a_against_a_finds_nothing_and_saves_the_rounds(tmp_path):
    fake = binary(tmp_path, "a")
    out = tmp_path / "rounds.json"
    proc = ab(fake, fake, "--rounds", 8, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "0 errored in NEW, 0 regressions" in proc.stdout
    assert "round 8 of 8" in proc.stderr
    data = json.loads(out.read_text())
    assert len(data["rounds"]) == 8
    # Model by model, one process of each side back to back, in random order.
    for r in data["rounds"]:
        assert sorted(model for model, _ in r["order"]) == ["sum/pool", "sum/seq"]
        assert all(sorted(labels) == ["new", "old"] for _, labels in r["order"])
    # Every round ran each side once, with the round defaults: a few repetitions, interleaved.
    assert "--benchmark_repetitions=3" in data["args"] and "--benchmark_enable_random_interleaving=true" in data["args"]
    assert set(data["rounds"][0]["old"]["metrics"]) >= {"sum/seq/range/workers:1/n:1000",
                                                         "sum/pool/range/workers:2/n:1000 efficiency"}


def test_the_two_processes_of_a_pair_run_back_to_back(tmp_path):
    # A round goes model by model: OLD's and NEW's process of one model run one right after
    # the other, so the machine drifts little between the two halves of a pair.
    # 16 rounds: with 8, every round began with one model once in 128 runs (CI saw it).
    log, out = tmp_path / "log", tmp_path / "rounds.json"
    proc = ab(binary(tmp_path, "old"), binary(tmp_path, "new"), "--rounds", 16, "--out", out,
              env={"FAKE_LOG": str(log)})
    assert proc.returncode == 0, proc.stderr
    lines = [line.split(": ", 1) for line in log.read_text().splitlines()]
    # Each binary lists its benchmarks once: the listing that checked its flags is the plan.
    assert sorted(side for side, args in lines if "--benchmark_list_tests" in args) == ["new", "old"]
    runs = [(side, args) for side, args in lines if "--benchmark_out=" in args]
    ran = [(side, "/".join(args.split("--benchmark_filter=^(")[1].split("/")[:2])) for side, args in runs]
    # What ran is what the file says ran, pair by pair.
    rounds = json.loads(out.read_text())["rounds"]
    assert ran == [(label, model) for r in rounds for model, labels in r["order"] for label in labels]
    pairs = [ran[i:i + 2] for i in range(0, len(ran), 2)]
    assert len(pairs) == 16 * 2 and all({a[0], b[0]} == {"old", "new"} and a[1] == b[1] for a, b in pairs)
    # Random order: over 32 pairs each side ran first sometimes, over 16 rounds each model did.
    assert {a[0] for a, _ in pairs} == {"old", "new"}
    assert {r["order"][0][0] for r in rounds} == {"sum/seq", "sum/pool"}


def test_two_builds_and_test_hooks_are_said_beside_the_verdict(tmp_path):
    # NEW's context was dropped: a sanitized debug build against a release one got a verdict with
    # no word of it; and of the test hooks only CONCBENCH_TEST_SLOWDOWN was said.
    proc = ab(binary(tmp_path, "old", context={"build_type": "release"}),
              binary(tmp_path, "new", context={"build_type": "debug", "concbench_test_pause_ms": "50 (a test hook)"}),
              "--rounds", 8)
    assert proc.returncode == 0, proc.stderr
    assert "OLD and NEW differ: build_type: release vs debug" in proc.stdout, proc.stdout
    assert "a test hook was set in NEW: 50 (a test hook)" in proc.stdout, proc.stdout
    assert "test hook was set in OLD" not in proc.stdout


def test_a_process_that_fails_on_one_side_is_an_error_of_that_side(tmp_path):
    # NEW's process of sum/pool exits before writing: that is NEW's error in every round, said
    # as it happens, never the numbers another process left behind.
    proc = ab(binary(tmp_path, "old"), binary(tmp_path, "new", exit_on="sum/pool"), "--rounds", 8)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    first = [line for line in proc.stdout.splitlines() if line.startswith("REGRESSION")]
    assert first and "errored in NEW: sum/pool/range/workers:2/n:1000: the process of sum/pool exited with status 2" in first[0]
    assert "(in 8 of 8 rounds)" in first[0]
    assert proc.stderr.count("NEW: the process of sum/pool exited with status 2") == 8
    assert "the round goes on" in proc.stderr


def test_benchmarks_of_one_side_only_are_named_not_compared(tmp_path):
    old = binary(tmp_path, "old", names=TWO)
    new = binary(tmp_path, "new", names=TWO + ",sum/tbb/range/workers:2/n:1000")
    proc = ab(old, new, "--rounds", 8)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    note = next(line for line in proc.stdout.splitlines() if "measured in NEW only" in line)
    assert "sum/tbb/range/workers:2/n:1000" in note and "sum/tbb" not in proc.stdout.replace(note, "")


def test_a_slower_new_is_a_regression_with_its_interval(tmp_path):
    proc = ab(binary(tmp_path, "old"), binary(tmp_path, "new", speed=1.1), "--rounds", 8, "--json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    times = [r for r in doc["results"] if r["kind"] == "time"]
    assert len(times) == 2 and all(r["verdict"] == "regression" for r in times), times  # seq's and pool's
    for r in times:  # 8 rounds: the interval is the rounds' range, which leaves out 1.0
        assert 1.0 < r["low"] <= r["ratio"] <= r["high"] < 1.2 and 1.07 < r["ratio"] < 1.13 and r["n"] == 8, r
    # The efficiency moved with nothing but seq and pool both slower: no verdict of its own.
    efficiency = [r for r in doc["results"] if r["kind"] == "efficiency"]
    assert len(efficiency) == 1 and efficiency[0]["verdict"] == "untested", efficiency


def test_a_faster_new_is_no_regression(tmp_path):
    proc = ab(binary(tmp_path, "old"), binary(tmp_path, "new", speed=0.9), "--rounds", 8)
    assert proc.returncode == 0, proc.stderr
    assert "2 improvements" in proc.stdout


def test_a_benchmark_that_errors_in_new_is_a_regression_listed_first(tmp_path):
    proc = ab(binary(tmp_path, "old"), binary(tmp_path, "new", error="sum/pool"), "--rounds", 8)
    assert proc.returncode == 1, proc.stderr
    first = [line for line in proc.stdout.splitlines() if line.startswith("REGRESSION")]
    assert first and "errored in NEW: sum/pool/range/workers:2/n:1000: fake failure (in 8 of 8 rounds)" in first[0]
    # The same error on both sides is not news.
    proc = ab(binary(tmp_path, "o2", error="sum/pool"), binary(tmp_path, "n2", error="sum/pool"), "--rounds", 8)
    assert proc.returncode == 0, proc.stderr


def test_a_process_that_hangs_is_stopped_and_fails_its_round(tmp_path):
    # A build that hangs is what ab.py and bisect.sh exist to catch: NEW's pool process never
    # finished, and ab.py waited for it without end. Now it is stopped after --process-timeout
    # and fails, in every round here, so it is an error of NEW: a regression. The process it
    # started, which holds its output open for two minutes, is stopped with it.
    start = time.monotonic()
    proc = ab(binary(tmp_path, "old"), binary(tmp_path, "new", hang="child:sum/pool"), "--rounds", 7,
              "--process-timeout", 1)
    assert proc.returncode == 1, proc.stderr
    assert time.monotonic() - start < 50  # seven stops of about a second, not seven minutes of sleep
    assert ("errored in NEW: sum/pool/range/workers:2/n:1000: the process of sum/pool did not finish in 1 s, and "
            "was stopped before this benchmark finished (in 7 of 7 rounds)") in proc.stdout, proc.stdout
    assert "sum/seq/range/workers:1/n:1000" in proc.stdout  # the other model is still judged
    one_line_error(ab("--analyse", tmp_path / "x.json", "--process-timeout", 5),
                   "--analyse FILE judges rounds already run: --process-timeout does not apply")


def test_a_fixture_server_that_fails_to_start_fails_its_round_not_the_comparison(tmp_path):
    # A server that did not start in one round ended the whole comparison (exit 2, as bad
    # input), the rounds already run thrown away. Now that round's fetch processes fail on both
    # sides (they share the server), and the rounds go on to a verdict.
    count = tmp_path / "starts"
    (tmp_path / "fixtures").mkdir()
    server = tmp_path / "fixtures" / "concbench_fixture"
    server.write_text("#!/bin/sh\nn=$(($(cat %s 2>/dev/null || echo 0) + 1)); echo $n > %s\n"
                      "if [ $n -eq 3 ]; then echo 'bind: Address already in use'; exit 1; fi\n"
                      "echo 'PORT 1'; exec sleep 60\n" % (count, count))
    server.chmod(0o755)
    fetch = "fetch/pool/conc:4/n:40/delay_ms:0/bytes:1024/keepalive:1"
    fake = binary(tmp_path, "a")
    proc = ab(fake, fake, "--rounds", 8, "--json", env={"FAKE_NAMES": "sum/seq/range/workers:1/n:1000," + fetch})
    assert proc.returncode == 0, proc.stderr
    assert count.read_text().strip() == "8"  # one start a round
    assert "the process of fetch/pool did not run: the fixture server did not start (it printed 'bind: Address " \
           "already in use'); the round goes on" in proc.stderr
    results = {r["name"]: r for r in json.loads(proc.stdout)["results"]}
    assert results[fetch]["n"] == 7 and results["sum/seq/range/workers:1/n:1000"]["n"] == 8, results


def test_nothing_measured_on_both_sides_is_no_verdict_not_no_regression(tmp_path):
    # Every benchmark erred on both sides: "0 regressions, Holm over 0 times", exit 0, and
    # bisect.sh took the commit for a good one.
    proc = ab(binary(tmp_path, "old", error="sum/"), binary(tmp_path, "new", error="sum/"), "--rounds", 8)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(
        "concbench ab: no verdict: no time was measured on both sides; 2 benchmarks errored on both, "
        "sum/seq/range/workers:1/n:1000 first: fake failure"), proc.stderr


def test_machine_bounds_never_decide(tmp_path):
    # NEW's machine bound is 20% slower (its binary alone: an environment variable would slow
    # both sides): measured as such, said as drift, and no regression.
    env = {"FAKE_NAMES": "peak/vector_add,sum/seq/range/workers:1/n:1000", "FAKE_SPEED_ONLY": "vector_add"}
    proc = ab(binary(tmp_path, "old"), binary(tmp_path, "new", speed=1.2), "--rounds", 8, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    results = {r["name"]: r for r in json.loads(proc.stdout)["results"]}
    peak = results["peak/vector_add"]
    assert peak["kind"] == "machine" and peak["verdict"] == "machine drift", peak
    assert peak["ratio"] == pytest.approx(1.2, rel=0.05)
    assert results["sum/seq/range/workers:1/n:1000"]["verdict"] == "no change"
    # Holm's m counts the times alone: 6 rounds (p >= 1/32) are enough for one time beside a
    # peak/*, not for two times.
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import ab as ab_module
    ab_module.require_rounds(6, ["peak/vector_add", "sum/seq/range/workers:1/n:1000"], 0.05, "few")
    with pytest.raises(ab_module.InputError, match="^few: with 6 rounds .* a verdict needs --rounds 7 or more"):
        ab_module.require_rounds(6, ["sum/seq/range/workers:1/n:1000", "sum/pool/range/workers:2/n:1000"], 0.05, "few")
    # peak/* alone can give no verdict: refused before a round, not after all of them
    proc = ab(binary(tmp_path, "old2"), binary(tmp_path, "new2"), env={"FAKE_NAMES": "peak/vector_add"})
    one_line_error(proc, "nothing to judge: the benchmarks selected are all peak/*")
    assert "round 1" not in proc.stderr


def test_bad_input_is_one_line_and_leaves_nothing(tmp_path):
    fake = binary(tmp_path, "a")
    one_line_error(ab(fake), "give OLD and NEW")
    one_line_error(ab(fake, fake, "--rounds", 3, "--out", tmp_path / "results" / "ab" / "x.json"), "too few rounds",
                   "--rounds")
    assert not (tmp_path / "results").exists()  # no empty results/ab/ left behind
    one_line_error(ab(fake, fake, "--rounds", 8, "--benchmark_filter=^nothing$"), "no benchmark matches")
    one_line_error(ab("--analyse", tmp_path / "missing.json"), "not an A/B file")
    for flag in (["--rounds", "3"], ["--benchmark_filter=x"], ["--out", "x.json"]):
        err = one_line_error(ab("--analyse", saved("slow10.json"), *flag), "judges rounds already run: %s" % flag[0])
        assert "given as" not in err, err
    err = one_line_error(ab("--analyse", saved("slow10.json"), env={"BENCHMARK_FILTER": "x"}),
                         "judges rounds already run: --benchmark_filter=x does not apply")
    assert err.endswith("(given as $BENCHMARK_FILTER)"), err
    one_line_error(ab(fake, fake, "stray"), "unexpected argument 'stray'")
    repo = tmp_path / "repo"
    make_repo(repo, 1)  # a repository whose commit has no CMakeLists.txt: it does not build
    # One line, so no "building" line came before it.
    # Worded as the binary words it, and read as POSIX extended, as the binary reads it: Python's re
    # refused a**, which the binary runs (the commit is built, and found not to build).
    err = one_line_error(ab("HEAD", "HEAD", "--repo", repo, "--benchmark_filter=sum/("))
    assert err == "concbench ab: --benchmark_filter=sum/(: not a regular expression (POSIX extended)", err
    err = one_line_error(ab("HEAD", "HEAD", "--repo", repo, env={"BENCHMARK_FILTER": "-sum/("}))
    assert err.endswith("--benchmark_filter=-sum/(: not a regular expression (POSIX extended)"
                        " (given as $BENCHMARK_FILTER)"), err
    built = ab("HEAD", "HEAD", "--repo", repo, "--benchmark_filter=sum/a**")
    assert built.returncode == 2 and "does not build" in built.stderr.strip().splitlines()[-1], built.stderr
    out = tmp_path / "partial.json"
    built = ab("HEAD", "HEAD", "--repo", repo, "--out", out)  # progress says what it builds, then why not
    assert built.returncode == 2 and "does not build: CMake Error" in built.stderr.strip().splitlines()[-1]
    one_line_error(ab("HEAD", "no-such-rev", "--repo", repo), "no-such-rev", "neither a concbench binary nor a commit")
    assert git(repo, "worktree", "list").count("\n") == 0  # only the main worktree
    assert not out.exists()


def test_an_output_that_cannot_be_written_is_refused_before_any_build_or_round(tmp_path):
    # A directory as --out crashed after round 1, once both commits were built; a missing
    # directory is made, as results/ab/ is.
    log, fake = tmp_path / "log", binary(tmp_path, "a")
    one_line_error(ab(fake, fake, "--rounds", 8, "--out", tmp_path, env={"FAKE_LOG": str(log)}),
                   "cannot write %s: it is a directory" % tmp_path)
    # Root passes os.access anywhere: /proc was found unwritable only when the rounds were done.
    one_line_error(ab(fake, fake, "--rounds", 8, "--out", "/proc/nope/ab.json", env={"FAKE_LOG": str(log)}),
                   "directory /proc is not writable")
    assert not log.exists()  # nothing ran, not even a listing
    repo = tmp_path / "repo"
    make_repo(repo, 1)
    one_line_error(ab("HEAD", "HEAD", "--repo", repo, "--out", repo / "file" / "ab.json"),
                   "%s is not a directory" % (repo / "file"))  # and no "building" line
    out = tmp_path / "new" / "dir" / "ab.json"
    assert ab(fake, fake, "--rounds", 8, "--out", out).returncode == 0 and out.exists()
    # A symbolic link's file gets the rounds, as the binary writes a record: the link stays.
    os.symlink(out, tmp_path / "link.json")
    out.write_text("")
    assert ab(fake, fake, "--rounds", 8, "--out", tmp_path / "link.json").returncode == 0
    assert os.path.islink(tmp_path / "link.json") and len(json.loads(out.read_text())["rounds"]) == 8


REAL = os.environ.get("CONCBENCH_BINARY", os.path.join(REPO, "build", "release", "benchmarks", "concbench"))


@pytest.mark.skipif(not os.access(REAL, os.X_OK), reason="concbench is not built")
def test_flags_only_a_built_binary_knows_are_checked_before_the_next_build(tmp_path):
    # A flag the binary does not know, or a filter its POSIX regex rejects, was found once
    # both commits were built; a built side now checks them before the other side is built.
    repo = tmp_path / "repo"
    make_repo(repo, 1)
    for flag, said in (("--bogus-flag", "unknown flag '--bogus-flag'"), ("--benchmark_filter=(?:sum)", "filter")):
        proc = ab(REAL, "HEAD", "--repo", repo, "--rounds", 8, flag)
        one_line_error(proc, "OLD: ", said)
        assert "building" not in proc.stderr
    # An abbreviation of ab.py's own flags is the binary's flag, never --help: argparse took
    # --hel for it and exited 0, which bisect.sh's check of its options read as good.
    proc = ab("--check-args", REAL, REAL, "--hel")
    one_line_error(proc, "unknown flag '--hel'")


def test_an_interrupted_run_leaves_no_file_that_passes_for_a_result(tmp_path):
    # Killed (-9) after 3 of 12 rounds, it left those 3 rounds at the final path, and --analyse
    # judged a 50% slowdown "no change", exit 0. Now the file is written when all rounds have run.
    out = tmp_path / "ab.json"
    proc = subprocess.Popen([PYTHON, AB, binary(tmp_path, "old"), binary(tmp_path, "new", speed=1.5), "--rounds",
                             "12", "--out", str(out), "--benchmark_filter=."], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "FAKE_NAMES": TWO, "TMPDIR": str(tmp_path)})  # -9 leaves its temp dirs
    fourth = next((line for line in proc.stderr if "round 4 of 12" in line), None)
    proc.kill()
    proc.wait()
    proc.stderr.close()
    assert fourth and not out.exists()


def test_rounds_too_few_for_significance_are_inconclusive_not_no_change(tmp_path):
    # 3 rounds of 12 (what an interrupted run used to leave): no p-value can pass Holm over 44
    # times, so "no change" would mean nothing; said as inconclusive, exit 2.
    data = json.loads(open(saved("slow10.json")).read())
    data["rounds"] = data["rounds"][:3]
    (tmp_path / "three.json").write_text(json.dumps(data))
    one_line_error(ab("--analyse", tmp_path / "three.json"), "inconclusive: with 3 rounds no p-value reaches "
                   "alpha/m = 0.05/44 (Holm over 44 benchmarks); a verdict needs --rounds 11 or more")
    data["rounds"] = data["rounds"] * 4  # 12 rounds: a verdict
    (tmp_path / "twelve.json").write_text(json.dumps(data))
    assert ab("--analyse", tmp_path / "twelve.json").returncode == 1


def test_a_time_with_too_few_pairs_is_untested_not_no_change(tmp_path):
    # OLD's process of seq failed in all but 4 of the rounds: 4 pairs cannot pass even Holm's
    # loosest step (p >= 2/16 > 0.05) whatever they say, so "no change" would mean nothing.
    # Before, it said so.
    data = json.loads(open(saved("slow10.json")).read())
    name = "sum/seq/range/workers:1/n:100000000"
    for r in data["rounds"][4:]:
        value = r["old"]["metrics"].pop(name)
        r["old"]["errors"][name] = "the process of sum/seq failed (test)"
    (tmp_path / "few.json").write_text(json.dumps(data))
    doc = json.loads(ab("--analyse", tmp_path / "few.json", "--json").stdout)
    seq = next(r for r in doc["results"] if r["name"] == name)
    assert (seq["verdict"], seq["n"], seq["p"]) == ("untested", 4, None), seq
    assert value and any(n.startswith("1 time with too few paired rounds for any verdict") and name in n
                         for n in doc["notes"]), doc["notes"]
    # the other times are judged as before: the slowed model is still found
    assert doc["summary"]["regression"] >= 1 and doc["summary"]["untested"] > 1


def test_no_time_with_enough_pairs_is_no_verdict_not_no_regression(tmp_path):
    # OLD's processes failed in 11 of the 16 rounds, and NEW erred in none: every time was
    # untested, and ab.py said "no regression" (exit 0), which bisect.sh takes for a good commit.
    data = json.loads(open(saved("slow10.json")).read())
    for r in data["rounds"][5:]:
        r["old"]["errors"] = {name: "the process failed (test)" for name in r["old"]["metrics"]}
        r["old"]["metrics"] = {}
    (tmp_path / "five.json").write_text(json.dumps(data))
    one_line_error(ab("--analyse", tmp_path / "five.json"), "no verdict: every time has too few paired rounds to "
                   "be judged (at most 5 of 16: a side's processes failed in the others)")
    # with a sixth, sign tests can pass and there is a verdict again
    data["rounds"][5] = json.loads(open(saved("slow10.json")).read())["rounds"][5]
    (tmp_path / "six.json").write_text(json.dumps(data))
    assert ab("--analyse", tmp_path / "six.json").returncode in (0, 1)


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_an_error_of_old_excuses_new_only_when_as_bad(tmp_path):
    # One crash of OLD's process excused a NEW that failed sum/pool in every round, and an error
    # in one repetition of a round (the others measured) was no error at all. Now each round's
    # error weighs 2 (nothing measured) or 1 (some repetitions measured), summed over rounds, and
    # NEW's errors are regressions unless OLD's weigh as much.
    pool, vector = "sum/pool/range/workers:2/n:100000", "peak/vector_add"

    def verdict(old_rounds, new_rounds, partial=False, name=pool):
        data = json.loads(open(saved("aa.json")).read())
        for side, erring in (("old", old_rounds), ("new", new_rounds)):
            for r in data["rounds"][:erring]:
                if partial:
                    r[side]["errors"][name] = "1 repetition errored, the others measured: wrong sum"
                else:
                    r[side]["metrics"].pop(name, None)
                    r[side]["errors"][name] = "wrong sum"
        path = tmp_path / "rounds.json"
        path.write_text(json.dumps(data))
        proc = ab("--analyse", path, "--json")
        assert proc.returncode in (0, 1), proc.stderr
        return proc.returncode, json.loads(proc.stdout)

    for old_rounds, new_rounds, partial, regressed in ((1, 16, False, True), (0, 1, True, True),
                                                       (2, 1, True, False), (16, 16, False, False),
                                                       (3, 2, False, False)):
        code, doc = verdict(old_rounds, new_rounds, partial)
        said = [e["message"] for e in doc["errors"] if e["benchmark"] == pool]
        assert bool(said) == regressed and code == int(regressed), (old_rounds, new_rounds, partial, said)
        if regressed:
            assert said[0].endswith("(in %d of 16 rounds)" % new_rounds), said
    # OLD's errors that NEW does not have are said, not judged.
    code, doc = verdict(4, 0)
    assert code == 0 and any(n.startswith(pool + " errored in OLD only: wrong sum (in 4 of 16 rounds)")
                             for n in doc["notes"]), doc["notes"]
    # A bound of the machine that erred in NEW is said and decides nothing, as its times.
    data = json.loads(open(saved("aa.json")).read())
    for r in data["rounds"]:
        r["old"]["metrics"][vector] = ["machine", 1e-4]
        r["new"]["errors"][vector] = "wrk is not installed"
    (tmp_path / "peak.json").write_text(json.dumps(data))
    proc = ab("--analyse", tmp_path / "peak.json", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["errors"] == [], proc.stdout
    assert (vector + " errored in NEW (a bound of the machine, never a verdict): wrk is not installed "
            "(in 16 of 16 rounds)") in doc["notes"], doc["notes"]


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_a_time_both_sides_measured_but_never_in_one_round_is_said(tmp_path):
    # OLD's process of sum/pool failed in rounds 1-8, NEW's in 9-16: the errors weigh the same,
    # and the time had no pair to judge. It vanished from the verdict without a word.
    pool = "sum/pool/range/workers:2/n:100000"
    data = json.loads(open(saved("aa.json")).read())
    for i, r in enumerate(data["rounds"]):
        side = r["old" if i < 8 else "new"]
        side["metrics"].pop(pool)
        side["errors"][pool] = "the process of sum/pool exited with status 2"
    (tmp_path / "rounds.json").write_text(json.dumps(data))
    proc = ab("--analyse", tmp_path / "rounds.json", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert ("1 metric measured by OLD and NEW but never in the same round (a side failed in the others), "
            "not compared: " + pool) in doc["notes"], doc["notes"]


def calibration(root, name, trial, flagged, date=None, method=None):
    """A calibration ROOT/results/calibration/NAME of one trial like `trial` (rounds), with
    `flagged` A/A alarms in a summary of 4 A/A and 2 + 2 slowdown comparisons judged, and one
    of each with no verdict, which no rate counts."""
    where = root / "results" / "calibration" / name
    (where / "rounds").mkdir(parents=True)
    trial = json.loads(json.dumps(trial))
    trial["context"]["date"] = date or trial["context"]["date"]
    if method:
        trial["method"] = method
    (where / "rounds" / "trial-01-aa.json").write_text(json.dumps(trial))
    rows = [{"comparison": c} for c in ["aa"] * 4 + ["p10"] * 2 + ["p5"] * 2]
    rows += [{"comparison": c, "no_verdict": "no verdict: every time has too few paired rounds"}
             for c in ("aa", "p10", "p5")]
    (where / "summary.json").write_text(json.dumps({"rounds": 16, "aa_flagged": flagged, "p10_found": 2,
                                                    "p5_found": 1, "others_flagged": 0, "rows": rows}))


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_a_verdict_gives_the_figures_of_its_machines_latest_calibration_of_this_method(tmp_path):
    # Error rates are measured per machine and per method: rounds get the latest calibration of
    # ab.py's method on their machine, with bounds (0 of 4 is at most 53%, not never), and the
    # settings that differ from its; rounds of another machine get a note that there are none.
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import ab as ab_module
    import regress
    data = json.loads(open(saved("aa.json")).read())
    calibration(tmp_path, "older", data, 1, date="2026-11-01T00:00:00+00:00")
    calibration(tmp_path, "latest", data, 0)
    calibration(tmp_path, "side-by-side", data, 3, date="2026-12-31T00:00:00+00:00", method="side by side")
    note = ab_module.calibration_note(data, regress.DEFAULT_ALPHA, regress.DEFAULT_MIN_EFFECT, str(tmp_path))
    assert note == ("the method on this machine, as results/calibration/latest measured it in 4 trials of 16 rounds, "
                    "95% sure: A/A flagged 0 of 4 (at most 53%); 10% slowdowns found 2 of 2 (at least 22%), 5% ones "
                    "1 of 2 (at least 3%); the slowdowns' unchanged models flagged 0 of 4 (at most 53%)"), note
    note = ab_module.calibration_note(dict(data, rounds=data["rounds"][:8]), 0.2, regress.DEFAULT_MIN_EFFECT,
                                      str(tmp_path))
    assert note.endswith("this verdict's settings differ (rounds 8, not 16, alpha 0.2, not 0.05), so they are not "
                         "its figures"), note
    other = dict(data, context=dict(data["context"], cpu_model="Intel Xeon"))
    assert ab_module.calibration_note(other, 0.05, 0.03, str(tmp_path)).startswith(
        "no calibration in results/calibration ran on the machine of these rounds")
    # A summary whose counts are not whole numbers within their trials is said to be unreadable,
    # not figured into a crash.
    for bad in ("0", None, 1.5, 5):
        summary = tmp_path / "results" / "calibration" / "latest" / "summary.json"
        summary.write_text(json.dumps(dict(json.loads(summary.read_text()), aa_flagged=bad)))
        note = ab_module.calibration_note(data, regress.DEFAULT_ALPHA, regress.DEFAULT_MIN_EFFECT, str(tmp_path))
        assert note == ("the calibration of this machine, results/calibration/latest, has no summary that can be "
                        "read (a count that is not a whole number from 0 to its comparisons)"), (bad, note)
    # ... and the verdict carries the note once.
    (tmp_path / "rounds.json").write_text(json.dumps(other))
    notes = json.loads(ab("--analyse", tmp_path / "rounds.json", "--json").stdout)["notes"]
    assert len([n for n in notes if "calibration" in n]) == 1, notes


def test_saved_rounds_of_another_shape_are_one_line(tmp_path):
    sides = {"old": {"arg": "a"}, "new": {"arg": "b"}}
    side = {"metrics": {"sum/seq/range/workers:1/n:1000": ["time", 1.0]}, "errors": {}}
    for doc, why in (([], "no old and new side"), ({"rounds": [1]}, "no old and new side"),
                     ({"rounds": [{}]}, "no old and new side"), (dict(sides, rounds=[]), "no rounds"),
                     (dict(sides, rounds=[1]), "round 1 is not each side's metrics and errors"),
                     (dict(sides, rounds=[{"old": side, "new": {}}]), "round 1 is not"),
                     (dict(sides, rounds=[{"old": side, "new": dict(side, metrics={"x": [1]})}]), "round 1 is not"),
                     (dict(sides, rounds=[{"old": side, "new": dict(side, metrics={"x": ["?", 1]})}]), "round 1 is not"),
                     (dict(sides, rounds=[{"old": side, "new": side}], context="vm"), "context is not an object"),
                     (dict(sides, old={"arg": "a", "commit": 12345}, rounds=[]), "no old and new side"),
                     (dict(sides, old={"arg": "a", "env": {"X": math.nan}}, rounds=[]), "env is not an object")) + tuple(
            # a value no benchmark measures judged "no change", exit 0 (inf, 1e308), or judged nothing (NaN)
            (dict(sides, rounds=[{"old": side, "new": dict(side, metrics={"x": ["time", v]})}]),
             "round 1: x is %r, not a measurement" % v) for v in (math.inf, math.nan, 1e308, 0, -1.0, True)):
        (tmp_path / "ab.json").write_text(json.dumps(doc))
        one_line_error(ab("--analyse", tmp_path / "ab.json"), "is not an A/B file saved by ab.py", why)


def saved(name):
    return os.path.join(DATA, name)


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_a_verdict_in_json_is_valid_json_whatever_the_file_held(tmp_path):
    # NaN or Infinity anywhere in a saved file (a side's unknown field here) left cut-off JSON on
    # stdout and then a traceback: JSON has neither, so they are written as null.
    doc = json.loads(open(saved("aa.json")).read())
    doc["old"]["extra"], doc["context"]["load_avg"] = math.inf, [math.nan]
    (tmp_path / "ab.json").write_text(json.dumps(doc))
    r = ab("--analyse", tmp_path / "ab.json", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout, parse_constant=lambda c: pytest.fail("%s in the output" % c))
    assert out["old"]["extra"] is None and out["results"]


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_an_alpha_no_round_count_reaches_says_how_many_would(tmp_path):
    # alpha 1e-30 needs about 100 rounds: the search stopped at 63, with a StopIteration
    r = ab("--analyse", saved("aa.json"), "--alpha", "1e-30")
    one_line_error(r, "a verdict needs --rounds 107 or more")
    one_line_error(ab("--analyse", saved("aa.json"), "--alpha", "1e-308"), "--rounds 1030 or more")  # 2m/alpha is inf


def test_numbers_and_paths_that_cannot_serve_are_one_line(tmp_path):
    fake = binary(tmp_path, "a")
    # 10**99999999999 was computed before the range check: it ran for hours
    one_line_error(ab(fake, fake, "--rounds", "1e99999999999"), "is not a round count in 2..10000")
    # a trailing / ran every round, then failed to write them
    one_line_error(ab(fake, fake, "--rounds", 8, "--out", str(tmp_path / "new") + "/"), "a file's name cannot end in /")
    one_line_error(ab(fake, fake, "--rounds", 8, "--out", "/dev/null"), "it exists and is not a regular file")
    one_line_error(ab(fake, fake, "--rounds", 8, "--out", ""), "an empty path")
    one_line_error(ab(fake, fake, "--rounds", 8, "--out", tmp_path / ("x" * 300 + ".json")), "File name too long")
    os.symlink(tmp_path / "missing.json", tmp_path / "dangling.json")  # the binary refuses one too
    one_line_error(ab(fake, fake, "--rounds", 8, "--out", tmp_path / "dangling.json"),
                   "a symbolic link to a missing file")
    os.symlink("/proc/version", tmp_path / "proc.json")  # the record would be made beside its file
    one_line_error(ab(fake, fake, "--rounds", 8, "--out", tmp_path / "proc.json"), "directory /proc is not writable")
    assert sorted(os.listdir(tmp_path)) == ["a", "dangling.json", "proc.json"]
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_saved_rounds_from_this_machine():
    # Real rounds of ab.py's default subset, model by model, on the 2-core VM (trial 1 of the
    # calibration in results/calibration/20261201T092944Z/): the
    # same binary on both sides must flag nothing; one model 10% slower must be found.
    same = ab("--analyse", saved("aa.json"), "--json")
    assert same.returncode == 0, same.stdout + same.stderr
    assert json.loads(same.stdout)["summary"]["regression"] == 0
    slower = ab("--analyse", saved("slow10.json"), "--json")
    assert slower.returncode == 1, slower.stdout
    doc = json.loads(slower.stdout)
    hook = next(n for n in doc["notes"] if n.startswith("a test hook was set in NEW: "))
    slowed = hook.split(": ", 1)[1].split()[0]  # "<model> does 10% more kernel work ..."
    assert any(r["verdict"] == "regression" and r["name"].split("/")[1] == slowed for r in doc["results"])


HISTORY = os.path.join(REPO, "results", "history")


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
@pytest.mark.parametrize("script,args", [
    ("ab.py", ["--analyse", os.path.join(DATA, "aa.json")]),  # 10 kB: the pipe breaks while it prints
    # a few hundred bytes, still in the buffer when run() returns: the pipe breaks at the flush
    ("compare.py", [os.path.join(HISTORY, "20261201T212019Z-03460d44732b-vm.json"),
                    os.path.join(HISTORY, "20261201T214757Z-1aacd298873c-vm.json"),
                    "--filter", "^sum/seq/range/workers:1/n:1000$"])])
def test_a_reader_that_stops_reading_ends_the_output_without_a_traceback(script, args):
    # `ab.py --analyse FILE | head` printed a BrokenPipeError traceback; a short output, flushed
    # at exit, printed "Exception ignored ... BrokenPipeError" and exited 120.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen([PYTHON, os.path.join(REPO, "scripts", script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    proc.stdout.close()  # before it prints anything: its first write finds no reader
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141 and err == "", err


@pytest.mark.skipif(not os.path.isdir(DATA) or not os.path.exists("/dev/full"), reason="no saved rounds or /dev/full")
@pytest.mark.parametrize("script,args", [
    ("ab.py", ["--analyse", os.path.join(DATA, "aa.json")]),
    ("compare.py", [os.path.join(HISTORY, "20261201T212019Z-03460d44732b-vm.json"),
                    os.path.join(HISTORY, "20261201T214757Z-1aacd298873c-vm.json")]),
    ("compare.py", ["--help"])])
def test_an_output_with_no_room_is_one_line(script, args):
    # `> /dev/full` (a full disk) ended in an OSError traceback, --help in "Exception ignored"
    with open("/dev/full", "w") as full:
        proc = subprocess.run([PYTHON, os.path.join(REPO, "scripts", script), *args], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    # 3, not 1: 1 says NEW regressed, and bisect.sh would mark the commit bad on a full disk
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip() == "concbench %s: cannot write its output: No space left on device" % script[:-3]


@pytest.mark.skipif(not os.path.isdir(DATA), reason="no saved rounds")
def test_a_bug_exits_3_not_the_1_of_a_regression(monkeypatch, capsys):
    # An uncaught exception exits 1 in Python: ab.py's "NEW regressed", and a bad commit to bisect.sh.
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import ab

    def boom(*args):
        raise RuntimeError("a bug in the analysis")
    monkeypatch.setattr(ab, "analyse", boom)
    assert ab.main(["--analyse", os.path.join(DATA, "aa.json")]) == 3
    err = capsys.readouterr().err.splitlines()
    assert "Traceback (most recent call last):" in err and "RuntimeError: a bug in the analysis" in err  # kept
    assert err[-1] == "concbench ab: internal error (the traceback above): a bug, not bad input"


def test_a_cpu_quota_below_the_hardware_threads_makes_every_round_unstable(tmp_path):
    # A round's environment was judged without its processes' context: the quota the binary
    # recorded never made a round unstable. OLD, a commit from before the quota was recorded,
    # has none: NEW's is judged.
    quota = {"cpu_quota": "0.50", "hardware_threads": "2"}
    proc = ab(binary(tmp_path, "old"), binary(tmp_path, "new", context=quota), "--rounds", 7, "--json")
    notes = json.loads(proc.stdout)["notes"]
    assert any(n.startswith("unstable environment in 7 of 7 rounds (round 1: a cgroup CPU quota of 0.50 CPUs, "
                            "fewer than its 2 hardware threads") for n in notes), (notes, proc.stderr)
