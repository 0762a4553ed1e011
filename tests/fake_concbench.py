#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A stand-in for the concbench binary, for testing the scripts that run it: lists, filters, writes Google Benchmark JSON.
"""Speaks the part of concbench's command line that scripts/run_isolated.py, ab.py and bisect.sh
use: --benchmark_list_tests, --benchmark_filter, --benchmark_out, --benchmark_repetitions,
--progress (--help lists it). Times are base * speed * (1 + noise), where:

  FAKE_NAMES    benchmark names, comma-separated (default: NAMES below); a file "names" beside
                this script, holding such a list, overrides it: what a commit added or removed
  exit          a file beside this script: a run whose first benchmark's name contains its text
                exits with status 2 before writing anything
  speed         a file beside this script, holding a factor (default 1.0): what a commit changes;
                FAKE_SPEED_ONLY limits it to the benchmarks whose name contains that text
  FAKE_SLOW     "model:percent": that model's benchmarks take percent% longer (or
                CONCBENCH_TEST_SLOWDOWN, the real binary's test hook, in the same form)
  FAKE_NOISE    the relative spread between processes (default 0.01), drawn per process
  FAKE_ERROR    benchmarks whose name contains it report an error instead of a time (also
                read from a file "error" beside this script); FAKE_ERROR_MESSAGE is its message;
                with FAKE_ERROR_ONCE=FILE, only while FILE exists (the first run that errs removes it)
  FAKE_LABEL    "text:label": benchmarks whose name contains text carry that label
  FAKE_COUNTER  "name:value": every entry carries that counter (value as float() reads it: nan, inf)
  FAKE_CRASH    the process whose first benchmark starts with it writes one result and is killed
                (the record cut off under the binary's temporary name, OUT.tmp.PID)
  FAKE_STALL    the process whose first benchmark starts with it writes one result, then sleeps a
                minute; SIGTERM removes its OUT.tmp.PID, as the binary's handler does
  FAKE_HANG     the process whose first benchmark starts with it sleeps a minute before it writes
                (also read from a file "hang" beside this script); "child:" before it first starts a
                process that holds this one's output open for two minutes; FAKE_HANG_SECONDS
                sleeps that long instead
  FAKE_CONTEXT  JSON merged into the context the runs write; "text:JSON" only into that of the
                process whose first benchmark starts with text; a file "context" beside this
                script, holding JSON, is merged too: how a build differs
  FAKE_BUILT_FROM  the commit its help says it was built from, as the binary's says its own
  FAKE_SKIP     benchmarks whose name contains it are listed but never run: a binary rebuilt
                without them after the run listed its benchmarks
  FAKE_REBUILT  the process whose first benchmark starts with it sets this script's mtime, as a
                rebuild of the binary during the run would change it (use a copy)
  FAKE_LOG      a file each run appends a line to: the name of this copy's directory, a colon, its arguments;
                and "SIGTERM" when one ends it
Each entry carries the process's id as a counter, fake_pid, and so does the context.
"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

NAMES = ["sum/seq/range/workers:1/n:1000", "sum/pool/range/workers:2/n:1000",
         "sum/tbb/range/workers:2/n:1000", "peak/vector_add"]
CONTEXT = {"host_name": socket.gethostname(), "cpu_model": "Fake CPU", "cpu_vector_flags": "avx2",
           "hardware_threads": "2", "memory_gib": "8.0", "kernel": "fake", "mhz_per_cpu": 1000,
           "concbench_commit": "unknown",
           "date": "2026-11-30T00:00:00+00:00"}


def main(args):
    here = os.path.dirname(os.path.abspath(__file__))
    listed = open(os.path.join(here, "names")).read().strip() if os.path.exists(os.path.join(here, "names")) else ""
    names = [n + "/real_time" for n in (listed or os.environ.get("FAKE_NAMES") or ",".join(NAMES)).split(",")]
    if "--help" in args:
        if os.environ.get("FAKE_BUILT_FROM"):
            print("Built from commit %s (uncommitted changes: false)." % os.environ["FAKE_BUILT_FROM"])
        print("  --progress=K/N   number this process's first benchmark K of N")
        return 0
    if os.environ.get("FAKE_LOG"):
        def terminated(*_):
            with open(os.environ["FAKE_LOG"], "a") as log:
                log.write("SIGTERM\n")
            os._exit(143)
        signal.signal(signal.SIGTERM, terminated)
        with open(os.environ["FAKE_LOG"], "a") as log:
            log.write("%s: %s\n" % (os.path.basename(os.path.dirname(os.path.abspath(__file__))), " ".join(args)))
    flag = lambda name, default=None: next((a.split("=", 1)[1] for a in args if a.startswith(name + "=")), default)
    mine = [n for n in names if re.search(flag("--benchmark_filter", "."), n)]
    if not mine:
        print("concbench: no benchmark matches --benchmark_filter=%s" % flag("--benchmark_filter"), file=sys.stderr)
        return 2
    reps = flag("--benchmark_repetitions", "1")
    if not re.fullmatch("[0-9]+", reps) or int(reps) < 1:  # as the binary refuses it, listing or not
        print("concbench: --benchmark_repetitions=%s: not a whole number of at least 1" % reps, file=sys.stderr)
        return 2
    reps = int(reps)
    if "--benchmark_list_tests" in args:
        print("\n".join(mine))
        return 0
    stop = open(os.path.join(here, "exit")).read().strip() if os.path.exists(os.path.join(here, "exit")) else ""
    if stop and stop in mine[0]:
        print("concbench: stopped before writing (a stand-in's exit file)", file=sys.stderr)
        return 2
    if os.environ.get("FAKE_REBUILT") and mine[0].startswith(os.environ["FAKE_REBUILT"]):
        os.utime(os.path.abspath(__file__))  # as a build of this binary during the run would
    mine = [n for n in mine if not (os.environ.get("FAKE_SKIP") and os.environ["FAKE_SKIP"] in n)]
    speed = float(open(os.path.join(here, "speed")).read()) if os.path.exists(os.path.join(here, "speed")) else 1.0
    slow_model, _, slow_pct = (os.environ.get("FAKE_SLOW") or os.environ.get("CONCBENCH_TEST_SLOWDOWN", "")).partition(":")
    process = 1 + random.gauss(0, float(os.environ.get("FAKE_NOISE", "0.01")))
    error = os.environ.get("FAKE_ERROR") or (open(os.path.join(here, "error")).read().strip()
                                             if os.path.exists(os.path.join(here, "error")) else "")
    once = os.environ.get("FAKE_ERROR_ONCE")
    if once and not os.path.exists(once):
        error = ""
    rows = []
    for i, name in enumerate(mine):
        factor = process * (speed if os.environ.get("FAKE_SPEED_ONLY", "") in name else 1.0)
        factor *= 1 + float(slow_pct) / 100 if name.split("/")[1] == slow_model else 1
        for r in range(reps):
            row = {"name": name, "family_index": i, "per_family_instance_index": 0, "run_name": name,
                   "run_type": "iteration", "repetitions": reps, "repetition_index": r, "threads": 1,
                   "iterations": 100, "real_time": 1.0 * factor * (1 + random.gauss(0, 0.001)),
                   "cpu_time": 1.0, "time_unit": "ms", "fake_pid": os.getpid()}
            label_on, _, label = os.environ.get("FAKE_LABEL", "").partition(":")
            if label_on and label_on in name:
                row["label"] = label
            counter, _, value = os.environ.get("FAKE_COUNTER", "").partition(":")
            if counter:
                row[counter] = float(value)
            if error and error in name:
                row.update(error_occurred=True, real_time=0,
                           error_message=os.environ.get("FAKE_ERROR_MESSAGE", "fake failure"))
                if once and os.path.exists(once):
                    os.unlink(once)
            rows.append(row)
    hang = os.environ.get("FAKE_HANG") or (open(os.path.join(here, "hang")).read().strip()
                                           if os.path.exists(os.path.join(here, "hang")) else "")
    keep_open = hang.startswith("child:")
    hang = hang[len("child:"):] if keep_open else hang
    if hang and mine[0].startswith(hang):
        if keep_open:
            subprocess.Popen(["sleep", "120"])  # inherits stdout and stderr
        time.sleep(float(os.environ.get("FAKE_HANG_SECONDS", "60")))
    out = flag("--benchmark_out")
    if out:
        # As the binary writes it: under a temporary name, renamed when whole.
        temp = "%s.tmp.%d" % (out, os.getpid())
        with open(temp, "w") as f:
            if os.environ.get("FAKE_CRASH") and mine[0].startswith(os.environ["FAKE_CRASH"]):
                f.write('{"context": {}, "benchmarks": [' + json.dumps(rows[0]) + ",")
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            if os.environ.get("FAKE_STALL") and mine[0].startswith(os.environ["FAKE_STALL"]):
                f.write('{"context": %s, "benchmarks": [' % json.dumps(CONTEXT) + json.dumps(rows[0]) + ",")
                f.flush()
                signal.signal(signal.SIGTERM, lambda *_: (os.unlink(temp), os._exit(143)))
                time.sleep(60)
            only, extra = "", os.environ.get("FAKE_CONTEXT", "{}")
            if not extra.startswith("{"):
                only, extra = extra.split(":", 1)
            built = os.path.join(here, "context")
            json.dump({"context": {**CONTEXT, "fake_pid": str(os.getpid()),  # the later wins
                                   **(json.load(open(built)) if os.path.exists(built) else {}),
                                   **(json.loads(extra) if mine[0].startswith(only) else {})},
                       "benchmarks": rows}, f)
        os.replace(temp, out)
    if any(r.get("error_occurred") for r in rows):  # as the binary exits after a run in which one erred
        erred = sorted({r["name"] for r in rows if r.get("error_occurred")})
        print("concbench: %d of %d benchmarks erred (%s%s); each one's result says why" % (
            len(erred), len(mine), "the first " if len(erred) > 1 else "", erred[0]), file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
