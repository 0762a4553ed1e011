// SPDX-License-Identifier: MIT
// What a fetch run asks for: the request lists, their lower-bound time, the --fetch_urls file.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fetch/request.h"
#include "fixtures/protocol.h"

namespace concbench::fetch {

// The seed's profile: 4 sites, 10 requests each, asked for in the order `urls * 10` gives
// (site 0, 1, 2, 3, 0, 1, ...). The latencies are ours, chosen so they average 151.5 ms and
// sum to 6.06 s over the 40 requests: exactly the seed's sequential time, as if its sites
// had answered in these times. Spread out (80 to 246 ms) as real sites are, so the slowest
// site, not the mean, bounds a fully concurrent run.
inline constexpr std::array<int, 4> kSeedSiteDelaysMs = {80, 120, 160, 246};
inline constexpr int kSeedRequestsPerSite = 10;

// One verified request against the fixture at `base_url` ("http://127.0.0.1:PORT") for `spec`.
Request fixture_request(const std::string& base_url, const fixture::RequestSpec& spec);
// Requests against the fixture at `base_url` ("http://127.0.0.1:PORT"): request i asks for
// `bytes` bytes of body i after delays_ms[i]. Every body is verified.
std::vector<Request> fixture_requests(const std::string& base_url, std::span<const int> delays_ms,
                                      uint64_t bytes);
// The untimed round that opens a model's connections before timing: `count` requests (C)
// that the fixture holds until all of them are in flight at once (its gate), then answers. So
// every one of the C slots must hold a request, on a connection of its own, however unevenly
// the model hands requests to slots (a LIFO of idle threads at 0 ms once warmed 19 of 100), and
// a model that cannot hold C in flight fails with a reason instead of being timed.
std::vector<Request> warm_round(const std::string& base_url, size_t count, uint64_t bytes);
// n copies of one latency, or the seed profile's 40 latencies in dispatch order.
std::vector<int> uniform_delays(int n, int delay_ms);
std::vector<int> seed_profile_delays();

// Open loop: when each of n requests arrives, in seconds after the first, at `rate` per second:
// evenly spaced, or a Poisson process (exponential gaps, the same seeded sequence every time,
// so every model and iteration meets the same arrivals), both ending at (n - 1) / rate.
std::vector<double> arrival_offsets(int n, double rate, bool poisson);
// The coefficient of variation (standard deviation over mean) of the gaps between consecutive
// times, given in ascending order: 0 for even arrivals, near 1 for a Poisson process's
// exponential gaps; 0 for fewer than two times or a zero mean.
double gap_cv(std::span<const double> times);

// Requests for real URLs: request i fetches urls[i % urls.size()], so n = 10 x urls repeats the
// list ten times as the seed's `urls * 10` did. Bodies cannot be verified: 2xx and a count.
std::vector<Request> url_requests(std::span<const std::string> urls, int n);

// A lower bound on a run's time over `slots` slots, each request taking exactly its latency,
// in whatever order a model dispatches them (openmp's static blocks beat dispatching in order):
// no slot ends before the longest request, the slots together not before the sum over C, and
// of the k*C + 1 longest requests some slot runs k + 1, so at least the k + 1 shortest of those.
// With one latency L it is ceil(N/C) x L, which dispatching in order reaches.
double ideal_makespan(std::span<const int> delays_ms, int slots);

// Client timeouts for a run whose slowest request is asked to wait `max_delay_ms` and send
// `bytes`: the delay plus a margin for a loaded two-core machine, so a stall is caught in
// seconds and a slow-but-working transfer never is.
ClientOptions fixture_client_options(int max_delay_ms, uint64_t bytes, bool keepalive);
ClientOptions url_client_options();

// --fetch_urls: one http:// or https:// URL per line; blank lines and lines whose first
// non-blank character is '#' are ignored. Throws UsageError naming the file (and line) when
// it cannot be read, names something that is not such a URL, or lists none.
std::vector<std::string> read_url_file(const std::string& path);
// The same rules on text already read; `source` names it in error messages.
std::vector<std::string> parse_url_list(std::string_view text, const std::string& source);

}  // namespace concbench::fetch
