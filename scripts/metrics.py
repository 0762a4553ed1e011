# SPDX-License-Identifier: MIT
# The metrics of a run: each benchmark's time, each parallel model's efficiency, the machine's bounds.
"""One layer from a run to the numbers that compare.py, ab.py, history.py and calibrate.py
judge: a run (one record, or one process of an A/B round) becomes one value per metric,
the median over its repetitions. Repetitions of one process are not independent samples
of what changes between runs, so a metric is one sample per run: the statistics in
regress.py take runs (processes, records, commits) as their unit, never repetitions.

Metrics, by kind:
  TIME        a benchmark's real time per iteration, seconds; lower is better.
  MACHINE     the same for peak/* benchmarks: they measure the machine, not the code, so a
              change in them is machine drift and never decides a verdict.
  EFFICIENCY  T_seq / (W * T_model) for a parallel sum model at W workers, with seq at the
              same kernel and n from the same run; a fetch model's `efficiency` counter
              (ideal makespan over time). Higher is better. They follow from the times, so
              they are shown beside them and never decide a verdict of their own: a faster
              seq would otherwise read as a regression of every parallel model.
"""
import math
import statistics
from collections import OrderedDict
from dataclasses import dataclass

from bench_names import RunFileError, load_run, parse_name, read_json

TIME, MACHINE, EFFICIENCY = "time", "machine", "efficiency"
LOWER, HIGHER = "lower", "higher"


@dataclass
class Metric:
    name: str       # the benchmark's name, or "<benchmark> efficiency"
    kind: str       # TIME, MACHINE or EFFICIENCY
    value: float    # the run's median
    benchmark: str  # the benchmark it comes from

    @property
    def better(self):
        return HIGHER if self.kind == EFFICIENCY else LOWER


def efficiency(t_seq, t_model, workers):
    """Parallel efficiency: the speedup over seq per worker (1.0 is perfect scaling)."""
    return t_seq / (workers * t_model)


def summarize(run):
    """{benchmark: {"time": median s, "efficiency": median counter}} of a bench_names.Run,
    from its repetitions (or the medians where the file has only those)."""
    medians = OrderedDict()
    for key, g in run.df.groupby("key", sort=False):
        row = {"time": float(g["time_s"].median())}
        if "efficiency" in g and g["efficiency"].notna().any():
            row["efficiency"] = float(g["efficiency"].median())
        medians[key] = row
    return medians


def metrics(medians):
    """{metric name: Metric} of a run's medians (see the module docstring), in run order."""
    out = OrderedDict()
    seq = {}
    for key, row in medians.items():
        bn = parse_name(key)
        kind = MACHINE if bn.workload == "peak" else TIME
        out[key] = Metric(key, kind, row["time"], key)
        if bn.workload == "sum" and bn.model == "seq":
            seq[(bn.lang, bn.kernel, bn.args.get("n"))] = row["time"]
    for key, row in medians.items():
        bn = parse_name(key)
        value = None
        if bn.workload == "sum" and bn.model != "seq":
            t_seq = seq.get((bn.lang, bn.kernel, bn.args.get("n")))
            w = bn.args.get("workers")
            if t_seq and isinstance(w, int) and w > 0 and row["time"] > 0:
                value = efficiency(t_seq, row["time"], w)
        elif bn.workload == "fetch" and row.get("efficiency", 0) > 0:
            value = row["efficiency"]  # 0 where there is no latency, so no ideal to compare with
        if value is not None:
            out[key + " efficiency"] = Metric(key + " efficiency", EFFICIENCY, value, key)
    return out


def run_metrics(path):
    """(metrics, errors, context) of a Google Benchmark JSON file, where errors is
    {benchmark: message} of the benchmarks that errored and have no measurement. Raises
    RunFileError for a file that is not Google Benchmark JSON."""
    try:
        run = load_run(path)
    except RunFileError as e:
        if "errored" not in str(e):
            raise
        # Every benchmark errored: no measurement, only the errors, read from the file.
        doc = read_json(path)
        errors = OrderedDict()
        for entry in doc["benchmarks"]:
            if isinstance(entry, dict) and entry.get("error_occurred"):
                key = parse_name(str(entry.get("run_name") or entry.get("name"))).base
                errors.setdefault(key, str(entry.get("error_message") or "no message"))
        return OrderedDict(), errors, doc.get("context") or {}
    medians = summarize(run)
    errors = OrderedDict((s.name, s.reason[len("errored: "):]) for s in run.skipped
                         if s.reason.startswith("errored: ") and s.name not in medians)
    return metrics(medians), errors, run.context


def median(values):
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan
