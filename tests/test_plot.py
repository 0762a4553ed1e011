# SPDX-License-Identifier: MIT
# Tests for scripts/plot.py and its modules (metrics, fmt, plot_figures, plot_page, targets, bench_names, pyenv_check).
# Run: /usr/bin/python3 -m pytest tests/test_plot.py
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPTS = os.path.join(REPO, "scripts")
DATA = os.path.join(HERE, "data")
PLOT = os.path.join(SCRIPTS, "plot.py")
sys.path.insert(0, SCRIPTS)
sys.path.insert(0, DATA)

import plot  # noqa: E402  (first: it checks the interpreter)
import fmt  # noqa: E402
import metrics  # noqa: E402
import bench_names  # noqa: E402
import make_samples  # noqa: E402
import plot_figures  # noqa: E402
import records  # noqa: E402
import pandas as pd  # noqa: E402
from bench_names import concbench_problem, load_run, parse_name  # noqa: E402

UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def data(name):
    return os.path.join(DATA, name)


def run_plot(*args, python=sys.executable, cwd=REPO, script=PLOT):
    return subprocess.run([python, script] + list(args), cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def summary(path):
    summ, _ = metrics.categorize(metrics.summarize(load_run(path).df))
    return summ


def json_median_seconds(path, name):
    """Median real time of a benchmark's iteration entries, computed straight from the JSON."""
    with open(path) as f:
        doc = json.load(f)
    times = [b["real_time"] * UNIT[b["time_unit"]] for b in doc["benchmarks"]
             if b.get("run_name") == name and b["run_type"] == "iteration" and not b.get("error_occurred")]
    assert times, name
    return statistics.median(times)


def page_images(page_path):
    with open(page_path, encoding="utf-8") as f:
        text = f.read()
    return text, re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)


def assert_png(path, min_px=300):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC, path
    import matplotlib.image
    img = matplotlib.image.imread(path)
    assert img.shape[0] >= min_px and img.shape[1] >= min_px, (path, img.shape)
    # not a blank canvas: a real plot has many distinct colours
    assert len({tuple(p) for p in img[::7, ::7].reshape(-1, img.shape[2])}) > 20, path


def no_temp_left(out):
    return not [n for n in os.listdir(out) if n.startswith(".tmp")]


# --- bench_names: parsing -------------------------------------------------------

def test_parse_sum_name():
    bn = parse_name("sum/threads/range/workers:2/n:100000000/real_time")
    assert (bn.lang, bn.workload, bn.model, bn.kernel) == ("cpp", "sum", "threads", "range")
    assert bn.args == {"workers": 2, "n": 100000000}
    assert isinstance(bn.args["n"], int)
    assert bn.base == "sum/threads/range/workers:2/n:100000000"
    assert bn.family == "sum/threads/range"
    assert concbench_problem(bn) is None


def test_parse_fetch_names_keep_string_values():
    bn = parse_name("fetch/coro/conc:40/n:40/profile:seed/bytes:1024/keepalive:1/real_time")
    assert (bn.workload, bn.model, bn.kernel) == ("fetch", "coro", None)
    assert bn.args == {"conc": 40, "n": 40, "profile": "seed", "bytes": 1024, "keepalive": 1}
    assert concbench_problem(bn) is None
    bn = parse_name("fetch/multi_socket/conc:8/n:400/delay_ms:10/bytes:65536/keepalive:0/real_time")
    assert bn.args["delay_ms"] == 10 and bn.args["keepalive"] == 0
    assert concbench_problem(bn) is None


def test_parse_strips_aggregate_suffixes():
    for agg in ("mean", "median", "stddev", "cv"):
        bn = parse_name("sum/seq/array/workers:1/n:1000/real_time_" + agg)
        assert bn.base == "sum/seq/array/workers:1/n:1000"
        assert bn.args == {"workers": 1, "n": 1000}
    # a custom statistic is only known from the JSON's aggregate_name
    bn = parse_name("BM_x/64/real_time_p90", aggregate_name="p90")
    assert bn.base == "BM_x/64"
    # without that, an ending that can be part of a function name stays
    assert parse_name("BM_mean").base == parse_name("BM_mean").workload == "BM_mean"
    assert parse_name("BM_x/8_median").base == "BM_x/8"


def test_parse_strips_google_benchmark_run_tokens():
    bn = parse_name("BM_foo/8/min_time:0.500/min_warmup_time:0.100/iterations:10/repeats:3/"
                    "process_time/real_time/threads:4")
    assert bn.base == "BM_foo/8"
    assert bn.args == {"arg0": 8}
    assert bn.threads == 4
    bn = parse_name("BM_foo/threads:4")
    assert bn.base == "BM_foo" and bn.threads == 4 and bn.args == {}
    bn = parse_name("fetch/pool/conc:4/n:40/delay_ms:100/bytes:1024/keepalive:1/manual_time")
    assert bn.base.endswith("keepalive:1")


def test_parse_foreign_names():
    bn = parse_name("BM_memcpy/64/real_time")
    assert (bn.workload, bn.model, bn.kernel) == ("BM_memcpy", None, None)
    assert bn.args == {"arg0": 64} and bn.family == "BM_memcpy"
    bn = parse_name("BM_pair/8/-16")
    assert bn.args == {"arg0": 8, "arg1": -16}
    bn = parse_name("BM_Tmpl<int, 4>/size:1k/ratio:0.25/mode/x")
    assert bn.workload == "BM_Tmpl<int, 4>"
    assert bn.args == {"size": "1k", "ratio": 0.25}
    assert bn.labels == ("mode", "x") and bn.family == "BM_Tmpl<int, 4>/mode/x"
    assert not bench_names.is_concbench(bn)
    assert concbench_problem(bn) == "not a concbench workload"


def test_parse_numbers_and_python_prefix():
    assert parse_name("sum/seq/range/workers:1/n:1e8").args["n"] == 100000000
    assert parse_name("BM/x:1.5e-3").args["x"] == pytest.approx(1.5e-3)
    bn = parse_name("python/sum/process_pool/workers:2/n:100000000/real_time")
    assert (bn.lang, bn.workload, bn.model, bn.kernel) == ("python", "sum", "process_pool", None)
    assert bn.base == "python/sum/process_pool/workers:2/n:100000000"
    assert bn.family == "python/sum/process_pool"
    assert concbench_problem(bn) is None
    # "python" alone is a workload, not a prefix
    assert parse_name("python").workload == "python"


@pytest.mark.parametrize("name, problem", [
    ("sum/gpu/range/workers:2/n:10/real_time", "unknown sum model 'gpu'"),
    ("sum/threads/matrix/workers:2/n:10", "unknown sum kernel 'matrix'"),
    ("sum/threads/range/n:10", "missing numeric workers:"),
    ("sum/seq/range/workers:2/n:10", "seq must be workers:1"),
    ("sum/threads/workers:2/n:10", "expected sum/<model>/<kernel>/workers:W/n:N"),
    ("fetch/coro/conc:4/n:40/bytes:1", "needs delay_ms:L or profile:NAME"),
    ("fetch/carrier_pigeon/conc:4/n:40/delay_ms:1", "unknown fetch model 'carrier_pigeon'"),
    ("fetch/pool/n:40/delay_ms:1", "missing numeric conc:"),
    ("fetch/open/pigeon/rate:10/conc:1/n:5/delay_ms:1", "expected fetch/open/<model>/rate:R/conc:C/n:N/delay_ms:L/..."),
    ("fetch/open/coro/conc:1/n:5/delay_ms:1", "missing numeric rate:"),
    ("fetch/open/coro/rate:10/conc:1000/n:500/delay_ms:10/bytes:1024/keepalive:1/arrivals:uniform", None),
    ("peak/flops", "unknown peak benchmark 'flops'"),
    ("peak/read_bw/workers:2", "missing numeric bytes:"),
    ("peak/raw_http/conc:1000/n:1000/delay_ms:100/bytes:1024/keepalive:1", None),
    ("peak/raw_http/conc:1000/n:1000/bytes:1024", "missing numeric delay_ms:"),
])
def test_concbench_problems(name, problem):
    assert concbench_problem(parse_name(name)) == problem


# --- bench_names: loading -------------------------------------------------------

def test_load_small_run_counts_errors_and_keeps_good_repetitions():
    run = load_run(data("small_run.json"))
    df = run.df
    assert run.n_errored == 4  # 3 fork repetitions + 1 of multi's three
    assert run.source == "iterations"
    assert set(df["row_kind"]) == {"iteration"}
    reasons = {s.name: (s.reason, s.count) for s in run.skipped}
    fork = "fetch/fork/conc:40/n:40/delay_ms:100/bytes:1024/keepalive:1"
    assert reasons[fork] == ("errored: curl: Failed to connect to 127.0.0.1: Connection refused", 3)
    assert fork not in set(df["key"])
    partial = "fetch/multi/conc:16/n:40/delay_ms:0/bytes:4096/keepalive:0"
    assert reasons[partial][1] == 1
    assert (df["key"] == partial).sum() == 2
    counts = df.groupby("key").size()
    assert set(counts.drop(partial)) == {3}
    # aggregates are not rows when the repetitions are there
    assert not df["name"].str.endswith(("_mean", "_median", "_stddev", "_cv")).any()
    for col in ("items_per_second", "cpu_util", "ideal_s", "p99_ms", "mem_per_inflight_kb", "adds_per_second"):
        assert col in df.columns
    row = df[df["key"] == "sum/threads/range/workers:2/n:100000000"].iloc[0]
    assert row["arg_workers"] == 2 and row["arg_n"] == 1e8 and row["workers"] == 2.0
    assert row["model"] == "threads" and row["kernel"] == "range" and row["lang"] == "cpp"


def test_load_converts_time_units():
    df = load_run(data("handcheck.json")).df
    med = df.groupby("key")["time_s"].median()
    assert med["sum/seq/range/workers:1/n:10000"] == pytest.approx(1e-5)          # written in ns
    assert med["sum/seq/range/workers:1/n:1000000"] == pytest.approx(1e-3)        # written in us
    assert med["sum/seq/range/workers:1/n:100000000"] == pytest.approx(0.1)       # written in s
    assert med["sum/threads/range/workers:4/n:100000000"] == pytest.approx(0.05)  # written in ms


def test_load_aggregates_only_uses_medians():
    path = data("aggregates_only.json")
    run = load_run(path)
    with open(path) as f:
        doc = json.load(f)
    medians = {b["run_name"]: b for b in doc["benchmarks"] if b.get("aggregate_name") == "median"}
    stddevs = {b["run_name"]: b for b in doc["benchmarks"] if b.get("aggregate_name") == "stddev"}
    assert run.source == "median aggregates"
    assert len(run.df) == len(medians) == 13
    assert set(run.df["row_kind"]) == {"median"}
    for _, row in run.df.iterrows():
        m = medians[row["name"]]
        assert row["time_s"] == pytest.approx(m["real_time"] * UNIT[m["time_unit"]])
        s = stddevs[row["name"]]
        assert row["time_stddev_s"] == pytest.approx(s["real_time"] * UNIT[s["time_unit"]])
        assert row["items_per_second"] == pytest.approx(m["items_per_second"])


def test_load_foreign_keeps_thread_counts_apart_and_skips_fits():
    run = load_run(data("foreign.json"))
    keys = set(run.df["key"])
    assert {"BM_spin/threads:1", "BM_spin/threads:2", "BM_spin/threads:4"} <= keys
    assert "BM_memcpy/4096" in keys
    assert run.n_errored == 1
    reasons = {(s.name, s.reason) for s in run.skipped}
    assert ("BM_broken/64", "errored: allocation failed") in reasons
    assert ("BM_memcpy", "complexity fit, not a measurement") in reasons


@pytest.mark.parametrize("fname, message", [
    ("bad_not_json.json", "is not JSON (Expecting value; line 1 column 1)"),
    ("bad_empty.json", "is empty"),
    ("bad_truncated.json", "is not JSON"),
    ("bad_top_level_list.json", "top level is list"),
    ("bad_no_benchmarks_key.json", "no \"benchmarks\" list"),
    ("bad_no_benchmarks.json", "has no benchmarks"),
    ("bad_all_errored.json", "all 4 benchmark runs"),
    ("does_not_exist.json", "cannot read"),
])
def test_load_rejects_bad_files(fname, message):
    with pytest.raises(bench_names.RunFileError) as e:
        load_run(data(fname))
    assert message in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("real_time, unit, message", [
    (math.nan, "ns", "has a real_time of nan ns, not a time a benchmark took"),
    (math.inf, "ms", "has a real_time of inf ms"),
    (1e308, "us", "has a real_time of 1e+308 us"),
    (-5.0, "ns", "has a real_time of -5.0 ns"),
])
def test_load_rejects_a_time_no_benchmark_took(tmp_path, real_time, unit, message):
    # NaN made plot.py end in an internal error; inf judged "no change" in compare.py
    doc = json.loads(open(data("handcheck.json")).read())
    doc["benchmarks"][0].update(real_time=real_time, time_unit=unit)
    (tmp_path / "run.json").write_text(json.dumps(doc))
    with pytest.raises(bench_names.RunFileError) as e:
        load_run(str(tmp_path / "run.json"))
    assert message in str(e.value) and doc["benchmarks"][0]["name"] in str(e.value)


def test_a_row_without_a_time_is_left_out_and_said(tmp_path):
    # Another program's manual time never set, or an old writer's "0.00" ms, is no time: the row
    # is left out, the rest read (refusing the file refused runs plot.py used to draw), and
    # concbench's own rows of 0 once divided the array's read bandwidth by it.
    doc = json.loads(open(data("handcheck.json")).read())
    doc["benchmarks"][0]["real_time"] = 0
    (tmp_path / "run.json").write_text(json.dumps(doc))
    run = load_run(str(tmp_path / "run.json"))
    assert len(run.df) == len([b for b in doc["benchmarks"] if b.get("run_type") != "aggregate"]) - 1
    assert [(s.reason, s.count) for s in run.skipped] == [("no time measured (a real_time of 0)", 1)]
    for b in doc["benchmarks"]:
        b["real_time"] = 0
    (tmp_path / "run.json").write_text(json.dumps(doc))
    with pytest.raises(bench_names.RunFileError, match="has no usable benchmarks .no time measured"):
        load_run(str(tmp_path / "run.json"))


def test_json_python_cannot_hold_is_one_line(tmp_path):
    # an integer of 5,000 digits is JSON, but past Python's limit for int(): a ValueError that
    # is no JSONDecodeError, and a traceback in compare.py
    (tmp_path / "run.json").write_text('{"benchmarks": [], "n": %s}' % ("9" * 5000))
    with pytest.raises(bench_names.RunFileError, match="is not usable JSON"):
        load_run(str(tmp_path / "run.json"))


def test_an_empty_out_is_bad_input_not_the_default(tmp_path):
    # --out '' once wrote results/README.md, the default
    r = run_plot(data("handcheck.json"), "--out", "")
    assert r.returncode == 2 and r.stderr.strip() == "concbench plot: argument --out: an empty path (see --help)"


def test_a_time_unit_of_the_wrong_type_is_a_malformed_entry(tmp_path):
    doc = json.loads(open(data("handcheck.json")).read())
    doc["benchmarks"][0]["time_unit"] = ["ns"]  # raised TypeError (unhashable) in the loader
    (tmp_path / "run.json").write_text(json.dumps(doc))
    run = load_run(str(tmp_path / "run.json"))
    assert any(s.reason.startswith("malformed entry") for s in run.skipped)


def test_counters_that_are_not_numbers_are_left_out_of_the_figures(tmp_path):
    # NaN requests/s on every L = 0 row ended plot.py with "no positive values" on a log axis
    assert "requests per second" in plot_page_of(tmp_path / "before", data("small_run.json"))
    doc = json.loads(open(data("small_run.json")).read())
    for b in doc["benchmarks"]:
        for counter in ("items_per_second", "mem_per_inflight_kb"):
            if counter in b:
                b[counter] = math.nan
        if "cpu_util" in b:
            b["cpu_util"] = math.inf
    (tmp_path / "run.json").write_text(json.dumps(doc))
    page = plot_page_of(tmp_path / "out", str(tmp_path / "run.json"))
    assert "requests per second" not in page and "Memory per request" not in page


def plot_page_of(out, path):
    r = run_plot(path, "--out", str(out))
    assert r.returncode == 0, r.stderr
    return (out / "README.md").read_text(encoding="utf-8")


def test_memory_says_the_requests_it_was_divided_by_not_the_timed_peak(tmp_path):
    # The binary divides memory by mem_in_flight, the untimed round's C when the timed runs held
    # fewer: the memory table says "(N in flight)" only where that divisor fell short of C. A
    # record from before mem_in_flight was divided by the timed runs' peak, and says that one.
    doc = json.load(open(data("small_run.json")))
    for b in doc["benchmarks"]:
        if b["name"].startswith("fetch/pool/conc:40/n:40/delay_ms:100/"):
            b["peak_in_flight"] = 20  # the timed runs held half of C
    path = tmp_path / "run.json"
    memory = "### Memory per request in flight (KiB), L = 100 ms, N = 40, 1 KiB responses, keep-alive"
    for divisor, row in ((40, "| pool | 48.0 | 48.0 |"), (20, "| pool | 48.0 | 48.0 (20 in flight) |"),
                         (None, "| pool | 48.0 | 48.0 (20 in flight) |")):
        for b in doc["benchmarks"]:
            if b["name"].startswith("fetch/pool/conc:40/n:40/delay_ms:100/"):
                b.pop("mem_in_flight", None)
                if divisor is not None:
                    b["mem_in_flight"] = divisor
        path.write_text(json.dumps(doc))
        text = plot_page_of(tmp_path / ("out%s" % divisor), str(path))
        mem = text[text.index(memory):]
        assert row in mem[:mem.index("\n\n", mem.index("| model"))], (divisor, mem[:600])


def test_default_run_is_by_date_and_scope_and_skips_temporaries(tmp_path):
    def pick():
        return os.path.basename(records.latest_record(records.scan_records(str(tmp_path))).path)
    for i, (name, date) in enumerate([("b.json", "2026-11-23T10:00:00+00:00"), ("a.json", "2026-11-22T10:00:00+00:00"),
                                      ("c.tmp.json", "2026-11-30T10:00:00+00:00")]):
        doc = {"context": {"date": date, "concbench_dirty": "0"}, "benchmarks": []}
        (tmp_path / name).write_text(json.dumps(doc))
        os.utime(tmp_path / name, (3000 - i, 3000 - i))  # modification times say otherwise
    assert pick() == "b.json"
    # A newer quick run or a newer run from a dirty tree does not stand for the history.
    for name, extra in [("d.json", {"concbench_scope": "quick"}), ("e.json", {"concbench_dirty": "1"})]:
        (tmp_path / name).write_text(json.dumps({"context": dict(extra, date="2026-11-29T10:00:00+00:00"),
                                                 "benchmarks": []}))
    assert pick() == "b.json"
    assert records.latest_record(records.scan_records(str(tmp_path / "none"))) is None


def test_context_helpers():
    ctx = make_samples.context()
    assert bench_names.hardware_threads(ctx) == 2
    assert bench_names.hardware_threads({"num_cpus": 6}) == 6
    assert bench_names.hardware_threads({"hardware_threads": "16", "num_cpus": 8}) == 16
    line = records.machine_line(ctx)
    for part in ("benchhost", "Sample CPU 9000 @ 2.60GHz · 2 CPUs", "0123456789ab", "2026-11-20"):
        assert part in line
    assert "AMD EPYC 2096 MHz · 2 CPUs" in records.machine_line(dict(ctx, cpu_model="AMD EPYC", mhz_per_cpu=2096))
    assert "dirty" in records.machine_line(dict(ctx, concbench_dirty="1"))
    assert "· avx512f ·" in records.machine_line(dict(ctx, cpu_vector_flags="avx2 avx512f"))
    assert records.machine_line(dict(ctx, cpu_vector_flags=" ")) == line  # an IndexError once


# --- the numbers (hand-checked run: see make_samples.handcheck_run) -------------

@pytest.fixture(scope="module")
def hand():
    summ = summary(data("handcheck.json"))
    return summ, metrics.sum_frame(summ)


def test_worker_and_size_choices(hand):
    _, s = hand
    r = s[s["kernel"] == "range"]
    assert metrics.pick_worker_n(r) == 10**8
    assert metrics.pick_size_workers(r, 2) == 2
    # hardware threads not measured: the most common W among parallel models
    assert metrics.pick_size_workers(r, 8) == 2
    assert metrics.pick_size_workers(r[r["model"] == "seq"], 2) is None


def test_speedup_and_efficiency(hand):
    _, s = hand
    tab = metrics.speedup_table(s[s["kernel"] == "range"], 10**8)
    got = {(r.model, r.workers): (r.speedup, r.efficiency) for r in tab.itertuples()}
    expected = {("seq", 1): (1.0, 1.0), ("threads", 1): (0.8, 0.8), ("threads", 2): (1.6, 0.8),
                ("threads", 4): (2.0, 0.5), ("fork", 2): (2.0, 1.0), ("pool", 2): (0.5, 0.25),
                ("openmp", 2): (2.0, 1.0)}
    assert set(got) == set(expected)
    for k, (sp, eff) in expected.items():
        assert got[k][0] == pytest.approx(sp), k
        assert got[k][1] == pytest.approx(eff), k
    t = tab[(tab["model"] == "threads") & (tab["workers"] == 2)].iloc[0]
    assert t["speedup_lo"] == pytest.approx(0.1 / (0.0625 * 1.1))
    assert t["speedup_hi"] == pytest.approx(0.1 / (0.0625 * 0.9))
    assert metrics.speedup_table(s[(s["kernel"] == "range") & (s["model"] != "seq")], 10**8) is None


def test_crossover_and_overhead(hand):
    _, s = hand
    cross = metrics.crossover_table(s[s["kernel"] == "range"], 2).set_index("model")
    assert cross.loc["threads", "crossover"] == pytest.approx(1e5)
    assert cross.loc["fork", "crossover"] == pytest.approx(1e7)
    assert cross.loc["pool", "crossover"] == "never"
    assert cross.loc["openmp", "crossover"] == "below smallest"
    assert cross.loc["threads", "t_small"] == pytest.approx(2e-5)
    assert cross.loc["fork", "t_small"] == pytest.approx(1e-3)
    assert cross.loc["threads", "overhead_vs_seq"] == pytest.approx(1e-5)
    assert cross.loc["openmp", "overhead_vs_seq"] == pytest.approx(-5e-6)
    assert (cross["n_small"] == 10**4).all()


def sum_rows(rows, columns):
    """A sum_frame of hand-written rows of the range kernel, each paired with seq at its n (rows
    without a spread ran as fast as their median)."""
    frame = pd.DataFrame(rows, columns=columns).assign(lang="cpp", workload="sum", kernel="range")
    return metrics.with_seq(frame if "t_min" in frame else frame.assign(t_min=frame["t_med"]))


def test_overhead_is_the_least_time_a_call_took():
    # threads' median at n = 1e3 is a slow outlier (394 us) above its time at 1e4 (73 us): the
    # overhead is at most 73 us, and its excess over seq is taken at that n too
    rows = [("seq", 1, 10**3, 1e-6), ("seq", 1, 10**4, 3e-6), ("seq", 1, 10**5, 2e-5),
            ("threads", 2, 10**3, 394e-6), ("threads", 2, 10**4, 73e-6), ("threads", 2, 10**5, 80e-6),
            ("fork", 2, 10**3, 1e-3), ("fork", 2, 10**4, 1.1e-3), ("fork", 2, 10**5, 1.2e-3)]
    cross = metrics.crossover_table(sum_rows(rows, ["model", "workers", "n", "t_med"]), 2).set_index("model")
    assert cross.loc["threads", "n_small"] == 10**4
    assert cross.loc["threads", "t_small"] == pytest.approx(73e-6)
    assert cross.loc["threads", "overhead_vs_seq"] == pytest.approx(70e-6)
    # where time grows with n, the smallest n is the cheapest
    assert cross.loc["fork", "n_small"] == 10**3
    assert cross.loc["fork", "t_small"] == pytest.approx(1e-3)


def test_crossover_n_edge_cases():
    # equal at 10, faster from then on: the crossover is 10 itself
    assert metrics.crossover_n([10, 100], [1.0, 0.5], [1.0, 1.0]) == pytest.approx(10)
    # order of input does not matter; log-linear between 100 (4x slower) and 1e4 (4x faster)
    assert metrics.crossover_n([10**4, 100, 1], [0.25, 4.0, 9.0], [1.0, 1.0, 1.0]) == pytest.approx(1000)
    # a win in the middle that is lost again at the largest size is not a crossover
    assert metrics.crossover_n([1, 10, 100], [2.0, 0.5, 2.0], [1.0, 1.0, 1.0]) == "never"
    # a loss in the middle: crossover is after the last loss
    assert metrics.crossover_n([1, 10, 100, 1000], [0.5, 2.0, 2.0, 0.5], [1.0] * 4) == pytest.approx(10 ** 2.5)
    assert metrics.crossover_n([5], [0.1], [1.0]) == "below smallest"
    assert metrics.crossover_n([], [], []) is None
    assert metrics.crossover_n([5], [float("nan")], [1.0]) is None


def test_fetch_ideal_and_efficiency(hand):
    summ, _ = hand
    assert metrics.fetch_ideal_s(40, 4, 100) == pytest.approx(1.0)
    assert metrics.fetch_ideal_s(40, 3, 100) == pytest.approx(1.4)
    assert metrics.fetch_ideal_s(40, 64, 10) == pytest.approx(0.01)
    f = metrics.fetch_frame(summ)
    lat = f[f["profile"].isna()].set_index(["model", "conc"])
    assert lat.loc[("seq", 1), "ideal"] == pytest.approx(4.0)
    assert lat.loc[("pool", 10), "ideal"] == pytest.approx(0.4)
    # coro has no ideal_s/efficiency counters: ceil(40/40) * 100 ms
    assert lat.loc[("coro", 40), "ideal"] == pytest.approx(0.1)
    for key in [("seq", 1), ("pool", 4), ("pool", 10), ("coro", 40)]:
        assert lat.loc[key, "eff"] == pytest.approx(0.8), key
    # the time above the ideal, what the fetch_time figure draws: 5.0 s - 4.0 s, 0.5 s - 0.4 s
    assert lat.loc[("seq", 1), "over_ideal"] == pytest.approx(1.0)
    assert lat.loc[("pool", 10), "over_ideal"] == pytest.approx(0.1)
    assert metrics.pick_fetch_config(f) == {"n": 40, "bytes": 1024, "keepalive": 1}
    assert metrics.pick_fetch_config(f, delay_zero=True) is None


def test_seed_table_picks_the_right_benchmarks(hand):
    summ, _ = hand
    rows = {r["id"]: r for r in metrics.seed_table(summ)}
    expected = {"sum_seq": 0.1, "sum_threads": 0.0625, "sum_procs": 0.05, "fetch_seq": 4.1,
                "fetch_pool": 1.1, "fetch_async": 0.2}
    for k, v in expected.items():
        assert rows[k]["cpp_s"] == pytest.approx(v), k
        assert rows[k]["python_s"] is None
    # no coro at conc 40: multi_socket is preferred over multi
    assert rows["fetch_async"]["cpp_key"].startswith("fetch/multi_socket/conc:40/")
    assert rows["sum_procs"]["cpp_key"] == "sum/fork/range/workers:2/n:100000000"
    assert [r["blog_s"] for r in metrics.seed_table(summ)] == [8.7, 8.9, 3.95, 6.06, 1.67, 0.86]


def test_seed_table_python_column():
    path = data("small_run.json")
    small = summary(path)
    rows = {r["id"]: r for r in metrics.seed_table(small)}
    for exp, name in (("sum_seq", "python/sum/seq/workers:1/n:100000000/real_time"),
                      ("sum_procs", "python/sum/processes/workers:2/n:100000000/real_time"),
                      ("fetch_async", "python/fetch/asyncio/conc:40/n:40/profile:seed/bytes:1024/keepalive:1/real_time")):
        assert rows[exp]["python_s"] == pytest.approx(json_median_seconds(path, name)), exp
    assert rows["sum_seq"]["cpp_s"] == pytest.approx(
        json_median_seconds(path, "sum/seq/range/workers:1/n:100000000/real_time"))
    # another run's python rows fill the column of a run without them
    rows = {r["id"]: r for r in metrics.seed_table(summary(data("handcheck.json")), python_summ=small)}
    assert rows["sum_threads"]["python_s"] == pytest.approx(
        json_median_seconds(path, "python/sum/threads/workers:2/n:100000000/real_time"))
    assert rows["sum_threads"]["cpp_s"] == pytest.approx(0.0625)
    # Python's fetch rows of another keepalive than the C++ row's are not its figures
    other = small.copy()
    other.loc[other["category"] == "python", "arg_keepalive"] = 0
    rows = {r["id"]: r for r in metrics.seed_table(small, python_summ=other)}
    assert all(rows[e]["python_s"] is None for e in ("fetch_seq", "fetch_pool", "fetch_async"))
    assert rows["sum_seq"]["python_s"] is not None


def test_a_python_run_with_cold_fetches_is_said_to_be_cold():
    # python_reference.py before 2026-12-07 timed each repetition cold (threads started and
    # connections opened inside the clock): its column sat beside warm C++ rows with no word.
    import plot_page
    context = {"date": "2026-12-06T10:00:00+00:00", "environment_unstable": "no"}
    assert "its fetches were timed cold" in plot_page.python_when(context)
    assert "cold" not in plot_page.python_when(dict(context, fetch_untimed_round="yes"))


def test_formatting():
    assert fmt.fmt_time(0.0625) == "62.5 ms"
    assert fmt.fmt_time(2e-5) == "20.0 µs"
    assert fmt.fmt_time(4.1) == "4.10 s"
    assert fmt.fmt_time(5e-9) == "5.00 ns"
    assert fmt.fmt_n(1e5) == "1e5" and fmt.fmt_n(3e6) == "3e6" and fmt.fmt_n(100001) == "1.0e5"
    assert fmt.fmt_n(27701) == "2.8e4"
    assert fmt.fmt_n(99999) == "1.0e5"
    assert fmt.fmt_ratio(1.6) == "1.60×" and fmt.fmt_ratio(24.66) == "24.7×" and fmt.fmt_ratio(123.4) == "123×" and fmt.fmt_ratio(1234) == "1,230×"
    # an axis tick is exact: no zeros to say its digits
    assert [fmt.fmt_tick(t) for t in (0.01, 1.5, 2e-4, 0.0125, 0.1)] == ["10 ms", "1.5 s", "200 µs", "12.5 ms",
                                                                          "100 ms"]
    assert fmt.fmt_time(2e-5, micro="us") == "20.0 us"
    assert fmt.fmt_num(1.69e10) == "1.69e10" and fmt.fmt_num(24352.4) == "24,352" and fmt.fmt_num(0.5) == "0.5"
    assert fmt.fmt_num(999.7) == "1,000" and fmt.fmt_num(999999.7) == "1e6"  # not 1e3, not 1,000,000
    # a measured value has 3 significant digits, and keeps the zeros that say so, so a column
    # reads alike (a count is exact: fmt_num's 24,352 above)
    values = (24, 24.2, 0.5, 999.7, 24352.4, 73589, 999999, 1.69e10, 5e9, 0.0009996, 0.0005, 0, float("nan"))
    assert [fmt.fmt_measured(v) for v in values] == [
        "24.0", "24.2", "0.500", "1,000", "24,400", "73,600", "1.00e6", "1.69e10", "5.00e9", "0.00100", "5.00e-4", "0",
        "–"]
    assert fmt.fmt_bytes(8e8) == "800 MB" and fmt.fmt_kib(49152) == "48 KiB" and fmt.fmt_kib(1536) == "1.5 KiB"
    assert fmt.plural(1, "thread") == "1 thread" and fmt.plural(2, "thread") == "2 threads"
    assert fmt.plural(2, "model process", "model processes") == "2 model processes"
    assert fmt.fmt_spread(1.6, 1.7, 5) == "1.60 s – 1.70 s" and fmt.fmt_spread(1.6, 1.7, 1) == "– (1 run)"
    assert fmt.fmt_spread(1.6201, 1.6203, 5) == "1.62 s (all 5 runs)"  # not "1.62 s – 1.62 s"
    assert fmt.fmt_spread(0.2471, 0.2472, 2) == "247 ms (both runs)"
    assert not fmt.finite(True) and not fmt.finite("1") and not fmt.finite(float("nan")) and fmt.finite(3)
    assert fmt.fmt_fetch_config({"n": 1000.0, "bytes": 1024.0, "keepalive": 1.0}) == (
        "N = 1,000, 1 KiB responses, keep-alive")
    assert fmt.fmt_fetch_config({"n": 40, "bytes": None, "keepalive": 0}) == "N = 40, a connection per request"


# What the page once wrote in two ways: C = 1000 beside C = 1,000, n = 1.0e8 beside n = 1e8,
# 1.12x beside 1.12×, and a configuration as n=1000, bytes=1024, keepalive=1.
MIXED_FORMATS = re.compile(r"\b[CN] = \d{4,}\b|\bn = \d\.0e\d|\d(\.\d+)?x\b|\b(n|bytes|keepalive)=\d"
                           r"|\b(hold|limit of) \d{4,}|^\d{4,} entries", re.M)


@pytest.mark.parametrize("sample", ["small_run.json", "c10k_run.json", "open_run.json", "handcheck.json", "old"])
def test_every_page_writes_counts_sizes_and_ratios_one_way(tmp_path, sample):
    path = data(sample) if sample != "old" else tmp_path / "old.json"
    if sample == "old":  # the binary wrote its C10k reasons' counts bare before 24324c6
        doc = json.load(open(data("c10k_run.json"), encoding="utf-8"))
        doc["context"]["fetch_c10k_not_run:pool"] = "C = 10000 and above: 3 descriptors a slot need 30000"
        path.write_text(json.dumps(doc))
    page = plot_page_of(tmp_path / "out", str(path))
    assert not [m.group(0) for m in MIXED_FORMATS.finditer(page)], [
        line for line in page.splitlines() if MIXED_FORMATS.search(line)]
    assert sample != "old" or "`pool`: C = 10,000 and above: 3 descriptors a slot need 30,000." in page


# --- end to end -------------------------------------------------------------------

SUM_FETCH_PLOTS = {"seed.png", "sum_speedup.png", "sum_efficiency.png", "sum_time_vs_n.png",
                   "fetch_time.png", "fetch_efficiency.png", "fetch_latency.png", "fetch_throughput_memory.png"}
# handcheck.json has no L = 0 run and no memory counters: no throughput and memory figure
HANDCHECK_PLOTS = SUM_FETCH_PLOTS - {"fetch_throughput_memory.png"}


@pytest.fixture(scope="module")
def hand_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("hand") / "results"
    r = run_plot(data("handcheck.json"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out, r


def test_handcheck_files(hand_out):
    out, r = hand_out
    assert set(os.listdir(out)) == {"README.md", "plots"}
    assert set(os.listdir(out / "plots")) == HANDCHECK_PLOTS
    for name in HANDCHECK_PLOTS:
        assert_png(out / "plots" / name)
    text, images = page_images(out / "README.md")
    assert sorted(os.path.basename(i) for i in images) == sorted(HANDCHECK_PLOTS)
    for link in images:
        assert not os.path.isabs(link)
        assert os.path.isfile(os.path.join(out, link)), link
    assert r.stdout == ""
    assert "rendering sum speedup" in r.stderr and "wrote" in r.stderr


def test_handcheck_page_states_the_numbers(hand_out):
    out, _ = hand_out
    text = (out / "README.md").read_text(encoding="utf-8")
    # threads at W = 4 on 2 hardware threads: 0.50 is the best it could do, and the page says so
    assert "W workers on 2 hardware threads cannot do better than min(W, 2)/W: at W = 4, 0.50 is full use" in text
    # speedup table at n = 1e8: model | workers | median | spread | speedup | efficiency
    for row in ("| seq | 1 | 100 ms | 90.0 ms – 110 ms | 1.00× | 1.00 |",
                "| threads | 1 | 125 ms | 113 ms – 138 ms | 0.80× | 0.80 |",
                "| threads | 2 | 62.5 ms | 56.3 ms – 68.8 ms | 1.60× | 0.80 |",
                "| threads | 4 (oversubscribed) | 50.0 ms | 45.0 ms – 55.0 ms | 2.00× | 0.50 |",
                "| pool | 2 | 200 ms | 180 ms – 220 ms | 0.50× | 0.25 |",
                "| fork | 2 | 50.0 ms | 45.0 ms – 55.0 ms | 2.00× | 1.00 |"):
        assert row in text, row
    assert "### kernel `range`, n = 1e8" in text
    # crossover and overhead: kernel | model | workers | crossover | smallest | time there | vs seq
    for row in ("| range | threads | 2 | 1.0e5 | n = 1e4 | 20.0 µs | +10.0 µs |",
                "| range | pool | 2 | never |",
                "| range | openmp | 2 | below smallest | n = 1e4 | 5.00 µs | -5.00 µs |",
                "| range | fork | 2 | 1.0e7 | n = 1e4 | 1.00 ms | +990 µs |"):
        assert row in text, row
    # fetch pivot: wall time (efficiency)
    assert "| seq | 5.00 s (0.80) |  |  |  |" in text
    assert "| pool |  | 1.25 s (0.80) | 500 ms (0.80) |  |" in text
    assert "| coro |  |  |  | 125 ms (0.80) |" in text
    # seed table
    assert "| sum 0..1e8, 2 threads | 8.90 s (0.98×) | 62.5 ms (1.60×) |" in text
    assert "| 40 fetches, asyncio / event loop | 860 ms (7.05×) | 200 ms (20.5×) |" in text
    assert "`fetch/multi_socket/conc:40/n:40/profile:seed/bytes:1024/keepalive:1`" in text
    assert text.count("| not run |") == 6
    # machine and provenance
    for part in ("benchhost", "Sample CPU 9000", "`feedface00`", "2026-11-22T12:00:00+00:00", "GNU 12.2.0",
                 "2 (2 hardware threads)"):
        assert part in text, part
    assert "Nothing: every benchmark in the file was used." in text
    # the targets, from the run: seq range and the efficiency target read the hand-made times
    assert "## Targets" in text
    assert "| efficiency >= 0.95 at workers = 2, `range` n = 1e8: the persistent models |" in text
    assert "`pool` 0.25" in text


def test_the_client_floor_shows_in_the_machine_table_and_the_targets(tmp_path):
    with open(data("small_run.json"), encoding="utf-8") as f:
        run = json.load(f)
    for rep, (ms, eff) in enumerate([(118.0, 0.847), (121.0, 0.826), (125.0, 0.8)]):
        run["benchmarks"].append({
            "name": "peak/raw_http/conc:1000/n:1000/delay_ms:100/bytes:1024/keepalive:1/real_time",
            "run_name": "peak/raw_http/conc:1000/n:1000/delay_ms:100/bytes:1024/keepalive:1/real_time",
            "run_type": "iteration", "repetitions": 3, "repetition_index": rep, "threads": 1,
            "iterations": 1, "real_time": ms, "cpu_time": 15.0, "time_unit": "ms",
            "efficiency": eff, "items_per_second": 1e6 / ms, "ideal_s": 0.1})
    path = tmp_path / "floor_run.json"
    path.write_text(json.dumps(run), encoding="utf-8")
    r = run_plot(str(path), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert ("| measured floor: one thread without libcurl, N = C = 1,000 at 100 ms | 121 ms, 8,260 requests/s, "
            "efficiency 0.83 |") in text
    assert ("| `peak/raw_http` at N = C = 1,000, 100 ms: the same requests from one thread without libcurl "
            "(the floor for one-thread clients) | efficiency 0.83 (121 ms) | reported |") in text


def test_small_run_page_lists_skips_and_python(tmp_path):
    out = tmp_path / "out"
    r = run_plot(data("small_run.json"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert set(os.listdir(out / "plots")) == SUM_FETCH_PLOTS
    text = (out / "README.md").read_text(encoding="utf-8")
    skipped = text[text.index("## Skipped"):]
    assert ("| `fetch/fork/conc:40/n:40/delay_ms:100/bytes:1024/keepalive:1` | errored: curl: Failed to "
            "connect to 127.0.0.1: Connection refused | 3 |") in skipped
    assert "| `sum/gpu/range/workers:2/n:1000000` | unknown name: unknown sum model 'gpu' | 3 |" in skipped
    assert "| `fetch/multi/conc:16/n:40/delay_ms:0/bytes:4096/keepalive:0` | errored: server closed the connection | 1 |" in skipped
    assert "errored runs left out: 4" in text
    for needle in ("sum/gpu/range/workers:2/n:1000000", "fetch/fork/conc:40", "skipped 3 benchmarks"):
        assert needle in r.stderr, needle
    # the Python column is filled from the python/... rows
    seq_py = json_median_seconds(data("small_run.json"), "python/sum/seq/workers:1/n:100000000/real_time")
    assert "| %s |" % fmt.fmt_time(seq_py) in text
    assert "not run" not in text.split("## The seed's experiments")[1].split("## sum")[0]
    # both kernels, and the measured machine bounds
    assert "### kernel `range`, n = 1e8" in text and "### kernel `array`, n = 1e8" in text
    # A peak is the best of its processes, said with their median: the median of
    # peak/vector_add/workers:2 once sat below what two models drew (its threads not at once?).
    # memchr, which the models' reads beat, is named for what it is.
    peaks = {name: [b for b in json.load(open(data("small_run.json")))["benchmarks"]
                    if b["name"] == name and b["run_type"] == "iteration"]
             for name in ("peak/vector_add/real_time", "peak/read_bw/workers:2/bytes:268435456/real_time")}
    adds = sorted(b["adds_per_second"] for b in peaks["peak/vector_add/real_time"])
    assert "| measured peak: vector adds, 1 thread | %s adds/s (8 lanes), the best of 3 processes (median %s) |" % (
        fmt.fmt_measured(adds[-1]), fmt.fmt_measured(adds[1])) in text
    read = sorted(b["bytes_per_second"] for b in peaks["peak/read_bw/workers:2/bytes:268435456/real_time"])
    assert ("| measured read rate of glibc's memchr, 2 threads | %.1f GB/s over 268 MB, the best of 3 processes "
            "(median %.1f GB/s) |" % (read[-1] / 1e9, read[1] / 1e9)) in text
    assert "measured peak: read" not in text
    # Python's spread beside its medians, as C++'s: threads "slower" than seq may be within it
    py_seq = sorted(b["real_time"] for b in json.load(open(data("small_run.json")))["benchmarks"]
                    if b["name"] == "python/sum/seq/workers:1/n:100000000/real_time" and b["run_type"] == "iteration")
    assert "| %s – %s |\n" % (fmt.fmt_time(py_seq[0]), fmt.fmt_time(py_seq[-1])) in text
    # memory per request: one configuration at the largest latency, C >= 10 only (C = 1 and 4 are
    # page-granular noise), never a median over configurations
    mem = text[text.index("### Memory per request in flight (KiB), L = 100 ms, N = 40, 1 KiB responses, keep-alive"):]
    mem = mem[:mem.index("\n\n", mem.index("| model"))]
    assert "| model \\ C | 16 | 40 |" in mem
    assert "| pool | 48.0 | 48.0 |" in mem and "| coro | 3.00 | 3.00 |" in mem
    # ... and the full table does not show it below C = 10 either, though the run has it there
    rows = {line.split("`")[1]: line.split(" | ") for line in text.splitlines() if line.startswith("| `fetch/pool/")}
    header = next(line for line in text.splitlines() if line.startswith("| benchmark |") and "KiB/in-flight" in line)
    column = header.split(" | ").index("KiB/in-flight")
    assert rows["fetch/pool/conc:16/n:40/delay_ms:100/bytes:1024/keepalive:1"][column] == "48.0"
    for conc in (1, 4):
        assert rows["fetch/pool/conc:%d/n:40/delay_ms:0/bytes:1024/keepalive:1" % conc][column] == "–"
    assert "below 10 in flight it is page-granular noise and not shown" in text


def test_open_loop_page_states_capacity_and_the_bound(tmp_path):
    out = tmp_path / "out"
    r = run_plot(data("open_run.json"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert set(os.listdir(out / "plots")) == {"fetch_open.png"}
    assert_png(out / "plots" / "fetch_open.png")
    text = (out / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## fetch, open loop"):text.index("## Skipped")]
    assert "coordinated omission" in section
    # the highest rate with p99 <= L + 10 ms (20 ms) while keeping up
    for row in ("| multi_socket | 5,000 | 15,000 (offered 20,000) |", "| coro | 1,000 | 9,000 (offered 20,000) |",
                "| pool | below the lowest rate | 1,000 (offered 1,000) |"):
        assert row in section, row
    assert "| multi_socket | 10.5 / 12.0 | 11.0 / 14.0 | 300 / 600 *behind* |" in section
    assert "95,000 requests/s" in section and "`multi_socket`, issued 15,000" in section
    # the open-loop rows stay out of the closed-loop tables and figures
    assert "## fetch (IO-bound)" not in text
    targets = text[text.index("## Targets"):text.index("## fetch, open loop")]
    assert "| open loop, `multi_socket`: p99 within L + 5 ms at half its saturated throughput |" in targets
    assert "| the open-loop sweep and wrk add <= 90 s to the run | 79 s | yes |" in targets


def test_the_open_loop_table_gives_the_clients_cpu_time_per_request_where_it_achieved_most(tmp_path):
    doc = json.load(open(data("open_run.json")))
    utils = {0: 0.2, 1: 0.6, 2: 0.3}
    per_request = []
    for b in doc["benchmarks"]:
        if b["name"].startswith("fetch/open/coro/") and b.get("run_type") == "iteration":
            b["cpu_util"] = utils[b["repetition_index"]]
            if b["offered_rate"] == 20000:  # where coro achieved most (9,000 requests/s)
                per_request.append(b["cpu_util"] / b["items_per_second"] * 1e6)
    assert len(per_request) == 3
    run = tmp_path / "run.json"
    run.write_text(json.dumps(doc))
    text = plot_page_of(tmp_path / "out", str(run))
    section = text[text.index("## fetch, open loop"):text.index("## Skipped")]
    assert "| highest achieved rate | CPU µs/request there |" in section
    assert "| coro | 1,000 | 9,000 (offered 20,000) | %s |" % fmt.fmt_measured(statistics.median(per_request)) \
        in section
    assert "| pool | below the lowest rate | 1,000 (offered 1,000) | – |" in section  # none recorded
    # without the counter anywhere, no such column (the test above: its rows as they were)
    assert "CPU µs/request there" not in plot_page_of(tmp_path / "none", data("open_run.json"))


def test_every_model_has_a_colour_and_marker_of_its_own():
    styles = [plot_figures.MODEL_STYLE[m] for m in metrics.ALL_MODELS]
    assert len({c for c, _ in styles}) == len(styles) and len({m for _, m in styles}) == len(styles)


def page_head(tmp_path, context):
    """The top of the page (above its first section) rendered from small_run.json with CONTEXT in its context."""
    doc = json.load(open(data("small_run.json")))
    doc["context"].update(context)
    run = tmp_path / "run.json"
    run.write_text(json.dumps(doc))
    out = tmp_path / "out"
    assert run_plot(str(run), "--out", str(out)).returncode == 0
    text = (out / "README.md").read_text(encoding="utf-8")
    return text[:text.index("## ")]


def test_an_unstable_environment_is_said_at_the_top_of_the_page(tmp_path):
    head = page_head(tmp_path, {"environment_unstable": "the hypervisor stole 9.0% of the CPU time during the run"})
    assert "**Unstable environment:** the hypervisor stole 9.0% of the CPU time during the run" in head
    assert "UNSTABLE: the hypervisor stole" in head  # in the machine line too


@pytest.mark.parametrize("context, said", [
    ({"concbench_scope": "partial"}, "> **A partial run:** fewer benchmarks, other flags, or benchmarks that failed"),
    ({"concbench_scope": "quick"}, "> **A quick run:** one short repetition of fewer sizes and workers (`--quick`)"),
    ({"concbench_test_slowdown": "pool does 10% more kernel work (a test hook)"},
     "> **Test hooks were set:** pool does 10% more kernel work (a test hook). These numbers were changed"),
    ({"concbench_scope": "full"}, None),
])
def test_a_run_that_is_not_the_suites_own_says_so_at_the_top_of_the_page(tmp_path, context, said):
    # Rendered with --out anywhere, a partial run, or one with a planted slowdown, looked like the
    # suite's own measurement of its commit.
    head = page_head(tmp_path, context)
    if said:
        assert said in head, head
    else:
        assert "> **A " not in head and "Test hooks" not in head, head


def test_one_repetition_run_says_single_points(tmp_path, monkeypatch):
    # A --quick run has one repetition: its points are single runs, so neither the page nor a
    # figure's footer may call them medians or promise a min - max spread.
    doc = json.load(open(data("small_run.json")))
    doc["benchmarks"] = [dict(b, repetitions=1) for b in doc["benchmarks"]
                         if b.get("run_type") != "aggregate" and b.get("repetition_index", 0) == 0]
    run = tmp_path / "run.json"
    run.write_text(json.dumps(doc))
    notes, real_init = [], plot_figures.Figures.__init__

    def spy(self, directory, context, footer_note, progress, spread=True):
        notes.append((footer_note, spread))
        real_init(self, directory, context, footer_note, progress, spread)
    monkeypatch.setattr(plot_figures.Figures, "__init__", spy)
    assert plot.main([str(run), "--out", str(tmp_path / "out"), "--no-python"]) == 0
    assert notes == [("one run each: single points, no spread", False)]
    page = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "| repetitions | 1 per benchmark: single points, no spread |" in page
    seed = page[page.index("## The seed's experiments"):page.index("## sum")]
    assert "– (1 run) | `fetch/coro/conc:40/" in seed and "both runs" not in seed
    # the same run with its three repetitions keeps the median and its spread
    notes.clear()
    assert plot.main([data("small_run.json"), "--out", str(tmp_path / "out3"), "--no-python"]) == 0
    assert notes == [("median of 2–3 runs", True)]  # one benchmark lost a repetition to an error
    # three repetitions that agree to the digits shown are "all 3 runs" in the seed table too,
    # not "both runs"
    coro = "fetch/coro/conc:40/n:40/profile:seed/bytes:1024/keepalive:1/real_time"
    doc = json.load(open(data("small_run.json")))
    doc["benchmarks"] = [dict(b, real_time=250.0, time_unit="ms") if b["name"] == coro else b
                         for b in doc["benchmarks"]]
    run.write_text(json.dumps(doc))
    assert plot.main([str(run), "--out", str(tmp_path / "agree"), "--no-python"]) == 0
    assert "| 250 ms (all 3 runs) | `%s` |" % coro.replace("/real_time", "") in \
        (tmp_path / "agree" / "README.md").read_text(encoding="utf-8")
    assert "| repetitions | 2/3 per benchmark; tables show the median, spread is min – max |" in \
        (tmp_path / "out3" / "README.md").read_text(encoding="utf-8")


def test_aggregates_only_run(tmp_path):
    out = tmp_path / "out"
    r = run_plot(data("aggregates_only.json"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    # fetch at C = 1 and 8 only: memory per request is shown from C = 10, and no L = 0 run
    assert set(os.listdir(out / "plots")) == HANDCHECK_PLOTS - {"seed.png"}
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "only aggregates" in text
    assert "median of 3" in text and "(stddev)" in text
    # the table's median is the file's median aggregate
    t = json.load(open(data("aggregates_only.json")))
    med = [b for b in t["benchmarks"] if b["name"] == "sum/threads/range/workers:2/n:10000000/real_time_median"][0]
    assert "| threads | 2 | %s |" % fmt.fmt_time(med["real_time"] * UNIT[med["time_unit"]]) in text


def test_foreign_run_draws_what_it_can_and_says_what_it_skipped(tmp_path):
    out = tmp_path / "out"
    r = run_plot(data("foreign.json"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    plots = set(os.listdir(out / "plots"))
    assert plots == {"foreign_BM_memcpy.png", "foreign_BM_spin.png", "foreign_BM_pair.png"}
    for p in plots:
        assert_png(out / "plots" / p)
    text, images = page_images(out / "README.md")
    assert sorted(os.path.basename(i) for i in images) == sorted(plots)
    assert "## Other benchmarks" in text
    assert "![BM_pair: time against arg0 (lines: arg1)](plots/foreign_BM_pair.png)" in text
    assert "![BM_spin: time against threads](plots/foreign_BM_spin.png)" in text
    assert "| `BM_broken/64` | errored: allocation failed | 1 |" in text
    assert "| `BM_noargs` | not plotted: no numeric argument varies in family BM_noargs | 1 |" in text
    assert "| `BM_memcpy` | complexity fit, not a measurement | 1 |" in text
    assert "## sum" not in text and "## fetch" not in text
    for needle in ("BM_broken/64: errored", "BM_noargs: not plotted", "skipped 3 benchmarks"):
        assert needle in r.stderr, needle


BAD = ["bad_not_json.json", "bad_empty.json", "bad_truncated.json", "bad_top_level_list.json",
       "bad_no_benchmarks_key.json", "bad_no_benchmarks.json", "bad_all_errored.json", "missing.json"]


@pytest.mark.parametrize("fname", BAD)
def test_bad_input_one_line_exit_2_nothing_left(tmp_path, fname):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sentinel.txt").write_text("keep me")
    r = run_plot(data(fname), "--out", str(out))
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("concbench plot: ") and fname in lines[0]
    assert "Traceback" not in r.stderr
    assert os.listdir(out) == ["sentinel.txt"]
    # an output directory that did not exist is not created either
    fresh = tmp_path / "fresh"
    r = run_plot(data(fname), "--out", str(fresh))
    assert r.returncode == 2 and not fresh.exists()


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupted_render_leaves_nothing(tmp_path, sig, status):
    # SIGTERM left OUT/.tmp-*/ with half the plots; Ctrl-C printed a traceback
    out = tmp_path / "out"
    out.mkdir()
    (out / "sentinel.txt").write_text("keep me")
    # The signal comes from the render itself, just after its first figure is written: sent by
    # the test on reading a progress line, it came after the render had ended on a busy machine
    # (exit 0), which proved nothing. SIGINT gets Python's own handler, as in a terminal: a test
    # run started in the background inherits it ignored, and the render then ran to the end.
    hook = ("import os, signal, sys; sys.path.insert(0, %r); import plot_figures\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "save = plot_figures.Figures.save\n"
            "def interrupted(self, *args, **kwargs):\n"
            "    save(self, *args, **kwargs)\n"
            "    os.kill(os.getpid(), %d)\n"
            "plot_figures.Figures.save = interrupted\n"
            "import plot\n"
            "sys.exit(plot.main())" % (os.path.dirname(PLOT), sig))
    proc = subprocess.run([sys.executable, "-c", hook, data("small_run.json"), "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert "rendering" in proc.stderr and proc.returncode == status and "Traceback" not in proc.stderr, proc.stderr
    assert os.listdir(out) == ["sentinel.txt"]


def test_bad_python_option_is_bad_input(tmp_path):
    out = tmp_path / "out"
    r = run_plot(data("handcheck.json"), "--python", data("bad_not_json.json"), "--out", str(out))
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "bad_not_json.json" in r.stderr
    assert not out.exists()
    # A C++ run given as the Python one rendered a page whose Python column said "not run".
    r = run_plot(data("handcheck.json"), "--python", data("handcheck.json"), "--out", str(out))
    assert r.stderr == "concbench plot: the Python run %s has no python/... benchmarks (scripts/python_reference.py " \
        "writes them)\n" % data("handcheck.json")
    assert r.returncode == 2 and not out.exists()


def test_an_out_holding_another_readme_is_refused_and_left_alone(tmp_path):
    # --out . replaced the project's README.md with the page, and exited 0
    out = tmp_path / "project"
    out.mkdir()
    (out / "README.md").write_text("# a project\n")
    r = run_plot(data("handcheck.json"), "--out", str(out))
    assert r.returncode == 2 and r.stderr == "concbench plot: %s holds a README.md or plots that is not a results " \
        "page; give --out a directory of its own\n" % out, r.stderr
    assert os.listdir(out) == ["README.md"] and (out / "README.md").read_text() == "# a project\n"
    # a page of its own is replaced, as every render does: the second run's page is all that is left
    page, fresh = tmp_path / "page", tmp_path / "fresh"
    assert run_plot(data("handcheck.json"), "--out", str(page)).returncode == 0
    assert run_plot(data("small_run.json"), "--out", str(page)).returncode == 0
    assert run_plot(data("small_run.json"), "--out", str(fresh)).returncode == 0
    assert sorted(os.listdir(page)) == sorted(os.listdir(fresh))
    assert sorted(os.listdir(page / "plots")) == sorted(os.listdir(fresh / "plots"))
    assert (page / "README.md").read_text(encoding="utf-8") == (fresh / "README.md").read_text(encoding="utf-8")


def _renamed(doc, old, new):
    for b in doc["benchmarks"]:
        b["name"], b["run_name"] = (b[k].replace(old, new) for k in ("name", "run_name"))


@pytest.mark.parametrize("case, skipped", [
    ("hardware_threads: Infinity", None), ("hardware_threads: NaN", None),  # OverflowError, ValueError
    ("/n:10000/ -> /n:1e400/", "missing numeric n:"),  # IntCastingNaNError
    ("/workers:1/ -> /workers:0/", "not a positive workers:")])  # "Axis limits cannot be NaN"
def test_numbers_that_are_not_counts_are_left_out_not_an_internal_error(tmp_path, case, skipped):
    doc = json.loads(open(data("handcheck.json")).read())
    if case.startswith("hardware_threads"):
        doc["context"]["hardware_threads"] = float(case.split()[-1].lower().replace("infinity", "inf"))
    else:
        _renamed(doc, *case.split(" -> "))
    (tmp_path / "run.json").write_text(json.dumps(doc))
    r = run_plot(str(tmp_path / "run.json"), "--out", str(tmp_path / "out"))
    assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr
    assert skipped is None or ("unknown name: " + skipped) in r.stderr, r.stderr
    # ... and left out of the page: it printed "2 CPUs / inf hw threads"
    page = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert not re.search(r"\b(inf|nan)\b", page, re.I), re.findall(r".*\b(?:inf|nan)\b.*", page, re.I)


def test_an_error_message_of_several_lines_is_one_line_of_the_error(tmp_path):
    doc = json.loads(open(data("handcheck.json")).read())
    for b in doc["benchmarks"]:
        b.update(error_occurred=True, error_message="line one\nline two")
    (tmp_path / "run.json").write_text(json.dumps(doc))
    r = run_plot(str(tmp_path / "run.json"), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "line one line two" in r.stderr, r.stderr


def test_above_one_is_sure_only_beyond_both_spreads():
    # pool at W = 2 ran 2.00-2.05 ms against seq's 3.89-4.20 ms: 1.03 at the medians, yet a
    # slow pool run against a fast seq run is 0.95; ↑ said its workers went faster than seq.
    rows = [("seq", 1, 4.06e-3, 3.89e-3, 4.20e-3), ("pool", 2, 2.02e-3, 2.00e-3, 2.05e-3),
            ("tbb", 2, 1.80e-3, 1.78e-3, 1.82e-3)]
    sk = sum_rows([(m, w, 10 ** 7, t, lo, hi, 3, "iteration", math.nan, 3) for m, w, t, lo, hi in rows],
                  ["model", "workers", "n", "t_med", "t_min", "t_max", "reps", "row_kind", "t_sd", "repetitions"])
    table = metrics.speedup_table(sk, 10 ** 7).set_index("model")
    assert table.loc["pool", "efficiency"] > 1 and table.loc["pool", "efficiency_sure"] < 1
    assert table.loc["tbb", "efficiency_sure"] == pytest.approx(3.89 / (2 * 1.82))


def test_array_rows_show_their_time_over_the_bare_read_of_their_process(tmp_path):
    # Each repetition's time over its own process's bare read, then the median of those: threads
    # at 2 workers ran 1.05x, 1.10x and 2.0x its bare reads, so the page says 1.10x, whatever
    # the medians of the times and of the bare reads would give.
    with open(data("small_run.json"), encoding="utf-8") as f:
        run = json.load(f)
    ratios = {"sum/threads/array/workers:2/n:100000000/real_time": [1.05, 1.10, 2.0]}
    rows = [b for b in run["benchmarks"] if "/array/" in b["name"] and b.get("run_type") == "iteration"]
    for b in rows:
        ratio = ratios.get(b["name"], [1.0] * 3)[b["repetition_index"]]
        b["bare_s"] = b["real_time"] * UNIT[b["time_unit"]] / ratio
    (tmp_path / "run.json").write_text(json.dumps(run))
    page = plot_page_of(tmp_path / "out", str(tmp_path / "run.json"))
    assert "The \"× bare\" column is the model's time over the bare sum: the same sum with no model" in page
    array = page[page.index("### kernel `array`"):]
    assert "| CPU util | × bare | runs |" in array.splitlines()[2]
    threads = next(line for line in array.splitlines() if line.startswith("| threads | 2 |"))
    assert threads.split(" | ")[-2] == "1.10×", threads
    # range rows of this record have no bare sum, and their table no column for it
    ranged = page[page.index("### kernel `range`"):page.index("### kernel `array`")]
    assert "× bare" not in ranged


@pytest.mark.parametrize("left_out", [False, True])
def test_an_array_worker_sweep_the_machine_could_not_hold_is_said(tmp_path, left_out):
    # The binary leaves out the array kernel's worker sweep when --scaling_n's array would not
    # fit in half the memory, and says why in the context: the page says it above a table
    # that then has the size sweep's W only, and says nothing of the kind when it ran.
    with open(data("small_run.json"), encoding="utf-8") as f:
        run = json.load(f)
    why = "--scaling_n=2000000000: its array would take 16.0 GB, and the mpi model's ranks a copy of it: more than half of the 8.0 GB of memory this process may use"
    if left_out:
        run["benchmarks"] = [b for b in run["benchmarks"]
                             if not re.match(r"sum/(?!seq/)\w+/array/workers:(?!2/)", b["name"])]
        run["context"]["concbench_sum_array_workers_not_run"] = why
    (tmp_path / "run.json").write_text(json.dumps(run))
    page = plot_page_of(tmp_path / "out", str(tmp_path / "run.json"))
    note = "**array**: no worker sweep in this run (%s)" % why
    assert (note in page) == left_out
    assert "no worker sweep" not in page.replace(note, "")
    array = page[page.index("### kernel `array`"):].split("\n\n")[1].splitlines()[2:]
    assert {row.split(" | ")[1] for row in array} == ({"1", "2"} if left_out else {"1", "2", "4 (oversubscribed)"})
    if left_out:
        assert page.index(note) < page.index("### kernel `array`")


def test_a_target_whose_benchmark_erred_in_a_repetition_is_not_measured(tmp_path):
    # The median of the repetitions that survived judged it: the slow ones are those that fail.
    doc = json.loads(open(data("handcheck.json")).read())
    name = "sum/threads/range/workers:2/n:100000000/real_time"
    runs = [b for b in doc["benchmarks"] if b["name"] == name and b.get("run_type") == "iteration"]
    assert len(runs) > 1
    target = "| the spawn-per-call models at workers = 2"
    page = plot_page_of(tmp_path / "before", data("handcheck.json"))
    assert "`threads` 0.80, `fork` 1.00 |" in next(line for line in page.splitlines() if line.startswith(target))
    runs[0].update(error_occurred=True, error_message="timed out")
    (tmp_path / "run.json").write_text(json.dumps(doc))
    page = plot_page_of(tmp_path / "out", str(tmp_path / "run.json"))
    row = next(line for line in page.splitlines() if line.startswith(target))
    assert "`threads` not measured, `fork` 1.00 |" in row, row


def test_python_and_no_python_together_are_bad_input(tmp_path):
    r = run_plot(data("handcheck.json"), "--python", data("handcheck.json"), "--no-python",
                 "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "not allowed with" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_the_page_says_what_a_system_call_costs_how_idle_cpus_wait_and_how_the_run_was_split(tmp_path):
    # Fetch numbers from two machines of one name are comparable only where these are alike.
    doc = json.loads(open(data("handcheck.json")).read())
    doc["context"].update(syscall_ns="1107", cpu_idle="none/menu, guest halt-poll 200000 ns",
                          concbench_isolation="one process per model and kernel, 3 rounds (111 processes)",
                          cpu_signature="AuthenticAMD family 25 model 17 stepping 1")
    (tmp_path / "run.json").write_text(json.dumps(doc))
    r = run_plot(str(tmp_path / "run.json"), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "| one system call | 1.11 µs (getppid, median of 5 x 4,000 calls) |" in page
    assert "| CPU family | AuthenticAMD family 25 model 17 stepping 1 |" in page
    assert "| idle CPUs | none/menu |" in page  # the haltpoll module's setting, unused by this driver
    assert "| processes | one process per model and kernel, 3 rounds (111 processes) |" in page


def test_python_option_fills_the_column(tmp_path):
    out = tmp_path / "out"
    r = run_plot(data("handcheck.json"), "--python", data("small_run.json"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    text = (out / "README.md").read_text(encoding="utf-8")
    seed = text.split("## The seed's experiments")[1].split("## sum")[0]
    assert "not run" not in seed
    assert "Python column from `" in seed and "small_run.json` (recorded 2026-11-20T10:00:00+00:00 at commit " \
        "`0123456789ab`; **its fetches were timed cold**: threads started and connections opened inside the " \
        "clock, where the C++ clients make them before it; its record has no check of what else the machine was " \
        "doing)." in seed
    thr = json_median_seconds(data("small_run.json"), "python/sum/threads/workers:2/n:100000000/real_time")
    assert "| `sum/threads/range/workers:2/n:100000000` | %s" % fmt.fmt_time(thr) in seed
    # A Python run made while the machine was busy says so, as ./bench measured it; a quiet one says nothing.
    doc = json.loads(open(data("small_run.json")).read())
    doc["context"]["fetch_untimed_round"] = "yes"  # a warm one: no word of cold fetches
    for unstable, said in (("other processes kept 61% of the CPUs busy before the run",
                            "; **an unstable environment**: other processes kept 61% of the CPUs busy before the "
                            "run; its times may be slower than on a quiet machine)."), ("no", "`0123456789ab`).")):
        doc["context"]["environment_unstable"] = unstable
        (tmp_path / "busy.json").write_text(json.dumps(doc))
        r = run_plot(data("handcheck.json"), "--python", str(tmp_path / "busy.json"), "--out", str(tmp_path / "b"))
        assert r.returncode == 0, r.stderr
        assert said in (tmp_path / "b" / "README.md").read_text(encoding="utf-8")
    # A quick Python run sums 1e7: its sum cells say so, not "not run" (its fetch cells are as ever).
    quick = json.loads(open(data("small_run.json")).read())
    for b in quick["benchmarks"]:
        for field in ("name", "run_name"):
            if field in b and b[field].startswith("python/sum/"):
                b[field] = b[field].replace("/n:100000000/", "/n:10000000/")
    (tmp_path / "quick.json").write_text(json.dumps(quick))
    r = run_plot(data("handcheck.json"), "--python", str(tmp_path / "quick.json"), "--out", str(tmp_path / "q"))
    assert r.returncode == 0, r.stderr
    seed = (tmp_path / "q" / "README.md").read_text(encoding="utf-8").split("## The seed's experiments")[1]
    sums = [line for line in seed.split("## sum")[0].splitlines() if line.startswith("| sum")]
    assert len(sums) == 3 and all(line.endswith("| run at n = 1e7 only | – |") for line in sums), sums
    # One from a dirty tree (its scripts/ included) says so: the record names only the commit.
    doc["context"]["concbench_dirty"] = "true"
    (tmp_path / "dirty.json").write_text(json.dumps(doc))
    r = run_plot(data("handcheck.json"), "--python", str(tmp_path / "dirty.json"), "--out", str(tmp_path / "d"))
    assert r.returncode == 0, r.stderr
    assert "at commit `0123456789ab` **from a tree with uncommitted changes**)." in (
        tmp_path / "d" / "README.md").read_text(encoding="utf-8")
    assert "uncommitted" not in (tmp_path / "b" / "README.md").read_text(encoding="utf-8").split("## sum")[0]


def test_a_python_run_of_another_machine_is_refused_unless_any_host(tmp_path):
    # It rendered as "Python on this machine" beside this machine's C++ times.
    doc = json.loads(open(data("small_run.json")).read())
    doc["context"].update(host_name="elsewhere", cpu_model="Other CPU")
    other, out = tmp_path / "other.json", tmp_path / "out"
    other.write_text(json.dumps(doc))
    why = "host_name: benchhost vs elsewhere; cpu_model: Sample CPU 9000 @ 2.60GHz vs Other CPU"
    r = run_plot(data("handcheck.json"), "--python", str(other), "--out", str(out))
    assert r.returncode == 2 and not out.exists()
    assert r.stderr == ("concbench plot: the Python run %s was recorded on another machine than %s (%s); its times "
                        "are not this machine's (--any-host to show them anyway, marked as another machine's)\n"
                        % (other, data("handcheck.json"), why))
    r = run_plot(data("handcheck.json"), "--python", str(other), "--out", str(out), "--any-host")
    assert r.returncode == 0, r.stderr
    seed = (out / "README.md").read_text(encoding="utf-8").split("## The seed's experiments")[1].split("## sum")[0]
    assert "| Python on another machine |" in seed and "Python on this machine" not in seed
    assert "other.json` (recorded " in seed
    assert "), recorded on another machine (%s): not this machine's times (plot.py --any-host)." % why in seed
    # What one record says of its machine and the other does not is not the same machine: a Python
    # record without the CPU signature (and clock) passed beside the 2,596 MHz VM's run.
    run = json.loads(open(data("handcheck.json")).read())
    run["context"]["cpu_signature"] = "AuthenticAMD family 26 model 2 stepping 1"
    signed = tmp_path / "signed.json"
    signed.write_text(json.dumps(run))
    r = run_plot(str(signed), "--python", data("small_run.json"), "--out", str(tmp_path / "unsigned"))
    assert r.returncode == 2 and "(cpu_signature: not recorded by the Python run)" in r.stderr, r.stderr


def _fake_repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in os.listdir(SCRIPTS):
        if name.endswith(".py"):
            shutil.copy(os.path.join(SCRIPTS, name), repo / "scripts" / name)
    return repo


def test_default_run_is_the_newest_full_clean_one_and_part_of_the_suite_renders_apart(tmp_path):
    repo = _fake_repo(tmp_path)
    r = run_plot(script=str(repo / "scripts" / "plot.py"), cwd=str(tmp_path))
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and "no run given" in r.stderr
    assert not (repo / "results").exists() or os.listdir(repo / "results") == []
    runs = repo / "results" / "history"
    runs.mkdir(parents=True)
    (runs / "broken.json").write_text("{")  # was told "no results/history/*.json found"
    r = run_plot(script=str(repo / "scripts" / "plot.py"), cwd=str(tmp_path))
    assert r.returncode == 2 and r.stderr == ("concbench plot: no run given and repo/results/history/*.json holds no "
                                              "readable run (1 file); run the benchmarks first or name a RUN.json\n")
    (runs / "broken.json").unlink()
    for src, dst, date in [("handcheck.json", "2026-11-22.json", "2026-11-22T12:00:00+00:00"),
                           ("foreign.json", "2026-11-23.json", "2026-11-23T12:00:00+00:00"),
                           ("small_run.json", "2026-11-24.tmp.json", "2026-11-24T12:00:00+00:00")]:
        doc = json.load(open(data(src)))
        doc["context"].update(date=date, concbench_dirty="0")  # all clean: the date decides
        (runs / dst).write_text(json.dumps(doc))
    r = run_plot(script=str(repo / "scripts" / "plot.py"), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    text = (repo / "results" / "README.md").read_text(encoding="utf-8")
    assert "from [`2026-11-23.json`](history/2026-11-23.json)" in text
    assert "## Other benchmarks" in text
    assert no_temp_left(repo / "results")
    # A quick run alone is drawn, but into results/partial/: the page in results/ stays as it is.
    for name in os.listdir(runs):
        (runs / name).unlink()
    doc = json.load(open(data("small_run.json")))
    doc["context"]["concbench_scope"] = "quick"
    (runs / "quick.json").write_text(json.dumps(doc))
    r = run_plot(script=str(repo / "scripts" / "plot.py"), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (repo / "results" / "README.md").read_text(encoding="utf-8") == text
    assert "from [`quick.json`](../history/quick.json)" in (repo / "results" / "partial" / "README.md").read_text(
        encoding="utf-8")


def test_failure_midway_leaves_previous_results(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert plot.main([data("foreign.json"), "--out", str(out)]) == 0
    before = (out / "README.md").read_text(encoding="utf-8")
    plots_before = sorted(os.listdir(out / "plots"))

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(plot_figures, "draw_fetch", boom)
    capsys.readouterr()
    assert plot.main([data("handcheck.json"), "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: disk on fire)" in err
    assert (out / "README.md").read_text(encoding="utf-8") == before
    assert sorted(os.listdir(out / "plots")) == plots_before
    assert sorted(os.listdir(out)) == ["README.md", "plots"]
    # a fresh directory that failed midway is removed again
    fresh = tmp_path / "fresh"
    assert plot.main([data("handcheck.json"), "--out", str(fresh)]) == 3
    assert not fresh.exists()


def test_failure_while_moving_into_place_restores_previous_results(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert plot.main([data("foreign.json"), "--out", str(out)]) == 0
    before = (out / "README.md").read_text(encoding="utf-8")
    plots_before = sorted(os.listdir(out / "plots"))
    real_replace = os.replace

    def failing_replace(src, dst, *a, **k):
        if str(dst).endswith("README.md"):
            raise PermissionError(13, "Permission denied", str(dst))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(plot.os, "replace", failing_replace)
    capsys.readouterr()
    assert plot.main([data("handcheck.json"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "concbench plot: %s: Permission denied" % (out / "README.md")
    assert (out / "README.md").read_text(encoding="utf-8") == before
    assert sorted(os.listdir(out / "plots")) == plots_before
    assert sorted(os.listdir(out)) == ["README.md", "plots"]


def _published(out, contents):
    """cli.publish of {name: text} into out; a directory "plots" when the text is a dict."""
    import cli

    def build(tmp):
        for name, text in contents.items():
            if isinstance(text, dict):
                os.mkdir(os.path.join(tmp, name))
                for k, v in text.items():
                    open(os.path.join(tmp, name, k), "w").write(v)
            else:
                open(os.path.join(tmp, name), "w").write(text)
    return cli.publish(str(out), ["plots", "README.md"], build)


def test_publish_is_all_or_nothing_even_when_interrupted_or_the_undo_fails(tmp_path, monkeypatch):
    import cli
    out = tmp_path / "out"
    _published(out, {"plots": {"a.png": "old"}, "README.md": "old page"})
    state = lambda: (sorted(os.listdir(out)), (out / "README.md").read_text(), os.listdir(out / "plots"))  # noqa: E731
    before = state()
    real_replace, real_rename = os.replace, os.rename
    # Ctrl-C right after the old plots moved aside and the new ones went in
    calls = []

    def interrupted_replace(src, dst):
        calls.append(dst)
        real_replace(src, dst)
        raise KeyboardInterrupt
    monkeypatch.setattr(cli.os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        _published(out, {"plots": {"b.png": "new"}, "README.md": "new page"})
    monkeypatch.setattr(cli.os, "replace", real_replace)
    assert calls and state() == before
    # the undo itself fails: the previous output is kept, and the error says where
    monkeypatch.setattr(cli.os, "replace", lambda s, d: (_ for _ in ()).throw(OSError(28, "No space left")))

    def failing_rename(src, dst):
        if ".old" in str(src):
            raise OSError(13, "Permission denied")
        return real_rename(src, dst)
    monkeypatch.setattr(cli.os, "rename", failing_rename)
    with pytest.raises(cli.InputError) as e:
        _published(out, {"plots": {"c.png": "new"}, "README.md": "new page"})
    kept = str(e.value).rsplit("it is in ", 1)[1]
    assert sorted(os.listdir(os.path.join(kept, "plots"))) == ["a.png"]


def test_publish_that_fails_leaves_no_directory_it_made(tmp_path, monkeypatch):
    # Only the output directory itself was taken away: --out a/b/c left a/b behind, and all
    # three when its temporary directory could not be made.
    import cli

    def failing(tmp):
        raise OSError(28, "No space left on device")
    with pytest.raises(OSError):
        cli.publish(str(tmp_path / "a" / "b" / "c"), ["README.md"], failing)
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(cli.tempfile, "mkdtemp", lambda **_: failing(None))
    with pytest.raises(cli.InputError, match="cannot write to .*No space left"):
        cli.publish(str(tmp_path / "a" / "b" / "c"), ["README.md"], failing)
    assert os.listdir(tmp_path) == []


def test_rerun_replaces_stale_plots(tmp_path):
    out = tmp_path / "out"
    assert run_plot(data("foreign.json"), "--out", str(out)).returncode == 0
    (out / "notes.txt").write_text("mine")
    r = run_plot(data("handcheck.json"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert set(os.listdir(out / "plots")) == HANDCHECK_PLOTS  # no foreign_*.png left over
    assert sorted(os.listdir(out)) == ["README.md", "notes.txt", "plots"]


def _variant(kind):
    with open(data("small_run.json")) as f:
        doc = json.load(f)
    if kind == "no_context":
        del doc["context"]
    elif kind == "nan_counters":
        for b in doc["benchmarks"]:
            for k in ("efficiency", "ideal_s", "cpu_util", "p99_ms", "mem_per_inflight_kb"):
                if k in b:
                    b[k] = float("nan")
    elif kind == "only_seed_profile":
        doc["benchmarks"] = [b for b in doc["benchmarks"] if "profile:seed" in b["name"]]
    elif kind == "only_seq":
        doc["benchmarks"] = [b for b in doc["benchmarks"] if "/seq/" in b["name"]]
    elif kind == "with_foreign":
        with open(data("foreign.json")) as f:
            doc["benchmarks"] += json.load(f)["benchmarks"]
    return doc


@pytest.mark.parametrize("kind, plots", [
    ("no_context", SUM_FETCH_PLOTS),
    ("nan_counters", SUM_FETCH_PLOTS),
    ("only_seed_profile", {"seed.png"}),
    ("only_seq", {"seed.png", "sum_time_vs_n.png", "fetch_time.png", "fetch_efficiency.png",
                  "fetch_latency.png", "fetch_throughput_memory.png"}),
    ("with_foreign", SUM_FETCH_PLOTS | {"foreign_BM_memcpy.png", "foreign_BM_spin.png", "foreign_BM_pair.png"}),
])
def test_partial_and_odd_runs_render_what_they_have(tmp_path, kind, plots):
    path = tmp_path / (kind + ".json")
    # Google Benchmark writes NaN for undefined counters; so does json.dumps
    path.write_text(json.dumps(_variant(kind)))
    out = tmp_path / "out"
    r = run_plot(str(path), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr and "internal error" not in r.stderr
    assert set(os.listdir(out / "plots")) == plots
    text, images = page_images(out / "README.md")
    assert sorted(os.path.basename(i) for i in images) == sorted(plots)
    assert not re.search(r"\bnan\b", text, re.IGNORECASE)
    if kind == "no_context":
        assert "machine unknown" in text


def test_full_size_run_renders_every_figure(tmp_path):
    path = tmp_path / "full.json"
    doc = make_samples.full_run()
    assert len(doc["benchmarks"]) > 2000
    path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    r = run_plot(str(path), "--out", str(out))  # seconds on the 2-core machine; not asserted
    assert r.returncode == 0, r.stderr
    assert set(os.listdir(out / "plots")) == SUM_FETCH_PLOTS
    text = (out / "README.md").read_text(encoding="utf-8")
    for model in ("std_par", "process_pool", "multi_socket"):
        assert "| %s |" % model in text


# --- interpreter check --------------------------------------------------------------

CHECK_SCRIPT = """\
import sys
sys.path.insert(0, {scripts!r})
import pyenv_check
pyenv_check.require({modules!r}, {packages!r}, purpose="testing")
print("ran under", sys.executable, sys.argv[1:])
"""


def _check_script(tmp_path, modules, packages=None):
    p = tmp_path / "check.py"
    p.write_text(CHECK_SCRIPT.format(scripts=SCRIPTS, modules=modules, packages=packages or {}))
    return str(p)


def test_interpreter_check_prints_the_apt_line(tmp_path):
    script = _check_script(tmp_path, ["json", "concbench_no_such_module", "no_such_mod_two"],
                           {"concbench_no_such_module": "python3-concbench-fake"})
    r = subprocess.run(["/usr/bin/python3", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == ("concbench: testing needs json, concbench_no_such_module, no_such_mod_two; install them "
                        "with: apt-get install python3-concbench-fake python3-no-such-mod-two\n")


def test_interpreter_check_passes_when_present(tmp_path):
    script = _check_script(tmp_path, ["json", "matplotlib"])
    r = subprocess.run(["/usr/bin/python3", script, "a b"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ran under /usr/bin/python3 ['a b']"


def test_interpreter_check_reexecs_under_system_python(tmp_path, bare_python):
    exe = bare_python
    script = _check_script(tmp_path, ["matplotlib", "pandas"])
    r = subprocess.run([exe, script, "--flag", "two words"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ran under /usr/bin/python3 ['--flag', 'two words']"
    # and plot.py itself works when started by that interpreter
    out = tmp_path / "out"
    r = subprocess.run([exe, PLOT, data("foreign.json"), "--out", str(out)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert (out / "plots" / "foreign_BM_memcpy.png").is_file()


def test_c10k_figure_carries_the_client_floor_at_its_latency_only(tmp_path):
    with open(data("c10k_run.json"), encoding="utf-8") as f:
        run = json.load(f)
    for conc, delay, ms in ((10000, 100, 264.0), (1000, 100, 121.0), (1000, 0, 18.0)):
        for rep in range(3):
            name = "peak/raw_http/conc:%d/n:%d/delay_ms:%d/bytes:1024/keepalive:1/real_time" % (conc, conc, delay)
            run["benchmarks"].append({"name": name, "run_name": name, "run_type": "iteration", "repetitions": 3,
                                      "repetition_index": rep, "threads": 1, "iterations": 1,
                                      "real_time": ms + rep, "cpu_time": 10.0, "time_unit": "ms",
                                      "efficiency": 100.0 / (ms + rep) if delay else 0.0})
    path = tmp_path / "floor_c10k.json"
    path.write_text(json.dumps(run), encoding="utf-8")
    floor = metrics.client_floor(summary(str(path)), 100)
    got = sorted(zip(floor["arg_conc"], floor["t_med"]))
    assert [c for c, _ in got] == [1000, 10000] and [t for _, t in got] == pytest.approx([0.122, 0.265])
    assert metrics.client_floor(summary(data("c10k_run.json")), 100).empty
    # the C10k figure's floor is at the sweep's N only: N = C = 1000 is another workload
    assert list(metrics.client_floor(summary(str(path)), 100, n=10000)["arg_conc"]) == [10000]
    # the fetch figures' floor: the plotted configuration's N and body size only
    at_1000 = metrics.client_floor(summary(str(path)), 100, n=1000, nbytes=1024)
    assert list(at_1000["arg_conc"]) == [1000] and list(at_1000["efficiency"]) == pytest.approx([100 / 122])
    assert list(at_1000["over_ideal"]) == pytest.approx([0.022])  # 122 ms over one wave of 100 ms
    assert metrics.client_floor(summary(str(path)), 100, n=1000, nbytes=4096).empty
    r = run_plot(str(path), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert_png(tmp_path / "out" / "plots" / "fetch_c10k.png")


def test_c10k_page_has_every_model_and_the_reasons_for_those_left_out(tmp_path):
    out = tmp_path / "out"
    r = run_plot(data("c10k_run.json"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "fetch_c10k.png" in os.listdir(out / "plots")
    assert_png(out / "plots" / "fetch_c10k.png")
    text = (out / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### C10k: 10,000 requests at L = 100 ms, up to 10,000 in flight"):]
    section = section[:section.index("<details>")]
    assert "| model \\ C | 1,000 | 2,000 | 5,000 | 10,000 |" in section
    assert "| multi_socket | 1.05 s (0.95) | 700 ms (0.71) | 1.00 s (0.20) | 1.70 s (0.06) |" in section
    assert "| pool | 1.10 s (0.91) | 700 ms (0.71) | 550 ms (0.36) |  |" in section
    assert ("Left out of the C10k sweep, or of its highest C: `seq`: one request at a time: 10,000 at 100 ms take 1,000 s; "
            "`pool`: C = 10,000 and above: 3 descriptors a slot need 30,000.") in section


@pytest.mark.parametrize("lo, hi, at_least", [(12.2, 24.5, 4), (12.0, 90.0, 3), (10.0, 900.0, 4), (1e3, 1e8, 5),
                                               (1600.0, 40000.0, 5)])
def test_log_axis_labels_enough_ticks_inside_the_data(lo, hi, at_least):
    # The memory panel once spanned 12-25 KiB with only 15 and 20 labelled: a reader had to guess
    # every value above 20. In each of these ranges several labelled ticks fall inside it, and
    # neither end is a long stretch without one (throughput from 1,600 to 40,000 requests a
    # second had none above 20,000: a quarter of the axis).
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    try:
        plot_figures._log_axis(ax, [lo, hi])
        fig.canvas.draw()
        bottom, top = ax.get_ylim()
        labelled = [t for t in ax.yaxis.get_major_ticks()
                    if bottom <= t.get_loc() <= top and t.label1.get_text()]
        assert len(labelled) >= at_least, [t.label1.get_text() for t in labelled]
        texts = [t.label1.get_text() for t in labelled]
        assert len(set(texts)) == len(texts)  # no two ticks read alike
        locs, span = sorted(t.get_loc() for t in labelled), math.log(top / bottom)
        assert math.log(top / locs[-1]) <= 0.2 * span and math.log(locs[0] / bottom) <= 0.2 * span, texts
    finally:
        plt.close(fig)


def test_a_saved_run_is_rendered_with_the_python_run_saved_beside_it(tmp_path):
    # Re-rendering a reference run without naming its Python run said "not run" in the Python
    # column, though ./bench --python had saved one with it (history/python/<the same name>).
    runs = tmp_path / "history"
    (runs / "python").mkdir(parents=True)
    shutil.copy(data("handcheck.json"), runs / "run.json")
    r = run_plot(str(runs / "run.json"), "--out", str(tmp_path / "alone"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "alone" / "README.md").read_text(encoding="utf-8").count("| not run |") == 6
    shutil.copy(data("small_run.json"), runs / "python" / "run.json")
    r = run_plot(str(runs / "run.json"), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    seed = (tmp_path / "out" / "README.md").read_text(encoding="utf-8").split("## The seed's experiments")[1]
    seed = seed.split("## sum")[0]
    assert "not run" not in seed and "Python column from `../history/python/run.json` (recorded" in seed
    thr = json_median_seconds(data("small_run.json"), "python/sum/threads/workers:2/n:100000000/real_time")
    assert "| `sum/threads/range/workers:2/n:100000000` | %s" % fmt.fmt_time(thr) in seed
    # --python still chooses, and a saved one from another machine is refused like a named one
    doc = json.loads(open(data("small_run.json")).read())
    doc["context"].update(host_name="elsewhere")
    (runs / "python" / "run.json").write_text(json.dumps(doc))
    r = run_plot(str(runs / "run.json"), "--out", str(tmp_path / "other"))
    assert r.returncode == 2 and "recorded on another machine" in r.stderr and not (tmp_path / "other").exists()
    r = run_plot(str(runs / "run.json"), "--no-python", "--out", str(tmp_path / "other"))
    assert r.returncode == 0 and (tmp_path / "other" / "README.md").read_text(encoding="utf-8").count("| not run |") == 6


def keeping_figures(tmp_path):
    """Figures that keep what each saved file drew: {file: {"legend": the shared legend's labels,
    "notes": {panel title: its texts}, "lines": {panel title: {label: (x, y)}}, "ylim": {panel
    title: (bottom, top)}}} over its visible panels, where the lines are the labelled lines and
    error bars' medians."""
    seen = {}

    class Keep(plot_figures.Figures):
        def save(self, fig, fname, title, **kw):
            super().save(fig, fname, title, **kw)  # draws the shared legend, then closes fig
            axes = [ax for ax in fig.axes if ax.get_visible()]
            lines = {}
            for ax in axes:
                drawn = {c.get_label(): c.lines[0] for c in ax.containers}
                drawn.update({line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")})
                lines[ax.get_title()] = {k: (list(v.get_xdata()), list(v.get_ydata())) for k, v in drawn.items()}
            seen[fname] = {"legend": [t.get_text() for legend in fig.legends for t in legend.get_texts()],
                           "notes": {ax.get_title(): [t.get_text() for t in ax.texts] for ax in axes},
                           "lines": lines, "ylim": {ax.get_title(): ax.get_ylim() for ax in axes}}

    return Keep(str(tmp_path), {}, "note", lambda *_: None), seen


def test_latency_figure_keys_its_line_styles_and_says_where_a_sweep_stopped(tmp_path):
    # The legend once held only "L = 100 ms": which line was p50 and which p99, and what the
    # dotted line was, were left to the title. A model swept only to C = 100 (fork) showed an
    # empty right half a reader could take for a line that failed to draw.
    rows = pd.DataFrame([{"model": m, "conc": c, "delay_ms": 100.0, "p50_ms": 100.0 + c / 10,
                          "p99_ms": 110.0 + c / 5} for m, concs in (("threads", (100, 1000)), ("fork", (100,)))
                         for c in concs])
    for q in ("p50_ms", "p99_ms"):
        rows[q + "_min"], rows[q + "_max"] = rows[q] * 0.9, rows[q] * 1.1
    rows.loc[rows["model"] == "fork", "p99_ms_max"] *= 3  # a slow repetition
    figs, seen = keeping_figures(tmp_path)
    plot_figures._draw_latency(figs, rows, {"n": 1000, "bytes": 1024, "keepalive": 1}, [100.0])
    seen = seen["fetch_latency.png"]
    assert {"p50", "p99", "L itself: no request is answered sooner", "L = 100 ms"} <= set(seen["legend"])
    assert seen["notes"]["fork"] == ["no result\nabove C = 100"] and seen["notes"]["threads"] == []
    # The axis holds every bar whole, not only the medians: fork's p99 bar ran off the top.
    for bottom, top in seen["ylim"].values():
        assert bottom <= rows["p50_ms_min"].min() and top >= rows["p99_ms_max"].max(), seen["ylim"]
    assert_png(tmp_path / "fetch_latency.png")


def test_the_seed_figure_keys_every_series_it_draws(tmp_path):
    # A series was labelled on the first row only (sum, sequential): a run without that
    # benchmark (fetch or the seed profile alone) had a legend of the blog alone, and its blue
    # and orange points unexplained.
    seed = [{"experiment": "sum 0..1e8, sequential", "blog_s": 8.7, "cpp_s": None, "python_s": None},
            {"experiment": "fetch 40 GETs, sequential", "blog_s": 6.06, "cpp_s": 4.1, "python_s": 4.3,
             "cpp_spread": [4.0, 4.2], "python_spread": [4.2, 4.4]}]
    figs, seen = keeping_figures(tmp_path)
    plot_figures.draw_seed(figs, seed, python_elsewhere=False)
    (lines,) = seen["seed.png"]["lines"].values()
    assert set(lines) == {"blog (Python)", "C++, this run", "Python, this machine"}, lines
    assert lines["C++, this run"][0] == [4.1]  # labelled once, at the point it has


def test_the_machine_table_says_when_the_machine_reported_no_caches(tmp_path):
    # A VM without /sys/devices/system/cpu/cpu0/cache gives Google Benchmark no cache sizes: the
    # page says so rather than drop the row, as a run from before caches were recorded does.
    with open(data("small_run.json"), encoding="utf-8") as f:
        run = json.load(f)
    texts = {}
    for label, caches in (("sized", run["context"]["caches"]), ("none", [])):
        run["context"]["caches"] = caches
        path = tmp_path / ("%s.json" % label)
        path.write_text(json.dumps(run), encoding="utf-8")
        r = run_plot(str(path), "--out", str(tmp_path / label))
        assert r.returncode == 0, r.stderr
        texts[label] = (tmp_path / label / "README.md").read_text(encoding="utf-8")
    assert "| caches | L1d 48 KiB" in texts["sized"]
    assert "| caches | not reported by the machine |" in texts["none"]


def test_the_time_figure_draws_each_models_time_above_the_ideal_in_a_panel_of_its_own(tmp_path):
    # Ten models within a few percent of the ideal on one wall-time axis could not be told apart:
    # each model now has a panel, and what it draws is measured - ideal, not the wall time.
    info = metrics.analyse_fetch(summary(data("small_run.json")))
    figs, seen = keeping_figures(tmp_path)
    plot_figures.draw_fetch(figs, info)
    panels = seen["fetch_time.png"]["lines"]
    rows = pd.concat([metrics.config_rows(info["frame"], info["cfg"], d) for d in info["delays"]])
    assert list(panels) == sorted(rows["model"].unique(), key=metrics.model_order)
    for model, lines in panels.items():
        for delay in info["delays"]:
            m = rows[(rows["model"] == model) & (rows["delay_ms"] == delay)].sort_values("conc")
            x, y = lines["L = %g ms" % delay]
            assert x == list(m["conc"]) and y == pytest.approx(list(m["t_med"] - m["ideal"])), (model, delay)
    # One point by hand, so a wrong pick of rows in metrics is not drawn and expected alike: coro at
    # C = 4, L = 100 ms, the median of 999.97, 1030.06 and 984.96 ms less ceil(40 / 4) x 100 ms.
    x, y = panels["coro"]["L = 100 ms"]
    assert y[x.index(4)] == pytest.approx(0.9999690862877706 - 1.0)
    assert "the other models" in seen["fetch_time.png"]["legend"]
    assert_png(tmp_path / "fetch_time.png")


def peak_entries(name, ms, counters):
    """Three repetitions of a peak/ benchmark (wrk, raw_http) as Google Benchmark writes them."""
    return [{"name": name, "run_name": name, "run_type": "iteration", "repetitions": 3, "repetition_index": rep,
             "threads": 1, "iterations": 1, "real_time": ms, "cpu_time": ms / 10, "time_unit": "ms", **counters}
            for rep in range(3)]


def wrk_entries(rps_at, delay_ms=0):
    """peak/wrk at each C of {C: requests per second}, each response held delay_ms."""
    return [e for c, rps in rps_at.items() for e in peak_entries(
        "peak/wrk/conc:%d/delay_ms:%d/bytes:1024/process_time/real_time" % (c, delay_ms), 1010.0,
        {"requests_per_second": rps})]


def test_the_c10k_figure_draws_wrk_at_each_c_it_ran_at(tmp_path):
    # wrk's best (100,000 at C = 10) drawn flat at every C claimed a capacity at C = 1000 that wrk
    # itself did not reach there (70,000).
    doc = json.load(open(data("c10k_run.json"), encoding="utf-8"))
    # (and at 10 ms, the open loop's bound, which is not this figure's 0 ms line)
    doc["benchmarks"] += wrk_entries({10: 100000.0, 100: 95000.0}) + wrk_entries({1000: 50000.0}, delay_ms=10)
    path = tmp_path / "wrk_c10k.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    summ = summary(str(path))
    figs, seen = keeping_figures(tmp_path)
    plot_figures.draw_c10k(figs, metrics.analyse_c10k(metrics.fetch_frame(summ), summ, doc["context"]))
    (left,) = [lines for title, lines in seen["fetch_c10k.png"]["lines"].items() if title.startswith("throughput")]
    assert left["the fixture's capacity at 0 ms (wrk, at each C it ran at)"] == ([10, 100, 1000],
                                                                                 [100000.0, 95000.0, 70000.0])


def test_the_open_loop_is_held_against_wrk_at_its_own_c(tmp_path):
    # The open loop has at most 1000 in flight; wrk's best over C = 100 and 1000 is no bound there.
    # open_run.json has wrk at C = 100 only: the figure and the page say which C the line is.
    doc = json.load(open(data("open_run.json"), encoding="utf-8"))
    texts, labels = {}, {}
    floor = peak_entries("peak/raw_http/conc:1000/n:1000/delay_ms:0/bytes:1024/keepalive:1/real_time", 16.7,
                         {"items_per_second": 60000.0})
    for kind, extra in (("as_is", []), ("at_1000", wrk_entries({1000: 70000.0}) + floor),
                        ("at_1000_10ms", wrk_entries({1000: 70000.0}) + wrk_entries({1000: 55000.0}, 10) + floor)):
        path = tmp_path / (kind + ".json")
        path.write_text(json.dumps(dict(doc, benchmarks=doc["benchmarks"] + extra)), encoding="utf-8")
        r = run_plot(str(path), "--out", str(tmp_path / kind))
        assert r.returncode == 0, r.stderr
        texts[kind] = (tmp_path / kind / "README.md").read_text(encoding="utf-8")
        figs, seen = keeping_figures(tmp_path)
        plot_figures.draw_open(figs, metrics.analyse_open(summary(str(path))))
        (labels[kind],) = [(k, y) for k, (_, y) in seen["fetch_open.png"]["lines"]["what each model issued"].items()
                           if "wrk" in k]
    assert labels["as_is"] == ("the fixture's capacity at C = 100, 0 ms (wrk; not run at the open loop's C = 1,000)",
                               [95000.0, 95000.0])
    assert labels["at_1000"] == ("the fixture's capacity at C = 1,000, 0 ms (wrk)", [70000.0, 70000.0])
    # wrk at the open loop's own C and L (open_run.json's 10 ms) is the bound, where it ran
    assert labels["at_1000_10ms"] == ("the fixture's capacity at C = 1,000, 10 ms (wrk)", [55000.0, 55000.0])
    assert ("**The bound.** At C = 1,000 and L = 10 ms, the open loop's most requests in flight and its latency, the "
            "fixture served 55,000 requests/s to wrk (one thread; at 0 ms 95,000 at C = 100, 70,000 at C = 1,000). One "
            "thread without libcurl (`peak/raw_http`, N = C = 1,000, closed loop at 0 ms) drew 60,000 requests/s. The "
            "best of the 3 open-loop models, `multi_socket`, issued 15,000 requests/s, 27% of wrk's at C = 1,000 and "
            "10 ms: the fixture's capacity was not what held it back.\n") in texts["at_1000_10ms"]
    assert ("**The bound.** wrk was not run at C = 1,000, the most requests the open loop may have in flight; at C = 100, "
            "the nearest it ran at, the fixture served it 95,000 requests/s (one thread, 0 ms). The best of the 3 "
            "open-loop models, `multi_socket`, issued 15,000 requests/s, 16% of wrk's at C = 100.\n") in texts["as_is"]
    assert ("**The bound.** At C = 1,000, the most requests the open loop may have in flight, the fixture served 70,000 "
            "requests/s to wrk (one thread, 0 ms; 95,000 at C = 100). One thread without libcurl (`peak/raw_http`, "
            "N = C = 1,000, closed loop at 0 ms) drew 60,000 requests/s. The best of the 3 open-loop models, "
            "`multi_socket`, issued 15,000 requests/s, 21% of wrk's at C = 1,000: the fixture's capacity was not "
            "what held it back.\n") in texts["at_1000"]
    # the open-loop target's row says the same, from the same function
    assert ("| the fixture's own capacity (wrk) at the open loop's C and L beside the best open-loop model | At C = 1,000, "
            "the most requests the open loop may have in flight, the fixture served 70,000 requests/s to wrk (one "
            "thread, 0 ms; 95,000 at C = 100).") in texts["at_1000"]


@pytest.mark.parametrize("width, ticks, kept", [
    (5.0, [1000, 2000, 5000, 10_000, 15_000, 20_000, 40_000], [1000, 2000, 5000, 10_000, 20_000]),
    (2.5, [1, 10, 100, 250, 500, 1000, 2000, 5000, 10_000], [1, 10, 100, 1000])])
def test_x_tick_labels_never_overlap_and_keep_the_round_values(width, ticks, kept):
    # The open-loop figure once printed 15,000 and 20,000 as one "15,00020,000". Labels that
    # overlap are left out, the 1, 2 and 5 times a power of ten last.
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(width, 3))
    try:
        ax.plot(ticks, range(len(ticks)))
        plot_figures._x_ticks(ax, ticks, plot_figures.fmt_num, base=10)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        shown = [(t.get_loc(), t.label1.get_window_extent(renderer)) for t in ax.xaxis.get_major_ticks()
                 if t.label1.get_text()]
        for (_, a), (_, b) in zip(shown, shown[1:]):
            assert a.x1 < b.x0, (a, b)
        locs = [loc for loc, _ in shown]
        assert set(kept) <= set(locs), locs
    finally:
        plt.close(fig)


@pytest.mark.parametrize("checked", [True, False])
def test_a_bare_sum_whose_threads_did_not_run_at_once_is_left_out(tmp_path, checked):
    # A pinned bare sum on 2 CPUs read one thread's time when another process took one of them:
    # its CPU time over wall time, bare_cpu_util, read 0.99 of 2. Its round says nothing of the
    # model, so the column is the median over the other rounds: 1.04x and 1.10x, not 2.0x's.
    # A record from before bare_cpu_util cannot leave it out, and its page says so.
    with open(data("small_run.json"), encoding="utf-8") as f:
        run = json.load(f)
    name = "sum/threads/array/workers:2/n:100000000/real_time"
    for b in run["benchmarks"]:
        # fork's array has no bare sum at all (none was run): no rounds were left out of one
        if "/array/" in b["name"] and b.get("run_type") == "iteration" and not b["name"].startswith("sum/fork/"):
            ratio = [1.04, 1.10, 0.5][b["repetition_index"]] if b["name"] == name else 1.0
            b["bare_s"] = b["real_time"] * UNIT[b["time_unit"]] / ratio
            b["bare_cpus"] = 2
            if checked:
                b["bare_cpu_util"] = 0.99 if b["name"] == name and b["repetition_index"] == 2 else 1.97
    (tmp_path / "run.json").write_text(json.dumps(run))
    page = plot_page_of(tmp_path / "out", str(tmp_path / "run.json"))
    array = page[page.index("### kernel `array`"):]
    threads = next(line for line in array.splitlines() if line.startswith("| threads | 2 |"))
    # a median of the 2 rounds that counted says so; a column of every round says nothing more
    assert threads.split(" | ")[-2] == ("1.07× (2 of 3)" if checked else "1.04×"), threads
    pool = next(line for line in array.splitlines() if line.startswith("| pool | 2 |"))
    assert pool.split(" | ")[-2] == "1.00×", pool
    fork = next(line for line in array.splitlines() if line.startswith("| fork | 2 |"))
    assert fork.split(" | ")[-2] == "–", fork
    target = next(line for line in page.splitlines() if line.startswith("| `array` at 2 workers within 1.5×"))
    assert ("`threads` 1.07× (2 of 3 rounds)," if checked else "`threads` 1.04×,") in target, target
    assert ("leaving out a round whose bare sum's threads did not run at once" in page) == checked
    assert ("this run predates `bare_cpu_util`" in page) == (not checked)


def test_the_committed_page_is_what_the_code_renders_from_its_record(tmp_path):
    # results/README.md says it is generated from the record it names: a change to the page's
    # code or to the metrics must render it again, or the page shows what the code no longer says.
    page_path = os.path.join(REPO, "results", "README.md")
    if not os.path.exists(page_path):
        pytest.skip("no committed page")
    page = open(page_path, encoding="utf-8").read()
    record = re.search(r"from \[`([^`]+)`\]\(history/", page).group(1)
    r = run_plot(os.path.join(REPO, "results", "history", record), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    rendered = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    # The page links its record relative to where it lies.
    rendered = rendered.replace(os.path.relpath(os.path.join(REPO, "results", "history"), tmp_path / "out") + "/",
                                "history/")
    assert rendered == page, "results/README.md differs from what scripts/plot.py renders from %s" % record


def test_a_model_that_held_fewer_in_flight_than_its_c_is_marked_at_every_latency(tmp_path):
    # At L = 0 it was not: `threads` held 98 of 1,000 and its requests/s read as C = 1,000's.
    with open(data("small_run.json"), encoding="utf-8") as f:
        doc = json.load(f)
    held = {"fetch/pool/conc:40/n:40/delay_ms:0/": 10, "fetch/pool/conc:40/n:40/delay_ms:100/": 12}
    for b in doc["benchmarks"]:
        if b["name"].startswith("fetch/"):
            conc = int(re.search(r"/conc:(\d+)/", b["name"]).group(1))
            b["peak_in_flight"] = next((v for k, v in held.items() if b["name"].startswith(k)), conc)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    r = run_plot(str(path), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")

    def table(heading):
        part = text[text.index(heading):]
        rows = [line for line in part[:part.index("\n\n", part.index("| model"))].splitlines() if line.startswith("|")]
        return {row.split(" | ")[0].strip("| "): row.split(" | ")[1:] for row in rows}
    rate0 = table("### L = 0 ms, N = 40, 1 KiB responses, keep-alive: requests per second")
    assert rate0["pool"][-1].endswith("(10 in flight) |"), rate0["pool"]
    wall = table("### L = 100 ms, N = 40, 1 KiB responses, keep-alive: median wall time (efficiency)")
    assert wall["pool"][-1].endswith("; 12 in flight) |"), wall["pool"]
    # only those two cells: a model that held its C is not marked
    assert sum(cell.count("in flight") for rows in (rate0, wall) for cells in rows.values() for cell in cells) == 2


@pytest.mark.parametrize("spread", [1.0, 1.5])
def test_the_sum_tables_say_when_seq_itself_spread_widely(tmp_path, spread):
    # seq's 3 runs spread 1.89 - 2.69 ms in the run of 6785127: against its median, one-worker
    # models read efficiencies of 1.13-1.30 under a text that calls min(W, 2)/W the best possible.
    with open(data("small_run.json"), encoding="utf-8") as f:
        run = json.load(f)
    name = "sum/seq/range/workers:1/n:100000000/real_time"
    reps = [b for b in run["benchmarks"] if b["name"] == name and b.get("run_type") == "iteration"]
    assert len(reps) == 3
    for b, factor in zip(reps, [1.0, 1.0, spread]):
        b["real_time"] = reps[0]["real_time"] * factor if b is not reps[0] else b["real_time"]
    (tmp_path / "run.json").write_text(json.dumps(run))
    page = plot_page_of(tmp_path / "out", str(tmp_path / "run.json"))
    range_part = page[page.index("### kernel `range`"):page.index("### kernel `array`")]
    said = "`seq`'s own runs here spread"
    if spread == 1.0:
        assert said not in page
    else:
        t = reps[0]["real_time"] * UNIT[reps[0]["time_unit"]]
        assert "%s %s – %s (+50%%)" % (said, fmt.fmt_time(t), fmt.fmt_time(1.5 * t)) in range_part, range_part


def test_a_fetch_efficiency_below_1_never_reads_1():
    # 0.9951 read "1.00" in the seed rows while the targets said the highest was 0.995.
    assert [fmt.fmt_fetch_eff(e) for e in (0.9951, 0.9999, 0.994, 1.0, 0.91)] == ["0.995", "0.999", "0.99", "1.00",
                                                                                 "0.91"]


def test_the_clients_cpu_time_per_request_is_taken_run_by_run(tmp_path):
    # cpu_util over requests per second, each repetition's, then the median: a median of each
    # first would pair one run's CPU with another's rate.
    doc = json.loads(open(data("small_run.json")).read())
    assert "CPU time per request" not in plot_page_of(tmp_path / "none", data("small_run.json"))  # none recorded
    utils = {0: 1.0, 1: 0.5, 2: 2.0}
    per_request = []
    for b in doc["benchmarks"]:
        if b["name"].startswith("fetch/pool/conc:4/n:40/delay_ms:0/") and b.get("run_type") == "iteration":
            b["cpu_util"] = utils[b["repetition_index"]]
            per_request.append(b["cpu_util"] / b["items_per_second"] * 1e6)
    assert len(per_request) == 3
    (tmp_path / "run.json").write_text(json.dumps(doc))
    page = plot_page_of(tmp_path / "out", str(tmp_path / "run.json"))
    part = page[page.index("### L = 0 ms, N = 40, 1 KiB responses, keep-alive: the client's CPU time per request"):]
    rows = {line.split(" | ")[0].strip("| "): line for line in part[:part.index("\n\n", part.index("| model"))]
            .splitlines() if line.startswith("|")}
    assert rows["model \\ C"] == "| model \\ C | 4 |", rows  # only where it was recorded
    assert rows["pool"] == "| pool | %s |" % fmt.fmt_measured(statistics.median(per_request)), rows
    # the ratio of the medians would read otherwise
    medians = statistics.median(utils.values()) / statistics.median(
        b["items_per_second"] for b in doc["benchmarks"]
        if b["name"].startswith("fetch/pool/conc:4/n:40/delay_ms:0/") and b.get("run_type") == "iteration") * 1e6
    assert fmt.fmt_measured(medians) != fmt.fmt_measured(statistics.median(per_request))
    # and the full table has it, in its row
    header = next(line for line in page.splitlines() if line.startswith("| benchmark |") and "CPU µs/request" in line)
    row = next(line for line in page.splitlines() if line.startswith("| `fetch/pool/conc:4/n:40/delay_ms:0/"))
    assert row.split(" | ")[header.split(" | ").index("CPU µs/request")] == fmt.fmt_measured(
        statistics.median(per_request))
    # A record of aggregates only has no runs to pair: no value, rather than a ratio of medians.
    runs = [b for b in doc["benchmarks"] if b["name"].startswith("fetch/pool/conc:4/n:40/delay_ms:0/")]
    doc["benchmarks"] = [b for b in doc["benchmarks"] if b not in runs] + [dict(
        runs[0], name=runs[0]["run_name"] + "_median", run_type="aggregate", aggregate_name="median",
        aggregate_unit="time", cpu_util=1.0)]
    (tmp_path / "aggregates.json").write_text(json.dumps(doc))
    assert "CPU time per request" not in plot_page_of(tmp_path / "agg", str(tmp_path / "aggregates.json"))
