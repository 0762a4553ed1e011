# SPDX-License-Identifier: MIT
# Tests for scripts/run_isolated.py: each model in a process of its own, one merged record, failures reported.
# Run: /usr/bin/python3 -m pytest tests/test_isolation.py (CONCBENCH_BINARY and CONCBENCH_FIXTURE
# name the built binaries; ctest sets them).
import contextlib
import csv
import io
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RUN = os.path.join(REPO, "scripts", "run_isolated.py")
FAKE = os.path.join(HERE, "fake_concbench.py")
BINARY = os.environ.get("CONCBENCH_BINARY", os.path.join(REPO, "build", "release", "benchmarks", "concbench"))
FIXTURE = os.environ.get("CONCBENCH_FIXTURE", os.path.join(REPO, "build", "release", "fixtures", "concbench_fixture"))
sys.path.insert(0, os.path.join(REPO, "scripts"))

import run_isolated  # noqa: E402

needs_binary = pytest.mark.skipif(not os.access(BINARY, os.X_OK), reason="concbench is not built")
TINY = ["--benchmark_min_time=0.01", "--benchmark_repetitions=1"]
ONE_ROUND = ["--benchmark_repetitions=1"]  # one process per model, as these tests expect


def isolated(tmp_path, args, env=None, extra=(), preexec_fn=None, fixture=FIXTURE):
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), "--fixture", fixture, *extra, BINARY,
                           *args], capture_output=True, text=True, env=env, timeout=600, preexec_fn=preexec_fn)
    return proc, out


def iterations(doc):
    return [b for b in doc["benchmarks"] if b.get("run_type") == "iteration"]


@needs_binary
def test_a_model_left_spinning_stays_in_a_shared_process_but_not_in_an_isolated_one(tmp_path):
    # The test hook leaves a thread spinning after seq's benchmark, as an idle runtime that
    # never sleeps would. In one shared process the next model starts its timed calls beside it
    # (process_threads counts it); with a process per model the next model never sees it. What
    # it costs the next model is the machine's to say (cpu_util 1.0 to 2.0 by the load beside
    # it), so the test holds the structure: the thread is there, or it is not.
    env = dict(os.environ, CONCBENCH_TEST_LEAVE_SPINNING="seq")
    args = ["--benchmark_filter=^sum/(seq|threads)/range/workers:1/n:1000000/", "--workers=1",
            "--scaling_n=1e6", *TINY]
    shared = tmp_path / "shared.json"
    subprocess.run([BINARY, *args, "--benchmark_out=%s" % shared, "--benchmark_format=json"],
                   check=True, env=env, stdout=subprocess.DEVNULL, timeout=300)
    shared_threads = {b["name"].split("/")[1]: b["process_threads"] for b in iterations(json.loads(shared.read_text()))}
    proc, out = isolated(tmp_path, args, env=env)
    assert proc.returncode == 0, proc.stderr
    threads = {b["name"].split("/")[1]: b["process_threads"] for b in iterations(json.loads(out.read_text()))}
    # threads at W = 1 starts its thread per call: between calls the process is its main thread,
    # and in the shared process seq's spinner besides. (seq sees its own spinner too: Google
    # Benchmark calls its body more than once, and the hook starts it after the first call.)
    assert threads["threads"] == 1, threads
    assert shared_threads["threads"] == 2, shared_threads


@needs_binary
def test_no_benchmark_starts_beside_the_idle_threads_of_a_wider_run(tmp_path):
    # oneTBB keeps a wider arena's workers and libgomp its team: in one process, array at W = 1
    # after range at W = 4 starts beside 3 idle threads. ./bench runs the kernels apart, and
    # within a process the sweep's worker counts only grow.
    args = ["--benchmark_filter=^sum/(tbb|openmp|std_par)/(range/workers:4|array/workers:1)/", "--workers=1,4",
            "--scaling_n=1e6", *TINY]
    shared = tmp_path / "shared.json"
    subprocess.run([BINARY, *args, "--benchmark_out=%s" % shared, "--benchmark_format=json"],
                   check=True, stdout=subprocess.DEVNULL, timeout=300)
    proc, out = isolated(tmp_path, args)
    assert proc.returncode == 0, proc.stderr

    def w1(path):
        return {b["name"].split("/")[1]: b["process_threads"] for b in iterations(json.loads(path.read_text()))
                if "/workers:1/" in b["name"]}
    together, apart = w1(shared), w1(out)
    # In one process each starts beside its own range's 3 at least (and the earlier models' threads).
    assert sorted(together) == ["openmp", "std_par", "tbb"] and min(together.values()) >= 4, together
    assert apart == {"tbb": 1, "openmp": 1, "std_par": 1}
    # Every sum model's array at W = 1 starts alone in ./bench's run, the pool beside its one
    # worker (the README says so of all of them).
    proc, out = isolated(tmp_path, ["--benchmark_filter=^sum/[a-z_]+/array/workers:1/", "--workers=1",
                                    "--scaling_n=1e6", *TINY])
    assert proc.returncode == 0, proc.stderr
    every = subprocess.run([BINARY, "--benchmark_list_tests", "--benchmark_filter=^sum/[a-z_]+/array/workers:1/"],
                           capture_output=True, text=True, check=True).stdout.split()
    models = {n.split("/")[1] for n in every}
    assert len(models) >= 8 and w1(out) == {m: 2 if m == "pool" else 1 for m in models}, w1(out)
    listed = subprocess.run([BINARY, "--benchmark_list_tests"], capture_output=True, text=True,
                            check=True).stdout.split()
    for group, names in run_isolated.group_by(listed):
        workers = [int(n.split("/workers:")[1].split("/")[0]) for n in names if "/workers:" in n]
        assert workers == sorted(workers), group


@needs_binary
def test_this_machine_is_read_as_the_binary_records_it(tmp_path):
    # compare.py, history.py and calibrate.py pick "this machine's" records with
    # records.this_machine(): it must name the machine exactly as a record made here does.
    import records
    out = tmp_path / "one.json"
    subprocess.run([BINARY, "--benchmark_filter=^sum/seq/range/workers:1/n:1000/", *TINY,
                    "--benchmark_out=%s" % out, "--benchmark_format=json"],
                   check=True, stdout=subprocess.DEVNULL, timeout=300)
    context, here = json.loads(out.read_text())["context"], records.this_machine()
    assert all(context.get(k) not in (None, "") for k in records.IDENTITY + records.LATER_IDENTITY), context
    assert records.machine_differences(context, here) == []
    assert {k: str(context[k]) for k in here if k != "mhz_per_cpu"} == {k: v for k, v in here.items()
                                                                        if k != "mhz_per_cpu"}
    if records.fixed_clock(context):  # without cpufreq the clock is part of the identity: the same one
        assert str(context["mhz_per_cpu"]) == here["mhz_per_cpu"]


@needs_binary
def test_a_cgroup_cpu_quota_is_recorded_and_calls_the_run_unstable(tmp_path, new_cgroup):
    # The affinity mask showed both CPUs under a quota of half of one, and the record said nothing
    # of it. The quota is the parent's: the binary must look up from the process's own cgroup.
    parent, _ = new_cgroup("cpu", v1={"cpu.cfs_quota_us": "50000"}, v2={"cpu.max": "50000 100000"})
    _, join = new_cgroup("cpu", parent=parent)
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), BINARY,
                           "--benchmark_filter=^sum/seq/range/workers:1/n:1000/", *TINY],
                          capture_output=True, text=True, timeout=300, preexec_fn=join)
    assert proc.returncode == 0, proc.stderr
    context = json.loads(out.read_text())["context"]
    assert context["cpu_quota"] == "0.50", context
    said = ("a cgroup CPU quota of 0.50 CPUs, fewer than its %s hardware threads, can stop its threads for the "
            "rest of each period" % context["hardware_threads"])
    assert said in context["environment_unstable"] and said in proc.stderr, proc.stderr
    # And outside it, the record says there is none, or the machine's own.
    mine = subprocess.run([BINARY, "--benchmark_filter=^sum/seq/range/workers:1/n:1000/", *TINY,
                           "--benchmark_format=json"], capture_output=True, text=True, timeout=300)
    assert json.loads(mine.stdout)["context"]["cpu_quota"] != "0.50", mine.stdout[:2000]


@needs_binary
def test_the_merged_record_has_every_benchmark_once_with_progress_across_processes(tmp_path):
    args = ["--benchmark_filter=^sum/(seq|pool|tbb)/range/workers:(1|2)/n:1000/|^peak/vector_add|"
            "^fetch/multi/conc:8/", "--fetch_conc=8", "--fetch_n=16", "--fetch_delay_ms=0",
            "--benchmark_repetitions=2", "--benchmark_min_time=0.01"]
    listed = subprocess.run([BINARY, *args, "--benchmark_list_tests"], capture_output=True, text=True,
                            check=True).stdout.split()
    # The fixture the run starts, through a wrapper that logs every request it serves.
    served = tmp_path / "served.log"
    wrapper = tmp_path / "fixture.sh"
    wrapper.write_text('#!/bin/sh\nexec "%s" --verbose "$@" 2>>"%s"\n' % (FIXTURE, served))
    wrapper.chmod(0o755)
    proc, out = isolated(tmp_path, args, fixture=str(wrapper))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    runs = iterations(doc)
    # Every listed benchmark, each with its repetitions, and no error.
    assert sorted({b["run_name"] for b in runs}) == sorted(listed)
    assert all(not b.get("error_occurred") for b in doc["benchmarks"])
    assert all(sorted(b["repetition_index"] for b in runs if b["run_name"] == n) == [0, 1] for n in listed)
    # One process per model and kernel and repetition (two rounds), said in the record's context;
    # one context for all.
    models = {run_isolated.process_of(n) for n in listed}
    assert doc["context"]["concbench_isolation"] == ("one process per model and kernel, 2 rounds (%d processes)"
                                                     % (2 * len(models)))
    assert all(proc.stderr.count(": %s, " % m) == 2 for m in models), proc.stderr
    # family_index stays unique per benchmark across processes, as in one process.
    families = {}
    for b in doc["benchmarks"]:
        families.setdefault(b["family_index"], set()).add(b["run_name"])
    assert all(len(v) == 1 for v in families.values()) and len(families) == len(listed)
    # [k/N] counts across the whole run, in run order.
    numbers = [line.split("]")[0] for line in proc.stdout.splitlines() if line.startswith("[")]
    total = 2 * len(listed)
    assert numbers == ["[%*d/%d" % (len(str(total)), k, total) for k in range(1, total + 1)], proc.stdout
    # The fetch processes used the fixture started for the run (every timed request of both
    # rounds, at least, reached it), and say how busy it was.
    fetch = [b for b in runs if b["name"].startswith("fetch/")]
    assert fetch and all(b["server_cpu_util"] > 0 for b in fetch)
    timed = sum(int(b["name"].split("/n:")[1].split("/")[0]) * b["iterations"] for b in fetch)
    assert served.read_text().count("request ") >= timed > 0
    # Every key of the merged record, Google Benchmark's, the binary's and this script's, is one
    # the user's context may not give: it would stand beside or over the true one.
    for key in doc["context"]:
        refused = subprocess.run([BINARY, "--benchmark_context=%s=x" % key, "--benchmark_list_tests"],
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and refused.stderr == (
            "concbench: --benchmark_context: '%s' is a key the record keeps for itself (its machine, build or "
            "run); use another\n" % key), (key, refused.stderr)


@needs_binary
def test_a_bad_context_in_the_environment_is_refused_not_dropped():
    # Google Benchmark drops all of $BENCHMARK_CONTEXT for one bad item, saying so on a line of its
    # own before main: the run would go on without the user's pairs. It ends, with the reason.
    env = dict(os.environ, BENCHMARK_CONTEXT="site=lab,")
    proc = subprocess.run([BINARY, "--benchmark_list_tests"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout
    assert proc.stderr.splitlines()[-1] == (
        "concbench: BENCHMARK_CONTEXT: '' is not key=value (a comma-separated list of them, one '=' each)"), proc.stderr


def test_each_model_has_a_process_of_its_own_open_loop_ones_too():
    # ./bench: a sum model's two kernels apart; ab.py: by model, as its calibration ran.
    for name, process, model in (("sum/tbb/range/workers:2/n:1000/process_time/real_time", "sum/tbb/range", "sum/tbb"),
                                 ("sum/tbb/array/workers:1/n:1000/process_time/real_time", "sum/tbb/array", "sum/tbb"),
                                 ("fetch/coro/conc:10/n:40/delay_ms:0", "fetch/coro", "fetch/coro"),
                                 ("fetch/open/coro/rate:1000/conc:1000/n:500", "fetch/open/coro", "fetch/open/coro"),
                                 ("peak/read_bw/workers:1/bytes:8", "peak/read_bw", "peak/read_bw")):
        assert (run_isolated.process_of(name), run_isolated.model_of(name)) == (process, model), name
    # the processes that need the fixture server: the fetch models, wrk and the client floor
    for name, fixture in (("fetch/coro", True), ("fetch/open/coro", True), ("peak/wrk", True),
                          ("peak/raw_http", True), ("peak/read_bw", False), ("sum/tbb", False)):
        assert run_isolated.uses_fixture(name) == fixture, name


@needs_binary
def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
    # A flag given as its variable reaches the processes as a flag: the error still says so, and
    # only then (a flag typed over its variable is the flag's).
    for args, env, text in (
            (["--benchmark_filter=^no/such/"], {}, "no benchmark matches --benchmark_filter=^no/such/ "
             "(--benchmark_list_tests lists them)"),
            ([], {"BENCHMARK_FILTER": "^no/such/"}, "no benchmark matches --benchmark_filter=^no/such/ "
             "(--benchmark_list_tests lists them) (given as $BENCHMARK_FILTER)"),
            (["--benchmark_filter=^no/such/"], {"BENCHMARK_FILTER": "^sum/"}, "no benchmark matches "
             "--benchmark_filter=^no/such/ (--benchmark_list_tests lists them)"),
            ([], {"BENCHMARK_FORMAT": "bogus"}, "--benchmark_format=bogus: unknown output format (console, json or "
             "csv) (given as $BENCHMARK_FORMAT)"),
            (["--workers=0"], {}, "--workers: '0' is not a whole number in 1..1024")):
        proc, out = isolated(tmp_path, args, dict(os.environ, **env))
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == "concbench: %s\n" % text, proc.stderr
        assert not out.exists()
        assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]


@needs_binary
def test_a_filter_that_backtracks_without_end_is_one_line_and_leaves_no_record(tmp_path):
    # std::regex took over 20 s for (.*)*zz and would have gone on; the binary gives up after 5 s,
    # removing the temporary record it had made for --benchmark_out.
    out = tmp_path / "run.json"
    proc = subprocess.run([BINARY, "--benchmark_filter=(.*)*zz", "--benchmark_out=%s" % out], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "--benchmark_filter=(.*)*zz: still matching after 5 s" in proc.stderr
    assert os.listdir(tmp_path) == []


def test_bench_refuses_its_own_bad_arguments_before_it_installs_or_builds(tmp_path):
    # --benchmark_out_format=csv was refused only after scripts/install_deps.sh and the build.
    # A PATH without cmake, apt-get or Python shows that neither was reached.
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "dirname", "mktemp", "rm", "realpath"):
        os.symlink(shutil.which(tool), tools / tool)
    os.symlink(tmp_path / "missing.json", tmp_path / "dangling.json")
    os.symlink("/proc/version", tmp_path / "proc.json")  # a regular file where no file can be made
    # Google Benchmark's variables for them are read as those flags, as the binary reads them,
    # and so is a flag given twice: the last counts (--benchmark_out= is checked after the format,
    # and its file's directory after that, as the binary would, but before the build).
    for args, env, text in (
            (["--benchmark_out_format=csv"], {}, "./bench writes JSON records only (not --benchmark_out_format=csv)"),
            ([], {"BENCHMARK_OUT_FORMAT": "csv"},
             "./bench writes JSON records only (not --benchmark_out_format=csv) (given as $BENCHMARK_OUT_FORMAT)"),
            (["--benchmark_out_format=json", "--benchmark_out_format=csv"], {},
             "./bench writes JSON records only (not --benchmark_out_format=csv)"),
            (["--benchmark_out_format=csv", "--benchmark_out_format=json", "--benchmark_out="], {},
             "--benchmark_out= needs a file name"),
            (["--benchmark_out_format=json", "--benchmark_out="], {"BENCHMARK_OUT_FORMAT": "csv"},
             "--benchmark_out= needs a file name"),
            (["--benchmark_out=", "--benchmark_out=/nonexistent/x.json"], {},
             "--benchmark_out=/nonexistent/x.json: no directory /nonexistent"),
            ([], {"BENCHMARK_OUT": "/nonexistent/x.json"},
             "--benchmark_out=/nonexistent/x.json: no directory /nonexistent (given as $BENCHMARK_OUT)"),
            # relative to where ./bench was run, not to the checkout, which has a results/
            (["--benchmark_out=results/x.json"], {}, "--benchmark_out=results/x.json: no directory results"),
            # found by run_isolated.py only after the build, under the absolute path and without its variable
            ([], {"BENCHMARK_OUT": "/proc/x.json"}, "--benchmark_out=/proc/x.json: cannot create a file in /proc"
             " (No such file or directory) (given as $BENCHMARK_OUT)"),
            (["--benchmark_out=/dev/null"], {}, "--benchmark_out=/dev/null: it exists and is not a regular file"),
            (["--benchmark_out=dangling.json"], {}, "--benchmark_out=dangling.json: a symbolic link to a missing file"),
            (["--benchmark_out=proc.json"], {},
             "--benchmark_out=proc.json: cannot create a file in /proc (No such file or directory)"),
            (["--python", "--benchmark_out="], {}, "--benchmark_out= needs a file name"),
            (["--benchmark_out="], {"BENCHMARK_OUT": "x.json"}, "--benchmark_out= needs a file name")):
        proc = subprocess.run([os.path.join(REPO, "bench"), *args], capture_output=True, text=True, timeout=30,
                              env={"PATH": str(tools), "HOME": str(tmp_path), **env}, cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr == "concbench: " + text + "\n", proc.stderr
    # A good FILE passes on to the install, which finds no apt-get; the file made to see that one
    # can be made beside it is gone.
    proc = subprocess.run([os.path.join(REPO, "bench"), "--benchmark_out=x.json"], capture_output=True,
                          text=True, timeout=30, env={"PATH": str(tools), "HOME": str(tmp_path)}, cwd=tmp_path)
    assert proc.returncode == 1 and "there is no apt-get" in proc.stderr, proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["bin", "dangling.json", "proc.json"]


def bench_checkout(tmp_path, cmake="exit 0", configured=True):
    """A copy of ./bench in a checkout whose install, cmake, binary and run_isolated.py only say
    how they were called (cmake: that shell text); returns ./bench and the PATH of its tools."""
    root = tmp_path / "checkout"
    binary = root / "build" / "release" / "benchmarks" / "concbench"
    binary.parent.mkdir(parents=True)
    (root / "build" / "release" / "CMakeCache.txt").write_text("")
    if configured:
        (root / "build" / "release" / "Makefile").write_text("")
    (root / "scripts").mkdir()
    shutil.copy(os.path.join(REPO, "bench"), root / "bench")
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "dirname", "nproc", "mkdir", "sh"):
        os.symlink(shutil.which(tool), tools / tool)
    for path, text in ((root / "scripts" / "install_deps.sh", "exit 0"), (tools / "cmake", cmake),
                       (binary, 'echo "listed: $* [${BENCHMARK_LIST_TESTS-unset}]"'),
                       (root / "scripts" / "run_isolated.py", 'echo "ran"')):
        path.write_text("#!/bin/sh\n%s\n" % text)
        path.chmod(0o755)
    return root / "bench", str(tools)


def test_bench_lists_with_the_listing_flag_as_given(tmp_path):
    # A listing gets its flag as given, for the binary to check (=maybe was read as true and
    # sent as a bare flag), or its variable as that variable (so the binary's error names it);
    # a false word in any case is a run, as the binary reads it (fALSE listed).
    bench, tools = bench_checkout(tmp_path)
    for args, env, said in ((["--benchmark_list_tests=maybe"], {}, "listed: --benchmark_list_tests=maybe [unset]"),
                            ([], {"BENCHMARK_LIST_TESTS": "maybe"}, "listed:  [maybe]"),
                            ([], {"BENCHMARK_LIST_TESTS": ""}, "listed:  []"),
                            (["--benchmark_list_tests", "--quick"], {}, "listed: --quick --benchmark_list_tests [unset]"),
                            (["--benchmark_list_tests=fALSE"], {}, "ran"),
                            (["--benchmark_list_tests", "--benchmark_list_tests=Off"], {}, "ran"),
                            ([], {"BENCHMARK_LIST_TESTS": "No"}, "ran")):
        proc = subprocess.run([str(bench), *args], capture_output=True, text=True, timeout=30,
                              env={"PATH": tools, "HOME": str(tmp_path), **env}, cwd=tmp_path)
        assert proc.returncode == 0 and proc.stdout == said + "\n", (args, env, proc.stdout, proc.stderr)


@pytest.mark.parametrize("configured", [True, False])
def test_bench_configures_until_a_configure_has_succeeded(tmp_path, configured):
    # A configure that fails (a package missing then) leaves CMakeCache.txt but no Makefile:
    # ./bench took the cache for a configured build and failed every build after it.
    log = tmp_path / "cmake.log"
    bench, tools = bench_checkout(tmp_path, 'echo "$*" >> %s' % log, configured)
    proc = subprocess.run([str(bench), "--benchmark_list_tests"], capture_output=True, text=True, timeout=30,
                          env={"PATH": tools, "HOME": str(tmp_path)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text().splitlines()
    assert [c.split()[0] for c in calls] == ([] if configured else ["--preset"]) + ["--build"], calls
    # and a configure that fails says so and stops
    bench, tools = bench_checkout(tmp_path / "failing", 'case "$1" in --preset) exit 1;; esac', configured=False)
    proc = subprocess.run([str(bench), "--benchmark_list_tests"], capture_output=True, text=True, timeout=30,
                          env={"PATH": tools, "HOME": str(tmp_path)}, cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.splitlines()[-1] == (
        "concbench: configuring build/release failed (cmake's errors are above)"), proc.stderr


@needs_binary
def test_a_reader_that_stops_reading_ends_the_run_and_writes_no_record(tmp_path):
    # `./bench | head -1`: every later process died of SIGPIPE, and their errors went into a
    # record that ./bench kept in the history as the commit's run.
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as closed:
        proc = subprocess.run([sys.executable, RUN, "--out", str(tmp_path / "run.json"), BINARY, *TINY,
                               "--benchmark_filter=^sum/(seq|pool|tbb)/range/workers:(1|2)/n:1000/"],
                              stdout=closed, stderr=subprocess.PIPE, text=True, timeout=300)
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr and "process 2 of 3" not in proc.stderr, proc.stderr
    assert os.listdir(tmp_path) == []


@needs_binary
def test_json_format_prints_the_merged_record(tmp_path):
    args = ["--benchmark_filter=^sum/(seq|pool)/range/workers:(1|2)/n:1000/", *TINY,
            "--benchmark_format=json"]
    proc, out = isolated(tmp_path, args)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(out.read_text())


@needs_binary
def test_csv_format_prints_each_round_under_one_header_without_aggregates(tmp_path):
    # The processes print different counters (bare_s only at the worker sweep's n, peak's its
    # own): under the first process's header the others' rows sat under other counters' names,
    # and the binary's own CSV reporter aborted at a counter its first benchmark lacked.
    args = ["--benchmark_filter=^sum/(seq|pool)/range/workers:(1|2)/n:(1000|10000000)/|^peak/vector_add/",
            "--sizes=1000", "--scaling_n=1e7", "--benchmark_min_time=0.01", "--benchmark_repetitions=2",
            "--benchmark_format=csv"]
    proc, out = isolated(tmp_path, args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("name,iterations,real_time,"), proc.stdout
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    # One row a benchmark a round, as its process printed it; the aggregates are in the record,
    # and every cell under the counter its process named.
    runs = iterations(json.loads(out.read_text()))
    assert len(runs) == 14 and sorted(r["name"] for r in rows) == sorted(b["name"] for b in runs), proc.stdout
    for name in {b["name"] for b in runs}:
        for counter in ("workers", "bare_cpus", "adds_per_second", "lanes"):
            printed = sorted(float(r[counter]) for r in rows if r["name"] == name and r[counter] != "")
            recorded = sorted(b[counter] for b in runs if b["name"] == name and counter in b)
            assert printed == pytest.approx(recorded, rel=1e-5), (name, counter, printed, recorded)


def test_csv_keeps_what_a_process_stopped_for_its_time_had_finished(tmp_path):
    # Each process's own CSV went to stdout: one stopped for its time printed nothing of what it
    # finished, which the record keeps. The CSV is the record's.
    env = dict(os.environ, FAKE_NAMES="w/a/n:1,w/a/n:2", FAKE_STALL="w/a", CONCBENCH_PROCESS_TIMEOUT="2")
    proc = subprocess.run([sys.executable, RUN, "--out", str(tmp_path / "run.json"), FAKE, *ONE_ROUND,
                           "--benchmark_format=csv"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1, proc.stderr
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(proc.stdout))}
    assert rows["w/a/n:1/real_time"]["error_occurred"] == "" and float(rows["w/a/n:1/real_time"]["real_time"]) > 0
    assert rows["w/a/n:2/real_time"]["error_occurred"] == "true", rows
    assert "did not finish in 2 s" in rows["w/a/n:2/real_time"]["error_message"], rows


def test_a_failing_process_is_reported_and_the_run_goes_on(tmp_path):
    log = tmp_path / "log"
    env = dict(os.environ, FAKE_LOG=str(log), FAKE_CRASH="w/b/",
               FAKE_NAMES="w/a/n:1,w/a/n:2,w/b/n:1,w/b/n:2,w/c/n:1")
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), FAKE, *ONE_ROUND], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 1
    assert "the process of w/b was killed by SIGKILL; the run goes on" in proc.stderr
    assert "1 of 3 processes failed" in proc.stderr.splitlines()[-1]
    doc = json.loads(out.read_text())
    by_name = {b["name"]: b for b in doc["benchmarks"]}
    # What the killed process finished is kept; what it did not is an error saying why.
    assert not by_name["w/b/n:1/real_time"].get("error_occurred")
    assert by_name["w/b/n:2/real_time"]["error_occurred"]
    assert "killed by SIGKILL" in by_name["w/b/n:2/real_time"]["error_message"]
    # The model after it still ran, in a process of its own.
    assert not by_name["w/c/n:1/real_time"].get("error_occurred")
    runs = [r for r in log.read_text().splitlines() if "--benchmark_out=" in r]
    assert len(runs) == 3 and all("--progress=" in r for r in runs)
    assert [r.split("--progress=")[1].split()[0] for r in runs] == ["1/5", "3/5", "5/5"]


@needs_binary
def test_a_partial_run_renders_beside_its_history_never_over_the_results_page(tmp_path):
    page = os.path.join(REPO, "results", "README.md")
    before = open(page, "rb").read() if os.path.exists(page) else None
    (tmp_path / "history").mkdir()
    proc = subprocess.run([sys.executable, RUN, "--history", str(tmp_path / "history"), "--render", BINARY,
                           "--benchmark_filter=^peak/vector_add/workers:1/", *TINY],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert [p.name.endswith("-partial.json") for p in (tmp_path / "history").iterdir()] == [True]
    assert "a partial run: results/ stays as it is" in proc.stderr
    assert "measured peak: vector adds, 1 thread" in (tmp_path / "partial" / "README.md").read_text(encoding="utf-8")
    assert (open(page, "rb").read() if os.path.exists(page) else None) == before


@pytest.mark.parametrize("args,suffix,why", [
    ([], "", None),
    (["--benchmark_repetitions=3", "--benchmark_format=json", "--benchmark_filter=."], "", None),
    (["--benchmark_min_time=0.1", "--benchmark_display_aggregates_only=true"], "", None),  # the defaults; display
    (["--benchmark_filter=pool"], "-partial", "not every benchmark"),
    # every benchmark, measured otherwise: it used to be recorded as the commit's full run
    (["--benchmark_min_time=0.01"], "-partial", "--benchmark_min_time=0.01 changes how the suite measures"),
    (["--benchmark_repetitions=1"], "-partial", "--benchmark_repetitions=1 changes how the suite measures"),
    (["--quick"], "-quick", None)])
def test_only_the_suite_as_it_runs_by_default_is_a_full_run(tmp_path, args, suffix, why):
    (tmp_path / "history").mkdir()
    proc = subprocess.run([sys.executable, RUN, "--history", str(tmp_path / "history"), FAKE, *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    [name] = [p.name for p in (tmp_path / "history").iterdir()]
    assert name.endswith("-%s%s.json" % (socket.gethostname().split(".")[0], suffix)), name
    assert (why is not None) == ("a partial run (" in proc.stderr), proc.stderr
    assert why is None or "a partial run (%s)" % why in proc.stderr


def test_a_process_that_fails_gives_its_own_reason_on_the_console_too(tmp_path):
    # The binary ends an error with its reason. Under ./bench, on the console, it went by on the
    # terminal, and the failure line and the record's errors said only "exited with status 2".
    copy = tmp_path / "bin" / "concbench"
    copy.parent.mkdir()
    shutil.copy(FAKE, copy)
    (copy.parent / "exit").write_text("w/b")
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), str(copy), *ONE_ROUND], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, FAKE_NAMES="w/a/n:1,w/b/n:1"))
    assert proc.returncode == 1, proc.stderr
    reason = "concbench: stopped before writing (a stand-in's exit file)"
    failure = "the process of w/b exited with status 2 (%s)" % reason
    assert reason + "\n" in proc.stderr and failure + "; the run goes on" in proc.stderr, proc.stderr
    lost = [b for b in json.loads(out.read_text())["benchmarks"] if b["name"] == "w/b/n:1/real_time"]
    assert lost[0]["error_message"] == failure + " before this benchmark finished", lost


def test_a_second_run_begun_in_the_same_second_keeps_the_first_ones_record(tmp_path):
    # A record is named by the second its run began: two runs of one commit on one host begun in
    # one second (two shells' ./bench) took one name, and the second replaced the first's record.
    # The stand-in's context gives every run one date, as runs begun in one second have.
    history = tmp_path / "history"
    history.mkdir()
    for _ in range(3):
        proc = subprocess.run([sys.executable, RUN, "--history", str(history), FAKE, *ONE_ROUND],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in history.iterdir())
    assert [n[:16] for n in names] == ["20261130T000000Z", "20261130T000001Z", "20261130T000002Z"], names


@pytest.mark.parametrize("links", [True, False])
def test_a_record_written_exclusively_never_replaces_a_file(tmp_path, monkeypatch, links):
    # Where the file system has no hard links (vfat, some network mounts) the link that keeps
    # a name from being taken twice fails otherwise than on a taken name: the name is made instead.
    if not links:
        monkeypatch.setattr(os, "link", lambda *_: (_ for _ in ()).throw(PermissionError(1, "Operation not permitted")))
    path = tmp_path / "r.json"
    run_isolated.write_json({"n": 1}, str(path), exclusive=True)
    with pytest.raises(FileExistsError):
        run_isolated.write_json({"n": 2}, str(path), exclusive=True)
    assert json.loads(path.read_text()) == {"n": 1} and os.listdir(tmp_path) == ["r.json"]


@pytest.mark.parametrize("env,code,why", [
    ({"FAKE_CRASH": "sum/pool"}, 1, "3 processes failed"),  # killed after its one result, each round
    # Errors the processes reported and outlived (each exits 3, as the binary does then): the run
    # measured less than it was asked to, and says so as a failed process does.
    ({"FAKE_ERROR": "sum/"}, 1, "3 benchmarks erred"),
])
def test_a_run_in_which_benchmarks_erred_is_never_the_commits_full_run(tmp_path, env, code, why):
    # It used to be named and rendered as the commit's full run: it replaced results/ and stood
    # for its commit in compare.py and history.py with the erred benchmarks missing. Rendered, as
    # ./bench renders it: what failed is still the last line, after plot.py's.
    (tmp_path / "history").mkdir()
    proc = subprocess.run([sys.executable, RUN, "--history", str(tmp_path / "history"), "--render", FAKE],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, **env))
    assert proc.returncode == code, proc.stderr
    [name] = [p.name for p in (tmp_path / "history").iterdir()]
    assert name.endswith("-partial.json"), name
    assert "a partial run (%s)" % why in proc.stderr, proc.stderr
    if "FAKE_ERROR" in env:  # and the last line names them
        assert proc.stderr.splitlines()[-1] == (
            "concbench: 3 benchmarks of 4 erred: sum/pool/range/workers:2/n:1000/real_time, "
            "sum/seq/range/workers:1/n:1000/real_time, sum/tbb/range/workers:2/n:1000/real_time"), proc.stderr
    else:
        assert proc.stderr.splitlines()[-1].startswith("concbench: 3 of 12 processes failed: "), proc.stderr
    assert (tmp_path / "partial" / "README.md").exists()


def test_a_machine_setting_that_changed_during_the_run_is_said_and_marks_it_unstable(tmp_path):
    # The record kept the first process's settings as if they held for the whole run.
    shutil.copy(FAKE, tmp_path / "concbench")
    (tmp_path / "context").write_text(json.dumps({"cpu_boost": "1", "cpu_governor": "performance"}))
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), str(tmp_path / "concbench"), *ONE_ROUND],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, FAKE_CONTEXT='sum/tbb:{"cpu_boost": "0"}'))
    assert proc.returncode == 0, proc.stderr
    context = json.loads(out.read_text())["context"]
    assert context["concbench_settings_changed"] == "cpu_boost: 1, 0"  # the governor held
    assert "machine settings changed during the run (cpu_boost: 1, 0)" in context["environment_unstable"]
    assert "machine settings changed during the run (cpu_boost: 1, 0)" in proc.stderr


def test_a_run_with_a_test_hook_is_never_the_commits_full_run(tmp_path):
    # A hook (CONCBENCH_TEST_SLOWDOWN, _SHORT_BODY, ...) changes what is measured; the binary says
    # so in the context, and the record must not stand for its commit.
    (tmp_path / "history").mkdir()
    proc = subprocess.run([sys.executable, RUN, "--history", str(tmp_path / "history"), FAKE], capture_output=True,
                          text=True, timeout=120,
                          env=dict(os.environ, FAKE_CONTEXT=json.dumps({"concbench_test_slowdown": "pool 10%"})))
    assert proc.returncode == 0, proc.stderr
    [name] = [p.name for p in (tmp_path / "history").iterdir()]
    assert name.endswith("-partial.json"), name
    assert "a partial run (the test hook CONCBENCH_TEST_SLOWDOWN is set)" in proc.stderr


def test_record_names_carry_the_scope(tmp_path):
    import records
    context = {"date": "2026-11-30T23:41:17+01:00", "host_name": "vm.example",
               "concbench_commit": "7131bae36091c5f8dab844f0cf58e6adaeb1ff3a", "concbench_dirty": "false"}
    assert records.record_name(context, records.FULL) == "20261130T224117Z-7131bae36091-vm.json"
    assert records.record_name(dict(context, concbench_dirty="true"), records.QUICK) == \
        "20261130T224117Z-7131bae36091-dirty-vm-quick.json"
    rec = records.record_from_context("x/20261130T224117Z-7131bae36091-vm-partial.json",
                                      dict(context, concbench_scope="partial"))
    assert rec.scope == records.PARTIAL


def test_an_output_or_binary_that_cannot_serve_is_refused_before_anything_runs(tmp_path):
    log = tmp_path / "log"
    for where, binary, text in (
            (["--out", tmp_path / "no" / "run.json"], FAKE, "cannot write %s: %s does not exist"
             % (tmp_path / "no" / "run.json", tmp_path / "no")),
            (["--out", tmp_path], FAKE, "cannot write %s: it is a directory" % tmp_path),
            (["--history", tmp_path / "no"], FAKE, "cannot write %s: it does not exist" % (tmp_path / "no")),
            (["--history", FAKE], FAKE, "cannot write %s: it is not a directory" % FAKE),
            (["--out", tmp_path / "run.json"], tmp_path / "missing", "%s is not an executable file"
             % (tmp_path / "missing")),
            (["--out", ""], FAKE, "an empty output path"),  # was found after the run
            # was found when the first fetch model came, after the sum models had run
            (["--out", tmp_path / "run.json", "--fixture", tmp_path / "nofixture"], FAKE,
             "the fixture server %s is not an executable file" % (tmp_path / "nofixture"))):
        proc = subprocess.run([sys.executable, RUN, *map(str, where), str(binary)], capture_output=True,
                              text=True, env=dict(os.environ, FAKE_LOG=str(log)), timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == "concbench: %s\n" % text
    assert not log.exists() and os.listdir(tmp_path) == []  # the binary never ran, not even to list
    # --python needs the fixture server this script starts: refused before the run, not after it
    for where, args in ((["--history", tmp_path, "--python"], []),
                        (["--history", tmp_path, "--python", "--fixture", FAKE], ["--fixture_url=http://127.0.0.1:9"])):
        proc = subprocess.run([sys.executable, RUN, *map(str, where), FAKE, *args], capture_output=True, text=True,
                              env=dict(os.environ, FAKE_LOG=str(log)), timeout=60)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert "--python runs the seed against the fixture server this script starts" in proc.stderr
    assert not log.exists() and os.listdir(tmp_path) == []


def test_what_cannot_finish_after_the_record_is_said_and_the_page_still_rendered(tmp_path, monkeypatch, capsys):
    # The Python reference failing left the C++ page unrendered, with no line saying so, and a
    # child's own status (plot.py's 2, "bad input") became ./bench's.
    hist = tmp_path / "history"
    hist.mkdir()
    rendered = []
    ran = []  # the scripts run_child ran: python_reference.py fails
    monkeypatch.setattr(run_isolated, "run_child", lambda cmd: ran.append(os.path.basename(cmd[0])) or 1)
    monkeypatch.setattr(run_isolated, "render_page", lambda out, python_out, *_: rendered.append(python_out) or 0)
    monkeypatch.setenv("FAKE_NAMES", "w/a/n:1")
    fixture = tmp_path / "fixture"  # a stand-in that says its port and stays until it is stopped
    fixture.write_text("#!/bin/sh\necho PORT 9\nexec sleep 60\n")
    fixture.chmod(0o755)
    argv = ["--history", str(hist), "--python", "--render", "--fixture", str(fixture), FAKE, *ONE_ROUND]
    assert run_isolated.main(argv) == 3
    assert ran == ["python_reference.py"] and rendered == [None]  # the C++ page, without the Python columns
    assert "concbench: the Python reference exited with status 1" in capsys.readouterr().err.splitlines()
    # Nor when the fixture server, needed only by the Python reference here, cannot start.
    fixture.write_text("#!/bin/sh\necho nope\n")
    assert run_isolated.main(argv) == 3 and rendered == [None, None]
    assert "concbench: the Python reference did not run: the fixture server did not start (it printed 'nope')" \
        in capsys.readouterr().err.splitlines()
    # plot.py's 2 says the record held nothing it could show, which failed processes leave: the
    # run failed (1), and the line says how many; any other status of plot.py is 3.
    monkeypatch.setattr(run_isolated, "run_python_reference", lambda *_: None)
    monkeypatch.setattr(run_isolated, "render_page", lambda *_: 2)
    monkeypatch.setenv("FAKE_ERROR", "w/a")
    monkeypatch.setenv("FAKE_CRASH", "w/a")
    assert run_isolated.main(argv) == 1
    err = capsys.readouterr().err
    assert "1 of 1 process failed" in err and "rendering" in err and "exited with status 2" in err, err
    monkeypatch.delenv("FAKE_ERROR")
    monkeypatch.delenv("FAKE_CRASH")
    monkeypatch.setattr(run_isolated, "render_page", lambda *_: 5)
    assert run_isolated.main(argv) == 3
    assert "failed (exited with status 5)" in capsys.readouterr().err.splitlines()[-1]


def test_a_fixture_that_cannot_start_fails_the_models_that_need_it_and_the_run_goes_on(tmp_path, monkeypatch,
                                                                                       capsys):
    # It ended the whole run with nothing recorded, the sum models that had run included; one
    # that never said its port hung the run.
    monkeypatch.setattr(run_isolated, "FIXTURE_START_SECONDS", 0.5)
    monkeypatch.setenv("FAKE_NAMES", "sum/seq/n:1,fetch/seq/n:1,fetch/pool/n:1")
    for script, said in (("#!/bin/sh\necho nope", "did not start (it printed 'nope')"),
                         ("#!/bin/sh\nsleep 30", "said no port within"),
                         ("#!/bin/sh\nprintf 'PORT 1'; sleep 30", "said no port within"),  # half a line
                         ("#!/nonexistent/sh", "cannot run: No such file or directory")):
        fixture = tmp_path / "fixture"
        fixture.write_text(script + "\n")
        fixture.chmod(0o755)
        out = tmp_path / "run.json"
        assert run_isolated.main(["--out", str(out), "--fixture", str(fixture), FAKE, *ONE_ROUND]) == 1
        err = capsys.readouterr().err
        assert "2 of 3 processes failed" in err.splitlines()[-1], err
        runs = {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}
        assert not runs["sum/seq/n:1/real_time"].get("error_occurred")
        for name in ("fetch/seq/n:1/real_time", "fetch/pool/n:1/real_time"):
            assert said in runs[name]["error_message"], runs[name]
    # with no process run at all there is nothing to record
    monkeypatch.setenv("FAKE_NAMES", "fetch/seq/n:1")
    out = tmp_path / "none.json"
    assert run_isolated.main(["--out", str(out), "--fixture", str(fixture), FAKE, *ONE_ROUND]) == 1
    assert "no benchmark process ran: the process of fetch/seq did not run" in capsys.readouterr().err
    assert not out.exists()


def test_a_listing_that_is_not_benchmark_names_is_refused(tmp_path):
    # Google Benchmark answers a flag value it does not know with its usage and exit 0; the
    # usage's words ran as 17 processes and left a record of errors in the history.
    usage = tmp_path / "usage"
    usage.write_text("#!/bin/sh\necho 'benchmark [--benchmark_list_tests={true|false}]'\n"
                     "echo '          [--benchmark_filter=<regex>]'\n")
    usage.chmod(0o755)
    proc = subprocess.run([sys.executable, RUN, "--out", str(tmp_path / "run.json"), str(usage),
                           "--benchmark_time_unit=sec"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "does not list benchmark names" in proc.stderr and not (tmp_path / "run.json").exists()


def test_a_process_that_hangs_is_stopped_and_the_run_goes_on(tmp_path):
    # ./bench waited for a hung process without end (and, with JSON on stdout, for a process it
    # started that held the pipe): now it is stopped after CONCBENCH_PROCESS_TIMEOUT seconds,
    # its benchmarks are errors saying so, and the others are recorded.
    out = tmp_path / "run.json"
    env = dict(os.environ, FAKE_NAMES="w/a/n:1,w/b/n:1", FAKE_HANG="child:w/b", CONCBENCH_PROCESS_TIMEOUT="2")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), FAKE, *ONE_ROUND, "--benchmark_format=json"],
                          capture_output=True, text=True, env=env, timeout=50)
    assert time.monotonic() - started < 40
    assert proc.returncode == 1, proc.stderr
    assert "the process of w/b did not finish in 2 s, and was stopped; the run goes on" in proc.stderr
    entries = {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}
    assert not entries["w/a/n:1/real_time"].get("error_occurred")
    assert "did not finish in 2 s" in entries["w/b/n:1/real_time"]["error_message"]


def test_a_process_stopped_for_its_time_on_the_console_takes_what_it_started_with_it(tmp_path):
    # On the console a process stays in ./bench's process group (the terminal's keys reach it):
    # stopped, its workers, wrk and MPI ranks outlived it. The run is a session of its own
    # here, so whatever is left of it is found.
    env = dict(os.environ, FAKE_NAMES="w/a/n:1,w/b/n:1", FAKE_HANG="child:w/b", CONCBENCH_PROCESS_TIMEOUT="2")
    proc = subprocess.Popen([sys.executable, RUN, "--out", str(tmp_path / "run.json"), FAKE, *ONE_ROUND], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    said = proc.communicate(timeout=50)[1]
    assert proc.returncode == 1 and "the process of w/b did not finish in 2 s" in said, said
    left = [p for p in os.listdir("/proc") if p.isdigit() and _alive_in_session(int(p), proc.pid)]
    assert left == [], "left running: %s" % [open("/proc/%s/cmdline" % p).read() for p in left]


def _alive_in_session(pid, sid):
    """Whether pid runs (a zombie does not: init reaps it) in session sid; any may end meanwhile."""
    try:
        in_session = os.getsid(pid) == sid
    except OSError:
        return False
    stat = run_isolated.process_stat(pid)
    return in_session and stat is not None and stat[0] != "Z"


def process_state(pid):
    return (run_isolated.process_stat(pid) or ("gone",))[0]


@contextlib.contextmanager
def stopped_by_ctrl_z(tmp_path, fmt):
    """(./bench's stand-in, its benchmark process), both stopped as Ctrl-Z stops a job: the
    benchmark process (the stand-in binary) has 3 s of work and a timeout of 4 s, and logs a
    SIGTERM that ends it to tmp_path/log."""
    env = dict(os.environ, FAKE_NAMES="w/a/n:1", FAKE_HANG="w/a", FAKE_HANG_SECONDS="3",
               CONCBENCH_PROCESS_TIMEOUT="4", FAKE_LOG=str(tmp_path / "log"))
    proc = subprocess.Popen([sys.executable, RUN, "--out", str(tmp_path / "run.json"), FAKE, *ONE_ROUND,
                             "--benchmark_format=" + fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            # A job of this session, as a shell starts one: a group of a session
                            # of its own, which no terminal could stop, would not stop on SIGTSTP.
                            text=True, env=env, preexec_fn=os.setpgrp)

    def running_benchmark():
        for pid in run_isolated.descendants(proc.pid):
            with contextlib.suppress(OSError), open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"--benchmark_out=" in f.read():
                    return pid
        return None
    log = tmp_path / "log"
    try:
        deadline, child = time.monotonic() + 20, None
        while child is None and time.monotonic() < deadline:
            time.sleep(0.05)
            # Once its work has begun (its log line), not while a wrapper (pyenv's) starts it.
            if log.exists() and "--benchmark_out=" in log.read_text():
                child = running_benchmark()
        if child is None:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("no benchmark process started: %s" % (proc.communicate()[1],))
        os.killpg(proc.pid, signal.SIGTSTP)  # as the terminal sends it to its foreground group
        deadline = time.monotonic() + 5
        while (process_state(proc.pid), process_state(child)) != ("T", "T") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (process_state(proc.pid), process_state(child)) == ("T", "T")
        yield proc, child
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_ctrl_z_stops_the_benchmark_process_too_and_the_time_stopped_is_not_its_time(tmp_path, fmt):
    # Its output to a pipe, the process runs in a session of its own, which the terminal's Ctrl-Z
    # does not reach: it ran on while ./bench was stopped. Either way, a process stopped for
    # longer than its timeout was killed as hung once resumed.
    with stopped_by_ctrl_z(tmp_path, fmt) as (proc, child):
        time.sleep(5)  # past the process's timeout, and its 3 s of work
        assert process_state(child) == "T"
        os.killpg(proc.pid, signal.SIGCONT)  # as fg does
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "did not finish" not in err, err
    # The process's real time ran on while it was stopped: the run says its numbers cannot be trusted.
    unstable = json.loads((tmp_path / "run.json").read_text())["context"]["environment_unstable"]
    stopped = re.search(r"it was stopped \(Ctrl-Z\) for ([0-9.]+) s while a benchmark process ran, which the "
                        r"repetition then timed counted", unstable)
    assert stopped and float(stopped.group(1)) >= 4.5, unstable


def test_a_job_killed_while_stopped_by_ctrl_z_takes_its_benchmark_process_with_it(tmp_path):
    # kill %N: SIGTERM, then SIGCONT, to the job's group, which the benchmark process in a session
    # of its own is not in: stopped, it would never act on the SIGTERM this script sends it.
    with stopped_by_ctrl_z(tmp_path, "json") as (proc, child):
        os.killpg(proc.pid, signal.SIGTERM)
        os.killpg(proc.pid, signal.SIGCONT)
        _, err = proc.communicate(timeout=60)
        deadline = time.monotonic() + 10
        while process_state(child) != "gone" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_state(child) == "gone", err
    # Ended by the SIGTERM, as a process that is not stopped is: SIGKILL 5 s later ended it before.
    assert proc.returncode == 143 and "SIGTERM" in (tmp_path / "log").read_text().split("\n"), err


def test_a_process_stopped_for_its_time_keeps_the_benchmarks_it_finished(tmp_path):
    # SIGTERM makes the binary remove its record's temporary file: the benchmarks it had
    # finished were lost with the one that hung.
    out = tmp_path / "run.json"
    env = dict(os.environ, FAKE_NAMES="w/a/n:1,w/a/n:2", FAKE_STALL="w/a", CONCBENCH_PROCESS_TIMEOUT="2")
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), FAKE, *ONE_ROUND], capture_output=True,
                          text=True, env=env, timeout=50)
    assert proc.returncode == 1, proc.stderr
    assert "the process of w/a did not finish in 2 s, and was stopped" in proc.stderr
    entries = {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}
    assert not entries["w/a/n:1/real_time"].get("error_occurred"), entries
    assert "did not finish in 2 s" in entries["w/a/n:2/real_time"]["error_message"]


def wrapped_run(tmp_path, when, action, names="w/a/n:1,w/b/n:1"):
    """run_isolated.py over a stand-in binary that does ACTION (sh, $0 its own path) whenever its
    arguments match WHEN (a case pattern), then runs the fake: (the process, binary, record path)."""
    binary = tmp_path / "concbench"
    binary.write_text('#!/bin/sh\ncase "$*" in %s) %s ;; esac\nexec %s %s "$@"\n' % (when, action, sys.executable, FAKE))
    binary.chmod(0o755)
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), str(binary), *ONE_ROUND],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, FAKE_NAMES=names))
    return proc, binary, out


def test_a_binary_gone_during_the_run_fails_its_processes_and_the_run_is_recorded(tmp_path):
    # A second ./bench rebuilt (or rm -rf build removed) the binary mid-run: the next process
    # could not start, which ended the run with a traceback and lost every process measured.
    proc, binary, out = wrapped_run(tmp_path, "*--benchmark_out=*", 'rm -f "$0"')
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "the process of w/b could not start (%s: No such file or directory); the run goes on" % binary in proc.stderr
    entries = {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}
    assert not entries["w/a/n:1/real_time"].get("error_occurred")
    assert "could not start" in entries["w/b/n:1/real_time"]["error_message"]


@pytest.mark.parametrize("gone_at, said", [
    ("--help", "no benchmark process ran: the process of w/a could not start (%s: No such file or directory)"),
    ("--benchmark_list_tests", "%s cannot run: No such file or directory"),  # between the run's two listings
])
def test_a_binary_gone_before_any_process_ran_ends_the_run_with_no_record(tmp_path, gone_at, said):
    # Removed after the run checked it: the --help probe and the second listing raised a
    # traceback, and processes that never started counted as run, so a record of nothing but
    # errors was written.
    proc, binary, out = wrapped_run(tmp_path, "*%s*" % gone_at, 'rm -f "$0"')
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1].endswith(said % binary), proc.stderr
    assert not out.exists()


def test_the_fixture_server_ignores_no_stop_signal_this_script_ignores():
    # `trap '' TERM INT` before ./bench: Popen resets neither, and an ignored signal stays ignored
    # across exec, so the server dropped the SIGTERM of this script's death (--parent-pid) until
    # it blocked the signals for its own loop, and could outlive the run holding its port.
    before = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGTERM, signal.SIGINT)}
    fixture = run_isolated.Fixture(FIXTURE)
    try:
        fixture.start()
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    try:
        with open("/proc/%d/status" % fixture.proc.pid) as f:
            ignored = int(re.search(r"^SigIgn:\s*([0-9a-f]+)$", f.read(), re.M).group(1), 16)
        for sig in (signal.SIGTERM, signal.SIGINT):
            assert not ignored & (1 << (sig - 1)), "%s ignored (SigIgn %x)" % (sig.name, ignored)
    finally:
        fixture.stop()


def test_a_fixture_server_that_ended_fails_the_fetch_processes_after_it(tmp_path):
    # Its URL was handed on: every later fetch benchmark erred on a refused connection, and
    # nothing said the server had gone.
    server = tmp_path / "fixture"
    server.write_text("#!/bin/sh\necho PORT 9\nexit 7\n")
    server.chmod(0o755)
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), "--fixture", str(server), FAKE, *ONE_ROUND],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, FAKE_NAMES="fetch/a/n:1,fetch/b/n:1"))
    assert proc.returncode == 1, proc.stderr
    assert "the process of fetch/b did not run: the fixture server exited with status 7 during the run" in proc.stderr
    entries = {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}
    assert not entries["fetch/a/n:1/real_time"].get("error_occurred")
    assert entries["fetch/b/n:1/real_time"]["error_occurred"]


def test_where_the_python_reference_would_go_is_checked_before_anything_runs(tmp_path):
    # With --out FILE it goes to python/ beside FILE, which was first made after the C++ run:
    # a file called python there ended the run with a traceback.
    (tmp_path / "python").write_text("")
    proc = subprocess.run([sys.executable, RUN, "--out", str(tmp_path / "run.json"), "--python", "--fixture",
                           FIXTURE, FAKE], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "cannot write %s: it is not a directory" % (tmp_path / "python") in proc.stderr
    assert not (tmp_path / "run.json").exists()


@pytest.mark.parametrize("value", ["0", "abc", "1e3", ""])
def test_a_bad_process_timeout_is_refused_before_anything_runs(tmp_path, value):
    proc = subprocess.run([sys.executable, RUN, "--out", str(tmp_path / "run.json"), FAKE],
                          capture_output=True, text=True, env=dict(os.environ, CONCBENCH_PROCESS_TIMEOUT=value),
                          timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "CONCBENCH_PROCESS_TIMEOUT=%s is not a whole number of seconds" % value in proc.stderr
    assert not (tmp_path / "run.json").exists()


def test_the_process_timeout_grows_with_the_minimum_time_and_the_group(monkeypatch):
    monkeypatch.delenv("CONCBENCH_PROCESS_TIMEOUT", raising=False)
    timeout, default = run_isolated.process_timeout, run_isolated.DEFAULT_PROCESS_TIMEOUT
    assert timeout([], 9) == timeout(["--benchmark_min_time=0.01"], 9) == default
    assert timeout(["--benchmark_min_time=2"], 9) == 20 * default
    assert timeout(["--benchmark_min_time=0x1p-3"], 9) == round(1.25 * default)  # strtod's hex, as the binary takes it
    # a machine of 256 threads sweeps 519 workers in a sum group: not all in 900 s
    assert timeout([], 519) == 519 * run_isolated.PER_BENCHMARK_TIMEOUT
    assert timeout(["--benchmark_min_time=1e6"], 9) == run_isolated.MAX_PROCESS_TIMEOUT  # poll() takes no more


@pytest.mark.parametrize("sig, status, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted"),
                                               (signal.SIGHUP, 129, "hung up")])
def test_a_signal_ends_the_run_says_so_and_leaves_nothing_behind(tmp_path, sig, status, word):
    # SIGTERM left /tmp/concbench-run-*/ with the processes' JSON; now it ends as Ctrl-C does.
    # Both ended a ten-minute run without a word.
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    log = tmp_path / "log"
    env = dict(os.environ, FAKE_NAMES="w/a/n:1,w/b/n:1", FAKE_HANG="w/b", TMPDIR=str(tmp), FAKE_LOG=str(log))
    # SIGINT and SIGHUP at their defaults: a test run started in the background (nohup) inherits
    # them ignored. SIGHUP killed the run without a word and left its temporary directory.
    proc = subprocess.Popen([sys.executable, RUN, "--out", str(tmp_path / "run.json"), FAKE, *ONE_ROUND],
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGHUP)])
    started = next((line for line in proc.stderr if "process 2 of 2" in line), None)
    for _ in range(200):  # until the hung benchmark process runs (python3 may be pyenv's shim first)
        if log.exists() and "w/b" in log.read_text():
            break
        time.sleep(0.05)

    def command(pid):
        with contextlib.suppress(OSError), open("/proc/%d/cmdline" % pid) as f:
            return f.read()
        return ""  # gone meanwhile
    hung = [pid for pid in run_isolated.descendants(proc.pid) if "fake_concbench" in command(pid)]  # must not outlive it
    proc.send_signal(sig)
    rest = proc.stderr.read()
    assert started and hung and proc.wait(timeout=30) == status
    proc.stderr.close()
    assert rest.strip().splitlines()[-1] == "concbench: %s; nothing recorded" % word, rest
    assert "Traceback" not in rest
    assert os.listdir(tmp) == [] and not (tmp_path / "run.json").exists()
    assert [pid for pid in hung if run_isolated.process_stat(pid)] == [], hung  # ended, and reaped


def test_sigterm_is_passed_on_to_a_script_of_ours_that_then_cleans_up(tmp_path):
    # subprocess.run SIGKILLed plot.py when ./bench got SIGTERM, leaving results/.tmp-*/
    child, marker = tmp_path / "child.py", tmp_path / "cleaned"
    child.write_text("import pathlib, signal, sys, time\n"
                     "def bye(*_):\n    pathlib.Path(sys.argv[1]).write_text('cleaned')\n    sys.exit(143)\n"
                     "signal.signal(signal.SIGTERM, bye)\nprint('ready', flush=True)\ntime.sleep(60)\n")
    parent = ("import sys; sys.path.insert(0, %r); import cli, run_isolated\n"
              "with cli.sigterm_exits():\n    run_isolated.run_child([sys.executable, %r, %r])\n"
              % (os.path.dirname(RUN), str(child), str(marker)))
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    ready = proc.stdout.readline()
    proc.send_signal(signal.SIGTERM)
    assert ready == "ready\n" and proc.wait(timeout=30) == 143
    proc.stdout.close()
    assert marker.read_text() == "cleaned"


def test_a_record_that_cannot_be_written_after_the_run_keeps_the_run(tmp_path, monkeypatch, capsys):
    # Checked before the run, the output can still fail at the end (a full disk): one line says
    # why and where the measurements are kept, instead of a traceback and a run lost.
    out, write = tmp_path / "run.json", run_isolated.write_json

    def no_space_for_out(doc, path, indent=2):
        if path == str(out):
            raise OSError(28, "No space left on device")
        write(doc, path, indent)
    monkeypatch.setattr(run_isolated, "write_json", no_space_for_out)
    monkeypatch.setenv("FAKE_NAMES", "w/a/n:1,w/b/n:1")
    assert run_isolated.main(["--out", str(out), FAKE, *ONE_ROUND]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("concbench: cannot write %s (No space left on device); the run is kept in " % out)
    kept = last.split("kept in ")[1].split(" (")[0]
    try:
        assert sorted(os.listdir(kept)) == ["1.json", "2.json", "record.json"]
        record = json.loads(open(os.path.join(kept, "record.json")).read())
        assert [b["name"] for b in record["benchmarks"]] == ["w/a/n:1/real_time", "w/b/n:1/real_time"]
    finally:
        shutil.rmtree(kept)


def test_an_interrupt_while_rendering_says_the_record_was_written(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run.json"

    def interrupted(*_):
        raise KeyboardInterrupt
    monkeypatch.setattr(run_isolated, "render_page", interrupted)
    monkeypatch.setenv("FAKE_NAMES", "w/a/n:1")
    assert run_isolated.main(["--out", str(out), "--render", FAKE, *ONE_ROUND]) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == "concbench: interrupted; %s was recorded before that, but not rendered (scripts/plot.py " \
                   "renders it)" % out
    assert [b["name"] for b in json.loads(out.read_text())["benchmarks"]] == ["w/a/n:1/real_time"]


def test_benchmarks_that_failed_on_the_mpi_spawn_hang_run_once_more(tmp_path):
    log, once = tmp_path / "log", tmp_path / "once"
    once.write_text("")
    env = dict(os.environ, FAKE_LOG=str(log), FAKE_NAMES="sum/seq/n:1,sum/mpi/n:1,sum/mpi/n:2",
               FAKE_LABEL="mpi:ranks on b,a",
               FAKE_ERROR="sum/mpi/n:2", FAKE_ERROR_ONCE=str(once),
               # Built from pieces: scripts/test.sh reruns a test whose output holds the whole
               # message, and this source must not pass for a hang if this test fails.
               FAKE_ERROR_MESSAGE="cannot start the model: MPI_Comm_spawn did not return within %d s (%d of %d "
                                  "ranks were running); its ranks were killed" % (60, 1, 1))
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), FAKE, *ONE_ROUND], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Open MPI's spawn hung in the process of sum/mpi" in proc.stderr
    doc = json.loads(out.read_text())
    names = [b["name"] for b in doc["benchmarks"]]
    assert names == ["sum/seq/n:1/real_time", "sum/mpi/n:1/real_time", "sum/mpi/n:2/real_time"]
    assert not any(b.get("error_occurred") for b in doc["benchmarks"])
    assert doc["context"]["concbench_reruns"] == {"sum/mpi": "1 benchmark after Open MPI's spawn hung"}
    assert doc["context"]["mpi_rank_hosts"] == "a,b"  # from the mpi benchmarks' labels
    # The one that failed ran again, alone, and its result took its place in the run order and
    # its family: its process numbered it 0, as the first of the group is.
    reruns = [r for r in log.read_text().splitlines() if "sum/mpi/n:2" in r and "n:1" not in r]
    assert len(reruns) == 1, log.read_text()
    assert [b["family_index"] for b in doc["benchmarks"]] == [0, 1, 2]
    # The progress line says its place in the run again (3 of 3), not that of its group's first.
    assert "--progress=3/3" in reruns[0], reruns[0]


def test_a_second_spawn_hang_stays_an_error(tmp_path):
    env = dict(os.environ, FAKE_NAMES="sum/mpi/n:1", FAKE_ERROR="sum/mpi/n:1",
               FAKE_ERROR_MESSAGE="cannot start the model: MPI cannot be used again in this process: x")
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), FAKE, *ONE_ROUND], capture_output=True,
                          text=True, env=env, timeout=60)
    doc = json.loads(out.read_text())
    assert [b.get("error_occurred") for b in doc["benchmarks"]] == [True], proc.stderr
    assert proc.stderr.count("run once more") == 1


def fake_run(tmp_path, args, **env):
    log, out = tmp_path / "log", tmp_path / "run.json"
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), FAKE, *args], capture_output=True, text=True,
                          env=dict(os.environ, FAKE_LOG=str(log), **env), timeout=60)
    runs = [r for r in log.read_text().splitlines() if "--benchmark_out=" in r] if log.exists() else []
    return proc, (json.loads(out.read_text()) if out.exists() else None), runs


def test_repetitions_are_rounds_each_model_once_a_round_in_a_fresh_process(tmp_path):
    began = time.monotonic()
    proc, doc, runs = fake_run(tmp_path, ["--benchmark_repetitions=3"],
                               FAKE_NAMES="w/a/n:1,w/a/n:2,w/b/n:1,w/c/n:1")
    assert proc.returncode == 0, proc.stderr
    # the run's own length (a flag named like its start once replaced the start, and the record
    # said the machine's uptime)
    assert 0 <= float(doc["context"]["concbench_run_seconds"]) <= time.monotonic() - began
    # 3 rounds of the 3 models, each process asked for one repetition.
    assert len(runs) == 9 and all(r.count("--benchmark_repetitions=") == 1 for r in runs)
    assert all("--benchmark_repetitions=1" in r for r in runs)
    firsts = [r.split("--benchmark_filter=^(")[1].split("/")[1] for r in runs]
    assert all(sorted(firsts[i:i + 3]) == ["a", "b", "c"] for i in (0, 3, 6)), firsts
    # [k/N] counts over every round.
    starts = sorted((int(r.split("--progress=")[1].split("/")[0]), 2 if f == "a" else 1) for r, f in zip(runs, firsts))
    assert [k for k, _ in starts] == [1] + [k + n for k, n in starts[:-1]] and sum(n for _, n in starts) == 12
    assert all(r.split("--progress=")[1].split()[0].endswith("/12") for r in runs)
    assert "process 9 of 9: " in proc.stderr and ", round 3 of 3" in proc.stderr
    assert doc["context"]["concbench_isolation"] == "one process per model and kernel, 3 rounds (9 processes)"
    reps = {}
    for b in iterations(doc):
        reps.setdefault(b["run_name"], []).append(b)
    assert sorted(reps) == ["w/a/n:1/real_time", "w/a/n:2/real_time", "w/b/n:1/real_time", "w/c/n:1/real_time"]
    for name, entries in reps.items():
        # Repetition r is round r, each from a process of its own; a model's benchmarks share it.
        assert [(e["repetitions"], e["repetition_index"]) for e in entries] == [(3, 0), (3, 1), (3, 2)], name
        assert len({e["fake_pid"] for e in entries}) == 3, name
    assert [e["fake_pid"] for e in reps["w/a/n:1/real_time"]] == [e["fake_pid"] for e in reps["w/a/n:2/real_time"]]
    # The record's context is the first process's, whatever model that was: its date is the run's start.
    # The first process ran round 1 (repetition 0) of the first model launched; the smallest pid
    # stood for it until pids wrapped past 32768 in a CI run (32551, then 329).
    first = next(b for b in iterations(doc) if b["run_name"].split("/")[1] == firsts[0] and b["repetition_index"] == 0)
    assert doc["context"]["fake_pid"] == str(first["fake_pid"])
    assert len({b["family_index"] for b in doc["benchmarks"]}) == 4
    # Google Benchmark's aggregates, over the rounds, after each benchmark's repetitions.
    for name, entries in reps.items():
        times = [e["real_time"] for e in entries]
        agg = {b["aggregate_name"]: b for b in doc["benchmarks"]
               if b.get("run_type") == "aggregate" and b["run_name"] == name}
        assert sorted(agg) == ["cv", "mean", "median", "stddev"]
        assert agg["median"]["real_time"] == pytest.approx(sorted(times)[1])
        assert agg["mean"]["real_time"] == pytest.approx(sum(times) / 3)
        assert agg["stddev"]["real_time"] == pytest.approx(statistics.stdev(times))
        assert agg["cv"]["real_time"] == pytest.approx(statistics.stdev(times) / (sum(times) / 3))
        assert agg["cv"]["aggregate_unit"] == "percentage" and agg["median"]["aggregate_unit"] == "time"
        assert agg["median"]["name"] == name + "_median" and agg["median"]["iterations"] == 3
        last = max(i for i, b in enumerate(doc["benchmarks"]) if b["run_name"] == name and b["run_type"] == "iteration")
        assert doc["benchmarks"][last + 1] is agg["mean"] or doc["benchmarks"][last + 1] == agg["mean"]


def test_a_round_that_errs_leaves_the_other_rounds_and_aggregates_them_alone(tmp_path):
    once = tmp_path / "once"
    once.write_text("")
    proc, doc, runs = fake_run(tmp_path, ["--benchmark_repetitions=3"], FAKE_NAMES="w/a/n:1,w/b/n:1",
                               FAKE_ERROR="w/b/", FAKE_ERROR_ONCE=str(once))
    assert proc.returncode == 1 and proc.stderr.splitlines()[-1] == "concbench: 1 benchmark of 2 erred: w/b/n:1/real_time"
    b = [e for e in doc["benchmarks"] if e["run_name"] == "w/b/n:1/real_time"]
    ran = [e for e in b if e["run_type"] == "iteration" and not e.get("error_occurred")]
    assert len(ran) == 2 and sum(1 for e in b if e.get("error_occurred")) == 1
    median = next(e for e in b if e.get("aggregate_name") == "median")
    # As Google Benchmark counts them: every repetition, the errored one too; the times of those that ran.
    assert median["iterations"] == 3 and median["repetitions"] == 3
    assert median["real_time"] == pytest.approx(sum(e["real_time"] for e in ran) / 2)


def test_a_crashed_round_is_named_with_its_round(tmp_path):
    proc, doc, runs = fake_run(tmp_path, ["--benchmark_repetitions=2"], FAKE_NAMES="w/a/n:1,w/b/n:1,w/b/n:2",
                               FAKE_CRASH="w/b/")
    assert proc.returncode == 1 and len(runs) == 4
    for r in (1, 2):
        assert "the process of w/b in round %d of 2 was killed by SIGKILL; the run goes on" % r in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("concbench: 2 of 4 processes failed: the process of w/b in round ")
    # What the killed process did not finish says which round it was in too.
    errors = [b["error_message"] for b in doc["benchmarks"] if b.get("error_occurred")]
    assert errors == ["the process of w/b in round %d of 2 was killed by SIGKILL before this benchmark finished" % r
                      for r in (1, 2)], errors


def test_a_nan_or_infinite_counter_is_aggregated_as_google_benchmark_does_not_a_crash(tmp_path):
    # statistics.stdev raised on NaN: the run ended in a traceback and its record was lost.
    for value, check in (("nan", math.isnan), ("inf", math.isinf), ("1e200", math.isfinite)):
        proc, doc, _ = fake_run(tmp_path, ["--benchmark_repetitions=3"], FAKE_NAMES="w/a/n:1",
                                FAKE_COUNTER="ratio:" + value)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        agg = {b["aggregate_name"]: b for b in doc["benchmarks"] if b["run_type"] == "aggregate"}
        assert check(agg["mean"]["ratio"]) and check(agg["median"]["ratio"])
        # NaN for 1e200 too: its square is inf, and inf - inf is NaN, as in Google Benchmark's C++
        assert math.isnan(agg["stddev"]["ratio"]), (value, agg["stddev"]["ratio"])
        assert math.isfinite(agg["mean"]["real_time"]) and agg["stddev"]["real_time"] >= 0


def test_aggregates_count_every_repetition_and_every_counter_any_repetition_has():
    def rep(i, **kw):
        return dict({"name": "w/a/real_time", "run_name": "w/a/real_time", "run_type": "iteration",
                     "family_index": 0, "per_family_instance_index": 0, "repetitions": 4, "repetition_index": i,
                     "threads": 1, "iterations": 10, "time_unit": "ms", "cpu_time": 1.0}, **kw)
    entries = [rep(0, real_time=1.0, efficiency=0.5, label="x"), rep(1, real_time=2.0, label="x"),
               rep(2, real_time=4.0, efficiency=0.7, label="x"),
               rep(3, real_time=0, error_occurred=True, error_message="failed", label="x")]
    agg = {a["aggregate_name"]: a for a in run_isolated.aggregates(entries)}
    assert [a["iterations"] for a in agg.values()] == [4] * 4 and all(a["label"] == "x" for a in agg.values())
    assert agg["mean"]["real_time"] == pytest.approx(7 / 3) and agg["median"]["real_time"] == 2.0
    assert agg["stddev"]["real_time"] == pytest.approx(statistics.stdev([1.0, 2.0, 4.0]))
    # A counter that some repetitions did not set is aggregated over those that did.
    assert agg["mean"]["efficiency"] == pytest.approx(0.6) and agg["median"]["efficiency"] == pytest.approx(0.6)
    # A label is kept only where every repetition has the same one.
    entries[1]["label"] = "y"
    assert all("label" not in a for a in run_isolated.aggregates(entries))
    # cv of values whose mean is 0 is 0/0, as in Google Benchmark; fewer than two that ran: none.
    zero = [rep(i, real_time=1.0, spread=0.0) for i in range(3)]
    assert math.isnan({a["aggregate_name"]: a for a in run_isolated.aggregates(zero)}["cv"]["spread"])
    assert run_isolated.aggregates(entries[:1] + entries[3:]) == []


@pytest.mark.parametrize("args, only", [([], False), (["--benchmark_report_aggregates_only"], True),
                                        (["--benchmark_report_aggregates_only=true"], True),
                                        (["--benchmark_report_aggregates_only=1"], True),
                                        (["--benchmark_report_aggregates_only=false"], False),
                                        (["--benchmark_report_aggregates_only=off"], False),
                                        (["--benchmark_report_aggregates_only=No"], False),
                                        (["--benchmark_report_aggregates_only=true",
                                          "--benchmark_report_aggregates_only=0"], False)])
def test_aggregates_only_is_read_as_google_benchmark_reads_it(args, only):
    assert run_isolated.aggregates_only(args) is only


def test_report_aggregates_only_leaves_the_aggregates_and_the_rounds_that_erred(tmp_path):
    # Each process runs one repetition, where Google Benchmark ignores the flag: the merge obeys it.
    once = tmp_path / "once"
    once.write_text("")
    proc, doc, _ = fake_run(tmp_path, ["--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"],
                            FAKE_NAMES="w/a/n:1,w/b/n:1", FAKE_ERROR="w/b/", FAKE_ERROR_ONCE=str(once))
    assert proc.returncode == 1, proc.stderr
    kinds = [(b["run_name"].split("/")[1], b.get("aggregate_name") or ("error" if b.get("error_occurred") else "rep"))
             for b in doc["benchmarks"]]
    assert kinds == [("a", "mean"), ("a", "median"), ("a", "stddev"), ("a", "cv"),
                     ("b", "error"), ("b", "mean"), ("b", "median"), ("b", "stddev"), ("b", "cv")]


def test_the_round_order_comes_from_a_seed_the_record_keeps(tmp_path):
    def order(seed):
        proc, doc, runs = fake_run(tmp_path, ["--benchmark_repetitions=2"], FAKE_NAMES="w/a/n:1,w/b/n:1,w/c/n:1",
                                   CONCBENCH_ROUND_SEED=str(seed))
        (tmp_path / "log").unlink()
        assert proc.returncode == 0, proc.stderr
        return [r.split("--benchmark_filter=^(")[1].split("/")[1] for r in runs], doc

    # A seed whose first process is not the first model listed (seeds are tried in turn).
    seed, (models, doc) = next((s, o) for s, o in ((s, order(s)) for s in range(1, 30)) if o[0][0] != "a")
    assert doc["context"]["concbench_round_seed"] == str(seed)
    assert order(seed)[0] == models  # the same seed, the same order
    # The record's context is the first process's, whichever model it ran: its date is the run's start.
    first = next(b for b in iterations(doc) if b["run_name"].split("/")[1] == models[0] and b["repetition_index"] == 0)
    assert doc["context"]["fake_pid"] == str(first["fake_pid"])
    (tmp_path / "run.json").unlink()
    proc, doc, runs = fake_run(tmp_path, ["--benchmark_repetitions=2"], FAKE_NAMES="w/a/n:1", CONCBENCH_ROUND_SEED="x")
    assert proc.returncode == 2 and doc is None and not runs
    assert proc.stderr == "concbench: CONCBENCH_ROUND_SEED=x is not a whole number\n"
    proc, doc, runs = fake_run(tmp_path, ["--benchmark_repetitions=2"], FAKE_NAMES="w/a/n:1", CONCBENCH_ROUND_SEED="²")
    assert proc.returncode == 2 and doc is None and "Traceback" not in proc.stderr


def test_one_repetition_is_one_round(tmp_path):
    proc, doc, runs = fake_run(tmp_path, ["--benchmark_repetitions=1"], FAKE_NAMES="w/a/n:1,w/b/n:1")
    assert proc.returncode == 0, proc.stderr
    assert len(runs) == 2 and not any(b.get("run_type") == "aggregate" for b in doc["benchmarks"])
    assert doc["context"]["concbench_isolation"] == "one process per model and kernel (2 processes)"
    assert run_isolated.repetitions(["--benchmark_repetitions=5"]) == 5


@needs_binary
def test_without_the_flag_the_rounds_are_as_many_as_the_binarys_own_repetitions(tmp_path):
    # benchmarks/main.cpp sets the default; run_isolated.repetitions must agree with it.
    for extra in ([], ["--quick"]):
        out = tmp_path / "direct.json"
        subprocess.run([BINARY, "--benchmark_filter=^sum/seq/range/workers:1/n:1000/", "--benchmark_min_time=0.01",
                        "--benchmark_out=%s" % out, *extra], check=True, stdout=subprocess.DEVNULL, timeout=120)
        assert len(iterations(json.loads(out.read_text()))) == run_isolated.repetitions(extra), extra


@needs_binary
def test_the_aggregates_of_rounds_have_the_shape_of_the_binarys_own(tmp_path):
    args = ["--benchmark_filter=^sum/seq/range/workers:1/n:1000/", "--benchmark_min_time=0.01",
            "--benchmark_repetitions=2"]
    direct = tmp_path / "direct.json"
    subprocess.run([BINARY, *args, "--benchmark_out=%s" % direct], check=True, stdout=subprocess.DEVNULL,
                   timeout=120)
    proc, out = isolated(tmp_path, args)
    assert proc.returncode == 0, proc.stderr
    shape = lambda doc: [(b["run_type"], b.get("aggregate_name"), b.get("aggregate_unit"), sorted(b))
                         for b in json.loads(doc.read_text())["benchmarks"]]
    assert shape(out) == shape(direct)


@needs_binary
def test_aggregates_of_the_binarys_repetitions_are_the_binarys_own(tmp_path):
    # The numbers, not only the shape: Google Benchmark's aggregates of one process's repetitions
    # against aggregates() of the same repetitions, times and every counter (pool sets several).
    direct = tmp_path / "direct.json"
    subprocess.run([BINARY, "--benchmark_filter=^sum/pool/range/workers:2/n:1000/", "--benchmark_min_time=0.01",
                    "--benchmark_repetitions=4", "--benchmark_out=%s" % direct], check=True,
                   stdout=subprocess.DEVNULL, timeout=120)
    doc = json.loads(direct.read_text())
    own = [b for b in doc["benchmarks"] if b["run_type"] == "aggregate"]
    ours = run_isolated.aggregates(iterations(doc))
    assert len(own) == len(ours) == 4 and len(own[0]) > 16  # counters too
    for theirs, mine in zip(own, ours):
        assert sorted(theirs) == sorted(mine), theirs["aggregate_name"]
        for k, v in theirs.items():
            assert mine[k] == (pytest.approx(v, rel=1e-9, abs=1e-12, nan_ok=True) if isinstance(v, float) else v), (theirs["name"], k)


def test_benchmarks_a_process_was_given_and_did_not_run_fail_it(tmp_path):
    # A binary rebuilt during the run without some of the benchmarks the run listed exits 0 with
    # a complete record that lacks them: they vanished from a record named full, and the run
    # exited 0.
    proc, doc, _ = fake_run(tmp_path, ONE_ROUND, FAKE_NAMES="w/a/n:1,w/b/n:1,w/b/n:2", FAKE_SKIP="w/b/n:2")
    assert proc.returncode == 1, proc.stderr
    failure = "the process of w/b finished without 1 benchmark it was given (w/b/n:2/real_time)"
    assert failure + "; the run goes on" in proc.stderr, proc.stderr
    lost = [b for b in doc["benchmarks"] if b["name"] == "w/b/n:2/real_time"]
    assert len(lost) == 1 and lost[0]["error_occurred"] and lost[0]["error_message"] == failure, lost
    assert doc["context"]["concbench_scope"] == "partial"


def test_a_binary_rebuilt_during_the_run_does_not_run_the_processes_after_it(tmp_path):
    # The linker replaces the file: later processes ran the new build under the old run's list.
    copy = tmp_path / "bin" / "concbench"
    copy.parent.mkdir()
    shutil.copy(FAKE, copy)
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, RUN, "--out", str(out), str(copy), *ONE_ROUND], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, FAKE_NAMES="w/a/n:1,w/b/n:1", FAKE_REBUILT="w/a"))
    assert proc.returncode == 1, proc.stderr
    failure = "the process of w/b did not start: %s changed after the run listed its benchmarks (rebuilt?)" % copy
    assert failure + "; the run goes on" in proc.stderr, proc.stderr
    doc = json.loads(out.read_text())
    assert [(b["name"], b.get("error_message")) for b in doc["benchmarks"]] == [
        ("w/a/n:1/real_time", None), ("w/b/n:1/real_time", failure)], doc["benchmarks"]


def test_a_binary_rebuilt_while_the_run_listed_it_runs_no_process(tmp_path):
    # The run lists twice (what ARGS select, then the suite): the second listing's stamp replaced
    # the first's, so a build that landed in between ran under the first listing's names.
    proc, binary, out = wrapped_run(tmp_path, "*--benchmark_list_tests*",
                                    '[ -e "$0.once" ] || { : > "$0.once"; cp "$0" "$0.new"; mv "$0.new" "$0"; }',
                                    names="w/a/n:1")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines()[-1].endswith(
        "no benchmark process ran: the process of w/a did not start: %s changed after the run listed its "
        "benchmarks (rebuilt?)" % binary), proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("args, env, scope", [
    (["--quick"], {}, "quick"),
    (["--quick", "--benchmark_repetitions=1"], {}, "quick"),  # --quick's own
    (["--quick"], {"FAKE_ERROR": "w/b"}, "partial"),  # a benchmark erred: named quick, it passed for one
    (["--quick", "--benchmark_repetitions=5"], {}, "partial"),  # not --quick's one repetition
    (["--benchmark_context=site=lab"], {}, "full"),  # shows, measures nothing: as $BENCHMARK_CONTEXT
])
def test_a_quick_run_is_quick_only_as_quick_runs_it(tmp_path, args, env, scope):
    proc, doc, _ = fake_run(tmp_path, args, FAKE_NAMES="w/a/n:1,w/b/n:1", **env)
    assert doc["context"]["concbench_scope"] == scope, proc.stderr
    assert ("a partial run (" in proc.stderr) == (scope == "partial"), proc.stderr


def test_a_source_tree_that_changed_during_the_run_makes_the_record_dirty(tmp_path):
    # Each process's binary says its commit and dirty flag; the first model's context is the
    # record's, so binaries of two trees in one run passed for one.
    clean = {"concbench_commit": "a" * 40, "concbench_dirty": "false"}
    proc, doc, _ = fake_run(tmp_path, ONE_ROUND, FAKE_NAMES="w/a/n:1,w/b/n:1",
                            FAKE_CONTEXT="w/b:" + json.dumps(dict(clean, concbench_dirty="true")))
    assert proc.returncode == 0, proc.stderr
    assert doc["context"]["concbench_dirty"] == "true"
    assert "the source tree changed during the run" in proc.stderr
    proc, doc, _ = fake_run(tmp_path, ONE_ROUND, FAKE_NAMES="w/a/n:1,w/b/n:1", FAKE_CONTEXT=json.dumps(clean))
    assert proc.returncode == 0 and "changed" not in proc.stderr
    assert doc["context"]["concbench_dirty"] == "false"


@pytest.mark.skipif(not os.access(BINARY, os.X_OK), reason="concbench is not built")
def test_the_defaults_a_full_run_may_give_are_the_binarys_own():
    # A run that gives the suite's own defaults is still its full run (DEFAULT_FLAGS): if the
    # binary's defaults changed and this list did not, a run measured otherwise would be named full.
    shown = subprocess.run([BINARY, "--help"], capture_output=True, text=True, timeout=60).stdout
    line = next(l for l in shown.splitlines() if l.startswith("Defaults the suite sets unless given: "))
    assert sorted(line.split(": ", 1)[1].split()) == sorted(run_isolated.DEFAULT_FLAGS), line
    # and --quick's, or every quick run would be named -partial
    line = next(l for l in shown.splitlines() if l.startswith("(--quick: "))
    assert sorted(line[len("(--quick: "):].rstrip(").").split()) == sorted(run_isolated.QUICK_FLAGS), line


def test_google_benchmarks_variables_are_read_as_the_binary_reads_them():
    # The same flags as the binary's list, made flags where not given as flags, in front (a flag
    # given wins), and gone from the environment its processes inherit.
    with open(os.path.join(REPO, "benchmarks", "main.cpp"), encoding="utf-8") as f:
        source = f.read()
    names = source.split("std::vector<std::string> flags_from_environment(")[1].split("};")[0]
    assert tuple(re.findall(r'"(benchmark_[a-z_]+)"', names)) == run_isolated.LIBRARY_FLAGS
    # Set is given, even empty (an empty boolean is true to Google Benchmark), but an empty
    # $BENCHMARK_OUT, which is no file to it.
    environ = {"BENCHMARK_REPETITIONS": "5", "BENCHMARK_FILTER": "^sum/", "BENCHMARK_OUT": "", "PATH": "/bin",
               "BENCHMARK_MIN_TIME": "0.5", "BENCHMARK_COUNTERS_TABULAR": ""}
    args = run_isolated.flags_from_environment(["--benchmark_min_time=0.01", "--quick"], environ)
    assert args == ["--benchmark_filter=^sum/", "--benchmark_repetitions=5", "--benchmark_counters_tabular=",
                    "--benchmark_min_time=0.01", "--quick"]
    assert environ == {"PATH": "/bin"}
