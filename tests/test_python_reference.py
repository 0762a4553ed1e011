# SPDX-License-Identifier: MIT
# Tests for scripts/python_reference.py: right answers, the fixture's bodies, Google Benchmark JSON, bad input.
# Run: /usr/bin/python3 -m pytest tests/test_python_reference.py
# The fetch tests need concbench_fixture: $CONCBENCH_FIXTURE, else build/release/fixtures/.
import heapq
import http.client
import http.server
import json
import math
import os
import platform
import queue
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPTS = os.path.join(REPO, "scripts")
SCRIPT = os.path.join(SCRIPTS, "python_reference.py")
sys.path.insert(0, SCRIPTS)

import python_reference as pr  # noqa: E402

FIXTURE = os.environ.get("CONCBENCH_FIXTURE") or os.path.join(REPO, "build", "release", "fixtures",
                                                               "concbench_fixture")
needs_fixture = pytest.mark.skipif(
    not (os.path.isfile(FIXTURE) and os.access(FIXTURE, os.X_OK)),
    reason="concbench_fixture is not built at %s (cmake --build build/release --target "
           "concbench_fixture, or set CONCBENCH_FIXTURE)" % FIXTURE)

SEED_DELAYS = [80, 120, 160, 246] * 10  # the profile as the test reads the seed: [a, b, c, d] * 10
ITERATION_KEYS = ["name", "family_index", "per_family_instance_index", "run_name", "run_type",
                  "repetitions", "repetition_index", "threads", "iterations", "real_time", "cpu_time",
                  "time_unit"]
AGGREGATE_KEYS = ["name", "family_index", "per_family_instance_index", "run_name", "run_type",
                  "repetitions", "threads", "aggregate_name", "aggregate_unit", "iterations",
                  "real_time", "cpu_time", "time_unit"]


def gauss(n):
    return n * (n - 1) // 2


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, SCRIPT] + list(args), capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def run_main(args):
    """main() in this process (so monkeypatches reach it and forked workers); its exit status."""
    try:
        return pr.main(args)
    except SystemExit as e:  # argparse
        return e.code


def error_lines(stderr):
    return [l for l in stderr.splitlines() if l.strip()]


def assert_nothing_written(directory):
    left = os.listdir(directory)
    assert left == [], "files left behind: %s" % left


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


def http_get(base, target, timeout=10):
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("GET", target)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def stats(base):
    status, _, body = http_get(base, "/stats")
    assert status == 200
    return json.loads(body)


@pytest.fixture(scope="session")
def fixture_url():
    if not (os.path.isfile(FIXTURE) and os.access(FIXTURE, os.X_OK)):
        pytest.skip("concbench_fixture is not built at %s" % FIXTURE)
    server = pr.FixtureProcess(FIXTURE)
    url = server.start()
    yield url
    server.stop()


class CorruptingProxy:
    """An HTTP/1.1 proxy in front of the fixture that changes the responses `mutate` picks:
    mutate(id, status, body) -> (status, body)."""

    def __init__(self, upstream, mutate):
        u = urllib.parse.urlsplit(upstream)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                try:
                    conn.request("GET", self.path)
                    r = conn.getresponse()
                    status, body, fid = r.status, r.read(), r.getheader("X-Fixture-Id")
                finally:
                    conn.close()
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                rid = int(q["id"][0]) if "id" in q else -1
                status, body = proxy.mutate(rid, status, body)
                self.send_response(status)
                if fid is not None:
                    self.send_header("X-Fixture-Id", fid)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128  # not socketserver's 5: 40 concurrent connects must not wait for SYN retries

        self.mutate = mutate
        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def flip_byte(at):
    def mutate(body):
        return body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1:]
    return mutate


# ---- sum -------------------------------------------------------------------------------------

def test_exact_sum_is_gauss_and_matches_a_plain_sum():
    for n in (0, 1, 2, 3, 10, 1001, 65536):
        assert pr.exact_sum(n) == sum(range(n)) == gauss(n)
    assert pr.exact_sum(100_000_000) == 4999999950000000  # the seed's printed answer


@pytest.mark.parametrize("n,workers", [(0, 1), (1, 3), (5, 8), (1000, 3), (1001, 4)])
def test_chunks_partition_the_range(n, workers):
    parts = pr.chunks(n, workers)
    assert len(parts) == workers
    assert parts[0][0] == 0 and parts[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
    sizes = [e - s for s, e in parts]
    assert min(sizes) >= 0 and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("model", ["seq", "threads", "processes", "process_pool"])
@pytest.mark.parametrize("n,workers", [(0, 2), (1, 3), (7, 2), (100_003, 3)])
def test_sum_models_return_the_exact_sum(model, n, workers):
    if model == "process_pool":
        pool = pr.SumProcessPool(workers)
        try:
            got = pool.sum(n)
        finally:
            pool.close()
    else:
        got = pr.SUM_MODELS[model](n, workers)
    assert got == gauss(n)


@pytest.mark.parametrize("model,workers", [("seq", 1), ("threads", 2), ("processes", 2), ("process_pool", 2)])
def test_measure_sum_counters(model, workers):
    n = 300_000
    m = pr.measure_sum(model, n, workers)
    assert m.real_s > 0 and m.cpu_s >= 0
    assert m.counters["workers"] == workers
    assert m.counters["items_per_second"] == pytest.approx(n / m.real_s, rel=1e-9)
    # The workers' loops ran somewhere: in this process or in children that reported their CPU.
    assert m.counters["cpu_util"] > 0


def test_process_pool_counts_its_live_workers_cpu():
    # getrusage cannot see workers that are still alive; their own reports must be counted.
    pool = pr.SumProcessPool(2)
    try:
        assert pool.live_cpu_seconds() == 0
        assert pool.sum(400_000) == gauss(400_000)
        assert pool.live_cpu_seconds() > 0
    finally:
        pool.close()


@pytest.mark.parametrize("model", ["seq", "threads", "processes", "process_pool"])
def test_a_wrong_sum_fails_the_run_and_writes_nothing(model, monkeypatch, tmp_path, capsys):
    real = pr.do_work
    # Off by one in the first slice only. Forked workers inherit the patch, so this reaches
    # the processes and the pool too.
    monkeypatch.setattr(pr, "do_work", lambda s, e: real(s, e) + (1 if s == 0 else 0))
    out = tmp_path / "out"
    out.mkdir()
    rc = run_main(["--quick", "--n", "1000", "--workers", "2", "--filter", "^python/sum/%s/" % model,
                   "--out", str(out / "run.json")])
    err = error_lines(capsys.readouterr().err)
    assert rc == 1
    assert "wrong sum: got %d, expected %d" % (gauss(1000) + 1, gauss(1000)) in err[-1]
    assert "python/sum/%s/" % model in err[-1]
    assert_nothing_written(out)


# ---- the fixture's bodies and the profile ----------------------------------------------------

def _id_near_period_end(margin):
    """An id whose body starts within `margin` bytes of the pattern's end, so its body wraps."""
    for i in range(1, 10_000_000):
        if pr.body_start(i) > pr.PATTERN_PERIOD - margin:
            return i
    raise AssertionError("no id found")


def test_python_generator_matches_the_bytes_the_fixture_serves(fixture_url):
    wrap_id = _id_near_period_end(2000)
    cases = [(0, 0), (0, 1), (3, 40), (7, 8), (7, 9), (11, 1024), (12345, 4099), ((1 << 26) - 1, 100),
             (1 << 26, 100), ((1 << 40) + 5, 777), ((1 << 64) - 1, 64), (wrap_id, 4096), (99, 200_000)]
    for rid, n in cases:
        status, _, body = http_get(fixture_url, "/data?bytes=%d&delay_ms=0&status=200&id=%d" % (n, rid))
        assert status == 200, (rid, n)
        assert len(body) == n, (rid, n)
        want = pr.expected_body(rid, n)
        assert body == want, "id %d: first difference at byte %d of %d" % (rid, pr.first_mismatch(body, want), n)
    # Distinct ids have distinct bodies (a swapped body would be caught).
    assert pr.expected_body(1, 64) != pr.expected_body(2, 64)
    assert pr.expected_body(5, 100, offset=10) == pr.expected_body(5, 110)[10:]


def _cpp_constant(path, pattern):
    with open(os.path.join(REPO, path)) as f:
        m = re.search(pattern, f.read())
    assert m, "%s no longer defines %r: update this test and python_reference.py's profile" % (path, pattern)
    return m.group(1)


def test_the_profile_matches_the_cpp_side():
    delays = _cpp_constant("benchmarks/fetch/workload.h", r"kSeedSiteDelaysMs\s*=\s*\{([^}]*)\}")
    assert tuple(int(x) for x in delays.split(",")) == pr.SEED_SITE_DELAYS_MS
    per_site = _cpp_constant("benchmarks/fetch/workload.h", r"kSeedRequestsPerSite\s*=\s*(\d+)")
    assert int(per_site) == pr.SEED_REQUESTS_PER_SITE
    # The C++ profile's body size: fixture::kDefaultBytes or a literal.
    source = _cpp_constant("benchmarks/fetch/benchmarks.cpp", r"profile_bytes\s*=\s*([^;]+);")
    if "kDefaultBytes" in source:
        source = _cpp_constant("fixtures/protocol.h", r"kDefaultBytes\s*=\s*(\d+)")
    assert re.fullmatch(r"\s*\d+\s*", source), "cannot tell the C++ profile's body size from %r" % source
    assert int(source) == pr.SEED_BODY_BYTES
    assert pr.seed_profile_delays() == SEED_DELAYS


def _greedy_makespan(delays, slots):
    free = [0] * slots
    end = 0
    for d in delays:
        t = heapq.heappop(free) + d
        heapq.heappush(free, t)
        end = max(end, t)
    return end / 1000


@pytest.mark.parametrize("slots", [1, 2, 3, 4, 7, 40, 100])
def test_dispatch_makespan(slots):
    assert pr.dispatch_makespan(SEED_DELAYS, slots) == pytest.approx(_greedy_makespan(SEED_DELAYS, slots))


def test_the_profile_reproduces_the_seeds_sequential_time():
    assert pr.dispatch_makespan(SEED_DELAYS, 1) == pytest.approx(6.06)  # the seed's io/0basic.py
    assert pr.dispatch_makespan(SEED_DELAYS, 40) == pytest.approx(0.246)  # the slowest site
    assert pr.dispatch_makespan([100] * 8, 4) == pytest.approx(0.2)


def test_check_response():
    f = pr.FixtureURL("http://127.0.0.1:1")
    req = f.request(0, 42, 0, 100)
    good = pr.expected_body(42, 100)
    assert pr.check_response(req, 200, "42", good) == (None, "")
    assert pr.check_response(req, 200, None, good) == (None, "")
    assert pr.check_response(req, 500, "42", good)[0] == "status"
    assert pr.check_response(req, 200, "41", good)[0] == "id"
    assert pr.check_response(req, 200, "42", good[:-1])[0] == "size"
    assert pr.check_response(req, 200, "42", good + b"x")[0] == "size"
    kind, detail = pr.check_response(req, 200, "42", flip_byte(37)(good))
    assert kind == "content" and "byte 37 of 100" in detail
    assert pr.check_response(req, 200, "43", pr.expected_body(43, 100))[0] == "id"
    assert pr.check_response(req, 200, None, pr.expected_body(43, 100))[0] == "content"


@pytest.mark.parametrize("url", ["https://127.0.0.1:5", "127.0.0.1:5", "http://127.0.0.1:99999",
                                 "http://127.0.0.1:5/?x=1", "ftp://h/"])
def test_bad_fixture_urls_are_rejected(url):
    with pytest.raises(pr.UsageError):
        pr.FixtureURL(url)


# ---- fetch models ----------------------------------------------------------------------------

@needs_fixture
@pytest.mark.parametrize("keepalive", [True, False])
@pytest.mark.parametrize("model,conc", [("seq", 1), ("pool", 3), ("asyncio", 3)])
def test_fetch_models_fetch_every_body(fixture_url, model, conc, keepalive):
    fixture = pr.FixtureURL(fixture_url)
    delays = [0, 5, 0, 10] * 3
    requests = pr.build_requests(fixture, delays, 3001)
    before = stats(fixture_url)
    client = pr.FETCH_MODELS[model](fixture, conc, keepalive, pr.request_timeout(requests))
    try:
        outcomes = client.run(requests)
    finally:
        client.close()
    after = stats(fixture_url)
    assert len(outcomes) == len(requests)
    assert [o.kind for o in outcomes] == [None] * len(requests), pr.describe_failures(requests, outcomes)
    assert all(o.nbytes == 3001 and o.status == 200 for o in outcomes)
    # The requests really reached the fixture (plus the /stats call before them).
    assert after["responses"] - before["responses"] >= len(requests)
    accepted = after["accepted"] - before["accepted"] - 1  # minus the second /stats connection
    if keepalive:  # what keepalive:1 in the names promises: connections reused
        assert accepted <= conc
    else:  # a connection per request, as the seed's urlopen
        assert accepted >= len(requests)


@needs_fixture
@pytest.mark.parametrize("model", ["seq", "pool", "asyncio"])
def test_fetch_models_report_a_corrupted_body(fixture_url, model):
    def mutate(rid, status, body):
        return (status, flip_byte(3)(body)) if rid == 2 else (status, body)
    with CorruptingProxy(fixture_url, mutate) as proxy:
        fixture = pr.FixtureURL(proxy.url)
        requests = pr.build_requests(fixture, [0] * 6, 64)
        client = pr.FETCH_MODELS[model](fixture, 2, True, 10)
        try:
            outcomes = client.run(requests)
        finally:
            client.close()
    assert [o.kind for o in outcomes] == [None, None, "content", None, None, None]
    assert ("1 of 6 requests failed: 1 content (first: request 2: byte 3 of 64"
            in pr.describe_failures(requests, outcomes))


# ---- the command line: a real run, its JSON, its plots ---------------------------------------

QUICK_N = 200_000


@pytest.fixture(scope="session")
def quick_run(fixture_url, tmp_path_factory):
    """One CLI run against an already running fixture (how ./bench --python calls it), three
    repetitions for the aggregates; the 6 s sequential fetch is left to the model tests."""
    out = tmp_path_factory.mktemp("run")
    path = out / "python.json"
    r = run_cli("--quick", "--repetitions", "3", "--n", str(QUICK_N), "--workers", "1,2",
                "--filter", "^python/(sum|fetch/(pool|asyncio))/", "--fixture-url", fixture_url,
                "--out", str(path))
    return r, path


def test_run_succeeds_with_progress_and_writes_only_its_file(quick_run):
    r, path = quick_run
    assert r.returncode == 0, r.stderr
    assert os.listdir(path.parent) == [path.name]  # no temporary file left beside it
    assert re.search(r"\[1/7\] python/sum/seq/", r.stderr)
    assert re.search(r"\[7/7\]   repetition 3/3: ", r.stderr)
    assert "python/fetch/asyncio/conc:40" in r.stdout  # the summary table


def load(path):
    with open(path) as f:
        return json.load(f)  # Google Benchmark writes NaN for 0/0 statistics, as json reads it


def test_run_json_is_google_benchmark_json(quick_run):
    r, path = quick_run
    assert r.returncode == 0, r.stderr
    doc = load(path)
    assert list(doc) == ["context", "benchmarks"]
    ctx = doc["context"]
    for key, kind in [("date", str), ("host_name", str), ("executable", str), ("num_cpus", int),
                      ("mhz_per_cpu", int), ("caches", list), ("library_build_type", str),
                      ("concbench_commit", str), ("concbench_dirty", str), ("python_version", str),
                      ("hardware_threads", str), ("cpu_model", str)]:
        assert isinstance(ctx.get(key), kind), key
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", ctx["date"])
    assert ctx["num_cpus"] == os.cpu_count() and int(ctx["hardware_threads"]) == os.cpu_count()
    assert ctx["python_version"] == platform.python_version()
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", ctx["concbench_commit"])
    assert ctx["concbench_dirty"] in ("true", "false", "unknown")
    assert ctx["library_build_type"] in ("release", "debug")
    for c in ctx["caches"]:
        assert set(c) == {"type", "level", "size", "num_sharing"}

    n = QUICK_N
    fetch_tail = "n:40/profile:seed/bytes:1024/keepalive:1/real_time"
    expected = ["python/sum/seq/workers:1/n:%d/real_time" % n,
                "python/sum/threads/workers:2/n:%d/real_time" % n,
                "python/sum/processes/workers:2/n:%d/real_time" % n,
                "python/sum/process_pool/workers:1/n:%d/real_time" % n,
                "python/sum/process_pool/workers:2/n:%d/real_time" % n,
                "python/fetch/pool/conc:4/" + fetch_tail,
                "python/fetch/asyncio/conc:40/" + fetch_tail]
    rows = doc["benchmarks"]
    iterations = [b for b in rows if b["run_type"] == "iteration"]
    aggregates = [b for b in rows if b["run_type"] == "aggregate"]
    assert len(iterations) + len(aggregates) == len(rows)
    assert list(dict.fromkeys(b["run_name"] for b in rows)) == expected
    for family_index, run_name in enumerate(expected):
        reps = [b for b in iterations if b["run_name"] == run_name]
        aggs = [b for b in aggregates if b["run_name"] == run_name]
        assert [b["repetition_index"] for b in reps] == [0, 1, 2]
        # Google Benchmark's order: the repetitions, then mean, median, stddev, cv.
        assert [b["name"] for b in rows if b["run_name"] == run_name] == \
            [run_name] * 3 + [run_name + "_" + s for s in ("mean", "median", "stddev", "cv")]
        for b in reps:
            assert list(b)[:len(ITERATION_KEYS)] == ITERATION_KEYS
            counters = list(b)[len(ITERATION_KEYS):]
            assert counters == sorted(counters)
            assert (b["family_index"], b["per_family_instance_index"], b["repetitions"], b["threads"],
                    b["iterations"], b["time_unit"]) == (family_index, 0, 3, 1, 1, "ms")
            assert b["real_time"] > 0 and b["cpu_time"] >= 0
        for a, stat in zip(aggs, ("mean", "median", "stddev", "cv")):
            assert list(a)[:len(AGGREGATE_KEYS)] == AGGREGATE_KEYS
            assert a["aggregate_name"] == stat and a["iterations"] == 3 and a["repetitions"] == 3
            assert a["aggregate_unit"] == ("percentage" if stat == "cv" else "time")
            for key in ["real_time", "cpu_time"] + list(reps[0])[len(ITERATION_KEYS):]:
                values = [b[key] for b in reps]
                mean, sd = statistics.mean(values), statistics.stdev(values)
                want = {"mean": mean, "median": statistics.median(values), "stddev": sd,
                        "cv": sd / mean if mean else math.nan}[stat]
                if math.isnan(want):
                    assert math.isnan(a[key]), (run_name, stat, key)
                else:
                    assert a[key] == pytest.approx(want, rel=1e-9, abs=1e-12), (run_name, stat, key)


def test_run_counters(quick_run):
    r, path = quick_run
    assert r.returncode == 0, r.stderr
    for b in load(path)["benchmarks"]:
        if b["run_type"] != "iteration":
            continue
        seconds = b["real_time"] / 1e3
        if "/sum/" in b["name"]:
            assert set(b) - set(ITERATION_KEYS) == {"items_per_second", "workers", "cpu_util"}
            assert b["workers"] == int(re.search(r"workers:(\d+)", b["name"]).group(1))
            assert b["items_per_second"] * seconds == pytest.approx(QUICK_N, rel=1e-9)
            assert b["cpu_util"] > 0
        else:
            conc = int(re.search(r"conc:(\d+)", b["name"]).group(1))
            assert {"items_per_second", "bytes_per_second", "ideal_s", "efficiency", "p50_ms", "p99_ms",
                    "max_ms", "errors"} <= set(b)
            assert b["errors"] == 0
            assert b["items_per_second"] * seconds == pytest.approx(40, rel=1e-9)
            assert b["bytes_per_second"] * seconds == pytest.approx(40 * 1024, rel=1e-9)
            assert b["ideal_s"] == pytest.approx(_greedy_makespan(SEED_DELAYS, conc))
            assert b["efficiency"] == pytest.approx(b["ideal_s"] / seconds, rel=1e-9)
            # Physical lower bounds the fixture enforces (no upper bounds: the machine is shared).
            assert seconds >= 0.246
            assert b["p50_ms"] >= 120 and b["p99_ms"] >= 246 and b["max_ms"] >= 246
            assert b["p50_ms"] <= b["p99_ms"] <= b["max_ms"]


def test_run_loads_as_a_concbench_run(quick_run):
    import bench_names
    r, path = quick_run
    assert r.returncode == 0, r.stderr
    run = bench_names.load_run(str(path))
    assert run.n_errored == 0 and not run.skipped
    assert set(run.df["lang"]) == {"python"}
    assert len(run.df) == 7 * 3
    for name in set(run.df["name"]):
        assert bench_names.concbench_problem(bench_names.parse_name(name)) is None, name


def test_run_renders_in_the_plots(quick_run, tmp_path):
    r, path = quick_run
    assert r.returncode == 0, r.stderr
    plot = subprocess.run([sys.executable, os.path.join(SCRIPTS, "plot.py"), str(path), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert plot.returncode == 0, plot.stderr
    with open(tmp_path / "README.md") as f:
        page = f.read()
    assert "python/fetch/asyncio/conc:40" in page
    pngs = [p for p in os.listdir(tmp_path / "plots") if p.endswith(".png")]
    assert pngs and all(os.path.getsize(tmp_path / "plots" / p) > 1000 for p in pngs)


@needs_fixture
def test_run_with_fixture_binary_starts_and_stops_it(tmp_path):
    path = tmp_path / "run.json"
    r = run_cli("--quick", "--filter", "fetch/asyncio", "--fixture-binary", FIXTURE, "--out", str(path))
    assert r.returncode == 0, r.stderr
    port = int(re.search(r"fixture http://127\.0\.0\.1:(\d+)", r.stderr).group(1))
    assert refused(port)  # stopped at the end
    doc = load(path)
    assert [b["name"] for b in doc["benchmarks"]] == [
        "python/fetch/asyncio/conc:40/n:40/profile:seed/bytes:1024/keepalive:1/real_time"]
    assert FIXTURE in doc["context"]["fixture"]


# ---- bad input -------------------------------------------------------------------------------

def test_missing_fixture_binary(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    r = run_cli("--quick", "--filter", "fetch/asyncio", "--fixture-binary", str(tmp_path / "no_such_fixture"),
                "--out", str(out / "run.json"))
    assert r.returncode == 2
    assert error_lines(r.stderr) == [l for l in error_lines(r.stderr) if "no_such_fixture does not exist" in l]
    assert len(error_lines(r.stderr)) == 1
    assert_nothing_written(out)


def test_missing_aiohttp_says_which_package(tmp_path):
    # -S leaves out site-packages, where Debian's aiohttp lives; the guard stops a re-exec.
    if subprocess.run([sys.executable, "-S", "-c", "import aiohttp"], capture_output=True).returncode == 0:
        pytest.skip("aiohttp imports without site-packages here; cannot hide it")
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run([sys.executable, "-S", SCRIPT, "--quick", "--filter", "fetch/asyncio", "--fixture-url",
                        "http://127.0.0.1:1", "--out", str(out / "run.json")], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, CONCBENCH_PYENV_REEXEC="1"))
    assert r.returncode == 2
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and "apt-get install python3-aiohttp" in lines[0]
    assert_nothing_written(out)


def test_unreachable_fixture_url(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    port = free_port()
    r = run_cli("--quick", "--filter", "fetch/pool", "--fixture-url", "http://127.0.0.1:%d" % port,
                "--out", str(out / "run.json"))
    assert r.returncode == 2
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and "cannot reach the fixture at http://127.0.0.1:%d" % port in lines[0]
    assert_nothing_written(out)


@needs_fixture
def test_a_server_that_is_not_the_fixture_is_rejected_up_front(fixture_url, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with CorruptingProxy(fixture_url, lambda rid, status, body: (status, flip_byte(0)(body))) as proxy:
        r = run_cli("--quick", "--filter", "fetch/asyncio", "--fixture-url", proxy.url,
                    "--out", str(out / "run.json"))
    assert r.returncode == 2
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and "does not serve concbench fixture bodies" in lines[0]
    assert_nothing_written(out)


@needs_fixture
@pytest.mark.parametrize("kind,mutate", [
    ("content", lambda status, body: (status, flip_byte(700)(body))),
    ("size", lambda status, body: (status, body[:-1])),
    ("status", lambda status, body: (503, body)),
])
def test_a_wrong_answer_fails_the_run_and_writes_nothing(fixture_url, tmp_path, kind, mutate):
    out = tmp_path / "out"
    out.mkdir()
    # Only request 5 of the run is wrong: the preflight passes, the benchmark must catch it.
    with CorruptingProxy(fixture_url, lambda rid, s, b: mutate(s, b) if rid == 5 else (s, b)) as proxy:
        r = run_cli("--quick", "--filter", "fetch/asyncio", "--fixture-url", proxy.url,
                    "--out", str(out / "run.json"))
    assert r.returncode == 1
    last = error_lines(r.stderr)[-1]
    assert "python/fetch/asyncio/" in last and "1 of 40 requests failed: 1 %s (first: request 5" % kind in last
    assert last.endswith("nothing recorded")
    assert_nothing_written(out)


@pytest.mark.parametrize("args,message", [
    (["--workers", "0"], "worker counts must be in 1..1024"),
    (["--workers", "1,x"], "not a comma-separated list"),
    (["--repetitions", "0"], "not a whole number in 1..1000"),
    (["--n", "lots"], "is not a size"),
    (["--keepalive", "2"], "invalid choice"),
    (["--filter", "^no/such/benchmark"], "no benchmark matches"),
    (["--filter", "("], "not a regular expression"),
    (["--filter", "fetch", "--fixture-url", "https://127.0.0.1:1"], "--fixture-url must look like"),
    (["--fixture-url", "http://a:1", "--fixture-binary", "x"], "not allowed with"),
])
def test_bad_arguments(args, message, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    rc = run_main(args + ["--out", str(out / "run.json")])
    err = error_lines(capsys.readouterr().err)
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("python_reference: ") and message in err[0]
    assert_nothing_written(out)


def test_missing_out_and_bad_out_directory(tmp_path, capsys):
    assert run_main(["--quick"]) == 2
    assert "--out FILE is required" in capsys.readouterr().err
    assert run_main(["--quick", "--filter", "sum/seq", "--out", str(tmp_path / "no" / "run.json")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "[1/" not in err  # refused before running anything
    assert run_main(["--quick", "--filter", "sum/seq", "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        pr.write_atomically(str(tmp_path / "run.json"), "{}\n")
    assert_nothing_written(tmp_path)


def test_list(capsys):
    assert run_main(["--list", "--n", "1000", "--workers", "3"]) == 0
    names = capsys.readouterr().out.split()
    assert names == ["python/sum/seq/workers:1/n:1000/real_time", "python/sum/threads/workers:2/n:1000/real_time",
                     "python/sum/processes/workers:2/n:1000/real_time",
                     "python/sum/process_pool/workers:3/n:1000/real_time"] + [
        "python/fetch/%s/n:40/profile:seed/bytes:1024/keepalive:1/real_time" % m
        for m in ("seq/conc:1", "pool/conc:4", "asyncio/conc:40")]


# ---- dying cleanly ---------------------------------------------------------------------------

def _start_slow_run(out):
    """A run whose one benchmark (the 6 s sequential fetch) is surely in progress when killed."""
    p = subprocess.Popen([sys.executable, SCRIPT, "--quick", "--filter", "fetch/seq", "--fixture-binary", FIXTURE,
                          "--out", str(out / "run.json")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, cwd=REPO)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in p.stderr], daemon=True).start()
    port = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = lines.get(timeout=deadline - time.monotonic())
        m = re.search(r"fixture http://127\.0\.0\.1:(\d+)", line)
        port = int(m.group(1)) if m else port
        if "[1/1] python/fetch/seq/" in line:
            break
    assert port is not None and not refused(port)
    time.sleep(0.5)
    return p, port, lines


@needs_fixture
def test_sigterm_stops_the_fixture_and_records_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    p, port, lines = _start_slow_run(out)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 143
    time.sleep(0.2)  # the reader thread drains the pipe
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert any("terminated; nothing recorded" in l for l in rest)
    assert refused(port)
    assert_nothing_written(out)


def _processes_mentioning(text):
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except (OSError, ValueError):
            pass
    return found


@pytest.mark.parametrize("model", ["processes", "process_pool"])
def test_sigterm_mid_sum_stops_the_workers_quietly(model, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target = str(out / ("run-%s.json" % model))  # unique: it identifies our workers in /proc
    # n = 1e9: each worker's loop would run for 10 s or more, so the signal surely lands inside
    # it, and a run that waited for the loops instead of stopping them is told apart by far.
    p = subprocess.Popen([sys.executable, SCRIPT, "--quick", "--n", "1000000000", "--workers", "2",
                          "--filter", "^python/sum/%s/" % model, "--out", target],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.monotonic() + 30
    while len(_processes_mentioning(target)) < 3 and time.monotonic() < deadline:  # us + 2 workers
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    _, stderr = p.communicate(timeout=60)
    assert p.returncode == 143
    assert time.monotonic() - signalled < 5, "the run waited for its workers instead of stopping them"
    assert error_lines(stderr)[-1] == "python_reference: terminated; nothing recorded"
    assert "Traceback" not in stderr  # workers end on SIGTERM; they do not raise the parent's exception
    deadline = time.monotonic() + 5
    while _processes_mentioning(target) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_mentioning(target) == []
    assert_nothing_written(out)


@needs_fixture
def test_the_fixture_dies_with_a_killed_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    p, port, _ = _start_slow_run(out)
    p.kill()  # SIGKILL: no handler runs; the kernel's parent-death signal must stop the fixture
    p.wait(timeout=10)
    deadline = time.monotonic() + 10
    while not refused(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert refused(port)
    assert_nothing_written(out)
