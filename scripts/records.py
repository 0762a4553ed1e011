# SPDX-License-Identifier: MIT
# Records: the run files in results/history/, their names, what their context says, and git.
# A record is one run's Google Benchmark JSON, written by ./bench (scripts/run_isolated.py); its
# scope says whether it ran the whole default suite or only part of it.
import glob
import json
import math
import os
import platform
import re
import socket
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from fmt import finite

# --- the history of records ---------------------------------------------------

# results/history/<UTCstamp>-<commit12>[-dirty]-<host>[-<scope>].json, as ./bench names them
_RECORD_NAME = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)-(?P<commit>[0-9a-f]{12}|nocommit|unknown)"
                          r"(?P<dirty>-dirty)?-(?P<host>.+?)(?:-(?P<scope>quick|partial))?\.json$")
FULL, QUICK, PARTIAL = "full", "quick", "partial"


def record_name(context, scope, later=0):
    """The file name ./bench gives a record, from its context and scope (FULL, QUICK, PARTIAL);
    `later` seconds are added to its stamp, for a name another run begun in the same second took."""
    when = (_parse_date(context.get("date")) or datetime.now(timezone.utc)) + timedelta(seconds=later)
    commit = str(context.get("concbench_commit") or "")
    commit = commit[:12] if re.fullmatch(r"[0-9a-f]{40}", commit) else "nocommit"
    dirty = "-dirty" if parse_dirty(context.get("concbench_dirty")) else ""
    host = re.sub(r"[^A-Za-z0-9._-]", "_", str(context.get("host_name") or "unknown").split(".")[0])
    return "%s-%s%s-%s%s.json" % (when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), commit,
                                  dirty, host, "" if scope == FULL else "-" + scope)


@dataclass
class Record:
    path: str
    commit: str        # full sha, or "unknown"
    dirty: object      # True / False / None (unknown)
    when: datetime     # for "latest": the context's date, else mtime
    scope: str         # FULL, QUICK or PARTIAL
    context: dict

    def describe(self):
        return "%s (commit %s%s, host %s, %s)" % (
            self.path, self.commit[:12], " dirty" if self.dirty else "",
            self.context.get("host_name") or "unknown", self.context.get("date") or "date unknown")


_DIRTY = {"true": True, "1": True, "yes": True, "dirty": True,
          "false": False, "0": False, "no": False, "clean": False}


def parse_dirty(value):
    """True, False, or None when the value says neither."""
    return _DIRTY.get(str(value).strip().lower())


def _parse_date(text):
    try:
        d = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def record_from_context(path, context):
    context = context if isinstance(context, dict) else {}
    commit = str(context.get("concbench_commit")).strip().lower()
    # Google Benchmark writes a date, and ./bench writes the scope of every record it names -quick or -partial.
    when = _parse_date(context.get("date")) or datetime.fromtimestamp(os.path.getmtime(path), timezone.utc)
    scope = context.get("concbench_scope") or FULL
    return Record(path=path, commit=commit if re.fullmatch(r"[0-9a-f]{40}", commit) else "unknown",
                  dirty=parse_dirty(context.get("concbench_dirty")),
                  when=when, scope=scope if scope in (FULL, QUICK, PARTIAL) else PARTIAL,
                  context=context)


def read_record(path):
    """The Record of a run file, or None when it is not readable Google Benchmark JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError, RecursionError):
        return None
    if isinstance(doc, dict) and isinstance(doc.get("benchmarks"), list):
        return record_from_context(path, doc.get("context"))
    return None


def record_files(history_dir):
    """The *.json files directly in `history_dir`, by name, but in-progress *.tmp files."""
    return [path for path in sorted(glob.glob(os.path.join(glob.escape(history_dir), "*.json")))
            if ".tmp" not in os.path.basename(path) and os.path.isfile(path)]


def scan_records(history_dir, commit_prefix=None):
    """Readable records directly in `history_dir` (not in-progress *.tmp files), optionally only those
    whose commit starts with `commit_prefix` (files ./bench named for another commit are not even read)."""
    out = []
    for path in record_files(history_dir):
        m = _RECORD_NAME.match(os.path.basename(path))
        named = m.group("commit") if m and m.group("commit") not in ("nocommit", "unknown") else None
        if commit_prefix and named and not named.startswith(commit_prefix[:12]):
            continue
        rec = read_record(path)
        if rec is not None and rec.commit.startswith(commit_prefix or ""):
            out.append(rec)
    return out


def latest_record(records):
    """The record a commit stands for on a page: the newest of its full runs from a clean tree;
    failing that a full run from a dirty tree, and only then a quick or partial run (a dirty
    tree is not the commit, and part of the suite is not the suite). plot.py draws it by
    default; compare.py, judging the commit, gives it the clean records alone."""
    return max(records, key=lambda r: (r.scope == FULL, r.dirty is False, r.when, r.path), default=None)


# The keys of a Google Benchmark entry; every other numeric key is a user counter.
GB_KEYS = frozenset((
    "name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
    "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit", "aggregate_name",
    "aggregate_unit", "error_occurred", "error_message", "skipped", "skip_message", "label", "big_o",
    "rms", "cpu_coefficient", "real_coefficient", "complexity_n"))


# --- machine identity -----------------------------------------------------------

# What must match for two runs' numbers to be comparable: the same machine, as far as a run
# can tell (every VM here is called "vm", so the name alone says little). A record that lacks
# one of these is not the machine of a record that has it.
IDENTITY = ("host_name", "cpu_model", "cpu_vector_flags", "hardware_threads", "memory_gib", "kernel")
# Recorded later: two records that both lack it (made before it was) are judged by the rest.
# "AMD EPYC" has named two CPU generations here, told apart by vendor, family, model, stepping.
LATER_IDENTITY = ("cpu_signature",)
# Two VMs alike in all the rest, on one kernel, ran at 2096 and 2596 MHz and summed 2x apart.
# Google Benchmark's mhz_per_cpu is compared where both records lack cpufreq (cpu_governor "not
# exposed"): there it is the TSC's or /proc/cpuinfo's clock, fixed at boot to within a few MHz.
# With cpufreq it may be the current clock, which moves from run to run, so it is left out.
MHZ_TOLERANCE = 0.02
# What moves the numbers on one machine, SETTINGS: differences are reported beside a comparison.
# What the binary was built with and links: a history is one build's (a sanitized or clang
# binary's record beside release ones would read as a step at its commit).
BUILD = ("compiler", "cxx_flags", "native_target", "build_type", "tbb_version", "openmp_runtime", "libcurl_version")
# The machine's: what may also change between the processes of one run (run_isolated.py says so).
MACHINE_SETTINGS = ("transparent_hugepages", "aslr", "cpu_governor", "cpu_boost", "cpu_idle", "cpu_quota",
                    "event_wait")
SETTINGS = BUILD + MACHINE_SETTINGS


def build_differences(a, b):
    """"key: A vs B" for the BUILD keys both contexts record and that differ."""
    return differences(a, b, BUILD)


def not_a_full_run(r):
    """Why record R is no full run of its commit as the suite measures it, for a series of runs
    (compare.py's noise, history.py's steps), or None: a dirty tree's (other code), a test hook's
    (a planted change), a quick or partial run's (other flags, another noise)."""
    return ("from a dirty tree" if r.dirty is not False else
            "with a test hook set (a slowdown, another memory size)" if hook_settings(r.context) else
            "of a --quick or partial run (not every benchmark, or other flags)" if r.scope != FULL else None)


def hook_settings(context):
    """{context key: what it says} of the CONCBENCH_TEST_* hooks a record's binary had set, in key order."""
    return {k: str(v) for k, v in sorted(context.items()) if k.startswith("concbench_test_") and v not in (None, "")}


# One kind of VM's records measured a system call within 1.5x of each other (0.98-1.33 us,
# 0.16-0.23 us); the 2,096 and 2,596 MHz VMs differ about 5x, which decides fetch numbers (README).
SYSCALL_RATIO = 2.0


def syscall_ns(context):
    """What one system call cost when the run started, ns; None if not recorded or not a number."""
    try:
        ns = float(context.get("syscall_ns"))
    except (TypeError, ValueError):
        return None
    return ns if math.isfinite(ns) and ns > 0 else None


def syscall_difference(a, b):
    """A note when two records' system calls cost more than SYSCALL_RATIO apart; [] otherwise."""
    ns = [syscall_ns(c) for c in (a, b)]
    if None in ns or max(ns) <= SYSCALL_RATIO * min(ns):
        return []
    return ["one system call: %.0f ns vs %.0f ns (syscall_ns; a fetch request makes a few on each side)" % tuple(ns)]


def identity(context):
    return {k: str(context[k]) for k in IDENTITY + LATER_IDENTITY + ("mhz_per_cpu",)
            if context.get(k) not in (None, "")}


def differences(a, b, keys):
    return ["%s: %s vs %s" % (k, a[k], b[k]) for k in keys
            if a.get(k) not in (None, "") and b.get(k) not in (None, "") and str(a[k]) != str(b[k])]


def identity_differences(a, b):
    """"key: A vs B" for the identity keys both contexts record and that differ, and the fixed
    clocks of both when they differ by more than MHZ_TOLERANCE: two machines for certain. Host
    names are compared without a domain part (hostname -s vs gethostname)."""
    short = [dict(c, host_name=str(c["host_name"]).split(".")[0]) if c.get("host_name") else c for c in (a, b)]
    found = differences(*short, IDENTITY + LATER_IDENTITY)
    clocks = [fixed_clock(c) for c in (a, b)]
    if all(clocks) and abs(clocks[0] - clocks[1]) > MHZ_TOLERANCE * max(clocks):
        found.append("mhz_per_cpu: %s vs %s" % (a["mhz_per_cpu"], b["mhz_per_cpu"]))
    # One VM exposes cpufreq and the other does not: the clocks cannot be compared, and the
    # hypervisors differ, so the machines do (else the 2096 and 2596 MHz VMs could pass as one).
    exposed = [has_cpufreq(c) for c in (a, b)]
    if None not in exposed and exposed[0] != exposed[1]:
        found.append("cpufreq: %s vs %s" % tuple("exposed (governor %s)" % c["cpu_governor"] if e else "not exposed"
                                                 for c, e in zip((a, b), exposed)))
    return found


def has_cpufreq(context):
    """Whether the record's machine exposes cpufreq (a governor), or None when it does not say."""
    governor = context.get("cpu_governor")
    return None if governor in (None, "") else governor != "not exposed"


def fixed_clock(context):
    """The record's clock in MHz where it is fixed (no cpufreq) and known (above 0), else None."""
    try:
        mhz = float(context.get("mhz_per_cpu"))
    except (TypeError, ValueError):
        return None
    return mhz if has_cpufreq(context) is False and mhz > 0 else None


def same_machine(a, b):
    """Whether two records' contexts name the same machine: machine_differences finds nothing."""
    return not machine_differences(a, b)


def machine_differences(a, b, names=("OLD", "NEW")):
    """Why two contexts are not the same machine, as "key: A vs B" or "key: not recorded by ..."
    (`names` name the two): an IDENTITY key either lacks, a LATER_IDENTITY key only one has, or
    identity_differences."""
    def lacks(c, k):
        return c.get(k) in (None, "")
    missing = ["%s: not recorded by %s" % (k, names[0] if lacks(a, k) else names[1])
               for k in IDENTITY + LATER_IDENTITY
               if ((lacks(a, k) or lacks(b, k)) if k in IDENTITY else lacks(a, k) != lacks(b, k))]
    return missing + identity_differences(a, b)


def read_fields(path):
    """The "key : value" lines of a /proc file as (key, value) pairs, in order; none if it cannot be read."""
    try:
        with open(path) as f:
            return [(k.strip(), v.strip()) for k, sep, v in (line.partition(":") for line in f) if sep]
    except OSError:
        return []


def _field(fields, key):
    """The first value whose key is `key` itself ("model", not "model name")."""
    return next((v for k, v in fields if k == key), "")


def this_machine():
    """The identity of the machine this runs on, read as the benchmark binary reads it
    (benchmarks/common/context.cpp; mhz_per_cpu as Google Benchmark does), to pick the records
    made here."""
    cpuinfo = read_fields("/proc/cpuinfo")
    flags = set(_field(cpuinfo, "flags").split())
    kib = _field(read_fields("/proc/meminfo"), "MemTotal").split()
    vector = " ".join(f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl") if f in flags)
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") as f:
            governor = f.readline().strip()
    except OSError:
        governor = "not exposed"
    return {"host_name": socket.gethostname(), "cpu_model": _field(cpuinfo, "model name") or "unknown",
            "cpu_signature": cpu_signature(cpuinfo),
            "cpu_vector_flags": vector or "none of sse4_2 avx avx2 fma avx512f",
            "hardware_threads": str(len(os.sched_getaffinity(0))), "kernel": platform.release(),  # as usable_cpus()
            "memory_gib": "%.1f" % (int(kib[0]) / 1024 / 1024) if kib else "",
            "mhz_per_cpu": clock_mhz(cpuinfo), "cpu_governor": governor}


def cpu_signature(cpuinfo):
    """Vendor, family, model and stepping (x86), or implementer and part (Arm), from /proc/cpuinfo's
    fields as the binary records them: "AuthenticAMD family 25 model 17 stepping 1"; "unknown"
    when neither is there."""
    vendor, part = _field(cpuinfo, "vendor_id"), _field(cpuinfo, "CPU part")
    if vendor:
        return "%s family %s model %s stepping %s" % (vendor, *(_field(cpuinfo, k) for k in (
            "cpu family", "model", "stepping")))
    return "implementer %s part %s" % (_field(cpuinfo, "CPU implementer"), part) if part else "unknown"


def clock_mhz(cpuinfo, cpu0="/sys/devices/system/cpu/cpu0"):
    """mhz_per_cpu as Google Benchmark 1.7.1 finds it on Linux without cpufreq (src/sysinfo.cc,
    GetCPUCyclesPerSecond, rounded to MHz as its JSON reporter does): the TSC's kHz, else the first
    positive "cpu MHz" of /proc/cpuinfo's fields, else its last bogomips. "" with cpufreq, where
    Google Benchmark may read the current clock (fixed_clock leaves it out), or when nothing says."""
    try:
        with open(os.path.join(cpu0, "tsc_freq_khz")) as f:
            return str(int(int(f.read().split()[0]) / 1000 + 0.5))
    except (OSError, ValueError, IndexError):
        pass
    if os.path.exists(os.path.join(cpu0, "cpufreq")):
        return ""

    def mhz(key):  # Google Benchmark matches the key's start, in any case
        for name, value in cpuinfo:
            if name.lower().startswith(key):
                try:
                    yield float(value)
                except ValueError:
                    pass
    value = next((v for v in mhz("cpu mhz") if v > 0), None)
    if value is None:
        value = next(reversed(list(mhz("bogomips"))), None)
    return "" if value is None else str(int(value + 0.5)) if value > 0 else "0"


_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def parse_number(text):
    """int or float for a numeric string (integral floats like 1e8 become int), else None."""
    if _INT.match(text):
        return int(text)
    if not _FLOAT.match(text):
        return None
    return _whole(float(text))


def _whole(value):
    """A float as the int it is exactly when it is a whole number below 2^53, else unchanged."""
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value


def context_int(context, key):
    """An integer context value (custom keys are strings in Google Benchmark JSON), or None."""
    value = context.get(key)
    value = parse_number(value.strip()) if isinstance(value, str) else _whole(float(value)) if finite(value) else None
    return value if isinstance(value, int) else None


def machine_line(context):
    """One line naming machine, commit and date, for figure footers and page headers."""
    parts = ["host %s" % context["host_name"]] if context.get("host_name") else []
    if context.get("cpu_model"):
        # Two VMs both called "AMD EPYC" differed 2x in vector adds; the clock tells them apart
        # (an Intel name carries its own: "@ 2.60GHz").
        model, mhz = str(context["cpu_model"]), context.get("mhz_per_cpu")
        parts.append(model + (" %s MHz" % mhz if mhz and "Hz" not in model else ""))
    # counts only: a record's "inf" or "nan" says nothing about the machine
    counts = [context_int(context, k) for k in ("num_cpus", "hardware_threads")]
    cpus, hw = (n if n and n > 0 else None for n in counts)
    if cpus or hw:
        threads = " / %d hw threads" % hw if hw and hw != cpus else ""
        parts.append("%s CPUs%s" % (cpus or "?", threads))
    vector_flags = str(context.get("cpu_vector_flags") or "").split()
    if vector_flags:  # the widest: "avx2 avx512f" says avx512f
        parts.append(vector_flags[-1])
    if context.get("concbench_commit"):
        dirty = parse_dirty(context.get("concbench_dirty"))
        parts.append("commit %s%s" % (str(context["concbench_commit"])[:12], " (dirty)" if dirty else ""))
    if context.get("date"):
        parts.append(str(context["date"]))
    if context.get("environment_unstable") not in (None, "", "no"):
        parts.append("UNSTABLE: %s" % context["environment_unstable"])
    return " · ".join(parts) if parts else "machine unknown (no context in the run file)"


# --- git ----------------------------------------------------------------------

class GitError(Exception):
    pass


def git(repo, *args):
    try:
        proc = subprocess.run(["git", "-C", repo] + list(args), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        raise GitError("cannot run git: %s" % e) from None
    if proc.returncode != 0:
        raise GitError((proc.stderr.strip().splitlines() or ["git %s failed" % args[0]])[-1])
    return proc.stdout


def resolve_rev(repo, rev):
    """Full sha of a git revision in `repo`, or None if git does not know it."""
    if rev.startswith("-"):
        return None
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", rev + "^{commit}").strip() or None
    except GitError:
        return None


def commit_order(repo, ref="HEAD"):
    """Ancestors of `ref`, oldest first, in topological order: {sha: position}."""
    return {sha: i for i, sha in enumerate(git(repo, "rev-list", "--topo-order", "--reverse", ref).split())}
