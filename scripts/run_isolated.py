#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Runs the concbench binary with each model (a sum model's kernels apart) in a fresh process and merges the runs.
"""usage: scripts/run_isolated.py (--out FILE | --history DIR [--python] [--render])
                               [--fixture PATH] BINARY [ARGS...]

Groups the benchmarks BINARY ARGS would run by model, a sum model's two kernels apart (sum/tbb/range,
sum/tbb/array, fetch/coro, fetch/open/coro), and runs each group in a process of its own with the
same ARGS, so no benchmark runs beside the threads, arenas, worker processes and memory another
model, or a wider run of its own, left behind. The R repetitions (--benchmark_repetitions, else
the suite's 3, or 1 with --quick) are R rounds: each round runs every group once, in a fresh process
with one repetition, the groups in a random order (from CONCBENCH_ROUND_SEED, else a random seed;
the record keeps it), so each repetition is a process of its own and a slow spell of the machine
falls on one round of many models, not on every repetition of one. The fetch models share one
fixture server started here (PATH), unless ARGS name --fixture_url or --fetch_urls. The
processes' Google Benchmark JSON is merged into one record (one context, every benchmark) that
any reader of one process's JSON reads.
--out FILE writes it to FILE, --history DIR into DIR named by records.record_name (date, commit,
host, scope: full, quick or partial); --python then runs scripts/python_reference.py into
DIR/python/, and --render runs scripts/plot.py: a full run into the results page (results/), a quick or
partial one into partial/ beside DIR (or FILE), so that a filtered run never replaces the reference page.
A process that fails is reported and the run goes on: what it did not finish is recorded as errors.

Exit status: 0 when every benchmark ran, 1 when a process failed or a benchmark erred (the record
is written and says which; plot.py finding nothing to show in it is that failure too), when no process could start (the fixture
server did not; nothing is written) or when the record could not be written after all (the line
says where the run is kept), 2 on bad input: a BINARY, FILE or DIR that cannot be run or written
is found before anything runs (one line; nothing is written), 3 could not finish (no room for its
output, a bug, or plot.py or the Python reference could not finish; the record is written and
the lines say what did not finish), 129 hung up, 130 interrupted, 143 terminated (one line says
whether the record was written).
Standard library only: runs under any python3.
"""
import collections
import contextlib
import csv
import ctypes
import functools
import io
import itertools
import json
import math
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import cli
import records
from fmt import first_few, plural

PROG = "concbench"
USAGE = " ".join(__doc__.split("\n\n")[0].split())  # the docstring's first paragraph, on one line
SCRIPTS = os.path.dirname(os.path.abspath(__file__))
# Flags this script decides for every process, so the caller's are taken out.
_OWN_FLAGS = ("--benchmark_filter=", "--benchmark_out=", "--benchmark_out_format=", "--progress=")
# What the mpi model says when Open MPI's spawn never returned, and for each later mpi
# benchmark of that process (benchmarks/sum/mpi.cpp; README, "mpi").
ERRED = 3  # the binary's exit status after a run in which a benchmark erred: the record says which
SPAWN_HANG = ("MPI_Comm_spawn did not return within", "MPI cannot be used again in this process")
# The environment is unstable when, in the half second before the run, other processes kept
# more than this share of the CPUs busy, or when the hypervisor took more than this share of
# the run's CPU time for other guests (steal).
BUSY_LIMIT, STEAL_LIMIT = 0.25, 0.02
FIXTURE_START_SECONDS = 10  # the fixture prints its port as soon as it listens
DEFAULT_REPETITIONS = 3  # the suite's, without --benchmark_repetitions or --quick (benchmarks/main.cpp)
# The suite's own defaults, given: the run is still the suite as it runs by default (a test
# compares them with what the binary's --help says it sets).
DEFAULT_FLAGS = ("--benchmark_repetitions=%d" % DEFAULT_REPETITIONS, "--benchmark_min_time=0.1")
QUICK_FLAGS = ("--benchmark_repetitions=1", "--benchmark_min_time=0.02")  # --quick's, the same way
# How long one benchmark process may run before it is stopped and fails: the suite's slowest
# take about 20 s (sum/mpi/array's 9 benchmarks, the largest fetch sweeps), so a hung one costs
# minutes, not the run. A group of more benchmarks (a machine of more threads sweeps more
# workers) gets PER_BENCHMARK_TIMEOUT each, a larger --benchmark_min_time than the suite's 0.1 s
# in proportion more; CONCBENCH_PROCESS_TIMEOUT=S sets it (ab.py: --process-timeout).
DEFAULT_PROCESS_TIMEOUT, PER_BENCHMARK_TIMEOUT, MAX_PROCESS_TIMEOUT = 900, 60, 999_999
# Google Benchmark's flags that the binary also takes from $BENCHMARK_<FLAG> (benchmarks/main.cpp,
# flags_from_environment; a test holds the two lists equal).
LIBRARY_FLAGS = ("benchmark_list_tests", "benchmark_filter", "benchmark_min_time", "benchmark_min_warmup_time",
                 "benchmark_repetitions", "benchmark_enable_random_interleaving", "benchmark_report_aggregates_only",
                 "benchmark_display_aggregates_only", "benchmark_format", "benchmark_out_format", "benchmark_out",
                 "benchmark_color", "benchmark_counters_tabular", "benchmark_perf_counters", "benchmark_time_unit")
FROM_ENVIRONMENT = set()  # the flags (names) that flags_from_environment made of their variables


def flags_from_environment(args, environ=os.environ):
    """`args` behind the flags given as variables and not as flags, as the binary reads them (set
    is given, even empty, but an empty $BENCHMARK_OUT); the variables leave `environ`, so ./bench
    and ab.py decide with them, record them, and their processes get them only as flags."""
    given = [f for f in LIBRARY_FLAGS
             if environ.get(f.upper(), "") != "" or (f != "benchmark_out" and f.upper() in environ)]
    given = [f for f in given if not any(a == "--" + f or a.startswith("--%s=" % f) for a in args)]
    flags = ["--%s=%s" % (f, environ[f.upper()]) for f in given]
    FROM_ENVIRONMENT.clear()  # each program calls this once; a test's call leaves no trace in the next
    FROM_ENVIRONMENT.update(given)
    for f in LIBRARY_FLAGS:
        environ.pop(f.upper(), None)
    return flags + list(args)


def given_as(message):
    """MESSAGE, an error, saying where the first flag it names came from when that was no flag
    but its variable, as the binary says it (its processes get such a variable as a flag)."""
    flag = re.search(r"--(benchmark_[a-z_]+)(?=[=:])", message)
    return message + (" (given as $%s)" % flag.group(1).upper() if flag and flag.group(1) in FROM_ENVIRONMENT else "")


class RunError(cli.Failure):
    """The run cannot go on; exit_code says how it ends (1 unless given: 2, bad input)."""


class NotStarted(Exception):
    """A group's process did not start (its binary gone or rebuilt): its message says why."""


say = functools.partial(cli.say, PROG)


def flag_value(args, prefix):
    return next((a[len(prefix):] for a in reversed(args) if a.startswith(prefix)), None)


def describe_exit(code):
    if code >= 0:
        return "exited with status %d" % code
    try:
        return "was killed by " + signal.Signals(-code).name
    except ValueError:
        return "was killed by signal %d" % -code


# The binary as it was when its benchmarks were listed, by path: a process it starts after a
# rebuild (another shell's ./bench, a test's build) would run another build, with benchmarks
# added, renamed or gone, under this run's record.
_LISTED_STAMPS = {}


def binary_stamp(binary):
    """What changes when BINARY is rebuilt (the linker writes a new file): inode, size, mtime."""
    with contextlib.suppress(OSError):
        st = os.stat(binary)
        return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns
    return None


def list_benchmarks(binary, args):
    """Names (with Google Benchmark's /real_time) that BINARY ARGS would run, in run order; the
    binary's stamp at its first listing is kept for run_group to check (a rebuild between two
    listings then fails the processes too)."""
    _LISTED_STAMPS.setdefault(binary, binary_stamp(binary))
    filt = flag_value(args, "--benchmark_filter=")
    cmd = [binary] + child_args(args) + ["--benchmark_list_tests"]
    cmd += [] if filt is None else ["--benchmark_filter=" + filt]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except OSError as e:  # gone (rebuilt, removed) since the run checked it, or between its two listings
        raise RunError("%s cannot run: %s" % (binary, e.strerror or e))
    if proc.returncode != 0:
        # BINARY explained itself in one line ("concbench: ..."): that line is the message.
        last = (proc.stderr.strip().splitlines() or [binary + " " + describe_exit(proc.returncode)])[-1]
        raise RunError(given_as(re.sub("^%s: " % PROG, "", last)), 2 if proc.returncode == 2 else 1)
    names = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    # A flag the binary's Google Benchmark did not know once got its usage text and exit 0,
    # whose words then ran as 17 processes: a benchmark name has no space and a slash.
    odd = next((name for name in names if " " in name or "/" not in name), None)
    if odd:
        raise RunError("%s does not list benchmark names with these flags (one it answers with its usage?): %r"
                       % (binary, odd[:80]), 2)
    if not names:
        raise RunError(given_as("no benchmark matches --benchmark_filter=%s (--benchmark_list_tests lists them)"
                                % filt), 2)
    return names


def built_commit(binary):
    """The commit BINARY's help says it was built from, or None (a build older than that line, or
    one built outside git)."""
    helps = subprocess.run([binary, "--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    m = re.search(r"^Built from commit ([0-9a-f]{40}) ", helps.stdout, re.M)
    return m.group(1) if m else None


def child_args(args):
    return [a for a in args if not a.startswith(_OWN_FLAGS)]


def model_of(name):
    """A benchmark's workload and model, e.g. sum/tbb, fetch/open/coro: the process ab.py runs it
    in, as its calibration was made (results/calibration)."""
    parts = name.split("/")
    return "/".join(parts[:3] if parts[:2] == ["fetch", "open"] else parts[:2])


def process_of(name):
    """The process a benchmark runs in: its name up to its first parameter, which is its model and
    a sum model's kernel (sum/tbb/array, fetch/coro, fetch/open/coro). A sum model's range and
    array sweeps run apart because the threads of a wider run stay: oneTBB keeps an arena's
    workers asleep and libgomp its team, so in one process array at W = 1, after range at W = 4,
    started beside 3 idle threads (process_threads)."""
    return "/".join(itertools.takewhile(lambda part: ":" not in part, name.split("/")))


def group_by(names, key=process_of):
    """[(key, its names)] in run order."""
    groups = {}
    for name in names:
        groups.setdefault(key(name), []).append(name)
    return list(groups.items())


def needs_own_fixture(args):
    """Whether the fetch models need a fixture server started: ARGS name no server or real URLs."""
    return not any(a.startswith(("--fixture_url=", "--fetch_urls=")) for a in args)


def uses_fixture(model):
    """The fetch models, wrk measuring the fixture itself, and the client floor."""
    return model.startswith("fetch/") or model in ("peak/wrk", "peak/raw_http")


class Fixture:
    """The fixture server the fetch models share, in a process of its own."""

    def __init__(self, path):
        # Said when the run begins, not when the first fetch model comes after the sum models.
        if not cli.runnable(path):
            raise RunError("the fixture server %s is not an executable file" % path, 2)
        self.path, self.proc, self.url, self.error = path, None, None, None

    def start(self):
        """The server's URL, started on first use; RunError (the same each time) if it cannot start,
        or once it has ended: the benchmarks that used it after that erred, and those that would
        use it now fail saying why, not each with a refused connection."""
        if self.error:
            raise RunError(self.error)
        if self.proc is not None and self.proc.poll() is not None:
            self.error = "the fixture server %s during the run" % describe_exit(self.proc.returncode)
            raise RunError(self.error)
        if self.proc is not None:
            return self.url
        try:  # --parent-pid: it exits with this script, however this script ends
            self.proc = subprocess.Popen([self.path, "--parent-pid=%d" % os.getpid()],
                                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        except OSError as e:  # exec format error, a file busy being written
            self.error = "the fixture server %s cannot run: %s" % (self.path, e.strerror or e)
            raise RunError(self.error) from None
        line = self._first_line()
        m = re.fullmatch(rb"PORT (\d+)", line.strip()) if line is not None else None
        if not m:
            self.stop()
            self.error = ("the fixture server did not start (it printed %r)" % line.decode(errors="replace").strip()
                          if line is not None else
                          "the fixture server said no port within %d s" % FIXTURE_START_SECONDS)
            raise RunError(self.error)
        self.url = "http://127.0.0.1:" + m.group(1).decode()
        return self.url

    def _first_line(self):
        """What the server printed up to its first newline or its exit, or None when it said no
        whole line within FIXTURE_START_SECONDS: one that hangs, even mid-line, must not hang the run."""
        got, fd = b"", self.proc.stdout.fileno()
        deadline = time.monotonic() + FIXTURE_START_SECONDS
        while b"\n" not in got:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:  # it ended
                break
            got += chunk
        return got.split(b"\n", 1)[0]

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None


def cpu_times():
    """(busy, steal, total) jiffies over all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    total = user + nice + system + idle + iowait + irq + softirq + steal
    return total - idle - iowait - steal, steal, total


def share(before, after, index):
    return (after[index] - before[index]) / max(after[2] - before[2], 1)


def load_avg():
    return "%.2f %.2f %.2f" % os.getloadavg()


class Environment:
    """What else the machine was doing: load and busy CPUs before the run, steal during it."""

    def __init__(self, sample_s=0.5):
        # ab.py's rounds pass 0: their sides run seconds apart, so both see the same machine.
        self.load_before, first = load_avg(), cpu_times()
        time.sleep(sample_s)
        self.start = cpu_times()
        self.busy_before = share(first, self.start, 0) if sample_s else None
        self.stopped_before = Pauses.stopped

    def finish(self, context):
        """Writes what it saw into context; returns why the environment was unstable, if it was."""
        steal = share(self.start, cpu_times(), 1)
        context["load_avg_before"], context["load_avg_after"] = self.load_before, load_avg()
        reasons = []
        if self.busy_before is not None:
            context["cpu_busy_before"] = "%.0f%%" % (100 * self.busy_before)
            if self.busy_before > BUSY_LIMIT:
                reasons.append("other processes kept %s of the CPUs busy before the run"
                               % context["cpu_busy_before"])
        context["steal_during"] = "%.1f%%" % (100 * steal)
        if steal > STEAL_LIMIT:
            reasons.append("the hypervisor stole %s of the CPU time during the run" % context["steal_during"])
        quota = records.parse_number(str(context.get("cpu_quota", "none")))
        threads = records.context_int(context, "hardware_threads")
        # The threads run on every CPU until the period's time is used up, then none runs until the next.
        if quota and threads and quota < threads:
            reasons.append("a cgroup CPU quota of %s CPUs, fewer than its %s hardware threads, can stop its threads "
                           "for the rest of each period" % (context["cpu_quota"], context["hardware_threads"]))
        stopped = Pauses.stopped - self.stopped_before
        if stopped > 0:  # a benchmark's real time ran on while it was stopped
            reasons.append("it was stopped (Ctrl-Z) for %.1f s while a benchmark process ran, which the "
                           "repetition then timed counted" % stopped)
        if context.get("concbench_settings_changed"):  # run_processes saw them differ between processes
            reasons.append("machine settings changed during the run (%s)" % context["concbench_settings_changed"])
        context["environment_unstable"] = "; ".join(reasons) or "no"
        return reasons


def read_record(path, pid):
    """(context, benchmarks, complete) from the JSON of process pid. The binary writes it as
    PATH.tmp.PID and renames that onto path when its run is over (removing it on SIGINT, SIGTERM,
    SIGHUP or SIGPIPE), so a process that died mid-run (SIGKILL, a crash) leaves it there cut off: the
    context and the benchmarks written before the cut are kept."""
    temp = "%s.tmp.%d" % (path, pid)
    for name in (path, temp):
        with contextlib.suppress(OSError), open(name, encoding="utf-8") as f:
            text = f.read()
            break
    else:  # it died before writing
        return {}, [], False
    # Left where it is: a binary whose rename failed names it in its last line, which the
    # failure quotes (the run's temporary directory goes at the end anyway).
    with contextlib.suppress(ValueError):
        doc = json.loads(text)
        return doc.get("context", {}), doc.get("benchmarks", []), True
    decoder, separators, context, benchmarks = json.JSONDecoder(), re.compile(r"[\s,]*"), {}, []
    try:  # each value that was written whole, until the first that was not
        context, pos = decoder.raw_decode(text, text.index("{", text.index('"context"')))
        pos = text.index("[", text.index('"benchmarks"', pos)) + 1
        while True:
            entry, pos = decoder.raw_decode(text, separators.match(text, pos).end())
            benchmarks.append(entry)
    except ValueError:
        return context, benchmarks, False


def process_stat(pid):
    """(state, parent pid) of a process from /proc ("R", "S", "Z" a zombie, ...), or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:  # "PID (COMM) STATE PPID ...", COMM may hold ")"
            state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
        return state, int(ppid)
    except (OSError, ValueError, IndexError):
        return None


def descendants(pid):
    """The processes below pid (children, theirs, ...), from /proc; any may end while it is read."""
    parents = {}
    for entry in os.listdir("/proc"):
        stat = process_stat(int(entry)) if entry.isdigit() else None
        if stat:
            parents.setdefault(stat[1], []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def die_with_parent(parent):
    """In a benchmark process before it runs: killed (SIGTERM) when this script ends, even by
    SIGKILL, so no benchmark, worker or MPI rank outlives a killed ./bench (Linux's
    PR_SET_PDEATHSIG; the process then ends as the benchmark binary ends on SIGTERM)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # this script died before the call
        os._exit(1)


class Pauses:
    """Ctrl-Z stops the terminal's foreground process group: this script, and on the console the
    benchmark process in it, but not one in a session of its own (output to a pipe), which ran
    on. While such a process runs, Ctrl-Z stops it too, then this script, and `fg` resumes both.
    The time stopped is not the process's: its timeout does not count it (a benchmark process
    stopped for longer was killed as hung once it was resumed)."""
    stopped = 0.0  # seconds this script has spent stopped by Ctrl-Z while a benchmark process ran
    running = False  # whether one runs now
    session = None  # its process group, when it is in a session of its own
    pausing = False  # in on_tstp: a second Ctrl-Z then would stop this script twice

    @staticmethod
    def on_tstp(signum, frame):
        if Pauses.pausing:
            return
        Pauses.pausing = True
        group, start = Pauses.session, time.monotonic()
        if group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGSTOP)
        try:
            # Stopped as Ctrl-Z stops it: not at all in a process group no terminal could resume
            # (an orphaned one: `nohup ./bench &` once its shell has gone), where SIGSTOP would.
            signal.signal(signal.SIGTSTP, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTSTP)  # until SIGCONT (fg, or kill %N after its SIGTERM)
        finally:  # SIGTERM's sys.exit comes here: the process then acts on the SIGTERM it is sent
            signal.signal(signal.SIGTSTP, Pauses.on_tstp)
            Pauses.stopped += time.monotonic() - start if Pauses.running else 0
            if group:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGCONT)
            Pauses.pausing = False

    @staticmethod
    @contextlib.contextmanager
    def handled():
        """Ctrl-Z handled as the class says while inside; ignored (a background job's) stays ignored."""
        before = signal.getsignal(signal.SIGTSTP)
        if before is not signal.SIG_IGN:
            signal.signal(signal.SIGTSTP, Pauses.on_tstp)
        try:
            yield
        finally:
            signal.signal(signal.SIGTSTP, before)


def reason_in(stderr):
    """The binary's reason for an error in what it wrote to stderr: its last "concbench: " line
    (Google Benchmark's context and Open MPI's warnings go there too); "" if none."""
    return next((line.strip() for line in reversed((stderr or "").splitlines())
                 if line.startswith(PROG + ": ")), "")


class StderrTail:
    """A process's stderr passed on to this script's as it comes, and kept: the binary ends an
    error with its reason, which the failure line and the record's errors then give (on the
    console it went by, and the record said only the exit status)."""

    def __init__(self):
        self.read_end, self.write_end = os.pipe()
        self.lines = collections.deque(maxlen=50)
        self.thread = threading.Thread(target=self._pass_on, daemon=True)

    def _pass_on(self):
        with open(self.read_end, "rb", buffering=0) as pipe:
            for line in iter(pipe.readline, b""):
                with contextlib.suppress(OSError, ValueError):  # this script's stderr gone: kept all the same
                    sys.stderr.buffer.write(line)
                    sys.stderr.flush()
                self.lines.append(line.decode(errors="replace"))

    def started(self):
        """Called once the process has its copy of the write end."""
        os.close(self.write_end)
        self.write_end = None
        self.thread.start()

    def close(self):
        """What the process wrote, however it went (Popen or the thread failed, an interrupt): a
        process it started (wrk, an Open MPI daemon) may hold the pipe open, so this waits a
        second at most, and the thread closes its end when that one is done."""
        if self.write_end is not None:
            os.close(self.write_end)
            self.write_end = None
        if self.thread.ident is None:  # never started: its end is still here
            os.close(self.read_end)
        else:
            self.thread.join(1)
        return "".join(self.lines.copy())  # copy() is one step the thread's append cannot enter


def communicate(proc, timeout):
    """proc.communicate() that raises TimeoutExpired after `timeout` seconds not stopped by Ctrl-Z."""
    stopped_before, start = Pauses.stopped, time.monotonic()
    left = lambda: timeout - (time.monotonic() - start - (Pauses.stopped - stopped_before))  # noqa: E731
    while True:
        try:
            return proc.communicate(timeout=max(left(), 0.01))
        except subprocess.TimeoutExpired:
            if left() <= 0:
                raise


def run_group(binary, args, group, names, first, total, out, fixture_url, stdout, timeout, env=None, who=None):
    """Runs one group's benchmarks in a fresh process, numbered from `first` of `total` (0: not);
    its failures name it "the process of WHO" (default: the group). After `timeout` seconds the
    process is stopped, as SIGTERM stops the binary, and killed 5 s later, and fails: a hung
    process then costs the benchmarks it had not finished, not the whole run or comparison.
    When its output goes to a pipe it runs in a session of its own, and the signals go to all of
    it: a process it started (wrk, an Open MPI daemon) would hold the pipe open, and the wait
    for it, without end. On the console it stays in this script's process group, so the
    terminal's Ctrl-C, Ctrl-Z and hang-up reach it as they reach this script.
    Returns (context, benchmarks, failure or None); raises NotStarted when no process started."""
    pattern = "^(%s)$" % "|".join(re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", n) for n in names)
    cmd = [binary] + child_args(args) + [
        "--benchmark_filter=" + pattern, "--benchmark_out=" + out, "--benchmark_out_format=json"]
    cmd += ["--progress=%d/%d" % (first, total)] if total else []
    cmd += ["--fixture_url=" + fixture_url] if fixture_url and uses_fixture(group) else []
    if os.path.exists(out):  # a process that dies before writing must not pass for an earlier one
        os.unlink(out)
    session = stdout is not None
    stamp = binary_stamp(binary)  # None: gone, which Popen says
    if stamp is not None and _LISTED_STAMPS.get(binary, stamp) != stamp:
        raise NotStarted("the process of %s did not start: %s changed after the run listed its benchmarks "
                         "(rebuilt?)" % (who or group, binary))
    tail = None if stdout == subprocess.DEVNULL else StderrTail()  # else communicate() keeps it all
    try:
        said, finished, proc = run_process(cmd, stdout, session, timeout, env, tail, out)
    except OSError as e:  # the binary went (rebuilt, removed) after the run began: the run goes on
        raise NotStarted("the process of %s could not start (%s: %s)" % (who or group, binary, e.strerror or e))
    finally:
        if tail:
            said = tail.close()
    if proc.returncode == -signal.SIGPIPE and stdout is None and cli.stdout_closed():
        # It printed to this script's stdout, whose reader is gone (`./bench | head`): the run
        # ends here, as this script's own print would end it, and no record is written.
        raise BrokenPipeError("the reader of stdout is gone")
    context, benchmarks, complete = finished or read_record(out, proc.pid)
    failure = None
    if finished:
        failure = "the process of %s did not finish in %g s, and was stopped" % (who or group, timeout)
    elif proc.returncode != 0 and not (proc.returncode == ERRED and complete
                                       and any(b.get("error_occurred") for b in benchmarks)):
        reason = reason_in(said)
        failure = "the process of %s %s" % (who or group, describe_exit(proc.returncode))
        failure += " (%s)" % reason if reason else ""
    elif not complete:
        failure = "the process of %s wrote no complete record" % (who or group)
    done = {b.get("run_name", b.get("name")) for b in benchmarks}
    missing = [n for n in names if n not in done]
    if missing and not failure:  # its binary's list was not the run's: a complete record without them
        failure = "the process of %s finished without %s it was given (%s)" % (
            who or group, plural(len(missing), "benchmark"), first_few(missing, 1))
        benchmarks += errored(missing, failure)
    elif failure:  # what it did not finish is in the record as an error saying why
        benchmarks += errored(missing, failure + " before this benchmark finished")
    return context, benchmarks, failure


def run_process(cmd, stdout, session, timeout, env, tail, out):
    """run_group's process, started and waited for: (its stderr when captured, the record it had
    written when its time ran out or None, the Popen). What it printed to a pipe is dropped: the
    record is the output (a process stopped for its time printed none of what it finished)."""
    parent = os.getpid()
    # Popen, not run: read_record needs the process's id
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stdout, text=True, env=env,
                            stderr=tail.write_end if tail else subprocess.PIPE,
                            start_new_session=session, preexec_fn=lambda: die_with_parent(parent))
    if tail:
        tail.started()
    with proc:

        def stop(sig):
            if session:  # then SIGCONT, as a shell's kill does for its job, so that one stopped acts on it
                for each in (sig, signal.SIGCONT):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, each)
                return
            # In this script's process group (which kill %N continues): the binary and what it
            # started (workers, wrk, MPI ranks), found before the signal (then they would have
            # another parent).
            for pid in [proc.pid] + descendants(proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)

        def stopped(wait):  # stops it, then kills it, 5 s apart; None when it outlived both
            for sig in (signal.SIGTERM, signal.SIGKILL):
                stop(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    return wait(5)
            return None
        finished = None  # on a timeout, what it had written: SIGTERM makes the binary remove it
        Pauses.session, Pauses.running = proc.pid if session else None, True
        try:
            _, said = communicate(proc, timeout)
        except subprocess.TimeoutExpired:
            finished = read_record(out, proc.pid)
            # None: a process that left the session holds the pipe
            _, said = stopped(lambda t: proc.communicate(timeout=t)) or (None, "")
            if proc.returncode in (0, ERRED):  # it ended on its own as the time ran out: its record stands
                finished = None
        except BaseException:  # an interrupt ends it as SIGTERM ends the binary; the exit waits
            stopped(lambda t: proc.wait(timeout=t))
            raise
        finally:
            Pauses.session, Pauses.running = None, False
    return said, finished, proc


def errored(names, message):
    """Entries for benchmarks that did not finish, each an error saying `message`."""
    return [{"name": n, "run_name": n, "run_type": "iteration", "repetitions": 1, "repetition_index": 0,
             "threads": 1, "error_occurred": True, "error_message": message, "iterations": 0, "real_time": 0,
             "cpu_time": 0, "time_unit": "ms"} for n in names]


def run_model(binary, args, group, members, first, total, out_stem, fixture, stdout, timeout, env=None, who=None):
    """run_group, with the fixture server's URL (started on first use) if the group fetches from
    it, and once more in a fresh process for the benchmarks that failed because Open MPI's
    spawn hung (a defect of Open MPI 4.1 with PMIx 4.2, not of the model: the process is
    unusable for MPI from then on, a fresh one is not). Returns (context, benchmarks, failure
    or None, what was rerun or None, whether a process ran): a server that cannot start, or a
    binary gone or rebuilt since the run listed it, fails the group's benchmarks, and the caller
    goes on."""
    try:
        fixture_url = fixture.start() if fixture and uses_fixture(group) else None
    except RunError as e:  # the models that need no server, and those that ran, are kept
        failure = "the process of %s did not run: %s" % (who or group, e)
        return {}, errored(members, failure), failure, None, False
    try:
        context, benchmarks, failure = run_group(binary, args, group, members, first, total, out_stem + ".json",
                                                 fixture_url, stdout, timeout, env, who)
    except NotStarted as e:
        return {}, errored(members, str(e)), str(e), None, False
    hung = [b.get("run_name", b["name"]) for b in benchmarks
            if b.get("error_occurred") and any(s in b.get("error_message", "") for s in SPAWN_HANG)]
    if not hung or failure:
        return context, benchmarks, failure, None, True
    count = plural(len(hung), "benchmark")
    say("Open MPI's spawn hung in the process of %s; its %s that failed on it run once more in a fresh "
        "process" % (who or group, count))
    # Numbered as they were: the ones that failed on the hang are the hung one and all after it.
    again_first = first + (members.index(hung[0]) if hung[0] in members else 0)
    try:
        _, again, failure = run_group(binary, args, group, hung, again_first, total, out_stem + "-again.json",
                                      fixture_url, stdout, timeout, env, who)
    except NotStarted as e:
        again, failure = errored(hung, str(e)), str(e)
    fresh = {}  # the new entries take the place of the hung ones, in run order
    for b in again:
        fresh.setdefault(b.get("run_name", b["name"]), []).append(b)
    merged = []
    for b in benchmarks:
        name = b.get("run_name", b["name"])
        # in the family of the entry they replace: the fresh process numbered its own from 0
        same = {k: b[k] for k in ("family_index", "per_family_instance_index") if k in b}
        merged += [dict(f, **same) for f in fresh.pop(name, [])] if name in hung else [b]
    return context, merged, failure, "%s after Open MPI's spawn hung" % count, True


def merge(parts, isolation, context=None):
    """One Google Benchmark document from the processes' (context, benchmarks), in the order given,
    with the given context or the first part's and `isolation` (how the processes ran) in it.
    family_index is renumbered so it stays unique across processes, as in a single run."""
    context = dict(context) if context else next((dict(c) for c, _ in parts if c), {})
    context["concbench_isolation"] = isolation
    merged, offset = [], 0
    for _, benchmarks in parts:
        families = {}
        for b in benchmarks:
            key = b.get("family_index", b.get("run_name"))
            merged.append(dict(b, family_index=families.setdefault(key, offset + len(families))))
        offset += len(families)
    return {"context": context, "benchmarks": merged}


def write_json(doc, path, indent=2, exclusive=False):
    """Writes under a temporary name and renames, so FILE is whole or absent; makes its directory.
    A symbolic link's file is replaced, not the link, as the binary does. `exclusive`: never
    replaces a file, FileExistsError instead."""
    path = os.path.realpath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=indent)
            f.write("\n")
        os.chmod(tmp, 0o644)
        if exclusive:  # a link fails where a name is taken, as a rename would not
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise
            except OSError:  # no hard links here (vfat, some network mounts): the name is taken by making it
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                os.replace(tmp, path)
            else:
                os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def repetitions(args):
    """The repetitions ARGS ask for (the binary has checked the flag): benchmarks/main.cpp's defaults."""
    value = flag_value(args, "--benchmark_repetitions=")
    return int(value) if value is not None else 1 if "--quick" in args else DEFAULT_REPETITIONS


# Google Benchmark's statistics (src/statistics.cc), in floating point as it computes them: a NaN
# or an infinite counter gives NaN or inf, as there, instead of stopping the run.
def _mean(v):
    return sum(v) / len(v) if v else 0.0


def _median(v):
    s, h = sorted(v), len(v) // 2
    return _mean(v) if len(v) < 3 else s[h] if len(v) % 2 else (s[h - 1] + s[h]) / 2


def _stddev(v):  # the sample's, from the mean of the squares; 0 below two values
    if len(v) < 2:
        return 0.0
    m = _mean(v)  # m * m, not m ** 2: past 1e154 ** raises where * gives inf
    var = len(v) / (len(v) - 1) * (sum(x * x for x in v) / len(v) - m * m)
    return 0.0 if var < 0 else math.sqrt(var)


def _cv(v):
    m, sd = _mean(v), _stddev(v)
    return 0.0 if len(v) < 2 else sd / m if m else math.inf if sd > 0 else math.nan


STATISTICS = {"mean": _mean, "median": _median, "stddev": _stddev, "cv": _cv}


def aggregates(entries):
    """Google Benchmark's mean, median, stddev and cv entries over one benchmark's repetitions, as
    one process with repetitions writes them: over the repetitions that ran, of the times and of
    each counter any of them has; iterations is the number of repetitions, errored ones too; the
    label only where every repetition has the same one. Empty when fewer than two ran."""
    ran = [e for e in entries if not e.get("error_occurred")]
    if len(ran) < 2:
        return []
    first = ran[0]
    values = ["real_time", "cpu_time"] + list(dict.fromkeys(
        k for e in entries for k, v in e.items()
        if k not in records.GB_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool)))
    labels = {e.get("label", "") for e in entries}
    label = {"label": labels.pop()} if len(labels) == 1 and "" not in labels else {}
    return [dict({k: first[k] for k in ("family_index", "per_family_instance_index") if k in first},
                 name=first["run_name"] + "_" + stat, run_name=first["run_name"], run_type="aggregate",
                 repetitions=first["repetitions"], threads=first.get("threads", 1), aggregate_name=stat,
                 aggregate_unit="percentage" if stat == "cv" else "time", iterations=len(entries),
                 time_unit=first.get("time_unit", "ns"), **label,
                 **{k: f([e[k] for e in ran if k in e]) for k in values})
            for stat, f in STATISTICS.items()]


def aggregates_only(args):
    """Whether ARGS ask Google Benchmark to report only the aggregates of repetitions: the last
    --benchmark_report_aggregates_only, read as Google Benchmark reads a bool flag (bare is true)."""
    flag = "--benchmark_report_aggregates_only"
    given = [a for a in args if a == flag or a.startswith(flag + "=")]
    value = given[-1][len(flag) + 1:] if given else "false"
    return value == "" or (value.lower() not in ("no", "false", "off") and value[0].isalnum()
                           and value[0] not in "0fFnN")


def round_seed():
    """The seed the rounds' order is drawn from, kept in the record so an order can be run again."""
    seed = os.environ.get("CONCBENCH_ROUND_SEED") or str(random.SystemRandom().randrange(2 ** 32))
    if not re.fullmatch("[0-9]+", seed):
        raise RunError("CONCBENCH_ROUND_SEED=%s is not a whole number" % seed, 2)
    return seed


def process_timeout(args, benchmarks):
    """The seconds a process of ARGS running `benchmarks` benchmarks may run (DEFAULT_PROCESS_TIMEOUT)."""
    given = os.environ.get("CONCBENCH_PROCESS_TIMEOUT")
    if given is not None:
        if not re.fullmatch("[1-9][0-9]{0,5}", given):
            raise RunError("CONCBENCH_PROCESS_TIMEOUT=%s is not a whole number of seconds from 1 to %d"
                           % (given, MAX_PROCESS_TIMEOUT), 2)
        return int(given)
    text = flag_value(args, "--benchmark_min_time=") or "0.1"  # as strtod reads it; the binary refuses the rest
    try:
        min_time = float(text)
    except ValueError:
        try:
            min_time = float.fromhex(text)
        except ValueError:
            min_time = 0.1
    seconds = max(DEFAULT_PROCESS_TIMEOUT, PER_BENCHMARK_TIMEOUT * benchmarks) * max(1.0, min_time / 0.1)
    return round(min(MAX_PROCESS_TIMEOUT, seconds))  # capped first: round(inf) raises


def with_aggregates(entries, repeated, only):
    """One group's entries over the rounds as one process with repetitions writes them: each
    benchmark's repetitions together, then (when repeated) its aggregates; with only (the
    aggregates-only flag) the repetitions are left out where aggregates replace them, but a round
    that erred still says so."""
    by_name = {}
    for e in entries:
        by_name.setdefault(e.get("run_name", e["name"]), []).append(e)
    out = []
    for reps in by_name.values():  # a round that failed did not say the family
        family = next((e["family_index"] for e in reps if "family_index" in e), None)
        reps = [e if family is None else dict(e, family_index=family) for e in reps]
        aggs = aggregates(reps) if repeated else []
        out += [e for e in reps if not (only and aggs) or e.get("error_occurred")] + aggs
    return out


def run_processes(binary, args, groups, fixture, tmp, stdout):
    """Each group in a process of its own, once a round, each stopped after process_timeout.
    Returns the merged record and the processes' failures."""
    # Builds of older commits take no --progress=K/N: they number each process's benchmarks from 1.
    try:
        helps = subprocess.run([binary, "--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
    except OSError:  # gone since it was listed: each process says so
        helps = ""
    rounds = repetitions(args)
    total = rounds * sum(len(members) for _, members in groups) if "--progress=" in helps else 0
    if rounds > 1:
        args = [a for a in args if not a.startswith("--benchmark_repetitions=")] + ["--benchmark_repetitions=1"]
    seed = round_seed()
    by_group = {group: [] for group, _ in groups}  # group -> its entries, over the rounds
    failures, seconds, reruns, first, k, settings = [], {}, {}, 1, 0, {}
    order, started, trees, first_context, ran = random.Random(int(seed)), time.monotonic(), set(), {}, False
    for r in range(rounds):
        for group, members in order.sample(groups, len(groups)) if rounds > 1 else groups:
            k += 1
            say("process %d of %d: %s, %s%s" % (k, rounds * len(groups), group, plural(len(members), "benchmark"),
                                                ", round %d of %d" % (r + 1, rounds) if rounds > 1 else ""))
            who = "%s in round %d of %d" % (group, r + 1, rounds) if rounds > 1 else group
            process_started = time.monotonic()
            context, benchmarks, failure, rerun, process_ran = run_model(
                binary, args, group, members, first, total, os.path.join(tmp, str(k)), fixture, stdout,
                process_timeout(args, len(members)), who=who)
            if process_ran:
                ran = True
                seconds[group] = round(seconds.get(group, 0) + time.monotonic() - process_started, 1)
            first_context = first_context or context  # the record's: its date is when the run began
            if context:
                trees.add((context.get("concbench_commit"), context.get("concbench_dirty")))
                for key in records.MACHINE_SETTINGS:
                    if context.get(key) not in (None, ""):
                        settings.setdefault(key, {})[str(context[key])] = None
            # Round r is repetition r of `rounds`, as if one process had run them all.
            by_group[group] += [dict(b, repetitions=rounds, repetition_index=r) if rounds > 1 else b
                                for b in benchmarks]
            if rerun:
                reruns[group] = rerun
            if failure:
                say(failure + "; the run goes on")
                failures.append(failure)
            first += len(members)
    if not ran:  # the fixture server or the binary failed every group: nothing to record
        raise RunError("no benchmark process ran: %s" % failures[0])
    only = aggregates_only(args)
    isolation = "one process per model and kernel%s (%d processes)" % (", %d rounds" % rounds if rounds > 1 else "", k)
    doc = merge([({}, with_aggregates(by_group[group], rounds > 1, only)) for group, _ in groups], isolation,
                first_context)
    # Each process's binary says the tree it was built from: binaries of two trees in one run (a
    # stand-in's; a binary rebuilt during the run no longer runs, run_group) make the record
    # dirty, as its processes did not all run one commit.
    if len(trees) > 1:
        say("the source tree changed during the run (%s); the record says dirty"
            % ", ".join(sorted("%s%s" % ((c or "?")[:7], " dirty" if records.parse_dirty(d) else "")
                               for c, d in trees)))
        doc["context"]["concbench_dirty"] = "true"
    # Each process records the machine's settings when it starts: the record keeps the first's,
    # and says which changed on the way (boost turned off, another governor), in the order seen.
    changed = "; ".join("%s: %s" % (k, ", ".join(v)) for k, v in settings.items() if len(v) > 1)
    if changed:
        doc["context"]["concbench_settings_changed"] = changed
    if rounds > 1:
        doc["context"]["concbench_round_seed"] = seed
    doc["context"]["concbench_run_seconds"] = "%.1f" % (time.monotonic() - started)
    # Each group's processes (sum/tbb/array), start to exit, over all rounds: what a part of the suite costs.
    doc["context"]["concbench_process_seconds"] = seconds
    if reruns:
        doc["context"]["concbench_reruns"] = reruns
    return doc, failures


# Flags that change neither which benchmarks run nor how they are measured, only how the results
# are shown (and this script's own): a run with no others is the suite as ./bench runs it.
_SHOWING_FLAGS = ("--benchmark_format=", "--benchmark_color", "--benchmark_time_unit=", "--benchmark_counters_tabular",
                  "--benchmark_display_aggregates_only", "--benchmark_context=", "--v=") + _OWN_FLAGS


def erred_names(doc):
    """The names of the benchmarks the record DOC has an error for."""
    return {b.get("run_name", b["name"]) for b in doc["benchmarks"] if b.get("error_occurred")}


def scope_of(args, names, suite, doc, failures):
    """FULL when ARGS run every benchmark (NAMES are SUITE, the binary's whole list, --quick's with
    --quick) as the suite runs them by default and every one finished, QUICK when they do so as
    --quick runs them; PARTIAL otherwise, said once: a run of fewer benchmarks, or of all with
    another repetition count or minimum time, or with a test hook (CONCBENCH_TEST_*, which the
    binary puts in the context), or one in which processes failed (crashed, hung) or benchmarks
    erred (a fixture server that died), must not stand for its commit (records.latest_record) or
    replace the results page. A quick run is partial for the same reasons: "quick" says one short
    repetition of every benchmark --quick runs, no more."""
    quick = "--quick" in args
    defaults = QUICK_FLAGS + ("--quick",) if quick else DEFAULT_FLAGS
    changed = [a for a in args if not a.startswith(_SHOWING_FLAGS) and a not in defaults]
    hooks = list(records.hook_settings(doc["context"]))
    erred = erred_names(doc)
    why = ("not every benchmark" if names != suite else
           "%s changes how the suite measures" % changed[0] if changed else
           "the test hook %s is set" % hooks[0].upper() if hooks else
           "%s failed" % plural(len(failures), "process", "processes") if failures else
           "%s erred" % plural(len(erred), "benchmark") if erred else None)
    if why:
        say("a partial run (%s): its record is named -partial and is never the commit's full run" % why)
    return records.PARTIAL if why else records.QUICK if quick else records.FULL


def run(binary, args, out, history, fixture_path, python, render, left):
    """Runs the suite a model per process and writes its record; left[0] (a list's) says, once the
    record is written, what an interrupt from then on leaves."""
    if not cli.runnable(binary):
        raise RunError("%s is not an executable file" % binary, 2)
    fixture = Fixture(fixture_path) if needs_own_fixture(args) and fixture_path else None
    if python and fixture is None:  # before the run, not once it is over
        raise RunError("--python runs the seed against the fixture server this script starts: it needs "
                       "--fixture PATH, and ARGS without --fixture_url or --fetch_urls", 2)
    cli.output(history or out, directory=bool(history))  # before any work, not after the run
    # The Python reference's record goes to python/ beside the C++ one, under the same name.
    python_dir = os.path.join(history or os.path.dirname(os.path.abspath(out)), "python")
    if python:
        cli.output(python_dir, directory=True, create=True)
    _LISTED_STAMPS.pop(binary, None)  # this run's listing, not an earlier run's in this process
    names = list_benchmarks(binary, args)  # the binary checks ARGS (--benchmark_min_time) first
    process_timeout(args, 1)  # and its variable before anything runs
    suite = list_benchmarks(binary, ["--quick"] if "--quick" in args else [])  # before any process
    groups = group_by(names)
    fmt = flag_value(args, "--benchmark_format=") or "console"
    environment, python_out, kept = Environment(), None, False
    tmp = tempfile.mkdtemp(prefix="concbench-run-")
    try:
        doc, failures = run_processes(binary, args, groups, fixture, tmp,
                                             None if fmt == "console" else subprocess.PIPE)
        context = doc["context"]
        scope = context["concbench_scope"] = scope_of(args, names, suite, doc, failures)
        # Where the mpi model's ranks ran: each mpi benchmark's label says, per spawn.
        hosts = {h for b in doc["benchmarks"] if b.get("label", "").startswith("ranks on ")
                 for h in b["label"][len("ranks on "):].split(",")}
        if hosts:
            context["mpi_rank_hosts"] = ",".join(sorted(hosts))
        for reason in environment.finish(context):
            say("unstable environment: %s; the record says so" % reason)
        try:
            if not history:
                write_json(doc, out)
            for later in itertools.count() if history else ():
                # Two runs begun in the same second (another shell's ./bench) would take one name,
                # and the second would replace the first's record: it takes the next second's.
                out = os.path.join(history, records.record_name(context, scope, later))
                with contextlib.suppress(FileExistsError):
                    write_json(doc, out, exclusive=True)
                    break
        except OSError as e:  # checked before the run, so the disk filled or the directory went
            kept = True  # the measurements are not lost with it: each process's JSON and the record
            with contextlib.suppress(OSError):
                write_json(doc, os.path.join(tmp, "record.json"))
            raise RunError("cannot write %s (%s); the run is kept in %s (record.json, and each process's "
                           "JSON)" % (out, e.strerror or e, tmp)) from None
        # Before the line that says so, as an interrupt may come while it is written; past here
        # only the Python run and plot.py are left to stop.
        left[0] = "%s was recorded before that%s" % (
            out, ", but not rendered (scripts/plot.py renders it)" if render else "")
        say("recorded %s" % out)
        if fmt == "json":
            print(json.dumps(doc, indent=2))
        elif fmt == "csv":
            sys.stdout.write(csv_of(doc))
        unfinished = []  # what could not finish once the record was written, said at the end
        if python:
            python_out = os.path.join(python_dir, os.path.basename(out))
            why = run_python_reference(args, python_out, fixture)
            if why:  # the C++ page is rendered all the same, without the Python columns
                unfinished.append(why)
                python_out = None
    finally:
        if fixture:
            fixture.stop()
        if not kept:
            shutil.rmtree(tmp, ignore_errors=True)
    failed, erred = "", sorted(erred_names(doc))
    if failures:
        failed = "%d of %s failed: %s" % (len(failures), plural(len(groups) * repetitions(args), "process",
                                                                "processes"), "; ".join(failures))
    elif erred:  # each erred benchmark said why as it ran, and the record keeps it
        failed = "%s of %d erred: %s%s" % (plural(len(erred), "benchmark"), len(names), ", ".join(erred[:3]),
                                           " and %d more" % (len(erred) - 3) if len(erred) > 3 else "")
    code = render_page(out, python_out, scope, os.path.dirname(os.path.abspath(history or out))) if render else 0
    return exit_status(failed, unfinished, code, out)


# The columns Google Benchmark's CSV reporter prints before the counters (which follow, sorted),
# and the other fields of a record's entry that are not counters.
CSV_FIELDS = ("name", "iterations", "real_time", "cpu_time", "time_unit", "bytes_per_second", "items_per_second",
              "label", "error_occurred", "error_message")
_NOT_COUNTERS = set(CSV_FIELDS) | {"family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
                                   "repetition_index", "threads", "aggregate_name", "aggregate_unit"}


def csv_of(doc):
    """The record's repetitions (the console's rows: no aggregates) as Google Benchmark's CSV
    reporter prints them, under one header of every counter any has, a cell empty where an
    entry has none. Each process's own CSV had its own counters, and under the first one's
    header the others' rows sat under other names; a process stopped for its time printed none
    of what it finished, which the record keeps."""
    rows = [b for b in doc["benchmarks"] if b.get("run_type") != "aggregate"]
    header = list(CSV_FIELDS) + sorted({k for b in rows for k in b if k not in _NOT_COUNTERS})

    def cell(value):
        return ("true" if value else "") if isinstance(value, bool) else "%g" % value if isinstance(value, float) \
            else "" if value is None else str(value)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([cell(b.get(c)) for c in header] for b in rows)
    return out.getvalue()


def exit_status(failed, unfinished, plot_code, out):
    """The run's exit status, once its record is written, saying what did not finish after it and,
    last, FAILED: which processes failed or else which benchmarks erred ("" when none)."""
    if plot_code:
        unfinished.append("rendering %s failed (%s)" % (out, describe_exit(plot_code)))
    for line in unfinished + ([failed] if failed else []):
        say(line)
    # plot.py's 2 is a record with nothing it could show, which only failures leave: the run
    # failed (1); anything else that did not finish is 3, as the docstring says.
    if unfinished and not (failed and plot_code == 2 and len(unfinished) == 1):
        return cli.UNFINISHED
    return 1 if failed else 0


def render_page(out, python_out, scope, beside):
    """Runs plot.py on the record and returns its exit status. Only a full run replaces the results
    page; part of the suite is not the suite: it goes to partial/ beside the history directory
    (results/partial/ for ./bench), or beside FILE."""
    page = None if scope == records.FULL else os.path.join(beside, "partial")
    say("rendering results/" if page is None else "rendering %s (a %s run: results/ stays as it is)" % (page, scope))
    cmd = ([os.path.join(SCRIPTS, "plot.py"), out] + (["--python", python_out] if python_out else [])
           + (["--out", page] if page else []))
    return run_child(cmd)


def run_child(cmd):
    """Runs a script of ours to its end; returns its exit status. Stopped by SIGTERM, it passes
    the signal on and waits, so the script cleans up as it would on its own (subprocess.run
    SIGKILLs it and leaves its half-written output); Ctrl-C reaches it from the terminal."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    try:
        return proc.wait()
    except SystemExit:
        proc.terminate()
        proc.wait()
        raise
    except BaseException:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait()
        raise


def run_python_reference(args, out, fixture):
    """The seed's experiments in Python, against the same fixture server as the C++ models;
    returns None, or why they could not finish."""
    try:
        url = fixture.start()
        os.makedirs(os.path.dirname(out), exist_ok=True)
    except RunError as e:
        return "the Python reference did not run: %s" % e
    except OSError as e:  # checked before the run: the directory went, or the disk filled
        return "the Python reference did not run: cannot make %s (%s)" % (os.path.dirname(out), e.strerror or e)
    say("running the seed's experiments in Python")
    cmd = [os.path.join(SCRIPTS, "python_reference.py"), "--fixture-url", url, "--out", out] + (
        ["--quick"] if "--quick" in args else [])
    code = run_child(cmd)
    return "the Python reference %s" % describe_exit(code) if code else None


def main(argv=None):
    # A long run: whoever stopped it (Ctrl-C, SIGTERM) sees that it stopped, and what it leaves.
    left = ["nothing recorded"]
    with Pauses.handled():
        code = cli.main(lambda a: _run(a, left), PROG, argv)  # SIGTERM: the processes' JSON goes too
    cli.say_stopped(PROG, code, left[0])
    return code


def _run(argv, left):
    opts = {"--out": None, "--history": None, "--fixture": None, "--python": False, "--render": False}
    while argv and argv[0] in opts:  # the options come before BINARY; what follows is BINARY's
        if argv[0] in ("--python", "--render"):
            opts[argv[0]], argv = True, argv[1:]
        elif len(argv) < 2:
            raise RunError("%s needs a value; %s" % (argv[0], USAGE), 2)
        else:
            opts[argv[0]], argv = argv[1], argv[2:]
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if not argv or (opts["--out"] is None) == (opts["--history"] is None):
        raise RunError(USAGE, 2)
    return run(argv[0], flags_from_environment(argv[1:]), out=opts["--out"], history=opts["--history"], fixture_path=opts["--fixture"],
               python=opts["--python"], render=opts["--render"], left=left)


if __name__ == "__main__":
    sys.exit(main())
