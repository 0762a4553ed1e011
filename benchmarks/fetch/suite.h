// SPDX-License-Identifier: MIT
// The fetch workload's flags, sweeps and benchmark registration.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/flags.h"
#include "common/suite.h"

namespace concbench::fetch {

struct ModelInfo;

// What the command line overrides; unset fields take the suite's defaults.
struct Options {
  std::optional<std::vector<int>> conc;
  std::optional<std::vector<int>> n;
  std::optional<std::vector<int>> delay_ms;
  std::optional<std::vector<int64_t>> bytes;
  std::optional<std::string> urls_file;
  std::vector<std::string> urls;  // read from urls_file when the flag is parsed
  std::optional<std::vector<int>> open_rates;
  bool poisson = false;  // --open_arrivals=poisson
};

// One benchmark's arguments; its name states every one of them.
struct Point {
  int conc = 1;
  int n = 0;
  int delay_ms = 0;     // ignored when profile is set
  std::string profile;  // "" (one latency), "seed" or "urls"
  int64_t bytes = 0;    // ignored for "urls"
  bool keepalive = true;
  // Open loop (fetch/open/...): requests arrive at `rate` per second whatever the model does,
  // evenly spaced or as a Poisson process; 0 is the closed loop.
  int rate = 0;
  bool poisson = false;
  auto operator<=>(const Point&) const = default;
};

struct Sweep {
  std::vector<std::string> urls;  // non-empty: --fetch_urls mode, no fixture
  // The seed profile (N = 40, four sites): parallel models at profile_conc, the worker models
  // also at worker_profile_conc (the seed's ThreadPoolExecutor had 4 workers), seq at 1.
  std::vector<int> profile_conc;
  std::vector<int> worker_profile_conc;
  bool seq_profile = true;
  int64_t profile_bytes = 0;
  std::vector<int> url_n;   // N of the URL runs, at profile_conc
  std::vector<int> delays;  // latencies of the concurrency and N sweeps
  std::vector<int> conc;    // the concurrency sweep, at N = conc_n
  int conc_n = 0;           // 0: conc x n x delays x bytes is one explicit grid instead
  std::vector<int> n;       // the N sweep, at C = min(n_conc, N)
  int n_conc = 0;
  std::vector<int64_t> bytes;  // the body-size sweep, at delay 0, bytes_conc, bytes_n
  int bytes_conc = 0, bytes_n = 0;
  std::vector<int> close_conc;  // keepalive:0 twins of the delay-0 concurrency sweep at these C
  // Default sweeps only: points whose lower bound per iteration is longer are left out (seq
  // at 100 ms x 1000 would take 100 s), the concurrency sweep's (low C at 100 ms) more
  // tightly, and each model's default limits apply. Points named by flags all run.
  double max_ideal_s = 1e300;
  double max_conc_ideal_s = 1e300;
  bool cap_models = false;
  // The open-loop sweep: these models at these offered rates, N = rate x open_seconds
  // requests of open_delay_ms each, at most open_conc in flight.
  std::vector<std::string> open_models;
  std::vector<int> open_rates;
  double open_seconds = 0;
  int open_delay_ms = 0;
  int open_conc = 0;
  bool poisson = false;
  std::vector<int> wrk_conc;  // peak/wrk at these C and 0 ms, and at open_conc and open_delay_ms
  // The C10k sweep: c10k_n requests at c10k_delay_ms, at these C, for every model without a
  // ModelInfo::no_c10k reason (the concurrency sweep's caps do not apply).
  std::vector<int> c10k_conc;
  int c10k_n = 0, c10k_delay_ms = 0;
  int64_t fd_limit = 0;  // RLIMIT_NOFILE after raising it: a C that would pass it is left out
  // peak/raw_http, the floor under the client models, at these points (N = C, where the
  // targets are set): what a client without libcurl takes against the same fixture.
  std::vector<Point> floor_points;
};

void add_flags(FlagSet& flags, Options& options);
Sweep make_sweep(const Suite& suite, const Options& options);
// Every (model, point) the sweep registers, in run order.
std::vector<std::pair<const ModelInfo*, Point>> sweep_points(const Sweep& sweep);
// fetch/<model>/conc:<C>/n:<N>/delay_ms:<L>/bytes:<B>/keepalive:<K>, or profile:seed in place
// of delay_ms:<L>; URL runs: fetch/<model>/conc:<C>/n:<N>/profile:urls/keepalive:1; open loop:
// fetch/open/<model>/rate:<R>/conc:<C>/n:<N>/delay_ms:<L>/bytes:<B>/keepalive:1/arrivals:<A>.
std::string benchmark_name(std::string_view model, const Point& point);
void register_benchmarks(const Sweep& sweep);
// Stops the fixture server if a benchmark started it; call after the benchmarks have run.
void finish();

}  // namespace concbench::fetch
