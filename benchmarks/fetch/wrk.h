// SPDX-License-Identifier: MIT
// peak/wrk/conc:<C>/delay_ms:0/bytes:<B>: how many requests per second the fixture itself serves,
// drawn by wrk with one thread and C connections for a second, on the same cores as every model.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

namespace concbench::fetch {

struct WrkResult {
  double requests = 0;
  double seconds = 0;
};

// Reads wrk's report ("95000 requests in 1.00s, ..."); throws on socket errors, non-2xx
// responses or output without a count.
WrkResult parse_wrk_output(const std::string& out);

// The benchmark body: one wrk run per iteration; requests_per_second over wrk's own time.
void run_wrk(benchmark::State& state, int conc, int64_t bytes);

}  // namespace concbench::fetch
