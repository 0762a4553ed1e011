// SPDX-License-Identifier: MIT
// Registers every fetch model over the sweeps, with one benchmark body that checks every response.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/histogram.h"
#include "common/registry.h"
#include "fetch/fixture.h"
#include "fetch/model.h"
#include "fetch/stats.h"
#include "fetch/suite.h"
#include "fetch/workload.h"
#include "fixtures/protocol.h"

namespace concbench::fetch {
namespace {

constexpr int kMaxConc = 10'000;  // each in-flight request holds a descriptor on both sides
constexpr int kMaxN = 1'000'000;
constexpr int kFixtureMaxDelayMs = static_cast<int>(fixture::kMaxDelayMs);

std::vector<int> delays_of(const Point& p) {
  return p.profile == "seed" ? seed_profile_delays() : uniform_delays(p.n, p.delay_ms);
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
    try {
      base_url = fixture_base_url();
    } catch (const std::exception& e) {
      state.SkipWithError((std::string("cannot start the fixture server: ") + e.what()).c_str());
      return;
    }
    delays = delays_of(p);
    requests = fixture_requests(base_url, delays, static_cast<uint64_t>(p.bytes));
    client = fixture_client_options(*std::max_element(delays.begin(), delays.end()),
                                    static_cast<uint64_t>(p.bytes), p.keepalive);
  }
  std::vector<Outcome> outcomes(requests.size());
  // Every request of every timed iteration, in fixed memory: no allocation inside the timed
  // loop, and none that would show up as the model's.
  Histogram latencies;

  // Memory is measured from before the model exists, so what it keeps per slot (easy handles,
  // threads and their stacks, connections) counts as its cost, to the peak during the runs.
  release_free_memory();
  const bool peak_is_this_runs = reset_peak_rss();
  const int64_t rss_before = rss_kib();

  std::unique_ptr<Model> model;
  try {
    model = info.make(ModelConfig{p.conc, client});
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("cannot start the model: ") + e.what()).c_str());
    return;
  }
  // One untimed round first, of min(N, C) requests: it opens the C connections (and creates
  // what a model makes lazily), so every timed iteration measures the steady state that
  // keepalive:1 names, however few iterations min_time allows. Its outcomes are not kept;
  // the timed iterations check every response again.
  {
    const size_t warm = std::min(requests.size(), static_cast<size_t>(p.conc));
    try {
      model->run(std::span(requests).first(warm), std::span(outcomes).first(warm));
    } catch (const std::exception& e) {
      state.SkipWithError((std::string("the warm-up round failed: ") + e.what()).c_str());
      return;
    }
  }
  int64_t bytes = 0;
  size_t failed = 0;
  int peak_in_flight = 0;
  // The server's CPU time over the timed loop: client and server share the cores, so this
  // says how much of the machine the server took (and whether it could be the bottleneck).
  const std::optional<double> server_cpu_before =
      base_url.empty() ? std::nullopt : fixture_stat(base_url, "cpu_s");
  const auto start = Clock::now();
  for (auto _ : state) {
    std::fill(outcomes.begin(), outcomes.end(), Outcome{});
    std::string model_error;
    // Every request of an iteration is ready at its start: latency counts from here, queue
    // wait included, the same for a pool's queue, a coroutine waiting for a slot, or a slot's
    // next request in an event loop.
    const double ready = steady_seconds();
    try {
      model->run(requests, outcomes);
    } catch (const std::exception& e) {
      model_error = e.what();
    }
    // Every response is checked on every iteration, inside the timed loop: one pass over N
    // outcomes costs nothing beside N network round trips, and a run that did not get what
    // it asked for is not a measurement.
    failed =
        static_cast<size_t>(std::count_if(outcomes.begin(), outcomes.end(), [](const Outcome& o) {
          return o.failure != Failure::none;
        }));
    if (!model_error.empty() || failed > 0) {
      const std::string requests_failed = describe_failures(outcomes);
      std::string reason = model_error;
      if (!requests_failed.empty()) reason += (reason.empty() ? "" : "; ") + requests_failed;
      state.SkipWithError(reason.c_str());
      break;
    }
    for (const Outcome& o : outcomes) {
      bytes += static_cast<int64_t>(o.bytes);
      latencies.record(static_cast<uint64_t>(std::max(0.0, o.finished - ready) * 1e9));
    }
    peak_in_flight = std::max(peak_in_flight, peak_overlap(outcomes));
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const std::optional<double> server_cpu_after =
      server_cpu_before ? fixture_stat(base_url, "cpu_s") : std::nullopt;
  const int64_t rss_peak = std::max(peak_rss_kib(), rss_before);

  const auto n = static_cast<int64_t>(requests.size());
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(bytes);
  state.counters["errors"] = static_cast<double>(failed);
  if (!delays.empty()) {
    const double ideal = dispatch_makespan(delays, info.parallel() ? p.conc : 1);
    state.counters["ideal_s"] = ideal;
    // Only where there is a bound to compare with: at delay 0 the bound is 0 and the ratio
    // would say 0 for every model.
    const double per_iteration = state.iterations() > 0 ? elapsed / state.iterations() : 0;
    if (ideal > 0 && per_iteration > 0) state.counters["efficiency"] = ideal / per_iteration;
  }
  if (server_cpu_before && server_cpu_after && elapsed > 0)
    state.counters["server_cpu_util"] = (*server_cpu_after - *server_cpu_before) / elapsed;
  // The most requests in flight at once: a model that never reaches C shows it here.
  state.counters["peak_in_flight"] = peak_in_flight;
  state.counters["p50_ms"] = static_cast<double>(latencies.percentile(50)) * 1e-6;
  state.counters["p99_ms"] = static_cast<double>(latencies.percentile(99)) * 1e-6;
  state.counters["max_ms"] = static_cast<double>(latencies.max()) * 1e-6;
  // This process's peak resident set during the benchmark (VmHWM reset at its start), so it
  // is not the high-water mark some earlier benchmark left. The fork model's children are
  // other processes and not in it.
  state.counters["peak_rss_mb"] = static_cast<double>(rss_peak) / 1024.0;
  if (info.reports_memory) {
    // (peak RSS - RSS before the model was built) / most requests in flight at once. Honest
    // about what it is: user-space memory only (kernel socket buffers and thread structures
    // are not in RSS), pages actually touched (a thread's 8 MiB stack counts only as far as it
    // was used), and whatever the model allocated for the run divided by C even if it is not
    // per request (the coro model's frames for requests still waiting, libcurl's caches).
    // Free memory is returned to the kernel first, so reuse of it counts as growth; without
    // a VmHWM reset the number would be meaningless, so it is left out then.
    if (peak_is_this_runs && peak_in_flight > 0)
      state.counters["mem_per_inflight_kb"] =
          static_cast<double>(rss_peak - rss_before) / peak_in_flight;
  }
}

}  // namespace

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
    // Each second of lower bound costs three (repetitions) for each of nine models; 1 s
    // admits the N sweep's end (10,000 requests at C = 1000), where the targets are set, and
    // at 100 ms the concurrency sweep's C = 100 .. 1000, so wall time against C is a line.
    s.max_ideal_s = 1.0;
    s.max_conc_ideal_s = 1.0;
  }
  s.cap_models = true;
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
  } else if (options.bytes) {
    s.bytes = *options.bytes;
  }
  if (!s.urls.empty()) {
    s.profile_conc = options.conc ? *options.conc : std::vector<int>{1, 4, 40};
    if (options.n) s.url_n = *options.n;
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
      if (max_ideal_s < 1e300 && dispatch_makespan(delays_of(p), p.conc) > max_ideal_s) return;
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
      }
    }
    for (const Point& p : points) out.emplace_back(&info, p);
  }
  return out;
}

std::string benchmark_name(std::string_view model, const Point& p) {
  std::string name = "fetch/" + std::string(model) + "/conc:" + std::to_string(p.conc) +
                     "/n:" + std::to_string(p.n);
  if (p.profile == "urls") return name + "/profile:urls/keepalive:" + (p.keepalive ? "1" : "0");
  name += p.profile.empty() ? "/delay_ms:" + std::to_string(p.delay_ms) : "/profile:" + p.profile;
  return name + "/bytes:" + std::to_string(p.bytes) + "/keepalive:" + (p.keepalive ? "1" : "0");
}

void register_benchmarks(const Sweep& sweep) {
  init_curl();
  benchmark::AddCustomContext("libcurl_version", curl_version_info(CURLVERSION_NOW)->version);
  // The bodies outlive this call; the URL list is shared by them all.
  static std::vector<std::string> urls;
  urls = sweep.urls;
  for (const auto& [info, point] : sweep_points(sweep)) {
    add_benchmark(benchmark_name(info->name, point),
                  [info = info, point = point](benchmark::State& state) {
                    run_point(state, *info, point, urls);
                  });
  }
}

void finish() { stop_fixture(); }

}  // namespace concbench::fetch
