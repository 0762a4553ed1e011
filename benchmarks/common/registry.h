// SPDX-License-Identifier: MIT
// Benchmark registration under full names, and the console progress that counts them.
#pragma once

#include <benchmark/benchmark.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace concbench {

// Registers `body` under `name`, which carries every argument (`sum/pool/range/workers:4/n:1000`),
// so a name alone says what ran and --benchmark_filter can select on any argument. Real time
// is the headline for every benchmark: the CPU time reported is the process's, all its threads,
// and misses forked children and worker processes (the cpu_util counters count them).
benchmark::internal::Benchmark* add_benchmark(
    const std::string& name, std::function<void(benchmark::State&)> body,
    benchmark::TimeUnit unit = benchmark::kMillisecond);

// Registers what frees the memory a workload keeps between its benchmarks (an array filled
// once for many calls). It runs when the first benchmark of another workload starts (the
// workload is the name's first segment: sum, peak, fetch), so no workload runs with another's
// memory still mapped: fork()'s cost and peak RSS grow with it.
void on_leaving_workload(const std::string& workload, std::function<void()> release);

// Names registered so far, in registration (and so run) order.
const std::vector<std::string>& registered_names();

// The names of the benchmarks that erred (SkipWithError) in this process so far, each once, in
// the order they first did: the binary exits 3 after a run in which any did.
const std::vector<std::string>& erred_names();

// The registered names Google Benchmark's filter selects, in run order (same regex rules:
// extended syntax, search not match, a leading '-' negates, "" and "all" match everything).
std::vector<std::string> matching_names(const std::string& filter);

// Where this process's benchmarks sit in a run that spans several processes (./bench runs each
// model in a process of its own): the first is number `first` of `total`.
struct Progress {
  size_t first = 1;
  size_t total = 0;
};

// "K/N" -> {K, N}; throws UsageError unless 1 <= K <= N.
Progress parse_progress(const std::string& text);

// A console reporter that prefixes each result with "[k/N]" so a long run shows how far along
// it is. Returns null when the console format is not the plain one (Google Benchmark then
// builds its own reporter). When this process is not the first of a run (progress.first > 1),
// the machine description at the top is left out: the first process printed it.
std::unique_ptr<benchmark::BenchmarkReporter> make_progress_reporter(Progress progress, bool color,
                                                                     bool tabular);

}  // namespace concbench
