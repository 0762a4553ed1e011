# SPDX-License-Identifier: MIT
# Tests for scripts/compare.py: two records judged against the history's between-run noise, commits, machines, bad input.
# Run: /usr/bin/python3 -m pytest tests/test_compare.py
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPTS = os.path.join(REPO, "scripts")
COMPARE = os.path.join(SCRIPTS, "compare.py")
sys.path.insert(0, SCRIPTS)

import compare  # noqa: E402  (first: it checks the interpreter)
import metrics  # noqa: E402
import records  # noqa: E402
import regress  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
SHA_A = "a" * 40
# Benchmarks of a small suite: (name, seconds).
SUITE = [("sum/seq/range/workers:1/n:1000000", 4e-4), ("sum/pool/range/workers:2/n:1000000", 2.1e-4),
         ("sum/tbb/range/workers:2/n:1000000", 2.0e-4), ("peak/vector_add", 2.5e-4)]


# --- writing records ---------------------------------------------------------------

def context(commit=SHA_A, dirty="false", date="2026-11-25T21:08:51+00:00", machine=None, **extra):
    ctx = {"date": date, "executable": "./concbench", "num_cpus": 2, "library_build_type": "debug",
           "concbench_commit": commit, "concbench_dirty": dirty, "compiler": "GCC 12.2.0",
           "concbench_scope": "full"}
    ctx.update(machine or records.this_machine())
    ctx.update(extra)
    return ctx


def write_run(path, benches, ctx=None, reps=3):
    """A Google Benchmark JSON file: benches is [(name, seconds or None for an error)]."""
    entries = []
    for family, (name, t) in enumerate(benches):
        for i in range(reps):
            e = {"name": name + "/real_time", "family_index": family, "per_family_instance_index": 0,
                 "run_name": name + "/real_time", "run_type": "iteration", "repetitions": reps,
                 "repetition_index": i, "threads": 1, "iterations": 10, "time_unit": "ns"}
            if t is None:
                e.update(error_occurred=True, error_message="synthetic failure", real_time=0, cpu_time=0)
            else:
                e.update(real_time=t * 1e9 * (1 + 0.001 * i), cpu_time=t * 1e9)
            entries.append(e)
    with open(path, "w") as f:
        json.dump({"context": ctx if ctx is not None else context(), "benchmarks": entries}, f)
    return str(path)


def suite(rng, noise=0.01, slow=None, factor=1.0):
    """SUITE with between-run noise; `slow` names the benchmark that takes `factor` times longer."""
    return [(n, t * (factor if n == slow else 1.0) * float(np.exp(noise * rng.standard_normal()))) for n, t in SUITE]


def history(path, count, noise=0.01, seed=0, machine=None):
    """`count` records of one machine, a day apart, with between-run noise."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        stamp = "2026-11-%02dT10:00:00+00:00" % (i + 1)
        write_run(path / ("202611%02dT100000Z-%s-vm.json" % (i + 1, "c%011d" % i)), suite(rng, noise),
                  ctx=context(commit="c%039d" % i, date=stamp, machine=machine))
    return path


def run_compare(*args, cwd=REPO):
    return subprocess.run([SYSTEM_PYTHON, COMPARE] + [str(a) for a in args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def one_line_error(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert err and "\n" not in err, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    return err


def pair(tmp_path, slow=None, factor=1.0, seed=99, **ctx):
    rng = np.random.default_rng(seed)
    old = write_run(tmp_path / "old.json", suite(rng), ctx=context(**ctx))
    new = write_run(tmp_path / "new.json", suite(rng, slow=slow, factor=factor), ctx=context(**ctx))
    return old, new


# --- the verdict ---------------------------------------------------------------------

def test_old_and_new_are_left_out_of_the_noise_however_their_paths_are_written(tmp_path):
    # OLD and NEW taken from the history itself must not estimate the noise they are judged
    # against: relative paths, as typed, used to miss the history's absolute ones.
    hist = history(tmp_path / "h", 10)
    old, new = sorted(hist.iterdir())[-2:]
    absolute = run_compare(old, new, "--history", hist, "--json")
    relative = run_compare(old.name, new.name, "--history", ".", "--json", cwd=hist)
    assert absolute.returncode == relative.returncode, (absolute.stderr, relative.stderr)
    results = json.loads(relative.stdout)["results"]
    assert results and {r["n"] for r in results} == {7}  # 8 other records, 7 differences
    assert json.loads(absolute.stdout)["results"] == results


def test_only_full_runs_make_the_noise_and_a_side_that_is_not_one_is_said(tmp_path):
    # A quick run's one short repetition varies more than a full run's median: beside full runs
    # in the noise it would widen it, and as a side it is judged against less noise than its own.
    hist = history(tmp_path / "h", 10)
    rng = np.random.default_rng(7)
    for day in range(11, 15):
        write_run(hist / ("202611%02dT100000Z-q%011d-vm-quick.json" % (day, day)), suite(rng, noise=0.5),
                  ctx=context(commit="q%039d" % day, date="2026-11-%02dT10:00:00+00:00" % day,
                              concbench_scope="quick"))
    old, new = pair(tmp_path)
    quick = write_run(tmp_path / "quick.json", suite(rng), ctx=context(concbench_scope="quick"), reps=1)
    # Nor does another build's full record (a clang binary's), noisier and measured otherwise.
    write_run(hist / "20261115T100000Z-b00000000000-vm.json", suite(rng, noise=0.5),
              ctx=context(commit="b%039d" % 15, date="2026-11-15T10:00:00+00:00", compiler="Clang 14.0.6"))
    full = json.loads(run_compare(old, new, "--history", hist, "--json").stdout)
    assert {r["n"] for r in full["results"]} == {9}  # 10 full records, 9 differences
    assert "between-run noise of 10 full records" in full["method"]
    assert not any("quick run" in n for n in full["notes"]), full["notes"]
    doc = json.loads(run_compare(old, quick, "--history", hist, "--json").stdout)
    assert any(n.startswith("NEW is a quick run (one repetition") for n in doc["notes"]), doc["notes"]


def test_dirty_trees_and_test_hooks_are_not_in_the_noise(tmp_path):
    # A dirty tree's record measured other code, and a test hook's (calibrate.py's slowdown, a
    # poisoned array) a planted change: history.py left the first out of its series, the noise
    # kept both.
    hist = history(tmp_path / "h", 10)
    rng = np.random.default_rng(8)
    write_run(hist / "20261111T100000Z-d00000000000-dirty-vm.json", suite(rng, noise=0.5),
              ctx=context(commit="d%039d" % 11, dirty="true", date="2026-11-11T10:00:00+00:00"))
    write_run(hist / "20261112T100000Z-h00000000000-vm.json", suite(rng, noise=0.5),
              ctx=context(commit="h%039d" % 12, date="2026-11-12T10:00:00+00:00",
                          concbench_test_slowdown="pool does 10% more kernel work (a test hook)"))
    old, new = pair(tmp_path)
    doc = json.loads(run_compare(old, new, "--history", hist, "--json").stdout)
    assert {r["n"] for r in doc["results"]} == {9}, doc["results"]  # 10 clean records, 9 differences
    assert "between-run noise of 10 full records" in doc["method"], doc["method"]


def test_a_change_beyond_the_between_run_noise_is_a_regression(tmp_path):
    hist = history(tmp_path / "h", 12, noise=0.01)
    old, new = pair(tmp_path, slow="sum/pool/range/workers:2/n:1000000", factor=1.10)
    proc = run_compare(old, new, "--history", hist, "--json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    pool = next(r for r in doc["results"] if r["name"] == "sum/pool/range/workers:2/n:1000000")
    assert pool["verdict"] == "suspected regression" and pool["n"] == 11 and pool["low"] > 1.0
    # The interval is 1 - alpha's: at --alpha 0.01 wider, and the table's head says which.
    strict = json.loads(run_compare(old, new, "--history", hist, "--json", "--alpha", "0.01").stdout)
    wide = next(r for r in strict["results"] if r["name"] == pool["name"])
    assert wide["low"] < pool["low"] and wide["high"] > pool["high"], (wide, pool)
    assert "change [99% interval]" in run_compare(old, new, "--history", hist, "--alpha", "0.01").stdout
    assert doc["summary"]["suspected regression"] == 1 and doc["summary"]["regression"] == 0
    # ab.py confirms it: its command names the suspects, as the binary's names begin
    assert any(n.startswith("one record a side cannot tell a slow process from a change: confirm with "
                            "scripts/ab.py ") and n.endswith("--benchmark_filter='^(sum/pool/range/workers:2/"
                                                             "n:1000000)/'") for n in doc["notes"]), doc["notes"]


def test_real_records_of_unchanged_code_flag_suspects_never_regressions(tmp_path):
    # Real A/A: 03460d4 and 1aacd29 differ in no file that the sum benchmarks build from, yet
    # std_par's times differ 55-72% between the two records (a process whose two workers did not
    # run at once), far beyond the noise of 6 other records: what compare.py called regressions.
    # Those records, not the history every ./bench adds to, whose noise would move the verdict.
    hist = tmp_path / "history"
    hist.mkdir()
    for f in sorted(os.listdir(os.path.join(REPO, "results", "history"))):
        if f.endswith(".json") and f < "20261202":  # up to 769ced2's
            shutil.copy(os.path.join(REPO, "results", "history", f), hist)
    assert len(os.listdir(hist)) == 8
    old, new = (str(hist / f) for f in ("20261201T212019Z-03460d44732b-vm.json",
                                        "20261201T214757Z-1aacd298873c-vm.json"))
    proc = run_compare(old, new, "--history", hist, "--filter", "^sum/", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["summary"]["regression"] == 0, proc.stderr
    assert doc["summary"]["suspected regression"] >= 1
    assert any("confirm with scripts/ab.py 03460d44732b 1aacd298873c" in n for n in doc["notes"])


def test_the_same_change_within_a_noisy_history_is_not(tmp_path):
    hist = history(tmp_path / "h", 12, noise=0.08)
    old, new = pair(tmp_path, slow="sum/pool/range/workers:2/n:1000000", factor=1.10)
    proc = run_compare(old, new, "--history", hist)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 suspected regressions" in proc.stdout and "between-run noise of 12 full records" in proc.stdout


def test_too_little_history_says_so_and_points_to_the_ab_command(tmp_path):
    hist = history(tmp_path / "h", 3)
    old, new = pair(tmp_path)
    one_line_error(run_compare(old, new, "--history", hist), "too little history", "3 other full records",
                   "scripts/ab.py")


def test_errors_in_new_are_regressions_listed_first(tmp_path):
    hist = history(tmp_path / "h", 12)
    old, _ = pair(tmp_path)
    new = write_run(tmp_path / "broken.json", [(n, None if "tbb" in n else t) for n, t in SUITE])
    proc = run_compare(old, new, "--history", hist)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[2].startswith("REGRESSION  errored in NEW: sum/tbb/range/workers:2/n:1000000")


def err(path, name, repetitions):
    """Makes the first `repetitions` repetitions of benchmark `name` in the run at `path` errors."""
    with open(path) as f:
        doc = json.load(f)
    for e in [e for e in doc["benchmarks"] if e["run_name"] == name + "/real_time"][:repetitions]:
        e.update(error_occurred=True, error_message="synthetic failure", real_time=0, cpu_time=0)
    with open(path, "w") as f:
        json.dump(doc, f)


def test_a_benchmark_that_errs_in_some_repetitions_of_new_is_an_error_there_too(tmp_path):
    # It was compared on its measured repetitions and left out of "errored in NEW", while the
    # results page counted the errored one. An error of OLD excuses NEW's only when as bad.
    hist, flaky = history(tmp_path / "h", 12), "sum/tbb/range/workers:2/n:1000000"
    for old_errors, new_errors, message in ((0, 1, "1 repetition errored, the others measured: synthetic failure"),
                                            (1, 3, "synthetic failure"), (1, 2, None), (3, 3, None), (3, 1, None)):
        old, new = pair(tmp_path)
        err(old, flaky, old_errors)
        err(new, flaky, new_errors)
        proc = run_compare(old, new, "--history", hist, "--json")
        result = json.loads(proc.stdout)
        said = [e["message"] for e in result["errors"] if e["benchmark"] == flaky]
        assert said == ([message] if message else []), (old_errors, new_errors, said)
        assert proc.returncode == (1 if message else 0), (old_errors, new_errors, proc.stderr)
        # compared wherever both sides measured some repetitions
        assert (flaky in {r["name"] for r in result["results"]}) == (old_errors < 3 and new_errors < 3)


def test_a_benchmark_one_side_lacks_is_said_and_a_bound_that_erred_decides_nothing(tmp_path):
    # NEW without sum/pool was judged on the rest without a word; NEW's peak/* bound that erred
    # made a regression of a machine's bound, which never decides; OLD's own error went unsaid.
    hist = history(tmp_path / "h", 12)
    old, _ = pair(tmp_path)
    err(old, "sum/tbb/range/workers:2/n:1000000", 3)
    rng = np.random.default_rng(5)
    lost = [(n, None if n == "peak/vector_add" else t) for n, t in suite(rng) if not n.startswith("sum/pool/")]
    new = write_run(tmp_path / "lost.json", lost)
    proc = run_compare(old, new, "--history", hist, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["errors"] == [], result["errors"]
    notes = result["notes"]
    assert ("2 metrics measured in OLD only, not compared: sum/pool/range/workers:2/n:1000000, "
            "sum/pool/range/workers:2/n:1000000 efficiency") in notes, notes
    assert "peak/vector_add errored in NEW (a bound of the machine, never a verdict): synthetic failure" in notes, notes
    assert not any("peak/vector_add" in n and "measured in OLD only" in n for n in notes), notes
    assert "sum/tbb/range/workers:2/n:1000000 errored in OLD only: synthetic failure" in notes, notes


def test_machine_drift_and_efficiency_never_decide(tmp_path):
    hist = history(tmp_path / "h", 12)
    old, new = pair(tmp_path, slow="peak/vector_add", factor=1.3)
    proc = run_compare(old, new, "--history", hist, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert next(r for r in doc["results"] if r["name"] == "peak/vector_add")["verdict"] == "machine drift"
    # A faster seq lowers pool's and tbb's efficiency: shown, never a regression of theirs.
    old, new = pair(tmp_path, slow="sum/seq/range/workers:1/n:1000000", factor=0.8)
    doc = json.loads(run_compare(old, new, "--history", hist, "--json").stdout)
    eff = [r for r in doc["results"] if r["kind"] == "efficiency"]
    assert len(eff) == 2 and all(r["ratio"] < 0.85 and r["verdict"] == "untested" for r in eff)
    assert doc["summary"]["suspected regression"] == 0 and doc["summary"]["suspected improvement"] == 1


def test_different_machines_are_never_compared_silently(tmp_path):
    hist = history(tmp_path / "h", 12)
    rng = np.random.default_rng(5)
    old = write_run(tmp_path / "old.json", suite(rng))
    xeon = write_run(tmp_path / "xeon.json", suite(rng), ctx=context(cpu_model="Intel Xeon"))
    one_line_error(run_compare(old, xeon, "--history", hist), "different machines", "cpu_model", "--any-host")
    # "AMD EPYC" names two generations: family, model and stepping tell them apart.
    zen5 = write_run(tmp_path / "zen5.json", suite(rng),
                     ctx=context(cpu_signature="AuthenticAMD family 26 model 2 stepping 0"))
    one_line_error(run_compare(old, zen5, "--history", hist), "different machines", "cpu_signature")
    proc = run_compare(old, xeon, "--history", hist, "--any-host")
    assert proc.returncode in (0, 1) and "note: different machines, compared because of --any-host" in proc.stdout
    # A record from before the machine's identity was recorded is not this machine either.
    bare = context()
    del bare["cpu_vector_flags"]
    old_style = write_run(tmp_path / "old_style.json", suite(rng), ctx=bare)
    one_line_error(run_compare(old_style, old, "--history", hist), "cpu_vector_flags: not recorded by OLD")
    # Other differences are said beside the verdict.
    clang = write_run(tmp_path / "clang.json", suite(rng), ctx=context(compiler="clang 14"))
    assert "note: differs: compiler: GCC 12.2.0 vs clang 14" in run_compare(old, clang, "--history", hist).stdout
    # So is a system call that costs more than 2x as much (it decides fetch numbers), never the
    # run-to-run drift of one kind of VM (1.5x), nor a value that is not a number.
    costs = {name: write_run(tmp_path / ("%s.json" % name), suite(rng), ctx=context(syscall_ns=ns))
             for name, ns in (("fast", "200.5"), ("drift", "390"), ("slow", 1100), ("junk", "n/a"))}
    def notes(a, b):  # a compare that failed would say no note either: it must have compared
        proc = run_compare(costs[a], costs[b], "--history", hist)
        assert proc.returncode in (0, 1) and "verdict" in proc.stdout.lower(), proc.stdout + proc.stderr
        return [line for line in proc.stdout.splitlines() if "system call" in line]
    assert notes("fast", "slow") == ["note: differs: one system call: 200 ns vs 1100 ns (syscall_ns; a fetch "
                                     "request makes a few on each side)"]
    assert notes("fast", "drift") == [] and notes("junk", "slow") == []


def test_a_vm_on_another_clock_is_another_machine(tmp_path):
    # Two VMs alike in all the rest, on one kernel, differed only in their clocks, and 2x in
    # their sums: without cpufreq the clock is part of the machine. A few MHz of boot-time
    # calibration are not.
    vm = dict(records.this_machine(), cpu_governor="not exposed", mhz_per_cpu="2596")
    hist = history(tmp_path / "h", 12, machine=vm)
    rng = np.random.default_rng(6)
    old = write_run(tmp_path / "old.json", suite(rng), ctx=context(machine=vm))
    other = write_run(tmp_path / "other.json", suite(rng), ctx=context(machine=dict(vm, mhz_per_cpu="2096")))
    one_line_error(run_compare(old, other, "--history", hist), "different machines", "mhz_per_cpu: 2596 vs 2096")
    recalibrated = write_run(tmp_path / "recal.json", suite(rng), ctx=context(machine=dict(vm, mhz_per_cpu="2590")))
    assert run_compare(old, recalibrated, "--history", hist).returncode in (0, 1)
    # With cpufreq Google Benchmark may report the current clock: it is left out, not compared.
    dvfs = dict(vm, cpu_governor="performance")
    assert records.same_machine(dvfs, dict(dvfs, mhz_per_cpu="3400"))
    assert records.same_machine(vm, dict(vm, mhz_per_cpu="0"))  # 0: Google Benchmark found no clock
    # One VM with cpufreq and one without are two: else the 2096 MHz VM, had it exposed
    # cpufreq, would have passed for the 2596 MHz one.
    assert records.machine_differences(vm, dict(dvfs, mhz_per_cpu="2096")) == [
        "cpufreq: not exposed vs exposed (governor performance)"]
    assert records.same_machine(dict(vm, cpu_governor=""), dict(dvfs, mhz_per_cpu="2096"))  # not recorded
    # A key recorded later (cpu_signature) that neither record has tells nothing either way, one
    # that only one has is a difference; a key of the first identity is needed in both, so two
    # files without concbench's keys are never one machine.
    before = {k: v for k, v in vm.items() if k != "cpu_signature"}
    assert records.machine_differences(before, dict(before)) == []
    assert records.machine_differences(before, vm) == ["cpu_signature: not recorded by OLD"]
    assert not records.same_machine({"host_name": "vm"}, {"host_name": "vm"})


def test_the_cpu_and_its_clock_are_read_as_the_binary_and_google_benchmark_read_them(tmp_path):
    # Two x86 cores, where a "model name" line before "model" must not be taken for it, and two
    # Arm cores. tests/test_context.cpp holds the binary's reader to the same files.
    cpuinfo = records.read_fields(os.path.join(HERE, "data", "cpuinfo_x86"))
    arm = records.read_fields(os.path.join(HERE, "data", "cpuinfo_arm"))
    none = records.read_fields(str(tmp_path / "none"))
    assert records.cpu_signature(cpuinfo) == "GenuineIntel family 6 model 143 stepping 8"
    # this_machine's cpu_model: the whole key, trimmed at both ends, from the first core
    assert [records._field(cpuinfo, k) for k in ("model", "model name", "cpu MHz", "cpu")] == [
        "143", "Intel(R) Xeon(R)", "0.000", ""]
    assert records.cpu_signature(arm) == "implementer 0x41 part 0xd0c"
    assert records.cpu_signature(none) == "unknown"
    cpu0 = tmp_path / "cpu0"
    cpu0.mkdir()
    # the first positive cpu MHz, rounded as the JSON reporter rounds; else the last bogomips
    assert records.clock_mhz(cpuinfo, str(cpu0)) == "2096"
    assert records.clock_mhz(arm, str(cpu0)) == "38"
    assert records.clock_mhz(none, str(cpu0)) == ""
    (cpu0 / "tsc_freq_khz").write_text("2596146\n")  # the TSC's, first of all
    assert records.clock_mhz(cpuinfo, str(cpu0)) == "2596"
    (cpu0 / "tsc_freq_khz").unlink()
    (cpu0 / "cpufreq").mkdir()  # the current clock, perhaps: no identity
    assert records.clock_mhz(cpuinfo, str(cpu0)) == ""


def test_an_unstable_environment_is_said(tmp_path):
    hist = history(tmp_path / "h", 12)
    old, new = pair(tmp_path, environment_unstable="the hypervisor stole 7.0% of the CPU time during the run")
    assert "note: OLD was recorded in an unstable environment: the hypervisor stole" in \
        run_compare(old, new, "--history", hist).stdout


def test_bad_input(tmp_path):
    hist = history(tmp_path / "h", 12)
    old, new = pair(tmp_path)
    one_line_error(run_compare(old, tmp_path / "missing.json", "--history", hist), "NEW", "no such file")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    one_line_error(run_compare(bad, new, "--history", hist), "OLD", "not JSON")
    bad.write_text(json.dumps({"context": context(), "benchmarks": []}))
    one_line_error(run_compare(old, bad, "--history", hist), "no benchmarks")
    one_line_error(run_compare(old), "NEW")
    # One message for every alpha outside (0, 1), the ends included.
    for alpha in ("0", "1", "1.5"):
        one_line_error(run_compare(old, new, "--alpha", alpha), "--alpha", "between 0 (exclusive) and 1")
    one_line_error(run_compare(old, new, "--min-effect", "lots"), "min-effect")
    one_line_error(run_compare(old, new, "--filter", "("), "--filter")
    # a pattern that backtracks without end is stopped (a name of 40 characters took hours)
    one_line_error(run_compare(old, new, "--filter", "(.*)*x", "--history", hist), "--filter (.*)*x: still matching",
                   "after 5 s")
    other = write_run(tmp_path / "o.json", [("other/1", 1.0)])
    one_line_error(run_compare(old, other, "--history", hist), "no benchmark in common")
    # Neither was "too little history" (0 other records in a --history that is not there; 12)
    one_line_error(run_compare(old, new, "--history", tmp_path / "nowhere"), "--history", "not a directory")
    failed = [(name, None) for name, _ in SUITE]
    both = [write_run(tmp_path / ("%s-failed.json" % side), failed) for side in ("old", "new")]
    one_line_error(run_compare(*both, "--history", hist), "no verdict: OLD and NEW have no time measured in both")


def test_machine_bounds_alone_are_no_verdict(tmp_path):
    # peak/* are drift, never a verdict: with only their history (the times renamed since, say),
    # or only them selected, compare said "Holm over 0 times" and exited 0, NEW twice as slow.
    old, new = pair(tmp_path, slow="sum/seq/range/workers:1/n:1000000", factor=2.0)
    peaks = tmp_path / "peaks"
    peaks.mkdir()
    for i in range(10):
        write_run(peaks / ("202611%02dT100000Z-c%011d-vm.json" % (i + 1, i)), [("peak/vector_add", 2.5e-4 * (1 + i / 100))],
                  ctx=context(commit="c%039d" % i, date="2026-11-%02dT10:00:00+00:00" % (i + 1)))
    one_line_error(run_compare(old, new, "--history", peaks), "too little history", "a time needs 5")
    one_line_error(run_compare(old, new, "--history", history(tmp_path / "h", 12), "--filter", "^peak/"),
                   "no verdict: OLD and NEW have no time measured in both matching --filter ^peak/ (only peak/*")
    # with the times' history, the same pair is a (suspected) regression
    assert run_compare(old, new, "--history", tmp_path / "h").returncode == 1


# --- the method on simulated runs: false alarms and power -----------------------------

def simulated_verdicts(earlier, trials, n_metrics=399, slow=1.0, noise=0.02, seed=0):
    """Per trial, the verdicts compare.py gives (compare.judge, regress.judge) when OLD, NEW and
    `earlier` records are independent runs with normal between-run noise (in log) and NEW's first
    metric, sum/m0/..., takes `slow` times longer."""
    rng = np.random.default_rng(seed)
    names = ["sum/m%d/range/workers:2/n:1000" % i for i in range(n_metrics)]
    for _ in range(trials):
        runs = np.exp(noise * rng.standard_normal((earlier + 2, n_metrics)))
        runs[-1, 0] *= slow
        sigmas = {name: regress.between_run_sigma(runs[:-2, j]) for j, name in enumerate(names)}
        old, new = ({n: metrics.Metric(n, metrics.TIME, float(v)) for n, v in zip(names, run)} for run in runs[-2:])
        yield regress.judge(compare.judge(old, new, sigmas, regress.DEFAULT_ALPHA))


def test_with_nothing_changed_at_most_alpha_of_comparisons_flag_anything():
    # A/A: a comparison of 399 times that finds a regression or improvement is a false alarm; Holm
    # keeps them to alpha of comparisons when the p-values are exact. The median of |consecutive
    # differences| referred to Student's t on k - 1 degrees flagged 29%, 40% and 37% of these.
    for earlier in (6, 10, 20):
        alarms = sum(any(r.verdict in (regress.REGRESSION, regress.IMPROVEMENT) for r in results)
                     for results in simulated_verdicts(earlier, 300, seed=earlier))
        assert alarms / 300 <= regress.DEFAULT_ALPHA + 0.03, (earlier, alarms)


def test_a_real_slowdown_is_still_found():
    # 20 earlier records, 2% noise: a 10% slowdown is 3.4 standard deviations of a difference, found
    # most times among the 4 times of a filtered comparison; among 399, Holm needs 3.8 with the noise
    # known, so there it takes 20%.
    for n_metrics, slow in ((4, 1.1), (399, 1.2)):
        found = sum(any(r.name.startswith("sum/m0/") and r.verdict == regress.REGRESSION for r in results)
                    for results in simulated_verdicts(20, 200, n_metrics, slow, seed=n_metrics))
        assert found / 200 >= 0.6, (n_metrics, found)


def test_files_of_another_shape_are_one_line(tmp_path):
    import metrics
    old, new = pair(tmp_path)
    # Every benchmark errored and the context is a string: no context, so no machine to compare.
    errored = write_run(tmp_path / "all-errored.json", [(n, None) for n, _ in SUITE], ctx="a string")
    assert metrics.run_metrics(errored) == ({}, {n: "synthetic failure" for n, _ in SUITE}, {})
    one_line_error(run_compare(errored, new), "recorded on different machines (host_name: not recorded by OLD")
    # A file named "errored" is not a file whose benchmarks all errored.
    named = tmp_path / "errored-run.json"
    named.write_text(json.dumps({"context": context()}))
    one_line_error(run_compare(named, new), "OLD", 'not Google Benchmark JSON (no "benchmarks" list)')
    one_line_error(run_compare(tmp_path, new), "OLD %s: a directory, not a file" % tmp_path)
    os.mkfifo(tmp_path / "fifo.json")  # it was "no such file"
    one_line_error(run_compare(tmp_path / "fifo.json", new), "OLD %s: not a regular file" % (tmp_path / "fifo.json"))


def test_an_efficiency_counter_that_is_not_finite_is_no_metric(tmp_path):
    # An infinite fetch efficiency was judged: log(NEW / inf) raised a math domain error.
    path = write_run(tmp_path / "r.json", [("fetch/pool/conc:100/n:1000/delay_ms:10/bytes:1024/keepalive:1", 0.1)])
    doc = json.loads(open(path).read())
    for e in doc["benchmarks"]:
        e["efficiency"] = math.inf
    (tmp_path / "r.json").write_text(json.dumps(doc))
    assert [m.kind for m in metrics.run_metrics(path)[0].values()] == [metrics.TIME]


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


def record(hist, sha, day, factor=1.0, seed=0, **ctx):
    rng = np.random.default_rng(seed)
    scope = ctx.get("concbench_scope", "full")
    name = "202612%02dT100000Z-%s%s-vm%s.json" % (day, sha[:12], "-dirty" if ctx.get("dirty") == "true" else "",
                                                  "" if scope == "full" else "-" + scope)
    return write_run(hist / name, suite(rng, slow="sum/pool/range/workers:2/n:1000000", factor=factor),
                     ctx=context(commit=sha, date="2026-12-%02dT10:00:00+00:00" % day, **ctx))


def test_a_commit_stands_for_its_newest_full_clean_record_from_this_machine(tmp_path):
    repo = tmp_path / "repo"
    shas = make_repo(repo, 2)
    hist = history(repo / "results" / "history", 10)
    first = record(hist, shas[0], 20, seed=1)
    chosen = record(hist, shas[1], 21, seed=2, factor=1.5)
    record(hist, shas[1], 22, seed=3, concbench_scope="quick")  # newer, but a quick run
    record(hist, shas[1], 23, seed=4, dirty="true")  # newer, but not the commit
    record(hist, shas[1], 24, seed=5, cpu_model="Intel Xeon")  # newer, but another machine
    # a revision with a slash is a revision, not a missing file
    for old, new in (("HEAD~1", "HEAD"), (shas[0][:7], shas[1]), ("main~1", shas[1][:12]),
                     ("refs/heads/main~1", "refs/heads/main")):
        proc = run_compare(old, new, "--repo", repo, "--json")
        assert proc.returncode == 1, proc.stderr  # the 1.5x slowdown of the chosen record
        assert json.loads(proc.stdout)["new"] == chosen
    # A file on one side, a commit on the other: the commit's record from the file's machine,
    # not its newer one from another.
    record(hist, shas[0], 25, seed=6, cpu_model="Intel Xeon")
    proc = run_compare(os.path.join(hist, os.path.basename(chosen)), "HEAD~1", "--repo", repo, "--json")
    assert proc.returncode in (0, 1), proc.stderr  # a verdict, not an error
    assert json.loads(proc.stdout)["new"] == first


def test_commit_errors(tmp_path):
    repo = tmp_path / "repo"
    shas = make_repo(repo, 3)
    hist = history(repo / "results" / "history", 10)
    record(hist, shas[0], 20)
    record(hist, shas[2], 21, dirty="true")
    one_line_error(run_compare("HEAD~2", "no-such-rev", "--repo", repo), "no-such-rev", "not a file, nor a commit")
    one_line_error(run_compare("HEAD~2", "no/such-rev", "--repo", repo), "no/such-rev", "not a file, nor a commit")
    one_line_error(run_compare("HEAD~2", "HEAD~1", "--repo", repo), "no record of commit %s" % shas[1][:12],
                   "./bench", "scripts/ab.py")
    one_line_error(run_compare("HEAD~2", "HEAD", "--repo", repo), "uncommitted changes", "not the commit")
    # A clean partial record of that commit stands for it, older as it is: the dirty full one is
    # not the commit (it was refused as "only records from a work tree with uncommitted changes").
    quick = record(hist, shas[2], 19, seed=7, concbench_scope="quick")
    proc = run_compare("HEAD~2", "HEAD", "--repo", repo, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["new"] == quick


def test_a_recorded_commit_git_no_longer_has_resolves_by_prefix(tmp_path):
    repo = tmp_path / "repo"
    shas = make_repo(repo, 1)
    hist = history(repo / "results" / "history", 10)
    record(hist, shas[0], 20)
    gone = record(hist, "b" * 40, 21, seed=9)  # rebased away: only the record remembers it
    proc = run_compare("HEAD", "bbbbbbb", "--repo", repo, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["new"] == gone


def test_runs_under_the_bare_interpreter_on_path(tmp_path, bare_python):
    # `python3` on PATH may lack scipy: pyenv_check re-executes under /usr/bin/python3.
    hist = history(tmp_path / "h", 12)
    old, new = pair(tmp_path)
    path = os.path.dirname(bare_python) + os.pathsep + os.environ.get("PATH", "")  # #!/usr/bin/env python3 finds it
    proc = subprocess.run([COMPARE, old, new, "--history", hist], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PATH=path))
    assert proc.returncode == 0, proc.stderr
    assert "0 suspected regressions" in proc.stdout


def test_a_script_run_again_under_the_system_python_lets_its_own_children_do_so_too(tmp_path, bare_python):
    # The re-run's guard against a loop stayed in the environment: a script of ours that a
    # re-run script started under the bare interpreter could not re-run itself, and failed
    # naming packages the machine has.
    scripts = os.path.join(REPO, "scripts")
    child, parent = tmp_path / "child.py", tmp_path / "parent.py"
    needs = ("import sys; sys.path.insert(0, %r); import pyenv_check; pyenv_check.require(['scipy']); "
             "import scipy\n" % scripts)
    child.write_text(needs + "print('child ran under', sys.executable)\n")
    parent.write_text(needs + "import subprocess; sys.exit(subprocess.run([%r, %r]).returncode)\n"
                      % (bare_python, str(child)))
    proc = subprocess.run([bare_python, str(parent)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "child ran under /usr/bin/python3" in proc.stdout, proc.stderr

