# SPDX-License-Identifier: MIT
# Records: the run files in results/history/, their names, what their context says, and git.
"""The bottom layer of scripts/: which records exist, what each stands for, and commits.

A record is one run's Google Benchmark JSON, written by ./bench (scripts/run_isolated.py)
as results/history/<UTC stamp>-<commit12>[-dirty]-<host>[-quick|-partial].json: the
scope says whether it ran the whole default suite or only part of it.
"""
import json
import os
import platform
import re
import socket
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone

# --- the history of records ---------------------------------------------------

# results/history/<UTCstamp>-<commit12>[-dirty]-<host>[-<scope>].json, as ./bench names them
_RECORD_NAME = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)-(?P<commit>[0-9a-f]{12}|nocommit|unknown)"
                          r"(?P<dirty>-dirty)?-(?P<host>.+?)(?:-(?P<scope>quick|partial))?\.json$")
FULL, QUICK, PARTIAL = "full", "quick", "partial"


def record_name(context, scope):
    """The file name ./bench gives a record, from its context and scope (FULL, QUICK, PARTIAL)."""
    when = _parse_date(context.get("date")) or datetime.now(timezone.utc)
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
    host: str          # host_name from the context, "" when absent
    date: str          # the context's date, as written
    when: datetime     # for "latest": the context's date, else the file name's stamp, else mtime
    scope: str = FULL  # FULL, QUICK or PARTIAL: from the context, else from the file name
    context: dict = field(default_factory=dict)

    @property
    def short(self):
        return self.commit[:12] if self.commit != "unknown" else "unknown"

    def describe(self):
        return "%s (commit %s%s, host %s, %s)" % (
            self.path, self.short, " dirty" if self.dirty else "", self.host or "unknown",
            self.date or "date unknown")


def parse_dirty(value):
    text = str(value).strip().lower() if value is not None else ""
    if text in ("true", "1", "yes", "dirty"):
        return True
    if text in ("false", "0", "no", "clean"):
        return False
    return None


def _parse_date(text):
    if not isinstance(text, str) or not text:
        return None
    try:
        d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def record_from_context(path, context):
    context = context if isinstance(context, dict) else {}
    commit = str(context.get("concbench_commit") or "unknown").strip().lower()
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        commit = "unknown"
    when = _parse_date(context.get("date"))
    m = _RECORD_NAME.match(os.path.basename(path))
    if when is None and m:
        when = datetime.strptime(m.group("stamp"), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    if when is None:
        when = datetime.fromtimestamp(os.path.getmtime(path), timezone.utc)
    scope = context.get("concbench_scope") or (m.group("scope") if m else None) or FULL
    return Record(path=path, commit=commit, dirty=parse_dirty(context.get("concbench_dirty")),
                  host=str(context.get("host_name") or ""), date=str(context.get("date") or ""),
                  when=when, scope=scope if scope in (FULL, QUICK, PARTIAL) else PARTIAL,
                  context=context)


def read_record(path):
    """The Record of a run file, or None when it is not readable Google Benchmark JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        return None
    return record_from_context(path, doc.get("context"))


def record_paths(history_dir):
    """Run files directly in `history_dir` (not plots/, not in-progress *.tmp files)."""
    try:
        names = sorted(os.listdir(history_dir))
    except OSError:
        return []
    return [os.path.join(history_dir, n) for n in names
            if n.endswith(".json") and ".tmp" not in n and os.path.isfile(os.path.join(history_dir, n))]


def scan_records(history_dir, commit_prefix=None):
    """Records in `history_dir` (unreadable files skipped), optionally only those whose
    commit starts with `commit_prefix`; the file name is used to skip reading files
    ./bench named for another commit."""
    out = []
    for path in record_paths(history_dir):
        m = _RECORD_NAME.match(os.path.basename(path))
        if commit_prefix and m and m.group("commit") not in ("nocommit", "unknown"):
            short = commit_prefix[:12]
            if not m.group("commit").startswith(short[:len(m.group("commit"))]):
                continue
        rec = read_record(path)
        if rec is None:
            continue
        if commit_prefix and not rec.commit.startswith(commit_prefix):
            continue
        out.append(rec)
    return out


def newest_record(history_dir):
    """The newest run in `history_dir` by its date (what plot.py draws by default), or None."""
    found = scan_records(history_dir)
    return max(found, key=lambda r: (r.when, r.path)) if found else None


def same_host(a, b):
    """Host names match, ignoring a domain part on either side (hostname -s vs gethostname)."""
    if not a or not b:
        return a == b
    return a == b or a.split(".")[0] == b.split(".")[0]


def latest_record(records):
    """The record a commit stands for: the newest of its full runs from a clean tree; failing
    that a full run from a dirty tree, and only then a quick or partial run (a dirty tree is
    not the commit, and part of the suite is not the suite)."""
    if not records:
        return None
    return max(records, key=lambda r: (r.scope == FULL, r.dirty is False, r.when, r.path))


# --- machine identity -----------------------------------------------------------

# What must match for two runs' numbers to be comparable: the same machine, as far as a run
# can tell (every VM here is called "vm", so the name alone says little).
IDENTITY = ("host_name", "cpu_model", "cpu_vector_flags", "hardware_threads", "memory_gib", "kernel")
# What moves the numbers on one machine: differences are reported beside a comparison.
SETTINGS = ("compiler", "cxx_flags", "build_type", "tbb_version", "openmp_runtime", "libcurl_version",
            "transparent_hugepages", "aslr", "cpu_governor", "cpu_boost")


def identity(context):
    """{key: value} of the IDENTITY keys a record's context has."""
    return {k: str(context[k]) for k in IDENTITY if context.get(k) not in (None, "")}


def differences(a, b, keys):
    """["key: A vs B"] for the keys both contexts record and that differ."""
    return ["%s: %s vs %s" % (k, a[k], b[k]) for k in keys
            if a.get(k) not in (None, "") and b.get(k) not in (None, "") and str(a[k]) != str(b[k])]


def same_machine(a, b):
    """Whether two records' contexts name the same machine: every IDENTITY key recorded by
    both and equal (host names compared without a domain part). A record that lacks one
    (made before concbench recorded it) is the same machine as nothing."""
    if any(a.get(k) in (None, "") or b.get(k) in (None, "") for k in IDENTITY):
        return False
    return same_host(str(a["host_name"]), str(b["host_name"])) and not differences(a, b, IDENTITY[1:])


def machine_differences(a, b):
    """Why two contexts are not the same machine, as "key: A vs B" or "key: not recorded"."""
    missing = ["%s: not recorded by %s" % (k, "OLD" if a.get(k) in (None, "") else "NEW") for k in IDENTITY
               if a.get(k) in (None, "") or b.get(k) in (None, "")]
    return missing + differences(a, b, IDENTITY)


def this_machine():
    """The IDENTITY of the machine this runs on, read as the benchmark binary reads it
    (benchmarks/common/context.cpp), to pick the records made here."""
    def field_of(path, key):
        try:
            with open(path) as f:
                return next((line.split(":", 1)[1].strip() for line in f if line.startswith(key)), "")
        except OSError:
            return ""
    flags = set(field_of("/proc/cpuinfo", "flags").split())
    kib = field_of("/proc/meminfo", "MemTotal").split()
    return {"host_name": socket.gethostname(), "cpu_model": field_of("/proc/cpuinfo", "model name"),
            "cpu_vector_flags": " ".join(f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw",
                                                     "avx512vl") if f in flags),
            "hardware_threads": str(os.cpu_count()), "kernel": platform.release(),
            "memory_gib": "%.1f" % (int(kib[0]) / 1024 / 1024) if kib else ""}


def machine_line(context):
    """One line naming machine, commit and date, for figure footers and page headers."""
    parts = ["host %s" % context["host_name"]] if context.get("host_name") else []
    if context.get("cpu_model"):
        parts.append(str(context["cpu_model"]))
    cpus, hw = context.get("num_cpus"), context.get("hardware_threads")
    if cpus or hw:
        parts.append("%s CPUs" % (cpus or "?") + (" / %s hw threads" % hw if hw and str(hw) != str(cpus) else ""))
    if context.get("cpu_vector_flags"):
        parts.append(str(context["cpu_vector_flags"]).split()[-1])
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
    shas = git(repo, "rev-list", "--topo-order", "--reverse", ref).split()
    return {sha: i for i, sha in enumerate(shas)}
