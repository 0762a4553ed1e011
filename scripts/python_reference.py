#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The seed blog's Python programs, measured beside the C++ models (./bench --python runs this):
the sum of 0..n by seq, 2 threads (the GIL) and 2 processes (multiprocessing); 40 fetches of the
seed's site profile from concbench's fixture by seq, a ThreadPoolExecutor of 4 and asyncio
(aiohttp). Every answer is checked. The record is Google Benchmark-shaped JSON, one iteration row
per repetition, read as a C++ run is. Exit status: 0 recorded, 1 a benchmark failed, 2 bad input,
3 no room for its output or a bug, 130/143 interrupted; nothing is written unless every benchmark succeeded.
"""
import asyncio
import collections
import concurrent.futures
import contextlib
import datetime
import functools
import http.client
import itertools
import json
import math
import multiprocessing
import os
import platform
import queue
import re
import resource
import signal
import sys
import threading
import time
import urllib.request

import cli
import records
from cli import REPO, InputError
from fmt import plural

PROG = "python_reference"

# The seed's fetch profile. It MUST match the C++ side's kSeedSiteDelaysMs, kSeedRequestsPerSite
# (benchmarks/fetch/workload.h) and its body size (fixture::kDefaultBytes): the page puts both
# languages' profile:seed rows side by side. tests/test_python_reference.py reads those headers.
# The 4 latencies average 151.5 ms, so 40 sequential requests take the seed's 6.06 s.
SEED_SITE_DELAYS_MS = (80, 120, 160, 246)
SEED_REQUESTS_PER_SITE = 10  # the seed's `urls = [a, b, c, d] * 10`
SEED_BODY_BYTES = 1024
SEED_POOL_WORKERS = 4  # the seed's ThreadPoolExecutor(max_workers=4)
SEED_SUM_N = 100_000_000  # the seed's START, END = 0, 100000000
SEED_SUM_WORKERS = 2  # the seed's two threads and two processes
QUICK_SUM_N = 10_000_000
MAX_SUM_N = 4_000_000_000  # the C++ side's limit, so --n means the same on both
# The seed ran with fork (2016, before macOS switched to spawn), and the C++ fork models fork
# too, so process start-up costs the same kind of thing on both sides.
MP_START_METHOD = "fork"


class BenchmarkError(Exception):
    """A benchmark that did not get the right answer (exit 1); str() is one line."""


progress = functools.partial(cli.say, PROG)


def stopwatch():
    """Starts a clock; calling what it returns gives (wall s, the process's CPU s) since: all its
    threads', as Google Benchmark's MeasureProcessCPUTime takes it for the C++ rows (a pool's
    caller only waits: its thread's own CPU time was near 0)."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    return lambda: (time.perf_counter() - wall0, time.process_time() - cpu0)


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


def sum_seq(n, workers=1):
    """cpu/0basic.py: one loop in this thread."""
    return do_work(0, n)


def sum_threads(n, workers=SEED_SUM_WORKERS):
    """cpu/1thread.py: the range split over threads; the GIL runs one at a time."""
    result = []
    threads = [threading.Thread(target=lambda start, end: result.append(do_work(start, end)), args=chunk)
               for chunk in chunks(n, workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(result)  # a thread that died leaves the sum short, and measure_sum says so


def work_in_child(start, end, result):
    """A worker process: the parent alone decides when to stop. It ends workers with SIGTERM,
    which must simply end them, and Ctrl-C's SIGINT, sent to the whole process group, is its."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    result.put(do_work(start, end))


def sum_processes(n, workers=SEED_SUM_WORKERS):
    """cpu/2process.py: the range split over new processes, answers back over a Queue."""
    ctx = multiprocessing.get_context(MP_START_METHOD)
    result, parts = ctx.Queue(), []
    procs = [ctx.Process(target=work_in_child, args=(*chunk, result)) for chunk in chunks(n, workers)]
    try:
        for p in procs:
            p.start()
        # Read before join (the seed joined first): a child does not exit until its queued data is
        # flushed into the pipe, so joining first can deadlock (multiprocessing's docs).
        while len(parts) < workers:
            try:
                parts.append(result.get(timeout=0.2))
            except queue.Empty:
                # A child failed, or all have ended with answers missing: they will never come.
                # Read after the exit codes: a child that answered and exited between the wait
                # above and the codes has its answer in the pipe (it flushes before it exits).
                codes = [p.exitcode for p in procs]
                with contextlib.suppress(queue.Empty):
                    while len(parts) < workers:
                        parts.append(result.get(timeout=0.05))
                if len(parts) < workers and (any(codes) or None not in codes):
                    raise BenchmarkError("%d of %d worker processes gave no answer (exit statuses %s)"
                                         % (workers - len(parts), workers, codes)) from None
    finally:
        for p in procs:
            if p.is_alive():  # only after an error or an interrupt: stop them, quietly
                p.terminate()
            if p.pid is not None:
                p.join()
    return sum(parts)


SUM_MODELS = {"seq": sum_seq, "threads": sum_threads, "processes": sum_processes}


def measure_sum(model, n, workers):
    """One repetition of a sum model: (wall s, the process's CPU s, counters), answer checked."""
    def cpu():  # of the process and its children: cpu_util is their CPU time over wall time, as in C++
        return sum(r.ru_utime + r.ru_stime
                   for r in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))
    cpu0, clock = cpu(), stopwatch()
    got = SUM_MODELS[model](n, workers)
    (wall, process_cpu), cpu_s = clock(), cpu() - cpu0
    if got != exact_sum(n):
        raise BenchmarkError("wrong sum: got %d, expected %d" % (got, exact_sum(n)))
    return wall, process_cpu, {"items_per_second": n / wall, "workers": workers, "cpu_util": cpu_s / wall}


# ---- fetch: the seed's io/*.py against the fixture -------------------------------------------

_MASK64 = (1 << 64) - 1
PATTERN_PERIOD = 64 << 20  # fixture::kMaxBytes


def _mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def expected_body(request_id, n):
    """The body of n bytes the fixture sends for `request_id`: a port of fixtures/protocol.h."""
    i = request_id & _MASK64
    pos = (((i ^ (i >> 26) ^ (i >> 52)) * 0x9E3779B97F4A7C15) & _MASK64) % PATTERN_PERIOD
    word, skip = pos >> 3, pos & 7
    out = bytearray()
    while len(out) < skip + n:
        pattern = (_mix64(word ^ 0x636F6E6362656E63) & 0x3F3F3F3F3F3F3F3F) + 0x3030303030303030
        out += pattern.to_bytes(8, "little")
        word = (word + 1) % (PATTERN_PERIOD // 8)
    return bytes(out[skip:skip + n])


Request = collections.namedtuple("Request", "id target url body")  # body: the one expected
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy: the fixture is on this machine


class Fixture:
    """A --fixture-url, http://HOST:PORT, and the requests of the seed's profile on it."""

    def __init__(self, url):
        # The binary's --fixture_url rule: a numeric loopback address, a real port, no leading zeros.
        m = re.fullmatch(r"http://(127(?:\.[0-9]{1,3}){3}):([0-9]{1,5})", url)
        if (not m or m.group(2)[0] == "0" or int(m.group(2)) > 65535
                or any(int(b) > 255 or (len(b) > 1 and b[0] == "0") for b in m.group(1).split(".")[1:])):
            raise InputError("--fixture-url must be http://127.x.x.x:PORT (a loopback address, numeric), got %r" % url)
        self.host, self.port = m.group(1), int(m.group(2))
        self.base = "http://%s:%d" % (m.group(1), self.port)

    def accepted(self):
        """The connections the fixture has accepted so far (its /stats), or None if it did not say."""
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # URLError is an OSError
            with OPENER.open(self.base + "/stats", timeout=5) as r:
                return int(json.load(r)["accepted"])

    def request(self, request_id, delay_ms, nbytes):
        """The body is made here, before any clock."""
        target = "/data?bytes=%d&delay_ms=%d&status=200&id=%d" % (nbytes, delay_ms, request_id)
        return Request(request_id, target, self.base + target, expected_body(request_id, nbytes))


def seed_profile_delays():
    """The profile's 40 latencies in dispatch order: site 0, 1, 2, 3, 0, 1, ... (`urls * 10`)."""
    return list(SEED_SITE_DELAYS_MS) * SEED_REQUESTS_PER_SITE


def ideal_makespan(delays_ms, slots):
    """A lower bound on a run's time (s) in any dispatch order, as the C++ side computes it: the
    longest request, the sum over the slots, and for each k the k + 1 shortest of the k*C + 1
    longest requests (some slot runs k + 1 of them)."""
    d = sorted(delays_ms, reverse=True)
    bounds = [d[0], sum(d) / slots] + [sum(d[k * slots - k:k * slots + 1])
                                       for k in range(1, (len(d) - 1) // slots + 1)]
    return max(bounds) / 1000.0


def no_answer(exc):
    """What a request that got no response says: the exception, in one line."""
    return "no answer: %s: %s" % (type(exc).__name__, (str(exc).splitlines() or [""])[0])


def check_response(req, status, body):
    """What is wrong with a response, in one line, or None if it is the right one."""
    if status != 200:
        return "status %d" % status
    if len(body) != len(req.body):
        return "%d body bytes, expected %d" % (len(body), len(req.body))
    if body != req.body:
        first = next(i for i, (a, b) in enumerate(zip(body, req.body)) if a != b)
        return "byte %d of %d differs from the fixture's body for id %d" % (first, len(body), req.id)
    return None


@contextlib.contextmanager
def blocking_client(fixture, conc, keepalive, timeout):
    """io/0basic.py (conc 1) and io/1thread.py (a ThreadPoolExecutor of `conc`): yields run(batch) ->
    [(when each ended, None or what went wrong)]. keepalive=False is the seed's urlopen ("Connection:
    close"); keepalive=True sends the same GET by http.client, which urlopen is built on, keeping
    one connection per thread across batches, as the C++ keepalive:1 clients do."""
    local, connections = threading.local(), []

    def get(req):
        if not keepalive:
            with OPENER.open(req.url, timeout=timeout) as resp:
                return resp.status, resp.read()
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(fixture.host, fixture.port, timeout=timeout)
            connections.append(local.conn)
        try:
            local.conn.request("GET", req.target)
            resp = local.conn.getresponse()
            return resp.status, resp.read()
        except BaseException:
            local.conn.close()  # a half-read response must not be reused: the next reconnects
            raise

    def fetch(req):
        try:
            status, body = get(req)
        except Exception as e:  # noqa: BLE001 - every failure is one request's outcome
            return time.perf_counter(), no_answer(e)
        return time.perf_counter(), check_response(req, status, body)

    executor = concurrent.futures.ThreadPoolExecutor(max_workers=conc) if conc > 1 else None
    try:
        yield lambda batch: list((executor.map if executor else map)(fetch, batch))
    finally:
        if executor:
            executor.shutdown(wait=True, cancel_futures=True)
        for conn in connections:
            conn.close()


@contextlib.contextmanager
def asyncio_client(conc, keepalive, timeout):
    """io/2asyncio.py: one coroutine per request on one event loop, with aiohttp; as blocking_client,
    its session (a pool of `conc` connections) lasting across batches; keepalive=False closes each
    connection after its response, as the seed's one-off aiohttp.request calls did."""
    import aiohttp  # only this model needs it; main() has checked that it imports

    async def fetch(req):
        try:
            async with session.get(req.url) as resp:
                body = await resp.read()
                return time.perf_counter(), check_response(req, resp.status, body)
        except Exception as e:  # noqa: BLE001 - every failure is one request's outcome
            return time.perf_counter(), no_answer(e)

    async def open_session():  # trust_env=False, the default: no proxy from the environment
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc, force_close=not keepalive),
                                     timeout=aiohttp.ClientTimeout(total=timeout))

    async def fetch_all(batch):
        return await asyncio.gather(*(fetch(req) for req in batch))
    with asyncio.Runner() as loop:  # it runs only inside run(batch): nothing of it between batches
        session = loop.run(open_session())
        try:
            yield lambda batch: loop.run(fetch_all(batch))
        finally:
            loop.run(session.close())


def check_batch(outcomes, where=""):
    """BenchmarkError, in one line, if a request of the batch went wrong."""
    failed = [(i, what) for i, (_, what) in enumerate(outcomes) if what]
    if failed:
        raise BenchmarkError("%s%d of %d requests failed (first: request %d: %s)" % (
            where, len(failed), len(outcomes), failed[0][0], failed[0][1]))


def measure_fetch(model, fixture, conc, keepalive):
    """One repetition of a fetch model over the seed's profile, every response checked. As in C++, an
    untimed round of `conc` requests starts the threads and, under keepalive, opens the connections:
    connections_per_run (the fixture's count) is how many the timed run opened: 0, or 40 without."""
    delays = seed_profile_delays()
    requests = [fixture.request(i, d, SEED_BODY_BYTES) for i, d in enumerate(delays)]
    timeout = max(delays) / 1000.0 + 10.0  # its delay plus a margin for a busy machine, as in C++
    # The peak RSS below is this run's, as in C++; where the kernel refuses the reset (some containers
    # lack the file), it is left out, as in C++: the process's would include earlier benchmarks'.
    peak_reset = False
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        peak_reset = True
    client = (asyncio_client(conc, keepalive, timeout) if model == "asyncio"
              else blocking_client(fixture, conc, keepalive, timeout))
    with client as run:
        check_batch(run(requests[:conc]), "in the untimed round, ")
        before = fixture.accepted()
        clock, started = stopwatch(), time.perf_counter()
        outcomes = run(requests)
        wall, cpu = clock()
        after = fixture.accepted()
    check_batch(outcomes)
    latencies = sorted(ended - started for ended, _ in outcomes)
    ideal = ideal_makespan(delays, conc)
    with open("/proc/self/status") as f:
        peak_kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    # Less one: the query that read `after` is a connection the fixture counted.
    opened = {"connections_per_run": after - before - 1} if before is not None and after is not None else {}
    return wall, cpu, {
        "items_per_second": len(requests) / wall, "bytes_per_second": SEED_BODY_BYTES * len(requests) / wall,
        "ideal_s": ideal, "efficiency": ideal / wall, **opened,
        "p50_ms": nearest_rank(latencies, 50) * 1e3, "p99_ms": nearest_rank(latencies, 99) * 1e3,
        "max_ms": latencies[-1] * 1e3, **({"peak_rss_mb": peak_kib / 1024.0} if peak_reset else {})}


def nearest_rank(ordered, p):
    """The p-th percentile of sorted values as the C++ histogram takes it: the smallest value with
    at least ceil(p/100 * n) values at or below it (a median of 40 would average the 20th and
    21st: 40 ms above the C++ p50 at C = 4). The relative hair off keeps 0.99 * 100 at 99."""
    rank = max(1, math.ceil(p / 100 * len(ordered) * (1 - 1e-12)))
    return ordered[rank - 1]


def preflight(fixture):
    """Fail before any benchmark if nothing answers at the URL or it is not a concbench fixture:
    an id outside the runs' and a length that is not a multiple of 8 catch a wrong formula."""
    req = fixture.request((1 << 40) + 12345, 0, 4099)
    with blocking_client(fixture, 1, True, 5.0) as run:
        [(_, wrong)] = run([req])
    if wrong and wrong.startswith("no answer"):
        raise InputError("cannot reach the fixture at %s: %s" % (fixture.base, wrong))
    if wrong:
        raise InputError("%s does not serve concbench fixture bodies (GET %s: %s)"
                         % (fixture.base, req.target, wrong))


# ---- the run ---------------------------------------------------------------------------------

def plan(args):
    """[(name, measure)] of the benchmarks to run, in order; names as the C++ side spells them."""
    n40 = len(SEED_SITE_DELAYS_MS) * SEED_REQUESTS_PER_SITE
    out = [("python/sum/%s/workers:%d/n:%d" % (m, w, args.n), lambda m=m, w=w: measure_sum(m, args.n, w))
           for m, w in (("seq", 1), ("threads", SEED_SUM_WORKERS), ("processes", SEED_SUM_WORKERS))]
    out += [("python/fetch/%s/conc:%d/n:%d/profile:seed/bytes:%d/keepalive:%d"
             % (m, c, n40, SEED_BODY_BYTES, args.keepalive),
             lambda m=m, c=c: measure_fetch(m, args.fixture, c, bool(args.keepalive)))
            for m, c in (("seq", 1), ("pool", SEED_POOL_WORKERS), ("asyncio", n40))]
    return [(name, f) for name, f in out if re.search(args.filter or "", name + "/real_time")]


def context(args):
    """What produced the run, as the C++ runs record it (custom keys are strings; so is mhz_per_cpu
    here, a number in Google Benchmark's JSON: records compare it as a number)."""
    try:
        commit = records.git(REPO, "rev-parse", "--verify", "-q", "HEAD").strip()
        dirty = "true" if records.git(REPO, "status", "--porcelain", "--untracked-files=no", "--", ".",
                                      ":(exclude)results").strip() else "false"
    except records.GitError:
        commit, dirty = "unknown", "unknown"
    import aiohttp  # main() has made sure it imports
    return dict(records.this_machine(),
                date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                executable=os.path.abspath(__file__), num_cpus=os.cpu_count() or 1,
                load_avg=list(os.getloadavg()), library_build_type="release",
                concbench_commit=commit, concbench_dirty=dirty, python_version=platform.python_version(),
                aiohttp_version=aiohttp.__version__, multiprocessing_start_method=MP_START_METHOD,
                fetch_untimed_round="yes: threads and connections made before the clock (measure_fetch)",
                fixture=args.fixture.base if args.fixture else "not used")


def parse_args(argv):
    p = cli.Parser(prog="python_reference.py", description=__doc__)
    p.add_argument("--out", type=cli.path, metavar="FILE", help="where the JSON goes (whole, if every benchmark succeeded)")
    p.add_argument("--quick", action="store_true", help="n=%d and 1 repetition unless given" % QUICK_SUM_N)
    p.add_argument("--repetitions", type=cli.whole(1, 1000, "a repetition count"), metavar="N", help="default 3, --quick 1")
    p.add_argument("--n", type=cli.whole(0, MAX_SUM_N, "a size"), help="sum: 0..n-1 (default %d as the seed)" % SEED_SUM_N)
    p.add_argument("--fixture-url", metavar="URL", help="a running concbench_fixture, http://127.0.0.1:PORT")
    p.add_argument("--keepalive", type=int, choices=(0, 1), default=1,
                   help="1: reuse connections, as the C++ profile runs; 0: the seed's urlopen, one per request")
    p.add_argument("--filter", metavar="REGEX", type=cli.regex, help="only benchmarks whose name matches")
    p.add_argument("--list", action="store_true", help="list the benchmarks that would run, and exit")
    args = p.parse_args(argv)
    args.repetitions = args.repetitions or (1 if args.quick else 3)
    args.n = args.n if args.n is not None else (QUICK_SUM_N if args.quick else SEED_SUM_N)
    args.fixture = Fixture(args.fixture_url) if args.fixture_url is not None else None
    return args


def run(argv):
    args = parse_args(argv)
    selected = plan(args)
    if not selected:
        raise InputError("no benchmark matches --filter %r (--list shows them)" % args.filter)
    if args.list:
        print("\n".join(name + "/real_time" for name, _ in selected))
        return 0
    if not args.out:
        raise InputError("--out FILE is required (where the JSON goes)")
    cli.output(args.out)  # before the run, not after it
    if any("/fetch/" in name for name, _ in selected):
        if not args.fixture:
            raise InputError("the fetch benchmarks need --fixture-url"
                             " (./bench --python passes its fixture's)")
        preflight(args.fixture)
    import run_isolated  # the environment check and the one atomic JSON writer of the scripts
    environment = run_isolated.Environment()  # what else the machine was doing, as the C++ record has it
    benchmarks, started = [], time.monotonic()
    try:
        # In rounds, each benchmark once a round: a slow spell of the machine (seen here after
        # the C++ suite: seq 2.8-3.4 s a call for minutes, 1.8-2.2 s otherwise) falls on every
        # model, not on whichever ran all its repetitions then.
        for rep, (family, (name, measure)) in itertools.product(range(args.repetitions), enumerate(selected)):
            wall, cpu, counters = measure()
            progress("[%d/%d] %s: repetition %d/%d, %.3f s"
                     % (family + 1, len(selected), name, rep + 1, args.repetitions, wall))
            # A Google Benchmark iteration entry: times in ms, the counters as fields.
            benchmarks.append(dict(
                name=name + "/real_time", family_index=family, per_family_instance_index=0,
                run_name=name + "/real_time", run_type="iteration", repetitions=args.repetitions,
                repetition_index=rep, threads=1, iterations=1, real_time=wall * 1e3, cpu_time=cpu * 1e3,
                time_unit="ms", **counters))
    except BenchmarkError as e:
        progress("%s: %s; nothing recorded" % (name, e))
        return 1
    benchmarks.sort(key=lambda b: (b["family_index"], b["repetition_index"]))  # as Google Benchmark lists them
    ctx = context(args)
    for reason in environment.finish(ctx):
        progress("unstable environment during the run: %s; its record says so" % reason)
    run_isolated.write_json({"context": ctx, "benchmarks": benchmarks}, args.out)
    progress("recorded %s: %s in %.0f s" % (args.out, plural(len(selected), "benchmark"), time.monotonic() - started))
    return 0


def main(argv=None):
    # Re-executes under Debian's interpreter if this one lacks aiohttp, else says which apt
    # package to install and exits 2; one that has it runs the seed (python_version says which).
    cli.require(["aiohttp"], "the Python reference run", PROG, __name__)

    # SIGTERM and Ctrl-C end the run: what is running stops (SystemExit and KeyboardInterrupt,
    # raised in the main thread, run the finally blocks that stop worker processes and close
    # clients), and nothing is recorded.
    try:
        code = cli.main(run, PROG, argv)
    except SystemExit as e:
        code = e.code
    cli.say_stopped(PROG, code, "nothing recorded")
    return code


if __name__ == "__main__":
    sys.exit(main())
