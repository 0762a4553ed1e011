#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Proves --benchmark_out=FILE appears only whole: a run stopped by SIGTERM, SIGINT, SIGHUP or
# SIGPIPE leaves no FILE (stopped_leaves_none) or an earlier FILE byte for byte as it was
# (stopped_keeps_earlier), and no temporary file either; a run that ends does write a whole FILE
# over an earlier one.
# The file a SIGKILL leaves is removed by the next run that writes FILE, also when FILE's name
# is as long as a name may be.
# A record cut short (a full disk, a file-size limit) fails the run and leaves an earlier FILE as
# it was (cut_short_keeps_earlier).
# usage: check_out_file.py stopped_leaves_none|stopped_keeps_earlier|hangup_leaves_none|pipe_leaves_none|
#        fifo_with_a_reader|killed_is_tidied_next_run|longest_name|cut_short_keeps_earlier BINARY
import fcntl
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

BENCHMARK = "--benchmark_filter=^sum/seq/range/workers:1/n:1000/"
# At least 100 x 0.1 s of timing: a slower machine only makes it longer, so a signal sent once
# the run has begun always comes before its end.
LONG = ["--benchmark_repetitions=100", "--benchmark_min_time=0.1"]
SHORT = ["--benchmark_repetitions=2", "--benchmark_min_time=0.01"]
EARLIER = b'{"an earlier record": "kept as it is"}\n'


def stop_mid_run(binary, out, sig):
    """Starts a long run writing to out and stops it with sig once it has begun; returns its exit status."""
    # SIGINT at its default: tests started in the background by a shell inherit it ignored.
    proc = subprocess.Popen([binary, BENCHMARK, *LONG, "--benchmark_out=" + out], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # The context goes to stderr (unbuffered) when the run begins, after the record is opened.
        for line in proc.stderr:
            if line.startswith(b"Running "):
                break
        else:
            raise AssertionError("the run ended before it began (exit status %s)" % proc.wait())
        time.sleep(0.5)  # into the first benchmark
        proc.send_signal(sig)
        proc.stderr.read()
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def left(directory, name):
    return sorted(f for f in os.listdir(directory) if f != name)


def stopped_leaves_none(binary, directory):
    out = os.path.join(directory, "record.json")
    code = stop_mid_run(binary, out, signal.SIGTERM)
    assert code == -signal.SIGTERM, "expected the run killed by SIGTERM, got exit status %s" % code
    assert not os.path.exists(out), "a stopped run left %s (%d bytes)" % (out, os.path.getsize(out))
    assert not os.listdir(directory), "a stopped run left %s" % os.listdir(directory)
    return "a run stopped by SIGTERM left no record and no temporary file"


def stopped_keeps_earlier(binary, directory):
    out = os.path.join(directory, "record.json")
    with open(out, "wb") as f:
        f.write(EARLIER)
    code = stop_mid_run(binary, out, signal.SIGINT)
    assert code == -signal.SIGINT, "expected the run killed by SIGINT, got exit status %s" % code
    with open(out, "rb") as f:
        now = f.read()
    assert now == EARLIER, "a stopped run changed the earlier record to %r" % now[:200]
    assert not left(directory, "record.json"), "a stopped run left %s" % left(directory, "record.json")

    subprocess.run([binary, BENCHMARK, *SHORT, "--benchmark_out=" + out], check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    with open(out, encoding="utf-8") as f:
        doc = json.load(f)
    runs = [b for b in doc["benchmarks"] if b.get("run_type") == "iteration"]
    assert len(runs) == 2 and not any(b.get("error_occurred") for b in runs), doc["benchmarks"]
    assert "concbench_commit" in doc["context"], doc["context"]
    assert not left(directory, "record.json"), "a finished run left %s" % left(directory, "record.json")
    return "a run stopped by SIGINT left the earlier record as it was; a finished one replaced it, whole"


def hangup_leaves_none(binary, directory):
    # SIGHUP (a terminal that closed) left FILE.tmp.PID behind, and nothing removes it
    out = os.path.join(directory, "record.json")
    code = stop_mid_run(binary, out, signal.SIGHUP)
    assert code == -signal.SIGHUP, "expected the run killed by SIGHUP, got exit status %s" % code
    assert not os.listdir(directory), "a run stopped by SIGHUP left %s" % os.listdir(directory)
    return "a run stopped by SIGHUP left no record and no temporary file"


def pipe_leaves_none(binary, directory):
    # `concbench ... | head -1`: the reader of the console output goes, and the next line the
    # run prints ends it with SIGPIPE, which must tidy up as the other stops do. process_pool's
    # pipes to its workers once set SIGPIPE ignored for the whole process: the run then went on
    # to its end and wrote its record for no reader.
    out = os.path.join(directory, "record.json")
    proc = subprocess.Popen([binary, "--benchmark_filter=^sum/process_pool/range/workers:2/n:1000/", *LONG,
                             "--benchmark_out=" + out], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line in proc.stderr:  # the record is open once the context is printed
            if line.startswith(b"Running "):
                break
        else:
            raise AssertionError("the run ended before it began (exit status %s)" % proc.wait())
        proc.stdout.close()
        proc.stderr.read()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == -signal.SIGPIPE, "expected the run killed by SIGPIPE, got exit status %s" % code
    assert not os.listdir(directory), "a run stopped by SIGPIPE left %s" % os.listdir(directory)
    return "a run whose output's reader went ended by SIGPIPE and left no record and no temporary file"


def killed_is_tidied_next_run(binary, directory):
    # SIGKILL cannot be caught: the cut-off FILE.tmp.PID stays (run_isolated.py reads it), until
    # the next run that writes FILE. A FILE.tmp.PID whose process is alive, or that another
    # process holds locked, is not touched.
    out = os.path.join(directory, "record.json")
    code = stop_mid_run(binary, out, signal.SIGKILL)
    assert code == -signal.SIGKILL, "expected the run killed by SIGKILL, got exit status %s" % code
    cut = left(directory, "record.json")
    assert len(cut) == 1 and cut[0].startswith("record.json.tmp."), "a killed run left %s" % cut
    alive = "record.json.tmp.%d" % os.getpid()
    # A run in another pid namespace has a pid this one cannot see, but holds its file locked.
    gone = subprocess.Popen(["true"])
    gone.wait()
    locked = "record.json.tmp.%d" % gone.pid
    for name in (alive, "record.json.tmp.notapid", locked):
        open(os.path.join(directory, name), "w").close()
    holder = open(os.path.join(directory, locked))
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        subprocess.run([binary, BENCHMARK, *SHORT, "--benchmark_out=" + out], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    finally:
        holder.close()
    with open(out, encoding="utf-8") as f:
        assert len([b for b in json.load(f)["benchmarks"] if b.get("run_type") == "iteration"]) == 2
    now = left(directory, "record.json")
    assert now == sorted([alive, "record.json.tmp.notapid", locked]), "after the next run: %s" % now
    return "a killed run's temporary file was removed by the next run; a live or locked one was kept"


def longest_name(binary, directory):
    # FILE.tmp.PID of a 255-byte FILE is longer than a name may be: the temporary name cuts
    # FILE's to 241 bytes, between UTF-8 characters, so the longest name is written and a killed
    # run's leftover is still tidied. A name longer than that is refused before the run, not at
    # the rename after it.
    for name, kept in (("r" * 250 + ".json", "r" * 241), ("\u00e9" * 124 + "xy.json", "\u00e9" * 120)):
        size = len(os.fsencode(name))
        out = os.path.join(directory, name)
        code = stop_mid_run(binary, out, signal.SIGKILL)
        assert code == -signal.SIGKILL, "expected the run killed by SIGKILL, got exit status %s" % code
        cut = left(directory, name)
        # os.listdir decodes a name cut inside a character with surrogates: then not this prefix
        assert len(cut) == 1 and cut[0].startswith(kept + ".tmp."), "a killed run left %r" % cut
        proc = subprocess.run([binary, BENCHMARK, *SHORT, "--benchmark_out=" + out], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
        assert proc.returncode == 0, "a %d-byte FILE: exit status %d, %s" % (size, proc.returncode,
                                                                           proc.stderr.strip()[-300:])
        with open(out, encoding="utf-8") as f:
            assert len([b for b in json.load(f)["benchmarks"] if b.get("run_type") == "iteration"]) == 2
        assert left(directory, name) == [], "after the next run: %s" % left(directory, name)
        os.unlink(out)
    too_long = os.path.join(directory, "r" * 251 + ".json")
    proc = subprocess.run([binary, BENCHMARK, *LONG, "--benchmark_out=" + too_long], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 2 and "File name too long" in proc.stderr and "Running" not in proc.stderr, \
        "a 256-byte FILE: exit status %d, %s" % (proc.returncode, proc.stderr.strip()[-300:])
    assert os.listdir(directory) == [], "a refused FILE left %s" % os.listdir(directory)
    return ("FILEs of 255 bytes (ASCII, and two-byte characters) were written whole, a killed run's leftover "
            "beside each removed; one of 256 bytes was refused before the run")


def fifo_with_a_reader(binary, directory):
    # The check that FILE can be written opened and closed a FIFO, which gave its reader
    # end-of-file: the run then waited for good for a reader that had gone.
    fifo = os.path.join(directory, "record.fifo")
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", fifo], stdout=subprocess.PIPE)
    try:
        subprocess.run([binary, BENCHMARK, *SHORT, "--benchmark_out=" + fifo], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        doc = json.loads(reader.communicate(timeout=30)[0])
    finally:
        reader.kill()
    assert len([b for b in doc["benchmarks"] if b.get("run_type") == "iteration"]) == 2, doc["benchmarks"]
    return "a FIFO's reader got the whole record"


def cut_short_keeps_earlier(binary, directory):
    # Google Benchmark never checks its writes: a record cut short by a full disk or a file-size
    # limit replaced the earlier FILE, and the run exited 0.
    out = os.path.join(directory, "record.json")
    with open(out, "wb") as f:
        f.write(EARLIER)

    def limited():  # a file may grow to 2 KiB, and a write past that fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    proc = subprocess.run([binary, BENCHMARK, *SHORT, "--benchmark_out=" + out], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120,
                          preexec_fn=limited)
    last = proc.stderr.strip().splitlines()[-1:]
    assert proc.returncode == 1, "a record cut short: exit status %d (%s)" % (proc.returncode, last)
    assert last and "writing the record failed part-way" in last[0], "its last line: %s" % last
    with open(out, "rb") as f:
        now = f.read()
    assert now == EARLIER, "a record cut short replaced the earlier one with %r" % now[:200]
    assert not left(directory, "record.json"), "a record cut short left %s" % left(directory, "record.json")
    return "a record cut short by a file-size limit failed the run and left the earlier record as it was"


def main():
    case, binary = sys.argv[1], sys.argv[2]
    check = {"stopped_leaves_none": stopped_leaves_none, "stopped_keeps_earlier": stopped_keeps_earlier,
             "hangup_leaves_none": hangup_leaves_none, "fifo_with_a_reader": fifo_with_a_reader,
             "killed_is_tidied_next_run": killed_is_tidied_next_run, "pipe_leaves_none": pipe_leaves_none,
             "longest_name": longest_name, "cut_short_keeps_earlier": cut_short_keeps_earlier}[case]
    with tempfile.TemporaryDirectory(prefix="concbench-out-") as directory:
        try:
            print("ok: " + check(binary, directory))
        except AssertionError as e:
            print("FAIL: %s" % e)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
