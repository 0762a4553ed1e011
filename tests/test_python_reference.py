# SPDX-License-Identifier: MIT
# Tests for scripts/python_reference.py: right answers, the fixture's bodies, the record, bad input, interrupts.
# Run: /usr/bin/python3 -m pytest tests/test_python_reference.py
# The fetch tests need concbench_fixture: $CONCBENCH_FIXTURE, else build/release/fixtures/.
import http.client
import http.server
import json
import os
import re
import signal
import socket
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
SEED_DELAYS = [80, 120, 160, 246] * 10  # the profile as the test reads the seed: [a, b, c, d] * 10
QUICK_N = pr.QUICK_SUM_N
ROW_KEYS = ["name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
            "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit"]


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, SCRIPT] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def fixture_url():
    if not os.access(FIXTURE, os.X_OK):
        pytest.skip("concbench_fixture is not built at %s" % FIXTURE)
    server = subprocess.Popen([FIXTURE, "--parent-pid=%d" % os.getpid()], stdout=subprocess.PIPE, text=True)
    port = int(re.fullmatch(r"PORT (\d+)\n", server.stdout.readline()).group(1))
    yield "http://127.0.0.1:%d" % port
    server.terminate()
    server.wait()


class CorruptingProxy:
    """An HTTP/1.1 proxy in front of the fixture that changes the responses `mutate` picks:
    mutate(id, status, body) -> (status, body)."""

    def __init__(self, upstream, mutate):
        u = urllib.parse.urlsplit(upstream)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                try:
                    conn.request("GET", self.path)
                    r = conn.getresponse()
                    status, body = r.status, r.read()
                finally:
                    conn.close()
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                status, body = mutate(int(q["id"][0]) if "id" in q else -1, status, body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128  # 40 concurrent connects must not wait for SYN retries

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# ---- sum ---------------------------------------------------------------------------------------

def test_exact_sum_and_chunks():
    for n in (0, 1, 2, 3, 10, 1001, 65536):
        assert pr.exact_sum(n) == sum(range(n))
    for n, workers in ((0, 1), (1, 3), (5, 8), (1000, 3), (1001, 4)):
        parts = pr.chunks(n, workers)
        assert len(parts) == workers and parts[0][0] == 0 and parts[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
        assert max(e - s for s, e in parts) - min(e - s for s, e in parts) <= 1


@pytest.mark.parametrize("model", ["seq", "threads", "processes"])
@pytest.mark.parametrize("n,workers", [(0, 2), (1, 3), (7, 2), (100_003, 3)])
def test_sum_models_return_the_exact_sum(model, n, workers):
    assert pr.SUM_MODELS[model](n, workers) == sum(range(n))


@pytest.mark.parametrize("model,workers", [("seq", 1), ("threads", 2), ("processes", 2)])
def test_measure_sum_counters(model, workers):
    start = time.perf_counter()
    wall, cpu, counters = pr.measure_sum(model, 200_000, workers)
    outer = time.perf_counter() - start  # timed here, apart from what the counters are made of
    assert 0 < wall <= outer and cpu >= 0
    assert counters["workers"] == workers and counters["cpu_util"] > 0
    assert counters["items_per_second"] == pytest.approx(200_000 / wall)  # from the wall time it reports
    assert counters["items_per_second"] >= 200_000 / outer
    if model != "processes":  # CPU time is the process's, all its threads', as in C++ (it was the caller's)
        assert cpu >= 0.5 * counters["cpu_util"] * wall, (cpu, counters["cpu_util"] * wall)


@pytest.mark.parametrize("model", ["seq", "threads", "processes"])
def test_a_wrong_sum_fails_the_run_and_writes_nothing(model, monkeypatch, tmp_path, capsys):
    right = pr.SUM_MODELS[model]
    monkeypatch.setitem(pr.SUM_MODELS, model, lambda n, w: right(n, w) + 1)
    out = tmp_path / "run.json"
    assert pr.main(["--quick", "--n", "1000", "--filter", "/sum/%s/" % model, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "wrong sum: got 499501, expected 499500; nothing recorded" in err
    assert not out.exists() and os.listdir(tmp_path) == []


# ---- fetch -------------------------------------------------------------------------------------

def test_the_body_generator_matches_the_bytes_the_fixture_serves(fixture_url):
    fixture = pr.Fixture(fixture_url)
    for request_id, n in ((0, 1), (7, 1000), (1 << 40, 4099), (123456789, 70_000)):
        _, target, _, expected = fixture.request(request_id, 0, n)
        u = urllib.parse.urlsplit(fixture_url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        conn.request("GET", target)
        body = conn.getresponse().read()
        conn.close()
        assert body == expected, (request_id, n)


def test_the_profile_matches_the_cpp_side():
    with open(os.path.join(REPO, "benchmarks", "fetch", "workload.h")) as f:
        header = f.read()
    delays = re.search(r"kSeedSiteDelaysMs\s*=\s*\{([^}]*)\}", header).group(1)
    assert tuple(int(x) for x in re.findall(r"\d+", delays)) == pr.SEED_SITE_DELAYS_MS
    assert int(re.search(r"kSeedRequestsPerSite\s*=\s*(\d+)", header).group(1)) == pr.SEED_REQUESTS_PER_SITE
    with open(os.path.join(REPO, "fixtures", "protocol.h")) as f:
        assert int(re.search(r"kDefaultBytes\s*=\s*(\d+)", f.read()).group(1)) == pr.SEED_BODY_BYTES
    assert pr.seed_profile_delays() == SEED_DELAYS
    assert sum(SEED_DELAYS) == 6060  # the seed's 6.06 s, one request after another


@pytest.mark.parametrize("slots,bound", [(1, 6.06), (4, 1.515), (10, 0.606), (40, 0.246), (100, 0.246)])
def test_ideal_makespan_is_a_bound_for_any_order(slots, bound):
    # The seed's 6.06 s on one slot, the sum over C where it binds, the slowest site on 40 or
    # more: as workload.cpp's ideal_makespan says (its test checks it against every schedule).
    assert pr.ideal_makespan(SEED_DELAYS, slots) == pytest.approx(bound)
    assert pr.ideal_makespan([100] * 1000, 300) == pytest.approx(0.4)  # ceil(N/C) x L


def test_latency_percentiles_are_nearest_ranks_as_the_cpp_histogram_takes_them():
    # The C++ side's p50 of 40 latencies is the 20th (Histogram::percentile); a median averaged
    # the 20th and 21st, 40 ms above it at C = 4, and the page set the two side by side.
    latencies = [float(i) for i in range(1, 41)]
    assert (pr.nearest_rank(latencies, 50), pr.nearest_rank(latencies, 99)) == (20.0, 40.0)
    assert pr.nearest_rank(latencies[:1000], 0) == 1.0 and pr.nearest_rank(latencies, 100) == 40.0
    # 99.9 of 1000 is the 999th, not (by a rounding hair) the maximum
    assert pr.nearest_rank([float(i) for i in range(1, 1001)], 99.9) == 999.0


def test_check_response_and_bad_urls():
    assert (pr.Fixture("http://127.0.0.2:8").host, pr.Fixture("http://127.0.0.2:8").base) == ("127.0.0.2", "http://127.0.0.2:8")
    req = pr.Fixture("http://127.0.0.1:5").request(3, 0, 100)
    body = req[3]
    assert pr.check_response(req, 200, body) is None
    assert pr.check_response(req, 500, body) == "status 500"
    assert pr.check_response(req, 200, body[:-1]) == "99 body bytes, expected 100"
    assert pr.check_response(req, 200, body[:40] + b"!" + body[41:]).startswith("byte 40 of 100 differs")
    for url in ("https://127.0.0.1:5", "127.0.0.1:5", "http://127.0.0.1:99999", "http://127.0.0.1", "http://h:1/x",
                "http://example.com:80", "http://127.999.0.1:80", "http://127.0.0.1:0", "", "http://127.0.0.010:80",
                "http://127.0.0.1:080", "http://127.0.0.1:8/", "http://127.0.0.1:\uff18\uff10", "http://localhost:8",
                "http://[::1]:8"):
        with pytest.raises(pr.InputError, match="--fixture-url"):
            pr.Fixture(url)


@pytest.mark.parametrize("keepalive", [True, False])
@pytest.mark.parametrize("model,conc", [("seq", 1), ("pool", 4), ("asyncio", 40)])
def test_fetch_models_fetch_every_body(fixture_url, model, conc, keepalive):
    start = time.perf_counter()
    wall, _, c = pr.measure_fetch(model, pr.Fixture(fixture_url), conc, keepalive)
    outer = time.perf_counter() - start  # timed here, apart from what the counters are made of
    assert 0.246 <= wall <= outer and c["max_ms"] >= 246  # the fixture's delays are lower bounds
    assert c["items_per_second"] == pytest.approx(40 / wall) and c["items_per_second"] >= 40 / outer
    assert c["ideal_s"] == pytest.approx(pr.ideal_makespan(SEED_DELAYS, conc))
    assert c["efficiency"] == pytest.approx(c["ideal_s"] / wall) and c["efficiency"] <= 1  # a lower bound
    # keepalive:1 is true of the timed run: an untimed round opened its connections (they were
    # all opened inside the clock: asyncio's 40 each repetition, as many as keepalive:0's).
    assert c["connections_per_run"] == (0 if keepalive else 40)


def test_the_peak_rss_is_the_runs_own_or_left_out(fixture_url, monkeypatch):
    # As in C++: where the kernel refuses to reset the high-water mark, the process's peak would
    # include what earlier benchmarks left, so the counter is not given (it was, as the process's).
    _, _, c = pr.measure_fetch("asyncio", pr.Fixture(fixture_url), 40, True)
    assert c["peak_rss_mb"] > 0
    real_open = open

    def refusing(path, *args, **kwargs):
        if str(path) == "/proc/self/clear_refs":
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr("builtins.open", refusing)
    _, _, c = pr.measure_fetch("asyncio", pr.Fixture(fixture_url), 40, True)
    assert "peak_rss_mb" not in c and c["p99_ms"] > 0


@pytest.mark.parametrize("model", ["seq", "pool", "asyncio"])
def test_fetch_models_report_a_corrupted_body(fixture_url, model):
    def mutate(rid, status, body):
        return (status, body[:10] + bytes([body[10] ^ 1]) + body[11:]) if rid == 17 else (status, body)
    with CorruptingProxy(fixture_url, mutate) as proxy:
        with pytest.raises(pr.BenchmarkError, match=r"1 of 40 requests failed \(first: request 17: byte 10 of 1024"):
            pr.measure_fetch(model, pr.Fixture(proxy.url), {"seq": 1, "pool": 4, "asyncio": 40}[model], True)


# ---- the run -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def quick_run(fixture_url, tmp_path_factory):
    path = tmp_path_factory.mktemp("quick") / "run.json"
    r = run_cli("--quick", "--repetitions", "2", "--fixture-url", fixture_url, "--out", path, timeout=300)
    return r, path


def test_the_run_records_every_benchmark_in_google_benchmark_shape(quick_run):
    r, path = quick_run
    assert r.returncode == 0, r.stderr
    assert os.listdir(path.parent) == [path.name]  # no temporary file left beside it
    # in rounds: every benchmark's first repetition before any benchmark's second
    done = re.findall(r"\[(\d)/6\] python/\S+: repetition (\d)/2", r.stderr)
    assert done == [(str(f), str(k)) for k in (1, 2) for f in range(1, 7)], done
    doc = json.load(open(path))
    ctx = doc["context"]
    for key in ("date", "host_name", "cpu_model", "hardware_threads", "concbench_commit", "python_version",
                "environment_unstable", "steal_during",  # the same check of the machine as the C++ record
                "fetch_untimed_round"):  # the page says a record without it was timed cold
        assert ctx[key], key
    tail = "n:40/profile:seed/bytes:1024/keepalive:1/real_time"
    names = ["python/sum/seq/workers:1/n:%d/real_time" % QUICK_N, "python/sum/threads/workers:2/n:%d/real_time" % QUICK_N,
             "python/sum/processes/workers:2/n:%d/real_time" % QUICK_N, "python/fetch/seq/conc:1/" + tail,
             "python/fetch/pool/conc:4/" + tail, "python/fetch/asyncio/conc:40/" + tail]
    assert [b["name"] for b in doc["benchmarks"]] == [n for n in names for _ in range(2)]
    for b in doc["benchmarks"]:
        assert list(b)[:len(ROW_KEYS)] == ROW_KEYS and b["run_type"] == "iteration" and b["time_unit"] == "ms"
        if "/sum/" in b["name"]:
            assert b["items_per_second"] * b["real_time"] / 1e3 == pytest.approx(QUICK_N)
        else:
            assert b["p50_ms"] <= b["p99_ms"] <= b["max_ms"] and b["max_ms"] >= 246
            # Latency counts from the batch's start, queue wait included, as in C++: the last
            # request ends with the batch, and seq's median waits for about half the others
            # (each request's own time gave seq a max of 246 ms in a 6 s batch).
            assert 0.8 * b["real_time"] <= b["max_ms"] <= 1.001 * b["real_time"], b
            if "/fetch/seq/" in b["name"]:
                assert b["p50_ms"] > 0.35 * b["real_time"], b


def test_the_run_loads_and_renders_as_a_concbench_run(quick_run, tmp_path):
    import bench_names
    r, path = quick_run
    run = bench_names.load_run(str(path))
    assert run.n_errored == 0 and not run.skipped and set(run.df["lang"]) == {"python"}
    for name in set(run.df["name"]):
        assert bench_names.concbench_problem(bench_names.parse_name(name)) is None, name
    plot = subprocess.run([sys.executable, os.path.join(SCRIPTS, "plot.py"), str(path), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert plot.returncode == 0, plot.stderr
    assert "python/fetch/asyncio/conc:40" in (tmp_path / "README.md").read_text()


# ---- bad input and interrupts ------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["--out", "x.json", "--repetitions", "0"], "--repetitions"),
    (["--out", "x.json", "--n", "lots"], "is not a size"),
    (["--out", "x.json", "--n", "1e99999999999"], "is not a size"),  # not 10**99999999999 computed first
    (["--out", "new/"], "a file's name cannot end in /"),
    (["--out", "/dev/null"], "it exists and is not a regular file"),  # a file renamed onto it would replace it
    (["--out", ""], "an empty path"),
    (["--out", "x.json", "--keepalive", "2"], "--keepalive"),
    (["--out", "x.json", "--filter", "("], "--filter"),
    (["--out", "x.json", "--filter", "^nothing$"], "no benchmark matches"),
    (["--quick"], "--out FILE is required"),
    (["--out", "/no/such/dir/x.json"], "/no/such/dir does not exist"),
    (["--out", "."], "it is a directory"),
    (["--out", "/proc/x.json"], "directory /proc is not writable"),  # root may, by os.access
    (["--out", "x.json", "--filter", "fetch"], "need --fixture-url"),
    (["--out", "x.json", "--fixture-url", "ftp://x"], "--fixture-url must be http://127.x.x.x:PORT"),
])
def test_bad_input_is_one_line(args, message, tmp_path):
    r = subprocess.run([sys.executable, SCRIPT] + args, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert len(error_lines(r.stderr)) == 1 and message in r.stderr, r.stderr
    assert os.listdir(tmp_path) == []


def test_an_unreachable_fixture_or_another_server_is_rejected_up_front(fixture_url, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once it is closed
    r = run_cli("--quick", "--filter", "fetch/seq", "--fixture-url", "http://127.0.0.1:%d" % port,
                "--out", tmp_path / "x.json")
    assert r.returncode == 2 and "cannot reach the fixture" in r.stderr and len(error_lines(r.stderr)) == 1
    with CorruptingProxy(fixture_url, lambda rid, status, body: (status, body[::-1])) as proxy:
        r = run_cli("--quick", "--filter", "fetch/seq", "--fixture-url", proxy.url, "--out", tmp_path / "x.json")
    assert r.returncode == 2 and "does not serve concbench fixture bodies" in r.stderr
    assert os.listdir(tmp_path) == []


def test_list(capsys):
    assert pr.main(["--list", "--n", "1000"]) == 0
    out = capsys.readouterr().out.split()
    assert out[0] == "python/sum/seq/workers:1/n:1000/real_time" and len(out) == 6


def test_missing_aiohttp_says_which_package(tmp_path):
    # -S leaves out site-packages, where Debian's aiohttp lives; the guard stops a re-exec.
    if subprocess.run([sys.executable, "-S", "-c", "import aiohttp"], capture_output=True).returncode == 0:
        pytest.skip("aiohttp imports without site-packages here; cannot hide it")
    r = subprocess.run([sys.executable, "-S", SCRIPT, "--quick", "--out", str(tmp_path / "x.json")],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, CONCBENCH_PYENV_REEXEC="1"))
    assert r.returncode == 2 and "apt-get install python3-aiohttp" in r.stderr and len(error_lines(r.stderr)) == 1


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


@pytest.mark.parametrize("sig,code,word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_mid_sum_stops_the_workers_quietly(sig, code, word, tmp_path):
    target = str(tmp_path / ("run-%d.json" % sig))  # unique: it identifies our workers in /proc
    # n = 1e9: each worker's loop would run for 10 s or more, so the signal lands inside it, and a
    # run that waited for the loops instead of stopping them is told apart by far.
    # SIGINT set back to its default: a test run started in the background inherits it ignored,
    # and Python leaves a signal ignored at its start ignored (no KeyboardInterrupt).
    p = subprocess.Popen([sys.executable, SCRIPT, "--quick", "--n", "1000000000", "--filter", "/sum/processes/",
                          "--out", target], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 30
    while len(_processes_mentioning(target)) < 3 and time.monotonic() < deadline:  # us + 2 workers
        time.sleep(0.05)
    # else the signal is not mid sum, and "no worker is left" below holds for want of any
    assert len(_processes_mentioning(target)) >= 3, "the 2 workers never started"
    time.sleep(0.3)
    p.send_signal(sig)
    signalled = time.monotonic()
    _, stderr = p.communicate(timeout=60)
    assert p.returncode == code
    assert time.monotonic() - signalled < 5, "the run waited for its workers instead of stopping them"
    assert error_lines(stderr)[-1] == "python_reference: %s; nothing recorded" % word
    assert "Traceback" not in stderr
    deadline = time.monotonic() + 5
    while _processes_mentioning(target) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_mentioning(target) == [] and os.listdir(tmp_path) == []
