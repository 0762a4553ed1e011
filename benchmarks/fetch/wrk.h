// SPDX-License-Identifier: MIT
// peak/wrk/conc:<C>/delay_ms:<L>/bytes:<B>: how many requests per second the fixture itself serves
// when it holds each response L ms, drawn by wrk with one thread and C connections, on the same
// cores as every model: its steady rate, from a 1 s and a 3 s run (wrk.cpp says why).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

namespace concbench::fetch {

struct WrkResult {
  double requests = 0;
  double seconds = 0;
};

// Reads wrk's report ("95000 requests in 1.00s, ..."); throws on socket errors, non-2xx
// responses or output without a count.
WrkResult parse_wrk_output(const std::string& out);

// What the longer of two runs drew beyond the shorter, in the time it ran beyond it: the steady
// rate, with each run's start cancelled. Throws when the longer drew no more or ran no longer.
WrkResult beyond(const WrkResult& shorter, const WrkResult& longer);

// wrk's command line for the fixture at base_url: one thread, conc connections, each response
// held delay_ms and bytes long, for `seconds`.
std::vector<std::string> wrk_command(const std::string& base_url, int conc, int delay_ms, int64_t bytes,
                                     int seconds);

// The benchmark body: a 1 s and a 3 s wrk run per iteration; requests_per_second is the steady
// rate (beyond) over wrk's own times.
void run_wrk(benchmark::State& state, int conc, int delay_ms, int64_t bytes);

}  // namespace concbench::fetch
