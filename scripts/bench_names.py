# SPDX-License-Identifier: MIT
# Parses Google Benchmark names into concbench fields and loads Google Benchmark JSON into a tidy table.
import json
import math
import re
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from fmt import finite, one_line
from records import GB_KEYS, context_int, parse_number

TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}

# --- the naming contract with the C++ side -----------------------------------

SUM_MODELS = ("seq", "threads", "pool", "tbb", "openmp", "fork", "process_pool", "std_par", "mpi")
SUM_KERNELS = ("range", "array")
FETCH_MODELS = ("seq", "pool", "threads", "fork", "process_pool", "openmp", "tbb", "multi", "multi_socket",
                "coro", "multi_threads")
# The peak benchmarks and the numeric arguments each needs; vector_add none: records from
# before it took workers:W ran one thread. raw_http: the client floor under the fetch models.
_PEAK_ARGS = {"vector_add": (), "read_bw": ("workers", "bytes"), "wrk": ("conc", "bytes"),
              "raw_http": ("conc", "n", "delay_ms", "bytes")}
CONCBENCH_WORKLOADS = ("sum", "fetch", "peak")
# A leading segment naming the language of a port (python/sum/...); C++ names have none.
LANG_PREFIXES = ("python",)

# Tokens Google Benchmark itself appends to a name (benchmark.h, BenchmarkName):
# they describe how it was run, not what was measured.
_TIME_FLAGS = ("real_time", "process_time", "manual_time")
_META_KEYS = ("min_time", "min_warmup_time", "iterations", "repeats", "threads")
# Built-in statistics plus the complexity fits; custom ComputeStatistics names
# are only recognised when the JSON's aggregate_name says so.
AGGREGATE_NAMES = ("mean", "median", "stddev", "cv", "BigO", "RMS")
# A built-in suffix is stripped only where it cannot be part of the function name:
# after a run token, a key:value or a number.
_AGG_SUFFIX = re.compile(r"^(.*(?:^|/)(?:real_time|process_time|manual_time|[^/]*:[^/]*|[+-]?\d[\w.+-]*))"
                         r"_(%s)$" % "|".join(AGGREGATE_NAMES))


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclass(frozen=True, eq=False)
class BenchName:
    base: str        # without run tokens and aggregate suffix; repetitions share it
    lang: str        # "cpp", or the leading language segment ("python")
    workload: str    # first segment after the language ("sum", "fetch", "BM_memcpy")
    labels: tuple    # the other segments that are neither numbers nor key:value; model and kernel first
    args: dict       # key:value segments (numbers as int/float, others str), bare numbers as arg0, arg1, ...
    threads: int = None

    @property
    def model(self):
        return self.labels[0] if self.labels else None

    @property
    def kernel(self):
        return self.labels[1] if len(self.labels) > 1 else None

    @property
    def family(self):
        """Name without argument values: benchmarks that differ only in their arguments share it."""
        prefix = [] if self.lang == "cpp" else [self.lang]
        return "/".join(prefix + [self.workload] + list(self.labels))


def parse_name(name, aggregate_name=None):
    """Take any program's Google Benchmark name apart; aggregate_name is the JSON entry's, if any."""
    suffix = None if aggregate_name else _AGG_SUFFIX.match(name)
    if suffix:
        name = suffix.group(1)
    elif aggregate_name and name.endswith("_" + aggregate_name):
        name = name[: -len(aggregate_name) - 1]
    kept, threads = [], None
    for seg in name.split("/"):
        key, sep, value = seg.partition(":")
        if seg in _TIME_FLAGS:
            continue
        elif sep and key == "threads":
            threads = parse_number(value)
        elif not (sep and key in _META_KEYS):
            kept.append(seg)
    lang = kept.pop(0) if len(kept) > 1 and kept[0] in LANG_PREFIXES else "cpp"
    labels, args, positional = [], {}, 0
    for seg in kept[1:]:
        key, sep, value = seg.partition(":")
        number, value_number = parse_number(seg), parse_number(value)
        if number is not None:
            args["arg%d" % positional] = number
            positional += 1
        elif sep and key:
            args[key] = value if value_number is None else value_number
        else:
            labels.append(seg)
    base = "/".join(([] if lang == "cpp" else [lang]) + kept)
    return BenchName(base=base, lang=lang, workload=kept[0] if kept else "", labels=tuple(labels),
                     args=args, threads=threads)


def is_concbench(bn):
    """Whether the name is in concbench's namespace (it may still be malformed)."""
    return bn.workload in CONCBENCH_WORKLOADS


def concbench_problem(bn):
    """Why a name in concbench's namespace breaks the naming contract, or None if it keeps it."""
    if not is_concbench(bn):
        return "not a concbench workload"
    a, cpp = bn.args, bn.lang == "cpp"

    def need(*keys):
        missing = [k + ":" for k in keys if not finite(a.get(k))]
        if missing:
            return "missing numeric " + ", ".join(missing)
        # Counts and sizes are positive (workers:0 drew an axis from NaN); a delay can be 0.
        bad = [k + ":" for k in keys if a[k] < 0 or (a[k] == 0 and k != "delay_ms")]
        return "not a positive " + ", ".join(bad) if bad else None

    if bn.workload == "sum":
        if cpp and len(bn.labels) != 2:
            return "expected sum/<model>/<kernel>/workers:W/n:N"
        if cpp and bn.model not in SUM_MODELS:
            return "unknown sum model '%s'" % bn.model
        if cpp and bn.kernel not in SUM_KERNELS:
            return "unknown sum kernel '%s'" % bn.kernel
        if not cpp and len(bn.labels) != 1:
            return "expected %s/sum/<model>/workers:W/n:N" % bn.lang
        problem = need("workers", "n")
        if not problem and bn.model == "seq" and a["workers"] != 1:
            return "seq must be workers:1"
        return problem
    if bn.workload == "fetch" and bn.labels[:1] == ("open",):
        if len(bn.labels) != 2 or (cpp and bn.labels[1] not in FETCH_MODELS):
            return "expected fetch/open/<model>/rate:R/conc:C/n:N/delay_ms:L/..."
        return need("rate", "conc", "n", "delay_ms")
    if bn.workload == "fetch":
        if len(bn.labels) != 1:
            return "expected fetch/<model>/conc:C/n:N/..."
        if cpp and bn.model not in FETCH_MODELS:
            return "unknown fetch model '%s'" % bn.model
        problem = need("conc", "n")
        if not problem and not finite(a.get("delay_ms")) and not isinstance(a.get("profile"), str):
            return "needs delay_ms:L or profile:NAME"
        return problem
    if not cpp or len(bn.labels) != 1 or bn.model not in _PEAK_ARGS:
        return "unknown peak benchmark '%s'" % "/".join(bn.labels)
    return need(*_PEAK_ARGS[bn.model])


# --- loading ------------------------------------------------------------------

class RunFileError(Exception):
    """A run file that cannot be used at all; str() is one line for the user."""


class AllErrored(RunFileError):
    """A run file whose every benchmark errored: `errors` is {benchmark: its first message}, in run
    order, and `context` the file's context (an object, else {})."""

    def __init__(self, message, errors, context):
        super().__init__(message)
        self.errors, self.context = errors, context


@dataclass
class Skipped:
    name: str
    reason: str
    count: int


@dataclass
class Run:
    """A loaded run: `df` has one row per measurement (see load_run)."""
    context: dict
    df: object  # pandas.DataFrame
    skipped: list
    n_entries: int
    n_errored: int
    source: str  # "iterations", "median aggregates" or "mixed"


# Columns load_run always provides; counters get their own names unless they clash.
BASE_COLUMNS = ["name", "key", "family", "lang", "workload", "model", "kernel", "threads", "repetitions", "time_s",
                "time_stddev_s", "row_kind"]


def read_json(path):
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except OSError as e:
        raise RunFileError("cannot read %s: %s" % (path, e.strerror or e)) from None
    except UnicodeDecodeError:
        raise RunFileError("%s is not JSON (not UTF-8 text)" % path) from None
    if not text.strip():
        raise RunFileError("%s is empty, not Google Benchmark JSON" % path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RunFileError("%s is not JSON (%s; line %d column %d)"
                           % (path, e.msg, e.lineno, e.colno)) from None
    except ValueError as e:  # JSON, but not Python's: an integer of more than 4,300 digits
        raise RunFileError("%s is not usable JSON (%s)" % (path, one_line(str(e)))) from None
    except RecursionError:
        raise RunFileError("%s is not usable JSON (nested too deeply)" % path) from None


def _seconds(entry):
    """An entry's real_time in seconds; None without a numeric real_time in a known time_unit."""
    unit, real = entry.get("time_unit", "ns"), entry.get("real_time")
    known = isinstance(unit, str) and unit in TIME_UNITS  # a list here once raised TypeError
    return float(real) * TIME_UNITS[unit] if known and _is_number(real) else None


# A time past this (31 years a call), negative, NaN or infinite was typed, not measured.
MAX_SECONDS = 1e9


def _entries(path):
    """(benchmarks, context) of a Google Benchmark JSON file; RunFileError when it is none."""
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise RunFileError("%s is not Google Benchmark JSON (top level is %s, expected an object "
                           "with \"benchmarks\")" % (path, type(doc).__name__))
    entries = doc.get("benchmarks")
    if not isinstance(entries, list):
        raise RunFileError("%s is not Google Benchmark JSON (no \"benchmarks\" list)" % path)
    if not entries:
        raise RunFileError("%s has no benchmarks" % path)
    return entries, doc.get("context") if isinstance(doc.get("context"), dict) else {}


def _row(path, entry, name, kind, stddev_entry=None):
    """One Run row from a repetition or an aggregate entry; None when it has no usable time,
    RunFileError when its time is out of range (typed, not measured)."""
    bn = parse_name(name)
    seconds = _seconds(entry)
    if not seconds:  # none, or 0: a manual time never set, or a writer's rounding of a fast one
        return None
    if not 0 < seconds <= MAX_SECONDS:
        raise RunFileError("%s: %s has a real_time of %r %s, not a time a benchmark took"
                           % (path, name, entry["real_time"], entry.get("time_unit", "ns")))
    row = {
        # threads:N is stripped from base, but different thread counts are different benchmarks
        "name": name, "key": bn.base + ("/threads:%s" % bn.threads if bn.threads is not None else ""),
        "family": bn.family, "lang": bn.lang, "workload": bn.workload, "model": bn.model, "kernel": bn.kernel,
        "threads": entry.get("threads") if _is_number(entry.get("threads")) else bn.threads,
        "repetitions": entry.get("repetitions"), "time_s": seconds, "time_stddev_s": math.nan,
        "row_kind": kind,
    }
    if stddev_entry is not None and _seconds(stddev_entry) is not None:
        row["time_stddev_s"] = _seconds(stddev_entry)
    row.update(("arg_" + k, v) for k, v in bn.args.items())
    for k, v in entry.items():
        if k not in GB_KEYS and _is_number(v):
            row[k if k not in row else "counter_" + k] = float(v)
    return row


def load_run(path):
    """Load any program's Google Benchmark JSON file into a Run: one row per repetition, with
    BASE_COLUMNS, arg_<key> per argument and every user counter (counter_<name> on a clash). A
    benchmark with only aggregates has one row of its median (row_kind "median", else "mean") and
    its stddev as time_stddev_s. Errored runs, malformed entries and complexity fits are counted in
    Run.skipped; RunFileError when the file is unreadable, not benchmark JSON or has nothing usable."""
    entries, context = _entries(path)
    skipped = Counter()  # (name, reason) -> count; Counter keeps first-seen order
    errors, n_errored = {}, 0  # benchmark -> its first error message, in run order
    rows = []
    aggregates = {}  # run name -> {aggregate_name: entry}

    def add_row(entry, name, kind, stddev_entry=None):
        row = _row(path, entry, name, kind, stddev_entry)
        if row is None:
            skipped[(parse_name(name).base or name, "no time measured (a real_time of 0)" if _seconds(entry) == 0
                     else "malformed entry (no numeric real_time / known time_unit)")] += 1
        else:
            rows.append(row)

    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            skipped[("(entry without a name)", "malformed entry")] += 1
            continue
        name = entry["name"]
        # run_name is the repetitions' name; older writers lack it.
        run_name = entry.get("run_name") if isinstance(entry.get("run_name"), str) else None
        agg = entry.get("aggregate_name")
        agg = agg if isinstance(agg, str) and agg else None
        if entry.get("error_occurred") or entry.get("skipped"):
            message = str(entry.get("error_message") or entry.get("skip_message") or "no message")
            shown = parse_name(run_name or name).base or name
            skipped[(shown, "errored: " + message)] += 1
            errors.setdefault(shown, message)
            n_errored += 1
        elif entry.get("run_type") != "aggregate":
            add_row(entry, run_name or name, "iteration")
        elif agg in ("BigO", "RMS") or "big_o" in entry or "rms" in entry:
            skipped[(parse_name(name, agg).base or name, "complexity fit, not a measurement")] += 1
        else:
            if run_name is None:  # strip the suffix
                run_name = name[: -len(agg) - 1] if agg and name.endswith("_" + agg) else name
            aggregates.setdefault(run_name, {})[agg] = entry

    n_iterations = len(rows)  # the rows so far
    with_iterations = {row["name"] for row in rows}
    for name, by_agg in aggregates.items():
        if name in with_iterations:
            continue  # repetitions are there: the aggregates add nothing
        kind = "median" if "median" in by_agg else "mean" if "mean" in by_agg else None
        if kind:
            add_row(by_agg[kind], name, kind, by_agg.get("stddev"))
        else:
            skipped[(parse_name(name).base or name, "only %s aggregates, no median"
                     % "/".join(sorted(k or "?" for k in by_agg)))] += 1

    skipped = [Skipped(n, r, c) for (n, r), c in skipped.items()]
    if not rows and errors and all(s.reason.startswith("errored: ") for s in skipped):
        first, message = next(iter(errors.items()))
        raise AllErrored("all %d benchmark runs in %s errored (first: %s: %s)"  # one line, whatever the message
                         % (n_errored, path, first, one_line(message)), errors, context)
    if not rows:
        reasons = "; ".join(sorted({s.reason for s in skipped}))
        raise RunFileError("%s has no usable benchmarks (%s)" % (path, reasons))
    source = ("iterations" if n_iterations == len(rows) else "median aggregates" if n_iterations == 0
              else "mixed")
    return Run(context=context, df=pd.DataFrame(rows), skipped=skipped,
               n_entries=len(entries), n_errored=n_errored, source=source)


# --- context ------------------------------------------------------------------

def hardware_threads(context):
    """The machine's hardware-thread count: the suite's hardware_threads, else num_cpus."""
    value = context_int(context, "hardware_threads")
    return value if value and value > 0 else context_int(context, "num_cpus")
