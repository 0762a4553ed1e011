#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Runs the concbench binary with each model in a fresh process of its own and merges the runs into one record.
"""Usage: scripts/run_isolated.py (--out FILE | --history DIR [--python] [--render])
                                  [--fixture PATH] BINARY [ARGS...]

Lists the benchmarks BINARY ARGS would run, groups them by model (the first two
segments of the name: sum/tbb, fetch/coro, peak/read_bw), and runs each group in
a process of its own with the same ARGS, so no model runs beside the idle threads,
arenas, worker processes and memory another model left behind. The fetch models
share one fixture server, started here in a process of its own (PATH, unless ARGS
name --fixture_url or --fetch_urls). The processes' Google Benchmark JSON is merged
into one record: one context, every benchmark, the same names and counters, so any
reader of one process's JSON reads it.

--out FILE writes the record to FILE. --history DIR names it as ./bench does
(records.record_name: date, commit, host and scope, where the scope says whether the
run was the full default suite, --quick or partial) and writes it into DIR;
--python then runs scripts/python_reference.py against the same fixture server into
DIR/python/, and --render draws the record with scripts/plot.py. Records are written
under a temporary name and renamed when complete.

A process that fails (crashes, is killed, exits non-zero) is reported with its
reason and the run goes on; the benchmarks it did not finish are in the record as
errored entries with that reason.

Exit status: 0 when every process succeeded, 1 when one failed (the record is
written), 2 on bad input (BINARY's one-line message; nothing is written), 130
interrupted. Only the standard library: it runs under any python3.
"""
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import records

PROG = "concbench"
SCRIPTS = os.path.dirname(os.path.abspath(__file__))
# Flags this script decides for every process, so the caller's are taken out.
_OWN_FLAGS = ("--benchmark_filter=", "--benchmark_out=", "--benchmark_out_format=", "--progress=")
_REGEX_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")


class RunError(Exception):
    """The run cannot go on; exit_code says how it ends (2: bad input, already explained)."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code


def say(message):
    print("%s: %s" % (PROG, message), file=sys.stderr, flush=True)


def flag_value(args, prefix):
    """The value of the last --flag=VALUE in args, or None."""
    values = [a[len(prefix):] for a in args if a.startswith(prefix)]
    return values[-1] if values else None


def list_benchmarks(binary, args):
    """Names (with Google Benchmark's /real_time) that BINARY ARGS would run, in run order."""
    filt = flag_value(args, "--benchmark_filter=")
    cmd = [binary] + child_args(args) + ["--benchmark_list_tests"]
    if filt is not None:
        cmd.append("--benchmark_filter=" + filt)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        # BINARY explained itself in one line ("concbench: ..."): that line is the message.
        last = (proc.stderr.strip().splitlines() or ["%s %s" % (binary, describe_exit(proc.returncode))])[-1]
        raise RunError(last[len(PROG) + 2:] if last.startswith(PROG + ": ") else last,
                       proc.returncode if proc.returncode == 2 else 1)
    names = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    if not names:
        raise RunError("no benchmark matches --benchmark_filter=%s (--benchmark_list_tests lists "
                       "them)" % filt, 2)
    return names


def child_args(args):
    return [a for a in args if not a.startswith(_OWN_FLAGS)]


def model_of(name):
    """The process a benchmark runs in: its workload and model, e.g. sum/tbb, fetch/open/coro."""
    parts = name.split("/")
    return "/".join(parts[:3] if parts[:2] == ["fetch", "open"] else parts[:2])


def group_by_model(names):
    """[(model, [names])] in the order each model first appears."""
    groups = {}
    for name in names:
        groups.setdefault(model_of(name), []).append(name)
    return list(groups.items())


def exact_filter(names):
    """A --benchmark_filter (POSIX extended regex) that selects exactly these names."""
    return "^(%s)$" % "|".join(_REGEX_SPECIAL.sub(r"\\\1", n) for n in names)


def describe_exit(code):
    if code < 0:
        try:
            sig = signal.Signals(-code).name
        except ValueError:
            sig = "signal %d" % -code
        return "was killed by %s" % sig
    return "exited with status %d" % code


class Fixture:
    """The fixture server the fetch models share, in a process of its own."""

    def __init__(self, path):
        self.path, self.proc, self.url = path, None, None

    def start(self):
        if self.proc is not None:
            return self.url
        if not os.access(self.path, os.X_OK):
            raise RunError("the fixture server %s is not an executable file" % self.path)
        # --parent-pid: it exits with this script, however this script ends.
        self.proc = subprocess.Popen([self.path, "--parent-pid=%d" % os.getpid()],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"PORT (\d+)$", line.strip())
        if not m:
            self.stop()
            raise RunError("the fixture server did not start (it printed %r)" % line.strip())
        self.url = "http://127.0.0.1:%s" % m.group(1)
        return self.url

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


# The environment is unstable when, in the half second before the run, other processes kept
# more than this share of the CPUs busy, or when the hypervisor took more than this share of
# the run's CPU time for other guests (steal).
BUSY_LIMIT, STEAL_LIMIT = 0.25, 0.02


def cpu_times():
    """(busy, steal, total) jiffies over all CPUs, from /proc/stat; zeros where unreadable."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    steal = fields[7] if len(fields) > 7 else 0
    return sum(fields[:8]) - idle - steal, steal, sum(fields[:8])


def share(before, after, index):
    total = after[2] - before[2]
    return (after[index] - before[index]) / total if total > 0 else 0.0


def load_avg():
    try:
        return " ".join("%.2f" % x for x in os.getloadavg())
    except OSError:
        return "unknown"


class Environment:
    """What else the machine was doing: load and busy CPUs before the run, steal during it."""

    def __init__(self, sample_s=0.5):
        self.load_before = load_avg()
        first = cpu_times()
        if sample_s:  # ab.py's rounds skip it: their sides run seconds apart, so both see the same machine
            time.sleep(sample_s)
        self.start = cpu_times()
        self.busy_before = share(first, self.start, 0) if sample_s else None

    def finish(self, context):
        end = cpu_times()
        steal = share(self.start, end, 1)
        context["load_avg_before"], context["load_avg_after"] = self.load_before, load_avg()
        if self.busy_before is not None:
            context["cpu_busy_before"] = "%.0f%%" % (100 * self.busy_before)
        context["steal_during"] = "%.1f%%" % (100 * steal)
        reasons = []
        if self.busy_before is not None and self.busy_before > BUSY_LIMIT:
            reasons.append("other processes kept %.0f%% of the CPUs busy before the run"
                           % (100 * self.busy_before))
        if steal > STEAL_LIMIT:
            reasons.append("the hypervisor stole %.1f%% of the CPU time during the run" % (100 * steal))
        context["environment_unstable"] = "; ".join(reasons) or "no"
        return reasons


def read_record(path):
    """(context, benchmarks, complete) from a process's JSON. A process that died mid-run
    leaves the file cut off: the benchmarks written before the cut are still taken."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return {}, [], False
    try:
        doc = json.loads(text)
        return doc.get("context", {}), doc.get("benchmarks", []), True
    except ValueError:
        pass
    decoder, benchmarks, context = json.JSONDecoder(), [], {}
    m = re.search(r'"context":\s*', text)
    if m:
        try:
            context = decoder.raw_decode(text, m.end())[0]
        except ValueError:
            pass
    m = re.search(r'"benchmarks":\s*\[', text)
    pos = m.end() if m else len(text)
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        try:
            entry, pos = decoder.raw_decode(text, pos)
        except ValueError:
            return context, benchmarks, False
        benchmarks.append(entry)


def errored_entry(name, message):
    """A Google Benchmark JSON entry for a benchmark that did not finish, as an error."""
    return {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 1,
            "repetition_index": 0, "threads": 1, "error_occurred": True,
            "error_message": message, "iterations": 0, "real_time": 0, "cpu_time": 0,
            "time_unit": "ms"}


def supports_progress(binary):
    """Whether BINARY takes --progress (builds of older commits, which bisect and ab.py run,
    do not: they number each process's benchmarks from 1)."""
    proc = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, stdin=subprocess.DEVNULL)
    return "--progress=" in proc.stdout


def needs_own_fixture(args):
    """Whether the fetch models need a fixture server started for them: not when ARGS name a
    server (--fixture_url) or real URLs (--fetch_urls)."""
    return not any(a.startswith(("--fixture_url=", "--fetch_urls=")) for a in args)


def uses_fixture(model):
    """The fetch models, and wrk measuring the fixture itself."""
    return model.startswith("fetch/") or model == "peak/wrk"


def die_with_parent(parent):
    """In a benchmark process before it runs: killed (SIGTERM) when this script ends, even by
    SIGKILL, so no benchmark, worker or MPI rank outlives a killed ./bench (Linux's
    PR_SET_PDEATHSIG; the process then ends as the benchmark binary ends on SIGTERM)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # this script died before the call
        os._exit(1)


def run_group(binary, args, model, names, first, total, out, fixture_url, stdout, env=None):
    """Runs one model's benchmarks in a fresh process.
    Returns (context, benchmarks, failure or None, what it printed when stdout is a pipe)."""
    cmd = [binary] + child_args(args) + [
        "--benchmark_filter=" + exact_filter(names), "--benchmark_out=" + out,
        "--benchmark_out_format=json"] + (["--progress=%d/%d" % (first, total)] if total else [])
    if fixture_url and uses_fixture(model):
        cmd.append("--fixture_url=" + fixture_url)
    quiet = stdout == subprocess.DEVNULL
    if os.path.exists(out):  # a process that dies before writing must not pass for an earlier one
        os.unlink(out)
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=stdout, text=True,
                          stderr=subprocess.PIPE if quiet else None, env=env, preexec_fn=lambda parent=os.getpid(): die_with_parent(parent))
    context, benchmarks, complete = read_record(out)
    failure = None
    if proc.returncode != 0:
        failure = "the process of %s %s" % (model, describe_exit(proc.returncode))
        last = (proc.stderr or "").strip().splitlines()[-1:]
        if last:
            failure += " (%s)" % last[0]
    elif not complete:
        failure = "the process of %s wrote no complete record" % model
    if failure:
        done = {b.get("run_name", b.get("name")) for b in benchmarks}
        benchmarks += [errored_entry(n, failure + " before this benchmark finished")
                       for n in names if n not in done]
    return context, benchmarks, failure, proc.stdout


# What the mpi model says when Open MPI's spawn never returned, and for each later mpi
# benchmark of that process (benchmarks/sum/mpi.cpp; README, "mpi").
SPAWN_HANG = ("MPI_Comm_spawn did not return within", "MPI cannot be used again in this process")


def spawn_hung(benchmarks):
    """The benchmarks that failed because Open MPI's spawn hung in their process."""
    return [b.get("run_name", b["name"]) for b in benchmarks
            if b.get("error_occurred") and any(s in b.get("error_message", "") for s in SPAWN_HANG)]


def run_model(binary, args, model, members, first, total, out_stem, fixture_url, stdout, env=None):
    """run_group, and once more in a fresh process for the benchmarks that failed because
    Open MPI's spawn hung (a defect of Open MPI 4.1 with PMIx 4.2, not of the model: the
    process is unusable for MPI from then on, a fresh one is not). Returns (context,
    benchmarks, failure or None, what it printed, what was rerun or None)."""
    context, benchmarks, failure, text = run_group(binary, args, model, members, first, total,
                                                   out_stem + ".json", fixture_url, stdout, env)
    hung = spawn_hung(benchmarks)
    if not hung or failure:
        return context, benchmarks, failure, text, None
    plural = "" if len(hung) == 1 else "s"
    say("Open MPI's spawn hung in the process of %s; its %d benchmark%s that failed on it run once "
        "more in a fresh process" % (model, len(hung), plural))
    _, again, failure, _ = run_group(binary, args, model, hung, first, total, out_stem + "-again.json",
                                     fixture_url, stdout, env)
    return (context, replace_entries(benchmarks, hung, again), failure, text,
            "%d benchmark%s after Open MPI's spawn hung" % (len(hung), plural))


def replace_entries(benchmarks, names, again):
    """`benchmarks` with the entries of `names` replaced, where they were, by those in `again`."""
    fresh = {}
    for b in again:
        fresh.setdefault(b.get("run_name", b["name"]), []).append(b)
    out = []
    for b in benchmarks:
        name = b.get("run_name", b["name"])
        out += (fresh.pop(name, []) if name in names else [b])
    return out


def merge(parts, processes):
    """One Google Benchmark document from the processes' (context, benchmarks), in the order given.
    family_index is renumbered so it stays unique across processes, as in a single run."""
    context = next((dict(c) for c, _ in parts if c), {})
    context["concbench_isolation"] = "one process per model (%d processes)" % processes
    merged, offset = [], 0
    for _, benchmarks in parts:
        families = {}
        for b in benchmarks:
            b = dict(b)
            key = b.get("family_index", b.get("run_name"))
            b["family_index"] = families.setdefault(key, offset + len(families))
            merged.append(b)
        offset += len(families)
    return {"context": context, "benchmarks": merged}


def write_json(doc, path, indent=2):
    """Writes under a temporary name and renames, so FILE is whole or absent."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=indent)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def run(binary, args, out=None, history=None, fixture_path=None, python=False, render=False):
    """The whole isolated run; returns the exit status (see the module docstring)."""
    names = list_benchmarks(binary, args)
    total = len(names) if supports_progress(binary) else 0
    groups = group_by_model(names)
    fmt = flag_value(args, "--benchmark_format=") or "console"
    fixture = Fixture(fixture_path) if needs_own_fixture(args) and fixture_path else None
    parts, failures, first, texts, seconds, reruns = [], [], 1, [], {}, {}
    environment = Environment()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="concbench-run-") as tmp:
        try:
            for k, (model, members) in enumerate(groups, 1):
                say("process %d of %d: %s, %d benchmark%s"
                    % (k, len(groups), model, len(members), "" if len(members) == 1 else "s"))
                url = fixture.start() if fixture and uses_fixture(model) else None
                process_started = time.monotonic()
                context, benchmarks, failure, text, rerun = run_model(
                    binary, args, model, members, first, total, os.path.join(tmp, "%d" % k), url,
                    None if fmt == "console" else subprocess.PIPE)
                if rerun:
                    reruns[model] = rerun
                parts.append((context, benchmarks))
                seconds[model] = round(time.monotonic() - process_started, 1)
                texts.append(text or "")
                if failure:
                    say(failure + "; the run goes on")
                    failures.append(failure)
                first += len(members)
            doc = merge(parts, len(groups))
            doc["context"]["concbench_scope"] = scope_of(binary, args, names)
            doc["context"]["concbench_run_seconds"] = "%.1f" % (time.monotonic() - started)
            # Each model's process, start to exit: what a part of the suite costs the default run.
            doc["context"]["concbench_process_seconds"] = seconds
            if reruns:
                doc["context"]["concbench_reruns"] = reruns
            # Where the mpi model's ranks ran: each mpi benchmark's label says, per spawn.
            hosts = sorted({h for b in doc["benchmarks"] if b.get("label", "").startswith("ranks on ")
                            for h in b["label"][len("ranks on "):].split(",")})
            if hosts:
                doc["context"]["mpi_rank_hosts"] = ",".join(hosts)
            for reason in environment.finish(doc["context"]):
                say("unstable environment: %s; the record says so" % reason)
            if history:
                out = os.path.join(history, records.record_name(doc["context"],
                                                                doc["context"]["concbench_scope"]))
            write_json(doc, out)
            say("recorded %s" % out)
            if fmt == "json":
                json.dump(doc, sys.stdout, indent=2)
                print()
            elif fmt == "csv":
                # Each process printed its own header line: keep the first only.
                print("".join(t if i == 0 else t.split("\n", 1)[-1] for i, t in enumerate(texts)),
                      end="")
            python_out = None
            if python:
                python_out = os.path.join(history or os.path.dirname(out), "python",
                                          os.path.basename(out))
                run_python_reference(args, python_out, fixture)
        finally:
            if fixture:
                fixture.stop()
    if render:
        say("rendering results/")
        cmd = [os.path.join(SCRIPTS, "plot.py"), out] + (["--python", python_out] if python_out else [])
        code = subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode
        if code != 0:
            raise RunError("rendering %s failed (%s)" % (out, describe_exit(code)), code)
    if failures:
        say("%d of %d processes failed: %s" % (len(failures), len(groups), "; ".join(failures)))
        return 1
    return 0


def scope_of(binary, args, names):
    """records.FULL when the run is the whole default suite, else QUICK or PARTIAL."""
    if "--quick" in args:
        return records.QUICK
    return records.FULL if names == list_benchmarks(binary, []) else records.PARTIAL


def run_python_reference(args, out, fixture):
    """The seed's experiments in Python, against the same fixture server as the C++ models."""
    if fixture is None:
        raise RunError("--python needs the fixture server (--fixture PATH)")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    say("running the seed's experiments in Python")
    cmd = [os.path.join(SCRIPTS, "python_reference.py"), "--fixture-url", fixture.start(),
           "--out", out] + (["--quick"] if "--quick" in args else [])
    code = subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode
    if code != 0:
        raise RunError("the Python reference %s" % describe_exit(code), code if code > 0 else 1)


def parse_cli(argv):
    usage = ("usage: scripts/run_isolated.py (--out FILE | --history DIR [--python] [--render]) "
             "[--fixture PATH] BINARY [ARGS...]")
    opts = {"--out": None, "--history": None, "--fixture": None, "--python": False, "--render": False}
    while argv and argv[0] in opts:
        if isinstance(opts[argv[0]], bool):
            opts[argv[0]], argv = True, argv[1:]
            continue
        if len(argv) < 2:
            raise RunError("%s needs a value; %s" % (argv[0], usage), 2)
        opts[argv[0]], argv = argv[1], argv[2:]
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    if not argv or (opts["--out"] is None) == (opts["--history"] is None):
        raise RunError(usage, 2)
    return opts, argv[0], argv[1:]


def main(argv=None):
    try:
        opts, binary, args = parse_cli(sys.argv[1:] if argv is None else argv)
        return run(binary, args, out=opts["--out"], history=opts["--history"],
                   fixture_path=opts["--fixture"], python=opts["--python"], render=opts["--render"])
    except RunError as e:
        if str(e):
            say(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
