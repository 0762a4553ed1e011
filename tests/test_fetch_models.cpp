// SPDX-License-Identifier: MIT
// Every fetch model against the fixture: verified bodies, failures counted with reasons, no leaks.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/context.h"
#include "common/flags.h"
#include "common/histogram.h"
#include "fetch/fixture.h"
#include "fetch/model.h"
#include "fetch/stats.h"
#include "fetch/suite.h"
#include "fetch/workload.h"
#include "fetch/wrk.h"
#include "fixtures/protocol.h"
#include "fixtures/server_process.h"
#include "proc.h"
#include "skip.h"
#include "thread_limit.h"
#include "timed_loop.h"

namespace concbench::fetch {
namespace {

using fixture::RequestSpec;
using std::chrono::milliseconds;

// One fixture server per test process, started on first use. Not a child the leak checks
// count: they look for children other than this one.
fixture::ServerProcess& server() {
  static fixture::ServerProcess s = fixture::ServerProcess::start(CONCBENCH_FIXTURE_PATH);
  return s;
}

Request fixture_request(const RequestSpec& spec) { return fetch::fixture_request(server().base_url(), spec); }

// n requests of 64 bytes, each held at the server until all n are held (gate=n), so that they
// are in flight together however slowly a loaded machine starts them. A model that cannot hold
// n at once gets 503s after the gate's timeout (8 s), which say how many it held.
std::vector<Request> gated_requests(int n) {
  std::vector<Request> requests;
  for (int i = 0; i < n; ++i)
    requests.push_back(fixture_request({.bytes = 64, .id = static_cast<uint64_t>(i), .gate = static_cast<uint64_t>(n)}));
  return requests;
}

// Bodies of many lengths (odd ones too, so verification crosses 8-byte words at every offset,
// and some over 16 KiB, so they arrive in several write callbacks) and a few short delays.
std::vector<Request> varied_requests(int n) {
  std::vector<Request> requests;
  for (int i = 0; i < n; ++i) {
    RequestSpec spec;
    spec.id = static_cast<uint64_t>(i);
    spec.bytes = static_cast<uint64_t>((i * 7919) % 70'000 + 1);
    spec.delay_ms = static_cast<uint64_t>((i % 3) * 5);
    requests.push_back(fixture_request(spec));
  }
  return requests;
}

using test::open_fds;

// Processes whose parent is this one, other than the fixture server.
std::vector<pid_t> stray_children() {
  std::vector<pid_t> found = test::children_of(getpid());
  std::erase(found, server().pid());
  return found;
}

// The fixture is a live child, so waitpid(-1, WNOHANG) must say 0 (children, none exited):
// a pid would mean a zombie some model left unreaped.
void expect_no_zombies_or_strays() {
  int status = 0;
  EXPECT_EQ(waitpid(-1, &status, WNOHANG), 0) << "an exited child was left unreaped";
  EXPECT_EQ(stray_children(), std::vector<pid_t>{}) << "child processes outlived the model";
}

ModelConfig config(int concurrency, milliseconds timeout = milliseconds(10'000),
                   bool keepalive = true) {
  ModelConfig c;
  c.concurrency = concurrency;
  c.client.timeout = timeout;
  c.client.connect_timeout = std::min(timeout, milliseconds(5'000));
  c.client.keepalive = keepalive;
  return c;
}

std::vector<Outcome> run_once(Model& model, const std::vector<Request>& requests) {
  std::vector<Outcome> outcomes(requests.size());
  model.run(requests, outcomes);
  return outcomes;
}

}  // namespace

// Test names and failure messages show the model's name rather than its bytes.
void PrintTo(const ModelInfo& info, std::ostream* out) { *out << info.name; }

namespace {

class FetchModel : public ::testing::TestWithParam<ModelInfo> {};

TEST_P(FetchModel, CompletesVerifiedRequestsAndLeaksNothing) {
  const ModelInfo& info = GetParam();
  const std::vector<Request> requests = varied_requests(24);
  constexpr int kConc = 4;
  {
    // Warm-up: runtimes that start lazily (OpenMP, oneTBB, libcurl) do so before the counts.
    auto model = info.make(config(kConc));
    run_once(*model, requests);
  }
  const int fds_before = open_fds();
  for (bool keepalive : {true, false, true}) {
    auto model = info.make(config(kConc, milliseconds(10'000), keepalive));
    for (int iteration = 0; iteration < 2; ++iteration) {
      const std::vector<Outcome> outcomes = run_once(*model, requests);
      // In flight at once, from the requests' own start and end times: at most C.
      EXPECT_LE(peak_overlap(outcomes), info.parallel() ? kConc : 1);
      EXPECT_EQ(describe_failures(outcomes), "") << "keepalive " << keepalive;
      for (size_t i = 0; i < requests.size(); ++i) {
        EXPECT_EQ(outcomes[i].failure, Failure::none) << "request " << i;
        EXPECT_EQ(outcomes[i].status, 200) << "request " << i;
        EXPECT_EQ(outcomes[i].bytes, requests[i].bytes) << "request " << i;
        EXPECT_GT(outcomes[i].seconds, 0) << "request " << i;
      }
    }
  }
  EXPECT_EQ(open_fds(), fds_before) << "descriptors leaked across model lifetimes";
  expect_no_zombies_or_strays();
}

// Every kind of failure the benchmarks must catch, each in a request of its own.
TEST_P(FetchModel, CountsFailuresWithTheirReasons) {
  const ModelInfo& info = GetParam();
  server();  // started before the descriptors are counted
  const int fds_before = open_fds();
  // A bound socket that never listens: connecting to it is refused, and no one else can take
  // the port meanwhile.
  const int closed = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(closed, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(closed, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(getsockname(closed, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int refused_port = ntohs(addr.sin_port);

  std::vector<Request> requests;
  std::vector<Failure> expected;
  auto add = [&](RequestSpec spec, Failure f) {
    requests.push_back(fixture_request(spec));
    expected.push_back(f);
  };
  for (uint64_t id = 0; id < 4; ++id) add({.bytes = 2000, .id = id}, Failure::none);
  add({.bytes = 2000, .status = 500, .id = 4}, Failure::status);
  add({.bytes = 2000, .status = 500, .id = 5}, Failure::status);
  add({.bytes = 0, .status = 503, .id = 6}, Failure::status);
  add({.bytes = 2000, .id = 7, .stall = true}, Failure::timeout);
  add({.bytes = 2000, .id = 8}, Failure::content);
  requests.back().id = 9;  // asks for body 8, checks it against body 9
  add({.bytes = 100, .id = 10}, Failure::size);
  requests.back().bytes = 200;  // asks for 100 bytes, expects 200
  add({.bytes = 2000, .id = 11}, Failure::none);
  requests.push_back(
      {"http://127.0.0.1:" + std::to_string(refused_port) + "/data?id=12", true, 12, 2000});
  expected.push_back(Failure::refused);
  // A 204 carries no body whatever bytes= asked: its empty answer is right, not a wrong size.
  add({.bytes = 2000, .status = 204, .id = 13}, Failure::none);

  const auto start = std::chrono::steady_clock::now();
  {
    // 2 s: long enough that on a loaded machine only the stall times out
    auto model = info.make(config(3, milliseconds(2000)));
    const std::vector<Outcome> outcomes = run_once(*model, requests);
    for (size_t i = 0; i < requests.size(); ++i)
      EXPECT_EQ(outcomes[i].failure, expected[i]) << "request " << i << ": " << requests[i].url;
    EXPECT_EQ(outcomes[4].status, 500);
    EXPECT_EQ(outcomes[6].status, 503);
    EXPECT_EQ(describe_failures(outcomes),
              "7 of 13 requests failed: 1 timed out, 1 connection refused, 2 status 500, "
              "1 status 503, 1 wrong body size, 1 wrong body content");
  }
  // The stall costs one client timeout, not a hang.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  close(closed);
  EXPECT_EQ(open_fds(), fds_before);
  expect_no_zombies_or_strays();
}

// Connections the fixture has accepted so far, from its /stats line. The query itself is one
// more connection, which the callers count.
long accepted_connections() {
  const std::optional<FixtureStats> stats = fixture_stats(server().base_url());
  if (!stats) {
    ADD_FAILURE() << "no accepted count in the fixture's /stats";
    return -1;
  }
  return static_cast<long>(stats->accepted);
}

// keepalive:0 must mean a connection per request in every model, and keepalive:1 exactly C
// connections for the model's whole life: the benchmark's untimed round (warm_round, which the
// fixture answers only once all C requests are in flight at once) opens all C, and no timed run
// after it opens another, at C = 4 and at C = 100, at 0 ms, however unevenly the model hands
// requests to its slots. Without the gate a round of C requests at 0 ms warmed 19 of `threads`'
// 100 slots and 6 of `tbb`'s, and the first timed runs opened the rest; without
// CURLMOPT_MAXCONNECTS libcurl's cache closed and reopened connections between a run's waves in
// the event-loop models. fork starts its C processes afresh for every run, so its connections
// last one run: at most C per run, as its name (a process per slot per run) says.
TEST_P(FetchModel, KeepAliveLabelsTellTheTruthAboutConnections) {
  const ModelInfo& info = GetParam();
  constexpr int kRuns = 3;
  for (int conc : {4, 100}) {
    const int c = info.parallel() ? conc : 1;
    const std::vector<Request> requests = varied_requests(c == 100 ? 500 : 24);  // 5+ waves a run
    for (bool keepalive : {false, true}) {
      auto model = info.make(config(c, milliseconds(10'000), keepalive));
      const std::string what =
          std::string(info.name) + " C=" + std::to_string(c) + " keepalive:" + std::to_string(keepalive);
      long before = accepted_connections();
      const std::vector<Request> warm = warm_round(server().base_url(), static_cast<size_t>(c), 100);
      EXPECT_EQ(describe_failures(run_once(*model, warm)), "") << what;
      const long warmed = accepted_connections() - before - 1;  // less the /stats query
      EXPECT_EQ(warmed, c) << what << ": the warm-up round";
      before = accepted_connections();
      for (int run = 0; run < kRuns; ++run) EXPECT_EQ(describe_failures(run_once(*model, requests)), "") << what;
      const long opened = accepted_connections() - before - 1;
      const long requests_made = static_cast<long>(requests.size()) * kRuns;
      if (!keepalive) {
        EXPECT_EQ(opened, requests_made) << what;
      } else if (info.name == "fork") {
        // A child that starts after the others have taken every request opens none.
        EXPECT_LE(opened, static_cast<long>(c) * kRuns) << what;
        EXPECT_LT(opened, requests_made / 2) << what << ": its children reused no connection";
      } else {
        EXPECT_EQ(opened, 0) << what << ": connections opened after the warm-up round";
      }
    }
  }
}

// Open loop: a request is never issued before it arrives, every model waits for arrivals
// rather than running ahead, and one that arrives late in the run still completes.
TEST_P(FetchModel, NoRequestStartsBeforeItArrives) {
  const ModelInfo& info = GetParam();
  std::vector<Request> requests = varied_requests(30);
  std::vector<Outcome> outcomes;
  {
    auto model = info.make(config(8));
    run_once(*model, requests);  // warm: connections open, workers started
    const double t0 = steady_seconds() + 0.05;
    for (size_t i = 0; i < requests.size(); ++i) requests[i].not_before = t0 + 0.004 * static_cast<double>(i);
    outcomes = run_once(*model, requests);
  }
  ASSERT_EQ(describe_failures(outcomes), "");
  for (size_t i = 0; i < requests.size(); ++i) {
    const double started = outcomes[i].finished - outcomes[i].seconds;
    EXPECT_GE(started, requests[i].not_before - 1e-6) << "request " << i << " started early";
  }
  expect_no_zombies_or_strays();
}

INSTANTIATE_TEST_SUITE_P(AllModels, FetchModel, ::testing::ValuesIn(all_models()),
                         [](const auto& param) { return std::string(param.param.name); });
// The floor under the models (peak/raw_http) is held to the same contract: a floor that skipped
// a check, dropped a connection or ran ahead of an arrival would be a lower bound on nothing.
INSTANTIATE_TEST_SUITE_P(Floor, FetchModel, ::testing::Values(raw_http_info()),
                         [](const auto& param) { return std::string(param.param.name); });

// It is a client for the fixture's URLs only: anything else is the run's error, said plainly.
TEST(RawHttp, RefusesWhatItCannotSpeak) {
  auto model = raw_http_info().make(config(2));
  for (const char* url : {"https://127.0.0.1:1/data", "http://localhost:80/data", "http://127.0.0.1/data",
                          "http://127.0.0.1:99999/data"}) {
    std::vector<Request> requests = {{url, false, 0, 0}};
    std::vector<Outcome> outcomes(1);
    EXPECT_THROW(model->run(requests, outcomes), std::runtime_error) << url;
  }
  // And it still works after those runs failed.
  EXPECT_EQ(describe_failures(run_once(*model, varied_requests(6))), "");
}

// A transport failure from the client without libcurl has no libcurl code: it says so, not
// "curl error 0 (No error)".
TEST(RawHttp, ItsTransportFailuresSayWhatBroke) {
  std::vector<Outcome> outcomes(2);
  outcomes[0].failure = Failure::none;
  outcomes[1].failure = Failure::transport;
  EXPECT_EQ(describe_failures(outcomes), "1 of 2 requests failed: 1 transport error (no usable HTTP answer)");
  outcomes[1].curl_code = CURLE_RECV_ERROR;
  EXPECT_EQ(describe_failures(outcomes), "1 of 2 requests failed: 1 curl error 56 (Failure when receiving data from the peer)");
}

// The fixture's counts from one /stats query, whose own connection they include.
FixtureStats stats_of(const std::string& base_url) {
  const std::optional<FixtureStats> stats = fixture_stats(base_url);
  EXPECT_TRUE(stats) << base_url << " did not answer /stats";
  return stats.value_or(FixtureStats{});
}

// Runs `requests` on `model`, waits (wait_until_fixture_idle, up to 5 s: a loaded machine's
// timers fire late) for the server to close the kept connections, and runs them again: the
// second run must succeed and open as many connections as the first (each /stats query's own
// left out). Without the server's close seen, there would be nothing to reconnect and the test
// would prove nothing. Returns the CPU time of the first run.
double expect_reconnect_after_idle_close(Model& model, const std::vector<Request>& requests, const std::string& url,
                                         const std::string& name) {
  const FixtureStats before = stats_of(url);
  const Usage usage = own_usage();
  EXPECT_EQ(describe_failures(run_once(model, requests)), "") << name;
  const double cpu = (own_usage() - usage).cpu_seconds;
  const FixtureStats ran = stats_of(url);
  EXPECT_EQ(wait_until_fixture_idle(url, std::chrono::seconds(5)), "")
      << name << ": the server did not close the idle connections";
  const FixtureStats closed = stats_of(url);
  EXPECT_EQ(describe_failures(run_once(model, requests)), "") << name;
  const FixtureStats after = stats_of(url);
  const double first = ran.accepted - before.accepted - 1, second = after.accepted - closed.accepted - 1;
  EXPECT_GE(first, 1) << name;
  EXPECT_EQ(second, first) << name << ": the second run did not open a connection for each one the server closed";
  return cpu;
}

// A kept connection the server closed while idle between runs is not reused: the next run
// reconnects, as libcurl does, rather than failing its request.
TEST(RawHttp, ReconnectsAfterTheServerClosedAnIdleConnection) {
  fixture::ServerProcess idle_closing = fixture::ServerProcess::start(CONCBENCH_FIXTURE_PATH, {"--idle-timeout-ms=200"});
  auto model = raw_http_info().make(config(2));
  std::vector<Request> requests;
  for (uint64_t id = 0; id < 4; ++id)
    requests.push_back(fetch::fixture_request(idle_closing.base_url(), {.bytes = 100, .id = id}));
  expect_reconnect_after_idle_close(*model, requests, idle_closing.base_url(), "raw_http");
}

// The epoll loop leaves a kept connection's socket registered between transfers (SocketLoop::
// on_socket). Here the server closes idle connections after 200 ms: the first three finish at
// once and are closed while the loop still waits for a fourth, delayed 700 ms, so their
// sockets turn readable while libcurl watches none of them. The loop must drop them rather
// than spin on level-triggered events (it would burn the 500 ms on CPU), and the next run must
// reconnect, possibly on the same descriptor numbers.
TEST(SocketLoop, ServerClosedKeptConnectionsNeitherSpinTheLoopNorLingerInIt) {
  fixture::ServerProcess idle_closing = fixture::ServerProcess::start(CONCBENCH_FIXTURE_PATH, {"--idle-timeout-ms=200"});
  for (const char* name : {"multi_socket", "coro", "multi_threads"}) {
    auto model = find_model(name)->make(config(4));
    std::vector<Request> requests;
    for (uint64_t id = 0; id < 4; ++id) {
      const uint64_t delay = id == 3 ? 700 : 0;
      requests.push_back(fetch::fixture_request(idle_closing.base_url(), {.bytes = 100, .delay_ms = delay, .id = id}));
    }
    // The second run comes once the fourth is closed too (200 ms after its answer).
    const double cpu = expect_reconnect_after_idle_close(*model, requests, idle_closing.base_url(), name);
    // CPU time, not wall time: a slow machine does not make an idle wait cost more of it.
    EXPECT_LT(cpu, 0.25) << name << " spent " << cpu << " s of CPU on 4 requests, most of them waiting";
  }
}

TEST(C10k, TheEventLoopModelsHoldTheirPlace) {
  std::set<std::string> held;
  for (const ModelInfo& info : all_models())
    if (info.no_c10k.empty()) held.insert(std::string(info.name));
  EXPECT_EQ(held, (std::set<std::string>{"pool", "threads", "multi", "multi_socket", "coro", "multi_threads"}));
}

// The C10k question's floor: the fixture and a client hold 10,000 requests in flight at once,
// every one answered and verified, within the client's timeouts. The fixture proves "at once":
// each request carries gate=10000, so it is held until all 10,000 are held together, and a gate
// not filled in 25 s (a fixture of its own for this) answers 503 instead: within ctest's 60 s,
// so the reason is seen (a sanitizer build holds them in a few seconds).
TEST(C10k, TenThousandConcurrentRequestsAreHeldAtOnceAndComplete) {
  raise_fd_limit();
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  constexpr int kConc = 10'000;
  int64_t needed = 0;
  for (const char* name : {"multi_threads", "multi_socket"})
    needed = std::max(needed, find_model(name)->descriptors(kConc) + 256);
  if (static_cast<int64_t>(limit.rlim_cur) < needed)
    CONCBENCH_SKIP("needs " + std::to_string(needed) + " descriptors, the limit is " + std::to_string(limit.rlim_cur));
  fixture::ServerProcess gated = fixture::ServerProcess::start(CONCBENCH_FIXTURE_PATH, {"--gate-timeout-ms=25000"});
  std::vector<Request> requests;
  for (int i = 0; i < kConc; ++i)
    requests.push_back(fetch::fixture_request(gated.base_url(), {.bytes = 64, .id = static_cast<uint64_t>(i), .gate = kConc}));
  for (const char* name : {"multi_threads", "multi_socket"}) {
    auto model = find_model(name)->make(config(kConc, milliseconds(120'000)));
    const auto start = std::chrono::steady_clock::now();
    const std::vector<Outcome> outcomes = run_once(*model, requests);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(describe_failures(outcomes), "") << name;  // a 503 says how many the gate held at most
    for (size_t i = 0; i < outcomes.size(); ++i)
      ASSERT_EQ(outcomes[i].bytes, requests[i].bytes) << name << " request " << i;
    // The client's own start and end times agree: every request was in flight when the last arrived.
    EXPECT_EQ(peak_overlap(outcomes), kConc) << name;
    // How long the run took is reported, not asserted: a slow machine is not a failure.
    std::printf("%s: %d requests held at once, %.1f s\n", name, kConc, took);
  }
}

// The descriptor count the C10k sweep plans with is what the models hold: C slots with every
// slot in use hold descriptors(C), give or take a few of the model's own (an epoll set a loop).
TEST(C10k, ModelsHoldTheDescriptorsTheirInfoDeclares) {
  constexpr int kConc = 64;
  const int hw = usable_cpus();
  const std::vector<Request> requests = gated_requests(kConc);  // all C in flight together
  for (const ModelInfo& info : all_models()) {
    if (!info.no_c10k.empty()) continue;
    const int before = open_fds();
    auto model = info.make(config(kConc));
    const std::vector<Outcome> outcomes = run_once(*model, requests);
    ASSERT_EQ(describe_failures(outcomes), "") << info.name;
    ASSERT_EQ(peak_overlap(outcomes), kConc) << info.name;
    const int held = open_fds() - before;
    EXPECT_GE(held, info.descriptors(kConc)) << info.name;
    EXPECT_LE(held, info.descriptors(kConc) + std::min(kConc, hw) + 16) << info.name;
  }
}

// multi_threads runs W = hardware threads loops (at most C), each on a thread of its own: the
// threads are counted as they run, and match. (How many multi handles each loop drives is
// checked by counting their descriptors in SpreadsItsConnectionsOverSmallMultiHandles.)
TEST(MultiThreads, RunsItsLoopsEachOnAThreadOfItsOwn) {
  const int hw = usable_cpus();
  for (int conc : {1, 8, 1500}) {
    const std::vector<Request> requests = varied_requests(std::max(40, conc));
    auto model = find_model("multi_threads")->make(config(conc));
    const std::vector<Outcome> outcomes = run_once(*model, requests);
    EXPECT_EQ(describe_failures(outcomes), "");
    EXPECT_EQ(model->threads_used(), std::min(conc, hw)) << "C = " << conc;
    EXPECT_LE(peak_overlap(outcomes), conc);
  }
}

// Each loop spreads its connections over multi handles of at most 20 (libcurl's per-transfer
// cache walk stays short): at C = 400 on 2 cores, 20 handles, whose socketpairs are 40
// descriptors beside the 400 connections and the loops' epoll sets. One handle a loop would
// hold 36 fewer.
TEST(MultiThreads, SpreadsItsConnectionsOverSmallMultiHandles) {
  constexpr int kConc = 400;
  const int hw = usable_cpus();
  const int handles = multi_threads_handles(kConc);
  EXPECT_GE(handles, kConc / 20);
  EXPECT_LE(handles, kConc / 20 + hw);
  const int before = open_fds();
  auto model = find_model("multi_threads")->make(config(kConc));
  const std::vector<Outcome> outcomes = run_once(*model, gated_requests(kConc));
  ASSERT_EQ(describe_failures(outcomes), "");
  ASSERT_EQ(peak_overlap(outcomes), kConc);
  const int held = open_fds() - before;
  EXPECT_GE(held, kConc + 2 * handles);
  EXPECT_LE(held, kConc + 2 * handles + std::min(kConc, hw) + 16);  // + an epoll set a loop
}

// oneTBB sizes its worker pool when the process's first arena starts (at least 256 threads) and
// never grows it; fetch/tbb waits for an earlier pool to end so that its arena of C threads is
// really C. Without that, C = 300 after C = 8 held 257 requests in flight, not 300.
TEST(TbbModel, AnArenaOfCThreadsAfterASmallerOneHoldsCRequests) {
  raise_fd_limit();
  {
    auto small = find_model("tbb")->make(config(8));
    EXPECT_EQ(describe_failures(run_once(*small, varied_requests(8))), "");
  }
  constexpr int kConc = 300;
  const std::vector<Request> requests = gated_requests(kConc);  // all C, or 503s after 8 s
  auto model = find_model("tbb")->make(config(kConc, milliseconds(60'000)));
  const std::vector<Outcome> outcomes = run_once(*model, requests);
  EXPECT_EQ(describe_failures(outcomes), "");
  EXPECT_EQ(peak_overlap(outcomes), kConc);
}

TEST(ForkModel, DeadWorkerIsAnErrorNeverAHangOrZombie) {
  const std::vector<Request> requests = varied_requests(12);
  ModelConfig c = config(3);
  c.crash_at_index = 5;
  auto model = make_fork(c);
  std::vector<Outcome> outcomes(requests.size());
  const auto start = std::chrono::steady_clock::now();
  try {
    model->run(requests, outcomes);
    FAIL() << "a worker killed by SIGKILL went unnoticed";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("killed by signal 9"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_EQ(outcomes[5].failure, Failure::lost);
  expect_no_zombies_or_strays();
  // The model still works afterwards.
  c.crash_at_index = -1;
  auto healthy = make_fork(c);
  EXPECT_EQ(describe_failures(run_once(*healthy, requests)), "");
}

// A thread refused part-way is the benchmark's error, thrown after the threads already started
// have finished their requests (they use the run's frame); the pool's workers likewise. Each
// request is held 1.5 s, so the three started are still running when the fourth is refused.
TEST(ThreadsModel, AThreadRefusedPartWayIsAnErrorNotTheRunsEnd) {
  std::vector<Request> requests;
  for (int i = 0; i < 8; ++i)
    requests.push_back(fixture_request({.bytes = 64, .delay_ms = 1'500, .id = static_cast<uint64_t>(i)}));
  const auto run_all = [&](auto make) {
    return [&, make] {
      return test::refused([&] {
        auto model = make(config(8));
        std::vector<Outcome> outcomes(requests.size());
        model->run(requests, outcomes);
      });
    };
  };
  const auto why = test::expect_refused_threads_are_errors({
      {"threads", run_all(make_threads)},
      {"pool", run_all(make_pool)},
  });
  if (why) CONCBENCH_SKIP(*why);
}

// A pool worker process that dies mid-run: an error naming it, the requests it held lost,
// never a hang or a zombie, and the pool refuses further runs rather than run short of workers.
TEST(ProcessPoolModel, DeadWorkerIsAnErrorNeverAHangOrZombie) {
  const std::vector<Request> requests = varied_requests(12);
  ModelConfig c = config(3);
  c.crash_at_index = 5;
  std::vector<Outcome> outcomes(requests.size());
  const auto start = std::chrono::steady_clock::now();
  {
    auto model = make_process_pool(c);
    try {
      model->run(requests, outcomes);
      FAIL() << "a worker killed by SIGKILL went unnoticed";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("died"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("killed by signal 9"), std::string::npos) << e.what();
    }
    EXPECT_EQ(outcomes[5].failure, Failure::lost);
    EXPECT_THROW(model->run(requests, outcomes), std::runtime_error);
    EXPECT_THROW(model->live_children_usage(), std::runtime_error);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  expect_no_zombies_or_strays();
}

// The workers' CPU time, asked between runs, grows by the requests they made, and asking
// leaves the pool as it was: the next run's answers are its own, none is lost or stale.
TEST(ProcessPoolModel, ItsWorkersSayWhatTheyUsedBetweenRuns) {
  const std::vector<Request> requests = varied_requests(200);
  auto model = make_process_pool(config(2));
  const Usage before = model->live_children_usage();
  EXPECT_EQ(describe_failures(run_once(*model, requests)), "");
  const Usage after = model->live_children_usage();
  EXPECT_GT(after.cpu_seconds, before.cpu_seconds) << "200 verified bodies of up to 70 KB took no CPU";
  EXPECT_EQ(describe_failures(run_once(*model, requests)), "");
  EXPECT_GT(model->live_children_usage().cpu_seconds, after.cpu_seconds);
}

// A worker that died between runs cannot say what it used: an error naming it, at once, never
// a hang, and the pool stops the rest.
TEST(ProcessPoolModel, AWorkerDeadBetweenRunsIsAnErrorWhenAskedForItsUsage) {
  const auto start = std::chrono::steady_clock::now();
  {
    auto model = make_process_pool(config(2));
    const std::vector<pid_t> workers = stray_children();
    ASSERT_EQ(workers.size(), 2u);
    ASSERT_EQ(kill(workers[1], SIGKILL), 0);
    try {
      model->live_children_usage();
      FAIL() << "a worker killed by SIGKILL answered for its usage";
    } catch (const std::runtime_error& e) {
      const std::string said = e.what();
      EXPECT_NE(said.find("its usage"), std::string::npos) << said;
      EXPECT_NE(said.find("pid " + std::to_string(workers[1]) + " killed by signal 9"), std::string::npos) << said;
      EXPECT_EQ(said.find("pid " + std::to_string(workers[0])), std::string::npos) << "the healthy worker exited";
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  expect_no_zombies_or_strays();
}

// The harness's timed loop holds SIGPIPE back for the whole run (SigpipeHold), so process_pool's
// pipe writes are writes alone: fetch/process_pool through Google Benchmark as the binary runs
// it, against this test's server. Unheld, each request's two writes (order and URL) cost six
// mask calls; held, none: the hold, taken before the warm-up round, counts its own few in each
// run of the body, however few iterations a slow machine makes.
TEST(ProcessPoolModel, TheHarnesssTimedLoopHoldsSigpipeForItsRequests) {
  Options options;
  options.conc = {2};
  options.n = {20};
  options.delay_ms = {0};
  options.bytes = {1024};
  use_fixture_url(server().base_url());
  register_benchmarks(make_sweep(Suite{false, 2}, options));
  signal_mask_calls = 0;
  const std::vector<test::TimedRun> runs =
      test::run_registered("^fetch/process_pool/conc:2/n:20/delay_ms:0/bytes:1024/keepalive:1/", 0.2);
  const int counted = signal_mask_calls;
  finish();
  ASSERT_EQ(runs.size(), 1u);
  ASSERT_EQ(runs[0].error, "");
  EXPECT_LT(counted, 20 * runs[0].iterations) << "the timed requests' writes each held SIGPIPE themselves";
  expect_no_zombies_or_strays();
}

TEST(FetchUrls, RealUrlModeCountsBytesAndChecksStatus) {
  const std::string base = server().base_url();
  std::vector<std::string> urls = {base + "/data?bytes=1500&id=1", base + "/data?bytes=10&id=2"};
  std::vector<Request> requests = url_requests(urls, 6);
  ASSERT_EQ(requests.size(), 6u);
  EXPECT_EQ(requests[2].url, urls[0]);  // urls * 3, in order
  for (const Request& r : requests) EXPECT_FALSE(r.verify);
  ModelConfig c = config(2);
  c.client = url_client_options();
  c.client.use_env_proxy = false;  // a test must reach the loopback fixture whatever the env says
  auto model = make_multi_socket(c);
  std::vector<Outcome> outcomes = run_once(*model, requests);
  EXPECT_EQ(describe_failures(outcomes), "");
  EXPECT_EQ(outcomes[0].bytes, 1500u);
  EXPECT_EQ(outcomes[1].bytes, 10u);

  urls = {base + "/data?status=500"};
  outcomes = run_once(*model, url_requests(urls, 2));
  EXPECT_EQ(describe_failures(outcomes), "2 of 2 requests failed: 2 status 500");
}

// ---- ideal_s: a lower bound on any schedule ----

// The histogram the benchmarks report percentiles from, on latencies measured here: within
// 0.4% (the bucket bound) of the exact nearest-rank percentiles of the same samples.
TEST(LatencyHistogram, AgreesWithExactPercentilesOfMeasuredLatencies) {
  std::vector<Request> requests;
  for (int i = 0; i < 3000; ++i)
    requests.push_back(fixture_request({.bytes = 1024, .delay_ms = static_cast<uint64_t>(i % 7) * 3,
                                        .id = static_cast<uint64_t>(i)}));
  auto model = find_model("multi_socket")->make(config(300));
  std::vector<Outcome> outcomes(requests.size());
  const double ready = steady_seconds();
  model->run(requests, outcomes);
  ASSERT_EQ(describe_failures(outcomes), "");
  Histogram h;
  std::vector<uint64_t> exact;
  for (const Outcome& o : outcomes) {
    exact.push_back(static_cast<uint64_t>((o.finished - ready) * 1e9));
    h.record(exact.back());
  }
  std::sort(exact.begin(), exact.end());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    // the rank in whole numbers (hundredths of a percent): doubles round 99.9% of 1000 above 999
    const auto rank = std::max<size_t>(1, (std::llround(p * 100) * exact.size() + 9999) / 10000);
    const double want = static_cast<double>(exact[rank - 1]);
    EXPECT_NEAR(static_cast<double>(h.percentile(p)), want, 0.004 * want + 0.5) << "p" << p;
  }
}

// The proof that the open-loop correction is real: the fixture stops for 200 ms in the middle
// of a run. Measured open loop (latency from each request's arrival) the pause is in the p99;
// measured closed loop (latency from when a request was sent, as a closed-loop load generator
// records it) the same pause is in the max only, because the requests that would have met it
// were never sent: coordinated omission. The closed half is such a generator (wrk's way), not
// concbench's closed loop, whose latencies count from the iteration's start, queueing included
// (test_latency_counts_the_wait_for_a_slot_in_every_model in tests/test_fetch_labels.py): what
// this proves is the open loop's p99.
TEST(OpenLoop, APauseShowsInTheOpenLoopP99AndHidesFromTheClosedLoopOne) {
  constexpr int kN = 4000;
  constexpr double kRate = 4000;  // a second of arrivals, 800 of them during the pause
  std::vector<Request> requests;
  for (int i = 0; i < kN; ++i)
    requests.push_back(fixture_request({.bytes = 1024, .delay_ms = 1, .id = static_cast<uint64_t>(i)}));
  for (const char* name : {"multi_socket", "coro", "pool"}) {
    SCOPED_TRACE(name);
    auto model = find_model(name)->make(config(10));
    std::vector<Outcome> outcomes(requests.size());
    run_once(*model, requests);  // warm
    auto pause_at = [&](double when) {
      return std::thread([when] {
        std::this_thread::sleep_until(steady_time(when));
        CURL* curl = curl_easy_init();
        curl_easy_setopt(curl, CURLOPT_URL, (server().base_url() + "/pause?ms=200").c_str());
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char*, size_t a, size_t b, void*) { return a * b; });
        curl_easy_perform(curl);
        curl_easy_cleanup(curl);
      });
    };
    // Open loop.
    const double t0 = steady_seconds() + 0.01;
    for (int i = 0; i < kN; ++i) requests[i].not_before = t0 + i / kRate;
    std::thread pauser = pause_at(t0 + 0.3);
    model->run(requests, outcomes);
    pauser.join();
    ASSERT_EQ(describe_failures(outcomes), "");
    Histogram open;
    for (int i = 0; i < kN; ++i) open.record(static_cast<uint64_t>((outcomes[i].finished - requests[i].not_before) * 1e9));
    // Closed loop: the same requests, each sent when a slot frees; the pause comes a tenth of a
    // second in, while the run is going (it takes about N / C round trips).
    for (Request& r : requests) r.not_before = 0;
    pauser = pause_at(steady_seconds() + 0.1);
    model->run(requests, outcomes);
    pauser.join();
    ASSERT_EQ(describe_failures(outcomes), "");
    Histogram closed;
    for (const Outcome& o : outcomes) closed.record(static_cast<uint64_t>(o.seconds * 1e9));
    EXPECT_GE(open.percentile(99), 150'000'000u) << "the pause is missing from the open-loop p99";
    EXPECT_GE(closed.max(), 150'000'000u) << "the closed-loop run did not meet the pause";
    EXPECT_LT(closed.percentile(99), 100'000'000u) << "the closed-loop p99 shows the pause";
  }
}

TEST(Wrk, ReadsTheCountAndRefusesErrors) {
  const std::string head =
      "Running 1s test @ http://127.0.0.1:4000/data?bytes=1024\n  1 threads and 10 connections\n"
      "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   98.00us   20.00us   1.00ms   90.00%\n";
  const WrkResult r = parse_wrk_output(head + "  95123 requests in 1.00s, 110.00MB read\nRequests/sec:  95123.00\n");
  EXPECT_EQ(r.requests, 95123);
  EXPECT_DOUBLE_EQ(r.seconds, 1.0);
  EXPECT_DOUBLE_EQ(parse_wrk_output(head + "  300 requests in 500.00ms, 1.00MB read\n").seconds, 0.5);
  EXPECT_THROW(parse_wrk_output(head), std::runtime_error);
  EXPECT_THROW(parse_wrk_output(head + "  95 requests in 1.00s, 1MB read\n  Socket errors: connect 0, read 3, write 0, timeout 0\n"),
               std::runtime_error);
  EXPECT_THROW(parse_wrk_output(head + "  95 requests in 1.00s, 1MB read\n  Non-2xx or 3xx responses: 95\n"),
               std::runtime_error);
  // No request made: why, where wrk says it, is the message.
  try {
    parse_wrk_output(head + "  0 requests in 1.00s, 0.00B read\n  Socket errors: connect 0, read 0, write 0, timeout 1000\n");
    ADD_FAILURE() << "no error for 0 requests";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "wrk: Socket errors: connect 0, read 0, write 0, timeout 1000 (0 requests in 1.00s, 0.00B read)");
  }
  try {
    parse_wrk_output(head + "  0 requests in 1.00s, 0.00B read\n");
    ADD_FAILURE() << "no error for 0 requests";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "wrk made no requests (0 requests in 1.00s, 0.00B read)");
  }
}

// peak/wrk/conc:C/delay_ms:L/bytes:B asks the fixture for what its name says: C connections and
// responses held L ms (the fixture's tests hold it to the delay), B bytes long.
// peak/wrk starts only once the fixture holds no other client's connections: a smoke run under
// the sanitizers had wrk make no request in its one second, right after peak/raw_http closed
// 10,000. Twenty idle connections hold it; once they close it goes on; a server that does not
// answer is said to.
TEST(Wrk, WaitsUntilTheFixtureHoldsNoOtherConnections) {
  fixture::ServerProcess own = fixture::ServerProcess::start(CONCBENCH_FIXTURE_PATH);
  // 20 connections to the server, each sending `request` first
  const auto connect_20 = [&own](const std::string& request) {
    std::vector<int> fds;
    for (int i = 0; i < 20; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(own.port()));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
      EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
      fds.push_back(fd);
    }
    return fds;
  };
  std::vector<int> held = connect_20("");
  EXPECT_EQ(wait_until_fixture_idle(own.base_url(), milliseconds(500)),
            "the fixture server still held 20 connections of other clients after 500 ms");
  for (const int fd : held) close(fd);
  EXPECT_EQ(wait_until_fixture_idle(own.base_url(), std::chrono::seconds(10)), "");
  // Clients gone while their requests were delayed (a run that failed) leave connections the
  // server answers, and closes, only at the delay's end: they send nothing more, and holding
  // the next benchmark up to 10 minutes for them failed it.
  held = connect_20("GET /data?delay_ms=60000 HTTP/1.1\r\nHost: x\r\n\r\n");
  // all 20 accepted (each with its /stats query's own) before they go
  for (int tries = 0; tries < 500; ++tries) {
    const std::optional<FixtureStats> now = fixture_stats(own.base_url());
    if (now && now->connections >= 21) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  for (const int fd : held) close(fd);
  EXPECT_EQ(wait_until_fixture_idle(own.base_url(), std::chrono::seconds(5)), "");
  const std::optional<FixtureStats> after = fixture_stats(own.base_url());
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->connections - 1, 20);  // still open, each half_closed
  EXPECT_EQ(after->half_closed, 20);
  own.stop();
  EXPECT_EQ(wait_until_fixture_idle(own.base_url(), milliseconds(100)),
            "the fixture server at " + own.base_url() + " did not answer /stats");
}

TEST(Wrk, AsksForTheConnectionsDelayAndSizeItsNameSays) {
  const std::vector<std::string> args = wrk_command("http://127.0.0.1:4000", 1000, 10, 1024, 3);
  ASSERT_EQ(args.size(), 5u);
  EXPECT_EQ(args[2], "-c1000");
  EXPECT_EQ(args[3], "-d3s");
  const std::string& url = args.back();
  EXPECT_TRUE(url.starts_with("http://127.0.0.1:4000/data?")) << url;
  EXPECT_NE(url.find("delay_ms=10&"), std::string::npos) << url;
  EXPECT_NE(url.find("bytes=1024&"), std::string::npos) << url;
  EXPECT_NE(wrk_command("http://127.0.0.1:4000", 10, 0, 1024, 1).back().find("delay_ms=0&"), std::string::npos);
}

// A run's rate counts its start (connections opened, responses ramping up): at C = 1000 a 1 s
// run's rate was a median 11% and 28% below the steady one in two sets of runs. The steady rate
// is the longer run's excess.
TEST(Wrk, TheRateIsWhatTheLongerRunDrewBeyondTheShorter) {
  const WrkResult more = beyond({60'000, 1.01}, {210'000, 3.01});
  EXPECT_DOUBLE_EQ(more.requests, 150'000);
  EXPECT_DOUBLE_EQ(more.seconds, 2.0);
  EXPECT_THROW(beyond({60'000, 1.0}, {60'000, 3.0}), std::runtime_error);  // drew nothing more
  EXPECT_THROW(beyond({60'000, 3.0}, {210'000, 3.0}), std::runtime_error);  // ran no longer
}

TEST(ArrivalOffsets, PoissonArrivalsOfferTheirLabelledRate) {
  // The seeded gaps alone spanned 3% less or more than n / rate: the label was not the load.
  for (const auto& [n, rate] : {std::pair{500, 1000.0}, {1000, 2000.0}, {5000, 10000.0}}) {
    const std::vector<double> even = arrival_offsets(n, rate, false);
    const std::vector<double> poisson = arrival_offsets(n, rate, true);
    ASSERT_EQ(poisson.size(), static_cast<size_t>(n));
    EXPECT_EQ(poisson.front(), 0.0);
    EXPECT_NEAR(poisson.back(), even.back(), 1e-9 * even.back()) << n;
    EXPECT_TRUE(std::is_sorted(poisson.begin(), poisson.end())) << n;
    // Still Poisson-like: exponential gaps have a coefficient of variation of 1, even ones 0.
    EXPECT_GT(gap_cv(poisson), 0.8) << n;
    EXPECT_LT(gap_cv(poisson), 1.2) << n;
    EXPECT_NEAR(gap_cv(even), 0.0, 1e-6) << n;
  }
}

TEST(ArrivalOffsets, GapCvIsTheGapsStandardDeviationOverTheirMean) {
  EXPECT_NEAR(gap_cv(std::vector<double>{0, 1, 2, 3}), 0.0, 1e-12);
  EXPECT_NEAR(gap_cv(std::vector<double>{0, 1, 3}), 1.0 / 3, 1e-12);  // gaps 1 and 2: 0.5 / 1.5
  EXPECT_NEAR(gap_cv(std::vector<double>{5, 5, 6, 8}), std::sqrt(2.0 / 3), 1e-12);  // gaps 0, 1, 2: mean 1
  EXPECT_EQ(gap_cv(std::vector<double>{0, 1}), 0.0);  // one gap has no spread
  EXPECT_EQ(gap_cv(std::vector<double>{2, 2, 2}), 0.0);  // no mean to divide by
}

TEST(IdealMakespan, OneLatencyIsRoundsTimesLatency) {
  EXPECT_DOUBLE_EQ(ideal_makespan(uniform_delays(10, 100), 4), 0.3);  // ceil(10/4) = 3
  EXPECT_DOUBLE_EQ(ideal_makespan(uniform_delays(10, 100), 10), 0.1);
  EXPECT_DOUBLE_EQ(ideal_makespan(uniform_delays(10, 100), 1), 1.0);
  EXPECT_DOUBLE_EQ(ideal_makespan(uniform_delays(10, 100), 50), 0.1);  // C > N
  EXPECT_DOUBLE_EQ(ideal_makespan(uniform_delays(10'000, 100), 1000), 1.0);
  EXPECT_DOUBLE_EQ(ideal_makespan(uniform_delays(1000, 100), 300), 0.4);
  EXPECT_DOUBLE_EQ(ideal_makespan(uniform_delays(40, 0), 4), 0.0);
}

// The bound must hold for every order a model may dispatch in: checked against the best of
// all assignments of small mixed sets to slots, by brute force.
TEST(IdealMakespan, NeverExceedsTheBestScheduleOfMixedLatencies) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 8), slots = 1 + static_cast<int>(rng() % 4);
    std::vector<int> d(static_cast<size_t>(n));
    for (int& x : d) x = 10 * (1 + static_cast<int>(rng() % 30));
    int64_t best = INT64_MAX;
    std::vector<int64_t> load(static_cast<size_t>(slots));
    for (int64_t code = 0, all = static_cast<int64_t>(std::pow(slots, n)); code < all; ++code) {
      std::fill(load.begin(), load.end(), 0);
      for (int64_t i = 0, rest = code; i < n; ++i, rest /= slots) load[static_cast<size_t>(rest % slots)] += d[static_cast<size_t>(i)];
      best = std::min(best, *std::max_element(load.begin(), load.end()));
    }
    EXPECT_LE(ideal_makespan(d, slots), static_cast<double>(best) / 1000.0 + 1e-12) << trial;
  }
  // openmp's static blocks of the seed profile at C = 10 took 606 ms of latency, less than
  // dispatching in order (738 ms), the bound this replaced.
  EXPECT_DOUBLE_EQ(ideal_makespan(seed_profile_delays(), 10), 0.606);
  // Two slots share {80, 120, 160, 246} x 2 evenly: 606 ms each, the bound exactly.
  EXPECT_DOUBLE_EQ(ideal_makespan(std::vector<int>{80, 120, 160, 246, 80, 120, 160, 246}, 2), 0.606);
}

TEST(IdealMakespan, SeedProfile) {
  const std::vector<int> seed = seed_profile_delays();
  ASSERT_EQ(seed.size(), 40u);
  EXPECT_EQ(seed[0], 80);
  EXPECT_EQ(seed[3], 246);
  EXPECT_EQ(seed[4], 80);                              // urls * 10: interleaved
  EXPECT_NEAR(ideal_makespan(seed, 1), 6.06, 1e-9);   // the seed's sequential time
  EXPECT_DOUBLE_EQ(ideal_makespan(seed, 40), 0.246);  // the slowest site
}

// ---- --fetch_urls parsing ----

TEST(FetchUrls, ParsesUrlsSkippingBlanksAndComments) {
  const auto urls = parse_url_list(
      "# sites\n\nhttp://example.com/\n   https://example.org:8443/a?b=c  \r\n  # more\n", "list");
  EXPECT_EQ(urls,
            (std::vector<std::string>{"http://example.com/", "https://example.org:8443/a?b=c"}));
}

void expect_usage_error(const std::string& text, const std::string& needle) {
  try {
    parse_url_list(text, "urls.txt");
    FAIL() << "accepted: " << text;
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
  }
}

TEST(FetchUrls, RejectsBadLinesNamingFileAndLine) {
  expect_usage_error("http://ok/\nftp://example.com/x\n",
                     "urls.txt:2: 'ftp://example.com/x' is not http");
  expect_usage_error("http://a b/\n", "urls.txt:1:");
  expect_usage_error("example.com\n", "urls.txt:1: 'example.com'");
  expect_usage_error("# only comments\n\n", "lists no URLs");
  expect_usage_error("", "lists no URLs");
  // A NUL once cut the URL short (accepted) or the message (no reason given); bytes outside
  // printable ASCII are quoted as \xNN, so no escape sequence reaches the terminal.
  expect_usage_error(std::string("http://a.example/\0x\n", 20),
                     "urls.txt:1: 'http://a.example/\\x00x' contains a control character");
  expect_usage_error("http://a.example/\x1b[2J\n", "'http://a.example/\\x1b[2J' contains a control character");
  expect_usage_error("\xff\xfe\n", "urls.txt:1: '\\xff\\xfe' is not a URL");
}

TEST(FetchUrls, FlagReportsUnreadableFile) {
  FlagSet flags;
  Options options;
  add_flags(flags, options);
  for (const std::string& path : {std::string("/nonexistent/urls.txt"), std::string("/tmp")}) {
    std::string arg = "--fetch_urls=" + path;
    char prog[] = "concbench";
    char* argv[] = {prog, arg.data(), nullptr};
    int argc = 2;
    EXPECT_THROW(flags.parse(&argc, argv), UsageError) << path;
  }
  char path[] = "/tmp/fetch_urls_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "# two sites\nhttp://127.0.0.1:1/a\n\nhttp://127.0.0.1:1/b\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  std::string arg = std::string("--fetch_urls=") + path;
  char prog[] = "concbench";
  char* argv[] = {prog, arg.data(), nullptr};
  int argc = 2;
  flags.parse(&argc, argv);
  unlink(path);
  EXPECT_EQ(options.urls.size(), 2u);
  // URL runs: seq and every parallel model, N = 10 x URLs, named profile:urls.
  const Sweep sweep = make_sweep(Suite{false, 2}, options);
  const auto points = sweep_points(sweep);
  ASSERT_FALSE(points.empty());
  for (const auto& [info, p] : points) {
    EXPECT_EQ(p.profile, "urls");
    EXPECT_EQ(p.n, 20);
    const std::string name = benchmark_name(info->name, p);
    EXPECT_TRUE(name.ends_with("/n:20/profile:urls/keepalive:1")) << name;
  }
}

// ---- the naming contract with the plotting scripts, and the default sweeps ----

TEST(FetchSweep, NamesFollowTheContract) {
  const std::regex grammar(
      "fetch/(seq|pool|threads|fork|process_pool|openmp|tbb|multi|multi_socket|coro|multi_threads)/"
      "conc:[0-9]+/n:[0-9]+/"
      "(delay_ms:[0-9]+|profile:seed)/bytes:[0-9]+/keepalive:[01]");
  const std::regex open_grammar(
      "fetch/open/(pool|threads|multi_socket|coro)/rate:[0-9]+/conc:1000/n:[0-9]+/delay_ms:10/bytes:1024/"
      "keepalive:1/arrivals:uniform");
  bool low_limit = false;
  for (bool quick : {false, true}) {
    const Sweep sweep = make_sweep(Suite{quick, 2}, Options{});
    const auto points = sweep_points(sweep);
    std::set<std::string> names, profiled;
    std::map<std::string, std::set<int>> open_rates;
    for (const auto& [info, p] : points) {
      const std::string name = benchmark_name(info->name, p);
      EXPECT_TRUE(names.insert(name).second) << "registered twice: " << name;
      if (p.rate > 0) {
        // Open loop: half a second of arrivals (a quarter with --quick), at most 1000 in flight.
        EXPECT_TRUE(std::regex_match(name, open_grammar)) << name;
        EXPECT_EQ(p.n, static_cast<int>(p.rate * (quick ? 0.25 : 0.5))) << name;
        open_rates[std::string(info->name)].insert(p.rate);
        continue;
      }
      EXPECT_TRUE(std::regex_match(name, grammar)) << name;
      if (!info->parallel()) {
        EXPECT_EQ(p.conc, 1) << name;
      }
      EXPECT_LE(p.conc, p.n) << name;
      if (p.profile == "seed") {
        EXPECT_EQ(p.n, 40) << name;
        EXPECT_TRUE(p.keepalive) << name;
        profiled.insert(std::string(info->name));
      }
    }
    EXPECT_EQ(profiled.size(), all_models().size()) << "every model runs the seed profile";
    const std::set<int> rates = quick ? std::set<int>{2000, 10'000}
                                      : std::set<int>{1000, 2000, 5000, 10'000, 15'000, 20'000, 40'000};
    EXPECT_EQ(open_rates.size(), 4u);
    for (const auto& [model, got] : open_rates) EXPECT_EQ(got, rates) << model;
    if (!quick) {
      for (const char* model : {"pool", "threads", "multi", "multi_socket", "coro"}) {
        const std::string target = std::string("fetch/") + model +
                                   "/conc:1000/n:10000/delay_ms:100/bytes:1024/keepalive:1";
        EXPECT_EQ(names.count(target), 1u) << target;
      }
      EXPECT_EQ(names.count("fetch/pool/conc:4/n:40/profile:seed/bytes:1024/keepalive:1"), 1u);
    }
    // C10k: every model without a reason to be left out, at every C of the sweep (one with
    // --quick) whose descriptors fit the limit.
    // The limit the sweep plans with must be the hard limit, read here on its own: a
    // raise_fd_limit() that failed would otherwise drop every C10k point unnoticed.
    const std::vector<int> c10k = quick ? std::vector<int>{2000} : std::vector<int>{2000, 5000, 10'000};
    rlimit limit{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
    const int64_t hard = limit.rlim_max == RLIM_INFINITY ? std::numeric_limits<int64_t>::max()
                                                         : static_cast<int64_t>(limit.rlim_max);
    EXPECT_EQ(sweep.fd_limit, hard);
    if (hard < 10'256) {
      low_limit = true;  // skipped after the other checks
      continue;
    }
    for (const ModelInfo& info : all_models()) {
      for (int c : c10k) {
        const std::string target = "fetch/" + std::string(info.name) + "/conc:" + std::to_string(c) +
                                   "/n:10000/delay_ms:100/bytes:1024/keepalive:1";
        // C = 2000 fits any limit past the skip above, whatever the model holds per slot.
        EXPECT_LE(info.descriptors(2000) + 256, 10'256) << info.name;
        const bool fits = c == 2000 || info.descriptors(c) + 256 <= hard;
        EXPECT_EQ(names.count(target), info.no_c10k.empty() && fits ? 1u : 0u) << target;
      }
      EXPECT_EQ(names.count("fetch/seq/conc:1/n:40/profile:seed/bytes:1024/keepalive:1"), 1u);
    }
  }
  // The floor where the targets are set, in the full sweep only, for the fixture only.
  const std::vector<Point> floor = make_sweep(Suite{false, 2}, Options{}).floor_points;
  const auto at = [&](int c, int d) {
    return std::count(floor.begin(), floor.end(), Point{c, c, d, "", 1024, true});
  };
  EXPECT_EQ(at(1000, 0), 1);
  EXPECT_EQ(at(1000, 100), 1);
  EXPECT_EQ(at(10'000, 100), make_sweep(Suite{false, 2}, Options{}).fd_limit >= 10'256 ? 1 : 0);
  EXPECT_EQ(make_sweep(Suite{true, 2}, Options{}).floor_points, std::vector<Point>{});
  Options urls;
  urls.urls = {"http://127.0.0.1:1/"};
  EXPECT_EQ(make_sweep(Suite{false, 2}, urls).floor_points, std::vector<Point>{});
  EXPECT_LT(sweep_points(make_sweep(Suite{true, 2}, Options{})).size(),
            sweep_points(make_sweep(Suite{false, 2}, Options{})).size());
  if (low_limit) CONCBENCH_SKIP("the C10k names were not checked: they need a hard descriptor limit of 10,256");
}

TEST(FetchSweep, FlagsNameAnExactGrid) {
  Options options;
  options.conc = {1, 1000};
  options.n = {10000};
  options.delay_ms = {100};
  const auto points = sweep_points(make_sweep(Suite{false, 2}, options));
  std::set<std::string> names;
  for (const auto& [info, p] : points) names.insert(benchmark_name(info->name, p));
  // Exactly the grid asked for, uncapped (seq's 1000 s point is what was asked for): every
  // model at C = 1 and 1,000 (seq, one request at a time, at 1 only), N = 10,000, L = 100 ms,
  // and the seed's profile (N = 40) at each C no larger than its 40 requests. No open loop,
  // body sizes or keepalive:0 unless asked.
  std::set<std::string> expected;
  for (const ModelInfo& info : all_models()) {
    const std::string model = "fetch/" + std::string(info.name);
    expected.insert(model + "/conc:1/n:10000/delay_ms:100/bytes:1024/keepalive:1");
    expected.insert(model + "/conc:1/n:40/profile:seed/bytes:1024/keepalive:1");
    if (info.parallel()) expected.insert(model + "/conc:1000/n:10000/delay_ms:100/bytes:1024/keepalive:1");
  }
  EXPECT_EQ(names, expected);
  EXPECT_EQ(names.size(), 32u);  // 11 models, seq at C = 1 alone
}

}  // namespace
}  // namespace concbench::fetch
