# SPDX-License-Identifier: MIT
# Parses Google Benchmark names into concbench fields and loads Google Benchmark JSON into a tidy table.
#
# Shared by every script in scripts/ that reads a run (plot, compare, history, ab).
import json
import math
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import pandas as pd

# --- the naming contract with the C++ side -----------------------------------

SUM_MODELS = ("seq", "threads", "pool", "tbb", "openmp", "fork", "process_pool", "std_par", "mpi")
SUM_KERNELS = ("range", "array")
FETCH_MODELS = ("seq", "pool", "threads", "fork", "process_pool", "openmp", "tbb", "multi", "multi_socket",
                "coro", "multi_threads")
PEAK_KINDS = ("vector_add", "read_bw", "wrk")
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
_AGG_SUFFIX = re.compile(
    r"^(?P<head>.*(?:^|/)(?:real_time|process_time|manual_time|[^/]*:[^/]*|[+-]?\d[\w.+-]*))"
    r"_(?P<agg>mean|median|stddev|cv|BigO|RMS)$")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")

TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_number(text):
    """int or float for a numeric string (integral floats like 1e8 become int), else None."""
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        value = float(text)
        if value.is_integer() and abs(value) < 2 ** 53:
            return int(value)
        return value
    return None


@dataclass(frozen=True, eq=False)
class BenchName:
    """One benchmark name taken apart.

    base:     the name without Google Benchmark's run tokens and aggregate suffix,
              e.g. "sum/threads/range/workers:2/n:100000000"; identical repetitions share it.
    lang:     "cpp", or the leading language segment ("python").
    workload: first segment after the language ("sum", "fetch", "BM_memcpy").
    labels:   the other non-numeric, non key:value segments in order; model and
              kernel are the first two.
    args:     key:value segments (numeric values as int/float, others as str) and
              bare numeric segments as arg0, arg1, ...
    """
    base: str
    lang: str
    workload: str
    labels: tuple
    args: dict
    aggregate: str = None
    timing: tuple = ()
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
    """Take a Google Benchmark name apart (see BenchName). Accepts any program's names.

    aggregate_name: the JSON entry's aggregate_name, if any; it is stripped from the
    end of the name. Without it, a built-in statistic suffix (_mean, _median,
    _stddev, _cv, _BigO, _RMS) is stripped only where it cannot be part of the
    function name (after real_time, a key:value or a number).
    """
    rest = name
    aggregate = None
    if aggregate_name and rest.endswith("_" + aggregate_name):
        rest = rest[: -len(aggregate_name) - 1]
        aggregate = aggregate_name
    elif not aggregate_name:
        m = _AGG_SUFFIX.match(rest)
        if m:
            rest, aggregate = m.group("head"), m.group("agg")
    segments = rest.split("/")
    kept, timing, threads = [], [], None
    for seg in segments:
        if seg in _TIME_FLAGS:
            timing.append(seg)
            continue
        key, sep, value = seg.partition(":")
        if sep and key in _META_KEYS:
            if key == "threads":
                threads = parse_number(value)
            continue
        kept.append(seg)
    lang = "cpp"
    if len(kept) > 1 and kept[0] in LANG_PREFIXES:
        lang = kept.pop(0)
    workload = kept[0] if kept else ""
    labels, args, positional = [], OrderedDict(), 0
    for seg in kept[1:]:
        number = parse_number(seg)
        if number is not None:
            args["arg%d" % positional] = number
            positional += 1
            continue
        key, sep, value = seg.partition(":")
        if sep and key:
            number = parse_number(value)
            args[key] = number if number is not None else value
        else:
            labels.append(seg)
    base = "/".join(([] if lang == "cpp" else [lang]) + kept)
    return BenchName(base=base, lang=lang, workload=workload, labels=tuple(labels),
                     args=dict(args), aggregate=aggregate, timing=tuple(timing),
                     threads=threads)


def is_concbench(bn):
    """Whether the name is in concbench's namespace (it may still be malformed)."""
    return bn.workload in CONCBENCH_WORKLOADS


def _numeric(args, key):
    value = args.get(key)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def concbench_problem(bn):
    """Why a name in concbench's namespace breaks the naming contract, or None if it keeps it."""
    if not is_concbench(bn):
        return "not a concbench workload"
    a = bn.args

    def need(*keys):
        missing = [k + ":" for k in keys if not _numeric(a, k)]
        return "missing numeric " + ", ".join(missing) if missing else None

    if bn.workload == "sum":
        if bn.lang == "cpp":
            if len(bn.labels) != 2:
                return "expected sum/<model>/<kernel>/workers:W/n:N"
            if bn.model not in SUM_MODELS:
                return "unknown sum model '%s'" % bn.model
            if bn.kernel not in SUM_KERNELS:
                return "unknown sum kernel '%s'" % bn.kernel
        elif len(bn.labels) != 1:
            return "expected %s/sum/<model>/workers:W/n:N" % bn.lang
        problem = need("workers", "n")
        if problem:
            return problem
        if bn.model == "seq" and a["workers"] != 1:
            return "seq must be workers:1"
        return None
    if bn.workload == "fetch" and bn.labels[:1] == ("open",):
        if len(bn.labels) != 2 or (bn.lang == "cpp" and bn.labels[1] not in FETCH_MODELS):
            return "expected fetch/open/<model>/rate:R/conc:C/n:N/delay_ms:L/..."
        return need("rate", "conc", "n", "delay_ms")
    if bn.workload == "fetch":
        if len(bn.labels) != 1:
            return "expected fetch/<model>/conc:C/n:N/..."
        if bn.lang == "cpp" and bn.model not in FETCH_MODELS:
            return "unknown fetch model '%s'" % bn.model
        problem = need("conc", "n")
        if problem:
            return problem
        if not _numeric(a, "delay_ms") and not isinstance(a.get("profile"), str):
            return "needs delay_ms:L or profile:NAME"
        return None
    # peak
    if bn.lang != "cpp" or len(bn.labels) != 1 or bn.model not in PEAK_KINDS:
        return "unknown peak benchmark '%s'" % "/".join(bn.labels)
    if bn.model == "read_bw":
        return need("workers", "bytes")
    if bn.model == "wrk":
        return need("conc", "bytes")
    return None  # vector_add: one thread in records before it took workers:W


# --- loading ------------------------------------------------------------------

class RunFileError(Exception):
    """A run file that cannot be used at all; str() is one line for the user."""


@dataclass
class Skipped:
    name: str
    reason: str
    count: int = 1


@dataclass
class Run:
    """A loaded run: `df` has one row per measurement (see load_run)."""
    context: dict
    df: object  # pandas.DataFrame
    skipped: list = field(default_factory=list)
    n_entries: int = 0
    n_errored: int = 0
    source: str = "iterations"  # or "median aggregates" / "mixed"


_STANDARD_KEYS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type",
    "repetitions", "repetition_index", "threads", "iterations", "real_time", "cpu_time",
    "time_unit", "aggregate_name", "aggregate_unit", "error_occurred", "error_message",
    "skipped", "skip_message", "label", "big_o", "rms", "cpu_coefficient",
    "real_coefficient", "complexity_n",
}
# Columns load_run always provides; counters get their own names unless they clash.
BASE_COLUMNS = [
    "name", "key", "family", "lang", "workload", "model", "kernel", "args", "threads",
    "repetitions", "time_s", "time_stddev_s", "row_kind",
]


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def read_json(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise RunFileError("cannot read %s: %s" % (path, e.strerror or e)) from None
    if not data.strip():
        raise RunFileError("%s is empty, not Google Benchmark JSON" % path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RunFileError("%s is not JSON (not UTF-8 text)" % path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RunFileError("%s is not JSON (%s; line %d column %d)"
                           % (path, e.msg, e.lineno, e.colno)) from None
    except RecursionError:
        raise RunFileError("%s is not usable JSON (nested too deeply)" % path) from None


def load_run(path):
    """Load a Google Benchmark JSON file (any program's) into a Run.

    Run.df has one row per iteration run (repetition), with: name (run name as
    written), key (parse_name(...).base, plus /threads:N when the name had it;
    shared by repetitions, unique per benchmark), family, lang,
    workload, model, kernel, args (dict), one arg_<key> column per argument,
    threads, repetitions, time_s (seconds, converted via time_unit), row_kind
    ("iteration", or "median" when a benchmark has only aggregates in the file, then
    time_stddev_s carries its stddev aggregate), and every user counter as a column of its own name
    (clashing names get a counter_ prefix).
    Errored runs are left out and counted (Run.n_errored, Run.skipped), as are
    malformed entries and complexity fits. Raises RunFileError when nothing usable
    remains or the file is unreadable/not JSON/not benchmark JSON.
    """
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise RunFileError("%s is not Google Benchmark JSON (top level is %s, expected an object "
                           "with \"benchmarks\")" % (path, type(doc).__name__))
    entries = doc.get("benchmarks")
    if not isinstance(entries, list):
        raise RunFileError("%s is not Google Benchmark JSON (no \"benchmarks\" list)" % path)
    if not entries:
        raise RunFileError("%s has no benchmarks" % path)
    context = doc.get("context") if isinstance(doc.get("context"), dict) else {}

    skipped = Counter()  # (name, reason) -> count; Counter keeps first-seen order
    n_errored = 0
    first_error = None
    iteration_rows = []
    aggregates = {}  # run name -> {aggregate_name: entry}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            skipped[("(entry without a name)", "malformed entry")] += 1
            continue
        run_name = entry.get("run_name") if isinstance(entry.get("run_name"), str) else None
        if entry.get("error_occurred") or entry.get("skipped"):
            n_errored += 1
            message = str(entry.get("error_message") or entry.get("skip_message") or "no message")
            shown = parse_name(run_name or entry["name"]).base or entry["name"]
            skipped[(shown, "errored: " + message)] += 1
            if first_error is None:
                first_error = "%s: %s" % (shown, message)
            continue
        if entry.get("run_type") == "aggregate":
            agg = entry.get("aggregate_name")
            agg = agg if isinstance(agg, str) and agg else None
            bn = parse_name(entry["name"], aggregate_name=agg)
            if agg in ("BigO", "RMS") or "big_o" in entry or "rms" in entry:
                skipped[(bn.base or entry["name"], "complexity fit, not a measurement")] += 1
                continue
            # run_name is the repetitions' name; older writers lack it, so strip the suffix.
            if run_name is None:
                name = entry["name"]
                run_name = name[: -len(agg) - 1] if agg and name.endswith("_" + agg) else name
            aggregates.setdefault(run_name, {})[agg] = entry
            continue
        iteration_rows.append(entry)

    rows = []
    malformed = "malformed entry (no numeric real_time / known time_unit)"

    def make_row(entry, name, kind, stddev_entry=None):
        unit = entry.get("time_unit", "ns")
        real = entry.get("real_time")
        if unit not in TIME_UNITS or not _is_number(real):
            skipped[(parse_name(name).base or name, malformed)] += 1
            return None
        scale = TIME_UNITS[unit]
        bn = parse_name(name)
        row = {
            # threads:N is stripped from base, but different thread counts are different benchmarks
            "name": name, "key": bn.base + ("/threads:%s" % bn.threads if bn.threads is not None else ""),
            "family": bn.family, "lang": bn.lang,
            "workload": bn.workload, "model": bn.model, "kernel": bn.kernel, "args": dict(bn.args),
            "threads": entry.get("threads") if _is_number(entry.get("threads")) else bn.threads,
            "repetitions": entry.get("repetitions"), "time_s": float(real) * scale,
            "time_stddev_s": math.nan, "row_kind": kind,
        }
        if stddev_entry is not None and _is_number(stddev_entry.get("real_time")) \
                and stddev_entry.get("time_unit", "ns") in TIME_UNITS:
            row["time_stddev_s"] = float(stddev_entry["real_time"]) * TIME_UNITS[stddev_entry.get("time_unit", "ns")]
        for k, v in bn.args.items():
            row["arg_" + k] = v
        for k, v in entry.items():
            if k in _STANDARD_KEYS or not _is_number(v):
                continue
            row[k if k not in row else "counter_" + k] = float(v)
        return row

    names_with_iterations = set()
    for entry in iteration_rows:
        name = entry.get("run_name") if isinstance(entry.get("run_name"), str) else entry["name"]
        row = make_row(entry, name, "iteration")
        if row is not None:
            rows.append(row)
            names_with_iterations.add(name)
    n_median = 0
    for name, by_agg in aggregates.items():
        if name in names_with_iterations:
            continue  # repetitions are there: the aggregates add nothing
        chosen = by_agg.get("median")
        kind = "median"
        if chosen is None and "mean" in by_agg:
            chosen, kind = by_agg["mean"], "mean"
        if chosen is None:
            skipped[(parse_name(name).base or name, "only %s aggregates, no median"
                     % "/".join(sorted(k or "?" for k in by_agg)))] += 1
            continue
        row = make_row(chosen, name, kind, by_agg.get("stddev"))
        if row is not None:
            rows.append(row)
            n_median += 1

    skipped_list = [Skipped(n, r, c) for (n, r), c in skipped.items()]
    if not rows:
        if n_errored:
            raise RunFileError("all %d benchmark runs in %s errored (first: %s)"
                               % (n_errored, path, first_error))
        reasons = "; ".join(sorted({s.reason for s in skipped_list})) or "nothing usable"
        raise RunFileError("%s has no usable benchmarks (%s)" % (path, reasons))
    df = pd.DataFrame(rows)
    for col in BASE_COLUMNS:
        if col not in df.columns:
            df[col] = None
    source = "iterations" if n_median == 0 else ("median aggregates" if n_median == len(rows) else "mixed")
    return Run(context=context, df=df, skipped=skipped_list,
               n_entries=len(entries), n_errored=n_errored, source=source)


# --- context and run files ----------------------------------------------------

def context_int(context, key):
    """An integer context value (custom keys are strings in Google Benchmark JSON), or None."""
    value = context.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        number = parse_number(value.strip())
        return int(number) if isinstance(number, int) else None
    return None


def hardware_threads(context):
    """The machine's hardware-thread count: the suite's hardware_threads, else num_cpus."""
    value = context_int(context, "hardware_threads")
    return value if value and value > 0 else context_int(context, "num_cpus")
