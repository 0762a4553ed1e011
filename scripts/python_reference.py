#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Runs the seed blog's Python experiments (sum, fetch) on this machine and writes Google Benchmark JSON.
"""The seed's Python programs, measured beside the C++ models.

sum of 0..n   seq (one loop), threads (2, the GIL), processes (2, multiprocessing), and a
              ProcessPoolExecutor over the C++ sweep's worker counts;
40 fetches    seq (one client), pool (ThreadPoolExecutor, 4 workers), asyncio (aiohttp),
              against concbench's fixture server with the seed's site profile.

Every answer is checked (the exact sum; every body's status, length and bytes). The record is
Google Benchmark 1.7.1 JSON, so plot.py and the comparison tools read it like a C++ run.

Exit status: 0 recorded, 1 a benchmark failed (wrong answer, failed request), 2 bad input
(arguments, missing module, missing or unreachable fixture), 130/143 interrupted. Nothing is
written unless every benchmark succeeded.
"""
import argparse
import asyncio
import concurrent.futures
import contextlib
import datetime
import http.client
import json
import math
import multiprocessing
import os
import platform
import queue
import re
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(SCRIPTS)
sys.path.insert(0, SCRIPTS)

import pyenv_check  # noqa: E402

PROG = "python_reference"

# ---- the seed's experiments ------------------------------------------------------------------

# The seed's fetch site profile. It MUST match the C++ side's kSeedSiteDelaysMs and
# kSeedRequestsPerSite (benchmarks/fetch/workload.h) and its profile body size
# (fixture::kDefaultBytes, fixtures/protocol.h): the page puts both languages' profile:seed rows
# side by side, so they must ask the fixture for the same thing. tests/test_python_reference.py
# reads those headers and fails when they drift apart.
# 4 sites; the latencies average 151.5 ms, so 40 sequential requests take the seed's 6.06 s.
SEED_SITE_DELAYS_MS = (80, 120, 160, 246)
SEED_REQUESTS_PER_SITE = 10  # the seed's `urls = [a, b, c, d] * 10`
SEED_BODY_BYTES = 1024
SEED_POOL_WORKERS = 4  # the seed's ThreadPoolExecutor(max_workers=4)

SEED_SUM_N = 100_000_000  # the seed's START, END = 0, 100000000
SEED_SUM_WORKERS = 2  # the seed's two threads and two processes
QUICK_SUM_N = 10_000_000
DEFAULT_REPETITIONS = 3
MAX_SUM_N = 4_000_000_000  # the C++ side's limit, so --n means the same on both
MAX_WORKERS = 1024

# multiprocessing's start method, named rather than left to the platform default: the seed ran
# with fork (2016, before macOS switched to spawn) and the C++ fork models fork too, so process
# start-up costs the same kind of thing on both sides.
MP_START_METHOD = "fork"


class UsageError(Exception):
    """Bad input the user must fix (exit 2); str() is one line."""


class BenchmarkError(Exception):
    """A benchmark that did not get the right answer or could not run (exit 1); one line."""


class Interrupted(BaseException):
    """SIGTERM, turned into an exception so every finally block runs (fixture, pools, temp file)."""


# SIGTERM and SIGINT raise Interrupted / KeyboardInterrupt in the main thread, except inside
# `deferred_signals()` blocks: a raise in the middle of a library's setup or shutdown (a process
# pool half shut down) leaves it broken, and its atexit hook then fails noisily. Once raised,
# further signals are ignored so the cleanup that follows runs to its end.
_signal_state = {"depth": 0, "pending": None, "ignore": False}


def _on_signal(signum, frame):
    exc = KeyboardInterrupt if signum == signal.SIGINT else Interrupted
    if _signal_state["ignore"]:
        return
    if _signal_state["depth"]:
        _signal_state["pending"] = exc
        return
    _signal_state["ignore"] = True
    raise exc()


@contextlib.contextmanager
def deferred_signals():
    """Hold SIGTERM/SIGINT until the block ends (they then raise as usual)."""
    _signal_state["depth"] += 1
    try:
        yield
    finally:
        _signal_state["depth"] -= 1
        exc = _signal_state["pending"]
        if not _signal_state["depth"] and exc is not None and not _signal_state["ignore"]:
            _signal_state["pending"] = None
            _signal_state["ignore"] = True
            raise exc()


def _child_signals():
    """In a forked worker: undo the parent's handlers. The parent alone decides when to stop; it
    stops workers with SIGTERM, which must simply end them, and ignores Ctrl-C's SIGINT, which
    the terminal sends to the whole process group."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _in_child(fn, *args):
    _child_signals()
    fn(*args)


def progress(message):
    print("%s: %s" % (PROG, message), file=sys.stderr, flush=True)


# ---- the fixture's body generator (a port of fixtures/protocol.h) -----------------------------
#
# Every body is a window of one pseudo-random pattern of printable bytes with period 64 MiB:
# body(id)[i] = pattern[(body_start(id) + i) mod period], the pattern being little-endian 64-bit
# words. The test compares this port with bytes the fixture actually serves, so a change of the
# formula on either side fails there, not as a mysterious "wrong body" in a benchmark run.

_MASK64 = (1 << 64) - 1
PATTERN_PERIOD = 64 << 20  # fixture::kMaxBytes
_PERIOD_WORDS = PATTERN_PERIOD // 8


def _mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _pattern_word(w):
    return (_mix64(w ^ 0x636F6E6362656E63) & 0x3F3F3F3F3F3F3F3F) + 0x3030303030303030


def body_start(request_id):
    """Position in the pattern where the body of request `request_id` starts."""
    i = request_id & _MASK64
    return (((i ^ (i >> 26) ^ (i >> 52)) * 0x9E3779B97F4A7C15) & _MASK64) % PATTERN_PERIOD


def expected_body(request_id, n, offset=0):
    """Bytes [offset, offset+n) of the body the fixture sends for `request_id`."""
    pos = (body_start(request_id) + offset) % PATTERN_PERIOD
    word, skip = pos >> 3, pos & 7
    out = bytearray()
    while len(out) < skip + n:
        out += _pattern_word(word).to_bytes(8, "little")
        word = (word + 1) % _PERIOD_WORDS
    return bytes(out[skip:skip + n])


def first_mismatch(got, want):
    """Index of the first byte where two byte strings differ (the shorter length if one is a prefix)."""
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return i
    return min(len(got), len(want))


# ---- sum: the seed's cpu/*.py ----------------------------------------------------------------

def exact_sum(n):
    """0 + 1 + ... + (n-1) by Gauss's formula, independent of every model's loop."""
    return n * (n - 1) // 2


def chunks(n, workers):
    """[0, n) in `workers` contiguous slices that differ in length by at most one."""
    return [(n * i // workers, n * (i + 1) // workers) for i in range(workers)]


def do_work(start, end):
    """The seed's loop, kept as the seed wrote it: the interpreter's cost is what is measured."""
    total = 0
    for i in range(start, end):
        total += i
    return total


# The seed's workers left their answer in a container the caller passed; so do these.
def _work_into_dict(start, end, result):
    result["sum"] = do_work(start, end)


def _work_into_list(start, end, result):
    result.append(do_work(start, end))


def _work_into_queue(start, end, result):
    result.put(do_work(start, end))


def sum_seq(n, workers=1):
    """cpu/0basic.py: one loop in this thread."""
    result = {}
    _work_into_dict(0, n, result)
    return result["sum"]


def sum_threads(n, workers=SEED_SUM_WORKERS):
    """cpu/1thread.py: the range split over threads; the GIL runs one at a time."""
    result = []
    threads = [threading.Thread(target=_work_into_list, args=(start, end, result))
               for start, end in chunks(n, workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(result) != workers:
        raise BenchmarkError("%d of %d threads returned no result" % (workers - len(result), workers))
    return sum(result)


def sum_processes(n, workers=SEED_SUM_WORKERS):
    """cpu/2process.py: the range split over new processes, answers back over a Queue."""
    ctx = multiprocessing.get_context(MP_START_METHOD)
    result = ctx.Queue()
    procs = [ctx.Process(target=_in_child, args=(_work_into_queue, start, end, result))
             for start, end in chunks(n, workers)]
    try:
        with deferred_signals():  # every started child is in procs, so the finally below reaches it
            for p in procs:
                p.start()
        # Read before join (the seed joined first): a child does not exit until its queued data
        # is flushed into the pipe, so joining first can deadlock (multiprocessing's docs,
        # "Joining processes that use queues"). A child that died is noticed here too.
        parts = []
        while len(parts) < workers:
            try:
                parts.append(result.get(timeout=0.2))
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise BenchmarkError("worker process %d died (exit status %s)"
                                         % (dead[0].pid, dead[0].exitcode)) from None
                if all(p.exitcode == 0 for p in procs) and result.empty():
                    # A child flushes its queue before exiting, so nothing more can come.
                    raise BenchmarkError("%d of %d worker processes exited without an answer"
                                         % (workers - len(parts), workers)) from None
        for p in procs:
            p.join()
    finally:
        with deferred_signals():
            for p in procs:
                if p.is_alive():  # only after an error or an interrupt
                    p.terminate()
                    p.join()
            result.close()
            result.join_thread()
    return sum(parts)


def _pool_worker_init(queue):
    _child_signals()
    queue.put(os.getpid())


def _pool_task(start, end):
    """do_work in a pool worker, which also reports the CPU time it took: getrusage counts a
    child only once it is reaped, and the pool's workers outlive the timed run (the C++ pool's
    workers report theirs the same way)."""
    cpu0 = time.process_time()
    total = do_work(start, end)
    return total, time.process_time() - cpu0


class SumProcessPool:
    """A ProcessPoolExecutor started and warmed up before the clock starts, so the time is
    dispatch to live workers, not their creation (which `processes` pays inside its time)."""

    def __init__(self, workers):
        with deferred_signals():
            self._start(workers)

    def _start(self, workers):
        ctx = multiprocessing.get_context(MP_START_METHOD)
        self.workers = workers
        self._pids_queue = ctx.Queue()
        self.executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_pool_worker_init,
            initargs=(self._pids_queue,))
        self.pids = []
        self.task_cpu_seconds = 0.0
        try:
            # One task per worker starts them all (fork starts every worker at the first submit)
            # and waits until they run; each reports its pid, so an interrupt can stop them.
            for f in [self.executor.submit(_pool_task, 0, 1) for _ in range(workers)]:
                f.result(timeout=30)
            for _ in range(workers):
                self.pids.append(self._pids_queue.get(timeout=30))
        except BaseException as e:
            self.close(abort=True)
            if isinstance(e, Exception):
                raise BenchmarkError("cannot start the process pool: %s" % e) from None
            raise

    def sum(self, n, workers=None):
        futures = [self.executor.submit(_pool_task, start, end) for start, end in chunks(n, self.workers)]
        try:
            parts = [f.result() for f in futures]
        except concurrent.futures.process.BrokenProcessPool as e:
            raise BenchmarkError("a pool worker died: %s" % e) from None
        self.task_cpu_seconds += sum(cpu for _, cpu in parts)
        return sum(total for total, _ in parts)

    def live_cpu_seconds(self):
        return self.task_cpu_seconds

    def close(self, abort=False):
        with deferred_signals():
            self._close(abort)

    def _close(self, abort):
        if abort:
            # The workers may be in the middle of a long loop: stop them instead of waiting.
            self.executor.shutdown(wait=False, cancel_futures=True)
            for pid in self.pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
        self.executor.shutdown(wait=True)
        self._pids_queue.close()
        self._pids_queue.join_thread()


SUM_MODELS = {"seq": sum_seq, "threads": sum_threads, "processes": sum_processes}


def process_cpu_seconds():
    """CPU time of this process and its reaped children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


@dataclass
class Measurement:
    real_s: float
    cpu_s: float  # this thread's CPU time: Google Benchmark's cpu_time
    counters: dict


def measure_sum(model, n, workers):
    """One repetition of a sum model: time, check the answer, and the C++ side's counters."""
    pool = SumProcessPool(workers) if model == "process_pool" else None
    fn = pool.sum if pool else SUM_MODELS[model]
    live = pool.live_cpu_seconds if pool else (lambda: 0.0)
    ok = False
    try:
        cpu0 = process_cpu_seconds() + live()
        thread0 = time.thread_time()
        t0 = time.perf_counter()
        got = fn(n, workers)
        wall = time.perf_counter() - t0
        thread_cpu = time.thread_time() - thread0
        cpu = process_cpu_seconds() + live() - cpu0
        ok = True
    finally:
        if pool:
            pool.close(abort=not ok)
    expected = exact_sum(n)
    if got != expected:
        raise BenchmarkError("wrong sum: got %d, expected %d" % (got, expected))
    return Measurement(wall, thread_cpu, {
        "items_per_second": n / wall if wall > 0 else 0.0,
        "workers": workers,
        # CPU time of the process and its children over wall time: 2.0 means two cores were busy.
        "cpu_util": cpu / wall if wall > 0 else 0.0,
    })


# ---- fetch: the seed's io/*.py against the fixture -------------------------------------------

@dataclass
class Request:
    index: int
    id: int
    delay_ms: int
    bytes: int
    target: str  # path and query, as fixture::request_target spells it
    url: str
    expected: bytes = b""


@dataclass
class Outcome:
    kind: str = "not_done"  # None: right answer; else status, id, size, content, timeout, ...
    detail: str = ""
    status: int = 0
    nbytes: int = 0
    seconds: float = 0.0


def seed_profile_delays():
    """The profile's 40 latencies in dispatch order: site 0, 1, 2, 3, 0, 1, ... (`urls * 10`)."""
    return [d for _ in range(SEED_REQUESTS_PER_SITE) for d in SEED_SITE_DELAYS_MS]


def dispatch_makespan(delays_ms, slots):
    """The lower bound on a run's time (seconds), as the C++ side computes it: requests in order,
    each to whichever of `slots` frees first, each taking exactly its latency."""
    free_at = [0] * max(1, slots)
    end = 0
    for d in delays_ms:
        i = min(range(len(free_at)), key=free_at.__getitem__)
        free_at[i] += d
        end = max(end, free_at[i])
    return end / 1000.0


class FixtureURL:
    """A parsed --fixture-url: http://HOST[:PORT][/PREFIX]."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme != "http" or not parts.hostname or port == -1 or parts.query or parts.fragment:
            raise UsageError("--fixture-url must look like http://127.0.0.1:PORT, got %r" % url)
        self.host = parts.hostname
        self.port = port or 80
        self.prefix = parts.path.rstrip("/")
        host = parts.hostname if ":" not in parts.hostname else "[%s]" % parts.hostname  # IPv6
        self.origin = "http://%s:%d" % (host, self.port)
        self.base = self.origin + self.prefix

    def request(self, index, request_id, delay_ms, nbytes, with_body=True):
        target = "%s/data?bytes=%d&delay_ms=%d&status=200&id=%d" % (self.prefix, nbytes, delay_ms,
                                                                    request_id)
        # The expected body is computed here, before any clock starts: comparing bytes inside
        # the timed run is as cheap as the C++ side's check, generating them in Python is not.
        return Request(index, request_id, delay_ms, nbytes, target, self.origin + target,
                       expected_body(request_id, nbytes) if with_body else b"")


def build_requests(fixture, delays_ms, nbytes):
    """Request i asks for `nbytes` of body i after delays_ms[i], as the C++ side asks."""
    return [fixture.request(i, i, d, nbytes) for i, d in enumerate(delays_ms)]


def check_response(req, status, fixture_id, body):
    """(kind, detail) of what is wrong with a response, or (None, "") if it is the right one."""
    if status != 200:
        return "status", "status %d" % status
    # X-Fixture-Id is an extra the fixture sends; absent, the body check still catches a swap.
    if fixture_id is not None and fixture_id.strip() != str(req.id):
        return "id", "X-Fixture-Id %r, expected %d" % (fixture_id, req.id)
    if len(body) != req.bytes:
        return "size", "%d body bytes, expected %d" % (len(body), req.bytes)
    if body != req.expected:
        return "content", "byte %d of %d differs from the fixture's body for id %d" % (
            first_mismatch(body, req.expected), req.bytes, req.id)
    return None, ""


def _failure_kind(exc):
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return _failure_kind(exc.reason)
    os_error = getattr(exc, "os_error", None)  # aiohttp.ClientConnectorError wraps the OSError
    if isinstance(os_error, OSError):
        return _failure_kind(os_error)
    if isinstance(exc, (TimeoutError, socket.timeout, asyncio.TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    return "transport"


def _outcome(req, t0, status, fixture_id, body):
    seconds = time.perf_counter() - t0
    kind, detail = check_response(req, status, fixture_id, body)
    return Outcome(kind, detail, status, len(body), seconds)


def _failed(t0, exc):
    text = str(exc) or type(exc).__name__
    return Outcome(_failure_kind(exc), "%s: %s" % (type(exc).__name__, text.splitlines()[0] if text else ""),
                   0, 0, time.perf_counter() - t0)


class BlockingClient:
    """One GET at a time per thread. keepalive=False is the seed's client, urllib.request's
    urlopen, which sends "Connection: close" and so opens a connection per request.
    keepalive=True sends the same request through http.client, the module urlopen is built on,
    keeping one connection per thread as the C++ keepalive:1 clients do."""

    def __init__(self, fixture, keepalive, timeout):
        self.fixture = fixture
        self.keepalive = keepalive
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections = []
        # Not the environment's proxy: the fixture is on this machine, and a proxy would be
        # measured instead of Python.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def fetch(self, req):
        t0 = time.perf_counter()
        try:
            if not self.keepalive:
                try:
                    with self._opener.open(req.url, timeout=self.timeout) as resp:
                        return _outcome(req, t0, resp.status, resp.headers.get("X-Fixture-Id"), resp.read())
                except urllib.error.HTTPError as e:  # urllib raises for any status but 2xx
                    with e:
                        return _outcome(req, t0, e.code, e.headers.get("X-Fixture-Id"), e.read())
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(self.fixture.host, self.fixture.port, timeout=self.timeout)
                self._local.conn = conn
                with self._lock:
                    self._connections.append(conn)
            try:
                conn.request("GET", req.target)
                resp = conn.getresponse()
                body = resp.read()
            except BaseException:
                conn.close()  # a half-read response must not be reused; the next request reconnects
                raise
            return _outcome(req, t0, resp.status, resp.getheader("X-Fixture-Id"), body)
        except Exception as e:  # noqa: BLE001 - every failure is one request's outcome
            return _failed(t0, e)

    def close(self):
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


class FetchSeq:
    """io/0basic.py: one request after another."""

    def __init__(self, fixture, conc, keepalive, timeout):
        self.client = BlockingClient(fixture, keepalive, timeout)

    def run(self, requests):
        return [self.client.fetch(r) for r in requests]

    def close(self):
        self.client.close()


class FetchPool:
    """io/1thread.py: a ThreadPoolExecutor of `conc` threads, each doing blocking requests."""

    def __init__(self, fixture, conc, keepalive, timeout):
        self.client = BlockingClient(fixture, keepalive, timeout)
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=conc,
                                                              thread_name_prefix="fetch")

    def run(self, requests):
        return list(self.executor.map(self.client.fetch, requests))

    def close(self):
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.client.close()


class FetchAsyncio:
    """io/2asyncio.py: one coroutine per request on one event loop, with aiohttp. The session
    (a connection pool of `conc`) is made before the clock starts, as the other models' clients
    are; keepalive=False closes each connection after its response, as the seed's one-off
    aiohttp.request calls did."""

    def __init__(self, fixture, conc, keepalive, timeout):
        import aiohttp  # here, not at the top: only this model needs it, and main() checks for it
        self.aiohttp = aiohttp
        self.loop = asyncio.new_event_loop()
        self.session = None
        try:
            self.session = self.loop.run_until_complete(self._open(conc, keepalive, timeout))
        except BaseException:
            self.loop.close()
            raise

    async def _open(self, conc, keepalive, timeout):
        aiohttp = self.aiohttp
        connector = aiohttp.TCPConnector(limit=conc, force_close=not keepalive)
        # trust_env=False (the default) keeps any proxy of the environment out, as for urllib.
        return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))

    async def _fetch(self, req):
        t0 = time.perf_counter()
        try:
            async with self.session.get(req.url) as resp:
                body = await resp.read()
                return _outcome(req, t0, resp.status, resp.headers.get("X-Fixture-Id"), body)
        except Exception as e:  # noqa: BLE001 - every failure is one request's outcome
            return _failed(t0, e)

    async def _all(self, requests):
        return await asyncio.gather(*(self._fetch(r) for r in requests))

    def run(self, requests):
        return self.loop.run_until_complete(self._all(requests))

    def close(self):
        try:
            # After an interrupt, requests may still be pending: cancel them so they end quietly.
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            if self.session is not None:
                self.loop.run_until_complete(self.session.close())
        finally:
            self.loop.close()


FETCH_MODELS = {"seq": FetchSeq, "pool": FetchPool, "asyncio": FetchAsyncio}


def request_timeout(requests):
    """Seconds a request may take: its delay plus a margin for a busy two-core machine, as the
    C++ clients allow (delay + 10 s + 1 ms per KiB)."""
    worst = max((r.delay_ms for r in requests), default=0)
    nbytes = max((r.bytes for r in requests), default=0)
    return worst / 1000.0 + 10.0 + nbytes / 1024 / 1000.0


def describe_failures(requests, outcomes):
    """One line: how many requests failed, grouped by kind, with the first of each."""
    groups = {}
    for req, o in zip(requests, outcomes):
        if o.kind is not None:
            groups.setdefault(o.kind, []).append((req, o))
    total = sum(len(v) for v in groups.values())
    parts = ["%d %s (first: request %d: %s)" % (len(v), kind, v[0][0].index, v[0][1].detail)
             for kind, v in groups.items()]
    return "%d of %d requests failed: %s" % (total, len(requests), "; ".join(parts))


def quantile(sorted_values, q):
    """Nearest-rank quantile, as the C++ histogram picks its bucket (exact here)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _vm_hwm_kib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak_rss():
    # As the C++ side: reset the kernel's high-water mark so the peak is this run's.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def measure_fetch(model, fixture, requests, conc, keepalive, ideal_s):
    """One repetition of a fetch model: make the client, time the run, check every response."""
    _reset_peak_rss()
    with deferred_signals():
        client = FETCH_MODELS[model](fixture, conc, keepalive, request_timeout(requests))
    try:
        thread0 = time.thread_time()
        t0 = time.perf_counter()
        outcomes = client.run(requests)
        wall = time.perf_counter() - t0
        thread_cpu = time.thread_time() - thread0
    finally:
        with deferred_signals():
            client.close()
    if len(outcomes) != len(requests):
        raise BenchmarkError("the model reported %d outcomes for %d requests" % (len(outcomes), len(requests)))
    if any(o.kind is not None for o in outcomes):
        raise BenchmarkError(describe_failures(requests, outcomes))
    latencies = sorted(o.seconds for o in outcomes)
    nbytes = sum(o.nbytes for o in outcomes)
    return Measurement(wall, thread_cpu, {
        "items_per_second": len(requests) / wall,
        "bytes_per_second": nbytes / wall,
        "errors": 0,
        "ideal_s": ideal_s,
        "efficiency": ideal_s / wall,
        "p50_ms": quantile(latencies, 0.50) * 1e3,
        "p99_ms": quantile(latencies, 0.99) * 1e3,
        "max_ms": latencies[-1] * 1e3 if latencies else 0.0,
        "peak_rss_mb": _vm_hwm_kib() / 1024.0,
    })


# ---- the fixture server ----------------------------------------------------------------------

def default_fixture_binary():
    return os.environ.get("CONCBENCH_FIXTURE") or os.path.join(REPO, "build", "release", "fixtures",
                                                                "concbench_fixture")


def _die_with_parent():
    """A preexec_fn that makes the kernel SIGTERM the child when we die, even by SIGKILL
    (prctl(PR_SET_PDEATHSIG)); None where ctypes or prctl is unavailable."""
    try:
        import ctypes
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, not in the child
    except (ImportError, OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec():
        prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # we died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)
    return preexec


class FixtureProcess:
    """concbench_fixture started by us: `PORT <n>` on stdout when listening, SIGTERM stops it."""

    def __init__(self, binary):
        self.binary = binary
        self.proc = None

    def start(self, timeout=10.0):
        hint = "build it (cmake --build build/release --target concbench_fixture) or pass --fixture-url"
        if not os.path.exists(self.binary):
            raise UsageError("fixture binary %s does not exist; %s" % (self.binary, hint))
        if os.path.isdir(self.binary) or not os.access(self.binary, os.X_OK):
            raise UsageError("fixture binary %s is not an executable file; %s" % (self.binary, hint))
        try:
            with deferred_signals():  # so self.proc always names a started server
                self.proc = subprocess.Popen([self.binary, "--port=0", "--host=127.0.0.1"],
                                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                             preexec_fn=_die_with_parent(), close_fds=True)
        except OSError as e:
            raise UsageError("cannot start fixture binary %s: %s" % (self.binary, e.strerror or e)) from None
        line = b""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self.stop()
                    raise UsageError("fixture binary %s printed no 'PORT <n>' line within %.0f s"
                                     % (self.binary, timeout))
                chunk = os.read(fd, 256)
                if not chunk:
                    status = self.proc.wait()
                    self.proc = None
                    raise UsageError("fixture binary %s exited (status %s) before listening"
                                     % (self.binary, status))
                line += chunk
        m = re.fullmatch(rb"PORT (\d+)\r?\n", line)
        if not m:
            self.stop()
            raise UsageError("fixture binary %s printed %r, not 'PORT <n>'" % (self.binary, line[:80]))
        return "http://127.0.0.1:%d" % int(m.group(1))

    def stop(self):
        with deferred_signals():
            self._stop()

    def _stop(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()


def preflight(fixture, timeout=5.0):
    """Fail before any benchmark if nothing answers at the URL or it is not a concbench fixture.
    The id is outside the runs' 0..39, and the length not a multiple of 8, so a server that
    answers with the wrong formula, alignment or length is caught here."""
    req = fixture.request(0, (1 << 40) + 12345, 0, 4099)
    conn = http.client.HTTPConnection(fixture.host, fixture.port, timeout=timeout)
    try:
        conn.request("GET", req.target)
        resp = conn.getresponse()
        body = resp.read()
        kind, detail = check_response(req, resp.status, resp.getheader("X-Fixture-Id"), body)
    except ConnectionRefusedError:
        raise UsageError("cannot reach the fixture at %s: connection refused (is it running?)"
                         % fixture.base) from None
    except (TimeoutError, socket.timeout):
        raise UsageError("the fixture at %s did not answer within %.0f s" % (fixture.base, timeout)) from None
    except (OSError, http.client.HTTPException) as e:
        raise UsageError("cannot reach the fixture at %s: %s" % (fixture.base, str(e) or type(e).__name__)) from None
    finally:
        conn.close()
    if kind is not None:
        raise UsageError("%s does not serve concbench fixture bodies (GET %s: %s); is it a "
                         "concbench_fixture built from this tree?" % (fixture.base, req.target, detail))


# ---- the run ---------------------------------------------------------------------------------

@dataclass
class Case:
    name: str  # without Google Benchmark's /real_time
    workload: str
    model: str
    measure: object  # () -> Measurement
    summary_counter: str = ""
    reps: list = field(default_factory=list)


def sum_names(n, pool_workers):
    out = [("seq", 1), ("threads", SEED_SUM_WORKERS), ("processes", SEED_SUM_WORKERS)]
    out += [("process_pool", w) for w in pool_workers]
    return [(m, w, "python/sum/%s/workers:%d/n:%d" % (m, w, n)) for m, w in out]


def fetch_names(keepalive):
    n = len(SEED_SITE_DELAYS_MS) * SEED_REQUESTS_PER_SITE
    out = [("seq", 1), ("pool", SEED_POOL_WORKERS), ("asyncio", n)]  # asyncio: every request at once
    return [(m, c, "python/fetch/%s/conc:%d/n:%d/profile:seed/bytes:%d/keepalive:%d"
             % (m, c, n, SEED_BODY_BYTES, int(keepalive))) for m, c in out]


def select(names, pattern):
    """Names the filter selects; like --benchmark_filter it searches the name with /real_time."""
    if pattern is None:
        return names
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise UsageError("--filter %r is not a regular expression: %s" % (pattern, e)) from None
    return [x for x in names if regex.search(x[-1] + "/real_time")]


def plan(args):
    """The benchmarks to run, in order: (workload, model, width, name)."""
    sums = [("sum",) + x for x in sum_names(args.n, args.workers)]
    fetches = [("fetch",) + x for x in fetch_names(args.keepalive)]
    return select(sums + fetches, args.filter)


def gb_stats(values):
    """Google Benchmark's mean, median, stddev (sample) and cv of a list of numbers."""
    n = len(values)
    mean = math.fsum(values) / n
    median = statistics.median(values)
    stddev = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    if n <= 1:
        cv = 0.0
    elif mean != 0:
        cv = stddev / mean
    else:  # 0/0 as Google Benchmark's division gives it (the C++ side writes NaN for errors' cv)
        cv = math.nan if stddev == 0 else math.copysign(math.inf, stddev)
    return {"mean": mean, "median": median, "stddev": stddev, "cv": cv}


def benchmark_rows(cases, repetitions):
    """Google Benchmark 1.7.1's JSON entries: each benchmark's repetitions, then (from two on) its
    mean, median, stddev and cv aggregates."""
    rows = []
    for family_index, case in enumerate(cases):
        full = case.name + "/real_time"
        head = {"name": full, "family_index": family_index, "per_family_instance_index": 0,
                "run_name": full}
        for i, m in enumerate(case.reps):
            row = dict(head, run_type="iteration", repetitions=repetitions, repetition_index=i,
                       threads=1, iterations=1, real_time=m.real_s * 1e3, cpu_time=m.cpu_s * 1e3,
                       time_unit="ms")
            row.update((k, float(m.counters[k])) for k in sorted(m.counters))
            rows.append(row)
        if len(case.reps) < 2:
            continue  # Google Benchmark reports no aggregates of a single run
        real = gb_stats([m.real_s * 1e3 for m in case.reps])
        cpu = gb_stats([m.cpu_s * 1e3 for m in case.reps])
        counters = {k: gb_stats([float(m.counters[k]) for m in case.reps]) for k in sorted(case.reps[0].counters)}
        for stat in ("mean", "median", "stddev", "cv"):
            row = dict(head, name=full + "_" + stat, run_type="aggregate", repetitions=repetitions,
                       threads=1, aggregate_name=stat,
                       aggregate_unit="percentage" if stat == "cv" else "time",
                       iterations=len(case.reps), real_time=real[stat], cpu_time=cpu[stat], time_unit="ms")
            row.update((k, v[stat]) for k, v in counters.items())
            rows.append(row)
    return rows


def _first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=REPO).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0] if out.strip() else ""


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _cpuinfo(key):
    text = _read("/proc/cpuinfo") or ""
    m = re.search(r"^%s\s*:\s*(.*)$" % re.escape(key), text, re.M)
    return m.group(1).strip() if m else None


def _mhz_per_cpu():
    # Where Google Benchmark looks, in its order: the TSC frequency, then /proc/cpuinfo.
    khz = _read("/sys/devices/system/cpu/cpu0/tsc_freq_khz")
    for value, scale in ((khz, 1e-3), (_cpuinfo("cpu MHz"), 1.0), (_cpuinfo("bogomips"), 1.0)):
        try:
            return int(round(float(value) * scale))
        except (TypeError, ValueError):
            continue
    return 0


def _caches():
    """CPU 0's caches as Google Benchmark reads them from sysfs; [] where sysfs has none."""
    caches = []
    base = "/sys/devices/system/cpu/cpu0/cache"
    for i in range(16):
        d = os.path.join(base, "index%d" % i)
        size, ctype, level, shared = (_read(os.path.join(d, f)) for f in ("size", "type", "level", "shared_cpu_map"))
        if size is None or ctype is None or level is None:
            break
        m = re.fullmatch(r"(\d+)([KMG]?)", size)
        if not m:
            continue
        nbytes = int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]
        sharing = sum(bin(int(w, 16)).count("1") for w in (shared or "1").split(",") if w)
        caches.append({"type": ctype, "level": int(level), "size": nbytes, "num_sharing": sharing})
    return caches


def run_context(fixture_note):
    """Google Benchmark's context fields, plus the custom keys (strings, sorted, as AddCustomContext
    gives them) that the C++ runs carry and the plots read."""
    commit = _first_line(["git", "-C", REPO, "rev-parse", "--verify", "-q", "HEAD"]) or ""
    if len(commit) != 40:
        commit = ""
    dirty = _first_line(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"])
    governor = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    try:
        import aiohttp
        aiohttp_version = aiohttp.__version__
    except ImportError:
        aiohttp_version = "not installed"
    custom = {
        "concbench_commit": commit or "unknown",
        "concbench_dirty": "unknown" if not commit or dirty is None else ("true" if dirty else "false"),
        "python_version": platform.python_version(),
        "python_build": " ".join(sys.version.split()),
        "python_executable": sys.executable,
        "aiohttp_version": aiohttp_version,
        "multiprocessing_start_method": MP_START_METHOD,
        "hardware_threads": str(os.cpu_count() or 1),
        "cpu_model": _cpuinfo("model name") or "unknown",
        "fixture": fixture_note,
    }
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    ctx = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host_name": socket.gethostname(),
        "executable": os.path.abspath(__file__),
        "num_cpus": os.cpu_count() or 1,
        "mhz_per_cpu": _mhz_per_cpu(),
        "cpu_scaling_enabled": governor is not None and governor != "performance",
        "caches": _caches(),
        "load_avg": list(load),
        # The build of what does the timing: here the interpreter (a debug CPython is slower).
        "library_build_type": "debug" if hasattr(sys, "gettotalrefcount") else "release",
    }
    ctx.update(sorted(custom.items()))
    return ctx


# -- Google Benchmark's JSON layout (json_reporter.cc): two-space indent, doubles as %.16e, NaN
# and Infinity as it writes them, so a diff against a C++ run shows only what differs.

def _value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "-Infinity" if v < 0 else "Infinity"
        return "%.16e" % v
    return json.dumps(str(v), ensure_ascii=False)


def _object(d, indent):
    pad = " " * indent
    body = ",\n".join('%s"%s": %s' % (pad, k, _value(v)) for k, v in d.items())
    return "{\n" + body + "\n" + " " * (indent - 2) + "}"


def gb_json(context, rows):
    lines = ["{", '  "context": {']
    items = []
    for k, v in context.items():
        if k == "caches":
            inner = ",\n".join("      " + _object(c, 8) for c in v)
            items.append('    "caches": [\n%s\n    ]' % inner if v else '    "caches": [\n    ]')
        elif k == "load_avg":
            items.append('    "load_avg": [%s]' % ",".join("%g" % x for x in v))
        else:
            items.append('    "%s": %s' % (k, _value(v)))
    lines.append(",\n".join(items))
    lines.append("  },")
    lines.append('  "benchmarks": [')
    lines.append(",\n".join("    " + _object(r, 6) for r in rows))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_atomically(path, text):
    """Write to a temporary name beside `path` and rename: readers never see a partial file."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_output_path(path):
    """Fail now, not after a minute of benchmarks, if the record cannot be written there."""
    d = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError("--out %s is a directory; name a file" % path)
    if not os.path.isdir(d):
        raise UsageError("--out %s: directory %s does not exist" % (path, d))
    if not os.access(d, os.W_OK):
        raise UsageError("--out %s: directory %s is not writable" % (path, d))


# ---- command line ----------------------------------------------------------------------------

def _int_list(text):
    items = [t.strip() for t in text.split(",")]
    if not items or any(not re.fullmatch(r"\d+", t) for t in items):
        raise argparse.ArgumentTypeError("%r is not a comma-separated list of whole numbers" % text)
    values = sorted({int(t) for t in items})
    if values[0] < 1 or values[-1] > MAX_WORKERS:
        raise argparse.ArgumentTypeError("%r: worker counts must be in 1..%d" % (text, MAX_WORKERS))
    return values


def _size(text):
    # Like the C++ flags: 100000000 or 1e8.
    m = re.fullmatch(r"(\d+)(?:[eE](\d+))?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError("%r is not a size (e.g. 100000000 or 1e8)" % text)
    value = int(m.group(1)) * 10 ** int(m.group(2) or 0)
    if value > MAX_SUM_N:
        raise argparse.ArgumentTypeError("%r is above the limit %d" % (text, MAX_SUM_N))
    return value


def _repetitions(text):
    if not re.fullmatch(r"\d+", text.strip()) or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError("%r is not a whole number in 1..1000" % text)
    return int(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, like every concbench tool, instead of argparse's usage block.
        self.exit(2, "%s: %s (see --help)\n" % (PROG, message))


def parse_args(argv):
    hw = os.cpu_count() or 1
    p = _Parser(prog="python_reference.py",
                description="Runs the seed blog's Python experiments against concbench's fixture and "
                            "writes Google Benchmark JSON.",
                epilog="Default run: about 50 s on 2 cores (sum at n=1e8, 3 repetitions; the 40 "
                       "sequential fetches alone take 3 x 6.1 s); --quick: about 9 s.")
    p.add_argument("--out", metavar="FILE", help="where the JSON goes (written under a temporary name, "
                   "renamed when every benchmark succeeded)")
    p.add_argument("--quick", action="store_true",
                   help="a first look: n=%d, 1 repetition (unless --n/--repetitions say otherwise)" % QUICK_SUM_N)
    p.add_argument("--repetitions", type=_repetitions, metavar="N",
                   help="repetitions of every benchmark (default %d, --quick 1)" % DEFAULT_REPETITIONS)
    p.add_argument("--workers", type=_int_list, metavar="LIST",
                   help="process_pool worker counts (default 1..2x hardware threads = 1..%d, "
                        "as the C++ sum sweep)" % (2 * hw))
    p.add_argument("--n", type=_size, metavar="N",
                   help="sum: n, summing 0..n-1 (default %d as the seed, --quick %d)" % (SEED_SUM_N, QUICK_SUM_N))
    src = p.add_mutually_exclusive_group()
    src.add_argument("--fixture-url", metavar="URL",
                     help="a running concbench_fixture, e.g. http://127.0.0.1:PORT (the one the C++ "
                          "suite used)")
    src.add_argument("--fixture-binary", metavar="PATH",
                     help="start this concbench_fixture and stop it at the end (default: "
                          "$CONCBENCH_FIXTURE or build/release/fixtures/concbench_fixture)")
    p.add_argument("--keepalive", type=int, choices=(0, 1), default=1,
                   help="1 (default): reuse connections, as the C++ profile runs; 0: a connection "
                        "per request, the seed's literal urllib.request.urlopen")
    p.add_argument("--filter", metavar="REGEX",
                   help="run only benchmarks whose name (with /real_time) matches, as --benchmark_filter")
    p.add_argument("--list", action="store_true", help="list the benchmarks that would run, and exit")
    args = p.parse_args(argv)
    if args.repetitions is None:
        args.repetitions = 1 if args.quick else DEFAULT_REPETITIONS
    if args.n is None:
        args.n = QUICK_SUM_N if args.quick else SEED_SUM_N
    if args.workers is None:
        args.workers = list(range(1, 2 * hw + 1))
    if not args.list and not args.out:
        p.error("--out FILE is required (where the JSON goes)")
    return args


def make_cases(selected, args, fixture):
    cases = []
    for workload, model, width, name in selected:
        if workload == "sum":
            measure = (lambda m=model, w=width: measure_sum(m, args.n, w))
            cases.append(Case(name, workload, model, measure, "cpu_util"))
        else:
            delays = seed_profile_delays()
            requests = build_requests(fixture, delays, SEED_BODY_BYTES)
            ideal = dispatch_makespan(delays, width)
            measure = (lambda m=model, c=width, r=requests, i=ideal:
                       measure_fetch(m, fixture, r, c, bool(args.keepalive), i))
            cases.append(Case(name, workload, model, measure, "efficiency"))
    return cases


def run(args, as_script):
    selected = plan(args)
    if not selected:
        raise UsageError("no benchmark matches --filter %r (--list shows them)" % args.filter)
    if args.list:
        for x in selected:
            print(x[-1] + "/real_time")
        return 0
    if as_script or any(w == "fetch" and m == "asyncio" for w, m, _, _ in selected):
        # Re-executes under Debian's interpreter if this one lacks aiohttp, else says which apt
        # package to install and exits 2. A script run checks even when asyncio is filtered out,
        # so every run measures the same interpreter (a pyenv build times the loops differently).
        pyenv_check.require(["aiohttp"], {"aiohttp": "python3-aiohttp"},
                            purpose="the Python reference run (asyncio fetch)", prog=PROG, reexec=as_script)
    check_output_path(args.out)

    server = None
    fixture = None
    note = "not used (no fetch benchmark selected)"
    try:
        if any(w == "fetch" for w, _, _, _ in selected):
            if args.fixture_url:
                fixture = FixtureURL(args.fixture_url)
                note = "%s (already running)" % fixture.base
            else:
                binary = args.fixture_binary or default_fixture_binary()
                server = FixtureProcess(binary)
                fixture = FixtureURL(server.start())
                note = "%s (started from %s)" % (fixture.base, os.path.abspath(binary))
            preflight(fixture)
            progress("fixture %s" % note)
        cases = make_cases(selected, args, fixture)
        started = time.monotonic()
        for k, case in enumerate(cases, 1):
            progress("[%d/%d] %s" % (k, len(cases), case.name))
            for rep in range(args.repetitions):
                try:
                    m = case.measure()
                except BenchmarkError as e:
                    raise BenchmarkError("%s: %s" % (case.name, e)) from None
                case.reps.append(m)
                progress("[%d/%d]   repetition %d/%d: %.3f s" % (k, len(cases), rep + 1,
                                                                args.repetitions, m.real_s))
        context = run_context(note)
    finally:
        if server:
            server.stop()

    # Done measuring: from here a signal cannot make "nothing recorded" true any more, so the
    # few milliseconds of writing finish whatever arrives.
    _signal_state["ignore"] = True
    write_atomically(args.out, gb_json(context, benchmark_rows(cases, args.repetitions)))
    progress("recorded %s: %d benchmark%s, %d repetition%s each, %.0f s"
             % (args.out, len(cases), "s"[:len(cases) != 1], args.repetitions, "s"[:args.repetitions != 1],
                time.monotonic() - started))
    width = max(len(c.name) for c in cases)
    for c in cases:
        times = [m.real_s for m in c.reps]
        print("%-*s  %10.1f ms  %s %.3f" % (width, c.name, statistics.median(times) * 1e3, c.summary_counter,
                                            statistics.median(m.counters[c.summary_counter] for m in c.reps)))
    return 0


def main(argv=None, as_script=False):
    args = parse_args(argv)
    # signal() works in the main thread only; main() called from another thread keeps the default.
    in_main = threading.current_thread() is threading.main_thread()
    previous = {}
    _signal_state.update(depth=0, pending=None, ignore=False)
    if in_main:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, _on_signal)
    try:
        return run(args, as_script)
    except UsageError as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 2
    except BenchmarkError as e:
        print("%s: %s; nothing recorded" % (PROG, e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: interrupted; nothing recorded" % PROG, file=sys.stderr)
        return 130
    except Interrupted:
        print("%s: terminated; nothing recorded" % PROG, file=sys.stderr)
        return 143
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main(as_script=True))
