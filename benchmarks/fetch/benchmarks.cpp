// SPDX-License-Identifier: MIT
// Registers every fetch model over the sweeps, with one benchmark body that checks every response.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/context.h"
#include "common/histogram.h"
#include "common/process.h"
#include "common/registry.h"
#include "fetch/fixture.h"
#include "fetch/model.h"
#include "fetch/socket_loop.h"
#include "fetch/stats.h"
#include "fetch/suite.h"
#include "fetch/workload.h"
#include "fetch/wrk.h"
#include "fixtures/protocol.h"

namespace concbench::fetch {
namespace {

constexpr int kMaxConc = 10'000;  // each in-flight request holds a descriptor on both sides
constexpr int kMaxN = 1'000'000;
constexpr int kFixtureMaxDelayMs = static_cast<int>(fixture::kMaxDelayMs);
// The open-loop schedule is kept in doubles of the steady clock: a microsecond between arrivals
// is as fine as the clocks and sleeps it passes through can honour.
constexpr int kMaxRate = 1'000'000;

std::vector<int> delays_of(const Point& p) {
  return p.profile == "seed" ? seed_profile_delays() : uniform_delays(p.n, p.delay_ms);
}

// The untimed round's requests and the outcomes the model writes for them.
struct WarmRound {
  std::vector<Request> requests;
  std::vector<Outcome> outcomes;
  bool gated = false;  // the fixture holds them until all are in flight (real URLs: no gate)
};

// Builds the model and makes one untimed round (warm_round for the fixture; one whole run of the
// requests for real URLs): it opens the C connections (and creates what a model makes lazily),
// so every timed iteration measures the steady state that keepalive:1 names, however few
// iterations min_time allows. Its responses are checked, then dropped. nullptr (the benchmark
// marked as errored) if either fails.
std::unique_ptr<Model> make_warm_model(benchmark::State& state, const ModelInfo& info, int conc,
                                       const ClientOptions& client, WarmRound& warm) {
  std::unique_ptr<Model> model;
  try {
    model = info.make(ModelConfig{conc, client});
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("cannot start the model: ") + e.what()).c_str());
    return nullptr;
  }
  std::string reason;
  try {
    model->run(warm.requests, warm.outcomes);
    reason = describe_failures(warm.outcomes);
  } catch (const std::exception& e) {
    reason = e.what();
  }
  if (reason.empty()) return model;
  const std::string count = std::to_string(warm.requests.size());
  const std::string what = warm.gated ? "all " + count + " requests in flight at once" : "one run's " + count + " requests";
  state.SkipWithError(("the warm-up round (" + what + ") failed: " + reason).c_str());
  return nullptr;
}

// The warm-up round for `requests`: see make_warm_model. Against the fixture, all C slots are
// warmed even where N < C (the open loop: 500 requests at rate 1000 for C = 1000), since a
// model may give a run's requests to any of its slots: a pool woke the 500 threads that had
// not run, and 484 of its 500 timed requests opened a connection under keepalive:1. Real URLs
// are the requests themselves: the whole run, once, so the first timed run finds the
// connections the second would. Only the first min(N, C) warmed a blocking slot to the one
// host its request went to: seq, warmed to the first of the seed's four sites, made its other
// three connections (TLS handshakes) inside the timed run, and at about a second a run that
// run is often the only one. Made before the memory baseline: these requests and their
// outcomes are the harness's (about 0.2 KiB a slot), not the model's.
WarmRound make_warm_round(const std::string& base_url, std::span<const Request> requests,
                          const ModelInfo& info, int conc, uint64_t bytes) {
  const size_t slots = static_cast<size_t>(info.parallel() ? conc : 1);
  WarmRound warm;
  if (base_url.empty()) {
    warm.requests.assign(requests.begin(), requests.end());
  } else {
    warm.requests = warm_round(base_url, slots, bytes);
    warm.gated = true;
  }
  warm.outcomes.resize(warm.requests.size());
  return warm;
}

// What the fixture server did over the timed loop, read before and after it: its CPU time
// (client and server share the cores, so this says how much of the machine the server took,
// and whether it could be the bottleneck) and the connections the model opened per run, which
// prove the name's keepalive: none under keepalive:1 after the warm-up round (fork's children
// open theirs afresh each run), one per request under keepalive:0.
class ServerWatch {
 public:
  explicit ServerWatch(const std::string& base_url)
      : url_(base_url), before_(base_url.empty() ? std::nullopt : fixture_stats(base_url)) {}

  // False, the benchmark an error, when the server did not answer before the timed runs: without
  // the counts a keepalive:1 result would stand with nothing to prove its label.
  bool answered(benchmark::State& state) const {
    if (url_.empty() || before_) return true;  // real URLs (--fetch_urls): no server of ours to ask
    fail(state, "before");
    return false;
  }

  void report(benchmark::State& state, double timed_s) const {  // the timed loop's wall time, less its pauses
    if (url_.empty()) return;
    const std::optional<FixtureStats> after = fixture_stats(url_);
    if (!after) {
      fail(state, "after");
      return;
    }
    if (timed_s > 0) state.counters["server_cpu_util"] = (after->cpu_s - before_->cpu_s) / timed_s;
    // Less one: the query that read `after` is a connection it counted.
    if (state.iterations() > 0)
      state.counters["connections_per_run"] =
          (after->accepted - before_->accepted - 1) / static_cast<double>(state.iterations());
  }

 private:
  static void fail(benchmark::State& state, const char* when) {
    const std::string why = std::string("the fixture server did not answer /stats ") + when +
                            " the timed runs: the connections they opened, which prove the name's keepalive, "
                            "are unknown";
    state.SkipWithError(why.c_str());
  }

  std::string url_;
  std::optional<FixtureStats> before_;
};

// The CPU time this side of the sockets has used: the process, its reaped children (fork's,
// reaped in each run) and its live workers (process_pool's). Google Benchmark's CPU time is the
// process's alone, so it leaves out the requests a process model's children make; cpu_util
// counts them as a thread model's are counted. Read outside the timed loop. nullopt (the
// benchmark marked as errored) if the workers could not say.
std::optional<double> client_cpu_seconds(benchmark::State& state, Model& model) {
  const std::optional<Usage> workers = workers_usage_or_skip(state, model);
  if (!workers) return std::nullopt;
  return (process_usage() + *workers).cpu_seconds;
}

// What the timed loop's pauses took, summed: what the loop's own clock and CPU reading hold that
// Google Benchmark's times do not.
struct Paused {
  double wall_s = 0;
  double cpu_s = 0;  // this process's, its threads' spinning included
};

// cpu_util over the timed loop: CPU time over wall time (timed_s), 2.0 for two busy cores, both
// without the loop's pauses, as Google Benchmark's times are, so that over items_per_second it is
// the CPU time of one request. Nothing after an error (the model may be gone).
void report_cpu(benchmark::State& state, Model& model, double cpu_before, double timed_s, const Paused& paused) {
  if (state.error_occurred() || timed_s <= 0) return;
  if (const std::optional<double> after = client_cpu_seconds(state, model))
    state.counters["cpu_util"] = (*after - cpu_before - paused.cpu_s) / timed_s;
}

// Test hook, never set by ./bench: CONCBENCH_TEST_PAUSE_MS=<ms> makes every pause of the timed
// loop spin <ms> on the CPU and then sleep <ms>, so that tests/test_fetch_labels.py can show
// cpu_util leaves a pause's CPU and wall time out (the overlap sort alone is too short to show).
double test_pause_ms() {
  static const double ms = [] {
    const char* text = std::getenv("CONCBENCH_TEST_PAUSE_MS");
    if (text == nullptr || *text == 0) return 0.0;
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (end == text || *end != 0 || !(v > 0) || v > 1000)
      throw UsageError(std::string("CONCBENCH_TEST_PAUSE_MS: '") + text + "' is not MS (0 < MS <= 1000)");
    return v;
  }();
  return ms;
}

// Test hook, never set by ./bench: CONCBENCH_TEST_SHORT_BODY=1 makes the last request of every
// timed run expect one byte more than the fixture sends (the warm-up round's are left alone), so
// tests/test_fetch_labels.py can show that a request that did not get its whole body makes the
// benchmark an error with the reason, in every model, never a number.
bool test_short_body() {
  static const bool on = test_switch("CONCBENCH_TEST_SHORT_BODY");
  return on;
}

void injected_pause() {
  const auto length = std::chrono::duration<double, std::milli>(test_pause_ms());
  for (const auto until = Clock::now() + length; Clock::now() < until;) {
  }
  std::this_thread::sleep_for(length);
}

// The most requests of one iteration in flight at once, with the clock paused: the overlap sorts
// 2N times (1.4 ms at N = 10,000), which in the timed loop was counted as the model's. An
// iteration is a whole batch, milliseconds at least, so a pause's own cost is lost in it.
int overlap_untimed(benchmark::State& state, std::span<const Outcome> outcomes, Paused& paused) {
  state.PauseTiming();
  const auto wall = Clock::now();
  const double cpu = process_usage().cpu_seconds;
  const int peak = peak_overlap(outcomes);
  if (test_pause_ms() > 0) injected_pause();
  paused.cpu_s += process_usage().cpu_seconds - cpu;
  paused.wall_s += std::chrono::duration<double>(Clock::now() - wall).count();
  state.ResumeTiming();
  return peak;
}

// One timed run of the model over every request, every response checked. Every response is
// checked on every iteration, inside the timed loop: one pass over N outcomes, with no
// allocation, is small beside N network round trips, and a run that did not get what it asked
// for is not a measurement. Returns false (the benchmark marked as errored, with the reasons) if the
// model failed or any request did.
bool run_checked(benchmark::State& state, Model& model, std::span<const Request> requests,
                 std::span<Outcome> outcomes) {
  std::fill(outcomes.begin(), outcomes.end(), Outcome{});
  std::string reason;
  try {
    model.run(requests, outcomes);
  } catch (const std::exception& e) {
    reason = e.what();
  }
  const std::string requests_failed = describe_failures(outcomes);
  if (!requests_failed.empty()) reason += (reason.empty() ? "" : "; ") + requests_failed;
  if (reason.empty()) return true;
  state.SkipWithError(reason.c_str());
  return false;
}

void run_point(benchmark::State& state, const ModelInfo& info, const Point& p,
               const std::vector<std::string>& urls) {
  raise_fd_limit();
  std::vector<Request> requests;
  std::vector<int> delays;
  std::string base_url;  // the fixture's; empty for real URLs
  ClientOptions client;
  if (p.profile == "urls") {
    requests = url_requests(urls, p.n);
    client = url_client_options();
    client.keepalive = p.keepalive;
  } else {
    const std::optional<std::string> url = idle_fixture_url_or_skip(state);
    if (!url) return;
    base_url = *url;
    delays = delays_of(p);
    requests = fixture_requests(base_url, delays, static_cast<uint64_t>(p.bytes));
    client = fixture_client_options(*std::max_element(delays.begin(), delays.end()),
                                    static_cast<uint64_t>(p.bytes), p.keepalive);
  }
  std::vector<Outcome> outcomes(requests.size());
  // Every request of every timed iteration, in fixed memory: no allocation inside the timed
  // loop, and none that would show up as the model's.
  Histogram latencies;

  WarmRound warm = make_warm_round(base_url, requests, info, p.conc, static_cast<uint64_t>(p.bytes));
  if (test_short_body() && !base_url.empty()) requests.back().bytes += 1;

  // Memory is measured from before the model exists, so what it keeps per slot (easy handles,
  // threads and their stacks, connections) counts as its cost, to the peak during the runs.
  release_free_memory();
  const bool peak_is_this_runs = reset_peak_rss();
  const int64_t rss_before = rss_kib();

  // Process models' pipe writes are one system call each (common/process.h), from the warm-up
  // round on: it runs the timed runs' code, and the model is stopped under the hold too.
  const SigpipeHold hold;
  const std::unique_ptr<Model> model = make_warm_model(state, info, p.conc, client, warm);
  if (!model) return;
  int64_t bytes = 0;
  int peak_in_flight = 0;
  Paused paused;
  const ServerWatch server(base_url);
  if (!server.answered(state)) return;
  const std::optional<double> cpu_before = client_cpu_seconds(state, *model);
  if (!cpu_before) return;
  const auto start = Clock::now();
  for (auto _ : state) {
    // Every request of an iteration is ready at its start: latency counts from here, queue
    // wait included, the same for a pool's queue, a coroutine waiting for a slot, or a slot's
    // next request in an event loop.
    const double ready = steady_seconds();
    if (!run_checked(state, *model, requests, outcomes)) break;
    for (const Outcome& o : outcomes) {
      bytes += static_cast<int64_t>(o.bytes);
      latencies.record(static_cast<uint64_t>(std::max(0.0, o.finished - ready) * 1e9));
    }
    peak_in_flight = std::max(peak_in_flight, overlap_untimed(state, outcomes, paused));
  }
  const double timed_s = std::chrono::duration<double>(Clock::now() - start).count() - paused.wall_s;
  report_cpu(state, *model, *cpu_before, timed_s, paused);  // before the server's stats are asked for
  server.report(state, timed_s);
  const int64_t rss_peak = std::max(peak_rss_kib(), rss_before);

  const auto n = static_cast<int64_t>(requests.size());
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(bytes);
  if (!delays.empty()) {
    const double ideal = ideal_makespan(delays, info.parallel() ? p.conc : 1);
    state.counters["ideal_s"] = ideal;
    // Only where there is a bound to compare with: at delay 0 the bound is 0 and the ratio
    // would say 0 for every model.
    // Over the time Google Benchmark reports, so efficiency is ideal_s over real_time.
    const double per_iteration = state.iterations() > 0 ? timed_s / state.iterations() : 0;
    if (ideal > 0 && per_iteration > 0) state.counters["efficiency"] = ideal / per_iteration;
  }
  // The most requests in flight at once: a model that never reaches C shows it here.
  state.counters["peak_in_flight"] = peak_in_flight;
  // How many threads ran event loops, measured: multi_threads' W.
  if (const int threads = model->threads_used(); threads > 0) state.counters["loop_threads"] = threads;
  state.counters["p50_ms"] = static_cast<double>(latencies.percentile(50)) * 1e-6;
  state.counters["p99_ms"] = static_cast<double>(latencies.percentile(99)) * 1e-6;
  state.counters["max_ms"] = static_cast<double>(latencies.max()) * 1e-6;
  // This process's peak resident set during the benchmark (VmHWM reset at its start), so it
  // is not the high-water mark some earlier benchmark left; left out where the kernel could not
  // reset it. The fork model's children are other processes and not in it.
  if (peak_is_this_runs) state.counters["peak_rss_mb"] = static_cast<double>(rss_peak) / 1024.0;
  if (info.reports_memory) {
    // (peak RSS - RSS before the model was built) / most requests in flight at once in the
    // same window, the warm-up round's and the timed runs'. Honest
    // about what it is: user-space memory only (kernel socket buffers and thread structures
    // are not in RSS), pages actually touched (a thread's 8 MiB stack counts only as far as it
    // was used), and whatever the model allocated for the run, divided by the peak in flight
    // even where it is not per request (the coro model's frames for requests still waiting,
    // libcurl's caches).
    // Free memory is returned to the kernel first, so reuse of it counts as growth; without
    // a VmHWM reset the number would be meaningless, so it is left out then.
    // The memory peak's window holds the warm-up round (all C slots at once against the fixture),
    // so its requests in flight count in the divisor: a model whose timed runs never reach C
    // (threads at 0 ms starts them one by one) read 5-15 times its cost at 100 ms.
    const int in_flight = std::max(peak_in_flight, peak_overlap(warm.outcomes));
    if (peak_is_this_runs && in_flight > 0) {
      state.counters["mem_per_inflight_kb"] = static_cast<double>(rss_peak - rss_before) / in_flight;
      state.counters["mem_in_flight"] = in_flight;  // the divisor, which the page says
    }
  }
}

// Open loop: requests arrive on a fixed schedule of p.rate per second whatever the model does,
// and each one's latency counts from its arrival, not from when the model got round to it, so
// a model (or server) that stalls is charged for every request that arrived meanwhile: the
// correction for coordinated omission that wrk2 makes for one client.
void run_open_point(benchmark::State& state, const ModelInfo& info, const Point& p) {
  raise_fd_limit();
  const std::optional<std::string> url = idle_fixture_url_or_skip(state);
  if (!url) return;
  const std::string& base_url = *url;
  std::vector<Request> requests =
      fixture_requests(base_url, uniform_delays(p.n, p.delay_ms), static_cast<uint64_t>(p.bytes));
  const std::vector<double> arrivals = arrival_offsets(p.n, p.rate, p.poisson);
  std::vector<Outcome> outcomes(requests.size());
  WarmRound warm = make_warm_round(base_url, requests, info, p.conc, static_cast<uint64_t>(p.bytes));
  if (test_short_body()) requests.back().bytes += 1;
  const SigpipeHold hold;  // as in the closed loop
  const std::unique_ptr<Model> model = make_warm_model(
      state, info, p.conc, fixture_client_options(p.delay_ms, static_cast<uint64_t>(p.bytes), true), warm);
  if (!model) return;
  Histogram latencies;  // every request of every iteration, from its arrival
  // Summed over iterations: how long the schedule took to issue (first to last arrival, plus
  // one mean gap) and how long the model took (first arrival to its last request's start, plus
  // the same gap). Their ratio is the share of the offered rate the model achieved, for even and
  // Poisson arrivals alike.
  double scheduled_s = 0, issuing_s = 0;
  double max_lag_s = 0;  // the latest any request started after its arrival
  int peak_in_flight = 0;
  Paused paused;
  const ServerWatch server(base_url);
  if (!server.answered(state)) return;
  const std::optional<double> cpu_before = client_cpu_seconds(state, *model);
  if (!cpu_before) return;
  const auto start = Clock::now();
  for (auto _ : state) {
    // The first arrival a millisecond from now: the model is waiting for it, not late already.
    const double t0 = steady_seconds() + 1e-3;
    for (size_t i = 0; i < requests.size(); ++i) requests[i].not_before = t0 + arrivals[i];
    if (!run_checked(state, *model, requests, outcomes)) break;
    double last_issued = t0;
    for (size_t i = 0; i < outcomes.size(); ++i) {
      const Outcome& o = outcomes[i];
      latencies.record(static_cast<uint64_t>(std::max(0.0, o.finished - requests[i].not_before) * 1e9));
      last_issued = std::max(last_issued, o.finished - o.seconds);
      max_lag_s = std::max(max_lag_s, o.finished - o.seconds - requests[i].not_before);
    }
    scheduled_s += arrivals.back() + 1.0 / p.rate;
    issuing_s += last_issued - t0 + 1.0 / p.rate;
    peak_in_flight = std::max(peak_in_flight, overlap_untimed(state, outcomes, paused));
  }
  const double timed_s = std::chrono::duration<double>(Clock::now() - start).count() - paused.wall_s;
  report_cpu(state, *model, *cpu_before, timed_s, paused);
  server.report(state, timed_s);
  const auto n = static_cast<int64_t>(requests.size());
  state.SetItemsProcessed(state.iterations() * n);
  // Offered: the schedule's rate. Achieved: the rate at which the model actually issued the
  // requests, the offered rate scaled by how much longer than the schedule it took. A model
  // that cannot keep up issues them late, achieves less than offered, and is flagged: a
  // result, not an error. One that fell behind for a while and caught up shows in
  // issue_lag_max_ms (and in the latencies), not here.
  const double achieved = issuing_s > 0 ? p.rate * scheduled_s / issuing_s : 0;
  state.counters["offered_rate"] = p.rate;
  state.counters["achieved_rate"] = achieved;
  state.counters["keeping_up"] = achieved >= 0.95 * p.rate ? 1 : 0;
  state.counters["issue_lag_max_ms"] = max_lag_s * 1e3;
  state.counters["peak_in_flight"] = peak_in_flight;
  // The schedule the requests were given, read off the last iteration's requests, as a
  // number: 0 for arrivals:uniform, near 1 for arrivals:poisson, so the label can be read off
  // the run, not only the name (the offsets drawn are not enough: the requests must get them).
  std::vector<double> given(requests.size());  // from the first arrival: clock seconds lose digits
  for (size_t i = 0; i < requests.size(); ++i) given[i] = requests[i].not_before - requests[0].not_before;
  state.counters["arrival_gap_cv"] = gap_cv(given);
  const std::pair<const char*, double> percentiles[] = {
      {"p50_ms", 50}, {"p90_ms", 90}, {"p99_ms", 99}, {"p999_ms", 99.9}, {"p9999_ms", 99.99}};
  for (const auto& [name, q] : percentiles)
    state.counters[name] = static_cast<double>(latencies.percentile(q)) * 1e-6;
  state.counters["max_ms"] = static_cast<double>(latencies.max()) * 1e-6;
}

// Whether a model's C slots fit in the descriptor limit, with room for the process's own
// (libraries, the epoll set, pipes, a margin for connections being replaced).
bool fits_descriptors(const ModelInfo& info, int conc, int64_t limit) {
  return info.descriptors(conc) + 256 <= limit;
}

// 10,000 as the results page writes counts: the reasons below are quoted on it.
std::string grouped(int64_t v) {
  const std::string digits = std::to_string(v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    const size_t left = digits.size() - i;  // digits from here to the end
    if (i > 0 && digits[i - 1] != '-' && left % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

// The open-loop sweep's offered rates, requests/s (see make_sweep).
const std::vector<int> kOpenRates{1000, 2000, 5000, 10'000, 15'000, 20'000, 40'000};

void add_flags(FlagSet& flags, Options& options) {
  // Naming any of the first three replaces the curated sweeps with their exact cross product.
  flags.add(
      "fetch_conc", "LIST",
      "fetch: concurrency C (default 1,10,100,250,500,1000 at N=1000, seed profile at 4,40)",
      [&](const std::string& v) { options.conc = parse_int_list("fetch_conc", v, 1, kMaxConc); });
  flags.add("fetch_n", "LIST", "fetch: request counts N (default 40,1000,10000 at C=min(N,1000))",
            [&](const std::string& v) { options.n = parse_int_list("fetch_n", v, 1, kMaxN); });
  flags.add("fetch_delay_ms", "LIST",
            "fetch: server latency L in ms (default 0,100); any of these three runs C x N x L",
            [&](const std::string& v) {
              options.delay_ms = parse_int_list("fetch_delay_ms", v, 0, kFixtureMaxDelayMs);
            });
  flags.add("fetch_bytes", "LIST", "fetch: body sizes (default 1024,32768,1048576 at C=10, N=100)",
            [&](const std::string& v) {
              options.bytes =
                  parse_size_list("fetch_bytes", v, static_cast<int64_t>(fixture::kMaxBytes));
            });
  flags.add(
      "fetch_urls", "FILE",
      "fetch: real URLs, one per line (# comments), not the fixture; 2xx checked, bytes counted",
      [&](const std::string& v) {
        options.urls = read_url_file(v);
        options.urls_file = v;
      });
  std::string rates;  // the help says the defaults make_sweep uses, from the one list
  for (int rate : kOpenRates) {
    if (!rates.empty()) rates += ',';
    rates += std::to_string(rate);
  }
  flags.add("open_rates", "LIST",
            "fetch: offered rates of the open-loop sweep, requests/s (default " + rates + ")",
            [&](const std::string& v) { options.open_rates = parse_int_list("open_rates", v, 1, kMaxRate); });
  flags.add("open_arrivals", "uniform|poisson",
            "fetch: open-loop arrivals evenly spaced (default) or a Poisson process",
            [&](const std::string& v) {
              if (v != "uniform" && v != "poisson")
                throw UsageError("--open_arrivals: unknown arrival process '" + v + "' (uniform or poisson)");
              options.poisson = v == "poisson";
            });
  flags.add("fixture_url", "URL",
            "fetch: a fixture server already running at URL (./bench --python shares one with "
            "the Python run) instead of starting one",
            [](const std::string& v) { use_fixture_url(v); });
}

Sweep make_sweep(const Suite& suite, const Options& options) {
  Sweep s;
  s.profile_bytes = static_cast<int64_t>(fixture::kDefaultBytes);
  s.urls = options.urls;
  s.profile_conc = {40};  // every request its own slot
  s.delays = {0, 100};
  s.conc_n = 1000;
  s.n_conc = 1000;
  s.bytes_conc = 10;
  s.bytes_n = 100;
  if (suite.quick) {
    s.conc = {1, 100};
    s.n = {40, 1000};
    s.bytes = {1024, 1 << 20};
    s.close_conc = {100};
    s.max_ideal_s = 0.25;
    s.max_conc_ideal_s = 0.25;
  } else {
    s.worker_profile_conc = {4};
    s.conc = {1, 10, 100, 250, 500, 1000};
    s.n = {40, 1000, 10'000};
    s.bytes = {1024, 32 * 1024, 1 << 20};
    s.close_conc = {1, 100};
    // Each second of lower bound costs three (repetitions) for each of eleven models; 1 s
    // admits the N sweep's end (10,000 requests at C = 1000), where the targets are set, and
    // at 100 ms the concurrency sweep's C = 100 .. 1000, so wall time against C is a line.
    s.max_ideal_s = 1.0;
    s.max_conc_ideal_s = 1.0;
  }
  s.cap_models = true;
  // Open loop: the four models the coordinated-omission question is about (a thread pool, a
  // thread per request, and the two event loops), from well below to beyond what each
  // sustains, half a second of arrivals per point at L = 10 ms. 15,000 because the p99 target is
  // set at half of an event loop's saturated throughput, 25,000-31,000 in the run of bc6112b:
  // without it the nearest rates, 10,000 and 20,000, left that half untested.
  s.open_models = {"pool", "threads", "multi_socket", "coro"};
  s.open_rates = suite.quick ? std::vector<int>{2000, 10'000} : kOpenRates;
  s.open_seconds = suite.quick ? 0.25 : 0.5;
  s.open_delay_ms = 10;
  s.open_conc = 1000;
  s.wrk_conc = suite.quick ? std::vector<int>{100} : std::vector<int>{10, 100, 1000};
  s.poisson = options.poisson;
  if (options.open_rates) s.open_rates = *options.open_rates;
  // C10k: where one process holding thousands of connections breaks, at N = 10,000 and 100 ms
  // (C = 1000 is the N sweep's end); --quick keeps one point. A C that needs more descriptors
  // than the (raised) limit is left out for that model, with the reason in the context.
  raise_fd_limit();
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0)
    s.fd_limit = limit.rlim_cur == RLIM_INFINITY ? std::numeric_limits<int64_t>::max()
                                                 : static_cast<int64_t>(limit.rlim_cur);
  s.c10k_conc = suite.quick ? std::vector<int>{2000} : std::vector<int>{2000, 5000, 10'000};
  s.c10k_n = 10'000;
  s.c10k_delay_ms = 100;
  s.url_n = {10 * static_cast<int>(std::max<size_t>(1, s.urls.size()))};
  const int profile_n = kSeedRequestsPerSite * static_cast<int>(kSeedSiteDelaysMs.size());
  if (options.conc || options.n || options.delay_ms) {
    // The full cross product of what was named (defaults for the rest), nothing curated, no
    // caps: the user asked for these points.
    if (options.conc) s.conc = *options.conc;
    s.n = options.n ? *options.n : std::vector<int>{s.conc_n};
    if (options.delay_ms) s.delays = *options.delay_ms;
    s.bytes = options.bytes ? *options.bytes : std::vector<int64_t>{s.profile_bytes};
    s.conc_n = 0;
    s.close_conc = s.conc;
    s.profile_conc.clear();
    s.worker_profile_conc.clear();
    for (int c : s.conc)
      if (c <= profile_n) s.profile_conc.push_back(c);
    s.seq_profile = std::find(s.conc.begin(), s.conc.end(), 1) != s.conc.end();
    s.max_ideal_s = 1e300;
    s.max_conc_ideal_s = 1e300;
    s.cap_models = false;
    s.c10k_conc.clear();
    if (!options.open_rates) s.open_rates.clear();  // a closed-loop grid was asked for
  } else if (options.bytes) {
    s.bytes = *options.bytes;
  }
  // The floor where the targets are set: N = C = 1000 at each delay of the default sweep, and
  // N = C = 10,000 at 100 ms beside the C10k sweep.
  auto has = [](const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); };
  if (s.conc_n == 1000 && has(s.conc, 1000))
    for (int d : s.delays) s.floor_points.push_back({1000, 1000, d, "", s.profile_bytes, true});
  if (has(s.c10k_conc, 10'000) && fits_descriptors(raw_http_info(), 10'000, s.fd_limit))
    s.floor_points.push_back({10'000, 10'000, s.c10k_delay_ms, "", s.profile_bytes, true});
  if (!s.urls.empty()) {
    s.floor_points.clear();  // a floor for the fixture only
    s.profile_conc = options.conc ? *options.conc : std::vector<int>{1, 4, 40};
    if (options.n) s.url_n = *options.n;
    s.open_rates.clear();  // real sites are not ours to load
    s.c10k_conc.clear();
  }
  return s;
}

std::vector<std::pair<const ModelInfo*, Point>> sweep_points(const Sweep& s) {
  std::vector<std::pair<const ModelInfo*, Point>> out;
  for (const ModelInfo& info : all_models()) {
    std::set<Point> points;
    // The profile is exempt from the time caps: it is the seed's comparison at every C.
    auto add = [&](Point p, double max_ideal_s = 1e300) {
      if (!info.parallel()) p.conc = 1;
      if (p.conc > p.n) return;  // more slots than requests says nothing new
      if (s.cap_models && (p.conc > info.default_max_concurrency || p.n > info.default_max_n))
        return;
      if (max_ideal_s < 1e300 && ideal_makespan(delays_of(p), p.conc) > max_ideal_s) return;
      points.insert(p);
    };
    if (!s.urls.empty()) {
      for (int n : s.url_n)
        for (int c : s.profile_conc) add({c, n, 0, "urls", 0, true});
    } else {
      const int profile_n = kSeedRequestsPerSite * static_cast<int>(kSeedSiteDelaysMs.size());
      if (!info.parallel()) {
        if (s.seq_profile) add({1, profile_n, 0, "seed", s.profile_bytes, true});
      } else {
        for (int c : s.profile_conc) add({c, profile_n, 0, "seed", s.profile_bytes, true});
        if (info.kind == Kind::workers)
          for (int c : s.worker_profile_conc) add({c, profile_n, 0, "seed", s.profile_bytes, true});
      }
      if (s.conc_n == 0) {
        // An explicit grid: every named combination, keep-alive off at delay 0 as well.
        for (int d : s.delays)
          for (int n : s.n)
            for (int c : s.conc)
              for (int64_t b : s.bytes) {
                if (!info.parallel() && c != 1) continue;  // seq's points are the conc:1 ones
                add({c, n, d, "", b, true});
                if (d == 0) add({c, n, d, "", b, false});
              }
      } else {
        for (int d : s.delays) {
          for (int c : s.conc) add({c, s.conc_n, d, "", s.profile_bytes, true}, s.max_conc_ideal_s);
          for (int n : s.n)
            add({std::min(s.n_conc, n), n, d, "", s.profile_bytes, true}, s.max_ideal_s);
        }
        for (int64_t b : s.bytes) add({s.bytes_conc, s.bytes_n, 0, "", b, true}, s.max_ideal_s);
        // Keep-alive against a new connection per request where the connection's cost is not
        // hidden under a delay: at delay 0.
        for (int c : s.close_conc)
          add({c, s.conc_n, 0, "", s.profile_bytes, false}, s.max_conc_ideal_s);
        if (info.no_c10k.empty())
          for (int c : s.c10k_conc)
            if (fits_descriptors(info, c, s.fd_limit)) add({c, s.c10k_n, s.c10k_delay_ms, "", s.profile_bytes, true});
      }
    }
    for (const Point& p : points) out.emplace_back(&info, p);
  }
  for (const ModelInfo& info : all_models()) {
    if (std::find(s.open_models.begin(), s.open_models.end(), info.name) == s.open_models.end()) continue;
    for (int rate : std::set<int>(s.open_rates.begin(), s.open_rates.end())) {  // --open_rates=5,5: one point
      // At least 20 requests, so a low --open_rates still makes a point (of 20 / rate seconds).
      Point p{s.open_conc, std::max(20, static_cast<int>(rate * s.open_seconds)), s.open_delay_ms, "",
              s.profile_bytes, true, rate, s.poisson};
      out.emplace_back(&info, p);
    }
  }
  return out;
}

std::string benchmark_name(std::string_view model, const Point& p) {
  if (p.rate > 0)
    return "fetch/open/" + std::string(model) + "/rate:" + std::to_string(p.rate) + "/conc:" +
           std::to_string(p.conc) + "/n:" + std::to_string(p.n) + "/delay_ms:" + std::to_string(p.delay_ms) +
           "/bytes:" + std::to_string(p.bytes) + "/keepalive:1/arrivals:" + (p.poisson ? "poisson" : "uniform");
  std::string name = "fetch/" + std::string(model) + "/conc:" + std::to_string(p.conc) +
                     "/n:" + std::to_string(p.n);
  if (p.profile == "urls") return name + "/profile:urls/keepalive:" + (p.keepalive ? "1" : "0");
  name += p.profile.empty() ? "/delay_ms:" + std::to_string(p.delay_ms) : "/profile:" + p.profile;
  return name + "/bytes:" + std::to_string(p.bytes) + "/keepalive:" + (p.keepalive ? "1" : "0");
}

void register_benchmarks(const Sweep& sweep) {
  init_curl();
  add_context("libcurl_version", curl_version_info(CURLVERSION_NOW)->version);
  add_context("event_wait", precise_wait_problem().empty()
                                ? "epoll_pwait2, to the nanosecond"
                                : "epoll_wait, to the millisecond (epoll_pwait2: " + precise_wait_problem() + ")");
  if (test_pause_ms() > 0)  // read here, so a bad value is a usage error before anything runs
    add_context("concbench_test_pause_ms", std::to_string(test_pause_ms()) + " (a test hook)");
  if (test_short_body())  // the same
    add_context("concbench_test_short_body", "each timed run's last request expects a byte more (a test hook)");
  // C = 10,000 needs a descriptor per connection on each side: raised to the hard limit, and
  // recorded, since a machine with a lower limit cannot run the same points.
  raise_fd_limit();
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0)
    add_context("fd_limit",
                std::to_string(limit.rlim_cur) + " (hard " + std::to_string(limit.rlim_max) + ")");
  for (const ModelInfo& info : all_models()) {
    if (sweep.c10k_conc.empty()) break;
    std::string why(info.no_c10k);
    for (int c : sweep.c10k_conc)
      if (why.empty() && !fits_descriptors(info, c, sweep.fd_limit))
        why = "C = " + grouped(c) + " and above: its slots hold " + grouped(info.descriptors(c)) +
              " descriptors (their connections and the socketpairs of their multi handles), more than this "
              "run's limit of " + grouped(sweep.fd_limit);
    if (!why.empty()) add_context("fetch_c10k_not_run:" + std::string(info.name), why);
  }
  // The bodies outlive this call; the URL list is shared by them all.
  static std::vector<std::string> urls;
  urls = sweep.urls;
  for (const auto& [info, point] : sweep_points(sweep)) {
    add_benchmark(benchmark_name(info->name, point),
                  [info = info, point = point](benchmark::State& state) {
                    if (point.rate > 0) {
                      run_open_point(state, *info, point);
                    } else {
                      run_point(state, *info, point, urls);
                    }
                  });
  }
  // The floor under the client models, named like them but under peak/.
  for (const Point& p : sweep.floor_points)
    add_benchmark("peak" + benchmark_name(raw_http_info().name, p).substr(std::string_view("fetch").size()),
                  [p](benchmark::State& state) { run_point(state, raw_http_info(), p, urls); });
  // The bound beside the open-loop sweep: the fixture's own capacity, from wrk's steady rate at
  // 0 ms at each of these C, and at the open loop's C and L, the configuration it is held
  // against (at C = 1000, medians of 71,479 requests/s at 0 ms and 63,734 at 10 ms in the run of 05f39cc).
  if (!sweep.open_rates.empty()) {
    std::vector<std::pair<int, int>> wrk_points;  // (C, L)
    for (int conc : sweep.wrk_conc) wrk_points.emplace_back(conc, 0);
    if (sweep.open_delay_ms != 0) wrk_points.emplace_back(sweep.open_conc, sweep.open_delay_ms);
    for (const auto& [conc, delay] : wrk_points)
      add_benchmark("peak/wrk/conc:" + std::to_string(conc) + "/delay_ms:" + std::to_string(delay) +
                        "/bytes:" + std::to_string(sweep.profile_bytes),
                    [conc = conc, delay = delay, bytes = sweep.profile_bytes](benchmark::State& state) {
                      run_wrk(state, conc, delay, bytes);
                    });
  }
}

void finish() { stop_fixture(); }

}  // namespace concbench::fetch
