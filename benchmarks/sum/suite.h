// SPDX-License-Identifier: MIT
// The sum workload's flags, sweeps and benchmark registration.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/flags.h"
#include "common/suite.h"

namespace concbench::sum {

// What the command line overrides; unset fields take the suite's defaults.
struct Options {
  std::optional<std::vector<int>> workers;
  std::optional<std::vector<int64_t>> sizes;
  std::optional<std::vector<int64_t>> array_sizes;
  std::optional<int64_t> scaling_n;
};

struct Sweep {
  std::vector<int> workers;           // the worker sweep, at n = scaling_n
  int64_t scaling_n;
  std::vector<int64_t> range_sizes;   // the size sweeps, at workers = hardware threads
  std::vector<int64_t> array_sizes;
  int size_workers;
};

void add_flags(FlagSet& flags, Options& options);
Sweep make_sweep(const Suite& suite, const Options& options);
void register_benchmarks(const Sweep& sweep);
// Stops the model kept from the last sum benchmark; call after the benchmarks have run.
void finish();

}  // namespace concbench::sum
